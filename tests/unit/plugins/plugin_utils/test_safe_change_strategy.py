# -*- coding: utf-8 -*-
"""The role under the play's strategy: which strategies run the batch step by step, what a group needs, and the
summary of a batch whose guests each end on their own (free)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_options as role_options
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_summary import summarize


@pytest.mark.parametrize("strategy, lockstep", [
    ("linear", True), ("ansible.builtin.linear", True), ("debug", True), ("mitogen_linear", True),
    ("free", False), ("ansible.builtin.free", False), ("host_pinned", False), ("mitogen_free", False),
])
def test_the_strategies_that_run_the_batch_step_by_step(strategy, lockstep):
    assert role_options.is_lockstep(strategy) is lockstep


def test_a_group_is_refused_under_a_strategy_that_does_not_keep_the_batch_together():
    grouped = {"safe_change_group": "shop"}
    problem = role_options.strategy_problem(grouped, "free")
    assert problem.startswith("safe_change_group needs the linear strategy, and this play's strategy is free")
    assert "Set strategy: linear on the play" in problem
    assert role_options.strategy_problem(grouped, "linear") is None
    assert role_options.strategy_problem({"safe_change_group": ""}, "free") is None


def settled(host, outcome="committed"):
    return {"record": {"host": host, "outcome": outcome, "failed": outcome != "committed", "play": "window",
                       "checkpoint": {"state": "deleted"}, "summary": outcome, "durations": {}}}


def task_vars(me, settled_hosts, batch=("a", "b", "c"), in_play=("a", "b", "c")):
    hostvars = {host: {"__safe_change_settled": settled(host)} for host in settled_hosts}
    return {"inventory_hostname": me, "ansible_play_batch": list(batch), "ansible_play_hosts": list(in_play),
            "ansible_play_hosts_all": list(batch), "ansible_play_name": "window", "groups": {"all": list(batch)},
            "hostvars": hostvars}


def test_under_free_only_a_guest_that_sees_the_whole_batch_settled_shows_and_writes_the_summary(tmp_path):
    shown, results = [], tmp_path / "results.json"
    early = summarize(task_vars("a", ["a", "b"]), shown.append, True, str(results), lockstep=False)
    assert shown == [] and "ansible_stats" not in early and not results.exists()
    assert early["records"] == {"a": settled("a")["record"]}  # its own fact only: no loop over the batch per guest
    last = summarize(task_vars("c", ["a", "b", "c"]), shown.append, True, str(results), lockstep=False)
    assert len(shown) == 1 and "3 host(s): 3 committed" in shown[0]
    assert last["records"] == {"c": settled("c")["record"]}
    assert last["ansible_stats"]["data"]["hyperv_checkpoint_counts"]["total"] == 3
    assert json.loads(results.read_text())["hyperv_checkpoint_counts"]["total"] == 3


def test_under_free_a_guest_that_left_the_play_is_not_waited_for():
    shown = []
    summarize(task_vars("a", ["a", "b"], in_play=("a", "b")), shown.append, False, "", lockstep=False)
    assert len(shown) == 1 and "2 host(s)" in shown[0]


def test_under_linear_the_summary_runs_once_for_the_batch():
    shown = []
    once = summarize(task_vars("a", ["a", "b", "c"]), shown.append, False, "")
    assert len(shown) == 1 and sorted(once["records"]) == ["a", "b", "c"]
