# -*- coding: utf-8 -*-
"""The controller reads only fields the host protocol declares.

Every string key the action plugins and plugin_utils read (``x["key"]`` or ``x.get("key")``) must be a
field of host_contract (a record or an operation result), a module option, or one of the controller's
own keys listed below with the reason. A misspelt host field (``vm["checkpiont_type"]``) would read
nothing on a real host, and fails here.
"""

from __future__ import annotations

import ast
import pathlib

import pytest
import yaml

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _host_contract as host_contract

REPO = pathlib.Path(__file__).resolve().parents[4]
SOURCES = sorted(path for folder in ("plugins/action", "plugins/plugin_utils")
                 for path in (REPO / folder).glob("*.py") if path.name != "__init__.py")

# Keys the controller reads from its own dicts, not from a host answer.
CONTROLLER_KEYS = {
    # the runner's reply envelope (docs/host-protocol.md, "One operation = one command")
    "ok", "result", "error", "code", "message", "details",
    # plan entries built by the planners and read by the action plugins
    "action", "actions", "removes", "all_with_name", "checkpoint_ids", "warnings", "recovered",
    # HyperVHost marks a result that arrived only after a lost connection and a retry
    "connection_lost",
    # HyperVHost: the default name of a checkpoint a lost create made and the retry renamed
    "renamed_from",
    # report rows computed on the controller (and the host probe's comparison, host_assumptions.compare)
    "age_seconds", "checkpoint_matching", "checkpoint_total", "before", "after", "changed", "status",
    # details of the host's "ambiguous" error; the closest VM names HyperVHost keeps of a "vm_not_found"
    "matches", "suggestions",
    # task variables
    "inventory_hostname", "ansible_delegated_vars", "hostvars", "groups", "all", "ansible_play_name",
    "ansible_play_hosts_all", "ansible_play_batch", "ansible_play_hosts", "safe_change_result", "awx_user_name", "tower_user_name",
    # the controller's environment
    "USER",
    # Ansible's own result keys that an action reads of another's result, and of a low-level command
    "failed", "msg", "error_code", "rc",
    # role meta/argument_specs.yml and role meta/main.yml, as safe_change reads them
    "argument_specs", "main", "options", "dependencies", "role", "name", "_raw_params", "file", "tasks_from",
    # host_vars of delegated tasks and option dicts
    "value", "timeout",
    # durations in seconds that the modules' check_options add to their options
    "max_age_seconds", "older_than_seconds",
    # argument specs (option_rules reads an option's declared type, safe_change_step a role option's default)
    "type", "default",
    # the inventory plugin's host entries ("name:port" or "address") and the connection plugin it loads
    "address", "port", "kerberos_hostname", "winrm",
    # the inventory-style variable that names the connection plugin remote_connection loads
    "ansible_connection",
    # the option of the doc fragment _hyperv_host.FOLLOW; HyperVHost.followed entries (the node followed from, to)
    "follow_vm", "from", "to",
    # request parameters the controller built itself (cluster_follow.addresses_one_vm reads them)
    "All", "Names", "Ids", "Changes",
}


def option_names(options):
    names = set()
    for name, spec in (options or {}).items():
        names.add(name)
        names |= option_names(spec.get("suboptions"))
    return names


def module_options():
    """Options (and suboptions) the modules and the inventory plugin document."""
    names = set()
    for path in list((REPO / "plugins/modules").glob("*.py")) + list((REPO / "plugins/inventory").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DOCUMENTATION":
                names |= option_names(yaml.safe_load(node.value.value)["options"])
    return names


def contract_fields():
    names = set()
    for record in host_contract.RECORDS.values():
        names |= set(record.fields)
    for operation in host_contract.OPERATIONS.values():
        names |= set(operation.result)
    return names


def annotation_nodes(tree):
    """The ids of the nodes inside type annotations: ``Literal["create"]`` reads no key."""
    annotations = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            annotations.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
    return {id(inner) for annotation in annotations if annotation is not None for inner in ast.walk(annotation)}


def keys_read(text):
    """(key, line) for each constant string subscript or .get() argument in Python ``text``, outside annotations."""
    tree = ast.parse(text)
    skipped = annotation_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
                and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
            yield node.slice.value, node.lineno
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield node.args[0].value, node.lineno


def module_returns():
    """Keys the modules document in RETURN: what one action plugin may read of another's result."""
    def keys(spec):
        found = set()
        for name, entry in (spec or {}).items():
            found.add(name)
            if isinstance(entry, dict):
                found |= keys(entry.get("contains"))
        return found

    names = set()
    for path in (REPO / "plugins/modules").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "RETURN":
                names |= keys(yaml.safe_load(node.value.value))
    return names


def role_names():
    """The role's options (meta/argument_specs.yml) and the run state and record its steps declare."""
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import (
        _safe_change_groups,
        _safe_change_preflight,
        _safe_change_record,
        _safe_change_run,
        _safe_change_steps,
    )

    specs = yaml.safe_load((REPO / "roles/safe_change/meta/argument_specs.yml").read_text(encoding="utf-8"))
    return (set(specs["argument_specs"]["main"]["options"]) | set(_safe_change_run.RUN_FIELDS)
            | set(_safe_change_steps.CHECKPOINT_FIELDS) | set(_safe_change_steps.FAILURE_FIELDS)
            | set(_safe_change_steps.CAPTURED_FIELDS) | set(_safe_change_record.RECORD_FIELDS)
            | set(_safe_change_record.COUNT_FIELDS) | set(_safe_change_record.TASK_RESULT_FIELDS)
            | set(_safe_change_record.PHASES) | set(_safe_change_preflight.CHECKPOINT_VIEW_FIELDS)
            | set(_safe_change_record.GROUP_SUMMARY_FIELDS) | set(_safe_change_groups.GROUP_FIELDS)
            | set(_safe_change_groups.FORM_FIELDS) | set(_safe_change_groups.GATE_FIELDS)
            | set(_safe_change_groups.REUSE_FIELDS) | set(_safe_change_steps.Note._fields))


def role_task_variables():
    """The variables the role's task files register or set (``register:``, ``vars:``), which its steps read."""
    def walk(node):
        if isinstance(node, list):
            for item in node:
                yield from walk(item)
        elif isinstance(node, dict):
            if isinstance(node.get("register"), str):
                yield node["register"]
            if isinstance(node.get("vars"), dict):
                yield from node["vars"]
            for key in ("block", "rescue", "always"):
                yield from walk(node.get(key))

    return {name for path in (REPO / "roles/safe_change/tasks").rglob("*.yml")
            for name in walk(yaml.safe_load(path.read_text(encoding="utf-8")))}


KNOWN = contract_fields() | module_options() | module_returns() | role_names() | role_task_variables() | CONTROLLER_KEYS


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.name)
def test_every_key_read_is_declared(path):
    unknown = ["line %d: %r" % (line, key) for key, line in keys_read(path.read_text(encoding="utf-8"))
               if key not in KNOWN]
    assert not unknown, "%s reads keys that neither the host protocol nor the options declare: %s" % (
        path.name, unknown)


def test_the_role_s_registered_results_count_as_declared_and_a_misspelt_one_does_not():
    assert {"__safe_change_prepared", "__safe_change_gate", "__safe_change_verified", "safe_change_phase"} <= KNOWN
    text = "def f(task_vars):\n    return task_vars.get('__safe_change_prepard')\n"
    assert [key for key, line in keys_read(text) if key not in KNOWN] == ["__safe_change_prepard"]


def test_a_misspelt_host_field_is_reported():
    text = "def f(vm, cp):\n    return vm['checkpiont_type'], cp.get('creation_time'), vm['state']\n"
    assert [key for key, line in keys_read(text) if key not in KNOWN] == ["checkpiont_type"]


def test_annotations_read_no_keys():
    text = ("class A(TypedDict):\n    action: Literal['remove']\n\n"
            "def f(vm: dict['x', Any], a: Literal['rename']) -> Literal['restore']:\n"
            "    kept: Literal['other'] = vm['checkpiont_type']\n    return a\n")
    assert [key for key, line in keys_read(text)] == ["checkpiont_type"]


def test_the_module_options_are_found():
    assert {"vm", "name", "state", "keep_newest", "checkpoint_type", "automatic_checkpoints"} <= module_options()
