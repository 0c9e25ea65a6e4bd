# -*- coding: utf-8 -*-
"""Following a clustered VM: which inventory host is the owner node, and HyperVHost switching to it."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _cluster_follow as cluster_follow
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import HostError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._hyperv_host import HyperVHost

from hyperv_records import VM_ID, checkpoint, cp_id, vm
from test_hyperv_host import FakeConnection, FakeRunner

VM_RECORD = {key: value for key, value in vm().items() if key != "checkpoints"}


# find_node -------------------------------------------------------------------------------------


def finder(variables):
    return lambda host, name: variables.get(host, {}).get(name)


@pytest.mark.parametrize("owner, hosts, variables, expected", [
    ("HV02", ["hv01", "hv02"], {}, ["hv02"]),
    ("HV02", ["hv01.example.com", "hv02.example.com"], {}, ["hv02.example.com"]),
    ("hv02.corp.example.com", ["hv01", "hv02"], {}, ["hv02"]),
    # By address or by the inventory plugin's variable, when no inventory name names the node.
    ("HV02", ["node-a", "node-b"], {"node-b": {"ansible_host": "hv02.example.com"}}, ["node-b"]),
    ("HV02", ["node-a", "node-b"], {"node-a": {"hyperv_computer_name": "HV02", "ansible_host": "10.0.0.2"}},
     ["node-a"]),
    # A guest of the inventory plugin carries its Hyper-V host's computer name: it is no node.
    ("HV02", ["app01", "hv-b"], {"app01": {"hyperv_computer_name": "HV02", "hyperv_vm_id": VM_ID},
                                 "hv-b": {"hyperv_computer_name": "HV02"}}, ["hv-b"]),
    # An exact name wins over one without the domain.
    ("hv02.example.com", ["hv02", "hv02.example.com"], {}, ["hv02.example.com"]),
    # Two hosts without the domain: ambiguous, both returned.
    ("HV02", ["hv02.site-a.example.com", "hv02.site-b.example.com"], {},
     ["hv02.site-a.example.com", "hv02.site-b.example.com"]),
    # Addresses are never cut at their dots.
    ("10", ["10.0.0.2"], {}, []),
    ("HV03", ["hv01", "hv02"], {}, []),
])
def test_the_owner_node_is_found_by_name_address_or_computer_name(owner, hosts, variables, expected):
    assert cluster_follow.find_node(owner, hosts, finder(variables)) == expected


def test_connection_variables_keep_the_nodes_own_and_fill_the_rest():
    chosen = cluster_follow.connection_variables("hv02", {
        "ansible_port": 5986, "ansible_user": "ops", "hyperv_vm_id": "x", "inventory_hostname": "hv02"}, "winrm")
    assert chosen == {"ansible_port": 5986, "ansible_user": "ops", "ansible_connection": "winrm",
                      "ansible_host": "hv02"}
    assert cluster_follow.connection_variables("hv02", {"ansible_connection": "ansible.builtin.psrp"},
                                               "winrm")["ansible_connection"] == "psrp"


@pytest.mark.parametrize("operation, params, expected", [
    ("create_checkpoint", {"VMId": VM_ID}, True),
    ("get_vm", {"Name": "app01"}, True),
    ("get_vms", {"Names": ["app01"], "Ids": [], "All": False}, True),
    ("get_vms", {"Names": ["app01", "web01"], "Ids": [], "All": False}, False),
    ("get_vms", {"Names": [], "Ids": [], "All": True}, False),
    ("set_checkpoint_settings", {"Changes": [{"VMId": VM_ID}]}, True),
    ("set_checkpoint_settings", {"Changes": [{"VMId": VM_ID}, {"VMId": VM_ID}]}, False),
])
def test_only_an_operation_about_one_vm_moves_to_its_node(operation, params, expected):
    assert cluster_follow.addresses_one_vm(operation, params) is expected


# HyperVHost ------------------------------------------------------------------------------------


def owned(owner="HV02"):
    return HostError("owned_by_other_node", "VM 'app01' is a clustered VM owned by node %s" % owner,
                     operation="get_vm", host="hv01", details={"vm": "app01", "owner_node": owner,
                                                               "matched_by": "cluster_role_name"})


def migrating():
    return HostError("migrating", "The operation cannot be performed while the object is in its current state.",
                     operation="create_checkpoint", host="hv01",
                     details={"vm": "app01", "secondary_status": "MigratingVirtualMachine"})


class Clock:
    """Monotonic time that passes only when the client sleeps."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def client(runner, follow, timeout=600):
    clock = Clock()
    host = HyperVHost(FakeConnection(), "hv01", timeout=timeout, sleep=clock.sleep, runner=runner, follow=follow,
                      clock=lambda: clock.now)
    return host, clock


def test_an_operation_on_a_vm_of_another_node_runs_again_on_that_node():
    node_connection = FakeConnection()
    runner = FakeRunner(get_vm=[owned(), {"vm": VM_RECORD}])
    asked = []
    host, clock = client(runner, lambda error: asked.append(error.details["owner_node"]) or (node_connection, "hv02"))

    assert host.get_vm(name="app01") == VM_RECORD
    assert asked == ["HV02"]
    assert [call["host"] for call in runner.calls] == ["hv01", "hv02"]
    assert runner.calls[1]["connection"] is node_connection
    assert host.host_name == "hv02" and clock.sleeps == []
    assert host.followed == [{"vm": "app01", "from": "hv01", "to": "hv02", "owner_node": "HV02"}]


def test_without_follow_the_vm_of_another_node_fails_the_operation():
    runner = FakeRunner(get_vm=[owned()])
    host, dummy = client(runner, None)
    with pytest.raises(HostError) as caught:
        host.get_vm(name="app01")
    assert caught.value.code == "owned_by_other_node" and runner.names == ["get_vm"]


def test_the_refusal_of_follow_is_the_failure():
    refusal = HostError("owned_by_other_node", "not in the inventory",
                        details={"owner_node": "HV02", "follow": "not_in_inventory"})

    def follow(error):
        raise refusal

    host, dummy = client(FakeRunner(get_vm=[owned()]), follow)
    with pytest.raises(HostError) as caught:
        host.get_vm(name="app01")
    assert caught.value is refusal


def test_a_listing_of_several_vms_follows_none():
    runner = FakeRunner(get_vms=[owned()])
    host, dummy = client(runner, lambda error: pytest.fail("followed a listing"))
    with pytest.raises(HostError) as caught:
        host.get_vms(names=["app01", "web01"])
    assert caught.value.code == "owned_by_other_node"
    assert caught.value.details["follow"] == cluster_follow.NOT_FOLLOWED_SEVERAL_VMS
    assert "address this VM in a task of its own" in caught.value.message


def test_a_vm_that_keeps_moving_is_followed_a_few_times_only():
    runner = FakeRunner(get_vm=[owned("HV02"), owned("HV03"), owned("HV04"), owned("HV01")])
    nodes = iter(["hv02", "hv03", "hv04"])
    host, dummy = client(runner, lambda error: (FakeConnection(), next(nodes)))
    with pytest.raises(HostError) as caught:
        host.get_vm(name="app01")
    assert caught.value.details["follow"] == cluster_follow.NOT_FOLLOWED_TOO_MANY
    assert len(runner.calls) == cluster_follow.MAX_FOLLOWS + 1


def test_a_live_migration_is_waited_for_then_the_vm_followed():
    renamed = checkpoint(1, "after")
    runner = FakeRunner(rename_checkpoint=[migrating(), migrating(), owned(), {"checkpoint": renamed}])
    host, clock = client(runner, lambda error: (FakeConnection(), "hv02"))
    assert host.rename_checkpoint(VM_ID, cp_id(1), "after") == renamed
    assert [call["host"] for call in runner.calls] == ["hv01", "hv01", "hv01", "hv02"]
    assert len(clock.sleeps) == 2 and clock.sleeps[1] > clock.sleeps[0]


def test_a_live_migration_that_outlasts_the_operation_timeout_fails_migrating():
    runner = FakeRunner(rename_checkpoint=[migrating()])
    host, clock = client(runner, lambda error: pytest.fail("followed"), timeout=20)
    with pytest.raises(HostError) as caught:
        host.rename_checkpoint(VM_ID, cp_id(1), "after")
    assert caught.value.code == "migrating"
    assert sum(clock.sleeps) <= 20 and len(clock.sleeps) >= 3
