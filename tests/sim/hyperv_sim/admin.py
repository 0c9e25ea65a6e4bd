"""Setting up and inspecting a simulated Hyper-V host, for tests and the demo.

    host = SimHost("/tmp/lab/hyperv-state.json")
    host.add_vm("app01", state="Off", checkpoint_type="Standard")
    host.add_checkpoint("app01", "nightly", age_seconds=30 * 86400)
    host.set_vm("web01", guest_can_quiesce=False)     # production checkpoints now fall back
    host.inject_fault("create_checkpoint", "drop")    # the next create loses its connection
    host.inject_fault("create_checkpoint", "kill", at="type_switched")   # killed before it puts the type back
    host.set_free_space(3.5)                          # GB free on the host's volumes
    host.migrate_vm("app01", SimHost("/tmp/lab/hv02-state.json"))   # the cluster moves app01 to HV02
    host.live_migrate("app01", "HV02")                 # in a cluster of nodes serving one state file
    host.inject_fault("create_checkpoint", "migrate", vm="app01", target="HV02")   # ... as the create starts
    (host.disk_path("web01") / "app.conf").write_text("v2\\n")   # what the guest writes

Every call is one transaction on the same locked state file the simulator uses, so it can
run while the simulator serves. Calls that change the host create the state file when it
is missing; calls that only read raise hyperv_sim.state.StateFileError instead, so a wrong
path never leaves a stray host behind. VMs are named by name or id; ``vm`` and
``checkpoints`` return the simulator's own records (the protocol's fields plus sim-only
ones such as ``guest_can_quiesce`` and ``taken_type``).

``main(argv)`` is ``hyperv-sim admin ...``; argv holds the words after ``admin``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import json
import pathlib
import shutil
import sys
import uuid
from typing import Callable, Iterator

from hyperv_sim import corrupt_replies, engine, request_log, traffic, work_log
from hyperv_sim.commands import FAULT_ACTIONS
from hyperv_sim.state import StateFile, StateFileError, find_vm

# set_vm(**attrs): attributes stored as given, with the type they must have.
VM_ATTRIBUTES = {
    "name": str,
    "automatic_checkpoints": bool,
    "checkpoint_location": str,
    "guest_can_quiesce": bool,  # false: production checkpoints of the running VM fail
    "guest_reachable": bool,  # false: the sim_guest connection reports the guest unreachable
    "checkpoint_volume_full": bool,  # true: the volume of its checkpoint files is full, creating fails
    "is_clustered": bool,
    "cluster_role_name": str,  # the name of its cluster role, when not the VM's (SCVMM, renamed roles)
    # true: Get-VM on this host still lists the VM although the cluster reports another owner node (Get-TargetVM
    # returns a VM Get-VM finds, whatever its owner), e.g. while a live migration hands it over
    "listed_here": bool,
    "disk_folder": str,  # where its disks are, e.g. "D:\\VMs" (a volume of set_free_space)
    "busy_calls": int,  # the next N cmdlets on the VM fail with ObjectInUse
    "invalid_state_calls": int,  # the next N Set-VM calls on the VM fail with InvalidState
    "checkpoint_failure": str,  # an error id (engine.ERROR_CATEGORIES) every Checkpoint-VM fails with; "" for none
    # the name of a checkpoint another process takes right before the VM's next Checkpoint-VM (a racing run)
    "concurrent_checkpoint": str,
    "unreadable_disk": bool,  # true: Get-VHD of its running disk fails (in use by another node, moved, no right)
    # the type-override marker on the host: {"original": type to put back, "live": held by a running create,
    # "other_account": written by another account in a folder this one may not open files of}
    "type_override": dict,
}
# The operations that name their VM with a VMId parameter (faults can be limited to one VM).
VM_CHANGE_OPERATIONS = ("create_checkpoint", "remove_checkpoints", "restore_checkpoint", "rename_checkpoint")
HOST_ATTRIBUTES = {
    "computer_name": str,
    "os_caption": str,
    "os_version": str,
    "cluster_nodes": list,
    "merge_seconds": (int, float),
    "start_seconds": (int, float),
    "checkpoint_seconds": (int, float),  # how long Checkpoint-VM takes (also a failed attempt)
    "merge_start_seconds": (int, float),  # how long after a delete its merge shows (MergingDisks)
    "hyperv_module": bool,  # false: every Hyper-V operation fails with hyperv_module_missing
    "language_mode": str,  # "ConstrainedLanguage": an AppLocker/WDAC host, the runner refuses to run
    "cluster_readable": bool,  # false: the connecting user has no rights on the host's cluster (cluster_unreadable)
}

# The host attributes that say how long something takes (hyperv-sim admin set-times), with what they mean.
TIMING_ATTRIBUTES = {
    "merge_seconds": "how long the disk merge after a delete runs",
    "merge_start_seconds": "how long after a delete its merge shows (MergingDisks)",
    "start_seconds": "how long Start-VM takes (also the start after a restore)",
    "checkpoint_seconds": "how long Checkpoint-VM takes",
}


def _check_type(attribute: str, value, expected) -> None:
    # bool is an int in Python, but True is no number of seconds.
    if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
        raise ValueError("%s must be of type %s, not %r" % (attribute, getattr(expected, "__name__", expected), value))


def _check_choice(attribute: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError("%s must be one of %s, not %r" % (attribute, ", ".join(choices), value))


class SimHost:
    """The admin API of one simulated host (see the module docstring)."""

    def __init__(self, state_path: str | pathlib.Path, clock: Callable[[], datetime.datetime] = engine.utc_now):
        self.state_file = StateFile(state_path)
        self.clock = clock

    @contextlib.contextmanager
    def _host(self, create: bool = False) -> Iterator[engine.HyperVHost]:
        with self.state_file.transaction(create=engine.new_state if create else None) as state:
            yield engine.HyperVHost(state, self.state_file.disks_dir, clock=self.clock)

    def add_vm(self, name: str, state: str = "Running", checkpoint_type: str = "Production",
               guest_can_quiesce: bool = True, owner_node: str | None = None,
               automatic_checkpoints: bool | None = None, files: dict[str, str | bytes] | None = None) -> str:
        """Add a VM (names need not be unique, as on Hyper-V); returns its id.

        ``owner_node``: a clustered VM owned by that node; another node than the host's makes
        every operation on it fail with owned_by_other_node. ``files``: extra disk content,
        relative path -> text or bytes, next to ``disk.txt``.
        """
        with self._host(create=True) as host:
            return host.add_vm(name, state=state, checkpoint_type=checkpoint_type, guest_can_quiesce=guest_can_quiesce,
                               owner_node=owner_node, automatic_checkpoints=automatic_checkpoints, files=files)

    def set_vm(self, name_or_id: str, **attrs) -> None:
        """Change a VM: the VM_ATTRIBUTES, plus ``state`` and ``checkpoint_type`` (validated),
        ``owner_node`` (makes the VM clustered), and ``busy_seconds`` / ``invalid_state_seconds`` /
        ``merging_seconds``: for that long from now, the VM's cmdlets fail with ObjectInUse / Set-VM
        fails with InvalidState / the VM merges disks.
        """
        with self._host(create=True) as host:
            vm = find_vm(host.state, name_or_id)
            changes = {}
            for attribute, value in attrs.items():
                if attribute in VM_ATTRIBUTES:
                    _check_type(attribute, value, VM_ATTRIBUTES[attribute])
                    if attribute == "checkpoint_failure" and value:
                        _check_choice(attribute, value, tuple(engine.ERROR_CATEGORIES))
                    changes[attribute] = value
                elif attribute == "state":
                    _check_choice(attribute, value, engine.VM_STATES)
                    changes[attribute] = value
                elif attribute == "checkpoint_type":
                    _check_choice(attribute, value, engine.CHECKPOINT_TYPES)
                    changes[attribute] = value
                elif attribute in ("busy_seconds", "invalid_state_seconds"):
                    _check_type(attribute, value, (int, float))
                    until = engine.format_time(self.clock() + datetime.timedelta(seconds=value))
                    changes["busy_until" if attribute == "busy_seconds" else "invalid_state_until"] = until
                elif attribute == "merging_seconds":
                    _check_type(attribute, value, (int, float))
                elif attribute != "owner_node":
                    raise ValueError("cannot set %s on a VM (settable: %s, state, checkpoint_type, owner_node, "
                                     "busy_seconds, invalid_state_seconds, merging_seconds)"
                                     % (attribute, ", ".join(VM_ATTRIBUTES)))
            vm.update(changes)
            if "merging_seconds" in attrs:
                vm["merges"] = [{"visible_from": engine.format_time(self.clock()),
                                 "done_at": engine.format_time(self.clock() + datetime.timedelta(
                                     seconds=attrs["merging_seconds"])), "on_chain": False}]
            if "owner_node" in attrs:
                host.set_owner_node(vm, attrs["owner_node"])

    def set_host(self, **attrs) -> None:
        """Change the host: HOST_ATTRIBUTES; ``set_host(**engine.OS_RELEASES["2016"])`` picks a Windows release."""
        with self._host(create=True) as host:
            for attribute, value in attrs.items():
                if attribute not in HOST_ATTRIBUTES:
                    raise ValueError("cannot set %s on the host (settable: %s)"
                                     % (attribute, ", ".join(HOST_ATTRIBUTES)))
                _check_type(attribute, value, HOST_ATTRIBUTES[attribute])
            host.host.update(attrs)

    def set_free_space(self, free_gb: float, volume: str | None = None, size_gb: float | None = None,
                       csv: bool = False) -> None:
        """Free space (GB of 1024**3 bytes) of every volume of the host, or of ``volume`` (e.g. "D:\\",
        added when missing); ``size_gb`` its size. Below 1 GB free, Checkpoint-VM fails. ``csv``: a new
        ``volume`` is a Cluster Shared Volume (e.g. "C:\\ClusterStorage\\Volume1\\"): no Win32_Volume, its
        space is what the cluster reports (Get-ClusterSharedVolume) to a user who may read the cluster."""
        _check_type("free_gb", free_gb, (int, float))
        with self._host(create=True) as host:
            volumes = host.host["volumes"]
            names = [volume] if volume else list(volumes)
            for name in names:
                entry = volumes.setdefault(name, {"size_bytes": engine.DEFAULT_VOLUME_BYTES, "free_bytes": 0})
                if csv:
                    entry["csv"] = True
                if size_gb is not None:
                    entry["size_bytes"] = int(size_gb * engine.GIB)
                entry["free_bytes"] = min(int(free_gb * engine.GIB), entry["size_bytes"])

    def events(self, name_or_id: str) -> list[dict]:
        """What the cmdlets did to the VM, oldest first (the last 50): ``{"time", "cmdlet", "state", ...}``,
        ``state`` being the VM's state after the cmdlet."""
        return copy.deepcopy(find_vm(self.state_file.read(), name_or_id).get("events", []))

    def vm(self, name_or_id: str) -> dict:
        """The VM as stored: protocol fields (checkpoint_type even where the host hides it) and sim-only ones."""
        return copy.deepcopy(find_vm(self.state_file.read(), name_or_id))

    def checkpoints(self, name_or_id: str) -> list[dict]:
        """The VM's checkpoints as stored, oldest first (with taken_type and vm_state_at_checkpoint)."""
        vm = find_vm(self.state_file.read(), name_or_id)
        return sorted(vm["checkpoints"].values(), key=lambda checkpoint: checkpoint["creation_time"])

    def disk_path(self, name_or_id: str, state: dict | None = None) -> pathlib.Path:
        """The VM's running disk directory: write there to change the guest; restores revert it.
        ``state``: a state already read (SimHost.state()), to spare a second read."""
        state = self.state_file.read() if state is None else state
        return engine.HyperVHost(state, self.state_file.disks_dir, clock=self.clock).disk_path(find_vm(state, name_or_id))

    def state(self) -> dict:
        """The whole state as stored, read once (for callers that need several things from one read)."""
        return self.state_file.read()

    def add_checkpoint(self, name_or_id: str, name: str, age_seconds: float = 0, snapshot_type: str = "Standard",
                       is_automatic: bool = False) -> str:
        """Take a checkpoint as if ``age_seconds`` ago, without create's refusals; returns its id.

        ``snapshot_type="Recovery"`` makes a backup checkpoint, which the collection must not touch.
        """
        with self._host(create=True) as host:
            vm = find_vm(host.state, name_or_id)
            return host.add_checkpoint(vm, name, age_seconds=age_seconds, snapshot_type=snapshot_type,
                                       is_automatic=is_automatic)["id"]

    def migrate_vm(self, name_or_id: str, target: "SimHost") -> None:
        """Live-migrate a VM to ``target``, another simulated host, as a cluster moves a role.

        The VM (checkpoints and disks included) then runs on ``target``, clustered and owned
        by it; this host keeps knowing it as owned by ``target`` (owned_by_other_node), and
        both hosts list each other as cluster nodes.
        """
        if target.state_file.path.resolve() == self.state_file.path.resolve():
            raise ValueError("a VM can only migrate to another simulated host")
        with self._host() as source, target._host(create=True) as destination:
            vm = find_vm(source.state, name_or_id)
            if source._is_foreign(vm):
                raise ValueError("VM %s runs on node %s, not on this host" % (vm["name"], vm["owner_node"]))
            moved = copy.deepcopy(vm)
            destination.state["vms"][moved["id"]] = moved
            destination.set_owner_node(moved, destination.computer_name)
            source.set_owner_node(vm, destination.computer_name)
            if source.computer_name not in destination.host["cluster_nodes"]:
                destination.host["cluster_nodes"].append(source.computer_name)
            # Shared storage on a real cluster; here the disks follow the VM.
            disks = destination.disks_dir / moved["id"]
            shutil.rmtree(disks, ignore_errors=True)
            disks.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source.disks_dir / vm["id"]), str(disks))

    def live_migrate(self, name_or_id: str, node: str, seconds: float = 0) -> None:
        """The cluster live-migrates a VM to ``node``, in a cluster of simulated nodes that serve this one
        state file (``hyperv-sim serve --node NAME``; harness ``running_simulator(..., node=)``), which is
        their shared storage, as Cluster Shared Volumes are: the disks stay where they are, and the guest
        connection reaches the VM wherever it runs. With ``seconds``, the migration takes that long: the
        VM stays on its node meanwhile, shows MigratingVirtualMachine and refuses changes
        (``migrating``)."""
        _check_type("seconds", seconds, (int, float))
        with self._host(create=True) as host:
            host.live_migrate(find_vm(host.state, name_or_id), node, seconds=float(seconds))

    def add_vms(self, names: list[str], checkpoints_each: int = 0) -> None:
        """Many VMs in one transaction (a large host for the bench), each with ``checkpoints_each``
        checkpoints in a chain (``cp-1`` oldest); rewriting the state file per VM would take minutes."""
        with self._host(create=True) as host:
            for name in names:
                vm = host.state["vms"][host.add_vm(name)]
                for number in range(1, checkpoints_each + 1):
                    host.add_checkpoint(vm, "cp-%d" % number, age_seconds=checkpoints_each - number + 1)

    def work(self) -> dict:
        """The host-side work of the operations since the last reset (hyperv_sim.work_log.summarize): cmdlet calls
        and the objects they returned, what a real host's cost grows with."""
        return work_log.summarize(work_log.read(self.state_file.path))

    def reset_work(self) -> None:
        """Count the host-side work from now on."""
        work_log.reset(self.state_file.path)

    @property
    def traffic_path(self) -> pathlib.Path:
        return traffic.traffic_path(self.state_file.path)

    def reset_traffic(self) -> None:
        """Count the endpoint's traffic from now on (see hyperv_sim.traffic)."""
        traffic.reset(self.traffic_path)

    def traffic(self) -> dict:
        """Round trips and bytes since the last reset: totals, per connection, per shell, commands by label."""
        return traffic.summarize(traffic.read_records(self.traffic_path))

    def inject_fault(self, operation: str, action: str, code: str = "busy", message: str = engine.BUSY_MESSAGE,
                     times: int = 1, hang_seconds: float = 0, after: bool = False, vm: str | None = None,
                     skip: int = 0, at: str | None = None, target: str | None = None) -> None:
        """Make the next ``times`` runs of ``operation`` (-1: all) misbehave; ``action`` is one of

        - ``fail``: answer the error ``code``/``message`` without running the operation;
        - ``hang``: the command stays running ``hang_seconds`` (0: for ever); the operation runs
          first only with ``after=True``, else the late answer is the error ``code``/``message``;
        - ``drop``: run the operation, then reset the connection instead of answering;
        - ``drop_before``: reset the connection without running the operation;
        - ``delay``: run the operation only after ``hang_seconds``, then answer as usual (other
          commands run meanwhile).
        - ``barrier``: hold each of the next ``times`` runs (2 or more) until all ``times`` have
          arrived, then run them and answer as usual (other commands run meanwhile: two runs that
          race for one VM have certainly both read it before either changes it). ``clear_faults()``
          lets the held runs go at once; a run still held after commands.BARRIER_TIMEOUT_SECONDS
          (a test that never sends the others) answers an error without running the operation.
        - ``kill``: the operation's process is killed at point ``at`` (engine.KILL_POINTS: a
          controller timeout or a deleted WinRS shell): what it did up to there stays, nothing after
          it runs (no ``finally``), and the connection is reset.
        - ``migrate``: just before the operation runs, the cluster live-migrates ``vm`` (required, any
          operation) to node ``target`` (``live_migrate``; over ``hang_seconds``, 0: at once); the
          operation then runs as usual and meets the VM moved (or moving).

        ``vm`` (name or id) limits the fault to runs of a change operation on that VM (its
        ``VMId`` parameter), so that several VMs of one host can each meet their own fault.
        ``skip`` lets that many runs of the operation pass first (e.g. an earlier task's attempt
        and its retry), so that one playbook can meet a fault in its second task.
        """
        if operation not in engine.OPERATIONS:
            raise ValueError("unknown operation %r (known: %s)" % (operation, ", ".join(sorted(engine.OPERATIONS))))
        if action not in FAULT_ACTIONS:
            raise ValueError("action must be one of %s, not %r" % (", ".join(FAULT_ACTIONS), action))
        if not isinstance(times, int) or times == 0 or times < -1:
            raise ValueError("times must be a positive count or -1 (for ever), not %r" % (times,))
        if not isinstance(skip, int) or skip < 0:
            raise ValueError("skip must be a count of runs, not %r" % (skip,))
        if action == "barrier" and times < 2:
            raise ValueError("a barrier needs times= the number of runs it holds together (2 or more), not %r"
                             % (times,))
        if action == "kill" and at not in engine.KILL_POINTS:
            raise ValueError("a kill needs at= one of %s, not %r" % (", ".join(engine.KILL_POINTS), at))
        if action == "migrate" and (vm is None or not target):
            raise ValueError("a migrate fault needs vm= (the VM it moves) and target= (the node it moves to)")
        if vm is not None and operation not in VM_CHANGE_OPERATIONS and action != "migrate":
            raise ValueError("a fault for one VM needs a change operation (%s), not %r"
                             % (", ".join(VM_CHANGE_OPERATIONS), operation))
        with self._host(create=True) as host:
            vm_id = find_vm(host.state, vm)["id"] if vm is not None else None
            fault = {"operation": operation, "action": action, "code": code, "message": message,
                     "times": times, "hang_seconds": float(hang_seconds), "after": bool(after),
                     "vm": vm_id, "skip": skip, "at": at, "target": target}
            if action == "barrier":
                # The held runs watch for this fault to be used up: they need to tell it from any other.
                fault.update(id=uuid.uuid4().hex, parties=times)
            host.state["faults"].append(fault)

    def corrupt_reply(self, operation: str, kind: str, times: int = 1) -> None:
        """Run the next ``times`` runs of ``operation`` (-1: all), but answer with a corrupted reply
        of ``kind`` (one of corrupt_replies.KINDS: not_json, truncated_json, clixml_error, ...)."""
        if operation not in engine.OPERATIONS:
            raise ValueError("unknown operation %r (known: %s)" % (operation, ", ".join(sorted(engine.OPERATIONS))))
        if kind not in corrupt_replies.KINDS:
            raise ValueError("kind must be one of %s, not %r" % (", ".join(corrupt_replies.KINDS), kind))
        with self._host(create=True) as host:
            host.state["faults"].append({"operation": operation, "action": "corrupt", "kind": kind, "code": None,
                                         "message": None, "times": times, "hang_seconds": 0.0, "after": True})

    def requests(self) -> list[dict]:
        """Every command that reached the host, oldest first (hyperv_sim.request_log)."""
        return request_log.read(self.state_file.path)

    def clear_faults(self) -> None:
        with self._host(create=True) as host:
            host.state["faults"] = []

    def consistency_problems(self) -> list[str]:
        """What is wrong with the stored host, empty when it is consistent: every checkpoint stored
        once under its own id with its disk copy, parents and the VMs' positions pointing at
        existing checkpoints of the same VM, no cycles, no disk copy without its checkpoint."""
        with self._host() as host:
            return [problem for vm in host.state["vms"].values() for problem in _vm_problems(host, vm)]

    def summary(self) -> dict:
        """The host as its operations would show it, every VM with its checkpoints, and the faults."""
        with self._host() as host:
            vms = []
            for vm in sorted(host.state["vms"].values(), key=lambda vm: (vm["name"].lower(), vm["id"])):
                record = host.vm_record(vm)
                record["disk_path"] = str(host.disk_path(vm))
                sizes = host.disk_sizes(vm)
                record["checkpoints"] = [host.checkpoint_record(vm, checkpoint, sizes)
                                         for checkpoint in sorted(vm["checkpoints"].values(),
                                                                  key=lambda checkpoint: checkpoint["creation_time"])]
                vms.append(record)
            return {"host": copy.deepcopy(host.host), "vms": vms, "faults": copy.deepcopy(host.state["faults"])}


def _vm_problems(host: engine.HyperVHost, vm: dict) -> list[str]:
    label = "VM %s (%s)" % (vm["name"], vm["id"])
    checkpoints = vm["checkpoints"]
    problems = ["%s: checkpoint stored under %s has id %s" % (label, key, checkpoint["id"])
                for key, checkpoint in checkpoints.items() if key != checkpoint["id"]]
    for checkpoint in checkpoints.values():
        if checkpoint["parent_id"] is not None and checkpoint["parent_id"] not in checkpoints:
            problems.append("%s: checkpoint %s has a missing parent %s" % (label, checkpoint["id"], checkpoint["parent_id"]))
        if not host.checkpoint_disk_path(vm, checkpoint["id"]).is_dir():
            problems.append("%s: checkpoint %s has no disk copy" % (label, checkpoint["id"]))
        seen, parent = {checkpoint["id"]}, checkpoint["parent_id"]
        while parent in checkpoints:
            if parent in seen:
                problems.append("%s: checkpoint %s is in a parent cycle" % (label, checkpoint["id"]))
                break
            seen.add(parent)
            parent = checkpoints[parent]["parent_id"]
    if vm["current_checkpoint_id"] is not None and vm["current_checkpoint_id"] not in checkpoints:
        problems.append("%s: runs from a missing checkpoint %s" % (label, vm["current_checkpoint_id"]))
    copies = host.checkpoint_disk_path(vm, "x").parent
    if copies.is_dir():
        problems.extend("%s: disk copy %s belongs to no checkpoint" % (label, copy.name)
                        for copy in copies.iterdir() if copy.name not in checkpoints)
    return problems


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hyperv-sim admin", description="Set up or inspect a simulated Hyper-V host.")
    parser.add_argument("--state", required=True, help="state file of the simulated host")
    commands = parser.add_subparsers(dest="command", required=True)
    add_vm = commands.add_parser("add-vm", help="add a VM (Running unless --off); prints its id")
    add_vm.add_argument("name")
    add_vm.add_argument("--off", action="store_true", help="the VM is Off")
    add_vm.add_argument("--checkpoint-type", choices=engine.CHECKPOINT_TYPES, default="Production")
    commands.add_parser("show", help="print the host, its VMs and checkpoints, and the faults as JSON")
    fault = commands.add_parser("inject-fault", help="make an operation fail, hang or drop its connection, or hold "
                                "it back (delay, barrier) while other commands run")
    fault.add_argument("operation", choices=sorted(engine.OPERATIONS))
    fault.add_argument("action", choices=FAULT_ACTIONS)
    fault.add_argument("--times", type=int, default=1, help="how many runs (-1: all; default 1); for a barrier, how "
                       "many runs it holds until all have arrived (2 or more)")
    fault.add_argument("--code", default="busy", help="error code of fail/hang (default busy)")
    fault.add_argument("--message", default=engine.BUSY_MESSAGE, help="error message of fail/hang")
    fault.add_argument("--hang-seconds", type=float, default=0, help="hang length (default 0: for ever), or how "
                       "long a delay holds the operation")
    fault.add_argument("--after", action="store_true", help="hang after running the operation")
    fault.add_argument("--vm", help="only runs of the operation on this VM (name or id; change operations)")
    fault.add_argument("--skip", type=int, default=0, help="let this many runs of the operation pass first")
    fault.add_argument("--at", choices=engine.KILL_POINTS, help="where a kill stops the operation")
    fault.add_argument("--target", help="the node a migrate fault moves --vm to")
    commands.add_parser("check", help="print what is inconsistent in the stored host; exit 1 when anything is")
    migrate = commands.add_parser("live-migrate", help="move a VM to another node of a cluster whose nodes serve this "
                                  "state file (serve --node NAME)")
    migrate.add_argument("vm", help="the VM's name or id")
    migrate.add_argument("node", help="the node it moves to")
    migrate.add_argument("--seconds", type=float, default=0, help="how long the migration takes (default 0: at once)")
    times = commands.add_parser("set-times", help="how long the host's cmdlets take, in seconds, for testing your own "
                                "playbooks' waits (a merge after a delete, Start-VM, Checkpoint-VM)")
    for attribute, meaning in TIMING_ATTRIBUTES.items():
        times.add_argument("--" + attribute.replace("_", "-"), type=float, dest=attribute, help=meaning)
    free = commands.add_parser("set-free-gb", help="free space of the host's volumes, in GB")
    free.add_argument("free_gb", type=float)
    free.add_argument("--volume", help="only this volume (e.g. D:\\), added when missing")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``hyperv-sim admin --state FILE add-vm NAME [--off] [--checkpoint-type T] | show | check
    | inject-fault OP ACTION | live-migrate VM NODE [--seconds S] | set-times [--merge-seconds S ...] | set-free-gb N [--volume V]``."""
    args = build_parser().parse_args(argv)
    host = SimHost(args.state)
    try:
        if args.command == "add-vm":
            print(host.add_vm(args.name, state="Off" if args.off else "Running", checkpoint_type=args.checkpoint_type))
        elif args.command == "show":
            print(json.dumps(host.summary(), indent=2))
        elif args.command == "set-times":
            given = {attribute: getattr(args, attribute) for attribute in TIMING_ATTRIBUTES
                     if getattr(args, attribute) is not None}
            if not given:
                raise ValueError("set-times needs at least one of %s"
                                 % ", ".join("--" + name.replace("_", "-") for name in TIMING_ATTRIBUTES))
            if any(seconds < 0 for seconds in given.values()):
                raise ValueError("set-times takes seconds, 0 or more")
            host.set_host(**given)
        elif args.command == "live-migrate":
            host.live_migrate(args.vm, args.node, seconds=args.seconds)
        elif args.command == "set-free-gb":
            host.set_free_space(args.free_gb, volume=args.volume)
        elif args.command == "check":
            problems = host.consistency_problems()
            print("\n".join(problems) if problems else "consistent")
            return 1 if problems else 0
        else:
            host.inject_fault(args.operation, args.action, code=args.code, message=args.message, times=args.times,
                              hang_seconds=args.hang_seconds, after=args.after, vm=args.vm,
                              skip=args.skip, at=args.at, target=args.target)
    except (LookupError, ValueError, StateFileError) as error:
        print("hyperv-sim admin: %s" % error, file=sys.stderr)
        return 1
    return 0
