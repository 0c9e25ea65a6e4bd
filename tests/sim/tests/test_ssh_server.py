"""The simulated host's OpenSSH endpoint, driven by the OpenSSH client (/usr/bin/ssh), as Ansible's ``ssh``
connection drives it: one exec request per command, stdin until EOF, stdout, stderr and the exit status back.

The endpoint runs in-process with a scripted fake command host; the command text picks the behaviour.
"""

from __future__ import annotations

import asyncio
import subprocess

import asyncssh
import pytest

from fake_hosts import PASSWORD, USER
from hyperv_sim import traffic
from hyperv_sim.ssh_server import SSHEndpoint


@pytest.fixture
def endpoint(command_host, tmp_path):
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(str(tmp_path / "user_key"))
    (tmp_path / "user_key").chmod(0o600)
    key.write_public_key(str(tmp_path / "user_key.pub"))
    server = SSHEndpoint(command_host, USER, PASSWORD, host_key_path=str(tmp_path / "host_key"),
                         authorized_keys=str(tmp_path / "user_key.pub"),
                         traffic_path=str(tmp_path / "traffic.jsonl")).start()
    (tmp_path / "known_hosts").write_text(server.known_hosts_line())
    server.test_dir = tmp_path
    yield server
    server.stop()


# Only a client that hangs should reach it: key exchange and the server (in this process, on two cores shared
# with another test worker and its playbook) can take seconds on a loaded machine.
SSH_TIMEOUT = 120


def ssh(endpoint, command, stdin=b"", user=USER, key=True, timeout=SSH_TIMEOUT):
    """The OpenSSH client as Ansible runs it (no tty, batch mode with a key), validating the host key."""
    directory = endpoint.test_dir
    # No user ssh_config and no control socket: a master connection left by someone else's ssh must not carry
    # this test's commands past the endpoint under test.
    options = ["-F", "none", "-o", "ControlMaster=no", "-o", "ControlPath=none",
               "-o", "UserKnownHostsFile=%s" % (directory / "known_hosts"), "-o", "StrictHostKeyChecking=yes",
               "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-p", str(endpoint.port)]
    if key:
        options += ["-i", str(directory / "user_key"), "-o", "PreferredAuthentications=publickey"]
    else:
        options += ["-o", "PreferredAuthentications=password"]
    return subprocess.run(["ssh"] + options + ["%s@127.0.0.1" % user, command], input=stdin, capture_output=True,
                          timeout=timeout, check=False)


def test_exec_with_stdin_and_exit_status(endpoint, command_host):
    done = ssh(endpoint, "echo", stdin=b'{"name": "get_vm"}\n')
    assert (done.returncode, done.stdout) == (0, b'{"name": "get_vm"}\n'), done
    failed = ssh(endpoint, "exit:3")
    assert (failed.returncode, failed.stderr.splitlines()[-1]) == (3, b"failed"), failed
    assert command_host.calls == [("echo", [], b'{"name": "get_vm"}\n'), ("exit:3", [], b"")]


def test_user_names_are_case_insensitive_and_other_users_are_refused(endpoint, command_host):
    assert ssh(endpoint, "echo", user=USER.upper()).returncode == 0
    refused = ssh(endpoint, "echo", user="someone-else")
    assert refused.returncode == 255 and b"Permission denied" in refused.stderr
    assert len(command_host.calls) == 1


def test_password_authentication_checks_the_password(endpoint):
    server = endpoint

    def client(password):
        async def run():
            async with asyncssh.connect("127.0.0.1", server.port, username=USER, password=password,
                                        known_hosts=str(server.test_dir / "known_hosts"), client_keys=None) as conn:
                return await conn.run("echo", input="by password", encoding="utf-8")
        return asyncio.run(run())

    assert client(PASSWORD).stdout == "by password"
    with pytest.raises(asyncssh.PermissionDenied):
        client("not-the-password")


def test_a_dropped_connection_after_the_command_ran(endpoint, command_host):
    done = ssh(endpoint, "drop")
    assert done.returncode == 255, done  # OpenSSH's "connection lost"
    assert command_host.calls == [("drop", [], b"")]


def test_a_hanging_command_answers_late(endpoint):
    done = ssh(endpoint, "hang:1.5")
    assert (done.returncode, done.stdout) == (0, b"late output"), done


def test_round_trips_and_bytes_on_the_wire_are_counted(endpoint):
    assert ssh(endpoint, "echo", stdin=b"x" * 5000).returncode == 0
    summary = traffic.summarize(traffic.read_records(endpoint.test_dir / "traffic.jsonl"))
    assert summary["totals"]["round_trips"] == 1 and summary["commands"] == {"echo": 1}
    # The whole encrypted TCP stream: more than the 5000 bytes of stdin each way (key exchange included).
    assert summary["totals"]["wire_in"] > 5000 and summary["totals"]["wire_out"] > 5000
    assert summary["totals"]["http_requests"] == 0
