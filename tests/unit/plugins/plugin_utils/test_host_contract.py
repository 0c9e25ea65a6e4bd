# -*- coding: utf-8 -*-
"""host_contract: the protocol's types, checked on plain values."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _host_contract as host_contract
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_contract import (
    params_problems,
    result_problems,
    value_problems,
)

from hyperv_records import checkpoint, host_record, vm


@pytest.mark.parametrize("value, spec", [
    ("a", "str"), (None, "str?"), (3, "int"), (None, "int?"), (True, "bool"), (False, "bool?"),
    ([], "[str]"), (["a", "b"], "[str]"), ({"x": 1}, "any"), (None, "any?"),
    ("2026-11-25T13:35:15.1234567Z", "time"), ("2026-11-25T13:35:15+01:00", "time"),
])
def test_values_of_the_declared_type_pass(value, spec):
    assert value_problems(value, spec, "v") == []


@pytest.mark.parametrize("value, spec, message", [
    (None, "str", "v: expected str, got null"),
    (1, "str", "v: expected str, got int"),
    (True, "int", "v: expected int, got bool"),  # bool is an int subclass in Python, not in the protocol
    (1, "bool", "v: expected bool, got int"),
    ("a", "[str]", "v: expected a list, got str"),
    (["a", 2], "[str]", "v[1]: expected str, got int"),
    ([], "VM", "v: expected an object, got list"),
    ("yesterday", "time", "v: expected an ISO 8601 time, got 'yesterday'"),
    (1700000000, "time", "v: expected an ISO 8601 time, got int"),
])
def test_values_of_another_type_are_named(value, spec, message):
    assert value_problems(value, spec, "v") == [message]


def test_records_need_every_key_and_no_other():
    record = vm(checkpoints=[])
    del record["checkpoints"]
    assert value_problems(record, "VM", "vm") == []
    missing = dict(record)
    del missing["merging"]
    assert value_problems(missing, "VM", "vm") == ["vm: missing key 'merging'"]
    assert value_problems(dict(record, extra=1), "VM", "vm") == ["vm: unexpected key 'extra'"]


def test_listed_vms_may_carry_their_checkpoints():
    listed = vm(checkpoints=[checkpoint(1, "a")])
    assert value_problems(listed, "ListedVM", "vm") == []
    broken = vm(checkpoints=[dict(checkpoint(1, "a"), creation_time=None)])
    assert value_problems(broken, "ListedVM", "vm") == [
        "vm.checkpoints[0].creation_time: expected an ISO 8601 time, got null"]


def test_operation_results_are_checked_deeply():
    assert result_problems("get_vms", {"host": host_record(), "vms": [vm()], "missing": []}) == []
    assert result_problems("get_vms", {"host": host_record(), "vms": [dict(vm(), state=None)], "missing": []}) == [
        "get_vms result.vms[0].state: expected str, got null"]


def test_params_may_leave_out_only_what_the_operation_allows():
    assert params_problems("get_vm", {"Name": "web01"}) == []
    assert params_problems("get_vm", {"Id": "6f2a"}) == []
    assert params_problems("rename_checkpoint", {"VMId": "a", "Id": "b"}) == [
        "rename_checkpoint params: missing key 'NewName'"]
    assert params_problems("set_checkpoint_settings", {"Changes": [{"VMId": "a"}]}) == [
        "set_checkpoint_settings params.Changes[0]: missing key 'CheckpointType'",
        "set_checkpoint_settings params.Changes[0]: missing key 'AutomaticCheckpoints'",
        "set_checkpoint_settings params.Changes[0]: missing key 'CheckpointLocation'",
    ]


def test_unknown_operations_are_named():
    assert params_problems("format_disk", {}) == ["unknown operation 'format_disk'"]
    assert result_problems("format_disk", {}) == ["unknown operation 'format_disk'"]


def test_every_type_the_contract_uses_is_known():
    def specs():
        for record in host_contract.RECORDS.values():
            yield from record.fields.values()
        for operation in host_contract.OPERATIONS.values():
            yield from operation.params.values()
            yield from operation.result.values()

    for spec in specs():
        base = spec.rstrip("?").strip("[]")
        assert base in ("str", "int", "bool", "time", "any") or base in host_contract.RECORDS, spec


def test_the_known_error_codes_are_the_documented_ones():
    """_errors.KNOWN_CODES decides which host codes are flagged unknown: it must follow the docs."""
    import pathlib
    import re

    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import KNOWN_CODES

    text = (pathlib.Path(__file__).resolve().parents[4] / "docs" / "host-protocol.md").read_text(encoding="utf-8")
    table = text.split("## Error codes", 1)[1]
    host_codes = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M))
    controller_codes = set(re.findall(r"`([a-z_]+)`", re.search(r"The controller adds ([^.]*)\.", table).group(1)))
    assert host_codes and controller_codes == {
        "timeout", "connection_lost", "session_rejected", "merge_timeout", "protocol_error", "host_unreachable"}
    assert KNOWN_CODES == host_codes | controller_codes
