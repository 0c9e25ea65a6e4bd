"""The role hyperv.checkpoint.safe_change and the playbooks, in real ansible-playbook runs.

Hyper-V operations go over WinRM (NTLM, message encryption) to simulated Hyper-V hosts;
the guests are reached with the test-only ``sim_guest`` connection, so a change writes
into the VM's disk directory and a restore on the simulated host takes it back. Several
guests with different outcomes share one playbook run to keep the suite fast.
"""

from __future__ import annotations

import json
import re
import time

import pytest

import browser
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
    assert run.custom["hyperv_checkpoint_counts"] == {
        "total": 6, "committed": 3, "reverted": 3, "revert_failed": 0, "skipped": 0, "failed": 3,
        "needs_attention": 0}, run.custom
    assert run.custom["hyperv_checkpoint_ok"] is False and run.custom["hyperv_checkpoint_needs_attention"] is False
    outcome = run.custom["hyperv_checkpoint_outcome"]
    assert {guest: outcome[guest]["outcome"] for guest in outcome} == {
        "ok01": "committed", "chg01": "reverted", "ver01": "reverted", "unr01": "reverted", "keep01": "committed",
        "role01": "committed"}, outcome
    assert outcome["ver01"]["failed_phase"] == "verify" and outcome["ver01"]["vm"] == "ver01"
    assert outcome["keep01"]["checkpoint_state"] == "kept" and outcome["keep01"]["checkpoint_name"] == kept
    assert "6 host(s): 3 committed, 3 reverted, 0 revert failed (need a human), 0 skipped" in run.stdout, run
    assert "CHANGE FAILED on ver01 and was REVERTED" in run.stdout


def gate(lab, run, require):
    """playbooks/gate.yml with the run's artifacts as extra vars, as an AWX workflow passes them on."""
    artifacts = {key: value for key, value in run.custom.items() if key.startswith("hyperv_checkpoint_")}
    return lab.playbook("playbooks/gate.yml", extra_vars=dict(artifacts, gate_require=require))


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
    # Merging for longer than any run: pre-flight meets the merge however slowly the play gets there.
    host.set_vm("mrg01", merging_seconds=24 * 3600)
    role_lab.add_guest("mrg01", files=APP_FILES, safe_change_tasks=change)
    host.set_vm("own01", owner_node="HV99")
    role_lab.add_guest("own01", files=APP_FILES, safe_change_tasks=change)
    for number in range(50):
        host.add_checkpoint("lim01", "nightly %02d" % number, age_seconds=90000 - number)
    role_lab.add_guest("lim01", files=APP_FILES, safe_change_tasks=change)
    # A host whose volume has 8 GB free, below the default safe_change_min_free_gb of 10.
    role_lab.add_hyperv("hv02", vms=["low01"]).set_free_space(8)
    role_lab.add_guest("low01", "hv02", files=APP_FILES, safe_change_tasks=change)
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
    assert "already has 50 checkpoints, Hyper-V's limit is 50" in run.result("lim01")["msg"]
    assert "has 8.0 GB free, less than min_free_gb 10 GB" in run.result("low01")["msg"], run.result("low01")
    for name in ("stf01", "sto01", "dis01", "off01", "mrg01", "own01", "lim01", "low01"):
        assert run.result(name)["outcome"] == "skipped", name
        assert "Nothing was changed" in run.result(name)["msg"]
        assert role_lab.checkpoint_names(name) == checkpoints_before[name], name
        assert role_lab.digest(name) == before[name], name
    counts = run.custom["hyperv_checkpoint_counts"]
    assert (counts["revert_failed"], counts["skipped"], counts["needs_attention"]) == (1, 8, 1), run.custom
    assert run.custom["hyperv_checkpoint_needs_attention"] is True and run.custom["hyperv_checkpoint_ok"] is False
    assert run.custom["hyperv_checkpoint_outcome"]["rvf01"]["needs_attention"] is True
    assert run.custom["hyperv_checkpoint_outcome"]["rvf01"]["checkpoint_name"].endswith(" revert-failed")
    assert run.custom["hyperv_checkpoint_outcome"]["str01"]["needs_attention"] is False
    # A workflow's gate on these artifacts fails and names the guest that needs a human.
    gated = gate(role_lab, run, "no_attention")
    assert gated.rc != 0 and "A human is needed: rvf01 (revert_failed: NEEDS A HUMAN" in gated.stdout, gated


def test_check_mode_reports_and_changes_nothing(role_lab):
    host = role_lab.add_hyperv("hv01", vms=["chk01", "chk02", "chk03"])
    # Hyper-V's spelling, as a result or the inventory plugin carries it: the same as production_only.
    role_lab.add_guest("chk01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_ok.yml"),
                       safe_change_checkpoint_type="ProductionOnly")
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
    # Every pre-flight passed: a workflow may go on to the real run.
    assert run.custom["hyperv_checkpoint_ok"] is True, run.custom
    assert run.custom["hyperv_checkpoint_counts"]["skipped"] == 3
    assert all(entry["check_mode"] for entry in run.custom["hyperv_checkpoint_outcome"].values())
    gated = gate(role_lab, run, "ok")
    assert gated.rc == 0 and "Every guest was committed (3 guest(s))" in gated.stdout, gated
    assert host.state_file.read()["vms"] == before["vms"]


def test_patch_window_serial_batches_on_two_hyperv_hosts_then_the_html_report(role_lab):
    """playbooks/patch_window.yml, serial 2, max 50% failures: guests on two simulated Hyper-V hosts.
    Batch 1 (one of two fails) goes on; batch 2 fails entirely, so batch 3 never starts. Then
    playbooks/report.yml with the window's artifacts as extra vars (as an AWX workflow passes them),
    its report.html rendered by headless Chromium."""
    role_lab.add_hyperv("hv01", vms=["p1", "p3", "p5"])
    hv02 = role_lab.add_hyperv("hv02", vms=["p2", "p4", "p6", HOSTILE_VM])
    patch = str(TASKS / "patch.yml")
    for name in ("p1", "p2", "p3", "p4", "p5", "p6"):
        role_lab.add_guest(name, "hv01" if name in ("p1", "p3", "p5") else "hv02", files=APP_FILES,
                           test_patch_fails=name in ("p2", "p3", "p4"))
    # Checkpoints the window leaves alone, for the report: a foreign stale one, a young one of
    # this collection on a guest of the batch that never starts, and names that are markup.
    # They age while the playbooks run, as long as a busy machine makes that take: the report's
    # ages are checked against the time since they were set (check_report_json).
    set_up = time.time()
    role_lab.host_of("p1").add_checkpoint("p1", "nightly backup", age_seconds=AGES["p1"])
    role_lab.host_of("p5").add_checkpoint("p5", stale_name("CHG-EARLIER"), age_seconds=AGES["p5"])
    hv02.add_checkpoint(HOSTILE_VM, HOSTILE_CHECKPOINT, age_seconds=AGES[HOSTILE_VM])
    before = {name: role_lab.digest(name) for name in role_lab.guests}

    # The results file (patch_window_results_file) in its default place, relative to where ansible-playbook runs.
    workdir = role_lab.tmp_path / "workdir"
    workdir.mkdir()
    run = role_lab.playbook("playbooks/patch_window.yml", cwd=workdir, extra_vars={
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
    assert role_lab.checkpoint_names("p1") == ["nightly backup"]
    for name in ("p2", "p3", "p4", "p6"):
        assert role_lab.checkpoint_names(name) == [], name
    assert run.results["p2"]["hyperv_host"] == "hv02" and run.results["p1"]["hyperv_host"] == "hv01"
    # The summary after batch 2 shows the hosts of both batches, and so do the artifacts.
    assert "4 host(s): 1 committed, 3 reverted, 0 revert failed (need a human), 0 skipped" in run.stdout, run
    assert run.custom["hyperv_checkpoint_counts"]["total"] == 4, run.custom
    assert run.custom["hyperv_checkpoint_ok"] is False
    assert set(run.custom["hyperv_checkpoint_outcome"]) == {"p1", "p2", "p3", "p4"}
    # The same results in the file on the controller, over both batches, for report.yml outside AWX.
    written = json.loads((workdir / "patch-window-results.json").read_text())
    assert written == {key: run.custom[key] for key in written}, written
    assert set(written["hyperv_checkpoint_outcome"]) == {"p1", "p2", "p3", "p4"}

    output = role_lab.tmp_path / "report"
    report = role_lab.playbook("playbooks/report.yml", extra_vars={
        "report_output_dir": str(output),
        "hyperv_checkpoint_outcome": run.custom["hyperv_checkpoint_outcome"]})
    assert report.rc == 0, report
    assert "Report files: %s/report.html" % output in report.stdout, report
    assert report.custom["hyperv_checkpoint_stale"] == 2, report.custom
    data = json.loads((output / "report.json").read_text())
    check_report_json(data, set_up)
    check_report_html(output / "report.html", role_lab.tmp_path / "report.png", data)
    # Outside AWX: report.yml reads the results file instead of the artifact pasted as an extra var.
    from_file = role_lab.playbook("playbooks/report.yml", cwd=workdir, extra_vars={
        "report_output_dir": "report", "report_results_file": "patch-window-results.json"})
    assert from_file.rc == 0, from_file
    check_report_json(json.loads((workdir / "report" / "report.json").read_text()), set_up)


HOSTILE_VM = "<script>alert(1)</script>"
HOSTILE_CHECKPOINT = "<b>nightly</b> & co"
# The age each VM's one checkpoint is given when the test sets it up.
AGES = {"p1": 30 * 3600 + 600, "p5": 2 * 3600 + 600, HOSTILE_VM: 50 * 3600 + 600}


def shown_age(seconds):
    """An age as report.html.j2's macro age() shows it."""
    if seconds is None:
        return "-"
    if seconds >= 86400:
        return "%dd %02dh" % (seconds // 86400, (seconds % 86400) // 3600)
    if seconds >= 3600:
        return "%dh %02dm" % (seconds // 3600, (seconds % 3600) // 60)
    return "%dm" % (seconds // 60)


def check_report_json(data, set_up):
    """``set_up``: the time.time() just before the test gave the checkpoints their AGES."""
    hosts = {host["host"]: host for host in data["hosts"]}
    assert set(hosts) == {"hv01", "hv02"} and data["hosts_not_answering"] == [], data
    vms = {vm["name"]: vm for host in data["hosts"] for vm in host["vms"]}
    # VMs with checkpoints or with an outcome; p6 has neither.
    assert set(vms) == {"p1", "p3", "p5", "p2", "p4", HOSTILE_VM}, vms
    assert vms["p1"]["outcome"]["outcome"] == "committed" and vms["p1"]["guest"] == "p1"
    assert vms["p5"]["outcome"] is None
    [nightly] = vms["p1"]["checkpoints"]
    assert nightly["name"] == "nightly backup" and nightly["stale"] and not nightly["ours"], nightly
    # Whole seconds (hence the 1); no older than the time since set-up allows.
    aged = time.time() - set_up
    for name, age in AGES.items():
        [checkpoint] = vms[name]["checkpoints"]
        assert age - 1 <= checkpoint["age_seconds"] <= age + aged + 1, (name, checkpoint, aged)
    # The simulator's checkpoint disk holds a copy of the guest's files (data.bin alone is 16 KiB).
    assert nightly["size_bytes"] > 16384 and vms["p1"]["total_size_bytes"] == nightly["size_bytes"], nightly
    assert vms["p5"]["checkpoints"][0]["ours"] and not vms["p5"]["checkpoints"][0]["stale"]
    assert data["totals"] == dict(data["totals"], hosts=2, vms=7, vms_with_checkpoints=3, checkpoints=3, ours=1,
                                  stale=2, size_unknown=0), data["totals"]
    assert data["outcomes_not_found"] == []
    # The Type column: what the collection knows of each checkpoint's kind, not Hyper-V's snapshot type.
    assert {cp["kind"] for vm in vms.values() for cp in vm["checkpoints"]} <= {"standard", "unknown"}


def shown_outcome(row):
    """The outcome word of a VM row (its first line), or the "-" of a VM without one."""
    cell = row.find("td", "outcome")
    return cell.find("span").text if cell.find_all("span") else cell.text


def check_report_html(page, png, data):
    """``data``: the report.json written with the page, whose ages the page must show."""
    ages = {(host["host"], vm["name"]): vm["oldest_age_seconds"] for host in data["hosts"] for vm in host["vms"]}
    dom = browser.render(page)
    # Markup in names is shown as text, never run or parsed.
    assert dom.find_all("script") == [], "a name was not escaped"
    assert [bold.text for bold in dom.find_all("b") if "nightly" in bold.text] == [], "a name was not escaped"
    assert HOSTILE_CHECKPOINT in dom.find("table", id="checkpoints").text
    assert {cell.text for cell in dom.find("table", id="checkpoints").find_all("td", "type")} <= {"standard", "unknown"}
    rows = {(row.find("td", "host").text, row.find("td", "name").text): row
            for row in dom.find("table", id="vms").find_all("tr", "vm")}
    assert {key: shown_outcome(row) for key, row in rows.items()} == {
        ("hv01", "p1"): "committed", ("hv01", "p3"): "reverted", ("hv01", "p5"): "-",
        ("hv02", "p2"): "reverted", ("hv02", "p4"): "reverted", ("hv02", HOSTILE_VM): "-"}, rows
    # About 1d 06h, 2h 10m and 2d 02h, depending on how long the playbooks took.
    for key in (("hv01", "p1"), ("hv01", "p5"), ("hv02", HOSTILE_VM)):
        assert rows[key].find("td", "oldest").text == shown_age(ages[key]), (key, ages[key])
    p1_size = rows["hv01", "p1"].find("td", "size").text
    assert re.fullmatch(r"\d+(\.\d+)? (Bytes|KB|MB)", p1_size), p1_size
    assert "STALE 1" in rows["hv01", "p1"].find("td", "flags").text
    assert "KB5050001 failed to install" in rows["hv02", "p2"].find("td", "outcome").text
    outcomes = {item.classes[0]: item.find("b").text for item in dom.find("ul", id="outcomes").find_all("li")}
    assert outcomes == {"outcome-committed": "1", "outcome-reverted": "3", "outcome-revert_failed": "0",
                        "outcome-skipped": "0"}, outcomes
    # The chart: one SVG per Hyper-V host, one bar per checkpoint, the oldest first and longest.
    charts = {svg.attrs["data-host"]: svg for svg in dom.find_all("svg", "age-chart")}
    assert set(charts) == {"hv01", "hv02"}, charts

    def bars(host):
        return [(shown.find("text", "label").text, shown.find("rect").attrs["class"], shown.find("text", "value").text,
                 float(shown.find("rect").attrs["width"])) for shown in charts[host].find_all("g", "bar")]

    assert [shown[:3] for shown in bars("hv01")] == [
        ("p1 / nightly backup", "stale", shown_age(ages["hv01", "p1"])),
        (("p5 / " + stale_name("CHG-EARLIER"))[:45] + "...", "ours", shown_age(ages["hv01", "p5"]))]
    assert [shown[:3] for shown in bars("hv02")] == [
        (HOSTILE_VM + " / " + HOSTILE_CHECKPOINT, "stale", shown_age(ages["hv02", HOSTILE_VM]))]
    # One scale for all hosts: the oldest checkpoint (50h) has the full width, the others in proportion
    # (widths are rounded to 0.1).
    oldest = ages["hv02", HOSTILE_VM]
    assert bars("hv02")[0][3] == 480.0
    assert [shown[3] for shown in bars("hv01")] == pytest.approx(
        [480 * ages["hv01", "p1"] / oldest, 480 * ages["hv01", "p5"] / oldest], abs=0.06), bars("hv01")
    assert [text.text for text in charts["hv01"].find_all("text", "threshold-label")] == ["24h"]
    assert browser.screenshot(page, png) == (1280, 1600)


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
    assert re.match(r"^safe_change CHG-9 by jane_doe \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ manual$", name), name
    assert taken.custom["hyperv_checkpoint_taken"]["pb01"]["name"] == name, taken.custom

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
    assert reverted.custom["hyperv_checkpoint_restored"]["pb01"]["checkpoint"] == name, reverted.custom

    # A relative report_output_dir is taken from the directory ansible-playbook runs in.
    report = role_lab.playbook("playbooks/report.yml", extra_vars={"report_stale_hours": 24,
                                                                   "report_output_dir": "out"}, cwd=role_lab.tmp_path)
    assert report.rc == 0, report
    assert "STALE: nightly backup by hand, %s" % stale_name("CHG-ANCIENT") in report.stdout, report
    assert "1 Hyper-V host(s), 2 VM(s) with checkpoints, 3 checkpoint(s) (2 made by safe_change), 2 stale" \
        in report.stdout, report
    estate = json.loads((role_lab.tmp_path / "out" / "report.json").read_text())
    assert estate["outcomes"] == {} and estate["totals"]["stale"] == 2, estate
    pb02 = {cp["name"]: cp for cp in estate["hosts"][0]["vms"][1]["checkpoints"]}
    assert pb02["nightly backup by hand"]["stale"] and not pb02["nightly backup by hand"]["ours"], pb02
    assert pb02[stale_name("CHG-ANCIENT")]["ours"] and pb02[stale_name("CHG-ANCIENT")]["size_bytes"] > 0, pb02
    assert report.custom["hyperv_checkpoint_report"]["hv01"]["stale"] == 2, report.custom
    assert "nightly backup by hand" in (role_lab.tmp_path / "out" / "report.html").read_text()

    # Sizes not read are unknown, not 0; an empty report_output_dir writes no files.
    bare = role_lab.playbook("playbooks/report.yml", extra_vars={"report_include_sizes": False,
                                                                 "report_output_dir": ""}, cwd=role_lab.tmp_path)
    assert bare.rc == 0 and "Report files" not in bare.stdout, bare
    assert "3 checkpoint(s) (2 made by safe_change), 2 stale (older than 24h), sizes unknown" in bare.stdout, bare
    assert not any((role_lab.tmp_path / name).exists() for name in ("report.json", "report.html", "checkpoint-report"))

    wrong = role_lab.playbook("playbooks/report.yml", extra_vars={"hyperv_checkpoint_outcome": {"pb01": "committed"}},
                              cwd=role_lab.tmp_path)
    assert wrong.rc != 0 and "must be the artifact of the role safe_change" in wrong.stdout, wrong
    assert not (role_lab.tmp_path / "checkpoint-report").exists()

    dry = role_lab.playbook("playbooks/cleanup.yml", extra_vars={"cleanup_older_than_hours": 24}, check=True)
    assert dry.rc == 0 and "(would delete)" in dry.stdout, dry
    assert len(role_lab.checkpoint_names("pb02")) == 2

    cleaned = role_lab.playbook("playbooks/cleanup.yml", extra_vars={"cleanup_older_than_hours": 24})
    assert cleaned.rc == 0, cleaned
    # Only the old checkpoint of this collection goes; the young one and a foreign one stay.
    assert role_lab.checkpoint_names("pb02") == ["nightly backup by hand"]
    assert cleaned.custom["hyperv_checkpoint_deleted"] == {"hv01": [stale_name("CHG-ANCIENT")]}, cleaned.custom
    assert role_lab.checkpoint_names("pb01") == [name]


def test_a_merge_that_outlasts_the_timeout_still_counts_as_deleted(role_lab):
    """The delete succeeded and Hyper-V merges in the background: the checkpoint is gone, not kept."""
    hyperv = role_lab.add_hyperv("hv01", vms=["slow01"])
    # The merge outlasts the test, so the 1-second timeout expires whatever the load: a merge of fixed
    # length could end before a slowed-down role polls it.
    hyperv.set_host(merge_seconds=24 * 3600)
    role_lab.add_guest("slow01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_ok.yml"),
                       safe_change_merge_timeout=1)

    run = role_lab.playbook(SITE, environment={"ANSIBLE_SHOW_CUSTOM_STATS": "true"})

    result = run.result("slow01")
    assert result["outcome"] == "committed" and not result["failed"], run
    assert result["checkpoint"]["state"] == "deleted", result
    assert any("still running" in note for note in result["notes"]), result
    assert run.custom["hyperv_checkpoint_ok"] is True and run.custom["hyperv_checkpoint_needs_attention"] is False
    assert run.custom["hyperv_checkpoint_counts"]["committed"] == 1
    # What ansible-playbook prints at the end with ANSIBLE_SHOW_CUSTOM_STATS, as docs/artifacts.md says.
    printed = json.loads(run.stdout.split("CUSTOM STATS:", 1)[1].split("RUN:", 1)[1].strip().splitlines()[0])
    assert printed["hyperv_checkpoint_ok"] is True and printed["hyperv_checkpoint_outcome"]["slow01"]["outcome"] == \
        "committed", printed
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
