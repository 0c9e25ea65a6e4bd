# -*- coding: utf-8 -*-
"""_names: names compared as Hyper-V compares them (case aside, literally) and the closest names for a hint."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._names import (
    closest_names,
    did_you_mean,
    name_key,
    named,
    same_name,
)


@pytest.mark.parametrize("left, right", [("web01", "WEB01"), ("Prüfung", "PRÜFUNG"), ("a*", "A*"), ("", "")])
def test_names_equal_but_for_case_are_the_same_name(left, right):
    assert same_name(left, right)


@pytest.mark.parametrize("left, right", [("web01", "web0?"), ("web01", "web01 "), ("a*", "ab"), ("straße", "STRASSE")])
def test_names_are_otherwise_literal(left, right):
    assert not same_name(left, right)


def test_a_character_whose_upper_case_is_longer_stays_as_it_is():
    # .NET's simple case mapping has no one-character upper case of ß; Python's full mapping makes it SS.
    assert name_key("ß") == "ß" and name_key("straße") == "STRAßE"


def test_named_finds_every_case_variant_in_order():
    records = [{"name": "Nightly"}, {"name": "weekly"}, {"name": "nightly"}]
    assert named(records, "NIGHTLY") == [records[0], records[2]]
    assert named(records, "night*") == []


def test_closest_names_ignore_case_and_keep_the_hosts_spelling():
    assert closest_names("WEB1", ["web01", "db01", "Web02", "mail"]) == ["web01", "Web02"]
    assert closest_names("zzz", ["web01"]) == []
    assert did_you_mean("web1", ["web01"]) == "; did you mean 'web01'?"
    assert did_you_mean("zzz", ["web01"]) == ""
