"""The simulated host's request log (hyperv_sim.request_log) and corrupted replies (hyperv_sim.corrupt_replies)."""

from __future__ import annotations

import json

import pytest

from hyperv_sim import corrupt_replies, engine, request_log
# The fixtures of test_commands, shared by importing them into this module.
from test_commands import command_host, request, runner_command, script_dir, sim, sleeps, state_path  # noqa: F401  # pylint: disable=unused-import


def test_an_accepted_request_is_logged_with_its_operation_and_params(command_host, sim):
    assert sim.requests() == []
    command_host.run(*runner_command(), request("get_vm", {"Name": "a'b\"c $(x) `; Remove-VM *"}))
    assert sim.requests() == [{"accepted": True, "operation": "get_vm",
                               "params": {"Name": "a'b\"c $(x) `; Remove-VM *"}, "refused": None}]


def test_a_foreign_command_is_refused_and_logged_so_a_test_notices(command_host, sim):
    result = command_host.run("powershell.exe", ["-Command", "Remove-VM -Name * -Force"], b"")
    assert result.exit_code == 1 and b"refused" in result.stderr
    [entry] = sim.requests()
    assert entry["accepted"] is False and "not the collection's runner" in entry["refused"]
    assert "Remove-VM" in entry["refused"]


def test_a_request_with_a_foreign_script_is_refused_and_logged(command_host, sim):
    result = command_host.run(*runner_command(), request("get_vm", script="Remove-VM -Name * -Force"))
    assert json.loads(result.stdout)["error"]["code"] == "invalid_request"
    [entry] = sim.requests()
    assert entry["accepted"] is False and "get_vm.ps1" in entry["refused"]


def test_the_log_lives_next_to_the_state_file(state_path, command_host):
    command_host.run(*runner_command(), request("get_vms", {"All": True}))
    assert request_log.log_path(state_path).parent == state_path.parent
    assert [entry["operation"] for entry in request_log.read(state_path)] == ["get_vms"]


@pytest.mark.parametrize("kind, stdout, stderr, exit_code", [
    ("not_json", corrupt_replies.NOT_JSON_TEXT.encode(), b"", 0),
    ("clixml_error", b"", corrupt_replies.clixml_error(corrupt_replies.CLIXML_MESSAGE), 1),
    ("empty_exit", b"", b"", 1),
])
def test_fixed_corruptions_replace_the_answer(command_host, sim, kind, stdout, stderr, exit_code):
    sim.corrupt_reply("get_vms", kind)
    result = command_host.run(*runner_command(), request("get_vms", {"All": True}))
    assert (result.stdout, result.stderr, result.exit_code) == (stdout, stderr, exit_code)
    # used up: the next answer is the runner's document again
    assert json.loads(command_host.run(*runner_command(), request("get_vms", {"All": True})).stdout)["ok"] is True


def test_truncated_json_is_a_prefix_of_the_real_answer_that_does_not_parse(command_host, sim):
    moment = engine.utc_now()
    command_host.clock = lambda: moment  # the answer holds the host's time
    whole = command_host.run(*runner_command(), request("get_vms", {"All": True})).stdout
    sim.corrupt_reply("get_vms", "truncated_json")
    cut = command_host.run(*runner_command(), request("get_vms", {"All": True})).stdout
    assert whole.startswith(cut) and len(cut) < len(whole)
    with pytest.raises(ValueError):
        json.loads(cut)


def test_unknown_code_and_shapeless_result_are_well_formed_documents(command_host, sim):
    sim.corrupt_reply("get_vms", "unknown_code")
    sim.corrupt_reply("get_vm", "shapeless_result")
    error = json.loads(command_host.run(*runner_command(), request("get_vms", {"All": True})).stdout)
    assert error == {"ok": False, "error": {"code": corrupt_replies.UNKNOWN_CODE,
                                            "message": corrupt_replies.UNKNOWN_CODE_MESSAGE}}
    shapeless = json.loads(command_host.run(*runner_command(), request("get_vm", {"Name": "web01"})).stdout)
    assert shapeless == {"ok": True, "result": corrupt_replies.SHAPELESS_RESULT}


def test_the_operation_still_runs_under_a_corrupted_answer(command_host, sim):
    vm_id = sim.vm("web01")["id"]
    sim.corrupt_reply("create_checkpoint", "empty_exit")
    result = command_host.run(*runner_command(), request("create_checkpoint", {"VMId": vm_id, "Name": "cp"}))
    assert result.exit_code == 1 and result.stdout == b""
    assert [checkpoint["name"] for checkpoint in sim.checkpoints("web01")] == ["cp"]


@pytest.mark.parametrize("operation, kind", [("get_vms", "garbled"), ("Remove-VM", "not_json")])
def test_corrupt_reply_refuses_unknown_kinds_and_operations(sim, operation, kind):
    with pytest.raises(ValueError):
        sim.corrupt_reply(operation, kind)
