"""The simulator's side of the host probe (hyperv_sim.probe) runs the experiments host_assumptions names,
and each leaves the VM as it found it."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _host_assumptions as host_assumptions

from hyperv_sim import engine, probe


def test_the_simulator_runs_the_experiments_the_assumptions_name():
    assert probe.EXPERIMENTS == host_assumptions.EXPERIMENTS


@pytest.mark.parametrize("experiment", host_assumptions.EXPERIMENTS)
@pytest.mark.parametrize("state", ["Running", "Off"])
def test_each_experiment_leaves_the_vm_as_it_found_it(tmp_path, experiment, state):
    host = engine.HyperVHost(engine.new_state(), tmp_path / "disks")
    vm_id = host.add_vm("probe01", state=state, checkpoint_type="Production")
    observations = host.run("probe_host", {"VMId": vm_id, "Experiment": experiment})["observations"]
    vm = host.state["vms"][vm_id]
    assert (vm["state"], vm["checkpoint_type"], vm["automatic_checkpoints"], vm["checkpoints"]) == (
        state, "Production", False, {})
    expected = {assumption.observation: assumption.expected for assumption in host_assumptions.ASSUMPTIONS
                if assumption.experiment == experiment}
    observed = {key: observations.get(key) for key in expected if observations.get(key) is not None}
    assert observed == {key: expected[key] for key in observed}


def test_a_vm_with_checkpoints_or_an_unknown_experiment_is_refused(tmp_path):
    host = engine.HyperVHost(engine.new_state(), tmp_path / "disks")
    vm_id = host.add_vm("probe01")
    with pytest.raises(engine.HostError) as unknown:
        host.run("probe_host", {"VMId": vm_id, "Experiment": "format_c"})
    assert unknown.value.code == "invalid_request"
    host.add_checkpoint(host.state["vms"][vm_id], "keep")
    with pytest.raises(engine.HostError) as refused:
        host.run("probe_host", {"VMId": vm_id, "Experiment": "volumes"})
    assert refused.value.code == "invalid_request" and "disposable VM" in refused.value.message
