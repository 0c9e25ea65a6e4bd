"""PowerShell remoting on the simulated host's /wsman endpoint, driven by pypsrp: the client library under
Ansible's ``psrp`` connection, used the way that connection uses it (a runspace pool, a script decoded from
-EncodedCommand, each stdin line one input object, the exit code through the host's SetShouldExit).

The server runs in-process with a scripted fake command host, as in test_wsman.py.
"""

from __future__ import annotations

import base64

import pytest
import requests
from pypsrp.exceptions import AuthenticationError
from pypsrp.host import PSHost, PSHostUserInterface
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from fake_hosts import PASSWORD, USER, FakeCommandHost
from hyperv_sim import traffic

PREFIX = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand "


class ScriptHost(FakeCommandHost):
    """The fake command host, judging the script the simulator recovers from the PSRP pipeline (as it does
    for the collection's runner); its ``echo`` answers two lines, to show each line is one output string."""

    def script_of(self, command):
        assert command.startswith(PREFIX)
        return base64.b64decode(command[len(PREFIX):]).decode("utf-16-le")

    def echo(self, stdin):
        return b"first\r\n" + stdin + b"\r\n"


@pytest.fixture
def command_host():
    return ScriptHost()


# Client and server share this process, which shares two cores with another test worker and its playbook: a
# round trip that takes milliseconds alone can take seconds then. The read timeout only has to catch a server
# that stopped answering, so it is far above any round trip; the operation timeout is pypsrp's default.
READ_TIMEOUT = 60
OPERATION_TIMEOUT = 20


def client(server, password=PASSWORD, operation_timeout=OPERATION_TIMEOUT, read_timeout=READ_TIMEOUT):
    return WSMan("127.0.0.1", port=server.port, username=USER, password=password, ssl=server.tls,
                 auth=server.transport, cert_validation=False, operation_timeout=operation_timeout,
                 read_timeout=read_timeout,
                 # pypsrp refuses basic over http unless told that nothing is encrypted
                 encryption="never" if server.transport == "basic" and not server.tls else "auto")


def run_script(pool, script, input_lines=None):
    """What Ansible's psrp connection does for an encoded command: add_script, invoke with the stdin lines."""
    pool.host.rc = 0
    powershell = PowerShell(pool)
    powershell.add_script(script, use_local_scope=True)
    powershell.invoke(input=input_lines)
    return powershell


def new_pool(wsman):
    return RunspacePool(wsman, host=PSHost(None, None, False, "test host", None, PSHostUserInterface(), None))


@pytest.mark.parametrize("transport, tls", [("ntlm", False), ("basic", True), ("ntlm", True)])
def test_a_script_runs_with_its_input_lines_as_stdin(make_server, command_host, transport, tls):
    server = make_server(transport=transport, tls=tls)
    with new_pool(client(server)) as pool:
        powershell = run_script(pool, "echo", ["line one", "line two"])
        assert powershell.output == ["first", "line one", "line two"]
        assert pool.host.rc == 0 and powershell.streams.error == []
        # A second pipeline on the same runspace pool, as the next operation of a task.
        assert run_script(pool, "echo", ["again"]).output == ["first", "again"]
    assert command_host.calls == [("echo", [], b"line one\nline two"), ("echo", [], b"again")]
    # With NTLM over http every body was encrypted; the pool and its pipelines are gone afterwards.
    assert server.stats().get("plain_requests", 0) == (0 if transport == "ntlm" and not tls else
                                                       server.stats()["plain_requests"])
    assert server.service.psrp._pools == {}


def test_exit_code_and_stderr_come_back_as_powershell_sends_them(make_server):
    server = make_server()
    with new_pool(client(server)) as pool:
        powershell = run_script(pool, "exit:3")
        assert pool.host.rc == 3  # SetShouldExit, as `exit 3` in a remote runspace
        assert [str(error) for error in powershell.streams.error] == ["failed"]


def test_a_hanging_script_answers_after_operation_timeouts(make_server):
    server = make_server(transport="basic")
    with new_pool(client(server, operation_timeout=1)) as pool:
        powershell = run_script(pool, "hang:4")
        assert powershell.output == ["late output"]
    # The pipeline's first Receive follows the Command that ran it by one round trip; it times out unless that
    # round trip takes three seconds. A timed-out Receive waited its whole second and still had no output, so at
    # most three fit into the four seconds: a fourth would mean output held back after it was ready.
    assert 1 <= server.stats().get("operation_timeouts", 0) <= 3


def test_a_dropped_connection_is_a_connection_error(make_server, command_host):
    server = make_server(transport="basic")
    pool = new_pool(client(server))
    pool.open()
    with pytest.raises(requests.exceptions.ConnectionError):
        run_script(pool, "drop")
    assert command_host.calls == [("drop", [], b"")]  # it ran before the connection broke
    assert server.stats()["dropped_connections"] == 1


def test_a_wrong_password_is_refused(make_server, command_host):
    server = make_server()
    with pytest.raises(AuthenticationError):
        new_pool(client(server, password="not-the-password")).open()
    assert command_host.calls == []


def test_each_pipeline_is_one_round_trip_in_the_traffic_log(make_server, tmp_path):
    log = tmp_path / "traffic.jsonl"
    server = make_server(traffic_path=str(log))
    with new_pool(client(server)) as pool:
        run_script(pool, "echo", ["x"])
        run_script(pool, "echo", ["y"])
    summary = traffic.summarize(traffic.read_records(log))
    assert summary["totals"]["round_trips"] == 2
    assert summary["commands"] == {"echo": 2}
    assert summary["totals"]["wire_in"] > 0 and summary["totals"]["http_requests"] > 4
