# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the end of a batch of safe_change runs, on the controller.

The records of the batch's guests (the fact safe_change_result of each), the summary table of the play, the
set_stats artifacts of the whole run (docs/artifacts.md) and their copy in a results file. The records and
the artifacts are built by _safe_change_record; this gathers them from the play's hosts and writes the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_record as record
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_vars import host_var


def summarize(task_vars: Mapping[str, Any], show: Callable[[str], None] | None, set_stats: bool,
              results_file: str, lockstep: bool = True) -> dict[str, Any]:
    """The step summary's result: the records of this batch, the artifacts; ``show`` shows the summary table.

    ``lockstep`` (the linear strategy): the step runs once, after every guest of the batch settled. Else (free)
    every guest runs it when it is done: it returns only its own record, and the table, the artifacts and the
    results file come from the guest that sees every guest still in the play settled (the last to settle always
    does; a guest that sees them all too writes the same).
    """
    batch = {}
    for host in task_vars.get("ansible_play_batch", []):
        settled = host_var(task_vars, host, "__safe_change_settled")
        if isinstance(settled, dict) and isinstance(settled.get("record"), dict):
            batch[host] = settled["record"]
    batch = record.with_group_outcomes(batch)
    if not lockstep:
        own = task_vars.get("inventory_hostname", "")
        still_in_play = set(task_vars.get("ansible_play_hosts", []))
        waiting = [host for host in task_vars.get("ansible_play_batch", []) if host in still_in_play and host not in batch]
        if waiting:
            return {"changed": False, "records": {own: batch[own]} if own in batch else {},
                    "msg": "%d guest(s) of the batch still running: the last one shows the summary" % len(waiting)}
        return dict(_summarized(task_vars, batch, show, set_stats, results_file),
                    records={own: batch[own]} if own in batch else {})
    return _summarized(task_vars, batch, show, set_stats, results_file)


def _summarized(task_vars: Mapping[str, Any], batch: dict[str, dict[str, Any]], show: Callable[[str], None] | None,
                set_stats: bool, results_file: str) -> dict[str, Any]:
    """The table, the artifacts and the results file of ``batch`` (records by guest) and the earlier batches."""
    records = {}
    for host in (task_vars.get("groups") or {}).get("all", []):
        value = batch.get(host) or host_var(task_vars, host, "safe_change_result")
        if isinstance(value, dict) and value.get("outcome") in record.OUTCOMES:
            records[host] = value
    play = task_vars.get("ansible_play_name", "")
    shown = [records[host] for host in task_vars.get("ansible_play_hosts_all", [])
             if host in records and records[host].get("play", "") == play]
    result: dict[str, Any] = {"changed": False, "records": batch,
                              "msg": "%d guest(s) in this play, %d in the run" % (len(shown), len(records))}
    if show is not None:
        show("\n".join(record.summary_table(shown)))
    artifacts = record.artifacts(records)
    if set_stats:
        result["ansible_stats"] = {"data": artifacts, "per_host": False, "aggregate": False}
    if results_file:
        problem = write_results(results_file, artifacts)
        if problem:
            result["warnings"] = [problem]
    return result


def write_results(path: str, artifacts: dict[str, Any]) -> str | None:
    """Write the run's artifacts as JSON to ``path`` on the controller (relative to the working directory), through a
    file beside it, so that a reader never sees half a file; returns the problem as text, or None."""
    path = os.path.abspath(os.path.expanduser(path))
    partial = path + ".partial"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(partial, "w", encoding="utf-8") as handle:
            json.dump(artifacts, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(partial, path)
    except OSError as error:
        return "safe_change could not write its results to %s: %s" % (path, error)
    return None
