# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Hyper-V host as the action plugins see it: one method per operation.

Each method runs one operation script through operation_runner and returns plain
dicts (records as documented in docs/host-protocol.md). Transient failures (a busy
object, a dropped connection) are retried with exponential backoff. Creating is the
one change that would be wrong twice: its ``recover`` function re-reads the host and
adopts a checkpoint that the failed attempt made. The other changes end in the same
state when repeated (see each method).
"""

from __future__ import annotations

import random
import time

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils.host_errors import HostOperationError, ProtocolError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils.operation_runner import run_operation
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils.reply_checks import result_problems

DEFAULT_RETRIES = 3
DEFAULT_RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 30.0


def backoff_delay(attempt, base_delay, max_delay=MAX_RETRY_DELAY, jitter=random.random):
    """Seconds to wait before retry ``attempt`` (1-based): doubling, up to 25% jitter, capped."""
    delay = base_delay * (2 ** (attempt - 1))
    return min(max_delay, delay + delay * 0.25 * jitter())


class HyperVHost:
    """Client for the operations of one Hyper-V host, over an Ansible connection."""

    def __init__(self, connection, host_name, timeout=None, retries=DEFAULT_RETRIES,
                 retry_delay=DEFAULT_RETRY_DELAY, log=None, sleep=time.sleep, runner=run_operation):
        self._connection = connection
        self.host_name = host_name
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self._log = log or (lambda message: None)
        self._sleep = sleep
        self._runner = runner
        self.round_trips = 0

    def _call(self, name, params, recover=None):
        """Run an operation, retrying transient failures.

        ``recover`` is called after a transient failure of an operation that changes
        the host; it returns the result to use when the change already happened
        (e.g. the checkpoint exists), or None to try the operation again.
        """
        attempt = 0
        while True:
            attempt += 1
            self.round_trips += 1
            self._log("hyperv %s: %s %s (attempt %d)" % (self.host_name, name, params, attempt))
            try:
                return self._checked(name, self._runner(self._connection, name, params, timeout=self.timeout,
                                                        host=self.host_name))
            except HostOperationError as error:
                if not error.transient or attempt > self.retries:
                    raise
                delay = backoff_delay(attempt, self.retry_delay)
                self._log("hyperv %s: %s failed transiently (%s); retrying in %.1fs"
                          % (self.host_name, name, error.message, delay))
                self._sleep(delay)
                if error.code == "connection_lost":
                    self._reset_connection()
                if recover is not None:
                    recovered = recover()
                    if recovered is not None:
                        self._log("hyperv %s: %s had already taken effect before the failure" % (self.host_name, name))
                        return recovered

    def _checked(self, name, result):
        problems = result_problems(name, result)
        if problems:
            raise ProtocolError(name, self.host_name, "the host's answer to %s is not shaped as docs/host-protocol.md "
                                "says: %s" % (name, "; ".join(problems[:5])))
        return result

    def _reset_connection(self):
        reset = getattr(self._connection, "reset", None)
        if reset is None:
            return
        try:
            reset()
        except Exception as exc:  # the next attempt reports the real failure
            self._log("hyperv %s: connection reset failed: %s" % (self.host_name, exc))

    # Reads -----------------------------------------------------------------

    def get_vm(self, name=None, vm_id=None):
        params = {"Id": vm_id} if vm_id else {"Name": name}
        return self._call("get_vm", params)["vm"]

    def get_vms(self, names=(), ids=(), all_vms=False, include_checkpoints=True, include_sizes=False):
        """Returns (host record, list of VM records with their checkpoints)."""
        result = self._call("get_vms", {
            "Names": list(names),
            "Ids": list(ids),
            "All": bool(all_vms),
            "IncludeCheckpoints": bool(include_checkpoints),
            "IncludeSizes": bool(include_sizes),
        })
        return result["host"], result["vms"]

    def get_vm_with_checkpoints(self, name=None, vm_id=None, include_sizes=False):
        host, vms = self.get_vms(names=[name] if not vm_id else [], ids=[vm_id] if vm_id else [],
                                 include_sizes=include_sizes)
        return host, vms[0]

    # Changes ---------------------------------------------------------------

    def create_checkpoint(self, vm_id, name, checkpoint_type=None, known_ids=()):
        """Create a checkpoint; after a transient failure, adopt the one that appeared meanwhile."""
        known = set(known_ids)

        def recover():
            host, vm = self.get_vm_with_checkpoints(vm_id=vm_id)
            made = [cp for cp in vm.get("checkpoints", []) if cp["name"] == name and cp["id"] not in known]
            if not made:
                return None
            return {"checkpoint": made[-1], "taken_type": None, "fell_back": None, "vm": _without_checkpoints(vm),
                    "recovered": True}

        return self._call("create_checkpoint", {"VMId": vm_id, "Name": name, "CheckpointType": checkpoint_type},
                          recover=recover)

    def remove_checkpoints(self, vm_id, ids, include_children=False):
        # Removing is idempotent on the host (ids already gone are skipped), so a
        # plain retry is safe.
        return self._call("remove_checkpoints", {"VMId": vm_id, "Ids": list(ids), "IncludeChildren": include_children})

    def restore_checkpoint(self, vm_id, checkpoint_id, power_state):
        # Repeated on a transient failure: a second restore lands the VM on the same
        # checkpoint. No recover: the VM's position cannot tell whether the first
        # attempt ran (right after a checkpoint is taken, the VM already points at it).
        return self._call("restore_checkpoint", {"VMId": vm_id, "Id": checkpoint_id, "PowerState": power_state})

    def rename_checkpoint(self, vm_id, checkpoint_id, new_name):
        # Renaming by id to the same name again changes nothing: a plain retry is safe.
        return self._call("rename_checkpoint", {"VMId": vm_id, "Id": checkpoint_id, "NewName": new_name})["checkpoint"]

    def set_checkpoint_settings(self, changes):
        """``changes``: list of dicts with VMId and the settings to change (None = leave)."""
        return self._call("set_checkpoint_settings", {"Changes": list(changes)})["vms"]


def _without_checkpoints(vm):
    return {key: value for key, value in vm.items() if key != "checkpoints"}
