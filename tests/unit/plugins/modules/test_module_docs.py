# -*- coding: utf-8 -*-
"""Every module's documentation (plugins/modules/*.py, as ansible-doc renders it with its doc fragments) against the
action plugin that implements it.

The documentation files hold only DOCUMENTATION, EXAMPLES and RETURN. These tests check, for every module, that the
documented options are exactly the action plugin's argument spec, that version_added follows galaxy.yml, that the
markup names documented options and return values, that the examples use fully-qualified names and options the action
accepts, that the keys a task returns are documented and the documented keys returned (the actions run against a fake
host), that return records documented in several modules agree, and that ansible-doc renders every module without
warnings. None of them asserts on the wording.
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
from ansible.plugins.loader import fragment_loader
from ansible.utils.plugin_docs import get_docstring

import hyperv_records as records

COLLECTION = "hyperv.checkpoint"
REPO = pathlib.Path(__file__).resolve().parents[4]
MODULES = tuple(sorted(path.stem for path in (REPO / "plugins" / "modules").glob("*.py")))
GALAXY_VERSION = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
ANSIBLE_DOC = pathlib.Path(sys.executable).parent / "ansible-doc"
# Return keys every action may set that Ansible documents itself (common return values).
STANDARD_RETURN_KEYS = {"changed", "failed", "msg", "warnings", "diff", "skipped"}
# Task keywords that are not module names (on top of Task's attributes).
BLOCK_KEYWORDS = {"block", "rescue", "always"}
FQCN = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+$")
# What each module supports, as its attributes must say.
SUPPORT = {
    "hyperv_checkpoint": {"check_mode": "full", "diff_mode": "full"},
    "hyperv_checkpoint_info": {"check_mode": "full", "diff_mode": "none"},
    "hyperv_checkpoint_type": {"check_mode": "full", "diff_mode": "full"},
    "hyperv_host_probe": {"check_mode": "none", "diff_mode": "none"},
    "safe_change_step": {"check_mode": "full", "diff_mode": "none"},
    "safe_change_hold": {"check_mode": "full", "diff_mode": "none"},
    "safe_change_batches": {"check_mode": "full", "diff_mode": "none"},
}
# Modules that do not run on the Hyper-V host only: the role's steps (on the guest too), the batches (the controller).
NOT_ONLY_ON_THE_HOST = ("safe_change_step", "safe_change_batches")


def doc_module(name):
    return importlib.import_module("ansible_collections.hyperv.checkpoint.plugins.modules.%s" % name)


def action_module(name):
    return importlib.import_module("ansible_collections.hyperv.checkpoint.plugins.action.%s" % name)


_DOCS = {}


def rendered(name):
    """(documentation with its fragments merged, examples, return) as ansible-doc reads them."""
    if name not in _DOCS:
        doc, examples, returns, dummy = get_docstring(doc_module(name).__file__, fragment_loader,
                                                      collection_name=COLLECTION, is_module=True)
        # Plain Python values (ansible-core 2.19 tags what it parsed), as ansible-doc --json writes them.
        _DOCS[name] = tuple(json.loads(json.dumps(yaml.safe_load(part) if isinstance(part, str) else part))
                            for part in (doc, examples, returns))
    return _DOCS[name]


def documentation(name):
    return rendered(name)[0]


def examples(name):
    return rendered(name)[1]


def returns(name):
    return rendered(name)[2]


def spec(name):
    return action_module(name).ActionModule.ARGUMENT_SPEC


def version(text):
    return tuple(int(part) for part in str(text).split("."))


# The file and the header -----------------------------------------------------------------


@pytest.mark.parametrize("name", MODULES)
def test_doc_file_holds_only_the_three_strings(name):
    module = doc_module(name)
    public = {key for key in vars(module) if not key.startswith("__")}
    assert public == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    for key in public:
        assert isinstance(getattr(module, key), str)


@pytest.mark.parametrize("name", MODULES)
def test_header(name):
    doc = documentation(name)
    assert doc["module"] == name
    assert doc["short_description"] and doc["description"] and doc["author"]
    assert isinstance(doc["options"], dict)


def versions_added(node):
    """Every version_added below a documentation or return mapping."""
    if isinstance(node, dict):
        found = [node["version_added"]] if "version_added" in node else []
        for value in node.values():
            found.extend(versions_added(value))
        return found
    if isinstance(node, list):
        return [found for item in node for found in versions_added(item)]
    return []


@pytest.mark.parametrize("name", MODULES)
def test_version_added_follows_galaxy_yml(name):
    """Nothing is added in a version after the one galaxy.yml builds, and nothing inside a module before it."""
    doc = documentation(name)
    assert version(doc["version_added"]) <= version(GALAXY_VERSION)
    for added in versions_added(doc["options"]) + versions_added(returns(name)):
        assert version(doc["version_added"]) < version(added) <= version(GALAXY_VERSION), added


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
        if want != got or type(want) is not type(got):
            mismatches[option] = {"documented": got, "argument_spec": want}
    assert mismatches == {}


@pytest.mark.parametrize("name", MODULES)
def test_every_option_has_a_description(name):
    for option, option_doc in documentation(name)["options"].items():
        description = option_doc.get("description")
        description = [description] if isinstance(description, str) else description
        assert description, option
        assert all(isinstance(line, str) and line.strip() for line in description), option


def text_of(options, option):
    description = options[option]["description"]
    return description if isinstance(description, str) else " ".join(description)


@pytest.mark.parametrize("name", MODULES)
def test_option_relations_are_documented(name):
    """Each mutually exclusive pair and each required_one_of group is named in the options' descriptions or notes."""
    action = action_module(name).ActionModule
    options = documentation(name)["options"]
    notes = " ".join(documentation(name).get("notes") or [])
    for first, second in action.MUTUALLY_EXCLUSIVE:
        assert "O(%s)" % second in text_of(options, first), (first, second)
        assert "O(%s)" % first in text_of(options, second), (first, second)
    for group in action.REQUIRED_ONE_OF:
        for option in group:
            assert all("O(%s)" % other in text_of(options, option) + notes for other in group if other != option), group


@pytest.mark.parametrize("name", MODULES)
def test_module_attributes(name):
    attributes = documentation(name)["attributes"]
    assert {key: attributes[key]["support"] for key in ("check_mode", "diff_mode")} == SUPPORT[name]
    if name not in NOT_ONLY_ON_THE_HOST:
        assert attributes["platform"] == dict(attributes["platform"], support="full", platforms="windows")
        assert attributes["action"]["support"] == "full" and attributes["async"]["support"] == "none"
    for attribute in attributes.values():
        assert attribute["description"]


MARKUP = re.compile(r"\b(O|RV|M)\(([^)=]+)")


@pytest.mark.parametrize("name", MODULES)
def test_markup_references_exist(name):
    """O(...) names a documented option, RV(...) a documented return value, M(...) a module of ours or a FQCN."""
    options = set(documentation(name)["options"])
    return_keys = set(returns(name))
    text = json.dumps(documentation(name)) + json.dumps(returns(name))
    for kind, target in MARKUP.findall(text):
        top = re.split(r"[.\[]", target, maxsplit=1)[0]
        if kind == "O":
            assert top in options, "O(%s)" % target
        elif kind == "RV":
            assert top in return_keys, "RV(%s)" % target
        else:
            assert FQCN.match(target), "M(%s)" % target
            if target.startswith(COLLECTION + "."):
                assert target.split(".")[-1] in MODULES, "M(%s)" % target


# EXAMPLES ------------------------------------------------------------------------------------


def example_tasks(tasks):
    """Every task in a list of tasks (or of plays), blocks flattened."""
    for task in tasks:
        if "hosts" in task:
            for section in ("pre_tasks", "tasks", "post_tasks"):
                yield from example_tasks(task.get(section) or [])
        elif BLOCK_KEYWORDS & set(task):
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
    # safe_change_step's example is the role that runs it.
    assert "%s.%s" % (COLLECTION, name) in used or name == "safe_change_step"


def placeholder(value, option_spec):
    """A templated value stands for a value of the option's type."""
    if isinstance(value, str) and "{{" in value:
        return {"str": "x", "int": 1, "bool": True, "list": ["x"], "dict": {}, "raw": "x"}[option_spec.get("type", "str")]
    return value


@pytest.mark.parametrize("name", MODULES)
def test_examples_give_valid_options(name):
    """Every example task of this collection's modules passes the action plugin's own option checks."""
    checked = 0
    for task in example_tasks(examples(name)):
        module = module_of(task)
        if not module.startswith(COLLECTION + "."):
            continue
        action = action_module(module.split(".")[-1]).ActionModule
        args = task[module] or {}
        unknown = set(args) - set(action.ARGUMENT_SPEC)
        assert not unknown, "task %r: unknown options %s" % (task.get("name"), sorted(unknown))
        params = {key: placeholder(value, action.ARGUMENT_SPEC[key]) for key, value in args.items()}
        validator = ArgumentSpecValidator(action.ARGUMENT_SPEC, mutually_exclusive=action.MUTUALLY_EXCLUSIVE,
                                          required_one_of=action.REQUIRED_ONE_OF, required_if=action.REQUIRED_IF)
        result = validator.validate(params)
        assert not result.error_messages, "task %r: %s" % (task.get("name"), result.error_messages)
        action.check_options(result.validated_parameters)
        checked += 1
    assert checked or name == "safe_change_step"


@pytest.mark.parametrize("name", [name for name in MODULES if name != "safe_change_step"])
def test_examples_delegating_a_task_for_several_vms_run_it_once(name):
    """A task that names VMs in a list (or all of them) and is delegated to a fixed host runs once, not per guest."""
    for task in example_tasks(examples(name)):
        module = module_of(task)
        args = task[module] or {}
        several = isinstance(args.get("vm"), list) or args.get("all_vms") or (
            module.endswith("_info") and not args.get("vm") and not args.get("vm_id"))
        if module.startswith(COLLECTION + ".") and several and "{{" not in str(task.get("delegate_to", "{{")):
            assert task.get("run_once"), task.get("name")


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

    def get_vms_and_missing(self, names=(), ids=(), all_vms=False, include_checkpoints=True, include_sizes=False,
                            report_missing=True):
        missing = [{"vm": "app99", "error_code": "vm_not_found", "msg": "No VM 'app99' on host HV01",
                    "error_details": {"vm": "app99", "computer_name": "HV01", "suggestions": []}}]
        return HOST_RECORD, [self.vm], missing if report_missing else []


class FakeTypeHost(FakeHost):
    def set_checkpoint_settings(self, changes):
        return [without_checkpoints(dict(self.vm, checkpoint_type="ProductionOnly"))]


class FakeProbeHost(FakeHost):
    def probe(self, vm_id, experiment):
        return {"experiment": experiment, "observations": {"state_after_restore": "Running"}, "host": HOST_RECORD}


FAKES = {"hyperv_checkpoint_type": FakeTypeHost, "hyperv_host_probe": FakeProbeHost}


def run_action(monkeypatch, name, args, vm, check_mode=False, diff=False):
    module = action_module(name)
    if hasattr(module, "time"):  # the merge wait polls with time.sleep
        monkeypatch.setattr(module.time, "sleep", lambda seconds: None)
    task = SimpleNamespace(args=dict(args), check_mode=check_mode, diff=diff, async_val=0, action=name,
                           delegate_to=None)
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir=None))
    action = module.ActionModule(task, connection, None, None, None)
    fake = FAKES.get(name, FakeHost)(vm)
    monkeypatch.setattr(action, "hyperv_host", lambda task_vars, timeout, follow=True: action.tracked(fake))
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


def info_scenarios(monkeypatch):
    vm = vm_record([checkpoint_record(1, "baseline", hours_ago=400),
                    checkpoint_record(2, "backup", parent=1, hours_ago=1, snapshot_type="Recovery")],
                   type_override={"original_type": "Production", "live": False})
    return [run_action(monkeypatch, "hyperv_checkpoint_info", {"vm": ["app01"], "name_pattern": "b*",
                                                               "older_than": "1d", "on_missing": "report"}, vm),
            run_action(monkeypatch, "hyperv_checkpoint_info", {"vm": [""]}, vm)]


def type_scenarios(monkeypatch):
    return [run_action(monkeypatch, "hyperv_checkpoint_type", {"vm": ["app01"], "checkpoint_type": "ProductionOnly"},
                       vm_record()),
            run_action(monkeypatch, "hyperv_checkpoint_type", {"vm": ["app01"]}, vm_record())]


def probe_scenarios(monkeypatch):
    return [run_action(monkeypatch, "hyperv_host_probe", {"vm": "app01"}, vm_record()),
            run_action(monkeypatch, "hyperv_host_probe", {"vm": "app01"}, vm_record([checkpoint_record(1, "a")]))]


SCENARIOS = {"hyperv_checkpoint": checkpoint_scenarios, "hyperv_checkpoint_info": info_scenarios,
             "hyperv_checkpoint_type": type_scenarios, "hyperv_host_probe": probe_scenarios}


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


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_returned_keys_are_documented_and_documented_keys_are_returned(monkeypatch, name):
    ret = returns(name)
    seen = set()
    for result in SCENARIOS[name](monkeypatch):
        payload = {key: value for key, value in result.items() if key not in STANDARD_RETURN_KEYS}
        seen |= assert_documented(payload, ret, "")
    assert documented_paths(ret, "") - seen - {".changed"} == set()


# Return records documented in several modules agree -------------------------------------------

def record_at(name, path):
    node = {"contains": returns(name)}
    for key in path:
        node = node["contains"][key]
    return node["contains"]


# The same record, documented where each module returns it.
SHARED_RECORDS = {
    "checkpoint": [("hyperv_checkpoint", ("checkpoint",)), ("hyperv_checkpoint_info", ("vms", "checkpoints"))],
    "settings": [("hyperv_checkpoint_type", ("vms", "before")), ("hyperv_checkpoint_info", ("vms",))],
}


@pytest.mark.parametrize("record", sorted(SHARED_RECORDS))
def test_copies_of_a_return_record_agree(record):
    """A field that two modules document for the same record has the same type, elements and version_added."""
    places = SHARED_RECORDS[record]
    fields = [record_at(name, path) for name, path in places]
    shared = set(fields[0]).intersection(*fields[1:])
    assert shared, record
    for key in sorted(shared):
        shapes = {tuple((attribute, str(field[key].get(attribute))) for attribute in ("type", "elements", "version_added"))
                  for field in fields}
        assert len(shapes) == 1, (record, key, shapes)


# ansible-doc ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ansible_doc_json():
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    assert env.get("ANSIBLE_COLLECTIONS_PATH"), "the root conftest.py sets ANSIBLE_COLLECTIONS_PATH"
    fqcns = ["%s.%s" % (COLLECTION, name) for name in MODULES]
    completed = subprocess.run([str(ANSIBLE_DOC), "-t", "module", "--json"] + fqcns, env=env, capture_output=True,
                               text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    assert "[WARNING]" not in completed.stderr and "[DEPRECATION" not in completed.stderr, completed.stderr
    return json.loads(completed.stdout)


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_json(ansible_doc_json, name):
    data = ansible_doc_json["%s.%s" % (COLLECTION, name)]
    doc = data["doc"]
    assert set(doc["options"]) == set(spec(name))
    for option, option_spec in spec(name).items():
        assert doc["options"][option]["type"] == option_spec["type"]
        assert doc["options"][option].get("default") == option_spec.get("default")
        assert doc["options"][option].get("choices") == option_spec.get("choices")
    assert set(data["return"]) == set(returns(name))
    assert data["examples"].strip()


def test_ansible_doc_text_renders_every_module_without_warnings():
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    completed = subprocess.run([str(ANSIBLE_DOC), "-t", "module"] + ["%s.%s" % (COLLECTION, name) for name in MODULES],
                               env=env, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout + completed.stderr
    assert "[WARNING]" not in output and "[DEPRECATION" not in output and "[ERROR]" not in output, completed.stderr
    for name in MODULES:
        assert "%s.%s" % (COLLECTION, name) in completed.stdout
