# -*- coding: utf-8 -*-
"""checkpoint_planner: every state, option and refusal; prediction, tree, times."""

from __future__ import annotations

import copy
import datetime

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.hyperv.checkpoint.plugins.action.hyperv_checkpoint import ActionModule, check_options
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_planner as planner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_tree import render_tree
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import PlanError

from hyperv_records import NOW, VM_ID, ago, chain, checkpoint, cp_id, vm, volume

UTC = datetime.timezone.utc


def req(**options):
    """The task's options as the action plugin passes them: every option, defaults filled in, checked."""
    args = {name: spec.get("default") for name, spec in ActionModule.ARGUMENT_SPEC.items()}
    args["vm"] = "web01"
    args.update(options)
    return check_options(args)


def plan(vm_record, **options):
    return planner.plan(req(**options), vm_record, NOW)


def refusal(vm_record, **options):
    with pytest.raises(PlanError) as caught:
        plan(vm_record, **options)
    return caught.value


def ids(*numbers):
    return [cp_id(n) for n in numbers]


def two_level():
    """a(1) -> b(2) -> c(3), and a(1) -> d(4); Now after c."""
    return vm(checkpoints=chain("a", "b", "c") + [checkpoint(4, "d", parent=1)], current=3)


# state=present: create or reuse ------------------------------------------------------------------


def test_present_creates_when_missing():
    result = plan(two_level(), name="new")
    assert result.changed is True
    assert result.actions == [{"action": "create", "name": "new", "checkpoint_type": None,
                               "checkpoint_type_option": None}]
    assert result.checkpoint == {"id": None, "name": "new", "snapshot_type": "Standard", "creation_time": None,
                                 "parent_id": cp_id(3)}
    assert result.needs_quiet_vm is True


def test_present_creates_on_a_vm_without_checkpoints():
    result = plan(vm(), name="first")
    assert result.actions == [{"action": "create", "name": "first", "checkpoint_type": None,
                               "checkpoint_type_option": None}]
    assert result.checkpoint["parent_id"] is None


def test_present_no_change_when_present():
    result = plan(two_level(), name="b")
    assert result.changed is False
    assert result.actions == []
    assert result.checkpoint["id"] == cp_id(2)


def test_present_ambiguous_duplicate_names_lists_the_ids():
    record = vm(checkpoints=[checkpoint(1, "dup"), checkpoint(2, "other", parent=1), checkpoint(3, "dup", parent=2)])
    error = refusal(record, name="dup")
    assert error.code == "ambiguous"
    assert [match["id"] for match in error.details["matches"]] == ids(1, 3)
    assert cp_id(1) in error.message and cp_id(3) in error.message
    assert "checkpoint_id" in error.message


@pytest.mark.parametrize("wanted", [cp_id(3), cp_id(3).upper()])
def test_present_checkpoint_id_picks_among_duplicates(wanted):
    record = vm(checkpoints=[checkpoint(1, "dup"), checkpoint(3, "dup", parent=1)])
    result = plan(record, checkpoint_id=wanted)
    assert result.actions == []
    assert result.checkpoint["id"] == cp_id(3)


def test_present_checkpoint_id_not_found_is_refused():
    error = refusal(two_level(), checkpoint_id=cp_id(99))
    assert error.code == "checkpoint_not_found"
    assert cp_id(99) in error.message


def spec_errors(**options):
    """What hyperv_checkpoint's argument spec and its rules (required_if, mutually exclusive) say of ``options``."""
    validator = ArgumentSpecValidator(ActionModule.ARGUMENT_SPEC, mutually_exclusive=ActionModule.MUTUALLY_EXCLUSIVE,
                                      required_one_of=ActionModule.REQUIRED_ONE_OF,
                                      required_if=ActionModule.REQUIRED_IF)
    return validator.validate(dict(options, vm="web01")).error_messages


def test_present_without_name_or_id_is_refused():
    assert spec_errors(state="present") == [
        "state is present but any of the following are missing: name, checkpoint_id"]


def test_present_max_age_stale_is_refused():
    record = vm(checkpoints=[checkpoint(1, "nightly", created=ago(hours=75))])
    error = refusal(record, name="nightly", max_age="24h")
    assert error.code == "checkpoint_too_old"
    assert error.details["age_seconds"] == 75 * 3600
    assert error.details["checkpoint"]["id"] == cp_id(1)
    assert "taken 3d3h ago" in error.message and "max_age 24h" in error.message


@pytest.mark.parametrize("max_age", ["24h", "1d", "86400", 86400])
def test_present_max_age_fresh_is_reused(max_age):
    record = vm(checkpoints=[checkpoint(1, "nightly", created=ago(hours=2))])
    result = plan(record, name="nightly", max_age=max_age)
    assert result.actions == []
    assert result.checkpoint["id"] == cp_id(1)


def test_present_max_age_exactly_reached_is_still_reused():
    record = vm(checkpoints=[checkpoint(1, "nightly", created=ago(hours=24))])
    assert plan(record, name="nightly", max_age="24h").checkpoint["id"] == cp_id(1)


def test_present_max_age_does_not_matter_when_creating():
    assert plan(vm(), name="nightly", max_age="1m").actions[0]["action"] == "create"


def test_present_bad_max_age_is_refused():
    record = vm(checkpoints=[checkpoint(1, "nightly")])
    assert refusal(record, name="nightly", max_age="soon").code == "invalid_option"


@pytest.mark.parametrize("option, host_type", [(None, None), ("standard", "Standard"), ("production", "Production"),
                                               ("production_only", "ProductionOnly")])
def test_present_checkpoint_type_mapping(option, host_type):
    result = plan(vm(checkpoint_type="Production"), name="new", checkpoint_type=option)
    assert result.actions == [{"action": "create", "name": "new", "checkpoint_type": host_type,
                               "checkpoint_type_option": option}]


@pytest.mark.parametrize("option", [None, "standard", "production", "production_only"])
def test_present_disabled_vm_is_refused(option):
    error = refusal(vm(checkpoint_type="Disabled"), name="new", checkpoint_type=option)
    assert error.code == "checkpoints_disabled"
    assert "web01" in error.message


def test_present_disabled_vm_with_the_checkpoint_already_there_is_no_change():
    record = vm(checkpoints=[checkpoint(1, "nightly")], checkpoint_type="Disabled")
    assert plan(record, name="nightly").actions == []


def user_and_recovery(users, recoveries=0):
    checkpoints = [checkpoint(n, "cp-%02d" % n, parent=n - 1 if n > 1 else None) for n in range(1, users + 1)]
    checkpoints += [checkpoint(100 + n, "backup-%d" % n, snapshot_type="Recovery") for n in range(recoveries)]
    return vm(checkpoints=checkpoints, current=users or None)


def test_present_fifty_user_checkpoints_is_limit_reached():
    error = refusal(user_and_recovery(50), name="one-more")
    assert error.code == "limit_reached"
    assert "50" in error.message


def test_present_forty_nine_user_checkpoints_is_fine():
    assert plan(user_and_recovery(49), name="one-more").actions[0]["action"] == "create"


def test_present_recovery_checkpoints_count_toward_the_limit_as_hyper_v_counts_them():
    error = refusal(user_and_recovery(45, recoveries=5), name="one-more")
    assert error.code == "limit_reached"
    assert "already has 50 checkpoints (5 of them made by backup or replication software)" in error.message
    assert plan(user_and_recovery(44, recoveries=5), name="one-more").actions[0]["action"] == "create"


@pytest.mark.parametrize("free_gb, min_free_gb, refused", [
    (9.9, 10, True), (10.0, 10, False), (0.5, 0.75, True), (0.5, 0, False), (0.5, None, False), (None, 100, False),
])
def test_present_refuses_a_create_below_min_free_gb(free_gb, min_free_gb, refused):
    record = vm(volumes=[volume("C:\\", free_gb=500), volume("D:\\", free_gb=free_gb, size_gb=None)])
    if refused:
        error = refusal(record, name="new", min_free_gb=min_free_gb)
        assert error.code == "low_disk_space"
        assert "volume D:\\ of VM 'web01' has" in error.message and "no checkpoint was taken" in error.message
        assert error.details["min_free_gb"] == min_free_gb
    else:
        assert plan(record, name="new", min_free_gb=min_free_gb).actions[0]["action"] == "create"


def test_present_an_existing_checkpoint_is_reused_whatever_the_free_space():
    record = vm(checkpoints=[checkpoint(1, "kept")], current=1, volumes=[volume(free_gb=0.1)])
    assert plan(record, name="kept", min_free_gb=10).actions == []


def test_present_at_the_limit_an_existing_checkpoint_is_still_reused():
    assert plan(user_and_recovery(50), name="cp-07").checkpoint["id"] == cp_id(7)


def test_present_checkpoint_type_on_host_without_types_is_unsupported():
    error = refusal(vm(checkpoint_type=None), name="new", checkpoint_type="production")
    assert error.code == "unsupported_on_host"
    assert "2016" in error.message


def test_present_host_without_types_creates_without_a_type():
    assert plan(vm(checkpoint_type=None), name="new").actions == [
        {"action": "create", "name": "new", "checkpoint_type": None, "checkpoint_type_option": None}]


SPECIAL_NAMES = ["a*", "a?", "[ab]", "it's", 'say "hi"', "Prüfung ✓ 雪", "50% [done] *?'\""]


@pytest.mark.parametrize("name", SPECIAL_NAMES)
def test_special_names_match_literally(name):
    lookalikes = [checkpoint(1, "ab"), checkpoint(2, "a", parent=1), checkpoint(3, "abc", parent=2),
                  checkpoint(4, "it", parent=3), checkpoint(5, "Prufung", parent=4)]
    # not there: a wildcard must not match the look-alikes
    result = plan(vm(checkpoints=lookalikes, current=5), name=name)
    assert result.actions == [{"action": "create", "name": name, "checkpoint_type": None, "checkpoint_type_option": None}]
    # there: found by its exact name
    present = lookalikes + [checkpoint(6, name, parent=5)]
    assert plan(vm(checkpoints=present, current=6), name=name).checkpoint["id"] == cp_id(6)
    assert plan(vm(checkpoints=present, current=6), name=name, state="absent").actions[0]["checkpoint_ids"] == ids(6)


def test_star_name_does_not_match_ab_when_deleting():
    record = vm(checkpoints=[checkpoint(1, "ab"), checkpoint(2, "abc", parent=1)], current=2)
    result = plan(record, name="a*", state="absent")
    assert result.actions == []


def test_names_match_as_hyperv_compares_them_case_aside():
    record = vm(checkpoints=[checkpoint(1, "Nightly")], current=1)
    assert plan(record, name="NIGHTLY").checkpoint["id"] == cp_id(1)
    assert plan(record, name="nightly", state="absent").actions[0]["checkpoint_ids"] == ids(1)
    assert plan(record, name="nightLY", state="restored").actions[0]["checkpoint_id"] == cp_id(1)


def test_names_equal_but_for_case_are_ambiguous_even_with_an_exact_match():
    record = vm(checkpoints=[checkpoint(1, "Nightly"), checkpoint(2, "nightly", parent=1)], current=2)
    error = refusal(record, name="nightly")
    assert error.code == "ambiguous"
    assert [match["id"] for match in error.details["matches"]] == ids(1, 2)
    assert plan(record, name="NIGHTLY", state="absent", all_with_name=True).actions[0]["checkpoint_ids"] == ids(1, 2)


def test_a_missing_checkpoint_names_the_closest_ones():
    record = vm(checkpoints=[checkpoint(1, "before patching"), checkpoint(2, "nightly", parent=1)], current=2)
    error = refusal(record, name="before patchng", state="restored")
    assert error.code == "checkpoint_not_found"
    assert error.message.endswith("did you mean 'before patching'?")
    assert "did you mean" not in refusal(record, name="zzz", state="restored").message


def test_renaming_only_the_case_is_a_rename_and_a_case_variant_of_another_name_is_in_use():
    record = vm(checkpoints=[checkpoint(1, "nightly"), checkpoint(2, "weekly", parent=1)], current=2)
    assert plan(record, name="nightly", new_name="Nightly").actions[0]["new_name"] == "Nightly"
    assert refusal(record, name="nightly", new_name="WEEKLY").code == "name_in_use"
    renamed = vm(checkpoints=[checkpoint(1, "Nightly")], current=1)
    assert plan(renamed, name="nightly", new_name="Nightly").actions == []


def test_name_of_100_characters_is_fine():
    assert plan(vm(), name="x" * 100).actions[0]["name"] == "x" * 100


@pytest.mark.parametrize("state", ["present", "absent", "restored"])
@pytest.mark.parametrize("name", ["x" * 101, "", "   ", "\t"])
def test_name_too_long_or_blank_is_refused(state, name):
    error = refusal(two_level(), name=name, state=state)
    assert error.code == "invalid_option"


def test_name_too_long_message_names_the_limit():
    assert "at most 100" in refusal(vm(), name="y" * 101).message


# state=present with new_name: rename ------------------------------------------------------------


def test_rename():
    result = plan(two_level(), name="b", new_name="b-renamed")
    assert result.actions == [{"action": "rename", "checkpoint_id": cp_id(2), "name": "b", "new_name": "b-renamed"}]
    assert result.checkpoint["id"] == cp_id(2)
    assert result.checkpoint["name"] == "b-renamed"


def test_rename_by_checkpoint_id():
    result = plan(two_level(), checkpoint_id=cp_id(4).upper(), new_name="d2")
    assert result.actions == [{"action": "rename", "checkpoint_id": cp_id(4), "name": "d", "new_name": "d2"}]


def test_rename_already_renamed_is_no_change():
    record = vm(checkpoints=[checkpoint(1, "after")], current=1)
    result = plan(record, name="before", new_name="after")
    assert result.actions == []
    assert result.checkpoint["id"] == cp_id(1)


def test_rename_to_the_same_name_is_no_change():
    result = plan(two_level(), name="c", new_name="c")
    assert result.actions == []
    assert result.checkpoint["id"] == cp_id(3)


def test_rename_missing_is_checkpoint_not_found():
    error = refusal(two_level(), name="nope", new_name="other")
    assert error.code == "checkpoint_not_found"
    assert "nope" in error.message


def test_rename_missing_id_is_not_found_even_when_the_new_name_exists():
    error = refusal(two_level(), checkpoint_id=cp_id(77), new_name="b")
    assert error.code == "checkpoint_not_found"


def test_rename_ambiguous():
    record = vm(checkpoints=[checkpoint(1, "dup"), checkpoint(2, "dup", parent=1)])
    error = refusal(record, name="dup", new_name="unique")
    assert error.code == "ambiguous"
    assert [m["id"] for m in error.details["matches"]] == ids(1, 2)


def test_rename_picks_among_duplicates_by_id():
    record = vm(checkpoints=[checkpoint(1, "dup"), checkpoint(2, "dup", parent=1)])
    assert plan(record, checkpoint_id=cp_id(2), new_name="unique").actions[0]["checkpoint_id"] == cp_id(2)


def test_rename_does_not_touch_recovery_checkpoints():
    record = vm(checkpoints=[checkpoint(1, "veeam", snapshot_type="Recovery")])
    assert refusal(record, name="veeam", new_name="mine").code == "checkpoint_not_found"


@pytest.mark.parametrize("new_name", ["z" * 101, "", "  "])
def test_rename_bad_new_name_is_refused(new_name):
    error = refusal(two_level(), name="b", new_name=new_name)
    assert error.code == "invalid_option"
    assert "new_name" in error.message


# state=absent ------------------------------------------------------------------------------------


def test_absent_by_name():
    result = plan(two_level(), name="d", state="absent")
    assert result.actions == [{"action": "remove", "checkpoint_ids": ids(4), "names": ["d"],
                               "include_children": False, "removes": ids(4)}]
    assert result.checkpoint["id"] == cp_id(4)


def test_absent_by_id():
    result = plan(two_level(), checkpoint_id=cp_id(2).upper(), state="absent")
    assert result.actions[0]["checkpoint_ids"] == ids(2)
    assert result.actions[0]["removes"] == ids(2)


@pytest.mark.parametrize("options", [{"name": "missing"}, {"checkpoint_id": cp_id(99)}])
def test_absent_missing_is_no_change(options):
    result = plan(two_level(), state="absent", **options)
    assert result.changed is False
    assert result.actions == []
    assert result.checkpoint is None


def test_absent_duplicates_are_ambiguous():
    record = vm(checkpoints=[checkpoint(1, "dup"), checkpoint(2, "dup", parent=1)])
    error = refusal(record, name="dup", state="absent")
    assert error.code == "ambiguous"
    assert "all_with_name" in error.message
    assert [m["id"] for m in error.details["matches"]] == ids(1, 2)


def test_absent_all_with_name_removes_every_duplicate():
    record = vm(checkpoints=[checkpoint(1, "dup"), checkpoint(2, "keep", parent=1), checkpoint(3, "dup", parent=2)])
    result = plan(record, name="dup", state="absent", all_with_name=True)
    assert result.actions == [{"action": "remove", "checkpoint_ids": ids(1, 3), "names": ["dup", "dup"],
                               "include_children": False, "removes": ids(1, 3)}]


def test_absent_include_children_removes_the_descendants():
    result = plan(two_level(), name="b", state="absent", include_children=True)
    assert result.actions == [{"action": "remove", "checkpoint_ids": ids(2), "names": ["b"],
                               "include_children": True, "removes": ids(2, 3)}]
    whole = plan(two_level(), name="a", state="absent", include_children=True)
    assert whole.actions[0]["removes"] == ids(1, 2, 3, 4)


def test_absent_include_children_prediction():
    record = two_level()
    result = plan(record, name="b", state="absent", include_children=True)
    after, current = planner.predict_checkpoints(record, result.actions)
    assert [cp["id"] for cp in after] == ids(1, 4)
    assert current == cp_id(1)  # c was current; Now moves up to a


def test_absent_never_selects_recovery_checkpoints():
    record = vm(checkpoints=[checkpoint(1, "nightly", snapshot_type="Recovery"),
                             checkpoint(2, "nightly", parent=1),
                             checkpoint(3, "backup", snapshot_type="Replica", parent=2)], current=3)
    assert plan(record, name="nightly", state="absent").actions[0]["checkpoint_ids"] == ids(2)
    assert plan(record, name="backup", state="absent").actions == []


@pytest.mark.parametrize("state", ["absent", "restored"])
def test_recovery_checkpoint_by_id_is_not_a_user_checkpoint(state):
    record = vm(checkpoints=[checkpoint(1, "veeam", snapshot_type="Recovery"), checkpoint(2, "mine", parent=1)])
    error = refusal(record, checkpoint_id=cp_id(1), state=state)
    assert error.code == "not_a_user_checkpoint"
    assert cp_id(1) in error.message


# state=absent without name or id: clean-up ---------------------------------------------------------


def cleanup_vm():
    """Checkpoints in a line, created in the order of the list below (oldest first)."""
    specs = [("ci-1", 30), ("keep-me", 20), ("ci-2", 10), ("xci-3", 6), ("ci-3", 5), ("CI-4", 4), ("ci-4", 2)]
    checkpoints = [checkpoint(n + 1, name, parent=n if n else None, created=ago(days=days))
                   for n, (name, days) in enumerate(specs)]
    checkpoints.append(checkpoint(50, "ci-backup", parent=7, created=ago(days=40), snapshot_type="Recovery"))
    checkpoints.reverse()  # the planner sorts by creation_time, not list order
    return vm(checkpoints=checkpoints, current=7)


def removed_names(result):
    return result.actions[0]["names"] if result.actions else []


def test_cleanup_by_prefix_oldest_first():
    result = plan(cleanup_vm(), state="absent", name_prefix="ci-")
    assert removed_names(result) == ["ci-1", "ci-2", "ci-3", "ci-4"]
    assert result.actions[0]["checkpoint_ids"] == ids(1, 3, 5, 7)
    assert result.checkpoint is None


def test_cleanup_prefix_is_literal():
    record = vm(checkpoints=[checkpoint(1, "ci*1"), checkpoint(2, "ci-2", parent=1)])
    assert removed_names(plan(record, state="absent", name_prefix="ci*")) == ["ci*1"]


def test_cleanup_by_pattern():
    assert removed_names(plan(cleanup_vm(), state="absent", name_pattern="*ci-[13]")) == ["ci-1", "xci-3", "ci-3"]
    assert removed_names(plan(cleanup_vm(), state="absent", name_pattern="CI-*")) == ["CI-4"]


def test_cleanup_older_than():
    assert removed_names(plan(cleanup_vm(), state="absent", name_prefix="ci-", older_than="7d")) == ["ci-1", "ci-2"]
    assert removed_names(plan(cleanup_vm(), state="absent", name_prefix="ci-", older_than=str(6 * 86400))) == [
        "ci-1", "ci-2"]
    assert removed_names(plan(cleanup_vm(), state="absent", name_prefix="ci-", older_than="5d")) == ["ci-1", "ci-2"]
    assert removed_names(plan(cleanup_vm(), state="absent", name_prefix="ci-", older_than="119h")) == [
        "ci-1", "ci-2", "ci-3"]


def test_cleanup_keep_newest():
    assert removed_names(plan(cleanup_vm(), state="absent", name_prefix="ci-", keep_newest=1)) == [
        "ci-1", "ci-2", "ci-3"]
    assert removed_names(plan(cleanup_vm(), state="absent", name_prefix="ci-", keep_newest=3)) == ["ci-1"]
    assert removed_names(plan(cleanup_vm(), state="absent", name_prefix="ci-", keep_newest=0)) == [
        "ci-1", "ci-2", "ci-3", "ci-4"]


@pytest.mark.parametrize("keep", [4, 5, 100])
def test_cleanup_keeping_at_least_all_is_no_change(keep):
    result = plan(cleanup_vm(), state="absent", name_prefix="ci-", keep_newest=keep)
    assert result.changed is False
    assert result.actions == []


def test_cleanup_combinations():
    # prefix and pattern must both match
    assert removed_names(plan(cleanup_vm(), state="absent", name_prefix="ci-", name_pattern="*[34]")) == [
        "ci-3", "ci-4"]
    # keep the newest 2 matching, of the rest only those older than 7 days
    assert removed_names(plan(cleanup_vm(), state="absent", name_prefix="ci-", older_than="7d",
                              keep_newest=2)) == ["ci-1", "ci-2"]
    assert removed_names(plan(cleanup_vm(), state="absent", name_prefix="ci-", older_than="20d",
                              keep_newest=2)) == ["ci-1"]
    assert removed_names(plan(cleanup_vm(), state="absent", name_pattern="*ci-*", older_than="1d",
                              keep_newest=3)) == ["ci-1", "ci-2"]


def test_cleanup_never_selects_recovery_checkpoints():
    result = plan(cleanup_vm(), state="absent", name_pattern="*", keep_newest=0)
    assert cp_id(50) not in result.actions[0]["checkpoint_ids"]
    assert cp_id(50) not in result.actions[0]["removes"]
    assert len(result.actions[0]["checkpoint_ids"]) == 7


def test_cleanup_with_include_children_refuses_a_subtree_holding_backup_checkpoints():
    error = refusal(cleanup_vm(), state="absent", name_prefix="ci-", older_than="20d", include_children=True)
    assert error.code == "not_a_user_checkpoint"
    assert "ci-backup [Recovery]" in error.message


def test_cleanup_with_include_children():
    record = cleanup_vm()
    record["checkpoints"] = [cp for cp in record["checkpoints"] if cp["snapshot_type"] == "Standard"]
    result = plan(record, state="absent", name_prefix="ci-", older_than="20d", include_children=True)
    action = result.actions[0]
    assert action["checkpoint_ids"] == ids(1)
    assert action["include_children"] is True
    assert action["removes"] == sorted(ids(1, 2, 3, 4, 5, 6, 7))


def test_cleanup_keep_newest_with_include_children_is_refused():
    error = refusal(cleanup_vm(), state="absent", name_prefix="ci-", keep_newest=1, include_children=True)
    assert error.code == "invalid_option"
    assert "include_children" in error.message


def test_rename_onto_a_name_in_use_is_refused():
    record = vm(checkpoints=[checkpoint(1, "old"), checkpoint(2, "taken", parent=1)])
    error = refusal(record, name="old", new_name="taken")
    assert error.code == "name_in_use"
    assert cp_id(2) in error.message


def test_cleanup_without_selector_is_refused():
    assert spec_errors(state="absent") == [
        "state is absent but any of the following are missing: name, checkpoint_id, name_prefix, name_pattern"]


def test_cleanup_with_only_older_than_is_refused():
    assert refusal(cleanup_vm(), state="absent", older_than="1d").code == "invalid_option"


def test_cleanup_negative_keep_newest_is_refused():
    error = refusal(cleanup_vm(), state="absent", name_prefix="ci-", keep_newest=-1)
    assert error.code == "invalid_option"
    assert "-1" in error.message


@pytest.mark.parametrize("older_than", ["0", "0d", "soon", "-1d", "1.5d"])
def test_cleanup_bad_older_than_is_refused(older_than):
    error = refusal(cleanup_vm(), state="absent", name_prefix="ci-", older_than=older_than)
    assert error.code == "invalid_option"
    assert "older_than" in error.message


def test_cleanup_blank_prefix_is_refused():
    record = cleanup_vm()
    try:
        result = plan(record, state="absent", name_prefix="")
    except PlanError as error:
        assert error.code == "invalid_option"
    else:
        pytest.fail("name_prefix='' planned to remove %s" % removed_names(result))


def test_cleanup_blank_pattern_is_refused():
    assert refusal(cleanup_vm(), state="absent", name_pattern=" ").code == "invalid_option"


def test_select_for_cleanup_directly():
    checkpoints = [checkpoint(1, "b", created=ago(days=1)), checkpoint(2, "a", created=ago(days=3))]
    assert [cp["id"] for cp in planner.select_for_cleanup(checkpoints, NOW)] == ids(2, 1)
    assert [cp["id"] for cp in planner.select_for_cleanup(checkpoints, NOW, older_than=2 * 86400)] == ids(2)
    assert planner.select_for_cleanup(checkpoints, NOW, prefix="c") == []
    assert [cp["id"] for cp in planner.select_for_cleanup(checkpoints, NOW, keep_newest=1)] == ids(2)


# state=restored -----------------------------------------------------------------------------------


def test_restored_is_always_a_restore():
    result = plan(two_level(), name="b", state="restored")
    assert result.changed is True
    assert result.actions == [{"action": "restore", "checkpoint_id": cp_id(2), "name": "b",
                               "power_state": "previous"}]
    assert result.checkpoint["id"] == cp_id(2)
    assert result.needs_quiet_vm is False


def test_restored_right_after_creation_is_still_changed():
    record = vm(checkpoints=[checkpoint(1, "fresh", created=ago(seconds=1))], current=1)
    result = plan(record, name="fresh", state="restored")
    assert result.changed is True
    assert result.actions[0]["checkpoint_id"] == cp_id(1)


@pytest.mark.parametrize("power_state", ["running", "off", "as_checkpoint", "previous"])
def test_restored_power_state_is_passed(power_state):
    result = plan(two_level(), checkpoint_id=cp_id(4), state="restored", power_state=power_state)
    assert result.actions[0]["power_state"] == power_state


def test_restored_power_state_defaults_to_previous():
    minimal = {"state": "restored", "name": "b"}
    assert planner.plan(minimal, two_level(), NOW).actions[0]["power_state"] == "previous"
    assert plan(two_level(), name="b", state="restored", power_state=None).actions[0]["power_state"] == "previous"


def test_restored_ambiguous():
    record = vm(checkpoints=[checkpoint(1, "dup"), checkpoint(2, "dup", parent=1)])
    error = refusal(record, name="dup", state="restored")
    assert error.code == "ambiguous"
    assert [m["id"] for m in error.details["matches"]] == ids(1, 2)


@pytest.mark.parametrize("options", [{"name": "nope"}, {"checkpoint_id": cp_id(99)}])
def test_restored_not_found(options):
    error = refusal(two_level(), state="restored", **options)
    assert error.code == "checkpoint_not_found"


# predict_checkpoints and render_tree ---------------------------------------------------------------


def test_predict_create_makes_the_new_checkpoint_current_child_of_the_old_current():
    record = two_level()
    result = plan(record, name="new")
    after, current = planner.predict_checkpoints(record, result.actions)
    assert current == "(new)"
    assert after[-1] == {"id": "(new)", "name": "new", "parent_id": cp_id(3), "creation_time": "(now)",
                         "snapshot_type": "Standard"}
    assert len(after) == 5


def test_predict_create_uses_the_id_of_a_performed_action():
    record = two_level()
    performed = [dict(plan(record, name="new").actions[0], done=True, checkpoint_id="fresh-id")]
    after, current = planner.predict_checkpoints(record, performed)
    assert current == "fresh-id"
    assert after[-1]["id"] == "fresh-id"


def test_render_tree_after_create():
    record = vm(checkpoints=chain("a", "b"), current=2)
    after, current = planner.predict_checkpoints(record, plan(record, name="new").actions)
    first, second = record["checkpoints"]
    assert render_tree(after, current) == (
        "a [%s] %s\n"
        "  b [%s] %s\n"
        "    new [(new)] (now)  <- Now\n"
        % (first["id"], first["creation_time"], second["id"], second["creation_time"]))


def test_predict_removing_the_current_checkpoint_makes_its_parent_current():
    record = two_level()
    after, current = planner.predict_checkpoints(record, plan(record, name="c", state="absent").actions)
    assert [cp["id"] for cp in after] == ids(1, 2, 4)
    assert current == cp_id(2)
    assert "b [%s]" % cp_id(2) in render_tree(after, current).splitlines()[1]
    assert render_tree(after, current).splitlines()[1].endswith("<- Now")


def test_predict_removing_a_middle_checkpoint_reparents_its_children():
    record = two_level()
    after, current = planner.predict_checkpoints(record, plan(record, name="b", state="absent").actions)
    assert {cp["id"]: cp["parent_id"] for cp in after} == {cp_id(1): None, cp_id(3): cp_id(1), cp_id(4): cp_id(1)}
    assert current == cp_id(3)


def test_predict_removing_every_checkpoint_leaves_no_current():
    record = two_level()
    after, current = planner.predict_checkpoints(record, plan(record, name="a", state="absent",
                                                              include_children=True).actions)
    assert (after, current) == ([], None)
    assert render_tree(after, current) == "(Now: no checkpoint above the running state)\n"


def test_predict_rename():
    record = two_level()
    before = copy.deepcopy(record)
    after, current = planner.predict_checkpoints(record, plan(record, name="d", new_name="delta").actions)
    assert [cp["name"] for cp in after] == ["a", "b", "c", "delta"]
    assert current == cp_id(3)
    assert record == before  # the VM record is not changed
    assert "  delta [%s]" % cp_id(4) in render_tree(after, current)


def test_predict_restore_moves_now():
    record = two_level()
    after, current = planner.predict_checkpoints(record, plan(record, name="d", state="restored").actions)
    assert current == cp_id(4)
    assert [cp["id"] for cp in after] == ids(1, 2, 3, 4)
    lines = render_tree(after, current).splitlines()
    marked = [line for line in lines if line.endswith("<- Now")]
    assert len(marked) == 1 and marked[0].startswith("  d [%s]" % cp_id(4))


def test_render_tree_shape():
    record = two_level()
    lines = render_tree(record["checkpoints"], cp_id(3)).splitlines()
    assert [line.split(" [")[0] for line in lines] == ["a", "  b", "    c", "  d"]
    assert lines[2].endswith("  <- Now")
    assert sum(line.endswith("<- Now") for line in lines) == 1


def test_render_tree_without_current():
    text = render_tree(chain("a"), None)
    assert text.splitlines() == ["a [%s] %s" % (cp_id(1), chain("a")[0]["creation_time"]),
                                 "(Now: no checkpoint above the running state)"]


# parse_time --------------------------------------------------------------------------


def test_parse_time_seven_fractional_digits_and_z():
    value = planner.parse_time("2026-11-25T13:35:15.1234567Z")
    assert value == datetime.datetime(2026, 11, 25, 13, 35, 15, 123456, tzinfo=UTC)
    assert value.utcoffset() == datetime.timedelta(0)


@pytest.mark.parametrize("text, expected", [
    ("2026-11-25T13:35:15Z", datetime.datetime(2026, 11, 25, 13, 35, 15, tzinfo=UTC)),
    ("2026-11-25T13:35:15", datetime.datetime(2026, 11, 25, 13, 35, 15, tzinfo=UTC)),
    ("2026-11-25T13:35:15.5Z", datetime.datetime(2026, 11, 25, 13, 35, 15, 500000, tzinfo=UTC)),
    ("2026-11-25T13:35:15.1234567+02:00", datetime.datetime(2026, 11, 25, 11, 35, 15, 123456, tzinfo=UTC)),
    ("2026-11-25T13:35:15-05:30", datetime.datetime(2026, 11, 25, 19, 5, 15, tzinfo=UTC)),
    ("2026-01-01T00:30:00.0000000+01:00", datetime.datetime(2025, 12, 31, 23, 30, 0, tzinfo=UTC)),
    ("2026-11-25T13:35:15+00:00", datetime.datetime(2026, 11, 25, 13, 35, 15, tzinfo=UTC)),
])
def test_parse_time_offsets(text, expected):
    value = planner.parse_time(text)
    assert value == expected
    assert value.utcoffset() == datetime.timedelta(0)


@pytest.mark.parametrize("text", ["", "yesterday", "2026-11-25", "2026-11-25 13:35:15Z", "2026-11-25T13:35Z",
                                  "2026-11-25T13:35:15.Z", "2026-11-25T13:35:15+0200"])
def test_parse_time_bad_values(text):
    with pytest.raises(ValueError):
        planner.parse_time(text)


def test_age_seconds():
    assert planner.age_seconds({"creation_time": ago(hours=2)}, NOW) == 7200.0
    assert planner.age_seconds({"creation_time": "2026-11-25T13:00:00+02:00"}, NOW) == 3600.0


# checkpoint_view ------------------------------------------------------------------------------------


def test_checkpoint_view():
    record = two_level()
    view = planner.checkpoint_view(record["checkpoints"][2], record)
    assert view == {"id": cp_id(3), "name": "c", "vm_name": "web01", "vm_id": VM_ID, "snapshot_type": "Standard",
                    "kind": "unknown", "creation_time": record["checkpoints"][2]["creation_time"], "parent_id": cp_id(2),
                    "is_current": True}
    assert planner.checkpoint_view(record["checkpoints"][0], record)["is_current"] is False
    assert planner.checkpoint_view(None, record) is None
