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

from conftest import ANSIBLE_BIN, REPO, PlaybookRun, SimHost, inventory_vars, private_socket_dirs, running_simulator
from deprecations import SHOW, assert_no_deprecation


class ClusterLab:
    """Nodes HV01 and HV02 (inventory hv01, hv02) of one cluster, VM app01 clustered on HV01."""

    def __init__(self, tmp_path, sims, socket_dirs):
        self.tmp_path = tmp_path
        self.sims = sims
        self.socket_dirs = socket_dirs
        self.host = SimHost(next(iter(sims.values())).state_path)
        self.inventory_hosts = None  # None: every node; else the inventory names to list

    def inventory(self, extra=None):
        hosts = {name: inventory_vars(sim) for name, sim in self.sims.items()
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
      ansible.builtin.command: "{{ ansible_python_interpreter }} {{ sim }} admin --state {{ state }} live-migrate app01 HV02"
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
        content: "{{ {'first': first, 'steps': steps.results, 'info': info, 'settings': settings, 'cleanup': cleanup} | to_json }}"
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
