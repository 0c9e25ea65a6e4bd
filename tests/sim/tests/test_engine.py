"""The simulated host's Hyper-V model (hyperv_sim.engine) and its state file (hyperv_sim.state).

Operations run through ``HyperVHost.run`` with the request's PascalCase params, as the
command host calls them, against an in-memory state, real disk directories under
tmp_path, and a clock the tests move.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading

import pytest

from hyperv_sim import engine
from hyperv_sim.engine import HostError, HyperVHost
from hyperv_sim.state import StateFile, StateFileError

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_contract import MAX_CHECKPOINTS

SIM_DIR = pathlib.Path(__file__).resolve().parents[1]
START = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
VM_KEYS = {"id", "name", "state", "checkpoint_type", "automatic_checkpoints", "checkpoint_location",
           "current_checkpoint_id", "current_checkpoint_name", "is_clustered", "owner_node", "computer_name",
           "primary_status", "secondary_status", "merging", "checkpoint_count", "volumes", "disk_chain_bytes",
           "type_override"}
CHECKPOINT_KEYS = {"id", "name", "vm_id", "vm_name", "parent_id", "parent_name", "creation_time", "snapshot_type",
                   "is_automatic", "has_memory_state", "size_bytes"}
HOST_KEYS = {"computer_name", "os_caption", "os_version", "supports_checkpoint_type", "supports_automatic_checkpoints",
             "time"}


class FakeClock:
    """A clock that only moves when told (each reading is a microsecond later, like a real one)."""

    def __init__(self):
        self.now = START

    def __call__(self):
        self.now += datetime.timedelta(microseconds=1)
        return self.now

    def advance(self, seconds):
        self.now += datetime.timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def host(tmp_path, clock):
    return HyperVHost(engine.new_state(), tmp_path / "disks", clock=clock)


def as_sent(operation, params):
    """``params`` with what the controller sends with every create (_hyperv_host): the limit."""
    if operation == "create_checkpoint":
        return dict({"CheckpointLimit": MAX_CHECKPOINTS}, **params)
    return params


def run(host, operation, **params):
    return host.run(operation, as_sent(operation, params))


def fails(host, operation, **params) -> HostError:
    with pytest.raises(HostError) as raised:
        host.run(operation, as_sent(operation, params))
    return raised.value


def vm_of(host, vm_id):
    return host.state["vms"][vm_id]


def create(host, vm_id, name, checkpoint_type=None):
    return run(host, "create_checkpoint", VMId=vm_id, Name=name, CheckpointType=checkpoint_type)


def record(host, vm_id):
    return run(host, "get_vm", Id=vm_id)["vm"]


def tree(host, vm_id):
    """{name: parent name} of the VM's checkpoints."""
    checkpoints = vm_of(host, vm_id)["checkpoints"]
    return {cp["name"]: checkpoints[cp["parent_id"]]["name"] if cp["parent_id"] else None
            for cp in checkpoints.values()}


def disk_files(path):
    return {str(item.relative_to(path)): item.read_bytes() for item in sorted(path.rglob("*")) if item.is_file()}


# -- lookups and records -------------------------------------------------------------------------

def test_get_vm_by_name_and_by_id_in_any_guid_format(host):
    vm_id = host.add_vm("web01")
    by_name = run(host, "get_vm", Name="web01")["vm"]
    assert set(by_name) == VM_KEYS
    assert by_name["id"] == vm_id and by_name["name"] == "web01" and by_name["state"] == "Running"
    assert by_name["checkpoint_type"] == "Production" and by_name["automatic_checkpoints"] is False
    assert by_name["checkpoint_location"] == engine.DEFAULT_CHECKPOINT_LOCATION
    assert by_name["computer_name"] == "HV01" and by_name["primary_status"] == "Ok"
    assert by_name["secondary_status"] is None and by_name["merging"] is False
    assert by_name["current_checkpoint_id"] is None and by_name["checkpoint_count"] == 0
    assert by_name["volumes"] == [{"path": "C:\\", "free_bytes": 500 * engine.GIB, "size_bytes": 2048 * engine.GIB}]
    assert by_name["disk_chain_bytes"] is None and by_name["type_override"] is None
    for spelling in (vm_id.upper(), "{%s}" % vm_id, vm_id.replace("-", "")):
        assert run(host, "get_vm", Id=spelling)["vm"] == by_name


def test_names_match_literally_and_case_aside(host):
    web01 = host.add_vm("web01")
    pattern_named = host.add_vm("web[0]*?")
    for name in ("web*", "web0?", "web01 "):
        error = fails(host, "get_vm", Name=name)
        assert error.code == "vm_not_found"
        assert error.details == {"vm": name, "computer_name": "HV01", "names": ["web01", "web[0]*?"]}
        assert error.message == "No VM '%s' on host HV01" % name
    assert run(host, "get_vm", Name="web[0]*?")["vm"]["id"] == pattern_named
    assert run(host, "get_vm", Name="WEB01")["vm"]["id"] == web01
    assert run(host, "get_vm", Name="WEB[0]*?")["vm"]["id"] == pattern_named


def test_names_equal_but_for_case_are_ambiguous(host):
    ids = [host.add_vm("web01"), host.add_vm("WEB01")]
    error = fails(host, "get_vm", Name="web01")
    assert error.code == "ambiguous"
    assert [match["id"] for match in error.details["matches"]] == ids


def test_get_vms_reports_missing_vms_when_asked(host):
    host.add_vm("web01")
    listed = run(host, "get_vms", Names=["WEB01", "nope"], Ids=["6f2a1c1e-0000-4000-8000-0000000000ff"], All=False,
                 IncludeCheckpoints=False, IncludeSizes=False, ReportMissing=True)
    assert [vm["name"] for vm in listed["vms"]] == ["web01"]
    assert [(entry["vm"], entry["code"]) for entry in listed["missing"]] == [
        ("nope", "vm_not_found"), ("6f2a1c1e-0000-4000-8000-0000000000ff", "vm_not_found")]
    assert fails(host, "get_vms", Names=["nope"], Ids=[], All=False, IncludeCheckpoints=False, IncludeSizes=False,
                 ReportMissing=False).code == "vm_not_found"


def test_unknown_or_malformed_id_is_not_found(host):
    host.add_vm("web01")
    for vm_id in ("6f2a1c1e-0000-4000-8000-000000000001", "not-a-guid"):
        error = fails(host, "get_vm", Id=vm_id)
        assert (error.code, error.details["vm"]) == ("vm_not_found", vm_id)


def test_duplicate_vm_names_are_ambiguous_but_ids_work(host):
    first = host.add_vm("app")
    second = host.add_vm("app")
    error = fails(host, "get_vm", Name="app")
    assert error.code == "ambiguous"
    assert error.details == {"vm": "app", "matches": [{"id": first, "name": "app"}, {"id": second, "name": "app"}]}
    assert run(host, "get_vm", Id=second)["vm"]["id"] == second
    assert fails(host, "get_vms", Names=["app"]).code == "ambiguous"


def test_vm_owned_by_another_node_is_refused_by_name_and_id(host):
    foreign = host.add_vm("sql01", owner_node="HV02")
    for params, matched_by in (({"Name": "sql01"}, "cluster_role_name"), ({"Id": foreign}, "vm_id")):
        error = fails(host, "get_vm", **params)
        assert error.code == "owned_by_other_node"
        assert error.details == {"vm": params.get("Name") or foreign, "owner_node": "HV02", "matched_by": matched_by}
        assert "HV02" in error.message
    assert fails(host, "create_checkpoint", VMId=foreign, Name="x").code == "owned_by_other_node"
    assert fails(host, "get_vms", Ids=[foreign]).code == "owned_by_other_node"
    # Get-VM on this node does not list it at all.
    assert run(host, "get_vms", All=True)["vms"] == []
    assert host.host["cluster_nodes"] == ["HV01", "HV02"]


def test_a_renamed_cluster_role_is_found_by_the_vms_id_only(host):
    # SCVMM and administrators name roles otherwise: the "Virtual Machine" resource's VmId still finds it.
    foreign = host.add_vm("sql01", owner_node="HV02")
    vm_of(host, foreign)["cluster_role_name"] = "SCVMM sql01 Resources"
    assert fails(host, "get_vm", Name="sql01").code == "vm_not_found"
    by_id = fails(host, "get_vm", Id=foreign)
    assert (by_id.code, by_id.details["owner_node"], by_id.details["matched_by"]) == (
        "owned_by_other_node", "HV02", "vm_id")
    # A role of that name owned by another node, for a VM of another name.
    other = host.add_vm("sql01-old", owner_node="HV03")
    vm_of(host, other)["cluster_role_name"] = "sql01"
    error = fails(host, "get_vm", Name="sql01")
    assert (error.code, error.details["owner_node"]) == ("owned_by_other_node", "HV03")
    assert "the cluster role named 'sql01' is owned by node HV03" in error.message and "vm_id" in error.message


def test_clustered_vm_owned_by_this_node_is_local(host):
    vm_id = host.add_vm("sql01", owner_node="hv01")  # node names compare without case
    vm = record(host, vm_id)
    assert vm["is_clustered"] is True and vm["owner_node"] == "hv01"
    # A local VM wins over a foreign VM of the same name.
    host.add_vm("web01", owner_node="HV02")
    local = host.add_vm("web01")
    assert run(host, "get_vm", Name="web01")["vm"]["id"] == local
    assert record(host, local)["owner_node"] is None


def test_get_cluster_nodes_lists_the_nodes_or_refuses_outside_a_cluster(host):
    error = fails(host, "get_cluster_nodes")
    assert (error.code, error.details) == ("not_clustered", {"computer_name": "HV01"})
    host.add_vm("sql01", owner_node="hv03")
    result = run(host, "get_cluster_nodes")
    assert set(result["host"]) == HOST_KEYS
    assert result["nodes"] == [{"name": "HV01", "state": "Up"}, {"name": "hv03", "state": "Up"}]


def test_get_cluster_nodes_works_on_a_node_without_the_hyperv_module(host):
    host.add_vm("sql01", owner_node="hv03")
    host.host["hyperv_module"] = False
    result = run(host, "get_cluster_nodes")
    assert [node["name"] for node in result["nodes"]] == ["HV01", "hv03"]
    assert (result["host"]["supports_checkpoint_type"], result["host"]["supports_automatic_checkpoints"]) == (
        False, False)


def test_get_vms_follows_names_then_ids_and_sorts_all_by_name(host):
    web = host.add_vm("web01")
    app = host.add_vm("App02")
    db = host.add_vm("db01")
    result = run(host, "get_vms", Names=["db01", "web01"], Ids=[app.upper()])
    assert set(result["host"]) == HOST_KEYS
    assert [vm["id"] for vm in result["vms"]] == [db, web, app]
    assert all("checkpoints" not in vm for vm in result["vms"])
    assert [vm["name"] for vm in run(host, "get_vms", All=True)["vms"]] == ["App02", "db01", "web01"]
    assert run(host, "get_vms")["vms"] == []
    error = fails(host, "get_vms", Names=["web01", "nope1", "nope2"])
    assert (error.code, error.details["vm"]) == ("vm_not_found", "nope1")


def test_get_vms_lists_checkpoints_by_creation_time_with_sizes_on_request(host):
    vm_id = host.add_vm("web01", files={"data.bin": b"\x00" * 1000})
    vm = vm_of(host, vm_id)
    host.add_checkpoint(vm, "made second", age_seconds=60)
    host.add_checkpoint(vm, "made first", age_seconds=3600)
    host.add_checkpoint(vm, "backup", snapshot_type="Recovery")
    listed = run(host, "get_vms", Names=["web01"], IncludeCheckpoints=True)["vms"][0]
    assert [cp["name"] for cp in listed["checkpoints"]] == ["made first", "made second", "backup"]
    assert all(set(cp) == CHECKPOINT_KEYS and cp["size_bytes"] is None for cp in listed["checkpoints"])
    assert [cp["snapshot_type"] for cp in listed["checkpoints"]] == ["Standard", "Standard", "Recovery"]
    assert listed["checkpoint_count"] == 2  # Standard checkpoints only
    sized = run(host, "get_vms", Ids=[vm_id], IncludeCheckpoints=True, IncludeSizes=True)["vms"][0]
    # Nothing was written after any of them: each holds an empty differencing disk.
    assert [cp["size_bytes"] for cp in sized["checkpoints"]] == [engine.AVHDX_HEADER_BYTES] * 3
    first = sized["checkpoints"][0]
    assert first["creation_time"] == engine.format_time(START - datetime.timedelta(seconds=3600)
                                                        + datetime.timedelta(microseconds=2))
    assert first["vm_id"] == vm_id and first["vm_name"] == "web01" and first["is_automatic"] is False


def test_sizes_are_each_checkpoints_own_differencing_disks_and_the_chain(host):
    """A checkpoint refers to the disk it froze (its parent side, the base disk for a root); its own
    .avhdx holds what was written after it, towards its children or towards "Now"."""
    vm_id = host.add_vm("web01", files={"data.bin": b"\x00" * 1000})
    vm = vm_of(host, vm_id)
    disk = host.disk_path(vm)
    root = create(host, vm_id, "root")["checkpoint"]["id"]
    (disk / "patch.bin").write_bytes(b"p" * 5000)
    child = create(host, vm_id, "child")["checkpoint"]["id"]
    (disk / "log.txt").write_bytes(b"l" * 300)

    def sizes():
        listed = run(host, "get_vms", Ids=[vm_id], IncludeCheckpoints=True, IncludeSizes=True)["vms"][0]
        return {cp["id"]: cp["size_bytes"] for cp in listed["checkpoints"]}, listed["disk_chain_bytes"]

    header = engine.AVHDX_HEADER_BYTES
    own, chain = sizes()
    assert own == {root: header + 5000, child: header + 300}  # not the base disk for the root
    assert chain == vm["base_bytes"] + (header + 5000) + (header + 300)
    assert vm["base_bytes"] == header + 1000 + len("base image of web01\n")
    # Back at the root: the child, on a branch the VM left, has no differencing disk of its own any more.
    run(host, "restore_checkpoint", VMId=vm_id, Id=root, PowerState="running")
    own, chain = sizes()
    assert own == {root: (header + 5000) + header, child: 0}
    assert chain == vm["base_bytes"] + header
    assert record(host, vm_id)["disk_chain_bytes"] is None  # only with IncludeSizes


def test_times_are_utc_with_seven_fractional_digits():
    moment = datetime.datetime(2026, 11, 25, 13, 35, 15, 123456, tzinfo=datetime.timezone.utc)
    assert engine.format_time(moment) == "2026-11-25T13:35:15.1234560Z"
    assert engine.parse_time("2026-11-25T13:35:15.1234567Z") == moment
    with pytest.raises(ValueError):
        engine.parse_time("2026-11-25 13:35:15")


# -- create -----------------------------------------------------------------------------------

def test_create_chains_checkpoints_below_the_current_position(host):
    vm_id = host.add_vm("web01")
    first = create(host, vm_id, "one")
    assert set(first) == {"checkpoint", "taken_type", "fell_back", "type_restore_error", "name_repaired",
                          "type_override_repaired", "vm"}
    assert [cp["id"] for cp in first["vm"]["checkpoints"]] == [first["checkpoint"]["id"]]
    assert (first["name_repaired"], first["type_override_repaired"]) == (False, None)
    assert first["checkpoint"]["parent_id"] is None and first["checkpoint"]["parent_name"] is None
    assert first["vm"]["current_checkpoint_id"] == first["checkpoint"]["id"]
    assert first["vm"]["current_checkpoint_name"] == "one"
    second = create(host, vm_id, "two")
    assert second["checkpoint"]["parent_id"] == first["checkpoint"]["id"]
    assert second["checkpoint"]["parent_name"] == "one"
    assert second["vm"]["current_checkpoint_id"] == second["checkpoint"]["id"]
    assert second["vm"]["checkpoint_count"] == 2
    assert second["checkpoint"]["size_bytes"] is None


def test_create_copies_the_disk(host):
    vm_id = host.add_vm("web01", files={"bin/app.exe": bytes(range(256)), "conf.txt": "v1\n"})
    vm = vm_of(host, vm_id)
    made = create(host, vm_id, "before")["checkpoint"]
    assert disk_files(host.checkpoint_disk_path(vm, made["id"])) == disk_files(host.disk_path(vm))
    assert disk_files(host.disk_path(vm))["bin/app.exe"] == bytes(range(256))


@pytest.mark.parametrize("vm_type, requested, taken", [
    ("Production", None, "production"),
    ("Production", "Standard", "standard"),
    ("Standard", None, "standard"),
    ("Standard", "Production", "production"),
    ("Standard", "ProductionOnly", "production"),
    ("ProductionOnly", None, "production"),
    ("Production", "standard", "standard"),  # PowerShell compares enum names without case
])
def test_create_takes_the_requested_or_configured_type(host, vm_type, requested, taken):
    vm_id = host.add_vm("web01", checkpoint_type=vm_type)
    result = create(host, vm_id, "cp", requested)
    assert (result["taken_type"], result["fell_back"]) == (taken, False)
    assert result["vm"]["checkpoint_type"] == vm_type
    assert vm_of(host, vm_id)["checkpoints"][result["checkpoint"]["id"]]["taken_type"] == taken


def test_production_falls_back_to_standard_when_the_guest_cannot_quiesce(host):
    vm_id = host.add_vm("web01", guest_can_quiesce=False)
    result = create(host, vm_id, "fallback", "Production")
    assert (result["taken_type"], result["fell_back"]) == ("standard", True)
    assert result["vm"]["checkpoint_type"] == "Production"
    unrequested = create(host, vm_id, "fallback again")
    assert (unrequested["taken_type"], unrequested["fell_back"]) == ("standard", True)


@pytest.mark.parametrize("vm_type, requested", [("Production", "ProductionOnly"), ("ProductionOnly", None)])
def test_production_only_fails_and_leaves_nothing_behind(host, vm_type, requested):
    vm_id = host.add_vm("web01", checkpoint_type=vm_type, guest_can_quiesce=False)
    vm = vm_of(host, vm_id)
    error = fails(host, "create_checkpoint", VMId=vm_id, Name="must be production", CheckpointType=requested)
    assert error.code == "production_checkpoint_failed"
    assert error.message == "Checkpoint operation failed. Production checkpoints cannot be created for 'web01'."
    assert error.details["vm"] == "web01"
    assert error.details["exception_type"] == engine.VIRTUALIZATION_EXCEPTION
    assert vm["checkpoints"] == {} and vm["current_checkpoint_id"] is None and vm["checkpoint_type"] == vm_type
    copies = host.disks_dir / vm_id / "checkpoints"
    assert not copies.exists() or not any(copies.iterdir())


@pytest.mark.parametrize("state", ["Saved", "Paused"])
def test_a_guest_that_does_not_run_cannot_quiesce(host, state):
    vm_id = host.add_vm("web01", state=state)
    assert create(host, vm_id, "cp")["fell_back"] is True
    assert fails(host, "create_checkpoint", VMId=vm_id, Name="x", CheckpointType="ProductionOnly").code == \
        "production_checkpoint_failed"


def test_an_off_vm_gets_a_production_checkpoint_without_quiescing(host):
    vm_id = host.add_vm("web01", state="Off", guest_can_quiesce=False)
    result = create(host, vm_id, "offline", "ProductionOnly")
    assert (result["taken_type"], result["fell_back"]) == ("production", False)
    assert create(host, vm_id, "offline standard", "Standard")["taken_type"] == "standard"


@pytest.mark.parametrize("requested", [None, "Standard", "Production", "ProductionOnly"])
def test_disabled_checkpoints_are_never_overridden(host, requested):
    vm_id = host.add_vm("locked01", checkpoint_type="Disabled")
    error = fails(host, "create_checkpoint", VMId=vm_id, Name="x", CheckpointType=requested)
    assert (error.code, error.details) == ("checkpoints_disabled", {"vm": "locked01"})
    assert "locked01" in error.message
    assert vm_of(host, vm_id)["checkpoints"] == {}


def test_fifty_checkpoints_of_any_kind_is_the_limit(host):
    vm_id = host.add_vm("full01")
    vm = vm_of(host, vm_id)
    for number in range(48):
        host.add_checkpoint(vm, "old-%02d" % number)
    host.add_checkpoint(vm, "backup", snapshot_type="Recovery")  # counts too: Hyper-V counts every checkpoint
    assert create(host, vm_id, "the fiftieth")["vm"]["checkpoint_count"] == 49
    error = fails(host, "create_checkpoint", VMId=vm_id, Name="one too many")
    assert error.code == "limit_reached"
    assert error.details == {"vm": "full01", "count": 50, "limit": 50}
    assert "50" in error.message
    assert len(vm["checkpoints"]) == 50


def test_the_limit_is_the_one_the_controller_sends(host):
    vm_id = host.add_vm("web01")
    create(host, vm_id, "first")
    error = fails(host, "create_checkpoint", VMId=vm_id, Name="second", CheckpointLimit=1)
    assert error.code == "limit_reached" and error.details["limit"] == 1
    # Without it (PowerShell binds 0) every create would be refused: the request is wrong instead.
    error = fails(host, "create_checkpoint", VMId=vm_id, Name="second", CheckpointLimit=None)
    assert error.code == "invalid_request" and "CheckpointLimit" in error.message
    assert len(vm_of(host, vm_id)["checkpoints"]) == 1


def test_unknown_checkpoint_type_is_an_invalid_request(host):
    vm_id = host.add_vm("web01")
    error = fails(host, "create_checkpoint", VMId=vm_id, Name="x", CheckpointType="Disabled")
    assert error.code == "invalid_request" and "Disabled" in error.message


def test_checkpoint_names_are_literal_and_may_repeat(host):
    vm_id = host.add_vm("web01")
    names = ["before CHG-7", "before CHG-7", "*", "a?b[c]", "it's \"quoted\"", "Ünïcødé ✓ 检查点", "x" * 100]
    made = [create(host, vm_id, name)["checkpoint"] for name in names]
    assert [cp["name"] for cp in made] == names
    assert len({cp["id"] for cp in made}) == len(names)
    listed = run(host, "get_vms", Ids=[vm_id], IncludeCheckpoints=True)["vms"][0]["checkpoints"]
    assert [cp["name"] for cp in listed] == names


@pytest.mark.parametrize("name, error_id", [
    ("", "ParameterArgumentValidationError,Microsoft.HyperV.PowerShell.Commands.CheckpointVM"),
    ("x" * 101, "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.CheckpointVM"),
    ("   ", "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.CheckpointVM"),
])
def test_invalid_checkpoint_names_are_host_errors(host, name, error_id):
    vm_id = host.add_vm("web01", checkpoint_type="Standard")
    error = fails(host, "create_checkpoint", VMId=vm_id, Name=name)
    assert error.code == "host_error"
    assert error.details["fully_qualified_error_id"] == error_id
    assert vm_of(host, vm_id)["checkpoints"] == {}


def test_a_busy_vm_refuses_changes_but_a_merge_does_not(host, clock):
    vm_id = host.add_vm("web01")
    vm = vm_of(host, vm_id)
    cp = create(host, vm_id, "one")["checkpoint"]
    host.start_merge(vm, on_chain=False, seconds=30)
    clock.advance(1)  # the merge shows a moment after the delete
    assert create(host, vm_id, "during the merge")["vm"]["merging"] is True
    run(host, "restore_checkpoint", VMId=vm_id, Id=cp["id"], PowerState="as_checkpoint")
    vm["busy_until"] = engine.format_time(clock.now + datetime.timedelta(seconds=5))
    for operation, params, cmdlet in [
        ("create_checkpoint", {"VMId": vm_id, "Name": "x"}, "CheckpointVM"),
        ("remove_checkpoints", {"VMId": vm_id, "Ids": [cp["id"]]}, "RemoveVMSnapshot"),
        ("restore_checkpoint", {"VMId": vm_id, "Id": cp["id"]}, "RestoreVMSnapshot"),
        ("rename_checkpoint", {"VMId": vm_id, "Id": cp["id"], "NewName": "y"}, "RenameVMSnapshot"),
        ("set_checkpoint_settings", {"Changes": [{"VMId": vm_id, "CheckpointType": "Standard"}]}, "SetVM"),
    ]:
        # The cmdlet's ObjectInUse error; the runner answers busy for its id (Get-ErrorCode).
        error = fails(host, operation, **params)
        assert (error.code, error.message) == ("busy", engine.BUSY_MESSAGE)
        assert error.details == {"exception_type": engine.VIRTUALIZATION_EXCEPTION, "category": "ResourceBusy",
                                 "fully_qualified_error_id": "ObjectInUse,Microsoft.HyperV.PowerShell.Commands." + cmdlet}
    assert record(host, vm_id)["name"] == "web01"  # reads still work
    clock.advance(5)
    assert create(host, vm_id, "after")["checkpoint"]["name"] == "after"


# -- restore ----------------------------------------------------------------------------------

def test_restore_puts_the_disk_back_byte_for_byte(host):
    vm_id = host.add_vm("web01", files={"app/config.ini": "[app]\nversion = 1.4\n",
                                        "app/data.bin": bytes(range(256)) * 64, "empty": b""})
    vm = vm_of(host, vm_id)
    disk = host.disk_path(vm)
    before = disk_files(disk)
    cp = create(host, vm_id, "before the change")["checkpoint"]
    (disk / "app" / "config.ini").write_text("[app]\nversion = 2.0-broken\n")
    (disk / "app" / "data.bin").unlink()
    (disk / "new.dll").write_bytes(b"\x00\xff" * 100)
    (disk / "logs").mkdir()
    (disk / "logs" / "x.log").write_text("boom")
    run(host, "restore_checkpoint", VMId=vm_id, Id=cp["id"], PowerState="running")
    assert disk_files(disk) == before
    assert not (disk / "logs").exists()
    # The checkpoint's own copy is intact for another restore.
    (disk / "app" / "config.ini").write_text("again\n")
    run(host, "restore_checkpoint", VMId=vm_id, Id=cp["id"], PowerState="running")
    assert disk_files(disk) == before


def test_restore_moves_the_current_position(host):
    vm_id = host.add_vm("web01")
    one = create(host, vm_id, "one")["checkpoint"]
    create(host, vm_id, "two")
    result = run(host, "restore_checkpoint", VMId=vm_id, Id=one["id"].upper(), PowerState="as_checkpoint")
    assert result["vm"]["current_checkpoint_id"] == one["id"]
    three = create(host, vm_id, "three")["checkpoint"]
    assert three["parent_id"] == one["id"]  # a new branch
    assert tree(host, vm_id) == {"one": None, "two": "one", "three": "one"}


@pytest.mark.parametrize("vm_state, checkpoint_type, after_restore", [
    ("Running", "Production", "Off"),
    ("Running", "Standard", "Saved"),
    ("Off", "Standard", "Off"),
    ("Off", "Production", "Off"),
    ("Saved", "Standard", "Saved"),
])
def test_state_after_restore_follows_the_checkpoint(host, vm_state, checkpoint_type, after_restore):
    vm_id = host.add_vm("web01", state=vm_state, checkpoint_type=checkpoint_type)
    cp = create(host, vm_id, "cp")["checkpoint"]
    result = run(host, "restore_checkpoint", VMId=vm_id, Id=cp["id"], PowerState="as_checkpoint")
    assert (result["previous_state"], result["state_after_restore"]) == (vm_state, after_restore)
    assert result["vm"]["state"] == after_restore


@pytest.mark.parametrize("before, checkpoint_type, power_state, final", [
    ("Running", "Production", "running", "Running"),
    ("Running", "Standard", "running", "Running"),  # Start-VM resumes the saved state
    ("Running", "Standard", "off", "Off"),
    ("Running", "Production", "previous", "Running"),
    ("Off", "Standard", "previous", "Off"),
    ("Paused", "Standard", "previous", "Saved"),  # previous only brings back Running or Off
    ("Running", "Standard", "as_checkpoint", "Saved"),
    ("Running", "Standard", "", "Saved"),
    ("Running", "Standard", "RUNNING", "Running"),  # ValidateSet ignores case
])
def test_power_state_after_restore(host, before, checkpoint_type, power_state, final):
    vm_id = host.add_vm("web01", state="Running", checkpoint_type=checkpoint_type)
    cp = create(host, vm_id, "cp")["checkpoint"]
    vm_of(host, vm_id)["state"] = before
    result = run(host, "restore_checkpoint", VMId=vm_id, Id=cp["id"], PowerState=power_state)
    assert result["previous_state"] == before
    assert result["vm"]["state"] == final
    assert set(result) == {"previous_state", "state_after_restore", "vm"}


def test_starting_after_restore_takes_the_hosts_start_time(host):
    host.host["start_seconds"] = 1.5
    vm_id = host.add_vm("web01")
    cp = create(host, vm_id, "cp")["checkpoint"]
    run(host, "restore_checkpoint", VMId=vm_id, Id=cp["id"], PowerState="as_checkpoint")
    assert host.command_seconds == 0
    run(host, "restore_checkpoint", VMId=vm_id, Id=cp["id"], PowerState="running")
    assert host.command_seconds == 1.5


def test_restore_refuses_unknown_checkpoints_and_power_states(host):
    vm_id = host.add_vm("web01")
    cp = create(host, vm_id, "cp")["checkpoint"]
    missing = "6f2a1c1e-0000-4000-8000-000000000009"
    error = fails(host, "restore_checkpoint", VMId=vm_id, Id=missing, PowerState="running")
    assert error.code == "checkpoint_not_found"
    assert error.details == {"vm": "web01", "checkpoint": missing}
    error = fails(host, "restore_checkpoint", VMId=vm_id, Id=cp["id"], PowerState="sideways")
    assert error.code == "host_error" and "ValidateSet" in error.message
    assert vm_of(host, vm_id)["state"] == "Running"


# -- remove -----------------------------------------------------------------------------------

def make_tree(host, vm_id):
    """a -> b -> c (Now), plus a -> d on another branch: returns {name: id}."""
    ids = {}
    ids["a"] = create(host, vm_id, "a")["checkpoint"]["id"]
    ids["b"] = create(host, vm_id, "b")["checkpoint"]["id"]
    run(host, "restore_checkpoint", VMId=vm_id, Id=ids["a"], PowerState="running")
    ids["d"] = create(host, vm_id, "d")["checkpoint"]["id"]
    run(host, "restore_checkpoint", VMId=vm_id, Id=ids["b"], PowerState="running")
    ids["c"] = create(host, vm_id, "c")["checkpoint"]["id"]
    return ids


def test_removing_a_middle_checkpoint_reparents_its_children(host):
    vm_id = host.add_vm("web01")
    ids = make_tree(host, vm_id)
    disk_before = disk_files(host.disk_path(vm_of(host, vm_id)))
    result = run(host, "remove_checkpoints", VMId=vm_id, Ids=[ids["a"]])
    assert result["removed"] == [ids["a"]]
    assert tree(host, vm_id) == {"b": None, "d": None, "c": "b"}
    assert result["vm"]["current_checkpoint_id"] == ids["c"]
    assert not host.checkpoint_disk_path(vm_of(host, vm_id), ids["a"]).exists()
    assert disk_files(host.disk_path(vm_of(host, vm_id))) == disk_before  # the merge keeps "Now"


def test_removing_the_current_checkpoint_moves_now_to_its_parent(host):
    vm_id = host.add_vm("web01")
    ids = make_tree(host, vm_id)
    result = run(host, "remove_checkpoints", VMId=vm_id, Ids=[ids["c"]])
    assert result["vm"]["current_checkpoint_id"] == ids["b"]
    assert result["vm"]["current_checkpoint_name"] == "b"
    result = run(host, "remove_checkpoints", VMId=vm_id, Ids=[ids["b"], ids["a"]])
    assert result["removed"] == [ids["b"], ids["a"]]
    assert result["vm"]["current_checkpoint_id"] is None
    assert tree(host, vm_id) == {"d": None}


def test_removing_a_subtree_lists_only_its_root_and_skips_what_is_gone(host):
    vm_id = host.add_vm("web01")
    ids = make_tree(host, vm_id)
    vm = vm_of(host, vm_id)
    result = run(host, "remove_checkpoints", VMId=vm_id, Ids=[ids["b"].upper(), ids["c"]], IncludeChildren=True)
    assert result["removed"] == [ids["b"]]
    assert tree(host, vm_id) == {"a": None, "d": "a"}
    assert result["vm"]["current_checkpoint_id"] == ids["a"]  # Now was below the subtree
    assert not host.checkpoint_disk_path(vm, ids["c"]).exists()
    retry = run(host, "remove_checkpoints", VMId=vm_id, Ids=[ids["b"], ids["c"]], IncludeChildren=True)
    assert retry["removed"] == []
    everything = run(host, "remove_checkpoints", VMId=vm_id, Ids=[ids["a"]], IncludeChildren=True)
    assert everything["removed"] == [ids["a"]] and vm["checkpoints"] == {}
    assert everything["vm"]["checkpoint_count"] == 0 and everything["vm"]["current_checkpoint_id"] is None


def test_a_removal_merges_for_the_hosts_merge_time(host, clock):
    host.host["merge_seconds"] = 10
    vm_id = host.add_vm("web01")
    ids = [create(host, vm_id, name)["checkpoint"]["id"] for name in ("one", "two", "three")]
    result = run(host, "remove_checkpoints", VMId=vm_id, Ids=[ids[0]], MergeGraceSeconds=10)
    vm = result["vm"]
    assert result["merge"] == "running"
    assert (vm["merging"], vm["primary_status"], vm["secondary_status"]) == (True, "Ok", "MergingDisks")
    clock.advance(6)
    # Removing during the merge is allowed and extends it.
    assert run(host, "remove_checkpoints", VMId=vm_id, Ids=[ids[1]])["removed"] == [ids[1]]
    clock.advance(6)
    assert record(host, vm_id)["merging"] is True
    clock.advance(9)
    vm = record(host, vm_id)
    assert (vm["merging"], vm["secondary_status"]) == (False, None)


def test_a_merge_shows_a_moment_after_the_delete_and_the_script_waits_for_it(host):
    """Remove-VMSnapshot returns before the merge shows: without a grace period the VM looks idle."""
    host.host["merge_start_seconds"] = 0.6
    vm_id = host.add_vm("web01")
    ids = [create(host, vm_id, name)["checkpoint"]["id"] for name in ("one", "two")]
    at_once = run(host, "remove_checkpoints", VMId=vm_id, Ids=[ids[0]])
    assert (at_once["merge"], at_once["vm"]["merging"]) == ("unseen", False)
    assert host.command_seconds == 0
    waited = run(host, "remove_checkpoints", VMId=vm_id, Ids=[ids[1]], MergeGraceSeconds=10)
    assert (waited["merge"], waited["vm"]["merging"]) == ("running", True)
    assert host.command_seconds == 0.75  # three polls of 0.25 s, as Wait-MergeVisible does


def test_a_merge_that_ends_before_it_shows_is_seen_in_the_shorter_chain(host):
    host.host.update(merge_start_seconds=0.5, merge_seconds=0)
    vm_id = host.add_vm("web01")
    one = create(host, vm_id, "one")["checkpoint"]["id"]
    before = host.chain_length(vm_of(host, vm_id))
    result = run(host, "remove_checkpoints", VMId=vm_id, Ids=[one], MergeGraceSeconds=10)
    assert (result["merge"], result["vm"]["merging"]) == ("done", False)
    assert host.chain_length(vm_of(host, vm_id)) == before - 1


def test_deleting_a_leaf_on_another_branch_merges_nothing(host):
    vm_id = host.add_vm("web01")
    ids = make_tree(host, vm_id)  # d is a leaf on a branch "Now" left
    result = run(host, "remove_checkpoints", VMId=vm_id, Ids=[ids["d"]], MergeGraceSeconds=10)
    assert (result["merge"], result["vm"]["merging"]) == ("done", False)
    assert host.command_seconds == 0
    assert run(host, "remove_checkpoints", VMId=vm_id, Ids=[ids["d"]], MergeGraceSeconds=10)["merge"] == "none"


# -- rename -----------------------------------------------------------------------------------

def test_rename_takes_the_new_name_literally(host):
    vm_id = host.add_vm("web01")
    one = create(host, vm_id, "one")["checkpoint"]
    create(host, vm_id, "two")
    renamed = run(host, "rename_checkpoint", VMId=vm_id, Id=one["id"], NewName="two")["checkpoint"]
    assert set(renamed) == CHECKPOINT_KEYS
    assert (renamed["id"], renamed["name"]) == (one["id"], "two")
    assert run(host, "rename_checkpoint", VMId=vm_id, Id=one["id"], NewName="[x]*'?")["checkpoint"]["name"] == "[x]*'?"
    assert record(host, vm_id)["current_checkpoint_name"] == "two"


@pytest.mark.parametrize("new_name", ["", "x" * 101, " "])
def test_rename_validates_the_name(host, new_name):
    vm_id = host.add_vm("web01")
    one = create(host, vm_id, "one")["checkpoint"]
    error = fails(host, "rename_checkpoint", VMId=vm_id, Id=one["id"], NewName=new_name)
    assert error.code == "host_error"
    assert set(error.details) == {"exception_type", "fully_qualified_error_id", "category"}
    assert vm_of(host, vm_id)["checkpoints"][one["id"]]["name"] == "one"


def test_rename_of_a_missing_checkpoint(host):
    vm_id = host.add_vm("web01")
    assert fails(host, "rename_checkpoint", VMId=vm_id, Id="nope", NewName="x").code == "checkpoint_not_found"


# -- settings ---------------------------------------------------------------------------------

def test_set_checkpoint_settings_changes_only_what_is_given(host):
    web = host.add_vm("web01")
    db = host.add_vm("db01")
    result = run(host, "set_checkpoint_settings", Changes=[
        {"VMId": db, "CheckpointType": "standard", "AutomaticCheckpoints": None, "CheckpointLocation": None},
        {"VMId": web, "CheckpointType": None, "AutomaticCheckpoints": True, "CheckpointLocation": "D:\\Checkpoints"},
    ])
    assert [vm["id"] for vm in result["vms"]] == [db, web]
    assert result["vms"][0]["checkpoint_type"] == "Standard"
    assert result["vms"][0]["automatic_checkpoints"] is False
    assert result["vms"][1]["checkpoint_type"] == "Production"
    assert result["vms"][1]["automatic_checkpoints"] is True
    assert result["vms"][1]["checkpoint_location"] == "D:\\Checkpoints"


def test_set_checkpoint_settings_checks_everything_before_changing_anything(host):
    web = host.add_vm("web01")
    db = host.add_vm("db01")
    host.add_checkpoint(vm_of(host, db), "backup", snapshot_type="Recovery")
    before = json.dumps(host.state)
    error = fails(host, "set_checkpoint_settings", Changes=[
        {"VMId": web, "CheckpointType": "Disabled"},
        {"VMId": db, "CheckpointLocation": "D:\\Checkpoints"},
    ])
    assert error.code == "checkpoint_location_in_use"
    assert error.details == {"vm": "db01", "checkpoint_count": 1}
    error = fails(host, "set_checkpoint_settings", Changes=[
        {"VMId": web, "CheckpointType": "Disabled"},
        {"VMId": "6f2a1c1e-0000-4000-8000-000000000009", "CheckpointType": "Standard"},
    ])
    assert error.code == "vm_not_found"
    error = fails(host, "set_checkpoint_settings", Changes=[{"VMId": web, "CheckpointType": "Sometimes"}])
    assert error.code == "host_error" and "Sometimes" in error.message
    assert json.dumps(host.state) == before


@pytest.mark.parametrize("release, has_type, has_automatic", [
    ("2012r2", False, False), ("2016", True, False), ("2019", True, True), ("2022", True, True), ("2025", True, True),
])
def test_features_follow_the_windows_version(host, release, has_type, has_automatic):
    host.host.update(engine.OS_RELEASES[release])
    vm_id = host.add_vm("web01")
    listed = run(host, "get_vms", Ids=[vm_id], IncludeCheckpoints=True)
    assert listed["host"]["supports_checkpoint_type"] is has_type
    assert listed["host"]["supports_automatic_checkpoints"] is has_automatic
    assert listed["host"]["os_caption"] == engine.OS_RELEASES[release]["os_caption"]
    vm = listed["vms"][0]
    assert (vm["checkpoint_type"] is not None, vm["automatic_checkpoints"] is not None) == (has_type, has_automatic)
    made = create(host, vm_id, "default type")
    assert made["taken_type"] == ("production" if has_type else "standard")
    assert (made["checkpoint"]["is_automatic"] is not None) == has_automatic
    type_change = {"VMId": vm_id, "CheckpointType": "Standard"}
    automatic_change = {"VMId": vm_id, "AutomaticCheckpoints": False}
    for change, supported, setting in ((type_change, has_type, "checkpoint_type"),
                                       (automatic_change, has_automatic, "automatic_checkpoints")):
        if supported:
            run(host, "set_checkpoint_settings", Changes=[change])
        else:
            error = fails(host, "set_checkpoint_settings", Changes=[change])
            assert error.code == "unsupported_on_host"
            assert error.details == {"setting": setting, **engine.OS_RELEASES[release]}
            assert engine.OS_RELEASES[release]["os_version"] in error.message
    if not has_type:
        error = fails(host, "create_checkpoint", VMId=vm_id, Name="typed", CheckpointType="Standard")
        assert (error.code, error.details["setting"]) == ("unsupported_on_host", "checkpoint_type")


def test_a_2012r2_host_ignores_a_stored_disabled_type(host):
    host.host.update(engine.OS_RELEASES["2012r2"])
    vm_id = host.add_vm("old01", checkpoint_type="Disabled")
    assert create(host, vm_id, "still possible")["taken_type"] == "standard"


# -- parameter binding and the module ---------------------------------------------------------

def test_params_bind_like_powershell_splatting(host):
    vm_id = host.add_vm("web01")
    assert host.run("get_vm", {"id": vm_id})["vm"]["id"] == vm_id  # names ignore case
    assert host.run("get_vms", {"Names": "web01", "All": None})["vms"][0]["id"] == vm_id  # a scalar for string[]
    error = fails(host, "get_vm", Name="web01", Filter="*")
    assert error.code == "host_error"
    assert error.message == "A parameter cannot be found that matches parameter name 'Filter'."
    assert error.details["exception_type"] == engine.BINDING_EXCEPTION
    assert fails(host, "get_vms", All="yes").code == "host_error"


def test_without_the_hyperv_module_every_hyperv_operation_fails(host):
    vm_id = host.add_vm("web01")
    host.host["hyperv_module"] = False
    for operation in set(engine.OPERATIONS) - {"get_cluster_nodes"}:
        error = fails(host, operation)
        assert error.code == "hyperv_module_missing"
        assert error.details["exception_type"] == engine.COMMAND_NOT_FOUND_EXCEPTION
    assert vm_of(host, vm_id)["checkpoints"] == {}


def test_unknown_operation(host):
    assert fails(host, "delete_vm").code == "invalid_request"


# -- the state file ---------------------------------------------------------------------------

def test_state_file_round_trip_and_reads_leave_it_untouched(tmp_path):
    state_file = StateFile(tmp_path / "hyperv-state.json")
    assert state_file.disks_dir == tmp_path / "hyperv-state.disks"
    with pytest.raises(StateFileError):
        state_file.read()
    with state_file.transaction(create=engine.new_state) as state:
        HyperVHost(state, state_file.disks_dir).add_vm("web01")
    text = state_file.path.read_text()
    with state_file.transaction() as state:
        HyperVHost(state, state_file.disks_dir).run("get_vms", {"All": True, "IncludeCheckpoints": True})
    assert state_file.path.read_text() == text
    assert [vm["name"] for vm in state_file.read()["vms"].values()] == ["web01"]
    assert list(tmp_path.glob("*.tmp")) == []


def test_state_file_is_unchanged_when_the_transaction_raises(tmp_path):
    state_file = StateFile(tmp_path / "hyperv-state.json")
    with state_file.transaction(create=engine.new_state):
        pass
    text = state_file.path.read_text()
    with pytest.raises(RuntimeError):
        with state_file.transaction() as state:
            state["host"]["computer_name"] = "CHANGED"
            raise RuntimeError("half way")
    assert state_file.path.read_text() == text


def test_state_file_of_another_version_is_refused(tmp_path):
    path = tmp_path / "hyperv-state.json"
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(StateFileError, match="version 1"):
        StateFile(path).read()
    path.write_text("{not json")
    with pytest.raises(StateFileError, match="not valid JSON"):
        StateFile(path).read()


def _create_on_state_file(path, vm_id, prefix, count):
    state_file = StateFile(path)
    for number in range(count):
        with state_file.transaction() as state:
            params = {"VMId": vm_id, "Name": "%s-%d" % (prefix, number)}
            HyperVHost(state, state_file.disks_dir).run("create_checkpoint", as_sent("create_checkpoint", params))


CREATE_IN_A_PROCESS = """
import sys
sys.path.insert(0, sys.argv[1])
from hyperv_sim.engine import HyperVHost
from hyperv_sim.state import StateFile
state_file = StateFile(sys.argv[2])
for number in range(int(sys.argv[5])):
    with state_file.transaction() as state:
        HyperVHost(state, state_file.disks_dir).run(
            "create_checkpoint", {"VMId": sys.argv[3], "Name": "%s-%d" % (sys.argv[4], number), "CheckpointLimit": 50})
"""


def test_concurrent_creates_from_threads_and_processes_lose_nothing(tmp_path):
    path = tmp_path / "hyperv-state.json"
    state_file = StateFile(path)
    with state_file.transaction(create=engine.new_state) as state:
        vm_id = HyperVHost(state, state_file.disks_dir).add_vm("web01", checkpoint_type="Standard")
    per_worker = 6
    processes = [subprocess.Popen([sys.executable, "-c", CREATE_IN_A_PROCESS, str(SIM_DIR), str(path), vm_id,
                                   "process%d" % number, str(per_worker)]) for number in range(3)]
    threads = [threading.Thread(target=_create_on_state_file, args=(path, vm_id, "thread%d" % number, per_worker))
               for number in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Reached only by a hung process: three interpreters and their transactions can take seconds on a loaded machine.
    assert [process.wait(timeout=60) for process in processes] == [0, 0, 0]
    vm = state_file.read()["vms"][vm_id]
    names = sorted(cp["name"] for cp in vm["checkpoints"].values())
    expected = sorted("%s%d-%d" % (kind, worker, number) for kind in ("thread", "process")
                      for worker in range(3) for number in range(per_worker))
    assert names == expected
    # Every checkpoint hangs in one chain (each create saw the one before) and has its disk.
    parents = [cp["parent_id"] for cp in vm["checkpoints"].values()]
    assert parents.count(None) == 1 and len(set(parents)) == len(parents)
    disks = state_file.disks_dir / vm_id / "checkpoints"
    assert sorted(os.listdir(disks)) == sorted(vm["checkpoints"])


# -- the cmdlets as Hyper-V runs them (docs/host-fidelity.md) -------------------------------------

def cmdlets(host, vm_id, since=0):
    return [event["cmdlet"] for event in vm_of(host, vm_id)["events"][since:]]


@pytest.mark.parametrize("checkpoint_state, has_memory, after", [("Running", True, "Running"), ("Off", False, "Off")])
def test_restore_vmsnapshot_alone_saves_a_running_vm_and_starts_it_again(host, checkpoint_state, has_memory, after):
    """Decompiled RestoreVMSnapshot: Save, apply, and in a finally Start when Saved and it was Running."""
    vm_id = host.add_vm("web01", state=checkpoint_state, checkpoint_type="Standard")
    vm = vm_of(host, vm_id)
    checkpoint = host.add_checkpoint(vm, "cp")
    assert checkpoint["has_memory_state"] is has_memory
    vm["state"] = "Running"
    host._cmdlet_restore_vmsnapshot(vm, checkpoint)
    assert vm["state"] == after
    expected = ["Save-VM", "Restore-VMSnapshot"] + (["Start-VM"] if has_memory else [])
    assert cmdlets(host, vm_id) == expected


def test_stop_vm_turn_off_deletes_a_current_automatic_checkpoint(host):
    """Decompiled StopVM: DeleteAutomaticCheckpoint after -TurnOff."""
    vm_id = host.add_vm("web01")
    vm = vm_of(host, vm_id)
    manual = host.add_checkpoint(vm, "manual")
    host._cmdlet_stop_vm_turn_off(vm)
    assert manual["id"] in vm["checkpoints"]  # not automatic: kept
    automatic = host.add_checkpoint(vm, "Automatic Checkpoint", is_automatic=True)
    host._cmdlet_stop_vm_turn_off(vm)
    assert automatic["id"] not in vm["checkpoints"] and vm["current_checkpoint_id"] == manual["id"]


@pytest.mark.parametrize("power_state, final, last", [
    ("off", "Off", "Remove-VMSavedState"), ("as_checkpoint", "Saved", "Restore-VMSnapshot"),
    ("running", "Running", "Start-VM"), ("previous", "Running", "Start-VM"),
])
def test_restore_saves_first_so_the_guest_runs_only_when_asked(host, power_state, final, last):
    vm_id = host.add_vm("web01", checkpoint_type="Standard")
    cp = create(host, vm_id, "with memory")["checkpoint"]
    assert cp["has_memory_state"] is True
    seen = len(vm_of(host, vm_id)["events"])
    result = run(host, "restore_checkpoint", VMId=vm_id, Id=cp["id"], PowerState=power_state)
    assert (result["previous_state"], result["state_after_restore"], result["vm"]["state"]) == (
        "Running", "Saved", final)
    done = cmdlets(host, vm_id, seen)
    assert done[:2] == ["Save-VM", "Restore-VMSnapshot"] and done[-1] == last
    if power_state in ("off", "as_checkpoint"):
        assert "Start-VM" not in done  # the restored guest never ran
    assert "Stop-VM -TurnOff" not in done


def test_restoring_an_automatic_checkpoint_with_off_keeps_it(host):
    vm_id = host.add_vm("web01", checkpoint_type="Standard")
    vm = vm_of(host, vm_id)
    automatic = host.add_checkpoint(vm, "Automatic Checkpoint - web01", is_automatic=True)
    run(host, "restore_checkpoint", VMId=vm_id, Id=automatic["id"], PowerState="off")
    assert vm["state"] == "Off" and automatic["id"] in vm["checkpoints"]
    assert vm["current_checkpoint_id"] == automatic["id"]


def test_a_failed_restore_lets_the_vm_run_on_as_it_was(host):
    vm_id = host.add_vm("web01")
    vm = vm_of(host, vm_id)
    cp = host.add_checkpoint(vm, "cp")
    shutil.rmtree(host.checkpoint_disk_path(vm, cp["id"]))  # the restore cannot copy the disk back
    with pytest.raises(OSError):
        run(host, "restore_checkpoint", VMId=vm_id, Id=cp["id"], PowerState="off")
    # Python's error here stands for a failed apply; the script starts the saved VM again.
    assert cmdlets(host, vm_id)[-1] in ("Save-VM", "Start-VM")


@pytest.mark.parametrize("vm_type, requested, switched", [
    ("Production", None, []), ("Production", "Production", []), ("Standard", "Standard", []),
    ("ProductionOnly", "ProductionOnly", []), ("Standard", "Production", ["Production", "Standard"]),
    ("Production", "Standard", ["Standard", "Production"]),
    ("Production", "ProductionOnly", ["ProductionOnly", "Production"]),
])
def test_the_vm_wide_type_is_switched_only_when_its_own_cannot_give_the_kind(host, vm_type, requested, switched):
    vm_id = host.add_vm("web01", checkpoint_type=vm_type)
    create(host, vm_id, "cp", requested)
    assert [event["checkpoint_type"] for event in vm_of(host, vm_id)["events"] if event["cmdlet"] == "Set-VM"] == \
        switched
    assert vm_of(host, vm_id)["checkpoint_type"] == vm_type and vm_of(host, vm_id)["type_override"] is None


def test_production_on_a_production_only_vm_falls_back_only_after_the_vms_own_attempt(host):
    vm_id = host.add_vm("web01", checkpoint_type="ProductionOnly", guest_can_quiesce=False)
    result = create(host, vm_id, "cp", "Production")
    assert (result["taken_type"], result["fell_back"]) == ("standard", True)
    assert result["checkpoint"]["has_memory_state"] is True
    sets = [event["checkpoint_type"] for event in vm_of(host, vm_id)["events"] if event["cmdlet"] == "Set-VM"]
    assert sets == ["Standard", "ProductionOnly"]


@pytest.mark.parametrize("error_id, code", [
    ("ObjectInUse", "busy"), ("InvalidState", "busy"), ("OperationTimeout", "hyperv_timeout"),
    ("AccessDenied", "access_denied"), ("Unspecified", "host_error"),
])
@pytest.mark.parametrize("vm_type, requested", [
    ("ProductionOnly", None), ("ProductionOnly", "Production"), ("Production", "ProductionOnly")])
def test_only_the_production_specific_failure_falls_back(host, error_id, code, vm_type, requested):
    vm_id = host.add_vm("web01", checkpoint_type=vm_type)
    vm_of(host, vm_id)["checkpoint_failure"] = error_id
    error = fails(host, "create_checkpoint", VMId=vm_id, Name="cp", CheckpointType=requested)
    assert error.code == code  # never production_checkpoint_failed, never a standard checkpoint
    assert error.details["fully_qualified_error_id"] == "%s,Microsoft.HyperV.PowerShell.Commands.CheckpointVM" % error_id
    assert vm_of(host, vm_id)["checkpoints"] == {} and vm_of(host, vm_id)["checkpoint_type"] == vm_type


def test_set_vm_in_an_invalid_state_is_busy_and_changes_nothing(host, clock):
    vm_id = host.add_vm("web01", checkpoint_type="Production")
    vm_of(host, vm_id)["invalid_state_until"] = engine.format_time(clock.now + datetime.timedelta(seconds=5))
    error = fails(host, "create_checkpoint", VMId=vm_id, Name="cp", CheckpointType="Standard")
    assert error.code == "busy" and error.details["fully_qualified_error_id"] == \
        "InvalidState,Microsoft.HyperV.PowerShell.Commands.SetVM"
    assert error.details["category"] == "InvalidOperation" and engine.INVALID_STATE_MESSAGE in error.message
    vm = vm_of(host, vm_id)
    assert vm["checkpoints"] == {} and vm["checkpoint_type"] == "Production" and vm["type_override"] is None
    assert create(host, vm_id, "no switch needed")["taken_type"] == "production"  # Checkpoint-VM itself is fine
    clock.advance(5)
    assert create(host, vm_id, "later", "Standard")["taken_type"] == "standard"


def test_a_create_killed_while_the_type_is_switched_leaves_it_and_the_next_create_puts_it_back(host):
    vm_id = host.add_vm("web01", checkpoint_type="Production")
    killed = HyperVHost(host.state, host.disks_dir, clock=host.clock, kill_at="type_switched")
    with pytest.raises(engine.ProcessKilled):
        run(killed, "create_checkpoint", VMId=vm_id, Name="cp", CheckpointType="Standard")
    vm = vm_of(host, vm_id)
    vm["type_override"]["live"] = False  # the command host does this: the process is gone
    assert vm["checkpoint_type"] == "Standard" and vm["checkpoints"] == {}
    # Meanwhile backup software takes a checkpoint with the wrong type: a standard one.
    assert host.add_checkpoint(vm, "backup", snapshot_type="Recovery")["taken_type"] == "standard"
    assert record(host, vm_id)["type_override"] == {"original_type": "Production", "live": False}
    result = create(host, vm_id, "next run")
    assert result["type_override_repaired"] == "Production" and result["taken_type"] == "production"
    assert vm["checkpoint_type"] == "Production" and vm["type_override"] is None


def test_a_create_running_with_the_type_switched_makes_others_wait(host):
    vm_id = host.add_vm("web01", checkpoint_type="Production")
    vm_of(host, vm_id)["type_override"] = {"original": "Production", "live": True}
    for params in ({"VMId": vm_id, "Name": "x"}, {"VMId": vm_id, "Name": "x", "CheckpointType": "Standard"}):
        error = fails(host, "create_checkpoint", **params)
        assert (error.code, error.details["reason"]) == ("busy", "type_override_in_progress")
    error = fails(host, "set_checkpoint_settings", Changes=[{"VMId": vm_id, "CheckpointType": "Standard"}])
    assert error.code == "busy"
    assert vm_of(host, vm_id)["checkpoints"] == {}


def test_setting_the_type_on_purpose_clears_a_left_override(host):
    vm_id = host.add_vm("web01", checkpoint_type="Standard")
    vm_of(host, vm_id)["type_override"] = {"original": "Production", "live": False}
    result = run(host, "set_checkpoint_settings", Changes=[{"VMId": vm_id, "CheckpointType": "ProductionOnly"}])
    assert result["vms"][0]["type_override"] is None and result["vms"][0]["checkpoint_type"] == "ProductionOnly"


def test_checkpoint_vm_takes_the_default_name_first_and_renames_it(host):
    vm_id = host.add_vm("web01")
    killed = HyperVHost(host.state, host.disks_dir, clock=host.clock, kill_at="checkpoint_taken")
    with pytest.raises(engine.ProcessKilled):
        run(killed, "create_checkpoint", VMId=vm_id, Name="before patch")
    [left] = vm_of(host, vm_id)["checkpoints"].values()
    assert left["name"] == "web01 - (03/01/2026 - 12:00:00)"


@pytest.mark.parametrize("name", ["x" * 101, "   "])
def test_a_name_checkpoint_vm_cannot_set_leaves_no_default_named_checkpoint(host, name):
    vm_id = host.add_vm("web01", checkpoint_type="Standard")
    error = fails(host, "create_checkpoint", VMId=vm_id, Name=name)
    assert error.details["fully_qualified_error_id"] == "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.CheckpointVM"
    assert vm_of(host, vm_id)["checkpoints"] == {}
    assert cmdlets(host, vm_id) == ["Checkpoint-VM", "Remove-VMSnapshot"]


def test_low_free_space_refuses_the_create_on_the_host_too(host):
    vm_id = host.add_vm("web01")
    host.host["volumes"]["C:\\"]["free_bytes"] = 3 * engine.GIB
    error = fails(host, "create_checkpoint", VMId=vm_id, Name="cp", MinFreeBytes=10 * engine.GIB)
    assert error.code == "low_disk_space"
    assert error.details == {"vm": "web01", "volume": "C:\\", "free_bytes": 3 * engine.GIB,
                             "min_free_bytes": 10 * engine.GIB}
    assert vm_of(host, vm_id)["checkpoints"] == {}
    assert create(host, vm_id, "without a minimum")["checkpoint"]["name"] == "without a minimum"
    host.host["volumes"]["C:\\"]["free_bytes"] = engine.GIB // 2  # below the simulator's floor
    error = fails(host, "create_checkpoint", VMId=vm_id, Name="cp2")
    assert error.code == "host_error" and "full (simulated)" in error.message


def test_volumes_are_the_ones_of_the_disks_and_of_the_checkpoint_files(host):
    host.host["volumes"]["D:\\"] = {"size_bytes": 100 * engine.GIB, "free_bytes": 7 * engine.GIB}
    vm_id = host.add_vm("web01")
    vm = vm_of(host, vm_id)
    vm["disk_folder"] = "D:\\VMs\\web01"
    vm["checkpoint_location"] = "\\\\fs01\\checkpoints\\web01"
    assert record(host, vm_id)["volumes"] == [
        {"path": "D:\\", "free_bytes": 7 * engine.GIB, "size_bytes": 100 * engine.GIB},
        {"path": "\\\\fs01\\checkpoints", "free_bytes": None, "size_bytes": None}]


@pytest.mark.parametrize("command, code", [("Hyper-V\\Get-VM", "hyperv_module_missing"),
                                           ("FailoverClusters\\Get-ClusterNode", "host_error"),
                                           ("Get-CimInstance", "host_error")])
def test_a_missing_command_is_hyperv_module_missing_only_for_a_hyperv_cmdlet(command, code):
    """Get-ErrorCode: a JEA endpoint or a missing RSAT module hides other commands; that is not the Hyper-V module."""
    error = engine.cmdlet_error("The term '%s' is not recognized ..." % command, engine.COMMAND_NOT_FOUND_EXCEPTION,
                                "CommandNotFoundException", "ObjectNotFound", command=command)
    assert engine.runner_error(error).code == code


@pytest.mark.parametrize("error_id, category, code", [
    ("ObjectInUse", "ResourceBusy", "busy"), ("InvalidState", "InvalidOperation", "busy"),
    ("Unspecified", "ResourceBusy", "busy"), ("OperationTimeout", "OperationTimeout", "hyperv_timeout"),
    ("AccessDenied", "PermissionDenied", "access_denied"), ("Unspecified", "PermissionDenied", "access_denied"),
    ("OperationFailed", "NotSpecified", "host_error"), ("InvalidParameter", "InvalidArgument", "host_error"),
])
def test_reply_codes_follow_the_error_id_and_category_never_the_message(error_id, category, code):
    error = engine.hyperv_error("any localized text, e.g. Das Objekt wird verwendet.", error_id, category, "SetVM")
    assert engine.runner_error(error).code == code
    stopped = engine.HostError("checkpoint_not_found", "text", {"vm": "web01"})
    assert engine.runner_error(stopped) is stopped  # Stop-Operation's own codes pass as they are
