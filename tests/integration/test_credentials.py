"""Credentials over real WinRM: the password never shows, wrong credentials fail promptly, TLS is validated.

Every run is at -vvvv with Ansible's log file and the ``tree`` callback (each task's result
as JSON) enabled, so the password is looked for in everything Ansible writes.
"""

from __future__ import annotations

import base64
import dataclasses

import pytest
from hyperv_sim.wsman_auth import create_self_signed_tls

pytestmark = pytest.mark.integration

PLAYBOOK = """
- hosts: hyperv
  gather_facts: false
  tasks:
    - name: A task whose answer is garbage (the host's text goes into the failure)
      hyperv.checkpoint.hyperv_checkpoint_info:
        vm: web01
      ignore_errors: true
    - name: A read that works
      hyperv.checkpoint.hyperv_checkpoint_info:
        vm: web01
    - name: A change that works
      hyperv.checkpoint.hyperv_checkpoint:
        vm: web01
        name: ansible-test-credentials
    - name: A task the host refuses
      hyperv.checkpoint.hyperv_checkpoint:
        vm: no-such-vm
        name: ansible-test-credentials
      ignore_errors: true
    - name: A task Ansible refuses
      hyperv.checkpoint.hyperv_checkpoint:
        vm: web01
        name: ansible-test-credentials
        pasword: typo
      ignore_errors: true
"""


def run_logged(lab, playbook_text, **kwargs):
    """ansible-playbook -vvvv with a log file and per-task JSON results; returns (run, every text written)."""
    playbook = lab.tmp_path / "credentials.yml"
    playbook.write_text(playbook_text)
    log, tree = lab.tmp_path / "ansible.log", lab.tmp_path / "tree"
    run = lab.playbook(playbook, verbosity=4, env={
        "ANSIBLE_LOG_PATH": str(log), "ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.tree",
        "ANSIBLE_CALLBACK_TREE_DIR": str(tree)},
        # The tree callback is deprecated (ansible-core 2.19); it is enabled here to look for the password in it.
        allowed_deprecations=("The tree callback plugin is deprecated",), **kwargs)
    written = {"stdout": run.stdout, "stderr": run.stderr, "log": log.read_text(errors="replace")}
    written.update({str(path): path.read_text(errors="replace") for path in sorted(tree.glob("*"))})
    return run, written


def forms_of(user, password):
    """The password as it could leak: itself, and inside a Basic Authorization header."""
    return [password, base64.b64encode(("%s:%s" % (user, password)).encode()).decode()]


def assert_nowhere(secrets, written):
    for name, text in written.items():
        for secret in secrets:
            assert secret not in text, "the password shows in %s" % name


def test_the_password_shows_nowhere_at_vvvv_also_when_tasks_fail(lab):
    lab.host.corrupt_reply("get_vms", "not_json")  # the first task's read
    run, written = run_logged(lab, PLAYBOOK)
    assert run.rc == 0, run
    assert "ESTABLISH WINRM CONNECTION" in run.stdout  # really -vvvv, really over WinRM
    assert "changed=1" in run.stdout and "failed=0" in run.stdout and "ignored=3" in run.stdout, run
    assert "Welcome to HV01" in run.stdout  # the failures were reported in full
    assert written["log"].strip() and len(written) > 3  # the log file and the tree were written
    assert_nowhere(forms_of(lab.sim.user, lab.sim.password), written)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("transport, tls", [("ntlm", False), ("basic", True)])
def test_wrong_credentials_are_an_authentication_error_not_a_hang(start_lab, transport, tls):
    lab = start_lab(transport=transport, tls=tls)
    wrong = "Wr0ng-%s-passw0rd" % transport
    real = lab.sim.password
    lab.sim = dataclasses.replace(lab.sim, password=wrong)  # the inventory gets the wrong password
    run, written = run_logged(lab, PLAYBOOK, timeout=150)
    # A failed task naming the host, not UNREACHABLE: a rescue around a delegated task must see it.
    assert run.rc == 2, run
    assert "host_unreachable" in run.stdout and "credentials were rejected" in run.stdout, run
    assert lab.host.requests() == []  # nothing ran
    assert_nowhere(forms_of(lab.sim.user, wrong) + forms_of(lab.sim.user, real), written)


def test_tls_certificates_are_validated(start_lab, tmp_path):
    lab = start_lab(transport="basic", tls=True)
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    create_self_signed_tls(str(stranger))  # a certificate that is not the server's
    lab.sim = dataclasses.replace(lab.sim, ca_cert=str(stranger / "cert.pem"))
    playbook = lab.tmp_path / "tls.yml"
    playbook.write_text("- hosts: hyperv\n  gather_facts: false\n  tasks:\n"
                        "    - hyperv.checkpoint.hyperv_checkpoint_info: {vm: web01}\n")
    run = lab.playbook(playbook, timeout=150)
    assert run.rc == 2 and "host_unreachable" in run.stdout and "CERTIFICATE_VERIFY_FAILED" in run.stdout, run
    assert lab.host.requests() == []
