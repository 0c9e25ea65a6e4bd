"""Issue 14, "right on a real Hyper-V host": real ansible-playbook runs against a simulator that behaves as
Hyper-V does where it is stricter than the simulator used to be (docs/host-fidelity.md lists each behaviour
and its source). The simulator's event log (SimHost.events) shows which cmdlets ran on the VM, so a test can
show that a restored guest never ran, or that no checkpoint type was switched.
"""

from __future__ import annotations

import json

import pytest

from test_hyperv_checkpoint import assert_ok

pytestmark = pytest.mark.integration


def play(lab, name, tasks, extra_vars=None, **options):
    """Run ``tasks`` (YAML text of a task list, indented by 4) against the simulated host."""
    path = lab.tmp_path / ("%s.yml" % name)
    path.write_text("- hosts: hyperv\n  gather_facts: false\n  tasks:\n" + tasks)
    return lab.playbook(path, extra_vars=extra_vars, **options)


def cmdlets_since(lab, vm, count):
    return [event["cmdlet"] for event in lab.host.events(vm)[count:]]


# 1. Restore and power state -----------------------------------------------------------------


@pytest.mark.parametrize("power_state, final", [("off", "Off"), ("as_checkpoint", "Saved"), ("previous", "Running")])
def test_a_restored_guest_runs_only_when_the_power_state_says_so(lab, power_state, final):
    lab.host.set_vm("web01", checkpoint_type="Standard")
    assert_ok(play(lab, "take", "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: before}\n"))
    seen = len(lab.host.events("web01"))
    run = play(lab, "restore", (
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: before, state: restored, power_state: %s}\n"
        "      register: restored\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - restored.previous_state == 'Running'\n"
        "          - restored.actions[0].state_after_restore == 'Saved'\n"
        "          - restored.vm.state == '%s'\n") % (json.dumps(power_state), final))
    assert_ok(run)
    done = cmdlets_since(lab, "web01", seen)
    # Saved first: Restore-VMSnapshot then neither saves nor starts the VM itself.
    assert done[:2] == ["Save-VM", "Restore-VMSnapshot"], done
    assert ("Start-VM" in done) is (final == "Running"), done
    assert "Stop-VM -TurnOff" not in done


def test_restoring_an_automatic_checkpoint_with_power_state_off_keeps_it(lab):
    automatic = lab.host.add_checkpoint("web01", "Automatic Checkpoint - web01 - (12/03/2026 - 07:58:01)",
                                        is_automatic=True)
    run = play(lab, "restore_automatic", (
        "    - hyperv.checkpoint.hyperv_checkpoint:\n"
        "        vm: web01\n"
        "        checkpoint_id: %s\n"
        "        state: restored\n"
        "        power_state: 'off'\n") % automatic)
    assert_ok(run)
    vm = lab.host.vm("web01")
    assert vm["state"] == "Off" and vm["current_checkpoint_id"] == automatic
    assert [cp["id"] for cp in lab.host.checkpoints("web01")] == [automatic]  # Stop-VM would have deleted it


# 2. Checkpoint type override ----------------------------------------------------------------


def set_vm_types(lab):
    return [event["checkpoint_type"] for event in lab.host.events("web01") if event["cmdlet"] == "Set-VM"]


def test_a_checkpoint_of_the_vms_own_type_switches_nothing(lab):
    run = play(lab, "own_type", (
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: own, checkpoint_type: production}\n"
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: other, checkpoint_type: standard}\n"))
    assert_ok(run)
    assert set_vm_types(lab) == ["Standard", "Production"]  # only for the standard one, and put back


def test_a_run_killed_while_the_type_is_switched_is_repaired_by_the_retry_and_by_the_next_run(lab):
    # The retry after the lost connection: it finds no checkpoint, puts the type back, creates.
    lab.host.inject_fault("create_checkpoint", "kill", at="type_switched")
    run = play(lab, "killed", (
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: first, checkpoint_type: standard}\n"
        "      register: first\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - first.taken_type == 'standard'\n"
        "          - first.vm.checkpoint_type == 'Production'\n"))
    assert_ok(run)
    assert lab.host.vm("web01")["checkpoint_type"] == "Production"
    assert [cp["name"] for cp in lab.host.checkpoints("web01")] == ["first"]
    # A run that dies for good (every retry lost too) leaves the type switched; the next run puts it back.
    lab.host.inject_fault("create_checkpoint", "kill", at="type_switched")
    lab.host.inject_fault("create_checkpoint", "drop_before", times=3)
    lab.host.inject_fault("get_vms", "drop_before", times=-1, skip=1)
    failed = play(lab, "dies", "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: second, "
                               "checkpoint_type: standard}\n")
    assert failed.rc != 0
    lab.host.clear_faults()
    left = lab.host.vm("web01")
    assert left["checkpoint_type"] == "Standard" and left["type_override"] == {"original": "Production", "live": False}
    run = play(lab, "next", (
        "    - hyperv.checkpoint.hyperv_checkpoint_info: {vm: web01}\n"
        "      register: info\n"
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: next}\n"
        "      register: next\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - \"info.vms[0].type_override == {'original_type': 'Production', 'live': false}\"\n"
        "          - next.taken_type == 'production'\n"
        "          - next.warnings | select('search', 'its type Production was put back') | list | length == 1\n"))
    assert_ok(run)
    assert lab.host.vm("web01")["checkpoint_type"] == "Production" and lab.host.vm("web01")["type_override"] is None


def test_set_vm_in_an_invalid_state_is_retried_as_busy(lab):
    lab.host.set_vm("web01", invalid_state_calls=1)
    run = play(lab, "invalid_state", (
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: cp, checkpoint_type: standard}\n"
        "      register: made\n"
        "    - ansible.builtin.assert:\n"
        "        that: [made.taken_type == 'standard', made.vm.checkpoint_type == 'Production']\n"), verbosity=3)
    assert_ok(run)
    assert "failed transiently" in run.stdout  # the InvalidState of Set-VM was answered as busy and retried
    assert lab.host.vm("web01")["type_override"] is None


# 3. and 4. Fallback only on the production-specific failure; error classes from error ids ------------


@pytest.mark.parametrize("error_id, code", [("OperationTimeout", "hyperv_timeout"), ("AccessDenied", "access_denied"),
                                            ("ObjectInUse", "busy")])
def test_other_failures_of_a_production_attempt_keep_their_own_code(lab, error_id, code):
    lab.host.set_vm("web01", checkpoint_type="ProductionOnly", checkpoint_failure=error_id)
    run = play(lab, "failure", (
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: cp, checkpoint_type: production}\n"
        "      register: made\n"
        "      ignore_errors: true\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - made is failed\n"
        "          - made.error_code == '%s'\n"
        "          - made.error_details.fully_qualified_error_id is match('%s,')\n") % (code, error_id))
    assert_ok(run)
    assert lab.host.checkpoints("web01") == []
    assert lab.host.vm("web01")["checkpoint_type"] == "ProductionOnly"


def test_a_busy_vm_is_retried_until_it_is_free(lab):
    lab.host.set_vm("web01", busy_calls=2)  # Checkpoint-VM finds the VM in use twice
    run = play(lab, "busy", "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: after-busy}\n", verbosity=3)
    assert_ok(run)
    # Counted by cause: a reply that a busy machine delays past the read timeout is retried as well.
    busy = [line for line in run.stdout.splitlines() if "failed transiently" in line and "object is in use" in line]
    assert len(busy) == 2, run
    assert [cp["name"] for cp in lab.host.checkpoints("web01")] == ["after-busy"]


# 5. Locked-down hosts --------------------------------------------------------------------------


def test_a_host_in_constrained_language_mode_is_refused_with_its_own_code(lab):
    lab.host.set_host(language_mode="ConstrainedLanguage")
    run = play(lab, "constrained", (
        "    - hyperv.checkpoint.hyperv_checkpoint_info: {vm: web01}\n"
        "      register: info\n"
        "      ignore_errors: true\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - info is failed\n"
        "          - info.error_code == 'constrained_language'\n"
        "          - info.msg is search('ConstrainedLanguage mode')\n"
        "          - info.msg is search('What to do')\n"))
    assert_ok(run)
    assert all(request.get("refused") for request in lab.host.requests())


# 6. Create in two steps ------------------------------------------------------------------------


def test_a_create_lost_between_checkpoint_vm_s_two_steps_is_renamed_not_repeated(lab):
    lab.host.inject_fault("create_checkpoint", "kill", at="checkpoint_taken")
    run = play(lab, "two_steps", (
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: before patching}\n"
        "      register: made\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - made is changed\n"
        "          - made.checkpoint.name == 'before patching'\n"
        "          - made.warnings | select('search', 'default name .web01 - \\\\(') | list | length == 1\n"))
    assert_ok(run)
    assert [cp["name"] for cp in lab.host.checkpoints("web01")] == ["before patching"]


# 8. Sizes -------------------------------------------------------------------------------------


def test_a_root_checkpoints_size_is_its_own_differencing_disk_not_the_base_disk(lab):
    disk = lab.host.disk_path("web01")
    (disk / "base.bin").write_bytes(b"b" * 200000)
    assert_ok(play(lab, "root", "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: root}\n"))
    (disk / "patch.bin").write_bytes(b"p" * 30000)
    run = play(lab, "sizes", (
        "    - hyperv.checkpoint.hyperv_checkpoint_info: {vm: web01}\n"
        "      register: info\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - info.vms[0].checkpoints[0].size_bytes == 4194304 + 30000\n"
        "          - info.vms[0].total_size_bytes == info.vms[0].checkpoints[0].size_bytes\n"
        "          - info.vms[0].disk_chain_bytes > info.vms[0].total_size_bytes + 200000\n"))
    assert_ok(run)


# 9. Free space -------------------------------------------------------------------------------


def test_low_free_space_refuses_a_create_and_shows_in_the_info(start_lab):
    lab = start_lab(free_gb=4)  # hyperv-sim serve --free-gb 4
    run = play(lab, "low_space", (
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: refused}\n"
        "      register: refused\n"
        "      ignore_errors: true\n"
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: allowed, min_free_gb: 2.5}\n"
        "      register: allowed\n"
        "    - hyperv.checkpoint.hyperv_checkpoint_info: {vm: web01}\n"
        "      register: info\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - refused is failed and refused.error_code == 'low_disk_space'\n"
        "          - refused.msg is search('has 4.0 GB free, less than min_free_gb 10 GB')\n"
        "          - allowed is changed\n"
        "          - allowed.vm.volumes[0].free_bytes == 4 * 1024 ** 3\n"
        "          - info.vms[0].volumes | map(attribute='path') | list == ['C:\\\\']\n"))
    assert_ok(run)
    assert [cp["name"] for cp in lab.host.checkpoints("web01")] == ["allowed"]
    # The admin call changes the free space of a running simulator.
    lab.host.set_free_space(1.5)
    run = play(lab, "lower", "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: later, min_free_gb: 2.5}\n")
    assert run.rc != 0 and "low_disk_space" in run.stdout


# 10. Clusters and the limit ---------------------------------------------------------------------


def test_a_renamed_cluster_role_is_found_by_vm_id(lab):
    vm_id = lab.host.add_vm("sql01", owner_node="HV02")
    lab.host.set_vm("sql01", cluster_role_name="SCVMM sql01 Resources")
    run = play(lab, "cluster", (
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm_id: %s, name: cp}\n"
        "      register: by_id\n"
        "      ignore_errors: true\n"
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: sql01, name: cp}\n"
        "      register: by_name\n"
        "      ignore_errors: true\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - by_id.error_code == 'owned_by_other_node'\n"
        "          - \"by_id.error_details == {'vm': '%s', 'owner_node': 'HV02', 'matched_by': 'vm_id', "
        "'follow': 'not_in_inventory'}\"\n"
        "          - by_name.error_code == 'vm_not_found'\n") % (vm_id, vm_id))
    assert_ok(run)


def test_checkpoints_of_backup_software_count_towards_the_limit(lab):
    for number in range(45):
        lab.host.add_checkpoint("web01", "old-%02d" % number)
    for number in range(5):
        lab.host.add_checkpoint("web01", "backup-%d" % number, snapshot_type="Recovery")
    run = play(lab, "limit", (
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: one more}\n"
        "      register: refused\n"
        "      ignore_errors: true\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - refused.error_code == 'limit_reached'\n"
        "          - refused.msg is search('5 of them made by backup or replication software')\n"))
    assert_ok(run)
    assert len(lab.host.checkpoints("web01")) == 50


def test_the_report_shows_free_space_and_flags_low_volumes(lab):
    lab.host.set_free_space(6.0)
    lab.host.set_free_space(900.0, volume="D:\\", size_gb=1000.0)
    lab.host.set_vm("db01", disk_folder="D:\\VMs\\db01", checkpoint_location="D:\\VMs\\db01\\Snapshots")
    lab.host.add_checkpoint("db01", "nightly")
    out = lab.tmp_path / "report"
    run = lab.playbook("playbooks/report.yml", extra_vars={"report_output_dir": str(out), "report_min_free_gb": 8})
    assert_ok(run)
    line = next(text for text in run.stdout.splitlines() if " web01 " in text)
    assert "6.00 GB" in line and "LOW SPACE" in line, line
    assert "1 VM(s) low on space (below 8.0 GB free)" in run.stdout
    data = json.loads((out / "report.json").read_text())
    hv01 = data["hosts"][0]
    assert [volume["path"] for volume in hv01["volumes"]] == ["C:\\", "D:\\"]
    assert hv01["low_space"] == ["web01"] and data["totals"]["low_space_vms"] == 1
    vms = {vm["name"]: vm for vm in hv01["vms"]}
    assert vms["db01"]["free_bytes"] == 900 * 1024 ** 3 and not vms["db01"]["low_space"]
    assert vms["web01"]["low_space"]  # listed for its low volume, although it has no checkpoint
    html = (out / "report.html").read_text()
    assert '<table id="volumes">' in html and "LOW SPACE" in html
