# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the Hyper-V side of a safe_change run.

A run's state (_safe_change_run) is a dict that every step of the role receives and returns (through registered
variables): the run's options and names, what pre-flight found, the checkpoint, the failure, the
outcome. ``HostSteps`` carries out the steps on the Hyper-V host: pre-flight and the checkpoint
(with the lock), the commit or the revert, and the delete after a revert. The decisions come from
_safe_change_preflight and _safe_change_record; the operations go through the same host client as the
modules' (HyperVHost: retries, recovery after a lost connection, waiting for merges), on the VM
record pre-flight read, so that a run costs no more round trips than it needs.
"""

from __future__ import annotations

import datetime
import time
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_names as names
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_preflight as preflight
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_record as record
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._utc_time import utc_now
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _free_space as free_space
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import HostError, may_have_taken_effect, sentence
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._names import suggestion_text

if TYPE_CHECKING:
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_client import HostClient

CHECKPOINT_FIELDS = ("id", "name", "state", "reused", "taken_type", "fell_back", "kept_until", "restored",
                     "merge_seconds")
FAILURE_FIELDS = ("phase", "task", "msg")
# What the role's rescue captures of a failed task (tasks/main.yml, tasks/after_revert.yml).
CAPTURED_FIELDS = ("run_id", "task", "action", "result")

TIMEOUT_NOTE = (" The host may still have taken checkpoint '%s' after the timeout: the next run finds it, as the lock "
                "of a run for safe_change_lock_minutes, then as a left-over (safe_change_stale_policy).")
FELL_BACK_NOTE = "the guest could not be quiesced: Hyper-V took a standard checkpoint (with memory) instead"
MERGING_NOTE = "the checkpoint is deleted; its disk merge was still running after %s s and goes on in the background"
MERGE_UNSEEN_NOTE = ("the checkpoint is deleted; then the host stopped answering while its disk merge was awaited (%s): "
                     "Hyper-V finishes the merge on its own")
DELETE_UNKNOWN_NOTE = ("whether the checkpoint was deleted is UNKNOWN: the host stopped answering during the delete "
                       "(%s). Look at the VM (playbooks/report.yml); if checkpoint '%s' (id %s) is still there, delete it "
                       "with playbooks/cleanup.yml. Until then the next run on this VM refuses, naming it")


class Note(NamedTuple):
    """What else happened in a run, for the record: ``code`` for decisions, ``text`` for people.

    In a run's state a note is the dict of its fields; the record (safe_change_result) keeps its text.
    """

    code: str
    text: str


# The codes of the notes.
FREE_SPACE_UNKNOWN = "free_space_unknown"
LEFT_OVERS_REMOVED = "left_overs_removed"
LEFT_OVER_REUSED = "left_over_reused"
FELL_BACK = "fell_back"
MERGE_GOES_ON = "merge_goes_on"
DELETE_FAILED = "delete_failed"
DELETE_UNKNOWN = "delete_unknown"
MERGE_UNSEEN = "merge_unseen"
# The notes the step that records them also shows as a warning: someone has to look at the checkpoint.
WARNED_NOTES = frozenset((DELETE_FAILED, DELETE_UNKNOWN))
KEEP_FAILED = "keep_failed"
OTHER_LEFT_OVERS = "other_left_overs"


class Deleted(NamedTuple):
    """How a delete went: ``state`` ``deleted``, ``kept`` (the host refused: ``error`` says why) or ``unknown`` (the
    host stopped answering after the request may have reached it); ``merging`` when its merge goes on in the
    background; ``merge_unseen`` (text) when the host stopped answering while the merge was awaited."""

    state: str
    merge_seconds: float | None
    error: str | None
    merging: bool
    merge_unseen: str | None = None

    @property
    def deleted(self) -> bool:
        return self.state == "deleted"


def add_note(run: dict[str, Any], code: str, text: str) -> None:
    run["notes"].append(Note(code, text)._asdict())


def note_codes(run: dict[str, Any]) -> list[str]:
    return [note["code"] for note in run.get("notes") or []]


def note_texts(notes: list[dict[str, Any]] | None) -> list[str]:
    return [note["text"] for note in notes or []]


def working_copy(run: dict[str, Any]) -> dict[str, Any]:
    """A copy of the run's state that a step may change: its lists and dicts copied one level down (their
    own items are plain values, and the options are only read)."""
    copied = dict(run)
    for key, value in run.items():
        if isinstance(value, dict):
            copied[key] = dict(value)
        elif isinstance(value, list):
            copied[key] = list(value)
    return copied


def refuse(run: dict[str, Any], reason: str, **changes: Any) -> dict[str, Any]:
    """The run stops here: ``reason`` says why and what was (not) changed."""
    run.update(changes, proceed=False, outcome="skipped", reason=reason)
    return run


def preflight_refusal(run: dict[str, Any], problem: str) -> dict[str, Any]:
    """``problem``: one or more sentences, ending with a full stop."""
    return refuse(run, record.PREFLIGHT_REASON % problem, preflight_problem=problem)


def read_refusal(run: dict[str, Any], error: Exception) -> dict[str, Any]:
    """Why pre-flight could not read the VM, as the user can act on it."""
    vm, hyperv_host = run["vm"], run["hyperv_host"]
    code = getattr(error, "code", "error")
    message = getattr(error, "message", str(error))
    if code == "owned_by_other_node":
        owner = (getattr(error, "details", None) or {}).get("owner_node") or "unknown"
        text = ("VM '%s' is clustered and owned by another node (%s), not by %s: set hyperv_host to the owner node."
                % (vm, owner, hyperv_host))
    elif code == "vm_not_found":
        # The host's closest names (HyperVHost keeps them in the details), as the modules suggest them.
        close = suggestion_text((getattr(error, "details", None) or {}).get("suggestions") or [])
        text = ("Hyper-V host %s has no VM named '%s' (set hyperv_vm_name when the VM's name differs from the "
                "inventory name)%s" % (hyperv_host, vm, close or "."))
    elif code == "host_unreachable":
        # The error's message names the host already; its cause is what the user needs after the host's name.
        cause = (getattr(error, "details", None) or {}).get("cause") or message
        text = sentence("The Hyper-V host %s did not answer: %s" % (hyperv_host, cause))
    else:
        text = sentence("Reading VM '%s' on %s failed (%s): %s" % (vm, hyperv_host, code, message))
    return preflight_refusal(run, text)


class HostSteps:
    """The Hyper-V side of a run, over one connection to the guest's Hyper-V host.

    ``client`` carries out one operation per method and raises HostError:
    ``read(vm_name) -> (host record, VM record with its checkpoints)``, ``create(vm_id, name,
    checkpoint_type, known_ids, min_free_gb, since, vm_type) -> reply`` (HyperVHost.create_checkpoint:
    the host refuses below min_free_gb; ``since``, the host's time of the read, and ``vm_type`` serve its
    recovery after a lost connection), ``delete(vm_id, checkpoint_id)
    -> VM record`` and ``wait_for_merge(vm) -> seconds since the delete began`` (code merge_timeout when the
    merge outlasts the timeout),
    ``restore(vm_id, checkpoint_id, power_state)``, ``rename(vm_id, checkpoint_id, new_name) -> checkpoint``
    and ``describe(error) -> text`` (the error as the modules report it); ``node() -> inventory name`` of
    the Hyper-V host it acted on last (optional: a cluster node it followed the VM to). ``alert(text)`` shows
    ``text`` loudly at once (a revert that failed).
    """

    def __init__(self, client: HostClient, now: Callable[[], datetime.datetime] = utc_now,
                 clock: Callable[[], float] = time.time, alert: Callable[[str], None] | None = None,
                 progress: Callable[[str], None] | None = None) -> None:
        self._client = client
        self._now = now
        self._clock = clock
        self._alert = alert or (lambda text: None)
        # A line when a long wait on the host begins and ends (a restore starts the VM again), at any verbosity.
        self._progress = progress or (lambda text: None)

    def _on_node(self, run: dict[str, Any]) -> dict[str, Any]:
        """``run`` with its checkpoint's ``hyperv_node``: the node that acted on it last. On a cluster the VM (and
        the checkpoint, on the cluster's shared storage) may have moved since the run began."""
        node = getattr(self._client, "node", lambda: None)()
        if node and run.get("checkpoint"):
            run["checkpoint"]["hyperv_node"] = node
        return run

    def _delete(self, run: dict[str, Any], checkpoint_id: str) -> Deleted:
        """Delete a checkpoint and wait for the merge: whether the host answered the delete, and then the merge."""
        try:
            vm = self._client.delete(run["vm_id"], checkpoint_id)
        except HostError as error:
            return Deleted("unknown" if may_have_taken_effect(error) else "kept", None, self._client.describe(error),
                           False)
        try:
            return Deleted("deleted", self._client.wait_for_merge(vm), None, False)
        except HostError as error:
            # The host answered the delete: the checkpoint is gone, and Hyper-V merges in the background.
            if error.code == "merge_timeout":
                return Deleted("deleted", None, None, True)
            return Deleted("deleted", None, None, False, merge_unseen=self._client.describe(error))

    def _note_delete(self, run: dict[str, Any], removal: Deleted, kept_text: str) -> None:
        """The notes of a delete that did not simply end with its merge; ``kept_text`` % error for one refused."""
        checkpoint = run["checkpoint"]
        if removal.merging:
            add_note(run, MERGE_GOES_ON, MERGING_NOTE % run["options"]["safe_change_merge_timeout"])
        elif removal.merge_unseen:
            add_note(run, MERGE_UNSEEN, MERGE_UNSEEN_NOTE % removal.merge_unseen)
        elif removal.state == "unknown":
            add_note(run, DELETE_UNKNOWN, DELETE_UNKNOWN_NOTE % (removal.error, checkpoint["name"], checkpoint["id"]))
        elif removal.state == "kept":
            add_note(run, DELETE_FAILED, kept_text % removal.error)

    # Pre-flight and checkpoint ------------------------------------------------------------

    def _survey(self, run: dict[str, Any]
                ) -> tuple[dict[str, Any], dict[str, Any], preflight.Checkpoints, datetime.datetime]:
        """Read the VM: (host record, VM record, its checkpoints as this run sees them, now).

        Notes the VM's id and power state in ``run``.
        """
        options = run["options"]
        host_record, vm = self._client.read(run["vm"])
        now = self._now()
        run.update(vm_id=vm["id"], power_state_before=vm.get("state"), host_time=(host_record or {}).get("time"))
        unknown = free_space.unknown_free_space(vm)
        if unknown and options["safe_change_min_free_gb"]:
            add_note(run, FREE_SPACE_UNKNOWN, "the free space of %s is not known to the Hyper-V host, so "
                     "safe_change_min_free_gb could not be checked there" % ", ".join(unknown))
        checkpoints = preflight.Checkpoints(vm, options["safe_change_name_prefix"], run["change_id"],
                                            options["safe_change_lock_minutes"], now)
        return host_record, vm, checkpoints, now

    def checkpoint(self, run: dict[str, Any], check_mode: bool, group_preflight: bool = False) -> dict[str, Any]:
        """Pre-flight on the host, then the checkpoint (taken, or a left-over reused) and the lock.

        ``group_preflight``: a member of an application group only runs its pre-flight here; the group's
        checkpoints are taken together once every member passed (_safe_change_groups).
        """
        run = working_copy(run)
        options = run["options"]
        try:
            host_record, vm, checkpoints, now = self._survey(run)
        except HostError as error:
            return read_refusal(run, error)
        reuse, to_remove = preflight.choose_left_overs(checkpoints, options["safe_change_stale_policy"],
                                                       options["safe_change_stale_max_age_hours"])
        problems = preflight.preflight_problems(vm, checkpoints, options, (host_record or {}).get("computer_name"),
                                                reuse, to_remove)
        if run.get("guest_problem"):
            problems.append(preflight.Problem(preflight.GUEST_UNREACHABLE, run["guest_problem"]))
        if problems:
            return preflight_refusal(run, sentence("VM '%s' on %s: %s" % (
                run["vm"], run["hyperv_host"], "; ".join(problem.text.rstrip(".") for problem in problems))))
        if group_preflight:
            run.update(group_ready=True, reuse=None if reuse is None else {
                "id": reuse["id"], "name": reuse["name"], "change_id": reuse["parsed"].change_id,
                "time": reuse["parsed"].time})
        if check_mode:
            kept_until = names.format_time(now + datetime.timedelta(hours=options["safe_change_keep_hours"]))
            return refuse(run, "Check mode: the pre-flight passed and nothing was changed.",
                          would=preflight.would(run, vm, reuse, to_remove, kept_until))
        if group_preflight:
            return run
        if to_remove and not self._remove_left_overs(run, to_remove):
            return run
        run["marks"]["checkpoint"] = self._clock()
        if reuse is not None:
            return self._adopt(run, reuse)
        return self._take(run, vm, to_remove)

    def _remove_left_overs(self, run: dict[str, Any], to_remove: list[dict[str, Any]]) -> bool:
        for cp in to_remove:
            removal = self._delete(run, cp["id"])
            if not removal.deleted:
                refuse(run, "Removing the left-over checkpoints failed: %s The change was not applied." % removal.error)
                return False
        add_note(run, LEFT_OVERS_REMOVED,
                 "removed left-over checkpoints: %s" % ", ".join(cp["name"] for cp in to_remove))
        return True

    def _adopt(self, run: dict[str, Any], reuse: dict[str, Any]) -> dict[str, Any]:
        name = reuse["name"]
        if reuse["parsed"].manual:
            # Taken by hand for this change: without "manual" it becomes this run's lock, which a
            # second run of the same change must not adopt while this one goes on.
            try:
                name = self._client.rename(run["vm_id"], reuse["id"], names.adopted_name(name))["name"]
            except HostError as error:
                return refuse(run, "Adopting the checkpoint '%s' failed: %s The change was not applied."
                              % (name, self._client.describe(error)))
        run["checkpoint"] = {"id": reuse["id"], "name": name, "reused": True, "taken_type": None,
                             "fell_back": None, "state": "present"}
        add_note(run, LEFT_OVER_REUSED, "reused the left-over checkpoint %s" % reuse["name"])
        run["proceed"] = True
        return self._on_node(run)

    def _create(self, run: dict[str, Any], vm: dict[str, Any], known: list[dict[str, Any]]) -> dict[str, Any]:
        """Take the run's checkpoint; ``known``: the VM's checkpoints before (for the recovery of a lost create)."""
        options = run["options"]
        return self._client.create(run["vm_id"], run["checkpoint_name"],
                                   checkpoint_types.host_value(options["safe_change_checkpoint_type"]),
                                   [cp["id"] for cp in known], options["safe_change_min_free_gb"],
                                   run.get("host_time"), vm.get("checkpoint_type"))

    def _take(self, run: dict[str, Any], vm: dict[str, Any], removed: list[dict[str, Any]]) -> dict[str, Any]:
        options = run["options"]
        gone = set(cp["id"] for cp in removed)
        known = [cp for cp in vm.get("checkpoints", []) if cp["id"] not in gone]
        try:
            reply = self._create(run, vm, known)
        except HostError as error:
            reason = "The checkpoint could not be taken: %s The change was not applied." % self._client.describe(error)
            if error.code == "timeout":
                reason += TIMEOUT_NOTE % run["checkpoint_name"]
            return refuse(run, reason)
        taken = reply["checkpoint"]
        run["checkpoint"] = {"id": taken["id"], "name": taken["name"], "reused": False,
                             "taken_type": reply.get("taken_type"), "fell_back": reply.get("fell_back"),
                             "state": "present"}
        if reply.get("fell_back"):
            add_note(run, FELL_BACK, FELL_BACK_NOTE)
        self._on_node(run)
        if options["safe_change_lock_minutes"] > 0:
            # Not on the list the create returned: the Hyper-V module serves a VM's checkpoint list from a cache
            # of 5 s (decompiled DataUpdaterBase.GetData), so that list can miss another run's checkpoint taken
            # after the create began. A read of its own (a new PowerShell process) lists what is there now.
            return self._lock(run)
        run["proceed"] = True
        return run

    def _lock(self, run: dict[str, Any]) -> dict[str, Any]:
        """The checkpoint just taken is this run's lock: the run whose lock came first goes on.

        The VM is read anew, in a process of its own: the create's list of checkpoints can be the Hyper-V module's
        cached one and miss another run's newer checkpoint (docs/host-fidelity.md).
        """
        options, checkpoint = run["options"], run["checkpoint"]
        try:
            vm = self._client.read(run["vm"])[1]
        except HostError as error:
            return refuse(run, "Checking for other runs on the VM failed: %s The change was not applied. This run's "
                          "checkpoint '%s' (id %s) is kept: later runs see it as a lock for safe_change_lock_minutes, "
                          "then as a left-over (safe_change_stale_policy)." % (
                              self._client.describe(error), checkpoint["name"], checkpoint["id"]),
                          checkpoint=dict(checkpoint, state="kept"))
        first = preflight.runs_that_came_first(vm, checkpoint["id"], options["safe_change_name_prefix"],
                                               run["change_id"], options["safe_change_lock_minutes"], self._now())
        if not first:
            run["proceed"] = True
            return run
        other = first[0]
        backed_off = self._delete(run, checkpoint["id"])
        if not backed_off.deleted:
            return refuse(run, "Another safe_change run took its checkpoint of VM '%s' at the same time, so this run "
                          "did not change anything; deleting its own checkpoint '%s' (id %s) then %s: %s Delete it "
                          "by hand or with playbooks/cleanup.yml if it is still there."
                          % (run["vm"], checkpoint["name"], checkpoint["id"],
                             "failed" if backed_off.state == "kept" else "lost the host", backed_off.error),
                          checkpoint=dict(checkpoint, state=backed_off.state))
        return refuse(run, "Another safe_change run took its checkpoint of VM '%s' at the same time ('%s', id %s) and "
                      "goes on; this run backed off and deleted its own checkpoint. Nothing was changed." % (
                          run["vm"], other["name"], other["id"]),
                      checkpoint=dict(checkpoint, state="deleted"))

    # A checkpoint taken by hand (playbooks/checkpoint.yml) -----------------------------------

    def hold(self, run: dict[str, Any], check_mode: bool) -> dict[str, Any]:
        """The checkpoint of a change made by hand: one per change id, named like the role's, plus "manual".

        A second run for the same change finds it and takes nothing. Another change's lock, a revert
        that failed, and what Hyper-V refuses (disabled, the limit, a merge) are refused as in pre-flight;
        left-overs of earlier changes are not this checkpoint's business (a warning says so).
        """
        run = working_copy(run)
        options = run["options"]
        try:
            host_record, vm, checkpoints, dummy = self._survey(run)
        except HostError as error:
            return read_refusal(run, error)
        mine = preflight.taken_for_change(checkpoints, run["change_id"])
        if mine is not None:
            found = {key: value for key, value in mine.items() if key not in preflight.CHECKPOINT_VIEW_FIELDS}
            run.update(checkpoint=dict(found, state="present", reused=True), outcome="held")
            return run
        # Left-overs of other changes are reported, not refused (policy "remove" lists no problem for them,
        # and nothing is removed here); any power state will do for a checkpoint taken by hand.
        problems = [problem for problem in preflight.preflight_problems(
            vm, checkpoints, dict(options, safe_change_stale_policy="remove"),
            (host_record or {}).get("computer_name"), None, []) if problem.code != preflight.NOT_RUNNING]
        if problems:
            return refuse(run, "VM '%s' on %s: %s. Nothing was changed."
                          % (run["vm"], run["hyperv_host"], "; ".join(problem.text for problem in problems)))
        if checkpoints.stale:
            add_note(run, OTHER_LEFT_OVERS, "checkpoints of earlier changes are left on VM '%s': %s" % (
                run["vm"], ", ".join(preflight.label(cp) for cp in checkpoints.stale)))
        if check_mode:
            run.update(checkpoint={"id": None, "name": run["checkpoint_name"], "state": "none"}, outcome="held")
            return run
        try:
            reply = self._create(run, vm, vm.get("checkpoints", []))
        except HostError as error:
            return refuse(run, "The checkpoint could not be taken: %s" % self._client.describe(error))
        taken = reply["checkpoint"]
        run.update(outcome="held", checkpoint=dict(taken, state="present", reused=False,
                                                   taken_type=reply.get("taken_type"),
                                                   fell_back=reply.get("fell_back")))
        if reply.get("fell_back"):
            add_note(run, FELL_BACK, FELL_BACK_NOTE)
        return self._on_node(run)

    # After the change --------------------------------------------------------------------

    def commit(self, run: dict[str, Any]) -> dict[str, Any]:
        """The change and its verification passed: delete the checkpoint, or keep it renamed."""
        run = working_copy(run)
        run["marks"]["commit"] = self._clock()
        options, checkpoint = run["options"], run["checkpoint"]
        if options["safe_change_keep_hours"] == 0:
            removal = self._delete(run, checkpoint["id"])
            checkpoint.update(state=removal.state, merge_seconds=removal.merge_seconds)
            self._note_delete(run, removal, "the change is done, but deleting the checkpoint failed (%s); "
                              "playbooks/cleanup.yml removes it later")
        else:
            until = self._now() + datetime.timedelta(hours=options["safe_change_keep_hours"])
            checkpoint["state"] = "kept"
            try:
                renamed = self._client.rename(run["vm_id"], checkpoint["id"], names.kept_name(checkpoint["name"], until))
                checkpoint.update(name=renamed["name"], kept_until=names.format_time(until))
            except HostError as error:
                add_note(run, KEEP_FAILED, "the change is done, but marking the checkpoint as kept failed (%s)"
                         % self._client.describe(error))
        run["outcome"] = "committed"
        return self._on_node(run)

    def withdraw(self, run: dict[str, Any]) -> dict[str, Any]:
        """The member's group was withdrawn before any change: delete the member's checkpoint."""
        run = working_copy(run)
        checkpoint = run["checkpoint"]
        removal = self._delete(run, checkpoint["id"])
        checkpoint["state"] = removal.state
        self._note_delete(run, removal, "withdrawing the checkpoint failed (%s); delete it by hand or with "
                          "playbooks/cleanup.yml")
        return self._on_node(run)

    def revert(self, run: dict[str, Any]) -> dict[str, Any]:
        """The change or its verification failed: restore the checkpoint, VM back to its power state before."""
        run = working_copy(run)
        run["marks"]["revert"] = self._clock()
        checkpoint = run["checkpoint"]
        started = self._clock()
        self._progress("restoring checkpoint '%s' of VM '%s' on %s, VM back to %s" % (
            checkpoint["name"], run["vm"], run["hyperv_host"], run.get("power_state_before")))
        try:
            self._client.restore(run["vm_id"], checkpoint["id"],
                                 preflight.restore_power_state(run.get("power_state_before")))
        except HostError as error:
            run["outcome"] = "revert_failed"
            run["revert_error"] = self._client.describe(error)
            checkpoint.update(restored=False, state="kept")
            # Best effort: the name tells later runs (and their stale policy) to leave it to a human.
            try:
                renamed = self._client.rename(run["vm_id"], checkpoint["id"],
                                              names.revert_failed_name(checkpoint["name"]))
                checkpoint["name"] = renamed["name"]
            except HostError:
                pass
            self._alert(revert_failed_banner(run))
            return self._on_node(run)
        checkpoint["restored"] = True
        self._progress("restored, after %d s" % round(self._clock() - started))
        run["outcome"] = "reverted"
        return self._on_node(run)

    def after_revert(self, run: dict[str, Any], verification_problem: str | None) -> dict[str, Any]:
        """The verification after the revert: passed, the checkpoint is deleted; failed, it is kept for a human."""
        run = working_copy(run)
        checkpoint = run["checkpoint"]
        if verification_problem:
            run.update(post_revert="failed", post_revert_reason=verification_problem)
            checkpoint["state"] = "kept"
            return run
        run["post_revert"] = "passed"
        removal = self._delete(run, checkpoint["id"])
        checkpoint["state"] = removal.state
        self._note_delete(run, removal, "the checkpoint could not be deleted after the revert (%s); "
                          "playbooks/cleanup.yml removes it later")
        return self._on_node(run)


def revert_failed_banner(run: dict[str, Any]) -> str:
    checkpoint, failure = run["checkpoint"], run.get("failure") or {}
    return "\n".join([
        "REVERT FAILED on %s: a human is needed." % run["host"],
        "The %s failed (%s): %s" % (failure.get("phase", "change"), failure.get("task", ""), failure.get("msg", "")),
        "Restoring the checkpoint then failed: %s" % run.get("revert_error"),
        "VM '%s' on Hyper-V host %s is in an unknown run." % (run["vm"], run["hyperv_host"]),
        "The checkpoint is KEPT: '%s' (id %s)." % (checkpoint.get("name"), checkpoint.get("id")),
        "Restore it by hand (Hyper-V Manager, or Restore-VMSnapshot on the host), or run playbooks/revert.yml with "
        "-e revert_hosts=%s -e revert_checkpoint_id=%s -e revert_confirm=true" % (run["host"], checkpoint.get("id")),
    ])


def failure_of(run: dict[str, Any], captured: Any, verified: Any) -> dict[str, Any] | None:
    """The failure of this run's change or verification from what the rescue captured, or None.

    ``verified``: the registered result of the step verify; when it belongs to this run, the
    verification had started, and what failed was the verification.
    """
    if not isinstance(captured, dict) or captured.get("run_id") != run["run_id"]:
        return None
    verification_started = isinstance(verified, dict) and verified.get("run_id") == run["run_id"]
    return {
        "phase": record.failure_phase(captured.get("action"), verification_started,
                                      bool((captured.get("result") or {}).get("group_failure"))),
        "task": captured.get("task") or "",
        "msg": record.failure_message(captured.get("result")),
    }
