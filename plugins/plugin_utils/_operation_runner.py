# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: run one PowerShell operation script on a Windows host over the task's connection.

The command line only ever carries the small fixed runner stub (powershell/runner.ps1);
the operation script, the shared functions it calls (powershell/_*.ps1) and its parameters travel as
one line of JSON on stdin (gzip, base64). That keeps
every command far below cmd.exe's 8191-character limit whatever the script size, and
keeps parameters out of command-line quoting. Works with the winrm, psrp and ssh
(PowerShell shell) connections, which all deliver stdin to the runner's ``$input``.
The protocol is documented in docs/host-protocol.md.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import threading
from typing import TYPE_CHECKING, Any

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import (
    KNOWN_CODES,
    ConnectionLostError,
    HostError,
    HostUnreachableError,
    OperationTimeoutError,
    ProtocolError,
    SessionRejectedError,
)

if TYPE_CHECKING:
    from ansible.plugins.connection import ConnectionBase

SCRIPT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "powershell")
RUNNER_SCRIPT = "runner.ps1"
# The files of shared functions start with this; the others are the runner and one script per operation.
SHARED_PREFIX = "_"
COMMAND_LINE_LIMIT = 8191

_script_cache: dict[str, str] = {}
# (script directory, operation script) -> the shared functions it needs (shared_functions_for).
_selection_cache: dict[tuple[str, str], str] = {}
_command_cache: dict[str, str] = {}
_wire_cache: dict[str, str] = {}


# A line whose first non-blank character is '#': a comment (pscheck refuses here-strings and block
# comments in the scripts, so no such line is anything else).
_COMMENT_LINE = re.compile(r"^[ \t]*#[^\r\n]*", re.MULTILINE)


def wire_form(text: str) -> str:
    """A script as it travels: every comment line emptied, as ansible-core does with its AnsiballZ wrapper.

    The lines stay, so the line numbers of an error on the host are those of the file; the comments,
    a third of the text, would go with every operation.
    """
    return _COMMENT_LINE.sub("", text)


def _read_script(filename: str) -> str:
    """The file's text (line endings kept, a UTF-8 BOM dropped)."""
    path = os.path.join(SCRIPT_DIR, filename)
    if path not in _script_cache:
        with open(path, "r", encoding="utf-8-sig", newline="") as handle:
            _script_cache[path] = handle.read()
    return _script_cache[path]


# PowerShell's own arguments as ansible-core's powershell shell plugin and ansible.windows' _reboot.py write
# them. The words matter: ansible-core 2.19's psrp connection runs a command in its runspace (no new process)
# only when it starts with exactly these and -EncodedCommand; the winrm connection sends a command that has
# " -EncodedCommand " as it is; over ssh the host's PowerShell starts it.
POWERSHELL_ARGUMENTS = ("PowerShell", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Unrestricted")


def encode_command(script: str) -> str:
    """The command line that runs ``script``: its non-empty lines, stripped, as -EncodedCommand.

    Built here, as ansible.windows' _reboot.py builds its commands, rather than with the shell plugin's private
    ``_encode_script``, which ansible-core 2.21 deprecates (removal in 2.24): the same command line on every
    supported version, and no deprecation warning.
    """
    text = "\n".join(line.strip() for line in script.splitlines() if line.strip())
    encoded = base64.b64encode(text.encode("utf-16-le")).decode("ascii")
    return " ".join(POWERSHELL_ARGUMENTS + ("-EncodedCommand", encoded))


def build_command() -> str:
    """The command line that starts the runner stub (the same for every operation)."""
    if SCRIPT_DIR not in _command_cache:
        _command_cache[SCRIPT_DIR] = encode_command(_read_script(RUNNER_SCRIPT))
    return _command_cache[SCRIPT_DIR]


# A shared function as the files write it (pscheck checks the layout): from a 'function Verb-Noun {' line at the start
# of a line to the next line that is only '}'. Simple enough for the simulator to check a request the same way.
_FUNCTION_START = re.compile(r"^function ([A-Za-z]+-[A-Za-z]+) \{[ \t]*$")
# A word that may name a function: a call, a ${function:...} test, or a mention in a string or a trailing comment
# (a mention sends a function that is not needed, never leaves out one that is).
_FUNCTION_WORD = re.compile(r"\b[A-Za-z]+-[A-Za-z]+\b")


def split_functions(text: str) -> dict[str, str]:
    """{lower-case name: definition} of the functions in ``text``, each with its own lines and their endings."""
    functions: dict[str, str] = {}
    lines = text.splitlines(keepends=True)
    start: int | None = None
    name = ""
    for index, line in enumerate(lines):
        match = _FUNCTION_START.match(line.rstrip("\r\n"))
        if start is None and match:
            start, name = index, match.group(1).lower()
        elif start is not None and line.rstrip("\r\n") == "}":
            functions[name] = "".join(lines[start:index + 1])
            start = None
    return functions


def _shared_functions() -> dict[str, str]:
    """Every shared function in its wire form, in file order (files sorted by name)."""
    functions: dict[str, str] = {}
    for filename in sorted(os.listdir(SCRIPT_DIR)):
        if filename.startswith(SHARED_PREFIX) and filename.endswith(".ps1"):
            functions.update(split_functions(wire_form(_read_script(filename))))
    return functions


def needed_functions(texts: list[str], shared: dict[str, str]) -> list[str]:
    """Names of the functions of ``shared`` that ``texts`` call, directly or through one another, in ``shared``'s order."""
    needed: set[str] = set()
    pending = list(texts)
    while pending:
        for word in _FUNCTION_WORD.findall(pending.pop()):
            name = word.lower()
            if name in shared and name not in needed:
                needed.add(name)
                pending.append(shared[name])
    return [name for name in shared if name in needed]


def shared_functions_for(script: str) -> str:
    """The definitions of the shared functions that the runner stub and the operation ``script`` need.

    Only those travel: a read needs a handful of the functions, and the scripts travel with every operation.
    Worked out once per script and process (the files do not change while Ansible runs), not per request.
    """
    key = (SCRIPT_DIR, script)
    if key not in _selection_cache:
        shared = _shared_functions()
        names = needed_functions([_read_script(RUNNER_SCRIPT), script], shared)
        _selection_cache[key] = "".join(definition if definition.endswith("\n") else definition + "\n"
                                        for definition in (shared[name] for name in names))
    return _selection_cache[key]


def _operation_script(name: str) -> str:
    """Operation ``name``'s script in its wire form, worked out once per process."""
    path = os.path.join(SCRIPT_DIR, name + ".ps1")
    if path not in _wire_cache:
        _wire_cache[path] = wire_form(_read_script(name + ".ps1"))
    return _wire_cache[path]


def request_document(name: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """The request: the operation's name, the shared functions it needs, the operation script and its params.

    The shared functions travel apart from the operation script: the runner
    dot-sources them first, so that the operation's param() block stays the first
    statement of its own script block and binds the splatted params.
    """
    script = _operation_script(name)
    return {
        "name": name,
        "common": shared_functions_for(script),
        "script": script,
        "params": params or {},
    }


def encode_request(document: dict[str, Any]) -> bytes:
    """One line: base64 of the gzip of the ASCII JSON document (non-ASCII escaped, so no code page can mangle it).

    Compressed because the scripts travel with every operation and WinRM base64-encodes stdin
    again: gzip makes a request about a third of its JSON size (docs/performance.md).
    """
    text = json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return base64.b64encode(gzip.compress(text, mtime=0)) + b"\n"


def decode_request(data: bytes | str) -> dict[str, Any]:
    """The document of an encoded request (what the runner stub does on the host)."""
    return json.loads(gzip.decompress(base64.b64decode(data.strip(), validate=True)).decode("ascii"))


def build_request(name: str, params: dict[str, Any] | None) -> bytes:
    """What goes on stdin for operation ``name``: the encoded request document."""
    return encode_request(request_document(name, params))


def _to_text(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return data or ""


def _readable_stderr(stderr: str) -> str:
    """stderr as the host's words: PowerShell writes errors as CLIXML, which winrm decodes and ssh does not."""
    if "#< CLIXML" not in stderr:
        return stderr
    try:
        from ansible.plugins.shell.powershell import _replace_stderr_clixml
    except ImportError:  # the helper is private to ansible-core: without it the raw text is still the host's
        return stderr
    try:
        return _to_text(_replace_stderr_clixml(stderr.encode("utf-8"))).strip()
    except Exception:  # the raw text is better than no text
        return stderr


def parse_reply(name: str, rc: int | None, stdout: bytes | str | None, stderr: bytes | str | None,
                host: str | None = None) -> dict[str, Any]:
    """Turn the runner's JSON document into the result dict, or raise HostError."""
    out = _to_text(stdout).strip()
    err = _readable_stderr(_to_text(stderr).strip())
    # A JSON document is the last non-empty line; anything before it is noise a
    # profile or a misbehaving cmdlet wrote, which must not hide the answer.
    lines = [line for line in out.splitlines() if line.strip()]
    document = None
    if lines:
        try:
            document = json.loads(lines[-1])
        except ValueError:
            document = None
    if not isinstance(document, dict) or "ok" not in document:
        raise ProtocolError(
            name, host, "the host did not answer with the runner's JSON document (rc=%s): %s"
            % (rc, (err or out or "no output")[-500:]),
            rc=rc, stdout=out, stderr=err,
        )
    if document["ok"]:
        result = document.get("result")
        if not isinstance(result, dict):
            raise ProtocolError(name, host, "operation %s returned %r instead of an object" % (name, type(result).__name__),
                                rc=rc, stdout=out, stderr=err)
        return result
    error = document.get("error")
    if not isinstance(error, dict):
        raise ProtocolError(name, host, "the host reported a failure without an error object: %r" % (error,),
                            rc=rc, stdout=out, stderr=err)
    code = error.get("code")
    message = error.get("message")
    message = message if isinstance(message, str) and message.strip() else (err[-500:] or "unknown error")
    details = error.get("details")
    details = details if isinstance(details, dict) else ({"value": details} if details is not None else {})
    if not isinstance(code, str) or not code:
        code = "host_error"
    elif code not in KNOWN_CODES:
        # Kept as the host sent it (a newer script may know more codes), but said so.
        message = "%s (error code '%s' is not one this version of the collection knows)" % (message.rstrip(), code)
    computer_name = error.get("computer_name")
    raise HostError(code, message, operation=name, host=host, details=details,
                    computer_name=computer_name if isinstance(computer_name, str) and computer_name else None)


def _exec_with_deadline(connection: ConnectionBase, command: str, in_data: bytes,
                        timeout: float | None) -> tuple[int, bytes, bytes]:
    """exec_command, abandoned after ``timeout`` seconds.

    The winrm connection retries WS-Man operation timeouts forever, so a hung cmdlet
    would hang the task; the call runs in a daemon thread that is left behind when
    the deadline passes (the caller must not reuse the connection afterwards).
    """
    if not timeout:
        return connection.exec_command(command, in_data=in_data, sudoable=False)
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = connection.exec_command(command, in_data=in_data, sudoable=False)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="hyperv-operation", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def run_operation(connection: ConnectionBase, name: str, params: dict[str, Any] | None = None,
                  timeout: float | None = None, host: str | None = None) -> dict[str, Any]:
    """Run operation ``name`` with ``params`` on the host behind ``connection``.

    Returns the operation's result dict. Raises HostError with the host's
    code, ConnectionLostError when the connection broke (transient), SessionRejectedError when the host
    refused the session's request at the HTTP level, and
    OperationTimeoutError when there was no answer within ``timeout`` seconds.
    """
    command = build_command()
    if len(command) > COMMAND_LINE_LIMIT:  # guards the runner stub itself
        raise ProtocolError(name, host, "runner command line is %d characters, over the limit" % len(command))
    request = build_request(name, params)
    try:
        rc, stdout, stderr = _exec_with_deadline(connection, command, request, timeout)
    except TimeoutError:
        raise OperationTimeoutError(name, host, timeout)
    except HostError:
        raise
    except Exception as exc:  # the connection plugins raise many types for a broken link
        if is_logon_failure(exc):
            # ssh logs on with the first command, where winrm and psrp log on when the action connects: the same
            # failure as theirs (action_base), not retried, since nothing ran and a retry cannot help.
            raise HostUnreachableError(name, host, exc)
        if _is_connection_failure(exc):
            raise ConnectionLostError(name, host, exc)
        if _is_session_rejection(exc):
            raise SessionRejectedError(name, host, exc)
        # The connection plugin failed on the answer itself (e.g. stderr CLIXML it could
        # not parse): a task failure that says so, not a traceback.
        raise ProtocolError(name, host, "the connection plugin could not read the host's answer: %s: %s"
                            % (type(exc).__name__, exc))
    return parse_reply(name, rc, stdout, stderr, host=host)


# What the OpenSSH client prints when the host refused every authentication method it tried (its own text, in
# English whatever the host's language); ansible-core's ssh connection raises it as AnsibleConnectionFailure.
OPENSSH_AUTHENTICATION_REFUSED = "Permission denied ("


# The Kerberos libraries' own errors, which the psrp connection (pypsrp on pyspnego, pykrb5 and python-gssapi) lets
# through unwrapped when the logon fails before any request: a wrong password (the KDC's "Preauthentication failed"),
# no ticket in the cache, an expired one, a service principal the KDC does not know. (module, class) pairs, looked
# up where the library is installed.
KERBEROS_ERRORS = (("krb5", "Krb5Error"), ("spnego.exceptions", "SpnegoError"), ("gssapi.exceptions", "GSSError"))


def is_logon_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the host could not be logged on to: nothing ran there, and trying again cannot help."""
    from ansible.errors import AnsibleAuthenticationFailure, AnsibleConnectionFailure

    if isinstance(exc, AnsibleAuthenticationFailure) or (
            isinstance(exc, AnsibleConnectionFailure) and OPENSSH_AUTHENTICATION_REFUSED in str(exc)):
        return True
    return any(isinstance(exc, error_type) for error_type in _library_errors(KERBEROS_ERRORS))


def _library_errors(names: tuple[tuple[str, str], ...]) -> list[type]:
    """The exception classes of ``names`` whose libraries are installed."""
    found = []
    for module_name, class_name in names:
        try:
            module = __import__(module_name, fromlist=[class_name])
        except ImportError:
            continue
        error_type = getattr(module, class_name, None)
        if isinstance(error_type, type):
            found.append(error_type)
    return found


# The HTTP answers with which a WinRM or PSRP endpoint refuses a request of a logon session it does not know
# (401; the simulator, like some proxies, answers an encrypted body on an unknown session with 400).
SESSION_REJECTION_STATUSES = frozenset((400, 401))


def _is_session_rejection(exc: BaseException) -> bool:
    """Whether ``exc`` is the HTTP refusal of a session's request by pywinrm or pypsrp (by type and status code)."""
    for module_name in ("winrm.exceptions", "pypsrp.exceptions"):
        try:
            module = __import__(module_name, fromlist=["WinRMTransportError"])
        except ImportError:
            continue
        if isinstance(exc, getattr(module, "WinRMTransportError", ())) and \
                getattr(exc, "code", None) in SESSION_REJECTION_STATUSES:
            return True
        if isinstance(exc, getattr(module, "InvalidCredentialsError", ())) or \
                isinstance(exc, getattr(module, "AuthenticationError", ())):
            return True
    return False


def _is_connection_failure(exc: BaseException) -> bool:
    # Imported lazily: requests is only present where winrm/psrp are.
    from ansible.errors import AnsibleConnectionFailure

    if isinstance(exc, (AnsibleConnectionFailure, ConnectionError)):
        return True
    try:
        import requests
    except ImportError:
        return False
    return isinstance(exc, requests.exceptions.ConnectionError)


def prepare_requests() -> None:
    """Read every script and work out each operation's shared functions now, once.

    Called when the module is imported. Ansible's main process imports the action plugins (the linear strategy
    loads each task's action class) and forks a worker per task and host, so what is cached here is inherited by
    every worker instead of being worked out again in each one (about 2-3 ms per operation and worker;
    docs/performance.md). A missing or unreadable script is left for the operation that needs it to report.
    """
    try:
        for filename in sorted(os.listdir(SCRIPT_DIR)):
            if filename.endswith(".ps1") and not filename.startswith(SHARED_PREFIX) and filename != RUNNER_SCRIPT:
                shared_functions_for(_operation_script(filename[:-len(".ps1")]))
        build_command()
    except OSError:
        pass


prepare_requests()
