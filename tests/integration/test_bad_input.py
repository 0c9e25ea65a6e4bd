"""Bad input over real WinRM: hostile names are data, bad options never reach the host.

The simulator logs every command it receives (hyperv_sim.request_log) and refuses any
command or script that is not the collection's own, logging the refusal: so "nothing else
ran on the host" is checked, not assumed.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

HOSTILE = "ansible-test-a'b\"c $(Remove-VM x) ``; Remove-VM -Name * [a]? ✓ Prüfung 雪 🦄"
HOSTILE_VM = "web'; Remove-VM -Name * -Force; $(Stop-Computer) `\" ✓"


def assert_ok(run):
    assert run.rc == 0, run
    assert "failed=0" in run.stdout, run


def test_hostile_names_are_created_found_and_deleted_literally(lab):
    vms_before = sorted(vm["name"] for vm in lab.host.summary()["vms"])
    assert_ok(lab.target("hyperv_checkpoint", "hostile_names.yml"))

    requests = lab.host.requests()
    assert requests and all(entry["accepted"] for entry in requests), requests  # no foreign command or script
    assert {entry["operation"] for entry in requests} <= {"get_vms", "get_vm", "create_checkpoint",
                                                          "remove_checkpoints"}
    created = [entry["params"]["Name"] for entry in requests if entry["operation"] == "create_checkpoint"]
    assert created[1] == HOSTILE  # the name arrived exactly, as JSON data
    assert {"Names": [HOSTILE_VM]}.items() <= next(
        entry["params"] for entry in requests if HOSTILE_VM in entry["params"].get("Names", [])).items()
    # nothing the names "asked for" happened: the VMs are all there, and nothing is left behind
    assert sorted(vm["name"] for vm in lab.host.summary()["vms"]) == vms_before
    assert lab.host.checkpoints("web01") == [] and lab.host.checkpoints("db01") == []


def test_bad_options_are_refused_before_anything_reaches_the_host(lab):
    state_before = json.loads(open(lab.sim.state_path, encoding="ascii").read())
    run = lab.target("hyperv_checkpoint", "bad_options.yml")
    assert_ok(run)  # the failures were expected (ignore_errors) and their messages asserted
    assert lab.host.requests() == []
    assert json.loads(open(lab.sim.state_path, encoding="ascii").read()) == state_before
    assert "Traceback" not in run.stdout + run.stderr


@pytest.mark.transports
def test_a_task_without_a_powershell_connection_is_refused_before_anything_is_sent(lab):
    """Forgetting delegate_to: a module task on a Linux guest (ssh, POSIX shell) and on the controller itself
    (ansible_connection=local) fails with error_code unsupported_connection, saying what to set."""
    lab.extra_hosts = {
        "linux01": {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9},
        "localhost": {"ansible_connection": "local"},
    }
    play = lab.tmp_path / "no_delegate_to.yml"
    play.write_text(
        "- hosts: guests\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Checkpoint without delegate_to\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: forgot-delegate-to}\n"
        "      register: refused\n"
        "      ignore_errors: true\n"
        "    - name: Info without delegate_to\n"
        "      hyperv.checkpoint.hyperv_checkpoint_info: {vm: web01}\n"
        "      register: info_refused\n"
        "      ignore_errors: true\n"
        "    - name: Type without delegate_to\n"
        "      hyperv.checkpoint.hyperv_checkpoint_type: {vm: web01, checkpoint_type: standard}\n"
        "      register: type_refused\n"
        "      ignore_errors: true\n"
        "    - name: Probe without delegate_to\n"
        "      hyperv.checkpoint.hyperv_host_probe: {vm: web01}\n"
        "      register: probe_refused\n"
        "      ignore_errors: true\n"
        "    - name: Each was refused with the stable code and what to set\n"
        "      ansible.builtin.assert:\n"
        "        that:\n"
        "          - item is failed\n"
        "          - item.error_code == 'unsupported_connection'\n"
        "          - \"'delegate_to' in item.msg and 'ansible_shell_type=powershell' in item.msg\"\n"
        "          - \"'Nothing was sent to the host' in item.msg\"\n"
        "      loop: [\"{{ refused }}\", \"{{ info_refused }}\", \"{{ type_refused }}\", \"{{ probe_refused }}\"]\n"
        "      loop_control: {label: \"{{ item.error_code | default('') }}\"}\n")
    run = lab.playbook(play)
    assert run.rc == 0 and "failed=0" in run.stdout, run
    assert "'linux01' is 'ssh' with the 'sh' shell" in run.stdout, run
    assert "ansible_connection=local for 'localhost'" in run.stdout, run
    assert "AttributeError" not in run.stdout + run.stderr and "Traceback" not in run.stdout + run.stderr
    assert lab.host.requests() == []
    assert lab.host.checkpoints("web01") == []
