# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the errors of the collection, and the task failure each one becomes.

One hierarchy: HypervError carries a stable code (docs/host-protocol.md, the modules' RETURN error_code), a
message and details. Under it, PlanError: the task cannot be done as asked and nothing was changed (OptionError
when an option is wrong, found before any connection); HostError: an operation on the Hyper-V host failed, with
the operation, the host's inventory name and its computer name; and under HostError the failures of the exchange
itself (ProtocolError, OperationTimeoutError, ConnectionLostError, SessionRejectedError). ``error_result`` is the one place that turns any
of them into the fields of a failed task.
"""

from __future__ import annotations

from typing import Any

# Codes worth another attempt: the host was busy, or the connection broke before
# the answer arrived. Everything else is a decision the user has to make.
TRANSIENT_CODES = frozenset(("busy", "connection_lost"))
# Codes of an exchange that broke after the request may have reached the host: whether the operation took
# effect is unknown (as opposed to the host's own refusals, after which nothing was changed).
# (host_unreachable is not one: the request never reached the host.)
OUTCOME_UNKNOWN_CODES = frozenset(("timeout", "connection_lost", "session_rejected", "protocol_error"))
# The host's codes (docs/host-protocol.md, "Error codes") and the controller's own.
KNOWN_CODES = frozenset((
    "vm_not_found", "ambiguous", "owned_by_other_node", "checkpoint_not_found", "checkpoints_disabled",
    "production_checkpoint_failed", "limit_reached", "unsupported_on_host", "checkpoint_location_in_use",
    "hyperv_module_missing", "busy", "invalid_request", "host_error", "not_clustered", "low_disk_space",
    "access_denied", "hyperv_timeout", "constrained_language", "migrating", "cluster_unreadable",
    "timeout", "connection_lost", "session_rejected", "protocol_error", "merge_timeout", "host_unreachable",
))
INVALID_OPTION = "invalid_option"

# What the user can do about each code.
HINTS = {
    "vm_not_found": "check the VM name or id (hyperv.checkpoint.hyperv_checkpoint_info lists the VMs of a host), "
                    "and that the task runs against the Hyper-V host that holds the VM (delegate_to)",
    "ambiguous": "several VMs share this name: address the VM by vm_id",
    "owned_by_other_node": "the VM is clustered and runs on another node: put that node in the inventory with its "
                           "connection variables so that the task follows the VM there (docs/clusters.md), or "
                           "delegate the task to it",
    "migrating": "the cluster is live-migrating the VM and the migration did not end within operation_timeout: "
                 "check the migration (Get-ClusterGroup), then run the task again",
    "cluster_unreadable": "the connecting user could not read the failover cluster: grant it read access to the "
                          "cluster (Grant-ClusterAccess -User <user> -ReadOnly, or -Full to manage roles; "
                          "docs/clusters.md)",
    "checkpoint_not_found": "list the VM's checkpoints with hyperv.checkpoint.hyperv_checkpoint_info",
    "checkpoints_disabled": "enable checkpoints with hyperv.checkpoint.hyperv_checkpoint_type",
    "production_checkpoint_failed": "the guest could not be quiesced (VSS or the Linux freeze daemon): check the "
                                    "guest's backup integration service, or use checkpoint_type=production to allow a "
                                    "standard checkpoint instead",
    "limit_reached": "delete old checkpoints first; Hyper-V allows 50 per VM",
    "unsupported_on_host": "this setting needs a newer Windows Server version on the Hyper-V host",
    "hyperv_module_missing": "install the Hyper-V PowerShell module on the host: "
                             "Install-WindowsFeature Hyper-V-PowerShell",
    "low_disk_space": "free space on the volume (delete old checkpoints, move the VM's disks or checkpoint files), "
                      "or lower min_free_gb if the change writes little",
    "access_denied": "add the connecting user to the host's local group Hyper-V Administrators",
    "hyperv_timeout": "Hyper-V gave up on the operation; check the VM (a guest that does not answer VSS makes "
                      "production checkpoints time out) and try again",
    "constrained_language": "an AppLocker or WDAC policy locks PowerShell down on the host; the collection's scripts "
                            "need FullLanguage mode for the connecting user (docs/host-fidelity.md, locked-down hosts)",
    "busy": "another operation is running on the VM; try again later",
    "timeout": "the operation may still be running on the host; check the VM before running the task again, "
               "or raise operation_timeout",
    "connection_lost": "the connection to the host broke; check the host's WinRM or OpenSSH service",
    "session_rejected": "the host refused the connection's logon session (a host or WinRM service that restarted "
                        "during the task forgets it): check the VM, then run the task again; if it happens at once, "
                        "check the connection's transport and credentials (docs/host-setup.md)",
    "host_unreachable": "check the Hyper-V host's connection variables (docs/host-setup.md): its address, port, "
                        "transport, user and password (or SSH key)",
    "protocol_error": "the host did not run the collection's PowerShell runner: check that the connection uses "
                      "the powershell shell and Windows PowerShell 5.1",
}


class HypervError(Exception):
    """Any failure the collection reports: a stable ``code``, a ``message`` and ``details`` (a dict)."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}
        super().__init__(self.describe())

    def describe(self) -> str:
        return "%s: %s" % (self.code, self.message)


class PlanError(HypervError):
    """The task cannot be carried out as asked; nothing has been changed."""


class OptionError(PlanError):
    """A task option is wrong (found before any connection); the message names the option."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(INVALID_OPTION, message, details)


class HostError(HypervError):
    """An operation on the Hyper-V host failed: ``operation``, ``host`` (the inventory name the task connected to)
    and ``computer_name`` (the host's own name, when it answered)."""

    def __init__(self, code: str, message: str, operation: str | None = None, host: str | None = None,
                 details: dict[str, Any] | None = None, computer_name: str | None = None) -> None:
        self.operation = operation
        self.host = host
        self.computer_name = computer_name
        # How many attempts of the operation were sent and got no answer (HyperVHost counts them): one of them
        # may have been carried out, whatever the last attempt met.
        self.unanswered_attempts = 0
        super().__init__(code, message, details)

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES

    def describe(self) -> str:
        where = " on %s" % host_name(self.host, self.computer_name) if self.host or self.computer_name else ""
        what = " (operation %s%s)" % (self.operation, where) if self.operation else where
        return "%s: %s%s" % (self.code, self.message, what)


class OperationTimeoutError(HostError):
    """The host did not answer within the operation timeout.

    Not transient: the operation may still be running on the host, so repeating
    it blindly could do it twice.
    """

    def __init__(self, operation: str, host: str | None, timeout: float | None) -> None:
        super().__init__(
            "timeout",
            "the host did not answer within %s seconds; the operation may still be running there" % timeout,
            operation=operation,
            host=host,
            details={"timeout": timeout},
        )


class ConnectionLostError(HostError):
    """The connection broke before the host's answer arrived (transient)."""

    def __init__(self, operation: str, host: str | None, cause: object) -> None:
        super().__init__(
            "connection_lost",
            "the connection to the host was lost: %s" % cause,
            operation=operation,
            host=host,
            details={"cause": str(cause)},
        )


class SessionRejectedError(HostError):
    """The host refused a request of the connection's logon session at the HTTP level (WinRM and PSRP answer 400
    or 401).

    Not transient by itself: on the first request it is a set-up problem. After the host has answered on
    this connection it means the host forgot the session (its WinRM service restarted): HyperVHost then
    reconnects and tries again, as after a lost connection.
    """

    def __init__(self, operation: str, host: str | None, cause: object) -> None:
        super().__init__("session_rejected", "the host refused the connection's session: %s" % cause,
                         operation=operation, host=host, details={"cause": str(cause)})


class HostUnreachableError(HostError):
    """The Hyper-V host could not be connected to or refused the logon: nothing ran there.

    A task failure, not Ansible's UNREACHABLE: a delegated task's UNREACHABLE is pinned on the guest, which
    then leaves the play without its rescue running.
    """

    def __init__(self, operation: str, host: str | None, cause: object) -> None:
        super().__init__("host_unreachable", "the Hyper-V host %s did not answer: %s" % (host, cause),
                         operation=operation, host=host, details={"cause": str(cause)})


class ProtocolError(HostError):
    """The host answered something that is not the runner's JSON document."""

    def __init__(self, operation: str, host: str | None, message: str, rc: int | None = None, stdout: str = "",
                 stderr: str = "") -> None:
        super().__init__(
            "protocol_error",
            message,
            operation=operation,
            host=host,
            details={"rc": rc, "stdout": stdout[-2000:], "stderr": stderr[-2000:]},
        )


def may_have_taken_effect(error: HostError) -> bool:
    """Whether the operation that failed with ``error`` may have been carried out on the host all the same."""
    return error.unanswered_attempts > 0 or error.code in OUTCOME_UNKNOWN_CODES


def host_name(inventory_name: str | None, computer_name: str | None) -> str | None:
    """``hv01 (computer name HV01)``: the Hyper-V host as the inventory names it and as it names itself."""
    if computer_name and inventory_name and computer_name != inventory_name:
        return "%s (computer name %s)" % (inventory_name, computer_name)
    return inventory_name or computer_name


def sentence(text: str) -> str:
    """``text`` ending as a sentence: a full stop added, unless it ends with one, or with a question ("did you
    mean 'web01'?") or an exclamation mark."""
    text = text.rstrip()
    return text if text.endswith((".", "?", "!")) else text + "."


def error_message(error: BaseException, vm_label: str | None = None) -> str:
    """The message of a failed task: what happened to which VM, where, and what to do."""
    code = getattr(error, "code", "error")
    text = getattr(error, "message", str(error))
    matches = (getattr(error, "details", None) or {}).get("matches") or []
    missing = [match["id"] for match in matches if isinstance(match, dict) and match.get("id") not in text]
    if code == "ambiguous" and missing:
        text = "%s (matches: %s)" % (text.rstrip("."), ", ".join(missing))
    if vm_label and vm_label not in text:
        text = "VM '%s': %s" % (vm_label, text)
    context = []
    host, computer_name = getattr(error, "host", None), getattr(error, "computer_name", None)
    if host and host not in text:
        context.append("Hyper-V host %s" % host)
    if computer_name and computer_name != host:
        context.append("computer name %s" % computer_name)
    operation = getattr(error, "operation", None)
    if operation:
        context.append("operation %s" % operation)
    if context:
        text = "%s (%s)" % (text, ", ".join(context))
    hint = HINTS.get(code)
    if hint:
        text = "%s. What to do: %s" % (text.rstrip("."), hint)
    return text


def error_result(error: BaseException, vm_label: str | None = None) -> dict[str, Any]:
    """The fields of a failed task for ``error``: msg, error_code and error_details."""
    return {"failed": True, "msg": error_message(error, vm_label), "error_code": getattr(error, "code", "error"),
            "error_details": getattr(error, "details", None) or {}}
