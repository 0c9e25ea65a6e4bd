"""What a new user trips over (issue 16), each through a real ansible-playbook run over WinRM against the simulator:
the Hyper-V host named in failures, VM and checkpoint names matched as Hyper-V matches them, checkpoint types that
round-trip, a failed create that changed nothing, and a listing that reports missing VMs."""

from __future__ import annotations

import itertools

import pytest

pytestmark = pytest.mark.integration


def play(lab, name, tasks, hosts="hyperv"):
    """A play file of ``tasks`` (YAML text, indented for the play's task list) run on ``hosts``."""
    path = lab.tmp_path / ("%s.yml" % name)
    path.write_text("- hosts: %s\n  gather_facts: false\n  tasks:\n%s" % (hosts, tasks))
    return path


def assert_ok(run):
    assert run.rc == 0 and "failed=0" in run.stdout, run.stdout[-6000:] + run.stderr[-2000:]
    assert "Traceback" not in run.stdout + run.stderr


def test_a_delegated_failure_names_the_hyperv_host_not_the_guest(lab):
    """The play runs on a guest (web01.lab) and delegates to hv01: the message names hv01 and its computer name."""
    lab.extra_hosts = {"web01.lab": {"ansible_connection": "local"}}
    path = play(lab, "delegated", """\
    - name: Checkpoint of a VM that is not on the host
      hyperv.checkpoint.hyperv_checkpoint: {vm: web02, name: ansible-test}
      delegate_to: hv01
      register: missing
      ignore_errors: true
    - name: The failure names the Hyper-V host the task contacted
      ansible.builtin.assert:
        that:
          - missing is failed and missing.error_code == 'vm_not_found'
          - "'Hyper-V host hv01, computer name HV01' in missing.msg"
          - "'web01.lab' not in missing.msg"
""", hosts="guests")
    assert_ok(lab.playbook(path))


def test_vm_names_match_as_hyperv_matches_them(lab):
    lab.host.add_vm("twin")
    lab.host.add_vm("TWIN")
    path = play(lab, "vm_names", """\
    - name: A VM name in another case finds the VM
      hyperv.checkpoint.hyperv_checkpoint_info: {vm: WEB01}
      register: upper
    - name: Names equal but for case are ambiguous, with their ids
      hyperv.checkpoint.hyperv_checkpoint: {vm: twin, name: ansible-test}
      register: twins
      ignore_errors: true
    - name: A name that is not there suggests the closest
      hyperv.checkpoint.hyperv_checkpoint: {vm: web1, name: ansible-test}
      register: typo
      ignore_errors: true
    - name: Check
      ansible.builtin.assert:
        that:
          - upper.vms | map(attribute='name') | list == ['web01']
          - twins is failed and twins.error_code == 'ambiguous'
          - twins.error_details.matches | map(attribute='name') | sort(case_sensitive=true) == ['TWIN', 'twin']
          - twins.error_details.matches | map(attribute='id') | select('in', twins.msg) | list | length == 2
          - typo is failed and typo.error_code == 'vm_not_found'
          - "\\"did you mean 'web01'\\" in typo.msg"
          - typo.error_details.suggestions == ['web01']
          - "'names' not in typo.error_details"
""")
    assert_ok(lab.playbook(path))
    assert lab.host.checkpoints("twin") == [] and lab.host.checkpoints("TWIN") == []


def test_checkpoint_names_match_as_hyperv_matches_them(lab):
    lab.host.add_checkpoint("web01", "Before Patch")
    path = play(lab, "checkpoint_names", """\
    - name: The checkpoint is found in any case, so nothing is created
      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: before patch}
      register: found
    - name: A misspelt checkpoint to restore suggests the closest name
      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: before pach, state: restored}
      register: typo
      ignore_errors: true
    - name: Changing only the case of a name is a rename
      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: before patch, new_name: BEFORE PATCH}
      register: renamed
    - name: Check
      ansible.builtin.assert:
        that:
          - found is not changed and found.checkpoint.name == 'Before Patch'
          - typo is failed and typo.error_code == 'checkpoint_not_found'
          - "\\"did you mean 'Before Patch'\\" in typo.msg"
          - renamed is changed and renamed.checkpoint.name == 'BEFORE PATCH'
""")
    assert_ok(lab.playbook(path))
    assert [cp["name"] for cp in lab.host.checkpoints("web01")] == ["BEFORE PATCH"]


def test_checkpoint_types_round_trip_and_outputs_carry_both_spellings(lab):
    path = play(lab, "types", """\
    - name: The host's spelling is accepted for the VM's type
      hyperv.checkpoint.hyperv_checkpoint_type: {vm: [web01], checkpoint_type: ProductionOnly}
      register: set_type
    - name: Read it back
      hyperv.checkpoint.hyperv_checkpoint_info: {vm: web01}
      register: info
    - name: Give the value read back, in Hyper-V's spelling, to a create
      hyperv.checkpoint.hyperv_checkpoint:
        vm: web01
        name: ansible-test-type
        checkpoint_type: "{{ info.vms[0].checkpoint_type }}"
      register: created
    - name: Check
      ansible.builtin.assert:
        that:
          - set_type is changed
          - set_type.vms[0].after.checkpoint_type == 'ProductionOnly'
          - set_type.vms[0].after.checkpoint_type_option == 'production_only'
          - info.vms[0].checkpoint_type_option == 'production_only'
          - created is changed
          - created.actions[0].checkpoint_type == 'ProductionOnly'
          - created.actions[0].checkpoint_type_option == 'production_only'
          - created.vm.checkpoint_type_option == 'production_only'
          - created.checkpoint.kind == created.taken_type == 'production'
    - name: What the collection knows of a checkpoint's kind when it lists it
      hyperv.checkpoint.hyperv_checkpoint_info: {vm: web01}
      register: listed
    - name: A production checkpoint has no memory state, so its kind is unknown to Hyper-V
      ansible.builtin.assert:
        that:
          - listed.vms[0].checkpoints[0].kind == 'unknown'
""")
    assert_ok(lab.playbook(path))


def test_a_failed_production_only_create_reports_no_change(lab):
    lab.host.set_vm("web01", guest_can_quiesce=False)
    path = play(lab, "production_only", """\
    - name: A production checkpoint the guest cannot make
      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: ansible-test-po, checkpoint_type: production_only}
      register: refused
      ignore_errors: true
    - name: Nothing was created, and the result says so
      ansible.builtin.assert:
        that:
          - refused is failed and refused.error_code == 'production_checkpoint_failed'
          - refused is not changed
          - refused.actions == []
""")
    assert_ok(lab.playbook(path))
    assert lab.host.checkpoints("web01") == []


def test_info_reports_missing_vms_when_asked(lab):
    path = play(lab, "missing", """\
    - name: One of the VMs is not on the host, which fails the listing by default
      hyperv.checkpoint.hyperv_checkpoint_info: {vm: [web01, nope01]}
      register: failing
      ignore_errors: true
    - name: The same listing, reporting the missing VM
      hyperv.checkpoint.hyperv_checkpoint_info:
        vm: [web01, nope01]
        vm_id: [6f2a1c1e-0000-4000-8000-0000000000ff]
        on_missing: report
      register: reported
    - name: Check
      ansible.builtin.assert:
        that:
          - failing is failed and failing.error_code == 'vm_not_found'
          - reported is succeeded
          - reported.vms | map(attribute='name') | list == ['web01']
          - reported.missing_vms | map(attribute='vm') | list == ['nope01', '6f2a1c1e-0000-4000-8000-0000000000ff']
          - reported.missing_vms | map(attribute='error_code') | unique | list == ['vm_not_found']
""")
    assert_ok(lab.playbook(path))
    operations = [entry for entry in lab.host.requests() if entry.get("operation") == "get_vms"]
    # Repeats merged: a reply that a busy machine delays past the read timeout is asked for again.
    asked = [report for report, dummy in itertools.groupby(entry["params"]["ReportMissing"] for entry in operations)]
    assert asked == [False, True], operations
