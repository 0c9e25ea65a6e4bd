"""A WS-Management (WinRM) endpoint that pywinrm and Ansible's ``winrm`` connection use unmodified.

Two shells of WS-Management are implemented, as a Windows listener offers them on one /wsman
endpoint: WinRS, what the ``winrm`` connection uses: a ``cmd`` shell (``transfer/Create`` /
``transfer/Delete``) in which commands run (``Command``, ``Send`` for stdin, ``Receive`` for
output, ``Signal`` to end them); and PowerShell remoting, what the ``psrp`` connection uses
(hyperv_sim.wsman_psrp, on the same actions). What a command does is decided by a command host
(``hyperv_sim.commands.CommandHost``), called exactly once per command with its command line
and complete stdin.

Layers, top down:

* :class:`WSManServer` - HTTP/1.1 keep-alive server (threaded: Ansible runs forks in parallel)
  with optional TLS; owns the authenticator (``wsman_auth``) and the statistics tests read.
* :class:`_RequestHandler` - one TCP connection: authentication state (NTLM and Kerberos bind to
  the connection), MS-WSMV message encryption, dropping the connection on request.
* :class:`WinRSService` - SOAP parsing and the shell/command semantics, including the
  simulated faults ``hang`` (WSMan operation timeouts) and ``drop`` (connection reset).
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import os
import re
import shutil
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape, quoteattr

from hyperv_sim.wsman_auth import (
    ENCRYPTED_CONTENT_TYPE,
    BasicAuthenticator,
    CertificateAuthenticator,
    EncryptionError,
    KerberosAuthenticator,
    NTLMAuthenticator,
    create_self_signed_tls,
    is_encrypted,
    unwrap_request,
    wrap_response,
)
from hyperv_sim.traffic import TrafficLog

log = logging.getLogger("hyperv_sim.wsman")

SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
# The WinRM authentications the endpoint offers (wsman_auth).
TRANSPORTS = ("basic", "ntlm", "kerberos", "certificate")

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}

SHELL_RESOURCE_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
POWERSHELL_RESOURCE_URI = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = NS["rsp"] + "/Command"
ACTION_SEND = NS["rsp"] + "/Send"
ACTION_RECEIVE = NS["rsp"] + "/Receive"
ACTION_SIGNAL = NS["rsp"] + "/Signal"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
COMMAND_STATE_DONE = NS["rsp"] + "/CommandState/Done"
COMMAND_STATE_RUNNING = NS["rsp"] + "/CommandState/Running"

# WSManFault codes (wsmerror.h); pywinrm turns FAULT_OPERATION_TIMEOUT into
# WinRMOperationTimeoutError and silently retries the Receive.
FAULT_OPERATION_TIMEOUT = 0x80338029
FAULT_ACTION_NOT_SUPPORTED = 0x80338013
FAULT_INVALID_RESOURCE_URI = 0x8033803B
FAULT_INVALID_SOAP_BODY = 0x80338027
FAULT_HEADER_REQUIRED = 0x80338011
FAULT_INVALID_PARAMETER = 0x8033803A
FAULT_INVALID_SELECTORS = 0x8033803D
FAULT_SHELL_NOT_FOUND = 0x8033805B

# Windows waits MaxTimeoutms (60 s) when a request names no OperationTimeout.
DEFAULT_OPERATION_TIMEOUT = 60.0
# Output bytes per stream and Receive: keeps each response far below pywinrm's
# MaxEnvelopeSize (153600) and makes large outputs arrive over several Receives, as on Windows.
OUTPUT_CHUNK_BYTES = 32 * 1024


class WSManFault(Exception):
    """A request the service refuses; answered as HTTP 500 with a SOAP/WSManFault body."""

    def __init__(self, code: int, subcode: str, message: str, receiver: bool = False):
        super().__init__(message)
        self.code = code
        self.subcode = subcode
        self.message = message
        self.receiver = receiver


class DropConnection(Exception):
    """Raised by the service to make the HTTP layer reset the TCP connection without a response."""


def _operation_timeout_fault() -> WSManFault:
    return WSManFault(FAULT_OPERATION_TIMEOUT, "w:TimedOut",
                      "The WS-Management service cannot complete the operation within the time specified "
                      "in OperationTimeout.", receiver=True)


def timed_out_receive(stats: _Stats, stopping: bool) -> WSManFault:
    """The OperationTimeout that ends a Receive without output, counted; ``stopping``: it ends because the server
    stops, not at its operation timeout (what tells the two apart without a clock)."""
    stats.increment("operation_timeouts")
    if stopping:
        stats.increment("receives_ended_by_stop")
    return _operation_timeout_fault()


def parse_duration(text: str) -> float:
    """Seconds of an xs:duration as WS-Management clients send it (``PT20S``, ``PT20.000S``, ``PT1M30S``)."""
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d*)?)S)?)?", text.strip())
    if not match:
        raise WSManFault(FAULT_INVALID_PARAMETER, "w:InvalidParameter", "invalid OperationTimeout %r" % text)
    days, hours, minutes, seconds = (float(part) if part else 0.0 for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


@dataclass
class WSManRequest:
    """The parts of a WS-Management SOAP envelope the service acts on."""

    action: str
    message_id: str
    resource_uri: str
    to: str
    operation_timeout: float
    shell_id: str | None
    body: ET.Element

    @classmethod
    def parse(cls, data: bytes) -> WSManRequest:
        try:
            root = ET.fromstring(data)
        except ET.ParseError as error:
            raise WSManFault(FAULT_INVALID_SOAP_BODY, "w:InvalidBody", "the request is not XML: %s" % error)
        header = root.find("s:Header", NS)
        body = root.find("s:Body", NS)
        if root.tag != "{%s}Envelope" % NS["s"] or header is None or body is None:
            raise WSManFault(FAULT_INVALID_SOAP_BODY, "w:InvalidBody", "the request is not a SOAP 1.2 envelope")

        def header_text(path: str) -> str:
            element = header.find(path, NS)
            if element is None or not (element.text or "").strip():
                raise WSManFault(FAULT_HEADER_REQUIRED, "a:MessageInformationHeaderRequired",
                                 "the request has no %s header" % path)
            return element.text.strip()

        timeout_element = header.find("w:OperationTimeout", NS)
        shell_selector = header.find("w:SelectorSet/w:Selector[@Name='ShellId']", NS)
        to_element = header.find("a:To", NS)
        return cls(
            action=header_text("a:Action"),
            message_id=header_text("a:MessageID"),
            resource_uri=header_text("w:ResourceURI"),
            to=(to_element.text or "").strip() if to_element is not None else "",
            operation_timeout=(parse_duration(timeout_element.text or "")
                               if timeout_element is not None else DEFAULT_OPERATION_TIMEOUT),
            shell_id=(shell_selector.text or "").strip() if shell_selector is not None else None,
            body=body,
        )


def message_id_of(data: bytes) -> str | None:
    """Best-effort a:MessageID of a request that failed to parse, so its fault can still relate to it."""
    try:
        element = ET.fromstring(data).find("s:Header/a:MessageID", NS)
    except ET.ParseError:
        return None
    return element.text.strip() if element is not None and element.text else None


def envelope(action: str, relates_to: str | None, body_xml: str) -> bytes:
    relates = "<a:RelatesTo>%s</a:RelatesTo>" % escape(relates_to) if relates_to else ""
    return (
        '<s:Envelope xml:lang="en-US" xmlns:s="{s}" xmlns:a="{a}" xmlns:w="{w}" xmlns:x="{x}" xmlns:rsp="{rsp}">'
        "<s:Header>"
        "<a:Action>{action}</a:Action>"
        "<a:MessageID>uuid:{message_id}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        "{relates}"
        "</s:Header>"
        "<s:Body>{body}</s:Body>"
        "</s:Envelope>"
    ).format(action=escape(action), message_id=str(uuid.uuid4()).upper(), relates=relates, body=body_xml,
             **NS).encode("utf-8")


def shell_created(request: WSManRequest, resource_uri: str, shell_id: str, input_streams: str,
                  output_streams: str) -> str:
    """The body of a Create response: the new shell's reference and its streams."""
    return (
        "<x:ResourceCreated><a:Address>{to}</a:Address><a:ReferenceParameters>"
        "<w:ResourceURI>{uri}</w:ResourceURI>"
        '<w:SelectorSet><w:Selector Name="ShellId">{id}</w:Selector></w:SelectorSet>'
        "</a:ReferenceParameters></x:ResourceCreated>"
        "<rsp:Shell><rsp:ShellId>{id}</rsp:ShellId><rsp:ResourceUri>{uri}</rsp:ResourceUri>"
        "<rsp:InputStreams>{input}</rsp:InputStreams><rsp:OutputStreams>{output}</rsp:OutputStreams>"
        "</rsp:Shell>"
    ).format(to=escape(request.to), uri=resource_uri, id=shell_id, input=input_streams, output=output_streams)


def fault_envelope(fault: WSManFault, relates_to: str | None, machine: str) -> bytes:
    body = (
        "<s:Fault>"
        "<s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{subcode}</s:Value></s:Subcode></s:Code>"
        '<s:Reason><s:Text xml:lang="en-US">{message}</s:Text></s:Reason>'
        '<s:Detail><f:WSManFault xmlns:f="{f}" Code="{number}" Machine={machine}>'
        "<f:Message>{message}</f:Message></f:WSManFault></s:Detail>"
        "</s:Fault>"
    ).format(code="s:Receiver" if fault.receiver else "s:Sender", subcode=escape(fault.subcode),
             message=escape(fault.message), f=NS["f"], number=fault.code, machine=quoteattr(machine))
    return envelope(ACTION_FAULT, relates_to, body)


@dataclass
class _Outcome:
    """A command host result, checked and copied so later changes to it cannot leak in."""

    stdout: bytes
    stderr: bytes
    exit_code: int
    fault: str | None = None
    hang_seconds: float = 0.0
    label: str = ""  # what ran, for the traffic log (e.g. runner:get_vms)

    @classmethod
    def from_result(cls, result) -> _Outcome:
        if result.fault not in (None, "hang", "drop"):
            raise ValueError("unknown simulated fault %r" % (result.fault,))
        return cls(bytes(result.stdout), bytes(result.stderr), int(result.exit_code), result.fault,
                   float(result.hang_seconds), str(getattr(result, "label", "") or ""))


def ready_at(outcome: _Outcome, finished: float) -> float:
    """The monotonic time from which a command's output may be delivered: at once, or after a simulated hang
    (math.inf: a hang without end)."""
    if outcome.fault != "hang":
        return finished
    return finished + outcome.hang_seconds if outcome.hang_seconds > 0 else math.inf


class _Command:
    """One WinRS command: its stdin so far, and once run, its outcome and how much output was sent."""

    def __init__(self, command_id: str, command: str, arguments: list[str], shell_id: str = ""):
        self.id = command_id
        self.shell_id = shell_id
        self.command = command
        self.arguments = arguments
        self.stdin = bytearray()
        self.stdin_sent = False
        self.stdin_closed = False
        self.started = False
        self.outcome: _Outcome | None = None
        # monotonic time from which output may be delivered (math.inf: a hang without end)
        self.ready_at = math.inf
        self.dropped = False
        self.stdout_sent = 0
        self.stderr_sent = 0


class _Shell:
    def __init__(self, shell_id: str):
        self.id = shell_id
        self.commands: dict[str, _Command] = {}


class _Stats:
    """Thread-safe counters the tests read (e.g. that bodies really arrived encrypted), and can wait on: a test
    that must act while a request is in a given state waits for the counter that says so, not for a time."""

    def __init__(self):
        self._changed = threading.Condition()
        self._counts: Counter[str] = Counter()

    def increment(self, name: str) -> None:
        with self._changed:
            self._counts[name] += 1
            self._changed.notify_all()

    def snapshot(self) -> dict[str, int]:
        with self._changed:
            return dict(self._counts)

    def wait_for(self, name: str, at_least: int, timeout: float) -> bool:
        """Whether counter ``name`` reached ``at_least`` within ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self._counts[name] >= at_least, timeout)


class WinRSService:
    """Shells and commands of the WinRS protocol, on top of a command host.

    All shell/command state is guarded by one condition variable; Receives wait on it for
    a command's output, and :meth:`shutdown` wakes them. The command host's ``run`` is
    called outside the lock so commands of different connections run in parallel.
    """

    def __init__(self, command_host, stats: _Stats, machine: str, traffic: TrafficLog | None = None):
        self._command_host = command_host
        self._stats = stats
        self._traffic = traffic or TrafficLog(None)
        self._machine = machine
        self._changed = threading.Condition()
        self._shells: dict[str, _Shell] = {}
        self._stopping = False
        self._handlers = {
            ACTION_CREATE: self._create,
            ACTION_DELETE: self._delete,
            ACTION_COMMAND: self._command,
            ACTION_SEND: self._send,
            ACTION_RECEIVE: self._receive,
            ACTION_SIGNAL: self._signal,
        }
        # PowerShell remoting on the same endpoint; imported here because it uses this module's pieces.
        from hyperv_sim.wsman_psrp import PSRPService

        self.psrp = PSRPService(sys.modules[__name__], self.run_outcome, stats)

    def shutdown(self) -> None:
        """Make waiting and future Receives return at once (server stop)."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self.psrp.shutdown()

    def handle(self, data: bytes, note: dict | None = None) -> tuple[int, bytes]:
        """Answer one SOAP request: (HTTP status, SOAP response). May raise DropConnection.

        ``note`` (the traffic log's view of the request) gets the action and the shell it
        concerns; its ``connection`` is passed on to the record of a command run.
        """
        note = {} if note is None else note
        relates_to = None
        try:
            request = WSManRequest.parse(data)
            relates_to = request.message_id
            note["action"] = request.action.rsplit("/", 1)[-1]
            note["shell"] = (request.shell_id or "").upper() or None
            note["protocol"] = "psrp" if request.resource_uri == POWERSHELL_RESOURCE_URI else "winrs"
            log.debug("%s resource=%s shell=%s", request.action.rsplit("/", 1)[-1], request.resource_uri,
                      request.shell_id)
            if request.resource_uri == POWERSHELL_RESOURCE_URI:
                action, body = self.psrp.handle(request, note)
                return 200, envelope(action, request.message_id, body)
            if request.resource_uri != SHELL_RESOURCE_URI:
                raise WSManFault(
                    FAULT_INVALID_RESOURCE_URI, "w:InvalidResourceURI",
                    "The resource URI %s is not supported by the simulated Hyper-V host: it implements the "
                    "WinRS cmd shell (%s) that Ansible's winrm connection uses and PowerShell remoting (%s) that "
                    "the psrp connection uses, not WMI resources."
                    % (request.resource_uri, SHELL_RESOURCE_URI, POWERSHELL_RESOURCE_URI))
            handler = self._handlers.get(request.action)
            if handler is None:
                raise WSManFault(FAULT_ACTION_NOT_SUPPORTED, "a:ActionNotSupported",
                                 "The action %s is not supported by the simulated Hyper-V host." % request.action)
            action, body = handler(request, note)
            return 200, envelope(action, request.message_id, body)
        except WSManFault as fault:
            self._stats.increment("faults")
            log.debug("fault %d: %s", fault.code, fault.message)
            return 500, fault_envelope(fault, relates_to or message_id_of(data), self._machine)

    # -- actions -----------------------------------------------------------------------------

    def _create(self, request: WSManRequest, note: dict) -> tuple[str, str]:
        shell = _Shell(str(uuid.uuid4()).upper())
        with self._changed:
            self._shells[shell.id] = shell
        note["shell"] = shell.id
        return ACTION_CREATE + "Response", shell_created(request, SHELL_RESOURCE_URI, shell.id, "stdin", "stdout stderr")

    def _delete(self, request: WSManRequest, note: dict) -> tuple[str, str]:
        with self._changed:
            shell = self._shell(request)
            del self._shells[shell.id]
        return ACTION_DELETE + "Response", ""

    def _command(self, request: WSManRequest, note: dict) -> tuple[str, str]:
        line = _require(request.body, "rsp:CommandLine")
        command_text = (_require(line, "rsp:Command").text or "").strip()
        arguments = [element.text or "" for element in line.findall("rsp:Arguments", NS)]
        command = _Command(str(uuid.uuid4()).upper(), command_text, arguments, (request.shell_id or "").upper())
        with self._changed:
            self._shell(request).commands[command.id] = command
        log.debug("command %s: %.200r %.200r", command.id, command_text, arguments)
        return (ACTION_COMMAND + "Response",
                "<rsp:CommandResponse><rsp:CommandId>%s</rsp:CommandId></rsp:CommandResponse>" % command.id)

    def _send(self, request: WSManRequest, note: dict) -> tuple[str, str]:
        stream = _require(request.body, "rsp:Send/rsp:Stream")
        try:
            data = base64.b64decode((stream.text or "").strip(), validate=True)
        except binascii.Error as error:
            raise WSManFault(FAULT_INVALID_SOAP_BODY, "w:InvalidBody", "stdin is not base64: %s" % error)
        end = (stream.get("End") or "").lower() == "true"
        with self._changed:
            command = self._find_command(request, stream.get("CommandId"))
            if command.stdin_closed:
                raise WSManFault(FAULT_INVALID_PARAMETER, "w:InvalidParameter",
                                 "stdin of command %s was already closed with End=\"true\"" % command.id)
            command.stdin += data
            command.stdin_sent = True
            command.stdin_closed = end
            run_now = end and not command.started
            command.started = command.started or run_now
        if run_now:
            self._run(command, note)
        return ACTION_SEND + "Response", "<rsp:SendResponse/>"

    def _receive(self, request: WSManRequest, note: dict) -> tuple[str, str]:
        desired = _require(request.body, "rsp:Receive/rsp:DesiredStream")
        with self._changed:
            command = self._find_command(request, desired.get("CommandId"))
            # A command that never got stdin runs at its first Receive.
            run_now = not command.started and not command.stdin_sent
            command.started = command.started or run_now
        if run_now:
            self._run(command, note)

        deadline = time.monotonic() + request.operation_timeout
        with self._changed:
            waited = False
            while True:
                now = time.monotonic()
                if command.outcome is not None and now >= command.ready_at:
                    break
                if self._stopping or now >= deadline:
                    raise timed_out_receive(self._stats, self._stopping)
                if not waited:
                    # Counted under the lock shutdown() takes: once a test sees it, a stop wakes this Receive.
                    self._stats.increment("receive_waits")
                    waited = True
                self._changed.wait(min(deadline, command.ready_at) - now)
            if command.outcome.fault == "drop" and not command.dropped:
                command.dropped = True
                raise DropConnection()
            return ACTION_RECEIVE + "Response", self._next_output(command)

    def _signal(self, request: WSManRequest, note: dict) -> tuple[str, str]:
        signal = _require(request.body, "rsp:Signal")
        with self._changed:
            command = self._find_command(request, signal.get("CommandId"))
            del self._shell(request).commands[command.id]
        return ACTION_SIGNAL + "Response", "<rsp:SignalResponse/>"

    # -- helpers (the _shell/_find_command/_next_output callers hold self._changed) ---------

    def _shell(self, request: WSManRequest) -> _Shell:
        if not request.shell_id:
            raise WSManFault(FAULT_INVALID_SELECTORS, "w:InvalidSelectors",
                             "The Windows Remote Shell cannot process the request because it requires the "
                             "selector ShellId.")
        shell = self._shells.get(request.shell_id.upper())
        if shell is None:
            raise WSManFault(FAULT_SHELL_NOT_FOUND, "w:InvalidSelectors",
                             "The request for the Windows Remote Shell with ShellId %s failed because the shell "
                             "was not found on the server." % request.shell_id)
        return shell

    def _find_command(self, request: WSManRequest, command_id: str | None) -> _Command:
        shell = self._shell(request)
        command = shell.commands.get((command_id or "").upper())
        if command is None:
            raise WSManFault(FAULT_INVALID_SELECTORS, "w:InvalidSelectors",
                             "The command with CommandId %s was not found in the shell %s." % (command_id, shell.id))
        return command

    def _run(self, command: _Command, note: dict) -> None:
        """Run a WinRS command and make its output available to Receives."""
        outcome, finished = self.run_outcome(command.command, list(command.arguments), bytes(command.stdin), note,
                                             command.shell_id)
        with self._changed:
            command.outcome = outcome
            command.ready_at = ready_at(outcome, finished)
            self._changed.notify_all()

    def run_outcome(self, command: str, arguments: list[str], stdin: bytes, note: dict,
                    shell_id: str) -> tuple[_Outcome, float]:
        """Call the command host once (a failing host becomes exit code 1, so the client never hangs) and log
        the command in the traffic log; returns the outcome and the monotonic time it finished."""
        try:
            outcome = _Outcome.from_result(self._command_host.run(command, arguments, stdin))
        except Exception as error:  # the simulator must answer whatever the command host does
            log.exception("command host failed on a command of shell %s", shell_id)
            outcome = _Outcome(b"", ("hyperv-sim: the command host failed: %s: %s\n"
                                     % (type(error).__name__, error)).encode("utf-8"), 1)
        finished = time.monotonic()
        self._traffic.write({"kind": "command", "connection": note.get("connection"), "shell": shell_id,
                             "label": outcome.label, "stdin": len(stdin), "stdout": len(outcome.stdout),
                             "stderr": len(outcome.stderr)})
        return outcome, finished

    def _next_output(self, command: _Command) -> str:
        outcome = command.outcome
        stdout = outcome.stdout[command.stdout_sent:command.stdout_sent + OUTPUT_CHUNK_BYTES]
        stderr = outcome.stderr[command.stderr_sent:command.stderr_sent + OUTPUT_CHUNK_BYTES]
        command.stdout_sent += len(stdout)
        command.stderr_sent += len(stderr)
        done = command.stdout_sent == len(outcome.stdout) and command.stderr_sent == len(outcome.stderr)

        parts = ["<rsp:ReceiveResponse>"]
        for name, chunk in (("stdout", stdout), ("stderr", stderr)):
            if chunk:
                parts.append('<rsp:Stream Name="%s" CommandId="%s">%s</rsp:Stream>'
                             % (name, command.id, base64.b64encode(chunk).decode("ascii")))
        if done:
            parts.append('<rsp:Stream Name="stdout" CommandId="%s" End="true"/>' % command.id)
            parts.append('<rsp:Stream Name="stderr" CommandId="%s" End="true"/>' % command.id)
            parts.append('<rsp:CommandState CommandId="%s" State="%s"><rsp:ExitCode>%d</rsp:ExitCode>'
                         "</rsp:CommandState>" % (command.id, COMMAND_STATE_DONE, outcome.exit_code))
        else:
            parts.append('<rsp:CommandState CommandId="%s" State="%s"/>' % (command.id, COMMAND_STATE_RUNNING))
        parts.append("</rsp:ReceiveResponse>")
        return "".join(parts)


def _require(parent: ET.Element, path: str) -> ET.Element:
    element = parent.find(path, NS)
    if element is None:
        raise WSManFault(FAULT_INVALID_SOAP_BODY, "w:InvalidBody", "the request body has no %s element" % path)
    return element


class _RequestHandler(BaseHTTPRequestHandler):
    """One client connection. The handler object lives as long as the keep-alive connection,
    so it carries the connection's authentication (and NTLM encryption) state."""

    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "Microsoft-HTTPAPI/2.0"  # the Server header of Windows' HTTP.sys

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the
        # client's delayed ACK would add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = self.connection.getpeercert(binary_form=True) if isinstance(self.connection, ssl.SSLSocket) else None
        self.auth = self.server.authenticator.new_connection(peer_certificate=peer)
        self.number = self.server.track(self.connection)
        self._note: dict | None = None

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        # The traffic log's record of this request, written when the response goes out.
        self._note = {"kind": "http", "connection": self.number, "action": None, "shell": None,
                      "wire_in": len(body), "soap_in": 0, "soap_out": 0}
        if self.path.split("?", 1)[0].rstrip("/").lower() != "/wsman":
            self._reply(404)
            return
        outcome = self.auth.check(self.headers.get("Authorization"))
        if not outcome.accepted:
            refusal = getattr(self.auth, "refusal", None)
            if refusal:
                log.warning("refused a request from %s: %s", self.address_string(), refusal)
                self.server.stats.increment("logon_refusals")
            self._reply(outcome.status, outcome.headers)
            return
        # What the authentication adds to the answer (Kerberos' mutual authentication token).
        auth_headers = outcome.headers

        content_type = self.headers.get("Content-Type", "")
        encrypted = is_encrypted(content_type)
        if encrypted:
            if outcome.context is None:
                self._reply(400, body=b"message encryption needs NTLM or Kerberos authentication\n")
                return
            try:
                body = unwrap_request(outcome.context, content_type, body)
            except EncryptionError as error:
                log.debug("bad encrypted request: %s", error)
                self._reply(400, body=b"%s\n" % str(error).encode())
                return
        if not body:
            # pywinrm authenticates with an empty POST before it encrypts anything.
            self._reply(200, auth_headers)
            return

        stats = self.server.stats
        stats.increment("encrypted_requests" if encrypted else "plain_requests")
        self._note["soap_in"] = len(body)
        try:
            status, response = self.server.service.handle(body, self._note)
        except DropConnection:
            stats.increment("dropped_connections")
            self._write_traffic(0)
            self._reset_connection()
            return
        self._note["soap_out"] = len(response)
        if encrypted:
            self._reply(status, auth_headers + [("Content-Type", ENCRYPTED_CONTENT_TYPE)],
                        wrap_response(outcome.context, response))
        else:
            self._reply(status, auth_headers + [("Content-Type", SOAP_CONTENT_TYPE)], response)

    def _reply(self, status: int, headers: list[tuple[str, str]] = (), body: bytes = b"") -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if body and not any(name.lower() == "content-type" for name, _ in headers):
            # pywinrm reads Content-Type of every error response it decrypts
            self.send_header("Content-Type", "text/plain;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        # Logged before the client can see the response, so a reader after the task sees all of it.
        self._write_traffic(len(body))
        self.end_headers()
        self.wfile.write(body)

    def _write_traffic(self, wire_out: int) -> None:
        if self._note is not None:
            self._note["wire_out"] = wire_out
            self.server.traffic.write(self._note)
            self._note = None

    def _reset_connection(self) -> None:
        """Close with SO_LINGER 0: the kernel sends a RST, the client sees a connection reset."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # drops the makefile() reference so close() really closes the socket
        self.connection.close()


class _HTTPServer(ThreadingHTTPServer):
    """Thread per connection; TLS handshakes happen in that thread, not in the accept loop."""

    daemon_threads = True
    # Seconds a client may take for the TLS handshake before its thread gives up.
    tls_handshake_timeout = 10.0

    def __init__(self, address, service: WinRSService, authenticator, stats: _Stats,
                 tls_context: ssl.SSLContext | None, traffic: TrafficLog):
        self.service = service
        self.authenticator = authenticator
        self.stats = stats
        self.traffic = traffic
        self._tls_context = tls_context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._connections_seen = 0
        super().__init__(address, _RequestHandler)

    def finish_request(self, request, client_address) -> None:
        if self._tls_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(self.tls_handshake_timeout)
        try:
            tls_socket = self._tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as error:
            log.debug("TLS handshake with %s failed: %s", client_address, error)
            return
        tls_socket.settimeout(None)
        try:
            super().finish_request(tls_socket, client_address)
        finally:
            self.shutdown_request(tls_socket)

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError, ssl.SSLError)):
            log.debug("connection from %s ended: %s", client_address, error)
        else:
            log.error("unexpected error serving %s", client_address, exc_info=True)

    def track(self, connection: socket.socket) -> int:
        """Remember an open connection; returns its number (1, 2, ... in order of arrival)."""
        with self._connections_lock:
            self._connections.add(connection)
            self._connections_seen += 1
            return self._connections_seen

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """End idle keep-alive connections, whose threads would otherwise wait for a next request."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class WSManServer:
    """The simulated host's WinRM endpoint on ``host:port`` (port 0 picks a free port).

    ``command_host`` is any object with ``run(command, arguments, stdin)`` returning a
    ``CommandResult``-like object (``hyperv_sim.commands.CommandHost`` in production, a
    fake in tests). ``traffic_path``: where to append the traffic log (``hyperv_sim.traffic``).
    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, command_host, user: str, password: str, transport: str = "ntlm", tls: bool = False,
                 host: str = "127.0.0.1", port: int = 0, traffic_path: str | None = None, keytab: str | None = None,
                 client_ca: str | None = None):
        if transport not in TRANSPORTS:
            raise ValueError("transport must be one of %s, not %r" % (", ".join(TRANSPORTS), transport))
        if (transport == "kerberos") != bool(keytab):
            raise ValueError("a keytab goes with the kerberos transport, and only with it")
        if (transport == "certificate") != bool(client_ca) or (transport == "certificate" and not tls):
            raise ValueError("the certificate transport needs tls and a client CA, and only it takes one")
        if not user or not password:
            raise ValueError("a user name and a password are required")
        self.transport = transport
        self.tls = tls
        self.host = host
        self._stats = _Stats()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._tempdir = tempfile.mkdtemp(prefix="hyperv-sim-")
        try:
            tls_context = create_self_signed_tls(self._tempdir, client_ca) if tls else None
            if transport == "ntlm":
                authenticator = NTLMAuthenticator(user, password, os.path.join(self._tempdir, "ntlm-users"))
            elif transport == "kerberos":
                authenticator = KerberosAuthenticator(keytab)
            elif transport == "certificate":
                authenticator = CertificateAuthenticator(user, client_ca)
            else:
                authenticator = BasicAuthenticator(user, password)
            traffic = TrafficLog(traffic_path)
            self.service = WinRSService(command_host, self._stats, machine=host, traffic=traffic)
            self._httpd = _HTTPServer((host, port), self.service, authenticator, self._stats, tls_context, traffic)
        except BaseException:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            raise

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def certificate_path(self) -> str | None:
        """The PEM certificate served over TLS (None without TLS): what a client trusts to validate it."""
        return os.path.join(self._tempdir, "cert.pem") if self.tls else None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        return "%s://%s:%d/wsman" % (self.scheme, self.host, self.port)

    def stats(self) -> dict[str, int]:
        """Counters: plain_requests, encrypted_requests, faults, operation_timeouts (of which
        receives_ended_by_stop), receive_waits (Receives that found no output ready and waited for it),
        dropped_connections, logon_refusals (Kerberos tokens or client certificates refused, and requests without
        one)."""
        return self._stats.snapshot()

    def wait_for_stat(self, name: str, at_least: int, timeout: float) -> bool:
        """Whether counter ``name`` of :meth:`stats` reached ``at_least`` within ``timeout`` seconds."""
        return self._stats.wait_for(name, at_least, timeout)

    def start(self) -> WSManServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="wsman-%d" % self.port, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake waiting Receives, close open connections, remove the temp files."""
        if self._stopped:
            return
        self._stopped = True
        self.service.shutdown()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.close_connections()
        self._httpd.server_close()
        shutil.rmtree(self._tempdir, ignore_errors=True)

    def __enter__(self) -> WSManServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
