# -*- coding: utf-8 -*-
"""_checkpoint_outcome: hyperv_checkpoint's result is built from what the task did, also when it failed half-way."""

from __future__ import annotations

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_planner as planner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_outcome import Outcome, checkpoint_result
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import HostError

from hyperv_records import NOW, chain, cp_id, vm


def request(**options):
    base = {"state": "present", "name": None, "checkpoint_id": None, "new_name": None, "checkpoint_type": None,
            "max_age_seconds": None, "older_than_seconds": None, "name_prefix": None, "name_pattern": None,
            "keep_newest": None, "include_children": False, "all_with_name": False, "power_state": "previous",
            "min_free_gb": 0}
    base.update(options)
    return base


def test_a_create_that_failed_changed_nothing():
    record = vm()
    outcome = Outcome(record, planner.plan(request(name="new", checkpoint_type="production_only"), record, NOW),
                      "present")
    result = checkpoint_result(outcome, HostError("production_checkpoint_failed", "no VSS", operation="create"))
    assert (result["changed"], result["actions"], result["failed"]) == (False, [], True)
    assert "checkpoint" not in result and result["error_code"] == "production_checkpoint_failed"


def test_a_delete_whose_merge_wait_timed_out_reports_what_it_deleted():
    record = vm(checkpoints=chain("a", "b"), current=2)
    outcome = Outcome(record, planner.plan(request(state="absent", name="a"), record, NOW), "absent")
    outcome.record(outcome.plan.actions[0], {"removed": [cp_id(1)], "merge": "running", "vm": dict(record)}, 10)
    result = checkpoint_result(outcome, HostError("merge_timeout", "still merging", operation="wait_for_merge"))
    assert result["changed"] is True and result["failed"] is True
    assert result["removed"] == [{"id": cp_id(1), "name": "a"}]
    assert [action["done"] for action in result["actions"]] == [True]


def test_check_mode_lists_the_plan_and_the_predicted_position():
    record = vm(checkpoints=chain("a"), current=1)
    outcome = Outcome(record, planner.plan(request(name="new"), record, NOW), "present", check_mode=True, diff=True)
    result = checkpoint_result(outcome)
    assert result["changed"] is True and [action["done"] for action in result["actions"]] == [False]
    assert result["vm"]["current_checkpoint_id"] == "(new)" and result["checkpoint"]["id"] is None
    assert result["diff"]["after"].splitlines()[-1].endswith("<- Now")
    assert "warnings" not in result
