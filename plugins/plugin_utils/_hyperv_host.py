# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the Hyper-V host as the action plugins see it: one method per operation.

Each method runs one operation script through operation_runner and returns plain
dicts (records as documented in docs/host-protocol.md). Transient failures (a busy
object, a dropped connection) are retried with exponential backoff. Creating is the
one change that would be wrong twice: its ``recover`` function re-reads the host and
adopts a checkpoint that the failed attempt made (renaming it when the attempt died between
Checkpoint-VM's two steps) and puts back a checkpoint type the attempt left switched. The other
changes end in the same state when repeated (see each method); deleting re-reads the host too, so
that its result still lists what the lost attempt deleted. A result that only came after a lost
connection carries ``connection_lost: true``.

On a failover cluster, an operation on a VM that another node runs now (``owned_by_other_node``) is run on that
node when the action gives a ``follow`` function (_cluster_follow: it opens a connection to the node from the
inventory); a VM in the middle of a live migration (``migrating``) is waited for, then followed.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Callable, Iterable

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _cluster_follow as cluster_follow
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _host_contract as host_contract
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import OUTCOME_UNKNOWN_CODES, HostError, ProtocolError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._names import closest_names, did_you_mean
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._operation_runner import run_operation
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._utc_time import parse_time

if TYPE_CHECKING:
    from ansible.plugins.connection import ConnectionBase

    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_contract import (
        CheckpointRecord,
        HostRecord,
        JsonRecord,
        VmRecord,
    )

DEFAULT_RETRIES = 3
# How long the host waits after a delete for the merge it started to show (Remove-VMSnapshot returns
# first): callers that wait for the merge must not see an idle VM before it shows.
DEFAULT_MERGE_GRACE_SECONDS = 10
DEFAULT_RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 30.0
# How long an operation waits for a live migration of its VM to end, without an operation timeout: a live
# migration copies the VM's memory, seconds to minutes.
DEFAULT_MIGRATION_WAIT_SECONDS = 600.0


def backoff_delay(attempt: int, base_delay: float, max_delay: float = MAX_RETRY_DELAY,
                  jitter: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): doubling, up to 25% jitter, capped."""
    delay = base_delay * (2 ** (attempt - 1))
    return min(max_delay, delay + delay * 0.25 * jitter())


class HyperVHost:
    """Client for the operations of one Hyper-V host, over an Ansible connection."""

    def __init__(self, connection: ConnectionBase, host_name: str, timeout: float | None = None,
                 retries: int = DEFAULT_RETRIES, retry_delay: float = DEFAULT_RETRY_DELAY,
                 log: Callable[[str], None] | None = None, sleep: Callable[[float], None] = time.sleep,
                 runner: Callable[..., JsonRecord] = run_operation,
                 follow: Callable[[HostError], tuple[ConnectionBase, str]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._connection = connection
        self.host_name = host_name
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self._log: Callable[[str], None] = log or (lambda message: None)
        self._sleep = sleep
        self._runner = runner
        self.round_trips = 0
        # Whether the host has answered on this connection: a refused session after that means the host
        # forgot it (its WinRM service restarted), which a new connection cures; before that, it is set-up.
        self._answered = False
        # ``follow(error)``: (a connection to the node that owns the VM, its inventory name), or a HostError
        # saying why there is none; None: a VM on another node fails the operation.
        self._follow = follow
        self._clock = clock
        # The VMs this client followed to another node: {"vm", "from", "to", "owner_node"}.
        self.followed: list[JsonRecord] = []

    def _call(self, name: str, params: JsonRecord,
              recover: Callable[[], JsonRecord | None] | None = None) -> JsonRecord:
        """Run an operation, retrying transient failures.

        ``recover`` is called after a transient failure of an operation that changes
        the host; it returns the result to use when the change already happened
        (e.g. the checkpoint exists), or None to try the operation again. A failure says
        how many of the operation's attempts got no answer (``unanswered_attempts``): one
        of them may have been carried out, whatever the last attempt met.
        """
        unanswered = [0]  # the operation's own count: a recovery's read is an operation of its own
        try:
            return self._attempts(name, params, recover, unanswered)
        except HostError as error:
            error.unanswered_attempts = max(error.unanswered_attempts, unanswered[0])
            raise

    def _attempts(self, name: str, params: JsonRecord, recover: Callable[[], JsonRecord | None] | None,
                  unanswered: list[int]) -> JsonRecord:
        problems = host_contract.params_problems(name, params)
        if problems:
            # A defect on this side: better to stop here than to let the host guess.
            raise ValueError("parameters of %s do not follow docs/host-protocol.md: %s" % (name, "; ".join(problems)))
        attempt = 0
        lost = False
        follows = 0
        migration_waits = 0
        migration_deadline: float | None = None
        while True:
            attempt += 1
            self.round_trips += 1
            self._log("hyperv %s: %s %s (attempt %d)" % (self.host_name, name, params, attempt))
            try:
                reply = self._runner(self._connection, name, params, timeout=self.timeout, host=self.host_name)
                self._answered = True
                result = self._checked_result(name, reply)
                return dict(result, connection_lost=True) if lost else result
            except HostError as error:
                if error.code in OUTCOME_UNKNOWN_CODES:
                    unanswered[0] += 1
                if error.code == "owned_by_other_node":
                    # Nothing ran: the scripts find the VM before they change anything.
                    self._follow_owner(name, params, error, follows)
                    follows += 1
                    attempt = 0
                    continue
                if error.code == "migrating":
                    if migration_deadline is None:
                        migration_deadline = self._clock() + (self.timeout or DEFAULT_MIGRATION_WAIT_SECONDS)
                    migration_waits += 1
                    delay = backoff_delay(migration_waits, self.retry_delay)
                    if self._clock() + delay > migration_deadline:
                        raise with_suggestions(error)
                    self._log("hyperv %s: %s: the VM is being live-migrated; trying again in %.1fs"
                              % (self.host_name, name, delay))
                    self._sleep(delay)
                    attempt = 0
                    continue
                session_forgotten = error.code == "session_rejected" and self._answered
                if not (error.transient or session_forgotten) or attempt > self.retries:
                    raise with_suggestions(error)
                delay = backoff_delay(attempt, self.retry_delay)
                self._log("hyperv %s: %s failed transiently (%s); retrying in %.1fs"
                          % (self.host_name, name, error.message, delay))
                self._sleep(delay)
                if error.code == "connection_lost" or session_forgotten:
                    lost = True
                    self._reset_connection()
                if recover is not None:
                    # A failure of the recovery's own read is stamped with the operation's unanswered attempts too.
                    recovered = recover()
                    if recovered is not None:
                        self._log("hyperv %s: %s had already taken effect before the failure" % (self.host_name, name))
                        return recovered

    def _follow_owner(self, name: str, params: JsonRecord, error: HostError, follows: int) -> None:
        """Switch this client to the node that owns the VM (``error`` is its owned_by_other_node), or raise
        the reason it cannot: following is off, the operation is about several VMs, the VM keeps moving, or
        ``follow`` found no way to the node."""
        owner = str(error.details.get("owner_node") or "")
        if self._follow is None or not owner:
            raise error
        vm = str(error.details.get("vm") or "")
        reason = None
        if not cluster_follow.addresses_one_vm(name, params):
            reason = cluster_follow.NOT_FOLLOWED_SEVERAL_VMS
        elif follows >= cluster_follow.MAX_FOLLOWS:
            reason = cluster_follow.NOT_FOLLOWED_TOO_MANY
        if reason:
            raise HostError(error.code, cluster_follow.refusal_message(vm, owner, reason, self.host_name),
                            operation=error.operation, host=error.host, computer_name=error.computer_name,
                            details=dict(error.details, follow=reason))
        connection, node = self._follow(error)
        self._log("hyperv %s: VM %s runs on node %s: following it to inventory host %s"
                  % (self.host_name, vm, owner, node))
        self.followed.append({"vm": vm, "from": self.host_name, "to": node, "owner_node": owner})
        self._connection = connection
        self.host_name = node
        self._answered = False

    def _checked_result(self, name: str, result: JsonRecord) -> JsonRecord:
        problems = host_contract.result_problems(name, result)
        if problems:
            shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
            raise ProtocolError(name, self.host_name,
                                "the host's result does not follow the protocol (docs/host-protocol.md): %s" % shown)
        return result

    def _reset_connection(self) -> None:
        reset = getattr(self._connection, "reset", None)
        if reset is None:
            return
        try:
            reset()
        except Exception as exc:  # the next attempt reports the real failure
            self._log("hyperv %s: connection reset failed: %s" % (self.host_name, exc))

    # Reads -----------------------------------------------------------------

    def get_vm(self, name: str | None = None, vm_id: str | None = None) -> VmRecord:
        params = {"Id": vm_id} if vm_id else {"Name": name}
        return self._call("get_vm", params)["vm"]

    def get_vms(self, names: Iterable[str] = (), ids: Iterable[str] = (), all_vms: bool = False,
                include_checkpoints: bool = True, include_sizes: bool = False) -> tuple[HostRecord, list[VmRecord]]:
        """Returns (host record, list of VM records with their checkpoints); a VM not on the host fails it."""
        host, vms, dummy = self.get_vms_and_missing(names, ids, all_vms, include_checkpoints, include_sizes,
                                                    report_missing=False)
        return host, vms

    def get_vms_and_missing(self, names: Iterable[str] = (), ids: Iterable[str] = (), all_vms: bool = False,
                            include_checkpoints: bool = True, include_sizes: bool = False,
                            report_missing: bool = True) -> tuple[HostRecord, list[VmRecord], list[JsonRecord]]:
        """Returns (host record, VM records, the VMs asked for that are not on the host). Each missing VM is
        ``{"vm", "error_code", "msg", "error_details"}``, as the task would have failed for it."""
        result = self._call("get_vms", {
            "Names": list(names),
            "Ids": list(ids),
            "All": bool(all_vms),
            "IncludeCheckpoints": bool(include_checkpoints),
            "IncludeSizes": bool(include_sizes),
            "ReportMissing": bool(report_missing),
        })
        missing = []
        for entry in result["missing"]:
            error = with_suggestions(HostError(entry["code"], entry["message"], operation="get_vms",
                                               host=self.host_name, details=entry["details"]))
            missing.append({"vm": entry["vm"], "error_code": error.code, "msg": error.message,
                            "error_details": error.details})
        return result["host"], result["vms"], missing

    def get_vm_with_checkpoints(self, name: str | None = None, vm_id: str | None = None,
                                include_sizes: bool = False) -> tuple[HostRecord, VmRecord]:
        if not vm_id and name is None:
            # A defect on this side, as _call's check of the parameters would report it.
            raise ValueError("get_vm_with_checkpoints needs a VM name or id")
        host, vms = self.get_vms(names=[name] if not vm_id and name is not None else [], ids=[vm_id] if vm_id else [],
                                 include_sizes=include_sizes)
        return host, vms[0]

    def probe(self, vm_id: str, experiment: str) -> JsonRecord:
        """One experiment of the host probe on a disposable VM: what the host did (docs/host-fidelity.md)."""
        return self._call("probe_host", {"VMId": vm_id, "Experiment": experiment})

    def get_cluster_nodes(self) -> list[JsonRecord]:
        """The nodes of the failover cluster the host belongs to: ``[{"name", "state"}, ...]``."""
        return self._call("get_cluster_nodes", {})["nodes"]

    # Changes ---------------------------------------------------------------

    def create_checkpoint(self, vm_id: str, name: str, checkpoint_type: str | None = None,
                          known_ids: Iterable[str] = (), min_free_bytes: int = 0, since: str | None = None,
                          vm_type: str | None = None) -> JsonRecord:
        """Create a checkpoint; after a transient failure, adopt the one the failed attempt made.

        Checkpoint-VM takes the checkpoint under Hyper-V's default name and renames it afterwards,
        so the lost attempt's checkpoint is found as the one user checkpoint created since the
        attempt began: an id not in ``known_ids`` (read before), created at or after ``since`` (the
        host's time of that read). One with ``name`` is adopted; a single other one is renamed to
        ``name`` and adopted. A checkpoint type the lost attempt left switched is put back first:
        the host's marker names it (the VM record's ``type_override``), else ``vm_type``, the
        VM's type read before.
        """
        known = set(known_ids)

        def recover() -> JsonRecord | None:
            dummy, vm = self.get_vm_with_checkpoints(vm_id=vm_id)
            repaired = self._put_type_back(vm, vm_type)
            made = [cp for cp in vm.get("checkpoints", [])
                    if cp["id"] not in known and cp.get("snapshot_type") == "Standard" and not cp.get("is_automatic")
                    and (since is None or parse_time(cp["creation_time"]) >= parse_time(since))]
            named = [cp for cp in made if cp["name"] == name]
            renamed_from = None
            if named:
                adopted = named[-1]
            elif len(made) == 1:
                renamed_from = made[0]["name"]
                adopted = self.rename_checkpoint(vm_id, made[0]["id"], name)
            elif made:
                raise HostError(
                    "ambiguous", "the connection was lost while creating checkpoint '%s', and VM '%s' now has %d new "
                    "checkpoints, none of that name (%s): the task cannot tell which one it made and created no other"
                    % (name, vm["name"], len(made), ", ".join("%s [%s]" % (cp["name"], cp["id"]) for cp in made)),
                    operation="create_checkpoint", host=self.host_name,
                    details={"matches": [{"id": cp["id"], "name": cp["name"], "creation_time": cp["creation_time"]}
                                         for cp in made]})
            else:
                return None
            return {"checkpoint": adopted, "taken_type": None, "fell_back": None, "type_restore_error": None,
                    "name_repaired": renamed_from is not None, "renamed_from": renamed_from,
                    "type_override_repaired": repaired,
                    "vm": dict(vm, checkpoints=[adopted if cp["id"] == adopted["id"] else cp
                                                for cp in vm.get("checkpoints", [])]),
                    "recovered": True, "connection_lost": True}

        return self._call("create_checkpoint", {"VMId": vm_id, "Name": name, "CheckpointType": checkpoint_type,
                                                "MinFreeBytes": int(min_free_bytes),
                                                "CheckpointLimit": host_contract.MAX_CHECKPOINTS}, recover=recover)

    def _put_type_back(self, vm: VmRecord, vm_type: str | None) -> str | None:
        """After a lost create: the checkpoint type to put back on ``vm`` (None when nothing is), put back.

        A live marker belongs to a create that still runs, which puts the type back itself.
        """
        override = vm.get("type_override") or {}
        if override.get("live"):
            return None
        wanted = override.get("original_type")
        if not wanted and vm_type and vm.get("checkpoint_type") not in (None, vm_type):
            wanted = vm_type
        if not wanted:
            return None
        self._log("hyperv %s: VM %s: putting its checkpoint type %s back (left %s by the lost attempt)"
                  % (self.host_name, vm.get("name"), wanted, vm.get("checkpoint_type")))
        self.set_checkpoint_settings([{"VMId": vm["id"], "CheckpointType": wanted, "AutomaticCheckpoints": None,
                                       "CheckpointLocation": None}])
        return wanted

    def remove_checkpoints(self, vm_id: str, ids: Iterable[str], include_children: bool = False,
                           merge_grace_seconds: float = DEFAULT_MERGE_GRACE_SECONDS) -> JsonRecord:
        """Delete checkpoints; ``removed`` also lists those a failed attempt deleted.

        ``merge_grace_seconds``: how long the host waits for the merge the delete starts to show
        (result ``merge``: ``running``, ``done``, ``unseen`` or ``none``); 0 for a caller that does
        not wait for the merge.

        Removing is idempotent on the host (ids already gone are skipped), so a retry
        is safe; but the retry's answer would leave out what the lost attempt removed.
        """
        ids = list(ids)
        gone: list[str] = []

        def recover() -> JsonRecord | None:
            dummy, vm = self.get_vm_with_checkpoints(vm_id=vm_id)
            present = set(cp["id"] for cp in vm.get("checkpoints", []))
            gone[:] = [checkpoint_id for checkpoint_id in ids if checkpoint_id not in present]
            if len(gone) < len(ids):
                return None
            return {"removed": ids, "merge": "running" if vm.get("merging") else "unseen",
                    "vm": _without_checkpoints(vm), "recovered": True, "connection_lost": True}

        result = self._call("remove_checkpoints", {"VMId": vm_id, "Ids": ids, "IncludeChildren": include_children,
                                                   "MergeGraceSeconds": int(merge_grace_seconds)},
                            recover=recover)
        if gone and not result.get("recovered"):
            removed = set(gone) | set(result["removed"])
            result = dict(result, removed=[checkpoint_id for checkpoint_id in ids if checkpoint_id in removed])
        return result

    def restore_checkpoint(self, vm_id: str, checkpoint_id: str, power_state: str) -> JsonRecord:
        # Repeated on a transient failure: a second restore lands the VM on the same
        # checkpoint. No recover: the VM's position cannot tell whether the first
        # attempt ran (right after a checkpoint is taken, the VM already points at it).
        return self._call("restore_checkpoint", {"VMId": vm_id, "Id": checkpoint_id, "PowerState": power_state})

    def rename_checkpoint(self, vm_id: str, checkpoint_id: str, new_name: str) -> CheckpointRecord:
        # Renaming by id to the same name again changes nothing: a plain retry is safe.
        return self._call("rename_checkpoint", {"VMId": vm_id, "Id": checkpoint_id, "NewName": new_name})["checkpoint"]

    def set_checkpoint_settings(self, changes: Iterable[JsonRecord]) -> list[VmRecord]:
        """``changes``: list of dicts with VMId and the settings to change (None = leave)."""
        return self._call("set_checkpoint_settings", {"Changes": list(changes)})["vms"]


def with_suggestions(error: HostError) -> HostError:
    """``error``, when it is a VM name not found, with the host's closest VM names as "did you mean" (the host
    sends all its names; the error keeps only the closest, in ``details.suggestions``)."""
    details = error.details if isinstance(error.details, dict) else {}
    names = details.get("names")
    if error.code != "vm_not_found" or not isinstance(names, list) or not isinstance(details.get("vm"), str):
        return error
    names = [name for name in names if isinstance(name, str)]
    kept = dict((key, value) for key, value in details.items() if key != "names")
    kept["suggestions"] = closest_names(details["vm"], names)
    return HostError(error.code, error.message.rstrip(".") + did_you_mean(details["vm"], names),
                     operation=error.operation, host=error.host, details=kept, computer_name=error.computer_name)


def _without_checkpoints(vm: VmRecord) -> JsonRecord:
    return {key: value for key, value in vm.items() if key != "checkpoints"}
