# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: pure pieces of the inventory plugin hyperv_vms: endpoints, names, variables, groups.

No I/O here: the plugin (plugins/inventory/hyperv_vms.py) asks the hosts and hands the
answers to these functions, which the unit tests call directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, NamedTuple

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types

if TYPE_CHECKING:
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_contract import JsonRecord, VmRecord


class Endpoint(NamedTuple):
    """One WinRM endpoint: ``name`` is the inventory name (and hyperv_host of its VMs), ``address`` what the
    controller connects to."""

    name: str
    address: str
    port: int
    # The host name in the host's Kerberos service principals (HTTP/<it>, WSMAN/<it>) when the address is not it.
    kerberos_hostname: str | None = None


ENDPOINT_KEYS = frozenset(("name", "address", "port", "kerberos_hostname"))
# Cluster node states whose VMs can be listed: a paused node still runs its VMs.
LISTABLE_NODE_STATES = frozenset(("Up", "Paused"))


class InventoryConfigError(ValueError):
    """The inventory source's configuration is wrong; the message says which entry and why."""


def parse_endpoints(entries: Iterable[object] | None, default_port: int, option: str) -> list[Endpoint]:
    """``hosts``/``clusters`` entries (a name, or a dict with name, address, port) as Endpoints."""
    endpoints = []
    for index, entry in enumerate(entries or []):
        where = "%s[%d]" % (option, index)
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict):
            raise InventoryConfigError("%s must be a host name or a dict with name, address and port, not %r"
                                       % (where, entry))
        unknown = sorted(set(entry) - ENDPOINT_KEYS)
        if unknown:
            raise InventoryConfigError("%s has unknown keys %s (allowed: name, address, port, kerberos_hostname)"
                                       % (where, ", ".join(unknown)))
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InventoryConfigError("%s needs a name" % where)
        address = entry.get("address") or name
        port = entry.get("port", default_port)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise InventoryConfigError("%s: port must be a number from 1 to 65535, not %r" % (where, port))
        kerberos_hostname = entry.get("kerberos_hostname")
        if kerberos_hostname is not None and (not isinstance(kerberos_hostname, str) or not kerberos_hostname.strip()):
            raise InventoryConfigError("%s: kerberos_hostname must be a host name, not %r" % (where, kerberos_hostname))
        endpoints.append(Endpoint(name.strip(), str(address).strip(), port,
                                  kerberos_hostname.strip() if kerberos_hostname else None))
    names = [endpoint.name.lower() for endpoint in endpoints]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InventoryConfigError("%s lists %s more than once" % (option, ", ".join(duplicates)))
    return endpoints


def _short_name(name: str) -> str:
    return name.split(".", 1)[0].lower()


def add_cluster_nodes(endpoints: Iterable[Endpoint], nodes: Iterable[JsonRecord],
                      default_port: int) -> tuple[list[Endpoint], list[tuple[str, str | None]]]:
    """``endpoints`` plus the cluster's listable nodes that are not among them yet.

    A node is the same host as an endpoint whose name, or the first label of it, equals the
    node's name (clusters report NetBIOS names, users often list FQDNs). Returns the new list
    and the nodes skipped for their state, as (name, state) pairs.
    """
    known = {_short_name(endpoint.name) for endpoint in endpoints}
    combined = list(endpoints)
    skipped = []
    for node in nodes:
        if node.get("state") not in LISTABLE_NODE_STATES:
            skipped.append((node["name"], node.get("state")))
            continue
        if _short_name(node["name"]) not in known:
            known.add(_short_name(node["name"]))
            combined.append(Endpoint(node["name"], node["name"], default_port))
    return combined, skipped


def collect_vms(
        listings: Iterable[Mapping[str, Any]]) -> tuple[list[tuple[str, VmRecord]], list[tuple[str, str, str, str]]]:
    """Flatten ``[{"host": name, "vms": [VM record, ...]}, ...]`` into (host, VM) pairs.

    A VM id seen twice (two names of one host, or a live migration between two reads) is
    kept once, from the first listing; the duplicates come back for a warning.
    """
    seen: dict[str, str] = {}
    pairs: list[tuple[str, VmRecord]] = []
    duplicates: list[tuple[str, str, str, str]] = []
    for listing in listings:
        for vm in listing["vms"]:
            if vm["id"] in seen:
                duplicates.append((vm["name"], vm["id"], seen[vm["id"]], listing["host"]))
                continue
            seen[vm["id"]] = listing["host"]
            pairs.append((listing["host"], vm))
    return pairs, duplicates


def inventory_names(pairs: Iterable[tuple[str, VmRecord]]) -> dict[str, str]:
    """Inventory host name per VM id: the VM's name, or ``<name>_<id>`` for every VM whose
    name another VM (on any host) shares, so that no VM hides another, whatever the order."""
    counts: dict[str, int] = {}
    for _host, vm in pairs:
        counts[vm["name"]] = counts.get(vm["name"], 0) + 1
    return {vm["id"]: vm["name"] if counts[vm["name"]] == 1 else "%s_%s" % (vm["name"], vm["id"])
            for _host, vm in pairs}


def vm_variables(hyperv_host: str, vm: VmRecord) -> dict[str, Any]:
    """The host variables of one VM: where it runs and its checkpoint settings."""
    return {
        "hyperv_host": hyperv_host,
        "hyperv_computer_name": vm["computer_name"],
        "hyperv_vm_name": vm["name"],
        "hyperv_vm_id": vm["id"],
        "hyperv_vm_state": vm["state"],
        "hyperv_checkpoint_type": vm["checkpoint_type"],
        "hyperv_checkpoint_type_option": checkpoint_types.option_of(vm["checkpoint_type"]),
        "hyperv_checkpoint_count": vm["checkpoint_count"],
        "hyperv_automatic_checkpoints": vm["automatic_checkpoints"],
        "hyperv_is_clustered": vm["is_clustered"],
        "hyperv_merging": vm["merging"],
    }


def vm_groups(hyperv_host: str, vm: VmRecord) -> list[str]:
    """The built-in groups of one VM (unsanitized): by host, state and checkpoint type."""
    groups = ["hyperv_host_%s" % hyperv_host.lower(), "hyperv_state_%s" % vm["state"].lower()]
    # Windows Server 2012 R2 has no checkpoint types: the record says null.
    if vm["checkpoint_type"]:
        groups.append("hyperv_checkpoint_type_%s" % vm["checkpoint_type"].lower())
    return groups


# The connection plugins' variable for each setting of the inventory plugin.
CONNECTION_VARIABLES = {
    "winrm": {"scheme": "ansible_winrm_scheme", "transport": "ansible_winrm_transport",
              "message_encryption": "ansible_winrm_message_encryption",
              "validate_certs": "ansible_winrm_server_cert_validation",
              "connection_timeout": "ansible_winrm_connection_timeout", "ca_path": "ansible_winrm_ca_trust_path",
              "kerberos_hostname": "ansible_winrm_kerberos_hostname_override"},
    "psrp": {"scheme": "ansible_psrp_protocol", "transport": "ansible_psrp_auth",
             "message_encryption": "ansible_psrp_message_encryption",
             "validate_certs": "ansible_psrp_cert_validation",
             "connection_timeout": "ansible_psrp_connection_timeout", "ca_path": "ansible_psrp_ca_cert",
             "kerberos_hostname": "ansible_psrp_negotiate_hostname_override"},
}


def connection_variables(endpoint: Endpoint, scheme: str, transport: str, validate_certs: bool, ca_path: str | None,
                         message_encryption: str, connection_timeout: int | None,
                         connection: str = "winrm") -> dict[str, Any]:
    """Variables of Ansible's winrm (or psrp) connection that reach ``endpoint`` (no credentials).

    The plugin connects with them (plus user and password) and gives them to the Hyper-V
    hosts it adds to the inventory, so that playbooks reach the hosts the same way.
    """
    names = CONNECTION_VARIABLES[connection]
    variables = {"ansible_connection": connection, "ansible_host": endpoint.address, "ansible_port": endpoint.port,
                 names["scheme"]: scheme, names["transport"]: transport,
                 names["message_encryption"]: message_encryption,
                 names["validate_certs"]: "validate" if validate_certs else "ignore"}
    if connection_timeout:
        variables[names["connection_timeout"]] = connection_timeout
    if ca_path:
        variables[names["ca_path"]] = ca_path
    if endpoint.kerberos_hostname:
        variables[names["kerberos_hostname"]] = endpoint.kerberos_hostname
    return variables
