# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the Hyper-V side of a safe_change run.

A run's state is a plain dict that every step of the role receives and returns (through registered
variables): the run's options and names, what pre-flight found, the checkpoint, the failure, the
outcome. ``HostSteps`` carries out the steps on the Hyper-V host: pre-flight and the checkpoint
(with the lock), the commit or the revert, and the delete after a revert. The decisions come from
_safe_change_plan and _safe_change_record; the operations go through the same host client as the
modules' (HyperVHost: retries, recovery after a lost connection, waiting for merges), on the VM
record pre-flight read, so that a run costs no more round trips than it needs.
"""

from __future__ import annotations

import datetime
import time

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_names as names
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_plan as plan
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_record as record
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._utc_time import utc_now
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _free_space as free_space
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import HostError

# The run's state: what each step receives from the one before and passes on.
STATE_FIELDS = {
    "run_id": "this run of the role on this guest (a step ignores what an earlier run left in variables)",
    "host": "the guest's inventory name",
    "vm": "the VM's name on the Hyper-V host",
    "vm_id": "the VM's id, once read",
    "vm_state": "the VM's power state before the change",
    "host_time": "the Hyper-V host's clock when pre-flight read the VM (for the recovery of a lost create)",
    "hyperv_host": "the Hyper-V host's inventory name (None when it is not in the inventory)",
    "change_id": "safe_change_id",
    "checkpoint_name": "the name of the checkpoint this run takes",
    "started": "when the run started (UTC text)",
    "check_mode": "the run is in check mode",
    "play": "the play's name, for the summary table",
    "options": "the role's variables, templated and of the types of meta/argument_specs.yml (each step templates "
               "them again: they are not passed on)",
    "proceed": "the run goes on to the next step",
    "outcome": "committed, reverted, revert_failed, skipped, or empty while the run goes on",
    "reason": "why the run stopped (outcome skipped)",
    "guest_problem": "why the guest did not answer the pre-flight probe",
    "checkpoint": "the checkpoint: id, name, state, reused, taken_type, fell_back, kept_until, restored, merge_seconds",
    "notes": "what else happened, for the record",
    "would": "check mode: what a real run would do",
    "failure": "what failed: phase, task, msg",
    "revert_error": "why the restore failed",
    "post_revert": "passed or failed: the verification after the revert",
    "post_revert_reason": "why the verification after the revert failed",
    "marks": "when each phase started (controller clock): preflight, checkpoint, change, verify, commit, revert, "
             "post_revert_verify",
    "url_from_elsewhere": "the URL is requested from another inventory host (a task of its own)",
    "verify_more": "the verification has tasks of its own (the URL from elsewhere, safe_change_verify_tasks, a group)",
    "prefix": "safe_change_name_prefix",
    "requested_by": "who runs the change, as it goes into the checkpoint name",
    "group": "safe_change_group: the application group of the guest (empty: none)",
    "group_order": "safe_change_group_order: lower changes first, reverts last",
    "group_ready": "a member's pre-flight passed; the group's checkpoints are taken together",
    "reuse": "a member's left-over checkpoint to reuse: id, name, change_id, time",
    "withdraw": "the member's group was withdrawn: its checkpoint is deleted, nothing changed",
    "group_cause": "the member whose refusal or failed checkpoint stopped the group",
    "change_file": "what the role includes as the change: the user's tasks, the role, or the levels of a group",
    "revert_level": "in a batch with group orders, the level the guest reverts at (highest first); else None",
}
CHECKPOINT_FIELDS = ("id", "name", "state", "reused", "taken_type", "fell_back", "kept_until", "restored",
                     "merge_seconds")
FAILURE_FIELDS = ("phase", "task", "msg")
# What the role's rescue captures of a failed task (tasks/main.yml, tasks/after_revert.yml).
CAPTURED_FIELDS = ("run_id", "task", "action", "result")

TIMEOUT_NOTE = (" The host may still have taken checkpoint '%s' after the timeout: the next run finds it, as the lock "
                "of a run for safe_change_lock_minutes, then as a left-over (safe_change_stale_policy).")
FELL_BACK_NOTE = "the guest could not be quiesced: Hyper-V took a standard checkpoint (with memory) instead"
MERGING_NOTE = "the checkpoint is deleted; its disk merge was still running after %s s and goes on in the background"


def working_copy(state):
    """A copy of the run's state that a step may change: its lists and dicts copied one level down (their
    own items are plain values, and the options are only read)."""
    copied = dict(state)
    for key, value in state.items():
        if isinstance(value, dict):
            copied[key] = dict(value)
        elif isinstance(value, list):
            copied[key] = list(value)
    return copied


def refuse(state, reason, **changes):
    """The run stops here: ``reason`` says why and what was (not) changed."""
    state.update(changes, proceed=False, outcome="skipped", reason=reason)
    return state


def preflight_refusal(state, problem):
    """``problem``: one or more sentences, ending with a full stop."""
    return refuse(state, "Pre-flight refused the change: %s Nothing was changed." % problem)


def read_refusal(state, error):
    """Why pre-flight could not read the VM, as the user can act on it."""
    vm, hyperv_host = state["vm"], state["hyperv_host"]
    code = getattr(error, "code", "error")
    message = getattr(error, "message", str(error))
    if code == "owned_by_other_node":
        owner = (getattr(error, "details", None) or {}).get("owner_node") or "unknown"
        text = ("VM '%s' is clustered and owned by another node (%s), not by %s: set hyperv_host to the owner node."
                % (vm, owner, hyperv_host))
    elif code == "vm_not_found":
        text = ("Hyper-V host %s has no VM named '%s' (set hyperv_vm_name when the VM's name differs from the "
                "inventory name)." % (hyperv_host, vm))
    elif code == "host_unreachable":
        # The error's message names the host already; its cause is what the user needs after the host's name.
        cause = (getattr(error, "details", None) or {}).get("cause") or message
        text = "The Hyper-V host %s did not answer: %s." % (hyperv_host, cause.rstrip("."))
    else:
        text = "Reading VM '%s' on %s failed (%s): %s." % (vm, hyperv_host, code, message.rstrip("."))
    return preflight_refusal(state, text)


class HostSteps:
    """The Hyper-V side of a run, over one connection to the guest's Hyper-V host.

    ``client`` carries out one operation per method and raises HostError:
    ``read(vm_name) -> (host record, VM record with its checkpoints)``, ``create(vm_id, name,
    checkpoint_type, known_ids, min_free_gb, since, vm_type) -> reply`` (HyperVHost.create_checkpoint:
    the host refuses below min_free_gb; ``since``, the host's time of the read, and ``vm_type`` serve its
    recovery after a lost connection), ``delete(vm_id, checkpoint_id)
    -> seconds the merge took`` (it waits for the merge; code merge_timeout when it outlasts the timeout),
    ``restore(vm_id, checkpoint_id, power_state)``, ``rename(vm_id, checkpoint_id, new_name) -> checkpoint``
    and ``describe(error) -> text`` (the error as the modules report it). ``alert(text)`` shows ``text``
    loudly at once (a revert that failed).
    """

    def __init__(self, client, now=utc_now, clock=time.time, alert=None):
        self._client = client
        self._now = now
        self._clock = clock
        self._alert = alert or (lambda text: None)

    def _delete(self, state, checkpoint_id):
        """Delete a checkpoint and wait for the merge: (deleted, merge_seconds, error text, merge still running)."""
        try:
            return True, self._client.delete(state["vm_id"], checkpoint_id), None, False
        except HostError as error:
            # A merge that outlasts the timeout means the checkpoint is deleted: Hyper-V merges in the background.
            if error.code == "merge_timeout":
                return True, None, None, True
            return False, None, self._client.describe(error), False

    # Pre-flight and checkpoint ------------------------------------------------------------

    def _survey(self, state):
        """Read the VM: (host record, VM record, its checkpoints as this run sees them, now); notes its id and state."""
        options = state["options"]
        host_record, vm = self._client.read(state["vm"])
        now = self._now()
        state.update(vm_id=vm["id"], vm_state=vm.get("state"), host_time=(host_record or {}).get("time"))
        unknown = free_space.unknown_free_space(vm)
        if unknown and options["safe_change_min_free_gb"]:
            state["notes"].append("the free space of %s is not known to the Hyper-V host, so "
                                  "safe_change_min_free_gb could not be checked there" % ", ".join(unknown))
        checkpoints = plan.Checkpoints(vm, options["safe_change_name_prefix"], state["change_id"],
                                       options["safe_change_lock_minutes"], now)
        return host_record, vm, checkpoints, now

    def checkpoint(self, state, check_mode, group_preflight=False):
        """Pre-flight on the host, then the checkpoint (taken, or a left-over reused) and the lock.

        ``group_preflight``: a member of an application group only runs its pre-flight here; the group's
        checkpoints are taken together once every member passed (_safe_change_groups).
        """
        state = working_copy(state)
        options = state["options"]
        try:
            host_record, vm, checkpoints, now = self._survey(state)
        except HostError as error:
            return read_refusal(state, error)
        reuse, to_remove = plan.choose_left_overs(checkpoints, options["safe_change_stale_policy"],
                                                  options["safe_change_stale_max_age_hours"])
        problems = plan.preflight_problems(vm, checkpoints, options, (host_record or {}).get("computer_name"), reuse,
                                           to_remove)
        if state.get("guest_problem"):
            problems.append(state["guest_problem"])
        if problems:
            return preflight_refusal(state, "VM '%s' on %s: %s." % (state["vm"], state["hyperv_host"],
                                                                    "; ".join(problems)))
        if group_preflight:
            state.update(group_ready=True, reuse=None if reuse is None else {
                "id": reuse["id"], "name": reuse["name"], "change_id": reuse["parsed"].change_id,
                "time": reuse["parsed"].time})
        if check_mode:
            kept_until = names.format_time(now + datetime.timedelta(hours=options["safe_change_keep_hours"]))
            return refuse(state, "Check mode: the pre-flight passed and nothing was changed.",
                          would=plan.would(state, vm, reuse, to_remove, kept_until))
        if group_preflight:
            return state
        if to_remove and not self._remove_left_overs(state, to_remove):
            return state
        state["marks"]["checkpoint"] = self._clock()
        if reuse is not None:
            return self._adopt(state, reuse)
        return self._take(state, vm, to_remove)

    def _remove_left_overs(self, state, to_remove):
        for cp in to_remove:
            deleted, dummy, error, dummy = self._delete(state, cp["id"])
            if not deleted:
                refuse(state, "Removing the left-over checkpoints failed: %s The change was not applied." % error)
                return False
        state["notes"].append("removed left-over checkpoints: %s" % ", ".join(cp["name"] for cp in to_remove))
        return True

    def _adopt(self, state, reuse):
        name = reuse["name"]
        if reuse["parsed"].manual:
            # Taken by hand for this change: without "manual" it becomes this run's lock, which a
            # second run of the same change must not adopt while this one goes on.
            try:
                name = self._client.rename(state["vm_id"], reuse["id"], names.adopted_name(name))["name"]
            except HostError as error:
                return refuse(state, "Adopting the checkpoint '%s' failed: %s The change was not applied."
                              % (name, self._client.describe(error)))
        state["checkpoint"] = {"id": reuse["id"], "name": name, "reused": True, "taken_type": None,
                               "fell_back": None, "state": "present"}
        state["notes"].append("reused the left-over checkpoint %s" % reuse["name"])
        state["proceed"] = True
        return state

    def _create(self, state, vm, known):
        """Take the run's checkpoint; ``known``: the VM's checkpoints before (for the recovery of a lost create)."""
        options = state["options"]
        return self._client.create(state["vm_id"], state["checkpoint_name"],
                                   checkpoint_types.host_value(options["safe_change_checkpoint_type"]),
                                   [cp["id"] for cp in known], options["safe_change_min_free_gb"],
                                   state.get("host_time"), vm.get("checkpoint_type"))

    def _take(self, state, vm, removed):
        options = state["options"]
        gone = set(cp["id"] for cp in removed)
        known = [cp for cp in vm.get("checkpoints", []) if cp["id"] not in gone]
        try:
            reply = self._create(state, vm, known)
        except HostError as error:
            reason = "The checkpoint could not be taken: %s The change was not applied." % self._client.describe(error)
            if error.code == "timeout":
                reason += TIMEOUT_NOTE % state["checkpoint_name"]
            return refuse(state, reason)
        taken = reply["checkpoint"]
        state["checkpoint"] = {"id": taken["id"], "name": taken["name"], "reused": False,
                               "taken_type": reply.get("taken_type"), "fell_back": reply.get("fell_back"),
                               "state": "present"}
        if reply.get("fell_back"):
            state["notes"].append(FELL_BACK_NOTE)
        if options["safe_change_lock_minutes"] > 0:
            return self._lock(state, (reply.get("vm") or {}).get("checkpoints"))
        state["proceed"] = True
        return state

    def _lock(self, state, listed=None):
        """The checkpoint just taken is this run's lock: the run whose lock came first goes on.

        ``listed``: the VM's checkpoints as the create listed them right after taking this one; without
        them (a client that does not list), the VM is read again.
        """
        options, checkpoint = state["options"], state["checkpoint"]
        try:
            vm = {"checkpoints": listed} if listed is not None else self._client.read(state["vm"])[1]
        except HostError as error:
            return refuse(state, "Checking for other runs on the VM failed: %s The change was not applied. This run's "
                          "checkpoint '%s' (id %s) is kept: later runs see it as a lock for safe_change_lock_minutes, "
                          "then as a left-over (safe_change_stale_policy)." % (
                              self._client.describe(error), checkpoint["name"], checkpoint["id"]),
                          checkpoint=dict(checkpoint, state="kept"))
        first = plan.runs_that_came_first(vm, checkpoint["id"], options["safe_change_name_prefix"], state["change_id"],
                                          options["safe_change_lock_minutes"], self._now())
        if not first:
            state["proceed"] = True
            return state
        other = first[0]
        deleted, dummy, error, dummy = self._delete(state, checkpoint["id"])
        if not deleted:
            return refuse(state, "Another safe_change run took its checkpoint of VM '%s' at the same time, so this run "
                          "did not change anything; deleting its own checkpoint '%s' (id %s) then failed: %s Delete it "
                          "by hand or with playbooks/cleanup.yml."
                          % (state["vm"], checkpoint["name"], checkpoint["id"], error),
                          checkpoint=dict(checkpoint, state="kept"))
        return refuse(state, "Another safe_change run took its checkpoint of VM '%s' at the same time ('%s', id %s) and "
                      "goes on; this run backed off and deleted its own checkpoint. Nothing was changed." % (
                          state["vm"], other["name"], other["id"]),
                      checkpoint=dict(checkpoint, state="deleted"))

    # A checkpoint taken by hand (playbooks/checkpoint.yml) -----------------------------------

    def hold(self, state, check_mode):
        """The checkpoint of a change made by hand: one per change id, named like the role's, plus "manual".

        A second run for the same change finds it and takes nothing. Another change's lock, a revert
        that failed, and what Hyper-V refuses (disabled, the limit, a merge) are refused as in pre-flight;
        left-overs of earlier changes are not this checkpoint's business (a warning says so).
        """
        state = working_copy(state)
        options = state["options"]
        try:
            host_record, vm, checkpoints, dummy = self._survey(state)
        except HostError as error:
            return read_refusal(state, error)
        mine = plan.taken_for_change(checkpoints, state["change_id"])
        if mine is not None:
            found = {key: value for key, value in mine.items() if key not in plan.CHECKPOINT_VIEW_FIELDS}
            state.update(checkpoint=dict(found, state="present", reused=True), outcome="held")
            return state
        # Left-overs of other changes are reported, not refused (policy "remove" lists no problem for them,
        # and nothing is removed here); any power state will do for a checkpoint taken by hand.
        problems = [problem for problem in plan.preflight_problems(
            vm, checkpoints, dict(options, safe_change_stale_policy="remove"),
            (host_record or {}).get("computer_name"), None, []) if not problem.startswith("it is ")]
        if problems:
            return refuse(state, "VM '%s' on %s: %s. Nothing was changed."
                          % (state["vm"], state["hyperv_host"], "; ".join(problems)))
        if checkpoints.stale:
            state["notes"].append("checkpoints of earlier changes are left on VM '%s': %s" % (
                state["vm"], ", ".join(plan.label(cp) for cp in checkpoints.stale)))
        if check_mode:
            state.update(checkpoint={"id": None, "name": state["checkpoint_name"], "state": "none"}, outcome="held")
            return state
        try:
            reply = self._create(state, vm, vm.get("checkpoints", []))
        except HostError as error:
            return refuse(state, "The checkpoint could not be taken: %s" % self._client.describe(error))
        taken = reply["checkpoint"]
        state.update(outcome="held", checkpoint=dict(taken, state="present", reused=False,
                                                     taken_type=reply.get("taken_type"),
                                                     fell_back=reply.get("fell_back")))
        if reply.get("fell_back"):
            state["notes"].append(FELL_BACK_NOTE)
        return state

    # After the change --------------------------------------------------------------------

    def commit(self, state):
        """The change and its verification passed: delete the checkpoint, or keep it renamed."""
        state = working_copy(state)
        state["marks"]["commit"] = self._clock()
        options, checkpoint = state["options"], state["checkpoint"]
        if options["safe_change_keep_hours"] == 0:
            deleted, merge_seconds, error, merging = self._delete(state, checkpoint["id"])
            if deleted:
                checkpoint.update(state="deleted", merge_seconds=merge_seconds)
                if merging:
                    state["notes"].append(MERGING_NOTE % options["safe_change_merge_timeout"])
            else:
                checkpoint["state"] = "kept"
                state["notes"].append("the change is done, but deleting the checkpoint failed (%s); "
                                      "playbooks/cleanup.yml removes it later" % error)
        else:
            until = self._now() + datetime.timedelta(hours=options["safe_change_keep_hours"])
            checkpoint["state"] = "kept"
            try:
                renamed = self._client.rename(state["vm_id"], checkpoint["id"], names.kept_name(checkpoint["name"], until))
                checkpoint.update(name=renamed["name"], kept_until=names.format_time(until))
            except HostError as error:
                state["notes"].append("the change is done, but marking the checkpoint as kept failed (%s)"
                                      % self._client.describe(error))
        state["outcome"] = "committed"
        return state

    def withdraw(self, state):
        """The member's group was withdrawn before any change: delete the member's checkpoint."""
        state = working_copy(state)
        checkpoint = state["checkpoint"]
        deleted, dummy, error, dummy = self._delete(state, checkpoint["id"])
        checkpoint["state"] = "deleted" if deleted else "kept"
        if not deleted:
            state["notes"].append("withdrawing the checkpoint failed (%s); delete it by hand or with "
                                  "playbooks/cleanup.yml" % error)
        return state

    def revert(self, state):
        """The change or its verification failed: restore the checkpoint, VM back to its power state before."""
        state = working_copy(state)
        state["marks"]["revert"] = self._clock()
        checkpoint = state["checkpoint"]
        try:
            self._client.restore(state["vm_id"], checkpoint["id"], plan.restore_power_state(state.get("vm_state")))
        except HostError as error:
            state["outcome"] = "revert_failed"
            state["revert_error"] = self._client.describe(error)
            checkpoint.update(restored=False, state="kept")
            # Best effort: the name tells later runs (and their stale policy) to leave it to a human.
            try:
                renamed = self._client.rename(state["vm_id"], checkpoint["id"],
                                              names.revert_failed_name(checkpoint["name"]))
                checkpoint["name"] = renamed["name"]
            except HostError:
                pass
            self._alert(revert_failed_banner(state))
            return state
        checkpoint["restored"] = True
        state["outcome"] = "reverted"
        return state

    def after_revert(self, state, verification_problem):
        """The verification after the revert: passed, the checkpoint is deleted; failed, it is kept for a human."""
        state = working_copy(state)
        checkpoint = state["checkpoint"]
        if verification_problem:
            state.update(post_revert="failed", post_revert_reason=verification_problem)
            checkpoint["state"] = "kept"
            return state
        state["post_revert"] = "passed"
        deleted, dummy, error, merging = self._delete(state, checkpoint["id"])
        if deleted:
            checkpoint["state"] = "deleted"
            if merging:
                state["notes"].append(MERGING_NOTE % state["options"]["safe_change_merge_timeout"])
        else:
            checkpoint["state"] = "kept"
            state["notes"].append("the checkpoint could not be deleted after the revert (%s); playbooks/cleanup.yml "
                                  "removes it later" % error)
        return state


def revert_failed_banner(state):
    checkpoint, failure = state["checkpoint"], state.get("failure") or {}
    return "\n".join([
        "REVERT FAILED on %s: a human is needed." % state["host"],
        "The %s failed (%s): %s" % (failure.get("phase", "change"), failure.get("task", ""), failure.get("msg", "")),
        "Restoring the checkpoint then failed: %s" % state.get("revert_error"),
        "VM '%s' on Hyper-V host %s is in an unknown state." % (state["vm"], state["hyperv_host"]),
        "The checkpoint is KEPT: '%s' (id %s)." % (checkpoint.get("name"), checkpoint.get("id")),
        "Restore it by hand (Hyper-V Manager, or Restore-VMSnapshot on the host), or run playbooks/revert.yml with "
        "-e revert_hosts=%s -e revert_checkpoint_id=%s -e revert_confirm=true" % (state["host"], checkpoint.get("id")),
    ])


def failure_of(state, captured, verified):
    """The failure of this run's change or verification from what the rescue captured, or None.

    ``verified``: the registered result of the step verify; when it belongs to this run, the
    verification had started, and what failed was the verification.
    """
    if not isinstance(captured, dict) or captured.get("run_id") != state["run_id"]:
        return None
    verification_started = isinstance(verified, dict) and verified.get("run_id") == state["run_id"]
    return {
        "phase": record.failure_phase(captured.get("action"), verification_started,
                                      bool((captured.get("result") or {}).get("group_failure"))),
        "task": captured.get("task") or "",
        "msg": record.failure_message(captured.get("result")),
    }
