# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the host protocol (docs/host-protocol.md) as data: what each operation takes and returns.

Three parties speak the protocol: this Python side, the operation scripts on a real host and the
simulated host in tests/sim. Each is checked against this one declaration (tests/unit/contract), so
none of them can drift from the others unnoticed. At run time HyperVHost checks the parameters it
is about to send and the result it got back, so a host that answers something else fails the task
with a clear message instead of a KeyError deep in a planner.

Types are written as small strings: ``str``, ``int``, ``bool``, ``time`` (a string in ISO 8601, as
``DateTime.ToUniversalTime().ToString('o')`` writes it), ``any``, a record name (``VM``), ``[T]`` for a
list of T, and a trailing ``?`` for "or null".
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Mapping, NamedTuple

ISO_8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")

# The records below as the Python side holds them: JSON objects from the host. Their keys and value types are
# declared here and checked at run time (HyperVHost checks every result), not by mypy, so the values are Any.
JsonRecord = dict[str, Any]
VmRecord = JsonRecord
CheckpointRecord = JsonRecord
HostRecord = JsonRecord

# Hyper-V's limit of checkpoints per VM (every checkpoint counts, whatever made it): the planner refuses a create
# at it, and create_checkpoint is sent it (CheckpointLimit) for the check it makes on the host.
MAX_CHECKPOINTS = 50


class Record(NamedTuple):
    fields: dict[str, str]
    optional: frozenset[str]


class Operation(NamedTuple):
    params: dict[str, str]
    optional_params: frozenset[str]
    result: dict[str, str]


def _record(fields: Mapping[str, str], optional: Iterable[str] = ()) -> Record:
    return Record(dict(fields), frozenset(optional))


VM_FIELDS = {
    "id": "str",
    "name": "str",
    "state": "str",
    "checkpoint_type": "str?",
    "automatic_checkpoints": "bool?",
    "checkpoint_location": "str",
    "current_checkpoint_id": "str?",
    "current_checkpoint_name": "str?",
    "is_clustered": "bool",
    "owner_node": "str?",
    "computer_name": "str",
    "primary_status": "str?",
    "secondary_status": "str?",
    "merging": "bool",
    "checkpoint_count": "int",
    "volumes": "[Volume]",
    "disk_chain_bytes": "int?",
    "type_override": "TypeOverride?",
}

RECORDS = {
    "VM": _record(VM_FIELDS),
    # get_vms adds the VM's checkpoints when asked for them (IncludeCheckpoints).
    "ListedVM": _record(dict(VM_FIELDS, checkpoints="[Checkpoint]"), optional=["checkpoints"]),
    "Checkpoint": _record({
        "id": "str",
        "name": "str",
        "vm_id": "str",
        "vm_name": "str",
        "parent_id": "str?",
        "parent_name": "str?",
        "creation_time": "time",
        "snapshot_type": "str",
        "is_automatic": "bool?",
        "has_memory_state": "bool",
        "size_bytes": "int?",
    }),
    # A volume that holds a VM's disks or checkpoint files; sizes are null where the host cannot tell
    # (an SMB share).
    "Volume": _record({"path": "str", "free_bytes": "int?", "size_bytes": "int?"}),
    # A checkpoint type a create switched and has not put back yet: ``live`` while that create still runs.
    "TypeOverride": _record({"original_type": "str?", "live": "bool"}),
    "Host": _record({
        "computer_name": "str",
        "os_caption": "str",
        "os_version": "str",
        "supports_checkpoint_type": "bool",
        "supports_automatic_checkpoints": "bool",
        "time": "time",
    }),
    "ClusterNode": _record({"name": "str", "state": "str?"}),
    # A VM that get_vms was asked for and that is not on the host (ReportMissing): its name or id, the error
    # code (vm_not_found, owned_by_other_node), message and details that the operation would have failed with.
    "MissingVM": _record({"vm": "str", "code": "str", "message": "str", "details": "any"}),
    "SettingsChange": _record({
        "VMId": "str",
        "CheckpointType": "str?",
        "AutomaticCheckpoints": "bool?",
        "CheckpointLocation": "str?",
    }),
}

OPERATIONS = {
    "get_vm": Operation(
        params={"Name": "str", "Id": "str"}, optional_params=frozenset(["Name", "Id"]),
        result={"vm": "VM"}),
    "get_vms": Operation(
        params={"Names": "[str]", "Ids": "[str]", "All": "bool", "IncludeCheckpoints": "bool", "IncludeSizes": "bool",
                "ReportMissing": "bool"},
        optional_params=frozenset(), result={"host": "Host", "vms": "[ListedVM]", "missing": "[MissingVM]"}),
    "get_cluster_nodes": Operation(
        params={}, optional_params=frozenset(), result={"host": "Host", "nodes": "[ClusterNode]"}),
    "create_checkpoint": Operation(
        params={"VMId": "str", "Name": "str", "CheckpointType": "str?", "MinFreeBytes": "int", "CheckpointLimit": "int"},
        optional_params=frozenset(),
        result={"checkpoint": "Checkpoint", "taken_type": "str", "fell_back": "bool", "type_restore_error": "str?",
                "name_repaired": "bool", "type_override_repaired": "str?", "vm": "ListedVM"}),
    "remove_checkpoints": Operation(
        params={"VMId": "str", "Ids": "[str]", "IncludeChildren": "bool", "MergeGraceSeconds": "int"},
        optional_params=frozenset(),
        result={"removed": "[str]", "merge": "str", "vm": "VM"}),
    "restore_checkpoint": Operation(
        params={"VMId": "str", "Id": "str", "PowerState": "str"}, optional_params=frozenset(),
        result={"previous_state": "str", "state_after_restore": "str", "vm": "VM"}),
    "rename_checkpoint": Operation(
        params={"VMId": "str", "Id": "str", "NewName": "str"}, optional_params=frozenset(),
        result={"checkpoint": "Checkpoint"}),
    "set_checkpoint_settings": Operation(
        params={"Changes": "[SettingsChange]"}, optional_params=frozenset(),
        result={"vms": "[VM]"}),
    # Records what the host does in one experiment on a disposable VM (playbooks/probe_host.yml).
    "probe_host": Operation(
        params={"VMId": "str", "Experiment": "str"}, optional_params=frozenset(),
        result={"experiment": "str", "observations": "any", "host": "Host"}),
}


def value_problems(value: object, spec: str, where: str) -> list[str]:
    """Problems of ``value`` against type ``spec``; ``where`` names the value in the messages."""
    if spec.endswith("?"):
        if value is None:
            return []
        spec = spec[:-1]
    if spec == "any":
        return []
    if spec.startswith("["):
        if not isinstance(value, list):
            return ["%s: expected a list, got %s" % (where, _type_name(value))]
        problems: list[str] = []
        for index, item in enumerate(value):
            problems.extend(value_problems(item, spec[1:-1], "%s[%d]" % (where, index)))
        return problems
    if spec in RECORDS:
        return record_problems(value, RECORDS[spec], where)
    checks: dict[str, Callable[[object], bool]] = {
        "str": lambda v: isinstance(v, str),
        "time": lambda v: isinstance(v, str) and bool(ISO_8601.match(v)),
        "bool": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    }
    if not checks[spec](value):
        shown = "%r" % value if spec == "time" and isinstance(value, str) else _type_name(value)
        return ["%s: expected %s, got %s" % (where, "an ISO 8601 time" if spec == "time" else spec, shown)]
    return []


def record_problems(value: object, record: Record, where: str) -> list[str]:
    if not isinstance(value, dict):
        return ["%s: expected an object, got %s" % (where, _type_name(value))]
    problems = ["%s: missing key %r" % (where, key) for key in record.fields
                if key not in value and key not in record.optional]
    problems += ["%s: unexpected key %r" % (where, key) for key in value if key not in record.fields]
    for key, spec in record.fields.items():
        if key in value:
            problems.extend(value_problems(value[key], spec, "%s.%s" % (where, key)))
    return problems


def params_problems(operation: str, params: object) -> list[str]:
    """What is wrong with ``params`` for ``operation`` ([] when they follow the protocol)."""
    if operation not in OPERATIONS:
        return ["unknown operation %r" % operation]
    declared = OPERATIONS[operation]
    record = Record(declared.params, declared.optional_params)
    return record_problems(params, record, "%s params" % operation)


def result_problems(operation: str, result: object) -> list[str]:
    """What is wrong with the host's ``result`` for ``operation`` ([] when it follows the protocol)."""
    if operation not in OPERATIONS:
        return ["unknown operation %r" % operation]
    return record_problems(result, Record(OPERATIONS[operation].result, frozenset()), "%s result" % operation)


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__
