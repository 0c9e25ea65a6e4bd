"""The simulated host and the controller's client speak the protocol of host_contract.

The operation scripts are held to the same declaration statically (tools/pscheck, tests/unit/powershell); here the
real client (HyperVHost + operation_runner, with the shell plugin's own encoding) drives the
simulator's command host in process, so a field renamed in the simulator, or a parameter the client
stops sending, fails here instead of passing against a simulator that drifted along with it.
"""

from __future__ import annotations

import pytest
from ansible.plugins.loader import shell_loader

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _host_contract as host_contract
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import ProtocolError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._hyperv_host import HyperVHost

from hyperv_sim import engine
from hyperv_sim.admin import SimHost
from hyperv_sim.commands import CommandHost

# How each engine parameter kind binds the protocol's types (as the scripts' [string], [bool]... do).
KINDS = {"string": {"str", "str?"}, "string[]": {"[str]"}, "bool": {"bool"}, "int": {"int"}, "long": {"int"}}


class InProcessConnection:
    """The parts of an Ansible connection that operation_runner uses, answered by a CommandHost."""

    def __init__(self, command_host):
        self._shell = shell_loader.get("powershell")
        self.command_host = command_host
        self.operations = []

    def exec_command(self, cmd, in_data=None, sudoable=True):
        words = cmd.split(" ")
        result = self.command_host.run(words[0], words[1:], in_data)
        return result.exit_code, result.stdout, result.stderr


class RecordingRunner:
    """operation_runner.run_operation, noting each operation's name and result."""

    def __init__(self):
        self.results = []

    def __call__(self, connection, name, params, timeout=None, host=None):
        from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._operation_runner import run_operation

        result = run_operation(connection, name, params, timeout=timeout, host=host)
        self.results.append((name, result))
        return result


@pytest.fixture
def client(tmp_path):
    state_path = tmp_path / "state.json"
    command_host = CommandHost(str(state_path), initial_vms=["web01"], sleep=lambda seconds: None)
    runner = RecordingRunner()
    return HyperVHost(InProcessConnection(command_host), "HV01", runner=runner), runner, SimHost(state_path)


@pytest.mark.parametrize("operation", sorted(host_contract.OPERATIONS))
def test_the_simulator_binds_the_protocol_params(operation):
    declared = engine.OPERATIONS[operation]
    expected = host_contract.OPERATIONS[operation].params
    assert list(declared) == list(expected)
    for name, (dummy, kind) in declared.items():
        if kind == "object[]":
            assert expected[name].startswith("["), name
        else:
            assert expected[name] in KINDS[kind], name


def test_every_operation_answers_what_the_protocol_declares(client):
    host, runner, sim = client
    sim.set_host(cluster_nodes=["HV01", "HV02"])
    assert [node["name"] for node in host.get_cluster_nodes()] == ["HV01", "HV02"]
    sim.add_vm("db01", state="Off", checkpoint_type="Standard")
    sim.add_checkpoint("db01", "base", age_seconds=3600)
    vm = host.get_vm(name="web01")
    assert host.get_vm(vm_id=vm["id"])["name"] == "web01"
    listing, vms = host.get_vms(all_vms=True, include_checkpoints=True, include_sizes=True)
    assert [listed["name"] for listed in vms] == ["db01", "web01"]
    assert vms[0]["checkpoints"][0]["size_bytes"] is not None
    host.get_vms(names=["db01"], include_checkpoints=False)
    probe = sim.add_vm("probe01", state="Off")
    assert host.probe(probe, "restore_off_standard")["observations"]["state_after_restore"] == "Saved"
    made = host.create_checkpoint(vm["id"], "before patch", "Production")["checkpoint"]
    standard = host.create_checkpoint(vm["id"], "second", None, min_free_bytes=1024)["checkpoint"]
    assert host.rename_checkpoint(vm["id"], standard["id"], "renamed")["name"] == "renamed"
    host.restore_checkpoint(vm["id"], made["id"], "previous")
    assert host.remove_checkpoints(vm["id"], [made["id"]], include_children=True,
                                   merge_grace_seconds=5)["removed"] == [made["id"]]
    host.set_checkpoint_settings([{"VMId": vm["id"], "CheckpointType": "Standard", "AutomaticCheckpoints": False,
                                   "CheckpointLocation": None}])

    assert {name for name, dummy in runner.results} == set(host_contract.OPERATIONS)
    for name, result in runner.results:
        assert host_contract.result_problems(name, result) == [], name


def test_a_simulator_that_drifts_from_the_protocol_is_caught(client, monkeypatch):
    host, runner, sim = client
    original = engine.HyperVHost.vm_record

    def vm_record_with_a_renamed_key(self, vm):
        record = original(self, vm)
        record["checkpoints_count"] = record.pop("checkpoint_count")
        return record

    monkeypatch.setattr(engine.HyperVHost, "vm_record", vm_record_with_a_renamed_key)
    with pytest.raises(ProtocolError, match="missing key 'checkpoint_count'.*unexpected key 'checkpoints_count'"):
        host.get_vm(name="web01")
