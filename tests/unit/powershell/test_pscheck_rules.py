# -*- coding: utf-8 -*-
"""Each rule of pscheck catches tiny bad scripts (and accepts the good forms next to them).

A check that silently stopped finding anything would make the checks of the real scripts
(test_scripts_static.py) worthless; these tests fail then.
"""

from __future__ import annotations

import pytest

from pscheck import (
    SCRIPT_DIR,
    check_catalog_parameters,
    check_comment_lines_are_comments,
    check_common_is_only_functions,
    check_confirm_false,
    check_convertto_json,
    check_known_commands,
    check_module_qualified,
    check_no_case_sensitive_unique,
    check_no_name_lookups,
    check_operation_params,
    check_operation_result,
    check_output_only_through_runner,
    check_parses,
    check_record_function,
    check_runner_runs_common_then_operation,
    check_runner_writes_one_reply,
    check_shared_files,
    check_shared_function_layout,
    check_single_result,
    check_windows_powershell_syntax,
    defined_functions,
    encoded_command_line,
    infer_type,
    shared_text,
    spec_accepts,
)

LOCAL_FUNCTIONS = defined_functions(shared_text(SCRIPT_DIR))


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
    assert check_module_qualified("ConvertTo-VMRecord -VM $vm\nGet-ClusterOwner -VMId a\n", LOCAL_FUNCTIONS) == []


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


def test_check_no_name_lookups_accepts_get_vm_by_name_only_behind_a_wildcard_test():
    guarded = ("function Get-VMByName {\n    param([string[]]$Name)\n"
               "    if (@($Name | Where-Object { [Management.Automation.WildcardPattern]::ContainsWildcardCharacters($_) })"
               ".Count -gt 0) { return @(Hyper-V\\Get-VM) }\n    Hyper-V\\Get-VM -Name $Name\n}\n")
    assert check_no_name_lookups(guarded) == []
    unguarded = "function Get-VMByName {\n    param([string[]]$Name)\n    Hyper-V\\Get-VM -Name $Name\n}\n"
    assert check_no_name_lookups(unguarded) != []
    # Only Get-VM: a checkpoint's -Name stays a pattern whatever the function tests.
    snapshot = guarded.replace("Hyper-V\\Get-VM -Name $Name", "Hyper-V\\Get-VMSnapshot -VM $vm -Name $Name")
    assert check_no_name_lookups(snapshot) != []


def test_check_no_case_sensitive_unique_catches_select_object_unique():
    assert check_no_case_sensitive_unique("$p = @($paths | Select-Object -Unique)\n") != []
    assert check_no_case_sensitive_unique("$p = @($paths | Select-Object -First 1)\n") == []


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
    assert check_operation_params(snippet, "rename_checkpoint") != []


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


@pytest.mark.parametrize("snippet", [
    "  function Get-A {\n    1\n}\n",                          # indented: not where the controller cuts
    "function Get-A { 1 }\n",                                  # on one line
    "function Get-A\n{\n    1\n}\n",                           # brace on its own line
    "function Get-A {\n    1 }\n",                            # no closing line of its own
    "function Get-A {\n    if ($x) {\n}\n    1\n}\n",           # an inner '}' at the start of a line
])
def test_check_shared_function_layout_catches_what_the_controller_would_cut_wrong(snippet):
    assert check_shared_function_layout(snippet) != []


def test_check_shared_function_layout_accepts_the_layout_of_the_shared_files():
    assert check_shared_function_layout("# x\nfunction Get-A {\n    if ($x) {\n    }\n}\n\nfunction Get-B {\n}\n") == []


def test_check_shared_files_catches_a_function_defined_twice_and_a_missing_record_builder(tmp_path):
    (tmp_path / "_a.ps1").write_text("function Get-HostRecord {\n}\nfunction Get-A {\n}\n", encoding="utf-8")
    (tmp_path / "_b.ps1").write_text("function Get-A {\n}\n", encoding="utf-8")
    problems = check_shared_files(tmp_path)
    assert "_b.ps1: function get-a is defined in _a.ps1 too" in problems
    assert "no shared file defines ConvertTo-VMRecord" in problems
    assert not any("Get-HostRecord" in problem for problem in problems)


def test_check_runner_catches_an_operation_run_with_common_in_front():
    old_runner = "$block = [ScriptBlock]::Create([string]$request.common + \"`n\" + $request.script)\n& $block @params\n"
    assert check_runner_runs_common_then_operation(old_runner) != []


def test_command_line_budget_catches_a_big_stub():
    big_stub = "\n".join("$v%d = 'padding padding'" % index for index in range(100))
    assert len(encoded_command_line(big_stub)) >= 4096


# Rules added with the standalone checker ----------------------------------------------------------


@pytest.mark.parametrize("snippet", [
    "Invoke-Expression $x\n",                      # not a built-in the scripts may use
    "Remove-Item -Path $p -Recurse\n",
    "iex $x\n",
    "Start-Process cmd.exe\n",
    "Hyper-V\\Remove-VM -VM $vm\n",                # not in the catalog at all
])
def test_check_known_commands_catches_unlisted_commands(snippet):
    assert check_known_commands(snippet, LOCAL_FUNCTIONS) != []


def test_check_known_commands_accepts_catalog_local_and_builtin_commands():
    snippet = ("$v = Hyper-V\\Get-VM | Where-Object { $_.Name -ceq 'a' } | Select-Object -First 1\n"
               "Get-TargetVM -Id $x\nfunction Own { 1 }\nOwn\n")
    assert check_known_commands(snippet, LOCAL_FUNCTIONS) == []


@pytest.mark.parametrize("snippet", [
    "$j = ConvertTo-Json -InputObject $r -Depth 5\n",
    "Write-Host 'done'\n",
    "Write-Output $r\n",
    "$r | Out-String\n",
    "Microsoft.PowerShell.Utility\\Write-Host 'x'\n",
    "[Console]::WriteLine('x')\n",
    "[System.Console]::Out.Write('x')\n",
])
def test_check_output_only_through_runner_catches_other_output(snippet):
    assert check_output_only_through_runner(snippet) != []


def test_check_output_only_through_runner_accepts_results_and_silenced_calls():
    assert check_output_only_through_runner("$null = Hyper-V\\Start-VM -VM $vm\n[ordered]@{ a = 1 }\n") == []


@pytest.mark.parametrize("snippet", [
    "$a = ConvertTo-Json -InputObject $r -Depth 12\n$b = ConvertTo-Json -InputObject $s -Depth 12\n",
    "$a = 1\n",
    "$a = ConvertTo-Json -InputObject $r\n",
])
def test_check_runner_writes_one_reply_catches_missing_extra_or_shallow_json(snippet):
    assert check_runner_writes_one_reply(snippet) != []


@pytest.mark.parametrize("snippet", [
    "param([string]$VMId, [string[]]$Id, [string]$NewName)\n",   # -Id would take a list
    "param([string]$VMId, [int]$Id, [string]$NewName)\n",
    "param([string]$VMId, [bool]$Id, [string]$NewName)\n",
])
def test_check_operation_params_catches_wrong_types(snippet):
    assert check_operation_params(snippet, "rename_checkpoint") != []


def test_check_operation_params_accepts_the_protocol_types():
    assert check_operation_params("param([string]$VMId, [string[]]$Ids, [switch]$IncludeChildren, "
                                  "[int]$MergeGraceSeconds)\n", "remove_checkpoints") == []
    assert check_operation_params("param([string]$VMId, [string]$Name, [string]$CheckpointType, [long]$MinFreeBytes, "
                                  "[int]$CheckpointLimit)\n", "create_checkpoint") == []


@pytest.mark.parametrize("snippet", [
    "param($VMId)\n[ordered]@{ removed = @(); vm = (ConvertTo-VMRecord -VM $vm); extra = 1 }\n",
    "param($VMId)\n[ordered]@{ removed = @() }\n",
    "param($VMId)\n[ordered]@{ removed = @(); vm = (ConvertTo-CheckpointRecord -Snapshot $s) }\n",
    "param($VMId)\n[ordered]@{ removed = [string]$x; vm = (ConvertTo-VMRecord -VM $vm) }\n",
    "param($VMId)\n$gone = $null\n[ordered]@{ removed = $gone; vm = (ConvertTo-VMRecord -VM $vm) }\n",
])
def test_check_operation_result_catches_keys_and_types_off_the_protocol(snippet):
    assert check_operation_result(snippet, "remove_checkpoints") != []


def test_check_operation_result_follows_variables_to_their_assignments():
    snippet = ("param($VMId)\n$gone = @()\nforeach ($i in $x) { $gone += ConvertTo-Text $i }\n"
               "[ordered]@{ removed = $gone; merge = 'none'; vm = (ConvertTo-VMRecord -VM $vm) }\n")
    assert check_operation_result(snippet, "remove_checkpoints") == []


@pytest.mark.parametrize("body", [
    "computer_name = $env:COMPUTERNAME; os_caption = 'x'; os_version = 'y'; supports_checkpoint_type = $true",
    "computer_name = $env:COMPUTERNAME; os_caption = 'x'; os_version = 'y'; supports_checkpoint_type = $true; "
    "supports_automatic_checkpoints = $true; tz = 'UTC'",
    "computer_name = (ConvertTo-Text $env:X); os_caption = 'x'; os_version = 'y'; supports_checkpoint_type = $true; "
    "supports_automatic_checkpoints = $true",
    "computer_name = $env:COMPUTERNAME; os_caption = 'x'; os_version = 'y'; supports_checkpoint_type = 'yes'; "
    "supports_automatic_checkpoints = $true",
])
def test_check_record_function_catches_records_off_the_protocol(body):
    snippet = "function Get-HostRecord {\n    [ordered]@{ %s }\n}\n" % body
    assert check_record_function(snippet, "Get-HostRecord", "Host") != []


def test_check_record_function_accepts_the_protocol_record():
    snippet = ("function Get-HostRecord {\n    [ordered]@{ computer_name = $env:COMPUTERNAME; os_caption = [string]$c; "
               "os_version = 'y'; supports_checkpoint_type = (Test-SetVMParameter -Name 'x'); "
               "supports_automatic_checkpoints = $false; time = [DateTime]::UtcNow.ToString('o') }\n}\n")
    assert check_record_function(snippet, "Get-HostRecord", "Host") == []
    assert check_record_function(snippet, "Get-Other", "Host") == ["Get-Other is not defined"]


@pytest.mark.parametrize("text, types", [
    ("[bool]$vm.IsClustered", {"bool"}), ("($a -eq 'x' -or $b -eq 'y')", {"bool"}), ("$true", {"bool"}),
    ("[string]$vm.Name", {"str"}), ("$vm.State.ToString()", {"str"}), ("$env:COMPUTERNAME", {"str"}),
    ("(ConvertTo-Text $vm.Id)", {"str", "null"}), ("@($s).Count", {"int"}), ("50", {"int"}),
    ("(ConvertTo-VMRecord -VM $vm)", {"VM"}), ("$null", {"null"}), ("@(1, 2)", {"list"}),
    ("(Test-SetVMParameter -Name 'x')", None), ("$unknown", None),
])
def test_infer_type_reads_the_forms_the_scripts_use(text, types):
    assert infer_type(text, {}) == types


@pytest.mark.parametrize("snippet", [
    "<# a block comment #>\nGet-Date\n",
    "Get-Date\n<#\n# inside\n#>\n",
    "$text = @\"\n# not a comment\n\"@\n",
    "$text = @'\n# not a comment\n'@\n",
])
def test_check_comment_lines_are_comments_catches_block_comments_and_here_strings(snippet):
    assert check_comment_lines_are_comments(snippet) != []


def test_check_comment_lines_are_comments_accepts_comment_lines_and_hashes_in_strings():
    assert check_comment_lines_are_comments("# why\n  # indented\n$a = 'a # b' # trailing\n$h = @{ a = 1 }\n") == []


def test_spec_accepts_a_record_built_from_the_builder_of_the_record_it_extends():
    assert spec_accepts("ListedVM", {"VM"})  # a VM record with its checkpoints added by key
    assert not spec_accepts("VM", {"ListedVM"})
    assert not spec_accepts("Checkpoint", {"VM"})
    assert not spec_accepts("ListedVM", {"Checkpoint"})
