"""The safe_change role on a failover cluster: the VM moves to another node while the change runs.

Two simulated nodes serve one state file, the cluster's shared storage (``running_simulator(..., node=)``);
every guest's ``hyperv_host`` is hv01. A task of the guest's own change or verification live-migrates its VM to
HV02 (``hyperv-sim admin live-migrate``, as VM load balancing or a node drained by Cluster-Aware Updating would),
once at each point between the role's steps: the role then commits or reverts on HV02, and the record names the
node that holds the checkpoint (docs/clusters.md).
"""

from __future__ import annotations

import pytest

from role_lab import role_lab  # noqa: F401  (the fixture)
from hyperv_sim.admin import SimHost
from hyperv_sim.harness import SIMULATOR, running_simulator
from test_safe_change import APP_FILES, SITE, TASKS

pytestmark = pytest.mark.integration

# A task of the guest that makes the cluster move its VM to HV02 (the guest's commands run on the controller).
MIGRATE = """
- name: Test change | The cluster moves this VM to HV02
  ansible.builtin.command:
    argv: ["{{ ansible_python_interpreter }}", "%s", admin, --state, "{{ ansible_sim_state }}", live-migrate,
           "{{ hyperv_vm_name }}", HV02]
  changed_when: true
""" % SIMULATOR


def tasks_file(tmp_path, name, *parts):
    """A task file of the given parts: MIGRATE, or the name of a task file of the safe_change target."""
    text = "---\n" + "".join(part if part == MIGRATE else (TASKS / part).read_text().replace("---\n", "", 1)
                             for part in parts)
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def add_cluster(lab, vms):
    """Nodes HV01 (inventory hv01) and HV02 (hv02) of one cluster, ``vms`` clustered and running on HV01."""
    state = lab.tmp_path / "cluster-state.json"
    for name, node in (("hv01", "HV01"), ("hv02", "HV02")):
        sim = lab._stack.enter_context(running_simulator(state, vms=list(vms) if name == "hv01" else [], node=node))
        lab.sims[name] = sim
        lab.connections[name] = ("winrm", "key")
        lab.hosts[name] = SimHost(sim.state_path)
    host = lab.hosts["hv01"]
    host.set_host(merge_seconds=0)
    for vm in vms:
        lab._vm_host[vm] = "hv01"
        host.set_vm(vm, owner_node="HV01")
    return host


def test_a_vm_that_moves_at_each_step_is_committed_or_reverted_on_the_node_it_runs_on(role_lab, tmp_path):
    host = add_cluster(role_lab, ["mig-change", "mig-verify", "mig-delete", "mig-revert", "stay01"])
    verify = {"safe_change_verify_tasks": str(TASKS / "verify_version.yml")}
    # Between the checkpoint and the change.
    role_lab.add_guest("mig-change", files=APP_FILES,
                       safe_change_tasks=tasks_file(tmp_path, "before_change.yml", MIGRATE, "change_ok.yml"), **verify)
    # Between the change and its verification.
    role_lab.add_guest("mig-verify", files=APP_FILES,
                       safe_change_tasks=tasks_file(tmp_path, "before_verify.yml", "change_ok.yml", MIGRATE), **verify)
    # Between the verification and the delete of the checkpoint.
    role_lab.add_guest("mig-delete", files=APP_FILES, safe_change_tasks=str(TASKS / "change_ok.yml"),
                       safe_change_verify_tasks=tasks_file(tmp_path, "before_delete.yml", "verify_version.yml",
                                                           MIGRATE))
    # Between a change that fails and the revert.
    role_lab.add_guest("mig-revert", files=APP_FILES,
                       safe_change_tasks=tasks_file(tmp_path, "before_revert.yml", MIGRATE, "change_fail.yml"),
                       safe_change_verify_command='test -f "$GUEST_DISK/app/data.bin"')
    # A VM the cluster leaves where it is.
    role_lab.add_guest("stay01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_ok.yml"), **verify)
    before = role_lab.digest("mig-revert")

    run = role_lab.playbook(SITE)

    assert {guest: run.recap[guest]["failures"] for guest in role_lab.guests} == {
        "mig-change": 0, "mig-verify": 0, "mig-delete": 0, "mig-revert": 1, "stay01": 0}, run
    for guest in ("mig-change", "mig-verify", "mig-delete"):
        result = run.result(guest)
        assert result["outcome"] == "committed" and not result["needs_attention"], (guest, result)
        assert result["checkpoint"]["state"] == "deleted", (guest, result)
        assert result["checkpoint"]["hyperv_node"] == "hv02", (guest, result)
        assert (role_lab.disk(guest) / "app" / "version").read_text() == "2.0\n", guest
    reverted = run.result("mig-revert")
    assert reverted["outcome"] == "reverted" and reverted["failed_phase"] == "change", reverted
    assert reverted["post_revert_verification"] == "passed" and reverted["checkpoint"]["restored"] is True
    assert reverted["checkpoint"]["state"] == "deleted" and reverted["checkpoint"]["hyperv_node"] == "hv02"
    # Restored on HV02, from the cluster's shared storage: the disk is what it was before the change.
    assert role_lab.digest("mig-revert") == before
    stayed = run.result("stay01")
    assert stayed["outcome"] == "committed" and stayed["checkpoint"]["hyperv_node"] == "hv01"

    for guest in role_lab.guests:
        vm = host.vm(guest)
        assert vm["checkpoints"] == {} and vm["state"] == "Running", guest
    assert {guest: host.vm(guest)["owner_node"] for guest in role_lab.guests} == {
        "mig-change": "HV02", "mig-verify": "HV02", "mig-delete": "HV02", "mig-revert": "HV02", "stay01": "HV01"}
    # The deletes and the restore ran on HV02 itself; HV01 only said where the VMs had gone.
    by_node = {}
    for entry in host.requests():
        if entry["operation"] in ("remove_checkpoints", "restore_checkpoint"):
            vm_id = entry["params"]["VMId"]
            by_node.setdefault(vm_id, set()).add((entry["operation"], entry["node"]))
    moved = {host.vm(guest)["id"] for guest in ("mig-change", "mig-verify", "mig-delete", "mig-revert")}
    for vm_id in moved:
        assert {node for operation, node in by_node[vm_id]} <= {"HV01", "HV02"}
        assert ("remove_checkpoints", "HV02") in by_node[vm_id], by_node
    assert ("restore_checkpoint", "HV02") in by_node[host.vm("mig-revert")["id"]]
    assert host.consistency_problems() == []


def test_with_following_off_a_vm_that_moved_keeps_its_checkpoint_and_says_why(role_lab, tmp_path):
    """safe_change_follow_vm: false. The VM moves to HV02 between the checkpoint and the change: the change is
    applied on the guest, but the delete delegated to hv01 is refused (owned_by_other_node), so the checkpoint is
    kept, recorded as kept with the reason, and nothing ran on HV02."""
    host = add_cluster(role_lab, ["nofollow01"])
    role_lab.add_guest("nofollow01", files=APP_FILES, safe_change_follow_vm=False,
                       safe_change_tasks=tasks_file(tmp_path, "moves.yml", MIGRATE, "change_ok.yml"),
                       safe_change_verify_tasks=str(TASKS / "verify_version.yml"))
    run = role_lab.playbook(SITE)

    result = run.result("nofollow01")
    assert result["outcome"] == "committed" and result["checkpoint"]["state"] == "kept", result
    assert result["checkpoint"]["hyperv_node"] == "hv01", result
    assert any("owned by node HV02" in note or "owned_by_other_node" in note for note in result["notes"]), result
    assert [cp["name"] for cp in host.checkpoints("nofollow01")] == [result["checkpoint"]["name"]]
    assert not [entry for entry in host.requests() if entry.get("node") == "HV02"], host.requests()
