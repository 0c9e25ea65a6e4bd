"""The command host of the simulated Hyper-V host: what runs when a WinRM client starts a command.

The WS-Management endpoint (hyperv_sim.wsman) hands every command here. A real host would
start cmd.exe and PowerShell; this one accepts the collection's runner stub
(plugins/plugin_utils/powershell/runner.ps1) as the controller encodes it, reads the
request from stdin as the runner does, and answers with the runner's JSON document
(docs/host-protocol.md). The only other program it accepts is Ansible's PowerShell exec
wrapper, answered with a module's success without running anything (hyperv_sim.exec_wrapper:
for measuring the transport cost of ``.ps1`` modules). The operation itself is hyperv_sim.engine's, run inside one
transaction on the state file, so concurrent commands from several forks and processes
serialize like operations on one Hyper-V host.

Faults configured in the state file (``SimHost.inject_fault``) make an operation fail, hang
or lose its connection (after the operation ran, or before), for the controller's retry and
timeout paths, or hold it back (``delay``, ``barrier``) so that other commands run first; a
fault can be limited to one VM.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import gzip
import json
import pathlib
import re
import time
import zlib
from dataclasses import dataclass
from typing import Any, Callable

from hyperv_sim import corrupt_replies, engine, exec_wrapper, request_log, work_log
from hyperv_sim.state import StateFile

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]
DEFAULT_SCRIPT_DIR = REPO_ROOT / "plugins" / "plugin_utils" / "powershell"
RUNNER_SCRIPT = "runner.ps1"
# The files of functions the operations share; a request carries those its operation calls (docs/host-protocol.md).
SHARED_FILES = "_*.ps1"
# One shared function as the controller cuts it: from a 'function Verb-Noun {' line to the first line that is
# only '}' (pscheck holds the files to that layout).
SHARED_FUNCTION = re.compile(r"^function ([A-Za-z]+-[A-Za-z]+) \{[ \t]*\r?\n.*?^\}(?:\r?\n|\Z)", re.MULTILINE | re.DOTALL)
# A word that may call a function (the controller sends every shared function a sent text names).
FUNCTION_WORD = re.compile(r"\b[A-Za-z]+-[A-Za-z]+\b")
COMMAND_LINE_LIMIT = 8191
# PowerShell's own arguments as Ansible's PowerShell shell plugin writes them (compared ignoring case).
RUNNER_PREFIX = ("powershell", "-noprofile", "-noninteractive", "-executionpolicy", "unrestricted", "-encodedcommand")
FAULT_ACTIONS = ("fail", "hang", "drop", "drop_before", "delay", "barrier", "kill", "migrate")
# A barrier whose other runs never come (a broken test) must not hold a command for ever: the
# waiting run gives up after this long and answers an error. Far longer than any two runs of a
# playbook on a loaded machine take to arrive, so it only ever fires for a test that is wrong.
BARRIER_TIMEOUT_SECONDS = 120
# How often a run held by a barrier reads the state file to see whether the others arrived.
BARRIER_POLL_SECONDS = 0.05


@dataclass
class CommandResult:
    stdout: bytes
    stderr: bytes
    exit_code: int
    fault: str | None = None     # None | "hang" | "drop"
    hang_seconds: float = 0.0    # for "hang": seconds the command stays running; 0 = forever
    label: str = ""              # what ran, for the traffic log: runner:<operation>, exec_wrapper:<module>


def read_file(script_dir: pathlib.Path, filename: str) -> str:
    """A script file's text: UTF-8, line endings kept, a BOM dropped."""
    with open(script_dir / filename, "r", encoding="utf-8-sig", newline="") as handle:
        return handle.read()


def wire_form(text: str) -> str:
    """A script as the controller sends it in a request: every line whose first non-blank character is '#'
    emptied, the lines kept (docs/host-protocol.md)."""
    return re.sub(r"^[ \t]*#[^\r\n]*", "", text, flags=re.MULTILINE)


def read_script(script_dir: pathlib.Path, filename: str) -> str:
    """The wire form of a script file."""
    return wire_form(read_file(script_dir, filename))


def shared_functions(script_dir: pathlib.Path) -> dict[str, str]:
    """{lower-case name: its definition in the wire form} of every function of the shared files."""
    return {match.group(1).lower(): match.group(0)
            for path in sorted(script_dir.glob(SHARED_FILES))
            for match in SHARED_FUNCTION.finditer(read_script(script_dir, path.name))}


def encoded_runner_text(runner: str) -> str:
    """What ``_encode_script`` puts on the command line: every line stripped, empty lines dropped."""
    return "\n".join(line.strip() for line in runner.splitlines() if line.strip())


def _reply(document: dict, exit_code: int, fault: str | None = None, hang_seconds: float = 0.0) -> CommandResult:
    """The runner's stdout: one compressed ASCII JSON document (ConvertTo-Json -Compress, \\u escapes)."""
    text = json.dumps(document, ensure_ascii=True, separators=(",", ":")) + "\r\n"
    return CommandResult(text.encode("ascii"), b"", exit_code, fault, hang_seconds)


def _reply_text(text: str, exit_code: int) -> CommandResult:
    """A reply the runner writes as literal text (no ConvertTo-Json)."""
    return CommandResult((text + "\r\n").encode("ascii"), b"", exit_code)


def success_reply(result: dict, **fault: Any) -> CommandResult:
    return _reply({"ok": True, "result": result}, 0, **fault)


def error_reply(error: engine.HostError, computer_name: str, **fault: Any) -> CommandResult:
    """The runner's failure reply: the error and the host's own name ($env:COMPUTERNAME)."""
    return _reply({"ok": False, "error": dict(error.to_error(), computer_name=computer_name)}, 1, **fault)


def take_fault(state: dict, operation: str, params: dict | None = None) -> dict | None:
    """The first armed fault configured for ``operation`` (and the VM in ``params``, for a fault
    limited to one VM), used up once (``times`` -1 never runs out). A fault that still lets
    ``skip`` runs pass is armed after them; every run of the operation counts."""
    vm_id = str((params or {}).get("VMId") or "").lower()
    armed = None
    for fault in state["faults"]:
        # A migrate fault names the VM it moves, whatever the operation addresses.
        if fault["operation"] != operation or (fault["action"] != "migrate" and fault.get("vm") not in (None, vm_id)):
            continue
        if fault.get("skip"):
            fault["skip"] -= 1
        elif armed is None:
            armed = fault
    if armed is None:
        return None
    if armed["times"] > 0:
        armed["times"] -= 1
        if armed["times"] == 0:
            state["faults"].remove(armed)
    return dict(armed)


class RequestError(Exception):
    """The request on stdin is not one the runner (or this simulator) accepts: ``invalid_request``."""


class CommandHost:
    """Runs the runner stub's operations against the simulated host in ``state_path``.

    The state file is created if missing (a Windows Server 2022 host named ``host_name`` or
    HV01); ``initial_vms`` that do not exist yet are added, Running, with Production
    checkpoints. ``script_dir`` is where the runner and operation scripts are read from, at
    every call (default: the collection's plugins/plugin_utils/powershell). ``clock`` and
    ``sleep`` (and ``monotonic``, the clock of a barrier's safety timeout) are for tests.
    """

    def __init__(self, state_path: str, initial_vms: list[str] | None = None, host_name: str | None = None,
                 script_dir: str | pathlib.Path | None = None, node: str | None = None,
                 clock: Callable[[], datetime.datetime] = engine.utc_now,
                 sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.state_file = StateFile(state_path)
        self.script_dir = pathlib.Path(script_dir) if script_dir is not None else DEFAULT_SCRIPT_DIR
        self.clock = clock
        self.sleep = sleep
        self.monotonic = monotonic
        # A node of a simulated cluster (serve --node): it serves the shared state file as this computer name.
        self.node = node
        with self.state_file.transaction(create=lambda: engine.new_state(host_name)) as state:
            if host_name:
                state["host"]["computer_name"] = host_name
            if node and node.lower() not in [known.lower() for known in state["host"]["cluster_nodes"]]:
                state["host"]["cluster_nodes"].append(node)
            host = self._host(state)
            existing = {vm["name"] for vm in state["vms"].values()}
            for name in initial_vms or []:
                if name not in existing:
                    host.add_vm(name)
                    existing.add(name)

    def _host(self, state: dict, kill_at: str | None = None) -> engine.HyperVHost:
        return engine.HyperVHost(state, self.state_file.disks_dir, clock=self.clock, kill_at=kill_at, node=self.node)

    def run(self, command: str, arguments: list[str], stdin: bytes) -> CommandResult:
        command_line = command + (" " + " ".join(arguments) if arguments else "")
        if len(command_line) > COMMAND_LINE_LIMIT:
            request_log.record(self.state_file.path, refused="command line too long")
            return CommandResult(b"", b"The command line is too long.\r\n", 1)
        if not self._is_runner(command_line):
            reply = self._run_exec_wrapper(command_line, stdin)
            if reply.exit_code == 0:
                # Accepted, but not the collection's: a test of the collection's own traffic notices it.
                request_log.record(self.state_file.path, operation=reply.label)
            else:
                request_log.record(self.state_file.path, refused="not the collection's runner: %s" % command_line[:200])
            return reply
        language_mode = self.state_file.read()["host"].get("language_mode", "FullLanguage")
        if language_mode != "FullLanguage":
            # runner.ps1's first statement, before it reads stdin (AppLocker / WDAC lock-down).
            request_log.record(self.state_file.path, refused="language mode %s" % language_mode)
            return _reply_text('{"ok":false,"error":{"code":"constrained_language","message":"PowerShell runs in %s '
                               'mode; the runner needs FullLanguage"}}' % language_mode, 1)
        try:
            name, params = self._parse_request(stdin)
        except RequestError as error:
            request_log.record(self.state_file.path, refused=str(error))
            return error_reply(engine.HostError("invalid_request", str(error)),
                               self.node or self.state_file.read()["host"]["computer_name"])
        request_log.record(self.state_file.path, operation=name, params=params, node=self.node)
        reply = self._run_operation(name, params)
        reply.label = "runner:" + name
        return reply

    @staticmethod
    def _run_exec_wrapper(command_line: str, stdin: bytes) -> CommandResult:
        """Ansible's exec wrapper gets a success answer (its host-side work is not simulated); anything else is refused."""
        words = command_line.split()
        refusal = ("hyperv-sim: refused: only the hyperv.checkpoint runner and Ansible's PowerShell exec wrapper can run "
                   "on this simulated host (got: %s)\r\n" % command_line[:80])
        if (len(words) != len(RUNNER_PREFIX) + 1 or tuple(word.lower() for word in words[:-1]) != RUNNER_PREFIX
                or not exec_wrapper.is_bootstrap_command(words[-1])):
            return CommandResult(b"", refusal.encode("utf-8", "replace"), 1)
        try:
            manifest = exec_wrapper.parse_payload(stdin)
        except exec_wrapper.NotExecWrapper as error:
            return CommandResult(b"", ("hyperv-sim: refused: %s\r\n" % error).encode("utf-8"), 1)
        stdout, label = exec_wrapper.answer(manifest)
        return CommandResult(stdout, b"", 0, label=label)

    def _is_runner(self, command_line: str) -> bool:
        words = command_line.split()
        if len(words) != len(RUNNER_PREFIX) + 1 or tuple(word.lower() for word in words[:-1]) != RUNNER_PREFIX:
            return False
        try:
            script = base64.b64decode(words[-1], validate=True).decode("utf-16-le")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return script == encoded_runner_text(read_file(self.script_dir, RUNNER_SCRIPT))

    def _parse_request(self, stdin: bytes) -> tuple[str, dict]:
        """``{"name", "common", "script", "params"}`` (gzip, base64), with the scripts exactly the collection's files
        and the shared functions the operation needs."""
        try:
            text = gzip.decompress(base64.b64decode(stdin.strip(), validate=True))
        except (binascii.Error, OSError, EOFError, zlib.error) as error:
            raise RequestError("hyperv-sim: the request on stdin is not base64 of gzip: %s" % error) from None
        try:
            request = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise RequestError("hyperv-sim: the request on stdin is not JSON: %s" % error) from None
        if not isinstance(request, dict):
            raise RequestError("hyperv-sim: the request on stdin is not a JSON object")
        name = request.get("name")
        if name not in engine.OPERATIONS:
            raise RequestError("hyperv-sim: unknown operation %r (known: %s)"
                               % (name, ", ".join(sorted(engine.OPERATIONS))))
        if request.get("script") != read_script(self.script_dir, name + ".ps1"):
            raise RequestError("hyperv-sim: the request's script is not the text of %s.ps1" % name)
        self._check_common(request.get("common"), request["script"])
        params = request.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise RequestError("hyperv-sim: the request's params are not a JSON object")
        return name, params

    def _check_common(self, common: object, script: str) -> None:
        """``common`` holds shared functions only, each as the collection's files write it, and every one that the
        operation script, the runner or a sent function names: on a host, a missing one fails where it is called."""
        if not isinstance(common, str):
            raise RequestError("hyperv-sim: the request's common is not text")
        shared = shared_functions(self.script_dir)
        sent: dict[str, str] = {}
        for match in SHARED_FUNCTION.finditer(common):
            name = match.group(1).lower()
            if name in sent or shared.get(name, "").rstrip("\r\n") != match.group(0).rstrip("\r\n"):
                raise RequestError("hyperv-sim: the request's common has %s, which is not a function of the "
                                   "collection's shared files as they are written (or has it twice)" % match.group(1))
            sent[name] = match.group(0)
        if "".join(sent.values()) != common:
            raise RequestError("hyperv-sim: the request's common holds more than shared function definitions")
        texts = [script, read_file(self.script_dir, RUNNER_SCRIPT)] + list(sent.values())
        missing = sorted({word for text in texts for word in FUNCTION_WORD.findall(text)
                          if word.lower() in shared and word.lower() not in sent}, key=str.lower)
        if missing:
            raise RequestError("hyperv-sim: the request's common lacks %s, which the operation calls"
                               % ", ".join(missing))

    def _run_operation(self, name: str, params: dict) -> CommandResult:
        """Fault and operation in one transaction; a simulated cmdlet's run time passes after it.

        ``delay`` and ``barrier`` faults are the exception: the operation runs (in its own transaction)
        only when the delay has passed, or when every run the barrier holds has arrived, so that other
        commands can run in between (two runs racing for one VM).
        """
        with self.state_file.transaction() as state:
            fault = take_fault(state, name, params)
            held = fault is not None and fault["action"] in ("delay", "barrier")
            if not held:
                host, reply = self._answer(state, name, params, fault)
        if held:
            missing = 0
            if fault["action"] == "delay":
                self.sleep(fault["hang_seconds"])
            else:
                missing = self._wait_at_barrier(fault)
            with self.state_file.transaction() as state:
                if missing:
                    host = self._host(state)
                    message = ("hyperv-sim: the barrier fault of %s still waited for %d of its %d runs after %d "
                               "seconds; the operation did not run"
                               % (name, missing, fault["parties"], BARRIER_TIMEOUT_SECONDS))
                    reply = error_reply(engine.HostError("host_error", message), host.computer_name)
                else:
                    host, reply = self._answer(state, name, params, None)
            fault = None
        if host.command_seconds:
            self.sleep(host.command_seconds)
        if fault and fault["action"] == "hang":
            reply.fault, reply.hang_seconds = "hang", float(fault["hang_seconds"])
        elif fault and (fault["action"] in ("drop", "drop_before") or host.killed):
            # A kill that never reached its point lets the operation answer.
            reply.fault = "drop"
        elif fault and fault["action"] == "corrupt":
            reply.stdout, reply.stderr, reply.exit_code = corrupt_replies.corrupt(reply.stdout, reply.exit_code,
                                                                                  fault["kind"])
        return reply

    def _wait_at_barrier(self, fault: dict) -> int:
        """Wait until every run of barrier ``fault`` has arrived: each arrival used up one of its
        ``times``, so it is gone from the state file once the last came (or once a test cleared the
        faults, to let the runs go). Returns 0 then, or how many runs it still waited for when
        BARRIER_TIMEOUT_SECONDS passed."""
        deadline = self.monotonic() + BARRIER_TIMEOUT_SECONDS
        while True:
            waiting = [entry for entry in self.state_file.read()["faults"] if entry.get("id") == fault["id"]]
            if not waiting:
                return 0
            if self.monotonic() >= deadline:
                return waiting[0]["times"]
            self.sleep(BARRIER_POLL_SECONDS)

    def _answer(self, state: dict, name: str, params: dict,
                fault: dict | None) -> tuple[engine.HyperVHost, CommandResult]:
        """(the host model, the reply) of running operation ``name`` in ``state``, or of the fault instead."""
        host = self._host(state, kill_at=fault.get("at") if fault and fault["action"] == "kill" else None)
        # drop_before: the connection breaks before the request reaches the host, nothing runs
        # (the client never sees the error reply).
        if fault and (fault["action"] in ("fail", "drop_before") or (fault["action"] == "hang" and not fault["after"])):
            return host, error_reply(engine.HostError(fault["code"], fault["message"]), host.computer_name)
        if fault and fault["action"] == "migrate":
            # The cluster moves the VM just as the operation starts (VM load balancing, a node drained by
            # Cluster-Aware Updating): the operation then meets it moved, or moving.
            vm = state["vms"].get(fault.get("vm") or str(params.get("VMId") or "").lower())
            if vm is not None and not host.is_migrating(vm) and host.owner_of(vm).lower() != fault["target"].lower():
                host.live_migrate(vm, fault["target"], seconds=fault["hang_seconds"])
        try:
            return host, success_reply(host.run(name, params))
        except engine.HostError as error:
            return host, error_reply(error, host.computer_name)
        except engine.ProcessKilled:
            # What ran stays; the dead process holds no file open any more.
            host.killed = True
            for vm in state["vms"].values():
                if vm.get("type_override"):
                    vm["type_override"]["live"] = False
            return host, error_reply(engine.HostError("host_error", "killed"), host.computer_name)
        finally:
            work_log.append(self.state_file.path, name, host.work)
