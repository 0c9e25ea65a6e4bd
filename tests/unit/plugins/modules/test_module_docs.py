# -*- coding: utf-8 -*-
"""The modules' documentation (plugins/modules/*.py) against the action plugins that implement them.

The documentation files hold only DOCUMENTATION, EXAMPLES and RETURN. These tests check that
they parse, that the documented options are exactly the action plugin's ARGUMENT_SPEC, that
the examples use fully-qualified module names and valid option combinations, that the keys a
task returns are documented (by running the action plugins against a fake host), and that
ansible-doc renders both modules without warnings.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import pathlib
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.playbook.task import Task

import hyperv_records as records

COLLECTION = "hyperv.checkpoint"
MODULES = ("hyperv_checkpoint", "hyperv_checkpoint_info")
ANSIBLE_DOC = pathlib.Path(sys.executable).parent / "ansible-doc"
# Return keys every action may set that Ansible documents itself (common return values).
STANDARD_RETURN_KEYS = {"changed", "failed", "msg", "warnings", "diff", "skipped"}
# Task keywords that are not module names (on top of Task's attributes).
BLOCK_KEYWORDS = {"block", "rescue", "always"}
FQCN = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+$")


def doc_module(name):
    return importlib.import_module("ansible_collections.hyperv.checkpoint.plugins.modules.%s" % name)


def action_module(name):
    return importlib.import_module("ansible_collections.hyperv.checkpoint.plugins.action.%s" % name)


def documentation(name):
    return yaml.safe_load(doc_module(name).DOCUMENTATION)


def examples(name):
    return yaml.safe_load(doc_module(name).EXAMPLES)


def returns(name):
    return yaml.safe_load(doc_module(name).RETURN)


def spec(name):
    return action_module(name).ActionModule.ARGUMENT_SPEC


# Parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODULES)
def test_doc_file_holds_only_the_three_strings(name):
    module = doc_module(name)
    public = {key for key in vars(module) if not key.startswith("__")}
    assert public == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    for key in public:
        assert isinstance(getattr(module, key), str)


@pytest.mark.parametrize("name", MODULES)
def test_documentation_parses(name):
    doc = documentation(name)
    assert isinstance(doc, dict)
    assert doc["module"] == name
    assert doc["short_description"]
    assert doc["version_added"] == "0.1.0"
    assert isinstance(doc["description"], list) and doc["description"]
    assert isinstance(doc["options"], dict)
    assert doc["author"]
    assert doc["notes"]


@pytest.mark.parametrize("name", MODULES)
def test_examples_parse(name):
    tasks = examples(name)
    assert isinstance(tasks, list) and tasks
    assert all(isinstance(task, dict) for task in tasks)


@pytest.mark.parametrize("name", MODULES)
def test_return_parses(name):
    ret = returns(name)
    assert isinstance(ret, dict) and ret
    for key, value in ret.items():
        assert {"description", "returned", "type"} <= set(value), key


# Options against ARGUMENT_SPEC ------------------------------------------------------------


@pytest.mark.parametrize("name", MODULES)
def test_documented_option_names_equal_argument_spec(name):
    assert set(documentation(name)["options"]) == set(spec(name))


@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize("field", ["type", "default", "choices", "elements", "required"])
def test_documented_option_fields_equal_argument_spec(name, field):
    documented = documentation(name)["options"]
    fallback = {"type": "str", "default": None, "choices": None, "elements": None, "required": False}[field]
    mismatches = {}
    for option, option_spec in spec(name).items():
        want = option_spec.get(field, fallback)
        got = documented[option].get(field, fallback)
        if field == "type":
            # The type is always written out, never left to the str default.
            got = documented[option].get("type")
        if got != want:
            mismatches[option] = {"documented": got, "argument_spec": want}
    assert mismatches == {}


@pytest.mark.parametrize("name", MODULES)
def test_every_option_has_a_description(name):
    for option, option_doc in documentation(name)["options"].items():
        description = option_doc.get("description")
        assert description, option
        assert all(isinstance(line, str) and line.strip() for line in description), option


@pytest.mark.parametrize("name", MODULES)
def test_option_relations_are_documented(name):
    """Each mutually exclusive pair and each required_one_of group is named in the options' descriptions."""
    action = action_module(name).ActionModule
    options = documentation(name)["options"]

    def text(option):
        return " ".join(options[option]["description"])

    for first, second in action.MUTUALLY_EXCLUSIVE:
        assert "O(%s)" % second in text(first), (first, second)
        assert "O(%s)" % first in text(second), (first, second)
    for group in action.REQUIRED_ONE_OF:
        for option in group:
            assert all("O(%s)" % other in text(option) for other in group if other != option), group


@pytest.mark.parametrize("name", MODULES)
def test_module_attributes(name):
    doc = documentation(name)
    attributes = doc["attributes"]
    assert attributes["check_mode"]["support"] == "full"
    assert attributes["diff_mode"]["support"] == ("full" if name == "hyperv_checkpoint" else "none")
    assert attributes["platform"]["support"] == "full"
    assert attributes["platform"]["platforms"] == "windows"
    for attribute in attributes.values():
        assert attribute["description"]
    seealso = doc["seealso"]
    modules = {entry["module"] for entry in seealso if "module" in entry}
    assert modules == {"%s.%s" % (COLLECTION, other) for other in MODULES + ("hyperv_checkpoint_type",)
                       if other != name}
    links = [entry["link"] for entry in seealso if "link" in entry]
    assert "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/checkpoints" in links


MARKUP = re.compile(r"\b(O|RV|M)\(([^)=]+)")


@pytest.mark.parametrize("name", MODULES)
def test_markup_references_exist(name):
    """O(...) names a documented option, RV(...) a documented return value, M(...) a FQCN."""
    module = doc_module(name)
    options = set(documentation(name)["options"])
    return_keys = set(returns(name))
    for kind, target in MARKUP.findall(module.DOCUMENTATION + module.RETURN):
        top = re.split(r"[.\[]", target, maxsplit=1)[0]
        if kind == "O":
            assert top in options, "O(%s)" % target
        elif kind == "RV":
            assert top in return_keys, "RV(%s)" % target
        else:
            assert FQCN.match(target), "M(%s)" % target


# EXAMPLES ------------------------------------------------------------------------------------


def example_tasks(tasks):
    """Every task in a list of tasks, blocks flattened."""
    for task in tasks:
        if BLOCK_KEYWORDS & set(task):
            for keyword in BLOCK_KEYWORDS:
                yield from example_tasks(task.get(keyword) or [])
        else:
            yield task


def module_of(task):
    keywords = set(Task.fattributes) | BLOCK_KEYWORDS
    candidates = [key for key in task if key not in keywords and not key.startswith("with_")]
    assert len(candidates) == 1, "task %r: cannot tell its module from %r" % (task.get("name"), candidates)
    return candidates[0]


@pytest.mark.parametrize("name", MODULES)
def test_examples_use_fully_qualified_module_names(name):
    used = set()
    for task in example_tasks(examples(name)):
        assert "action" not in task and "local_action" not in task, task.get("name")
        module = module_of(task)
        assert FQCN.match(module), "task %r uses %r" % (task.get("name"), module)
        used.add(module)
    assert "%s.%s" % (COLLECTION, name) in used


def placeholder(value, option_spec):
    """A templated value stands for a value of the option's type."""
    if isinstance(value, str) and "{{" in value:
        return {"str": "x", "int": 1, "bool": True, "list": ["x"]}[option_spec.get("type", "str")]
    return value


@pytest.mark.parametrize("name", MODULES)
def test_examples_give_valid_options(name):
    """Every example task of this collection's modules passes the action plugin's own option checks."""
    checked = 0
    for task in example_tasks(examples(name)):
        module = module_of(task)
        if not module.startswith(COLLECTION + "."):
            continue
        short = module.split(".")[-1]
        action = action_module(short)
        argument_spec = action.ActionModule.ARGUMENT_SPEC
        args = task[module] or {}
        unknown = set(args) - set(argument_spec)
        assert not unknown, "task %r: unknown options %s" % (task.get("name"), sorted(unknown))
        params = {key: placeholder(value, argument_spec[key]) for key, value in args.items()}
        validator = ArgumentSpecValidator(
            argument_spec,
            mutually_exclusive=action.ActionModule.MUTUALLY_EXCLUSIVE,
            required_one_of=action.ActionModule.REQUIRED_ONE_OF,
            required_if=action.ActionModule.REQUIRED_IF,
        )
        result = validator.validate(params)
        assert not result.error_messages, "task %r: %s" % (task.get("name"), result.error_messages)
        if hasattr(action, "check_options"):
            action.check_options(result.validated_parameters)
        checked += 1
    assert checked


# Returned keys against RETURN (the action plugins run against a fake host) ------------------

VM_ID = "3f2a8c1e-9d4b-4e7a-b5c6-0a1b2c3d4e5f"


def iso(hours_ago):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def checkpoint_record(number, name, parent=None, hours_ago=10, snapshot_type="Standard"):
    return {
        "id": "0000cafe-0000-4000-8000-%012d" % number,
        "name": name,
        "vm_id": VM_ID,
        "vm_name": "app01",
        "parent_id": None if parent is None else "0000cafe-0000-4000-8000-%012d" % parent,
        "parent_name": None,
        "creation_time": iso(hours_ago),
        "snapshot_type": snapshot_type,
        "is_automatic": False,
        "has_memory_state": False,
        "size_bytes": 1024 * number,
    }


def vm_record(checkpoints=(), merging=False, type_override=None):
    """A VM record with every key of docs/host-protocol.md, plus its checkpoints; the VM runs from the last one."""
    checkpoints = list(checkpoints)
    return records.vm(name="app01", checkpoints=checkpoints, current=checkpoints[-1]["id"] if checkpoints else None,
                      checkpoint_type="Production", merging=merging, vm_id=VM_ID, type_override=type_override)


HOST_RECORD = {
    "computer_name": "HV01",
    "os_caption": "Microsoft Windows Server 2022 Datacenter",
    "os_version": "10.0.20348",
    "supports_checkpoint_type": True,
    "supports_automatic_checkpoints": True,
    "time": iso(0),
}


def without_checkpoints(vm):
    return {key: value for key, value in vm.items() if key != "checkpoints"}


class FakeHost:
    """Answers like HyperVHost, from one VM record; merges end at the next read."""

    host_name = "hv01"

    def __init__(self, vm):
        self.vm = vm

    def get_vm_with_checkpoints(self, name=None, vm_id=None, include_sizes=False):
        vm = self.vm
        self.vm = dict(vm, merging=False, secondary_status=None)
        return HOST_RECORD, vm

    def get_vm(self, name=None, vm_id=None):
        return without_checkpoints(dict(self.vm, merging=False))

    def get_vms(self, names=(), ids=(), all_vms=False, include_checkpoints=True, include_sizes=False):
        return HOST_RECORD, [self.vm]

    def create_checkpoint(self, vm_id, name, checkpoint_type=None, known_ids=(), min_free_bytes=0, since=None,
                          vm_type=None):
        created = checkpoint_record(99, name, hours_ago=0)
        return {"checkpoint": created, "taken_type": "standard", "fell_back": True, "type_restore_error": None,
                "name_repaired": False, "type_override_repaired": None,
                "vm": without_checkpoints(dict(self.vm, current_checkpoint_id=created["id"]))}

    def remove_checkpoints(self, vm_id, ids, include_children=False, merge_grace_seconds=0):
        return {"removed": list(ids), "merge": "running", "vm": without_checkpoints(dict(self.vm, merging=True))}

    def restore_checkpoint(self, vm_id, checkpoint_id, power_state):
        return {"previous_state": "Running", "state_after_restore": "Off",
                "vm": without_checkpoints(dict(self.vm, current_checkpoint_id=checkpoint_id))}

    def rename_checkpoint(self, vm_id, checkpoint_id, new_name):
        found = next(cp for cp in self.vm["checkpoints"] if cp["id"] == checkpoint_id)
        return dict(found, name=new_name)


def run_action(monkeypatch, name, args, vm, check_mode=False, diff=False):
    module = action_module(name)
    if hasattr(module, "time"):  # the merge wait polls with time.sleep
        monkeypatch.setattr(module.time, "sleep", lambda seconds: None)
    task = SimpleNamespace(args=dict(args), check_mode=check_mode, diff=diff, async_val=0, action=name,
                           delegate_to=None)
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir=None))
    action = module.ActionModule(task, connection, None, None, None)
    fake = FakeHost(vm)
    monkeypatch.setattr(action, "hyperv_host", lambda task_vars, timeout: fake)
    return action.run(task_vars={})


def checkpoint_scenarios(monkeypatch):
    """Results of hyperv_checkpoint for every kind of action, in check mode and for real."""
    base = [checkpoint_record(1, "baseline", hours_ago=400), checkpoint_record(2, "CHG0041", parent=1, hours_ago=200),
            checkpoint_record(3, "CHG0042", parent=2, hours_ago=20)]
    runs = [
        ({"vm": "app01", "name": "new one", "checkpoint_type": "production"}, vm_record(base, merging=True), False),
        ({"vm": "app01", "name": "new one"}, vm_record(base), True),
        ({"vm": "app01", "name": "CHG0042"}, vm_record(base), False),
        ({"vm": "app01", "name": "CHG0042", "new_name": "kept"}, vm_record(base), False),
        ({"vm": "app01", "name": "CHG0041", "state": "restored"}, vm_record(base), False),
        ({"vm": "app01", "state": "absent", "name_prefix": "CHG", "keep_newest": 1}, vm_record(base), False),
        ({"vm": "app01", "state": "absent", "name": "CHG0041", "include_children": True}, vm_record(base), True),
        ({"vm": "app01", "name": "CHG0042", "max_age": "1h"}, vm_record(base), False),
    ]
    return [run_action(monkeypatch, "hyperv_checkpoint", args, vm, check_mode=check, diff=True)
            for args, vm, check in runs]


def assert_documented(value, documented, path):
    """Every key in ``value`` is documented in ``documented`` (a RETURN mapping), recursively."""
    seen = set()
    if isinstance(value, list):
        for item in value:
            seen |= assert_documented(item, documented, path + "[]")
        return seen
    if not isinstance(value, dict):
        return seen
    for key, item in value.items():
        assert key in documented, "%s.%s is returned but not documented" % (path, key)
        seen.add("%s.%s" % (path, key))
        if "contains" in documented[key]:
            seen |= assert_documented(item, documented[key]["contains"], "%s.%s" % (path, key))
    return seen


def documented_paths(documented, path):
    paths = set()
    for key, value in documented.items():
        here = "%s.%s" % (path, key)
        paths.add(here)
        if "contains" in value:
            inner = here + "[]" if value["type"] == "list" else here
            paths |= documented_paths(value["contains"], inner)
    return paths


@pytest.mark.parametrize("name", MODULES)
def test_returned_keys_are_documented_and_documented_keys_are_returned(monkeypatch, name):
    if name == "hyperv_checkpoint":
        results = checkpoint_scenarios(monkeypatch)
    else:
        vm = vm_record([checkpoint_record(1, "baseline", hours_ago=400),
                        checkpoint_record(2, "backup", parent=1, hours_ago=1, snapshot_type="Recovery")],
                       type_override={"original_type": "Production", "live": False})
        results = [run_action(monkeypatch, name, {"vm": ["app01"], "name_pattern": "b*", "older_than": "1d"}, vm),
                   run_action(monkeypatch, name, {"vm": [""]}, vm)]
    ret = returns(name)
    seen = set()
    for result in results:
        payload = {key: value for key, value in result.items() if key not in STANDARD_RETURN_KEYS}
        seen |= assert_documented(payload, ret, "")
    # Documented keys that only show in the "actions" entries of other kinds of action are
    # covered by the scenarios above; every documented key must have been seen.
    assert documented_paths(ret, "") - seen == set()


# ansible-doc ---------------------------------------------------------------------------------


def run_ansible_doc(*args):
    env = dict(os.environ)
    assert env.get("ANSIBLE_COLLECTIONS_PATH"), "the root conftest.py sets ANSIBLE_COLLECTIONS_PATH"
    env["ANSIBLE_NOCOLOR"] = "1"
    return subprocess.run([str(ANSIBLE_DOC), *args], env=env, capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_json(name):
    fqcn = "%s.%s" % (COLLECTION, name)
    completed = run_ansible_doc("-t", "module", fqcn, "--json")
    assert completed.returncode == 0, completed.stderr
    data = json.loads(completed.stdout)
    doc = data[fqcn]["doc"]
    assert set(doc["options"]) == set(spec(name))
    for option, option_spec in spec(name).items():
        assert doc["options"][option]["type"] == option_spec["type"]
        assert doc["options"][option].get("default") == option_spec.get("default")
        assert doc["options"][option].get("choices") == option_spec.get("choices")
    assert set(data[fqcn]["return"]) == set(returns(name))
    assert data[fqcn]["examples"].strip()


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_text_renders_without_warnings(name):
    fqcn = "%s.%s" % (COLLECTION, name)
    completed = run_ansible_doc("-t", "module", fqcn)
    assert completed.returncode == 0, completed.stderr
    assert fqcn in completed.stdout
    assert "OPTIONS" in completed.stdout and "RETURN VALUES" in completed.stdout
    output = completed.stdout + completed.stderr
    assert "[WARNING]" not in output and "[DEPRECATION" not in output and "[ERROR]" not in output, completed.stderr
