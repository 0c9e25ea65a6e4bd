# -*- coding: utf-8 -*-
"""_checkpoint_tree: one tree of a VM's checkpoints for descendants, depths, deletes and the text drawing."""

from __future__ import annotations

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_tree import CheckpointTree

from hyperv_records import chain, checkpoint, cp_id


def tree():
    """a(1) -> b(2) -> c(3), a(1) -> d(4), and e(5) whose parent is not listed."""
    return CheckpointTree(chain("a", "b", "c") + [checkpoint(4, "d", parent=1), checkpoint(5, "e", parent=99)])


def test_parents_outside_the_list_make_roots():
    assert tree().parent_of(cp_id(5)) is None and tree().parent_of(cp_id(3)) == cp_id(2)
    assert tree().depths() == {cp_id(1): 0, cp_id(2): 1, cp_id(3): 2, cp_id(4): 1, cp_id(5): 0}


def test_descendants_of_several_roots():
    assert sorted(cp["name"] for cp in tree().descendants([cp_id(2)])) == ["c"]
    assert sorted(cp["name"] for cp in tree().descendants([cp_id(1), cp_id(5)])) == ["b", "c", "d"]


def test_a_delete_moves_children_and_now_up_to_the_nearest_survivor():
    kept, current = tree().without([cp_id(2), cp_id(3)], cp_id(3))
    assert [(cp["name"], cp["parent_id"]) for cp in kept] == [("a", None), ("d", cp_id(1)), ("e", cp_id(99))]
    assert current == cp_id(1)
    assert tree().without([cp_id(1)], None)[1] is None


def test_render_marks_now_and_indents_children():
    lines = tree().render(cp_id(4)).splitlines()
    assert [line.split(" [")[0] for line in lines] == ["a", "  b", "    c", "  d", "e"]
    assert [line for line in lines if line.endswith("<- Now")] == [lines[3]]
    assert CheckpointTree([]).render(None) == "(Now: no checkpoint above the running state)\n"
