"""PowerShell Remoting (PSRP) on the simulated host's /wsman endpoint, for Ansible's ``psrp`` connection (pypsrp).

A Windows host serves two WS-Management shells on one listener: WinRS (``.../windows/shell/cmd``, what
``winrm`` uses) and PowerShell remoting (``http://schemas.microsoft.com/powershell/Microsoft.PowerShell``,
what ``psrp`` uses). :class:`hyperv_sim.wsman.WinRSService` hands requests for the second resource here, so
both connections reach one simulated host on one port with the same authentication and encryption.

The PSRP messages themselves (fragments, session capability, runspace pool and pipeline state, output,
error records, host calls) are psrpcore's (by the author of pypsrp): its sans-IO ``ServerRunspacePool`` and
``ServerPipeline``. What is left here is the WS-Management side of MS-PSRP 3.1.5.3: a runspace pool is a
shell (``Create`` carries the first fragments in ``creationXml``), a pipeline is a command (``Command`` with
the pipeline id as CommandId and its first fragment as the argument), further fragments arrive with ``Send``
(``stdin``, or ``pr`` for host responses), the server's messages go out on ``Receive`` as base64 in the
``stdout`` stream, ``Signal`` stops (``powershell/signal/crtl_c``) or ends (``Terminate``) a pipeline and
``Delete`` closes the pool.

What a pipeline runs is the command host's decision, as for WinRS: Ansible's psrp connection decodes the
``-EncodedCommand`` it is given and runs the script itself in the runspace, with each stdin line as a
pipeline input object. The service turns that back into the command line and stdin the script would have
had in its own ``powershell.exe`` (what the command host judges), and the command host's answer into what
PowerShell sends: stdout lines as output strings, stderr as an error record, the exit code through the
``SetShouldExit`` host call that ``exit`` makes in a remote runspace, then the pipeline's Completed state.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import threading
import time
import uuid
from collections import defaultdict

import psrpcore
from psrpcore.types import ErrorCategory, ErrorCategoryInfo, NETException, PSInvocationState

log = logging.getLogger("hyperv_sim.wsman_psrp")

CREATION_XML_NAMESPACE = "http://schemas.microsoft.com/powershell"
SIGNAL_TERMINATE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate"
# What Ansible's shell plugin (and the collection) put before the script's base64 on a command line.
ENCODED_COMMAND_PREFIX = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand "


class _Pipeline:
    """One PSRP pipeline: its input so far, and once run, the outcome Receives deliver."""

    def __init__(self, server: psrpcore.ServerPipeline):
        self.server = server
        self.input: list[str] = []
        self.started = False
        self.outcome = None
        self.ready_at = math.inf
        self.dropped = False
        self.delivered = False


class _Pool:
    """One runspace pool (a WS-Management shell): its psrpcore state, pipelines and unsent messages."""

    def __init__(self, shell_id: str):
        self.id = shell_id
        self.server = psrpcore.ServerRunspacePool()
        self.pipelines: dict[uuid.UUID, _Pipeline] = {}
        # Base64 payloads waiting for a Receive, per target: None for the pool, else the pipeline id.
        self.outgoing: dict[uuid.UUID | None, list[str]] = defaultdict(list)

    def collect_outgoing(self) -> None:
        """Move everything psrpcore has to send into the per-target queues (a Receive takes only its own)."""
        while True:
            payload = self.server.data_to_send()
            if payload is None:
                return
            self.outgoing[payload.pipeline_id].append(base64.b64encode(payload.data).decode("ascii"))


def _decode(text: str | None, what: str, fault):
    try:
        return base64.b64decode((text or "").strip(), validate=True)
    except binascii.Error as error:
        raise fault("%s is not base64: %s" % (what, error))


class PSRPService:
    """The PowerShell remoting shell of the simulated WinRM endpoint.

    ``wsman`` is the hyperv_sim.wsman module (passed in, not imported: it imports this one), for its
    namespaces, faults and command-host conventions; ``run_command`` runs a command line with stdin and
    records it in the traffic log (WinRSService.run_outcome); ``stats`` are the endpoint's counters.
    """

    def __init__(self, wsman, run_command, stats):
        self._wsman = wsman
        self._run_command = run_command
        self._stats = stats
        self._changed = threading.Condition()
        self._pools: dict[str, _Pool] = {}
        self._stopping = False

    def shutdown(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()

    def _fault(self, message: str):
        wsman = self._wsman
        return wsman.WSManFault(wsman.FAULT_INVALID_SOAP_BODY, "w:InvalidBody", message)

    def handle(self, request, note: dict) -> tuple[str, str]:
        """Answer one request for the PowerShell resource URI: (response action, body XML)."""
        wsman = self._wsman
        handlers = {
            wsman.ACTION_CREATE: self._create,
            wsman.ACTION_DELETE: self._delete,
            wsman.ACTION_COMMAND: self._command,
            wsman.ACTION_SEND: self._send,
            wsman.ACTION_RECEIVE: self._receive,
            wsman.ACTION_SIGNAL: self._signal,
        }
        handler = handlers.get(request.action)
        if handler is None:
            raise wsman.WSManFault(wsman.FAULT_ACTION_NOT_SUPPORTED, "a:ActionNotSupported",
                                   "The action %s is not supported by the simulated Hyper-V host's PowerShell "
                                   "remoting endpoint." % request.action)
        return handler(request, note)

    # -- actions -----------------------------------------------------------------------------

    def _create(self, request, note: dict) -> tuple[str, str]:
        wsman = self._wsman
        shell = wsman._require(request.body, "rsp:Shell")
        creation = shell.find("{%s}creationXml" % CREATION_XML_NAMESPACE)
        if creation is None:
            raise self._fault("a PowerShell runspace pool needs creationXml with its first PSRP fragments")
        pool = _Pool((shell.get("ShellId") or str(uuid.uuid4())).upper())
        data = _decode(creation.text, "creationXml", self._fault)
        with self._changed:
            self._pools[pool.id] = pool
            self._feed(pool, data, None)
        note["shell"] = pool.id
        return wsman.ACTION_CREATE + "Response", wsman.shell_created(request, wsman.POWERSHELL_RESOURCE_URI, pool.id,
                                                                     "stdin pr", "stdout")

    def _delete(self, request, note: dict) -> tuple[str, str]:
        with self._changed:
            pool = self._pool(request)
            del self._pools[pool.id]
            self._changed.notify_all()
        return self._wsman.ACTION_DELETE + "Response", ""

    def _command(self, request, note: dict) -> tuple[str, str]:
        wsman = self._wsman
        line = wsman._require(request.body, "rsp:CommandLine")
        try:
            pipeline_id = uuid.UUID(line.get("CommandId") or "")
        except ValueError:
            raise self._fault("a PowerShell pipeline needs its id as the CommandId") from None
        data = _decode(wsman._require(line, "rsp:Arguments").text, "the pipeline's first fragment", self._fault)
        run = None
        with self._changed:
            pool = self._pool(request)
            pool.pipelines[pipeline_id] = _Pipeline(psrpcore.ServerPipeline(pool.server, pipeline_id))
            run = self._feed(pool, data, pipeline_id)
        if run:
            self._run(pool, run, note)
        return (wsman.ACTION_COMMAND + "Response",
                "<rsp:CommandResponse><rsp:CommandId>%s</rsp:CommandId></rsp:CommandResponse>"
                % str(pipeline_id).upper())

    def _send(self, request, note: dict) -> tuple[str, str]:
        wsman = self._wsman
        stream = wsman._require(request.body, "rsp:Send/rsp:Stream")
        data = _decode(stream.text, "the sent data", self._fault)
        command_id = stream.get("CommandId")
        with self._changed:
            pool = self._pool(request)
            target = uuid.UUID(command_id) if command_id else None
            if target is not None and target not in pool.pipelines:
                raise self._unknown_pipeline(pool, command_id)
            run = self._feed(pool, data, target)
        if run:
            self._run(pool, run, note)
        return wsman.ACTION_SEND + "Response", "<rsp:SendResponse/>"

    def _receive(self, request, note: dict) -> tuple[str, str]:
        wsman = self._wsman
        desired = wsman._require(request.body, "rsp:Receive/rsp:DesiredStream")
        command_id = desired.get("CommandId")
        deadline = time.monotonic() + request.operation_timeout
        with self._changed:
            pool = self._pool(request)
            target = uuid.UUID(command_id) if command_id else None
            waited = False
            while True:
                pipeline = pool.pipelines.get(target) if target is not None else None
                if target is not None and pipeline is None:
                    raise self._unknown_pipeline(pool, command_id)
                now = time.monotonic()
                ready = pool.outgoing.get(target) and (pipeline is None or now >= pipeline.ready_at)
                if ready:
                    break
                if self._stopping or now >= deadline or pool.id not in self._pools:
                    raise wsman.timed_out_receive(self._stats, self._stopping)
                if not waited:
                    # Counted under the lock shutdown() takes: once a test sees it, a stop wakes this Receive.
                    self._stats.increment("receive_waits")
                    waited = True
                wait_until = deadline if pipeline is None else min(deadline, pipeline.ready_at)
                self._changed.wait(max(0.0, wait_until - now))
            if pipeline is not None and pipeline.outcome is not None and pipeline.outcome.fault == "drop" \
                    and not pipeline.dropped:
                pipeline.dropped = True
                raise wsman.DropConnection()
            payloads, pool.outgoing[target] = pool.outgoing[target], []
            done = pipeline is not None and pipeline.server.state != PSInvocationState.Running
        parts = ["<rsp:ReceiveResponse>"]
        for payload in payloads:
            attributes = ' CommandId="%s"' % str(target).upper() if target is not None else ""
            parts.append('<rsp:Stream Name="stdout"%s>%s</rsp:Stream>' % (attributes, payload))
        if done:
            parts.append('<rsp:CommandState CommandId="%s" State="%s"/>'
                         % (str(target).upper(), wsman.COMMAND_STATE_DONE))
        parts.append("</rsp:ReceiveResponse>")
        return wsman.ACTION_RECEIVE + "Response", "".join(parts)

    def _signal(self, request, note: dict) -> tuple[str, str]:
        wsman = self._wsman
        signal = wsman._require(request.body, "rsp:Signal")
        code = (signal.findtext("rsp:Code", default="", namespaces=wsman.NS) or "").strip()
        with self._changed:
            pool = self._pool(request)
            try:
                pipeline_id = uuid.UUID(signal.get("CommandId") or "")
            except ValueError:
                pipeline_id = None
            pipeline = pool.pipelines.get(pipeline_id)
            if pipeline is not None:
                if code.lower() == SIGNAL_TERMINATE:
                    del pool.pipelines[pipeline_id]
                    pool.outgoing.pop(pipeline_id, None)
                elif pipeline.server.state == PSInvocationState.Running:
                    pipeline.server.stop()  # ctrl_c: the pipeline reports Stopped
                    pool.collect_outgoing()
                self._changed.notify_all()
        return wsman.ACTION_SIGNAL + "Response", "<rsp:SignalResponse/>"

    # -- helpers (callers of _pool/_feed hold self._changed) ----------------------------------

    def _pool(self, request) -> _Pool:
        wsman = self._wsman
        pool = self._pools.get((request.shell_id or "").upper())
        if pool is None:
            raise wsman.WSManFault(wsman.FAULT_SHELL_NOT_FOUND, "w:InvalidSelectors",
                                   "The request for the PowerShell runspace pool with ShellId %s failed because "
                                   "the shell was not found on the server." % request.shell_id)
        return pool

    def _unknown_pipeline(self, pool: _Pool, command_id: str | None):
        wsman = self._wsman
        return wsman.WSManFault(wsman.FAULT_INVALID_SELECTORS, "w:InvalidSelectors",
                                "The pipeline %s was not found in the runspace pool %s." % (command_id, pool.id))

    def _feed(self, pool: _Pool, data: bytes, pipeline_id: uuid.UUID | None) -> _Pipeline | None:
        """Give PSRP fragments to psrpcore and act on its events; returns a pipeline whose input is complete."""
        server = pool.server
        server.receive_data(psrpcore.PSRPPayload(data, psrpcore.StreamType.default, pipeline_id))
        complete = None
        while True:
            try:
                event = server.next_event()
            except psrpcore.PSRPCoreError as error:
                raise self._fault("bad PSRP data: %s" % error) from None
            if event is None:
                break
            pipeline = pool.pipelines.get(getattr(event, "pipeline_id", None))
            if isinstance(event, psrpcore.CreatePipelineEvent) and pipeline is not None:
                if event.pipeline.no_input:
                    complete = pipeline
            elif isinstance(event, psrpcore.PipelineInputEvent) and pipeline is not None:
                pipeline.input.append(str(event.data))
            elif isinstance(event, psrpcore.EndOfPipelineInputEvent) and pipeline is not None:
                complete = pipeline
        pool.collect_outgoing()
        self._changed.notify_all()
        if complete is not None and not complete.started:
            complete.started = True
            complete.server.start()
            return complete
        return None

    def _run(self, pool: _Pool, pipeline: _Pipeline, note: dict) -> None:
        """Run the pipeline's script through the command host and queue what PowerShell would send back."""
        commands = pipeline.server.metadata.commands
        script = commands[0].command_text if len(commands) == 1 and commands[0].is_script else None
        if script is None:
            command_line = " ".join(command.command_text for command in commands)
        else:
            command_line = ENCODED_COMMAND_PREFIX + base64.b64encode(script.encode("utf-16-le")).decode("ascii")
        stdin = "\n".join(pipeline.input).encode("utf-8")
        outcome, finished = self._run_command(command_line, [], stdin, note, pool.id)
        with self._changed:
            server = pipeline.server
            for line in outcome.stdout.decode("utf-8", "replace").splitlines():
                server.write_output(line)
            if outcome.stderr:
                server.write_error(NETException(Message=outcome.stderr.decode("utf-8", "replace").strip()),
                                   ErrorCategoryInfo(Category=ErrorCategory.NotSpecified),
                                   fully_qualified_error_id="NativeCommandError")
            # ``exit $rc`` in a remote runspace: PowerShell asks the client's host to exit with the code.
            psrpcore.ServerHostRequestor(server).set_should_exit(outcome.exit_code)
            server.complete()
            pool.collect_outgoing()
            pipeline.outcome = outcome
            pipeline.ready_at = self._wsman.ready_at(outcome, finished)
            self._changed.notify_all()
