# -*- coding: utf-8 -*-
"""HyperVHost: retries with backoff, connection reset, create recovery, PascalCase params."""

from __future__ import annotations

import random

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _hyperv_host as hyperv_host
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import (
    ConnectionLostError,
    HostError,
    OperationTimeoutError,
    ProtocolError,
    HostUnreachableError,
    SessionRejectedError,
    may_have_taken_effect,
)
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._hyperv_host import HyperVHost, backoff_delay

from hyperv_records import VM_ID, ago, checkpoint, cp_id, host_record, vm


# backoff_delay -------------------------------------------------------------------------------


@pytest.mark.parametrize("attempt, expected", [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 16.0)])
def test_backoff_doubles_from_the_base_delay(attempt, expected):
    assert backoff_delay(attempt, 1.0, jitter=lambda: 0.0) == expected


def test_backoff_uses_the_base_delay():
    assert [backoff_delay(n, 0.5, jitter=lambda: 0.0) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("attempt", [6, 7, 20, 60])
def test_backoff_is_capped(attempt):
    assert backoff_delay(attempt, 1.0, jitter=lambda: 0.0) == hyperv_host.MAX_RETRY_DELAY == 30.0
    assert backoff_delay(attempt, 1.0, max_delay=10.0, jitter=lambda: 0.0) == 10.0


def test_backoff_jitter_adds_at_most_a_quarter():
    assert backoff_delay(3, 1.0, jitter=lambda: 1.0) == 5.0
    assert backoff_delay(3, 1.0, jitter=lambda: 0.5) == 4.5
    assert backoff_delay(10, 1.0, max_delay=8.0, jitter=lambda: 1.0) == 8.0  # the cap holds with jitter


def test_backoff_jitter_bounds_with_random_jitter():
    rng = random.Random(1234)
    for attempt in range(1, 9):
        base = 2.0 ** (attempt - 1)
        for dummy in range(50):
            delay = backoff_delay(attempt, 1.0, jitter=rng.random)
            assert min(30.0, base) <= delay <= min(30.0, base * 1.25)


def test_backoff_default_jitter_stays_in_bounds():
    for dummy in range(100):
        assert 2.0 <= backoff_delay(2, 1.0) <= 2.5


# HyperVHost with a fake runner -----------------------------------------------------------------


class FakeRunner:
    """Stands in for operation_runner.run_operation; answers from a queue per operation."""

    def __init__(self, **answers):
        self.answers = {name: list(values) for name, values in answers.items()}
        self.calls = []

    def __call__(self, connection, name, params, timeout=None, host=None):
        self.calls.append({"connection": connection, "name": name, "params": params, "timeout": timeout,
                           "host": host})
        queue = self.answers[name]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    @property
    def names(self):
        return [call["name"] for call in self.calls]


class FakeConnection:
    def __init__(self, reset_error=None):
        self.resets = 0
        self.reset_error = reset_error

    def reset(self):
        self.resets += 1
        if self.reset_error:
            raise self.reset_error


def busy():
    return HostError("busy", "the VM is busy", operation="x", host="hv01")


def lost():
    return ConnectionLostError("x", "hv01", ConnectionResetError("reset by peer"))


def make_host(runner, connection=None, retries=3, retry_delay=1.0, timeout=600):
    sleeps, log = [], []
    host = HyperVHost(connection if connection is not None else FakeConnection(), "hv01", timeout=timeout,
                      retries=retries, retry_delay=retry_delay, log=log.append, sleep=sleeps.append, runner=runner)
    return host, sleeps, log


VM_RECORD = {key: value for key, value in vm().items() if key != "checkpoints"}


def test_transient_error_is_retried_up_to_retries_then_raised():
    runner = FakeRunner(get_vm=[busy()])
    host, sleeps, dummy = make_host(runner, retries=3)

    with pytest.raises(HostError) as caught:
        host.get_vm(name="web01")

    assert caught.value.code == "busy"
    assert runner.names == ["get_vm"] * 4  # the first try and 3 retries
    assert host.round_trips == 4
    assert len(sleeps) == 3
    for delay, base in zip(sleeps, (1.0, 2.0, 4.0)):
        assert base <= delay <= base * 1.25


def test_transient_error_then_success_returns_the_result():
    runner = FakeRunner(get_vm=[busy(), lost(), {"vm": VM_RECORD}])
    connection = FakeConnection()
    host, sleeps, log = make_host(runner, connection)

    assert host.get_vm(name="web01") == VM_RECORD
    assert runner.names == ["get_vm"] * 3
    assert len(sleeps) == 2
    assert connection.resets == 1  # only after connection_lost, not after busy
    assert any("retrying" in line for line in log)


def test_zero_retries_raises_the_first_transient_error():
    runner = FakeRunner(get_vm=[busy(), {"vm": VM_RECORD}])
    host, sleeps, dummy = make_host(runner, retries=0)
    with pytest.raises(HostError):
        host.get_vm(name="web01")
    assert runner.names == ["get_vm"]
    assert sleeps == []


@pytest.mark.parametrize("error", [
    HostError("vm_not_found", "no such VM"),
    HostError("limit_reached", "50"),
    OperationTimeoutError("get_vm", "hv01", 600),
    ProtocolError("get_vm", "hv01", "garbage", rc=1),
], ids=["vm_not_found", "limit_reached", "timeout", "protocol_error"])
def test_non_transient_error_is_raised_at_once(error):
    runner = FakeRunner(get_vm=[error, {"vm": VM_RECORD}])
    connection = FakeConnection()
    host, sleeps, dummy = make_host(runner, connection)

    with pytest.raises(HostError) as caught:
        host.get_vm(name="web01")

    assert caught.value is error
    assert runner.names == ["get_vm"]
    assert sleeps == []
    assert connection.resets == 0


def test_connection_lost_resets_the_connection_each_time():
    runner = FakeRunner(get_vm=[lost(), lost(), {"vm": VM_RECORD}])
    connection = FakeConnection()
    host, dummy, dummy2 = make_host(runner, connection)
    host.get_vm(vm_id=VM_ID)
    assert connection.resets == 2


def rejected():
    return SessionRejectedError("x", "hv01", RuntimeError("Bad HTTP response returned from server. Code 400"))


def test_a_session_refused_after_the_host_answered_reconnects_and_retries():
    """The host's WinRM service restarted between two operations of a task: it forgot the logon session."""
    runner = FakeRunner(get_vm=[{"vm": VM_RECORD}, rejected(), {"vm": VM_RECORD}])
    connection = FakeConnection()
    host, sleeps, dummy = make_host(runner, connection)
    assert host.get_vm(vm_id=VM_ID) == VM_RECORD
    assert host.get_vm(vm_id=VM_ID) == VM_RECORD
    assert runner.names == ["get_vm", "get_vm", "get_vm"]
    assert connection.resets == 1 and len(sleeps) == 1


def test_a_session_refused_at_the_first_request_is_not_retried():
    runner = FakeRunner(get_vm=[rejected(), {"vm": VM_RECORD}])
    connection = FakeConnection()
    host, sleeps, dummy = make_host(runner, connection)
    with pytest.raises(SessionRejectedError):
        host.get_vm(vm_id=VM_ID)
    assert runner.names == ["get_vm"] and connection.resets == 0 and sleeps == []


def test_failing_reset_is_logged_and_the_retry_goes_on():
    runner = FakeRunner(get_vm=[lost(), {"vm": VM_RECORD}])
    connection = FakeConnection(reset_error=RuntimeError("cannot reconnect"))
    host, dummy, log = make_host(runner, connection)
    assert host.get_vm(vm_id=VM_ID) == VM_RECORD
    assert connection.resets == 1
    assert any("cannot reconnect" in line for line in log)


def test_connection_without_reset_is_fine():
    runner = FakeRunner(get_vm=[lost(), {"vm": VM_RECORD}])
    host, dummy, dummy2 = make_host(runner, connection=object())
    assert host.get_vm(vm_id=VM_ID) == VM_RECORD


def test_runner_gets_connection_timeout_and_host_name():
    connection = FakeConnection()
    runner = FakeRunner(get_vm=[{"vm": VM_RECORD}])
    host, dummy, dummy2 = make_host(runner, connection, timeout=42)
    host.get_vm(name="web01")
    call = runner.calls[0]
    assert call["connection"] is connection
    assert (call["timeout"], call["host"]) == (42, "hv01")


def test_default_sleep_is_not_used_when_injected(monkeypatch):
    monkeypatch.setattr(hyperv_host.time, "sleep", lambda seconds: pytest.fail("slept for real"))
    runner = FakeRunner(get_vm=[busy(), {"vm": VM_RECORD}])
    host, sleeps, dummy = make_host(runner)
    host.get_vm(name="web01")
    assert len(sleeps) == 1


# Parameters, as the protocol names them ----------------------------------------------------------


def test_get_vm_params():
    runner = FakeRunner(get_vm=[{"vm": VM_RECORD}])
    host, dummy, dummy2 = make_host(runner)
    assert host.get_vm(name="web01") == VM_RECORD
    assert host.get_vm(vm_id=VM_ID) == VM_RECORD
    assert [call["params"] for call in runner.calls] == [{"Name": "web01"}, {"Id": VM_ID}]


def test_get_vms_params_and_result():
    vms = [vm(checkpoints=[checkpoint(1, "a")])]
    runner = FakeRunner(get_vms=[{"host": host_record(), "vms": vms, "missing": []}])
    host, dummy, dummy2 = make_host(runner)

    assert host.get_vms(names=("web01", "db01"), include_sizes=True) == (host_record(), vms)
    host.get_vms(all_vms=1, include_checkpoints=False)

    assert runner.calls[0]["params"] == {"Names": ["web01", "db01"], "Ids": [], "All": False,
                                         "IncludeCheckpoints": True, "IncludeSizes": True,
                                         "ReportMissing": False}
    assert runner.calls[1]["params"] == {"Names": [], "Ids": [], "All": True,
                                         "IncludeCheckpoints": False, "IncludeSizes": False,
                                         "ReportMissing": False}


def test_get_vm_with_checkpoints_by_name_and_by_id():
    record = vm(checkpoints=[checkpoint(1, "a")])
    runner = FakeRunner(get_vms=[{"host": host_record(), "vms": [record], "missing": []}])
    host, dummy, dummy2 = make_host(runner)

    assert host.get_vm_with_checkpoints(name="web01") == (host_record(), record)
    host.get_vm_with_checkpoints(vm_id=VM_ID, include_sizes=True)

    assert runner.calls[0]["params"]["Names"] == ["web01"] and runner.calls[0]["params"]["Ids"] == []
    assert runner.calls[1]["params"]["Names"] == [] and runner.calls[1]["params"]["Ids"] == [VM_ID]
    assert runner.calls[1]["params"]["IncludeSizes"] is True
    assert runner.calls[1]["params"]["IncludeCheckpoints"] is True


def created_result(made):
    return {"checkpoint": made, "taken_type": "standard", "fell_back": False, "type_restore_error": None,
            "name_repaired": False, "type_override_repaired": None, "vm": dict(VM_RECORD, checkpoints=[made])}


def test_change_operation_params():
    created = created_result(checkpoint(5, "new"))
    runner = FakeRunner(
        create_checkpoint=[created],
        remove_checkpoints=[{"removed": [cp_id(1)], "merge": "running", "vm": VM_RECORD}],
        restore_checkpoint=[{"previous_state": "Running", "state_after_restore": "Off", "vm": VM_RECORD}],
        rename_checkpoint=[{"checkpoint": checkpoint(1, "renamed")}],
        set_checkpoint_settings=[{"vms": [VM_RECORD]}],
    )
    host, dummy, dummy2 = make_host(runner)

    assert host.create_checkpoint(VM_ID, "new", "Production") == created
    assert host.remove_checkpoints(VM_ID, (cp_id(1), cp_id(2)), include_children=True,
                                   merge_grace_seconds=10)["removed"] == [cp_id(1)]
    assert host.restore_checkpoint(VM_ID, cp_id(1), "previous")["previous_state"] == "Running"
    assert host.rename_checkpoint(VM_ID, cp_id(1), "renamed") == checkpoint(1, "renamed")
    changes = [{"VMId": VM_ID, "CheckpointType": "Production", "AutomaticCheckpoints": None,
                "CheckpointLocation": None}]
    assert host.set_checkpoint_settings(iter(changes)) == [VM_RECORD]

    assert [(call["name"], call["params"]) for call in runner.calls] == [
        ("create_checkpoint", {"VMId": VM_ID, "Name": "new", "CheckpointType": "Production", "MinFreeBytes": 0,
                               "CheckpointLimit": 50}),
        ("remove_checkpoints", {"VMId": VM_ID, "Ids": [cp_id(1), cp_id(2)], "IncludeChildren": True,
                                "MergeGraceSeconds": 10}),
        ("restore_checkpoint", {"VMId": VM_ID, "Id": cp_id(1), "PowerState": "previous"}),
        ("rename_checkpoint", {"VMId": VM_ID, "Id": cp_id(1), "NewName": "renamed"}),
        ("set_checkpoint_settings", {"Changes": changes}),
    ]


def test_a_delete_waits_for_the_merge_to_show_unless_told_not_to():
    runner = FakeRunner(remove_checkpoints=[{"removed": [], "merge": "none", "vm": VM_RECORD}])
    host, dummy, dummy2 = make_host(runner)
    host.remove_checkpoints(VM_ID, [cp_id(1)])
    host.remove_checkpoints(VM_ID, [cp_id(1)], merge_grace_seconds=0)
    assert [call["params"]["MergeGraceSeconds"] for call in runner.calls] == [10, 0]


def test_create_checkpoint_without_type_sends_null():
    runner = FakeRunner(create_checkpoint=[created_result(checkpoint(5, "new"))])
    host, dummy, dummy2 = make_host(runner)
    host.create_checkpoint(VM_ID, "new")
    assert runner.calls[0]["params"] == {"VMId": VM_ID, "Name": "new", "CheckpointType": None, "MinFreeBytes": 0,
                                         "CheckpointLimit": 50}


def test_remove_checkpoints_is_retried_when_nothing_was_removed():
    still_there = checkpoint(1, "old")
    runner = FakeRunner(remove_checkpoints=[lost(), {"removed": [cp_id(1)], "merge": "running", "vm": VM_RECORD}],
                        get_vms=[reread(still_there)])
    host, dummy, dummy2 = make_host(runner)
    assert host.remove_checkpoints(VM_ID, [cp_id(1)]) == {"removed": [cp_id(1)], "merge": "running", "vm": VM_RECORD,
                                                          "connection_lost": True}
    assert runner.names == ["remove_checkpoints", "get_vms", "remove_checkpoints"]


def test_remove_checkpoints_reports_what_the_lost_attempt_removed():
    runner = FakeRunner(remove_checkpoints=[lost()], get_vms=[reread(checkpoint(3, "other"))])
    host, dummy, dummy2 = make_host(runner)
    result = host.remove_checkpoints(VM_ID, [cp_id(1), cp_id(2)])
    assert runner.names == ["remove_checkpoints", "get_vms"]  # all gone: no second delete
    assert result["removed"] == [cp_id(1), cp_id(2)] and result["recovered"] and result["connection_lost"]
    assert "checkpoints" not in result["vm"]


def test_remove_checkpoints_merges_a_partly_lost_attempt_with_the_retry():
    runner = FakeRunner(remove_checkpoints=[lost(), {"removed": [cp_id(2)], "merge": "done", "vm": VM_RECORD}],
                        get_vms=[reread(checkpoint(2, "second"))])
    host, dummy, dummy2 = make_host(runner)
    assert host.remove_checkpoints(VM_ID, [cp_id(1), cp_id(2)])["removed"] == [cp_id(1), cp_id(2)]


def test_a_restore_repeated_after_a_lost_connection_says_so():
    answer = {"previous_state": "Running", "state_after_restore": "Running", "vm": VM_RECORD}
    runner = FakeRunner(restore_checkpoint=[lost(), answer])
    host, dummy, dummy2 = make_host(runner)
    assert host.restore_checkpoint(VM_ID, cp_id(1), "running") == dict(answer, connection_lost=True)
    assert runner.names == ["restore_checkpoint", "restore_checkpoint"]


# create_checkpoint recovery ---------------------------------------------------------------------


def reread(*checkpoints):
    current = checkpoints[-1]["id"] if checkpoints else None
    return {"host": host_record(), "vms": [vm(checkpoints=list(checkpoints), current=current)], "missing": []}


def test_create_adopts_the_new_checkpoint_found_after_a_transient_failure():
    old = checkpoint(1, "base")
    made = checkpoint(2, "nightly", parent=1)
    runner = FakeRunner(create_checkpoint=[lost()], get_vms=[reread(old, made)])
    connection = FakeConnection()
    host, sleeps, log = make_host(runner, connection)

    result = host.create_checkpoint(VM_ID, "nightly", None, known_ids=[old["id"]])

    assert runner.names == ["create_checkpoint", "get_vms"]  # no second create
    assert runner.calls[1]["params"] == {"Names": [], "Ids": [VM_ID], "All": False, "IncludeCheckpoints": True,
                                         "IncludeSizes": False, "ReportMissing": False}
    assert result["checkpoint"] == made
    assert result["recovered"] is True
    assert result["taken_type"] is None and result["fell_back"] is None
    assert result["vm"]["checkpoints"] == [old, made]
    assert result["vm"]["id"] == VM_ID
    assert connection.resets == 1
    assert len(sleeps) == 1
    assert any("already taken effect" in line for line in log)


def test_create_adopts_after_busy_too():
    made = checkpoint(2, "nightly")
    runner = FakeRunner(create_checkpoint=[busy()], get_vms=[reread(made)])
    host, dummy, dummy2 = make_host(runner)
    assert host.create_checkpoint(VM_ID, "nightly", known_ids=[])["checkpoint"]["id"] == cp_id(2)
    assert runner.names == ["create_checkpoint", "get_vms"]


def test_create_does_not_adopt_an_old_checkpoint_with_the_same_name():
    old_same_name = checkpoint(1, "nightly")
    made = created_result(checkpoint(2, "nightly", parent=1))
    runner = FakeRunner(create_checkpoint=[lost(), made], get_vms=[reread(old_same_name)])
    host, dummy, dummy2 = make_host(runner)

    result = host.create_checkpoint(VM_ID, "nightly", "Standard", known_ids=[old_same_name["id"]])

    assert runner.names == ["create_checkpoint", "get_vms", "create_checkpoint"]
    assert result == dict(made, connection_lost=True)
    assert "recovered" not in result
    assert runner.calls[2]["params"] == {"VMId": VM_ID, "Name": "nightly", "CheckpointType": "Standard",
                                         "MinFreeBytes": 0, "CheckpointLimit": 50}


def test_create_does_not_adopt_a_checkpoint_made_before_the_attempt_began():
    # Another name, made before the read that preceded the attempt (say, by a person): not the lost attempt's.
    other = checkpoint(2, "Nightly", created=ago(minutes=5))
    made = created_result(checkpoint(3, "nightly"))
    runner = FakeRunner(create_checkpoint=[lost(), made], get_vms=[reread(other)])
    host, dummy, dummy2 = make_host(runner)
    assert host.create_checkpoint(VM_ID, "nightly", known_ids=[], since=ago(minutes=1))["checkpoint"]["id"] == cp_id(3)
    assert runner.names == ["create_checkpoint", "get_vms", "create_checkpoint"]


def test_create_renames_the_one_default_named_checkpoint_the_lost_attempt_made():
    # Checkpoint-VM takes the checkpoint under Hyper-V's default name, then renames it: the
    # connection broke in between.
    default = checkpoint(2, "web01 - (11/25/2026 - 12:00:01)", created=ago(seconds=1))
    renamed = dict(default, name="nightly")
    runner = FakeRunner(create_checkpoint=[lost()], get_vms=[reread(default)],
                        rename_checkpoint=[{"checkpoint": renamed}])
    host, dummy, dummy2 = make_host(runner)
    result = host.create_checkpoint(VM_ID, "nightly", known_ids=[], since=ago(minutes=1))
    assert runner.names == ["create_checkpoint", "get_vms", "rename_checkpoint"]
    assert runner.calls[2]["params"] == {"VMId": VM_ID, "Id": cp_id(2), "NewName": "nightly"}
    assert result["checkpoint"] == renamed and result["recovered"] and result["name_repaired"]
    assert result["renamed_from"] == "web01 - (11/25/2026 - 12:00:01)"
    assert result["vm"]["checkpoints"] == [renamed]  # as the lock check must see it: under its new name


def test_create_adopts_nothing_when_several_unnamed_checkpoints_appeared():
    first = checkpoint(2, "web01 - (a)", created=ago(seconds=2))
    second = checkpoint(3, "someone else's", created=ago(seconds=1))
    runner = FakeRunner(create_checkpoint=[lost()], get_vms=[reread(first, second)])
    host, dummy, dummy2 = make_host(runner)
    with pytest.raises(HostError) as caught:
        host.create_checkpoint(VM_ID, "nightly", known_ids=[], since=ago(minutes=1))
    assert caught.value.code == "ambiguous" and "cannot tell which one it made" in caught.value.message
    assert [match["id"] for match in caught.value.details["matches"]] == [cp_id(2), cp_id(3)]
    assert runner.names == ["create_checkpoint", "get_vms"]  # nothing else was created or renamed


def reread_with(vm_changes, *checkpoints):
    answer = reread(*checkpoints)
    answer["vms"][0].update(vm_changes)
    return answer


@pytest.mark.parametrize("vm_changes, vm_type, put_back", [
    # The host's marker names the type a killed create left switched.
    ({"checkpoint_type": "ProductionOnly", "type_override": {"original_type": "Production", "live": False}},
     "Production", "Production"),
    # No marker (ProgramData not writable): the type read before the attempt.
    ({"checkpoint_type": "Standard"}, "Production", "Production"),
    # A create that still runs puts the type back itself.
    ({"checkpoint_type": "ProductionOnly", "type_override": {"original_type": None, "live": True}}, "Production", None),
    ({"checkpoint_type": "Production"}, "Production", None),
])
def test_create_puts_back_a_type_the_lost_attempt_left_switched(vm_changes, vm_type, put_back):
    made = checkpoint(2, "nightly", created=ago(seconds=1))
    runner = FakeRunner(create_checkpoint=[lost()], get_vms=[reread_with(vm_changes, made)],
                        set_checkpoint_settings=[{"vms": [VM_RECORD]}])
    host, dummy, dummy2 = make_host(runner)
    result = host.create_checkpoint(VM_ID, "nightly", known_ids=[], since=ago(minutes=1), vm_type=vm_type)
    assert result["type_override_repaired"] == put_back
    if put_back:
        assert runner.names == ["create_checkpoint", "get_vms", "set_checkpoint_settings"]
        assert runner.calls[2]["params"]["Changes"] == [{"VMId": VM_ID, "CheckpointType": put_back,
                                                         "AutomaticCheckpoints": None, "CheckpointLocation": None}]
    else:
        assert runner.names == ["create_checkpoint", "get_vms"]


def test_create_gives_up_after_retries_and_does_not_recover_on_the_last_failure():
    runner = FakeRunner(create_checkpoint=[lost()], get_vms=[reread()])
    host, sleeps, dummy = make_host(runner, retries=2)
    with pytest.raises(ConnectionLostError):
        host.create_checkpoint(VM_ID, "nightly", known_ids=[])
    assert runner.names == ["create_checkpoint", "get_vms", "create_checkpoint", "get_vms", "create_checkpoint"]
    assert len(sleeps) == 2


def test_create_non_transient_failure_is_not_recovered():
    runner = FakeRunner(create_checkpoint=[HostError("checkpoints_disabled", "disabled")],
                        get_vms=[reread(checkpoint(2, "nightly"))])
    host, dummy, dummy2 = make_host(runner)
    with pytest.raises(HostError) as caught:
        host.create_checkpoint(VM_ID, "nightly", known_ids=[])
    assert caught.value.code == "checkpoints_disabled"
    assert runner.names == ["create_checkpoint"]


# The protocol is checked on both sides of the call -----------------------------------------------


def test_a_result_that_breaks_the_protocol_is_a_protocol_error_naming_the_key():
    incomplete = {"checkpoint": checkpoint(5, "new"), "vm": VM_RECORD}
    runner = FakeRunner(create_checkpoint=[incomplete])
    host, dummy, dummy2 = make_host(runner)
    with pytest.raises(ProtocolError) as caught:
        host.create_checkpoint(VM_ID, "new")
    assert caught.value.code == "protocol_error" and not caught.value.transient
    assert "missing key 'taken_type'" in caught.value.message
    assert runner.names == ["create_checkpoint"]  # not retried: the answer will not improve


def test_a_vm_record_with_a_wrong_type_is_a_protocol_error():
    wrong = dict(VM_RECORD, checkpoint_count="3")
    runner = FakeRunner(get_vm=[{"vm": wrong}])
    host, dummy, dummy2 = make_host(runner)
    with pytest.raises(ProtocolError, match=r"get_vm result.vm.checkpoint_count: expected int, got str"):
        host.get_vm(name="web01")


def test_params_that_break_the_protocol_are_never_sent():
    runner = FakeRunner(remove_checkpoints=[{"removed": [], "merge": "none", "vm": VM_RECORD}])
    host, dummy, dummy2 = make_host(runner)
    with pytest.raises(ValueError, match=r"remove_checkpoints params.Ids\[0\]: expected str, got int"):
        host.remove_checkpoints(VM_ID, [7])
    assert runner.calls == []


# VMs not found: the host's names become the closest few -----------------------------------------------------

NOT_FOUND = HostError("vm_not_found", "No VM 'web1' on host HV01", operation="get_vms", host="hv01",
                      computer_name="HV01",
                      details={"vm": "web1", "computer_name": "HV01", "names": ["web01", "db01", "mail01"]})


def test_a_vm_name_not_found_suggests_the_closest_names_and_drops_the_list():
    host, dummy, dummy2 = make_host(FakeRunner(get_vms=[NOT_FOUND]))
    with pytest.raises(HostError) as caught:
        host.get_vms(names=["web1"])
    assert caught.value.message == "No VM 'web1' on host HV01; did you mean 'web01'?"
    assert caught.value.details == {"vm": "web1", "computer_name": "HV01", "suggestions": ["web01"]}
    assert caught.value.computer_name == "HV01" and caught.value.host == "hv01"


def test_missing_vms_are_reported_as_the_failures_they_would_have_been():
    missing = [dict(vm="web1", code="vm_not_found", message="No VM 'web1' on host HV01", details=NOT_FOUND.details)]
    runner = FakeRunner(get_vms=[{"host": host_record(), "vms": [], "missing": missing}])
    host, dummy, dummy2 = make_host(runner)
    dummy3, vms, reported = host.get_vms_and_missing(names=["web1"])
    assert vms == [] and runner.calls[0]["params"]["ReportMissing"] is True
    assert reported == [{"vm": "web1", "error_code": "vm_not_found",
                         "msg": "No VM 'web1' on host HV01; did you mean 'web01'?",
                         "error_details": {"vm": "web1", "computer_name": "HV01", "suggestions": ["web01"]}}]


def unreachable():
    return HostUnreachableError("x", "hv01", ConnectionRefusedError("connection refused"))


@pytest.mark.parametrize("answers, recovery, may_have_run", [
    ([unreachable()], [], False),                         # never reached the host
    ([busy()] * 4, [reread(checkpoint(1, "old"))], False),  # refused by the host at every attempt
    ([lost()], [unreachable()], True),                    # the lost attempt may have run; its recovery met no host
    ([lost(), lost(), lost(), lost()], [reread(checkpoint(1, "old"))] * 3, True),
    ([OperationTimeoutError("x", "hv01", 600)], [], True),
], ids=["unreachable", "busy", "lost-then-unreachable", "lost-every-time", "timeout"])
def test_an_operation_that_fails_says_whether_an_attempt_may_have_run_on_the_host(answers, recovery, may_have_run):
    runner = FakeRunner(remove_checkpoints=answers, get_vms=recovery)
    host, dummy, dummy2 = make_host(runner)
    with pytest.raises(HostError) as caught:
        host.remove_checkpoints(VM_ID, [cp_id(1)])
    assert may_have_taken_effect(caught.value) is may_have_run
