# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: following a clustered VM to the node that runs it now.

A failover cluster moves VMs between its nodes on its own (VM load balancing, Cluster-Aware Updating draining
a node), so a task delegated to one node may find the VM on another: the host answers ``owned_by_other_node``
with the owner's name as the cluster reports it (``HV02``, the node's computer name). The action then runs the
same operation on that node, over a connection of its own built from the node's inventory variables; never from
one node to another with ``-ComputerName``, which over WinRM is a second hop (CredSSP or Kerberos delegation).
The functions here are pure: which inventory host is the owner node, with which connection variables, and
the messages when there is none (docs/clusters.md).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable, Iterable, Mapping

# The connections a followed node can be reached over: _remote_connection opens them outside the task's own.
FOLLOW_CONNECTIONS = ("winrm", "psrp")
# A VM that keeps moving (or two nodes that each name the other) must not be chased for ever.
MAX_FOLLOWS = 3

# Why a VM owned by another node was not followed, in error_details.follow.
NOT_FOLLOWED_DISABLED = "disabled"
NOT_FOLLOWED_NOT_IN_INVENTORY = "not_in_inventory"
NOT_FOLLOWED_AMBIGUOUS = "ambiguous_in_inventory"
NOT_FOLLOWED_UNREACHABLE = "unreachable"
NOT_FOLLOWED_CONNECTION = "unsupported_connection"
NOT_FOLLOWED_SEVERAL_VMS = "several_vms"
NOT_FOLLOWED_TOO_MANY = "too_many_moves"


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def short_name(name: str) -> str:
    """A host name without its domain, lower-case (``HV02.corp.example.com`` -> ``hv02``); an IP address as it is."""
    name = name.strip().lower()
    return name if _is_address(name) else name.split(".", 1)[0]


def names_node(candidate: Any, owner: str) -> str | None:
    """How ``candidate`` (a host name from the inventory) names the node ``owner``: ``exact`` (equal but for case),
    ``short`` (equal without the domains: ``hv02.example.com`` for ``HV02``), or None."""
    if not isinstance(candidate, str) or not candidate.strip() or not owner.strip():
        return None
    if candidate.strip().lower() == owner.strip().lower():
        return "exact"
    if not _is_address(candidate.strip()) and short_name(candidate) == short_name(owner):
        return "short"
    return None


def find_node(owner: str, host_names: Iterable[str],
              host_var: Callable[[str, str], Any]) -> list[str]:
    """The inventory hosts that are the cluster node ``owner``: by inventory name first; else by ``ansible_host``
    or ``hyperv_computer_name``. Exact matches win over matches without the domain. ``host_var(host, name)`` reads
    a host's (templated) variable; a host with ``hyperv_vm_id`` is a VM (the inventory plugin's guests carry their
    Hyper-V host's ``hyperv_computer_name``) and is never the node. More than one result is ambiguous."""
    hosts = list(host_names)
    by_name = [(names_node(host, owner), host) for host in hosts]
    found = _best(by_name)
    if found:
        return found
    by_variable = []
    for host in hosts:
        if host_var(host, "hyperv_vm_id"):
            continue
        kinds = [names_node(host_var(host, variable), owner) for variable in ("ansible_host", "hyperv_computer_name")]
        kind = "exact" if "exact" in kinds else "short" if "short" in kinds else None
        by_variable.append((kind, host))
    return _best(by_variable)


def _best(matches: list[tuple[str | None, str]]) -> list[str]:
    exact = [host for kind, host in matches if kind == "exact"]
    return exact or [host for kind, host in matches if kind == "short"]


def connection_variables(node: str, variables: Mapping[str, Any], default_connection: str) -> dict[str, Any]:
    """What opens a connection to the inventory host ``node``: its ``ansible_*`` variables, with the task's own
    connection type when it names none, and its inventory name as the address when it has no ``ansible_host``."""
    chosen = {key: value for key, value in variables.items() if isinstance(key, str) and key.startswith("ansible_")}
    chosen.setdefault("ansible_connection", default_connection)
    chosen.setdefault("ansible_host", node)
    for prefix in ("ansible.builtin.", "ansible.legacy."):
        connection = str(chosen["ansible_connection"])
        if connection.startswith(prefix):
            chosen["ansible_connection"] = connection[len(prefix):]
    return chosen


def addresses_one_vm(operation: str, params: Mapping[str, Any]) -> bool:
    """Whether the operation is about one VM, so that all of it can run on that VM's node: a listing of several
    VMs cannot move as a whole (the others may run here)."""
    if "VMId" in params or operation == "get_vm":
        return True
    if operation == "get_vms":
        return not params.get("All") and len(params.get("Names") or []) + len(params.get("Ids") or []) == 1
    if operation == "set_checkpoint_settings":
        return len(params.get("Changes") or []) == 1
    return False


def refusal_message(vm: str, owner: str, reason: str, host: str, detail: str = "") -> str:
    """The message of an ``owned_by_other_node`` failure that was not followed: which node runs the VM, why the
    task did not go there, and what to change."""
    where = "VM '%s' runs on cluster node %s, not on %s" % (vm, owner, host)
    if reason == NOT_FOLLOWED_DISABLED:
        return "%s, and follow_vm is false: delegate the task to %s" % (where, owner)
    if reason == NOT_FOLLOWED_NOT_IN_INVENTORY:
        return ("%s, and no inventory host is that node: add %s to the inventory (as its inventory name, its "
                "ansible_host or its hyperv_computer_name) with its connection variables, so that the task can "
                "follow the VM there" % (where, owner))
    if reason == NOT_FOLLOWED_AMBIGUOUS:
        return ("%s, and several inventory hosts could be that node (%s): give one of them the host variable "
                "hyperv_computer_name=%s" % (where, detail, owner))
    if reason == NOT_FOLLOWED_UNREACHABLE:
        return "%s, and the task could not connect to it (inventory host %s) to follow the VM" % (where, detail)
    if reason == NOT_FOLLOWED_CONNECTION:
        return ("%s; following the VM there needs ansible_connection winrm or psrp for inventory host %s, not %s"
                % (where, detail.split(" ", 1)[0], detail.split(" ", 1)[-1]))
    if reason == NOT_FOLLOWED_SEVERAL_VMS:
        return "%s; a task about several VMs follows none of them: address this VM in a task of its own" % where
    return "%s, and it moved again while the task followed it %d times: run the task again" % (where, MAX_FOLLOWS)


def followed_warning(vm: str, from_host: str, to_host: str, owner: str) -> str:
    """The warning of a task that followed a VM to another node."""
    return ("VM '%s' runs on cluster node %s, not on %s (the cluster moved it): the task ran there, on inventory "
            "host %s" % (vm, owner, from_host, to_host))
