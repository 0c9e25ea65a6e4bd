"""The role safe_change as an engine: a user's mistake is refused before any checkpoint and leaves
nothing on the host; a Hyper-V host that does not answer is an ordinary failure; warnings for
typo'd variables and a verification that only checks that the guest answers; checkpoint.yml and the
role share one naming and lock convention. Real ansible-playbook runs against the simulator."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from role_lab import TARGET, role_lab  # noqa: F401  (the fixture)
from test_safe_change import APP_FILES, SITE

pytestmark = pytest.mark.integration

TASKS = TARGET / "tasks"
CHANGE_OK = str(TASKS / "change_ok.yml")
CHANGES_ON_HOST = ("create_checkpoint", "remove_checkpoints", "restore_checkpoint", "rename_checkpoint",
                   "set_checkpoint_settings")


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return str(path)


def operations(host, vm_name):
    """The operations the simulated host ran for ``vm_name`` (by name or by its id)."""
    vm_id = host.vm(vm_name)["id"]
    return [request["operation"] for request in host.requests()
            if vm_name in (request.get("params") or {}).get("Names", [])
            or (request.get("params") or {}).get("VMId") == vm_id]


def test_mistakes_in_the_change_are_refused_before_the_checkpoint_and_the_next_good_run_succeeds(role_lab, tmp_path):
    host = role_lab.add_hyperv("hv01", vms=["typo01", "miss01", "role01", "nest01", "verify01"])
    typo = write(tmp_path / "typo.yml", """\
        - name: Restart the app
          ansible.builtin.servcie:
            name: app
            state: restarted
        """)
    nested = write(tmp_path / "nested.yml", """\
        - name: Patch
          block:
            - name: Fine
              ansible.builtin.command: "true"
          rescue:
            - name: Clean up
              ansible.builtin.include_tasks: typo.yml
        """)
    bad_verify = write(tmp_path / "verify_typo.yml", """\
        - name: Version
          ansible.builtin.asert:
            that: true
        """)
    role_lab.add_guest("typo01", files=APP_FILES, safe_change_tasks=typo)
    role_lab.add_guest("miss01", files=APP_FILES, safe_change_tasks=str(tmp_path / "does-not-exist.yml"))
    role_lab.add_guest("role01", files=APP_FILES, safe_change_role="sim_relase")
    role_lab.add_guest("nest01", files=APP_FILES, safe_change_tasks=nested)
    role_lab.add_guest("verify01", files=APP_FILES, safe_change_tasks=CHANGE_OK, safe_change_verify_tasks=bad_verify)
    before = {name: role_lab.digest(name) for name in role_lab.guests}

    run = role_lab.playbook(SITE)

    assert run.rc != 0
    expected = {
        "typo01": "%s (safe_change_tasks), task 1 ('Restart the app'): couldn't resolve module/action "
                  "'ansible.builtin.servcie'" % typo,
        "miss01": "the tasks file '%s' (safe_change_tasks) does not exist" % (tmp_path / "does-not-exist.yml"),
        "role01": "the role 'sim_relase' (safe_change_role) cannot be found",
        "nest01": "%s (safe_change_tasks, included by %s, task 1 ('Clean up')), task 1 ('Restart the app'): "
                  "couldn't resolve module/action 'ansible.builtin.servcie'" % (typo, nested),
        "verify01": "%s (safe_change_verify_tasks), task 1 ('Version'): couldn't resolve module/action "
                    "'ansible.builtin.asert'" % bad_verify,
    }
    for guest, text in expected.items():
        result = run.result(guest)
        assert result["outcome"] == "skipped" and result["failed"], result
        assert result["msg"].startswith("Pre-flight refused the change: The change cannot run: "), result["msg"]
        assert text in result["msg"] and result["msg"].endswith("Nothing was changed."), (guest, result["msg"])
        assert result["checkpoint"]["state"] == "none"
        # Nothing reached the Hyper-V host for this VM, and the guest was not touched.
        assert operations(host, guest) == [], (guest, host.requests())
        assert role_lab.checkpoint_names(guest) == [] and role_lab.digest(guest) == before[guest]
    assert run.recap["typo01"]["unreachable"] == 0

    # The user fixes the change: the next run goes through.
    write(tmp_path / "typo.yml", """\
        - name: Restart the app
          ansible.builtin.command: "true"
        """)
    again = role_lab.playbook(SITE, extra_vars={"test_change_id": "CHG-FIXED"})
    assert again.result("typo01")["outcome"] == "committed", again.result("typo01")
    assert again.result("nest01")["outcome"] == "committed", again.result("nest01")
    assert operations(host, "typo01").count("create_checkpoint") == 1
    assert role_lab.checkpoint_names("typo01") == []


def test_patch_window_without_ansible_windows_is_refused_naming_the_module(role_lab):
    """The default change of patch_window.yml needs ansible.windows, which this controller lacks."""
    host = role_lab.add_hyperv("hv01", vms=["win01"])
    role_lab.add_guest("win01", files=APP_FILES)
    run = role_lab.playbook("playbooks/patch_window.yml", extra_vars={
        "change_id": "CHG-PW", "patch_window_results_file": str(role_lab.tmp_path / "results.json")})
    result = run.result("win01")
    assert result["outcome"] == "skipped" and "couldn't resolve module/action 'ansible.windows.win_updates'" in \
        result["msg"] and "windows_updates.yml (safe_change_tasks)" in result["msg"], result
    assert operations(host, "win01") == [] and role_lab.checkpoint_names("win01") == []


def test_a_hyperv_host_that_does_not_answer_is_an_ordinary_refusal(role_lab):
    role_lab.add_hyperv("hv01", vms=["lost01"])
    role_lab.add_guest("lost01", files=APP_FILES, safe_change_tasks=CHANGE_OK)
    inventory_of = role_lab.write_inventory

    def wrong_password():
        path = inventory_of()
        path.write_text(path.read_text().replace('"ansible_password": "', '"ansible_password": "wrong-'))
        return path

    role_lab.write_inventory = wrong_password
    run = role_lab.playbook(SITE)
    result = run.result("lost01")
    assert run.recap["lost01"]["unreachable"] == 0 and run.recap["lost01"]["failures"] == 1, run
    assert result["outcome"] == "skipped", result
    assert result["msg"].startswith("Pre-flight refused the change: The Hyper-V host hv01 did not answer: "), result
    assert "credentials were rejected" in result["msg"]
    # The summary and the artifacts still have the guest.
    assert "1 host(s): 0 committed, 0 reverted, 0 revert failed (need a human), 1 skipped" in run.stdout
    assert run.custom["hyperv_checkpoint_counts"]["skipped"] == 1


def test_typo_d_variables_and_a_verification_that_only_checks_the_guest_are_warned_about_once(role_lab):
    role_lab.add_hyperv("hv01", vms=["w1", "w2"])
    for guest in ("w1", "w2"):
        role_lab.add_guest(guest, files=APP_FILES, safe_change_tasks=CHANGE_OK, safe_change_verify_service=["app"])
    run = role_lab.playbook(SITE)
    assert run.result("w1")["outcome"] == "committed" and run.result("w2")["outcome"] == "committed"
    output = run.stdout + run.stderr
    typo = "safe_change does not know the variable safe_change_verify_service, which is ignored; did you mean " \
           "safe_change_verify_services?"
    assert output.count(typo) == 1, output
    assert output.count("safe_change only checks that the guest answers after the change") == 1, output


def test_default_output_is_a_line_per_guest_and_step_details_at_v(role_lab):
    role_lab.add_hyperv("hv01", vms=["out01"])
    role_lab.add_guest("out01", files=APP_FILES, safe_change_tasks=CHANGE_OK, safe_change_verify_services=["app"])
    quiet = role_lab.playbook(SITE)
    step_lines = [line for line in quiet.stdout.splitlines() if re.match(r"^(ok|changed|skipping): \[out01", line)]
    assert step_lines and all(line.rstrip().endswith("]") or "=> (item=" in line for line in step_lines), step_lines
    assert "run_id" not in quiet.stdout  # no result dumps at default verbosity
    verbose = role_lab.playbook(SITE, extra_vars={"test_change_id": "CHG-V"}, environment={"ANSIBLE_VERBOSITY": "1"})
    assert "\"msg\": \"verified: the guest answers within 3s; services running: app\"" in verbose.stdout, verbose


def test_checkpoint_playbook_and_the_role_share_one_naming_and_lock_convention(role_lab):
    host = role_lab.add_hyperv("hv01", vms=["man01", "other01"])
    role_lab.add_guest("man01", files=APP_FILES, safe_change_tasks=CHANGE_OK, test_change_id="CHG-MAN")
    role_lab.add_guest("other01", files=APP_FILES)

    # The checkpoint type in Hyper-V's spelling, as a result or the inventory plugin carries it.
    first = role_lab.playbook("playbooks/checkpoint.yml", extra_vars={"change_id": "CHG-MAN", "checkpoint_hosts": "man01",
                                                                      "checkpoint_type": "ProductionOnly"})
    second = role_lab.playbook("playbooks/checkpoint.yml",
                               extra_vars={"change_id": "CHG-MAN", "checkpoint_hosts": "man01"})
    assert first.rc == 0 and second.rc == 0, (first, second)
    [name] = role_lab.checkpoint_names("man01")
    assert re.match(r"^safe_change CHG-MAN by \S+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ manual$", name), name
    assert second.custom["hyperv_checkpoint_taken"]["man01"]["name"] == name
    assert "found the checkpoint '%s'" % name in second.stdout
    assert operations(host, "man01").count("create_checkpoint") == 1
    [created] = [request for request in host.requests() if request["operation"] == "create_checkpoint"]
    assert created["params"]["CheckpointType"] == "ProductionOnly", created

    # A run of another change on the VM refuses: the checkpoint is that change's lock.
    other = role_lab.playbook(SITE, extra_vars={"test_change_id": "CHG-OTHER"}, limit="man01")
    assert "may be the lock of a safe_change run that is still going" in other.result("man01")["msg"], other.result("man01")
    # A run of the same change refuses by default and says how to adopt it ...
    refused = role_lab.playbook(SITE, limit="man01")
    assert "checkpoints of an earlier run are left on it: '%s'" % name in refused.result("man01")["msg"]
    # ... and adopts it with the policy reuse: it becomes the run's rollback point, then is deleted.
    adopted = role_lab.playbook(SITE, extra_vars={"safe_change_stale_policy": "reuse"}, limit="man01")
    result = adopted.result("man01")
    assert result["outcome"] == "committed" and result["checkpoint"]["reused"], result
    assert result["checkpoint"]["name"] == name[:-len(" manual")]
    assert role_lab.checkpoint_names("man01") == [] and host.consistency_problems() == []


def test_checkpoint_playbook_refuses_a_vm_another_cluster_node_owns(role_lab):
    """A VM this node still lists while the cluster reports another owner (a live migration handing it over) is
    refused, as the role's pre-flight refuses it: its checkpoint would be taken on the node about to lose it."""
    host = role_lab.add_hyperv("hv01", vms=["mig01"])
    host.set_vm("mig01", owner_node="HV99", listed_here=True)
    role_lab.add_guest("mig01", files=APP_FILES)

    run = role_lab.playbook("playbooks/checkpoint.yml", extra_vars={"change_id": "CHG-MIG", "checkpoint_hosts": "mig01"})
    assert run.rc != 0, run
    assert "it is owned by cluster node HV99" in run.stdout, run
    assert role_lab.checkpoint_names("mig01") == []
    assert "create_checkpoint" not in operations(host, "mig01")


# Every file name the role's own tasks include or import, and a few a user's playbook folder ordinarily has.
ROLE_TASK_FILES = sorted(path.name for path in (TARGET.parents[3] / "roles" / "safe_change" / "tasks").glob("*.yml"))


def test_files_in_the_users_playbook_folder_never_replace_the_roles_own(role_lab, tmp_path):
    """A playbook in a folder of the user's own, whose tasks/ holds a file of every name the role uses
    (main.yml, verify.yml, revert.yml ...): each is a task that fails loudly if it runs. The role must run its
    own files: a committed guest, a reverted one (its post-revert verification is the role's), and a group."""
    host = role_lab.add_hyperv("hv01", vms=["own01", "own02", "grp01", "grp02"])
    folder = tmp_path / "operator"
    (folder / "tasks").mkdir(parents=True)
    for name in ROLE_TASK_FILES + ["change.yml"]:
        write(folder / "tasks" / name, """\
            - name: The user's own %s
              ansible.builtin.fail:
                msg: "the user's tasks/%s ran in place of the role's"
            """ % (name, name))
    # The user's change and verification, named as users name them, in the same folder.
    write(folder / "tasks" / "patch.yml", """\
        - name: Install the release
          ansible.builtin.copy:
            dest: "{{ guest_disk_path }}/app/version"
            content: "2.0\\n"
            mode: "0644"
        - name: A step that fails
          ansible.builtin.fail:
            msg: "the patch failed"
          when: patch_fails | default(false) | bool
        """)
    playbook = write(folder / "site.yml", """\
        - name: Patch
          hosts: guests
          gather_facts: false
          vars:
            safe_change_id: CHG-OWN
            safe_change_requested_by: pytest
            safe_change_tasks: tasks/patch.yml
          roles:
            - role: hyperv.checkpoint.safe_change
        """)
    role_lab.add_guest("own01", files=APP_FILES, safe_change_verify_services=["app"])
    role_lab.add_guest("own02", files=APP_FILES, safe_change_verify_services=["app"], patch_fails=True)
    for guest, order in (("grp01", 0), ("grp02", 1)):
        role_lab.add_guest(guest, files=APP_FILES, safe_change_verify_services=["app"], safe_change_group="shop",
                           safe_change_group_order=order, patch_fails=guest == "grp02")
    before = {name: role_lab.digest(name) for name in role_lab.guests}

    run = role_lab.playbook(playbook, cwd=folder)

    assert "ran in place of the role's" not in run.stdout, run
    assert {guest: run.result(guest)["outcome"] for guest in role_lab.guests} == {
        "own01": "committed", "own02": "reverted", "grp01": "reverted", "grp02": "reverted"}, run
    assert run.result("own02")["post_revert_verification"] == "passed", run.result("own02")
    assert (role_lab.disk("own01") / "app" / "version").read_text() == "2.0\n"
    for guest in ("own02", "grp01", "grp02"):
        assert role_lab.digest(guest) == before[guest], guest
    for guest in role_lab.guests:
        assert role_lab.checkpoint_names(guest) == [], guest
    assert run.custom["hyperv_checkpoint_ok"] is False and run.custom["hyperv_checkpoint_counts"]["total"] == 4, \
        run.custom
    assert host.consistency_problems() == []


def test_the_users_verification_knows_whether_it_runs_after_the_change_or_after_a_revert(role_lab, tmp_path):
    """safe_change_phase: the user's verification checks the new release after the change and the old one after a
    revert, as the README advises; a reverted guest's verification after the revert then passes."""
    role_lab.add_hyperv("hv01", vms=["ph01", "ph02"])
    verify = write(tmp_path / "verify.yml", """\
        - name: The release on the guest
          ansible.builtin.command: cat "{{ guest_disk_path }}/app/version"
          register: release
          changed_when: false
        - name: The new release after the change, the old one after a revert
          ansible.builtin.assert:
            that: release.stdout == ('2.0' if safe_change_phase == 'after_change' else '1.4')
        - name: A check of the new release that fails on ph02
          ansible.builtin.fail:
            msg: "the new release does not serve orders"
          when: safe_change_phase == 'after_change' and (test_verify_fails | default(false) | bool)
        """)
    for guest in ("ph01", "ph02"):
        role_lab.add_guest(guest, files=APP_FILES, safe_change_tasks=CHANGE_OK, safe_change_verify_tasks=verify,
                           test_verify_fails=guest == "ph02")
    run = role_lab.playbook(SITE)
    assert run.result("ph01")["outcome"] == "committed", run.result("ph01")
    reverted = run.result("ph02")
    assert reverted["outcome"] == "reverted" and reverted["post_revert_verification"] == "passed", reverted
    assert "the new release does not serve orders" in reverted["msg"], reverted
    assert "safe_change does not know the variable safe_change_phase" not in run.stdout


@pytest.mark.parametrize("playbook, variable", [
    ("cleanup", "cleanup_hosts"), ("report", "report_hosts"), ("probe_host", "probe_hosts"),
    ("checkpoint", "checkpoint_hosts"), ("patch_window", "patch_window_hosts")])
def test_a_playbook_whose_host_pattern_matches_nothing_fails_and_says_what_to_set(
        role_lab, tmp_path, playbook, variable):
    """Ansible only warns and exits 0 when a play's pattern matches no host: a scheduled job would be green while
    it did nothing. Every playbook checks its pattern first, names it and the variable that sets it."""
    host = role_lab.add_hyperv("hv01", vms=["pat01"])
    role_lab.add_guest("pat01", files=APP_FILES)
    run = role_lab.playbook("playbooks/%s.yml" % playbook, cwd=tmp_path, extra_vars={
        variable: "hyperv_hosts", "change_id": "CHG-PAT", "probe_vm": "pat01",
        "probe_report": str(tmp_path / "probe.json")})
    assert run.rc != 0, run
    assert "The host pattern 'hyperv_hosts' matches no host of the inventory" in run.stdout, run
    assert "-e %s=" % variable in run.stdout, run
    assert [request["operation"] for request in host.requests()] == []


def test_a_vm_name_the_host_does_not_have_is_refused_with_its_closest_names(role_lab):
    """As the modules do: the refusal suggests the host's closest VM names, in one sentence."""
    host = role_lab.add_hyperv("hv01", vms=["adhoc1"])
    # The guest answers (its connection reaches adhoc1); the role is told the VM is 'adhoc', a typo.
    role_lab.add_guest("adhoc", vm="adhoc1", files=APP_FILES, safe_change_tasks=CHANGE_OK, hyperv_vm_name="adhoc",
                       ansible_sim_vm="adhoc1")
    run = role_lab.playbook(SITE)
    result = run.result("adhoc")
    assert result["outcome"] == "skipped" and result["failed"], result
    assert "has no VM named 'adhoc'" in result["msg"] and "did you mean 'adhoc1'?" in result["msg"], result
    assert "?." not in result["msg"] and "?." not in run.stdout, result
    assert "create_checkpoint" not in [request["operation"] for request in host.requests()]


def test_a_vm_name_in_another_case_reaches_the_vm_and_its_guest(role_lab):
    """Hyper-V matches VM names case aside; so does the simulated guest connection (it refused CASE01 for case01)."""
    role_lab.add_hyperv("hv01", vms=["case01"])
    role_lab.add_guest("case01", files=APP_FILES, safe_change_tasks=CHANGE_OK, hyperv_vm_name="CASE01",
                       safe_change_verify_services=["app"])
    run = role_lab.playbook(SITE)
    assert run.result("case01")["outcome"] == "committed", run.result("case01")
    assert (role_lab.disk("case01") / "app" / "version").read_text() == "2.0\n"


def test_a_restore_the_host_never_answered_is_not_changed_and_the_guest_fails_with_one_line(role_lab):
    """Issue 22, point 6: the Hyper-V host goes down after the change failed. The revert step is not
    'changed' (nothing changed on the host), and the guest fails with its one-line headline, under the
    comment that says why, not with the whole message twice."""
    host = role_lab.add_hyperv("hv01", vms=["down01"])
    role_lab.add_guest("down01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_fail.yml"),
                       safe_change_operation_timeout=20)
    for operation in ("restore_checkpoint", "rename_checkpoint"):
        host.inject_fault(operation, "drop_before", times=-1)
    run = role_lab.playbook(SITE)

    result = run.result("down01")
    assert result["outcome"] == "revert_failed" and result["needs_attention"], result
    revert = run.stdout.split("TASK [hyperv.checkpoint.safe_change : Failed change | Restore the checkpoint, VM back "
                              "to its power state]")[-1].split("TASK [")[0]
    assert "ok: [down01 -> hv01" in revert and "changed: [down01" not in revert, revert
    assert result["headline"] == "REVERT FAILED on down01: %s." % result["summary"]
    failing = run.stdout.split("Fail the guest when the change did not go through]")[1]
    assert failing.count(result["headline"]) == 2 and result["msg"] not in failing, failing
    assert "safe_change failed this guest on purpose" in failing, failing
    assert [request["operation"] for request in host.requests()].count("restore_checkpoint") >= 1


def test_long_waits_show_a_line_when_they_begin_and_end_at_default_verbosity(role_lab):
    """Issue 22, point 5: a verification that retries, and a restore, each say when they begin and end, with
    attempt counts, without -v; the failure says how many tries were made."""
    role_lab.add_hyperv("hv01", vms=["slow01"])
    role_lab.add_guest("slow01", files=APP_FILES, safe_change_tasks=CHANGE_OK,
                       safe_change_verify_command="test -e /nonexistent-file", safe_change_verify_retries=2,
                       safe_change_verify_delay=1)
    run = role_lab.playbook(SITE)

    result = run.result("slow01")
    assert result["outcome"] == "reverted", result
    lines = run.stdout.splitlines()
    begun = "slow01: the verification command failed at try 1 of 3 (exit code 1); trying again every 1 seconds"
    assert lines.count(begun) == 2, run  # after the change, and again after the revert
    assert "The verification command failed on slow01 with exit code 1 (3 tries over " in result["msg"], result
    restoring = [line for line in lines if line.startswith("slow01: restoring checkpoint '")]
    assert len(restoring) == 1 and "of VM 'slow01' on hv01, VM back to Running" in restoring[0], run
    assert any(re.fullmatch(r"slow01: restored, after \d+ s", line) for line in lines), run


def test_under_the_free_strategy_each_guest_runs_on_its_own_and_the_summary_comes_once(role_lab):
    """Issue 22, point 7: the role under strategy free (each guest on its own; docs/performance.md measures it):
    one guest committed, one whose change fails and one whose verification fails reverted, the disks of the
    reverted ones byte-identical; one summary table for the batch, the artifacts of every guest, no checkpoint
    left, and no warning about run_once."""
    role_lab.add_hyperv("hv01", vms=["free01", "free02", "free03"])
    role_lab.add_guest("free01", files=APP_FILES, safe_change_tasks=CHANGE_OK, safe_change_verify_services=["app"])
    role_lab.add_guest("free02", files=APP_FILES, safe_change_tasks=str(TASKS / "change_fail.yml"),
                       safe_change_verify_services=["app"])
    role_lab.add_guest("free03", files=APP_FILES, safe_change_tasks=str(TASKS / "change_break_health.yml"),
                       safe_change_verify_url=role_lab.url("free03", "www/health"))
    before = {name: role_lab.digest(name) for name in role_lab.guests}
    run = role_lab.playbook(SITE, environment={"ANSIBLE_STRATEGY": "free"})

    assert {guest: run.result(guest)["outcome"] for guest in ("free01", "free02", "free03")} == {
        "free01": "committed", "free02": "reverted", "free03": "reverted"}, run
    for guest in ("free02", "free03"):
        assert run.result(guest)["post_revert_verification"] == "passed", run.result(guest)
        assert role_lab.digest(guest) == before[guest], guest
    assert role_lab.digest("free01") != before["free01"]
    assert all(role_lab.checkpoint_names(guest) == [] for guest in ("free01", "free02", "free03"))
    assert run.stdout.count("3 host(s): 1 committed, 2 reverted, 0 revert failed") == 1, run
    assert run.custom["hyperv_checkpoint_counts"]["total"] == 3
    assert "run_once with the free strategy" not in run.stdout + run.stderr, run


def test_under_the_linear_strategy_a_failed_change_does_not_count_the_other_guests_verification(role_lab):
    """Issue 22, point 5: slow01's change fails at once, then its revert waits while fast01 verifies for a
    while (the linear strategy runs fast01's verification before any rescue). slow01's change time is its own:
    what it waited is a phase of its own. Bounds, not timings: the wait lasts at least fast01's verification."""
    role_lab.add_hyperv("hv01", vms=["fast01", "slow01"])
    role_lab.add_guest("fast01", files=APP_FILES, safe_change_tasks=CHANGE_OK,
                       safe_change_verify_command="sleep 4")
    role_lab.add_guest("slow01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_fail.yml"),
                       safe_change_verify_services=["app"])
    run = role_lab.playbook(SITE)

    assert run.result("fast01")["outcome"] == "committed" and run.result("slow01")["outcome"] == "reverted", run
    spent = run.result("slow01")["durations"]
    assert spent["waiting_seconds"] >= 4, spent
    assert spent["change_seconds"] <= spent["total_seconds"] - 4, spent
    assert "waiting_seconds" not in run.result("fast01")["durations"]


def test_patch_window_under_the_free_strategy_keeps_its_batches_and_results(role_lab, tmp_path):
    """playbooks/patch_window.yml with patch_window_strategy=free: serial
    batches of 2, the failed guest reverted, both batches in the summary, the artifacts and the results file."""
    role_lab.add_hyperv("hv01", vms=["pw1", "pw2", "pw3", "pw4"])
    for name in ("pw1", "pw2", "pw3", "pw4"):
        role_lab.add_guest(name, files=APP_FILES, test_patch_fails=name == "pw3")
    before = role_lab.digest("pw3")
    run = role_lab.playbook("playbooks/patch_window.yml", cwd=tmp_path, extra_vars={
        "change_id": "CHG-FREE", "patch_window_serial": 2, "patch_window_max_fail_percentage": 50,
        "patch_window_strategy": "free", "patch_window_change_tasks": str(TASKS / "patch.yml")})

    assert run.stdout.count("PLAY [Patch window]") == 2, run
    assert {name: result["outcome"] for name, result in run.results.items()} == {
        "pw1": "committed", "pw2": "committed", "pw3": "reverted", "pw4": "committed"}, run
    assert role_lab.digest("pw3") == before
    assert "4 host(s): 3 committed, 1 reverted" in run.stdout, run
    written = json.loads((tmp_path / "patch-window-results.json").read_text())
    assert set(written["hyperv_checkpoint_outcome"]) == {"pw1", "pw2", "pw3", "pw4"}
    assert "run_once with the free strategy" not in run.stdout + run.stderr, run
    assert all(role_lab.checkpoint_names(name) == [] for name in ("pw1", "pw2", "pw3", "pw4"))


def test_patch_window_without_ansible_s_argument_check_still_refuses_bad_variables_before_any_checkpoint(role_lab):
    """patch_window.yml includes the role with rolespec_validate false (one task less per guest): the role's
    first step checks the same argument spec, so a wrong type and a wrong choice are refused before anything is
    done on the Hyper-V host, with the guest in the summary."""
    host = role_lab.add_hyperv("hv01", vms=["bad01"])
    role_lab.add_guest("bad01", files=APP_FILES, safe_change_keep_hours="soon",
                       safe_change_stale_policy="sometimes")
    run = role_lab.playbook("playbooks/patch_window.yml", extra_vars={
        "change_id": "CHG-BAD", "patch_window_change_tasks": str(TASKS / "patch.yml"),
        "patch_window_results_file": str(role_lab.tmp_path / "results.json")})

    assert "Validating arguments against arg spec" not in run.stdout, run
    result = run.result("bad01")
    assert result["outcome"] == "skipped" and result["msg"].startswith(
        "Pre-flight refused the change: Invalid role variables: "), result
    for named in ("safe_change_keep_hours", "safe_change_stale_policy"):
        assert named in result["msg"], (named, result["msg"])
    assert operations(host, "bad01") == [] and role_lab.checkpoint_names("bad01") == []
    assert "1 host(s): 0 committed, 0 reverted, 0 revert failed (need a human), 1 skipped" in run.stdout, run
