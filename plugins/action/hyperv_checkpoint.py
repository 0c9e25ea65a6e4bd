# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of hyperv.checkpoint.hyperv_checkpoint: validate, read, plan, act, report.

The options are validated once (check_options), before the host is contacted. Then one read of the VM and its
checkpoints, a plan from the pure planner, and the planned operations, each recorded with the host's answer in
an Outcome, from which the result is built (_checkpoint_outcome). A task that changes nothing costs one round
trip to the host.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Collection, Mapping

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_planner as planner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _free_space as free_space
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _option_rules as rules
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._action_base import HyperVActionBase
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_outcome import (
    Outcome,
    checkpoint_result,
    vm_warnings,
)
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import HypervError, OptionError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._hyperv_host import (
    DEFAULT_MERGE_GRACE_SECONDS,
    HyperVHost,
)
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._merge_wait import wait_for_merge
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._utc_time import utc_now

if TYPE_CHECKING:
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_contract import HostRecord, VmRecord

CLEANUP_OPTIONS = ("name_prefix", "name_pattern", "older_than", "keep_newest")

# Options that only mean something for some states: given elsewhere, they are
# reported instead of silently ignored.
OPTIONS_FOR_STATES = {
    "max_age": ("present",),
    "checkpoint_type": ("present",),
    "include_children": ("absent",),
    "all_with_name": ("absent",),
    "wait": ("absent",),
    "power_state": ("restored",),
    "min_free_gb": ("present",),
}


class ActionModule(HyperVActionBase):

    ARGUMENT_SPEC = dict(
        vm=dict(type="str"),
        vm_id=dict(type="str"),
        name=dict(type="str"),
        checkpoint_id=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent", "restored"]),
        new_name=dict(type="str"),
        checkpoint_type=dict(type="str", choices=list(checkpoint_types.REQUESTABLE)),
        max_age=dict(type="str"),
        include_children=dict(type="bool", default=False),
        all_with_name=dict(type="bool", default=False),
        name_prefix=dict(type="str"),
        name_pattern=dict(type="str"),
        older_than=dict(type="str"),
        keep_newest=dict(type="int"),
        power_state=dict(type="str", default="previous", choices=["previous", "running", "off", "as_checkpoint"]),
        wait=dict(type="bool", default=True),
        timeout=dict(type="int", default=1800),
        on_merge=dict(type="str", default="wait", choices=["wait", "fail"]),
        operation_timeout=dict(type="int", default=600),
        follow_vm=dict(type="bool", default=True),
        min_free_gb=dict(type="float", default=free_space.DEFAULT_MIN_FREE_GB),
    )
    MUTUALLY_EXCLUSIVE = [("vm", "vm_id"), ("name", "checkpoint_id"),
                          ("name", "name_prefix"), ("name", "name_pattern"),
                          ("checkpoint_id", "name_prefix"), ("checkpoint_id", "name_pattern")]
    REQUIRED_ONE_OF = [("vm", "vm_id")]
    REQUIRED_IF = [("state", "present", ("name", "checkpoint_id"), True),
                   ("state", "restored", ("name", "checkpoint_id"), True),
                   ("state", "absent", ("name", "checkpoint_id", "name_prefix", "name_pattern"), True)]
    NAME_OPTIONS = ("vm", "vm_id", "name", "checkpoint_id", "new_name", "name_prefix", "name_pattern")
    TYPE_OPTIONS = ("checkpoint_type",)

    @staticmethod
    def check_options(args: dict[str, Any]) -> dict[str, Any]:
        return check_options(args)

    def run_checked(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        outcome: Outcome | None = None
        merge_wait: float | None = None
        try:
            host = self.hyperv_host(task_vars, args["operation_timeout"], follow=args["follow_vm"])
            host_record, vm = self._read(host, args)
            plan = self._plan(args, vm, host_record)
            if plan.changed and plan.needs_quiet_vm and vm.get("merging"):
                if self._task.check_mode:
                    # A preview must not block: say that the real run would wait first.
                    plan.warnings.append("VM '%s' is merging disks; the real run would %s first"
                                         % (vm["name"], "wait for the merge" if args["on_merge"] == "wait"
                                            else "fail (on_merge=fail)"))
                else:
                    merge_wait, vm, host_record, plan = self._after_merge(host, args, vm)
            outcome = Outcome(vm, plan, args["state"], check_mode=bool(self._task.check_mode),
                              diff=bool(self._task.diff), wait=args["wait"])
            outcome.merge_wait_before_seconds = merge_wait
            if not self._task.check_mode:
                for action in plan.actions:
                    self._perform(host, args, vm, action, outcome, host_record.get("time"))
        except HypervError as error:
            return checkpoint_result(outcome, error, self.vm_label(args))
        return checkpoint_result(outcome)

    def _plan(self, args: dict[str, Any], vm: VmRecord, host_record: HostRecord) -> planner.Plan:
        plan = planner.plan(args, vm, utc_now())
        plan.warnings.extend(ignored_options(self._task.args, args["state"]))
        plan.warnings.extend(vm_warnings(vm, plan))
        return plan

    @staticmethod
    def _read(host: HyperVHost, args: Mapping[str, Any]) -> tuple[HostRecord, VmRecord]:
        """(the host record, the VM record with its checkpoints)."""
        return host.get_vm_with_checkpoints(name=args["vm"], vm_id=args["vm_id"])

    def _after_merge(self, host: HyperVHost, args: dict[str, Any],
                     vm: VmRecord) -> tuple[float, VmRecord, HostRecord, planner.Plan]:
        """A merge is running: refuse (on_merge=fail) or wait for it, then plan again on fresh state.

        Returns (seconds waited, the VM record, the host record, the new plan).
        """
        if args["on_merge"] == "fail":
            raise planner.PlanError("merge_in_progress",
                                    "a disk merge is running on VM '%s'; nothing was changed (on_merge=fail)" % vm["name"])
        waited, dummy = wait_for_merge(host, vm, args["timeout"], "before changing it")
        host_record, vm = self._read(host, args)
        return waited, vm, host_record, self._plan(args, vm, host_record)

    def _perform(self, host: HyperVHost, args: Mapping[str, Any], vm: VmRecord, action: planner.Action,
                 outcome: Outcome, host_time: str | None) -> None:
        """Carry out one planned action and record it, with the host's answer, in ``outcome``."""
        if action["action"] == "create":
            outcome.record(action, host.create_checkpoint(
                vm["id"], action["name"], action["checkpoint_type"],
                known_ids=[cp["id"] for cp in vm.get("checkpoints", [])],
                min_free_bytes=free_space.min_free_bytes(args["min_free_gb"]), since=host_time,
                vm_type=vm.get("checkpoint_type")))
        elif action["action"] == "remove":
            started = time.monotonic()
            # The host waits this long for the merge to show (Remove-VMSnapshot returns first).
            grace = min(DEFAULT_MERGE_GRACE_SECONDS, args["timeout"]) if args["wait"] else 0
            reply = host.remove_checkpoints(vm["id"], action["checkpoint_ids"], action["include_children"],
                                            merge_grace_seconds=grace)
            outcome.record(action, reply, grace)
            if args["wait"]:
                outcome.merge_seconds, outcome.vm_after = wait_for_merge(
                    host, reply["vm"], args["timeout"], "after deleting checkpoints", started=started)
        elif action["action"] == "restore":
            outcome.record(action, host.restore_checkpoint(vm["id"], action["checkpoint_id"], action["power_state"]))
        elif action["action"] == "rename":
            outcome.record(action, host.rename_checkpoint(vm["id"], action["checkpoint_id"], action["new_name"]))
        else:
            raise AssertionError("unknown action %r" % action["action"])


def check_options(args: dict[str, Any]) -> dict[str, Any]:
    """hyperv_checkpoint's rules beyond the argument spec; the options with the durations in seconds
    (``max_age_seconds``, ``older_than_seconds``). Raises OptionError before anything is sent."""
    rules.check_not_blank(args, ("vm", "vm_id", "checkpoint_id", "name_prefix", "name_pattern"))
    rules.check_checkpoint_name(args, "name")
    rules.check_checkpoint_name(args, "new_name")
    rules.check_positive(args, ("timeout", "operation_timeout"))
    rules.check_positive(args, ("min_free_gb", "keep_newest"), zero=True)
    rules.check_only_with(args, (
        (("new_name",), "state", ("present",), "renames a checkpoint"),
        (CLEANUP_OPTIONS, "state", ("absent",), "select checkpoints to delete"),
    ))
    rules.check_needs_one_of(args, (
        (("older_than", "keep_newest"), ("name_prefix", "name_pattern"),
         ", so that a clean-up never touches checkpoints it was not asked to"),
    ))
    if args["keep_newest"] is not None and args["include_children"]:
        # In a chain every newer checkpoint is a child of an older one: the subtrees
        # would take the checkpoints keep_newest is meant to keep.
        raise OptionError("keep_newest cannot be combined with include_children")
    return dict(args, max_age_seconds=rules.parse_duration(args["max_age"], "max_age"),
                older_than_seconds=rules.parse_duration(args["older_than"], "older_than"))


def ignored_options(task_args: Collection[str], state: str) -> list[str]:
    """Warnings for options the task gave that its state does not use."""
    return ["option %s has no effect with state=%s" % (option, state)
            for option, states in sorted(OPTIONS_FOR_STATES.items())
            if option in task_args and state not in states]
