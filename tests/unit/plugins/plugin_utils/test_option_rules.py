# -*- coding: utf-8 -*-
"""option_rules: name options take strings (a lone string is one list entry), without control characters; durations."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import OptionError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._option_rules import (
    normalize_name_options,
    parse_duration,
)

SPEC = {"name": {"type": "str"}, "vm": {"type": "list", "elements": "str"}, "wait": {"type": "bool"}}
NAMES = ("name", "vm")


def refused(**task_args):
    with pytest.raises(OptionError) as caught:
        normalize_name_options(SPEC, NAMES, task_args, {"vm": "; address such a VM by vm_id"})
    return caught.value.message


@pytest.mark.parametrize("value, kind", [(["a", "b"], "a list"), ({"a": 1}, "a dictionary"), (True, "a boolean"),
                                         (7, "a number"), (1.1, "a number")])
def test_a_str_name_option_refuses_what_ansible_would_turn_into_other_text(value, kind):
    message = refused(name=value)
    assert message.startswith("name must be a string, not %s" % kind) and "quote it in YAML" in message


def test_a_lone_string_for_a_list_option_is_one_name_even_with_commas():
    assert normalize_name_options(SPEC, NAMES, {"vm": "web,01"})["vm"] == ["web,01"]


@pytest.mark.parametrize("value, message", [
    (["web01", 5], "vm: entry 2 must be a name (a string), not a number (5)"),
    ({"web01": 1}, "vm must be a list of names, not a dictionary"),
])
def test_a_list_name_option_refuses_non_strings(value, message):
    assert message in refused(vm=value)


@pytest.mark.parametrize("text, code, position", [("a\x00b", "U+0000", 2), ("line\nbreak", "U+000A", 5),
                                                  ("\t", "U+0009", 1), ("x\x7f", "U+007F", 2), ("\x85", "U+0085", 1)])
def test_control_characters_are_refused_with_their_code_and_position(text, code, position):
    assert "name contains the control character %s at position %d" % (code, position) in refused(name=text)
    assert "vm entry 1 contains the control character %s" % code in refused(vm=[text])
    assert refused(vm=[text]).endswith("; address such a VM by vm_id")


@pytest.mark.parametrize("text", ["a'b\"c $(Remove-VM x) `; Remove-VM -Name * ", "Prüfung ✓ 雪 🦄", "x" * 300, "",
                                  "  padded  ", "\u200b zero width", "*?[]"])
def test_other_text_passes_unchanged(text):
    assert normalize_name_options(SPEC, NAMES, {"name": text, "vm": [text]}) == {"name": text, "vm": [text]}


def test_options_that_do_not_name_things_are_left_to_the_argument_spec():
    assert normalize_name_options(SPEC, NAMES, {"wait": "maybe", "name": None}) == {"wait": "maybe", "name": None}


# parse_duration ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, seconds", [
    (90, 90), ("90", 90), ("45s", 45), ("30m", 1800), ("48h", 172800), ("7d", 604800), ("2w", 1209600),
    ("7D", 604800), ("30M", 1800), (" 5 m ", 300), ("1s", 1),
])
def test_parse_duration_units(value, seconds):
    assert parse_duration(value, "older_than") == seconds


def test_parse_duration_none_is_none():
    assert parse_duration(None, "max_age") is None


@pytest.mark.parametrize("value", ["", " ", "abc", "1.5h", "-5", "-5m", "5y", "h", "5 m s", "5mm", "0", "0h", 0, -1,
                                   True, False, 1.5, "1e3"])
def test_parse_duration_bad_values(value):
    with pytest.raises(OptionError) as caught:
        parse_duration(value, "max_age")
    assert caught.value.code == "invalid_option"
    assert "max_age" in caught.value.message
