"""The role hyperv.checkpoint.safe_change and the playbooks, in real ansible-playbook runs.

Hyper-V operations go over WinRM (NTLM, message encryption) to simulated Hyper-V hosts;
the guests are reached with the test-only ``sim_guest`` connection, so a change writes
into the VM's disk directory and a restore on the simulated host takes it back. Several
guests with different outcomes share one playbook run to keep the suite fast.
"""

from __future__ import annotations

import re

import pytest

from role_lab import TARGET, role_lab  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration

SITE = "tests/integration/targets/safe_change/site.yml"
TASKS = TARGET / "tasks"

APP_FILES = {
    "app/version": "1.4\n",
    "app/config.ini": "[app]\nversion = 1.4\n",
    "app/data.bin": bytes(range(256)) * 64,
    "www/health": "OK\n",
    "services/app": "running\n",
}


def stale_name(change="CHG-OLD", when="2026-01-01T00:00:00Z", kept_until=None):
    name = "safe_change %s by someone %s" % (change, when)
    return name + (" kept-until %s" % kept_until if kept_until else "")


def test_success_change_failure_verification_failure_unreachable_and_keep(role_lab):
    """One run, six guests: committed, reverted (change failed), reverted (verification failed),
    reverted (guest unreachable after the change), committed with the checkpoint kept, committed
    with the change given as a role."""
    role_lab.add_hyperv("hv01", vms=["ok01", "chg01", "ver01", "unr01", "keep01", "role01"])
    role_lab.add_guest("ok01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_ok.yml"),
                       safe_change_verify_tasks=str(TASKS / "verify_version.yml"),
                       safe_change_verify_url=role_lab.url("ok01", "www/health"),
                       safe_change_verify_services=["app"])
    role_lab.add_guest("chg01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_fail.yml"),
                       safe_change_verify_command='test -f "$GUEST_DISK/app/data.bin"')
    role_lab.add_guest("ver01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_break_health.yml"),
                       safe_change_verify_url=role_lab.url("ver01", "www/health"))
    role_lab.add_guest("unr01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_network_down.yml"),
                       safe_change_verify_services=["app"])
    role_lab.add_guest("keep01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_ok.yml"),
                       safe_change_keep_hours=2)
    role_lab.add_guest("role01", files=APP_FILES, safe_change_role="sim_release",
                       safe_change_verify_command='grep -qx 3.1 "$GUEST_DISK/app/release"')
    before = {name: role_lab.digest(name) for name in role_lab.guests}

    run = role_lab.playbook(SITE)

    assert run.rc != 0, run  # three guests failed
    assert {host: run.recap[host]["failures"] for host in run.recap if host in role_lab.guests} == {
        "ok01": 0, "chg01": 1, "ver01": 1, "unr01": 1, "keep01": 0, "role01": 0}, run
    assert all(run.recap[host]["unreachable"] == 0 for host in role_lab.guests), run

    ok = run.result("ok01")
    assert ok["outcome"] == "committed" and not ok["failed"], run
    assert ok["checkpoint"]["state"] == "deleted"
    assert re.match(r"^safe_change CHG-TEST by pytest \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", ok["checkpoint"]["name"])
    assert set(ok["durations"]) >= {"preflight_seconds", "checkpoint_seconds", "change_seconds", "verify_seconds",
                                    "commit_seconds", "total_seconds"}
    assert role_lab.checkpoint_names("ok01") == []
    assert (role_lab.disk("ok01") / "app" / "version").read_text() == "2.0\n"

    for host, phase in (("chg01", "change"), ("ver01", "verify"), ("unr01", "verify")):
        result = run.result(host)
        assert result["outcome"] == "reverted" and result["failed"], (host, run)
        assert result["failed_phase"] == phase, (host, result)
        assert result["post_revert_verification"] == "passed", (host, result)
        assert result["checkpoint"]["state"] == "deleted", (host, result)
        assert "REVERTED" in result["msg"] and "Verification after the revert PASSED" in result["msg"], result
        assert role_lab.checkpoint_names(host) == [], host
        # The guest's disk is byte for byte what it was before the change.
        assert role_lab.digest(host) == before[host], host
        assert host_state(role_lab, host) == "Running"

    assert "installer exited with 1603" in run.result("chg01")["failure"]
    assert "A step that fails" in run.result("chg01")["failed_task"]
    assert "answered 404, expected 200" in run.result("ver01")["failure"]
    assert "unr01 is not reachable" in run.result("unr01")["failure"] or \
        "timed out waiting" in run.result("unr01")["failure"], run.result("unr01")

    keep = run.result("keep01")
    assert keep["outcome"] == "committed" and keep["checkpoint"]["state"] == "kept", keep
    [kept] = role_lab.checkpoint_names("keep01")
    assert re.match(r"^safe_change CHG-TEST by pytest \S+ kept-until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", kept), kept
    assert keep["checkpoint"]["kept_until"] in kept

    # A change given as a role.
    assert run.result("role01")["outcome"] == "committed", run.result("role01")
    assert (role_lab.disk("role01") / "app" / "release").read_text() == "3.1\n"

    # set_stats for AWX and the summary table at the end of the play.
    assert (run.custom["safe_change_committed"], run.custom["safe_change_reverted"]) == (3, 3), run.custom
    assert "6 host(s): 3 committed, 3 reverted, 0 revert failed (need a human), 0 skipped" in run.stdout, run
    assert "CHANGE FAILED on ver01 and was REVERTED" in run.stdout


def host_state(lab, name):
    return lab.host_of(name).vm(lab.guests[name]["hyperv_vm_name"])["state"]


def test_revert_failure_stale_policies_and_refusals(role_lab):
    """A restore that fails (needs a human, checkpoint kept); stale checkpoints under the policies
    fail, reuse (young / too old) and remove; pre-flight refusals that change nothing."""
    host = role_lab.add_hyperv("hv01", vms=["rvf01", "stf01", "str01", "sto01", "srm01", "dis01", "off01", "mrg01",
                                            "own01", "lim01"])
    change = str(TASKS / "change_ok.yml")
    role_lab.add_guest("rvf01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_fail.yml"))
    host.inject_fault("restore_checkpoint", "fail", code="host_error",
                      message="The operation failed because the file was not found.")
    host.add_checkpoint("stf01", stale_name(), age_seconds=3 * 3600)
    role_lab.add_guest("stf01", files=APP_FILES, safe_change_tasks=change)
    # Ten minutes old: past a lock of five minutes, within a reuse limit of one hour.
    host.add_checkpoint("str01", stale_name(), age_seconds=600)
    role_lab.add_guest("str01", files=APP_FILES, safe_change_tasks=change, safe_change_stale_policy="reuse",
                       safe_change_stale_max_age_hours=1, safe_change_lock_minutes=5)
    host.add_checkpoint("sto01", stale_name(), age_seconds=5 * 3600)
    role_lab.add_guest("sto01", files=APP_FILES, safe_change_tasks=change, safe_change_stale_policy="reuse",
                       safe_change_stale_max_age_hours=1)
    host.add_checkpoint("srm01", "before the manual fix", age_seconds=9000)
    host.add_checkpoint("srm01", stale_name(), age_seconds=8000)
    host.add_checkpoint("srm01", stale_name("CHG-OLD2", kept_until="2026-01-01T01:00:00Z"), age_seconds=7000)
    role_lab.add_guest("srm01", files=APP_FILES, safe_change_tasks=change, safe_change_stale_policy="remove")
    host.set_vm("dis01", checkpoint_type="Disabled")
    role_lab.add_guest("dis01", files=APP_FILES, safe_change_tasks=change)
    host.set_vm("off01", state="Off")
    role_lab.add_guest("off01", files=APP_FILES, safe_change_tasks=change)
    host.set_vm("mrg01", merging_seconds=600)
    role_lab.add_guest("mrg01", files=APP_FILES, safe_change_tasks=change)
    host.set_vm("own01", owner_node="HV99")
    role_lab.add_guest("own01", files=APP_FILES, safe_change_tasks=change)
    for number in range(50):
        host.add_checkpoint("lim01", "nightly %02d" % number, age_seconds=90000 - number)
    role_lab.add_guest("lim01", files=APP_FILES, safe_change_tasks=change)
    before = {name: role_lab.digest(name) for name in role_lab.guests}
    checkpoints_before = {name: role_lab.checkpoint_names(name) for name in role_lab.guests}

    run = role_lab.playbook(SITE)

    failed = run.result("rvf01")
    assert failed["outcome"] == "revert_failed" and failed["failed"], failed
    assert failed["checkpoint"]["state"] == "kept"
    assert "REVERT FAILED on rvf01 - A HUMAN IS NEEDED" in failed["msg"]
    assert "file was not found" in failed["msg"] and "The checkpoint is KEPT" in failed["msg"]
    assert "REVERT FAILED on rvf01: a human is needed." in run.stdout  # the loud banner
    assert role_lab.checkpoint_names("rvf01") == [failed["checkpoint"]["name"]]
    assert failed["checkpoint"]["name"].endswith(" revert-failed")  # later runs leave it to a human

    refused = run.result("stf01")
    assert refused["outcome"] == "skipped" and refused["failed"], refused
    assert "checkpoints of an earlier run are left" in refused["msg"] and stale_name() in refused["msg"]

    reused = run.result("str01")
    assert reused["outcome"] == "committed", reused
    assert reused["checkpoint"]["name"] == stale_name() and reused["checkpoint"]["reused"]
    assert role_lab.checkpoint_names("str01") == []

    too_old = run.result("sto01")
    assert too_old["outcome"] == "skipped" and "younger than 1 hours" in too_old["msg"], too_old

    removed = run.result("srm01")
    assert removed["outcome"] == "committed", removed
    assert any("removed left-over checkpoints" in note for note in removed["notes"]), removed
    assert role_lab.checkpoint_names("srm01") == ["before the manual fix"]  # never touches other checkpoints

    assert "checkpoints are disabled" in run.result("dis01")["msg"]
    assert "it is Off, not Running" in run.result("off01")["msg"]
    assert "a disk merge is running" in run.result("mrg01")["msg"]
    assert "owned by another node (HV99)" in run.result("own01")["msg"], run.result("own01")
    assert "it has 50 checkpoints" in run.result("lim01")["msg"]
    for name in ("stf01", "sto01", "dis01", "off01", "mrg01", "own01", "lim01"):
        assert run.result(name)["outcome"] == "skipped", name
        assert "Nothing was changed" in run.result(name)["msg"]
        assert role_lab.checkpoint_names(name) == checkpoints_before[name], name
        assert role_lab.digest(name) == before[name], name
    assert run.custom["safe_change_revert_failed"] == 1 and run.custom["safe_change_skipped"] == 7, run.custom


def test_check_mode_reports_and_changes_nothing(role_lab):
    host = role_lab.add_hyperv("hv01", vms=["chk01", "chk02", "chk03"])
    role_lab.add_guest("chk01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_ok.yml"),
                       safe_change_checkpoint_type="production_only")
    # Kept after a success and still within its time: not left over.
    host.add_checkpoint("chk02", stale_name(kept_until="2099-01-01T00:00:00Z"), age_seconds=600)
    role_lab.add_guest("chk02", files=APP_FILES, safe_change_tasks=str(TASKS / "change_fail.yml"))
    # Kept, but its time has passed: left over; policy remove would delete it.
    host.add_checkpoint("chk03", stale_name(kept_until="2020-01-01T00:00:00Z"), age_seconds=600)
    role_lab.add_guest("chk03", files=APP_FILES, safe_change_tasks=str(TASKS / "change_ok.yml"),
                       safe_change_stale_policy="remove")
    before = host.state_file.read()
    digests = {name: role_lab.digest(name) for name in role_lab.guests}
    checkpoints = {name: role_lab.checkpoint_names(name) for name in role_lab.guests}

    run = role_lab.playbook(SITE, check=True)

    assert run.rc == 0, run
    for name in role_lab.guests:
        result = run.result(name)
        assert result["outcome"] == "skipped" and result["check_mode"] and not result["failed"], result
        assert role_lab.digest(name) == digests[name]
        assert role_lab.checkpoint_names(name) == checkpoints[name]
    would = run.result("chk01")["would"]
    assert any(line.startswith("take checkpoint 'safe_change CHG-TEST by pytest") and "production_only" in line
               for line in would), would
    assert any("remove left-over checkpoints: " + stale_name(kept_until="2020-01-01T00:00:00Z") in line
               for line in run.result("chk03")["would"])
    assert "A real run would:" in run.stdout
    assert host.state_file.read()["vms"] == before["vms"]


def test_patch_window_serial_batches_on_two_hyperv_hosts(role_lab):
    """playbooks/patch_window.yml, serial 2, max 50% failures: guests on two simulated Hyper-V hosts.
    Batch 1 (one of two fails) goes on; batch 2 fails entirely, so batch 3 never starts."""
    role_lab.add_hyperv("hv01", vms=["p1", "p3", "p5"])
    role_lab.add_hyperv("hv02", vms=["p2", "p4", "p6"])
    patch = str(TASKS / "patch.yml")
    for name in ("p1", "p2", "p3", "p4", "p5", "p6"):
        role_lab.add_guest(name, "hv01" if name in ("p1", "p3", "p5") else "hv02", files=APP_FILES,
                           test_patch_fails=name in ("p2", "p3", "p4"))
    before = {name: role_lab.digest(name) for name in role_lab.guests}

    run = role_lab.playbook("playbooks/patch_window.yml", extra_vars={
        "change_id": "CHG-PATCH", "patch_window_serial": 2, "patch_window_max_fail_percentage": 50,
        "patch_window_change_tasks": patch})

    assert run.rc != 0, run
    assert run.stdout.count("PLAY [Patch window]") == 2, run  # two batches ran
    assert {name: run.results[name]["outcome"] for name in run.results} == {
        "p1": "committed", "p2": "reverted", "p3": "reverted", "p4": "reverted"}, run
    assert "p5" not in run.recap and "p6" not in run.recap  # the third batch never started
    assert (role_lab.disk("p1") / "app" / "KB5050001.installed").exists()
    for name in ("p2", "p3", "p4"):
        assert role_lab.digest(name) == before[name], name
        assert "KB5050001 failed to install" in run.results[name]["failure"]
    for name in role_lab.guests:
        assert role_lab.checkpoint_names(name) == [], name
    assert run.results["p2"]["hyperv_host"] == "hv02" and run.results["p1"]["hyperv_host"] == "hv01"
    # The summary after batch 2 shows the hosts of both batches.
    assert "4 host(s): 1 committed, 3 reverted, 0 revert failed (need a human), 0 skipped" in run.stdout, run


def test_checkpoint_revert_report_and_cleanup_playbooks(role_lab):
    host = role_lab.add_hyperv("hv01", vms=["pb01", "pb02"])
    role_lab.add_guest("pb01", files=APP_FILES)
    role_lab.add_guest("pb02", files=APP_FILES)
    host.add_checkpoint("pb02", stale_name("CHG-ANCIENT"), age_seconds=30 * 3600)
    host.add_checkpoint("pb02", "nightly backup by hand", age_seconds=40 * 3600)
    before = role_lab.digest("pb01")

    taken = role_lab.playbook("playbooks/checkpoint.yml", extra_vars={
        "change_id": "CHG-9", "checkpoint_hosts": "pb01", "checkpoint_requested_by": "jane doe"})
    assert taken.rc == 0, taken
    [name] = role_lab.checkpoint_names("pb01")
    assert re.match(r"^safe_change CHG-9 by jane_doe \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", name), name

    (role_lab.disk("pb01") / "app" / "config.ini").write_text("[app]\nversion = broken\n")
    (role_lab.disk("pb01") / "app" / "data.bin").unlink()

    refused = role_lab.playbook("playbooks/revert.yml", extra_vars={"revert_hosts": "pb01"})
    assert refused.rc != 0 and "revert_confirm=true" in refused.stdout, refused
    assert role_lab.digest("pb01") != before

    reverted = role_lab.playbook("playbooks/revert.yml", extra_vars={
        "revert_hosts": "pb01", "revert_confirm": True, "revert_change_id": "CHG-9"})
    assert reverted.rc == 0, reverted
    assert role_lab.digest("pb01") == before
    assert host_state(role_lab, "pb01") == "Running"
    assert role_lab.checkpoint_names("pb01") == [name]  # kept by default

    report = role_lab.playbook("playbooks/report.yml", extra_vars={"report_stale_hours": 24})
    assert report.rc == 0, report
    assert "STALE: nightly backup by hand, %s" % stale_name("CHG-ANCIENT") in report.stdout, report
    assert "1 Hyper-V host(s), 2 VM(s) with checkpoints, 3 checkpoint(s) (2 made by safe_change), 2 stale" \
        in report.stdout, report

    dry = role_lab.playbook("playbooks/cleanup.yml", extra_vars={"cleanup_older_than_hours": 24}, check=True)
    assert dry.rc == 0 and "(would delete)" in dry.stdout, dry
    assert len(role_lab.checkpoint_names("pb02")) == 2

    cleaned = role_lab.playbook("playbooks/cleanup.yml", extra_vars={"cleanup_older_than_hours": 24})
    assert cleaned.rc == 0, cleaned
    # Only the old checkpoint of this collection goes; the young one and a foreign one stay.
    assert role_lab.checkpoint_names("pb02") == ["nightly backup by hand"]
    assert role_lab.checkpoint_names("pb01") == [name]


def test_a_merge_that_outlasts_the_timeout_still_counts_as_deleted(role_lab):
    """The delete succeeded and Hyper-V merges in the background: the checkpoint is gone, not kept."""
    hyperv = role_lab.add_hyperv("hv01", vms=["slow01"])
    hyperv.set_host(merge_seconds=30)
    role_lab.add_guest("slow01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_ok.yml"),
                       safe_change_merge_timeout=1)

    run = role_lab.playbook(SITE)

    result = run.result("slow01")
    assert result["outcome"] == "committed" and not result["failed"], run
    assert result["checkpoint"]["state"] == "deleted", result
    assert any("still running" in note for note in result["notes"]), result
    assert role_lab.checkpoint_names("slow01") == []


def test_a_checkpoint_kept_by_a_failed_revert_blocks_later_runs_under_every_policy(role_lab):
    hyperv = role_lab.add_hyperv("hv01", vms=["hold01", "hold02"])
    for vm, policy in (("hold01", "remove"), ("hold02", "reuse")):
        hyperv.add_checkpoint(vm, stale_name() + " revert-failed", age_seconds=600)
        role_lab.add_guest(vm, files=APP_FILES, safe_change_tasks=str(TASKS / "change_ok.yml"),
                           safe_change_stale_policy=policy)
    before = {name: role_lab.digest(name) for name in role_lab.guests}

    run = role_lab.playbook(SITE)

    for vm in ("hold01", "hold02"):
        result = run.result(vm)
        assert result["outcome"] == "skipped" and result["failed"], result
        assert "a revert of an earlier run failed" in result["msg"], result
        assert role_lab.checkpoint_names(vm) == [stale_name() + " revert-failed"]
        assert role_lab.digest(vm) == before[vm]
