# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of hyperv.checkpoint.hyperv_checkpoint: read, plan, act, report.

One read of the VM and its checkpoints, a plan from the pure planner, then the
planned operations. A task that changes nothing costs one round trip to the host.
"""

from __future__ import annotations

import time

from ansible.utils.display import Display

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_planner as planner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _free_space as free_space
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._action_base import HyperVActionBase
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_errors import HostOperationError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._hyperv_host import DEFAULT_MERGE_GRACE_SECONDS

display = Display()

MERGE_POLL_FIRST = 1.0
MERGE_POLL_MAX = 5.0


class ActionModule(HyperVActionBase):

    ARGUMENT_SPEC = dict(
        vm=dict(type="str"),
        vm_id=dict(type="str"),
        name=dict(type="str"),
        checkpoint_id=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent", "restored"]),
        new_name=dict(type="str"),
        checkpoint_type=dict(type="str", choices=["standard", "production", "production_only"]),
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
        min_free_gb=dict(type="float", default=free_space.DEFAULT_MIN_FREE_GB),
    )
    MUTUALLY_EXCLUSIVE = [("vm", "vm_id"), ("name", "checkpoint_id"),
                          ("name", "name_prefix"), ("name", "name_pattern"),
                          ("checkpoint_id", "name_prefix"), ("checkpoint_id", "name_pattern")]
    REQUIRED_ONE_OF = [("vm", "vm_id")]
    REQUIRED_IF = [("state", "restored", ("name", "checkpoint_id"), True)]
    NAME_OPTIONS = ("vm", "vm_id", "name", "checkpoint_id", "new_name", "name_prefix", "name_pattern")

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self.validated_args()
        vm_label = args["vm"] or args["vm_id"]
        try:
            check_options(args)
            host = self.hyperv_host(task_vars, args["operation_timeout"])
            host_record, vm = self._read(host, args)
            self._host_time = host_record.get("time")
            plan = planner.plan(args, vm, planner.utc_now())
            plan.warnings.extend(ignored_options(self._task.args, args["state"]))
            plan.warnings.extend(vm_warnings(vm, plan))
            if plan.changed and plan.needs_quiet_vm and vm.get("merging"):
                if self._task.check_mode:
                    # A preview must not block: say that the real run would wait first.
                    plan.warnings.append("VM '%s' is merging disks; the real run would %s first"
                                         % (vm["name"], "wait for the merge" if args["on_merge"] == "wait"
                                            else "fail (on_merge=fail)"))
                else:
                    vm, plan = self._after_merge(host, args, vm, result)
            return self._carry_out(host, args, vm, plan, result)
        except (planner.PlanError, HostOperationError) as error:
            return self.failure(result, error, vm_label)

    @staticmethod
    def _read(host, args):
        """(the host record, the VM record with its checkpoints)."""
        return host.get_vm_with_checkpoints(name=args["vm"], vm_id=args["vm_id"])

    def _after_merge(self, host, args, vm, result):
        """A merge is running: refuse (on_merge=fail) or wait for it, then plan again on fresh state."""
        if args["on_merge"] == "fail":
            raise planner.PlanError("merge_in_progress",
                                    "a disk merge is running on VM '%s'; nothing was changed (on_merge=fail)" % vm["name"])
        result["merge_wait_before_seconds"], dummy = wait_for_merge(host, vm, args["timeout"], "before changing it")
        host_record, vm = self._read(host, args)
        self._host_time = host_record.get("time")
        return vm, planner.plan(args, vm, planner.utc_now())

    def _carry_out(self, host, args, vm, plan, result):
        before_tree = planner.render_tree(vm.get("checkpoints", []), vm.get("current_checkpoint_id"))
        result.update(changed=plan.changed, actions=[], warnings=list(plan.warnings))
        checkpoint, vm_after = plan.checkpoint, vm
        if self._task.check_mode:
            result["actions"] = [dict(action, done=False) for action in plan.actions]
        else:
            for action in plan.actions:
                made, reported_vm = self._perform(host, args, vm, action, result)
                checkpoint, vm_after = made or checkpoint, reported_vm or vm_after
        performed = plan.actions if self._task.check_mode else result["actions"]
        after_checkpoints, after_current = planner.predict_checkpoints(vm, performed)
        if self._task.diff and plan.changed:
            result["diff"] = {
                "before_header": "checkpoints of %s" % vm["name"],
                "after_header": "checkpoints of %s" % vm["name"],
                "before": before_tree,
                "after": planner.render_tree(after_checkpoints, after_current),
            }
        view = planner.checkpoint_view(checkpoint, dict(vm, current_checkpoint_id=after_current))
        if view is not None and args["state"] == "absent":
            view["is_current"] = False
        result["checkpoint"] = view
        result["vm"] = vm_summary(vm_after, after_current)
        if not result["warnings"]:
            del result["warnings"]
        return result

    def _perform(self, host, args, vm, action, result):
        """Carry out one planned action; returns (the checkpoint it made or renamed, the VM record the host reported)."""
        kind = action["action"]
        if kind == "create":
            reply = host.create_checkpoint(vm["id"], action["name"], action["checkpoint_type"],
                                           known_ids=[cp["id"] for cp in vm.get("checkpoints", [])],
                                           min_free_bytes=free_space.min_free_bytes(args["min_free_gb"]),
                                           since=getattr(self, "_host_time", None), vm_type=vm.get("checkpoint_type"))
            created = reply["checkpoint"]
            result["taken_type"] = reply.get("taken_type")
            result["fell_back"] = reply.get("fell_back")
            result["warnings"].extend(create_warnings(vm["name"], action["name"], reply))
            result["actions"].append(dict(action, done=True, checkpoint_id=created["id"]))
            return created, reply["vm"]
        if kind == "remove":
            started = time.monotonic()
            # The host waits this long for the merge to show (Remove-VMSnapshot returns first).
            grace = min(DEFAULT_MERGE_GRACE_SECONDS, args["timeout"]) if args["wait"] else 0
            reply = host.remove_checkpoints(vm["id"], action["checkpoint_ids"], action["include_children"],
                                            merge_grace_seconds=grace)
            result["removed"] = describe(vm, reply["removed"])
            result["actions"].append(dict(action, done=True, removed=reply["removed"], merge=reply.get("merge")))
            if args["wait"] and reply.get("merge") == "unseen":
                result["warnings"].append(
                    "VM '%s': Hyper-V showed no disk merge within %d seconds of the delete, and the disk chain did "
                    "not shrink; the merge may still start later" % (vm["name"], grace))
            if reply.get("connection_lost"):
                result["warnings"].append(
                    "VM '%s': the connection failed during the delete; the task read the host again and reports "
                    "what is deleted now" % vm["name"])
            if not args["wait"]:
                return None, reply["vm"]
            result["merge_seconds"], merged_vm = wait_for_merge(
                host, reply["vm"], args["timeout"], "after deleting checkpoints", started=started)
            return None, merged_vm
        if kind == "restore":
            reply = host.restore_checkpoint(vm["id"], action["checkpoint_id"], action["power_state"])
            result["previous_state"] = reply.get("previous_state")
            if reply.get("connection_lost"):
                # The host's answer is the repeated restore's: its "previous" state is the one
                # the lost attempt left, so report the state read before the task acted.
                result["previous_state"] = vm.get("state")
                result["warnings"].append(
                    "VM '%s': the connection failed during the restore, which was run again; the VM is at the "
                    "checkpoint" % vm["name"])
            result["actions"].append(dict(action, done=True, state_after_restore=reply.get("state_after_restore")))
            return None, reply["vm"]
        if kind == "rename":
            renamed = host.rename_checkpoint(vm["id"], action["checkpoint_id"], action["new_name"])
            result["actions"].append(dict(action, done=True))
            return renamed, None
        raise AssertionError("unknown action %r" % kind)


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


def ignored_options(task_args, state):
    """Warnings for options the task gave that its state does not use."""
    return ["option %s has no effect with state=%s" % (option, state)
            for option, states in sorted(OPTIONS_FOR_STATES.items())
            if option in task_args and state not in states]


def check_options(args):
    """Refuse bad input before the host is contacted."""
    for option in ("vm", "vm_id", "checkpoint_id"):
        if args[option] is not None and not args[option].strip():
            raise planner.PlanError("invalid_option", "%s must not be empty" % option)
    planner.validate_name(args["name"])
    planner.validate_name(args["new_name"], "new_name")
    planner.parse_duration(args["max_age"], "max_age")
    planner.parse_duration(args["older_than"], "older_than")
    for option in ("timeout", "operation_timeout"):
        if args[option] <= 0:
            raise planner.PlanError("invalid_option", "%s must be a positive number of seconds" % option)
    if args["min_free_gb"] < 0:
        raise planner.PlanError("invalid_option", "min_free_gb must be 0 (no check) or more, not %s" % args["min_free_gb"])
    if args["new_name"] is not None and args["state"] != "present":
        raise planner.PlanError("invalid_option", "new_name renames a checkpoint and needs state=present")
    for option in ("name_prefix", "name_pattern"):
        if args[option] is not None and not args[option].strip():
            raise planner.PlanError("invalid_option", "%s must not be empty or blank" % option)
    cleanup = [o for o in ("name_prefix", "name_pattern", "older_than", "keep_newest") if args[o] is not None]
    if cleanup and args["state"] != "absent":
        raise planner.PlanError("invalid_option", "%s select checkpoints to delete and need state=absent"
                                % ", ".join(cleanup))
    if args["state"] == "absent" and (args["older_than"] or args["keep_newest"] is not None) \
            and args["name_prefix"] is None and args["name_pattern"] is None:
        raise planner.PlanError("invalid_option", "older_than and keep_newest need name_prefix or name_pattern, "
                                "so that a clean-up never touches checkpoints it was not asked to")


def create_warnings(vm_name, name, reply):
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


def vm_warnings(vm, plan):
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


def wait_for_merge(host, vm, timeout, why, started=None):
    """Poll the VM until its disk merge ends; returns (seconds waited, the VM record then). Progress at -v."""
    started = time.monotonic() if started is None else started
    delay = MERGE_POLL_FIRST
    while vm.get("merging"):
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            raise HostOperationError(
                "merge_timeout",
                "the disk merge of VM '%s' was still running %d seconds %s (timeout %d); it goes on in the "
                "background" % (vm["name"], elapsed, why, timeout),
                operation="wait_for_merge", host=host.host_name, details={"elapsed": int(elapsed)})
        display.v("VM '%s': disk merge running for %ds %s" % (vm["name"], elapsed, why), host=host.host_name)
        time.sleep(min(delay, max(0.1, timeout - elapsed)))
        delay = min(MERGE_POLL_MAX, delay * 1.5)
        vm = host.get_vm(vm_id=vm["id"])
    return round(time.monotonic() - started, 1), vm


def describe(vm, ids):
    names = {cp["id"]: cp["name"] for cp in vm.get("checkpoints", [])}
    return [{"id": checkpoint_id, "name": names.get(checkpoint_id)} for checkpoint_id in ids]


def vm_summary(vm, current_id):
    """The VM after the task: as the host last reported it, at the (predicted) position ``current_id``."""
    return {
        "id": vm["id"],
        "name": vm["name"],
        "state": vm.get("state"),
        "checkpoint_type": vm.get("checkpoint_type"),
        "current_checkpoint_id": current_id,
        "merging": vm.get("merging"),
        "volumes": vm.get("volumes"),
    }
