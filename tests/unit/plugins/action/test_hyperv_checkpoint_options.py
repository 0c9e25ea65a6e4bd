# -*- coding: utf-8 -*-
"""hyperv_checkpoint action: check_options refusals; wait_for_merge (_merge_wait) with a fake host and clock."""

from __future__ import annotations

import types

import pytest

from ansible_collections.hyperv.checkpoint.plugins.action import hyperv_checkpoint as action
from ansible_collections.hyperv.checkpoint.plugins.action.hyperv_checkpoint import check_options
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _merge_wait
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._merge_wait import wait_for_merge
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import PlanError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import HostError

from hyperv_records import VM_ID, vm


def args(**options):
    """The validated task options: every option of the argument spec, defaults filled in."""
    values = {name: spec.get("default") for name, spec in action.ActionModule.ARGUMENT_SPEC.items()}
    values["vm"] = "web01"
    values.update(options)
    return values


def refused(**options):
    with pytest.raises(PlanError) as caught:
        check_options(args(**options))
    assert caught.value.code == "invalid_option"
    return caught.value


# check_options ------------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [
    {"name": "nightly"},
    {"name": "x" * 100},
    {"name": "old", "new_name": "new"},
    {"checkpoint_id": "abc", "new_name": "new"},
    {"name": "nightly", "max_age": "7d"},
    {"name": "nightly", "state": "absent"},
    {"name": "nightly", "state": "restored", "power_state": "off"},
    {"state": "absent", "name_prefix": "ci-"},
    {"state": "absent", "name_prefix": "ci-", "older_than": "7d"},
    {"state": "absent", "name_pattern": "ci-*", "keep_newest": 3},
    {"state": "absent", "name_pattern": "ci-*", "keep_newest": 0, "older_than": "1h"},
    {"name": "nightly", "timeout": 1, "operation_timeout": 1},
])
def test_valid_options_pass(options):
    checked = check_options(args(**options))
    assert {key: checked[key] for key in options} == options


@pytest.mark.parametrize("state", ["absent", "restored"])
def test_new_name_needs_state_present(state):
    error = refused(name="old", new_name="new", state=state)
    assert "new_name" in error.message and "state=present" in error.message


@pytest.mark.parametrize("option, value", [("name_prefix", "ci-"), ("name_pattern", "ci-*"), ("older_than", "7d"),
                                           ("keep_newest", 2), ("keep_newest", 0)])
@pytest.mark.parametrize("state", ["present", "restored"])
def test_cleanup_options_need_state_absent(option, value, state):
    error = refused(name="nightly", state=state, **{option: value})
    assert option in error.message
    assert "state=absent" in error.message


def test_cleanup_refusal_lists_every_cleanup_option_given():
    error = refused(name="nightly", name_pattern="x*", keep_newest=1)
    assert "name_pattern, keep_newest" in error.message


@pytest.mark.parametrize("options", [
    {"older_than": "7d"},
    {"keep_newest": 2},
    {"keep_newest": 0},
    {"name": "nightly", "older_than": "7d"},
    {"checkpoint_id": "abc", "keep_newest": 1},
])
def test_older_than_and_keep_newest_need_prefix_or_pattern(options):
    error = refused(state="absent", **options)
    assert "name_prefix or name_pattern" in error.message


@pytest.mark.parametrize("option", ["timeout", "operation_timeout"])
@pytest.mark.parametrize("value", [0, -1, -600])
def test_timeouts_must_be_positive(option, value):
    error = refused(name="nightly", **{option: value})
    assert error.message.startswith(option + " must be a positive")


@pytest.mark.parametrize("option", ["name", "new_name"])
def test_name_of_101_characters_is_refused(option):
    options = {"name": "nightly", option: "n" * 101}
    error = refused(**options)
    assert "101 characters" in error.message
    assert error.message.startswith(option + " is")


@pytest.mark.parametrize("option", ["name", "new_name"])
def test_blank_names_are_refused(option):
    options = {"name": "nightly", option: "  "}
    assert option in refused(**options).message


@pytest.mark.parametrize("option", ["max_age", "older_than"])
def test_bad_durations_are_refused(option):
    error = refused(name_prefix="ci-", state="absent", **{option: "a while"})
    assert option in error.message


# wait_for_merge -----------------------------------------------------------------------------------


class FakeClock:
    """time.monotonic and time.sleep: sleeping advances the clock, nothing really waits."""

    def __init__(self, start=1000.0):
        self.now = start
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class MergingHost:
    """get_vm reports a running merge ``merging_reads`` times, then a quiet VM."""

    host_name = "hv01"

    def __init__(self, merging_reads):
        self.merging_reads = merging_reads
        self.reads = []

    def get_vm(self, name=None, vm_id=None):
        self.reads.append({"name": name, "vm_id": vm_id})
        record = vm(merging=len(self.reads) <= self.merging_reads)
        del record["checkpoints"]
        return record


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(_merge_wait, "time", types.SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep))
    return fake


def merging_vm():
    record = vm(merging=True)
    del record["checkpoints"]
    return record


def test_no_merge_returns_at_once(clock):
    host = MergingHost(0)
    record = vm(merging=False)
    assert wait_for_merge(host, record, 60, "after deleting checkpoints") == (0.0, record)
    assert host.reads == []
    assert clock.sleeps == []


@pytest.mark.parametrize("merging_reads, sleeps, seconds", [
    (0, [1.0], 1.0),
    (1, [1.0, 1.5], 2.5),
    (2, [1.0, 1.5, 2.25], 4.8),
    (6, [1.0, 1.5, 2.25, 3.375, 5.0, 5.0, 5.0], 23.1),
])
def test_waits_while_merging_and_returns_seconds(clock, merging_reads, sleeps, seconds):
    host = MergingHost(merging_reads)

    waited, final = wait_for_merge(host, merging_vm(), 600, "after deleting checkpoints")
    assert waited == seconds
    assert final["merging"] is False  # the record after the merge, not the one before

    assert clock.sleeps == sleeps
    assert len(host.reads) == merging_reads + 1
    assert host.reads[0] == {"name": None, "vm_id": VM_ID}


def test_seconds_count_from_started(clock):
    host = MergingHost(0)
    waited, dummy = wait_for_merge(host, merging_vm(), 600, "after deleting checkpoints", started=clock.now - 7.0)
    assert waited == 8.0


def test_merge_timeout(clock):
    host = MergingHost(10 ** 6)

    with pytest.raises(HostError) as caught:
        wait_for_merge(host, merging_vm(), 10, "before changing it")

    error = caught.value
    assert error.code == "merge_timeout"
    assert error.operation == "wait_for_merge"
    assert error.host == "hv01"
    assert error.details == {"elapsed": 10}
    assert "web01" in error.message and "before changing it" in error.message and "timeout 10" in error.message
    assert error.transient is False
    # the last sleeps are cut to what is left of the timeout, never below 0.1 s
    assert clock.sleeps == [1.0, 1.5, 2.25, 3.375, 1.875, 0.1]
    assert len(host.reads) == 6


def test_merge_timeout_counts_time_spent_before(clock):
    host = MergingHost(10 ** 6)
    with pytest.raises(HostError) as caught:
        wait_for_merge(host, merging_vm(), 30, "after deleting checkpoints", started=clock.now - 31)
    assert caught.value.code == "merge_timeout"
    assert clock.sleeps == []
    assert host.reads == []
