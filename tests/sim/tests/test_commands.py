"""The simulated host's command host (hyperv_sim.commands) and admin API (hyperv_sim.admin).

Most tests use a fake script directory, so that they test the command host and not the
collection's PowerShell files; one test checks that the real files are the default.
"""

from __future__ import annotations

import base64
import gzip
import json
import pathlib
import threading
import time

import pytest
from ansible.executor.powershell import module_manifest
from ansible.plugins.shell import powershell

from hyperv_sim import admin, commands, engine
from hyperv_sim.admin import SimHost
from hyperv_sim.commands import CommandHost, CommandResult
from hyperv_sim.state import StateFileError

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_contract import MAX_CHECKPOINTS

RUNNER_WORDS = ["PowerShell", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Unrestricted", "-EncodedCommand"]
# Indentation, CRLF and blank lines: the command line carries the stripped text.
FAKE_RUNNER = ("$ErrorActionPreference = 'Stop'\r\n\r\n    $request = [string]::Join(\"`n\", @($input))\r\n"
               "  exit $rc\r\n")
FAKE_COMMON = "function Stop-Operation {\r\n    param([string]$Code)\r\n}\r\n"


def fake_operation_script(name):
    return "param()\r\n# the fake %s operation\r\n$operation = '%s'\r\n" % (name, name)


@pytest.fixture
def script_dir(tmp_path):
    directory = tmp_path / "powershell"
    directory.mkdir()
    files = {"runner.ps1": FAKE_RUNNER, "_common.ps1": FAKE_COMMON}
    files.update({name + ".ps1": fake_operation_script(name) for name in engine.OPERATIONS})
    for filename, text in files.items():
        (directory / filename).write_text(text, encoding="utf-8", newline="")
    return directory


@pytest.fixture
def state_path(tmp_path):
    return tmp_path / "lab" / "hyperv-state.json"


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def command_host(state_path, script_dir, sleeps):
    return CommandHost(str(state_path), initial_vms=["web01", "db01"], script_dir=script_dir, sleep=sleeps.append)


@pytest.fixture
def sim(state_path, command_host):
    return SimHost(state_path)


def encode(text):
    return base64.b64encode(text.encode("utf-16-le")).decode("ascii")


def runner_command(runner_text=FAKE_RUNNER):
    """(command, arguments) as Ansible's winrm connection sends the encoded runner stub."""
    return RUNNER_WORDS[0], RUNNER_WORDS[1:] + [encode(commands.encoded_runner_text(runner_text))]


def request(name, params=None, common=FAKE_COMMON, script=None):
    script = commands.wire_form(fake_operation_script(name)) if script is None else script
    if name == "create_checkpoint":  # the controller sends the limit with every create (_hyperv_host)
        params = dict({"CheckpointLimit": MAX_CHECKPOINTS}, **(params or {}))
    body = {"name": name, "common": common, "script": script,
            "params": params or {}}
    return pack(json.dumps(body, ensure_ascii=True).encode("ascii"))


def pack(data):
    """stdin as the controller sends it: base64 of gzip, one line."""
    return base64.b64encode(gzip.compress(data, mtime=0)) + b"\n"


def call(host, name, **params):
    """Run operation ``name``; returns (CommandResult, the JSON document on stdout)."""
    result = host.run(*runner_command(), request(name, params))
    return result, json.loads(result.stdout)


def web01_id(sim):
    return sim.vm("web01")["id"]


# -- the command line -------------------------------------------------------------------------

def test_the_runner_answers_with_one_json_document(command_host, sim):
    result, document = call(command_host, "get_vm", Name="web01")
    assert isinstance(result, CommandResult)
    assert (result.exit_code, result.stderr, result.fault, result.hang_seconds) == (0, b"", None, 0.0)
    assert result.stdout.endswith(b"\r\n") and result.stdout.count(b"\n") == 1
    assert document == {"ok": True, "result": {"vm": document["result"]["vm"]}}
    assert document["result"]["vm"]["id"] == web01_id(sim)
    result, document = call(command_host, "get_vm", Name="nope")
    assert result.exit_code == 1
    assert document == {"ok": False, "error": {"code": "vm_not_found", "message": "No VM 'nope' on host HV01",
                                               "details": {"vm": "nope", "computer_name": "HV01",
                                                           "names": ["web01", "db01"]},
                                               "computer_name": "HV01"}}


def test_the_reply_is_ascii_with_escapes(command_host, sim):
    result, document = call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="检查点 ✓")
    result.stdout.decode("ascii")
    assert b"\\u68c0" in result.stdout
    assert document["result"]["checkpoint"]["name"] == "检查点 ✓"


def test_the_first_words_compare_without_case(command_host):
    command, arguments = runner_command()
    lower = " ".join([command.lower()] + [word.upper() for word in arguments[:-1]] + [arguments[-1]])
    result = command_host.run(lower, [], request("get_vms", {"All": True}))
    assert result.exit_code == 0
    assert [vm["name"] for vm in json.loads(result.stdout)["result"]["vms"]] == ["db01", "web01"]


def test_ansibles_own_encoding_of_the_runner_is_accepted(command_host):
    powershell = pytest.importorskip("ansible.plugins.shell.powershell")
    line = powershell.ShellModule()._encode_script(FAKE_RUNNER, strict_mode=False, preserve_rc=False)
    parts = line.split(" ")
    assert command_host.run(parts[0], parts[1:], request("get_vm", {"Name": "db01"})).exit_code == 0


@pytest.mark.parametrize("command, arguments", [
    ("cmd.exe", ["/c", "dir"]),
    ("PowerShell", ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Unrestricted", "-Command", "-"]),
    ("PowerShell", RUNNER_WORDS[1:] + [encode("Remove-VM -Name * -Force")]),
    ("PowerShell", RUNNER_WORDS[1:] + [encode(FAKE_RUNNER)]),  # not stripped as _encode_script does
    ("PowerShell", RUNNER_WORDS[1:] + ["not base64!"]),
    ("PowerShell", RUNNER_WORDS[1:] + [encode(commands.encoded_runner_text(FAKE_RUNNER)), "extra"]),
    ("PowerShell", ["-NoProfile", "-ExecutionPolicy", "Bypass", "-EncodedCommand",
                    encode(commands.encoded_runner_text(FAKE_RUNNER))]),
])
def test_anything_but_the_runner_is_refused(command_host, sim, command, arguments):
    result = command_host.run(command, arguments, request("create_checkpoint", {"VMId": web01_id(sim), "Name": "x"}))
    line = command + " " + " ".join(arguments)
    assert (result.exit_code, result.stdout) == (1, b"")
    assert result.stderr.decode() == ("hyperv-sim: refused: only the hyperv.checkpoint runner and Ansible's PowerShell "
                                      "exec wrapper can run on this simulated host (got: %s)\r\n" % line[:80])
    assert sim.checkpoints("web01") == []


def test_the_command_line_limit_of_cmd_exe(command_host):
    too_long = command_host.run("x" * 8000, ["y" * 191], b"")
    assert (too_long.exit_code, too_long.stdout, too_long.stderr) == (1, b"", b"The command line is too long.\r\n")
    at_the_limit = command_host.run("x" * 8000, ["y" * 190], b"")
    assert b"refused" in at_the_limit.stderr


# -- the request on stdin ---------------------------------------------------------------------

@pytest.mark.parametrize("stdin, reason", [
    (b'{"name": "get_vm"}\n', "not base64 of gzip"),  # plain JSON: the runner only takes it packed
    (base64.b64encode(b"not gzip") + b"\n", "not base64 of gzip"),
    (pack(b"{not json"), "not JSON"),
    (pack(b"\xff\xfe"), "not JSON"),
    (b"", "not JSON"),
    (pack(b"[1, 2]"), "not a JSON object"),
    (request("format_disk"), "unknown operation"),
    (request("get_vm", common="function Stop-Operation {}"), "common"),
    (request("get_vm", script=commands.wire_form(fake_operation_script("get_vms"))), "get_vm.ps1"),
    (pack(json.dumps({"name": "get_vm", "common": FAKE_COMMON, "script": commands.wire_form(fake_operation_script("get_vm")),
                      "params": ["web01"]}).encode()), "params"),
])
def test_a_request_that_is_not_the_collections_is_invalid(command_host, state_path, stdin, reason):
    before = state_path.read_text()
    result = command_host.run(*runner_command(), stdin)
    document = json.loads(result.stdout)
    assert result.exit_code == 1
    assert document["ok"] is False and document["error"]["code"] == "invalid_request"
    assert reason in document["error"]["message"]
    assert state_path.read_text() == before


def test_the_scripts_are_read_at_every_call(command_host, script_dir):
    edited = "param([string]$Name, [string]$Id)\n$edited = 1\n"
    (script_dir / "get_vm.ps1").write_text(edited, encoding="utf-8", newline="")
    stale = command_host.run(*runner_command(), request("get_vm", {"Name": "web01"}))
    assert json.loads(stale.stdout)["error"]["code"] == "invalid_request"
    fresh = command_host.run(*runner_command(), request("get_vm", {"Name": "web01"}, script=edited))
    assert fresh.exit_code == 0
    # A BOM is dropped, like the controller does; line endings are kept.
    (script_dir / "get_vm.ps1").write_bytes(b"\xef\xbb\xbf" + edited.encode())
    assert command_host.run(*runner_command(), request("get_vm", {"Name": "web01"}, script=edited)).exit_code == 0
    crlf = edited.replace("\n", "\r\n")
    assert command_host.run(*runner_command(), request("get_vm", {"Name": "web01"}, script=crlf)).exit_code == 1
    # The runner itself, too.
    (script_dir / "runner.ps1").write_text("exit 0\n", encoding="utf-8")
    assert b"refused" in command_host.run(*runner_command(), request("get_vm", {"Name": "web01"})).stderr
    edited_request = request("get_vm", {"Name": "web01"}, script=edited)
    assert command_host.run(*runner_command("exit 0\n"), edited_request).exit_code == 0


def test_the_real_scripts_are_the_default(state_path):
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _operation_runner

    host = CommandHost(str(state_path), initial_vms=["web01"])
    assert host.script_dir == commands.DEFAULT_SCRIPT_DIR
    assert commands.DEFAULT_SCRIPT_DIR == pathlib.Path(__file__).resolve().parents[3] / "plugins" / "plugin_utils" / \
        "powershell"
    command, arguments = runner_command(commands.read_file(commands.DEFAULT_SCRIPT_DIR, "runner.ps1"))
    result = host.run(command, arguments, _operation_runner.build_request("get_vm", {"Name": "web01"}))
    assert result.exit_code == 0, result
    assert json.loads(result.stdout)["result"]["vm"]["name"] == "web01"


def real_request(name, **changes):
    """The controller's request document for operation ``name`` of the real scripts, with ``changes``."""
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _operation_runner

    return pack(json.dumps(dict(_operation_runner.request_document(name, {}), **changes)).encode())


@pytest.mark.parametrize("change, reason", [
    (lambda common: "", "lacks"),                                           # nothing sent
    (lambda common: common[:-3], "more than shared function"),              # the last one cut short
    (lambda common: common + "$leak = 1\n", "more than shared function"),    # a statement that would run
    (lambda common: common.replace("ConvertTo-Text", "ConvertTo-Txt"), "not a function of the collection's"),
    (lambda common: common + common, "twice"),
])
def test_a_request_without_the_shared_functions_as_written_is_invalid(state_path, change, reason):
    """The real scripts: get_vm is sent the functions it calls, exactly as the files write them."""
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _operation_runner

    host = CommandHost(str(state_path), initial_vms=["web01"])
    common = _operation_runner.request_document("get_vm", {})["common"]
    command, arguments = runner_command(commands.read_file(commands.DEFAULT_SCRIPT_DIR, "runner.ps1"))
    document = json.loads(host.run(command, arguments, real_request("get_vm", common=change(common))).stdout)
    assert document["error"]["code"] == "invalid_request"
    assert reason in document["error"]["message"]


# -- the state file behind the commands -------------------------------------------------------

def test_the_state_file_is_created_with_the_initial_vms_once(state_path, script_dir):
    CommandHost(str(state_path), initial_vms=["web01"], host_name="HV07", script_dir=script_dir)
    CommandHost(str(state_path), initial_vms=["web01", "db01"], script_dir=script_dir)
    sim = SimHost(state_path)
    summary = sim.summary()
    assert summary["host"]["computer_name"] == "HV07"
    assert [(vm["name"], vm["state"], vm["checkpoint_type"]) for vm in summary["vms"]] == [
        ("db01", "Running", "Production"), ("web01", "Running", "Production")]
    assert (sim.disk_path("web01") / "disk.txt").read_text() == "base image of web01\n"
    assert sim.disk_path("web01") == state_path.parent / "hyperv-state.disks" / sim.vm("web01")["id"] / "current"


def test_reads_leave_the_state_file_as_it_was(command_host, sim, state_path):
    sim.add_checkpoint("web01", "keep-me")
    before = state_path.read_text()
    call(command_host, "get_vms", All=True, IncludeCheckpoints=True, IncludeSizes=True)
    call(command_host, "get_vm", Name="nope")
    assert state_path.read_text() == before


def test_a_restore_that_starts_the_vm_takes_the_hosts_start_time(command_host, sim, sleeps):
    sim.set_host(start_seconds=1.5)
    made = call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="cp")[1]["result"]["checkpoint"]
    call(command_host, "restore_checkpoint", VMId=web01_id(sim), Id=made["id"], PowerState="running")
    assert sleeps == [1.5]


def test_a_create_lists_the_vms_checkpoints_as_they_are_right_after_it(command_host, sim):
    first = call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="first")[1]["result"]
    second = call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="second")[1]["result"]
    assert [cp["name"] for cp in first["vm"]["checkpoints"]] == ["first"]
    assert [cp["id"] for cp in second["vm"]["checkpoints"]] == [first["checkpoint"]["id"], second["checkpoint"]["id"]]
    listed = call(command_host, "get_vms", Names=["web01"], Ids=[], All=False, IncludeCheckpoints=True,
                  IncludeSizes=False)[1]["result"]["vms"][0]["checkpoints"]
    assert second["vm"]["checkpoints"] == listed


def test_a_checkpoint_takes_the_hosts_checkpoint_time(command_host, sim, sleeps):
    sim.set_host(checkpoint_seconds=3)
    result, document = call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="cp")
    call(command_host, "get_vm", Name="web01")
    assert document["ok"] and sleeps == [3.0]
    assert result.label == "runner:create_checkpoint"


def exec_wrapper_command(script):
    """(command, arguments, stdin) of a PowerShell module task as ansible-core 2.19 sends it over winrm."""
    bootstrap = module_manifest._get_powershell_script("bootstrap_wrapper.ps1").decode()
    words = powershell.ShellModule()._encode_script(bootstrap, strict_mode=False, preserve_rc=False).split(" ")
    stdin = module_manifest._create_powershell_wrapper(
        name="ansible.windows.win_powershell", module_data=FAKE_PS_MODULE, module_path="/c/win_powershell.ps1",
        module_args={"script": script, "_ansible_check_mode": False}, environment={}, async_timeout=0,
        become_plugin=None, substyle="powershell", task_vars={}, profile="legacy")
    return words[0], words[1:], stdin


FAKE_PS_MODULE = (b"#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basic\n"
                  b"$module = [Ansible.Basic.AnsibleModule]::Create($args, @{})\n$module.ExitJson()\n")


def test_a_powershell_module_gets_a_success_answer_without_running(command_host, sim):
    command, arguments, stdin = exec_wrapper_command("Checkpoint-VM -Name web01 -SnapshotName x")
    result = command_host.run(command, arguments, stdin)
    answer = json.loads(result.stdout)
    assert (result.exit_code, result.stderr, result.label) == (0, b"", "exec_wrapper:ansible.windows.win_powershell")
    assert answer["changed"] is True
    assert answer["invocation"]["module_args"] == {"script": "Checkpoint-VM -Name web01 -SnapshotName x"}
    assert sim.checkpoints("web01") == []  # host-side work is not simulated


def test_the_shell_plugins_helpers_run_through_the_exec_wrapper(command_host):
    script, stdin = module_manifest._bootstrap_powershell_script("powershell_expand_user.ps1", {"Path": "~\\x"})
    words = powershell.ShellModule()._encode_script(script).split(" ")
    result = command_host.run(words[0], words[1:], stdin)
    expected = (0, b"C:\\Users\\ansible-sim\\x\r\n", "exec_wrapper:expand_user")
    assert (result.exit_code, result.stdout, result.label) == expected


@pytest.mark.parametrize("tamper", [
    lambda stdin: stdin.replace(b"\n\0\0\0\0\n", b"\n"),                      # no manifest
    lambda stdin: stdin.replace(b'"exec_wrapper"', b'"other"', 1),             # not the exec wrapper
    lambda stdin: stdin.replace(b"$ErrorActionPreference", b"$Other", 1),     # exec_wrapper.ps1 altered
    lambda stdin: stdin.split(b"\n\0\0\0\0\n", maxsplit=1)[0] + b"\n\0\0\0\0\n{}",  # no actions
])
def test_a_tampered_exec_wrapper_payload_is_refused(command_host, tamper):
    command, arguments, stdin = exec_wrapper_command("Get-VM")
    result = command_host.run(command, arguments, tamper(stdin))
    assert (result.exit_code, result.stdout) == (1, b"")
    assert result.stderr.startswith(b"hyperv-sim: refused: ")


def test_concurrent_commands_lose_no_update(state_path, script_dir, command_host, sim):
    vm_id = web01_id(sim)

    def create_some(worker):
        host = CommandHost(str(state_path), script_dir=script_dir)  # one per ansible fork
        for number in range(5):
            result, _ = call(host, "create_checkpoint", VMId=vm_id, Name="w%d-%d" % (worker, number))
            assert result.exit_code == 0

    threads = [threading.Thread(target=create_some, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sim.checkpoints("web01")) == 20


# -- faults -----------------------------------------------------------------------------------

def test_a_fail_fault_answers_its_error_without_running_the_operation(command_host, sim):
    sim.inject_fault("create_checkpoint", "fail", code="busy", message="try later", times=2)
    for _ in range(2):
        result, document = call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="cp")
        assert (result.exit_code, result.fault) == (1, None)
        assert document["error"] == {"code": "busy", "message": "try later", "details": None, "computer_name": "HV01"}
    assert sim.checkpoints("web01") == []
    assert sim.summary()["faults"] == []
    result, _ = call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="cp")
    assert result.exit_code == 0 and len(sim.checkpoints("web01")) == 1


def test_a_hang_fault_before_the_operation(command_host, sim):
    sim.inject_fault("create_checkpoint", "hang", hang_seconds=7)
    result, document = call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="cp")
    assert (result.fault, result.hang_seconds) == ("hang", 7.0)
    assert document["error"]["code"] == "busy"
    assert sim.checkpoints("web01") == []


def test_a_hang_fault_after_the_operation(command_host, sim):
    sim.inject_fault("create_checkpoint", "hang", after=True)
    result, document = call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="cp")
    assert (result.fault, result.hang_seconds, result.exit_code) == ("hang", 0.0, 0)
    assert document["result"]["checkpoint"]["name"] == "cp"
    assert [cp["name"] for cp in sim.checkpoints("web01")] == ["cp"]


def test_a_drop_fault_runs_the_operation_and_loses_the_answer(command_host, sim):
    sim.inject_fault("create_checkpoint", "drop")
    result, _ = call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="cp")
    assert result.fault == "drop"
    assert [cp["name"] for cp in sim.checkpoints("web01")] == ["cp"]
    assert call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="cp2")[0].fault is None


def test_a_drop_before_fault_loses_the_connection_without_running_the_operation(command_host, sim):
    sim.inject_fault("create_checkpoint", "drop_before")
    result, _ = call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="cp")
    assert result.fault == "drop"
    assert sim.checkpoints("web01") == []


def test_a_delay_fault_runs_the_operation_late_and_lets_others_run_before(command_host, sim, sleeps):
    sim.inject_fault("create_checkpoint", "delay", hang_seconds=2.5, vm="web01")
    state_seen = []
    command_host.sleep = lambda seconds: (sleeps.append(seconds), state_seen.append(sim.checkpoints("web01")))
    result, document = call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="cp")
    assert (result.fault, result.exit_code, document["result"]["checkpoint"]["name"]) == (None, 0, "cp")
    assert sleeps[0] == 2.5 and state_seen[0] == []  # nothing was made while the command waited
    assert [cp["name"] for cp in sim.checkpoints("web01")] == ["cp"] and sim.summary()["faults"] == []


def wait_for(condition, what, timeout=60):
    """Poll ``condition`` (a state the simulator reached) until it holds; 60 s is only the limit for a
    broken simulator, the condition normally holds within milliseconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting for " + what
        time.sleep(0.01)


def start_create(command_host, sim, name):
    """A create on web01 in a thread of its own; returns (thread, its outcome once it ended)."""
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(
        document=call(command_host, "create_checkpoint", VMId=web01_id(sim), Name=name)[1]))
    thread.start()
    return thread, outcome


def release(thread, sim):
    """After a failed test: let a run still held by a barrier go, so the test ends without waiting for it."""
    if thread.is_alive():
        sim.clear_faults()
        thread.join()


def test_a_barrier_fault_holds_each_run_until_all_have_arrived(command_host, sim):
    sim.inject_fault("create_checkpoint", "barrier", times=2, vm="web01")
    command_host.sleep = time.sleep  # the held run polls the state file; let the test's own thread run
    first, first_outcome = start_create(command_host, sim, "first")
    try:
        # The first run arrived (it used up one of the barrier's two runs) and made nothing: without the
        # barrier it would have made its checkpoint in the transaction that took the fault.
        wait_for(lambda: sim.summary()["faults"][0]["times"] == 1, "the first create to reach the barrier")
        assert sim.checkpoints("web01") == [] and first.is_alive()
        # Other commands run meanwhile: what the racing run reads before its own create.
        read = call(command_host, "get_vms", Names=["web01"], Ids=[], All=False, IncludeCheckpoints=True,
                    IncludeSizes=False)[1]
        assert read["result"]["vms"][0]["checkpoints"] == []
        second = call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="second")[1]
        first.join(timeout=60)
        assert not first.is_alive(), "the second run did not let the first go"
    finally:
        release(first, sim)
    assert first_outcome["document"]["ok"] and second["ok"], (first_outcome, second)
    assert sorted(cp["name"] for cp in sim.checkpoints("web01")) == ["first", "second"]
    assert sim.summary()["faults"] == []
    # Used up: the next create runs at once.
    assert call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="third")[1]["ok"]


def test_clearing_the_faults_lets_the_runs_held_by_a_barrier_go(command_host, sim):
    sim.inject_fault("create_checkpoint", "barrier", times=3)
    command_host.sleep = time.sleep
    held, outcome = start_create(command_host, sim, "held")
    try:
        wait_for(lambda: sim.summary()["faults"][0]["times"] == 2, "the create to reach the barrier")
        assert sim.checkpoints("web01") == []
        sim.clear_faults()
        held.join(timeout=60)
        assert not held.is_alive() and outcome["document"]["ok"]
    finally:
        release(held, sim)
    assert [cp["name"] for cp in sim.checkpoints("web01")] == ["held"]


def test_a_barrier_whose_other_runs_never_come_gives_up_without_running_the_operation(command_host, sim):
    sim.inject_fault("create_checkpoint", "barrier", times=2)
    now = [0.0]
    command_host.monotonic = lambda: now[0]
    command_host.sleep = lambda seconds: now.__setitem__(0, now[0] + seconds)
    result, document = call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="alone")
    assert result.exit_code == 1 and document["error"]["code"] == "host_error"
    assert "still waited for 1 of its 2 runs" in document["error"]["message"]
    assert commands.BARRIER_TIMEOUT_SECONDS <= now[0] < commands.BARRIER_TIMEOUT_SECONDS + 1
    assert sim.checkpoints("web01") == []
    # The fault stays, showing that a run never came.
    assert [fault["times"] for fault in sim.summary()["faults"]] == [1]


def test_a_fault_for_one_vm_leaves_the_other_vms_alone(command_host, sim):
    sim.inject_fault("create_checkpoint", "fail", code="host_error", message="db01 only", vm="db01")
    assert call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="cp")[0].exit_code == 0
    result, document = call(command_host, "create_checkpoint", VMId=sim.vm("db01")["id"], Name="cp")
    assert (result.exit_code, document["error"]["message"]) == (1, "db01 only")
    assert sim.summary()["faults"] == []
    with pytest.raises(ValueError, match="change operation"):
        sim.inject_fault("get_vms", "fail", vm="db01")


def test_a_fault_with_skip_lets_runs_pass_even_while_an_earlier_fault_fires(command_host, sim):
    sim.inject_fault("get_vms", "fail", code="host_error", message="first")
    sim.inject_fault("get_vms", "fail", code="host_error", message="third", skip=2)
    messages = [call(command_host, "get_vms", All=True)[1].get("error", {}).get("message") for _ in range(4)]
    assert messages == ["first", None, "third", None]


def test_faults_match_their_operation_in_order_and_forever_with_minus_one(command_host, sim):
    sim.inject_fault("get_vms", "fail", code="host_error", message="first", times=-1)
    sim.inject_fault("get_vms", "fail", code="busy", message="second")
    sim.inject_fault("get_vm", "drop")
    for _ in range(3):
        assert call(command_host, "get_vms", All=True)[1]["error"]["message"] == "first"
    assert [fault["operation"] for fault in sim.summary()["faults"]] == ["get_vms", "get_vms", "get_vm"]
    sim.clear_faults()
    assert call(command_host, "get_vms", All=True)[0].exit_code == 0
    assert call(command_host, "get_vm", Name="web01")[0].fault is None


def test_faults_are_validated(sim):
    with pytest.raises(ValueError, match="unknown operation"):
        sim.inject_fault("create_vm", "fail")
    with pytest.raises(ValueError, match="action"):
        sim.inject_fault("get_vm", "explode")
    with pytest.raises(ValueError, match="times"):
        sim.inject_fault("get_vm", "fail", times=0)
    for times in (1, -1):
        with pytest.raises(ValueError, match="barrier needs times="):
            sim.inject_fault("create_checkpoint", "barrier", times=times)


# -- the admin API ----------------------------------------------------------------------------

def test_add_vm_and_inspect_it(sim):
    vm_id = sim.add_vm("app01", state="Off", checkpoint_type="Standard", guest_can_quiesce=False,
                       automatic_checkpoints=True, files={"etc/app.conf": "v1\n", "bin/app": b"\x7fELF\x00"})
    vm = sim.vm("app01")
    assert vm == sim.vm(vm_id.upper())
    assert (vm["id"], vm["state"], vm["checkpoint_type"], vm["guest_can_quiesce"], vm["automatic_checkpoints"]) == \
        (vm_id, "Off", "Standard", False, True)
    disk = sim.disk_path("app01")
    assert (disk / "etc" / "app.conf").read_text() == "v1\n" and (disk / "bin" / "app").read_bytes() == b"\x7fELF\x00"
    with pytest.raises(ValueError):
        sim.add_vm("bad", state="Exploded")


def test_vm_lookup_by_name_or_id(sim):
    first = sim.add_vm("twin")
    sim.add_vm("twin")
    with pytest.raises(LookupError, match="2 VMs are named"):
        sim.vm("twin")
    assert sim.vm(first)["id"] == first
    with pytest.raises(LookupError):
        sim.vm("nobody")


def test_set_vm_and_set_host(sim, command_host):
    sim.set_vm("web01", guest_can_quiesce=False, guest_reachable=False, state="Saved", checkpoint_type="Standard")
    vm = sim.vm("web01")
    assert (vm["guest_can_quiesce"], vm["guest_reachable"], vm["state"], vm["checkpoint_type"]) == \
        (False, False, "Saved", "Standard")
    sim.set_vm("web01", owner_node="HV02")
    assert call(command_host, "get_vm", Name="web01")[1]["error"]["code"] == "owned_by_other_node"
    sim.set_vm("db01", busy_seconds=60)
    assert call(command_host, "create_checkpoint", VMId=sim.vm("db01")["id"], Name="x")[1]["error"]["code"] == "busy"
    sim.set_vm("db01", busy_seconds=0, merging_seconds=60)
    assert call(command_host, "get_vm", Name="db01")[1]["result"]["vm"]["merging"] is True
    for bad in ({"state": "Exploded"}, {"checkpoint_type": "Sometimes"}, {"guest_can_quiesce": "no"},
                {"colour": "blue"}):
        with pytest.raises(ValueError):
            sim.set_vm("db01", **bad)
    sim.set_host(**engine.OS_RELEASES["2016"], merge_seconds=0.5)
    listed = call(command_host, "get_vms", All=True)[1]["result"]
    assert listed["host"]["os_version"] == "10.0.14393" and listed["vms"][0]["automatic_checkpoints"] is None
    with pytest.raises(ValueError):
        sim.set_host(merge_seconds=True)
    with pytest.raises(ValueError):
        sim.set_host(ram_gb=4)


def test_add_checkpoint_for_scenarios(sim, command_host):
    recent = sim.add_checkpoint("web01", "recent", age_seconds=60)
    old = sim.add_checkpoint("web01", "old", age_seconds=40 * 86400)
    backup = sim.add_checkpoint("web01", "backup", snapshot_type="Recovery")
    assert [cp["id"] for cp in sim.checkpoints("web01")] == [old, recent, backup]
    assert [cp["taken_type"] for cp in sim.checkpoints("web01")] == ["production"] * 3
    assert sim.vm("web01")["current_checkpoint_id"] == backup
    listed = call(command_host, "get_vms", Names=["web01"], IncludeCheckpoints=True)[1]["result"]["vms"][0]
    assert listed["checkpoint_count"] == 2
    assert [cp["snapshot_type"] for cp in listed["checkpoints"]] == ["Standard", "Standard", "Recovery"]


def test_migrate_vm_moves_a_vm_with_its_checkpoints_and_disk_to_another_node(tmp_path):
    hv01, hv02 = SimHost(tmp_path / "hv01.json"), SimHost(tmp_path / "hv02.json")
    vm_id = hv01.add_vm("sql01", files={"data.txt": "rows"})
    checkpoint = hv01.add_checkpoint("sql01", "before")
    hv02.set_host(computer_name="HV02")
    hv01.migrate_vm("sql01", hv02)
    moved = hv02.summary()["vms"]
    assert [(vm["id"], vm["owner_node"], vm["is_clustered"]) for vm in moved] == [(vm_id, "HV02", True)]
    assert [cp["id"] for cp in moved[0]["checkpoints"]] == [checkpoint]
    assert (hv02.disk_path("sql01") / "data.txt").read_text() == "rows"
    # The old node knows the VM only as owned by the new one, as a cluster node does.
    assert hv01.vm("sql01")["owner_node"] == "HV02"
    assert sorted(hv01.summary()["host"]["cluster_nodes"]) == sorted(hv02.summary()["host"]["cluster_nodes"]) == [
        "HV01", "HV02"]
    with pytest.raises(ValueError, match="runs on node HV02"):
        hv01.migrate_vm("sql01", hv02)
    with pytest.raises(ValueError, match="another simulated host"):
        hv02.migrate_vm("sql01", SimHost(tmp_path / "hv02.json"))


def test_consistency_problems_name_what_is_broken(sim, command_host):
    first = sim.add_checkpoint("web01", "first")
    second = sim.add_checkpoint("web01", "second")
    assert sim.consistency_problems() == []
    vm_id = web01_id(sim)
    with sim.state_file.transaction() as state:
        vm = state["vms"][vm_id]
        vm["checkpoints"][second]["parent_id"] = "gone"
        del vm["checkpoints"][first]
    problems = sim.consistency_problems()
    assert any("missing parent gone" in problem for problem in problems), problems
    assert any("disk copy %s belongs to no checkpoint" % first in problem for problem in problems), problems


def test_a_full_checkpoint_volume_fails_the_create_and_leaves_nothing(command_host, sim):
    sim.set_vm("web01", checkpoint_volume_full=True)
    result, document = call(command_host, "create_checkpoint", VMId=web01_id(sim), Name="cp",
                            CheckpointType="Standard")
    assert (result.exit_code, document["error"]["code"]) == (1, "host_error")
    assert "volume that holds its checkpoint files is full" in document["error"]["message"]
    assert sim.checkpoints("web01") == [] and sim.consistency_problems() == []


def test_reading_a_missing_host_does_not_create_it(tmp_path):
    sim = SimHost(tmp_path / "nowhere.json")
    with pytest.raises(StateFileError):
        sim.vm("web01")
    assert not (tmp_path / "nowhere.json").exists()
    sim.add_vm("web01")
    assert sim.vm("web01")["name"] == "web01"


# -- hyperv-sim admin -------------------------------------------------------------------------

def test_admin_command_line(state_path, capsys):
    assert admin.main(["--state", str(state_path), "add-vm", "app01", "--off", "--checkpoint-type", "Standard"]) == 0
    vm_id = capsys.readouterr().out.strip()
    assert admin.main(["--state", str(state_path), "inject-fault", "get_vms", "hang", "--times", "-1"]) == 0
    assert admin.main(["--state", str(state_path), "show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [(vm["id"], vm["name"], vm["state"], vm["checkpoint_type"]) for vm in shown["vms"]] == [
        (vm_id, "app01", "Off", "Standard")]
    assert shown["vms"][0]["checkpoints"] == []
    assert shown["faults"][0]["operation"] == "get_vms" and shown["faults"][0]["times"] == -1
    assert admin.main(["--state", str(state_path), "inject-fault", "get_vms", "fail", "--times", "0"]) == 1
    assert "times" in capsys.readouterr().err
    assert admin.main(["--state", str(state_path), "inject-fault", "create_checkpoint", "barrier", "--times", "2",
                       "--vm", "app01"]) == 0
    assert SimHost(state_path).summary()["faults"][1]["parties"] == 2
    assert admin.main(["--state", str(state_path), "inject-fault", "create_checkpoint", "barrier"]) == 1
    assert "barrier needs times=" in capsys.readouterr().err


def test_admin_command_line_sets_free_space_and_kill_faults(state_path, capsys):
    assert admin.main(["--state", str(state_path), "add-vm", "app01"]) == 0
    capsys.readouterr()
    assert admin.main(["--state", str(state_path), "set-free-gb", "3.5"]) == 0
    assert admin.main(["--state", str(state_path), "set-free-gb", "40", "--volume", "D:\\"]) == 0
    assert admin.main(["--state", str(state_path), "inject-fault", "create_checkpoint", "kill",
                       "--at", "type_switched"]) == 0
    volumes = SimHost(state_path).summary()["host"]["volumes"]
    assert volumes["C:\\"]["free_bytes"] == int(3.5 * 1024 ** 3) and volumes["D:\\"]["free_bytes"] == 40 * 1024 ** 3
    assert admin.main(["--state", str(state_path), "inject-fault", "create_checkpoint", "kill"]) == 1
    assert "a kill needs at=" in capsys.readouterr().err
