# -*- coding: utf-8 -*-
"""The collection's PowerShell scripts pass every pscheck rule (the rules themselves: test_pscheck_rules.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pscheck
from pscheck import HOST_CONTRACT, RUNNER, SCRIPT_DIR, check_file, encoded_command_line, read, shared_text

SCRIPTS = sorted(SCRIPT_DIR.glob("*.ps1"))
SHARED = sorted(SCRIPT_DIR.glob("_*.ps1"))


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.name)
def test_script_passes_every_check(path):
    problems = check_file(path)
    assert not problems, "%s:\n  %s" % (path.name, "\n  ".join(problems))


def test_every_operation_of_the_protocol_has_a_script_and_nothing_else_is_there():
    names = {path.stem for path in SCRIPTS} - {path.stem for path in SHARED} - {"runner"}
    assert names == set(HOST_CONTRACT.OPERATIONS)


def test_runner_command_line_stays_far_below_the_cmd_limit():
    command = encoded_command_line(read(RUNNER))
    assert len(command) < 4096, "runner.ps1: command line of %d characters, the budget is 4096" % len(command)


def copy_shared_files(directory):
    for path in SHARED:
        (directory / path.name).write_text(read(path), encoding="utf-8")


def test_check_file_applies_the_operation_rules_by_file_name(tmp_path):
    copy_shared_files(tmp_path)
    script = tmp_path / "rename_checkpoint.ps1"
    script.write_text("param([string]$VMId, [string]$Id)\nWrite-Host 'hi'\n[ordered]@{ checkpoint = 1 }\n",
                      encoding="utf-8")
    problems = "\n".join(check_file(script))
    assert "param() declares ['VMId', 'Id']" in problems
    assert "Write-Host" in problems
    assert "rename_checkpoint result.checkpoint is int here" in problems


def test_the_command_line_reports_each_problem_with_file_and_line(tmp_path):
    copy_shared_files(tmp_path)
    (tmp_path / "get_vm.ps1").write_text(
        "param([string]$Name, [string]$Id)\n$vm = Hyper-V\\Get-VM -Name $Name\n"
        "[ordered]@{ vm = (ConvertTo-VMRecord -VM $vm) }\n", encoding="utf-8")
    run = subprocess.run([sys.executable, pscheck.__file__, str(tmp_path)], capture_output=True, text=True,
                         check=False)
    assert run.returncode == 1
    assert "get_vm.ps1: line 2: Hyper-V\\Get-VM -name is a wildcard pattern" in run.stdout
    assert "%d PowerShell scripts checked, 1 with problems" % (len(SHARED) + 1) in run.stdout


def test_the_command_line_passes_the_collection():
    run = subprocess.run([sys.executable, pscheck.__file__], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout
    assert "%d PowerShell scripts checked, 0 with problems" % len(SCRIPTS) in run.stdout


def _code_tokens(text):
    """Every leaf of the script's syntax tree but its comments: what PowerShell runs."""
    return [(node.type, pscheck.text_of(node)) for node in pscheck.walk(pscheck.parse(text))
            if not node.children and node.type != "comment"]


@pytest.mark.parametrize("path", [path for path in SCRIPTS if path.name != "runner.ps1"], ids=lambda path: path.name)
def test_the_wire_form_of_a_script_is_the_same_code_on_the_same_lines(path):
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _operation_runner

    text = read(path)
    wire = _operation_runner.wire_form(text)
    assert _code_tokens(wire) == _code_tokens(text)
    assert wire.count("\n") == text.count("\n")
    assert not any(line.lstrip().startswith("#") for line in wire.splitlines())
    assert len(wire) <= len(text)


# What each operation is sent ------------------------------------------------------------------------


def _request(name):
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _operation_runner

    return _operation_runner.request_document(name, {})


@pytest.mark.parametrize("name", sorted(HOST_CONTRACT.OPERATIONS))
def test_each_operation_with_the_functions_it_is_sent_passes_every_check(name):
    # check_file with the request's functions in place of all of them: a call to a shared function that was
    # not sent is "not a catalog cmdlet, a function of the collection's scripts or an allowed built-in".
    common = _request(name)["common"]
    problems = check_file(SCRIPT_DIR / (name + ".ps1"), common_text=common)
    problems += ["sent functions: %s" % problem for problem in pscheck.check_parses(common)]
    problems += ["sent functions: %s" % problem
                 for problem in pscheck.check_known_commands(common, pscheck.defined_functions(common))]
    assert not problems, "%s:\n  %s" % (name, "\n  ".join(problems))


@pytest.mark.parametrize("name", sorted(HOST_CONTRACT.OPERATIONS))
def test_each_operation_is_sent_the_functions_it_calls_and_those_of_the_runner_only(name):
    """The call graph from tree-sitter's commands, independent of the controller's search for names."""
    request = _request(name)
    shared = pscheck.defined_functions(shared_text(SCRIPT_DIR))
    called = set()
    pending = [request["script"], read(RUNNER)]
    bodies = _function_bodies(shared_text(SCRIPT_DIR))
    while pending:
        for written, dummy in pscheck.commands(pscheck.parse(pending.pop())):
            function = written.lower()
            if function in shared and function not in called:
                called.add(function)
                pending.append(bodies[function])
    assert "get-errorcode" in called  # the runner's, for every failure
    assert set(pscheck.defined_functions(request["common"])) == called


def _function_bodies(text):
    return {pscheck.text_of(node.child_by_field_name("function_name") or next(
        child for child in node.children if child.type == "function_name")).lower(): pscheck.text_of(node)
        for node in pscheck.walk(pscheck.parse(text)) if node.type == "function_statement"}


def test_a_read_is_sent_a_fraction_of_the_shared_functions():
    everything = sum(len(read(path)) for path in SHARED)
    assert len(_request("get_vm")["common"]) < everything / 2
