"""The WS-Management endpoint's Kerberos acceptor against a real MIT KDC (hyperv_sim.kerberos_realm), token by token:
what it accepts, what it refuses, and that messages are sealed with the Kerberos session key."""

from __future__ import annotations

import base64

import pytest
import requests
import spnego
import winrm

from hyperv_sim.kerberos_realm import running_realm, service_host

pytestmark = pytest.mark.kerberos


@pytest.fixture(scope="module")
def realm(tmp_path_factory):
    with running_realm(tmp_path_factory.mktemp("realm"), hosts=("hv01", "hv02")) as started:
        yield started


@pytest.fixture
def ticket(realm, tmp_path, monkeypatch):
    """The user's ticket cache, from kinit, for the Kerberos clients of this process."""
    cache = str(tmp_path / "krb5cc")
    assert realm.kinit(cache).returncode == 0
    for name, value in realm.environment(cache).items():
        monkeypatch.setenv(name, value)
    return cache


@pytest.fixture
def hv01(realm, command_host):
    from fake_hosts import PASSWORD, USER
    from hyperv_sim.wsman import WSManServer

    server = WSManServer(command_host, USER, PASSWORD, transport="kerberos", keytab=realm.keytab("hv01")).start()
    yield server
    server.stop()


def post(server, authorization=None):
    headers = {"Authorization": authorization} if authorization else {}
    return requests.post(server.url, data=b"", headers=headers, timeout=30)


def token_for(host, protocol="negotiate"):
    client = spnego.client(hostname=service_host(host), service="HTTP", protocol=protocol)
    return client, "Negotiate " + base64.b64encode(client.step()).decode()


def test_a_kerberos_token_for_the_host_is_accepted_with_the_answer_for_mutual_authentication(hv01, ticket):
    for protocol in ("negotiate", "kerberos"):  # SPNEGO-wrapped (pypsrp) and raw (pywinrm's pykerberos)
        client, authorization = token_for("hv01", protocol)
        response = post(hv01, authorization)
        assert response.status_code == 200, response.headers
        scheme, dummy, answer = response.headers["WWW-Authenticate"].partition(" ")
        assert scheme == "Negotiate"
        client.step(base64.b64decode(answer))
        assert client.complete  # the host proved it holds the service key


@pytest.mark.parametrize("case", ["no token", "ticket for another host", "NTLM"])
def test_anything_but_a_ticket_for_the_host_is_refused(hv01, ticket, case):
    if case == "no token":
        authorization = None
    elif case == "ticket for another host":
        authorization = token_for("hv02")[1]  # a valid ticket, but hv01's keytab has no key for HTTP/hv02
    else:
        ntlm = spnego.client("someone", "password", protocol="ntlm")
        authorization = "Negotiate " + base64.b64encode(ntlm.step()).decode()
    response = post(hv01, authorization)
    assert response.status_code == 401
    assert "Negotiate" in response.headers.get("WWW-Authenticate", "")
    assert hv01.stats()["logon_refusals"] == 1


def test_pywinrm_messages_are_sealed_with_the_kerberos_session_key(hv01, ticket, command_host):
    session = winrm.Session(hv01.url, auth=("operator", None), transport="kerberos",
                            kerberos_hostname_override=service_host("hv01"), message_encryption="always")
    result = session.run_cmd("exit:3")
    assert (result.status_code, result.std_err) == (3, b"failed\n")
    stats = hv01.stats()
    assert stats["encrypted_requests"] > 0 and "plain_requests" not in stats
