"""A failover cluster of simulated Hyper-V nodes: a task follows a VM that the cluster moved to another node.

Two (or three) simulator processes serve one state file, each as its own node (``running_simulator(...,
node=)``): the state file is the cluster's shared storage, as Cluster Shared Volumes are, and
``SimHost.live_migrate`` moves a VM between the nodes. Each node is a host of the inventory with its own port,
so a task delegated to hv01 reaches HV02 only by following the VM there (docs/clusters.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys

import pytest

from deprecations import SHOW, assert_no_deprecation
from hyperv_sim import work_log
from hyperv_sim.admin import SimHost
from hyperv_sim.harness import inventory_vars, running_simulator
from isolation import private_socket_dirs
from role_lab import ANSIBLE_BIN, REPO

pytestmark = pytest.mark.integration


class PlaybookRun:
    """The outcome of one ansible-playbook run."""

    def __init__(self, completed):
        self.rc, self.stdout, self.stderr = completed.returncode, completed.stdout, completed.stderr

    def __repr__(self):
        return "PlaybookRun(rc=%s)\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            self.rc, self.stdout[-6000:], self.stderr[-3000:])


class ClusterLab:
    """Nodes HV01 and HV02 (inventory hv01, hv02) of one cluster, VM app01 clustered on HV01."""

    def __init__(self, tmp_path, sims, socket_dirs):
        self.tmp_path = tmp_path
        self.sims = sims
        self.socket_dirs = socket_dirs
        self.host = SimHost(next(iter(sims.values())).state_path)
        self.inventory_hosts = None  # None: every node; else the inventory names to list
        self.connections = {}  # inventory name -> winrm (default) or psrp

    def inventory(self, extra=None):
        hosts = {name: inventory_vars(sim, self.connections.get(name, "winrm")) for name, sim in self.sims.items()
                 if self.inventory_hosts is None or name in self.inventory_hosts}
        hosts.update(extra or {})
        path = self.tmp_path / "inventory.json"
        path.write_text(json.dumps({"all": {"children": {"hyperv": {"hosts": hosts}},
                                            "vars": {"ansible_python_interpreter": sys.executable}}}))
        return path

    def playbook(self, text, extra_vars=None, extra_hosts=None):
        play = self.tmp_path / "play.yml"
        play.write_text(text)
        command = [str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(self.inventory(extra_hosts)), str(play)]
        if extra_vars:
            command += ["-e", json.dumps(extra_vars)]
        env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_RETRY_FILES_ENABLED="False",
                   ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_LOCAL_TEMP=str(self.tmp_path / "ansible-tmp"),
                   **self.socket_dirs)
        env.update(SHOW)
        completed = subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=300,
                                   cwd=str(REPO))
        assert_no_deprecation(completed, ())
        return PlaybookRun(completed)

    def nodes_that_ran(self, operation):
        return [entry.get("node") for entry in self.host.requests() if entry["operation"] == operation]


@pytest.fixture
def cluster(tmp_path):
    state = tmp_path / "cluster-state.json"
    with contextlib.ExitStack() as stack:
        socket_dirs = stack.enter_context(private_socket_dirs())
        hv01 = stack.enter_context(running_simulator(state, vms=["app01", "web01"], node="HV01"))
        hv02 = stack.enter_context(running_simulator(state, node="HV02", user=hv01.user, password=hv01.password))
        lab = ClusterLab(tmp_path, {"hv01": hv01, "hv02": hv02}, socket_dirs)
        lab.host.set_vm("app01", owner_node="HV01")
        yield lab


STEPS = """
- hosts: hv01
  gather_facts: false
  vars:
    ops:
      - {state: present, name: before-patch}
      - {state: restored, name: before-patch}
      - {state: absent, name: before-patch}
  tasks:
    - name: Checkpoint app01 through hv01
      hyperv.checkpoint.hyperv_checkpoint:
        vm: app01
        name: first
      register: first
    - name: The cluster moves app01 to HV02
      ansible.builtin.command:
        argv: ["{{ ansible_python_interpreter }}", "{{ sim }}", admin, --state, "{{ state }}", live-migrate, app01, HV02]
      delegate_to: localhost
      changed_when: true
    - name: Create, restore and delete, still through hv01
      hyperv.checkpoint.hyperv_checkpoint:
        vm: app01
        name: "{{ item.name }}"
        state: "{{ item.state }}"
      loop: "{{ ops }}"
      register: steps
    - name: Read it through hv01
      hyperv.checkpoint.hyperv_checkpoint_info:
        vm: app01
      register: info
    - name: Set its type through hv01
      hyperv.checkpoint.hyperv_checkpoint_type:
        vm: app01
        checkpoint_type: standard
      register: settings
    - name: Delete the first checkpoint by the VM's id
      hyperv.checkpoint.hyperv_checkpoint:
        vm_id: "{{ first.vm.id }}"
        name: first
        state: absent
      register: cleanup
    - name: Keep the results for the test
      ansible.builtin.copy:
        content: >-
          {{ {'first': first, 'steps': steps.results, 'info': info, 'settings': settings,
              'cleanup': cleanup} | to_json }}
        dest: "{{ results }}"
        mode: "0600"
      delegate_to: localhost
"""


def test_every_operation_follows_a_vm_the_cluster_moved(cluster):
    from hyperv_sim.harness import SIMULATOR

    kept = cluster.tmp_path / "results.json"
    run = cluster.playbook(STEPS, {"sim": str(SIMULATOR), "state": str(cluster.host.state_file.path),
                                   "results": str(kept)})
    assert run.rc == 0, run
    outcome = json.loads(kept.read_text())
    first = outcome["first"]
    assert first["hyperv_node"] == "hv01" and not first.get("warnings")
    steps = outcome["steps"]
    assert [step["item"]["state"] for step in steps] == ["present", "restored", "absent"]
    for step in steps:
        assert step["changed"] is True and step["hyperv_node"] == "hv02", step
    # The tasks warn that they followed the VM (ansible-playbook shows a warning it has shown before only once).
    shown = " ".join((run.stdout + run.stderr).split())
    for label in ("app01", first["vm"]["id"]):
        assert shown.count("VM '%s' runs on cluster node HV02, not on hv01 (the cluster moved it): the task ran "
                           "there, on inventory host hv02" % label) == 1, run
    info = outcome["info"]
    assert info["hyperv_node"] == "hv02" and info["vms"][0]["owner_node"] == "HV02"
    assert info["vms"][0]["computer_name"] == "HV02"
    settings = outcome["settings"]
    assert settings["changed"] is True and settings["hyperv_node"] == "hv02"
    cleanup = outcome["cleanup"]
    assert cleanup["changed"] is True and cleanup["hyperv_node"] == "hv02"
    # Each change ran on HV02 itself, over its own connection; HV01 only answered that HV02 owns the VM.
    assert set(cluster.nodes_that_ran("create_checkpoint")) == {"HV01", "HV02"}
    assert cluster.nodes_that_ran("restore_checkpoint") == ["HV02"]
    assert cluster.nodes_that_ran("remove_checkpoints") == ["HV02", "HV02"]
    assert cluster.nodes_that_ran("set_checkpoint_settings") == ["HV02"]
    assert cluster.host.checkpoints("app01") == []
    assert cluster.host.vm("app01")["checkpoint_type"] == "Standard"
    assert cluster.host.consistency_problems() == []


def run_tasks(cluster, tasks, registered, extra_hosts=None, extra_vars=None):
    """Run ``tasks`` (YAML, indented for a play's task list) on hv01, then return the ``registered`` results."""
    kept = cluster.tmp_path / "registered.json"
    saved = ", ".join("'%s': %s" % (name, name) for name in registered)
    play = ("- hosts: hv01\n  gather_facts: false\n  tasks:\n" + tasks +
            "    - name: Keep the results for the test\n"
            "      ansible.builtin.copy:\n"
            "        content: \"{{ {%s} | to_json }}\"\n"
            "        dest: %s\n"
            "        mode: \"0600\"\n"
            "      delegate_to: localhost\n" % (saved, kept))
    run = cluster.playbook(play, extra_vars, extra_hosts)
    assert run.rc == 0, run
    return json.loads(kept.read_text()), run


REFUSALS = """
    - name: Create a checkpoint of a VM that runs on {{ label }}
      hyperv.checkpoint.hyperv_checkpoint:
        vm: app01
        name: refused
        follow_vm: "{{ follow }}"
      register: {{ label }}
      ignore_errors: true
"""


def free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_vm_is_not_followed_where_the_inventory_has_no_way_to_its_node(cluster):
    cluster.host.live_migrate("app01", "HV02")
    tasks = "".join(REFUSALS.replace("{{ label }}", label).replace("{{ follow }}", follow)
                    for label, follow in (("disabled", "false"), ("unreachable", "true")))
    # hv02 in the inventory, but at a port nothing listens on.
    unreachable = dict(inventory_vars(cluster.sims["hv02"]), ansible_port=free_port())
    outcome, dummy = run_tasks(cluster, tasks, ["disabled", "unreachable"], extra_hosts={"hv02": unreachable})
    cluster.inventory_hosts = {"hv01"}
    missing, dummy = run_tasks(cluster, REFUSALS.replace("{{ label }}", "missing").replace("{{ follow }}", "true"),
                               ["missing"])
    outcome.update(missing)

    for label, reason in (("disabled", None), ("unreachable", "unreachable"), ("missing", "not_in_inventory")):
        result = outcome[label]
        assert result["failed"] is True and result["error_code"] == "owned_by_other_node", (label, result)
        assert result["error_details"]["owner_node"] == "HV02"
        assert result["error_details"].get("follow") == reason, (label, result)
        assert result["hyperv_node"] == "hv01"
    assert "add HV02 to the inventory" in outcome["missing"]["msg"]
    assert "could not connect to it (inventory host hv02" in outcome["unreachable"]["msg"]
    assert cluster.host.checkpoints("app01") == []
    assert "HV02" not in cluster.nodes_that_ran("create_checkpoint") + cluster.nodes_that_ran("get_vms")


FOLLOWED_CREATE = """
    - name: Create a checkpoint; the cluster moves the VM as the create starts
      hyperv.checkpoint.hyperv_checkpoint:
        vm: app01
        name: moved-while-asked
      register: created
"""


def test_a_vm_moved_between_the_read_and_the_create_is_created_on_its_new_node(cluster):
    # The node named by its domain name: found without the domain.
    cluster.sims["hv02.example.com"] = cluster.sims.pop("hv02")
    cluster.host.inject_fault("create_checkpoint", "migrate", vm="app01", target="HV02")
    outcome, dummy = run_tasks(cluster, FOLLOWED_CREATE, ["created"])
    created = outcome["created"]
    assert created["changed"] is True and created["hyperv_node"] == "hv02.example.com"
    assert [checkpoint["name"] for checkpoint in cluster.host.checkpoints("app01")] == ["moved-while-asked"]
    # Read on HV01; the create met the VM gone there and ran on HV02.
    assert cluster.nodes_that_ran("get_vms") == ["HV01"]
    assert cluster.nodes_that_ran("create_checkpoint") == ["HV01", "HV02"]


def test_a_vm_in_a_live_migration_is_waited_for_then_followed(cluster):
    # The migration takes 8 seconds from the create's first attempt: that attempt, and any retry before it ends,
    # meet a VM that refuses changes (InvalidState, MigratingVirtualMachine). 8 s outlasts the 5 s a failed create
    # waits for a fresh checkpoint list, so that a retry certainly meets the migration too.
    cluster.host.inject_fault("create_checkpoint", "migrate", vm="app01", target="HV02", hang_seconds=8)
    outcome, dummy = run_tasks(cluster, FOLLOWED_CREATE, ["created"])
    created = outcome["created"]
    assert created["changed"] is True and created["hyperv_node"] == "hv02"
    assert [checkpoint["name"] for checkpoint in cluster.host.checkpoints("app01")] == ["moved-while-asked"]
    ran = cluster.nodes_that_ran("create_checkpoint")
    assert ran[-1] == "HV02" and set(ran[:-1]) == {"HV01"} and len(ran) >= 3
    moves = [event for event in cluster.host.events("app01") if event["cmdlet"] == "Move-ClusterVirtualMachineRole"]
    assert moves == [dict(moves[0], node="HV02", seconds=8.0)]


def test_cluster_shared_volume_space_comes_from_the_cluster_and_a_user_without_cluster_rights_is_told(cluster):
    csv = "C:\\ClusterStorage\\Volume1\\"
    cluster.host.set_free_space(42, volume=csv, size_gb=2048, csv=True)
    cluster.host.set_vm("web01", disk_folder=csv + "VMs\\web01", checkpoint_location=csv + "VMs\\web01")
    reads = """
    - name: Read web01, whose disks are on a Cluster Shared Volume
      hyperv.checkpoint.hyperv_checkpoint_info:
        vm: web01
      register: {label}
    - name: Look for a VM that is on no node
      hyperv.checkpoint.hyperv_checkpoint:
        vm: nosuch01
        name: x
      register: {label}_missing
      ignore_errors: true
"""
    readable, dummy = run_tasks(cluster, reads.format(label="readable"), ["readable", "readable_missing"])
    # The cluster's own figure for the volume, not the system drive's (C:\ has 500 GB free).
    assert readable["readable"]["vms"][0]["volumes"] == [
        {"path": csv, "free_bytes": 42 * 1024 ** 3, "size_bytes": 2048 * 1024 ** 3}]
    assert readable["readable_missing"]["error_code"] == "vm_not_found"

    cluster.host.set_host(cluster_readable=False)
    denied, run = run_tasks(cluster, reads.format(label="denied"), ["denied", "denied_missing"])
    # Unknown rather than another disk's space; the lookup says the cluster could not be read, and why.
    assert denied["denied"]["vms"][0]["volumes"] == [{"path": csv, "free_bytes": None, "size_bytes": None}]
    missing = denied["denied_missing"]
    assert missing["error_code"] == "cluster_unreadable", missing
    assert missing["error_details"]["vm"] == "nosuch01" and missing["error_details"]["computer_name"] == "HV01"
    assert "You do not have administrative privileges on the cluster" in missing["msg"]
    assert "Grant-ClusterAccess" in missing["msg"]


# One listing of the cluster's VM owners (Read-ClusterOwners): the resources, piped to Get-ClusterParameter.
LISTING = {"Get-ClusterResource": 1, "Get-ClusterParameter": 1}


def cluster_work(cluster):
    """Each operation since the last reset of the work log, oldest first, with its FailoverClusters calls."""
    return [(record["operation"], {cmdlet: calls for cmdlet, calls in record["cmdlets"].items() if "Cluster" in cmdlet})
            for record in work_log.read(cluster.host.state_file.path)]


def test_reading_several_clustered_vms_asks_the_cluster_once_per_operation(cluster):
    """Issue 23: the owners of N clustered VMs come from one listing of the cluster per operation (Get-ClusterResource
    piped to Get-ClusterParameter -Name VmId), not from one Get-ClusterResource -VMId per VM; every operation reads
    it anew, so a VM the cluster moved between two reads shows its new owner in the second."""
    names = ["app01", "db01", "db02", "db03"]
    for name in names[1:]:
        cluster.host.add_vm(name, owner_node="HV01")
    tasks = """
    - name: Read four clustered VMs through hv01
      hyperv.checkpoint.hyperv_checkpoint_info:
        vm: [app01, db01, db02, db03]
        include_sizes: false
      register: {label}
"""
    cluster.host.reset_work()
    first, dummy = run_tasks(cluster, tasks.format(label="first"), ["first"])
    assert {vm["name"]: (vm["owner_node"], vm["computer_name"]) for vm in first["first"]["vms"]} == dict.fromkeys(
        names, ("HV01", "HV01"))
    assert cluster_work(cluster) == [("get_vms", LISTING)]

    # Between the reads the cluster moves db02 to HV02, and is handing db03 over (HV01 still lists it).
    cluster.host.live_migrate("db02", "HV02")
    cluster.host.set_vm("db03", owner_node="HV02", listed_here=True)
    cluster.host.reset_work()
    second, dummy = run_tasks(cluster, tasks.format(label="second"), ["second"])
    owners = {vm["name"]: (vm["owner_node"], vm["computer_name"]) for vm in second["second"]["vms"]}
    assert owners == {"app01": ("HV01", "HV01"), "db01": ("HV01", "HV01"), "db02": ("HV02", "HV02"),
                      "db03": ("HV02", "HV01")}, owners
    # hv01's listing also told that db02 runs on HV02; there, db02 alone is asked for.
    # Following db02 takes the action more than one operation (hv01 reports it missing and names its owner, then
    # HV02 reads it); each asks the cluster once at most: hv01's reads of several VMs the listing, a read of db02
    # alone one lookup.
    work = cluster_work(cluster)
    assert ("get_vms", LISTING) in work and all(calls in (LISTING, {"Get-ClusterResource -VMId": 1},
                                                          {"Get-ClusterGroup": 1}, {}) for dummy, calls in work), work


def test_a_listing_of_several_vms_reads_each_on_the_node_that_runs_it(cluster):
    cluster.host.live_migrate("app01", "HV02")
    tasks = """
    - name: Read two VMs through hv01; app01 runs on HV02
      hyperv.checkpoint.hyperv_checkpoint_info:
        vm: [app01, web01]
      register: both
    - name: The same with a VM that is nowhere
      hyperv.checkpoint.hyperv_checkpoint_info:
        vm: [app01, nosuch01, web01]
        on_missing: report
      register: reported
    - name: And failing for it
      hyperv.checkpoint.hyperv_checkpoint_info:
        vm: [app01, nosuch01]
      register: failed
      ignore_errors: true
"""
    outcome, dummy = run_tasks(cluster, tasks, ["both", "reported", "failed"])
    for label in ("both", "reported"):
        found = {vm["name"]: vm["computer_name"] for vm in outcome[label]["vms"]}
        assert found == {"app01": "HV02", "web01": "HV01"}, outcome[label]
        assert outcome[label]["hyperv_node"] == "hv01"
    assert [entry["vm"] for entry in outcome["reported"]["missing_vms"]] == ["nosuch01"]
    assert outcome["reported"]["missing_vms"][0]["error_code"] == "vm_not_found"
    assert outcome["failed"]["error_code"] == "vm_not_found" and "nosuch01" in outcome["failed"]["msg"]
    assert "HV02" in cluster.nodes_that_ran("get_vms")


def test_a_list_of_vms_is_set_on_the_nodes_that_run_them_over_psrp(cluster):
    # hv02 is reached over PowerShell remoting: following opens the node's own connection plugin.
    cluster.connections["hv02"] = "psrp"
    cluster.host.live_migrate("app01", "HV02")
    tasks = """
    - name: Set two VMs' type through hv01; app01 runs on HV02
      hyperv.checkpoint.hyperv_checkpoint_type:
        vm: [app01, web01]
        checkpoint_type: standard
      register: both
    - name: A list with a VM that is nowhere changes nothing
      hyperv.checkpoint.hyperv_checkpoint_type:
        vm: [app01, web01, nosuch01]
        checkpoint_type: production
      register: refused
      ignore_errors: true
"""
    outcome, dummy = run_tasks(cluster, tasks, ["both", "refused"])
    both = outcome["both"]
    assert both["changed"] is True and both["hyperv_node"] == "hv01", both
    assert sorted(entry["name"] for entry in both["vms"] if entry["changed"]) == ["app01", "web01"]
    assert {cluster.host.vm(name)["checkpoint_type"] for name in ("app01", "web01")} == {"Standard"}
    assert cluster.nodes_that_ran("set_checkpoint_settings") == ["HV01", "HV02"]
    assert outcome["refused"]["error_code"] == "vm_not_found" and "nosuch01" in outcome["refused"]["msg"]
    assert len(cluster.nodes_that_ran("set_checkpoint_settings")) == 2
