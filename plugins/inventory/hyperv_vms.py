# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: hyperv_vms
short_description: Hyper-V VMs as inventory hosts, from Hyper-V hosts and failover clusters
version_added: 0.1.0
description:
  - Connects to Hyper-V hosts over WinRM (Ansible's own C(winrm) connection plugin, so pywinrm with NTLM,
    Kerberos, CredSSP or basic authentication), or over PowerShell remoting (the C(psrp) connection plugin and
    pypsrp, O(connection=psrp)), lists their VMs and adds one inventory host per VM.
  - For each failover cluster in O(clusters) it first asks the cluster for its nodes and then lists the VMs
    of every node that is C(Up) or C(Paused); a clustered VM shows up on the node that owns it at the time of
    the run.
  - Each VM host gets the variables C(hyperv_host) (the inventory name of the Hyper-V host that runs the VM
    now, for C(delegate_to)), C(hyperv_computer_name), C(hyperv_vm_name), C(hyperv_vm_id),
    C(hyperv_vm_state), C(hyperv_checkpoint_type) (as Hyper-V spells it, C(ProductionOnly)),
    C(hyperv_checkpoint_type_option) (as the modules' options spell it, C(production_only); added in 0.2.0),
    C(hyperv_checkpoint_count) (user checkpoints),
    C(hyperv_automatic_checkpoints), C(hyperv_is_clustered) and C(hyperv_merging).
  - Each VM is in the group O(vms_group) and in the groups C(hyperv_host_<host>), C(hyperv_state_<state>) and
    C(hyperv_checkpoint_type_<type>) (lower case); O(keyed_groups), O(groups) and O(compose) add more.
  - The inventory host name of a VM is its name. When several VMs (on one host or on different hosts) share a
    name, each of them is named C(<name>_<vm id>) instead, so no VM hides another.
  - The Hyper-V hosts themselves are added to the group O(hosts_group) with the connection variables the plugin
    used (C(ansible_connection), C(ansible_host), C(ansible_port), C(ansible_winrm_*) or C(ansible_psrp_*)) but no
    credentials;
    give those to the playbook run (an AWX Machine credential, or vault). Each also gets C(hyperv_computer_name), its
    own computer name (added in 0.2.0), by which a task finds the node it follows a clustered VM to
    (docs/clusters.md).
  - The listing fails when a host or cluster cannot be reached or answers with an error, naming it, rather than
    leaving its VMs out silently. A cluster node that is C(Down) is skipped with a warning.
  - The configuration file name must end in C(hyperv_vms.yml) or C(hyperv_vms.yaml).
author:
  - hyperv.checkpoint maintainers (@hyperv-checkpoint)
requirements:
  - pywinrm (with the C(kerberos) or C(credssp) extra for those transports) on the controller or in the execution
    environment; pypsrp for O(connection=psrp).
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; the file is only read when it is set to this value.
    required: true
    type: str
    choices: [hyperv.checkpoint.hyperv_vms]
  hosts:
    description:
      - Hyper-V hosts to list the VMs of.
      - An entry is a host name, which is both the inventory name and the address to connect to, or a dict with
        C(name) (inventory name, required), C(address) (what to connect to, default the name) and C(port)
        (default O(port)).
      - With O(transport=kerberos), the client asks for a ticket to the service principal of the address
        (C(HTTP/<address>), C(WSMAN/<address>) over psrp). When the address is not the name in the host's service
        principals (an IP address, a port forward, a load balancer), give that name as the entry's
        C(kerberos_hostname); the host gets it as C(ansible_winrm_kerberos_hostname_override) or
        C(ansible_psrp_negotiate_hostname_override).
      - A cluster node from O(clusters) whose name, or the first label of whose name, matches an entry here is
        reached through that entry (its address and port) and listed once.
    type: list
    elements: raw
    default: []
  clusters:
    description:
      - Failover clusters (their cluster names, or any node of them) whose nodes' VMs to list.
      - Entries take the same forms as in O(hosts). The nodes are reached by the names the cluster reports for
        them, which the controller must resolve, unless O(hosts) has an entry for the node.
      - Needs the FailoverClusters PowerShell module on the node that answers.
    type: list
    elements: raw
    default: []
  user:
    description:
      - The WinRM user, a member of the group Hyper-V Administrators on every host.
      - For Kerberos, a user principal name such as C(ansible@EXAMPLE.COM).
    type: str
    required: true
    env:
      - name: HYPERV_INVENTORY_USER
  password:
    description:
      - The WinRM user's password. Never put it into the file in clear text; use the environment variable
        (an AWX custom credential type injects it) or an inline vault-encrypted value.
      - With Kerberos, leave it unset to use a ticket that already exists (kinit).
    type: str
    env:
      - name: HYPERV_INVENTORY_PASSWORD
  scheme:
    description: HTTPS (a WinRM HTTPS listener, certificate validated) or HTTP (message encryption with NTLM or Kerberos).
    type: str
    choices: [https, http]
    default: https
  port:
    description: The WinRM port of entries without their own port. Default 5986 with O(scheme=https), 5985 with O(scheme=http).
    type: int
  connection:
    description:
      - The connection plugin the plugin lists the VMs over, and that the Hyper-V hosts it adds get as
        C(ansible_connection).
      - C(ssh) is not offered, because an inventory source has no place for the SSH client's per-host settings
        (keys, known hosts, jump hosts) that an inventory's host variables give; list the VMs over WinRM or PSRP
        and run the tasks over any of the three.
    type: str
    choices: [winrm, psrp]
    default: winrm
    version_added: 0.2.0
  transport:
    description:
      - The authentication, as the C(winrm) connection's C(ansible_winrm_transport) or the C(psrp) connection's
        C(ansible_psrp_auth).
    type: str
    choices: [ntlm, kerberos, credssp, basic]
    default: ntlm
  validate_certs:
    description:
      - Validate the hosts' HTTPS certificates. Turn it off only for a lab; give O(ca_path) for an internal CA instead.
    type: bool
    default: true
  ca_path:
    description: A PEM file with the CA certificates to trust for the hosts' HTTPS certificates.
    type: path
  message_encryption:
    description: Message encryption, as C(ansible_winrm_message_encryption) or C(ansible_psrp_message_encryption).
      C(auto) encrypts over HTTP with NTLM, Kerberos and CredSSP.
    type: str
    choices: [auto, always, never]
    default: auto
  connection_timeout:
    description: Operation and read timeout in seconds (the C(winrm) or C(psrp) connection's C(connection_timeout)).
      Default is pywinrm's (pypsrp's).
    type: int
  timeout:
    description: Seconds one host (or cluster) may take to answer before the listing fails.
    type: int
    default: 300
  vms_group:
    description: The group every VM is added to; the playbooks' default group of guests is C(guests).
    type: str
    default: guests
  hosts_group:
    description: The group the Hyper-V hosts are added to (C(cleanup.yml) and C(report.yml) run on C(hyperv) by default).
    type: str
    default: hyperv
"""

EXAMPLES = r"""
---
# inventory/hyperv_vms.yml: two stand-alone hosts and a cluster, HTTPS with an internal CA.
# User and password come from HYPERV_INVENTORY_USER / HYPERV_INVENTORY_PASSWORD
# (in AWX: a custom credential type on the inventory source, see docs/awx.md).
plugin: hyperv.checkpoint.hyperv_vms
hosts:
  - hv01.example.com
  - hv02.example.com
clusters:
  - hvcluster01.example.com
ca_path: /etc/pki/ca-trust/source/anchors/example-ca.pem

---
# Kerberos, groups by a naming convention, guests reached by their DNS names,
# and the listing cached for an hour.
plugin: hyperv.checkpoint.hyperv_vms
hosts:
  - hv01.example.com
transport: kerberos
user: ansible@EXAMPLE.COM
compose:
  ansible_host: hyperv_vm_name ~ '.example.com'
keyed_groups:
  - key: hyperv_vm_name[:3]
    prefix: role
groups:
  no_checkpoints_allowed: hyperv_checkpoint_type == 'Disabled'
  too_many_checkpoints: hyperv_checkpoint_count > 10
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: /var/tmp/hyperv_vms_cache
cache_timeout: 3600

---
# PowerShell remoting (psrp) instead of WinRS: the hosts are added with ansible_connection=psrp too.
plugin: hyperv.checkpoint.hyperv_vms
hosts:
  - hv01.example.com
connection: psrp
ca_path: /etc/pki/ca-trust/source/anchors/example-ca.pem

---
# A host reached through another address and port (e.g. a jump NAT) under its own name.
plugin: hyperv.checkpoint.hyperv_vms
hosts:
  - name: hv03
    address: 192.0.2.10
    port: 55986
password: !vault |
  $ANSIBLE_VAULT;1.1;AES256
  ...
"""

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _vm_inventory as vm_inventory
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import (
    HostError,
    OperationTimeoutError,
)
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._hyperv_host import HyperVHost
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._remote_connection import open_connection

display = Display()

DEFAULT_PORTS = {"https": 5986, "http": 5985}


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = "hyperv.checkpoint.hyperv_vms"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("hyperv_vms.yml", "hyperv_vms.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)

        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        listings = None
        if use_cache:
            try:
                listings = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if listings is None:
            listings = self._list_vms()
        if update_cache:
            self._cache[cache_key] = listings
        self._populate(listings)

    # -- asking the hosts ------------------------------------------------------------------

    def _connection_variables(self, endpoint):
        return vm_inventory.connection_variables(
            endpoint, self.get_option("scheme"), self.get_option("transport"), self.get_option("validate_certs"),
            self.get_option("ca_path"), self.get_option("message_encryption"), self.get_option("connection_timeout"),
            self.get_option("connection"))

    def _ask(self, endpoint, operation, question):
        """``question(HyperVHost)`` on one endpoint over a fresh winrm connection; errors name the endpoint.

        Through HyperVHost, as the modules do: transient failures are retried and the answer is checked
        against the host protocol.
        """
        variables = self._connection_variables(endpoint)
        variables["ansible_user"] = self.get_option("user")
        if self.get_option("password") is not None:
            variables["ansible_password"] = self.get_option("password")
        display.vvv("hyperv_vms: %s on %s (%s:%s)" % (operation, endpoint.name, endpoint.address, endpoint.port))
        connection = None
        try:
            connection = open_connection(variables)
            return question(HyperVHost(connection, endpoint.name, timeout=self.get_option("timeout"), log=display.vvv))
        except OperationTimeoutError as error:
            # The abandoned command still holds the connection; closing it could hang as well.
            connection = None
            raise AnsibleParserError("hyperv_vms: %s" % error.describe())
        except HostError as error:
            raise AnsibleParserError("hyperv_vms: %s" % error.describe())
        except Exception as error:  # connection plugins raise many types for an unreachable host
            raise AnsibleParserError("hyperv_vms: cannot list the VMs of %s (%s:%s): %s"
                                     % (endpoint.name, endpoint.address, endpoint.port, to_native(error)))
        finally:
            if connection is not None:
                connection.close()

    def _endpoints(self):
        default_port = self.get_option("port") or DEFAULT_PORTS[self.get_option("scheme")]
        try:
            endpoints = vm_inventory.parse_endpoints(self.get_option("hosts"), default_port, "hosts")
            clusters = vm_inventory.parse_endpoints(self.get_option("clusters"), default_port, "clusters")
        except vm_inventory.InventoryConfigError as error:
            raise AnsibleParserError("hyperv_vms: %s" % error)
        if not endpoints and not clusters:
            raise AnsibleParserError("hyperv_vms: give at least one Hyper-V host (hosts) or cluster (clusters)")
        for cluster in clusters:
            nodes = self._ask(cluster, "get_cluster_nodes", lambda host: host.get_cluster_nodes())
            endpoints, skipped = vm_inventory.add_cluster_nodes(endpoints, nodes, default_port)
            for name, state in skipped:
                display.warning("hyperv_vms: cluster %s: node %s is %s; its VMs are not listed" % (cluster.name, name, state))
        return endpoints

    def _list_vms(self):
        """``[{"host": inventory name, "connection": variables, "vms": [VM record, ...]}, ...]``: what is cached."""
        listings = []
        for endpoint in self._endpoints():
            host_record, vms = self._ask(endpoint, "get_vms",
                                         lambda host: host.get_vms(all_vms=True, include_checkpoints=False))
            listings.append({"host": endpoint.name, "connection": self._connection_variables(endpoint), "vms": vms,
                             "computer_name": (host_record or {}).get("computer_name")})
        return listings

    # -- building the inventory --------------------------------------------------------------

    def _populate(self, listings):
        strict = self.get_option("strict")
        hosts_group = self.inventory.add_group(self.get_option("hosts_group"))
        vms_group = self.inventory.add_group(self.get_option("vms_group"))
        for listing in listings:
            self.inventory.add_host(listing["host"], group=hosts_group)
            for name, value in listing["connection"].items():
                self.inventory.set_variable(listing["host"], name, value)
            # How a task finds this node when the cluster names it as the owner of a VM (a cache written by an
            # earlier version has no such key).
            if listing.get("computer_name"):
                self.inventory.set_variable(listing["host"], "hyperv_computer_name", listing["computer_name"])

        pairs, duplicates = vm_inventory.collect_vms(listings)
        for vm_name, vm_id, first, second in duplicates:
            display.warning("hyperv_vms: VM %s (%s) was listed by %s and by %s; it is kept on %s"
                            % (vm_name, vm_id, first, second, first))
        names = vm_inventory.inventory_names(pairs)
        for hyperv_host, vm in pairs:
            host = names[vm["id"]]
            self.inventory.add_host(host, group=vms_group)
            variables = vm_inventory.vm_variables(hyperv_host, vm)
            for name, value in variables.items():
                self.inventory.set_variable(host, name, value)
            for group in vm_inventory.vm_groups(hyperv_host, vm):
                self.inventory.add_child(self.inventory.add_group(self._sanitize_group_name(group)), host)
            self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)
