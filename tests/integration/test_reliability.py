"""Faults and concurrency in real ansible-playbook runs against the simulated Hyper-V host.

Whatever breaks, every VM ends changed and verified, or reverted, or reported as needing a
human with its checkpoint kept; docs/reliability.md maps each failure mode to its test here
(and to the module-level ones in test_hyperv_checkpoint.py).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from hyperv_sim.harness import running_simulator
from role_lab import TARGET, role_lab  # noqa: F401  (the fixture)
from test_safe_change import APP_FILES, SITE, stale_name

pytestmark = pytest.mark.integration

TASKS = TARGET / "tasks"
GATED = str(TASKS / "change_gated.yml")
# hang01's operation timeout. Its create hangs until the simulator stops, so any budget is outlasted;
# the budget only has to let hang01's other operations answer, which take well under a second on an
# idle machine and a few on a loaded one.
HANG_BUDGET_SECONDS = 20


def wait_until(condition, what, timeout=90):
    """Poll ``condition`` (an event: a file, a process's end, the simulator's state) until it is true;
    fails the test naming ``what`` after ``timeout`` seconds, a limit only a broken run reaches (a
    playbook here ends within seconds, well under a minute on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting for " + what
        time.sleep(0.2)


def changed_by(lab, guest):
    """The inventory hosts that wrote their change to the guest's disk (change_gated.yml: a file each)."""
    path = lab.disk(guest) / "app" / "changed_by.d"
    return sorted(writer.name for writer in path.iterdir()) if path.exists() else []


def test_faults_on_the_host_leave_each_vm_changed_reverted_or_untouched(role_lab, tmp_path):
    """One run, one simulated host, a fault per VM: a full checkpoint volume, a production checkpoint
    that fails, a create that hangs, connections lost after a create, a restore and a delete, a VM
    held by a live run's checkpoint, and two guests of the same VM racing for it."""
    gate = tmp_path / "gate"
    gate.mkdir()
    (gate / "release").touch()
    vms = ["full01", "prod01", "hang01", "lostc01", "lostr01", "lostd01", "race01", "live01"]
    host = role_lab.add_hyperv("hv01", vms=vms)
    change_ok, change_fail = str(TASKS / "change_ok.yml"), str(TASKS / "change_fail.yml")
    host.set_vm("full01", checkpoint_volume_full=True)
    role_lab.add_guest("full01", files=APP_FILES, safe_change_tasks=change_ok)
    host.set_vm("prod01", guest_can_quiesce=False)
    role_lab.add_guest("prod01", files=APP_FILES, safe_change_tasks=change_ok,
                       safe_change_checkpoint_type="production_only")
    # The create runs, then hangs until the simulator stops (hang_seconds=0): its answer never comes, so the
    # role's operation timeout is certain to pass first, however long the run takes.
    host.inject_fault("create_checkpoint", "hang", after=True, hang_seconds=0, vm="hang01")
    role_lab.add_guest("hang01", files=APP_FILES, safe_change_tasks=change_ok,
                       safe_change_operation_timeout=HANG_BUDGET_SECONDS)
    host.inject_fault("create_checkpoint", "drop", vm="lostc01")
    role_lab.add_guest("lostc01", files=APP_FILES, safe_change_tasks=change_ok)
    host.inject_fault("restore_checkpoint", "drop", vm="lostr01")
    role_lab.add_guest("lostr01", files=APP_FILES, safe_change_tasks=change_fail)
    host.inject_fault("remove_checkpoints", "drop", vm="lostd01")
    role_lab.add_guest("lostd01", files=APP_FILES, safe_change_tasks=change_ok)
    # A run that started a minute ago holds live01: even policy remove leaves its checkpoint alone.
    live = host.add_checkpoint("live01", stale_name("CHG-LIVE", when="2026-11-25T00:00:00Z"), age_seconds=60)
    role_lab.add_guest("live01", files=APP_FILES, safe_change_tasks=change_ok, safe_change_stale_policy="remove")
    # Two inventory hosts for one VM, with two changes, run the role in lockstep: both find it free,
    # both take a checkpoint. The barrier holds each create until both have arrived, so both runs have
    # certainly read the VM before either checkpoint exists. (It needs both guests in one batch of
    # forks: ansible_environment's ANSIBLE_FORKS is 10, the guests here 9.)
    host.inject_fault("create_checkpoint", "barrier", times=2, vm="race01")
    for guest in ("race_a", "race_b"):
        role_lab.add_guest(guest, vm="race01", files=APP_FILES, safe_change_tasks=GATED, test_gate_dir=str(gate),
                           test_change_id="CHG-" + guest.upper())
    before = {name: role_lab.digest(name) for name in role_lab.guests}

    # The simulator holds the first create's WinRM Send until the second create arrives: a read timeout
    # above the harness's 60 s, so that a slow second fork cannot make the first lose its connection.
    run = role_lab.playbook(SITE, extra_vars={"ansible_winrm_read_timeout_sec": 120})

    for name, expected in (("full01", "volume that holds its checkpoint files is full"),
                           ("prod01", "Production checkpoints cannot be created"),
                           ("hang01", "did not answer within %d seconds" % HANG_BUDGET_SECONDS)):
        result = run.result(name)
        assert result["outcome"] == "skipped" and result["failed"], result
        assert "The checkpoint could not be taken" in result["msg"] and expected in result["msg"], result
        assert role_lab.digest(name) == before[name], name
    assert role_lab.checkpoint_names("full01") == [] and role_lab.checkpoint_names("prod01") == []
    # The hung create went through on the host: the report says so, and the checkpoint stays for later runs.
    assert "may still have taken checkpoint '%s'" % run.result("hang01")["checkpoint"]["name"] \
        in run.result("hang01")["msg"]
    assert role_lab.checkpoint_names("hang01") == [run.result("hang01")["checkpoint"]["name"]]

    for name in ("lostc01", "lostd01"):
        result = run.result(name)
        assert result["outcome"] == "committed" and result["checkpoint"]["state"] == "deleted", result
        assert role_lab.checkpoint_names(name) == [], name
    reverted = run.result("lostr01")
    assert reverted["outcome"] == "reverted" and reverted["post_revert_verification"] == "passed", reverted
    assert role_lab.digest("lostr01") == before["lostr01"]
    assert role_lab.checkpoint_names("lostr01") == []

    held = run.result("live01")
    assert held["outcome"] == "skipped" and "may be the lock of a safe_change run that is still going" in held["msg"], held
    assert [cp["id"] for cp in host.checkpoints("live01")] == [live]
    assert role_lab.digest("live01") == before["live01"]

    outcomes = sorted(run.result(guest)["outcome"] for guest in ("race_a", "race_b"))
    assert outcomes == ["committed", "skipped"], run
    [loser] = [guest for guest in ("race_a", "race_b") if run.result(guest)["outcome"] == "skipped"]
    assert "Another safe_change run took its checkpoint of VM 'race01' at the same time" in run.result(loser)["msg"]
    assert "backed off and deleted its own checkpoint. Nothing was changed" in run.result(loser)["msg"]
    assert run.result(loser)["checkpoint"]["state"] == "deleted"
    assert changed_by(role_lab, "race_a") == [{"race_a", "race_b"}.difference([loser]).pop()]
    assert role_lab.checkpoint_names("race_a") == []

    assert host.summary()["faults"] == [] and host.consistency_problems() == []


def test_two_playbooks_at_once_on_one_vm_one_changes_the_other_refuses(role_lab, tmp_path):
    gate = tmp_path / "gate"
    gate.mkdir()
    host = role_lab.add_hyperv("hv01", vms=["shared01"])
    for guest in ("first", "second"):
        role_lab.add_guest(guest, vm="shared01", files=APP_FILES, safe_change_tasks=GATED, test_gate_dir=str(gate))
    before = role_lab.digest("first")

    runs = [role_lab.start(SITE, limit=guest) for guest in ("first", "second")]
    # The winner waits in its change until the loser has finished: their runs overlap for sure. The
    # first run to end is the loser (the winner cannot end before the gate opens).
    wait_until(lambda: any(process.poll() is not None for process, dummy in runs), "one run to refuse")
    wait_until(lambda: list(gate.glob("*.started")) or all(process.poll() is not None for process, dummy in runs),
               "the other run to start its change")
    assert len(list(gate.glob("*.started"))) == 1
    assert role_lab.digest("first") == before  # nothing written while the winner waits
    (gate / "release").touch()
    first, second = (role_lab.finish(handle) for handle in runs)

    results = {"first": first.result("first"), "second": second.result("second")}
    assert sorted(result["outcome"] for result in results.values()) == ["committed", "skipped"], (first, second)
    [winner] = [guest for guest, result in results.items() if result["outcome"] == "committed"]
    [loser] = [guest for guest, result in results.items() if result["outcome"] == "skipped"]
    assert ("may be the lock of a safe_change run that is still going" in results[loser]["msg"]
            or "Another safe_change run took its checkpoint" in results[loser]["msg"]), results[loser]
    assert changed_by(role_lab, "first") == [winner]
    assert (gate / ("%s.started" % winner)).exists()
    assert role_lab.checkpoint_names("first") == [] and host.consistency_problems() == []


def test_controller_killed_between_checkpoint_and_change(role_lab, tmp_path):
    """The next run finds the checkpoint of the killed run: it refuses while the checkpoint is young
    enough to be a live run's lock, and reuses it when told the run is dead."""
    gate = tmp_path / "gate"
    gate.mkdir()
    host = role_lab.add_hyperv("hv01", vms=["web01"])
    role_lab.add_guest("web01", files=APP_FILES, safe_change_tasks=GATED, test_gate_dir=str(gate))
    before = role_lab.digest("web01")

    killed = role_lab.start(SITE)
    wait_until((gate / "web01.started").exists, "the change to start")
    os.killpg(killed[0].pid, signal.SIGKILL)
    assert killed[0].wait() == -signal.SIGKILL
    [left] = host.checkpoints("web01")
    assert left["name"].startswith("safe_change CHG-TEST by pytest ")
    assert role_lab.digest("web01") == before

    refused = role_lab.playbook(SITE)
    result = refused.result("web01")
    assert result["outcome"] == "skipped" and result["failed"], result
    assert "may be the lock of a safe_change run that is still going" in result["msg"] and left["name"] in result["msg"], result
    assert "safe_change_lock_minutes=0" in result["msg"]
    assert [cp["id"] for cp in host.checkpoints("web01")] == [left["id"]]

    (gate / "release").touch()
    reused = role_lab.playbook(SITE, extra_vars={"safe_change_lock_minutes": 0, "safe_change_stale_policy": "reuse"})
    result = reused.result("web01")
    assert result["outcome"] == "committed" and result["checkpoint"]["reused"], result
    assert result["checkpoint"]["id"] == left["id"] and result["checkpoint"]["state"] == "deleted"
    assert changed_by(role_lab, "web01") == ["web01"]
    assert host.checkpoints("web01") == [] and host.consistency_problems() == []


def test_a_hyperv_host_lost_during_the_delete_or_its_merge_wait_is_reported_as_it_is(role_lab, tmp_path):
    """Issue 22, point 2. The host stops answering while the role commits: for merge01 after the host answered
    the delete (in the merge wait), for gone01 before any delete got an answer. merge01's checkpoint is
    deleted and the record says so; gone01's is UNKNOWN (needs attention, shown at once and in the summary),
    and the next run refuses naming the checkpoint, whose run it was, and what to run."""
    gate = tmp_path / "gate"
    gate.mkdir()
    host = role_lab.add_hyperv("hv01", vms=["merge01", "gone01"])
    # The merge outlasts the wait's retries, so the wait meets the lost host while the merge runs.
    host.set_host(merge_seconds=120)
    for guest in ("merge01", "gone01"):
        role_lab.add_guest(guest, files=APP_FILES, safe_change_tasks=GATED, test_gate_dir=str(gate))
    handle = role_lab.start(SITE)
    wait_until(lambda: len(list(gate.glob("*.started"))) == 2, "both changes to start")
    # From now on: every poll of the merge wait loses its connection, and so does every delete of gone01
    # (before it runs: the checkpoint stays) together with the re-reads that would tell what happened.
    host.inject_fault("get_vm", "drop_before", times=-1)
    host.inject_fault("remove_checkpoints", "drop_before", times=-1, vm="gone01")
    host.inject_fault("get_vms", "drop_before", times=-1)
    (gate / "release").touch()
    run = role_lab.finish(handle)

    merged = run.result("merge01")
    assert merged["outcome"] == "committed" and merged["checkpoint"]["state"] == "deleted", merged
    assert not merged["needs_attention"] and "Hyper-V finishes the merge on its own" in merged["notes"][0], merged
    assert role_lab.checkpoint_names("merge01") == []

    unknown = run.result("gone01")
    assert unknown["outcome"] == "committed" and unknown["checkpoint"]["state"] == "unknown", unknown
    assert unknown["needs_attention"] and not unknown["failed"], unknown
    assert "whether the checkpoint was deleted is UNKNOWN" in unknown["notes"][0], unknown
    assert run.custom["hyperv_checkpoint_outcome"]["gone01"]["checkpoint_state"] == "unknown"
    assert run.custom["hyperv_checkpoint_needs_attention"] is True
    # Shown as it happens, and in the summary table.
    assert "[WARNING]: whether the checkpoint was deleted is UNKNOWN" in " ".join((run.stdout + run.stderr).split()), run
    assert "checkpoint state UNKNOWN" in run.stdout and "gone01" in run.stdout.split("checkpoint state UNKNOWN")[1]
    [left] = host.checkpoints("gone01")
    assert left["id"] == unknown["checkpoint"]["id"]

    host.clear_faults()
    refused = role_lab.playbook(SITE, limit="gone01").result("gone01")
    assert refused["outcome"] == "skipped" and refused["failed"], refused
    for told in ("'%s' (id %s, taken " % (left["name"], left["id"]), "by pytest for change CHG-TEST",
                 "No outcome is recorded on the host", "UNKNOWN", "playbooks/report.yml",
                 "-e revert_checkpoint_id=%s" % left["id"], "safe_change_stale_policy=remove"):
        assert told in refused["msg"], (told, refused["msg"])
    assert [cp["id"] for cp in host.checkpoints("gone01")] == [left["id"]]


def test_fifty_forks_against_one_host_keep_its_state_consistent(lab):
    """50 VMs of one host changed by 50 forks at once: every checkpoint exists once, parents and
    positions are valid, and no update is lost."""
    lab.host.set_host(merge_seconds=0)
    vms = ["vm%02d" % number for number in range(50)]
    for name in vms:
        lab.host.add_vm(name)
    lab.extra_hosts = {name: {} for name in vms}
    play = lab.tmp_path / "forks.yml"
    play.write_text(
        "- hosts: guests\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Take two checkpoints\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: '{{ inventory_hostname }}', name: '{{ item }}'}\n"
        "      loop: [fork-a, fork-b]\n"
        "      delegate_to: hv01\n"
        "    - name: Delete the first\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: '{{ inventory_hostname }}', name: fork-a, state: absent}\n"
        "      delegate_to: hv01\n")

    run = lab.playbook(play, env={"ANSIBLE_FORKS": "50"})

    assert run.rc == 0 and "failed=1" not in run.stdout, run
    assert lab.host.consistency_problems() == []
    for name in vms:
        [kept] = lab.host.checkpoints(name)
        assert (kept["name"], kept["parent_id"]) == ("fork-b", None), name
        assert lab.host.vm(name)["current_checkpoint_id"] == kept["id"], name


def test_a_host_restarted_in_the_middle_of_an_operation(lab):
    """The host runs a delete, then restarts before it answers (the simulator is killed and started
    again on the same port with its saved state): the task retries, finds the delete done, and the
    play goes on against the restarted host.

    The host must be back within the task's retries (about 7 s of backoff, the behaviour under test).
    So the new host is started before the kill and waits for the port with its set-up done: it answers
    a fraction of a second after the kill, however long a Python start takes on a loaded machine."""
    lab.host.set_host(merge_seconds=0)
    lab.host.inject_fault("remove_checkpoints", "hang", after=True)
    play = lab.tmp_path / "restart.yml"
    play.write_text(
        "- hosts: hyperv\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Take a checkpoint\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: before-restart}\n"
        "      register: taken\n"
        "    - name: Delete it while the host restarts\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: before-restart, state: absent}\n"
        "      register: deleted\n"
        "    - name: Take another after the restart\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: after-restart}\n"
        "    - name: The delete is reported as done\n"
        "      ansible.builtin.assert:\n"
        "        that:\n"
        "          - deleted is changed\n"
        "          - deleted.removed | map(attribute='id') | list == [taken.checkpoint.id]\n")
    outcome = {}
    player = threading.Thread(target=lambda: outcome.update(run=lab.playbook(play)))
    waiting, test_over = threading.Event(), threading.Event()

    def restarted_host():
        # Generous: the new host waits from now until the kill, which comes once the playbook reached its delete.
        with running_simulator(lab.sim.state_path, port=lab.sim.port, user=lab.sim.user, password=lab.sim.password,
                               startup_timeout=240, waiting=waiting) as restarted:
            outcome["restarted"] = restarted
            test_over.wait()

    restarter = threading.Thread(target=restarted_host)
    restarter.start()
    player.start()
    try:
        assert waiting.wait(timeout=120), "the new host never started waiting for the port"
        # The fault is used up in the transaction that runs the delete: once it is gone, the delete is
        # on the host for good, and its answer will never come.
        wait_until(lambda: lab.host.summary()["faults"] == [], "the host to run the delete")
        assert lab.host.checkpoints("web01") == []
        os.kill(lab.sim.pid, signal.SIGKILL)
        player.join(timeout=240)
        assert "run" in outcome, "the playbook did not end"
        assert "restarted" in outcome, "the new host did not take the port"
    finally:
        player.join(timeout=240)
        test_over.set()
        restarter.join(timeout=60)
    run = outcome["run"]
    assert run.rc == 0 and "failed=0" in run.stdout, run
    assert [cp["name"] for cp in lab.host.checkpoints("web01")] == ["after-restart"]
    assert lab.host.consistency_problems() == []
