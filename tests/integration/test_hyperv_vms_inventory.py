"""The inventory plugin hyperv.checkpoint.hyperv_vms against simulated Hyper-V hosts.

Real ``ansible-inventory`` / ``ansible-playbook`` runs: the plugin connects over WinRM (NTLM
with message encryption) to two simulated hosts, HV01 and HV02, which form a cluster once a
VM migrates between them.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
import sys

import pytest

# tests/sim is on sys.path (conftest.py of this directory).
from hyperv_sim.admin import SimHost
from hyperv_sim.harness import running_simulator
from deprecations import SHOW, assert_no_deprecation

REPO = pathlib.Path(__file__).resolve().parents[2]
ANSIBLE_BIN = pathlib.Path(sys.executable).parent

PLUGIN = "hyperv.checkpoint.hyperv_vms"


def _plain(value):
    # ansible-inventory marks values that came from the hosts as unsafe: {"__ansible_unsafe": value}.
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class InventoryLab:
    """Two simulated hosts and inventory sources of the plugin pointing at them."""

    def __init__(self, tmp_path, hv01, hv02):
        self.tmp_path = tmp_path
        self.sims = {"hv01": hv01, "hv02": hv02}
        self.hosts = {name: SimHost(sim.state_path) for name, sim in self.sims.items()}
        self.env = dict(os.environ, HYPERV_INVENTORY_USER=hv01.user, HYPERV_INVENTORY_PASSWORD=hv01.password,
                        ANSIBLE_INVENTORY_ENABLED=PLUGIN, ANSIBLE_INVENTORY_UNPARSED_FAILED="True",
                        ANSIBLE_NOCOLOR="1", **SHOW,
                        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))

    def endpoint(self, name, inventory_name=None):
        return {"name": inventory_name or name, "address": "127.0.0.1", "port": self.sims[name].port}

    def source(self, file_name, **options):
        # Generous: a reply that a busy machine delays past the read timeout (this + 1 s) is retried.
        config = {"plugin": PLUGIN, "scheme": "http", "connection_timeout": 30}
        config.update(options)
        path = self.tmp_path / file_name
        path.write_text(json.dumps(config))
        return path

    def inventory(self, source, *arguments):
        completed = subprocess.run([str(ANSIBLE_BIN / "ansible-inventory"), "-i", str(source), "--list", *arguments],
                                   capture_output=True, text=True, env=self.env, timeout=120, cwd=str(REPO), check=False)
        assert_no_deprecation(completed)
        assert completed.returncode == 0, completed.stderr
        return _plain(json.loads(completed.stdout))

    def playbook(self, source, play):
        """ansible-playbook with the plugin's inventory; the credentials come as an AWX Machine credential would."""
        sim = self.sims["hv01"]
        completed = subprocess.run(
            [str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(source), str(play), "-e",
             json.dumps({"ansible_user": sim.user, "ansible_password": sim.password})],
            capture_output=True, text=True, env=self.env, timeout=240, cwd=str(REPO), check=False)
        assert_no_deprecation(completed)
        assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
        return completed

    def failed_inventory(self, source):
        completed = subprocess.run([str(ANSIBLE_BIN / "ansible-inventory"), "-i", str(source), "--list"],
                                   capture_output=True, text=True, env=self.env, timeout=120, cwd=str(REPO), check=False)
        assert_no_deprecation(completed)
        assert completed.returncode != 0, completed.stdout
        return " ".join(completed.stderr.split())


@pytest.fixture
def inventory_lab(tmp_path):
    with contextlib.ExitStack() as stack:
        hv01 = stack.enter_context(running_simulator(tmp_path / "hv01.json", vms=["web01", "app01"], host_name="HV01"))
        hv02 = stack.enter_context(running_simulator(tmp_path / "hv02.json", vms=["db01", "web01"], host_name="HV02",
                                                     user=hv01.user, password=hv01.password))
        yield InventoryLab(tmp_path, hv01, hv02)


def members(inventory, group):
    return sorted(inventory.get(group, {}).get("hosts", []))


def test_vms_of_two_hosts_follow_a_migration_once_the_cache_is_flushed(inventory_lab):
    lab = inventory_lab
    hv01, hv02 = lab.hosts["hv01"], lab.hosts["hv02"]
    hv01.set_vm("app01", state="Off", checkpoint_type="Standard")
    hv01.add_checkpoint("app01", "before patching")
    web01 = {"hv01": hv01.vm("web01")["id"], "hv02": hv02.vm("web01")["id"]}
    # Cached for an hour: runs within that answer without asking the hosts; --flush-cache asks again.
    source = lab.source(
        "lab.hyperv_vms.yml", hosts=[lab.endpoint("hv01"), lab.endpoint("hv02")],
        compose={"ansible_host": "hyperv_vm_name ~ '.example.com'"},
        keyed_groups=[{"key": "hyperv_vm_name[:3]", "prefix": "role"}],
        groups={"with_checkpoints": "hyperv_checkpoint_count > 0"},
        cache=True, cache_plugin="ansible.builtin.jsonfile", cache_connection=str(lab.tmp_path / "cache"),
        cache_timeout=3600)

    first = lab.inventory(source)
    hostvars = first["_meta"]["hostvars"]
    # web01 exists on both hosts: both get <name>_<id>, neither hides the other.
    assert members(first, "guests") == sorted(["app01", "db01", "web01_" + web01["hv01"], "web01_" + web01["hv02"]])
    app01 = hv01.summary()["vms"][0]
    assert app01["name"] == "app01"
    assert {key: hostvars["app01"][key] for key in (
        "hyperv_host", "hyperv_computer_name", "hyperv_vm_name", "hyperv_vm_id", "hyperv_vm_state",
        "hyperv_checkpoint_type", "hyperv_checkpoint_count", "hyperv_is_clustered", "ansible_host")} == {
        "hyperv_host": "hv01", "hyperv_computer_name": "HV01", "hyperv_vm_name": "app01", "hyperv_vm_id": app01["id"],
        "hyperv_vm_state": "Off", "hyperv_checkpoint_type": "Standard",
        "hyperv_checkpoint_count": app01["checkpoint_count"], "hyperv_is_clustered": False,
        "ansible_host": "app01.example.com"}
    assert app01["checkpoint_count"] >= 1
    assert hostvars["web01_" + web01["hv02"]]["hyperv_host"] == "hv02"
    assert members(first, "hyperv_host_hv01") == sorted(["app01", "web01_" + web01["hv01"]])
    assert members(first, "hyperv_state_off") == ["app01"]
    assert members(first, "hyperv_checkpoint_type_standard") == ["app01"]
    assert members(first, "role_app") == ["app01"]
    assert "app01" in members(first, "with_checkpoints")
    # The Hyper-V hosts, reachable with the plugin's settings but without credentials.
    assert members(first, "hyperv") == ["hv01", "hv02"]
    assert hostvars["hv02"]["ansible_port"] == lab.sims["hv02"].port
    assert hostvars["hv02"]["ansible_winrm_server_cert_validation"] == "validate"
    assert not any("password" in name or name == "ansible_user" for name in hostvars["hv02"])
    # Its computer name, by which a task finds the node it follows a clustered VM to.
    assert hostvars["hv02"]["hyperv_computer_name"] == "HV02"

    # A playbook delegates to hyperv_host.
    play = lab.tmp_path / "info.yml"
    play.write_text(
        "- hosts: guests\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Read the VM on the host that runs it\n"
        "      hyperv.checkpoint.hyperv_checkpoint_info:\n"
        "        vm_id: \"{{ hyperv_vm_id }}\"\n"
        "      delegate_to: \"{{ hyperv_host }}\"\n"
        "      register: found\n"
        "    - name: It is the VM the inventory named\n"
        "      ansible.builtin.assert:\n"
        "        that: found.vms[0].name == hyperv_vm_name and found.host.computer_name == hyperv_computer_name\n")
    completed = lab.playbook(source, play)
    assert "ok=2" in completed.stdout and "failed=0" in completed.stdout

    # The cluster moves app01 to HV02. The cached inventory still has it on HV01; the next
    # run that asks the hosts finds it on HV02.
    hv01.migrate_vm("app01", hv02)
    assert lab.inventory(source)["_meta"]["hostvars"]["app01"]["hyperv_host"] == "hv01"
    second = lab.inventory(source, "--flush-cache")
    assert second["_meta"]["hostvars"]["app01"]["hyperv_host"] == "hv02"
    assert second["_meta"]["hostvars"]["app01"]["hyperv_is_clustered"] is True
    assert members(second, "hyperv_host_hv01") == ["web01_" + web01["hv01"]]
    assert "app01" in members(second, "hyperv_host_hv02")


def test_cluster_nodes_are_listed_once_and_failures_name_the_host(inventory_lab, tmp_path):
    lab = inventory_lab
    lab.hosts["hv01"].migrate_vm("app01", lab.hosts["hv02"])  # HV01 and HV02 now form a cluster
    # The cluster reports HV01 and HV02; the hosts entries name them by FQDN, with their addresses.
    source = lab.source("cluster.hyperv_vms.yml",
                        clusters=[lab.endpoint("hv01", "hvcluster01.example.com")],
                        hosts=[lab.endpoint("hv01", "hv01.example.com"), lab.endpoint("hv02", "hv02.example.com")])
    listed = lab.inventory(source)
    assert members(listed, "hyperv") == ["hv01.example.com", "hv02.example.com"]
    assert listed["_meta"]["hostvars"]["app01"]["hyperv_host"] == "hv02.example.com"
    assert len(members(listed, "guests")) == 4

    # A cluster management node without the Hyper-V module still lists the cluster's nodes.
    with running_simulator(tmp_path / "mgmt.json", host_name="HVMGMT", user=lab.sims["hv01"].user,
                           password=lab.sims["hv01"].password) as mgmt:
        SimHost(mgmt.state_path).set_host(cluster_nodes=["HV01", "HV02"], hyperv_module=False)
        cluster = {"name": "hvmgmt", "address": "127.0.0.1", "port": mgmt.port}
        managed = lab.source("mgmt.hyperv_vms.yml", clusters=[cluster],
                             hosts=[lab.endpoint("hv01", "hv01.example.com"), lab.endpoint("hv02", "hv02.example.com")])
        assert members(lab.inventory(managed), "hyperv") == ["hv01.example.com", "hv02.example.com"]

    # A stand-alone host given as a cluster.
    with running_simulator(tmp_path / "hv03.json", vms=["lone01"], host_name="HV03", user=lab.sims["hv01"].user,
                           password=lab.sims["hv01"].password) as hv03:
        standalone = lab.source("standalone.hyperv_vms.yml",
                                clusters=[{"name": "hv03", "address": "127.0.0.1", "port": hv03.port}])
        assert "not_clustered: Host HV03 is not a node of a running cluster" in lab.failed_inventory(standalone)

    # A host that does not answer within the timeout: it never answers, so the short timeout expires
    # however busy the machine is.
    lab.hosts["hv02"].inject_fault("get_vms", "hang")
    message = lab.failed_inventory(lab.source("hang.hyperv_vms.yml", timeout=1, hosts=[lab.endpoint("hv02")]))
    assert "timeout: the host did not answer within 1 seconds" in message and "(operation get_vms on hv02)" in message

    # Wrong password; TLS validated by default.
    lab.env["HYPERV_INVENTORY_PASSWORD"] = "wrong"
    message = lab.failed_inventory(lab.source("badpass.hyperv_vms.yml", hosts=[lab.endpoint("hv01")]))
    assert "cannot list the VMs of hv01 (127.0.0.1:%d)" % lab.sims["hv01"].port in message
    assert "credentials were rejected" in message
    lab.env["HYPERV_INVENTORY_PASSWORD"] = lab.sims["hv01"].password
    with running_simulator(tmp_path / "tls.json", vms=["web01"], tls=True, host_name="HVTLS") as tls:
        message = lab.failed_inventory(lab.source(
            "tls.hyperv_vms.yml", scheme="https", hosts=[{"name": "hvtls", "address": "127.0.0.1", "port": tls.port}]))
        assert "cannot list the VMs of hvtls" in message and "CERTIFICATE_VERIFY_FAILED" in message
