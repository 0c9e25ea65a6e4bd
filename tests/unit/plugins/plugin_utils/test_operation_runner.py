# -*- coding: utf-8 -*-
"""operation_runner: the command line, the stdin request, the reply, and run_operation over fake connections."""

from __future__ import annotations

import base64
import gzip
import json
import os
import threading

import pytest
import requests
from ansible.errors import AnsibleAuthenticationFailure, AnsibleConnectionFailure, AnsibleError
from ansible.plugins.loader import shell_loader
from ansible.release import __version__ as ansible_release

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _operation_runner as operation_runner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import (
    ConnectionLostError,
    HostError,
    OperationTimeoutError,
    ProtocolError,
    SessionRejectedError,
)

REAL_SCRIPT_DIR = operation_runner.SCRIPT_DIR
REAL_RUNNER = os.path.join(REAL_SCRIPT_DIR, "runner.ps1")
ansible_version = tuple(int(part) for part in ansible_release.split(".")[:2])
COMMON_ARGS = ["PowerShell", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Unrestricted", "-EncodedCommand"]

FAIL_OPERATION = (
    "function Fail-Operation {\n"
    "    param([string]$Code, [string]$Message)\n"
    "    $e = New-Object System.Exception $Message\n"
    "    $e.Data['hyperv_code'] = $Code\n"
    "    throw $e\n"
    "}\n"
)
# A file of shared functions: the comment lines between functions and an unused function do not travel.
COMMON_TEXT = "# shared functions\n" + FAIL_OPERATION + "\nfunction Get-Unused {\n    1\n}\n"
GET_VM_TEXT = ("param([string]$Name, [string]$Id)\n$vm = Get-VM | Where-Object { $_.Name -ceq $Name }\n"
               "if (-not $vm) { Fail-Operation -Code vm_not_found -Message $Name }\n@{ vm = $vm }\n")
OTHER_OPERATIONS = ("get_vms", "create_checkpoint", "remove_checkpoints", "restore_checkpoint", "rename_checkpoint",
                    "set_checkpoint_settings")


def real_shell():
    return shell_loader.get("powershell")


def decode_command(command):
    parts = command.split(" ")
    assert parts[:-1] == COMMON_ARGS
    return base64.b64decode(parts[-1]).decode("utf-16-le")


def stripped(text):
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


@pytest.fixture
def fresh_cache(monkeypatch):
    """Empty caches for this test only (the module fills them when it is imported)."""
    cache = {}
    monkeypatch.setattr(operation_runner, "_script_cache", cache)
    for name in ("_selection_cache", "_command_cache", "_wire_cache"):
        monkeypatch.setattr(operation_runner, name, {})
    return cache


@pytest.fixture
def script_dir(tmp_path, monkeypatch, fresh_cache):
    """A script directory with the real runner stub and fake _errors.ps1 / get_vm.ps1."""
    with open(REAL_RUNNER, "r", encoding="utf-8") as handle:
        (tmp_path / "runner.ps1").write_text(handle.read(), encoding="utf-8")
    (tmp_path / "_errors.ps1").write_text(COMMON_TEXT, encoding="utf-8")
    (tmp_path / "get_vm.ps1").write_text(GET_VM_TEXT, encoding="utf-8")
    for name in OTHER_OPERATIONS:
        (tmp_path / (name + ".ps1")).write_text("param($VMId)\n# fake %s\n" % name, encoding="utf-8")
    monkeypatch.setattr(operation_runner, "SCRIPT_DIR", str(tmp_path))
    return tmp_path


# The command line ------------------------------------------------------------------------------


def test_command_is_what_the_shell_plugin_encoded_without_its_deprecated_method(fresh_cache):
    """The same command line _encode_script(stub, strict_mode=False, preserve_rc=False) built, without calling it
    (ansible-core 2.21 deprecates it), so the psrp connection still runs it in its runspace."""
    with open(REAL_RUNNER, "r", encoding="utf-8") as handle:
        stub = handle.read()

    command = operation_runner.build_command()

    shell = real_shell()
    if hasattr(shell, "_encode_script") and ansible_version < (2, 21):  # deprecated from 2.21 on: not called there
        assert command == shell._encode_script(stub, strict_mode=False, preserve_rc=False)
    assert command.startswith("PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand ")
    decoded = decode_command(command)
    assert decoded == stripped(stub)
    # strict_mode=False and preserve_rc=False: nothing is added around the stub
    assert "Set-StrictMode" not in decoded
    assert "LASTEXITCODE" not in decoded
    # The language mode is checked before anything a locked-down host would refuse runs.
    assert decoded.splitlines()[0] == "if ($ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage') {"
    assert decoded.splitlines()[-1] == "exit $rc"
    assert len(command) < 4096


def test_building_the_command_prints_no_deprecation(fresh_cache, monkeypatch):
    from ansible.utils.display import Display

    warnings = []
    monkeypatch.setattr(Display, "deprecated", lambda self, *args, **kwargs: warnings.append((args, kwargs)))
    operation_runner.build_command()
    assert warnings == []


def test_command_line_does_not_depend_on_script_size_or_params(script_dir):
    small = operation_runner.build_command()
    small_request = operation_runner.build_request("get_vm", {"Name": "web01"})

    (script_dir / "get_vm.ps1").write_text(GET_VM_TEXT + ("$null = 'padding ü'\n" * 20000), encoding="utf-8")
    operation_runner._script_cache.clear()
    operation_runner._wire_cache.clear()
    params = {"Name": "Prüfung ✓ 雪 \"quoted\" 'single' $(Get-Date) `tick", "Names": ["é"] * 200}
    big_request = operation_runner.build_request("get_vm", params)
    big = operation_runner.build_command()

    assert len(operation_runner.decode_request(big_request)["script"]) > 200 * 1024 > len(small_request)
    assert big == small
    assert len(big) < 4096 < operation_runner.COMMAND_LINE_LIMIT


def test_run_operation_sends_the_same_command_for_every_operation(script_dir):
    (script_dir / "rename_checkpoint.ps1").write_text("param($VMId, $Id, $NewName)\n" + "$x = 1\n" * 70000,
                                                      encoding="utf-8")
    connection = FakeConnection(reply=ok_reply({"checkpoint": {"id": "1"}}))

    operation_runner.run_operation(connection, "get_vm", {"Name": "web01"})
    operation_runner.run_operation(connection, "rename_checkpoint",
                                   {"VMId": "v", "Id": "1", "NewName": "neu ✓" * 20})

    first, second = connection.calls
    assert first["cmd"] == second["cmd"]
    assert len(second["cmd"]) < 4096
    assert len(operation_runner.decode_request(second["in_data"])["script"]) > 200 * 1024
    assert "NewName" not in decode_command(second["cmd"])


def test_runner_stub_over_the_limit_is_refused_before_anything_is_sent(script_dir):
    (script_dir / "runner.ps1").write_text("\n".join("$v%d = %d" % (i, i) for i in range(2000)), encoding="utf-8")
    connection = FakeConnection(reply=ok_reply({}))

    with pytest.raises(ProtocolError) as caught:
        operation_runner.run_operation(connection, "get_vm", {"Name": "web01"}, host="hv01")

    assert caught.value.code == "protocol_error"
    assert "over the limit" in caught.value.message
    assert connection.calls == []


# The request on stdin ----------------------------------------------------------------------------


def test_request_is_one_line_of_ascii_json_with_common_and_op_apart(script_dir):
    params = {"Name": "Prüfung ✓ 雪 \"q\" 'x' [a]*?", "Names": ["日本", "e\u0301"], "All": False, "Depth": 3,
              "CheckpointType": None}

    request = operation_runner.build_request("get_vm", params)

    assert isinstance(request, bytes)
    assert request.endswith(b"\n")
    assert request.count(b"\n") == 1
    assert all(byte < 128 for byte in request)
    packed = gzip.decompress(base64.b64decode(request))
    assert b"\\u00fc" in packed  # ü escaped, not sent raw
    document = json.loads(packed.decode("ascii"))
    # Of the shared functions, only the one get_vm calls travels.
    assert document == {"name": "get_vm", "common": FAIL_OPERATION, "script": GET_VM_TEXT, "params": params}


def test_request_without_params_sends_an_empty_object(script_dir):
    document = operation_runner.decode_request(operation_runner.build_request("get_vm", None))
    assert document["params"] == {}


def test_request_keeps_unicode_in_the_script_text(script_dir):
    (script_dir / "_errors.ps1").write_text("function Fail-Operation {\n    $greeting = 'Grüße ✓'\n}\n", encoding="utf-8")
    request = operation_runner.build_request("get_vm", {})
    assert all(byte < 128 for byte in gzip.decompress(base64.b64decode(request)))
    assert operation_runner.decode_request(request)["common"] == "function Fail-Operation {\n    $greeting = 'Grüße ✓'\n}\n"


def test_request_script_is_the_file_text_with_its_comment_lines_emptied(script_dir):
    (script_dir / "_errors.ps1").write_bytes(b"# common\r\nfunction Fail-Operation {\r\n\t  # indented\r\n"
                                             b"    $x = 'a # b' # trailing\r\n#\r\n}\r\n")
    (script_dir / "get_vm.ps1").write_bytes(b"param($Name)\r\nFail-Operation\r\n")

    document = operation_runner.decode_request(operation_runner.build_request("get_vm", {"Name": "a"}))

    # Line endings and the lines of a function kept; a comment after code stays (it cannot be told from '#' in a
    # string).
    assert document["common"] == "function Fail-Operation {\r\n\r\n    $x = 'a # b' # trailing\r\n\r\n}\r\n"
    assert document["script"] == "param($Name)\r\nFail-Operation\r\n"


def test_request_carries_the_shared_functions_called_through_others_and_by_the_runner(script_dir):
    (script_dir / "_errors.ps1").write_text(
        "function Get-ErrorCode {\n    Get-ErrorId\n}\n\nfunction Get-ErrorId {\n}\n\nfunction Get-Unused {\n}\n",
        encoding="utf-8")
    (script_dir / "_lookup.ps1").write_text(
        "function Get-TargetVM {\n    if ($x) {\n    }\n    Test-SameName 'a' 'b'\n}\n\n"
        "function Test-SameName {\n    param($Left, $Right)\n}\n", encoding="utf-8")
    (script_dir / "_migration.ps1").write_text("function Get-ReplyFailure {\n    Get-ErrorCode\n}\n", encoding="utf-8")
    (script_dir / "get_vm.ps1").write_text("param($Name)\n$vm = get-targetvm -Name $Name\n", encoding="utf-8")

    common = operation_runner.decode_request(operation_runner.build_request("get_vm", {}))["common"]

    # In the files' order; names match case-insensitively, as PowerShell calls them. The runner calls
    # Get-ReplyFailure, which calls Get-ErrorCode.
    assert [line for line in common.splitlines() if line.startswith("function")] == [
        "function Get-ErrorCode {", "function Get-ErrorId {", "function Get-TargetVM {", "function Test-SameName {",
        "function Get-ReplyFailure {"]


def test_split_functions_cuts_at_the_first_line_that_is_only_a_closing_brace():
    text = "# x\r\nfunction Get-A {\r\n    if ($x) {\r\n    }\r\n}\r\n$stray = 1\r\nfunction Get-B {\r\n}"
    assert operation_runner.split_functions(text) == {
        "get-a": "function Get-A {\r\n    if ($x) {\r\n    }\r\n}\r\n", "get-b": "function Get-B {\r\n}"}


def test_request_drops_a_utf8_bom(script_dir):
    (script_dir / "get_vm.ps1").write_bytes(b"\xef\xbb\xbfparam($Name)\n")
    assert operation_runner.decode_request(operation_runner.build_request("get_vm", {}))["script"] == "param($Name)\n"


def test_operation_param_block_is_the_first_statement_of_the_script(script_dir):
    document = operation_runner.decode_request(operation_runner.build_request("get_vm", {"Name": "web01"}))
    statements = [line.strip() for line in document["script"].splitlines()
                  if line.strip() and not line.strip().startswith("#")]
    assert statements[0].lower().startswith("param(")


def test_script_cache_reads_each_file_once(script_dir, fresh_cache):
    operation_runner.build_request("get_vm", {})
    (script_dir / "get_vm.ps1").write_text("changed", encoding="utf-8")
    document = operation_runner.decode_request(operation_runner.build_request("get_vm", {}))
    assert document["script"] == GET_VM_TEXT
    assert sorted(os.path.basename(path) for path in fresh_cache) == ["_errors.ps1", "get_vm.ps1", "runner.ps1"]


# The reply on stdout ---------------------------------------------------------------------------


def test_parse_reply_success_returns_the_result():
    stdout = b'{"ok":true,"result":{"vm":{"id":"abc","name":"w\\u00e9b"}}}\r\n'
    assert operation_runner.parse_reply("get_vm", 0, stdout, b"") == {"vm": {"id": "abc", "name": "wéb"}}


def test_parse_reply_accepts_text_as_well_as_bytes():
    assert operation_runner.parse_reply("get_vm", 0, '{"ok": true, "result": {"a": 1}}', "") == {"a": 1}


def test_parse_reply_error_carries_code_message_and_details():
    stdout = json.dumps({"ok": False, "error": {"code": "vm_not_found", "message": "no VM named web01",
                                                "details": {"vm": "web01", "computer_name": "HV01"}}})
    with pytest.raises(HostError) as caught:
        operation_runner.parse_reply("get_vm", 1, stdout.encode(), b"", host="hv01")

    error = caught.value
    assert not isinstance(error, ProtocolError)
    assert error.code == "vm_not_found"
    assert error.message == "no VM named web01"
    assert error.details == {"vm": "web01", "computer_name": "HV01"}
    assert error.operation == "get_vm"
    assert error.host == "hv01"
    assert error.transient is False
    assert str(error) == "vm_not_found: no VM named web01 (operation get_vm on hv01)"


def test_parse_reply_busy_error_is_transient_and_details_default_to_empty():
    stdout = b'{"ok":false,"error":{"code":"busy","message":"merge in progress"}}'
    with pytest.raises(HostError) as caught:
        operation_runner.parse_reply("remove_checkpoints", 1, stdout, b"")
    assert caught.value.code == "busy"
    assert caught.value.transient is True
    assert caught.value.details == {}


def test_parse_reply_error_without_code_is_host_error():
    with pytest.raises(HostError) as caught:
        operation_runner.parse_reply("get_vm", 1, b'{"ok":false,"error":{}}', b"")
    assert (caught.value.code, caught.value.message) == ("host_error", "unknown error")


def test_parse_reply_skips_noise_lines_before_the_document():
    stdout = (b"WARNING: profile says hello\r\n\r\nsome {not json}\r\n"
              b'{"ok":true,"result":{"removed":["a","b"]}}\r\n\r\n')
    assert operation_runner.parse_reply("remove_checkpoints", 0, stdout, b"") == {"removed": ["a", "b"]}


def test_parse_reply_non_json_is_a_protocol_error_with_rc_and_stderr():
    stderr = b"#< CLIXML\r\nThe term 'Get-VM' is not recognized"
    with pytest.raises(ProtocolError) as caught:
        operation_runner.parse_reply("get_vm", 1, b"this is not json\r\n", stderr, host="hv01")

    error = caught.value
    assert error.code == "protocol_error"
    assert error.details["rc"] == 1
    assert error.details["stderr"] == stderr.decode()  # not CLIXML after all: kept as it came
    assert error.details["stdout"] == "this is not json"
    assert "rc=1" in error.message
    assert "not recognized" in error.message  # stderr is preferred in the message
    assert error.host == "hv01"
    assert error.transient is False


def test_parse_reply_empty_output_is_a_protocol_error():
    with pytest.raises(ProtocolError) as caught:
        operation_runner.parse_reply("get_vm", 0, b"", b"")
    assert "no output" in caught.value.message
    assert caught.value.details["rc"] == 0


@pytest.mark.parametrize("stdout", [b"[1, 2]", b'{"result": {}}', b'"ok"', b"null"])
def test_parse_reply_json_that_is_not_the_document_is_a_protocol_error(stdout):
    with pytest.raises(ProtocolError):
        operation_runner.parse_reply("get_vm", 0, stdout, b"")


@pytest.mark.parametrize("result", [[1, 2], None, "text", 5])
def test_parse_reply_non_dict_result_is_a_protocol_error(result):
    stdout = json.dumps({"ok": True, "result": result}).encode()
    with pytest.raises(ProtocolError) as caught:
        operation_runner.parse_reply("get_vm", 0, stdout, b"")
    assert caught.value.code == "protocol_error"
    assert caught.value.details["rc"] == 0
    assert type(result).__name__ in caught.value.message


# run_operation over fake connections -----------------------------------------------------------


def ok_reply(result):
    return 0, json.dumps({"ok": True, "result": result}).encode("ascii") + b"\r\n", b""


class FakeConnection:
    """Shaped like the winrm/psrp/ssh connection plugins: _shell and exec_command."""

    def __init__(self, transport="winrm", reply=None, error=None, block=None):
        self.transport = transport
        self._shell = real_shell()
        self.reply = reply
        self.error = error
        self.block = block
        self.calls = []
        self.entered = threading.Event()
        self.finished = threading.Event()

    def exec_command(self, cmd, in_data=None, sudoable=True):
        self.calls.append({"cmd": cmd, "in_data": in_data, "sudoable": sudoable})
        self.entered.set()
        try:
            if self.block is not None:
                self.block.wait(30)
            if self.error is not None:
                raise self.error
            return self.reply
        finally:
            self.finished.set()


@pytest.mark.parametrize("transport", ["winrm", "psrp", "ssh"])
@pytest.mark.parametrize("timeout", [None, 30])
def test_run_operation_passes_the_request_as_in_data_not_sudoable(script_dir, transport, timeout):
    connection = FakeConnection(transport, reply=ok_reply({"vm": {"id": "abc", "name": "web01"}}))

    result = operation_runner.run_operation(connection, "get_vm", {"Name": "wéb01"}, timeout=timeout, host="hv01")

    assert result == {"vm": {"id": "abc", "name": "web01"}}
    assert len(connection.calls) == 1
    call = connection.calls[0]
    assert call["sudoable"] is False
    assert call["in_data"] == operation_runner.build_request("get_vm", {"Name": "wéb01"})
    assert operation_runner.decode_request(call["in_data"])["params"] == {"Name": "wéb01"}
    assert decode_command(call["cmd"]) == stripped((script_dir / "runner.ps1").read_text(encoding="utf-8"))


@pytest.mark.parametrize("timeout", [None, 30])
def test_run_operation_raises_the_hosts_error(script_dir, timeout):
    reply = (1, b'{"ok":false,"error":{"code":"checkpoints_disabled","message":"disabled"}}', b"")
    connection = FakeConnection(reply=reply)
    with pytest.raises(HostError) as caught:
        operation_runner.run_operation(connection, "create_checkpoint", {"VMId": "v"}, timeout=timeout, host="hv01")
    assert (caught.value.code, caught.value.operation, caught.value.host) == ("checkpoints_disabled",
                                                                              "create_checkpoint", "hv01")


def _winrm_rejection(status):
    import winrm.exceptions

    return winrm.exceptions.WinRMTransportError("http", status, "")


def _psrp_rejection(status):
    import pypsrp.exceptions

    return pypsrp.exceptions.WinRMTransportError("http", status, "")


@pytest.mark.parametrize("timeout", [None, 30])
@pytest.mark.parametrize("failure, rejected", [
    (_winrm_rejection(400), True), (_winrm_rejection(401), True), (_psrp_rejection(401), True),
    (_winrm_rejection(500), False), (_psrp_rejection(500), False),
], ids=["winrm-400", "winrm-401", "psrp-401", "winrm-500", "psrp-500"])
def test_an_http_refusal_of_the_session_is_session_rejected(script_dir, failure, rejected, timeout):
    connection = FakeConnection(error=failure)

    with pytest.raises(HostError) as caught:
        operation_runner.run_operation(connection, "get_vm", {"Name": "web01"}, timeout=timeout, host="hv01")

    assert isinstance(caught.value, SessionRejectedError) is rejected, caught.value
    assert caught.value.code == ("session_rejected" if rejected else "protocol_error")
    assert caught.value.transient is False  # HyperVHost decides, knowing whether the host answered before


@pytest.mark.parametrize("timeout", [None, 30])
@pytest.mark.parametrize("failure", [
    AnsibleConnectionFailure("winrm connection error: reset"),
    ConnectionResetError(104, "Connection reset by peer"),
    ConnectionAbortedError(103, "aborted"),
    requests.exceptions.ConnectionError("Max retries exceeded"),
], ids=["AnsibleConnectionFailure", "ConnectionResetError", "ConnectionAbortedError", "requests.ConnectionError"])
def test_broken_connection_becomes_transient_connection_lost(script_dir, failure, timeout):
    connection = FakeConnection(error=failure)

    with pytest.raises(ConnectionLostError) as caught:
        operation_runner.run_operation(connection, "get_vm", {"Name": "web01"}, timeout=timeout, host="hv01")

    error = caught.value
    assert error.code == "connection_lost"
    assert error.transient is True
    assert error.operation == "get_vm"
    assert error.host == "hv01"
    assert error.details == {"cause": str(failure)}


@pytest.mark.parametrize("failure", [
    AnsibleAuthenticationFailure("Failed to authenticate"),
    AnsibleConnectionFailure('Data could not be sent to remote host "hv01". Make sure this host can be reached over '
                             'ssh: svc@hv01: Permission denied (publickey,password).'),
], ids=["AnsibleAuthenticationFailure", "OpenSSH refused"])
def test_refused_credentials_are_host_unreachable_and_not_retried(script_dir, failure):
    """As when winrm or psrp fail to log on (action_base): ssh logs on with the first command."""
    connection = FakeConnection(error=failure)
    with pytest.raises(HostError) as caught:
        operation_runner.run_operation(connection, "get_vm", {"Name": "web01"}, timeout=30, host="hv01")
    assert (caught.value.code, caught.value.transient) == ("host_unreachable", False)
    assert caught.value.message == "the Hyper-V host hv01 did not answer: %s" % failure


@pytest.mark.parametrize("timeout", [None, 30])
@pytest.mark.parametrize("failure", [ValueError("bad"), AnsibleError("not a connection problem"), KeyError("x")],
                         ids=["ValueError", "AnsibleError", "KeyError"])
def test_other_exceptions_become_protocol_errors_naming_them(script_dir, failure, timeout):
    # e.g. the winrm plugin failing to parse CLIXML on stderr: a task failure, never a traceback.
    connection = FakeConnection(error=failure)
    with pytest.raises(ProtocolError) as caught:
        operation_runner.run_operation(connection, "get_vm", {"Name": "web01"}, timeout=timeout, host="hv01")
    assert "could not read the host's answer: %s: %s" % (type(failure).__name__, failure) in caught.value.message
    assert caught.value.transient is False


def test_blocked_exec_command_times_out_without_waiting_for_it(script_dir):
    release = threading.Event()
    connection = FakeConnection(reply=ok_reply({}), block=release)
    try:
        with pytest.raises(OperationTimeoutError) as caught:
            operation_runner.run_operation(connection, "restore_checkpoint", {"VMId": "v"}, timeout=0.2,
                                           host="hv01")
        # the call was made, and run_operation gave up before exec_command returned
        assert connection.entered.is_set()
        assert not release.is_set()
        assert not connection.finished.is_set()
    finally:
        release.set()

    error = caught.value
    assert error.code == "timeout"
    assert error.transient is False  # the operation may still be running: never repeated blindly
    assert error.details == {"timeout": 0.2}
    assert (error.operation, error.host) == ("restore_checkpoint", "hv01")
    assert connection.finished.wait(5)


def test_importing_the_module_works_out_every_operation_s_request_once():
    # What Ansible's main process imports, each forked worker inherits (docs/performance.md).
    operations = sorted(name[:-len(".ps1")] for name in os.listdir(REAL_SCRIPT_DIR)
                        if name.endswith(".ps1") and not name.startswith("_") and name != "runner.ps1")
    assert operations and all(os.path.join(REAL_SCRIPT_DIR, name + ".ps1") in operation_runner._wire_cache
                              for name in operations)
    assert {(REAL_SCRIPT_DIR, operation_runner._wire_cache[os.path.join(REAL_SCRIPT_DIR, name + ".ps1")])
            for name in operations} <= set(operation_runner._selection_cache)
    assert REAL_SCRIPT_DIR in operation_runner._command_cache
