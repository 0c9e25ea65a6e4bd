# -*- coding: utf-8 -*-
"""host_assumptions: the list the host probe checks, kept in step with its script, its module and the docs."""

from __future__ import annotations

import pathlib
import re

import yaml

from ansible_collections.hyperv.checkpoint.plugins.modules import hyperv_host_probe
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _host_assumptions as host_assumptions

REPO = pathlib.Path(__file__).resolve().parents[4]


def test_compare_tells_as_assumed_differs_and_not_observed():
    observations = {"restore_running_standard": {"checkpoint_state": "Saved", "state_after_restore": "Saved"},
                    "busy_error": {"code": None}}
    rows = {row["id"]: row for row in host_assumptions.compare(observations)}
    assert rows["standard_checkpoint_holds_memory"]["status"] == "as_assumed"
    assert rows["restore_restarts_a_running_vm"]["status"] == "differs"
    assert rows["restore_restarts_a_running_vm"]["observed"] == "Saved"
    assert rows["restore_restarts_a_running_vm"]["safe_either_way"] is True
    assert rows["busy_is_a_retryable_id"]["status"] == "not_observed"
    assert len(rows) == len(host_assumptions.ASSUMPTIONS)


def test_every_assumption_names_an_experiment_and_a_source():
    ids = [assumption.id for assumption in host_assumptions.ASSUMPTIONS]
    assert len(ids) == len(set(ids))
    for assumption in host_assumptions.ASSUMPTIONS:
        assert assumption.experiment in host_assumptions.EXPERIMENTS, assumption.id
        assert assumption.source.strip(), assumption.id
    used = {assumption.experiment for assumption in host_assumptions.ASSUMPTIONS}
    assert used == set(host_assumptions.EXPERIMENTS)


def test_the_probe_script_and_the_module_know_the_same_experiments():
    script = (REPO / "plugins/plugin_utils/powershell/probe_host.ps1").read_text(encoding="utf-8")
    listed = re.search(r"\$experiments = @\(([^)]*)\)", script).group(1)
    assert re.findall(r"'(\w+)'", listed) == list(host_assumptions.EXPERIMENTS)
    for experiment in host_assumptions.EXPERIMENTS[:-1]:  # the last one is the script's final else
        assert "$Experiment -eq '%s'" % experiment in script, experiment
    options = yaml.safe_load(hyperv_host_probe.DOCUMENTATION)["options"]
    assert options["experiments"]["choices"] == list(host_assumptions.EXPERIMENTS)


def test_docs_host_fidelity_lists_every_assumption_and_experiment():
    text = (REPO / "docs/host-fidelity.md").read_text(encoding="utf-8")
    for assumption in host_assumptions.ASSUMPTIONS:
        assert "`%s`" % assumption.id in text, assumption.id
    for experiment in host_assumptions.EXPERIMENTS:
        assert "`%s`" % experiment in text, experiment
