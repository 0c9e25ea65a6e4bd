"""The Hyper-V model of the simulated host: the operations of docs/host-protocol.md over a state dict.

A real host answers an operation by running the operation script
(plugins/plugin_utils/powershell/<name>.ps1) against the Hyper-V cmdlets. This module does the
same in two layers:

* the cmdlets (``Save-VM``, ``Restore-VMSnapshot``, ``Checkpoint-VM``, ``Set-VM``, ...; the
  methods named ``_cmdlet_*``) behave as Hyper-V does, as strictly as the sources allow:
  Restore-VMSnapshot saves a running VM and starts it again, Stop-VM deletes a current automatic
  checkpoint, Checkpoint-VM takes the checkpoint under a default name and renames it afterwards,
  Set-VM refuses while the VM is in a state it cannot change, merges show late. Each behaviour
  and its source is listed in docs/host-fidelity.md; comments mark inferences ([I]) and
  assumptions the probe (playbooks/probe_host.yml) checks on a real host;
* the operations (``create_checkpoint``, ``restore_checkpoint``, ...) call those cmdlets in the
  order the scripts do, with the scripts' checks, error codes, messages and details. A cmdlet's
  failure is reported as the runner reports it (``runner_error``: busy, access_denied, ...).

Every cmdlet a change runs is written to the VM's ``events`` (``SimHost.events``), so a test can
show what the guest went through (whether it ran between a restore and the end of a task).

The VMs' disks are directories: ``<disks>/<vm id>/current/`` is the running disk (the
``sim_guest`` connection writes there), and every checkpoint holds a byte-exact copy of
it in ``<disks>/<vm id>/checkpoints/<checkpoint id>/``, so that restoring truly reverts.

Nothing here locks or saves: the caller holds the state file's transaction
(hyperv_sim.state) around a whole operation. Time inside an operation is the clock plus the
simulated run time of its cmdlets so far (``command_seconds``), which the command host waits
before it answers.
"""

from __future__ import annotations

import copy
import datetime
import pathlib
import re
import shutil
import uuid
from typing import Callable

from hyperv_sim.state import STATE_VERSION, running_disk

MAX_CHECKPOINT_NAME_LENGTH = 100
USER_SNAPSHOT_TYPE = "Standard"
SNAPSHOT_TYPES = ("Standard", "Recovery", "Planned", "Missing", "Replica", "AppConsistentReplica", "SyncedReplica")
CHECKPOINT_TYPES = ("Disabled", "Production", "ProductionOnly", "Standard")
REQUESTABLE_CHECKPOINT_TYPES = ("Standard", "Production", "ProductionOnly")
VM_STATES = ("Running", "Off", "Saved", "Paused")
POWER_STATES = ("as_checkpoint", "previous", "running", "off")
DEFAULT_CHECKPOINT_LOCATION = "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V\\Snapshots"
DEFAULT_DISK_FOLDER = "C:\\ProgramData\\Microsoft\\Windows\\Virtual Hard Disks"
DEFAULT_COMPUTER_NAME = "HV01"
# Hyper-V's text for ObjectInUse (32774), as os-autoinst-distri-opensuse PR 5858 quotes it.
BUSY_MESSAGE = "The operation cannot be performed while the object is in use."
# ... and for InvalidState (32775), as canonical/multipass#4204 quotes it (Set-VM).
# What the simulated cluster answers a user without rights on it (the text and the exception's type are an
# assumption: the scripts never read them, they only pass them on).
CLUSTER_ACCESS_DENIED_MESSAGE = "You do not have administrative privileges on the cluster."
INVALID_STATE_MESSAGE = "The operation cannot be performed while the object is in its current state."
# ... and the module's own text for a VM's state (OperationFailed_InvalidState of the decompiled CmdletErrorMessages).
INVALID_STATE_VM_MESSAGE = "The operation cannot be performed while the virtual machine is in its current state."
# Where the scripts keep the type-override markers (Get-TypeOverridePath: %ProgramData%\hyperv.checkpoint\type-override).
TYPE_OVERRIDE_FOLDER = "C:\\ProgramData\\hyperv.checkpoint\\type-override"
GIB = 1024 ** 3
DEFAULT_VOLUME = "C:\\"
DEFAULT_VOLUME_BYTES = 2048 * GIB
DEFAULT_FREE_GB = 500.0
# A new, empty dynamic .avhdx file is about 4 MiB [I]; the simulator adds the bytes the guest changed.
AVHDX_HEADER_BYTES = 4 * 1024 * 1024
# Below this much free space Checkpoint-VM fails in the simulator (an assumption: the real limit
# depends on what the checkpoint must write, e.g. the saved memory of a standard checkpoint).
CHECKPOINT_FLOOR_BYTES = GIB
# The scripts' Wait-MergeVisible polls this often.
MERGE_POLL_SECONDS = 0.25
# The Hyper-V module keeps what it read about an object for this long before it reads it again
# (decompiled Constants.UpdateThreshold, used by DataUpdaterBase.GetData); taking or deleting a checkpoint
# does not refresh the VM's list of checkpoints.
MODULE_CACHE_SECONDS = 5.0
# Type of a setting's default name of Checkpoint-VM: "web01 - (12/03/2026 - 08:40:12)" [U: locale].
DEFAULT_NAME_FORMAT = "%s - (%s)"

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
CMDLET_TYPES = "Microsoft.HyperV.PowerShell.Commands."

# The PowerShell parameters of each operation script's param() block:
# name -> (keyword argument of the HyperVHost method, PowerShell type).
OPERATIONS: dict[str, dict[str, tuple[str, str]]] = {
    "get_vm": {"Name": ("name", "string"), "Id": ("vm_id", "string")},
    "get_vms": {"Names": ("names", "string[]"), "Ids": ("ids", "string[]"), "All": ("all_vms", "bool"),
                "IncludeCheckpoints": ("include_checkpoints", "bool"), "IncludeSizes": ("include_sizes", "bool"),
                "ReportMissing": ("report_missing", "bool")},
    "get_cluster_nodes": {},
    "create_checkpoint": {"VMId": ("vm_id", "string"), "Name": ("name", "string"),
                          "CheckpointType": ("checkpoint_type", "string"),
                          "MinFreeBytes": ("min_free_bytes", "long"),
                          "CheckpointLimit": ("checkpoint_limit", "int")},
    "remove_checkpoints": {"VMId": ("vm_id", "string"), "Ids": ("ids", "string[]"),
                           "IncludeChildren": ("include_children", "bool"),
                           "MergeGraceSeconds": ("merge_grace_seconds", "int")},
    "restore_checkpoint": {"VMId": ("vm_id", "string"), "Id": ("checkpoint_id", "string"),
                           "PowerState": ("power_state", "string")},
    "rename_checkpoint": {"VMId": ("vm_id", "string"), "Id": ("checkpoint_id", "string"),
                          "NewName": ("new_name", "string")},
    "set_checkpoint_settings": {"Changes": ("changes", "object[]")},
    "probe_host": {"VMId": ("vm_id", "string"), "Experiment": ("experiment", "string")},
}
# Operations that need no Hyper-V module: a cluster node that only manages the cluster answers them.
WITHOUT_HYPERV_MODULE = ("get_cluster_nodes",)
# The category of each error id, as the decompiled ExceptionHelper maps the WMI job errors: a VM's
# ``checkpoint_failure`` makes Checkpoint-VM fail with that id.
ERROR_CATEGORIES = {"OperationFailed": "NotSpecified", "AccessDenied": "PermissionDenied",
                    "OperationTimeout": "OperationTimeout", "ObjectInUse": "ResourceBusy",
                    "InvalidState": "InvalidOperation", "OutOfMemory": "FromStdErr", "Unspecified": "NotSpecified"}
# Where a kill fault (SimHost.inject_fault(op, "kill", at=...)) can stop a create: the process dies
# right after the VM-wide type was switched, or between Checkpoint-VM's two steps.
KILL_POINTS = ("type_switched", "checkpoint_taken")


def contains_wildcard_characters(text: str) -> bool:
    """``WildcardPattern.ContainsWildcardCharacters``: a *, ?, [ or ] that no backtick escapes."""
    index = 0
    while index < len(text):
        if text[index] in "*?[]":
            return True
        index += 2 if text[index] == "`" else 1
    return False


def same_name(left: str, right: str) -> bool:
    """``Test-SameName``: [string]::Equals(left, right, 'OrdinalIgnoreCase'), each character upper-cased on its
    own as .NET's simple case mapping does (a character whose upper case is longer, such as ß, stays)."""
    def key(text: str) -> str:
        return "".join(upper if len(upper) == 1 else character
                       for character, upper in ((character, character.upper()) for character in text))
    return key(left) == key(right)


class HostError(Exception):
    """An operation failure as the runner reports it: ``{"code", "message", "details"}``."""

    def __init__(self, code: str, message: str, details: dict | None = None, command: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.command = command  # for a CommandNotFoundException: the command as written

    def to_error(self) -> dict:
        return {"code": self.code, "message": self.message, "details": self.details}


class ProcessKilled(Exception):
    """The PowerShell process of the operation was killed at ``point`` (a kill fault): it never
    answers, and nothing after that point ran (no ``finally`` either)."""

    def __init__(self, point: str):
        super().__init__(point)
        self.point = point


def cmdlet_error(message: str, exception_type: str, error_id: str, category: str, command: str | None = None) -> HostError:
    """A PowerShell error no script stops with its own code; ``runner_error`` gives its reply code."""
    return HostError("host_error", message, {"exception_type": exception_type, "fully_qualified_error_id": error_id,
                                             "category": category}, command=command)


def hyperv_error(message: str, error_id: str, category: str, cmdlet: str) -> HostError:
    """A VirtualizationException of a Hyper-V cmdlet: FullyQualifiedErrorId is the error id and the
    cmdlet's class (e.g. ``ObjectInUse,Microsoft.HyperV.PowerShell.Commands.SetVM``)."""
    return cmdlet_error(message, VIRTUALIZATION_EXCEPTION, "%s,%s%s" % (error_id, CMDLET_TYPES, cmdlet), category)


def error_id(error: HostError) -> str:
    """Get-ErrorId: the part of FullyQualifiedErrorId before the comma."""
    return str((error.details or {}).get("fully_qualified_error_id") or "").split(",", maxsplit=1)[0]


def runner_error(error: HostError) -> HostError:
    """Get-ErrorCode of _errors.ps1: the reply code of a cmdlet's error, from its id and category.

    Errors an operation stopped with its own code (Stop-Operation) pass as they are.
    """
    details = error.details or {}
    if error.code != "host_error" or "fully_qualified_error_id" not in details:
        return error
    ident, category = error_id(error), details.get("category")
    code = "host_error"
    if ident in ("ObjectInUse", "InvalidState") or category == "ResourceBusy":
        code = "busy"
    elif ident == "OperationTimeout":
        code = "hyperv_timeout"
    elif ident == "AccessDenied" or category == "PermissionDenied":
        code = "access_denied"
    elif details.get("exception_type") == COMMAND_NOT_FOUND_EXCEPTION and (error.command or "").lower().startswith(
            "hyper-v\\"):
        code = "hyperv_module_missing"
    return HostError(code, error.message, details)


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
    if kind in ("int", "long"):
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise _binding_error(parameter, value, "System.Int32" if kind == "int" else "System.Int64")
        return int(value)
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

def new_state(computer_name: str | None = None, free_gb: float = DEFAULT_FREE_GB) -> dict:
    """A Windows Server 2022 host without VMs, with one volume C:\\ that has ``free_gb`` free."""
    return {
        "version": STATE_VERSION,
        "host": {
            "computer_name": computer_name or DEFAULT_COMPUTER_NAME,
            "os_caption": OS_RELEASES["2022"]["os_caption"],
            "os_version": OS_RELEASES["2022"]["os_version"],
            "cluster_nodes": [],
            "merge_seconds": 2.0,
            "merge_start_seconds": 0.3,
            "start_seconds": 0.0,
            "checkpoint_seconds": 0.0,
            "hyperv_module": True,
            "volumes": {DEFAULT_VOLUME: {"size_bytes": DEFAULT_VOLUME_BYTES, "free_bytes": int(free_gb * GIB)}},
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


def _files(path: pathlib.Path) -> dict[str, bytes]:
    if not path.is_dir():
        return {}
    return {str(item.relative_to(path)): item.read_bytes() for item in path.rglob("*") if item.is_file()}


def _changed_bytes(before: dict[str, bytes], after: dict[str, bytes]) -> int:
    """What a differencing disk holds: the bytes of the files that are new or changed."""
    return sum(len(content) for name, content in after.items() if before.get(name) != content)


def _canonical(value: str, choices: tuple[str, ...]) -> str | None:
    """The enum name ``value`` names (PowerShell compares them case-insensitively), or None."""
    for choice in choices:
        if choice.lower() == value.lower():
            return choice
    return None


def _holds_memory(state: str) -> bool:
    return state in ("Running", "Paused", "Saved")


class HyperVHost:
    """One simulated Hyper-V host: operations over ``state``, disks under ``disks_dir``.

    ``clock`` returns the current UTC time (tests age checkpoints and run merges out with
    it). ``command_seconds`` adds up how long the operation's cmdlets took in simulated time
    (a synchronous Start-VM, ``start_seconds``; a Checkpoint-VM, ``checkpoint_seconds``; the
    polls of a script); the command host waits that long before it answers. ``kill_at`` names
    the point (KILL_POINTS) at which the operation's process is killed.
    """

    def __init__(self, state: dict, disks_dir: str | pathlib.Path, clock: Callable[[], datetime.datetime] = utc_now,
                 kill_at: str | None = None, node: str | None = None):
        self.state = state
        # A node of a simulated cluster: several processes serve one state file (the cluster's shared
        # storage, as Cluster Shared Volumes are), each as its own computer name.
        self.node = node
        self.disks_dir = pathlib.Path(disks_dir)
        self.clock = clock
        self.command_seconds = 0.0
        self.kill_at = kill_at
        self.killed = False  # set by the command host when the kill happened
        # The host-side work of the operation: Hyper-V and FailoverClusters cmdlet calls and the objects they
        # returned (SimHost.work()). A real host's cost of a read grows with the objects it builds.
        self.work: dict = {"cmdlets": {}, "objects": 0}
        # Get-VMSnapshot -VM lists read in this operation (one PowerShell process): {vm id: (time, checkpoints)}.
        self._listed: dict[str, tuple[datetime.datetime, list[dict]]] = {}
        # New-ClusterOwnerTable: the owners the cluster gave in this operation, {vm id: node or None}, and whether
        # they came from a listing of every "Virtual Machine" resource (read_cluster_owners). The scripts pass theirs
        # to every function that reads an owner (get_vms, create, set_checkpoint_settings; other operations ask for
        # one VM once), never keep it in a session variable: a psrp runspace would keep it for the next operation.
        self._owners: dict[str, str | None] = {}
        self._owners_listed = False
        # Whether the operation listed the cluster's VM roles (Get-ClusterRoleOwner, or read_cluster_owners).
        self._roles_listed = False

    def _read(self, cmdlet: str, objects: int = 0) -> None:
        """One call of ``cmdlet`` that returned ``objects`` objects."""
        self.work["cmdlets"][cmdlet] = self.work["cmdlets"].get(cmdlet, 0) + 1
        self.work["objects"] += objects

    def now(self) -> datetime.datetime:
        """The operation's time: the clock plus what its cmdlets took so far."""
        return self.clock() + datetime.timedelta(seconds=self.command_seconds)

    def _step(self, point: str) -> None:
        if self.kill_at == point:
            raise ProcessKilled(point)

    # -- host features ---------------------------------------------------------------------

    @property
    def host(self) -> dict:
        return self.state["host"]

    @property
    def computer_name(self) -> str:
        return self.node or self.host["computer_name"]

    @property
    def supports_checkpoint_type(self) -> bool:
        return (self.host.get("hyperv_module", True)
                and _build_number(self.host["os_version"]) >= FIRST_BUILD_WITH_CHECKPOINT_TYPE)

    @property
    def supports_automatic_checkpoints(self) -> bool:
        return (self.host.get("hyperv_module", True)
                and _build_number(self.host["os_version"]) >= FIRST_BUILD_WITH_AUTOMATIC_CHECKPOINTS)

    def _unsupported(self, setting: str) -> HostError:
        message = "Host %s runs %s (version %s), which does not support the %s setting" % (
            self.computer_name, self.host["os_caption"], self.host["os_version"], setting)
        return HostError("unsupported_on_host", message, {
            "setting": setting, "os_caption": self.host["os_caption"], "os_version": self.host["os_version"]})

    # -- volumes -----------------------------------------------------------------------------

    @property
    def is_cluster_node(self) -> bool:
        """Test-ClusterNode: the cluster service runs (the host is a node of a cluster)."""
        return bool(self.host["cluster_nodes"])

    def volume_table(self) -> list[str]:
        """Get-VolumeTable: the mount points whose space the host can read. A Cluster Shared Volume
        (``csv``) is no Win32_Volume here; the cluster lists it (Get-ClusterSharedVolume) to a node whose
        user may read the cluster."""
        readable_csv = self.is_cluster_node and self.host.get("cluster_readable", True)
        return [name for name, volume in self.host["volumes"].items() if not volume.get("csv") or readable_csv]

    def volume_of(self, path: str) -> str | None:
        """The mount point of the host volume ``path`` is on (longest match of Get-VolumeTable's names)."""
        matches = [name for name in self.volume_table() if path.lower().startswith(name.lower())]
        return max(matches, key=len) if matches else None

    def vm_volumes(self, vm: dict) -> list[dict]:
        """Get-VMVolumes: the volumes of the VM's disks and of its checkpoint files, each once. A path under
        a Cluster Shared Volume's mount point (``X:\\ClusterStorage\\NAME``) that matched only the drive
        holding it has unknown space, not that drive's."""
        records, seen = [], set()
        for path in (vm.get("disk_folder") or DEFAULT_DISK_FOLDER, vm["checkpoint_location"]):
            volume = self.volume_of(path)
            shared = cluster_storage_root(path)
            if volume and shared and len(volume) < len(shared):
                volume = None
            root = volume if volume else shared or _path_root(path)
            if root.lower() in seen:
                continue
            seen.add(root.lower())
            sizes = self.host["volumes"].get(volume) if volume else None
            records.append({"path": root, "free_bytes": sizes["free_bytes"] if sizes else None,
                            "size_bytes": sizes["size_bytes"] if sizes else None})
        return records

    def _stop_low_disk_space(self, vm: dict, volumes: list[dict], min_free_bytes: int) -> None:
        """Stop-LowDiskSpace of _free_space.ps1."""
        if min_free_bytes <= 0:
            return
        for volume in volumes:
            if volume["free_bytes"] is not None and volume["free_bytes"] < min_free_bytes:
                message = "Volume %s of VM '%s' has %.1f GB free, less than the %.1f GB asked for; no checkpoint was " \
                          "taken" % (volume["path"], vm["name"], volume["free_bytes"] / GIB, min_free_bytes / GIB)
                raise HostError("low_disk_space", message, {"vm": vm["name"], "volume": volume["path"],
                                                            "free_bytes": volume["free_bytes"],
                                                            "min_free_bytes": min_free_bytes})

    # -- disks -----------------------------------------------------------------------------

    def disk_path(self, vm: dict) -> pathlib.Path:
        """The VM's running disk: the directory the guest reads and writes."""
        return running_disk(self.disks_dir, vm)

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

    def ancestors(self, vm: dict) -> list[str]:
        """The checkpoints "Now" derives from, nearest first."""
        found, checkpoint_id = [], vm["current_checkpoint_id"]
        while checkpoint_id in vm["checkpoints"] and checkpoint_id not in found:
            found.append(checkpoint_id)
            checkpoint_id = vm["checkpoints"][checkpoint_id]["parent_id"]
        return found

    def chain_length(self, vm: dict) -> int:
        """Files under the running disk: the base disk, one .avhdx per checkpoint above "Now", and
        the .avhdx of a deleted one whose merge into the chain has not ended yet."""
        now = self.now()
        pending = sum(1 for merge in vm.get("merges", []) if merge["on_chain"] and now < parse_time(merge["done_at"]))
        return 1 + len(self.ancestors(vm)) + pending

    def disk_sizes(self, vm: dict) -> dict:
        """Get-DiskSizes: each checkpoint's own differencing disks (the changes made after it, towards
        each child and towards "Now" when it is current), and the running disk's whole chain."""
        copies = {checkpoint_id: _files(self.checkpoint_disk_path(vm, checkpoint_id)) for checkpoint_id in vm["checkpoints"]}
        running = _files(self.disk_path(vm))
        own = {}
        for checkpoint_id, checkpoint in vm["checkpoints"].items():
            later = [copies[child["id"]] for child in vm["checkpoints"].values() if child["parent_id"] == checkpoint_id]
            if vm["current_checkpoint_id"] == checkpoint_id:
                later.append(running)
            own[checkpoint_id] = sum(AVHDX_HEADER_BYTES + _changed_bytes(copies[checkpoint_id], after) for after in later)
        path = list(reversed(self.ancestors(vm)))
        chain = vm.get("base_bytes", AVHDX_HEADER_BYTES)
        for position, checkpoint_id in enumerate(path):
            after = copies[path[position + 1]] if position + 1 < len(path) else running
            chain += AVHDX_HEADER_BYTES + _changed_bytes(copies[checkpoint_id], after)
        now = self.now()
        chain += AVHDX_HEADER_BYTES * sum(1 for merge in vm.get("merges", [])
                                          if merge["on_chain"] and now < parse_time(merge["done_at"]))
        if vm.get("unreadable_disk"):
            # Get-VHD of the running disk fails: the chain's size and that of the checkpoint it is written
            # after are unknown, never a smaller sum.
            chain = None
            if vm["current_checkpoint_id"] in own:
                own[vm["current_checkpoint_id"]] = None
        return {"checkpoints": own, "chain": chain}

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
            "disk_folder": DEFAULT_DISK_FOLDER,
            "guest_can_quiesce": guest_can_quiesce,
            "owner_node": None,
            "is_clustered": False,
            "cluster_role_name": None,
            "busy_until": None,
            "invalid_state_until": None,
            "merges": [],
            "type_override": None,
            "current_checkpoint_id": None,
            "checkpoints": {},
            "events": [],
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
        vm["base_bytes"] = AVHDX_HEADER_BYTES + sum(len(content) for content in _files(disk).values())
        return vm_id

    def set_owner_node(self, vm: dict, owner_node: str | None) -> None:
        """Make the VM clustered and owned by ``owner_node``; both nodes then form the cluster."""
        vm["owner_node"] = owner_node
        vm["migration"] = None
        if owner_node:
            vm["is_clustered"] = True
            for node in (self.computer_name, owner_node):
                if node not in self.host["cluster_nodes"]:
                    self.host["cluster_nodes"].append(node)

    def owner_of(self, vm: dict) -> str:
        """The node that runs the VM now: a live migration that has ended hands it to its target; a VM
        that is not clustered runs on the host of the state file."""
        migration = vm.get("migration")
        if migration and self.now() >= parse_time(migration["done_at"]):
            return migration["target"]
        return vm.get("owner_node") or self.host["computer_name"]

    def is_migrating(self, vm: dict) -> bool:
        """A live migration of the VM is under way: the source still runs it (and lists it), its secondary
        status is MigratingVirtualMachine, and changes to it fail (``_require_idle``)."""
        migration = vm.get("migration")
        return bool(migration) and self.now() < parse_time(migration["done_at"])

    def live_migrate(self, vm: dict, node: str, seconds: float = 0.0) -> None:
        """The cluster live-migrates the VM to ``node``, a node of this host's cluster: at once, or over
        ``seconds`` (the VM stays on its node meanwhile, ``is_migrating``). Its storage is shared: the
        disks and checkpoints do not move."""
        source = self.owner_of(vm)
        if self.is_migrating(vm):
            raise ValueError("VM %s is already being migrated to %s" % (vm["name"], vm["migration"]["target"]))
        if source.lower() == node.lower():
            raise ValueError("VM %s already runs on node %s" % (vm["name"], source))
        self.set_owner_node(vm, source)
        for name in (source, node):
            if name.lower() not in [known.lower() for known in self.host["cluster_nodes"]]:
                self.host["cluster_nodes"].append(name)
        vm["listed_here"] = False
        if seconds > 0:
            vm["migration"] = {"target": node, "done_at": format_time(self.now() + datetime.timedelta(seconds=seconds))}
        else:
            vm["migration"] = None
            vm["owner_node"] = node
        self._event(vm, "Move-ClusterVirtualMachineRole", node=node, seconds=seconds)

    def _is_foreign(self, vm: dict) -> bool:
        # The script compares with -ne, which ignores case.
        return self.owner_of(vm).lower() != self.computer_name.lower() and not vm.get("listed_here")

    def local_vms(self) -> list[dict]:
        """What ``Get-VM`` lists on this host: a clustered VM owned by another node runs there."""
        return [vm for vm in self.state["vms"].values() if not self._is_foreign(vm)]

    def _foreign_owner(self, matches: Callable[[dict], bool]) -> str | None:
        """The owner node the cluster reports for a VM that is not on this host."""
        for vm in self.state["vms"].values():
            if self._is_foreign(vm) and matches(vm):
                return self.owner_of(vm)
        return None

    def vms_by_name(self, names: list[str]) -> list[dict]:
        """``Get-VMByName``: ``Get-VM -Name`` builds the VMs of those names only (OrdinalIgnoreCase, decompiled
        VirtualizationObjectLocator.GetVirtualMachinesByNamesAndServers) unless a name holds a wildcard
        character; then every VM is listed and compared literally."""
        names = [name for name in names if name]
        if not names:
            return []
        if any(contains_wildcard_characters(name) for name in names):
            listed = self.local_vms()
            self._read("Get-VM", len(listed))
            return listed
        found = [vm for vm in self.local_vms() if any(same_name(vm["name"], name) for name in names)]
        self._read("Get-VM -Name", len(found))
        return found

    def vm_by_id(self, guid: str) -> dict | None:
        """``Get-VMById``: ``Get-VM -Id``, ObjectNotFound for an id no VM of this host has."""
        found = [vm for vm in self.local_vms() if vm["id"] == guid]
        self._read("Get-VM -Id", len(found))
        return found[0] if found else None

    def _cluster_answer(self, guid: str) -> str | None:
        """The owner node the cluster's "Virtual Machine" resource of VM ``guid`` names: a clustered VM's, or
        that of a VM another node runs."""
        for vm in self.state["vms"].values():
            if vm["id"] == guid and (vm["is_clustered"] or self._is_foreign(vm)):
                return self.owner_of(vm)
        return None

    def _cluster_owner(self, guid: str) -> str | None:
        """``Get-ClusterOwner``: ``Get-ClusterResource -VMId`` on a cluster node, once per operation: a VM's
        later records, and every VM after a listing (``read_cluster_owners``), are answered from what it read."""
        if guid in self._owners:
            return self._owners[guid]
        if self._owners_listed:
            return None  # no "Virtual Machine" resource has that id
        if not self.host["cluster_nodes"]:
            return None
        self._read_cluster(guid)
        owner = self._cluster_answer(guid)
        self._read("Get-ClusterResource -VMId", 1 if owner else 0)
        self._owners[guid] = owner
        return owner

    def read_cluster_owners(self, vms: list[dict]) -> None:
        """``Read-ClusterOwners``: the owners of the clustered VMs among ``vms`` (VMs this node lists), from one
        listing of the cluster's resources and the VmId of its "Virtual Machine" resources when more than one
        VM needs it; a single VM is left to its own lookup."""
        wanted = {vm["id"]: vm["name"] for vm in vms if vm["is_clustered"] and vm["id"] not in self._owners}
        if self._owners_listed or len(wanted) < 2 or not self.host["cluster_nodes"]:
            return
        self._read_cluster("', '".join(wanted.values()))
        clustered = [vm for vm in self.state["vms"].values() if vm["is_clustered"] or self._is_foreign(vm)]
        # Each VM role holds a "Virtual Machine" and a "Virtual Machine Configuration" resource; the VmId is
        # read of the former only.
        self._read("Get-ClusterResource", 2 * len(clustered))
        self._read("Get-ClusterParameter", len(clustered))
        self._owners.update({vm["id"]: self.owner_of(vm) for vm in clustered})
        self._owners_listed = self._roles_listed = True

    def find_vm(self, name: str = "", vm_id: str = "", listing: list[dict] | None = None) -> dict:
        """``Get-TargetVM``: an id (any GUID format, any case) wins over a name, names match as Test-SameName does
        (OrdinalIgnoreCase: case aside, literally); a name that matches several VMs is ambiguous. ``listing``: the
        VMs one read of several names returned (get_vms).

        A VM on another node is found by its id through the cluster's "Virtual Machine" resource
        (Get-ClusterResource -VMId), by name only through a cluster role of that name.
        """
        if vm_id:
            label, matched_by = vm_id, "vm_id"
            guid = _parse_guid(vm_id)
            owner = None
            if guid:
                vm = self.vm_by_id(guid)
                if vm is not None:
                    return vm
                owner = self._cluster_owner(guid)
        else:
            label, matched_by = name, "cluster_role_name"
            if listing is None:
                listing = self.vms_by_name([name])
            found = [vm for vm in listing if same_name(vm["name"], name)]
            if len(found) == 1:
                return found[0]
            if found:
                raise HostError("ambiguous", "%d VMs are named '%s' as Hyper-V compares names (case aside); use the "
                                "VM id" % (len(found), name), {
                                    "vm": name, "matches": [{"id": vm["id"], "name": vm["name"]} for vm in found]})
            # The names for "did you mean" (every VM, on this failure only) and the cluster's roles.
            self._read("Get-VM", len(self.local_vms()))
            owner = None
            if self.host["cluster_nodes"]:
                # Get-ClusterRoleOwner: the VM roles, listed once per operation (Get-ClusterGroup, or the listing
                # of read_cluster_owners).
                if not self._roles_listed:
                    self._read_cluster(label)
                    self._read("Get-ClusterGroup", sum(1 for vm in self.state["vms"].values() if vm["is_clustered"]))
                    self._roles_listed = True
                owner = self._foreign_owner(lambda vm: same_name(vm.get("cluster_role_name") or vm["name"], name))
        if owner:
            message = "VM '%s' is a clustered VM owned by node %s; run the task against that node" % (label, owner)
            if matched_by == "cluster_role_name":
                message = ("VM '%s' is not on this host; the cluster role named '%s' is owned by node %s: run the task "
                           "against that node (address the VM by vm_id to find it by its id)" % (label, label, owner))
            raise HostError("owned_by_other_node", message, {"vm": label, "owner_node": owner, "matched_by": matched_by})
        details = {"vm": label, "computer_name": self.computer_name}
        if not vm_id:
            details["names"] = [vm["name"] for vm in self.local_vms()]
        raise HostError("vm_not_found", "No VM '%s' on host %s" % (label, self.computer_name), details)

    def _read_cluster(self, vm_label: str) -> None:
        """Stop-ClusterUnreadable: a cluster node whose user may not read the cluster (``cluster_readable``
        false) stops a lookup that asks the cluster, rather than answer that the VM does not exist."""
        if not self.is_cluster_node or self.host.get("cluster_readable", True):
            return
        raise HostError("cluster_unreadable", "The failover cluster could not be read on host %s while looking for VM "
                        "'%s': %s" % (self.computer_name, vm_label, CLUSTER_ACCESS_DENIED_MESSAGE), {
                            "vm": vm_label, "computer_name": self.computer_name,
                            "exception_type": "Microsoft.FailoverClusters.PowerShell.ClusterCmdletException",
                            "fully_qualified_error_id":
                                "ClusterCmdletException,Microsoft.FailoverClusters.PowerShell.GetResourceCommand",
                            "category": "NotSpecified"})

    def _is_merging(self, vm: dict) -> bool:
        now = self.now()
        return any(parse_time(merge["visible_from"]) <= now < parse_time(merge["done_at"])
                   for merge in vm.get("merges", []))

    def _require_idle(self, vm: dict, cmdlet: str) -> None:
        """Another operation holds the VM (``busy_until``, or the next ``busy_calls`` cmdlets): ObjectInUse.
        A disk merge does not: Hyper-V merges live."""
        if vm.get("busy_calls"):
            vm["busy_calls"] -= 1
            raise hyperv_error(BUSY_MESSAGE, "ObjectInUse", "ResourceBusy", cmdlet)
        if vm.get("busy_until") and self.now() < parse_time(vm["busy_until"]):
            raise hyperv_error(BUSY_MESSAGE, "ObjectInUse", "ResourceBusy", cmdlet)
        if self.is_migrating(vm):
            # Which id a VM in a live migration gives is not documented (the WMI methods document 32774
            # "in use" and 32775 "invalid state"): the scripts classify by the VM's status, not by the id.
            raise hyperv_error(INVALID_STATE_MESSAGE, "InvalidState", "InvalidOperation", cmdlet)

    def _event(self, vm: dict, cmdlet: str, **details) -> None:
        """What a cmdlet did to the VM, for tests (the last 50)."""
        vm.setdefault("events", []).append(dict({"time": format_time(self.now()), "cmdlet": cmdlet,
                                                 "state": vm["state"]}, **details))
        del vm["events"][:-50]

    # -- checkpoints -------------------------------------------------------------------------

    def _checkpoints_by_time(self, vm: dict) -> list[dict]:
        return sorted(vm["checkpoints"].values(), key=lambda checkpoint: checkpoint["creation_time"])

    def list_checkpoints(self, vm: dict) -> list[dict]:
        """``Get-VMSnapshot -VM``: the VM's checkpoints by creation time, as the module has them. It keeps what it
        read about a VM for MODULE_CACHE_SECONDS, and taking or deleting a checkpoint does not refresh that: a
        list read less than that long before in the same operation (one PowerShell process) is served again,
        copies of the checkpoints as they were (a new one missing, a deleted one still there)."""
        now = self.now()
        cached = self._listed.get(vm["id"])
        if cached is None or (now - cached[0]).total_seconds() >= MODULE_CACHE_SECONDS:
            cached = (now, copy.deepcopy(self._checkpoints_by_time(vm)))
            self._listed[vm["id"]] = cached
        self._read("Get-VMSnapshot -VM", len(cached[1]))
        return list(cached[1])

    def checkpoint_list(self, vm: dict, taken: list[dict] = (), removed: set | list = ()) -> list[dict]:
        """``Get-CheckpointList``: the VM's (possibly cached) list, ``taken`` added when it misses them, the
        ``removed`` ids left out."""
        listed = [checkpoint for checkpoint in self.list_checkpoints(vm) if checkpoint["id"] not in removed]
        ids = {checkpoint["id"] for checkpoint in listed}
        listed += [checkpoint for checkpoint in taken if checkpoint["id"] not in ids]
        return sorted(listed, key=lambda checkpoint: checkpoint["creation_time"])

    def wait_checkpoint_list_read(self, listed_at: datetime.datetime) -> None:
        """``Wait-CheckpointListRead``: until a list read at ``listed_at`` is read anew."""
        left = (listed_at + datetime.timedelta(seconds=MODULE_CACHE_SECONDS + 0.5) - self.now()).total_seconds()
        if left > 0:
            self.command_seconds += left

    def find_checkpoint(self, vm: dict, checkpoint_id: str, must_exist: bool = False) -> dict | None:
        """``Find-Checkpoint``: ``Get-VMSnapshot -Id`` reads that one checkpoint (ObjectNotFound when no
        checkpoint has the id), not served from a cached list; a checkpoint of another VM is not this VM's."""
        guid = _parse_guid(checkpoint_id)
        found = vm["checkpoints"].get(guid) if guid else None
        self._read("Get-VMSnapshot -Id", 1 if found else 0)
        if found is not None:
            return found
        if must_exist:
            message = "VM '%s' has no checkpoint with id %s" % (vm["name"], checkpoint_id)
            raise HostError("checkpoint_not_found", message, {"vm": vm["name"], "checkpoint": checkpoint_id})
        return None

    def _checkpoint_name(self, vm: dict, checkpoint_id: str | None) -> str | None:
        checkpoint = vm["checkpoints"].get(checkpoint_id) if checkpoint_id else None
        return checkpoint["name"] if checkpoint else None

    @staticmethod
    def _standard_count(checkpoints: list[dict]) -> int:
        return sum(1 for checkpoint in checkpoints if checkpoint["snapshot_type"] == USER_SNAPSHOT_TYPE)

    @staticmethod
    def _can_take_production(vm: dict) -> bool:
        """A production checkpoint needs an Off VM, or a Running one whose guest can quiesce (its VSS
        integration component answers): IsProductionSnapshotAvailable in the decompiled module. A
        Saved or Paused VM cannot."""
        return vm["state"] == "Off" or (vm["state"] == "Running" and vm["guest_can_quiesce"])

    def take_checkpoint(self, vm: dict, name: str, taken_type: str, creation_time: datetime.datetime | None = None,
                        snapshot_type: str = USER_SNAPSHOT_TYPE, is_automatic: bool = False) -> dict:
        """Add a checkpoint below the VM's current position and move the VM onto it; copy the disk.

        A standard checkpoint of a VM that holds memory keeps it (its State is Saved); a production
        one never does.
        """
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
            "has_memory_state": taken_type == "standard" and _holds_memory(vm["state"]),
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

    def _remove_checkpoint(self, vm: dict, checkpoint: dict, include_children: bool) -> None:
        """A checkpoint goes: children move up to the parent (or go too)."""
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

    def start_merge(self, vm: dict, on_chain: bool, seconds: float | None = None) -> None:
        """A disk merge shows (MergingDisks) ``merge_start_seconds`` after the delete that started it,
        not at once [probe: merge_visibility], and runs ``merge_seconds``, after any merge already running."""
        now = self.now()
        visible = now + datetime.timedelta(seconds=float(self.host.get("merge_start_seconds", 0.0)))
        start = visible
        for merge in vm.setdefault("merges", []):
            start = max(start, parse_time(merge["done_at"]))
        duration = float(self.host["merge_seconds"]) if seconds is None else float(seconds)
        vm["merges"] = [merge for merge in vm["merges"] if parse_time(merge["done_at"]) > now]
        vm["merges"].append({"visible_from": format_time(visible),
                             "done_at": format_time(start + datetime.timedelta(seconds=duration)),
                             "on_chain": on_chain})

    # -- the cmdlets ---------------------------------------------------------------------------

    def _cmdlet_set_vm(self, vm: dict, **settings) -> None:
        """``Set-VM``: refused while another operation holds the VM (ObjectInUse) or while the VM is in
        a state it cannot change settings in (InvalidState, canonical/multipass#4204)."""
        self._require_idle(vm, "SetVM")
        invalid = bool(vm.get("invalid_state_calls"))
        if invalid:
            vm["invalid_state_calls"] -= 1
        if invalid or (vm.get("invalid_state_until") and self.now() < parse_time(vm["invalid_state_until"])):
            raise hyperv_error("Modifying the properties of '%s' failed.\n%s" % (vm["name"], INVALID_STATE_MESSAGE),
                               "InvalidState", "InvalidOperation", "SetVM")
        vm.update(settings)
        if "checkpoint_type" in settings:
            self._event(vm, "Set-VM", checkpoint_type=settings["checkpoint_type"])

    def _cmdlet_save_vm(self, vm: dict) -> None:
        """``Save-VM``: the memory goes to disk, the VM is Saved."""
        self._require_idle(vm, "SaveVM")
        if vm["state"] not in ("Running", "Paused"):
            raise hyperv_error("'%s' failed to change state.\n%s" % (vm["name"], INVALID_STATE_MESSAGE),
                               "InvalidState", "InvalidOperation", "SaveVM")
        vm["state"] = "Saved"
        self._event(vm, "Save-VM")

    def _cmdlet_start_vm(self, vm: dict) -> None:
        """``Start-VM``: synchronous; a saved state is resumed. Starting from Off with automatic
        checkpoints on and no current checkpoint takes an automatic checkpoint first (decompiled StartVM:
        ``AutomaticCheckpointsEnabled && GetParentSnapshot() == null``; reference §9)."""
        self._require_idle(vm, "StartVM")
        if vm["state"] == "Running":
            return
        if (vm["state"] == "Off" and vm["automatic_checkpoints"] and self.supports_automatic_checkpoints
                and vm["current_checkpoint_id"] is None):
            self.take_checkpoint(vm, "Automatic Checkpoint - %s - (%s)" % (vm["name"], self._default_time()),
                                 "production" if vm["checkpoint_type"] != "Standard" else "standard", is_automatic=True)
        vm["state"] = "Running"
        self.command_seconds += float(self.host["start_seconds"])
        self._event(vm, "Start-VM", checkpoint=vm["current_checkpoint_id"])

    def _cmdlet_stop_vm_turn_off(self, vm: dict) -> None:
        """``Stop-VM -TurnOff``: power off; then the VM's current checkpoint goes when it is an
        automatic one (DeleteAutomaticCheckpoint in the decompiled StopVM)."""
        self._require_idle(vm, "StopVM")
        vm["state"] = "Off"
        self._event(vm, "Stop-VM -TurnOff")
        current = vm["checkpoints"].get(vm["current_checkpoint_id"])
        if current is not None and current["is_automatic"]:
            self._remove_checkpoint(vm, current, include_children=False)
            self.start_merge(vm, on_chain=True)
            self._event(vm, "Remove-VMSnapshot (automatic checkpoint, by Stop-VM)", checkpoint=current["id"])

    def _cmdlet_remove_saved_state(self, vm: dict) -> None:
        """``Remove-VMSavedState``: a Saved VM becomes Off; no checkpoint is touched."""
        self._require_idle(vm, "RemoveVMSavedState")
        if vm["state"] != "Saved":
            raise hyperv_error("'%s' failed to change state.\n%s" % (vm["name"], INVALID_STATE_MESSAGE),
                               "InvalidState", "InvalidOperation", "RemoveVMSavedState")
        vm["state"] = "Off"
        self._event(vm, "Remove-VMSavedState")

    def _cmdlet_restore_vmsnapshot(self, vm: dict, checkpoint: dict) -> None:
        """``Restore-VMSnapshot`` (decompiled RestoreVMSnapshot): a Running or Paused VM is saved, the
        checkpoint applied (the VM is then Saved when the checkpoint holds memory, else Off), and a
        VM that was Running is started again when it is Saved."""
        self._require_idle(vm, "RestoreVMSnapshot")
        before = vm["state"]
        if before in ("Running", "Paused"):
            self._cmdlet_save_vm(vm)
        try:
            self._restore_disk(vm, checkpoint)
            for merge in vm.get("merges", []):
                merge["on_chain"] = False  # the running disk is a new one below the checkpoint
            vm["current_checkpoint_id"] = checkpoint["id"]
            vm["state"] = "Saved" if checkpoint.get("has_memory_state") else "Off"
            self._event(vm, "Restore-VMSnapshot", checkpoint=checkpoint["id"])
        finally:
            if vm["state"] == "Saved" and before == "Running":
                self._cmdlet_start_vm(vm)

    def _default_time(self) -> str:
        return self.now().strftime("%m/%d/%Y - %H:%M:%S")

    def _cmdlet_checkpoint_vm(self, vm: dict, name: str) -> dict:
        """``Checkpoint-VM -SnapshotName name -Passthru`` (decompiled CheckpointVM): the checkpoint is
        taken under Hyper-V's default name, with the kind the VM's checkpoint type gives at that
        moment, and only then renamed to ``name``."""
        if name == "":
            raise cmdlet_error(
                "Cannot validate argument on parameter 'SnapshotName'. The argument is null or empty. Provide an "
                "argument that is not null or empty, and then try the command again.",
                VALIDATION_EXCEPTION,
                "ParameterArgumentValidationError,Microsoft.HyperV.PowerShell.Commands.CheckpointVM",
                "InvalidData")
        self._require_idle(vm, "CheckpointVM")
        volume = self.host["volumes"].get(self.volume_of(vm["checkpoint_location"]) or "")
        if vm.get("checkpoint_volume_full") or (volume is not None and volume["free_bytes"] < CHECKPOINT_FLOOR_BYTES):
            # The reference has no verified Hyper-V text for a full volume: this message says it is
            # the simulator's, and the collection only passes a host's message on, never matches it.
            raise hyperv_error("hyperv-sim: checkpoint operation failed for '%s': the volume that holds its checkpoint "
                               "files is full (simulated)" % vm["name"], "OperationFailed", "NotSpecified",
                               "CheckpointVM")
        # Checkpoint-VM returns when the checkpoint exists, also when it failed.
        self.command_seconds += float(self.host.get("checkpoint_seconds", 0.0))
        if vm.get("checkpoint_failure"):
            raise hyperv_error("hyperv-sim: checkpoint operation failed for '%s' (simulated %s)"
                               % (vm["name"], vm["checkpoint_failure"]), vm["checkpoint_failure"],
                               ERROR_CATEGORIES[vm["checkpoint_failure"]], "CheckpointVM")
        other = vm.pop("concurrent_checkpoint", None)
        if other:
            # Another process took a checkpoint of the VM a moment before this one (a run racing for it), after
            # this operation's first read of the VM's checkpoints.
            self.take_checkpoint(vm, other, "standard", creation_time=self.now() - datetime.timedelta(seconds=1))
        in_effect = vm["checkpoint_type"] if self.supports_checkpoint_type else "Standard"
        if in_effect == "Disabled":
            raise hyperv_error("Checkpoint operation failed.\nCheckpoints have been disabled for '%s'." % vm["name"],
                               "OperationFailed", "NotSpecified", "CheckpointVM")
        taken_type = "standard"
        if in_effect in ("Production", "ProductionOnly") and self._can_take_production(vm):
            taken_type = "production"
        elif in_effect == "ProductionOnly" and vm["state"] in ("Saved", "Paused"):
            # A state that never allows a production checkpoint: the job fails InvalidState (32775).
            raise hyperv_error("Checkpoint operation failed for '%s'.\n%s" % (vm["name"], INVALID_STATE_VM_MESSAGE),
                               "InvalidState", "InvalidOperation", "CheckpointVM")
        elif in_effect == "ProductionOnly":
            raise hyperv_error(
                "Checkpoint operation failed. Production checkpoints cannot be created for '%s'." % vm["name"],
                "OperationFailed", "NotSpecified", "CheckpointVM")
        checkpoint = self.take_checkpoint(vm, DEFAULT_NAME_FORMAT % (vm["name"], self._default_time()), taken_type)
        self._event(vm, "Checkpoint-VM", checkpoint=checkpoint["id"], taken_type=taken_type)
        self._step("checkpoint_taken")
        if not name.strip() or len(name) > MAX_CHECKPOINT_NAME_LENGTH:
            raise hyperv_error(
                "Checkpoint operation failed for '%s'. A checkpoint name cannot be blank and can have at most %d "
                "characters." % (vm["name"], MAX_CHECKPOINT_NAME_LENGTH), "InvalidParameter", "InvalidArgument",
                "CheckpointVM")
        checkpoint["name"] = name
        return checkpoint

    def _cmdlet_rename_vmsnapshot(self, vm: dict, checkpoint: dict, new_name: str) -> None:
        if new_name == "":
            raise cmdlet_error(
                "Cannot validate argument on parameter 'NewName'. The argument is null or empty. Provide an argument "
                "that is not null or empty, and then try the command again.",
                VALIDATION_EXCEPTION,
                "ParameterArgumentValidationError,Microsoft.HyperV.PowerShell.Commands.RenameVMSnapshot",
                "InvalidData")
        self._require_idle(vm, "RenameVMSnapshot")
        if not new_name.strip() or len(new_name) > MAX_CHECKPOINT_NAME_LENGTH:
            raise hyperv_error(
                "Failed to rename checkpoint '%s' of '%s'. A checkpoint name cannot be blank and can have at most %d "
                "characters." % (checkpoint["name"], vm["name"], MAX_CHECKPOINT_NAME_LENGTH), "InvalidParameter",
                "InvalidArgument", "RenameVMSnapshot")
        checkpoint["name"] = new_name

    def _cmdlet_remove_vmsnapshot(self, vm: dict, checkpoint: dict, include_children: bool) -> None:
        """``Remove-VMSnapshot``: returns at once; the merge it starts shows later."""
        self._require_idle(vm, "RemoveVMSnapshot")
        on_chain = checkpoint["id"] in self.ancestors(vm)
        has_children = any(child["parent_id"] == checkpoint["id"] for child in vm["checkpoints"].values())
        self._remove_checkpoint(vm, checkpoint, include_children)
        self._event(vm, "Remove-VMSnapshot", checkpoint=checkpoint["id"])
        if on_chain or (has_children and not include_children):
            self.start_merge(vm, on_chain=on_chain)

    # -- records -----------------------------------------------------------------------------

    def host_record(self) -> dict:
        return {
            "computer_name": self.computer_name,
            "os_caption": self.host["os_caption"],
            "os_version": self.host["os_version"],
            "supports_checkpoint_type": self.supports_checkpoint_type,
            "supports_automatic_checkpoints": self.supports_automatic_checkpoints,
            "time": format_time(self.now()),
        }

    def vm_record(self, vm: dict, sizes: dict | None = None, checkpoints: list[dict] | None = None,
                  hosted_here: bool = False) -> dict:
        """``ConvertTo-VMRecord``: ``checkpoints`` the caller listed already (else listed now); ``hosted_here``:
        the VM was listed on this node, which then owns it without asking the cluster."""
        if checkpoints is None:
            checkpoints = self.list_checkpoints(vm)
        self._read("Get-VMHardDiskDrive -VM", 1)
        merging = self._is_merging(vm)
        owner = None
        if vm["is_clustered"] and hosted_here:
            owner = self.computer_name
        elif vm["is_clustered"]:
            owner = self._cluster_owner(vm["id"])
        override = vm.get("type_override")
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
            "secondary_status": ("MigratingVirtualMachine" if self.is_migrating(vm)
                                 else "MergingDisks" if merging else None),
            "merging": merging,
            "checkpoint_count": self._standard_count(checkpoints),
            "volumes": self.vm_volumes(vm),
            "disk_chain_bytes": sizes["chain"] if sizes else None,
            "type_override": ({"original_type": None if self._marker_held(override) else override["original"],
                               "live": self._marker_held(override)} if override else None),
        }

    @staticmethod
    def _marker_held(override: dict) -> bool:
        """``Get-TypeOverride``'s ``live``: the marker is held by a running create, or it is another account's
        that this one may not open (a folder made before it gave Hyper-V Administrators rights): held too."""
        return bool(override["live"] or override.get("other_account"))

    def checkpoint_record(self, vm: dict, checkpoint: dict, sizes: dict | None = None) -> dict:
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
            "has_memory_state": bool(checkpoint.get("has_memory_state")),
            "size_bytes": sizes["checkpoints"][checkpoint["id"]] if sizes else None,
        }

    # -- operations (docs/host-protocol.md) --------------------------------------------------

    def run(self, operation: str, params: dict) -> dict:
        """Run an operation by its protocol name with the request's params; HostError on failure,
        with the code the runner gives it."""
        if operation not in OPERATIONS:
            raise HostError("invalid_request", "Unknown operation '%s'" % operation)
        # Each operation is a PowerShell process of its own: the module's cache starts empty, and so does
        # what it learnt of the cluster.
        self._listed = {}
        self._owners, self._owners_listed, self._roles_listed = {}, False, False
        self.work = {"cmdlets": {}, "objects": 0}
        try:
            bound = bind_parameters(operation, params or {})
            if not self.host.get("hyperv_module", True) and operation not in WITHOUT_HYPERV_MODULE:
                command = "Hyper-V\\Set-VM" if operation == "set_checkpoint_settings" else "Hyper-V\\Get-VM"
                raise cmdlet_error(
                    "The term '%s' is not recognized as the name of a cmdlet, function, script file, or operable "
                    "program. Check the spelling of the name, or if a path was included, verify that the path is "
                    "correct and try again." % command, COMMAND_NOT_FOUND_EXCEPTION, "CommandNotFoundException",
                    "ObjectNotFound", command=command)
            return getattr(self, operation)(**bound)
        except HostError as error:
            raise self._migration_error(runner_error(error), error, params or {}) from None

    def _migration_error(self, coded: HostError, raw: HostError, params: dict) -> HostError:
        """Get-MigrationFailure of _cluster.ps1: a VM that is in use or in an invalid state because a live
        migration moves it answers ``migrating`` (the controller waits, then follows the VM)."""
        vm_id = _parse_guid(str(params.get("VMId") or ""))
        if not vm_id or error_id(raw) not in ("ObjectInUse", "InvalidState") or vm_id not in self.state["vms"]:
            return coded
        vm = self.state["vms"][vm_id]
        if self._is_foreign(vm) or not self.is_migrating(vm):
            return coded
        details = dict(coded.details or {}, vm=vm["name"], secondary_status="MigratingVirtualMachine")
        return HostError("migrating", coded.message, details)

    def get_vm(self, name: str = "", vm_id: str = "") -> dict:
        return {"vm": self.vm_record(self.find_vm(name=name, vm_id=vm_id))}

    def get_vms(self, names: list[str] = (), ids: list[str] = (), all_vms: bool = False,
                include_checkpoints: bool = False, include_sizes: bool = False, report_missing: bool = False) -> dict:
        missing: list[dict] = []

        def listed(**wanted):
            """``Get-ListedVM``: with report_missing, a VM not on this host goes to ``missing``."""
            try:
                return [self.find_vm(listing=listing, **wanted)]
            except HostError as error:
                if not report_missing or error.code not in ("vm_not_found", "owned_by_other_node"):
                    raise
                missing.append({"vm": wanted.get("name") or wanted.get("vm_id"), "code": error.code,
                                "message": error.message, "details": error.details})
                return []

        listing = self.vms_by_name(names) if names and not all_vms else None
        if not all_vms:
            # Before the names and ids this node does not run are looked for: the listing answers them too.
            self.read_cluster_owners(listing or [])
        if all_vms:
            vms = sorted(self.local_vms(), key=lambda vm: (vm["name"].lower(), vm["name"]))
            self._read("Get-VM", len(vms))
        else:
            vms = [vm for name in names for vm in listed(name=name)] + \
                [vm for vm_id in ids for vm in listed(vm_id=vm_id)]
            self.read_cluster_owners(vms)
        records = []
        for vm in vms:
            sizes = self.disk_sizes(vm) if include_sizes else None
            checkpoints = self.list_checkpoints(vm)
            record = self.vm_record(vm, sizes, checkpoints, hosted_here=all_vms)
            if include_checkpoints:
                record["checkpoints"] = [self.checkpoint_record(vm, checkpoint, sizes) for checkpoint in checkpoints]
            records.append(record)
        return {"host": self.host_record(), "vms": records, "missing": missing}

    def get_cluster_nodes(self) -> dict:
        """The nodes of the cluster this host is in (``host["cluster_nodes"]``), all Up."""
        nodes = self.host["cluster_nodes"]
        if not nodes:
            raise HostError("not_clustered", "Host %s is not a node of a running cluster: The cluster service is "
                            "not running." % self.computer_name, {"computer_name": self.computer_name})
        return {"host": self.host_record(),
                "nodes": [{"name": node, "state": "Up"} for node in sorted(nodes, key=str.lower)]}

    def _new_named_checkpoint(self, vm: dict, name: str, known_ids: set,
                              listed_at: datetime.datetime) -> tuple[dict, bool]:
        """New-NamedCheckpoint of create_checkpoint.ps1: (checkpoint, whether its name had to be set afterwards)."""
        started = self.now() - datetime.timedelta(seconds=2)
        try:
            return self._cmdlet_checkpoint_vm(vm, name), False
        except HostError as failure:
            if error_id(failure) == "ObjectInUse":
                raise
            self.wait_checkpoint_list_read(listed_at)
            made = [checkpoint for checkpoint in self.list_checkpoints(vm)
                    if checkpoint["id"] not in known_ids and checkpoint["snapshot_type"] == USER_SNAPSHOT_TYPE
                    and not checkpoint["is_automatic"] and parse_time(checkpoint["creation_time"]) >= started]
            if len(made) != 1:
                raise
            # The listed copy names the checkpoint; the cmdlets act on the checkpoint itself.
            found = vm["checkpoints"][made[0]["id"]]
            try:
                self._cmdlet_rename_vmsnapshot(vm, found, name)
            except HostError:
                try:
                    self._cmdlet_remove_vmsnapshot(vm, found, False)
                except HostError:
                    pass
                raise failure from None
            return self.find_checkpoint(vm, found["id"], must_exist=True), True

    def _set_checkpoint_type(self, vm: dict, checkpoint_type: str) -> None:
        self._cmdlet_set_vm(vm, checkpoint_type=checkpoint_type)

    def create_checkpoint(self, vm_id: str = "", name: str = "", checkpoint_type: str = "",
                          min_free_bytes: int = 0, checkpoint_limit: int = 0) -> dict:
        requested_type = None
        if checkpoint_type:
            requested_type = _canonical(checkpoint_type, REQUESTABLE_CHECKPOINT_TYPES)
            if requested_type is None:
                raise HostError("invalid_request", "Unknown checkpoint type '%s'" % checkpoint_type)
        if checkpoint_limit < 1:
            raise HostError("invalid_request", "CheckpointLimit must be at least 1, not %d" % checkpoint_limit)
        vm = self.find_vm(vm_id=vm_id)
        has_types = self.supports_checkpoint_type
        if requested_type and not has_types:
            raise self._unsupported("checkpoint_type")
        # A type a killed create left switched is put back first; a live one makes this run wait.
        repaired = None
        override = vm.get("type_override")
        if has_types and override:
            if override.get("other_account"):
                raise HostError("busy", "The checkpoint-type marker of VM '%s' (%s) belongs to another account, which "
                                "may be taking a checkpoint with the type switched; try again when it is done, or let "
                                "that account or an administrator take a checkpoint of the VM, which puts the type back "
                                "and removes the marker" % (vm["name"], TYPE_OVERRIDE_FOLDER + "\\" + vm["id"] + ".txt"),
                                {"vm": vm["name"], "reason": "type_override_other_account"})
            if override["live"]:
                raise HostError("busy", "Another run is taking a checkpoint of VM '%s' with its checkpoint type "
                                "switched; try again when it is done" % vm["name"],
                                {"vm": vm["name"], "reason": "type_override_in_progress"})
            repaired = override["original"]
            self._set_checkpoint_type(vm, repaired)
            vm["type_override"] = None
        listed_at = self.now()
        snapshots = self.list_checkpoints(vm)
        before = self.vm_record(vm, checkpoints=snapshots)
        original = before["checkpoint_type"]
        if original == "Disabled":
            raise HostError("checkpoints_disabled", "Checkpoints are disabled for VM '%s'" % vm["name"],
                            {"vm": vm["name"]})
        count = len(snapshots)
        if count >= checkpoint_limit:
            raise HostError("limit_reached", "VM '%s' already has %d checkpoints, the Hyper-V maximum is %d"
                            % (vm["name"], count, checkpoint_limit),
                            {"vm": vm["name"], "count": count, "limit": checkpoint_limit})
        self._stop_low_disk_space(vm, before["volumes"], min_free_bytes)
        requested = requested_type or (original if has_types else "Standard")
        in_effect = original if has_types else "Standard"
        switch_to = None
        if requested == "Standard" and in_effect != "Standard":
            switch_to = "Standard"
        elif requested == "ProductionOnly" and in_effect != "ProductionOnly":
            switch_to = "ProductionOnly"
        elif requested == "Production" and in_effect == "Standard":
            switch_to = "Production"
        known = {checkpoint["id"] for checkpoint in snapshots}
        type_changed, killed, type_restore_error, fell_back = False, False, None, False
        try:
            if switch_to:
                # The marker first: a run killed right after Set-VM must leave the type to put back.
                vm["type_override"] = {"original": original, "live": True}
                self._set_checkpoint_type(vm, switch_to)
                type_changed = True
                self._step("type_switched")
                in_effect = switch_to
            try:
                made, name_repaired = self._new_named_checkpoint(vm, name, known, listed_at)
            except HostError as failure:
                self._stop_low_disk_space(vm, self.vm_volumes(vm), min_free_bytes)
                production_failure = ((error_id(failure) == "OperationFailed" and before["state"] != "Off")
                                      or (error_id(failure) == "InvalidState" and before["state"] in ("Saved", "Paused")))
                if in_effect != "ProductionOnly" or not production_failure:
                    raise
                if requested == "ProductionOnly":
                    raise HostError("production_checkpoint_failed", failure.message, {
                        "vm": vm["name"], "exception_type": failure.details["exception_type"],
                        "fully_qualified_error_id": failure.details["fully_qualified_error_id"]}) from None
                vm["type_override"] = {"original": original, "live": True}
                self._set_checkpoint_type(vm, "Standard")
                type_changed = True
                in_effect = "Standard"
                made, name_repaired = self._new_named_checkpoint(vm, name, known, listed_at)
                fell_back = True
        except ProcessKilled:
            killed = True
            raise
        finally:
            if type_changed and not killed:
                try:
                    self._set_checkpoint_type(vm, original)
                    vm["type_override"] = None
                except HostError as error:
                    type_restore_error = error.message
                    vm["type_override"]["live"] = False  # the marker stays for the next create
            elif not killed:
                vm["type_override"] = None  # Set-VM refused the switch: the type never changed
        listed = self.checkpoint_list(vm, taken=[made])
        has_memory = bool(made.get("has_memory_state"))
        taken_type = "production" if not has_memory and in_effect in ("Production", "ProductionOnly") else "standard"
        if has_memory and in_effect == "Production" and before["state"] != "Off":
            fell_back = True
        return {
            "checkpoint": self.checkpoint_record(vm, made),
            "taken_type": taken_type,
            "fell_back": fell_back,
            "type_restore_error": type_restore_error,
            "name_repaired": name_repaired,
            "type_override_repaired": repaired,
            # The list read before is still the module's: Get-CheckpointList adds the new checkpoint.
            "vm": dict(self.vm_record(vm, checkpoints=listed), checkpoints=[self.checkpoint_record(vm, checkpoint)
                                                                            for checkpoint in listed]),
        }

    def _wait_merge_visible(self, vm: dict, chain_before: int, chain_shrinks: bool, seconds: int) -> str:
        """Wait-MergeVisible of _vm_state.ps1: polls (in simulated time) until the merge shows or the
        chain under the running disk is shorter, for at most ``seconds``."""
        waited = 0.0
        while True:
            if self._is_merging(vm):
                return "running"
            if chain_shrinks and self.chain_length(vm) < chain_before:
                return "done"
            if waited >= seconds:
                return "unseen"
            self.command_seconds += MERGE_POLL_SECONDS
            waited += MERGE_POLL_SECONDS

    def remove_checkpoints(self, vm_id: str = "", ids: list[str] = (), include_children: bool = False,
                           merge_grace_seconds: int = 0) -> dict:
        vm = self.find_vm(vm_id=vm_id)
        parents = {checkpoint["id"]: checkpoint["parent_id"] for checkpoint in self.list_checkpoints(vm)}
        ancestors = self.ancestors(vm)
        chain_before = self.chain_length(vm)
        expect_merge = False
        removed, gone = [], []
        for checkpoint_id in ids:
            checkpoint = self.find_checkpoint(vm, checkpoint_id)
            if checkpoint is None or checkpoint["id"] in gone:
                continue
            removed_id = checkpoint["id"]
            if any(parent == removed_id for parent in parents.values()) and not include_children:
                expect_merge = True
            self._cmdlet_remove_vmsnapshot(vm, checkpoint, include_children)
            removed.append(removed_id)
            gone.append(removed_id)
            if include_children:
                gone += _descendants(parents, removed_id)
        merge = "none"
        if removed:
            chain_shrinks = any(checkpoint_id in gone for checkpoint_id in ancestors)
            merge = "done"
            if chain_shrinks or expect_merge:
                merge = self._wait_merge_visible(vm, chain_before, chain_shrinks, merge_grace_seconds)
        return {"removed": removed, "merge": merge,
                "vm": self.vm_record(vm, checkpoints=self.checkpoint_list(vm, removed=gone))}

    def _set_off(self, vm: dict) -> None:
        """Set-VMOff of _vm_state.ps1: Save-VM when needed, then Remove-VMSavedState; never Stop-VM."""
        if vm["state"] == "Off":
            return
        if vm["state"] != "Saved":
            self._cmdlet_save_vm(vm)
        self._cmdlet_remove_saved_state(vm)

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
        # Saved first, so that Restore-VMSnapshot does not start the restored guest by itself.
        saved = False
        if previous_state in ("Running", "Paused"):
            self._cmdlet_save_vm(vm)
            saved = True
        try:
            self._cmdlet_restore_vmsnapshot(vm, checkpoint)
        except HostError:
            if saved and previous_state == "Running":
                try:
                    self._cmdlet_start_vm(vm)
                except HostError:
                    pass
            raise
        state_after_restore = vm["state"]
        wanted = {"running": "Running", "off": "Off"}.get(power_state)
        if power_state == "previous" and previous_state in ("Running", "Off"):
            wanted = previous_state
        if wanted == "Running" and vm["state"] != "Running":
            self._cmdlet_start_vm(vm)
        elif wanted == "Off" and vm["state"] != "Off":
            self._set_off(vm)
        return {"previous_state": previous_state, "state_after_restore": state_after_restore,
                "vm": self.vm_record(vm)}

    def rename_checkpoint(self, vm_id: str = "", checkpoint_id: str = "", new_name: str = "") -> dict:
        vm = self.find_vm(vm_id=vm_id)
        checkpoint = self.find_checkpoint(vm, checkpoint_id, must_exist=True)
        self._cmdlet_rename_vmsnapshot(vm, checkpoint, new_name)
        return {"checkpoint": self.checkpoint_record(vm, checkpoint)}

    def _plan_settings(self, change) -> tuple[dict, dict]:
        """One change checked against the host and the VM: (vm, {stored key: new value})."""
        change = change if isinstance(change, dict) else {}
        vm = self.find_vm(vm_id=_to_string("VMId", change.get("VMId")))
        settings = {}
        if change.get("CheckpointType") is not None:
            if not self.supports_checkpoint_type:
                raise self._unsupported("checkpoint_type")
            if vm.get("type_override") and self._marker_held(vm["type_override"]):
                raise HostError("busy", "A checkpoint of VM '%s' is being taken with its checkpoint type switched; try "
                                "again when it is done" % vm["name"],
                                {"vm": vm["name"], "reason": "type_override_in_progress"})
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
            count = len(self.list_checkpoints(vm))
            if count > 0:
                raise HostError("checkpoint_location_in_use",
                                "VM '%s' has %d checkpoints; its checkpoint location can only change without "
                                "checkpoints" % (vm["name"], count),
                                {"vm": vm["name"], "checkpoint_count": count})
            settings["checkpoint_location"] = _to_string("CheckpointLocation", change["CheckpointLocation"])
        return vm, settings

    def set_checkpoint_settings(self, changes: list = ()) -> dict:
        # Every change is checked before any is made, so a refusal leaves every VM as it was.
        plans = [self._plan_settings(change) for change in changes]
        for vm, settings in plans:
            self._cmdlet_set_vm(vm, **settings)
            if "checkpoint_type" in settings:
                vm["type_override"] = None  # set on purpose: nothing is left to put back
        self.read_cluster_owners([vm for vm, _ in plans])
        return {"vms": [self.vm_record(vm) for vm, _ in plans]}

    def probe_host(self, vm_id: str = "", experiment: str = "") -> dict:
        """probe_host.ps1: one experiment of the host probe, against the model (hyperv_sim.probe)."""
        from hyperv_sim.probe import run_experiment

        return run_experiment(self, vm_id, experiment)


def _descendants(parents: dict, checkpoint_id: str) -> list[str]:
    """``Get-Descendants`` of remove_checkpoints.ps1: the ids below ``checkpoint_id`` in ``parents`` (id -> parent)."""
    found = []
    for child in [child for child, parent in parents.items() if parent == checkpoint_id]:
        found += [child] + _descendants(parents, child)
    return found


def cluster_storage_root(path: str) -> str | None:
    """Get-ClusterStorageRoot: ``C:\\ClusterStorage\\Volume1\\`` for a path below it, else None."""
    match = re.match(r"^[A-Za-z]:\\ClusterStorage\\[^\\]+", path, re.IGNORECASE)
    return match.group(0) + "\\" if match else None


def _path_root(path: str) -> str:
    """[IO.Path]::GetPathRoot: ``\\\\server\\share`` of a UNC path, ``D:\\`` of a drive path."""
    if path.startswith("\\\\"):
        parts = path.split("\\")
        return "\\".join(parts[:4])
    return path[:3] if len(path) >= 3 and path[1] == ":" else path
