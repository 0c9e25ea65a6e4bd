# -*- coding: utf-8 -*-
"""_safe_change_record: the fact safe_change_result, the summary table and the set_stats artifacts."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_record as record

from safe_change_fixtures import state

CHECKPOINT = {"id": "c1", "name": "safe_change CHG0042 by jane 2026-11-25T12:00:00Z", "state": "deleted",
              "reused": False}


def finished(outcome, **changes):
    changes.setdefault("checkpoint", dict(CHECKPOINT))
    return state(outcome=outcome, proceed=outcome != "skipped", power_state_before="Running", **changes)


def test_a_commit():
    result = record.result_record(finished("committed"), 0)
    assert (result["outcome"], result["failed"], result["needs_attention"]) == ("committed", False, False)
    assert result["msg"] == ("Change CHG0042 COMMITTED on web01: the change and its verification passed; checkpoint "
                             "'%s' deleted." % CHECKPOINT["name"])
    assert result["summary"] == "change and verification passed; checkpoint deleted"
    assert set(result) == set(record.RECORD_FIELDS)
    kept = finished("committed", checkpoint=dict(CHECKPOINT, state="kept", kept_until="2026-11-25T14:00:00Z"))
    assert record.summary_line(kept) == "change and verification passed; checkpoint kept until 2026-11-25T14:00:00Z"


def test_a_revert_says_what_failed_and_whether_the_verification_after_it_passed():
    failure = {"phase": "verify", "task": "Health", "msg": "https://web01/health answered 404, expected 200"}
    passed = finished("reverted", failure=failure, post_revert="passed")
    result = record.result_record(passed, 0)
    assert result["failed"] and not result["needs_attention"]
    assert result["msg"].startswith("CHANGE FAILED on web01 and was REVERTED. The verification failed (task 'Health'): "
                                    "https://web01/health answered 404")
    assert "brought back to Running. Verification after the revert PASSED; checkpoint" in result["msg"]
    assert result["summary"] == ("the verification failed: https://web01/health answered 404, expected 200; "
                                 "reverted; verification after the revert PASSED")
    failed_again = finished("reverted", failure=failure, post_revert="failed", post_revert_reason="still 404")
    assert record.needs_attention(failed_again)
    assert "Verification after the revert FAILED: still 404" in record.message(failed_again)


def test_a_failed_revert_needs_a_human():
    run = finished("revert_failed", failure={"phase": "change", "task": "", "msg": "boom"},
                   revert_error="the file was not found", checkpoint=dict(CHECKPOINT, state="kept"))
    result = record.result_record(run, 0)
    assert result["failed"] and result["needs_attention"]
    assert result["msg"].startswith("REVERT FAILED on web01 - A HUMAN IS NEEDED. The change failed: boom.")
    assert result["msg"].endswith("then failed: the file was not found. The checkpoint is KEPT.")
    assert result["summary"] == "NEEDS A HUMAN: the change failed, then the restore failed: the file was not found; " \
                                "checkpoint c1 KEPT"


def test_a_refusal_and_check_mode():
    refused = state(outcome="skipped", proceed=False,
                    reason="Pre-flight refused the change: VM 'web01' on hv01: it is Off. Nothing was changed.",
                    preflight_problem="VM 'web01' on hv01: it is Off.")
    result = record.result_record(refused, 0)
    assert result["failed"] and result["summary"] == "pre-flight refused: VM 'web01' on hv01: it is Off. Nothing was " \
                                                     "changed."
    assert result["checkpoint"] == {"id": None, "name": refused["checkpoint_name"], "state": "none"}
    checked = state(outcome="skipped", proceed=False, check_mode=True, would=["take checkpoint ..."],
                    reason="Check mode: the pre-flight passed and nothing was changed.")
    assert not record.result_record(checked, 0)["failed"]


def test_durations_run_from_each_mark_to_the_next():
    marks = {"preflight": 100.0, "checkpoint": 102.0, "change": 104.5, "verify": 110.0, "commit": 111.0}
    assert record.durations(marks, 115.0) == {
        "preflight_seconds": 2.0, "checkpoint_seconds": 2.5, "change_seconds": 5.5, "verify_seconds": 1.0,
        "commit_seconds": 4.0, "total_seconds": 15.0}
    assert record.durations({"preflight": 100.0, "verify": None}, 101.0) == {
        "preflight_seconds": 1.0, "total_seconds": 1.0}


def test_the_failure_of_a_task_in_one_line():
    assert record.failure_message({"msg": "non-zero return code", "stderr": "installer exited with 1603\n"}) == \
        "non-zero return code: installer exited with 1603"
    looped = {"msg": "One or more items failed",
              "results": [{"failed": False}, {"failed": True, "msg": "item 2 broke", "stdout": "details"}]}
    assert record.failure_message(looped) == "item 2 broke: details"
    assert record.failure_message({"msg": "x", "stdout": "o" * 400}).endswith("o...")
    assert record.failure_message(None) == "unknown error"


@pytest.mark.parametrize("action, started, phase", [
    ("ansible.builtin.command", False, "change"),
    ("ansible.builtin.assert", True, "verify"),
    ("hyperv.checkpoint.safe_change_step", False, "verify"),
])
def test_the_phase_that_failed(action, started, phase):
    assert record.failure_phase(action, started) == phase


def records():
    return {
        "web01": record.result_record(finished("committed", host="web01"), 0),
        "db01": record.result_record(finished("reverted", host="db01", post_revert="passed",
                                              failure={"phase": "change", "msg": "x"}), 0),
        "app01": record.result_record(finished("revert_failed", host="app01", revert_error="e",
                                               failure={"phase": "change", "msg": "x"}), 0),
    }


def test_the_summary_table():
    lines = record.summary_table(list(records().values()))
    assert lines[0].split() == ["HOST", "OUTCOME", "CHECKPOINT", "CHANGE", "VERIFY", "TOTAL", "WHAT", "HAPPENED"]
    assert lines[1].split()[:3] == ["web01", "committed", "deleted"]
    assert "REVERT FAILED" in lines[3]
    assert lines[-1] == "3 host(s): 1 committed, 1 reverted, 1 revert failed (need a human), 0 skipped"


def test_the_artifacts_cover_every_guest_and_never_add_booleans_up():
    data = record.artifacts(records())
    assert data["hyperv_checkpoint_ok"] is False and data["hyperv_checkpoint_needs_attention"] is True
    assert data["hyperv_checkpoint_counts"] == {"total": 3, "committed": 1, "reverted": 1, "revert_failed": 1,
                                                "skipped": 0, "failed": 2, "needs_attention": 1}
    assert sorted(data["hyperv_checkpoint_outcome"]) == ["app01", "db01", "web01"]
    assert data["hyperv_checkpoint_outcome"]["db01"]["checkpoint_name"] == CHECKPOINT["name"]
    assert data["safe_change_results"]["web01"]["outcome"] == "committed"
    assert record.artifacts({})["hyperv_checkpoint_ok"] is True


def group_records():
    db = record.result_record(finished("reverted", host="db01", group="shop", post_revert="passed",
                                       failure={"phase": "change", "msg": "x"}), 0)
    web = record.result_record(finished("reverted", host="web01", group="shop", group_order=1, post_revert="passed",
                                        failure={"phase": "group", "msg": "db01 failed"}), 0)
    app = record.result_record(finished("committed", host="app01", group="crm"), 0)
    return record.with_group_outcomes({"db01": db, "web01": web, "app01": app})


def test_a_group_is_reported_with_its_outcome_and_the_member_that_caused_it():
    records = group_records()
    assert (records["web01"]["group_outcome"], records["web01"]["group_cause"]) == ("reverted", "db01")
    assert (records["app01"]["group_outcome"], records["app01"]["group_cause"]) == ("committed", "")
    assert record.group_summaries(records) == {
        "crm": {"members": ["app01"], "outcome": "committed", "cause": "", "failed": False, "needs_attention": False},
        "shop": {"members": ["db01", "web01"], "outcome": "reverted", "cause": "db01", "failed": True,
                 "needs_attention": False}}
    lines = record.summary_table(list(records.values()))
    assert lines[-2:] == ["group crm (app01): committed", "group shop (db01, web01): REVERTED because of db01"]
    assert record.artifacts(records)["hyperv_checkpoint_groups"]["shop"]["cause"] == "db01"
    assert "The group failed: db01 failed." in records["web01"]["msg"]


def test_a_refused_group_names_the_member_refused():
    refused = [record.result_record(state(host=host, outcome="skipped", proceed=False, group="g", group_cause="b",
                                          reason="Pre-flight refused the change: the group g is refused. Nothing "
                                                 "was changed."), 0) for host in ("a", "b")]
    assert record.group_outcome(refused) == ("skipped", "b")


def test_every_published_artifact_is_documented():
    """docs/artifacts.md is what AWX workflows are written against: every key and field the role publishes is there."""
    import pathlib
    import re

    text = (pathlib.Path(__file__).resolve().parents[4] / "docs" / "artifacts.md").read_text(encoding="utf-8")
    documented = set()
    for cell in re.findall(r"^\| ([^|]+) \|", text, re.M):
        documented |= set(re.findall(r"`([a-z_]+)`", cell))
    data = record.artifacts(group_records())
    assert set(data) <= documented, set(data) - documented
    assert set(data["hyperv_checkpoint_outcome"]["web01"]) <= documented


@pytest.mark.parametrize("phase, others, ended", [
    # A failed verification ended with its own step, whatever the other guests did after.
    ("verify", [{"started_at": 103.0}], 120.0),
    # A failed change ended no later than the first verification another guest started after this change.
    ("change", [{"started_at": 90.0}, {"started_at": 107.0}, {"started_at": 104.0}, None, "skipped"], 104.0),
    # Every guest's change failed: nothing tells, the reverts start right after the changes.
    ("change", [{"started_at": 90.0}], None),
])
def test_a_failed_guest_s_own_end_under_the_linear_strategy(phase, others, ended):
    run = state(marks={"change": 100.0}, failure={"phase": phase, "task": "t", "msg": "m"})
    assert record.own_end(run, {"started_at": 110.0, "ended_at": 120.0}, others) == ended


def test_the_time_waited_for_other_guests_is_a_phase_of_its_own():
    spent = record.durations({"preflight": 0.0, "change": 10.0, "waiting": 12.0, "revert": 40.0}, 45.0)
    assert spent == {"preflight_seconds": 10.0, "change_seconds": 2.0, "waiting_seconds": 28.0,
                     "revert_seconds": 5.0, "total_seconds": 45.0}


def test_a_revert_fails_the_guest_with_its_summary_line_and_a_refusal_with_its_whole_reason():
    reverted = finished("reverted", failure={"phase": "change", "task": "t", "msg": "exit 1"}, post_revert="passed")
    assert record.headline(reverted) == "CHANGE FAILED on web01 and was REVERTED: %s." % record.summary_line(reverted)
    refused = finished("skipped", reason="Pre-flight refused the change: it is Off. Nothing was changed.")
    assert record.headline(refused) == record.message(refused)
