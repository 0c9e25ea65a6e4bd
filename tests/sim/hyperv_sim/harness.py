"""Start the simulated Hyper-V host as a subprocess for tests and ``make demo``.

    with running_simulator(tmp_path / "state.json", vms=["web01"]) as sim:
        inventory = {"hv01": inventory_vars(sim)}                 # winrm
        inventory = {"hv01": inventory_vars(sim, "psrp")}         # PowerShell remoting, same port
        inventory = {"hv01": inventory_vars(sim, "ssh", "key")}   # OpenSSH, PowerShell shell

    with running_realm(tmp_dir) as realm, \
            running_simulator(tmp_path / "state.json", transport="kerberos", kerberos=(realm, "hv01")) as sim:
        inventory = {"hv01": inventory_vars(sim)}                 # winrm with Kerberos (psrp likewise)

The process is always stopped when the ``with`` block ends, also when it raises.
"""

from __future__ import annotations

import errno
import os
import pathlib
import re
import secrets
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
import dataclasses
from dataclasses import dataclass


SIMULATOR = pathlib.Path(__file__).resolve().parent.parent / "hyperv-sim"
READY_LINE = re.compile(rb"^hyperv-sim listening on 127\.0\.0\.1:(\d+) ssh 127\.0\.0\.1:(\d+)$")
WAITING_LINE = re.compile(rb"^hyperv-sim waiting for 127\.0\.0\.1:\d+$")
CONNECTIONS = ("winrm", "psrp", "ssh")
SSH_AUTHS = ("key", "password")
STOP_GRACE_SECONDS = 5
# winrm and psrp: how long one HTTP request may go unanswered (inventory_vars says why it is generous).
READ_TIMEOUT_SECONDS = 60
# A host restarted on its old port (``port=``) may find it still taken: the listening socket of a
# killed simulator is closed only once the kernel has torn the process down, which lags the kill on
# a busy machine (the servers set SO_REUSEADDR, so it is not TIME_WAIT). Starting again is retried
# this long; it normally works at the first or second try.
BIND_RETRY_SECONDS = 30
BIND_RETRY_PAUSE_SECONDS = 0.2
ADDRESS_IN_USE = os.strerror(errno.EADDRINUSE).lower()


@dataclass(frozen=True)
class SimulatorProcess:
    """A running simulator: where it listens and how to log on to it."""

    port: int
    user: str
    password: str
    transport: str
    tls: bool
    state_path: str
    host_name: str | None
    pid: int
    ca_cert: str | None = None  # with TLS: the server's certificate, to validate it against
    ssh_port: int = 0
    ssh_key: str | None = None  # the user's private key, authorized on the SSH endpoint
    ssh_known_hosts: str | None = None  # the SSH endpoint's host key, to validate it against
    # With Kerberos: the host's name in the realm (its service principal is HTTP/<this>), which clients ask a
    # ticket for instead of 127.0.0.1 (the connections' hostname override variables).
    service_host: str | None = None
    # With certificate authentication: the user's client certificate and key (PEM), issued by the CA the host's
    # certificate mapping trusts, with the user's UPN.
    client_cert: str | None = None
    client_key: str | None = None
    client_issuer: tuple | None = dataclasses.field(default=None, repr=False)  # that CA: (certificate, key)

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def endpoint(self) -> str:
        """The WS-Management URL, e.g. for ``winrm.Protocol``."""
        return "%s://127.0.0.1:%d/wsman" % (self.scheme, self.port)


def inventory_vars(sim: SimulatorProcess, connection: str = "winrm", ssh_auth: str = "key") -> dict:
    """Ansible host variables for reaching ``sim`` with the ``winrm``, ``psrp`` or ``ssh`` connection.

    winrm and psrp use the simulator's WS-Management endpoint with its authentication (``sim.transport``)
    and scheme; ssh its OpenSSH endpoint with the PowerShell shell, by the user's key (``ssh_auth="key"``) or
    password. Certificates and host keys are validated, as in every example.

    The operation timeout is short so that a hanging command surfaces within seconds: the
    simulator answers a waiting Receive after it. The read timeout (how long one HTTP request may
    go unanswered) must exceed it, and is generous: on a loaded machine a reply can come seconds
    late, and a read timeout would make the client send the operation again, an honest retry that
    changes the host's request log and uses up faults meant for later runs. The collection's own
    operation timeout does not depend on it (the runner abandons an operation on its own clock).
    """
    if connection not in CONNECTIONS:
        raise ValueError("connection must be one of %s, not %r" % (", ".join(CONNECTIONS), connection))
    variables = {
        "ansible_connection": connection,
        "ansible_host": "127.0.0.1",
        "ansible_port": sim.port,
        "ansible_user": sim.user,
        "ansible_password": sim.password,
    }
    if connection == "winrm":
        variables.update({
            "ansible_winrm_scheme": sim.scheme,
            "ansible_winrm_transport": sim.transport,
            "ansible_winrm_message_encryption": "auto",
            "ansible_winrm_operation_timeout_sec": 5,
            "ansible_winrm_read_timeout_sec": READ_TIMEOUT_SECONDS,
        })
        if sim.tls:
            # Validation stays on, as in every example: the client trusts the simulator's own certificate.
            variables["ansible_winrm_ca_trust_path"] = sim.ca_cert
        if sim.client_cert:
            del variables["ansible_password"]
            variables.update({"ansible_winrm_cert_pem": sim.client_cert, "ansible_winrm_cert_key_pem": sim.client_key})
        if sim.service_host:
            variables["ansible_winrm_kerberos_hostname_override"] = sim.service_host
            # The connection runs kinit with an empty environment but for these: the realm's krb5.conf is not
            # /etc/krb5.conf.
            variables["ansible_winrm_kinit_env_vars"] = ["KRB5_CONFIG"]
    elif connection == "psrp":
        variables.update({
            "ansible_psrp_protocol": sim.scheme,
            "ansible_psrp_auth": sim.transport,
            "ansible_psrp_message_encryption": "auto",
            "ansible_psrp_operation_timeout": 5,
            "ansible_psrp_read_timeout": READ_TIMEOUT_SECONDS,
        })
        if sim.tls:
            variables["ansible_psrp_ca_cert"] = sim.ca_cert
        if sim.client_cert:
            del variables["ansible_password"]
            variables.update({"ansible_psrp_certificate_pem": sim.client_cert,
                              "ansible_psrp_certificate_key_pem": sim.client_key})
        if sim.service_host:
            variables["ansible_psrp_negotiate_hostname_override"] = sim.service_host
    else:
        if ssh_auth not in SSH_AUTHS:
            raise ValueError("ssh_auth must be one of %s, not %r" % (", ".join(SSH_AUTHS), ssh_auth))
        variables.update({
            "ansible_port": sim.ssh_port,
            "ansible_shell_type": "powershell",
            # The host key is checked against the simulator's own; only the chosen authentication is tried.
            "ansible_ssh_common_args": "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes "
                                       "-o PreferredAuthentications=%s -o ConnectTimeout=10"
                                       % (sim.ssh_known_hosts, "publickey" if ssh_auth == "key" else "password"),
        })
        if ssh_auth == "key":
            del variables["ansible_password"]
            variables["ansible_ssh_private_key_file"] = sim.ssh_key
    return variables


@contextmanager
def running_simulator(state_path, vms=(), transport="ntlm", tls=False, host_name=None, user=None, password=None,
                      startup_timeout=30, port=0, ssh_port=0, free_gb=None, waiting=None, kerberos=None,
                      node=None):
    """Start ``tests/sim/hyperv-sim serve`` on a free port (or ``port``: a host that comes back after
    a restart listens where it did; ``ssh_port`` likewise for the SSH endpoint) as a subprocess (``sys.executable``),
    wait for its ready line, yield a :class:`SimulatorProcess`, and always stop it on exit
    (SIGTERM, then SIGKILL after 5 s), also when the body raises. On a given port that is still
    taken, starting is retried for up to BIND_RETRY_SECONDS.

    ``waiting`` (a threading.Event, with ``port``): start the host in place of one that still runs
    there; the process waits for the port in itself, with its set-up done, and ``waiting`` is set once
    it does. Kill the old host after that and the new one answers within a fraction of a second,
    however long a Python start takes on a loaded machine (``startup_timeout`` must then cover the
    time until the kill).

    ``node``: serve ``state_path`` as that node of a simulated failover cluster; start one process per node on
    the same state file (its VMs' storage is the cluster's, SimHost.live_migrate moves a VM between them).

    ``user`` defaults to ``ansible-sim`` and ``password`` to a fresh random token per run;
    both reach the process through its environment, not its (world-readable) command line.

    ``transport="certificate"`` (with ``tls``): the host trusts a client CA made for it and maps the user (default
    ``ansible-sim@localhost``) to the certificate with that UPN, which the yielded process names (``client_cert``).

    ``kerberos=(realm, name)`` with ``transport="kerberos"``: the host is ``name`` of a running
    ``kerberos_realm.Realm``; it accepts tickets for ``HTTP/<name>.<realm domain>`` with that name's keytab, and the
    user and password default to the realm's user principal and password.
    """
    environment = dict(os.environ)
    service_host = None
    if (transport == "kerberos") != (kerberos is not None):
        raise ValueError("kerberos=(realm, host name) goes with transport='kerberos', and only with it")
    if kerberos is not None:
        realm, realm_host = kerberos
        user, password = user or realm.principal, password or realm.password
        service_host = realm.service_host(realm_host)
        environment.update(realm.environment())
    user = user or ("ansible-sim@localhost" if transport == "certificate" else "ansible-sim")
    password = password or secrets.token_urlsafe(18)
    command = [sys.executable, str(SIMULATOR), "serve", "--port", str(port), "--state", str(state_path),
               "--transport", transport, "--ssh-port", str(ssh_port)]
    ssh_key, known_hosts = _ssh_client_files(pathlib.Path(state_path))
    if node:
        # Each node writes its own endpoint's files; the state, its disks and the host key are the cluster's.
        known_hosts += "." + node
        command += ["--node", node]
    command += ["--ssh-authorized-keys", ssh_key + ".pub", "--ssh-known-hosts-out", known_hosts]
    for vm in vms:
        command += ["--vm", vm]
    ca_cert = None
    if tls:
        suffix = (".%s.cert.pem" % node) if node else ".cert.pem"
        ca_cert = str(pathlib.Path(state_path).with_name(pathlib.Path(state_path).name + suffix))
        command += ["--tls", "--tls-cert-out", ca_cert]
    if host_name:
        command += ["--host-name", host_name]
    if kerberos is not None:
        command += ["--keytab", kerberos[0].keytab(kerberos[1])]
    client_cert = client_key = client_issuer = None
    if transport == "certificate":
        # The user's certificate, from a CA made for this host (kept with the state file, like the SSH key).
        from hyperv_sim.wsman_auth import create_client_certificate

        directory = str(pathlib.Path(state_path).parent)
        prefix = pathlib.Path(state_path).name + ".client"
        client_cert, client_key, client_issuer = create_client_certificate(directory, prefix, user)
        command += ["--client-ca", os.path.join(directory, prefix + "-ca.pem")]
    if free_gb is not None:
        command += ["--free-gb", str(free_gb)]
    if waiting is not None:
        if not port:
            raise ValueError("waiting= is for a host started in place of another: give its port")
        command += ["--wait-for-port", str(startup_timeout)]
    environment.update(HYPERV_SIM_USER=user, HYPERV_SIM_PASSWORD=password)

    # stderr goes to a file, not a pipe: nobody reads it while the tests run, and a full pipe
    # would block the simulator.
    retry_until = time.monotonic() + BIND_RETRY_SECONDS
    while True:
        stderr = tempfile.TemporaryFile()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                                   env=environment)
        try:
            ready_port, ready_ssh_port = _wait_for_ready_line(process, stderr, startup_timeout, waiting)
            break
        except RuntimeError as error:
            _stop(process)
            stderr.close()
            if not ((port or ssh_port) and ADDRESS_IN_USE in str(error).lower() and time.monotonic() < retry_until):
                raise
            time.sleep(BIND_RETRY_PAUSE_SECONDS)
        except BaseException:
            _stop(process)
            stderr.close()
            raise
    try:
        yield SimulatorProcess(port=ready_port, user=user, password=password, transport=transport, tls=tls,
                               state_path=str(state_path), host_name=host_name, pid=process.pid, ca_cert=ca_cert,
                               ssh_port=ready_ssh_port, ssh_key=ssh_key, ssh_known_hosts=known_hosts,
                               service_host=service_host, client_cert=client_cert, client_key=client_key,
                               client_issuer=client_issuer)
    finally:
        _stop(process)
        stderr.close()


def _ssh_client_files(state_path: pathlib.Path) -> tuple[str, str]:
    """The SSH user's key pair (made once per state file, so a restarted host still knows it) and the
    known_hosts file the simulator writes its host key to."""
    key = state_path.with_name(state_path.name + ".ssh_user_key")
    if not key.exists():
        # Imported here: only the simulator's own dependencies need asyncssh.
        import asyncssh

        private = asyncssh.generate_private_key("ssh-ed25519")
        private.write_private_key(str(key))
        private.write_public_key(str(key) + ".pub")
        os.chmod(key, 0o600)
    return str(key), str(state_path.with_name(state_path.name + ".known_hosts"))


def _wait_for_ready_line(process: subprocess.Popen, stderr, timeout: float,
                         waiting: threading.Event | None = None) -> tuple[int, int]:
    """Read stdout until the ready line, without blocking past ``timeout``; set ``waiting`` on the line that
    says the process waits for its port."""
    deadline = time.monotonic() + timeout
    received = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            if b"\n" in received:
                line, rest = received.split(b"\n", 1)
                if not WAITING_LINE.match(line.strip()):
                    break
                received = rest
                if waiting is not None:
                    waiting.set()
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError("hyperv-sim did not report readiness within %s s; stderr:\n%s"
                                   % (timeout, _read_all(stderr)))
            if selector.select(min(remaining, 0.2)):
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    process.wait(timeout=STOP_GRACE_SECONDS)
                    raise RuntimeError("hyperv-sim exited with code %s before it was ready; stderr:\n%s"
                                       % (process.returncode, _read_all(stderr)))
                received += chunk
    line = received.split(b"\n", 1)[0].strip()
    match = READY_LINE.match(line)
    if not match:
        raise RuntimeError("unexpected first line from hyperv-sim: %r; stderr:\n%s" % (line, _read_all(stderr)))
    return int(match.group(1)), int(match.group(2))


def _read_all(stderr) -> str:
    stderr.flush()
    stderr.seek(0)
    return stderr.read().decode("utf-8", "replace")


def terminate(process: subprocess.Popen, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; returns once the process has gone."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _stop(process: subprocess.Popen) -> None:
    terminate(process)
    process.stdout.close()
