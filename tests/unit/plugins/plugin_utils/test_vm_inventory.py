# -*- coding: utf-8 -*-
"""vm_inventory: the pure pieces of the inventory plugin hyperv_vms."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _vm_inventory as inv
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._vm_inventory import Endpoint

import hyperv_records as records


def test_parse_endpoints_takes_names_and_dicts():
    assert inv.parse_endpoints(["hv01.example.com", {"name": "hv02", "address": "192.0.2.2", "port": 55986}],
                               5986, "hosts") == [Endpoint("hv01.example.com", "hv01.example.com", 5986),
                                                  Endpoint("hv02", "192.0.2.2", 55986)]
    assert inv.parse_endpoints(None, 5985, "clusters") == []


@pytest.mark.parametrize("entries, message", [
    ([42], "hosts[0] must be a host name or a dict with name, address and port, not 42"),
    ([{"address": "192.0.2.1"}], "hosts[0] needs a name"),
    (["hv01", {"name": " "}], "hosts[1] needs a name"),
    ([{"name": "hv01", "user": "x"}], "hosts[0] has unknown keys user (allowed: name, address, port, kerberos_hostname)"),
    ([{"name": "hv01", "port": "5986"}], "hosts[0]: port must be a number from 1 to 65535, not '5986'"),
    ([{"name": "hv01", "port": 70000}], "hosts[0]: port must be a number from 1 to 65535, not 70000"),
    ([{"name": "hv01", "port": True}], "hosts[0]: port must be a number from 1 to 65535, not True"),
    (["hv01", "HV01"], "hosts lists hv01 more than once"),
])
def test_parse_endpoints_names_the_bad_entry(entries, message):
    with pytest.raises(inv.InventoryConfigError) as error:
        inv.parse_endpoints(entries, 5986, "hosts")
    assert str(error.value) == message


def test_cluster_nodes_join_the_hosts_by_name_or_first_label():
    hosts = [Endpoint("hv01.example.com", "192.0.2.1", 5986)]
    nodes = [{"name": "HV01", "state": "Up"}, {"name": "HV02", "state": "Paused"}, {"name": "HV03", "state": "Down"},
             {"name": "hv02", "state": "Up"}]
    combined, skipped = inv.add_cluster_nodes(hosts, nodes, 5985)
    assert combined == [Endpoint("hv01.example.com", "192.0.2.1", 5986), Endpoint("HV02", "HV02", 5985)]
    assert skipped == [("HV03", "Down")]
    assert hosts == [Endpoint("hv01.example.com", "192.0.2.1", 5986)]  # not changed in place


def listing(host, *vms):
    return {"host": host, "vms": list(vms)}


def test_a_vm_listed_twice_is_kept_once_from_the_first_listing():
    moving = records.vm("app01", vm_id="id-app")
    pairs, duplicates = inv.collect_vms([listing("hv01", moving), listing("hv02", moving)])
    assert pairs == [("hv01", moving)]
    assert duplicates == [("app01", "id-app", "hv01", "hv02")]


def test_shared_vm_names_become_name_and_id_for_every_vm_that_shares_them():
    pairs, duplicates = inv.collect_vms([
        listing("hv01", records.vm("web01", vm_id="id-1"), records.vm("db01", vm_id="id-2")),
        listing("hv02", records.vm("web01", vm_id="id-3")),
    ])
    assert duplicates == []
    names = inv.inventory_names(pairs)
    assert names == {"id-1": "web01_id-1", "id-2": "db01", "id-3": "web01_id-3"}
    # The names do not depend on the order the hosts answered in.
    assert inv.inventory_names(list(reversed(pairs))) == names


def test_vm_variables_and_groups():
    vm = records.vm("app01", vm_id="id-app", checkpoint_type="ProductionOnly", state="Off",
                    checkpoints=records.chain("a", "b"))
    assert inv.vm_variables("hv01.example.com", vm) == {
        "hyperv_host": "hv01.example.com", "hyperv_computer_name": "HV01", "hyperv_vm_name": "app01",
        "hyperv_vm_id": "id-app", "hyperv_vm_state": "Off", "hyperv_checkpoint_type": "ProductionOnly",
        "hyperv_checkpoint_type_option": "production_only",
        "hyperv_checkpoint_count": 2, "hyperv_automatic_checkpoints": False, "hyperv_is_clustered": False,
        "hyperv_merging": False}
    assert inv.vm_groups("HV01", vm) == ["hyperv_host_hv01", "hyperv_state_off",
                                         "hyperv_checkpoint_type_productiononly"]
    # Windows Server 2012 R2: no checkpoint types, no such group.
    assert inv.vm_groups("HV01", records.vm(checkpoint_type=None)) == ["hyperv_host_hv01", "hyperv_state_running"]


def test_connection_variables_validate_certificates_unless_told_and_carry_no_credentials():
    endpoint = Endpoint("hv01", "192.0.2.1", 5986)
    variables = inv.connection_variables(endpoint, "https", "ntlm", True, None, "auto", None)
    assert variables == {
        "ansible_connection": "winrm", "ansible_host": "192.0.2.1", "ansible_port": 5986,
        "ansible_winrm_scheme": "https", "ansible_winrm_transport": "ntlm",
        "ansible_winrm_message_encryption": "auto", "ansible_winrm_server_cert_validation": "validate"}
    lab = inv.connection_variables(endpoint, "https", "kerberos", False, "/etc/ca.pem", "always", 30)
    assert lab["ansible_winrm_server_cert_validation"] == "ignore"
    assert lab["ansible_winrm_ca_trust_path"] == "/etc/ca.pem"
    assert lab["ansible_winrm_connection_timeout"] == 30


def test_psrp_connection_variables_validate_certificates_and_carry_no_credentials():
    endpoint = Endpoint("hv01", "hv01.example.com", 5986)
    variables = inv.connection_variables(endpoint, "https", "ntlm", True, "/etc/ca.pem", "auto", 30, connection="psrp")
    assert variables == {
        "ansible_connection": "psrp", "ansible_host": "hv01.example.com", "ansible_port": 5986,
        "ansible_psrp_protocol": "https", "ansible_psrp_auth": "ntlm", "ansible_psrp_message_encryption": "auto",
        "ansible_psrp_cert_validation": "validate", "ansible_psrp_ca_cert": "/etc/ca.pem",
        "ansible_psrp_connection_timeout": 30}


def test_an_entry_s_kerberos_hostname_becomes_the_connections_hostname_override():
    endpoints = inv.parse_endpoints([{"name": "hv01", "address": "192.0.2.1", "kerberos_hostname": "hv01.corp.example"},
                                     "hv02"], 5985, "hosts")
    assert endpoints[0].kerberos_hostname == "hv01.corp.example" and endpoints[1].kerberos_hostname is None
    winrm = inv.connection_variables(endpoints[0], "http", "kerberos", True, None, "auto", None)
    assert winrm["ansible_winrm_kerberos_hostname_override"] == "hv01.corp.example"
    psrp = inv.connection_variables(endpoints[0], "http", "kerberos", True, None, "auto", None, connection="psrp")
    assert psrp["ansible_psrp_negotiate_hostname_override"] == "hv01.corp.example"
    plain = inv.connection_variables(endpoints[1], "http", "kerberos", True, None, "auto", None)
    assert not any("override" in name for name in plain)
    with pytest.raises(inv.InventoryConfigError, match=r"hosts\[0\]: kerberos_hostname must be a host name"):
        inv.parse_endpoints([{"name": "hv01", "kerberos_hostname": ""}], 5985, "hosts")
