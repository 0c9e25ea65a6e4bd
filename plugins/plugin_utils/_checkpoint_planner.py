# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: decide what hyperv_checkpoint has to do: pure functions, no I/O.

``plan(request, vm, now)`` takes the task's validated options (hyperv_checkpoint's check_options: durations
in ``max_age_seconds`` and ``older_than_seconds``), the VM record with its checkpoints (docs/host-protocol.md)
and the current UTC time, and returns a Plan: the actions to take, the checkpoint the task is about, and
warnings. Every refusal that depends on the VM (ambiguous names, checkpoints disabled, the 50-checkpoint limit,
low free space, a stale checkpoint) is a PlanError raised here, before anything is sent that changes the host.
Checkpoint names match as Hyper-V matches them (_names): case-insensitively, literally.
"""

from __future__ import annotations

import datetime
import fnmatch
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Mapping, Sequence, TypedDict, Union

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_tree import CheckpointTree
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import PlanError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._free_space import low_free_space
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_contract import MAX_CHECKPOINTS
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._names import did_you_mean, named
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._utc_time import parse_time

if TYPE_CHECKING:
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_contract import CheckpointRecord, VmRecord

USER_SNAPSHOT_TYPE = "Standard"

# The task's validated options (hyperv_checkpoint's check_options), as the planner reads them.
Request = Mapping[str, Any]


# The actions a plan holds: the action plugin carries them out, the outcome reports them (each as the
# result's ``actions`` entry, with what the host did added).
class CreateAction(TypedDict):
    action: Literal["create"]
    name: str
    checkpoint_type: str | None
    checkpoint_type_option: str | None


class RemoveAction(TypedDict):
    action: Literal["remove"]
    checkpoint_ids: list[str]
    names: list[str]
    include_children: bool
    # Every checkpoint the delete takes: the targets and, with include_children, their subtrees.
    removes: list[str]


class RenameAction(TypedDict):
    action: Literal["rename"]
    checkpoint_id: str
    name: str
    new_name: str


class RestoreAction(TypedDict):
    action: Literal["restore"]
    checkpoint_id: str
    name: str
    power_state: str


Action = Union[CreateAction, RemoveAction, RenameAction, RestoreAction]


class Plan:
    """What to do: ``actions`` in order, the ``checkpoint`` the task is about, ``warnings``."""

    def __init__(self, actions: list[Action] | None = None, checkpoint: CheckpointRecord | None = None,
                 warnings: list[str] | None = None, needs_quiet_vm: bool | None = None) -> None:
        self.actions: list[Action] = actions or []
        self.checkpoint = checkpoint
        self.warnings: list[str] = warnings or []
        # Whether the actions should wait for a running disk merge (on_merge). A
        # restore does not: it is the rollback path and must not be held up.
        self.needs_quiet_vm = bool(self.actions) if needs_quiet_vm is None else needs_quiet_vm

    @property
    def changed(self) -> bool:
        return bool(self.actions)

    def __repr__(self) -> str:
        return "Plan(actions=%r, checkpoint=%r)" % (self.actions, self.checkpoint and self.checkpoint.get("id"))


# Small helpers ---------------------------------------------------------------

def age_seconds(checkpoint: CheckpointRecord, now: datetime.datetime) -> float:
    return (now - parse_time(checkpoint["creation_time"])).total_seconds()


def user_checkpoints(vm: VmRecord) -> list[CheckpointRecord]:
    """Checkpoints this module may touch: never backup (Recovery) or Replica ones."""
    return [cp for cp in vm.get("checkpoints", []) if cp.get("snapshot_type", USER_SNAPSHOT_TYPE) == USER_SNAPSHOT_TYPE]


def by_id(checkpoints: Iterable[CheckpointRecord], checkpoint_id: str) -> list[CheckpointRecord]:
    wanted = checkpoint_id.lower()
    return [cp for cp in checkpoints if cp["id"].lower() == wanted]


def describe_matches(checkpoints: Iterable[CheckpointRecord]) -> list[dict[str, Any]]:
    return [{"id": cp["id"], "name": cp["name"], "creation_time": cp["creation_time"]} for cp in checkpoints]


def ambiguous(vm: VmRecord, name: str, matches: Sequence[CheckpointRecord], hint: str) -> PlanError:
    names = sorted(set(cp["name"] for cp in matches))
    spelled = "named '%s'" % name if names == [name] else "named '%s' as Hyper-V compares names (%s)" % (
        name, ", ".join("'%s'" % other for other in names))
    return PlanError(
        "ambiguous",
        "VM '%s' has %d checkpoints %s (ids %s); %s"
        % (vm["name"], len(matches), spelled, ", ".join(cp["id"] for cp in matches), hint),
        {"matches": describe_matches(matches)},
    )


def kind_of(checkpoint: CheckpointRecord) -> str:
    """What the collection knows of a checkpoint's kind: ``standard`` when it holds the VM's memory state, else
    ``unknown`` (a production checkpoint, or a standard one of a VM that was off: Hyper-V records no kind)."""
    return "standard" if checkpoint.get("has_memory_state") else "unknown"


def checkpoint_view(checkpoint: CheckpointRecord | None, vm: VmRecord,
                    taken_type: str | None = None) -> dict[str, Any] | None:
    """The checkpoint as the task returns it; ``taken_type``: the kind the task just took."""
    if checkpoint is None:
        return None
    return {
        "id": checkpoint.get("id"),
        "name": checkpoint.get("name"),
        "vm_name": vm["name"],
        "vm_id": vm["id"],
        "snapshot_type": checkpoint.get("snapshot_type"),
        "kind": taken_type or kind_of(checkpoint),
        "creation_time": checkpoint.get("creation_time"),
        "parent_id": checkpoint.get("parent_id"),
        "is_current": bool(checkpoint.get("id")) and checkpoint.get("id") == vm.get("current_checkpoint_id"),
    }


def not_found(vm: VmRecord, request: Request, purpose: str) -> PlanError:
    """checkpoint_not_found for ``purpose`` (``to restore``), with the closest names when the name is wrong."""
    hint = ""
    if not request.get("checkpoint_id"):
        hint = did_you_mean(request["name"], [cp["name"] for cp in user_checkpoints(vm)])
    return PlanError("checkpoint_not_found", "VM '%s' has no checkpoint %s %s%s"
                     % (vm["name"], _label(request), purpose, hint))


# Selecting one checkpoint -----------------------------------------------------

def find_one(vm: VmRecord, request: Request, hint: str) -> CheckpointRecord | None:
    """The single checkpoint named by checkpoint_id or name; None when there is none."""
    checkpoints = user_checkpoints(vm)
    if request.get("checkpoint_id"):
        found = by_id(checkpoints, request["checkpoint_id"])
        if not found and by_id(vm.get("checkpoints", []), request["checkpoint_id"]):
            raise PlanError("not_a_user_checkpoint",
                            "checkpoint %s of VM '%s' was made by backup or replication software; "
                            "this module only manages standard user checkpoints" % (request["checkpoint_id"], vm["name"]))
        return found[0] if found else None
    found = named(checkpoints, request["name"])
    if len(found) > 1:
        raise ambiguous(vm, request["name"], found, hint)
    return found[0] if found else None


def ensure_can_create(vm: VmRecord, checkpoint_type: str | None, min_free_gb: float | None = None) -> None:
    # A per-checkpoint type never overrides Disabled: the administrator turned
    # checkpoints off for this VM on purpose.
    if vm.get("checkpoint_type") == "Disabled":
        raise PlanError("checkpoints_disabled",
                        "checkpoints are disabled on VM '%s' (checkpoint type Disabled); enable them with "
                        "hyperv.checkpoint.hyperv_checkpoint_type before taking one" % vm["name"])
    if checkpoint_type and vm.get("checkpoint_type") is None:
        raise PlanError("unsupported_on_host",
                        "checkpoint_type=%s needs Windows Server 2016 or later; the host of VM '%s' has no "
                        "checkpoint types" % (checkpoint_type, vm["name"]))
    # Hyper-V's limit counts every checkpoint of the VM, also those of backup and replication.
    count = len(vm.get("checkpoints", []))
    if count >= MAX_CHECKPOINTS:
        foreign = count - len(user_checkpoints(vm))
        raise PlanError("limit_reached",
                        "VM '%s' already has %d checkpoints%s, Hyper-V's limit is %d; delete some first "
                        "(state=absent with keep_newest or older_than)"
                        % (vm["name"], count, " (%d of them made by backup or replication software)" % foreign
                           if foreign else "", MAX_CHECKPOINTS))
    problem = low_free_space(vm, min_free_gb)
    if problem:
        raise PlanError("low_disk_space", "%s; no checkpoint was taken (lower min_free_gb to allow it)" % problem,
                        {"volumes": vm.get("volumes") or [], "min_free_gb": min_free_gb})


# Planning per state -------------------------------------------------------------

def plan_present(vm: VmRecord, request: Request, now: datetime.datetime) -> Plan:
    if request.get("new_name") is not None:
        return plan_rename(vm, request)
    existing = find_one(vm, request, "give checkpoint_id to pick one, or delete the duplicates")
    if existing is not None:
        max_age = request.get("max_age_seconds")
        if max_age is not None:
            age = age_seconds(existing, now)
            if age > max_age:
                raise PlanError(
                    "checkpoint_too_old",
                    "checkpoint '%s' (%s) of VM '%s' was taken %s ago, more than max_age %s; it is not reused. "
                    "Delete it or choose another name" % (existing["name"], existing["id"], vm["name"],
                                                          _human(age), request.get("max_age")),
                    {"checkpoint": describe_matches([existing])[0], "age_seconds": int(age)})
        return Plan(checkpoint=existing)
    if request.get("checkpoint_id"):
        raise PlanError("checkpoint_not_found", "VM '%s' has no checkpoint with id %s; state=present creates a "
                        "checkpoint only by name" % (vm["name"], request["checkpoint_id"]))
    ensure_can_create(vm, request.get("checkpoint_type"), request.get("min_free_gb"))
    # Without a checkpoint_id, find_one looked the checkpoint up by this name.
    name: str = request["name"]
    action: CreateAction = {"action": "create", "name": name,
                            "checkpoint_type": checkpoint_types.host_value(request.get("checkpoint_type")),
                            "checkpoint_type_option": request.get("checkpoint_type")}
    predicted = {"id": None, "name": name, "snapshot_type": USER_SNAPSHOT_TYPE, "creation_time": None,
                 "parent_id": vm.get("current_checkpoint_id")}
    return Plan(actions=[action], checkpoint=predicted)


def plan_rename(vm: VmRecord, request: Request) -> Plan:
    new_name = request["new_name"]
    existing = find_one(vm, request, "give checkpoint_id to pick the one to rename")
    if existing is None:
        if request.get("checkpoint_id") is None:
            renamed = named(user_checkpoints(vm), new_name)
            if len(renamed) == 1 and renamed[0]["name"] == new_name:
                return Plan(checkpoint=renamed[0])  # renamed by an earlier run
        raise not_found(vm, request, "to rename")
    if existing["name"] == new_name:
        return Plan(checkpoint=existing)
    # A name equal but for case is the same name to Hyper-V: renaming onto it would make two of them, while
    # changing only the case of the checkpoint's own name is a rename.
    taken = [cp for cp in named(user_checkpoints(vm), new_name) if cp["id"] != existing["id"]]
    if taken:
        raise PlanError("name_in_use", "VM '%s' already has a checkpoint named '%s' (%s); renaming would make the "
                        "name ambiguous" % (vm["name"], taken[0]["name"], ", ".join(cp["id"] for cp in taken)))
    action: RenameAction = {"action": "rename", "checkpoint_id": existing["id"], "name": existing["name"],
                            "new_name": new_name}
    return Plan(actions=[action], checkpoint=dict(existing, name=new_name))


def plan_absent(vm: VmRecord, request: Request, now: datetime.datetime) -> Plan:
    if request.get("name") is None and request.get("checkpoint_id") is None:
        return plan_cleanup(vm, request, now)
    if request.get("checkpoint_id"):
        found = find_one(vm, request, "")
        targets = [found] if found else []
    else:
        targets = named(user_checkpoints(vm), request["name"])
        if len(targets) > 1 and not request.get("all_with_name"):
            raise ambiguous(vm, request["name"], targets,
                            "give checkpoint_id to pick one, or all_with_name=true to delete them all")
    if not targets:
        return Plan()
    return Plan(actions=[removal(vm, targets, request.get("include_children"))], checkpoint=targets[0])


def plan_cleanup(vm: VmRecord, request: Request, now: datetime.datetime) -> Plan:
    """Delete the checkpoints selected by name_prefix/name_pattern, older_than and keep_newest."""
    selected = select_for_cleanup(user_checkpoints(vm), now, request.get("name_prefix"), request.get("name_pattern"),
                                  request.get("older_than_seconds"), request.get("keep_newest"))
    if not selected:
        return Plan()
    return Plan(actions=[removal(vm, selected, request.get("include_children"))])


def select_for_cleanup(checkpoints: Iterable[CheckpointRecord], now: datetime.datetime, prefix: str | None = None,
                       pattern: str | None = None, older_than: float | None = None,
                       keep_newest: int | None = None) -> list[CheckpointRecord]:
    """Oldest first: matching name, older than ``older_than`` seconds, beyond the newest ``keep_newest``.

    The prefix and the pattern are case-sensitive: they select what to delete, and the narrower selection is the
    safe one.
    """
    matching = [cp for cp in checkpoints
                if (prefix is None or cp["name"].startswith(prefix))
                and (pattern is None or fnmatch.fnmatchcase(cp["name"], pattern))]
    matching.sort(key=lambda cp: parse_time(cp["creation_time"]))
    if keep_newest is not None:
        matching = matching[:max(0, len(matching) - keep_newest)]
    if older_than is not None:
        matching = [cp for cp in matching if age_seconds(cp, now) > older_than]
    return matching


def removal(vm: VmRecord, targets: Sequence[CheckpointRecord], include_children: bool | None) -> RemoveAction:
    doomed = set(cp["id"] for cp in targets)
    if include_children:
        subtree = CheckpointTree(vm.get("checkpoints", [])).descendants(doomed)
        foreign = [cp for cp in subtree if cp.get("snapshot_type", USER_SNAPSHOT_TYPE) != USER_SNAPSHOT_TYPE]
        if foreign:
            raise PlanError("not_a_user_checkpoint",
                            "the subtree to delete on VM '%s' holds checkpoints made by backup or replication "
                            "software (%s); delete without include_children"
                            % (vm["name"], ", ".join("%s [%s]" % (cp["name"], cp["snapshot_type"]) for cp in foreign)))
        doomed |= set(cp["id"] for cp in subtree)
    return {
        "action": "remove",
        "checkpoint_ids": [cp["id"] for cp in targets],
        "names": [cp["name"] for cp in targets],
        "include_children": bool(include_children),
        "removes": sorted(doomed),
    }


def plan_restored(vm: VmRecord, request: Request, now: datetime.datetime) -> Plan:
    target = find_one(vm, request, "give checkpoint_id to pick the one to restore")
    if target is None:
        raise not_found(vm, request, "to restore")
    # Always restore: the VM can have drifted from its checkpoint without Hyper-V
    # knowing, so "already restored" cannot be detected.
    action: RestoreAction = {"action": "restore", "checkpoint_id": target["id"], "name": target["name"],
                             "power_state": request.get("power_state") or "previous"}
    return Plan(actions=[action], checkpoint=target, needs_quiet_vm=False)


PLANNERS: dict[str, Callable[[VmRecord, Request, datetime.datetime], Plan]] = {
    "present": plan_present, "absent": plan_absent, "restored": plan_restored}


def plan(request: Request, vm: VmRecord, now: datetime.datetime) -> Plan:
    """The Plan for ``request`` (the task's validated options) against ``vm`` (with checkpoints) at ``now``."""
    return PLANNERS[request.get("state", "present")](vm, request, now)


# Predicting for check and diff mode --------------------------------------

def predict_checkpoints(vm: VmRecord,
                        actions: Iterable[Mapping[str, Any]]) -> tuple[list[CheckpointRecord], str | None]:
    """The VM's checkpoint list after ``actions``, as far as it can be known in advance.

    ``actions``: planned ones, or those the outcome reports as done (a create's with ``checkpoint_id``)."""
    checkpoints = [dict(cp) for cp in vm.get("checkpoints", [])]
    current = vm.get("current_checkpoint_id")
    for action in actions:
        if action["action"] == "create":
            new_id = action.get("checkpoint_id") or "(new)"
            checkpoints.append({"id": new_id, "name": action["name"], "parent_id": current,
                                "creation_time": "(now)", "snapshot_type": USER_SNAPSHOT_TYPE})
            current = new_id
        elif action["action"] == "remove":
            checkpoints, current = CheckpointTree(checkpoints).without(action["removes"], current)
        elif action["action"] == "rename":
            checkpoints = [dict(cp, name=action["new_name"]) if cp["id"] == action["checkpoint_id"] else cp
                           for cp in checkpoints]
        elif action["action"] == "restore":
            current = action["checkpoint_id"]
    return checkpoints, current


def _label(request: Request) -> str:
    if request.get("checkpoint_id"):
        return "with id %s" % request["checkpoint_id"]
    return "named '%s'" % request.get("name")


def _human(seconds: float) -> str:
    """Two units, so that 30 hours reads as 1d6h and not as 1d."""
    whole = int(seconds)
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    parts: list[str] = []
    for unit, size in units:
        if whole >= size or (unit == "s" and not parts):
            parts.append("%d%s" % (whole // size, unit))
            whole %= size
        if len(parts) == 2:
            break
    return "".join(parts)
