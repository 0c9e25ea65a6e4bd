# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: what a hyperv_checkpoint task did, and the result it returns (pure).

The action plugin records each operation it carried out, with the host's reply, in an Outcome;
``checkpoint_result`` builds the task's result from it, also when the task failed half-way: ``changed``
then says whether an operation was carried out before the failure, and ``actions`` lists those.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_planner as planner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _free_space as free_space
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_tree import render_tree
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import error_result

if TYPE_CHECKING:
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_planner import Action, Plan
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_contract import JsonRecord, VmRecord


class Outcome:
    """A task's course: the VM record and plan it started from, then each operation done with the host's reply."""

    def __init__(self, vm: VmRecord, plan: Plan, state: str, check_mode: bool = False, diff: bool = False,
                 wait: bool = True) -> None:
        self.vm = vm
        self.plan = plan
        self.state = state
        self.check_mode = check_mode
        self.diff = diff
        self.wait = wait
        self.warnings = list(plan.warnings)
        # (planned action, the host's reply, the seconds the host waited for a merge to show) in order.
        self.done: list[tuple[Action, JsonRecord, int | None]] = []
        # The VM as the host last reported it (after a merge wait, as the wait last read it).
        self.vm_after = vm
        self.merge_wait_before_seconds: float | None = None
        self.merge_seconds: float | None = None

    def record(self, action: Action, reply: JsonRecord, merge_grace: int | None = None) -> None:
        self.done.append((action, reply, merge_grace))
        if isinstance(reply, dict) and isinstance(reply.get("vm"), dict):
            self.vm_after = reply["vm"]


def checkpoint_result(outcome: Outcome | None, error: BaseException | None = None,
                      vm_label: str | None = None) -> dict[str, Any]:
    """The task's result: built from ``outcome`` (None when the task failed before it had a plan) and ``error``."""
    result: dict[str, Any] = {"changed": False, "actions": []}
    if outcome is not None:
        result = _result_of(outcome, with_views=error is None)
    if error is not None:
        result.update(error_result(error, vm_label))
    if not result.get("warnings"):
        result.pop("warnings", None)
    return result


def _result_of(outcome: Outcome, with_views: bool) -> dict[str, Any]:
    vm = outcome.vm
    result: dict[str, Any] = {"warnings": list(outcome.warnings)}
    actions: list[dict[str, Any]]
    performed: Sequence[Mapping[str, Any]]
    if outcome.check_mode:
        actions = [dict(action, done=False) for action in outcome.plan.actions]
        performed = outcome.plan.actions
    else:
        actions = []
        for action, reply, merge_grace in outcome.done:
            actions.append(_done(action, reply))
            result.update(_fields_of(vm, action, reply))
            result["warnings"].extend(_warnings_of(vm, action, reply, merge_grace, outcome.wait))
        performed = actions
    result.update(changed=bool(actions), actions=actions)
    if outcome.merge_wait_before_seconds is not None:
        result["merge_wait_before_seconds"] = outcome.merge_wait_before_seconds
    if outcome.merge_seconds is not None:
        result["merge_seconds"] = outcome.merge_seconds
    if not with_views:
        return result
    after_checkpoints, after_current = planner.predict_checkpoints(vm, performed)
    if outcome.diff and result["changed"]:
        result["diff"] = {
            "before_header": "checkpoints of %s" % vm["name"],
            "after_header": "checkpoints of %s" % vm["name"],
            "before": render_tree(vm.get("checkpoints", []), vm.get("current_checkpoint_id")),
            "after": render_tree(after_checkpoints, after_current),
        }
    checkpoint: JsonRecord | None = outcome.plan.checkpoint
    for action, reply, dummy in outcome.done:
        if action["action"] == "create":
            checkpoint = reply["checkpoint"]
        elif action["action"] == "rename":
            checkpoint = reply
    view = planner.checkpoint_view(checkpoint, dict(vm, current_checkpoint_id=after_current),
                                   result.get("taken_type"))
    if view is not None and outcome.state == "absent":
        view["is_current"] = False
    result["checkpoint"] = view
    result["vm"] = vm_summary(outcome.vm_after, after_current)
    return result


def _done(action: Action, reply: JsonRecord) -> dict[str, Any]:
    """The result's entry for ``action``, carried out: with ``done`` and what the host did."""
    if action["action"] == "create":
        return dict(action, done=True, checkpoint_id=reply["checkpoint"]["id"])
    if action["action"] == "remove":
        return dict(action, done=True, removed=reply["removed"], merge=reply.get("merge"))
    if action["action"] == "restore":
        return dict(action, done=True, state_after_restore=reply.get("state_after_restore"))
    return dict(action, done=True)


def _fields_of(vm: VmRecord, action: Action, reply: JsonRecord) -> dict[str, Any]:
    """The result's own fields for one operation done."""
    kind = action["action"]
    if kind == "create":
        return {"taken_type": reply.get("taken_type"), "fell_back": reply.get("fell_back")}
    if kind == "remove":
        return {"removed": describe(vm, reply["removed"])}
    if kind == "restore":
        # After a lost connection the host's answer is the repeated restore's: its "previous" state is the one
        # the lost attempt left, so the state read before the task acted is reported.
        return {"previous_state": vm.get("state") if reply.get("connection_lost") else reply.get("previous_state")}
    return {}


def _warnings_of(vm: VmRecord, action: Action, reply: JsonRecord, merge_grace: int | None, wait: bool) -> list[str]:
    kind, name = action["action"], vm["name"]
    if action["action"] == "create":
        return create_warnings(name, action["name"], reply)
    warnings = []
    if kind == "remove":
        if wait and reply.get("merge") == "unseen":
            warnings.append("VM '%s': Hyper-V showed no disk merge within %d seconds of the delete, and the disk chain "
                            "did not shrink; the merge may still start later" % (name, merge_grace or 0))
        if reply.get("connection_lost"):
            warnings.append("VM '%s': the connection failed during the delete; the task read the host again and "
                            "reports what is deleted now" % name)
    elif kind == "restore" and reply.get("connection_lost"):
        warnings.append("VM '%s': the connection failed during the restore, which was run again; the VM is at the "
                        "checkpoint" % name)
    return warnings


def create_warnings(vm_name: str, name: str, reply: Mapping[str, Any]) -> list[str]:
    """What the host's answer to a create says that the user should know."""
    warnings = []
    if reply.get("fell_back"):
        warnings.append("VM '%s': the guest could not take a production checkpoint, so Hyper-V took a standard "
                        "checkpoint (with memory state) instead" % vm_name)
    if reply.get("type_restore_error"):
        warnings.append("VM '%s': the checkpoint was made, but its checkpoint type setting could not be put back: %s; "
                        "the next checkpoint taken by this collection puts it back (hyperv_checkpoint_info shows it "
                        "as type_override)" % (vm_name, reply["type_restore_error"]))
    if reply.get("type_override_repaired"):
        warnings.append("VM '%s': an earlier run was stopped while the VM's checkpoint type was switched; its type %s "
                        "was put back" % (vm_name, reply["type_override_repaired"]))
    if reply.get("recovered"):
        warnings.append("VM '%s': the connection failed after the checkpoint was made; the task found it and did not "
                        "make a second one (the checkpoint type taken is unknown)" % vm_name)
    if reply.get("name_repaired"):
        warnings.append("VM '%s': Hyper-V took the checkpoint under its default name%s and the rename failed; the task "
                        "renamed it to '%s'" % (vm_name, " '%s'" % reply["renamed_from"] if reply.get("renamed_from")
                                                else "", name))
    return warnings


def vm_warnings(vm: VmRecord, plan: Plan) -> list[str]:
    """What the VM record itself says that the user should know before a change."""
    warnings = []
    override = vm.get("type_override") or {}
    if override and not override.get("live") and not any(a["action"] == "create" for a in plan.actions):
        warnings.append("VM '%s': an earlier run was stopped while the VM's checkpoint type was switched; the next "
                        "checkpoint taken by this collection puts its type %s back"
                        % (vm["name"], override.get("original_type")))
    if any(action["action"] == "create" for action in plan.actions) and free_space.unknown_free_space(vm):
        warnings.append("VM '%s': the free space of %s is not known to the host, so min_free_gb could not be checked "
                        "there" % (vm["name"], ", ".join(free_space.unknown_free_space(vm))))
    return warnings


def describe(vm: VmRecord, ids: Sequence[str]) -> list[dict[str, Any]]:
    names = {cp["id"]: cp["name"] for cp in vm.get("checkpoints", [])}
    return [{"id": checkpoint_id, "name": names.get(checkpoint_id)} for checkpoint_id in ids]


def vm_summary(vm: VmRecord, current_id: str | None) -> dict[str, Any]:
    """The VM after the task: as the host last reported it, at the (predicted) position ``current_id``."""
    return checkpoint_types.with_option({
        "id": vm["id"],
        "name": vm["name"],
        "state": vm.get("state"),
        "checkpoint_type": vm.get("checkpoint_type"),
        "current_checkpoint_id": current_id,
        "merging": vm.get("merging"),
        "volumes": vm.get("volumes"),
    })
