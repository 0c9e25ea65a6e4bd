# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-guest steps read the role's registered results themselves when their task gives no options."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleError

from ansible_collections.hyperv.checkpoint.plugins.action.safe_change_step import role_inputs

PREPARED = {"run": {"run_id": "r1", "host": "web01"}, "changed": False}
GATE = {"runs": {"web01": {"run_id": "r1", "host": "web01", "proceed": True},
                 "web02": {"run_id": "r2", "host": "web02", "proceed": True}}}
VERIFIED = {"run_id": "r1", "phase": "after_change", "started_at": 1.0}


def variables(**more):
    return dict(inventory_hostname="web01", __safe_change_prepared=PREPARED, __safe_change_gate=GATE, **more)


def test_checkpoint_takes_the_run_of_the_registered_prepare():
    assert role_inputs({"step": "checkpoint"}, variables()) == {"run": PREPARED["run"]}


def test_verify_takes_the_phase_the_role_set_and_after_change_otherwise():
    assert role_inputs({"step": "verify"}, variables(safe_change_phase="after_revert")) == {
        "run": PREPARED["run"], "phase": "after_revert"}
    assert role_inputs({"step": "verify"}, variables())["phase"] == "after_change"


def test_a_phase_the_role_does_not_set_is_refused_by_name():
    with pytest.raises(AnsibleError, match="safe_change_phase is 'bogus': the role sets it"):
        role_inputs({"step": "verify"}, variables(safe_change_phase="bogus"))


def test_settle_takes_this_guest_s_run_of_the_gate_and_only_the_results_that_were_registered():
    found = role_inputs({"step": "settle"}, variables(__safe_change_verified=VERIFIED))
    assert found == {"run": GATE["runs"]["web01"], "verified": VERIFIED}


def test_options_the_task_gives_win():
    given = {"step": "settle", "run": {"run_id": "mine"}, "verified": {"run_id": "mine"}}
    assert role_inputs(given, variables(__safe_change_verified=VERIFIED)) == {}


def test_other_steps_read_nothing_and_a_missing_result_gives_nothing():
    assert role_inputs({"step": "summary"}, variables()) == {}
    assert role_inputs({"step": "revert"}, variables()) == {}
    assert role_inputs({"step": "checkpoint"}, {"inventory_hostname": "web01"}) == {}
    assert role_inputs({"step": "settle"}, {"inventory_hostname": "web09", "__safe_change_gate": GATE}) == {}
