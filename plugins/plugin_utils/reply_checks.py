# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is a successful reply shaped as docs/host-protocol.md says? Pure checks, no I/O.

The planners and action plugins index the host's records directly (``vm["id"]``,
``checkpoint["creation_time"]``). A reply that parses as JSON but lacks those keys, from a
modified or half-written script, must fail the task with a protocol error that names the
problem, not with a Python traceback deep in a planner.
"""

from __future__ import annotations

import re

# The keys each operation's result must have (docs/host-protocol.md, "Operations").
RESULT_KEYS = {
    "get_vm": ("vm",),
    "get_vms": ("host", "vms"),
    "create_checkpoint": ("checkpoint", "vm"),
    "remove_checkpoints": ("removed", "vm"),
    "restore_checkpoint": ("vm",),
    "rename_checkpoint": ("checkpoint",),
    "set_checkpoint_settings": ("vms",),
}
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")


def _check_checkpoint(where, checkpoint):
    if not isinstance(checkpoint, dict):
        return ["%s is not an object" % where]
    problems = ["%s has no text %s" % (where, key) for key in ("id", "name")
                if not isinstance(checkpoint.get(key), str)]
    if not isinstance(checkpoint.get("creation_time"), str) or not _TIME.match(checkpoint["creation_time"]):
        problems.append("%s has no ISO 8601 creation_time" % where)
    return problems


def _check_vm(where, vm):
    if not isinstance(vm, dict):
        return ["%s is not an object" % where]
    problems = ["%s has no text %s" % (where, key) for key in ("id", "name") if not isinstance(vm.get(key), str)]
    checkpoints = vm.get("checkpoints", [])
    if not isinstance(checkpoints, list):
        return problems + ["%s.checkpoints is not a list" % where]
    for index, checkpoint in enumerate(checkpoints):
        problems += _check_checkpoint("%s.checkpoints[%d]" % (where, index), checkpoint)
    return problems


def result_problems(operation, result):
    """What is wrong with ``result`` of ``operation`` (empty when nothing is)."""
    missing = [key for key in RESULT_KEYS.get(operation, ()) if key not in result]
    if missing:
        return ["the result has no %s" % ", ".join(missing)]
    problems = []
    if "vm" in result:
        problems += _check_vm("vm", result["vm"])
    if "vms" in result:
        if not isinstance(result["vms"], list):
            return problems + ["vms is not a list"]
        for index, vm in enumerate(result["vms"]):
            problems += _check_vm("vms[%d]" % index, vm)
    if "host" in result and not isinstance(result["host"], dict):
        problems.append("host is not an object")
    if "checkpoint" in result:
        problems += _check_checkpoint("checkpoint", result["checkpoint"])
    if "removed" in result and not (isinstance(result["removed"], list)
                                    and all(isinstance(item, str) for item in result["removed"])):
        problems.append("removed is not a list of ids")
    return problems
