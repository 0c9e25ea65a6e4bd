"""Issue 23, part 4: real-host behaviours the simulator models (docs/host-fidelity.md lists each with its source).

Real ansible-playbook runs against the simulated host: a VM's checkpoint list served from the Hyper-V
module's 5-second cache, an InvalidState that waiting cannot clear, a disk file that cannot be read,
and a type-override marker another account wrote.
"""

from __future__ import annotations

import datetime

import pytest

from role_lab import role_lab  # noqa: F401  (the fixture)
from test_host_fidelity import cmdlets_since, play
from test_hyperv_checkpoint import assert_ok
from test_safe_change import APP_FILES, SITE, TASKS, stale_name

pytestmark = pytest.mark.integration


def test_nothing_depends_on_a_fresh_checkpoint_list(lab):
    """Within 5 s of the list read before, Get-VMSnapshot -VM misses a new checkpoint and still lists a deleted
    one: creates, deletes of a subtree and the reads after them give the same answers as with fresh lists."""
    lab.host.reset_work()
    run = play(lab, "cached_lists", (
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: first}\n"
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: second}\n"
        "      register: second\n"
        "    - hyperv.checkpoint.hyperv_checkpoint_info: {vm: [web01]}\n"
        "      register: info\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - info.vms[0].checkpoints | map(attribute='name') | list == ['first', 'second']\n"
        "          - info.vms[0].checkpoint_count == 2\n"
        "          - second.checkpoint.is_current\n"
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: first, state: absent, include_children: true}\n"
        "      register: deleted\n"
        "    - ansible.builtin.assert:\n"
        "        that: [deleted.changed, deleted.removed | length == 1]\n"))
    assert_ok(run)
    assert lab.host.checkpoints("web01") == []
    # Each create read the VM's list twice (before and after the checkpoint): the second time from the cache.
    assert lab.host.work()["cmdlets"]["Get-VMSnapshot -VM"] >= 4


def test_the_lock_is_checked_on_a_list_read_after_the_create(role_lab):
    """Another run takes its checkpoint of the VM after this run's create first read the VM's checkpoints: the
    create's own list (the module's cache) misses it, so the role reads the VM again to see the race it lost."""
    host = role_lab.add_hyperv("hv01", vms=["race01"])
    role_lab.add_guest("race01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_ok.yml"))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    other = stale_name("CHG-OTHER", when=now)
    host.set_vm("race01", concurrent_checkpoint=other)
    before = role_lab.digest("race01")
    run = role_lab.playbook(SITE)
    result = run.result("race01")
    assert result["outcome"] == "skipped", result
    assert "Another safe_change run took its checkpoint of VM 'race01' at the same time" in result["msg"], result
    assert result["checkpoint"]["state"] == "deleted"
    assert role_lab.checkpoint_names("race01") == [other]
    assert role_lab.digest("race01") == before


@pytest.mark.parametrize("state", ["Saved", "Paused"])
def test_a_production_checkpoint_of_a_saved_or_paused_vm_is_not_retried(lab, state):
    """ProductionOnly of a Saved or Paused VM fails InvalidState, a state that waiting does not clear: no retry."""
    lab.host.set_vm("web01", state=state, checkpoint_type="ProductionOnly")
    seen = len(lab.host.events("web01"))
    run = play(lab, "production_only", (
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: cp, checkpoint_type: production_only}\n"
        "      register: refused\n"
        "      ignore_errors: true\n"
        "    - ansible.builtin.assert:\n"
        "        that: [refused.failed, refused.error_code == 'production_checkpoint_failed']\n"
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: cp, checkpoint_type: production}\n"
        "      register: fell_back\n"
        "    - ansible.builtin.assert:\n"
        "        that: [fell_back.taken_type == 'standard', fell_back.fell_back, fell_back.vm.checkpoint_type == "
        "'ProductionOnly']\n"), verbosity=3)
    assert_ok(run)
    assert "failed transiently" not in run.stdout  # never answered busy
    requests = [entry for entry in lab.host.requests() if entry.get("operation") == "create_checkpoint"]
    assert len(requests) == 2, requests  # one request per task: nothing was retried
    assert [cp["name"] for cp in lab.host.checkpoints("web01")] == ["cp"]
    assert "Checkpoint-VM" in cmdlets_since(lab, "web01", seen)


def test_a_disk_file_that_cannot_be_read_makes_the_chain_size_unknown(lab):
    lab.host.add_checkpoint("web01", "before")
    lab.host.set_vm("web01", unreadable_disk=True)
    run = play(lab, "unreadable", (
        "    - hyperv.checkpoint.hyperv_checkpoint_info: {vm: [web01, db01], include_sizes: true}\n"
        "      register: info\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - info.vms[0].disk_chain_bytes is none\n"
        "          - info.vms[0].checkpoints[0].size_bytes is none\n"
        "          - info.vms[1].disk_chain_bytes > 0\n"))
    assert_ok(run)


def test_a_marker_of_another_account_is_waited_for_not_ignored(lab):
    """A marker this account may not open (another account's) counts as held: the create waits (busy) and does
    not switch the type under that run; the VM's record shows it as live."""
    lab.host.set_vm("web01", type_override={"original": "Production", "live": False, "other_account": True})
    lab.host.set_vm("web01", checkpoint_type="Standard")
    run = play(lab, "other_account", (
        "    - hyperv.checkpoint.hyperv_checkpoint_info: {vm: [web01]}\n"
        "      register: info\n"
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: cp, checkpoint_type: production}\n"
        "      register: waited\n"
        "      ignore_errors: true\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - \"info.vms[0].type_override == {'original_type': None, 'live': True}\"\n"
        "          - waited.failed and waited.error_code == 'busy'\n"
        "          - waited.error_details.reason == 'type_override_other_account'\n"))
    assert_ok(run)
    vm = lab.host.vm("web01")
    assert vm["checkpoint_type"] == "Standard" and vm["checkpoints"] == {}
    assert "Set-VM" not in [event["cmdlet"] for event in lab.host.events("web01")]
