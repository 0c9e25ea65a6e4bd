# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: what a run of safe_change reports.

From a run's state (the dict the role's steps pass on, see _safe_change_run) this builds the
fact ``safe_change_result`` of a guest, the one line of the summary table, the table itself and
the set_stats artifacts of docs/artifacts.md. Pure functions, no I/O.
"""

from __future__ import annotations

from typing import Any

# The fact safe_change_result (roles/safe_change/README.md, "Results"); its keys are kept stable.
RECORD_FIELDS = ("outcome", "failed", "needs_attention", "msg", "summary", "headline", "check_mode", "change_id", "host", "vm",
                 "hyperv_host", "started", "play", "checkpoint", "failed_phase", "failed_task", "failure",
                 "post_revert_verification", "notes", "would", "durations", "group", "group_order", "group_outcome",
                 "group_cause")
# hyperv_checkpoint_groups (docs/artifacts.md): per application group.
GROUP_SUMMARY_FIELDS = ("members", "outcome", "cause", "failed", "needs_attention")
# hyperv_checkpoint_counts (docs/artifacts.md).
COUNT_FIELDS = ("total", "committed", "reverted", "revert_failed", "skipped", "failed", "needs_attention")
# What the record reads of a failed task's result: Ansible's own result keys.
TASK_RESULT_FIELDS = ("msg", "failed", "results", "stdout", "stderr")
OUTCOMES = ("committed", "reverted", "revert_failed", "skipped")
TABLE_FORMAT = "%-16s %-15s %-10s %8s %8s %8s  %s"
TABLE_LABELS = {"committed": "committed", "reverted": "REVERTED", "revert_failed": "REVERT FAILED", "skipped": "skipped"}
PHASE_LABELS = {"change": "The change", "verify": "The verification", "group": "The group"}
# A run that pre-flight refused: its reason, and its line of the summary table (``preflight_problem`` of its run).
PREFLIGHT_REASON = "Pre-flight refused the change: %s Nothing was changed."
PREFLIGHT_LINE = "pre-flight refused: %s Nothing was changed."
# The order of a run's phases, for the durations.
PHASES = ("preflight", "checkpoint", "change", "verify", "waiting", "commit", "revert", "post_revert_verify")


def truncate(text: Any, length: int) -> str:
    """``text`` cut to ``length`` characters, ending in '...' when cut."""
    text = str(text)
    return text if len(text) <= length else text[:max(0, length - 3)] + "..."


def failure_message(result: Any) -> str:
    """A failed task's result in one line: its message, the failed loop item's, and its output."""
    if not isinstance(result, dict):
        return "unknown error"
    failed_items = [item for item in result.get("results") or [] if isinstance(item, dict) and item.get("failed")]
    detail = failed_items[0] if failed_items else result
    text = str(detail.get("msg") or result.get("msg") or "unknown error").strip()
    output = str(detail.get("stderr") or "").strip() or str(detail.get("stdout") or "").strip()
    return text + (": " + truncate(output, 300) if output else "")


def failure_phase(failed_action: str | None, verification_started: bool, group_failure: bool = False) -> str:
    """``group`` when another member of the guest's group failed, ``verify`` when the verification (built-in or
    the user's tasks) failed, ``change`` otherwise."""
    if group_failure:
        return "group"
    if verification_started or str(failed_action or "").endswith("safe_change_step"):
        return "verify"
    return "change"


def durations(marks: dict[str, float | None], end: float) -> dict[str, float]:
    """Seconds from each phase's mark to the next (the last to ``end``), and ``total_seconds``."""
    ordered = sorted(((time, phase) for phase, time in marks.items() if time is not None), key=lambda item: item[0])
    out = {}
    for index, (time, phase) in enumerate(ordered):
        until = ordered[index + 1][0] if index + 1 < len(ordered) else end
        out["%s_seconds" % phase] = round(until - time, 1)
    preflight = marks.get("preflight")
    if preflight is not None:
        out["total_seconds"] = round(end - preflight, 1)
    return out


def own_end(run: dict[str, Any], verified: Any, others: list[Any]) -> float | None:
    """When the failed change or verification of ``run`` ended, as far as the linear strategy lets it be known.

    Its rescue (the revert) waits until every other guest of the batch finished its change and verification,
    so the revert's start is not the failure's time: a failed verification ended when its own step did; a
    failed change no later than the first verification of another guest that started after this change
    (the linear strategy starts the verification once every guest's change tasks ended). None when nothing
    tells (every guest's change failed: the reverts then start right after the changes).
    """
    if (run.get("failure") or {}).get("phase") == "verify" and isinstance(verified, dict):
        return verified.get("ended_at")
    change = (run.get("marks") or {}).get("change")
    starts = [other.get("started_at") for other in others if isinstance(other, dict)]
    after = [start for start in starts if isinstance(start, (int, float)) and change is not None and start >= change]
    return min(after) if after else None


def _checkpoint_state(checkpoint: dict[str, Any]) -> str:
    """The checkpoint's state in words: ``deleted``, ``kept until ...``, ``UNKNOWN ...``."""
    if checkpoint.get("state") == "unknown":
        return "UNKNOWN (the host stopped answering during its delete: look at the VM)"
    return "%s%s" % (checkpoint.get("state") or "", " until %s" % checkpoint["kept_until"]
                     if checkpoint.get("kept_until") else "")


def _checkpoint_text(checkpoint: dict[str, Any]) -> str:
    if not checkpoint.get("name") or checkpoint.get("state") in (None, "none"):
        return ""
    return "checkpoint '%s' %s" % (checkpoint["name"], _checkpoint_state(checkpoint))


def _what_failed(failure: dict[str, Any]) -> str:
    label = PHASE_LABELS.get(str(failure.get("phase")), "The change")
    task = " (task '%s')" % failure["task"] if failure.get("task") and failure.get("phase") != "group" else ""
    return "%s failed%s: %s" % (label, task, str(failure.get("msg") or "").strip())


def is_failed(run: dict[str, Any]) -> bool:
    """The host fails: everything but a commit, and a check-mode run whose pre-flight passed."""
    outcome = run["outcome"]
    return outcome in ("reverted", "revert_failed") or (outcome == "skipped" and not run.get("would"))


def needs_attention(run: dict[str, Any]) -> bool:
    """A human must look: a revert failed or its verification did, or nobody knows whether the checkpoint is gone."""
    outcome = run["outcome"]
    return (outcome == "revert_failed" or (outcome == "reverted" and run.get("post_revert") != "passed")
            or (run.get("checkpoint") or {}).get("state") == "unknown")


def message(run: dict[str, Any]) -> str:
    """The readable message of the run: the host's failure message when it failed."""
    outcome, failure, checkpoint = run["outcome"], run.get("failure") or {}, run.get("checkpoint") or {}
    if outcome == "committed":
        return "Change %s COMMITTED on %s: the change and its verification passed; %s." % (
            run["change_id"], run["host"], _checkpoint_text(checkpoint))
    if outcome == "reverted":
        verified = "PASSED" if run.get("post_revert") == "passed" else \
            "FAILED: %s" % str(run.get("post_revert_reason") or "").strip()
        return ("CHANGE FAILED on %s and was REVERTED. %s. VM '%s' on %s was restored to checkpoint '%s' and brought "
                "back to %s. Verification after the revert %s; %s." % (
                    run["host"], _what_failed(failure), run["vm"], run["hyperv_host"], checkpoint.get("name"),
                    run.get("power_state_before"), verified, _checkpoint_text(checkpoint)))
    if outcome == "revert_failed":
        return ("REVERT FAILED on %s - A HUMAN IS NEEDED. %s. Restoring checkpoint '%s' (id %s) of VM '%s' on %s then "
                "failed: %s. The checkpoint is KEPT." % (
                    run["host"], _what_failed(failure), checkpoint.get("name"), checkpoint.get("id"), run["vm"],
                    run["hyperv_host"], str(run.get("revert_error") or "").strip()))
    return str(run.get("reason") or "").strip()


def summary_line(run: dict[str, Any]) -> str:
    """The run in one line, as in the summary table."""
    outcome, failure, checkpoint = run["outcome"], run.get("failure") or {}, run.get("checkpoint") or {}
    phase = PHASE_LABELS.get(str(failure.get("phase")), "The change").lower()
    if outcome == "committed":
        return "change and verification passed; checkpoint %s" % _checkpoint_state(checkpoint)
    if outcome == "reverted":
        return "%s failed: %s; reverted; verification after the revert %s" % (
            phase, truncate(str(failure.get("msg") or "").strip(), 100), str(run.get("post_revert") or "").upper())
    if outcome == "revert_failed":
        return "NEEDS A HUMAN: %s failed, then the restore failed: %s; checkpoint %s KEPT" % (
            phase, truncate(str(run.get("revert_error") or "").strip(), 100), checkpoint.get("id"))
    if run.get("preflight_problem"):
        return truncate(PREFLIGHT_LINE % run["preflight_problem"], 200)
    return truncate(str(run.get("reason") or "").strip(), 200)


def headline(run: dict[str, Any]) -> str:
    """The line the role fails a failed guest with. Ansible shows a task's failure twice (as an error and in the
    result), so a revert is told in its one summary line there; the whole story is in ``msg``. A refusal's message
    is what to do: it stays whole."""
    outcome = run["outcome"]
    if outcome == "reverted":
        return "CHANGE FAILED on %s and was REVERTED: %s." % (run["host"], summary_line(run))
    if outcome == "revert_failed":
        return "REVERT FAILED on %s: %s." % (run["host"], summary_line(run))
    return message(run)


def result_record(run: dict[str, Any], end: float) -> dict[str, Any]:
    """The fact ``safe_change_result`` of the guest (roles/safe_change/README.md, "Results")."""
    checkpoint = {"id": None, "name": run.get("checkpoint_name"), "state": "none"}
    checkpoint.update(run.get("checkpoint") or {})
    failure = run.get("failure") or {}
    return {
        "outcome": run["outcome"],
        "failed": is_failed(run),
        "needs_attention": needs_attention(run),
        "msg": message(run),
        "summary": summary_line(run),
        "headline": headline(run),
        "check_mode": bool(run.get("check_mode")),
        "change_id": run.get("change_id"),
        "host": run["host"],
        "vm": run.get("vm"),
        "hyperv_host": run.get("hyperv_host"),
        "started": run.get("started"),
        "play": run.get("play", ""),
        "checkpoint": checkpoint,
        "failed_phase": failure.get("phase", ""),
        "failed_task": failure.get("task", ""),
        "failure": str(failure.get("msg") or "").strip(),
        "post_revert_verification": run.get("post_revert") or "",
        "notes": [note["text"] for note in run.get("notes") or []],
        "would": list(run.get("would") or []),
        "durations": durations(run.get("marks") or {}, end),
        "group": run.get("group") or "",
        "group_order": run.get("group_order") or 0,
        "group_outcome": "",
        "group_cause": run.get("group_cause") or "",
    }


def group_outcome(members: list[dict[str, Any]]) -> tuple[str, str]:
    """The outcome of an application group from its members' records: (outcome, the member that caused it).

    ``committed`` when every member was; ``reverted`` (``revert_failed`` when a member's revert failed)
    when any was reverted, naming the member whose own change or verification failed; ``skipped`` when
    the group was refused or withdrawn, naming the first member refused.
    """
    outcomes = [record["outcome"] for record in members]
    if all(outcome == "committed" for outcome in outcomes):
        return "committed", ""
    if any(outcome in ("reverted", "revert_failed") for outcome in outcomes):
        causes = [record["host"] for record in members
                  if record["outcome"] in ("reverted", "revert_failed") and record.get("failed_phase") != "group"]
        return ("revert_failed" if "revert_failed" in outcomes else "reverted"), ", ".join(causes)
    return "skipped", next((record["group_cause"] for record in members if record.get("group_cause")), "")


def with_group_outcomes(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``records`` ({guest: record}) with each group member's group_outcome and group_cause filled in."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for record in records.values():
        if record.get("group"):
            by_group.setdefault(record["group"], []).append(record)
    out = dict(records)
    for members in by_group.values():
        outcome, cause = group_outcome(members)
        for record in members:
            out[record["host"]] = dict(record, group_outcome=outcome, group_cause=cause)
    return out


def group_summaries(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """hyperv_checkpoint_groups: {group: {members, outcome, cause, failed, needs_attention}}."""
    groups: dict[str, dict[str, Any]] = {}
    for record in sorted(records.values(), key=lambda each: (each.get("group_order") or 0, each["host"])):
        if not record.get("group"):
            continue
        entry = groups.setdefault(record["group"], {"members": [], "outcome": record.get("group_outcome", ""),
                                                    "cause": record.get("group_cause", ""), "failed": False,
                                                    "needs_attention": False})
        entry["members"].append(record["host"])
        entry["failed"] = entry["failed"] or bool(record.get("failed"))
        entry["needs_attention"] = entry["needs_attention"] or bool(record.get("needs_attention"))
    return groups


def summary_table(records: list[dict[str, Any]]) -> list[str]:
    """The summary table: a header, a line per guest, and the counts."""
    lines = [TABLE_FORMAT % ("HOST", "OUTCOME", "CHECKPOINT", "CHANGE", "VERIFY", "TOTAL", "WHAT HAPPENED")]
    for record in records:
        spent = record.get("durations") or {}
        outcome = TABLE_LABELS.get(record["outcome"], record["outcome"])
        if record.get("check_mode") and record["outcome"] == "skipped" and not record.get("failed"):
            outcome += " (check)"
        lines.append(TABLE_FORMAT % (
            record["host"][:16], outcome, (record.get("checkpoint") or {}).get("state") or "none",
            *("%.1fs" % spent[key] if key in spent else "-" for key in ("change_seconds", "verify_seconds",
                                                                        "total_seconds")),
            record.get("summary") or record.get("msg")))
    counts = count_outcomes(records)
    lines.append("%d host(s): %d committed, %d reverted, %d revert failed (need a human), %d skipped" % (
        counts["total"], counts["committed"], counts["reverted"], counts["revert_failed"], counts["skipped"]))
    unknown = [record["host"] for record in records if (record.get("checkpoint") or {}).get("state") == "unknown"]
    if unknown:
        lines.append("checkpoint state UNKNOWN (the host stopped answering during the delete; look at the VM, "
                     "playbooks/cleanup.yml deletes what is left): %s" % ", ".join(unknown))
    for name, group in sorted(group_summaries({record["host"]: record for record in records}).items()):
        lines.append("group %s (%s): %s%s" % (
            name, ", ".join(group["members"]), TABLE_LABELS.get(group["outcome"], group["outcome"]),
            " because of %s" % group["cause"] if group["cause"] else ""))
    return lines


def count_outcomes(records: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"total": len(records)}
    for outcome in OUTCOMES:
        counts[outcome] = sum(1 for record in records if record["outcome"] == outcome)
    counts["failed"] = sum(1 for record in records if record.get("failed"))
    counts["needs_attention"] = sum(1 for record in records if record.get("needs_attention"))
    return counts


def artifacts(records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The set_stats data over every guest of the run (docs/artifacts.md); ``records`` by guest."""
    ordered = [records[host] for host in sorted(records)]
    counts = count_outcomes(ordered)
    outcome = {}
    for record in ordered:
        checkpoint = record.get("checkpoint") or {}
        outcome[record["host"]] = {
            "vm": record.get("vm"), "hyperv_host": record.get("hyperv_host"), "change_id": record.get("change_id"),
            "outcome": record["outcome"], "failed": record.get("failed"), "needs_attention": record.get("needs_attention"),
            "check_mode": record.get("check_mode"), "checkpoint_name": checkpoint.get("name"),
            "checkpoint_id": checkpoint.get("id"), "checkpoint_state": checkpoint.get("state"),
            "failed_phase": record.get("failed_phase", ""), "summary": record.get("summary"),
            "group": record.get("group", ""), "group_outcome": record.get("group_outcome", ""),
        }
    return {
        "safe_change_results": dict(records),
        "hyperv_checkpoint_outcome": outcome,
        "hyperv_checkpoint_counts": counts,
        "hyperv_checkpoint_ok": counts["failed"] == 0,
        "hyperv_checkpoint_needs_attention": counts["needs_attention"] > 0,
        "hyperv_checkpoint_groups": group_summaries(records),
    }
