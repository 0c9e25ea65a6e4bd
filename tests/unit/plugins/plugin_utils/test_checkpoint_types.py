# -*- coding: utf-8 -*-
"""_checkpoint_types: a checkpoint type in the options' spelling and in Hyper-V's, either accepted."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as types


@pytest.mark.parametrize("given, option", [
    ("ProductionOnly", "production_only"), ("productiononly", "production_only"), ("PRODUCTION_ONLY", "production_only"),
    ("production_only", "production_only"), ("Production", "production"), ("Standard", "standard"),
    ("Disabled", "disabled"), (" Standard ", "standard"),
])
def test_either_spelling_in_any_case_is_the_option_value(given, option):
    assert types.option_value(given) == option


@pytest.mark.parametrize("given", ["sometimes", "", None, 5])
def test_anything_else_is_left_for_the_argument_spec_to_refuse(given):
    assert types.option_value(given) == given


def test_both_spellings_round_trip():
    for option, host in types.HOST_VALUES.items():
        assert types.option_of(types.host_value(option)) == option and types.host_value(types.option_of(host)) == host
    assert types.with_option({"checkpoint_type": None}) == {"checkpoint_type": None, "checkpoint_type_option": None}
