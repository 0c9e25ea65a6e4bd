# -*- coding: utf-8 -*-
"""_safe_change_run: a run's state, built in one place and passed between steps as a dict."""

from __future__ import annotations

import json

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_groups as groups
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_steps as steps
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_run import RunState, of_this_run, run_in

from hyperv_records import NOW
from safe_change_fixtures import options, state


def test_a_new_run_takes_what_the_options_say():
    run_options = options(safe_change_group=" shop ", safe_change_group_order=2)
    run = RunState.begin("web01", "web01-vm", "hv01", "CHG0042", run_options, NOW)
    assert (run.prefix, run.group, run.group_order, run.change_file) == ("safe_change", "shop", 2, "/srv/change.yml")
    assert run.started == "2026-11-25T12:00:00Z" and len(run.run_id) == 32 and not run.proceed
    assert run.checkpoint_name is None and run.notes == [] and run.marks == {}


def test_the_round_trip_through_a_registered_result():
    run = RunState.begin("web01", "web01", "hv01", "CHG0042", options(), NOW, check_mode=True, play="Patch")
    run.marks = {"preflight": NOW.timestamp()}
    run.checkpoint = {"id": "c1", "name": "n", "state": "present"}
    steps.add_note(run.__dict__, steps.FELL_BACK, steps.FELL_BACK_NOTE)
    # A registered result travels as JSON-like data (through the controller's main process).
    passed_on = json.loads(json.dumps({"run": run.to_dict()}))
    assert RunState.from_dict(run_in(passed_on)) == run
    assert of_this_run(passed_on, run.to_dict()) == passed_on
    assert of_this_run(passed_on, dict(run.to_dict(), run_id="another run")) is None


def test_the_dict_of_a_run_is_a_copy_but_for_its_options():
    run = RunState.begin("web01", "web01", "hv01", "CHG0042", options(), NOW)
    run.marks = {"preflight": NOW.timestamp()}
    run.checkpoint = {"id": "c1", "notes": ["a"]}
    data = run.to_dict()
    data["marks"]["change"] = 1.0
    data["checkpoint"]["notes"].append("b")
    assert run.marks == {"preflight": NOW.timestamp()} and run.checkpoint == {"id": "c1", "notes": ["a"]}
    assert data["options"] is run.options
    assert list(data) == list(RunState.__dataclass_fields__)


def test_what_the_steps_write_is_a_field_of_the_run():
    """Every key a step or a group decision sets goes through from_dict: the dataclass lists them all."""
    member = state(group="shop", group_ready=True, prefix="safe_change", requested_by="jane")
    formed = groups.form({"a": dict(member, host="a"), "b": dict(member, host="b", group_ready=False)},
                         ["a", "b"], {"shop": ["a", "b"]}, NOW)
    gated = groups.gate(formed, {})
    for run in list(formed["runs"].values()) + list(gated["runs"].values()):
        assert RunState.from_dict(run).to_dict() == dict(RunState.from_dict(run).to_dict(), **run)
    refused = steps.preflight_refusal(state(), "it is Off.")
    assert RunState.from_dict(refused).preflight_problem == "it is Off."


def test_a_key_the_run_does_not_have_is_refused():
    with pytest.raises(ValueError, match="a safe_change run has no vm_state"):
        RunState.from_dict(dict(state(), vm_state="Running"))
