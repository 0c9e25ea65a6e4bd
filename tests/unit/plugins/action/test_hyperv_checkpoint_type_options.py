# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hyperv_checkpoint_type's options: the argument spec's rules and check_options."""

from __future__ import annotations

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.hyperv.checkpoint.plugins.action.hyperv_checkpoint_type import ActionModule, check_options
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import OptionError


def validated(**parameters):
    validator = ArgumentSpecValidator(ActionModule.ARGUMENT_SPEC, mutually_exclusive=ActionModule.MUTUALLY_EXCLUSIVE,
                                      required_one_of=ActionModule.REQUIRED_ONE_OF)
    result = validator.validate(parameters)
    assert result.error_messages == []
    return check_options(result.validated_parameters)


def test_explicit_all_vms_false_with_vm_is_accepted():
    # all_vms: "{{ patch_all_vms | default(false) }}" next to a vm list is a natural way to write a task.
    assert validated(vm=["web01"], all_vms=False, checkpoint_type="standard")["vm"] == ["web01"]


@pytest.mark.parametrize("parameters", [
    {"vm": ["web01"], "all_vms": True, "checkpoint_type": "standard"},
    {"checkpoint_type": "standard"},
    {"vm": ["web01"], "checkpoint_type": "standard", "operation_timeout": 0},
])
def test_contradictions_are_refused_before_any_connection(parameters):
    with pytest.raises(OptionError):
        validated(**parameters)
