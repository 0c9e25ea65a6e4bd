# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: decide what hyperv_checkpoint has to do: pure functions, no I/O.

``plan(request, vm, now)`` takes the task's options, the VM record with its
checkpoints (docs/host-protocol.md) and the current UTC time, and returns a Plan:
the actions to take, the checkpoint the task is about, and warnings. Every refusal
(ambiguous names, checkpoints disabled, the 50-checkpoint limit, low free space, a stale checkpoint)
is a PlanError raised here, before anything is sent that changes the host.
"""

from __future__ import annotations

import datetime
import fnmatch
import re

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._free_space import low_free_space

MAX_NAME_LENGTH = 100
MAX_CHECKPOINTS = 50
USER_SNAPSHOT_TYPE = "Standard"
CHECKPOINT_TYPES = {"standard": "Standard", "production": "Production", "production_only": "ProductionOnly"}

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class PlanError(Exception):
    """The task cannot be carried out as asked; nothing has been changed."""

    def __init__(self, code, message, details=None):
        self.code = code
        self.message = message
        self.details = details or {}
        super().__init__(message)


class Plan:
    """What to do: ``actions`` in order, the ``checkpoint`` the task is about, ``warnings``."""

    def __init__(self, actions=None, checkpoint=None, warnings=None, needs_quiet_vm=None):
        self.actions = actions or []
        self.checkpoint = checkpoint
        self.warnings = warnings or []
        # Whether the actions should wait for a running disk merge (on_merge). A
        # restore does not: it is the rollback path and must not be held up.
        self.needs_quiet_vm = bool(self.actions) if needs_quiet_vm is None else needs_quiet_vm

    @property
    def changed(self):
        return bool(self.actions)

    def __repr__(self):
        return "Plan(actions=%r, checkpoint=%r)" % (self.actions, self.checkpoint and self.checkpoint.get("id"))


# Small helpers ---------------------------------------------------------------

def parse_duration(value, option):
    """Seconds from ``90``, ``"90"``, ``"30m"``, ``"48h"``, ``"7d"`` or ``"2w"``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise PlanError("invalid_option", "%s must be a duration like 48h or 7d, not %r" % (option, value))
    if isinstance(value, int):
        seconds = value
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise PlanError("invalid_option",
                            "%s must be a duration like 3600, 90m, 48h, 7d or 2w, not %r" % (option, value))
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if seconds <= 0:
        raise PlanError("invalid_option", "%s must be greater than zero, not %r" % (option, value))
    return seconds


def parse_time(text):
    """UTC datetime from the host's ISO 8601 text (7 fractional digits, trailing Z)."""
    match = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$", text)
    if not match:
        raise ValueError("not an ISO 8601 time: %r" % text)
    base = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
    micro = int((match.group(2) or "0")[:6].ljust(6, "0"))
    value = base.replace(microsecond=micro, tzinfo=datetime.timezone.utc)
    offset = match.group(3)
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        value -= sign * datetime.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    return value


def utc_now():
    """The controller's clock in UTC; ages compare it with the host's creation times."""
    return datetime.datetime.now(datetime.timezone.utc)


def age_seconds(checkpoint, now):
    return (now - parse_time(checkpoint["creation_time"])).total_seconds()


def validate_name(name, option="name"):
    if name is None:
        return
    if not name.strip():
        raise PlanError("invalid_option", "%s must not be empty or blank" % option)
    if len(name) > MAX_NAME_LENGTH:
        raise PlanError("invalid_option", "%s is %d characters long; Hyper-V allows at most %d: %r"
                        % (option, len(name), MAX_NAME_LENGTH, name[:40] + "..."))


def user_checkpoints(vm):
    """Checkpoints this module may touch: never backup (Recovery) or Replica ones."""
    return [cp for cp in vm.get("checkpoints", []) if cp.get("snapshot_type", USER_SNAPSHOT_TYPE) == USER_SNAPSHOT_TYPE]


def by_name(checkpoints, name):
    """Literal, case-sensitive match: ``*``, ``?`` and ``[`` are ordinary characters in a name."""
    return [cp for cp in checkpoints if cp["name"] == name]


def by_id(checkpoints, checkpoint_id):
    wanted = checkpoint_id.lower()
    return [cp for cp in checkpoints if cp["id"].lower() == wanted]


def describe_matches(checkpoints):
    return [{"id": cp["id"], "name": cp["name"], "creation_time": cp["creation_time"]} for cp in checkpoints]


def ambiguous(vm, name, matches, hint):
    return PlanError(
        "ambiguous",
        "VM '%s' has %d checkpoints named '%s' (ids %s); %s"
        % (vm["name"], len(matches), name, ", ".join(cp["id"] for cp in matches), hint),
        {"matches": describe_matches(matches)},
    )


def checkpoint_view(checkpoint, vm):
    """The checkpoint as the task returns it."""
    if checkpoint is None:
        return None
    return {
        "id": checkpoint.get("id"),
        "name": checkpoint.get("name"),
        "vm_name": vm["name"],
        "vm_id": vm["id"],
        "snapshot_type": checkpoint.get("snapshot_type"),
        "creation_time": checkpoint.get("creation_time"),
        "parent_id": checkpoint.get("parent_id"),
        "is_current": bool(checkpoint.get("id")) and checkpoint.get("id") == vm.get("current_checkpoint_id"),
    }


# Selecting one checkpoint -----------------------------------------------------

def find_one(vm, request, hint):
    """The single checkpoint named by checkpoint_id or name; None when there is none."""
    checkpoints = user_checkpoints(vm)
    if request.get("checkpoint_id"):
        found = by_id(checkpoints, request["checkpoint_id"])
        if not found and by_id(vm.get("checkpoints", []), request["checkpoint_id"]):
            raise PlanError("not_a_user_checkpoint",
                            "checkpoint %s of VM '%s' was made by backup or replication software; "
                            "this module only manages standard user checkpoints" % (request["checkpoint_id"], vm["name"]))
        return found[0] if found else None
    found = by_name(checkpoints, request["name"])
    if len(found) > 1:
        raise ambiguous(vm, request["name"], found, hint)
    return found[0] if found else None


def ensure_can_create(vm, checkpoint_type, min_free_gb=None):
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

def plan_present(vm, request, now):
    name = request.get("name")
    new_name = request.get("new_name")
    if new_name is not None:
        return plan_rename(vm, request)
    existing = find_one(vm, request, "give checkpoint_id to pick one, or delete the duplicates")
    if existing is not None:
        max_age = parse_duration(request.get("max_age"), "max_age")
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
    action = {"action": "create", "name": name, "checkpoint_type": CHECKPOINT_TYPES.get(request.get("checkpoint_type"))}
    predicted = {"id": None, "name": name, "snapshot_type": USER_SNAPSHOT_TYPE, "creation_time": None,
                 "parent_id": vm.get("current_checkpoint_id")}
    return Plan(actions=[action], checkpoint=predicted)


def plan_rename(vm, request):
    new_name = request["new_name"]
    validate_name(new_name, "new_name")
    existing = find_one(vm, request, "give checkpoint_id to pick the one to rename")
    if existing is None:
        if request.get("checkpoint_id") is None:
            renamed = by_name(user_checkpoints(vm), new_name)
            if len(renamed) == 1:
                return Plan(checkpoint=renamed[0])  # renamed by an earlier run
        raise PlanError("checkpoint_not_found", "VM '%s' has no checkpoint %s to rename"
                        % (vm["name"], _label(request)))
    if existing["name"] == new_name:
        return Plan(checkpoint=existing)
    taken = by_name(user_checkpoints(vm), new_name)
    if taken:
        raise PlanError("name_in_use", "VM '%s' already has a checkpoint named '%s' (%s); renaming would make the "
                        "name ambiguous" % (vm["name"], new_name, ", ".join(cp["id"] for cp in taken)))
    action = {"action": "rename", "checkpoint_id": existing["id"], "name": existing["name"], "new_name": new_name}
    return Plan(actions=[action], checkpoint=dict(existing, name=new_name))


def plan_absent(vm, request, now):
    if request.get("name") is None and request.get("checkpoint_id") is None:
        return plan_cleanup(vm, request, now)
    checkpoints = user_checkpoints(vm)
    if request.get("checkpoint_id"):
        found = find_one(vm, request, "")
        targets = [found] if found else []
    else:
        targets = by_name(checkpoints, request["name"])
        if len(targets) > 1 and not request.get("all_with_name"):
            raise ambiguous(vm, request["name"], targets,
                            "give checkpoint_id to pick one, or all_with_name=true to delete them all")
    if not targets:
        return Plan()
    return Plan(actions=[removal(vm, targets, request.get("include_children"))], checkpoint=targets[0])


def plan_cleanup(vm, request, now):
    """Delete the checkpoints selected by name_prefix/name_pattern, older_than and keep_newest."""
    prefix, pattern = request.get("name_prefix"), request.get("name_pattern")
    if prefix is None and pattern is None:
        raise PlanError("invalid_option", "state=absent needs name or checkpoint_id, or name_prefix/name_pattern "
                        "to select checkpoints to clean up")
    for option, value in (("name_prefix", prefix), ("name_pattern", pattern)):
        # An empty prefix would select every checkpoint: an empty variable must never do that.
        if value is not None and not value.strip():
            raise PlanError("invalid_option", "%s must not be empty or blank" % option)
    older_than = parse_duration(request.get("older_than"), "older_than")
    keep_newest = request.get("keep_newest")
    if keep_newest is not None and keep_newest < 0:
        raise PlanError("invalid_option", "keep_newest must be 0 or more, not %d" % keep_newest)
    if keep_newest is not None and request.get("include_children"):
        # In a chain every newer checkpoint is a child of an older one: the subtrees
        # would take the checkpoints keep_newest is meant to keep.
        raise PlanError("invalid_option", "keep_newest cannot be combined with include_children")
    selected = select_for_cleanup(user_checkpoints(vm), now, prefix, pattern, older_than, keep_newest)
    if not selected:
        return Plan()
    return Plan(actions=[removal(vm, selected, request.get("include_children"))])


def select_for_cleanup(checkpoints, now, prefix=None, pattern=None, older_than=None, keep_newest=None):
    """Oldest first: matching name, older than ``older_than`` seconds, beyond the newest ``keep_newest``."""
    matching = [cp for cp in checkpoints
                if (prefix is None or cp["name"].startswith(prefix))
                and (pattern is None or fnmatch.fnmatchcase(cp["name"], pattern))]
    matching.sort(key=lambda cp: parse_time(cp["creation_time"]))
    if keep_newest is not None:
        matching = matching[:max(0, len(matching) - keep_newest)]
    if older_than is not None:
        matching = [cp for cp in matching if age_seconds(cp, now) > older_than]
    return matching


def removal(vm, targets, include_children):
    doomed = set(cp["id"] for cp in targets)
    if include_children:
        subtree = descendants(vm.get("checkpoints", []), doomed)
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


def descendants(checkpoints, roots):
    children = {}
    for cp in checkpoints:
        children.setdefault(cp.get("parent_id"), []).append(cp)
    found, stack = [], list(roots)
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child["id"])
    return found


def plan_restored(vm, request, now):
    target = find_one(vm, request, "give checkpoint_id to pick the one to restore")
    if target is None:
        raise PlanError("checkpoint_not_found", "VM '%s' has no checkpoint %s to restore" % (vm["name"], _label(request)))
    # Always restore: the VM can have drifted from its checkpoint without Hyper-V
    # knowing, so "already restored" cannot be detected.
    action = {"action": "restore", "checkpoint_id": target["id"], "name": target["name"],
              "power_state": request.get("power_state") or "previous"}
    return Plan(actions=[action], checkpoint=target, needs_quiet_vm=False)


PLANNERS = {"present": plan_present, "absent": plan_absent, "restored": plan_restored}


def plan(request, vm, now):
    """The Plan for ``request`` (the task's options) against ``vm`` (with checkpoints) at ``now``."""
    validate_name(request.get("name"))
    if request.get("state", "present") == "present" and not request.get("name") and not request.get("checkpoint_id"):
        raise PlanError("invalid_option", "state=present needs name (or checkpoint_id with new_name)")
    return PLANNERS[request.get("state", "present")](vm, request, now)


# Predicting and rendering for check and diff mode --------------------------------------

def predict_checkpoints(vm, actions):
    """The VM's checkpoint list after ``actions``, as far as it can be known in advance."""
    checkpoints = [dict(cp) for cp in vm.get("checkpoints", [])]
    current = vm.get("current_checkpoint_id")
    for action in actions:
        if action["action"] == "create":
            new_id = action.get("checkpoint_id") or "(new)"
            checkpoints.append({"id": new_id, "name": action["name"], "parent_id": current,
                                "creation_time": "(now)", "snapshot_type": USER_SNAPSHOT_TYPE})
            current = new_id
        elif action["action"] == "remove":
            checkpoints, current = _remove_from(checkpoints, current, action["removes"])
        elif action["action"] == "rename":
            for cp in checkpoints:
                if cp["id"] == action["checkpoint_id"]:
                    cp["name"] = action["new_name"]
        elif action["action"] == "restore":
            current = action["checkpoint_id"]
    return checkpoints, current


def _remove_from(checkpoints, current, removed_ids):
    removed = set(removed_ids)
    parents = {cp["id"]: cp.get("parent_id") for cp in checkpoints}

    def surviving_parent(checkpoint_id):
        while checkpoint_id in removed:
            checkpoint_id = parents.get(checkpoint_id)
        return checkpoint_id

    kept = []
    for cp in checkpoints:
        if cp["id"] in removed:
            continue
        cp["parent_id"] = surviving_parent(cp.get("parent_id"))
        kept.append(cp)
    return kept, surviving_parent(current)


def render_tree(checkpoints, current_id):
    """The checkpoint tree as text, one line per checkpoint, '<- Now' at the VM's position."""
    children = {}
    ids = set(cp["id"] for cp in checkpoints)
    for cp in checkpoints:
        parent = cp.get("parent_id") if cp.get("parent_id") in ids else None
        children.setdefault(parent, []).append(cp)
    lines = []

    def walk(parent, depth):
        for cp in children.get(parent, []):
            marker = "  <- Now" if cp["id"] == current_id else ""
            lines.append("%s%s [%s] %s%s" % ("  " * depth, cp["name"], cp["id"], cp.get("creation_time") or "", marker))
            walk(cp["id"], depth + 1)

    walk(None, 0)
    if current_id is None:
        lines.append("(Now: no checkpoint above the running state)")
    return "\n".join(lines) + "\n"


def _label(request):
    if request.get("checkpoint_id"):
        return "with id %s" % request["checkpoint_id"]
    return "named '%s'" % request.get("name")


def _human(seconds):
    """Two units, so that 30 hours reads as 1d6h and not as 1d."""
    seconds = int(seconds)
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    parts = []
    for unit, size in units:
        if seconds >= size or (unit == "s" and not parts):
            parts.append("%d%s" % (seconds // size, unit))
            seconds %= size
        if len(parts) == 2:
            break
    return "".join(parts)
