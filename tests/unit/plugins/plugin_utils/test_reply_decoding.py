# -*- coding: utf-8 -*-
"""Malformed host answers: every one is a HostError whose message holds the host's words.

The replies are the ones the simulator's corrupt_replies sends, decoded here without a
connection; the integration test runs them through ansible-playbook.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _host_contract as host_contract
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _operation_runner as operation_runner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import HostError, ProtocolError, error_result

from hyperv_records import checkpoint, host_record, vm
from test_hyperv_host import FakeRunner, make_host

CLIXML = ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
          '<S S="Error">Get-VM : You do not have the required permission to complete this task._x000D__x000A_</S>'
          '</Objs>').encode()


def parse(rc, stdout, stderr=b"", name="get_vms"):
    with pytest.raises(HostError) as caught:
        operation_runner.parse_reply(name, rc, stdout, stderr, host="hv01")
    return caught.value


def test_non_json_stdout_fails_with_the_hosts_text():
    error = parse(0, b"Loading personal and system profiles took 2412ms.\r\nWelcome to HV01\r\n")
    assert error.code == "protocol_error" and "Welcome to HV01" in error.message


def test_truncated_json_fails_with_the_hosts_text():
    error = parse(0, b'{"ok":true,"result":{"host":{"computer_name":"HV01"},"vms":[{"id":"6f2a')
    assert error.code == "protocol_error" and '"computer_name":"HV01"' in error.message


def test_clixml_on_stderr_is_decoded_into_the_hosts_words():
    # ssh and psrp hand CLIXML through undecoded (winrm decodes it itself)
    error = parse(1, b"", CLIXML)
    assert "You do not have the required permission to complete this task." in error.message
    assert "CLIXML" not in error.message and "_x000D_" not in error.message
    assert error.details["stderr"].startswith("Get-VM : You do not have")


def test_non_zero_exit_with_no_output_says_so():
    error = parse(1, b"", b"")
    assert error.code == "protocol_error" and "rc=1" in error.message and "no output" in error.message


def test_an_unknown_error_code_is_kept_with_the_hosts_message_and_flagged():
    error = parse(1, b'{"ok":false,"error":{"code":"quota_exceeded","message":"The storage quota is exhausted."}}')
    assert error.code == "quota_exceeded"
    assert error.message.startswith("The storage quota is exhausted.")
    assert "error code 'quota_exceeded' is not one this version of the collection knows" in error.message


@pytest.mark.parametrize("error_object, code", [
    ({"code": ["busy"], "message": "odd"}, "host_error"),  # an unhashable code would break the hint lookup
    ({"code": 7, "message": "odd"}, "host_error"),
    ({"code": "busy", "message": {"text": "odd"}, "details": ["a", "b"]}, "busy"),
])
def test_odd_error_objects_give_a_usable_error(error_object, code):
    error = parse(1, json.dumps({"ok": False, "error": error_object}).encode())
    assert error.code == code and isinstance(error.message, str) and isinstance(error.details, dict)
    result = error_result(error, "web01")  # must not raise
    assert result["failed"] is True and result["error_code"] == code


def test_a_failure_for_an_unknown_code_has_the_hosts_words_and_no_hint():
    result = error_result(parse(1, b'{"ok":false,"error":{"code":"x_y","message":"Host said no."}}'), "web01")
    assert result["msg"].startswith("VM 'web01': Host said no.") and "What to do" not in result["msg"]


# Well-formed JSON, wrong shape: refused by HyperVHost before a planner indexes it -------------

GOOD_VMS = {"host": host_record(), "vms": [vm(checkpoints=[checkpoint(1, "a")])], "missing": []}


def test_a_well_shaped_answer_passes():
    assert host_contract.result_problems("get_vms", GOOD_VMS) == []


@pytest.mark.parametrize("result, problem", [
    ({"vm_list": []}, "get_vms result: missing key 'host'"),
    ({"host": host_record(), "vms": {}}, "get_vms result.vms: expected a list, got dict"),
    ({"host": host_record(), "vms": [{"name": "web01"}]}, "get_vms result.vms[0]: missing key 'id'"),
    ({"host": host_record(), "vms": [vm(checkpoints=[dict(checkpoint(1, "a"), creation_time="yesterday")])], "missing": []},
     "get_vms result.vms[0].checkpoints[0].creation_time: expected an ISO 8601 time, got 'yesterday'"),
    ({"host": [], "vms": []}, "get_vms result.host: expected an object, got list"),
])
def test_a_badly_shaped_answer_names_what_is_wrong(result, problem):
    assert problem in host_contract.result_problems("get_vms", result)


def test_hyperv_host_refuses_a_badly_shaped_answer_without_retrying():
    runner = FakeRunner(get_vms=[{"vm_list": []}])
    host, sleeps, log = make_host(runner)
    with pytest.raises(ProtocolError) as caught:
        host.get_vms(names=["web01"])
    assert "get_vms result: missing key 'host'" in caught.value.message
    assert runner.names == ["get_vms"] and sleeps == []
