"""The host-side work of each operation: the Hyper-V and FailoverClusters cmdlet calls the operation's script
makes and the objects they return (``HyperVHost.work``), one JSON line per operation in ``<state>.work.jsonl``.

A real host's cost of a read grows with the objects it builds (a Get-VM that lists every VM builds
every VM), which the wire does not show: this log lets a test and the bench show that an operation
costs the same on a host with 10 VMs and with 1,000 (docs/performance.md). Reads never change the
state file, so the log is a file of its own; each operation appends one short line (one write).
"""

from __future__ import annotations

import json
import os
import pathlib


def work_path(state_path: str | os.PathLike) -> pathlib.Path:
    path = pathlib.Path(state_path)
    return path.with_name(path.stem + ".work.jsonl")


def append(state_path: str | os.PathLike, operation: str, work: dict) -> None:
    line = json.dumps({"operation": operation, "cmdlets": work["cmdlets"], "objects": work["objects"]},
                      sort_keys=True) + "\n"
    with open(work_path(state_path), "a", encoding="utf-8") as handle:
        handle.write(line)


def reset(state_path: str | os.PathLike) -> None:
    work_path(state_path).write_text("", encoding="utf-8")


def read(state_path: str | os.PathLike) -> list[dict]:
    """Every operation's work since the last reset, oldest first."""
    path = work_path(state_path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def summarize(records: list[dict]) -> dict:
    """``{"operations": {name: runs}, "cmdlets": {cmdlet: calls}, "calls": all calls, "objects": all objects}``."""
    totals: dict = {"operations": {}, "cmdlets": {}, "calls": 0, "objects": 0}
    for record in records:
        totals["operations"][record["operation"]] = totals["operations"].get(record["operation"], 0) + 1
        for cmdlet, calls in record["cmdlets"].items():
            totals["cmdlets"][cmdlet] = totals["cmdlets"].get(cmdlet, 0) + calls
            totals["calls"] += calls
        totals["objects"] += record["objects"]
    return totals
