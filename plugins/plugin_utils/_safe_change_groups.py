# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: application groups of safe_change.

Guests with the same ``safe_change_group`` in one play are changed as one: every member is
checkpointed before any member's change starts, the changes run in ``safe_change_group_order``,
and the group is committed only when every member passed; otherwise every member is reverted, in
the reverse order. These are the group decisions, as pure functions over the members' runs (_safe_change_run):

- ``form``: after every guest's pre-flight, which groups may take their checkpoints (all members
  in this batch and in the play, every member's pre-flight passed, their left-overs form one
  earlier run), under one time stamp, so that the checkpoints of a group form a recognisable set;
- ``gate``: after the checkpoints, the run each guest goes on with (a group whose member could
  not be checkpointed withdraws the others' checkpoints);
- ``group_check``: after the verification, whether a member's group failed, and because of whom;
- the group lines of the summary and the artifacts.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_names as names
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_record as record
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import sentence

GROUP_FIELDS = ("members", "orders", "problem", "outcome", "cause", "hyperv_hosts")
# What form and gate return, and what a member's pre-flight says of the left-over it would reuse.
FORM_FIELDS = ("groups", "runs", "create", "timestamp")
GATE_FIELDS = ("runs", "groups", "levels", "revert_levels")
REUSE_FIELDS = ("id", "name", "change_id", "time")


def group_of(run: dict[str, Any] | None) -> str:
    return (run or {}).get("group") or ""


def form(batch: dict[str, dict[str, Any]], play_hosts: list[str], inventory_members: dict[str, list[str]],
         now: datetime.datetime, check_mode: bool = False) -> dict[str, Any]:
    """The groups of a batch and what each member does next.

    ``batch``: {guest: its run after pre-flight} for the guests of this batch, in batch order;
    ``play_hosts``: the guests of the play (every batch); ``inventory_members``: {group: every
    inventory host with that safe_change_group}. Returns {"groups": {name: {...}}, "runs": {guest:
    run}, "create": [guests whose checkpoint the group step takes], "timestamp": text}.
    """
    timestamp = names.format_time(now)
    runs = {host: copy.deepcopy(run) for host, run in batch.items()}
    groups: dict[str, dict[str, Any]] = {}
    for host, run in batch.items():
        name = group_of(run)
        if name:
            groups.setdefault(name, {"members": [], "orders": {}, "problem": None, "outcome": "", "cause": "",
                                     "hyperv_hosts": {}})
            groups[name]["members"].append(host)
            groups[name]["orders"][host] = run.get("group_order") or 0
            groups[name]["hyperv_hosts"][host] = run.get("hyperv_host")
    create = []
    for name, group in sorted(groups.items()):
        members = group["members"]
        refused = [host for host in members if not runs[host].get("group_ready")]
        group["cause"] = refused[0] if refused else ""
        group["problem"] = composition_problem(name, members, play_hosts, inventory_members.get(name, members)) or \
            refusal_problem(name, refused, runs) or left_over_problem(name, members, runs)
        if group["problem"]:
            for host in members:
                refuse_member(runs[host], group["problem"], group["cause"])
            continue
        for host in sorted(members, key=lambda member: (group["orders"][member], member)):
            run = runs[host]
            run["checkpoint_name"] = names.build_name(run["prefix"], run["change_id"], run["requested_by"], now)
            if check_mode:
                run["would"] = ["as member %d of %d of the group %s (order %s):" % (
                    members.index(host) + 1, len(members), name, group["orders"][host])] + run.get("would", [])
            else:
                create.append(host)
    return {"groups": groups, "runs": runs, "create": create, "timestamp": timestamp}


def composition_problem(name: str, members: list[str], play_hosts: list[str],
                        inventory_members: list[str]) -> str | None:
    """Why the group cannot run as a whole in this batch: members in other batches, or not in the play."""
    elsewhere = [host for host in inventory_members if host not in members]
    if not elsewhere:
        return None
    in_other_batches = [host for host in elsewhere if host in play_hosts]
    outside = [host for host in elsewhere if host not in play_hosts]
    parts = []
    if in_other_batches:
        parts.append("%s in another batch of the play (serial: make the batches hold whole groups)"
                     % ", ".join(in_other_batches))
    if outside:
        parts.append("%s not in the play (limited out, or not matched by the play's hosts)" % ", ".join(outside))
    return "the group %s is split: its members %s are in this batch, %s; a group is changed as a whole or not " \
           "at all" % (name, ", ".join(members), " and ".join(parts))


def refusal_problem(name: str, refused: list[str], runs: dict[str, dict[str, Any]]) -> str | None:
    """The first member the pre-flight refused (``refused``), as the reason to refuse the whole group."""
    if not refused:
        return None
    host = refused[0]
    reason = str(runs[host].get("reason") or "its pre-flight did not pass").strip()
    return "the group %s is refused because its member %s was: %s" % (name, host, reason)


def left_over_problem(name: str, members: list[str], runs: dict[str, dict[str, Any]]) -> str | None:
    """With policy reuse, the members' reused checkpoints must be one earlier run's, or none may be reused."""
    reused = {host: runs[host].get("reuse") for host in members}
    taken = [host for host, reuse in reused.items() if reuse]
    if not taken or len(taken) == len(members) and len(set((reuse["change_id"], reuse["time"])
                                                           for reuse in reused.values() if reuse)) == 1:
        return None
    described = "; ".join("%s: %s" % (host, "'%s'" % reuse["name"] if reuse else "none")
                          for host, reuse in reused.items())
    return ("the group %s cannot reuse its left-over checkpoints: they are not one earlier run of the whole group "
            "(%s). Remove them (safe_change_stale_policy=remove, or playbooks/cleanup.yml)" % (name, described))


def refuse_member(run: dict[str, Any], problem: str, cause: str) -> None:
    problem = sentence(problem)
    run.update(proceed=False, outcome="skipped", group_ready=False, would=[], group_cause=cause,
               reason=record.PREFLIGHT_REASON % problem, preflight_problem=problem)


def gate(formed: dict[str, Any], created: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The run each guest of the batch goes on with, after the group step took the checkpoints.

    ``created``: {guest: run} from the group step. A group one of whose members could not be
    checkpointed is withdrawn: its other members' checkpoints are deleted by their own next step
    (``withdraw``) and nothing is changed. Returns {"runs", "groups", "levels"}: ``levels`` are the
    distinct group orders of the batch, lowest first, when there is more than one (the role then runs
    the changes level by level, and reverts in the reverse order).
    """
    runs = dict(formed["runs"])
    runs.update(created)
    groups = copy.deepcopy(formed["groups"])
    for name, group in groups.items():
        failed = [host for host in group["members"]
                  if not runs[host].get("proceed") and not runs[host].get("check_mode")]
        if group["problem"] or not failed:
            continue
        cause = group["cause"] = failed[0]
        group["problem"] = "the group %s is withdrawn: the checkpoint of its member %s could not be taken (%s)" % (
            name, cause, str(runs[cause].get("reason") or "").strip().rstrip("."))
        for host in group["members"]:
            if host in failed:
                continue
            run = dict(runs[host])
            taken = bool((run.get("checkpoint") or {}).get("id"))
            run.update(proceed=False, outcome="skipped", withdraw=taken, group_cause=cause, reason="%s. %s" % (
                group["problem"], "This member's checkpoint is deleted; nothing was changed." if taken
                else "Nothing was changed."))
            runs[host] = run
    levels = sorted(set(run.get("group_order") or 0 for run in runs.values() if group_of(run)))
    return {"runs": runs, "groups": groups, "levels": levels if len(levels) > 1 else []}


def group_check(member: str, group: dict[str, Any], passed: dict[str, bool]) -> str | None:
    """After the verification: why ``member``'s group failed (naming the members that caused it), or None.

    ``passed``: {guest: whether it passed its change and its verification} for every member.
    """
    causes = [host for host in group["members"] if not passed.get(host)]
    if not causes:
        return None
    if member in causes:
        return None  # the member's own failure is its own message
    return "the group's member %s failed its change or its verification, so the whole group is reverted" % \
        ", ".join(causes)


def batch_size(size: str | int, host_count: int) -> int:
    """The guests per batch from ``serial``-style ``size``: a count (``5``) or a percentage (``25%``)."""
    text = str(size).strip()
    if text.endswith("%"):
        return max(1, int(host_count * float(text[:-1]) / 100))
    count = int(text)
    if count <= 0:
        raise ValueError("the batch size must be more than 0, not %r" % (size,))
    return count


def batches(hosts: list[str], group_of_host: dict[str, str], size: str | int) -> tuple[list[str], list[int]]:
    """Hosts in batches that keep every application group whole: (the hosts in batch order, the batch sizes).

    ``hosts`` in inventory order; ``group_of_host``: {host: group or ""}. A group goes where its first
    member is and takes all its members along; a batch is closed when the next group or guest would
    make it larger than ``size`` (a group larger than ``size`` makes a batch of its own).
    """
    per_batch = batch_size(size, len(hosts))
    units: list[list[str]] = []
    placed: dict[str, list[str]] = {}
    for host in hosts:
        name = group_of_host.get(host) or ""
        if not name:
            units.append([host])
        elif name in placed:
            placed[name].append(host)
        else:
            placed[name] = [host]
            units.append(placed[name])
    ordered: list[str] = []
    sizes: list[int] = []
    for unit in units:
        if sizes and sizes[-1] + len(unit) <= per_batch:
            sizes[-1] += len(unit)
        else:
            sizes.append(len(unit))
        ordered.extend(unit)
    return ordered, sizes
