"""Every module, the inventory plugin and the role over each Windows transport, in real ansible-playbook runs.

The simulated host answers WinRS (``winrm``) and PowerShell remoting (``psrp``) on one /wsman endpoint and
runs an OpenSSH endpoint with PowerShell as the shell (``ssh``). The tests marked ``transports`` are the
subset that ``make test`` runs again on every supported ansible-core (tests/integration/README.md), next to
the whole suite on ansible-core 2.19; the fault tests run with the whole suite. Outcomes are asserted, not
task names or counts.
"""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from hyperv_sim import traffic
from hyperv_sim.harness import running_simulator

from role_lab import role_lab  # noqa: F401  (the fixture)
from test_hyperv_vms_inventory import InventoryLab, members
from test_safe_change import APP_FILES, SITE, TASKS

pytestmark = pytest.mark.integration

# (connection, WS-Management authentication, TLS, SSH authentication): what users run.
TRANSPORTS = {
    "winrm-ntlm-http": ("winrm", "ntlm", False, None),
    "psrp-ntlm-http": ("psrp", "ntlm", False, None),
    "psrp-basic-https": ("psrp", "basic", True, None),
    "psrp-ntlm-https": ("psrp", "ntlm", True, None),
    "ssh-key": ("ssh", "ntlm", False, "key"),
    "ssh-password": ("ssh", "ntlm", False, "password"),
}


def start(start_lab, name, vms=("web01", "db01")):
    connection, transport, tls, ssh_auth = TRANSPORTS[name]
    return start_lab(vms=vms, connection=connection, ssh_auth=ssh_auth or "key", transport=transport, tls=tls)


def assert_ok(run):
    assert run.rc == 0 and "failed=0" in run.stdout, run


@pytest.mark.transports
@pytest.mark.parametrize("name", sorted(TRANSPORTS))
def test_every_module_over_each_transport(start_lab, name):
    lab = start(start_lab, name)
    lab.host.set_host(merge_seconds=0)
    lab.host.set_vm("web01", checkpoint_type="ProductionOnly")
    disk = lab.host.disk_path("web01")
    (disk / "app.cfg").write_text("version = 1\n")
    assert_ok(lab.target("hyperv_checkpoint", "every_module.yml"))
    # The target cleans up after itself; the host agrees, and every command was the collection's.
    assert lab.host.checkpoints("web01") == []
    assert lab.host.vm("web01")["checkpoint_type"] == "ProductionOnly"
    assert (disk / "app.cfg").read_text() == "version = 1\n"
    requests = lab.host.requests()
    assert {entry["operation"] for entry in requests} >= {"create_checkpoint", "rename_checkpoint", "restore_checkpoint",
                                                          "set_checkpoint_settings", "remove_checkpoints"}
    assert all(entry["accepted"] for entry in requests) and lab.host.consistency_problems() == []


@pytest.mark.parametrize("name", ["psrp-ntlm-http", "psrp-ntlm-https", "ssh-key", "ssh-password"])
def test_faults_over_psrp_and_ssh(start_lab, name):
    """A dropped connection (after and before the host ran a change), a hung operation and a wrong password,
    as test_hyperv_checkpoint.py does them over winrm."""
    lab = start(start_lab, name)
    for operation, first, second, skip in (("create_checkpoint", "drop", "drop_before", 1),
                                           ("restore_checkpoint", "drop_before", "drop", 2),
                                           ("remove_checkpoints", "drop_before", "drop", 2)):
        lab.host.inject_fault(operation, first)
        lab.host.inject_fault(operation, second, skip=skip)
    assert_ok(lab.target("hyperv_checkpoint", "retry.yml", {"hyperv_test_expect_recovery": True}))
    assert lab.host.summary()["faults"] == []  # every fault was met
    assert lab.host.checkpoints("web01") == [] and lab.host.consistency_problems() == []

    lab.host.inject_fault("get_vms", "hang", times=-1)
    assert_ok(lab.target("hyperv_checkpoint", "timeout.yml"))
    lab.host.clear_faults()

    lab.sim = dataclasses.replace(lab.sim, password="not-the-password")
    if lab.connection == "ssh":
        lab.ssh_auth = "password"
    # A new SSH connection: OpenSSH's ControlPersist master of the earlier runs would not log on again. Beside the
    # test's own socket directory, not under tmp_path: a socket path holds at most 107 bytes, which pytest's
    # directories (longer under xdist or another TMPDIR) can exceed, and ssh then fails before it logs on.
    run = lab.target("hyperv_checkpoint", "info.yml", {"hyperv_test_vm2": "db01"},
                     env={"ANSIBLE_SSH_CONTROL_PATH_DIR": lab.socket_dirs["ANSIBLE_SSH_CONTROL_PATH_DIR"] + "-fresh"})
    assert run.rc != 0 and "UNREACHABLE" not in run.stdout and "host_unreachable" in run.stdout, run
    expected = {"psrp": "failed to authenticate with the server", "ssh": "Permission denied"}[lab.connection]
    assert "the Hyper-V host hv01 did not answer" in run.stdout and expected in run.stdout, run


def checkpoint_each_guest(lab, source, checkpoint):
    """A playbook over the plugin's inventory checkpoints web01 on hv01 and db01 on hv02, delegated to the host the
    plugin says runs each VM."""
    play = lab.tmp_path / "checkpoint.yml"
    play.write_text(
        "- hosts: guests\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Checkpoint each VM on the host that runs it\n"
        "      hyperv.checkpoint.hyperv_checkpoint: {vm_id: '{{ hyperv_vm_id }}', name: %s}\n"
        "      delegate_to: '{{ hyperv_host }}'\n" % checkpoint)
    lab.playbook(source, play)
    for name, vm in (("hv01", "web01"), ("hv02", "db01")):
        assert [cp["name"] for cp in lab.hosts[name].checkpoints(vm)] == [checkpoint]


@pytest.mark.transports
@pytest.mark.parametrize("connection", ["winrm", "psrp"])
def test_inventory_plugin_over_winrm_and_psrp(tmp_path, connection):
    """The plugin lists the VMs over winrm or psrp, and a playbook reaches each VM's host with the connection
    variables the plugin gave it."""
    with contextlib.ExitStack() as stack:
        hv01 = stack.enter_context(running_simulator(tmp_path / "hv01.json", vms=["web01"], host_name="HV01"))
        hv02 = stack.enter_context(running_simulator(tmp_path / "hv02.json", vms=["db01"], host_name="HV02",
                                                     user=hv01.user, password=hv01.password))
        lab = InventoryLab(tmp_path, hv01, hv02)
        source = lab.source("over.hyperv_vms.yml", connection=connection, transport="ntlm",
                            hosts=[lab.endpoint("hv01"), lab.endpoint("hv02")])
        listed = lab.inventory(source)
        assert members(listed, "guests") == ["db01", "web01"]
        hostvars = listed["_meta"]["hostvars"]
        assert hostvars["db01"]["hyperv_host"] == "hv02"
        assert hostvars["hv01"]["ansible_connection"] == connection
        assert hostvars["hv01"]["ansible_%s_%s" % (connection, "auth" if connection == "psrp" else "transport")] == "ntlm"
        checkpoint_each_guest(lab, source, "over-inventory")
        # Only the chosen protocol reached the hosts: the plugin's listing and the playbook's tasks.
        records = [record for record in traffic.read_records(lab.hosts["hv01"].traffic_path) if record.get("action")]
        assert records and {record["protocol"] for record in records} == {"psrp" if connection == "psrp" else "winrs"}


@pytest.mark.transports
@pytest.mark.parametrize("name", ["winrm-ntlm-http", "psrp-ntlm-http", "ssh-key"])
def test_role_commits_and_reverts_over_each_transport(role_lab, name):  # noqa: F811  (the fixture)
    """The role's checkpoints go over winrm, psrp or ssh: a good change is committed and its checkpoint deleted; a
    failed one is reverted with the disk byte-identical to before, and no checkpoint is left."""
    connection, transport, tls, ssh_auth = TRANSPORTS[name]
    host = role_lab.add_hyperv("hv01", vms=["ok01", "bad01"], connection=connection, ssh_auth=ssh_auth or "key",
                               transport=transport, tls=tls)
    role_lab.add_guest("ok01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_ok.yml"))
    role_lab.add_guest("bad01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_fail.yml"))
    before = {guest: role_lab.digest(guest) for guest in ("ok01", "bad01")}

    run = role_lab.playbook(SITE)

    assert run.result("ok01")["outcome"] == "committed", run
    assert (role_lab.disk("ok01") / "app" / "version").read_text() == "2.0\n"
    assert run.result("bad01")["outcome"] == "reverted", run
    assert role_lab.digest("bad01") == before["bad01"]
    assert role_lab.checkpoint_names("ok01") == [] and role_lab.checkpoint_names("bad01") == []
    assert host.consistency_problems() == []
    assert {entry["operation"] for entry in host.requests()} >= {"create_checkpoint", "restore_checkpoint"}
