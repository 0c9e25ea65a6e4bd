"""What reached the simulated host: one JSON line per command, next to the state file.

Tests use it to prove a negative: that a task refused bad input *before* anything was sent
(no line), and that a hostile name arrived only as data inside the collection's own request
(every line ``accepted``, with the expected operation and params). A command the host refuses
(not the collection's runner, or a request whose scripts are not the collection's files) is
logged with ``accepted: false`` and the reason, so a test that would let foreign code through
notices it.
"""

from __future__ import annotations

import json
import os
import pathlib


def log_path(state_path: str | os.PathLike) -> pathlib.Path:
    path = pathlib.Path(state_path)
    return path.with_name(path.name + ".requests.jsonl")


def record(state_path: str | os.PathLike, operation: str | None = None, params: dict | None = None,
           refused: str | None = None, node: str | None = None) -> None:
    """Append one entry; one ``write`` of one line, so concurrent commands never interleave. ``node``: the
    cluster node that answered, when several serve one state file."""
    entry = {"accepted": refused is None, "operation": operation, "params": params, "refused": refused}
    if node:
        entry["node"] = node
    line = json.dumps(entry, ensure_ascii=True) + "\n"
    with open(log_path(state_path), "a", encoding="ascii") as handle:
        handle.write(line)


def read(state_path: str | os.PathLike) -> list[dict]:
    """Every entry so far, oldest first (empty when nothing reached the host)."""
    path = log_path(state_path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="ascii").splitlines() if line.strip()]
