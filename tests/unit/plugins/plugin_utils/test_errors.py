# -*- coding: utf-8 -*-
"""_errors: one hierarchy, and the one place that turns an error into a failed task's fields."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import (
    ConnectionLostError,
    HostError,
    HypervError,
    OperationTimeoutError,
    OptionError,
    PlanError,
    ProtocolError,
    error_result,
    sentence,
)


@pytest.mark.parametrize("error", [
    OptionError("name must not be empty"),
    PlanError("ambiguous", "two of them"),
    HostError("busy", "in use", operation="get_vms", host="hv01"),
    OperationTimeoutError("get_vms", "hv01", 5),
    ConnectionLostError("get_vms", "hv01", "reset"),
    ProtocolError("get_vms", "hv01", "not JSON"),
])
def test_every_error_is_a_hyperv_error_with_code_message_and_details(error):
    assert isinstance(error, HypervError)
    result = error_result(error, "web01")
    assert result["failed"] is True and result["error_code"] == error.code
    assert isinstance(result["error_details"], dict) and error.message in result["msg"]


def test_option_errors_are_plan_errors_with_the_invalid_option_code():
    assert isinstance(OptionError("x"), PlanError) and OptionError("x").code == "invalid_option"


def test_only_busy_and_connection_lost_are_transient():
    assert HostError("busy", "x").transient and ConnectionLostError("get_vm", "hv01", "x").transient
    assert not OperationTimeoutError("get_vm", "hv01", 5).transient and not HostError("vm_not_found", "x").transient


def test_a_host_failure_names_the_vm_the_hyperv_host_its_computer_name_and_the_operation():
    error = HostError("vm_not_found", "No VM 'web02' on host HV01", operation="get_vms", host="hv01",
                      computer_name="HV01")
    assert error_result(error, "web02")["msg"].startswith(
        "No VM 'web02' on host HV01 (Hyper-V host hv01, computer name HV01, operation get_vms). What to do: ")
    same = HostError("busy", "in use", operation="get_vm", host="HV01", computer_name="HV01")
    assert "computer name" not in error_result(same)["msg"]


@pytest.mark.parametrize("text, expected", [
    ("VM 'adhoc' was not found", "VM 'adhoc' was not found."),
    ("VM 'adhoc' was not found; did you mean 'adhoc1'?", "VM 'adhoc' was not found; did you mean 'adhoc1'?"),
    ("The file was not found. ", "The file was not found."),
    ("Stop!", "Stop!"),
])
def test_a_message_ends_as_one_sentence(text, expected):
    assert sentence(text) == expected
