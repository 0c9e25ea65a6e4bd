# -*- coding: utf-8 -*-
"""Static checker for the collection's PowerShell scripts (plugins/plugin_utils/powershell).

No PowerShell can run on these machines, so the scripts are parsed with tree-sitter-pwsh and
checked against the Hyper-V cmdlet catalog (hyperv-cmdlets.json, see SOURCES.md) and the host
protocol (plugins/plugin_utils/_host_contract.py, docs/host-protocol.md). Every check is a small
function taking script text and returning problems as "line N: ..."; tests/unit/powershell/test_pscheck_rules.py
feeds each one tiny bad scripts, so a check that silently stopped finding anything would fail.

Run by `make test` over every .ps1 in the collection:
    python tools/pscheck/pscheck.py plugins
exits 1 and prints "file:line: problem" when a script breaks a rule.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import pathlib
import re
import sys
from collections.abc import Collection, Iterable, Iterator
from typing import Any

import tree_sitter
import tree_sitter_pwsh
from tree_sitter import Node

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCRIPT_DIR = REPO / "plugins" / "plugin_utils" / "powershell"
# Files of functions shared by the operations (one per concern): the controller sends each operation those it calls.
SHARED_PREFIX = "_"
RUNNER = SCRIPT_DIR / "runner.ps1"
CATALOG = json.loads((HERE / "hyperv-cmdlets.json").read_text(encoding="utf-8"))
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language()))


def _load_host_contract() -> Any:
    # By path: the checker runs without the collection being importable as ansible_collections.*.
    spec = importlib.util.spec_from_file_location(
        "hyperv_host_contract", REPO / "plugins" / "plugin_utils" / "_host_contract.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HOST_CONTRACT = _load_host_contract()
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
# Get-VM -Name is a wildcard pattern unless the names hold no wildcard character; a function that tests that first may use it.
WILDCARD_GUARD = "[Management.Automation.WildcardPattern]::ContainsWildcardCharacters("
PS7_NODES = {"pipeline_chain_tail": "&& / || pipeline chain", "null_coalesce_expression": "?? operator",
             "ternary_expression": "ternary ?: operator", "class_statement": "class definition",
             "enum_statement": "enum definition"}
PS7_TOKENS = {"&&", "||", "??", "??=", "?.", "?["}
PS7_TEXT = re.compile(r"\?\?|\?\.|\?\[|&&|\|\|")
PS7_PARAMETERS = {"parallel", "ashashtable", "enumsasstrings"}
SILENT_COMMANDS = {"stop-operation", "stop-unsupported", "out-null", "start-sleep"}
# Windows PowerShell 5.1 built-ins the scripts may call besides the catalog's Hyper-V and
# FailoverClusters cmdlets and their own functions; anything else must be added here on purpose.
ALLOWED_BUILTINS = {
    "convertfrom-json", "convertto-json", "foreach-object", "get-ciminstance", "get-command", "get-service",
    "measure-object",
    "new-object", "out-null", "select-object", "sort-object", "start-sleep", "where-object",
}
# Output goes to the controller only as the runner's one JSON reply; these would add to it or bypass it.
OUTPUT_COMMANDS = {"convertto-json", "write-host", "write-output", "write-information", "out-host", "out-default",
                   "out-string", "out-file", "export-clixml", "convertto-xml"}
CONSOLE_WRITES = re.compile(r"\[(System\.)?Console\]::(Out\b|Write)", re.IGNORECASE)


# Helpers ---------------------------------------------------------------------------------------


def parse(text: str) -> Node:
    return PARSER.parse(text.encode("utf-8")).root_node


def walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def line(node: Node) -> int:
    return node.start_point[0] + 1


def text_of(node: Node) -> str:
    return (node.text or b"").decode("utf-8")


def commands(root: Node) -> Iterator[tuple[str, Node]]:
    """(name as written, command node) for every command with a plain name."""
    for node in walk(root):
        if node.type == "command":
            name = node.child_by_field_name("command_name")
            if name is not None and name.type == "command_name":
                yield text_of(name), node


def split_module(name: str) -> tuple[str | None, str]:
    """('hyper-v' or None, lower-case cmdlet name)."""
    lowered = name.lower()
    for prefix in MODULE_PREFIXES:
        if lowered.startswith(prefix):
            return prefix[:-1], lowered[len(prefix):]
    return None, lowered


def arguments(command: Node, switches: Collection[str] = frozenset()) -> list[tuple[str | None, Node | None, Node]]:
    """(lower-case parameter name or None for a positional argument, value node or None, node).

    A parameter takes the next element as its value when bound with ':' or when it is not one
    of ``switches``; splatted variables (@x) and redirections are not arguments.
    """
    elements = command.child_by_field_name("command_elements")
    items = [child for child in (elements.children if elements is not None else [])
             if not (child.type == "command_argument_sep" and not text_of(child).strip())
             and "redirection" not in child.type]
    result: list[tuple[str | None, Node | None, Node]] = []
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


def splat_keys(text: str, variable: str) -> set[str]:
    """Lower-case keys given to hashtable ``variable`` by `$v = @{ K = ..}` or `$v['K'] = ..` (enough here)."""
    name = re.escape(variable)
    keys = set()
    for body in re.findall(r"\$%s\s*=\s*@\{([^}]*)\}" % name, text, re.IGNORECASE):
        keys |= {key.lower() for key in re.findall(r"(?:^|;|\n)\s*'?(\w+)'?\s*=", body.strip())}
    keys |= {key.lower() for key in re.findall(r"\$%s\[['\"](\w+)['\"]\]\s*=" % name, text, re.IGNORECASE)}
    return keys


def splatted(command: Node) -> list[str]:
    """Names of the variables splatted into ``command`` (@x)."""
    elements = command.child_by_field_name("command_elements")
    return [text_of(child).lstrip("@") for child in (elements.children if elements is not None else [])
            if text_of(child).startswith("@")]


def catalog_parameters(entry: dict[str, Any]) -> tuple[list[set[str]], set[str]]:
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


def defined_functions(*texts: str) -> dict[str, tuple[set[str], set[str]]]:
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


def read(path: pathlib.Path) -> str:
    return path.read_text(encoding="utf-8")


def is_shared(path: pathlib.Path) -> bool:
    return path.name.startswith(SHARED_PREFIX)


def shared_text(directory: pathlib.Path) -> str:
    """The text of every file of shared functions in ``directory``, one after the other."""
    return "".join(read(path) + "\n" for path in sorted(directory.glob(SHARED_PREFIX + "*.ps1")))


def encoded_command_line(stub_text: str) -> str:
    """What _operation_runner.build_command builds (as _encode_script(stub, strict_mode=False, preserve_rc=False) did)."""
    stripped = "\n".join(line.strip() for line in stub_text.splitlines() if line.strip())
    return COMMAND_LINE_PREFIX + base64.b64encode(stripped.encode("utf-16-le")).decode("ascii")


# The checks --------------------------------------------------------------------------------------


def check_parses(text: str) -> list[str]:
    return ["line %d: cannot parse %r" % (line(node), text_of(node)[:60])
            for node in walk(parse(text)) if node.is_error or node.is_missing]


def check_comment_lines_are_comments(text: str) -> list[str]:
    """The controller empties every line whose first non-blank character is '#' before sending a script
    (_operation_runner.wire_form): that is only safe without block comments and here-strings, where such
    a line is not a whole comment."""
    problems = []
    for number, written in enumerate(text.splitlines(), 1):
        if "<#" in written:
            problems.append("line %d: a block comment (<# #>): write '#' comment lines, the wire form empties them"
                            % number)
        if re.search(r"@[\"']\s*$", written):
            problems.append("line %d: a here-string: a line of it starting with '#' would be emptied on the wire"
                            % number)
    return problems


def check_catalog_parameters(text: str, local_functions: dict[str, tuple[set[str], set[str]]] | None = None) -> list[str]:
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


def check_module_qualified(text: str, local_functions: dict[str, tuple[set[str], set[str]]] | None = None) -> list[str]:
    local_functions = local_functions if local_functions is not None else defined_functions(text)
    problems = []
    for written, command in commands(parse(text)):
        module, name = split_module(written)
        if module is None and name not in local_functions and (name in CMDLETS or NEEDS_MODULE.match(name)):
            problems.append("line %d: %s must be module-qualified (Hyper-V\\ or FailoverClusters\\)"
                            % (line(command), written))
    return problems


def check_confirm_false(text: str) -> list[str]:
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


def check_windows_powershell_syntax(text: str) -> list[str]:
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


def check_convertto_json(text: str) -> list[str]:
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


def check_no_case_sensitive_unique(text: str) -> list[str]:
    """Select-Object -Unique compares strings case-sensitively in Windows PowerShell 5.1; paths and names do not."""
    problems = []
    for written, command in commands(parse(text)):
        if split_module(written)[1] != "select-object":
            continue
        for parameter, dummy, node in arguments(command, {"unique"}):
            if parameter == "unique":
                problems.append("line %d: Select-Object -Unique compares case-sensitively in Windows PowerShell 5.1; "
                                "use a HashSet[string] with [StringComparer]::OrdinalIgnoreCase" % line(node))
    return problems


def _guards_wildcards(command: Node) -> bool:
    """Whether ``command`` is in a function that tests its names for wildcard characters first
    (Get-VMByName): Get-VM -Name then compares names exactly, as Test-SameName does (decompiled
    VirtualizationObjectLocator), and builds the objects of those VMs only."""
    node = command.parent
    while node is not None and node.type != "function_statement":
        node = node.parent
    return node is not None and WILDCARD_GUARD in text_of(node)


def check_no_name_lookups(text: str) -> list[str]:
    problems = []
    for written, command in commands(parse(text)):
        name = split_module(written)[1]
        if name not in NAME_LOOKUPS:
            continue
        dummy_sets, switches = catalog_parameters(CMDLETS[name])
        for parameter, dummy, node in arguments(command, switches):
            if parameter in ("name", "vmname") and name == "get-vm" and _guards_wildcards(command):
                continue
            if parameter in ("name", "vmname"):
                problems.append("line %d: %s -%s is a wildcard pattern; filter with Test-SameName or use ids"
                                % (line(node), written, parameter))
            elif parameter is None:
                problems.append("line %d: %s with a positional argument binds it to a name (wildcard pattern)"
                                % (line(node), written))
    return problems


def _statement_blocks(statement: Node) -> Iterator[Node]:
    for child in statement.children:
        if child.type == "statement_block":
            yield from (c for c in child.children if c.type == "statement_list")
        elif child.type.endswith(("_clauses", "_clause")):
            yield from _statement_blocks(child)


def _writes_output(statement: Node) -> bool:
    """True when the statement (outside functions) writes to the output stream."""
    if statement.type == "pipeline":
        if statement.named_children and statement.named_children[0].type == "assignment_expression":
            return False
        chain = [c for c in walk(statement) if c.type == "command" and c.parent is not None
                 and c.parent.parent == statement]
        written = [c.child_by_field_name("command_name") for c in chain]
        names = [split_module(text_of(name))[1] for name in written if name is not None]
        return not (names and names[-1] in SILENT_COMMANDS)
    if statement.type == "flow_control_statement":
        return text_of(statement.children[0]).lower() == "return" and any(
            child.type == "pipeline" for child in statement.children)
    return False


def _output_statements(statement_list: Node) -> Iterator[Node]:
    for statement in statement_list.named_children:
        if statement.type in ("comment", "function_statement"):
            continue
        if _writes_output(statement):
            yield statement
        for block in _statement_blocks(statement):
            yield from _output_statements(block)


def check_single_result(text: str) -> list[str]:
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


def _top_level_statements(text: str) -> Iterator[Node]:
    for node in parse(text).children:
        yield from (node.named_children if node.type == "statement_list" else [node])


def check_common_is_only_functions(text: str) -> list[str]:
    """runner.ps1 dot-sources the shared functions before the operation: nothing may run by itself there."""
    problems = []
    for statement in _top_level_statements(text):
        if statement.type == "param_block":
            problems.append("line %d: a file of shared functions takes no parameters" % line(statement))
        elif statement.type not in ("function_statement", "comment"):
            problems.append("line %d: only function definitions belong in a file of shared functions" % line(statement))
    return problems


FUNCTION_START = re.compile(r"^function [A-Za-z]+-[A-Za-z]+ \{[ \t]*$")


def check_shared_function_layout(text: str) -> list[str]:
    """The controller cuts a shared file into functions by lines (_operation_runner.split_functions): each starts
    with a line 'function Verb-Noun {' and ends at the first line after it that is only '}'."""
    lines = text.splitlines()
    problems = []
    for statement in _top_level_statements(text):
        if statement.type != "function_statement":
            continue
        first, last = statement.start_point[0], statement.end_point[0]
        if statement.start_point[1] != 0 or not FUNCTION_START.match(lines[first]):
            problems.append("line %d: a shared function starts with a line 'function Verb-Noun {'" % (first + 1))
        if lines[last] != "}" or "}" in lines[first + 1:last]:
            problems.append("line %d: a shared function ends at its first line that is only '}' (indent the "
                            "others)" % (first + 1))
    return problems


def check_runner_runs_common_then_operation(text: str) -> list[str]:
    """The runner dot-sources the request's common, then makes the operation its own script block."""
    dot_source = text.find(". ([ScriptBlock]::Create([string]$request.common))")
    operation = text.find("$block = [ScriptBlock]::Create([string]$request.script)")
    call = text.find("& $block @params")
    if -1 in (dot_source, operation, call) or not dot_source < operation < call:
        return ["runner.ps1 must dot-source $request.common, then create and call $block from $request.script"]
    return []


def check_known_commands(text: str, local_functions: dict[str, tuple[set[str], set[str]]] | None = None) -> list[str]:
    """Every command is a catalog cmdlet, a function of the collection's scripts or an allowed built-in."""
    local_functions = dict(local_functions or {}, **defined_functions(text))
    problems = []
    for written, command in commands(parse(text)):
        module, name = split_module(written)
        if name in CMDLETS or name in local_functions or (module is None and name in ALLOWED_BUILTINS):
            continue
        problems.append("line %d: %s is not a catalog cmdlet, a function of the collection's scripts or an "
                        "allowed built-in (pscheck.ALLOWED_BUILTINS)" % (line(command), written))
    return problems


def check_output_only_through_runner(text: str) -> list[str]:
    """Operation scripts return their result; only runner.ps1 turns it into the JSON reply."""
    problems = []
    for written, command in commands(parse(text)):
        name = split_module(written)[1].split("\\")[-1]
        if name in OUTPUT_COMMANDS:
            problems.append("line %d: %s: output reaches the controller only through runner.ps1's reply; "
                            "return the [ordered]@{} result instead" % (line(command), written))
    for node in walk(parse(text)):
        if node.type in ("type_literal", "member_access", "invokation_expression") or node.child_count == 0:
            continue
        if node.type == "unary_expression" and CONSOLE_WRITES.search(text_of(node)):
            problems.append("line %d: writes to the console directly: %s" % (line(node), text_of(node)[:60]))
    return sorted(set(problems))


def check_runner_writes_one_reply(text: str) -> list[str]:
    """The runner converts its reply once, with an explicit depth (5.1 truncates silently at 2)."""
    calls = [command for written, command in commands(parse(text))
             if split_module(written)[1].split("\\")[-1] == "convertto-json"]
    if len(calls) != 1:
        return ["runner.ps1 must call ConvertTo-Json exactly once (its reply), found %d" % len(calls)]
    return check_convertto_json(text)


# The protocol as the scripts declare and emit it ----------------------------------------------


def declared_params(text: str) -> list[tuple[str, str | None]] | None:
    """[(name, declared type in lower case or None)] of the script's top-level param() block."""
    blocks = [child for child in parse(text).children if child.type == "param_block"]
    if not blocks:
        return None
    result = []
    for parameter in walk(blocks[0]):
        if parameter.type != "script_parameter":
            continue
        variable = next(c for c in parameter.children if c.type == "variable")
        types = [text_of(node)[1:-1].lower() for node in walk(parameter) if node.type == "type_literal"]
        result.append((text_of(variable).lstrip("$"), types[-1] if types else None))
    return result


# How a declared PowerShell parameter type receives each protocol type (JSON null binds as ''/$false).
PARAM_TYPES = {"string": {"str", "str?"}, "string[]": {"[str]"}, "bool": {"bool"}, "switch": {"bool"},
               "int": {"int"}, "long": {"int"}}


def check_operation_params(text: str, operation: str) -> list[str]:
    """param() names (in order) and types match _host_contract.OPERATIONS[operation].params."""
    expected = HOST_CONTRACT.OPERATIONS[operation].params
    declared = declared_params(text)
    if declared is None:
        return ["line 1: no param() block as the first statement"]
    names = [name for name, dummy in declared]
    if names != list(expected):
        return ["line 1: param() declares %s, the protocol lists %s" % (names, list(expected))]
    problems = []
    for name, declared_type in declared:
        spec = expected[name]
        if declared_type in PARAM_TYPES:
            if spec not in PARAM_TYPES[declared_type]:
                problems.append("line 1: -%s is [%s], the protocol sends %s" % (name, declared_type, spec))
        elif not (declared_type == "object[]" and spec.startswith("[")):
            problems.append("line 1: -%s has type %s, which the checker cannot match to %s" % (name, declared_type, spec))
    return problems


def _hash_entries(hash_node: Node) -> Iterator[tuple[str, Node]]:
    for entry in walk(hash_node):
        if entry.type == "hash_entry" and _enclosing_hash(entry) == hash_node:
            key = next((c for c in entry.children if c.type == "key_expression"), None)
            if key is None:
                continue
            value = [c for c in entry.named_children if c.type != "key_expression"][-1]
            yield text_of(key).strip("'\""), value


def _enclosing_hash(node: Node) -> Node | None:
    parent = node.parent
    while parent is not None and parent.type != "hash_literal_expression":
        parent = parent.parent
    return parent


def _ordered_hashes(node: Node) -> Iterator[Node]:
    """[ordered]@{} literals in ``node`` (not nested ones inside their values)."""
    for candidate in walk(node):
        if candidate.type == "cast_expression" and re.match(r"^\[ordered\]\s*@\{", text_of(candidate), re.I):
            hashes = [n for n in walk(candidate) if n.type == "hash_literal_expression"]
            if hashes:
                yield hashes[0]


# What a value expression evaluates to, for the forms the scripts use. None: not inferred.
RECORD_FUNCTIONS = {"convertto-vmrecord": "VM", "convertto-checkpointrecord": "Checkpoint", "get-hostrecord": "Host"}
INFERRED = [
    (re.compile(r"^\(?\s*\[bool\]", re.I), {"bool"}),
    (re.compile(r"^\(?\s*\$(true|false)\s*\)?$", re.I), {"bool"}),
    (re.compile(r"^\(.*\s-(eq|ne|ceq|or|and|not)\s.*\)$", re.I | re.S), {"bool"}),
    (re.compile(r"^\(?\s*\[string\]", re.I), {"str"}),
    (re.compile(r"\.ToString\([^)]*\)\s*\)?$", re.I), {"str"}),
    (re.compile(r"^\(?\s*\$env:\w+\s*\)?$", re.I), {"str"}),
    (re.compile(r"^'[^']*'$"), {"str"}),
    (re.compile(r"^\(?\s*ConvertTo-Text\b", re.I), {"str", "null"}),
    (re.compile(r"\)\.Count\s*\)?$", re.I), {"int"}),
    (re.compile(r"^\$null$", re.I), {"null"}),
    (re.compile(r"^\(?\s*@\(", re.I), {"list"}),
    (re.compile(r"^\d+$"), {"int"}),
]


def infer_type(value_text: str, assignments: dict[str, list[str]] | None = None) -> set[str] | None:
    """Set of protocol base types ('str', 'null', 'list', a record name...) or None when unknown."""
    value_text = value_text.strip()
    call = re.match(r"^\(?\s*([A-Za-z]+-[A-Za-z]+)\b", value_text)
    if call and call.group(1).lower() in RECORD_FUNCTIONS:
        return {RECORD_FUNCTIONS[call.group(1).lower()]}
    for pattern, types in INFERRED:
        if pattern.search(value_text):
            return set(types)
    variable = re.match(r"^\(?\s*\$(\w+)\s*\)?$", value_text)
    if variable and assignments is not None:
        values = assignments.get(variable.group(1).lower())
        if values:
            inferred = [types for types in (infer_type(text) for text in values) if types is not None]
            if len(inferred) == len(values):
                return set().union(*inferred)
    return None


def assignments_in(node: Node) -> dict[str, list[str]]:
    """{lower-case variable: [assigned value texts]} for `$x = ...` and `$x += ...` in ``node``."""
    found: dict[str, list[str]] = {}
    for assignment in walk(node):
        if assignment.type != "assignment_expression":
            continue
        target = text_of(assignment.children[0]).strip()
        operator = text_of(assignment.children[1]).strip()
        if not re.match(r"^\$\w+$", target):
            continue
        value = text_of(assignment.children[-1])
        if operator == "+=":
            value = "@(%s)" % value
        found.setdefault(target[1:].lower(), []).append(value)
    return found


def spec_accepts(spec: str, types: set[str]) -> bool:
    """Does protocol type ``spec`` admit every inferred type in ``types``?"""
    admitted = set()
    if spec.endswith("?"):
        admitted.add("null")
        spec = spec[:-1]
    admitted.add("list" if spec.startswith("[") else "str" if spec == "time" else spec)
    # A record that adds only optional fields to another (ListedVM: a VM and its checkpoints) is built from the
    # other's builder, with the fields added by key.
    admitted.update(name for name, other in HOST_CONTRACT.RECORDS.items()
                    if spec in HOST_CONTRACT.RECORDS and _extends(HOST_CONTRACT.RECORDS[spec], other))
    return spec == "any" or types <= admitted


def _extends(record: Any, base: Any) -> bool:
    return set(base.fields) <= set(record.fields) and set(record.fields) - set(base.fields) <= set(record.optional)


def emitted_record_problems(hash_node: Node, record: Any, assignments: dict[str, list[str]], what: str,
                            extra_keys: Iterable[str] = ()) -> list[str]:
    """The keys of an [ordered]@{} literal are exactly ``record``'s fields, with admissible types."""
    entries = dict(_hash_entries(hash_node))
    keys = list(entries) + list(extra_keys)
    expected = set(record.fields) - set(record.optional)
    problems = []
    if set(keys) - set(record.fields) or expected - set(keys):
        problems.append("line %d: %s emits keys %s, the protocol has %s"
                        % (line(hash_node), what, sorted(keys), sorted(record.fields)))
    for key, value in entries.items():
        if key not in record.fields:
            continue
        types = infer_type(text_of(value), assignments)
        if types is not None and not spec_accepts(record.fields[key], types):
            problems.append("line %d: %s.%s is %s here, the protocol says %s"
                            % (line(value), what, key, "/".join(sorted(types)), record.fields[key]))
    return problems


def check_operation_result(text: str, operation: str) -> list[str]:
    """The operation's final [ordered]@{} holds exactly the protocol's result keys, with admissible types."""
    root = parse(text)
    lists = [child for child in root.children if child.type == "statement_list"]
    statements = [s for s in (lists[0].named_children if lists else []) if s.type != "comment"]
    hashes = list(_ordered_hashes(statements[-1])) if statements else []
    if not hashes:
        return ["line 1: %s ends without an [ordered]@{} result" % operation]
    result = HOST_CONTRACT.OPERATIONS[operation].result
    record = HOST_CONTRACT.Record(result, frozenset())
    return emitted_record_problems(hashes[0], record, assignments_in(root), "%s result" % operation)


def check_record_function(text: str, function: str, record_name: str) -> list[str]:
    """A record-building function of the shared files returns exactly the protocol's record."""
    for node in walk(parse(text)):
        if node.type == "function_statement" and text_of(node.child_by_field_name("function_name") or next(
                c for c in node.children if c.type == "function_name")).lower() == function.lower():
            hashes = list(_ordered_hashes(node))
            if not hashes:
                return ["line %d: %s builds no [ordered]@{} record" % (line(node), function)]
            return emitted_record_problems(hashes[-1], HOST_CONTRACT.RECORDS[record_name], assignments_in(node),
                                           "%s (%s)" % (function, record_name))
    return ["%s is not defined" % function]


# The whole check of one file --------------------------------------------------------------------

# The record each record-building function of the shared files returns.
RECORD_BUILDERS = {"ConvertTo-VMRecord": "VM", "ConvertTo-CheckpointRecord": "Checkpoint", "Get-HostRecord": "Host"}


def check_file(path: str | pathlib.Path, common_text: str | None = None) -> list[str]:
    """Problems of one script, by its role: runner.ps1, a file of shared functions (_*.ps1) or an operation.

    ``common_text``: the shared functions the script may call (default: all of them in its directory).
    """
    path = pathlib.Path(path)
    text = read(path)
    common_text = common_text if common_text is not None else shared_text(path.parent)
    functions = dict(defined_functions(common_text), **defined_functions(text))
    problems = check_parses(text)
    problems += check_known_commands(text, functions)
    problems += check_catalog_parameters(text, functions)
    problems += check_module_qualified(text, functions)
    problems += check_confirm_false(text)
    problems += check_comment_lines_are_comments(text)
    problems += check_windows_powershell_syntax(text)
    problems += check_no_name_lookups(text)
    problems += check_no_case_sensitive_unique(text)
    if path.name == "runner.ps1":
        problems += check_runner_runs_common_then_operation(text)
        problems += check_runner_writes_one_reply(text)
        if len(encoded_command_line(text)) >= 4096:
            problems.append("the runner's command line is %d characters, the budget is 4096"
                            % len(encoded_command_line(text)))
        return problems
    problems += check_output_only_through_runner(text)
    if is_shared(path):
        problems += check_common_is_only_functions(text)
        problems += check_shared_function_layout(text)
        defined = defined_functions(text)
        for function, record in RECORD_BUILDERS.items():
            if function.lower() in defined:
                problems += check_record_function(text, function, record)
    elif path.stem in HOST_CONTRACT.OPERATIONS:
        problems += check_operation_params(text, path.stem)
        problems += check_single_result(text)
        problems += check_operation_result(text, path.stem)
    else:
        problems.append("%s is neither the runner, a file of shared functions (_*.ps1) nor an operation of the "
                        "protocol" % path.name)
    return problems


def check_shared_files(directory: pathlib.Path) -> list[str]:
    """Across the shared files: each function defined once, and each record builder defined somewhere."""
    defined: dict[str, str] = {}
    problems = []
    for path in sorted(directory.glob(SHARED_PREFIX + "*.ps1")):
        for name in defined_functions(read(path)):
            if name in defined:
                problems.append("%s: function %s is defined in %s too" % (path.name, name, defined[name]))
            defined[name] = path.name
    problems += ["no shared file defines %s" % function for function in RECORD_BUILDERS
                 if function.lower() not in defined]
    return problems


def main(argv: list[str] | None = None) -> int:
    roots = [pathlib.Path(arg) for arg in (argv if argv is not None else sys.argv[1:])] or [SCRIPT_DIR]
    paths = sorted({path for root in roots for path in ([root] if root.is_file() else root.rglob("*.ps1"))})
    failed = 0
    for path in paths:
        problems = check_file(path)
        failed += bool(problems)
        for problem in problems:
            print("%s: %s" % (path, problem))
    for directory in sorted({path.parent for path in paths if is_shared(path)}):
        problems = check_shared_files(directory)
        failed += bool(problems)
        for problem in problems:
            print("%s: %s" % (directory, problem))
    print("pscheck: %d PowerShell scripts checked, %d with problems" % (len(paths), failed))
    return 1 if failed or not paths else 0


if __name__ == "__main__":
    sys.exit(main())
