"""Issue 23: the simulated host's model of lookups, the Hyper-V module's 5-second cache, host-side work,
InvalidState, unreadable disks and Start-VM's automatic checkpoint (docs/host-fidelity.md)."""

from __future__ import annotations

import pytest

from hyperv_sim import engine
from hyperv_sim.engine import HyperVHost

from test_engine import FakeClock, create, fails, run, vm_of


@pytest.fixture
def host(tmp_path):
    """A simulated host whose clock (``host.clock``) moves only when told."""
    return HyperVHost(engine.new_state(), tmp_path / "disks", clock=FakeClock())


@pytest.mark.parametrize("name, expected", [
    ("web01", False), ("web*", True), ("web?", True), ("web[1]", True), ("web]", True),
    ("web`*", False), ("web``*", True), ("a`", False), ("", False)])
def test_wildcard_characters_are_those_of_wildcardpattern(name, expected):
    assert engine.contains_wildcard_characters(name) is expected


def add_vms(host, count, prefix="vm"):
    for number in range(count):
        host.add_vm("%s%04d" % (prefix, number))


def test_a_vm_read_by_name_or_id_costs_the_same_whatever_the_host_holds(host):
    add_vms(host, 10)
    target = next(vm for vm in host.state["vms"].values() if vm["name"] == "vm0005")
    work = []
    for count in (0, 290):
        add_vms(host, count, prefix="more")
        by_name = (run(host, "get_vms", Names=["VM0005"]), host.work)
        by_id = (run(host, "get_vm", Id=target["id"]), host.work)
        work.append((by_name[1], by_id[1]))
        assert by_name[0]["vms"][0]["id"] == target["id"] and by_id[0]["vm"]["name"] == "vm0005"
    assert work[0] == work[1]
    assert work[0][0]["cmdlets"] == {"Get-VM -Name": 1, "Get-VMSnapshot -VM": 1, "Get-VMHardDiskDrive -VM": 1}


def test_a_checkpoint_list_is_the_modules_cached_one_for_five_seconds(host):
    vm_id = host.add_vm("web01")
    vm = vm_of(host, vm_id)
    assert host.list_checkpoints(vm) == []
    made = host.add_checkpoint(vm, "new")
    assert host.list_checkpoints(vm) == []  # served from the cache, without the new checkpoint
    assert host.find_checkpoint(vm, made["id"])["id"] == made["id"]  # a read by id is not
    assert [cp["id"] for cp in host.checkpoint_list(vm, taken=[made])] == [made["id"]]
    host.clock.advance(engine.MODULE_CACHE_SECONDS)
    assert [cp["id"] for cp in host.list_checkpoints(vm)] == [made["id"]]


def test_a_failed_checkpoint_is_found_on_a_list_read_anew(host):
    """Checkpoint-VM made the checkpoint under its default name, then could not name it: the recovery waits until
    the VM's list is read anew, finds it and removes it (no checkpoint under the default name is left)."""
    vm_id = host.add_vm("web01", checkpoint_type="Standard")
    error = fails(host, "create_checkpoint", VMId=vm_id, Name="   ")
    assert error.details["fully_qualified_error_id"].startswith("InvalidParameter,")
    assert vm_of(host, vm_id)["checkpoints"] == {}
    assert host.command_seconds >= engine.MODULE_CACHE_SECONDS


def test_a_busy_vm_is_not_waited_for_before_the_failure(host):
    vm_id = host.add_vm("web01")
    vm_of(host, vm_id)["busy_calls"] = 1
    assert fails(host, "create_checkpoint", VMId=vm_id, Name="x").code == "busy"
    assert host.command_seconds == 0


@pytest.mark.parametrize("state", ["Saved", "Paused"])
def test_a_production_only_checkpoint_of_a_saved_or_paused_vm_fails_invalid_state(host, state):
    vm_id = host.add_vm("web01", state=state, checkpoint_type="ProductionOnly")
    with pytest.raises(engine.HostError) as raised:
        host._cmdlet_checkpoint_vm(vm_of(host, vm_id), "cp")
    assert engine.error_id(raised.value) == "InvalidState"
    error = fails(host, "create_checkpoint", VMId=vm_id, Name="cp", CheckpointType="ProductionOnly")
    assert error.code == "production_checkpoint_failed"
    assert error.details["fully_qualified_error_id"].startswith("InvalidState,")


def test_a_disk_that_cannot_be_read_makes_the_chain_unknown(host):
    vm_id = host.add_vm("web01")
    cp = create(host, vm_id, "one")["checkpoint"]
    vm_of(host, vm_id)["unreadable_disk"] = True
    listed = run(host, "get_vms", Ids=[vm_id], IncludeCheckpoints=True, IncludeSizes=True)["vms"][0]
    assert listed["disk_chain_bytes"] is None
    assert [c["size_bytes"] for c in listed["checkpoints"] if c["id"] == cp["id"]] == [None]


def test_start_takes_an_automatic_checkpoint_when_no_checkpoint_is_current(host):
    """Decompiled StartVM: AutomaticCheckpointsEnabled && GetParentSnapshot() == null, not "no checkpoint"."""
    vm_id = host.add_vm("web01", state="Off", automatic_checkpoints=True)
    vm = vm_of(host, vm_id)
    old = host.add_checkpoint(vm, "old")
    host._cmdlet_start_vm(vm)  # "old" is current: no automatic checkpoint
    assert [cp["name"] for cp in vm["checkpoints"].values()] == ["old"]
    vm["state"] = "Off"
    host._remove_checkpoint(vm, old, include_children=False)
    host.add_checkpoint(vm, "elsewhere")
    vm["current_checkpoint_id"] = None  # checkpoints, none current
    host._cmdlet_start_vm(vm)
    assert any(cp["is_automatic"] for cp in vm["checkpoints"].values())
