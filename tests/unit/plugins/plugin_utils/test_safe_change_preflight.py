# -*- coding: utf-8 -*-
"""_safe_change_preflight: the VM's checkpoints as a run sees them, pre-flight, the lock's tie-break and check
mode's account of a real run; _safe_change_options: the role's options together."""

from __future__ import annotations

import pytest

import types

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_options as role_options
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_preflight as preflight

from hyperv_records import NOW, ago, checkpoint, cp_id, vm, volume
from safe_change_fixtures import options, state

OURS = "safe_change CHG-OLD by someone 2026-01-01T00:00:00Z"


def checkpoints_of(record, change_id="CHG0042", lock_minutes=120):
    return preflight.Checkpoints(record, "safe_change", change_id, lock_minutes, NOW)


def names_in(found):
    return [cp["name"] for cp in found]


# Options ---------------------------------------------------------------------------------------

def test_good_options_have_no_problems():
    assert role_options.option_problems(options(), True) == []


@pytest.mark.parametrize("changes, known, expected", [
    (dict(hyperv_host=None), True, "hyperv_host is not set"),
    (dict(hyperv_host="hv99"), False, "hyperv_host hv99 is not in the inventory"),
    (dict(safe_change_id="  "), True, "safe_change_id is empty"),
    (dict(safe_change_role="deploy"), True, "set exactly one of safe_change_tasks and safe_change_role"),
    (dict(safe_change_tasks=""), True, "set exactly one of safe_change_tasks and safe_change_role"),
    (dict(safe_change_name_prefix="safe change"), True, "safe_change_name_prefix must not be empty or contain spaces"),
    (dict(safe_change_keep_hours=-1), True, "safe_change_keep_hours must be 0 (delete the checkpoint) or more"),
    (dict(safe_change_stale_max_age_hours=0), True, "safe_change_stale_max_age_hours must be more than 0"),
    (dict(safe_change_lock_minutes=-5), True, "safe_change_lock_minutes must be 0 (no lock) or more"),
    (dict(safe_change_reachable_timeout=0), True, "safe_change_reachable_timeout must be more than 0 seconds"),
])
def test_each_bad_option_is_named(changes, known, expected):
    problems = role_options.option_problems(options(**changes), known)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_types_and_choices_are_the_spec_s():
    """The argument spec checks what it can say (types, choices) once; option_problems only the rest."""
    templar = types.SimpleNamespace(template=lambda value: value)
    given = options(safe_change_stale_policy="keep", safe_change_keep_hours="two")
    dummy, problems = role_options.templated_options(templar, given)
    assert len(problems) == 2, problems
    assert "safe_change_stale_policy" in problems[0] + problems[1] and "keep_hours" in problems[0] + problems[1]
    assert role_options.templated_options(templar, options()) == (options(), [])


def test_a_name_that_could_outgrow_hyperv_limit_is_refused_before_anything():
    fits = "safe_change CHG1 by a 2026-11-25T12:00:00Z"
    assert preflight.name_problem(fits, 0, NOW) is None
    long_name = "safe_change %s by a 2026-11-25T12:00:00Z" % ("C" * 40)  # 78 characters
    assert preflight.name_problem(long_name, 0, NOW) is None  # 92 with " revert-failed"
    too_long = "safe_change %s by a 2026-11-25T12:00:00Z" % ("C" * 60)
    assert "revert-failed' has 112 characters; Hyper-V allows 100" in preflight.name_problem(too_long, 0, NOW)
    # Kept after a success the name grows by " kept-until <time>" (32 characters): 110.
    assert "has 110 characters" in preflight.name_problem(long_name, 2, NOW)


# Classification --------------------------------------------------------------------------------

def test_classification_of_a_vm_s_checkpoints():
    record = vm(checkpoints=[
        checkpoint(1, "nightly", created=ago(hours=50)),
        checkpoint(2, OURS + " revert-failed", parent=1, created=ago(hours=30)),
        checkpoint(3, OURS, parent=2, created=ago(hours=20)),
        checkpoint(4, OURS + " kept-until 2026-11-26T00:00:00Z", parent=3, created=ago(hours=10)),
        checkpoint(5, OURS + " kept-until 2026-11-25T00:00:00Z", parent=4, created=ago(hours=9)),
        checkpoint(6, "safe_change CHG-LIVE by bob 2026-11-25T11:50:00Z", parent=5, created=ago(minutes=10)),
        checkpoint(7, OURS, parent=6, created=ago(minutes=5), snapshot_type="Recovery"),
    ], current=6)
    found = checkpoints_of(record)
    assert names_in(found.ours) == [cp["name"] for cp in record["checkpoints"][1:6]]  # never Recovery ones
    assert names_in(found.revert_failed) == [OURS + " revert-failed"]
    assert names_in(found.kept) == [OURS + " kept-until 2026-11-26T00:00:00Z"]
    assert names_in(found.locks) == ["safe_change CHG-LIVE by bob 2026-11-25T11:50:00Z"]
    assert names_in(found.stale) == [OURS, OURS + " kept-until 2026-11-25T00:00:00Z"]  # kept, but its time is up
    assert found.locks[0]["is_current"] and found.locks[0]["age_seconds"] == 600
    # Without a lock every young checkpoint is left over.
    assert names_in(checkpoints_of(record, lock_minutes=0).locks) == []


def test_a_checkpoint_taken_by_hand_locks_other_changes_but_not_its_own():
    manual = "safe_change CHG0042 by ops 2026-11-25T11:50:00Z manual"
    record = vm(checkpoints=[checkpoint(1, manual, created=ago(minutes=10))], current=1)
    assert names_in(checkpoints_of(record, change_id="CHG0042").stale) == [manual]
    assert names_in(checkpoints_of(record, change_id="CHG0099").locks) == [manual]


# Left-overs ----------------------------------------------------------------------------------

def test_reuse_takes_only_a_single_young_left_over_that_the_vm_runs_from():
    young = vm(checkpoints=[checkpoint(1, OURS, created=ago(hours=3))], current=1)
    reuse, remove = preflight.choose_left_overs(checkpoints_of(young), "reuse", 4)
    assert reuse["id"] == cp_id(1) and remove == []
    for record in (vm(checkpoints=[checkpoint(1, OURS, created=ago(hours=5))], current=1),   # too old
                   vm(checkpoints=[checkpoint(1, OURS, created=ago(hours=3))], current=None),  # not running from it
                   vm(checkpoints=[checkpoint(1, OURS, created=ago(hours=3)),
                                   checkpoint(2, OURS, parent=1, created=ago(hours=3))], current=2)):  # two
        assert preflight.choose_left_overs(checkpoints_of(record), "reuse", 4) == (None, [])


def test_remove_takes_every_left_over_and_fail_takes_none():
    record = vm(checkpoints=[checkpoint(1, "nightly"), checkpoint(2, OURS, parent=1, created=ago(hours=3))], current=2)
    assert names_in(preflight.choose_left_overs(checkpoints_of(record), "remove", 4)[1]) == [OURS]
    assert preflight.choose_left_overs(checkpoints_of(record), "fail", 4) == (None, [])


# Pre-flight ------------------------------------------------------------------------------------

def problems_of(record, host="HV01", **changes):
    run_options = options(**changes)
    found = checkpoints_of(record, lock_minutes=run_options["safe_change_lock_minutes"])
    reuse, remove = preflight.choose_left_overs(found, run_options["safe_change_stale_policy"],
                                                run_options["safe_change_stale_max_age_hours"])
    return [problem.text for problem in preflight.preflight_problems(record, found, run_options, host, reuse, remove)]


def codes_of(record, host="HV01", **changes):
    run_options = options(**changes)
    found = checkpoints_of(record, lock_minutes=run_options["safe_change_lock_minutes"])
    return [problem.code for problem in preflight.preflight_problems(record, found, run_options, host, None, [])]


def test_each_problem_has_a_code():
    assert codes_of(vm(state="Off")) == [preflight.NOT_RUNNING]
    assert codes_of(dict(vm(), owner_node="HV02")) == [preflight.OWNED_BY_OTHER_NODE]
    assert codes_of(vm(merging=True)) == [preflight.MERGING]
    assert codes_of(vm(volumes=[volume(free_gb=3.0)])) == [preflight.LOW_FREE_SPACE]
    assert codes_of(vm(checkpoints=[checkpoint(1, OURS, created=ago(hours=3))], current=1)) == [preflight.LEFT_OVERS]


def test_a_healthy_vm_passes():
    assert problems_of(vm(checkpoints=[checkpoint(1, "nightly")], current=1)) == []


def test_every_problem_of_a_vm_is_reported_at_once():
    record = vm(checkpoints=[checkpoint(1, OURS + " revert-failed")], checkpoint_type="Disabled", merging=True,
                state="Off")
    record["owner_node"] = "HV02"
    problems = problems_of(record)
    assert [problem.split(":")[0][:40] for problem in problems] == [
        "a revert of an earlier run failed and it", "it is owned by cluster node HV02, not by",
        "checkpoints are disabled on VM 'web01' (", "a disk merge is running on it; run the c",
        "it is Off, not Running"], problems


def test_the_limit_of_fifty_counts_what_the_run_removes_or_reuses():
    full = [checkpoint(n, "nightly %02d" % n, created=ago(hours=60 - n)) for n in range(1, 50)]
    record = vm(checkpoints=full + [checkpoint(50, OURS, created=ago(hours=3))], current=50)
    assert "already has 50 checkpoints" in problems_of(record, safe_change_stale_policy="fail")[0]
    assert problems_of(record, safe_change_stale_policy="remove") == []
    assert problems_of(record, safe_change_stale_policy="reuse") == []


def test_locks_and_left_overs_are_named_with_their_age():
    live = vm(checkpoints=[checkpoint(1, OURS, created=ago(minutes=30))], current=1)
    [problem] = problems_of(live)
    assert problem.startswith("the checkpoint '%s' (id %s, taken 0h30m ago by someone for change CHG-OLD; the VM "
                              "runs from it) is younger than safe_change_lock_minutes" % (OURS, cp_id(1)))
    # What the refusal tells a user whose earlier run ended without deleting its checkpoint.
    for remedy in ("No outcome is recorded on the host", "UNKNOWN", "playbooks/report.yml",
                   "safe_change_stale_policy=remove", "revert_checkpoint_id=%s" % cp_id(1),
                   "safe_change_stale_policy=reuse"):
        assert remedy in problem
    left = vm(checkpoints=[checkpoint(1, OURS, created=ago(hours=3))])
    assert problems_of(left)[0].startswith("checkpoints of an earlier run are left on it: '%s' (3h0m old)" % OURS)
    assert "younger than 4 hours" in problems_of(left, safe_change_stale_policy="reuse")[0]


def test_a_requested_checkpoint_type_needs_a_host_that_has_types():
    record = vm(checkpoint_type=None)
    assert "needs Windows Server 2016 or later" in problems_of(record, safe_change_checkpoint_type="production")[0]
    assert problems_of(record) == []


# The lock's tie-break --------------------------------------------------------------------------

def test_the_run_whose_checkpoint_came_first_goes_on():
    first = checkpoint(1, "safe_change CHG-A by a 2026-11-25T11:59:00Z", created=ago(seconds=30))
    second = checkpoint(2, "safe_change CHG-B by b 2026-11-25T11:59:00Z", parent=1, created=ago(seconds=20))
    record = vm(checkpoints=[first, second], current=2)
    assert preflight.runs_that_came_first(record, cp_id(1), "safe_change", "CHG-A", 120, NOW) == []
    assert names_in(preflight.runs_that_came_first(record, cp_id(2), "safe_change", "CHG-B", 120, NOW)) == [first["name"]]


def test_a_tie_in_time_is_broken_by_the_id():
    same = ago(seconds=10)
    record = vm(checkpoints=[checkpoint(1, "safe_change A by a 2026-11-25T11:59:50Z", created=same),
                             checkpoint(2, "safe_change A by a 2026-11-25T11:59:50Z", created=same)])
    assert preflight.runs_that_came_first(record, cp_id(1), "safe_change", "A", 120, NOW) == []
    assert len(preflight.runs_that_came_first(record, cp_id(2), "safe_change", "A", 120, NOW)) == 1


def test_a_checkpoint_that_vanished_has_nobody_before_it():
    assert preflight.runs_that_came_first(vm(), cp_id(9), "safe_change", "A", 120, NOW) == []


# Check mode and verification ---------------------------------------------------------------------

def test_check_mode_says_what_a_real_run_would_do():
    run = state(options=dict(safe_change_checkpoint_type="production_only", safe_change_keep_hours=2,
                             safe_change_verify_services=["app"], safe_change_verify_url="https://web01/health"))
    left = checkpoint(1, OURS)
    lines = preflight.would(run, vm(), None, [left], "2026-11-25T14:00:00Z")
    assert lines == [
        "remove left-over checkpoints: %s" % OURS,
        "take checkpoint 'safe_change CHG0042 by jane_doe 2026-11-25T12:00:00Z' of VM web01 on hv01 "
        "(type production_only)",
        "apply the change: tasks /srv/change.yml",
        "verify: the guest answers within 600s; services running: app; URL https://web01/health answers 200",
        "on success keep the checkpoint for 2 hours (until 2026-11-25T14:00:00Z)",
        "on failure restore the checkpoint, bring the VM back to Running, wait for the guest, verify again and fail "
        "the host"]
    assert preflight.would(state(), vm(checkpoint_type="Production"), left, [], "")[0] == \
        "reuse the left-over checkpoint '%s'" % OURS


def test_only_reachability_is_noticed():
    assert preflight.only_reachability(options())
    assert not preflight.only_reachability(options(safe_change_verify_command="true"))


@pytest.mark.parametrize("before, after", [("Running", "running"), ("Off", "off"), ("Saved", "previous")])
def test_the_power_state_to_restore(before, after):
    assert preflight.restore_power_state(before) == after


def test_a_volume_low_on_space_is_refused_and_the_check_can_be_turned_off():
    low = vm(volumes=[volume(free_gb=3.0)])
    [problem] = problems_of(low)
    assert "has 3.0 GB free, less than min_free_gb 10 GB" in problem and problem.endswith("(safe_change_min_free_gb)")
    assert problems_of(low, safe_change_min_free_gb=0) == []
    assert problems_of(vm(volumes=[volume(free_gb=None)])) == []  # unknown is not low
    assert "safe_change_min_free_gb must be 0 (no check) or more GB" in \
        role_options.option_problems(options(safe_change_min_free_gb=-1), True)[0]
