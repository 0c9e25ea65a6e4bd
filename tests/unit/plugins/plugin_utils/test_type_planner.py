# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of type_planner: what hyperv_checkpoint_type changes on each VM (pure functions)."""

from __future__ import annotations

import copy

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.hyperv.checkpoint.plugins.action.hyperv_checkpoint_type import ActionModule, check_options
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _type_planner as type_planner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import OptionError, PlanError

from hyperv_records import chain, checkpoint, host_record, vm

LOCATION = "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V"
WEB_ID = "6f2a1c1e-0000-4000-8000-000000000001"
DB_ID = "6f2a1c1e-0000-4000-8000-000000000002"
TEST_ID = "6f2a1c1e-0000-4000-8000-000000000003"

HOST_2016 = dict(host_record(), os_caption="Microsoft Windows Server 2016 Datacenter", os_version="10.0.14393",
                 supports_checkpoint_type=True, supports_automatic_checkpoints=False)
HOST_2012R2 = dict(host_record(), os_caption="Microsoft Windows Server 2012 R2 Datacenter", os_version="6.3.9600",
                   supports_checkpoint_type=False, supports_automatic_checkpoints=False)


def args(**options):
    """The action's validated arguments (every key present, as validate_argument_spec returns them)."""
    base = dict(vm=None, vm_id=None, all_vms=False, checkpoint_type=None, automatic_checkpoints=None,
                checkpoint_location=None, operation_timeout=600)
    base.update(options)
    return base


def wanted(**options):
    return type_planner.desired_settings(args(**options))


def web(**keys):
    record = vm("web01", vm_id=WEB_ID, checkpoint_type="Standard")
    record.update(keys)
    return record


def db(**keys):
    record = vm("db01", vm_id=DB_ID, checkpoint_type="Production", state="Off")
    record.update(keys)
    return record


def no_change(vm_id):
    return {"VMId": vm_id, "CheckpointType": None, "AutomaticCheckpoints": None, "CheckpointLocation": None}


# desired_settings ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("option, host_value", [
    ("standard", "Standard"),
    ("production", "Production"),
    ("production_only", "ProductionOnly"),
    ("disabled", "Disabled"),
])
def test_desired_checkpoint_type_maps_to_host_value(option, host_value):
    assert wanted(checkpoint_type=option) == {"checkpoint_type": host_value, "automatic_checkpoints": None,
                                              "checkpoint_location": None}


@pytest.mark.parametrize("value", [True, False])
def test_desired_automatic_checkpoints_keeps_false(value):
    assert wanted(automatic_checkpoints=value) == {"checkpoint_type": None, "automatic_checkpoints": value,
                                                   "checkpoint_location": None}


def test_desired_location_and_all_options():
    assert wanted(checkpoint_type="production_only", automatic_checkpoints=False, checkpoint_location="D:\\Cp") == {
        "checkpoint_type": "ProductionOnly", "automatic_checkpoints": False, "checkpoint_location": "D:\\Cp"}


def test_no_option_at_all_is_invalid_option():
    validator = ArgumentSpecValidator(ActionModule.ARGUMENT_SPEC, required_one_of=ActionModule.REQUIRED_ONE_OF)
    assert validator.validate({"vm": ["web01"]}).error_messages == [
        "one of the following is required: checkpoint_type, automatic_checkpoints, checkpoint_location"]


@pytest.mark.parametrize("location", ["", "   ", "\t"])
def test_empty_location_is_invalid_option(location):
    with pytest.raises(OptionError) as raised:
        check_options(args(vm=["web01"], checkpoint_type="standard", checkpoint_location=location))
    assert raised.value.code == "invalid_option"
    assert "checkpoint_location must not be empty" in raised.value.message


# settings_of / same_location ------------------------------------------------------------------------------

def test_settings_of_takes_the_three_settings():
    assert type_planner.settings_of(db(automatic_checkpoints=True)) == {
        "checkpoint_type": "Production", "checkpoint_type_option": "production", "automatic_checkpoints": True,
        "checkpoint_location": LOCATION}


@pytest.mark.parametrize("left, right, equal", [
    ("C:\\Cp", "c:\\cp", True),
    ("C:\\Cp", "C:\\Cp\\", True),
    ("C:\\Cp\\", "c:\\CP", True),
    ("C:\\Cp", "C:\\Cp/", True),
    ("C:\\Cp", "C:\\Cp2", False),
    ("C:\\Cp", "D:\\Cp", False),
    (None, None, True),
    (None, "C:\\Cp", False),
    ("C:\\Cp", None, False),
])
def test_same_location(left, right, equal):
    assert type_planner.same_location(left, right) is equal


# plan_settings: each option ----------------------------------------------------------------------------------

@pytest.mark.parametrize("option, host_value", [
    ("production", "Production"),
    ("production_only", "ProductionOnly"),
    ("disabled", "Disabled"),
])
def test_each_checkpoint_type_changes_a_standard_vm(option, host_value):
    entries, changes = type_planner.plan_settings(host_record(), [web()], wanted(checkpoint_type=option))
    assert changes == [dict(no_change(WEB_ID), CheckpointType=host_value)]
    assert entries == [{
        "name": "web01", "id": WEB_ID, "state": "Running", "changed": True,
        "before": {"checkpoint_type": "Standard", "checkpoint_type_option": "standard", "automatic_checkpoints": False,
                   "checkpoint_location": LOCATION},
        "after": {"checkpoint_type": host_value, "checkpoint_type_option": option, "automatic_checkpoints": False,
                  "checkpoint_location": LOCATION},
    }]


def test_standard_changes_a_production_vm():
    entries, changes = type_planner.plan_settings(host_record(), [db()], wanted(checkpoint_type="standard"))
    assert changes == [dict(no_change(DB_ID), CheckpointType="Standard")]
    assert entries[0]["state"] == "Off"
    assert entries[0]["before"]["checkpoint_type"] == "Production"
    assert entries[0]["after"]["checkpoint_type"] == "Standard"


@pytest.mark.parametrize("current, value", [(False, True), (True, False)])
def test_automatic_checkpoints_change(current, value):
    entries, changes = type_planner.plan_settings(host_record(), [web(automatic_checkpoints=current)],
                                                  wanted(automatic_checkpoints=value))
    assert changes == [dict(no_change(WEB_ID), AutomaticCheckpoints=value)]
    assert entries[0]["changed"]
    assert entries[0]["before"]["automatic_checkpoints"] is current
    assert entries[0]["after"]["automatic_checkpoints"] is value
    assert entries[0]["after"]["checkpoint_type"] == "Standard"


def test_checkpoint_location_change_on_vm_without_checkpoints():
    entries, changes = type_planner.plan_settings(host_record(), [web()], wanted(checkpoint_location="D:\\Cp"))
    assert changes == [dict(no_change(WEB_ID), CheckpointLocation="D:\\Cp")]
    assert entries[0]["after"] == {"checkpoint_type": "Standard", "checkpoint_type_option": "standard",
                                   "automatic_checkpoints": False, "checkpoint_location": "D:\\Cp"}


def test_only_the_settings_that_differ_are_sent():
    entries, changes = type_planner.plan_settings(
        host_record(), [web()],
        wanted(checkpoint_type="standard", automatic_checkpoints=True, checkpoint_location=LOCATION.upper()))
    assert changes == [dict(no_change(WEB_ID), AutomaticCheckpoints=True)]
    assert entries[0]["after"]["checkpoint_location"] == LOCATION


def test_all_three_settings_in_one_change():
    entries, changes = type_planner.plan_settings(
        host_record(), [web()],
        wanted(checkpoint_type="production_only", automatic_checkpoints=True, checkpoint_location="E:\\Cp"))
    assert changes == [{"VMId": WEB_ID, "CheckpointType": "ProductionOnly", "AutomaticCheckpoints": True,
                        "CheckpointLocation": "E:\\Cp"}]
    assert entries[0]["after"] == {"checkpoint_type": "ProductionOnly", "checkpoint_type_option": "production_only",
                                   "automatic_checkpoints": True, "checkpoint_location": "E:\\Cp"}


def test_a_running_vm_can_change_its_type():
    entries, changes = type_planner.plan_settings(host_record(), [web(state="Running")],
                                                  wanted(checkpoint_type="production_only"))
    assert entries[0]["state"] == "Running"
    assert changes == [dict(no_change(WEB_ID), CheckpointType="ProductionOnly")]


def test_type_change_with_existing_checkpoints_is_allowed():
    record = web(checkpoints=chain("a", "b"))
    entries, changes = type_planner.plan_settings(host_record(), [record], wanted(checkpoint_type="production"))
    assert changes == [dict(no_change(WEB_ID), CheckpointType="Production")]
    assert entries[0]["changed"]


# plan_settings: idempotence ----------------------------------------------------------------------------------

@pytest.mark.parametrize("option, host_value", [
    ("standard", "Standard"),
    ("production", "Production"),
    ("production_only", "ProductionOnly"),
    ("disabled", "Disabled"),
])
def test_no_change_when_type_is_equal(option, host_value):
    record = web(checkpoint_type=host_value)
    entries, changes = type_planner.plan_settings(host_record(), [record], wanted(checkpoint_type=option))
    assert changes == []
    assert entries[0]["changed"] is False
    assert entries[0]["before"] == entries[0]["after"]


@pytest.mark.parametrize("value", [True, False])
def test_no_change_when_automatic_checkpoints_equal(value):
    entries, changes = type_planner.plan_settings(host_record(), [web(automatic_checkpoints=value)],
                                                  wanted(automatic_checkpoints=value))
    assert changes == []
    assert not entries[0]["changed"]


@pytest.mark.parametrize("location", [
    LOCATION,
    LOCATION.lower(),
    LOCATION.upper(),
    LOCATION + "\\",
    LOCATION.lower() + "\\",
])
def test_no_change_when_location_equal_ignoring_case_and_trailing_backslash(location):
    entries, changes = type_planner.plan_settings(host_record(), [web()], wanted(checkpoint_location=location))
    assert changes == []
    assert not entries[0]["changed"]
    # The result keeps the host's spelling.
    assert entries[0]["after"]["checkpoint_location"] == LOCATION


def test_no_change_when_host_location_has_trailing_backslash():
    record = web(checkpoint_location="D:\\Checkpoints\\")
    entries, changes = type_planner.plan_settings(host_record(), [record], wanted(checkpoint_location="d:\\checkpoints"))
    assert changes == []
    assert not entries[0]["changed"]


def test_equal_location_with_existing_checkpoints_is_no_change_and_no_error():
    record = web(checkpoints=chain("a"), checkpoint_location="D:\\Cp")
    entries, changes = type_planner.plan_settings(host_record(), [record],
                                                  wanted(checkpoint_location="d:\\CP\\", checkpoint_type="standard"))
    assert changes == []
    assert not entries[0]["changed"]


def test_plan_does_not_modify_the_vm_record():
    record = web(checkpoints=chain("a"))
    original = copy.deepcopy(record)
    type_planner.plan_settings(host_record(), [record], wanted(checkpoint_type="disabled", automatic_checkpoints=True))
    assert record == original


# plan_settings: several VMs -------------------------------------------------------------------------------

def test_several_vms_one_entry_each_and_one_change_list():
    test_vm = vm("test01", vm_id=TEST_ID, checkpoint_type="ProductionOnly")
    entries, changes = type_planner.plan_settings(host_record(), [web(), db(), test_vm],
                                                  wanted(checkpoint_type="production_only"))
    assert [entry["name"] for entry in entries] == ["web01", "db01", "test01"]
    assert [entry["id"] for entry in entries] == [WEB_ID, DB_ID, TEST_ID]
    assert [entry["changed"] for entry in entries] == [True, True, False]
    assert [entry["state"] for entry in entries] == ["Running", "Off", "Running"]
    assert changes == [dict(no_change(WEB_ID), CheckpointType="ProductionOnly"),
                       dict(no_change(DB_ID), CheckpointType="ProductionOnly")]


def test_several_vms_nothing_to_change():
    entries, changes = type_planner.plan_settings(
        host_record(), [web(checkpoint_type="Disabled"), db(checkpoint_type="Disabled")],
        wanted(checkpoint_type="disabled"))
    assert changes == []
    assert len(entries) == 2
    assert not any(entry["changed"] for entry in entries)


def test_no_vms_no_entries():
    assert type_planner.plan_settings(host_record(), [], wanted(checkpoint_type="standard")) == ([], [])


# plan_settings: refusals ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [True, False])
def test_automatic_checkpoints_unsupported_on_2016(value):
    records = [web(automatic_checkpoints=None), db(automatic_checkpoints=None)]
    with pytest.raises(PlanError) as raised:
        type_planner.plan_settings(HOST_2016, records, wanted(automatic_checkpoints=value))
    error = raised.value
    assert error.code == "unsupported_on_host"
    assert "automatic_checkpoints" in error.message
    assert "Microsoft Windows Server 2016 Datacenter" in error.message
    assert "10.0.14393" in error.message
    assert "Windows Server 2019" in error.message
    assert error.details == {"setting": "automatic_checkpoints", "os_caption": "Microsoft Windows Server 2016 Datacenter",
                             "os_version": "10.0.14393"}


def test_checkpoint_type_is_supported_on_2016():
    entries, changes = type_planner.plan_settings(HOST_2016, [web(automatic_checkpoints=None)],
                                                  wanted(checkpoint_type="production"))
    assert changes == [dict(no_change(WEB_ID), CheckpointType="Production")]


def test_unsupported_setting_refuses_even_when_combined_with_supported_ones():
    with pytest.raises(PlanError) as raised:
        type_planner.plan_settings(HOST_2016, [web(automatic_checkpoints=None)],
                                   wanted(checkpoint_type="production", automatic_checkpoints=False))
    assert raised.value.code == "unsupported_on_host"
    assert raised.value.details["setting"] == "automatic_checkpoints"


@pytest.mark.parametrize("option", ["standard", "production", "production_only", "disabled"])
def test_checkpoint_type_unsupported_on_2012r2(option):
    records = [web(checkpoint_type=None, automatic_checkpoints=None)]
    with pytest.raises(PlanError) as raised:
        type_planner.plan_settings(HOST_2012R2, records, wanted(checkpoint_type=option))
    error = raised.value
    assert error.code == "unsupported_on_host"
    assert "checkpoint_type" in error.message
    assert "Microsoft Windows Server 2012 R2 Datacenter" in error.message
    assert "6.3.9600" in error.message
    assert "Windows Server 2016" in error.message
    assert error.details == {"setting": "checkpoint_type", "os_caption": "Microsoft Windows Server 2012 R2 Datacenter",
                             "os_version": "6.3.9600"}


def test_automatic_checkpoints_unsupported_on_2012r2():
    with pytest.raises(PlanError) as raised:
        type_planner.plan_settings(HOST_2012R2, [web(checkpoint_type=None, automatic_checkpoints=None)],
                                   wanted(automatic_checkpoints=False))
    assert raised.value.code == "unsupported_on_host"
    assert "6.3.9600" in raised.value.message


def test_location_is_supported_on_2012r2():
    entries, changes = type_planner.plan_settings(HOST_2012R2, [web(checkpoint_type=None, automatic_checkpoints=None)],
                                                  wanted(checkpoint_location="D:\\Cp"))
    assert changes == [dict(no_change(WEB_ID), CheckpointLocation="D:\\Cp")]
    assert entries[0]["before"]["checkpoint_type"] is None


def test_unsupported_is_raised_before_any_entry(monkeypatch):
    """The version check comes first: no VM is even planned (so nothing can be sent)."""
    planned = []
    monkeypatch.setattr(type_planner, "plan_vm", lambda record, desired: planned.append(record) or (None, None))
    with pytest.raises(PlanError) as raised:
        type_planner.plan_settings(HOST_2016, [web(), db()], wanted(automatic_checkpoints=True))
    assert raised.value.code == "unsupported_on_host"
    assert planned == []


def test_unsupported_is_raised_even_when_nothing_would_change():
    # automatic_checkpoints is null on a 2016 host; asking for it is refused rather than silently ignored.
    with pytest.raises(PlanError) as raised:
        type_planner.plan_settings(HOST_2016, [web(automatic_checkpoints=None)], wanted(automatic_checkpoints=False))
    assert raised.value.code == "unsupported_on_host"


def test_unsupported_is_raised_for_no_vms():
    with pytest.raises(PlanError) as raised:
        type_planner.plan_settings(HOST_2012R2, [], wanted(checkpoint_type="standard"))
    assert raised.value.code == "unsupported_on_host"


def test_location_change_with_existing_checkpoints_is_refused():
    record = web(checkpoints=chain("a", "b"))
    with pytest.raises(PlanError) as raised:
        type_planner.plan_settings(host_record(), [record], wanted(checkpoint_location="D:\\Cp"))
    assert raised.value.code == "checkpoint_location_in_use"
    assert "web01" in raised.value.message
    assert "2 checkpoints" in raised.value.message


def test_location_change_refused_for_recovery_checkpoints_too():
    record = web(checkpoints=[checkpoint(1, "backup", snapshot_type="Recovery")])
    with pytest.raises(PlanError) as raised:
        type_planner.plan_settings(host_record(), [record], wanted(checkpoint_location="D:\\Cp"))
    assert raised.value.code == "checkpoint_location_in_use"


def test_location_in_use_on_one_vm_refuses_the_whole_task():
    records = [web(), db(checkpoints=chain("a"))]
    with pytest.raises(PlanError) as raised:
        type_planner.plan_settings(host_record(), records,
                                   wanted(checkpoint_location="D:\\Cp", checkpoint_type="standard"))
    assert raised.value.code == "checkpoint_location_in_use"
    assert "db01" in raised.value.message
