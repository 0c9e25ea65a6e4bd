"""What the simulated host's WinRM endpoint carried: round trips and bytes, per connection and per shell.

The endpoint appends one JSON line per HTTP request to a traffic log next to the state file
(``<state>.traffic.jsonl``), so another process (``SimHost.traffic()``, the bench) can reset
it before a task and read it after, while the simulator keeps serving:

    {"kind": "http", "connection": 3, "shell": "7A..", "action": "Command",
     "wire_in": 1234, "wire_out": 987, "soap_in": 1100, "soap_out": 850}
    {"kind": "command", "connection": 3, "shell": "7A..", "label": "runner:get_vms",
     "stdin": 4321, "stdout": 2000, "stderr": 0}

``wire_*`` are the HTTP body bytes as they crossed the socket: with NTLM message encryption
that is the multipart/encrypted body (encryption overhead included); ``soap_*`` are the
plaintext SOAP envelopes. HTTP headers (including the NTLM tokens of the authentication
handshake) are not counted. A *round trip* is one WinRS Command (or one PSRP pipeline, or one
SSH exec request): one program started on the host, with its Send/Receive requests;
``http_requests`` counts every POST.

The SSH endpoint (hyperv_sim.ssh_server) writes ``{"kind": "tcp", "connection": "ssh-1",
"wire_in": n}`` (or ``wire_out``) as bytes cross its TCP connections: the whole encrypted SSH
stream, key exchange and authentication included, since SSH has no plaintext envelope to count.
"""

from __future__ import annotations

import json
import os
import pathlib
import threading
from collections import defaultdict

TRAFFIC_SUFFIX = ".traffic.jsonl"
COUNTERS = ("round_trips", "http_requests", "wire_in", "wire_out", "soap_in", "soap_out")


def traffic_path(state_path: str | os.PathLike) -> pathlib.Path:
    """The traffic log of the simulated host whose state file is ``state_path``."""
    return pathlib.Path(str(state_path) + TRAFFIC_SUFFIX)


class TrafficLog:
    """Appends records to the traffic log; one lock, one write per record (lines never interleave)."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = pathlib.Path(path) if path is not None else None
        self._lock = threading.Lock()

    def write(self, record: dict) -> None:
        if self.path is None:
            return
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)


def read_records(path: str | os.PathLike) -> list[dict]:
    """The records of a traffic log (none when it does not exist); a line cut off by a write in flight is skipped."""
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def reset(path: str | os.PathLike) -> None:
    """Start counting from zero (the log is emptied, not removed: the simulator keeps appending)."""
    with open(path, "w", encoding="utf-8"):
        pass


def _empty() -> dict:
    return dict.fromkeys(COUNTERS, 0)


def _add(totals: dict, record: dict) -> None:
    if record["kind"] == "command":
        totals["round_trips"] += 1
        return
    if record["kind"] == "http":
        totals["http_requests"] += 1
    for key in ("wire_in", "wire_out", "soap_in", "soap_out"):
        totals[key] += record.get(key, 0)


def summarize(records: list[dict]) -> dict:
    """Totals, and the same counters per connection and per shell, plus the commands' labels.

    Requests before a shell exists (the authentication handshake, the shell's Create) count
    for their connection and the totals; a shell's Create is attributed to the shell it made.
    """
    totals = _empty()
    connections: dict[str, dict] = defaultdict(_empty)
    shells: dict[str, dict] = defaultdict(_empty)
    labels: dict[str, int] = defaultdict(int)
    for record in records:
        _add(totals, record)
        _add(connections[str(record.get("connection"))], record)
        if record.get("shell"):
            _add(shells[record["shell"]], record)
        if record["kind"] == "command":
            labels[record.get("label") or "unknown"] += 1
    return {"totals": totals, "connections": dict(connections), "shells": dict(shells), "commands": dict(labels)}
