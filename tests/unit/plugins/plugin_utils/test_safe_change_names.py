# -*- coding: utf-8 -*-
"""_safe_change_names: the names safe_change gives its checkpoints, and what they say back."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_names as names

from hyperv_records import NOW


def test_the_name_says_who_what_and_when():
    assert names.build_name("safe_change", " CHG0042 ", "jane  doe", NOW) == \
        "safe_change CHG0042 by jane_doe 2026-11-25T12:00:00Z"
    assert names.build_name("safe_change", "CHG1", "", NOW) == "safe_change CHG1 2026-11-25T12:00:00Z"
    assert names.build_name("pw", "CHG1", "x" * 40, NOW) == "pw CHG1 by %s 2026-11-25T12:00:00Z" % ("x" * 24)
    assert names.build_name("safe_change", "CHG1", "ops", NOW, manual=True).endswith("Z manual")


@pytest.mark.parametrize("name, expected", [
    ("safe_change CHG0042 by jane 2026-11-25T12:00:00Z",
     dict(change_id="CHG0042", who="jane", time="2026-11-25T12:00:00Z", manual=False, kept_until=None,
          revert_failed=False, parsed=True)),
    ("safe_change CHG 42 by x by jane 2026-11-25T12:00:00Z manual",
     dict(change_id="CHG 42 by x", who="jane", manual=True, parsed=True)),
    ("safe_change CHG1 2026-11-25T12:00:00Z kept-until 2026-11-26T12:00:00Z",
     dict(change_id="CHG1", who=None, kept_until="2026-11-26T12:00:00Z", parsed=True)),
    ("safe_change CHG1 by a 2026-11-25T12:00:00Z revert-failed", dict(change_id="CHG1", revert_failed=True)),
    ("safe_change renamed by hand kept-until 2026-11-26T12:00:00Z",
     dict(parsed=False, change_id=None, kept_until="2026-11-26T12:00:00Z")),
    ("safe_change something manual", dict(parsed=False, manual=True)),
])
def test_parse_reads_back_what_build_wrote(name, expected):
    parsed = names.parse(name, "safe_change")
    assert {key: getattr(parsed, key) for key in expected} == expected


def test_only_names_with_the_prefix_and_a_space_are_ours():
    assert names.parse("safe_changeX CHG1 by a 2026-11-25T12:00:00Z", "safe_change") is None
    assert names.parse("nightly", "safe_change") is None
    assert names.parse("other CHG1 by a 2026-11-25T12:00:00Z", "other").change_id == "CHG1"


def test_suffixes_replace_each_other_instead_of_piling_up():
    base = "safe_change CHG1 by a 2026-11-25T12:00:00Z"
    kept = names.kept_name(base, NOW + datetime.timedelta(hours=2))
    assert kept == base + " kept-until 2026-11-25T14:00:00Z"
    assert names.kept_name(kept, NOW) == base + " kept-until 2026-11-25T12:00:00Z"
    assert names.revert_failed_name(kept) == base + " revert-failed"
    assert names.adopted_name(base + " manual") == base


def test_the_longest_form_of_a_name_is_the_one_checked_against_the_limit():
    base = "safe_change CHG1 by a 2026-11-25T12:00:00Z"
    assert names.longest_name(base, 0, NOW) == base + " revert-failed"
    assert names.longest_name(base, 5, NOW) == base + " kept-until 2026-11-25T17:00:00Z"


def test_times_are_utc_whatever_they_are_given_in():
    cet = datetime.timezone(datetime.timedelta(hours=1))
    assert names.format_time(datetime.datetime(2026, 11, 25, 13, 0, tzinfo=cet)) == "2026-11-25T12:00:00Z"
    assert names.format_time(NOW.timestamp()) == "2026-11-25T12:00:00Z"
