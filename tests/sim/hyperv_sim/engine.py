"""The Hyper-V model of the simulated host: the operations of docs/host-protocol.md over a state dict.

A real host answers an operation by running the operation script
(plugins/plugin_utils/powershell/<name>.ps1) against the Hyper-V cmdlets. This module
answers what that host would answer: the checks, their order, the error codes, messages
and details are the scripts'; what the cmdlets do (the checkpoint tree, the VM's position
in it, power states after a restore, production checkpoints and their fallback, disk
merges) follows the project's Hyper-V reference notes (hyperv-checkpoint-facts.md, cited
below by section). Where the reference marks a behaviour as inferred or unconfirmed, the
comment next to the code says so ([I]).

The busy state (``busy_until``) and the ``busy`` code come from the protocol, not from a
script: no script maps a Hyper-V "object in use" failure, so the simulator raises ``busy``
directly, as the contract promises.

The VMs' disks are directories: ``<disks>/<vm id>/current/`` is the running disk (the
``sim_guest`` connection writes there), and every checkpoint holds a byte-exact copy of
it in ``<disks>/<vm id>/checkpoints/<checkpoint id>/``, so that restoring truly reverts.

Nothing here locks or saves: the caller holds the state file's transaction
(hyperv_sim.state) around a whole operation.
"""

from __future__ import annotations

import datetime
import pathlib
import re
import shutil
import uuid
from typing import Callable

from hyperv_sim.state import STATE_VERSION

MAX_CHECKPOINTS = 50
MAX_CHECKPOINT_NAME_LENGTH = 100
USER_SNAPSHOT_TYPE = "Standard"
SNAPSHOT_TYPES = ("Standard", "Recovery", "Planned", "Missing", "Replica", "AppConsistentReplica", "SyncedReplica")
CHECKPOINT_TYPES = ("Disabled", "Production", "ProductionOnly", "Standard")
REQUESTABLE_CHECKPOINT_TYPES = ("Standard", "Production", "ProductionOnly")
VM_STATES = ("Running", "Off", "Saved", "Paused")
POWER_STATES = ("as_checkpoint", "previous", "running", "off")
DEFAULT_CHECKPOINT_LOCATION = "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V\\Snapshots"
DEFAULT_COMPUTER_NAME = "HV01"
BUSY_MESSAGE = "The operation cannot be performed while the object is in use."

# Windows build numbers at which Set-VM gained a parameter (reference §12).
FIRST_BUILD_WITH_CHECKPOINT_TYPE = 14393  # Windows Server 2016
FIRST_BUILD_WITH_AUTOMATIC_CHECKPOINTS = 17763  # Windows Server 2019

# set_host(**OS_RELEASES["2016"]) turns the simulated host into that Windows release.
OS_RELEASES = {
    "2012r2": {"os_caption": "Microsoft Windows Server 2012 R2 Datacenter", "os_version": "6.3.9600"},
    "2016": {"os_caption": "Microsoft Windows Server 2016 Datacenter", "os_version": "10.0.14393"},
    "2019": {"os_caption": "Microsoft Windows Server 2019 Datacenter", "os_version": "10.0.17763"},
    "2022": {"os_caption": "Microsoft Windows Server 2022 Datacenter", "os_version": "10.0.20348"},
    "2025": {"os_caption": "Microsoft Windows Server 2025 Datacenter", "os_version": "10.0.26100"},
}

VIRTUALIZATION_EXCEPTION = "Microsoft.HyperV.PowerShell.VirtualizationException"
BINDING_EXCEPTION = "System.Management.Automation.ParameterBindingException"
VALIDATION_EXCEPTION = "System.Management.Automation.ParameterBindingValidationException"
COMMAND_NOT_FOUND_EXCEPTION = "System.Management.Automation.CommandNotFoundException"

# The PowerShell parameters of each operation script's param() block:
# name -> (keyword argument of the HyperVHost method, PowerShell type).
OPERATIONS: dict[str, dict[str, tuple[str, str]]] = {
    "get_vm": {"Name": ("name", "string"), "Id": ("vm_id", "string")},
    "get_vms": {"Names": ("names", "string[]"), "Ids": ("ids", "string[]"), "All": ("all_vms", "bool"),
                "IncludeCheckpoints": ("include_checkpoints", "bool"), "IncludeSizes": ("include_sizes", "bool")},
    "get_cluster_nodes": {},
    "create_checkpoint": {"VMId": ("vm_id", "string"), "Name": ("name", "string"),
                          "CheckpointType": ("checkpoint_type", "string")},
    "remove_checkpoints": {"VMId": ("vm_id", "string"), "Ids": ("ids", "string[]"),
                           "IncludeChildren": ("include_children", "bool")},
    "restore_checkpoint": {"VMId": ("vm_id", "string"), "Id": ("checkpoint_id", "string"),
                           "PowerState": ("power_state", "string")},
    "rename_checkpoint": {"VMId": ("vm_id", "string"), "Id": ("checkpoint_id", "string"),
                          "NewName": ("new_name", "string")},
    "set_checkpoint_settings": {"Changes": ("changes", "object[]")},
}


class HostError(Exception):
    """An operation failure as the runner reports it: ``{"code", "message", "details"}``."""

    def __init__(self, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def to_error(self) -> dict:
        return {"code": self.code, "message": self.message, "details": self.details}


def cmdlet_error(message: str, exception_type: str, error_id: str, category: str) -> HostError:
    """A PowerShell error no script translates: the runner reports it as ``host_error``."""
    return HostError("host_error", message, {"exception_type": exception_type, "fully_qualified_error_id": error_id,
                                             "category": category})


# -- time -------------------------------------------------------------------------------------

def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def format_time(moment: datetime.datetime) -> str:
    """``DateTime.ToUniversalTime().ToString('o')``: 7 fractional digits and ``Z``."""
    moment = moment.astimezone(datetime.timezone.utc)
    return "%s.%06d0Z" % (moment.strftime("%Y-%m-%dT%H:%M:%S"), moment.microsecond)


def parse_time(text: str) -> datetime.datetime:
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,7}))?Z", text)
    if not match:
        raise ValueError("not a UTC timestamp with Z: %r" % (text,))
    fraction = (match.group(2) or "").ljust(7, "0")
    moment = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
    return moment.replace(microsecond=int(fraction[:6]), tzinfo=datetime.timezone.utc)


# -- PowerShell parameter binding ----------------------------------------------------------------

def _binding_error(parameter: str, value, target: str) -> HostError:
    return cmdlet_error(
        'Cannot process argument transformation on parameter \'%s\'. Cannot convert value "%s" to type "%s".'
        % (parameter, value, target), BINDING_EXCEPTION, "ParameterArgumentTransformationError", "InvalidData")


def _to_string(parameter: str, value) -> str:
    """PowerShell's conversion of a JSON value to ``[string]``: $null is '', an array is space-joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, list):
        return " ".join(_to_string(parameter, item) for item in value)
    raise _binding_error(parameter, "@{...}", "System.String")


def _bind_value(parameter: str, kind: str, value):
    if kind == "string":
        return _to_string(parameter, value)
    if kind == "string[]":
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        return [_to_string(parameter, item) for item in items]
    if kind == "bool":
        if value is None or isinstance(value, (bool, int, float)):
            return bool(value)
        raise _binding_error(parameter, value, "System.Boolean")
    if value is None:  # object[]
        return []
    return value if isinstance(value, list) else [value]


def bind_parameters(operation: str, params: dict) -> dict:
    """Splatted params as the script's param() block binds them, as HyperVHost keyword arguments.

    Parameter names match case-insensitively; a parameter left out gets its type's default.
    """
    declared = OPERATIONS[operation]
    by_lower_name = {name.lower(): name for name in declared}
    bound = {argument: _bind_value(name, kind, None) for name, (argument, kind) in declared.items()}
    for key, value in params.items():
        if key.lower() not in by_lower_name:
            raise cmdlet_error("A parameter cannot be found that matches parameter name '%s'." % key,
                               BINDING_EXCEPTION, "NamedParameterNotFound", "InvalidArgument")
        name = by_lower_name[key.lower()]
        argument, kind = declared[name]
        bound[argument] = _bind_value(name, kind, value)
    return bound


# -- state --------------------------------------------------------------------------------------

def new_state(computer_name: str | None = None) -> dict:
    """A Windows Server 2022 host without VMs."""
    return {
        "version": STATE_VERSION,
        "host": {
            "computer_name": computer_name or DEFAULT_COMPUTER_NAME,
            "os_caption": OS_RELEASES["2022"]["os_caption"],
            "os_version": OS_RELEASES["2022"]["os_version"],
            "cluster_nodes": [],
            "merge_seconds": 2.0,
            "start_seconds": 0.0,
            "checkpoint_seconds": 0.0,
            "hyperv_module": True,
        },
        "vms": {},
        "faults": [],
    }


def _build_number(os_version: str) -> int:
    parts = os_version.split(".")
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0


def _parse_guid(text: str) -> str | None:
    """``[guid]::TryParse``: the canonical lower-case form, or None."""
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None


def _directory_size(path: pathlib.Path) -> int | None:
    if not path.is_dir():
        return None
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def _canonical(value: str, choices: tuple[str, ...]) -> str | None:
    """The enum name ``value`` names (PowerShell compares them case-insensitively), or None."""
    for choice in choices:
        if choice.lower() == value.lower():
            return choice
    return None


def _vm_has_memory_state(state: str) -> bool:
    return state in ("Running", "Paused", "Saved")


class HyperVHost:
    """One simulated Hyper-V host: operations over ``state``, disks under ``disks_dir``.

    ``clock`` returns the current UTC time (tests age checkpoints and run merges out with
    it). ``command_seconds`` adds up how long the operations' cmdlets took in simulated
    time (a synchronous Start-VM, ``start_seconds``; a Checkpoint-VM, ``checkpoint_seconds``);
    the command host waits that long before it answers.
    """

    def __init__(self, state: dict, disks_dir: str | pathlib.Path, clock: Callable[[], datetime.datetime] = utc_now):
        self.state = state
        self.disks_dir = pathlib.Path(disks_dir)
        self.clock = clock
        self.command_seconds = 0.0

    # -- host features ---------------------------------------------------------------------

    @property
    def host(self) -> dict:
        return self.state["host"]

    @property
    def computer_name(self) -> str:
        return self.host["computer_name"]

    @property
    def supports_checkpoint_type(self) -> bool:
        return _build_number(self.host["os_version"]) >= FIRST_BUILD_WITH_CHECKPOINT_TYPE

    @property
    def supports_automatic_checkpoints(self) -> bool:
        return _build_number(self.host["os_version"]) >= FIRST_BUILD_WITH_AUTOMATIC_CHECKPOINTS

    def _unsupported(self, setting: str) -> HostError:
        message = "Host %s runs %s (version %s), which does not support the %s setting" % (
            self.computer_name, self.host["os_caption"], self.host["os_version"], setting)
        return HostError("unsupported_on_host", message, {
            "setting": setting, "os_caption": self.host["os_caption"], "os_version": self.host["os_version"]})

    # -- disks -----------------------------------------------------------------------------

    def disk_path(self, vm: dict) -> pathlib.Path:
        """The VM's running disk: the directory the guest reads and writes."""
        return self.disks_dir / vm["id"] / "current"

    def checkpoint_disk_path(self, vm: dict, checkpoint_id: str) -> pathlib.Path:
        return self.disks_dir / vm["id"] / "checkpoints" / checkpoint_id

    def _restore_disk(self, vm: dict, checkpoint: dict) -> None:
        """Make the running disk an exact copy of the checkpoint's (a staged copy, then a swap)."""
        current = self.disk_path(vm)
        staging = current.with_name("current.restoring")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(self.checkpoint_disk_path(vm, checkpoint["id"]), staging)
        shutil.rmtree(current, ignore_errors=True)
        staging.rename(current)

    # -- VMs ---------------------------------------------------------------------------------

    def add_vm(self, name: str, state: str = "Running", checkpoint_type: str = "Production",
               guest_can_quiesce: bool = True, owner_node: str | None = None,
               automatic_checkpoints: bool | None = None, files: dict[str, str | bytes] | None = None) -> str:
        """Create a VM with a fresh disk (``disk.txt`` plus ``files``, relative path -> content)."""
        if state not in VM_STATES:
            raise ValueError("state must be one of %s, not %r" % (", ".join(VM_STATES), state))
        if checkpoint_type not in CHECKPOINT_TYPES:
            raise ValueError("checkpoint_type must be one of %s, not %r"
                             % (", ".join(CHECKPOINT_TYPES), checkpoint_type))
        vm_id = str(uuid.uuid4())
        vm = {
            "id": vm_id,
            "name": name,
            "state": state,
            "checkpoint_type": checkpoint_type,
            "automatic_checkpoints": bool(automatic_checkpoints),
            "checkpoint_location": DEFAULT_CHECKPOINT_LOCATION,
            "guest_can_quiesce": guest_can_quiesce,
            "owner_node": None,
            "is_clustered": False,
            "merge_until": None,
            "busy_until": None,
            "current_checkpoint_id": None,
            "checkpoints": {},
        }
        self.state["vms"][vm_id] = vm
        if owner_node:
            self.set_owner_node(vm, owner_node)
        disk = self.disk_path(vm)
        disk.mkdir(parents=True)
        contents = {"disk.txt": "base image of %s\n" % name}
        contents.update(files or {})
        for relative, content in contents.items():
            target = disk / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        return vm_id

    def set_owner_node(self, vm: dict, owner_node: str | None) -> None:
        """Make the VM clustered and owned by ``owner_node``; both nodes then form the cluster."""
        vm["owner_node"] = owner_node
        if owner_node:
            vm["is_clustered"] = True
            for node in (self.computer_name, owner_node):
                if node not in self.host["cluster_nodes"]:
                    self.host["cluster_nodes"].append(node)

    def _is_foreign(self, vm: dict) -> bool:
        # The script compares with -ne, which ignores case.
        owner = vm.get("owner_node")
        return bool(owner) and owner.lower() != self.computer_name.lower()

    def local_vms(self) -> list[dict]:
        """What ``Get-VM`` lists on this host: a clustered VM owned by another node runs there."""
        return [vm for vm in self.state["vms"].values() if not self._is_foreign(vm)]

    def _foreign_owner(self, matches: Callable[[dict], bool]) -> str | None:
        """The owner node the cluster reports for a VM that is not on this host (Get-VMClusterGroup)."""
        for vm in self.state["vms"].values():
            if self._is_foreign(vm) and matches(vm):
                return vm["owner_node"]
        return None

    def find_vm(self, name: str = "", vm_id: str = "") -> dict:
        """``Get-TargetVM``: an id (any GUID format, any case) wins over a name, names match with -ceq."""
        if vm_id:
            label = vm_id
            guid = _parse_guid(vm_id)
            owner = None
            if guid:
                for vm in self.local_vms():
                    if vm["id"] == guid:
                        return vm
                owner = self._foreign_owner(lambda vm: vm["id"] == guid)
        else:
            label = name
            found = [vm for vm in self.local_vms() if vm["name"] == name]
            if len(found) == 1:
                return found[0]
            if found:
                raise HostError("ambiguous", "%d VMs are named '%s'; use the VM id" % (len(found), name), {
                    "vm": name, "matches": [{"id": vm["id"], "name": vm["name"]} for vm in found]})
            owner = self._foreign_owner(lambda vm: vm["name"] == name)
        if owner:
            message = "VM '%s' is a clustered VM owned by node %s; run the task against that node" % (label, owner)
            raise HostError("owned_by_other_node", message, {"vm": label, "owner_node": owner})
        raise HostError("vm_not_found", "No VM '%s' on host %s" % (label, self.computer_name),
                        {"vm": label, "computer_name": self.computer_name})

    def _is_merging(self, vm: dict) -> bool:
        return bool(vm.get("merge_until")) and self.clock() < parse_time(vm["merge_until"])

    def _require_idle(self, vm: dict) -> None:
        """Another operation holds the VM (``busy_until``). A disk merge does not: Hyper-V merges live."""
        if vm.get("busy_until") and self.clock() < parse_time(vm["busy_until"]):
            raise HostError("busy", BUSY_MESSAGE, {"vm": vm["name"]})

    # -- checkpoints -------------------------------------------------------------------------

    def _checkpoints_by_time(self, vm: dict) -> list[dict]:
        return sorted(vm["checkpoints"].values(), key=lambda checkpoint: checkpoint["creation_time"])

    def find_checkpoint(self, vm: dict, checkpoint_id: str, must_exist: bool = False) -> dict | None:
        """``Find-Checkpoint``: by id only, compared as strings ignoring case."""
        for checkpoint in vm["checkpoints"].values():
            if checkpoint["id"] == checkpoint_id.lower():
                return checkpoint
        if must_exist:
            message = "VM '%s' has no checkpoint with id %s" % (vm["name"], checkpoint_id)
            raise HostError("checkpoint_not_found", message, {"vm": vm["name"], "checkpoint": checkpoint_id})
        return None

    def _checkpoint_name(self, vm: dict, checkpoint_id: str | None) -> str | None:
        checkpoint = vm["checkpoints"].get(checkpoint_id) if checkpoint_id else None
        return checkpoint["name"] if checkpoint else None

    def _standard_count(self, vm: dict) -> int:
        return sum(1 for checkpoint in vm["checkpoints"].values() if checkpoint["snapshot_type"] == USER_SNAPSHOT_TYPE)

    def _can_take_production(self, vm: dict) -> bool:
        """A production checkpoint needs the guest's VSS, or no running guest at all.

        An Off VM needs no quiesce. A Saved or Paused guest cannot run VSS, so it is treated
        like a guest that cannot quiesce [I: the reference does not say].
        """
        return vm["state"] == "Off" or (vm["state"] == "Running" and vm["guest_can_quiesce"])

    def take_checkpoint(self, vm: dict, name: str, taken_type: str, creation_time: datetime.datetime | None = None,
                        snapshot_type: str = USER_SNAPSHOT_TYPE, is_automatic: bool = False) -> dict:
        """Add a checkpoint below the VM's current position and move the VM onto it; copy the disk."""
        checkpoint_id = str(uuid.uuid4())
        shutil.copytree(self.disk_path(vm), self.checkpoint_disk_path(vm, checkpoint_id))
        checkpoint = {
            "id": checkpoint_id,
            "name": name,
            "parent_id": vm["current_checkpoint_id"],
            "creation_time": format_time(creation_time or self.clock()),
            "snapshot_type": snapshot_type,
            "is_automatic": is_automatic,
            "taken_type": taken_type,
            "vm_state_at_checkpoint": vm["state"],
        }
        vm["checkpoints"][checkpoint_id] = checkpoint
        vm["current_checkpoint_id"] = checkpoint_id
        return checkpoint

    def add_checkpoint(self, vm: dict, name: str, age_seconds: float = 0.0, snapshot_type: str = USER_SNAPSHOT_TYPE,
                       is_automatic: bool = False) -> dict:
        """A checkpoint as if taken ``age_seconds`` ago with the VM's own type, for setting up scenarios.

        None of create_checkpoint's refusals apply: a host can come to hold 50 checkpoints, or
        checkpoints of a VM whose checkpoints were disabled later, and a test must be able to
        build that state.
        """
        if snapshot_type not in SNAPSHOT_TYPES:
            raise ValueError("snapshot_type must be one of %s, not %r" % (", ".join(SNAPSHOT_TYPES), snapshot_type))
        production = (self.supports_checkpoint_type and vm["checkpoint_type"] in ("Production", "ProductionOnly")
                      and self._can_take_production(vm))
        creation_time = self.clock() - datetime.timedelta(seconds=age_seconds)
        return self.take_checkpoint(vm, name, "production" if production else "standard", creation_time,
                                    snapshot_type=snapshot_type, is_automatic=is_automatic)

    def _checkpoint_vm(self, vm: dict, name: str, vm_checkpoint_type: str) -> dict:
        """``Checkpoint-VM -SnapshotName name`` with the VM's type set to Standard or ProductionOnly."""
        if name == "":
            raise cmdlet_error(
                "Cannot validate argument on parameter 'SnapshotName'. The argument is null or empty. Provide an "
                "argument that is not null or empty, and then try the command again.",
                VALIDATION_EXCEPTION,
                "ParameterArgumentValidationError,Microsoft.HyperV.PowerShell.Commands.CheckpointVM",
                "InvalidData")
        if not name.strip() or len(name) > MAX_CHECKPOINT_NAME_LENGTH:
            raise cmdlet_error(
                "Checkpoint operation failed for '%s'. A checkpoint name cannot be blank and can have at most %d "
                "characters." % (vm["name"], MAX_CHECKPOINT_NAME_LENGTH),
                VIRTUALIZATION_EXCEPTION, "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.CheckpointVM",
                "InvalidArgument")
        if vm.get("checkpoint_volume_full"):
            # The reference has no verified Hyper-V text for a full volume: this message says it is
            # the simulator's, and the collection only passes a host's message on, never matches it.
            raise cmdlet_error(
                "hyperv-sim: checkpoint operation failed for '%s': the volume that holds its checkpoint files is "
                "full (simulated)" % vm["name"],
                VIRTUALIZATION_EXCEPTION, "OperationFailed,Microsoft.HyperV.PowerShell.Commands.CheckpointVM",
                "NotSpecified")
        # Checkpoint-VM returns when the checkpoint exists: its run time passes after the transaction.
        self.command_seconds += float(self.host.get("checkpoint_seconds", 0.0))
        if vm_checkpoint_type == "ProductionOnly":
            if not self._can_take_production(vm):
                raise cmdlet_error(
                    "Checkpoint operation failed. Production checkpoints cannot be created for '%s'." % vm["name"],
                    VIRTUALIZATION_EXCEPTION, "OperationFailed,Microsoft.HyperV.PowerShell.Commands.CheckpointVM",
                    "NotSpecified")
            return self.take_checkpoint(vm, name, "production")
        return self.take_checkpoint(vm, name, "standard")

    def _remove_checkpoint(self, vm: dict, checkpoint: dict, include_children: bool) -> None:
        """``Remove-VMSnapshot``: children move up to the parent (or go too); a merge starts."""
        parent_id = checkpoint["parent_id"]
        children = [child for child in vm["checkpoints"].values() if child["parent_id"] == checkpoint["id"]]
        if include_children:
            for child in children:
                self._remove_checkpoint(vm, child, include_children=True)
        else:
            for child in children:
                child["parent_id"] = parent_id
        if vm["current_checkpoint_id"] == checkpoint["id"]:
            vm["current_checkpoint_id"] = parent_id
        del vm["checkpoints"][checkpoint["id"]]
        shutil.rmtree(self.checkpoint_disk_path(vm, checkpoint["id"]), ignore_errors=True)

    def _start_merge(self, vm: dict) -> None:
        """The merge runs ``merge_seconds`` after the delete, or after the merge already running."""
        start = self.clock()
        if vm.get("merge_until"):
            start = max(start, parse_time(vm["merge_until"]))
        vm["merge_until"] = format_time(start + datetime.timedelta(seconds=float(self.host["merge_seconds"])))

    @staticmethod
    def _state_after_restore(checkpoint: dict) -> str:
        """A production checkpoint or one of an Off VM has no memory state: Off. Else Saved [I, §6]."""
        if checkpoint["taken_type"] == "production" or not _vm_has_memory_state(checkpoint["vm_state_at_checkpoint"]):
            return "Off"
        return "Saved"

    def _start_vm(self, vm: dict) -> None:
        """``Start-VM``: synchronous; a saved state is resumed."""
        vm["state"] = "Running"
        self.command_seconds += float(self.host["start_seconds"])

    # -- records -----------------------------------------------------------------------------

    def host_record(self) -> dict:
        return {
            "computer_name": self.computer_name,
            "os_caption": self.host["os_caption"],
            "os_version": self.host["os_version"],
            "supports_checkpoint_type": self.supports_checkpoint_type,
            "supports_automatic_checkpoints": self.supports_automatic_checkpoints,
        }

    def vm_record(self, vm: dict) -> dict:
        merging = self._is_merging(vm)
        owner = None
        if vm["is_clustered"]:
            owner = vm["owner_node"] or self.computer_name
        return {
            "id": vm["id"],
            "name": vm["name"],
            "state": vm["state"],
            "checkpoint_type": vm["checkpoint_type"] if self.supports_checkpoint_type else None,
            "automatic_checkpoints": bool(vm["automatic_checkpoints"]) if self.supports_automatic_checkpoints else None,
            "checkpoint_location": vm["checkpoint_location"],
            "current_checkpoint_id": vm["current_checkpoint_id"],
            "current_checkpoint_name": self._checkpoint_name(vm, vm["current_checkpoint_id"]),
            "is_clustered": bool(vm["is_clustered"]),
            "owner_node": owner,
            "computer_name": self.computer_name,
            "primary_status": "Ok",
            "secondary_status": "MergingDisks" if merging else None,
            "merging": merging,
            "checkpoint_count": self._standard_count(vm),
        }

    def checkpoint_record(self, vm: dict, checkpoint: dict, include_size: bool = False) -> dict:
        size = None
        if include_size:
            size = _directory_size(self.checkpoint_disk_path(vm, checkpoint["id"]))
        return {
            "id": checkpoint["id"],
            "name": checkpoint["name"],
            "vm_id": vm["id"],
            "vm_name": vm["name"],
            "parent_id": checkpoint["parent_id"],
            "parent_name": self._checkpoint_name(vm, checkpoint["parent_id"]),
            "creation_time": checkpoint["creation_time"],
            "snapshot_type": checkpoint["snapshot_type"],
            "is_automatic": bool(checkpoint["is_automatic"]) if self.supports_automatic_checkpoints else None,
            "size_bytes": size,
        }

    # -- operations (docs/host-protocol.md) --------------------------------------------------

    def run(self, operation: str, params: dict) -> dict:
        """Run an operation by its protocol name with the request's params; HostError on failure."""
        if operation not in OPERATIONS:
            raise HostError("invalid_request", "Unknown operation '%s'" % operation)
        bound = bind_parameters(operation, params or {})
        if not self.host.get("hyperv_module", True):
            command = "Hyper-V\\Set-VM" if operation == "set_checkpoint_settings" else "Hyper-V\\Get-VM"
            raise HostError(
                "hyperv_module_missing",
                "The term '%s' is not recognized as the name of a cmdlet, function, script file, or operable "
                "program. Check the spelling of the name, or if a path was included, verify that the path is "
                "correct and try again." % command,
                {"exception_type": COMMAND_NOT_FOUND_EXCEPTION, "fully_qualified_error_id": "CommandNotFoundException",
                 "category": "ObjectNotFound"})
        return getattr(self, operation)(**bound)

    def get_vm(self, name: str = "", vm_id: str = "") -> dict:
        return {"vm": self.vm_record(self.find_vm(name=name, vm_id=vm_id))}

    def get_vms(self, names: list[str] = (), ids: list[str] = (), all_vms: bool = False,
                include_checkpoints: bool = False, include_sizes: bool = False) -> dict:
        if all_vms:
            vms = sorted(self.local_vms(), key=lambda vm: (vm["name"].lower(), vm["name"]))
        else:
            vms = [self.find_vm(name=name) for name in names] + [self.find_vm(vm_id=vm_id) for vm_id in ids]
        records = []
        for vm in vms:
            record = self.vm_record(vm)
            if include_checkpoints:
                record["checkpoints"] = [self.checkpoint_record(vm, checkpoint, include_size=include_sizes)
                                         for checkpoint in self._checkpoints_by_time(vm)]
            records.append(record)
        return {"host": self.host_record(), "vms": records}

    def get_cluster_nodes(self) -> dict:
        """The nodes of the cluster this host is in (``host["cluster_nodes"]``), all Up."""
        nodes = self.host["cluster_nodes"]
        if not nodes:
            raise HostError("not_clustered", "Host %s is not a node of a running cluster: The cluster service is "
                            "not running." % self.computer_name, {"computer_name": self.computer_name})
        return {"host": self.host_record(),
                "nodes": [{"name": node, "state": "Up"} for node in sorted(nodes, key=str.lower)]}

    def create_checkpoint(self, vm_id: str = "", name: str = "", checkpoint_type: str = "") -> dict:
        requested = None
        if checkpoint_type:
            requested = _canonical(checkpoint_type, REQUESTABLE_CHECKPOINT_TYPES)
            if requested is None:
                raise HostError("invalid_request", "Unknown checkpoint type '%s'" % checkpoint_type)
        vm = self.find_vm(vm_id=vm_id)
        if requested and not self.supports_checkpoint_type:
            raise self._unsupported("checkpoint_type")
        original = self.vm_record(vm)["checkpoint_type"]
        # A requested type never overrides an administrator's Disabled.
        if original == "Disabled":
            raise HostError("checkpoints_disabled", "Checkpoints are disabled for VM '%s'" % vm["name"],
                            {"vm": vm["name"]})
        count = self._standard_count(vm)
        if count >= MAX_CHECKPOINTS:
            raise HostError("limit_reached", "VM '%s' already has %d checkpoints, the Hyper-V maximum is %d"
                            % (vm["name"], count, MAX_CHECKPOINTS),
                            {"vm": vm["name"], "count": count, "limit": MAX_CHECKPOINTS})
        effective = requested or (original if self.supports_checkpoint_type else "Standard")
        attempt = "Standard" if effective == "Standard" else "ProductionOnly"
        self._require_idle(vm)
        fell_back = False
        try:
            checkpoint = self._checkpoint_vm(vm, name, attempt)
        except HostError as failure:
            if attempt == "Standard":
                raise
            # Like the script: any failure of the production attempt counts.
            if effective == "ProductionOnly":
                raise HostError("production_checkpoint_failed", failure.message, {
                    "vm": vm["name"], "exception_type": failure.details["exception_type"],
                    "fully_qualified_error_id": failure.details["fully_qualified_error_id"]}) from None
            checkpoint = self._checkpoint_vm(vm, name, "Standard")
            fell_back = True
        return {
            "checkpoint": self.checkpoint_record(vm, checkpoint),
            "taken_type": checkpoint["taken_type"],
            "fell_back": fell_back,
            "type_restore_error": None,
            "vm": self.vm_record(vm),
        }

    def remove_checkpoints(self, vm_id: str = "", ids: list[str] = (), include_children: bool = False) -> dict:
        vm = self.find_vm(vm_id=vm_id)
        removed = []
        for checkpoint_id in ids:
            # Looked up again for every id: an earlier subtree may already have taken it.
            checkpoint = self.find_checkpoint(vm, checkpoint_id)
            if checkpoint is None:
                continue
            self._require_idle(vm)
            self._remove_checkpoint(vm, checkpoint, include_children)
            self._start_merge(vm)
            removed.append(checkpoint["id"])
        return {"removed": removed, "vm": self.vm_record(vm)}

    def restore_checkpoint(self, vm_id: str = "", checkpoint_id: str = "", power_state: str = "") -> dict:
        requested_power_state = power_state
        power_state = _canonical(power_state, POWER_STATES) if power_state else ""
        if power_state is None:
            raise cmdlet_error(
                "Cannot validate argument on parameter 'PowerState'. The argument \"%s\" does not belong to the set "
                "\"%s\" specified by the ValidateSet attribute. Supply an argument that is in the set and then try "
                "the command again." % (requested_power_state, ",".join(POWER_STATES)),
                VALIDATION_EXCEPTION, "ParameterArgumentValidationError", "InvalidData")
        vm = self.find_vm(vm_id=vm_id)
        checkpoint = self.find_checkpoint(vm, checkpoint_id, must_exist=True)
        previous_state = vm["state"]
        self._require_idle(vm)
        self._restore_disk(vm, checkpoint)
        vm["current_checkpoint_id"] = checkpoint["id"]
        vm["state"] = self._state_after_restore(checkpoint)
        state_after_restore = vm["state"]
        wanted = {"running": "Running", "off": "Off"}.get(power_state)
        if power_state == "previous" and previous_state in ("Running", "Off"):
            wanted = previous_state
        if wanted == "Running" and vm["state"] != "Running":
            self._start_vm(vm)
        elif wanted == "Off" and vm["state"] != "Off":
            vm["state"] = "Off"  # Stop-VM -TurnOff: a saved state is thrown away
        return {"previous_state": previous_state, "state_after_restore": state_after_restore,
                "vm": self.vm_record(vm)}

    def rename_checkpoint(self, vm_id: str = "", checkpoint_id: str = "", new_name: str = "") -> dict:
        vm = self.find_vm(vm_id=vm_id)
        checkpoint = self.find_checkpoint(vm, checkpoint_id, must_exist=True)
        if new_name == "":
            raise cmdlet_error(
                "Cannot validate argument on parameter 'NewName'. The argument is null or empty. Provide an argument "
                "that is not null or empty, and then try the command again.",
                VALIDATION_EXCEPTION,
                "ParameterArgumentValidationError,Microsoft.HyperV.PowerShell.Commands.RenameVMSnapshot",
                "InvalidData")
        if not new_name.strip() or len(new_name) > MAX_CHECKPOINT_NAME_LENGTH:
            raise cmdlet_error(
                "Failed to rename checkpoint '%s' of '%s'. A checkpoint name cannot be blank and can have at most %d "
                "characters." % (checkpoint["name"], vm["name"], MAX_CHECKPOINT_NAME_LENGTH),
                VIRTUALIZATION_EXCEPTION, "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.RenameVMSnapshot",
                "InvalidArgument")
        self._require_idle(vm)
        checkpoint["name"] = new_name
        return {"checkpoint": self.checkpoint_record(vm, checkpoint)}

    def _plan_settings(self, change) -> tuple[dict, dict]:
        """One change checked against the host and the VM: (vm, {stored key: new value})."""
        change = change if isinstance(change, dict) else {}
        vm = self.find_vm(vm_id=_to_string("VMId", change.get("VMId")))
        settings = {}
        if change.get("CheckpointType") is not None:
            if not self.supports_checkpoint_type:
                raise self._unsupported("checkpoint_type")
            value = _to_string("CheckpointType", change["CheckpointType"])
            checkpoint_type = _canonical(value, CHECKPOINT_TYPES)
            if checkpoint_type is None:
                raise cmdlet_error(
                    "Cannot bind parameter 'CheckpointType'. Cannot convert value \"%s\" to type "
                    "\"Microsoft.HyperV.PowerShell.CheckpointType\". Error: \"Unable to match the identifier name %s "
                    "to a valid enumerator name. Specify one of the following enumerator names and try again: %s\""
                    % (value, value, ", ".join(CHECKPOINT_TYPES)),
                    BINDING_EXCEPTION, "CannotConvertArgumentNoMessage,Microsoft.HyperV.PowerShell.Commands.SetVM",
                    "InvalidArgument")
            settings["checkpoint_type"] = checkpoint_type
        if change.get("AutomaticCheckpoints") is not None:
            if not self.supports_automatic_checkpoints:
                raise self._unsupported("automatic_checkpoints")
            settings["automatic_checkpoints"] = bool(change["AutomaticCheckpoints"])  # PowerShell's [bool] cast
        if change.get("CheckpointLocation") is not None:
            # Hyper-V moves the location only while the VM has no checkpoints of any type.
            count = len(vm["checkpoints"])
            if count > 0:
                raise HostError("checkpoint_location_in_use",
                                "VM '%s' has %d checkpoints; its checkpoint location can only change without "
                                "checkpoints" % (vm["name"], count),
                                {"vm": vm["name"], "checkpoint_count": count})
            settings["checkpoint_location"] = _to_string("CheckpointLocation", change["CheckpointLocation"])
        self._require_idle(vm)
        return vm, settings

    def set_checkpoint_settings(self, changes: list = ()) -> dict:
        # Every change is checked before any is made, so a refusal leaves every VM as it was.
        plans = [self._plan_settings(change) for change in changes]
        for vm, settings in plans:
            vm.update(settings)
        return {"vms": [self.vm_record(vm) for vm, _ in plans]}
