"""hyperv_checkpoint and hyperv_checkpoint_info over real WinRM (NTLM, message encryption) against the simulator.

The YAML targets under targets/hyperv_checkpoint hold the assertions and also run
against a real Hyper-V host; the tests here arrange the host (through the
simulator's admin API) for the scenarios a real host cannot be put in on demand,
and check the host's state afterwards.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import pathlib

import pytest

pytestmark = pytest.mark.integration


def assert_ok(run):
    assert run.rc == 0, run
    assert "failed=0" in run.stdout, run


def disk_digest(path):
    """Every file under ``path`` with its SHA-256, for byte-for-byte comparison."""
    return {str(item.relative_to(path)): hashlib.sha256(item.read_bytes()).hexdigest()
            for item in sorted(path.rglob("*")) if item.is_file()}


def test_lifecycle_target(lab):
    assert_ok(lab.target("hyperv_checkpoint"))
    # The target removes everything it made; the host agrees.
    assert [cp["name"] for cp in lab.host.checkpoints("web01")] == []


def test_info_target(lab):
    assert_ok(lab.target("hyperv_checkpoint", "info.yml", {"hyperv_test_vm2": "db01"}))


def test_duplicate_names(lab):
    lab.host.add_checkpoint("web01", "before CHG-7")
    lab.host.add_checkpoint("web01", "before CHG-7")
    assert_ok(lab.target("hyperv_checkpoint", "duplicates.yml", {"hyperv_test_duplicate_name": "before CHG-7"}))
    assert lab.host.checkpoints("web01") == []


def test_production_fallback_and_production_only(lab):
    lab.host.set_vm("web01", guest_can_quiesce=False)
    assert_ok(lab.target("hyperv_checkpoint", "production_fallback.yml"))
    assert lab.host.vm("web01")["checkpoint_type"] == "Production"


def test_refusals_change_nothing(lab):
    lab.host.add_vm("locked01", checkpoint_type="Disabled")
    lab.host.add_vm("full01")
    for number in range(50):
        lab.host.add_checkpoint("full01", "old-%02d" % number)
    lab.host.add_vm("foreign01", owner_node="HV02")
    lab.host.add_vm("twin01")
    lab.host.add_vm("twin01")
    before = json.loads(pathlib.Path(lab.sim.state_path).read_text())["vms"]
    run = lab.target("hyperv_checkpoint", "refusals.yml", {
        "hyperv_test_disabled_vm": "locked01",
        "hyperv_test_full_vm": "full01",
        "hyperv_test_foreign_vm": "foreign01",
        "hyperv_test_owner_node": "HV02",
        "hyperv_test_twin_vm": "twin01",
    })
    assert_ok(run)
    assert json.loads(pathlib.Path(lab.sim.state_path).read_text())["vms"] == before


def test_max_age_and_clean_up_by_age(lab):
    for number, days in ((1, 3), (2, 2), (3, 1)):
        lab.host.add_checkpoint("web01", "ansible-test-aged-%d" % number, age_seconds=days * 86400)
    assert_ok(lab.target("hyperv_checkpoint", "aged.yml"))
    assert lab.host.checkpoints("web01") == []


def test_subtree_delete_and_power_states(lab):
    assert_ok(lab.target("hyperv_checkpoint", "subtree_and_power.yml"))
    assert lab.host.vm("web01")["state"] == "Running"
    assert lab.host.checkpoints("web01") == []


# Longer than any test runs: a merge on the simulated host then ends only when the test ends it
# (end_merges_when_polled), so a busy machine that slows the tasks down cannot end one before a later
# task has looked at it, nor make a task wait for one that a fixed duration would have ended.
MERGE_UNTIL_ENDED = 3600


def end_merges_when_polled(lab, run_playbook, vm, times):
    """Run ``run_playbook()`` while ending VM ``vm``'s disk merge each time the controller polls the VM
    after a delete (a get_vm after a remove_checkpoints, as wait_for_merge does), at most ``times``
    times. Returns (the run, how many merges were ended).

    The merges last until ended (MERGE_UNTIL_ENDED); a task that never polls leaves its merge
    running, so a wait that does not happen shows up as a merge that was not ended.
    """
    ended, armed, seen = 0, False, 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(run_playbook)
        while True:
            # Checked after the run ended too, so that no request of it is missed.
            done = future.done()
            requests = lab.host.requests()
            for request in requests[seen:]:
                if request.get("operation") == "remove_checkpoints":
                    armed = True
                elif request.get("operation") == "get_vm" and armed and ended < times:
                    lab.host.set_vm(vm, merging_seconds=0)
                    ended, armed = ended + 1, False
            seen = len(requests)
            if done:
                return future.result(), ended
            # Waits for the run to end, looking at the host's request log in between.
            concurrent.futures.wait([future], timeout=0.2)


def test_merge_wait_refusal_and_timeout(lab):
    # The merge shows at once here, so that a task right after a delete without wait meets it (on a host
    # where it shows late, that task may come first: test_a_merge_that_shows_late_is_still_waited_for).
    lab.host.set_host(merge_seconds=MERGE_UNTIL_ENDED, merge_start_seconds=0)
    # Ended: the merge the first delete waits for, and the one the second delete leaves running once the
    # task that waits before taking a checkpoint polls it. The third delete's merge runs on, so that its
    # task's timeout expires whatever the load.
    run, ended = end_merges_when_polled(
        lab, lambda: lab.target("hyperv_checkpoint", "merge.yml", verbosity=1), "web01", times=2)
    assert_ok(run)
    assert ended == 2, run
    assert "disk merge running" in run.stdout  # progress is shown at -v
    # The timed-out delete left its merge running, as on Hyper-V.
    assert [vm["merging"] for vm in lab.host.summary()["vms"] if vm["name"] == "web01"] == [True]


def test_a_merge_that_shows_late_is_still_waited_for(lab):
    """Remove-VMSnapshot returns before the VM shows MergingDisks: wait=true must not return at once."""
    # The delete's grace period passes in the simulator's time, so the merge shows within it whatever
    # the load; the merge then runs until the controller polls for it.
    lab.host.set_host(merge_start_seconds=2, merge_seconds=MERGE_UNTIL_ENDED)
    play = lab.tmp_path / "late_merge.yml"
    play.write_text(
        "- hosts: hyperv\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: late}\n"
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: late, state: absent}\n"
        "      register: deleted\n"
        "    - hyperv.checkpoint.hyperv_checkpoint_info: {vm: web01}\n"
        "      register: after\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - deleted.actions[0].merge == 'running'\n"
        "          - deleted.merge_seconds is defined\n"
        "          - not deleted.vm.merging and not after.vms[0].merging\n")
    run, ended = end_merges_when_polled(lab, lambda: lab.playbook(play), "web01", times=1)
    assert_ok(run)
    # Without the grace period the delete would have seen an idle VM and returned without polling.
    assert ended == 1, run
    assert [event["cmdlet"] for event in lab.host.events("web01")][-1] == "Remove-VMSnapshot"


def test_connections_lost_before_and_after_the_host_ran_a_change(lab):
    """create, restore and delete, each once with the connection lost after the host ran it and
    once before: no duplicate, no lost checkpoint, reports that match the host."""
    # The second fault of each operation skips the first task's runs: one run after a drop that
    # the task recovers from by reading the host (create), two after one it retries.
    for operation, first, second, skip in (("create_checkpoint", "drop", "drop_before", 1),
                                           ("restore_checkpoint", "drop_before", "drop", 2),
                                           ("remove_checkpoints", "drop_before", "drop", 2)):
        lab.host.inject_fault(operation, first)
        lab.host.inject_fault(operation, second, skip=skip)
    lab.host.inject_fault("get_vms", "fail", code="busy", message="The operation cannot be performed while the "
                          "object is in use.")
    assert_ok(lab.target("hyperv_checkpoint", "retry.yml", {"hyperv_test_expect_recovery": True}))
    assert lab.host.summary()["faults"] == []  # every fault was met
    assert lab.host.checkpoints("web01") == []
    assert lab.host.consistency_problems() == []


def test_hung_operation_times_out(lab):
    lab.host.inject_fault("get_vms", "hang", times=-1)
    assert_ok(lab.target("hyperv_checkpoint", "timeout.yml"))


def test_revert_restores_the_disk_byte_for_byte(lab):
    disk = lab.host.disk_path("web01")
    (disk / "app").mkdir()
    (disk / "app" / "config.ini").write_text("[app]\nversion = 1.4\n")
    (disk / "app" / "data.bin").write_bytes(bytes(range(256)) * 64)
    before = disk_digest(disk)
    play = lab.tmp_path / "revert.yml"
    play.write_text(
        "- hosts: hyperv\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Checkpoint\n"
        "      hyperv.checkpoint.hyperv_checkpoint:\n"
        "        vm: web01\n"
        "        name: before the change\n"
        "      register: made\n"
        "    - name: Let the test change the disk\n"
        "      ansible.builtin.pause:\n"
        "        seconds: 0\n")
    assert_ok(lab.playbook(play))
    # The "change": edit, delete and add files, as an update would.
    (disk / "app" / "config.ini").write_text("[app]\nversion = 2.0-broken\n")
    (disk / "app" / "data.bin").unlink()
    (disk / "new.dll").write_bytes(b"\x00\xff" * 100)
    assert disk_digest(disk) != before
    restore = lab.tmp_path / "restore.yml"
    restore.write_text(
        "- hosts: hyperv\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Revert\n"
        "      hyperv.checkpoint.hyperv_checkpoint:\n"
        "        vm: web01\n"
        "        name: before the change\n"
        "        state: restored\n"
        "      register: reverted\n"
        "    - name: Reverted and running again\n"
        "      ansible.builtin.assert:\n"
        "        that:\n"
        "          - reverted is changed\n"
        "          - reverted.vm.state == 'Running'\n")
    assert_ok(lab.playbook(restore))
    assert disk_digest(disk) == before


def test_check_mode_changes_nothing_on_the_host(lab):
    lab.host.add_checkpoint("web01", "keep-me")
    before = pathlib.Path(lab.sim.state_path).read_text()
    play = lab.tmp_path / "check.yml"
    play.write_text(
        "- hosts: hyperv\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Create\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: new-one}\n"
        "    - name: Restore\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: keep-me, state: restored}\n"
        "    - name: Rename\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: keep-me, new_name: renamed}\n"
        "    - name: Delete\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: keep-me, state: absent}\n")
    run = lab.playbook(play, check=True, diff=True)
    assert_ok(run)
    assert "changed=4" in run.stdout, run
    assert pathlib.Path(lab.sim.state_path).read_text() == before


def test_wrong_password_is_an_authentication_failure(lab):
    lab.sim = dataclasses.replace(lab.sim, password="not-the-password")
    run = lab.target("hyperv_checkpoint", "info.yml", {"hyperv_test_vm2": "db01"})
    assert run.rc != 0
    assert "UNREACHABLE" not in run.stdout and "host_unreachable" in run.stdout, run
    assert "the Hyper-V host hv01 did not answer" in run.stdout and "credentials were rejected" in run.stdout, run


READS = ("get_vms", "get_vm")


def operations_per_task(stdout):
    """The host operations each task ran, from the -vvv log lines 'hyperv <host>: <operation> {...} (attempt N)':
    {task: ([operation of each first attempt], whether an attempt failed transiently)}.

    Only first attempts: a reply that a busy machine delays past the read timeout is retried, honestly,
    once more.
    """
    per_task, current = {}, None
    for line in stdout.splitlines():
        if line.startswith("TASK ["):
            current = line[len("TASK ["):line.index("]")]
            per_task[current] = ([], False)
        elif current and line.startswith("<hv01> hyperv hv01: "):
            operations, retried = per_task[current]
            if line.endswith("(attempt 1)"):
                operations.append(line.split(": ", 1)[1].split(" ", 1)[0])
            per_task[current] = (operations, retried or " failed transiently " in line)
    return per_task


def test_round_trips_one_for_no_change_two_for_a_change(lab):
    lab.host.set_host(merge_seconds=0)
    play = lab.tmp_path / "round_trips.yml"
    play.write_text(
        "- hosts: hyperv\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: create\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: rt}\n"
        "    - name: create again\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: rt}\n"
        "    - name: restore\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: rt, state: restored}\n"
        "    - name: delete\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: rt, state: absent}\n"
        "    - name: delete again\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: rt, state: absent}\n"
        "    - name: info\n"
        "      hyperv.checkpoint.hyperv_checkpoint_info: {vm: web01}\n")
    run = lab.playbook(play, verbosity=3)
    assert_ok(run)
    expected = {
        "create": ["get_vms", "create_checkpoint"],
        "create again": ["get_vms"],
        "restore": ["get_vms", "restore_checkpoint"],
        "delete": ["get_vms", "remove_checkpoints"],
        "delete again": ["get_vms"],
        "info": ["get_vms"],
    }
    ran = operations_per_task(run.stdout)
    assert set(ran) == set(expected), run
    for task, (operations, retried) in ran.items():
        if retried:
            # A retry after a lost reply may read the host to recover (create): the changes stay exact.
            assert [op for op in operations if op not in READS] == [op for op in expected[task] if op not in READS], \
                (task, run)
        else:
            assert operations == expected[task], (task, run)


@pytest.mark.parametrize("transport, tls", [("basic", False), ("basic", True), ("ntlm", True)])
def test_other_transports(start_lab, transport, tls):
    """Basic over http and https, NTLM over https: Ansible's winrm connection, unmodified, against the simulator."""
    lab = start_lab(transport=transport, tls=tls)
    play = lab.tmp_path / "transport.yml"
    play.write_text(
        "- hosts: hyperv\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Checkpoint\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: over-%s}\n" % transport)
    assert_ok(lab.playbook(play))
    assert [cp["name"] for cp in lab.host.checkpoints("web01")] == ["over-%s" % transport]
