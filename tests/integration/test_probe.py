"""playbooks/probe_host.yml against the simulated host: every assumption the collection and the simulator make
holds there (_host_assumptions.py), the collection's own operations behave as documented, and the VM is left as
it was found. On a real host the same playbook reports what differs (docs/host-fidelity.md)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _host_assumptions as host_assumptions

from test_hyperv_checkpoint import assert_ok

pytestmark = pytest.mark.integration

PLAYBOOK = "playbooks/probe_host.yml"


def probe(lab, vm, report):
    # Short merges: the simulator answers an operation only when its simulated time has passed, and the
    # merge experiment waits for the merges of the checkpoints the others deleted.
    lab.host.set_host(merge_seconds=0.5)
    return lab.playbook(PLAYBOOK, extra_vars={"probe_vm": vm, "probe_report": str(report)})


def test_every_assumption_holds_on_the_simulator_and_the_vm_is_left_as_found(lab):
    lab.host.add_vm("probe01", automatic_checkpoints=False)
    before = lab.host.vm("probe01")
    report = lab.tmp_path / "probe.json"
    run = probe(lab, "probe01", report)
    assert_ok(run)
    data = json.loads(report.read_text())
    statuses = {row["id"]: row["status"] for row in data["assumptions"]}
    assert set(statuses) == {assumption.id for assumption in host_assumptions.ASSUMPTIONS}
    assert data["differences"] == []
    # A guest that can quiesce makes production checkpoints: its failure id is not observed here.
    assert [key for key, status in statuses.items() if status == "not_observed"] == [
        "production_failure_is_operation_failed", "cluster_owner_by_vm_id", "cluster_owner_listing_reads_vm_ids"]
    assert set(data["observations"]) == set(host_assumptions.EXPERIMENTS)
    collection = data["collection"]
    assert collection["states_after"] == ["Off", "Running", "Saved", "Saved", "Running"]
    assert collection["states_as_expected"] and collection["left_as_found"]
    assert (collection["merge"], collection["production_taken_type"], collection["production_only"]) == (
        "running", "production", "production")
    assert data["timings"]["vms"] == 3 and data["timings"]["info_with_sizes_seconds"] >= 0
    after = lab.host.vm("probe01")
    assert (after["state"], after["checkpoint_type"], after["automatic_checkpoints"], after["checkpoints"]) == (
        before["state"], before["checkpoint_type"], before["automatic_checkpoints"], {})
    assert "assumption(s) as" in run.stdout and "Differences: none" in run.stdout


def test_a_vm_that_cannot_quiesce_shows_the_production_failure_id(lab):
    lab.host.add_vm("probe02", state="Off", guest_can_quiesce=False)
    lab.host.set_vm("probe02", owner_node="HV01")  # clustered, owned by this node
    report = lab.tmp_path / "probe.json"
    assert_ok(probe(lab, "probe02", report))
    data = json.loads(report.read_text())
    statuses = {row["id"]: row["status"] for row in data["assumptions"]}
    assert statuses["production_failure_is_operation_failed"] == "as_assumed"
    assert statuses["cluster_owner_by_vm_id"] == statuses["cluster_owner_listing_reads_vm_ids"] == "as_assumed"
    assert statuses["production_checkpoint_has_no_memory"] == "not_observed"
    assert data["collection"]["states_after"] == ["Off", "Running", "Off", "Off", "Off"]
    # Off again after the restores: a production checkpoint needs no guest then.
    assert (data["collection"]["production_taken_type"], data["collection"]["production_fell_back"]) == (
        "production", False)
    assert data["collection"]["production_only"] == "production"
    assert lab.host.vm("probe02")["state"] == "Off" and lab.host.checkpoints("probe02") == []


def test_a_vm_with_checkpoints_is_refused_before_anything_changes(lab):
    lab.host.add_vm("busy01")
    lab.host.add_checkpoint("busy01", "keep")
    before = lab.host.vm("busy01")
    run = probe(lab, "busy01", lab.tmp_path / "probe.json")
    assert run.rc != 0 and "vm_has_checkpoints" in run.stdout
    assert lab.host.vm("busy01") == before
