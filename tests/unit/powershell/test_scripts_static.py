# -*- coding: utf-8 -*-
"""Static checks of the PowerShell scripts in plugins/plugin_utils/powershell.

No PowerShell can run on these machines, so the scripts are parsed with tree-sitter-pwsh and
checked against the Hyper-V cmdlet catalog (hyperv-cmdlets.json) and docs/host-protocol.md.
Every check is a small function returning problems as "line N: ..."; each gets a negative test
on a tiny bad snippet, so a check that silently stopped finding anything would fail.
"""

from __future__ import annotations

import base64
import json
import pathlib
import re

import pytest
import tree_sitter
import tree_sitter_pwsh

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
SCRIPT_DIR = REPO / "plugins" / "plugin_utils" / "powershell"
SCRIPTS = sorted(SCRIPT_DIR.glob("*.ps1"))
COMMON = SCRIPT_DIR / "_common.ps1"
RUNNER = SCRIPT_DIR / "runner.ps1"
CATALOG = json.loads((HERE / "hyperv-cmdlets.json").read_text(encoding="utf-8"))
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language()))

# The params of each operation, as listed in docs/host-protocol.md ("Operations").
OPERATIONS = {
    "get_vm": ["Name", "Id"],
    "get_vms": ["Names", "Ids", "All", "IncludeCheckpoints", "IncludeSizes"],
    "get_cluster_nodes": [],
    "create_checkpoint": ["VMId", "Name", "CheckpointType"],
    "remove_checkpoints": ["VMId", "Ids", "IncludeChildren"],
    "restore_checkpoint": ["VMId", "Id", "PowerState"],
    "rename_checkpoint": ["VMId", "Id", "NewName"],
    "set_checkpoint_settings": ["Changes"],
}
OPERATION_SCRIPTS = [SCRIPT_DIR / (name + ".ps1") for name in sorted(OPERATIONS)]
COMMAND_LINE_PREFIX = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand "

MODULE_PREFIXES = ("hyper-v\\", "failoverclusters\\")
CMDLETS = {name.lower(): entry for name, entry in CATALOG["cmdlets"].items()}
COMMON_PARAMETERS = {
    name.lower()
    for parameter in CATALOG["common_parameters"]["windows_powershell_5_1"]
    for name in (parameter["name"], parameter["alias"])
}
RISK_PARAMETERS = {
    name.lower()
    for parameter in CATALOG["common_parameters"]["risk_mitigation"]
    for name in (parameter["name"], parameter["alias"])
}
COMMON_SWITCHES = {"debug", "db", "verbose", "vb", "whatif", "wi", "confirm", "cf"}
NEEDS_MODULE = re.compile(r"^[a-z]+-(vm|vhd|cluster)", re.IGNORECASE)
MUST_CONFIRM_FALSE = {"restore-vmsnapshot", "remove-vmsnapshot", "restore-vmcheckpoint", "remove-vmcheckpoint"}
NAME_LOOKUPS = {"get-vm", "get-vmsnapshot", "remove-vmsnapshot", "restore-vmsnapshot", "rename-vmsnapshot",
                "get-vmcheckpoint", "remove-vmcheckpoint", "restore-vmcheckpoint", "rename-vmcheckpoint"}
PS7_NODES = {"pipeline_chain_tail": "&& / || pipeline chain", "null_coalesce_expression": "?? operator",
             "ternary_expression": "ternary ?: operator", "class_statement": "class definition",
             "enum_statement": "enum definition"}
PS7_TOKENS = {"&&", "||", "??", "??=", "?.", "?["}
PS7_TEXT = re.compile(r"\?\?|\?\.|\?\[|&&|\|\|")
PS7_PARAMETERS = {"parallel", "ashashtable"}
SILENT_COMMANDS = {"stop-operation", "stop-unsupported", "out-null"}


# Helpers ---------------------------------------------------------------------------------------


def parse(text):
    return PARSER.parse(text.encode("utf-8")).root_node


def walk(node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def line(node):
    return node.start_point[0] + 1


def text_of(node):
    return node.text.decode("utf-8")


def commands(root):
    """(name as written, command node) for every command with a plain name."""
    for node in walk(root):
        if node.type == "command":
            name = node.child_by_field_name("command_name")
            if name is not None and name.type == "command_name":
                yield text_of(name), node


def split_module(name):
    """('hyper-v' or None, lower-case cmdlet name)."""
    lowered = name.lower()
    for prefix in MODULE_PREFIXES:
        if lowered.startswith(prefix):
            return prefix[:-1], lowered[len(prefix):]
    return None, lowered


def arguments(command, switches=frozenset()):
    """(lower-case parameter name or None for a positional argument, value node or None, node).

    A parameter takes the next element as its value when bound with ':' or when it is not one
    of ``switches``; splatted variables (@x) and redirections are not arguments.
    """
    elements = command.child_by_field_name("command_elements")
    items = [child for child in (elements.children if elements is not None else [])
             if not (child.type == "command_argument_sep" and not text_of(child).strip())
             and "redirection" not in child.type]
    result = []
    index = 0
    while index < len(items):
        item = items[index]
        if item.type == "command_parameter":
            name = text_of(item).lstrip("-").rstrip(":").lower()
            value = None
            colon = text_of(item).endswith(":")
            if not colon and index + 1 < len(items) and items[index + 1].type == "command_argument_sep":
                colon = True
                index += 1
            if index + 1 < len(items) and (colon or (name not in switches and
                                                     items[index + 1].type != "command_parameter")):
                value = items[index + 1]
                index += 1
            result.append((name, value, item))
        elif not text_of(item).startswith("@"):
            result.append((None, item, item))
        index += 1
    return result


def splat_keys(text, variable):
    """Lower-case keys given to hashtable ``variable`` by `$v = @{ K = ..}` or `$v['K'] = ..` (enough here)."""
    name = re.escape(variable)
    keys = set()
    for body in re.findall(r"\$%s\s*=\s*@\{([^}]*)\}" % name, text, re.IGNORECASE):
        keys |= {key.lower() for key in re.findall(r"(?:^|;|\n)\s*'?(\w+)'?\s*=", body.strip())}
    keys |= {key.lower() for key in re.findall(r"\$%s\[['\"](\w+)['\"]\]\s*=" % name, text, re.IGNORECASE)}
    return keys


def splatted(command):
    """Names of the variables splatted into ``command`` (@x)."""
    elements = command.child_by_field_name("command_elements")
    return [text_of(child).lstrip("@") for child in (elements.children if elements is not None else [])
            if text_of(child).startswith("@")]


def catalog_parameters(entry):
    """Per parameter set: the set of lower-case names and aliases; and all switches."""
    sets, switches = [], set(COMMON_SWITCHES)
    for parameter_set in entry["parameter_sets"]:
        names = set()
        for parameter in parameter_set["parameters"]:
            spelled = {parameter["name"].lower()} | {alias.lower() for alias in parameter["aliases"]}
            names |= spelled
            if parameter.get("switch"):
                switches |= spelled
        sets.append(names)
    return sets, switches


def defined_functions(*texts):
    """{lower-case function name: (parameter names, switch names)} of the functions in ``texts``."""
    functions = {}
    for text in texts:
        for node in walk(parse(text)):
            if node.type != "function_statement":
                continue
            name = text_of(node.child_by_field_name("function_name") or
                           next(c for c in node.children if c.type == "function_name")).lower()
            parameters, switches = set(), set()
            for parameter in walk(node):
                if parameter.type == "script_parameter":
                    variable = next(c for c in parameter.children if c.type == "variable")
                    spelled = text_of(variable).lstrip("$").lower()
                    parameters.add(spelled)
                    if "[switch]" in text_of(parameter).lower():
                        switches.add(spelled)
            functions[name] = (parameters, switches)
    return functions


def top_level_param_names(root):
    blocks = [child for child in root.children if child.type == "param_block"]
    if not blocks:
        return None
    return [text_of(next(c for c in parameter.children if c.type == "variable")).lstrip("$")
            for parameter in walk(blocks[0]) if parameter.type == "script_parameter"]


def read(path):
    return path.read_text(encoding="utf-8")


def encoded_command_line(stub_text):
    """What connection._shell._encode_script(stub, strict_mode=False, preserve_rc=False) builds."""
    stripped = "\n".join(line.strip() for line in stub_text.splitlines() if line.strip())
    return COMMAND_LINE_PREFIX + base64.b64encode(stripped.encode("utf-16-le")).decode("ascii")


# The checks --------------------------------------------------------------------------------------


def check_parses(text):
    return ["line %d: cannot parse %r" % (line(node), text_of(node)[:60])
            for node in walk(parse(text)) if node.is_error or node.is_missing]


def check_catalog_parameters(text, local_functions=None):
    """Catalog cmdlets: known module, full parameter names of one parameter set; local functions: declared params."""
    problems = []
    local_functions = local_functions if local_functions is not None else defined_functions(text)
    for written, command in commands(parse(text)):
        module, name = split_module(written)
        entry = CMDLETS.get(name)
        if module and (entry is None or entry["module"].lower() != module):
            problems.append("line %d: %s is not a cmdlet of module %s in the catalog" % (line(command), written, module))
            continue
        if entry is None:
            if name in local_functions:
                declared, switches = local_functions[name]
                for parameter, dummy, node in arguments(command, switches):
                    if parameter is not None and parameter not in declared | COMMON_PARAMETERS:
                        problems.append("line %d: %s has no parameter -%s" % (line(node), written, parameter))
            continue
        sets, switches = catalog_parameters(entry)
        allowed_common = COMMON_PARAMETERS | (RISK_PARAMETERS if entry["supports_should_process"] else set())
        used = set()
        given = [(parameter, node) for parameter, dummy, node in arguments(command, switches)]
        given += [(key, command) for variable in splatted(command) for key in splat_keys(text, variable)]
        for parameter, node in given:
            if parameter is None or parameter in allowed_common:
                continue
            if any(parameter in names for names in sets):
                used.add(parameter)
            else:
                problems.append("line %d: %s has no parameter -%s (full names only)" % (line(node), written, parameter))
        if used and not any(used <= names for names in sets):
            problems.append("line %d: %s: no parameter set has all of -%s"
                            % (line(command), written, ", -".join(sorted(used))))
    return problems


def check_module_qualified(text, local_functions=None):
    local_functions = local_functions if local_functions is not None else defined_functions(text)
    problems = []
    for written, command in commands(parse(text)):
        module, name = split_module(written)
        if module is None and name not in local_functions and (name in CMDLETS or NEEDS_MODULE.match(name)):
            problems.append("line %d: %s must be module-qualified (Hyper-V\\ or FailoverClusters\\)"
                            % (line(command), written))
    return problems


def check_confirm_false(text):
    problems = []
    for written, command in commands(parse(text)):
        if split_module(written)[1] not in MUST_CONFIRM_FALSE:
            continue
        confirmed = any(parameter == "confirm" and value is not None and text_of(value).lower() == "$false"
                        for parameter, value, dummy in arguments(command, COMMON_SWITCHES))
        if not confirmed:
            problems.append("line %d: %s needs -Confirm:$false (it prompts in a non-interactive host)"
                            % (line(command), written))
    return problems


def check_windows_powershell_syntax(text):
    root = parse(text)
    problems = []
    blanked = bytearray(text.encode("utf-8"))
    for node in walk(root):
        if node.type in PS7_NODES:
            problems.append("line %d: PowerShell 7 only: %s" % (line(node), PS7_NODES[node.type]))
        elif node.child_count == 0 and node.type in PS7_TOKENS:
            problems.append("line %d: PowerShell 7 only: %s" % (line(node), node.type))
        elif node.type == "command_parameter" and text_of(node).lstrip("-").rstrip(":").lower() in PS7_PARAMETERS:
            problems.append("line %d: PowerShell 7 only: %s" % (line(node), text_of(node)))
        if node.type in ("string_literal", "comment"):
            blanked[node.start_byte:node.end_byte] = b" " * (node.end_byte - node.start_byte)
    # Operators the grammar may not know (e.g. ?.) show up in the code outside strings and comments.
    for number, code in enumerate(blanked.decode("utf-8").splitlines(), 1):
        if PS7_TEXT.search(code):
            problems.append("line %d: PowerShell 7 operator in %r" % (number, code.strip()))
    return sorted(set(problems))


def check_convertto_json(text):
    problems = []
    for written, command in commands(parse(text)):
        if written.lower() not in ("convertto-json", "microsoft.powershell.utility\\convertto-json"):
            continue
        used = [parameter for parameter, dummy, node in arguments(command, {"compress"})]
        previous = command.prev_sibling
        if previous is not None and previous.type == "|":
            problems.append("line %d: ConvertTo-Json fed by the pipeline unwraps one-element arrays" % line(command))
        if "inputobject" not in used or "depth" not in used or not set(used) <= {"inputobject", "depth", "compress"}:
            problems.append("line %d: ConvertTo-Json needs exactly -InputObject and -Depth (and -Compress), got %s"
                            % (line(command), used))
    return problems


def check_no_name_lookups(text):
    problems = []
    for written, command in commands(parse(text)):
        name = split_module(written)[1]
        if name not in NAME_LOOKUPS:
            continue
        dummy, switches = catalog_parameters(CMDLETS[name])
        for parameter, dummy, node in arguments(command, switches):
            if parameter in ("name", "vmname"):
                problems.append("line %d: %s -%s is a wildcard pattern; filter with -ceq or use ids"
                                % (line(node), written, parameter))
            elif parameter is None:
                problems.append("line %d: %s with a positional argument binds it to a name (wildcard pattern)"
                                % (line(node), written))
    return problems


def check_operation_params(text, expected):
    names = top_level_param_names(parse(text))
    if names is None:
        return ["line 1: no param() block as the first statement"]
    if names != expected:
        return ["line 1: param() declares %s, docs/host-protocol.md lists %s" % (names, expected)]
    return []


def _statement_blocks(statement):
    for child in statement.children:
        if child.type == "statement_block":
            yield from (c for c in child.children if c.type == "statement_list")
        elif child.type.endswith(("_clauses", "_clause")):
            yield from _statement_blocks(child)


def _writes_output(statement):
    """True when the statement (outside functions) writes to the output stream."""
    if statement.type == "pipeline":
        if statement.named_children and statement.named_children[0].type == "assignment_expression":
            return False
        chain = [c for c in walk(statement) if c.type == "command" and c.parent.parent == statement]
        names = [split_module(text_of(c.child_by_field_name("command_name")))[1] for c in chain
                 if c.child_by_field_name("command_name") is not None]
        return not (names and names[-1] in SILENT_COMMANDS)
    if statement.type == "flow_control_statement":
        return text_of(statement.children[0]).lower() == "return" and any(
            child.type == "pipeline" for child in statement.children)
    return False


def _output_statements(statement_list):
    for statement in statement_list.named_children:
        if statement.type in ("comment", "function_statement"):
            continue
        if _writes_output(statement):
            yield statement
        for block in _statement_blocks(statement):
            yield from _output_statements(block)


def check_single_result(text):
    """An operation writes exactly one thing: its last statement, an [ordered]@{} result."""
    root = parse(text)
    lists = [child for child in root.children if child.type == "statement_list"]
    if not lists:
        return ["line 1: no statements"]
    statements = [s for s in lists[0].named_children if s.type != "comment"]
    last = statements[-1]
    problems = ["line %d: writes to the output stream (assign to $null or pipe to Out-Null)" % line(statement)
                for statement in _output_statements(lists[0]) if statement != last]
    if not re.match(r"^\[ordered\]\s*@\{", text_of(last), re.IGNORECASE):
        problems.append("line %d: the last statement must be the [ordered]@{} result" % line(last))
    return problems


def check_common_is_only_functions(text):
    """runner.ps1 dot-sources _common.ps1 before every operation: nothing may run by itself there."""
    problems = []
    for node in parse(text).children:
        if node.type == "param_block":
            problems.append("line %d: _common.ps1 takes no parameters" % line(node))
        for statement in (node.named_children if node.type == "statement_list" else []):
            if statement.type not in ("function_statement", "comment"):
                problems.append("line %d: only function definitions belong in _common.ps1" % line(statement))
    return problems


def check_runner_runs_common_then_operation(text):
    """The runner dot-sources the request's common, then makes the operation its own script block."""
    dot_source = text.find(". ([ScriptBlock]::Create([string]$request.common))")
    operation = text.find("$block = [ScriptBlock]::Create([string]$request.script)")
    call = text.find("& $block @params")
    if -1 in (dot_source, operation, call) or not dot_source < operation < call:
        return ["runner.ps1 must dot-source $request.common, then create and call $block from $request.script"]
    return []


# The checks applied to the real scripts ---------------------------------------------------------


def script_id(path):
    return path.name


LOCAL_FUNCTIONS = defined_functions(read(COMMON))


@pytest.mark.parametrize("path", SCRIPTS, ids=script_id)
def test_script_parses_without_errors(path):
    problems = check_parses(read(path))
    assert not problems, "%s: %s" % (path.name, problems)


@pytest.mark.parametrize("path", SCRIPTS, ids=script_id)
def test_cmdlets_are_called_with_catalog_parameters(path):
    functions = dict(LOCAL_FUNCTIONS, **defined_functions(read(path)))
    problems = check_catalog_parameters(read(path), functions)
    assert not problems, "%s: %s" % (path.name, problems)


@pytest.mark.parametrize("path", SCRIPTS, ids=script_id)
def test_hyperv_and_cluster_cmdlets_are_module_qualified(path):
    functions = dict(LOCAL_FUNCTIONS, **defined_functions(read(path)))
    problems = check_module_qualified(read(path), functions)
    assert not problems, "%s: %s" % (path.name, problems)


@pytest.mark.parametrize("path", SCRIPTS, ids=script_id)
def test_restore_and_remove_pass_confirm_false(path):
    problems = check_confirm_false(read(path))
    assert not problems, "%s: %s" % (path.name, problems)


@pytest.mark.parametrize("path", SCRIPTS, ids=script_id)
def test_no_powershell_7_syntax(path):
    problems = check_windows_powershell_syntax(read(path))
    assert not problems, "%s: %s" % (path.name, problems)


@pytest.mark.parametrize("path", SCRIPTS, ids=script_id)
def test_convertto_json_gets_inputobject_and_depth(path):
    problems = check_convertto_json(read(path))
    assert not problems, "%s: %s" % (path.name, problems)


@pytest.mark.parametrize("path", SCRIPTS, ids=script_id)
def test_no_wildcard_name_lookups(path):
    problems = check_no_name_lookups(read(path))
    assert not problems, "%s: %s" % (path.name, problems)


def test_every_operation_has_a_script_and_nothing_else_is_there():
    names = {path.stem for path in SCRIPTS} - {"_common", "runner"}
    assert names == set(OPERATIONS)


@pytest.mark.parametrize("path", OPERATION_SCRIPTS, ids=script_id)
def test_operation_params_match_the_protocol(path):
    problems = check_operation_params(read(path), OPERATIONS[path.stem])
    assert not problems, "%s: %s" % (path.name, problems)


@pytest.mark.parametrize("path", OPERATION_SCRIPTS, ids=script_id)
def test_operation_writes_only_its_result(path):
    problems = check_single_result(read(path))
    assert not problems, "%s: %s" % (path.name, problems)


def test_common_holds_only_functions():
    problems = check_common_is_only_functions(read(COMMON))
    assert not problems, "_common.ps1: %s" % problems


def test_runner_dot_sources_common_then_runs_the_operation():
    problems = check_runner_runs_common_then_operation(read(RUNNER))
    assert not problems, "runner.ps1: %s" % problems


def test_runner_command_line_stays_far_below_the_cmd_limit():
    command = encoded_command_line(read(RUNNER))
    assert len(command) < 4096, "runner.ps1: command line of %d characters, the budget is 4096" % len(command)


# Negative tests: each check catches a tiny bad snippet ----------------------------------------


def test_check_parses_catches_broken_syntax():
    assert check_parses("if ($a) { Get-A\n") != []
    assert check_parses("if ($a) { Get-A }\n") == []


@pytest.mark.parametrize("snippet", [
    "Hyper-V\\Get-VM -Nmae web01\n",                       # typo
    "Hyper-V\\Get-VMSnapshot -VMObj $vm\n",                # prefix of -VM / not a full name
    "Hyper-V\\Get-VMSnapshot -VM $vm -Id $id\n",           # two parameter sets
    "Hyper-V\\Get-Gizmo -Id 1\n",                          # not in the catalog
    "Hyper-V\\Get-ClusterGroup\n",                         # wrong module
    "Hyper-V\\Get-VM -WhatIf\n",                           # Get-VM has no ShouldProcess
    "Get-TargetVM -VMId $x\n",                             # local function without that parameter
    "$s = @{ VM = $vm }\n$s['Bogus'] = 1\nHyper-V\\Set-VM @s\n",  # splatted
    "$s = @{ VM = $vm; Id = 1 }\nHyper-V\\Set-VM @s\n",
])
def test_check_catalog_parameters_catches_unknown_parameters(snippet):
    assert check_catalog_parameters(snippet, LOCAL_FUNCTIONS) != []


def test_check_catalog_parameters_accepts_aliases_and_common_parameters():
    snippet = ("Hyper-V\\Remove-VMSnapshot -VMCheckpoint $s -IncludeAllChildCheckpoints -Confirm:$false -ea Stop\n"
               "Get-TargetVM -Id $x\n$s = @{ VM = $vm }\n$s['SnapshotFileLocation'] = 'x'\nHyper-V\\Set-VM @s\n")
    assert check_catalog_parameters(snippet, LOCAL_FUNCTIONS) == []


@pytest.mark.parametrize("snippet", ["Get-VM\n", "Checkpoint-VM -VM $vm\n", "Get-VHD -Path $p\n",
                                     "Get-ClusterGroup\n", "Get-VMCheckpoint -VM $vm\n"])
def test_check_module_qualified_catches_bare_hyperv_names(snippet):
    assert check_module_qualified(snippet, LOCAL_FUNCTIONS) != []


def test_check_module_qualified_ignores_local_functions():
    assert check_module_qualified("ConvertTo-VMRecord -VM $vm\nGet-VMClusterGroup -Name a\n", LOCAL_FUNCTIONS) == []


@pytest.mark.parametrize("snippet", [
    "Hyper-V\\Restore-VMSnapshot -VMSnapshot $s\n",
    "Hyper-V\\Remove-VMSnapshot -VMSnapshot $s -Confirm\n",
    "Hyper-V\\Remove-VMSnapshot -VMSnapshot $s -Confirm:$true\n",
    "Hyper-V\\Restore-VMCheckpoint -VMSnapshot $s -WhatIf:$false\n",
])
def test_check_confirm_false_catches_missing_confirm(snippet):
    assert check_confirm_false(snippet) != []


def test_check_confirm_false_accepts_confirm_false():
    assert check_confirm_false("Hyper-V\\Restore-VMSnapshot -VMSnapshot $s -Confirm:$false\n") == []


@pytest.mark.parametrize("snippet", [
    "Get-A && Get-B\n", "Get-A || Get-B\n", "$y = $x ?? 1\n", "$x ??= 1\n", "$y = $x ? 1 : 2\n",
    "$y = ${x}?.Name\n", "1..3 | ForEach-Object -Parallel { $_ }\n", "$h = $j | ConvertFrom-Json -AsHashtable\n",
    "class Foo { [int]$a }\n",
])
def test_check_windows_powershell_syntax_catches_powershell_7(snippet):
    assert check_windows_powershell_syntax(snippet) != []


def test_check_windows_powershell_syntax_ignores_strings_and_comments():
    snippet = "$s = 'a && b ?? c || d ?. e'\n$t = \"x && y\" # z ?? w\n$u = [System.Text.UTF8Encoding]::new()\n"
    assert check_windows_powershell_syntax(snippet) == []


@pytest.mark.parametrize("snippet", [
    "$r | ConvertTo-Json -Depth 5\n",
    "ConvertTo-Json -InputObject $r\n",
    "ConvertTo-Json -InputObject $r -Depth 5 -EnumsAsStrings\n",
    "ConvertTo-Json $r -Depth 5\n",
])
def test_check_convertto_json_catches_bad_calls(snippet):
    assert check_convertto_json(snippet) != []


def test_check_convertto_json_accepts_inputobject_and_depth():
    assert check_convertto_json("$j = ConvertTo-Json -InputObject $r -Depth 12 -Compress\n") == []


@pytest.mark.parametrize("snippet", [
    "Hyper-V\\Get-VM -Name $n\n",
    "Hyper-V\\Get-VM -VMName $n\n",
    "Hyper-V\\Get-VM $n\n",
    "Hyper-V\\Get-VMSnapshot -VM $vm -Name $n\n",
    "Hyper-V\\Remove-VMSnapshot -VMName $v -Name $n -Confirm:$false\n",
    "Hyper-V\\Restore-VMSnapshot -Name $n -VMName $v -Confirm:$false\n",
    "Hyper-V\\Rename-VMSnapshot -VM $vm -Name $n -NewName $m\n",
])
def test_check_no_name_lookups_catches_name_parameters(snippet):
    assert check_no_name_lookups(snippet) != []


def test_check_no_name_lookups_accepts_ids_and_objects():
    snippet = ("Hyper-V\\Get-VM -Id $g\nHyper-V\\Get-VMSnapshot -VM $vm\n"
               "Hyper-V\\Remove-VMSnapshot -VMSnapshot $s -IncludeAllChildSnapshots -Confirm:$false\n")
    assert check_no_name_lookups(snippet) == []


@pytest.mark.parametrize("snippet", [
    "param([string]$VMId, [string]$Id)\n",                 # NewName missing
    "param([string]$VMId, [string]$Id, [string]$Name)\n",  # wrong name
    "function F { 1 }\nparam($VMId, $Id, $NewName)\n",     # not the first statement: a command called 'param'
])
def test_check_operation_params_catches_wrong_params(snippet):
    assert check_operation_params(snippet, OPERATIONS["rename_checkpoint"]) != []


@pytest.mark.parametrize("snippet", [
    "param($A)\nGet-Something\n[ordered]@{ a = 1 }\n",
    "param($A)\nif ($A) { Hyper-V\\Start-VM -VM $vm }\n[ordered]@{ a = 1 }\n",
    "param($A)\ntry { $x = 1 } finally { Hyper-V\\Set-VM -VM $vm -Passthru }\n[ordered]@{ a = 1 }\n",
    "param($A)\n$x = 1\n@{ a = 1 }\n",
    "param($A)\n[ordered]@{ a = 1 }\n$x\n",
])
def test_check_single_result_catches_leaks(snippet):
    assert check_single_result(snippet) != []


def test_check_single_result_accepts_silenced_statements():
    snippet = ("param($A)\n$null = Hyper-V\\Start-VM -VM $vm\nHyper-V\\Stop-VM -VM $vm | Out-Null\n"
               "if ($A) { Stop-Operation -Code x -Message y }\nforeach ($i in $A) { continue }\n[ordered]@{ a = 1 }\n")
    assert check_single_result(snippet) == []


@pytest.mark.parametrize("snippet", [
    "$x = 1\nfunction F { 1 }\n",
    "function F { 1 }\nF\n",
    "param($A)\nfunction F { 1 }\n",
])
def test_check_common_is_only_functions_catches_statements(snippet):
    assert check_common_is_only_functions(snippet) != []


def test_check_runner_catches_an_operation_run_with_common_in_front():
    old_runner = "$block = [ScriptBlock]::Create([string]$request.common + \"`n\" + $request.script)\n& $block @params\n"
    assert check_runner_runs_common_then_operation(old_runner) != []


def test_command_line_budget_catches_a_big_stub():
    big_stub = "\n".join("$v%d = 'padding padding'" % index for index in range(100))
    assert len(encoded_command_line(big_stub)) >= 4096
