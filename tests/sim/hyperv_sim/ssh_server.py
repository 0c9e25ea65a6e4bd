"""The simulated host's OpenSSH endpoint: Windows OpenSSH with PowerShell as its default shell.

Ansible's ``ssh`` connection (the OpenSSH client, ``ansible_shell_type=powershell``) sends each command as
an SSH ``exec`` request; with ``DefaultShell`` set to PowerShell, Windows' sshd starts the command line in
PowerShell with the channel's stdin. This endpoint does the same with the command host
(hyperv_sim.commands.CommandHost) that the WinRM endpoint uses: one ``run(command, [], stdin)`` per exec
request, once stdin has reached EOF; stdout, stderr and the exit status go back on the channel.

The SSH protocol is asyncssh's (a maintained SSH client and server library): key exchange, encryption,
password and public-key authentication against the configured user and its authorized key.

Faults act as on the WinRM endpoint: ``hang`` holds the answer back (for ``hang_seconds``, or until the
server stops), ``drop`` resets the TCP connection after the operation ran.

Bytes on the wire: a forwarder in front of the SSH server counts what crosses the TCP connection in each
direction (key exchange, authentication and encryption included) and appends ``{"kind": "tcp", ...}``
records to the traffic log as the bytes pass, so a long-lived OpenSSH ControlMaster connection is counted
per task too; each exec request is a ``command`` record (a round trip), as on WinRM.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import threading

import asyncssh

from hyperv_sim.traffic import TrafficLog

log = logging.getLogger("hyperv_sim.ssh_server")

FORWARD_CHUNK = 65536


class _Authenticator(asyncssh.SSHServer):
    """One SSH connection's authentication: the configured user, by password or by its authorized key."""

    def __init__(self, endpoint: SSHEndpoint):
        self._endpoint = endpoint

    def begin_auth(self, username: str) -> bool:
        return True  # authentication is always required

    def password_auth_supported(self) -> bool:
        return True

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return self._endpoint.authorized_keys is not None

    def validate_password(self, username: str, password: str) -> bool:
        return self._endpoint.user_matches(username) and hmac.compare_digest(
            password.encode("utf-8"), self._endpoint.password.encode("utf-8"))

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        keys = self._endpoint.authorized_keys
        return (self._endpoint.user_matches(username) and keys is not None
                and keys.validate(key, "", "127.0.0.1") is not None)


class SSHEndpoint:
    """An SSH server on ``host:port`` (0 picks a free port) in a thread of its own (an asyncio loop).

    ``command_host``: as for hyperv_sim.wsman.WSManServer. ``authorized_keys``: an OpenSSH
    authorized_keys file of the user (public-key authentication), or None. ``host_key_path``: where to
    keep the server's host key (made once, so a restarted host keeps its identity). Use as a context
    manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, command_host, user: str, password: str, host_key_path: str, authorized_keys: str | None = None,
                 host: str = "127.0.0.1", port: int = 0, traffic_path: str | None = None):
        if not user or not password:
            raise ValueError("a user name and a password are required")
        self._command_host = command_host
        self.user = user
        self.password = password
        self.host = host
        self._requested_port = port
        self._host_key_path = host_key_path
        self.authorized_keys = asyncssh.read_authorized_keys(authorized_keys) if authorized_keys else None
        self._traffic = TrafficLog(traffic_path)
        self._numbers = itertools.count(1)
        # The forwarder's local port of each connection to the SSH server -> the client connection's number.
        self._connection_numbers: dict[int, str] = {}
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop_event: asyncio.Event | None = None
        self.port = 0
        self.host_key: asyncssh.SSHKey | None = None

    def user_matches(self, username: str) -> bool:
        # Windows user names are case-insensitive; a DOMAIN\\user form counts as the same account.
        return username.lower() == self.user.lower() or username.lower().rsplit("\\", 1)[-1] == self.user.lower()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> SSHEndpoint:
        self._thread = threading.Thread(target=self._run_loop, name="ssh-endpoint", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._stop_event is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        self._thread.join()
        self._thread = None

    def __enter__(self) -> SSHEndpoint:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def known_hosts_line(self, port: int | None = None) -> str:
        """The known_hosts line a client validates this server's host key against."""
        return "[%s]:%d %s\n" % (self.host, port or self.port,
                                 self.host_key.export_public_key().decode("ascii").strip())

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as error:  # reported to start() when it happens before the server is ready
            if not self._ready.is_set():
                self._error = error
                self._ready.set()
            else:
                log.exception("SSH endpoint stopped with an error")
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop_event = asyncio.Event()
        self.host_key = _host_key(self._host_key_path)
        ssh_server = await asyncssh.listen(self.host, 0, server_host_keys=[self.host_key], encoding=None,
                                           server_factory=lambda: _Authenticator(self), process_factory=self._process,
                                           reuse_address=True)
        internal_port = ssh_server.sockets[0].getsockname()[1]
        connections: set[asyncio.StreamWriter] = set()
        forwarder = await asyncio.start_server(
            lambda reader, writer: self._forward(reader, writer, internal_port, connections),
            self.host, self._requested_port, reuse_address=True)
        self.port = forwarder.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop_event.wait()
        finally:
            forwarder.close()
            ssh_server.close()
            for writer in list(connections):
                writer.transport.abort()
            await ssh_server.wait_closed()

    # -- the counting forwarder ----------------------------------------------------------------

    async def _forward(self, client_reader, client_writer, internal_port, connections) -> None:
        number = "ssh-%d" % next(self._numbers)
        try:
            server_reader, server_writer = await asyncio.open_connection(self.host, internal_port)
        except OSError:
            client_writer.transport.abort()
            return
        connections.update((client_writer, server_writer))
        # The SSH server learns which client connection it serves from its peer's port.
        self._connection_numbers[server_writer.get_extra_info("sockname")[1]] = number

        async def pump(reader, writer, direction):
            try:
                while True:
                    data = await reader.read(FORWARD_CHUNK)
                    if not data:
                        break
                    self._traffic.write({"kind": "tcp", "connection": number, direction: len(data)})
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                # A reset on one side is a reset on the other: the client sees the connection drop.
                (client_writer if writer is server_writer else server_writer).transport.abort()
                writer.transport.abort()

        await asyncio.gather(pump(client_reader, server_writer, "wire_in"),
                             pump(server_reader, client_writer, "wire_out"))
        connections.difference_update((client_writer, server_writer))

    # -- exec requests ---------------------------------------------------------------------------

    async def _process(self, process: asyncssh.SSHServerProcess) -> None:
        connection = process.channel.get_connection()
        number = self._connection_numbers.get(connection.get_extra_info("peername")[1])
        command = process.command
        if command is None:  # an interactive shell: nothing to run, as PowerShell without a command line would wait
            process.exit(1)
            return
        try:
            stdin = await process.stdin.read()
        except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged, asyncssh.SignalReceived):
            stdin = b""
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(None, self._command_host.run, command, [], bytes(stdin))
            stdout, stderr, exit_code = bytes(result.stdout), bytes(result.stderr), int(result.exit_code)
            fault, hang_seconds, label = result.fault, float(result.hang_seconds), getattr(result, "label", "")
        except Exception as error:  # the simulator must answer whatever the command host does
            log.exception("command host failed on an SSH exec request")
            stdout, stderr, exit_code = b"", ("hyperv-sim: the command host failed: %s: %s\n"
                                              % (type(error).__name__, error)).encode("utf-8"), 1
            fault, hang_seconds, label = None, 0.0, ""
        self._traffic.write({"kind": "command", "connection": number, "shell": None, "label": label,
                             "stdin": len(stdin), "stdout": len(stdout), "stderr": len(stderr)})
        if fault == "hang":
            await (asyncio.sleep(hang_seconds) if hang_seconds > 0 else self._stop_event.wait())
        elif fault == "drop":
            connection.abort()
            return
        process.stdout.write(stdout)
        process.stderr.write(stderr)
        process.exit(exit_code)


def _host_key(path: str) -> asyncssh.SSHKey:
    """The host key kept at ``path``, made on first use."""
    try:
        return asyncssh.read_private_key(path)
    except (FileNotFoundError, OSError):
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(path)
        return key
