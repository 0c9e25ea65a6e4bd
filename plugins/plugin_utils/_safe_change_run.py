# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the state of a safe_change run, as one step passes it to the next.

Between steps the run travels in registered results, as the dict of ``RunState.to_dict``; each step reads it back
with ``RunState.from_dict``, which refuses a key the run does not have. The decisions on it (_safe_change_steps,
_safe_change_groups, _safe_change_record) work on that dict.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import os
import uuid
from typing import Any

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_names as names


@dataclasses.dataclass
class RunState:
    """A run of the role on one guest (or of playbooks/checkpoint.yml's hold on one VM)."""

    # this run of the role on this guest (a step ignores what an earlier run left in variables)
    run_id: str
    # the guest's inventory name
    host: str
    # the VM's name on the Hyper-V host
    vm: str
    # the Hyper-V host's inventory name (None when it is not in the inventory)
    hyperv_host: str | None
    # safe_change_id
    change_id: str
    # the role's variables, templated and of the types of meta/argument_specs.yml (each step templates them
    # again: they are not passed on)
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    # when the run started (UTC text)
    started: str = ""
    # the run is in check mode
    check_mode: bool = False
    # the play's name, for the summary table
    play: str = ""
    # the run goes on to the next step
    proceed: bool = False
    # committed, reverted, revert_failed, skipped (held for hold), or empty while the run goes on
    outcome: str = ""
    # why the run stopped (outcome skipped)
    reason: str = ""
    # the problem pre-flight refused the change for (its reason without the words around it)
    preflight_problem: str | None = None
    # the checkpoint: id, name, state, reused, taken_type, fell_back, kept_until, restored, merge_seconds
    checkpoint: dict[str, Any] = dataclasses.field(default_factory=dict)
    # what else happened, for the record: Notes (code, text) as dicts
    notes: list[dict[str, str]] = dataclasses.field(default_factory=list)
    # check mode: what a real run would do
    would: list[str] = dataclasses.field(default_factory=list)
    # what failed: phase, task, msg
    failure: dict[str, Any] = dataclasses.field(default_factory=dict)
    # when each phase started (controller clock): preflight, checkpoint, change, verify, waiting (for the other
    # guests, before a revert), commit, revert, post_revert_verify
    marks: dict[str, float | None] = dataclasses.field(default_factory=dict)
    # the URL is requested from another inventory host (a task of its own)
    url_from_elsewhere: bool = False
    # the verification has tasks of its own (the URL from elsewhere, safe_change_verify_tasks, a group)
    verify_more: bool = False
    # safe_change_name_prefix
    prefix: str | None = None
    # who runs the change, as it goes into the checkpoint name
    requested_by: str = ""
    # safe_change_group: the application group of the guest (empty: none)
    group: str = ""
    # safe_change_group_order: lower changes first, reverts last
    group_order: int = 0
    # what the role includes as the change: the user's tasks, the role, or the levels of a group
    change_file: str = "change_role.yml"
    # the name of the checkpoint this run takes
    checkpoint_name: str | None = None
    # why the guest did not answer the pre-flight probe
    guest_problem: str | None = None
    # the VM's id, once read
    vm_id: str | None = None
    # the VM's power state before the change
    power_state_before: str | None = None
    # the Hyper-V host's clock when pre-flight read the VM (for the recovery of a lost create)
    host_time: str | None = None
    # why the restore failed
    revert_error: str | None = None
    # passed or failed: the verification after the revert
    post_revert: str | None = None
    # why the verification after the revert failed
    post_revert_reason: str | None = None
    # a member's pre-flight passed; the group's checkpoints are taken together
    group_ready: bool | None = None
    # a member's left-over checkpoint to reuse: id, name, change_id, time
    reuse: dict[str, Any] | None = None
    # the member's group was withdrawn: its checkpoint is deleted, nothing changed
    withdraw: bool | None = None
    # the member whose refusal or failed checkpoint stopped the group
    group_cause: str | None = None
    # in a batch with group orders, the level the guest reverts at (highest first); else None
    revert_level: int | None = None
    # the play's strategy runs the batch's guests step by step together (linear): the steps that decide for the
    # whole batch run once; else (free) every guest runs them for itself
    lockstep: bool = True

    @classmethod
    def begin(cls, host: str, vm: str, hyperv_host: str | None, change_id: str, options: dict[str, Any],
              now: datetime.datetime, check_mode: bool = False, play: str = "", role_tasks: str = "") -> RunState:
        """A new run, before pre-flight: what the role's options say of it. ``role_tasks``: the role's tasks
        directory, which the role's own change file is named in (a relative name would find a file of the same
        name in the user's playbook folder first)."""
        return cls(run_id=uuid.uuid4().hex, host=host, vm=vm, hyperv_host=hyperv_host, change_id=change_id,
                   options=options, started=names.format_time(now), check_mode=check_mode, play=play,
                   prefix=options.get("safe_change_name_prefix"),
                   group=str(options.get("safe_change_group") or "").strip(),
                   group_order=options.get("safe_change_group_order") or 0,
                   change_file=options.get("safe_change_tasks") or os.path.join(role_tasks, "change_role.yml"))

    def to_dict(self) -> dict[str, Any]:
        """A copy, as dataclasses.asdict makes, but for the options: every step templates them anew, so they are
        this run's own, and copying their forty values cost every step of every guest a few milliseconds."""
        return {name: getattr(self, name) if name == "options" else copy.deepcopy(getattr(self, name))
                for name in RUN_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        unknown = set(data) - set(RUN_FIELDS)
        if unknown:
            raise ValueError("a safe_change run has no %s" % ", ".join(sorted(unknown)))
        return cls(**data)


RUN_FIELDS = tuple(field.name for field in dataclasses.fields(RunState))


def run_in(registered: Any) -> dict[str, Any] | None:
    """The run in a step's registered result (None for a skipped or foreign result)."""
    if isinstance(registered, dict) and isinstance(registered.get("run"), dict):
        return registered["run"]
    return None


def of_this_run(registered: Any, run: dict[str, Any]) -> dict[str, Any] | None:
    """A step's registered result when it belongs to ``run`` (else None)."""
    found = run_in(registered)
    return registered if found is not None and found.get("run_id") == run["run_id"] else None
