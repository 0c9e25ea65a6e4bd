# -*- coding: utf-8 -*-
"""_safe_change_groups: application groups decided from the members' runs."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_groups as groups

from hyperv_records import NOW
from safe_change_fixtures import state


def member(host, group="shop", order=0, ready=True, **changes):
    return state(host=host, vm=host, group=group, group_order=order, group_ready=ready, prefix="safe_change",
                 requested_by="jane", proceed=False, **changes)


def test_a_ready_group_takes_its_checkpoints_together_under_one_time_stamp():
    batch = {"db01": member("db01", order=0), "web01": member("web01", order=1), "solo": state(host="solo")}
    formed = groups.form(batch, ["db01", "web01", "solo"], {"shop": ["db01", "web01"]}, NOW)
    assert formed["create"] == ["db01", "web01"]
    assert formed["runs"]["db01"]["checkpoint_name"] == formed["runs"]["web01"]["checkpoint_name"] == \
        "safe_change CHG0042 by jane 2026-11-25T12:00:00Z"
    assert formed["groups"]["shop"]["members"] == ["db01", "web01"] and formed["groups"]["shop"]["problem"] is None
    assert formed["runs"]["solo"] == batch["solo"]


def test_one_refused_member_refuses_the_whole_group():
    batch = {"a": member("a"), "b": member("b", ready=False, outcome="skipped",
                                           reason="Pre-flight refused the change: VM 'b' on hv01: it is Off. "
                                                  "Nothing was changed.")}
    formed = groups.form(batch, ["a", "b"], {"shop": ["a", "b"]}, NOW)
    assert formed["create"] == []
    for host in ("a", "b"):
        assert formed["runs"][host]["reason"].startswith(
            "Pre-flight refused the change: the group shop is refused because its member b was: Pre-flight refused")
        assert formed["runs"][host]["group_cause"] == "b" and not formed["runs"][host]["proceed"]


@pytest.mark.parametrize("play, expected", [
    (["a", "b", "c"], "its members a, b are in this batch, c in another batch of the play"),
    (["a", "b"], "its members a, b are in this batch, c not in the play (limited out"),
])
def test_a_split_group_is_refused(play, expected):
    formed = groups.form({"a": member("a"), "b": member("b")}, play, {"shop": ["a", "b", "c"]}, NOW)
    assert expected in formed["runs"]["a"]["reason"] and formed["create"] == []


def test_left_overs_are_reused_only_as_one_earlier_run_of_the_whole_group():
    run = {"change_id": "CHG1", "time": "2026-11-25T11:00:00Z"}
    whole = {"a": member("a", reuse=dict(run, id="1", name="n1")), "b": member("b", reuse=dict(run, id="2", name="n2"))}
    assert groups.form(whole, ["a", "b"], {"shop": ["a", "b"]}, NOW)["create"] == ["a", "b"]
    partial = {"a": member("a", reuse=dict(run, id="1", name="n1")), "b": member("b")}
    formed = groups.form(partial, ["a", "b"], {"shop": ["a", "b"]}, NOW)
    assert "cannot reuse its left-over checkpoints: they are not one earlier run of the whole group (a: 'n1'; " \
           "b: none)" in formed["runs"]["b"]["reason"]


def test_check_mode_says_what_each_member_would_do():
    batch = {"a": member("a", would=["take checkpoint ..."], check_mode=True)}
    formed = groups.form(batch, ["a"], {"shop": ["a"]}, NOW, check_mode=True)
    assert formed["create"] == [] and formed["runs"]["a"]["would"] == [
        "as member 1 of 1 of the group shop (order 0):", "take checkpoint ..."]


def test_the_gate_withdraws_a_group_one_of_whose_checkpoints_failed():
    formed = groups.form({"a": member("a"), "b": member("b", order=1)}, ["a", "b"], {"shop": ["a", "b"]}, NOW)
    created = {"a": dict(formed["runs"]["a"], proceed=True, checkpoint={"id": "c1", "name": "n"}),
               "b": dict(formed["runs"]["b"], proceed=False, outcome="skipped",
                         reason="The checkpoint could not be taken: disk full. The change was not applied.")}
    gated = groups.gate(formed, created)
    assert gated["runs"]["a"]["withdraw"] and not gated["runs"]["a"]["proceed"]
    assert gated["runs"]["a"]["reason"].startswith("the group shop is withdrawn: the checkpoint of its member b "
                                                   "could not be taken (The checkpoint could not be taken: disk full")
    assert gated["runs"]["a"]["group_cause"] == "b" and gated["levels"] == [0, 1]
    fine = groups.gate(formed, {host: dict(formed["runs"][host], proceed=True) for host in ("a", "b")})
    assert all(fine["runs"][host]["proceed"] for host in ("a", "b"))


def test_the_group_check_names_the_members_that_failed():
    group = {"members": ["a", "b", "c"]}
    assert groups.group_check("a", group, {"a": True, "b": False, "c": True}) == \
        "the group's member b failed its change or its verification, so the whole group is reverted"
    assert groups.group_check("b", group, {"a": True, "b": False, "c": True}) is None  # its own failure speaks
    assert groups.group_check("a", group, {"a": True, "b": True, "c": True}) is None


@pytest.mark.parametrize("size, expected_hosts, expected_sizes", [
    (1, ["p1", "p3", "p2", "p4"], [2, 1, 1]),
    (2, ["p1", "p3", "p2", "p4"], [2, 2]),
    (3, ["p1", "p3", "p2", "p4"], [3, 1]),
    ("50%", ["p1", "p3", "p2", "p4"], [2, 2]),
])
def test_batches_keep_groups_whole(size, expected_hosts, expected_sizes):
    hosts, sizes = groups.batches(["p1", "p2", "p3", "p4"], {"p1": "pos", "p3": "pos"}, size)
    assert (hosts, sizes) == (expected_hosts, expected_sizes)


def test_a_bad_batch_size_is_refused():
    with pytest.raises(ValueError):
        groups.batches(["a"], {}, "0")
