# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the decisions of safe_change before the change.

The role's options checked together, what the VM's checkpoints mean for this run (locks of other
runs, left-overs of earlier runs, the one to reuse, those to remove), the pre-flight problems, who
wins when two runs took their checkpoints at once, and what a real run would do (check mode).
The refusals Hyper-V itself imposes (checkpoints disabled, the limit of 50, a merge running) come
from checkpoint_planner, as for the module hyperv_checkpoint. Pure functions, no I/O.
"""

from __future__ import annotations

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_names as names
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_planner as planner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _free_space as free_space
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import PlanError

# What Checkpoints adds to the host's checkpoint record.
CHECKPOINT_VIEW_FIELDS = ("age_seconds", "is_current", "parsed")
STALE_POLICIES = ("fail", "reuse", "remove")
# "" is the VM's own setting.
CHECKPOINT_TYPES = ("",) + checkpoint_types.REQUESTABLE
GUEST_FAMILIES = ("auto", "windows", "linux")


def option_problems(options, hyperv_host_known):
    """What is wrong with the role's options taken together; an empty list when nothing is.

    ``options``: the role's variables (templated); ``hyperv_host_known``: whether ``hyperv_host`` names a
    host of the inventory.
    """
    problems = []
    hyperv_host = options.get("hyperv_host")
    if not str(hyperv_host or "").strip():
        problems.append("hyperv_host is not set: name the inventory host of the guest's Hyper-V host")
    elif not hyperv_host_known:
        problems.append("hyperv_host %s is not in the inventory" % hyperv_host)
    if not str(options.get("safe_change_id") or "").strip():
        problems.append("safe_change_id is empty: give the change id (e.g. CHG0042), it goes into the checkpoint name")
    if bool(options.get("safe_change_tasks")) == bool(options.get("safe_change_role")):
        problems.append("set exactly one of safe_change_tasks and safe_change_role (the change to apply)")
    prefix = options.get("safe_change_name_prefix") or ""
    if not prefix or " " in prefix:
        problems.append("safe_change_name_prefix must not be empty or contain spaces")
    for option, least, meaning in (
            ("safe_change_keep_hours", 0, "0 (delete the checkpoint) or more"),
            ("safe_change_stale_max_age_hours", 1, "more than 0"),
            ("safe_change_lock_minutes", 0, "0 (no lock) or more"),
            ("safe_change_reachable_timeout", 1, "more than 0 seconds"),
            ("safe_change_verify_retries", 0, "0 or more"),
            ("safe_change_verify_delay", 0, "0 or more seconds"),
            ("safe_change_merge_timeout", 1, "more than 0 seconds"),
            ("safe_change_operation_timeout", 1, "more than 0 seconds")):
        value = options.get(option)
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            problems.append("%s must be %s, not %r" % (option, meaning, value))
    min_free = options.get("safe_change_min_free_gb")
    if not isinstance(min_free, (int, float)) or isinstance(min_free, bool) or min_free < 0:
        problems.append("safe_change_min_free_gb must be 0 (no check) or more GB, not %r" % (min_free,))
    for option, allowed in (("safe_change_stale_policy", STALE_POLICIES),
                            ("safe_change_checkpoint_type", CHECKPOINT_TYPES),
                            ("safe_change_guest_family", GUEST_FAMILIES)):
        if options.get(option) not in allowed:
            choices = ", ".join(repr(choice) for choice in allowed)
            problems.append("%s must be one of %s, not %r" % (option, choices, options.get(option)))
    return problems


def name_problem(name, keep_hours, now):
    """The problem when this run's checkpoint name could outgrow Hyper-V's limit, else None."""
    longest = names.longest_name(name, keep_hours, now)
    if len(longest) <= names.MAX_NAME_LENGTH:
        return None
    return ("the checkpoint name '%s' has %d characters; Hyper-V allows %d. Shorten safe_change_id, "
            "safe_change_requested_by or safe_change_name_prefix" % (longest, len(longest), names.MAX_NAME_LENGTH))


def human_age(seconds):
    seconds = int(seconds)
    return "%dh%dm" % (seconds // 3600, (seconds % 3600) // 60)


class Checkpoints:
    """The checkpoints of one VM as this run sees them.

    ``ours``: user checkpoints named with the prefix; ``revert_failed``: kept by a failed revert (they
    block every run until a human acts); ``locks``: of a run that may still be going (younger than the
    lock, not kept after a success, not taken by hand for this very change); ``kept``: kept after a
    success and within their time; ``stale``: every other one of ours, left over by an earlier run.
    Each checkpoint is the host's record plus ``age_seconds``, ``is_current`` and ``parsed``.
    """

    def __init__(self, vm, prefix, change_id, lock_minutes, now):
        self.vm = vm
        current = vm.get("current_checkpoint_id")
        self.ours, self.revert_failed, self.locks, self.kept, self.stale = [], [], [], [], []
        for record in planner.user_checkpoints(vm):
            parsed = names.parse(record["name"], prefix)
            if parsed is None:
                continue
            cp = dict(record, age_seconds=int(planner.age_seconds(record, now)),
                      is_current=bool(current) and record["id"] == current, parsed=parsed)
            self.ours.append(cp)
            if parsed.revert_failed:
                self.revert_failed.append(cp)
            elif parsed.kept_until and parsed.kept_until > names.format_time(now):
                self.kept.append(cp)
            elif is_lock(cp, change_id, lock_minutes):
                self.locks.append(cp)
            else:
                self.stale.append(cp)


def is_lock(cp, change_id, lock_minutes):
    """Whether ``cp`` (one of ours, not revert-failed) is the lock of a run that may still be going."""
    parsed = cp["parsed"]
    if parsed.kept_until or cp["age_seconds"] >= lock_minutes * 60:
        return False
    # Taken by hand (playbooks/checkpoint.yml) for this same change: the change's rollback point, for
    # this run to adopt or refuse by its stale policy. For any other change it is a lock like a run's.
    return not (parsed.manual and parsed.change_id == change_id)


def taken_for_change(checkpoints, change_id):
    """The checkpoint taken by hand for ``change_id`` (playbooks/checkpoint.yml), or None."""
    for cp in checkpoints.ours:
        parsed = cp["parsed"]
        if parsed.manual and parsed.change_id == change_id and not parsed.revert_failed and not parsed.kept_until:
            return cp
    return None


def label(cp):
    """How a message names a checkpoint: 'name' (age, whether the VM runs from it)."""
    return "'%s' (%s old%s)" % (cp["name"], human_age(cp["age_seconds"]),
                                ", the VM runs from it" if cp["is_current"] else "")


def choose_left_overs(checkpoints, policy, stale_max_age_hours):
    """(the checkpoint to reuse or None, the checkpoints to remove) under ``policy``.

    Only a single left-over that the VM still runs from, younger than ``stale_max_age_hours`` and not
    kept after a success, is reused: anything else could make the rollback point a state nobody knows.
    """
    stale = checkpoints.stale
    if policy == "remove":
        return None, list(stale)
    if policy == "reuse" and len(stale) == 1:
        candidate = stale[0]
        if (candidate["age_seconds"] < stale_max_age_hours * 3600 and not candidate["parsed"].kept_until
                and candidate["is_current"]):
            return candidate, []
    return None, []


def preflight_problems(vm, checkpoints, options, host_computer_name, reuse, to_remove):
    """Why the run must not take its checkpoint of ``vm``; an empty list when it may."""
    problems = []
    policy = options["safe_change_stale_policy"]
    if checkpoints.revert_failed:
        problems.append("a revert of an earlier run failed and its checkpoint is kept for a human: %s. Check the VM, "
                        "then restore (playbooks/revert.yml) or delete that checkpoint by hand"
                        % ", ".join(cp["name"] for cp in checkpoints.revert_failed))
    owner = vm.get("owner_node")
    if owner and host_computer_name and owner.lower() != host_computer_name.lower():
        problems.append("it is owned by cluster node %s, not by %s: set hyperv_host to the owner node"
                        % (owner, host_computer_name))
    removed = set(cp["id"] for cp in to_remove)
    after = dict(vm, checkpoints=[cp for cp in vm.get("checkpoints", []) if cp["id"] not in removed])
    if reuse is None:
        try:
            planner.ensure_can_create(after, checkpoint_types.host_value(options["safe_change_checkpoint_type"]))
        except PlanError as error:
            problems.append(error.message)
    if vm.get("merging"):
        problems.append("a disk merge is running on it; run the change when the merge has finished")
    low = free_space.low_free_space(vm, options["safe_change_min_free_gb"])
    if low:
        problems.append("%s (safe_change_min_free_gb)" % low)
    if vm.get("state") != "Running":
        problems.append("it is %s, not Running: the change needs a running guest" % vm.get("state"))
    if checkpoints.locks:
        problems.append(
            "another safe_change run is changing it: its checkpoint %s is younger than safe_change_lock_minutes (%s), "
            "so it is the lock of a run that may still be going. If that run is dead (its controller was killed), "
            "rerun with safe_change_lock_minutes=0 and safe_change_stale_policy=reuse (its checkpoint becomes the "
            "rollback point) or remove" % (", ".join(label(cp) for cp in checkpoints.locks),
                                           options["safe_change_lock_minutes"]))
    stale_text = ", ".join(label(cp) for cp in checkpoints.stale)
    if checkpoints.stale and policy == "fail":
        problems.append("checkpoints of an earlier run are left on it: %s. Remove them (playbooks/cleanup.yml), or "
                        "set safe_change_stale_policy to remove, or to reuse" % stale_text)
    if checkpoints.stale and policy == "reuse" and reuse is None:
        problems.append("checkpoints of an earlier run are left on it: %s. Policy reuse takes only a single left-over "
                        "checkpoint that the VM runs from and that is younger than %s hours"
                        % (stale_text, options["safe_change_stale_max_age_hours"]))
    return problems


def runs_that_came_first(vm, mine_id, prefix, change_id, lock_minutes, now):
    """The locks of other runs on ``vm`` taken before checkpoint ``mine_id`` (creation time, then id).

    Read right after this run took its checkpoint: two runs that found the VM free at once both see
    each other's, and only the later one gives way.
    """
    checkpoints = Checkpoints(vm, prefix, change_id, lock_minutes, now)
    mine = [cp for cp in checkpoints.ours if cp["id"] == mine_id]
    if not mine:
        return []
    key = (planner.parse_time(mine[0]["creation_time"]), mine[0]["id"])
    return [cp for cp in checkpoints.locks
            if cp["id"] != mine_id and (planner.parse_time(cp["creation_time"]), cp["id"]) < key]


def verify_text(options):
    """The verification in words, for check mode."""
    parts = ["the guest answers within %ss" % options["safe_change_reachable_timeout"]]
    if options["safe_change_verify_services"]:
        parts.append("services running: %s" % ", ".join(options["safe_change_verify_services"]))
    if options["safe_change_verify_url"]:
        parts.append("URL %s answers %s" % (options["safe_change_verify_url"],
                                            " or ".join(str(s) for s in options["safe_change_verify_url_status"])))
    if options["safe_change_verify_command"]:
        parts.append("command succeeds: %s" % options["safe_change_verify_command"])
    if options["safe_change_verify_tasks"]:
        parts.append("tasks %s" % options["safe_change_verify_tasks"])
    return "; ".join(parts)


def only_reachability(options):
    """Whether the verification would only check that the guest answers."""
    return not any(options[key] for key in ("safe_change_verify_services", "safe_change_verify_url",
                                            "safe_change_verify_command", "safe_change_verify_tasks"))


def would(run, vm, reuse, to_remove, kept_until):
    """Check mode: what a real run would do, in words."""
    options = run["options"]
    lines = []
    if to_remove:
        lines.append("remove left-over checkpoints: %s" % ", ".join(cp["name"] for cp in to_remove))
    if reuse is not None:
        lines.append("reuse the left-over checkpoint '%s'" % reuse["name"])
    else:
        lines.append("take checkpoint '%s' of VM %s on %s (type %s)" % (
            run["checkpoint_name"], run["vm"], run["hyperv_host"],
            options["safe_change_checkpoint_type"] or "VM setting: %s" % vm.get("checkpoint_type")))
    change = options["safe_change_tasks"] and "tasks %s" % options["safe_change_tasks"] or \
        "role %s" % options["safe_change_role"]
    lines.append("apply the change: %s" % change)
    lines.append("verify: %s" % verify_text(options))
    if options["safe_change_keep_hours"] == 0:
        lines.append("on success delete the checkpoint and wait for the disk merge")
    else:
        lines.append("on success keep the checkpoint for %s hours (until %s)"
                     % (options["safe_change_keep_hours"], kept_until))
    lines.append("on failure restore the checkpoint, bring the VM back to %s, wait for the guest, verify again and "
                 "fail the host" % vm.get("state"))
    return lines


def restore_power_state(state_before):
    """The power_state that brings the VM back to where it was: a production checkpoint restores to Off."""
    return {"Running": "running", "Off": "off"}.get(state_before, "previous")
