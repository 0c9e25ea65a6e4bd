"""The simulated host's WinRM endpoint, driven by pywinrm: the client library under Ansible's
``winrm`` connection. If pywinrm is happy with every message here, Ansible is too.

The server runs in-process with a scripted fake command host, so each behaviour (stdin,
exit codes, hangs, dropped connections) can be produced on demand.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests
import winrm
import xmltodict
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError

from fake_hosts import PASSWORD, USER
from hyperv_sim import traffic, wsman

SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
PSRP_URI = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
SIMULATOR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hyperv-sim")
# Client and server share this process, which shares two cores with another test worker and its playbook: a
# round trip that takes milliseconds alone can take seconds then. The read timeout only has to catch a server
# that stopped answering, so it is far above any round trip; the operation timeout is pywinrm's default.
READ_TIMEOUT = 60
OPERATION_TIMEOUT = 20
# Long enough for a test thread to run its next step however loaded the machine; reached only when it is stuck.
STUCK_AFTER = 120


def connect(server, password=PASSWORD, encryption="auto", operation_timeout=OPERATION_TIMEOUT,
            read_timeout=READ_TIMEOUT) -> winrm.Protocol:
    return winrm.Protocol(server.url, transport=server.transport, username=USER, password=password,
                          message_encryption=encryption, server_cert_validation="ignore",
                          operation_timeout_sec=operation_timeout, read_timeout_sec=read_timeout)


def send_stdin(protocol: winrm.Protocol, shell_id: str, command_id: str, data: bytes, end: bool) -> None:
    """A Send message built exactly like Ansible's winrm connection (_winrm_send_input) builds it."""
    request = {"env:Envelope": protocol._get_soap_header(resource_uri=SHELL_URI, action=wsman.ACTION_SEND,
                                                         shell_id=shell_id)}
    stream = request["env:Envelope"].setdefault("env:Body", {}).setdefault("rsp:Send", {}).setdefault("rsp:Stream", {})
    stream["@Name"] = "stdin"
    stream["@CommandId"] = command_id
    stream["#text"] = base64.b64encode(data)
    if end:
        stream["@End"] = "true"
    protocol.send_message(xmltodict.unparse(request))


def execute(protocol, shell_id, command, stdin_chunks=(), arguments=()):
    """One command the way Ansible runs it: Command, Send stdin, Receive until done, Signal."""
    command_id = protocol.run_command(shell_id, command, arguments, console_mode_stdin=not stdin_chunks)
    for index, chunk in enumerate(stdin_chunks):
        send_stdin(protocol, shell_id, command_id, chunk, end=index == len(stdin_chunks) - 1)
    stdout, stderr, exit_code = protocol.get_command_output(shell_id, command_id)
    protocol.cleanup_command(shell_id, command_id)
    return stdout, stderr, exit_code


def raw_request(protocol, action, resource_uri=SHELL_URI, shell_id=None, body=None) -> bytes:
    """Send a hand-built message; returns its MessageID and the response text (faults raise as usual)."""
    message_id = uuid.uuid4()
    request = {"env:Envelope": protocol.build_wsman_header(action=action, resource_uri=resource_uri,
                                                           shell_id=shell_id, message_id=message_id)}
    request["env:Envelope"]["env:Body"] = body or {}
    return message_id, protocol.send_message(xmltodict.unparse(request))


def relates_to(response_text) -> str:
    return ET.fromstring(response_text).find("s:Header/a:RelatesTo", wsman.NS).text


def test_basic_over_http_runs_a_command_with_chunked_stdin(make_server, command_host):
    server = make_server(transport="basic")
    protocol = connect(server)
    shell_id = protocol.open_shell(codepage=65001)
    stdout, stderr, exit_code = execute(protocol, shell_id, "echo", [b'{"name": ', b'"get_vm"}'],
                                        arguments=["-NoProfile -EncodedCommand AAAA"])
    protocol.close_shell(shell_id)

    assert (stdout, stderr, exit_code) == (b'{"name": "get_vm"}', b"", 0)
    # run() once, with the complete stdin and the arguments as pywinrm sends them
    assert command_host.calls == [("echo", ["-NoProfile -EncodedCommand AAAA"], b'{"name": "get_vm"}')]
    assert server.stats()["plain_requests"] > 0


def test_command_without_stdin_runs_at_first_receive(make_server, command_host):
    server = make_server(transport="basic")
    protocol = connect(server)
    shell_id = protocol.open_shell()

    assert execute(protocol, shell_id, "exit:3") == (b"", b"failed\n", 3)
    assert command_host.calls == [("exit:3", [], b"")]


def test_ntlm_over_http_encrypts_every_message(make_server):
    server = make_server(transport="ntlm")
    protocol = connect(server, encryption="auto")
    shell_id = protocol.open_shell()
    result = execute(protocol, shell_id, "echo", [b"secret stdin"])
    protocol.close_shell(shell_id)

    assert result == (b"secret stdin", b"", 0)
    stats = server.stats()
    # Create, Command, Send, Receive, Signal, Delete: all as multipart/encrypted, none in clear
    assert stats["encrypted_requests"] == 6
    assert "plain_requests" not in stats


def test_ntlm_over_https_without_message_encryption(make_server):
    server = make_server(transport="ntlm", tls=True)
    protocol = connect(server, encryption="never")
    shell_id = protocol.open_shell()

    assert execute(protocol, shell_id, "echo", [b"over tls"]) == (b"over tls", b"", 0)
    assert server.url.startswith("https://")
    assert server.stats()["plain_requests"] == 5
    assert "encrypted_requests" not in server.stats()


def test_basic_over_https(make_server):
    server = make_server(transport="basic", tls=True)
    protocol = connect(server)
    shell_id = protocol.open_shell()

    assert execute(protocol, shell_id, "echo", [b"tls"]) == (b"tls", b"", 0)


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_wrong_password_is_rejected(make_server, transport):
    server = make_server(transport=transport)

    with pytest.raises(InvalidCredentialsError):
        connect(server, password="not-" + PASSWORD).open_shell()


@pytest.mark.parametrize("transport, challenges", [
    ("basic", ['Basic realm="WSMAN"']),
    ("ntlm", ["Negotiate", "NTLM"]),
])
def test_request_without_credentials_gets_a_challenge(make_server, transport, challenges):
    server = make_server(transport=transport)

    response = requests.post(server.url, data=b"<x/>", headers={"Content-Type": wsman.SOAP_CONTENT_TYPE})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == ", ".join(challenges)


def test_a_wmi_resource_uri_is_a_clear_fault(make_server):
    server = make_server()
    protocol = connect(server)
    wmi_uri = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/Win32_Service"

    with pytest.raises(WSManFaultError) as raised:
        raw_request(protocol, wsman.ACTION_CREATE, resource_uri=wmi_uri, body={"rsp:Shell": {}})

    assert raised.value.code == 500
    assert raised.value.wsman_fault_code == wsman.FAULT_INVALID_RESOURCE_URI
    assert wmi_uri in raised.value.reason and "not WMI resources" in raised.value.reason


def test_a_powershell_shell_without_its_first_fragments_is_a_clear_fault(make_server):
    server = make_server()
    protocol = connect(server)

    with pytest.raises(WSManFaultError) as raised:
        raw_request(protocol, wsman.ACTION_CREATE, resource_uri=PSRP_URI, body={"rsp:Shell": {}})

    assert raised.value.wsman_fault_code == wsman.FAULT_INVALID_SOAP_BODY
    assert "creationXml" in raised.value.reason


def test_unknown_action_is_a_fault(make_server):
    server = make_server(transport="basic")

    with pytest.raises(WSManFaultError) as raised:
        raw_request(connect(server), "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate")

    assert raised.value.wsman_fault_code == wsman.FAULT_ACTION_NOT_SUPPORTED
    assert "Enumerate" in raised.value.reason


def test_unknown_shell_and_command_are_faults(make_server):
    server = make_server(transport="basic")
    protocol = connect(server)
    shell_id = protocol.open_shell()

    with pytest.raises(WSManFaultError) as unknown_shell:
        protocol.run_command(str(uuid.uuid4()).upper(), "echo")
    with pytest.raises(WSManFaultError) as unknown_command:
        protocol.get_command_output_raw(shell_id, str(uuid.uuid4()).upper())

    assert unknown_shell.value.wsman_fault_code == wsman.FAULT_SHELL_NOT_FOUND
    assert unknown_command.value.wsman_fault_code == wsman.FAULT_INVALID_SELECTORS


def test_every_response_relates_to_its_request(make_server):
    server = make_server(transport="ntlm")
    protocol = connect(server)

    message_id, response = raw_request(protocol, wsman.ACTION_CREATE, body={"rsp:Shell": {}})
    shell_id = next(node.text for node in ET.fromstring(response).iter() if node.get("Name") == "ShellId")
    assert relates_to(response) == "uuid:%s" % message_id

    with pytest.raises(WSManFaultError) as raised:
        raw_request(protocol, wsman.ACTION_CREATE, resource_uri=PSRP_URI)
    assert relates_to(raised.value.response).startswith("uuid:")

    # pywinrm itself asserts RelatesTo == MessageID for Signal and Delete
    command_id = protocol.run_command(shell_id, "echo")
    protocol.cleanup_command(shell_id, command_id)
    protocol.close_shell(shell_id)


def test_hang_answers_operation_timeouts_until_the_output_is_ready(make_server):
    server = make_server(transport="ntlm")
    protocol = connect(server, operation_timeout=1)
    shell_id = protocol.open_shell()

    result = execute(protocol, shell_id, "hang:4")

    assert result == (b"late output", b"", 0)
    # The first Receive comes right after the command starts, so it times out unless this process stalls three
    # seconds in between. A timed-out Receive waited its whole second and still had no output, so at most three
    # fit into the four seconds: a fourth would mean output held back after it was ready.
    assert 1 <= server.stats().get("operation_timeouts", 0) <= 3


def test_endless_hang_times_out_each_receive_at_the_operation_timeout(make_server):
    server = make_server(transport="basic")
    # A server that ignored the requested second and waited its own 60 s default would hit the read timeout:
    # a ReadTimeout, not the WinRMOperationTimeoutError expected below.
    protocol = connect(server, operation_timeout=1)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "hang:0")

    for receives in (1, 2):
        with pytest.raises(WinRMOperationTimeoutError):
            protocol.get_command_output_raw(shell_id, command_id)
        # Each Receive waited for output (receive_waits) before it answered the timeout, and not because of a stop.
        stats = server.stats()
        assert (stats["receive_waits"], stats["operation_timeouts"]) == (receives, receives)
        assert "receives_ended_by_stop" not in stats
    protocol.cleanup_command(shell_id, command_id)


def test_stopping_the_server_ends_a_waiting_receive(make_server):
    server = make_server(transport="basic")
    # An operation timeout no run reaches: the Receive can end only because the server stops.
    protocol = connect(server, operation_timeout=3600, read_timeout=3700)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "hang:0")
    outcome = []

    def receive():
        try:
            protocol.get_command_output_raw(shell_id, command_id)
        except Exception as error:  # collected: the stop may answer the fault or cut the connection first
            outcome.append(error)

    # daemon: a Receive the stop failed to end must not keep the test session alive for an hour
    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    # Stopping before the Receive waits would test connection refusal instead.
    assert server.wait_for_stat("receive_waits", 1, timeout=STUCK_AFTER)
    server.stop()
    receiver.join(timeout=STUCK_AFTER)

    assert not receiver.is_alive()
    assert [type(error) for error in outcome if not isinstance(error, (WinRMOperationTimeoutError,
                                                                       requests.exceptions.RequestException))] == []
    assert len(outcome) == 1
    assert server.stats()["receives_ended_by_stop"] == 1


def test_drop_resets_the_connection_after_the_change_happened(make_server, command_host):
    server = make_server(transport="basic")
    protocol = connect(server)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "drop")

    with pytest.raises(requests.exceptions.ConnectionError):
        protocol.get_command_output(shell_id, command_id)

    assert command_host.calls == [("drop", [], b"")]
    assert server.stats()["dropped_connections"] == 1
    # The drop happens once; a client that reconnects finds the finished command.
    assert protocol.get_command_output(shell_id, command_id) == (b"changed", b"", 0)


def test_after_a_drop_an_encrypted_message_on_a_new_connection_is_a_bad_request(make_server):
    """What Ansible's winrm connection expects from Windows: it ignores a 400 on the Signal after
    a lost connection, because pywinrm sealed that message for the old connection's NTLM context."""
    server = make_server(transport="ntlm")
    protocol = connect(server)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        protocol.get_command_output(shell_id, command_id)

    with pytest.raises(WinRMTransportError) as raised:
        protocol.cleanup_command(shell_id, command_id)

    assert raised.value.code == 400


def test_large_output_arrives_over_several_receives(make_server):
    server = make_server(transport="ntlm")
    protocol = connect(server)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "big:200192")

    first_stdout, _, _, done = protocol.get_command_output_raw(shell_id, command_id)
    rest_stdout, _, exit_code = protocol.get_command_output(shell_id, command_id)

    assert not done and len(first_stdout) == wsman.OUTPUT_CHUNK_BYTES
    assert first_stdout + rest_stdout == bytes(range(256)) * (200192 // 256)
    assert exit_code == 0


def test_a_failing_command_host_gives_exit_code_1(make_server):
    server = make_server(transport="basic")
    protocol = connect(server)
    shell_id = protocol.open_shell()

    stdout, stderr, exit_code = execute(protocol, shell_id, "boom")

    assert exit_code == 1 and b"state file is corrupt" in stderr


def test_concurrent_ntlm_clients_with_encryption(make_server, command_host):
    server = make_server(transport="ntlm")
    errors = []

    def client(number):
        try:
            protocol = connect(server)
            shell_id = protocol.open_shell()
            for round_number in range(4):
                payload = b"client %d round %d " % (number, round_number) * 50
                assert execute(protocol, shell_id, "echo", [payload[:100], payload[100:]]) == (payload, b"", 0)
            protocol.close_shell(shell_id)
        except Exception as error:  # collected: an assert in a thread would not fail the test
            errors.append(error)

    clients = [threading.Thread(target=client, args=(number,), daemon=True) for number in range(8)]
    for thread in clients:
        thread.start()
    give_up_at = time.monotonic() + STUCK_AFTER
    for thread in clients:
        thread.join(timeout=max(0.0, give_up_at - time.monotonic()))

    assert not any(thread.is_alive() for thread in clients)
    assert errors == []
    assert len(command_host.calls) == 32
    assert server.stats()["encrypted_requests"] == 8 * (2 + 4 * 5)


def test_serve_refuses_to_start_without_credentials(tmp_path):
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("HYPERV_SIM_USER", "HYPERV_SIM_PASSWORD")}

    # The timeout is reached only if the simulator serves after all: it must refuse before it listens.
    completed = subprocess.run([sys.executable, SIMULATOR, "serve", "--port", "0", "--state",
                                str(tmp_path / "state.json")], env=environment, capture_output=True,
                               timeout=STUCK_AFTER, check=False)

    assert completed.returncode == 2
    assert b"no credentials" in completed.stderr and completed.stdout == b""


def _assert_stopped(pid, port):
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_running_simulator_serves_winrm_and_stops(tmp_path):
    pytest.importorskip("hyperv_sim.commands")
    from hyperv_sim.harness import inventory_vars, running_simulator

    with running_simulator(tmp_path / "state.json", vms=["web01"]) as sim:
        protocol = winrm.Protocol(sim.endpoint, transport="ntlm", username=sim.user, password=sim.password,
                                  server_cert_validation="ignore", operation_timeout_sec=OPERATION_TIMEOUT,
                                  read_timeout_sec=READ_TIMEOUT)
        protocol.close_shell(protocol.open_shell())
        variables = inventory_vars(sim)

    assert variables["ansible_port"] == sim.port and variables["ansible_winrm_scheme"] == "http"
    assert (variables["ansible_user"], variables["ansible_password"]) == ("ansible-sim", sim.password)
    assert variables["ansible_winrm_transport"] == "ntlm"
    _assert_stopped(sim.pid, sim.port)


def test_a_host_started_in_place_of_another_waits_for_its_port(tmp_path):
    """running_simulator(port=, waiting=): the new host says it waits while the port is taken, and serves
    from the moment it is free (a restart without the time a Python start takes)."""
    pytest.importorskip("hyperv_sim.commands")
    from hyperv_sim.harness import running_simulator

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    waiting, entered, release = threading.Event(), threading.Event(), threading.Event()
    started = {}

    def start():
        try:
            with running_simulator(tmp_path / "state.json", vms=["web01"], port=port, waiting=waiting,
                                   startup_timeout=STUCK_AFTER) as sim:
                started["sim"] = sim
                entered.set()
                release.wait()
        except Exception as error:  # collected: an assert in a thread would not fail the test
            started["error"] = error
            entered.set()

    starter = threading.Thread(target=start, daemon=True)
    starter.start()
    try:
        assert waiting.wait(STUCK_AFTER), started
        assert not entered.is_set()  # still held off by the port's owner
        holder.close()
        assert entered.wait(STUCK_AFTER) and "sim" in started, started
        assert started["sim"].port == port
        protocol = winrm.Protocol(started["sim"].endpoint, transport="ntlm", username=started["sim"].user,
                                  password=started["sim"].password, server_cert_validation="ignore",
                                  operation_timeout_sec=OPERATION_TIMEOUT,
                                  read_timeout_sec=READ_TIMEOUT)
        protocol.close_shell(protocol.open_shell())
    finally:
        holder.close()
        release.set()
        starter.join(STUCK_AFTER)
    _assert_stopped(started["sim"].pid, port)


def test_running_simulator_stops_when_the_body_raises(tmp_path):
    pytest.importorskip("hyperv_sim.commands")
    from hyperv_sim.harness import running_simulator

    with pytest.raises(RuntimeError, match="test body failed"):
        with running_simulator(tmp_path / "state.json", transport="basic", tls=True) as sim:
            raise RuntimeError("test body failed")

    _assert_stopped(sim.pid, sim.port)


def test_the_traffic_log_counts_round_trips_and_bytes_per_connection_and_shell(make_server, tmp_path):
    log = tmp_path / "state.json.traffic.jsonl"
    server = make_server(transport="ntlm", traffic_path=str(log))
    first = connect(server)
    shell_a = first.open_shell()
    execute(first, shell_a, "echo", [b"x" * 1000])
    execute(first, shell_a, "echo", [b"y" * 10])
    first.close_shell(shell_a)
    second = connect(server)  # a new session: a new TCP connection and shell
    shell_b = second.open_shell()
    execute(second, shell_b, "exit:0")
    second.close_shell(shell_b)

    summary = traffic.summarize(traffic.read_records(log))
    totals = summary["totals"]
    assert totals["round_trips"] == 3
    assert summary["commands"] == {"echo": 2, "unknown": 1}
    assert {shell: counts["round_trips"] for shell, counts in summary["shells"].items()} == {shell_a: 2, shell_b: 1}
    # per shell: Create, 2 x (Command, Send, Receive, Signal), Delete / Create, Command, Receive, Signal, Delete
    assert summary["shells"][shell_a]["http_requests"] == 10
    assert summary["shells"][shell_b]["http_requests"] == 5
    # each connection also made its NTLM handshake: three POSTs without a shell (401, negotiate, empty POST)
    assert sorted(counts["http_requests"] for counts in summary["connections"].values()) == [8, 13]
    assert totals["http_requests"] == 21 == sum(c["http_requests"] for c in summary["connections"].values())
    # encrypted bodies are bigger than the SOAP inside them; 1000 bytes of stdin went out base64-encoded
    assert totals["wire_in"] > totals["soap_in"] > 1000 * 4 // 3
    assert totals["wire_out"] > totals["soap_out"] > 0
    assert summary["shells"][shell_a]["soap_in"] > summary["shells"][shell_b]["soap_in"]

    traffic.reset(log)
    assert traffic.summarize(traffic.read_records(log))["totals"] == dict.fromkeys(traffic.COUNTERS, 0)


def test_without_encryption_wire_and_soap_bytes_are_the_same(make_server, tmp_path):
    log = tmp_path / "traffic.jsonl"
    server = make_server(transport="basic", traffic_path=str(log))
    protocol = connect(server)
    shell_id = protocol.open_shell()
    execute(protocol, shell_id, "echo", [b"plain"])
    protocol.close_shell(shell_id)

    totals = traffic.summarize(traffic.read_records(log))["totals"]
    assert totals["round_trips"] == 1
    assert (totals["wire_in"], totals["wire_out"]) == (totals["soap_in"], totals["soap_out"])
    assert totals["soap_in"] > 0


def test_no_traffic_log_unless_asked(make_server, tmp_path):
    server = make_server(transport="basic")
    protocol = connect(server)
    shell_id = protocol.open_shell()
    execute(protocol, shell_id, "echo", [b"x"])
    protocol.close_shell(shell_id)
    assert list(tmp_path.iterdir()) == []
