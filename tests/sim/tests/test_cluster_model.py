"""The simulated failover cluster: nodes that serve one state, live migrations, CSV space, cluster rights."""

from __future__ import annotations

import datetime

import pytest

from hyperv_sim import engine
from hyperv_sim.admin import SimHost
from hyperv_sim.engine import HyperVHost
from hyperv_sim.state import running_disk

from test_engine import FakeClock, fails, run


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def nodes(tmp_path, clock):
    """HV01 and HV02 over one state (the cluster's shared storage); app01 clustered on HV01."""
    state = engine.new_state("HV01")
    hv01 = HyperVHost(state, tmp_path / "disks", clock=clock, node="HV01")
    hv02 = HyperVHost(state, tmp_path / "disks", clock=clock, node="HV02")
    vm_id = hv01.add_vm("app01", owner_node="HV01")
    return hv01, hv02, vm_id


def test_a_migrated_vm_runs_on_its_new_node_with_its_checkpoints_and_disk(nodes):
    hv01, hv02, vm_id = nodes
    taken = run(hv01, "create_checkpoint", VMId=vm_id, Name="before")["checkpoint"]
    hv01.live_migrate(hv01.state["vms"][vm_id], "HV02")
    moved = fails(hv01, "get_vm", Name="app01")
    assert (moved.code, moved.details["owner_node"]) == ("owned_by_other_node", "HV02")
    record = run(hv02, "get_vm", Name="app01")["vm"]
    assert (record["owner_node"], record["computer_name"], record["current_checkpoint_id"]) == (
        "HV02", "HV02", taken["id"])
    # The checkpoint is restored through the new node from the shared storage.
    run(hv02, "restore_checkpoint", VMId=vm_id, Id=taken["id"], PowerState="previous")
    assert run(hv01, "get_vms", All=True)["vms"] == []
    assert {node.lower() for node in hv01.host["cluster_nodes"]} == {"hv01", "hv02"}


def test_a_live_migration_in_progress_refuses_changes_as_migrating_then_hands_the_vm_over(nodes, clock):
    hv01, hv02, vm_id = nodes
    hv01.live_migrate(hv01.state["vms"][vm_id], "HV02", seconds=30)
    # The source still runs and lists it, with the migration's status.
    listed = run(hv01, "get_vm", Id=vm_id)["vm"]
    assert (listed["owner_node"], listed["secondary_status"]) == ("HV01", "MigratingVirtualMachine")
    refused = fails(hv01, "create_checkpoint", VMId=vm_id, Name="x")
    assert refused.code == "migrating"
    assert refused.details["fully_qualified_error_id"].startswith("InvalidState,")
    assert refused.details["secondary_status"] == "MigratingVirtualMachine" and refused.details["vm"] == "app01"
    assert fails(hv02, "create_checkpoint", VMId=vm_id, Name="x").code == "owned_by_other_node"
    clock.now += datetime.timedelta(seconds=31)
    assert fails(hv01, "create_checkpoint", VMId=vm_id, Name="x").code == "owned_by_other_node"
    assert run(hv02, "create_checkpoint", VMId=vm_id, Name="x")["checkpoint"]["name"] == "x"


def test_an_object_in_use_that_no_migration_explains_stays_busy(nodes):
    hv01, dummy, vm_id = nodes
    hv01.state["vms"][vm_id]["busy_calls"] = 1
    assert fails(hv01, "create_checkpoint", VMId=vm_id, Name="x").code == "busy"


def test_a_user_without_rights_on_the_cluster_is_told_so_on_a_cluster_node_only(nodes, tmp_path, clock):
    hv01, dummy, vm_id = nodes
    hv01.host["cluster_readable"] = False
    for params in ({"Name": "nosuch"}, {"Id": "6f2a1c1e-0000-4000-8000-0000000000ff"}):
        error = fails(hv01, "get_vm", **params)
        assert error.code == "cluster_unreadable"
        assert error.details["computer_name"] == "HV01" and "administrative privileges" in error.message
    # A VM of this node is found without the cluster, but a clustered one's record names its owner, which the
    # cluster tells (Get-ClusterOwner in ConvertTo-VMRecord): as on a real node, that read stops the operation.
    error = fails(hv01, "get_vm", Name="app01")
    assert (error.code, error.details["vm"]) == ("cluster_unreadable", vm_id)
    hv01.add_vm("local01")
    assert run(hv01, "get_vm", Name="local01")["vm"]["owner_node"] is None
    # A stand-alone host with the same setting: no cluster to ask.
    alone = HyperVHost(engine.new_state("HV09"), tmp_path / "alone", clock=clock)
    alone.host["cluster_readable"] = False
    assert fails(alone, "get_vm", Name="nosuch").code == "vm_not_found"


def test_a_cluster_shared_volumes_space_is_the_clusters_or_unknown_never_the_system_drives(nodes):
    hv01, dummy, vm_id = nodes
    csv = "C:\\ClusterStorage\\Volume1\\"
    hv01.host["volumes"][csv] = {"size_bytes": 100 * engine.GIB, "free_bytes": 7 * engine.GIB, "csv": True}
    vm = hv01.state["vms"][vm_id]
    vm.update(disk_folder=csv + "VMs", checkpoint_location=csv + "VMs")
    assert hv01.vm_volumes(vm) == [{"path": csv, "free_bytes": 7 * engine.GIB, "size_bytes": 100 * engine.GIB}]
    hv01.host["cluster_readable"] = False
    assert hv01.vm_volumes(vm) == [{"path": csv, "free_bytes": None, "size_bytes": None}]
    # Another CSV the cluster does not list at all: its volume is named, its space unknown.
    vm.update(disk_folder="C:\\ClusterStorage\\Volume2\\VMs")
    assert hv01.vm_volumes(vm)[0] == {"path": "C:\\ClusterStorage\\Volume2\\", "free_bytes": None, "size_bytes": None}


def test_the_admin_api_and_a_migrate_fault_move_a_vm_between_nodes(tmp_path):
    state = tmp_path / "cluster.json"
    admin = SimHost(state)
    admin.add_vm("app01", owner_node="HV01")
    admin.live_migrate("app01", "HV02")
    assert admin.vm("app01")["owner_node"] == "HV02"
    with pytest.raises(ValueError):
        admin.live_migrate("app01", "hv02")  # it runs there already
    with pytest.raises(ValueError):
        admin.inject_fault("create_checkpoint", "migrate")  # which VM, to which node
    admin.inject_fault("get_vms", "migrate", vm="app01", target="HV01")
    assert admin.state()["faults"][0]["target"] == "HV01"
    # The guest's disk does not move: the guest connection finds it wherever the VM runs.
    assert running_disk(admin.state_file.disks_dir, admin.vm("app01")) == admin.disk_path("app01")
    assert admin.disk_path("app01").is_dir()


def cluster_calls(host):
    """The FailoverClusters cmdlet calls of the host's last operation."""
    return {cmdlet: calls for cmdlet, calls in host.work["cmdlets"].items() if "Cluster" in cmdlet}


def test_the_owners_of_several_clustered_vms_come_from_one_listing_per_operation(nodes):
    """Read-ClusterOwners: one listing (Get-ClusterResource | Get-ClusterParameter -Name VmId) answers every VM
    of the operation, those of this node and those it does not run; each operation reads it anew."""
    hv01, hv02, app01 = nodes
    ids = [app01] + [hv01.add_vm(name, owner_node="HV01") for name in ("db01", "db02", "db03")]
    far = hv01.add_vm("far01", owner_node="HV02")
    names = ["app01", "db01", "db02", "db03"]
    records = run(hv01, "get_vms", Names=names, IncludeSizes=False)["vms"]
    assert [(record["name"], record["owner_node"]) for record in records] == [(name, "HV01") for name in names]
    assert cluster_calls(hv01) == {"Get-ClusterResource": 1, "Get-ClusterParameter": 1}
    # The same listing tells the owner of a name and of an id that this node does not run.
    reply = run(hv01, "get_vms", Names=names + ["far01"], Ids=[far], IncludeSizes=False, ReportMissing=True)
    assert [(entry["code"], entry["details"]["owner_node"]) for entry in reply["missing"]] == [
        ("owned_by_other_node", "HV02")] * 2
    assert cluster_calls(hv01) == {"Get-ClusterResource": 1, "Get-ClusterParameter": 1}
    # By ids too; and a VM the cluster hands over between two operations shows its new owner in the second.
    hv01.state["vms"][ids[2]].update(owner_node="HV02", listed_here=True)
    records = run(hv01, "get_vms", Ids=ids, IncludeSizes=False)["vms"]
    assert [record["owner_node"] for record in records] == ["HV01", "HV01", "HV02", "HV01"]
    assert cluster_calls(hv01) == {"Get-ClusterResource": 1, "Get-ClusterParameter": 1}
    # Names that only other nodes run: the cluster's VM roles are listed once for all of them.
    for name in ("far02", "far03"):
        hv01.add_vm(name, owner_node="HV02")
    reply = run(hv01, "get_vms", Names=["far01", "far02", "far03"], IncludeSizes=False, ReportMissing=True)
    assert [entry["details"]["owner_node"] for entry in reply["missing"]] == ["HV02"] * 3
    assert cluster_calls(hv01) == {"Get-ClusterGroup": 1}
    # One clustered VM is asked for alone, once although its record is built twice (before and after).
    run(hv01, "get_vms", Names=["db01", "web-not-clustered"], IncludeSizes=False, ReportMissing=True)
    assert cluster_calls(hv01) == {"Get-ClusterResource -VMId": 1, "Get-ClusterGroup": 1}
    run(hv01, "create_checkpoint", VMId=ids[1], Name="x")
    assert cluster_calls(hv01) == {"Get-ClusterResource -VMId": 1}
    # A change of several clustered VMs' settings reads their records' owners with one listing too.
    records = run(hv01, "set_checkpoint_settings", Changes=[{"VMId": vm_id, "CheckpointType": "Standard"}
                                                            for vm_id in ids[:2]])["vms"]
    assert [record["owner_node"] for record in records] == ["HV01", "HV01"]
    assert cluster_calls(hv01) == {"Get-ClusterResource": 1, "Get-ClusterParameter": 1}


def test_a_listing_of_a_cluster_the_user_may_not_read_stops_the_operation(nodes):
    hv01, hv02, app01 = nodes
    hv01.add_vm("db01", owner_node="HV01")
    hv01.host["cluster_readable"] = False
    error = fails(hv01, "get_vms", Names=["app01", "db01"], IncludeSizes=False)
    assert error.code == "cluster_unreadable" and "app01', 'db01" in error.message
