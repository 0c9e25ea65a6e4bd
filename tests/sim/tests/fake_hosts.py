"""A scripted stand-in for hyperv_sim.commands.CommandHost, shared by the endpoint tests (WinRS, PSRP, SSH).

The command text picks the behaviour: ``echo``: stdin back on stdout. ``exit:N``: exit code N with
a stderr line. ``hang:S``: output only S seconds after the run (0: never). ``drop``: the connection
is reset after the command ran. ``big:N``: N bytes of stdout. ``boom``: the host raises. Every call
is recorded, to check that ``run`` happens exactly once with the full stdin.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

# The account of the endpoints under test (the password is new for every test session).
USER = "ansible-sim"
PASSWORD = secrets.token_urlsafe(18)


@dataclass
class FakeResult:
    """Same fields as hyperv_sim.commands.CommandResult."""

    stdout: bytes
    stderr: bytes
    exit_code: int
    fault: str | None = None
    hang_seconds: float = 0.0
    label: str = ""


class FakeCommandHost:
    def __init__(self):
        self.calls: list[tuple[str, list[str], bytes]] = []
        self._lock = threading.Lock()

    def script_of(self, command: str) -> str:
        """The text that picks the behaviour (the command itself; the PSRP tests decode it)."""
        return command

    def run(self, command: str, arguments: list[str], stdin: bytes) -> FakeResult:
        script = self.script_of(command)
        with self._lock:
            self.calls.append((script, arguments, stdin))
        name, dummy, value = script.partition(":")
        if name == "echo":
            return FakeResult(self.echo(stdin), b"", 0, label="echo")
        if name == "exit":
            return FakeResult(b"", b"failed\n", int(value))
        if name == "hang":
            return FakeResult(b"late output", b"", 0, fault="hang", hang_seconds=float(value))
        if name == "drop":
            return FakeResult(b"changed", b"", 0, fault="drop")
        if name == "big":
            return FakeResult(bytes(range(256)) * (int(value) // 256), b"", 0)
        if name == "boom":
            raise RuntimeError("state file is corrupt")
        raise AssertionError("unexpected command %r" % command)

    def echo(self, stdin: bytes) -> bytes:
        return stdin
