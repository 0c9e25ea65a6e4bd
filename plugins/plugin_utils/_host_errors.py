# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: typed errors raised when a Hyper-V host operation fails.

Every error carries the host's stable error code (see docs/host-protocol.md), the
host's own message, the operation and the host name, so that an action plugin can
turn it into a task failure that says what happened, where, and what to do.
"""

from __future__ import annotations

# Codes worth another attempt: the host was busy, or the connection broke before
# the answer arrived. Everything else is a decision the user has to make.
TRANSIENT_CODES = frozenset(("busy", "connection_lost"))
# The host's codes (docs/host-protocol.md, "Error codes") and the controller's own.
KNOWN_CODES = frozenset((
    "vm_not_found", "ambiguous", "owned_by_other_node", "checkpoint_not_found", "checkpoints_disabled",
    "production_checkpoint_failed", "limit_reached", "unsupported_on_host", "checkpoint_location_in_use",
    "hyperv_module_missing", "busy", "invalid_request", "host_error", "not_clustered", "low_disk_space",
    "access_denied", "hyperv_timeout", "constrained_language",
    "timeout", "connection_lost", "protocol_error", "merge_timeout", "host_unreachable",
))


class HostOperationError(Exception):
    """An operation on the Hyper-V host failed with a stable error code."""

    def __init__(self, code, message, operation=None, host=None, details=None):
        self.code = code
        self.message = message
        self.operation = operation
        self.host = host
        self.details = details or {}
        super().__init__(self.describe())

    @property
    def transient(self):
        return self.code in TRANSIENT_CODES

    def describe(self):
        where = " on %s" % self.host if self.host else ""
        what = " (operation %s%s)" % (self.operation, where) if self.operation else where
        return "%s: %s%s" % (self.code, self.message, what)


class OperationTimeoutError(HostOperationError):
    """The host did not answer within the operation timeout.

    Not transient: the operation may still be running on the host, so repeating
    it blindly could do it twice.
    """

    def __init__(self, operation, host, timeout):
        super().__init__(
            "timeout",
            "the host did not answer within %s seconds; the operation may still be running there" % timeout,
            operation=operation,
            host=host,
            details={"timeout": timeout},
        )


class ConnectionLostError(HostOperationError):
    """The connection broke before the host's answer arrived (transient)."""

    def __init__(self, operation, host, cause):
        super().__init__(
            "connection_lost",
            "the connection to the host was lost: %s" % cause,
            operation=operation,
            host=host,
            details={"cause": str(cause)},
        )


class ProtocolError(HostOperationError):
    """The host answered something that is not the runner's JSON document."""

    def __init__(self, operation, host, message, rc=None, stdout="", stderr=""):
        super().__init__(
            "protocol_error",
            message,
            operation=operation,
            host=host,
            details={"rc": rc, "stdout": stdout[-2000:], "stderr": stderr[-2000:]},
        )
