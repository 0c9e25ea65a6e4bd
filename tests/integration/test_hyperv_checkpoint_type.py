"""hyperv_checkpoint_type over real WinRM (NTLM, message encryption) against the simulated Hyper-V host.

The assertions about the task results live in targets/hyperv_checkpoint_type (they also run
against a real Hyper-V host); the tests here put the simulated host into the scenario first
(Windows release, extra VMs, checkpoints) and afterwards check what really happened on it.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

TARGET = "hyperv_checkpoint_type"
VMS = {"hyperv_test_vm": "web01", "hyperv_test_vm2": "db01"}
SETTINGS = ("checkpoint_type", "automatic_checkpoints", "checkpoint_location")


def assert_ok(run):
    assert run.rc == 0, run
    assert "failed=0" in run.stdout, run


def settings(lab, name):
    vm = lab.host.vm(name)
    return {key: vm[key] for key in SETTINGS}


def stored_vms(lab):
    """Every VM as the simulator stores it (settings, state, checkpoints), by id."""
    return lab.host.state_file.read()["vms"]


def test_main_target_changes_and_restores_the_settings(lab):
    # Start from settings that differ between the VMs and from the simulator's defaults, so that
    # putting them back at the end is a real change.
    lab.host.set_vm("web01", checkpoint_type="Standard", automatic_checkpoints=True)
    before = {name: settings(lab, name) for name in ("web01", "db01")}
    run = lab.target(TARGET, "main.yml", VMS)
    assert_ok(run)
    # The target changed the type, automatic checkpoints and the location, then put them back.
    assert "changed=0" not in run.stdout, run
    assert {name: settings(lab, name) for name in ("web01", "db01")} == before
    assert lab.host.vm("web01")["state"] == "Running"
    assert lab.host.checkpoints("web01") == [] and lab.host.checkpoints("db01") == []


def test_automatic_checkpoints_refused_on_2016_change_nothing(lab):
    lab.host.set_host(os_version="10.0.14393", os_caption="Microsoft Windows Server 2016 Datacenter")
    lab.host.set_vm("db01", checkpoint_type="Standard")
    before = stored_vms(lab)
    assert_ok(lab.target(TARGET, "unsupported_2016.yml", VMS))
    assert stored_vms(lab) == before
    assert lab.host.vm("web01")["checkpoint_type"] == "Production"
    assert lab.host.vm("db01")["checkpoint_type"] == "Standard"


def test_checkpoint_types_refused_on_2012r2_change_nothing(lab):
    lab.host.set_host(os_version="6.3.9600", os_caption="Microsoft Windows Server 2012 R2 Datacenter")
    before = stored_vms(lab)
    assert_ok(lab.target(TARGET, "unsupported_2012r2.yml", VMS))
    assert stored_vms(lab) == before
    assert lab.host.vm("web01")["checkpoint_location"] == before[lab.host.vm("web01")["id"]]["checkpoint_location"]


def test_location_of_a_vm_with_checkpoints_is_refused_for_every_vm(lab):
    lab.host.add_checkpoint("web01", "nightly", age_seconds=3600)
    before = stored_vms(lab)
    assert_ok(lab.target(TARGET, "location_in_use.yml", VMS))
    # db01 (no checkpoints, first in the list) did not move either: nothing was sent.
    assert stored_vms(lab) == before


def test_all_vms_sets_every_local_vm(lab):
    lab.host.add_vm("app01", state="Off", checkpoint_type="ProductionOnly", automatic_checkpoints=True)
    lab.host.add_vm("test01", checkpoint_type="Disabled")
    lab.host.add_vm("foreign01", owner_node="HV02", checkpoint_type="Production", automatic_checkpoints=True)
    foreign_before = lab.host.vm("foreign01")
    run = lab.target(TARGET, "all_vms.yml", VMS, verbosity=3)
    assert_ok(run)
    # One write for all VMs: the only set_checkpoint_settings call carries the four local VMs.
    writes = [line for line in run.stdout.splitlines() if ": set_checkpoint_settings {" in line]
    assert len(writes) == 1, writes
    for name in ("app01", "db01", "test01", "web01"):
        assert lab.host.vm(name)["id"] in writes[0], name
    assert lab.host.vm("foreign01")["id"] not in writes[0]
    for name in ("app01", "db01", "test01", "web01"):
        assert lab.host.vm(name)["checkpoint_type"] == "Standard", name
        assert lab.host.vm(name)["automatic_checkpoints"] is False, name
    # A clustered VM owned by another node is not one of this host's VMs.
    assert lab.host.vm("foreign01") == foreign_before
    assert lab.host.vm("app01")["state"] == "Off"


def test_running_vm_changes_its_type_for_the_next_checkpoint(lab):
    lab.host.set_vm("web01", checkpoint_type="Standard")
    old_id = lab.host.add_checkpoint("web01", "before the change", age_seconds=600)
    assert_ok(lab.target(TARGET, "running_vm.yml", VMS))
    vm = lab.host.vm("web01")
    assert vm["checkpoint_type"] == "ProductionOnly"
    assert vm["state"] == "Running"
    checkpoints = lab.host.checkpoints("web01")
    # The checkpoint taken before the change is still a standard one with the VM's memory state.
    assert [(cp["id"], cp["taken_type"], cp["vm_state_at_checkpoint"]) for cp in checkpoints] == [
        (old_id, "standard", "Running")]
    assert lab.host.vm("db01")["checkpoint_type"] == "Production"


def test_diff_of_two_vms_with_the_same_name_shows_both(lab):
    twins = [lab.host.add_vm("twin01", checkpoint_type="Production") for dummy in range(2)]
    run = lab.target(TARGET, "duplicate_names.yml", {"hyperv_test_vm": "twin01"})
    # The change itself is right: both VMs now take standard checkpoints.
    assert [lab.host.vm(vm_id)["checkpoint_type"] for vm_id in twins] == ["Standard", "Standard"]
    # The diff has both of them, keyed by name and id.
    assert_ok(run)
