# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the decisions of safe_change's pre-flight, before the change.

What the VM's checkpoints mean for this run (locks of other
runs, left-overs of earlier runs, the one to reuse, those to remove), the pre-flight problems, who
wins when two runs took their checkpoints at once, and what a real run would do (check mode).
The refusals Hyper-V itself imposes (checkpoints disabled, the limit of 50, a merge running) come
from checkpoint_planner, as for the module hyperv_checkpoint. Pure functions, no I/O.
"""

from __future__ import annotations

import datetime
from typing import Any, NamedTuple

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_names as names
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_planner as planner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _free_space as free_space
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import PlanError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._utc_time import parse_time

# What Checkpoints adds to the host's checkpoint record.
CHECKPOINT_VIEW_FIELDS = ("age_seconds", "is_current", "parsed")


class Problem(NamedTuple):
    """Why pre-flight refuses: ``code`` for decisions, ``text`` for people."""

    code: str
    text: str


# The codes of the problems preflight_problems finds, and of what Hyper-V refuses (checkpoint_planner's PlanError).
REVERT_FAILED_KEPT = "revert_failed_kept"
OWNED_BY_OTHER_NODE = "owned_by_other_node"
MERGING = "merging"
LOW_FREE_SPACE = "low_free_space"
NOT_RUNNING = "not_running"
LOCKED = "locked"
LEFT_OVERS = "left_overs"
GUEST_UNREACHABLE = "guest_unreachable"


def name_problem(name: str, keep_hours: int, now: datetime.datetime) -> str | None:
    """The problem when this run's checkpoint name could outgrow Hyper-V's limit, else None."""
    longest = names.longest_name(name, keep_hours, now)
    if len(longest) <= names.MAX_NAME_LENGTH:
        return None
    return ("the checkpoint name '%s' has %d characters; Hyper-V allows %d. Shorten safe_change_id, "
            "safe_change_requested_by or safe_change_name_prefix" % (longest, len(longest), names.MAX_NAME_LENGTH))


def human_age(seconds: float) -> str:
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

    def __init__(self, vm: dict[str, Any], prefix: str, change_id: str, lock_minutes: int,
                 now: datetime.datetime) -> None:
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


def is_lock(cp: dict[str, Any], change_id: str, lock_minutes: int) -> bool:
    """Whether ``cp`` (one of ours, not revert-failed) is the lock of a run that may still be going."""
    parsed = cp["parsed"]
    if parsed.kept_until or cp["age_seconds"] >= lock_minutes * 60:
        return False
    # Taken by hand (playbooks/checkpoint.yml) for this same change: the change's rollback point, for
    # this run to adopt or refuse by its stale policy. For any other change it is a lock like a run's.
    return not (parsed.manual and parsed.change_id == change_id)


def taken_for_change(checkpoints: Checkpoints, change_id: str) -> dict[str, Any] | None:
    """The checkpoint taken by hand for ``change_id`` (playbooks/checkpoint.yml), or None."""
    for cp in checkpoints.ours:
        parsed = cp["parsed"]
        if parsed.manual and parsed.change_id == change_id and not parsed.revert_failed and not parsed.kept_until:
            return cp
    return None


def label(cp: dict[str, Any]) -> str:
    """How a message names a checkpoint: 'name' (age, whether the VM runs from it)."""
    return "'%s' (%s old%s)" % (cp["name"], human_age(cp["age_seconds"]),
                                ", the VM runs from it" if cp["is_current"] else "")


def choose_left_overs(checkpoints: Checkpoints, policy: str,
                      stale_max_age_hours: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
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


def preflight_problems(vm: dict[str, Any], checkpoints: Checkpoints, options: dict[str, Any],
                       host_computer_name: str | None, reuse: dict[str, Any] | None,
                       to_remove: list[dict[str, Any]]) -> list[Problem]:
    """Why the run must not take its checkpoint of ``vm`` (Problems); an empty list when it may."""
    problems = []
    policy = options["safe_change_stale_policy"]
    if checkpoints.revert_failed:
        problems.append(Problem(
            REVERT_FAILED_KEPT, "a revert of an earlier run failed and its checkpoint is kept for a human: %s. Check "
            "the VM, then restore (playbooks/revert.yml) or delete that checkpoint by hand"
            % ", ".join(cp["name"] for cp in checkpoints.revert_failed)))
    owner = vm.get("owner_node")
    if owner and host_computer_name and owner.lower() != host_computer_name.lower():
        problems.append(Problem(OWNED_BY_OTHER_NODE, "it is owned by cluster node %s, not by %s: set hyperv_host to "
                                "the owner node" % (owner, host_computer_name)))
    removed = set(cp["id"] for cp in to_remove)
    after = dict(vm, checkpoints=[cp for cp in vm.get("checkpoints", []) if cp["id"] not in removed])
    if reuse is None:
        try:
            planner.ensure_can_create(after, checkpoint_types.host_value(options["safe_change_checkpoint_type"]))
        except PlanError as error:
            problems.append(Problem(error.code, error.message))
    if vm.get("merging"):
        problems.append(Problem(MERGING, "a disk merge is running on it; run the change when the merge has finished"))
    low = free_space.low_free_space(vm, options["safe_change_min_free_gb"])
    if low:
        problems.append(Problem(LOW_FREE_SPACE, "%s (safe_change_min_free_gb)" % low))
    if vm.get("state") != "Running":
        problems.append(Problem(NOT_RUNNING, "it is %s, not Running: the change needs a running guest"
                                % vm.get("state")))
    if checkpoints.locks:
        problems.append(Problem(LOCKED, lock_text(checkpoints.locks, options["safe_change_lock_minutes"],
                                                  vm.get("name") or "")))
    stale_text = ", ".join(label(cp) for cp in checkpoints.stale)
    if checkpoints.stale and policy == "fail":
        problems.append(Problem(LEFT_OVERS, "checkpoints of an earlier run are left on it: %s. Remove them "
                                "(playbooks/cleanup.yml), or set safe_change_stale_policy to remove, or to reuse"
                                % stale_text))
    if checkpoints.stale and policy == "reuse" and reuse is None:
        problems.append(Problem(LEFT_OVERS, "checkpoints of an earlier run are left on it: %s. Policy reuse takes only "
                                "a single left-over checkpoint that the VM runs from and that is younger than %s hours"
                                % (stale_text, options["safe_change_stale_max_age_hours"])))
    return problems


def lock_text(locks: list[dict[str, Any]], lock_minutes: int, vm_name: str) -> str:
    """Why checkpoints younger than the lock stop this run: whose they are, what their run may have left, what to do.

    The host keeps no outcome beside the name: a run that is still going and one that ended without deleting
    its checkpoint (its host lost during the delete, a revert that failed while the host did not answer) look
    the same; that run's own summary and artifacts say which.
    """
    described = []
    for cp in locks:
        parsed = cp["parsed"]
        whose = " by %s" % parsed.who if parsed.who else ""
        change = " for change %s" % parsed.change_id if parsed.change_id else ""
        described.append("'%s' (id %s, taken %s ago%s%s%s)" % (
            cp["name"], cp["id"], human_age(cp["age_seconds"]), whose, change,
            "; the VM runs from it" if cp["is_current"] else ""))
    return (
        "the checkpoint %s is younger than safe_change_lock_minutes (%s), so it may be the lock of a safe_change run "
        "that is still going. No outcome is recorded on the host: a run that ended without deleting its checkpoint "
        "(its delete failed or lost the host, or its revert failed) leaves the same; that run's summary and "
        "artifacts say which (checkpoint kept or UNKNOWN, REVERT FAILED). When no run is going: look at VM '%s' "
        "(playbooks/report.yml); if the earlier change is good, rerun with safe_change_lock_minutes=0 and "
        "safe_change_stale_policy=remove (or delete it with playbooks/cleanup.yml once it is older than "
        "cleanup_older_than_hours); to roll back to it, run playbooks/revert.yml with -e revert_hosts=<this guest> "
        "-e revert_checkpoint_id=%s -e revert_confirm=true; to make it this run's rollback point, rerun with "
        "safe_change_lock_minutes=0 and safe_change_stale_policy=reuse"
        % ("; ".join(described), lock_minutes, vm_name, locks[0]["id"]))


def runs_that_came_first(vm: dict[str, Any], mine_id: str, prefix: str, change_id: str, lock_minutes: int,
                         now: datetime.datetime) -> list[dict[str, Any]]:
    """The locks of other runs on ``vm`` taken before checkpoint ``mine_id`` (creation time, then id).

    Read right after this run took its checkpoint: two runs that found the VM free at once both see
    each other's, and only the later one gives way.
    """
    checkpoints = Checkpoints(vm, prefix, change_id, lock_minutes, now)
    mine = [cp for cp in checkpoints.ours if cp["id"] == mine_id]
    if not mine:
        return []
    key = (parse_time(mine[0]["creation_time"]), mine[0]["id"])
    return [cp for cp in checkpoints.locks
            if cp["id"] != mine_id and (parse_time(cp["creation_time"]), cp["id"]) < key]


def verify_text(options: dict[str, Any]) -> str:
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


def only_reachability(options: dict[str, Any]) -> bool:
    """Whether the verification would only check that the guest answers."""
    return not any(options[key] for key in ("safe_change_verify_services", "safe_change_verify_url",
                                            "safe_change_verify_command", "safe_change_verify_tasks"))


def would(run: dict[str, Any], vm: dict[str, Any], reuse: dict[str, Any] | None, to_remove: list[dict[str, Any]],
          kept_until: str) -> list[str]:
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


def restore_power_state(power_state_before: str | None) -> str:
    """The power_state that brings the VM back to where it was: a production checkpoint restores to Off."""
    return {"Running": "running", "Off": "off"}.get(power_state_before or "", "previous")
