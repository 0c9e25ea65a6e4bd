# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documentation of hyperv_checkpoint_type matches its action plugin and renders with ansible-doc."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from ansible_collections.hyperv.checkpoint.plugins.action.hyperv_checkpoint_type import ActionModule
from ansible_collections.hyperv.checkpoint.plugins.modules import hyperv_checkpoint_type as module_doc

FQCN = "hyperv.checkpoint.hyperv_checkpoint_type"
ANSIBLE_DOC = pathlib.Path(sys.executable).parent / "ansible-doc"
SPEC_KEYS = ("type", "default", "choices", "elements")


@pytest.fixture(scope="module")
def documentation():
    return yaml.safe_load(module_doc.DOCUMENTATION)


@pytest.fixture(scope="module")
def examples():
    return yaml.safe_load(module_doc.EXAMPLES)


@pytest.fixture(scope="module")
def returns():
    return yaml.safe_load(module_doc.RETURN)


def test_the_module_file_is_documentation_only():
    names = {name for name in vars(module_doc) if not name.startswith("__")}
    assert names == {"DOCUMENTATION", "EXAMPLES", "RETURN"}


def test_documentation_header(documentation):
    assert documentation["module"] == "hyperv_checkpoint_type"
    assert documentation["version_added"] == "0.1.0"
    assert documentation["short_description"]
    assert documentation["description"]
    assert documentation["author"]


def test_documented_options_equal_the_argument_spec(documentation):
    documented = documentation["options"]
    spec = ActionModule.ARGUMENT_SPEC
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        doc = documented[name]
        assert doc.get("description"), name
        for key in SPEC_KEYS:
            # A key the spec leaves out means None (no default, no choices); bool defaults must match exactly.
            assert doc.get(key) == option.get(key), (name, key, doc.get(key), option.get(key))
            assert type(doc.get(key)) is type(option.get(key)), (name, key)
        assert set(option) <= set(SPEC_KEYS), "spec key the test does not compare: %s" % name
        unknown = set(doc) - {"description", "type", "default", "choices", "elements", "version_added"}
        assert not unknown, (name, unknown)


def test_attributes(documentation):
    attributes = documentation["attributes"]
    assert attributes["check_mode"]["support"] == "full"
    assert attributes["diff_mode"]["support"] == "full"
    assert attributes["platform"]["platforms"] == "windows"
    for attribute in attributes.values():
        assert attribute["description"]


def test_notes_and_seealso(documentation):
    notes = " ".join(documentation["notes"])
    for text in ("controller", "delegate_to", "Hyper-V PowerShell module", "WinRM", "Hyper-V Administrators",
                 "no checkpoints", "case-insensitively"):
        assert text in notes, text
    seealso = documentation["seealso"]
    modules = [entry.get("module") for entry in seealso]
    assert "hyperv.checkpoint.hyperv_checkpoint" in modules
    assert "hyperv.checkpoint.hyperv_checkpoint_info" in modules
    links = [entry for entry in seealso if "link" in entry]
    assert any("choose-between-standard-or-production-checkpoints" in entry["link"] for entry in links)
    for entry in links:
        assert entry["name"] and entry["description"]


def test_description_explains_a_type_change_on_a_running_vm(documentation):
    text = " ".join(documentation["description"])
    assert "running" in text
    assert "after the change" in text
    assert "existing checkpoints" in text
    assert "Off" in text


def test_examples_parse_and_use_the_module(examples):
    assert isinstance(examples, list) and examples
    tasks = [task for task in examples if FQCN in task]
    assert len(tasks) >= 6
    for task in tasks:
        assert task.get("name")
        assert set(task[FQCN]) <= set(ActionModule.ARGUMENT_SPEC), task["name"]
    used = [task[FQCN] for task in tasks]
    assert any(options.get("checkpoint_type") == "production_only" for options in used)
    assert any(options.get("checkpoint_type") == "standard" for options in used)
    assert any(options.get("all_vms") and options.get("automatic_checkpoints") is False for options in used)
    assert any(options.get("vm_id") for options in used)
    assert any(task.get("check_mode") for task in tasks)
    assert all(task.get("delegate_to") for task in tasks)


def test_return_parses_and_describes_the_result(returns):
    assert set(returns) >= {"changed", "vms", "error_code", "error_details"}
    vms = returns["vms"]
    assert vms["type"] == "list" and vms["elements"] == "dict"
    contains = vms["contains"]
    assert set(contains) == {"name", "id", "state", "changed", "before", "after"}
    for side in ("before", "after"):
        assert set(contains[side]["contains"]) == {"checkpoint_type", "automatic_checkpoints", "checkpoint_location"}
    for name, value in returns.items():
        assert value["description"] and value["returned"] and value["type"], name


def test_ansible_doc_renders_the_module():
    completed = subprocess.run([str(ANSIBLE_DOC), "-t", "module", FQCN], capture_output=True, text=True,
                               env=dict(os.environ), timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    assert "was not found" not in completed.stderr, completed.stderr
    assert "checkpoint_type" in completed.stdout
    assert "production_only" in completed.stdout


def test_ansible_doc_json_has_the_options():
    completed = subprocess.run([str(ANSIBLE_DOC), "-t", "module", "--json", FQCN], capture_output=True, text=True,
                               env=dict(os.environ), timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    doc = json.loads(completed.stdout)[FQCN]
    assert sorted(doc["doc"]["options"]) == sorted(ActionModule.ARGUMENT_SPEC)
    assert doc["examples"]
    assert doc["return"]["vms"]["contains"]["after"]


# The option contract the documentation states, checked with Ansible's own validator -------------------------

def _validate(parameters):
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    validator = ArgumentSpecValidator(ActionModule.ARGUMENT_SPEC, mutually_exclusive=ActionModule.MUTUALLY_EXCLUSIVE,
                                      required_one_of=ActionModule.REQUIRED_ONE_OF)
    return validator.validate(parameters)


def test_explicit_all_vms_false_with_vm_is_accepted():
    # all_vms: "{{ patch_all_vms | default(false) }}" next to a vm list is a natural way to write a task;
    # all_vms=true with vm is refused by the action itself (integration target main.yml).
    result = _validate({"vm": ["web01"], "all_vms": False, "checkpoint_type": "standard"})
    assert result.error_messages == []
