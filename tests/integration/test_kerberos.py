"""Kerberos logons, as users in an Active Directory domain make them, against a real KDC.

The test session's realm (the ``kerberos_realm`` fixture, hyperv_sim.kerberos_realm) is MIT Kerberos on loopback; a
simulated host started with ``transport="kerberos"`` accepts only Kerberos (no NTLM, no Basic), with the keytab of
its own service principals ``HTTP/`` and ``WSMAN/<name>.hyperv.test``, and seals messages with GSS wrap tokens over
http as Windows does. The host names are not resolvable (no /etc/hosts, no DNS): the inventories name the service
principal with the connections' hostname override variables, and the realm's krb5.conf has ``rdns = false``.

Logons: the user principal and password from the inventory (the ``winrm`` connection runs ``kinit`` itself,
``psrp`` gets the ticket in memory through GSSAPI), or a ticket cache a ``kinit`` made before. Refusals: no ticket,
a wrong password, a ticket for another service, an expired ticket; each is a task failure ``host_unreachable`` that
names the host and the cause.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from hyperv_sim import traffic
from hyperv_sim.harness import running_simulator
from hyperv_sim.kerberos_realm import OTHER_SERVICE_HOST, running_realm, service_host

import role_lab as role_lab_fixtures
from test_hyperv_vms_inventory import InventoryLab, members
from test_safe_change import APP_FILES, SITE, TASKS
from test_transports import assert_ok, checkpoint_each_guest

pytestmark = [pytest.mark.integration, pytest.mark.kerberos]
role_lab = role_lab_fixtures.role_lab  # the fixture, for the role's test

# (connection, where the ticket comes from): the password in the inventory, or a cache from an earlier kinit.
LOGONS = {
    "winrm-password": ("winrm", "password"),
    "winrm-ticket-cache": ("winrm", "cache"),
    "psrp-password": ("psrp", "password"),
    "psrp-ticket-cache": ("psrp", "cache"),
}
# How long a ticket made to expire lives (kinit -l), and how long the test waits at most for klist to see it expired:
# generous, for a loaded machine; the wait ends as soon as the ticket has expired.
SHORT_LIFETIME = "2s"
# The skew of the realm whose ticket expires for good within seconds (the session's realm has 5 minutes).
SHORT_SKEW_SECONDS = 2
EXPIRY_DEADLINE_SECONDS = 30


def start_kerberos_lab(start_lab, realm, connection, logon="password", vms=("web01", "db01")):
    """hv01 with Kerberos only, reached over ``connection`` with the user's password (the inventory's
    ansible_password) or with a ticket cache that kinit filled before (no password anywhere)."""
    lab = start_lab(vms=vms, connection=connection, transport="kerberos", kerberos=(realm, "hv01"))
    cache = lab.tmp_path / "krb5cc"
    lab.env = realm.environment(str(cache))
    if logon == "cache":
        kinit = realm.kinit(str(cache))
        assert kinit.returncode == 0, kinit.stderr
        lab.host_vars = without_password(connection)
    return lab


def without_password(connection):
    """Host variables that make the connection use the ticket cache (KRB5CCNAME) rather than a password."""
    variables = {"ansible_password": None}
    if connection == "winrm":
        # manual: use the cache as it is; with a password, the connection would kinit into a cache of its own.
        variables["ansible_winrm_kinit_mode"] = "manual"
    return variables


def assert_refused(run, cause):
    """The task failed with host_unreachable naming hv01 and ``cause`` (the Kerberos library's or the KDC's words)."""
    assert run.rc != 0 and "UNREACHABLE" not in run.stdout and "host_unreachable" in run.stdout, run
    assert "the Hyper-V host hv01 did not answer" in run.stdout and cause in run.stdout, run


@pytest.mark.transports
@pytest.mark.parametrize("name", sorted(LOGONS))
def test_every_module_over_kerberos(start_lab, kerberos_realm, name):
    connection, logon = LOGONS[name]
    lab = start_kerberos_lab(start_lab, kerberos_realm, connection, logon)
    lab.host.set_host(merge_seconds=0)
    disk = lab.host.disk_path("web01")
    (disk / "app.cfg").write_text("version = 1\n")
    assert_ok(lab.target("hyperv_checkpoint", "every_module.yml"))
    assert lab.host.checkpoints("web01") == [] and (disk / "app.cfg").read_text() == "version = 1\n"
    requests = lab.host.requests()
    assert {entry["operation"] for entry in requests} >= {"create_checkpoint", "rename_checkpoint", "restore_checkpoint",
                                                          "set_checkpoint_settings", "remove_checkpoints"}
    assert all(entry["accepted"] for entry in requests) and lab.host.consistency_problems() == []
    # Over http every request was sealed with the Kerberos session key (the host takes nothing else).
    records = [record for record in traffic.read_records(lab.host.traffic_path) if record.get("action")]
    assert records and all(record["wire_in"] > record["soap_in"] for record in records), records[:3]


@pytest.mark.parametrize("connection", ["winrm", "psrp"])
def test_kerberos_refusals_name_the_host_and_the_cause(start_lab, kerberos_realm, connection):
    lab = start_kerberos_lab(start_lab, kerberos_realm, connection)
    info = ("hyperv_checkpoint", "info.yml", {"hyperv_test_vm2": "db01"})
    assert_ok(lab.target(*info))  # the set-up works: what follows fails for one reason each

    # A wrong password: the KDC refuses it (winrm runs kinit, psrp asks the KDC through GSSAPI).
    lab.host_vars = {"ansible_password": "not-the-password"}
    assert_refused(lab.target(*info), "Password incorrect" if connection == "winrm" else "Preauthentication failed")

    # No ticket: an empty cache and no password.
    lab.host_vars = without_password(connection)
    assert_refused(lab.target(*info), "No credentials were supplied")

    # A ticket for another service: the host cannot decrypt it and refuses the logon.
    override = "winrm_kerberos_hostname_override" if connection == "winrm" else "psrp_negotiate_hostname_override"
    lab.host_vars = {"ansible_" + override: service_host(OTHER_SERVICE_HOST)}
    assert_refused(lab.target(*info), "the specified credentials were rejected by the server" if connection == "winrm"
                   else "failed to authenticate with the server")


@pytest.mark.parametrize("connection", ["winrm", "psrp"])
def test_an_expired_ticket_is_refused_naming_the_host_and_the_cause(start_lab, tmp_path, connection):
    """A ticket cache whose ticket has expired for good. Kerberos tolerates the realm's clock skew past a ticket's
    end (5 minutes, as Active Directory): a ticket expired seconds ago still gets a service ticket. So this test has
    a realm of its own with a skew of seconds, and runs once the KDC refuses the cache's ticket (an event, not a
    wait): the connection fails with host_unreachable naming the host and "expired", and nothing reaches the host."""
    with running_realm(tmp_path / "short-realm", hosts=("hv01",), clock_skew=SHORT_SKEW_SECONDS) as realm:
        lab = start_kerberos_lab(start_lab, realm, connection)
        cache = lab.tmp_path / "krb5cc-short"
        kinit = realm.kinit(str(cache), lifetime=SHORT_LIFETIME)
        assert kinit.returncode == 0, kinit.stderr
        deadline = time.monotonic() + EXPIRY_DEADLINE_SECONDS
        while realm.service_ticket_refusal(str(cache), "hv01") is None:
            assert time.monotonic() < deadline, "the KDC still took the ticket of %s" % SHORT_LIFETIME
            time.sleep(0.2)
        assert "expired" in realm.service_ticket_refusal(str(cache), "hv01")
        lab.host_vars = without_password(connection)
        run = lab.target("hyperv_checkpoint", "info.yml", {"hyperv_test_vm2": "db01"},
                         env={"KRB5CCNAME": "FILE:%s" % cache})
        assert_refused(run, "expired")
        assert lab.host.requests() == []  # nothing reached the host


def test_role_over_kerberos_on_two_guests(role_lab, kerberos_realm):  # noqa: F811  (the fixture)
    """The role's checkpoints over winrm with Kerberos: a good change committed, a failed one reverted byte for
    byte."""
    host = role_lab.add_hyperv("hv01", vms=["ok01", "bad01"], transport="kerberos", kerberos=(kerberos_realm, "hv01"))
    role_lab.add_guest("ok01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_ok.yml"))
    role_lab.add_guest("bad01", files=APP_FILES, safe_change_tasks=str(TASKS / "change_fail.yml"))
    before = role_lab.digest("bad01")

    run = role_lab.playbook(SITE, environment=kerberos_realm.environment(str(role_lab.tmp_path / "krb5cc")))

    assert run.result("ok01")["outcome"] == "committed", run
    assert (role_lab.disk("ok01") / "app" / "version").read_text() == "2.0\n"
    assert run.result("bad01")["outcome"] == "reverted", run
    assert role_lab.digest("bad01") == before
    assert role_lab.checkpoint_names("ok01") == [] and role_lab.checkpoint_names("bad01") == []
    assert host.consistency_problems() == []


@pytest.mark.parametrize("connection", ["winrm", "psrp"])
def test_inventory_plugin_over_kerberos(tmp_path, kerberos_realm, connection):
    """The plugin lists the VMs of two hosts with the user's Kerberos logon, each host by its own service principal
    (the entries' kerberos_hostname), and a playbook reaches each VM's host with the variables the plugin gave."""
    with contextlib.ExitStack() as stack:
        hv01, hv02 = (stack.enter_context(running_simulator(
            tmp_path / ("%s.json" % name), vms=[vm], host_name=name.upper(), transport="kerberos",
            kerberos=(kerberos_realm, name))) for name, vm in (("hv01", "web01"), ("hv02", "db01")))
        lab = InventoryLab(tmp_path, hv01, hv02)
        lab.env.update(kerberos_realm.environment(str(tmp_path / "krb5cc")))
        # The winrm connection runs kinit with an empty environment; the realm's krb5.conf is not /etc/krb5.conf, and
        # the plugin's source has no connection variables: ansible.cfg passes KRB5_CONFIG on, as a user would.
        config = tmp_path / "ansible.cfg"
        config.write_text("[winrm]\nkinit_env_vars = KRB5_CONFIG\n")
        lab.env["ANSIBLE_CONFIG"] = str(config)
        endpoints = [dict(lab.endpoint(name), kerberos_hostname=service_host(name)) for name in ("hv01", "hv02")]
        source = lab.source("kerberos.hyperv_vms.yml", connection=connection, transport="kerberos", hosts=endpoints)
        listed = lab.inventory(source)
        assert members(listed, "guests") == ["db01", "web01"]
        hostvars = listed["_meta"]["hostvars"]
        override = "ansible_winrm_kerberos_hostname_override" if connection == "winrm" \
            else "ansible_psrp_negotiate_hostname_override"
        assert hostvars["hv02"][override] == service_host("hv02")
        checkpoint_each_guest(lab, source, "over-kerberos")
