# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of hyperv.checkpoint.hyperv_checkpoint_type.

One read of all addressed VMs, a plan from type_planner, and (when something
changes) one write for all of them: two round trips whatever the number of VMs.
"""

from __future__ import annotations

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _type_planner as type_planner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._action_base import HyperVActionBase
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_planner import PlanError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_report import unique_vms
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_errors import HostOperationError


class ActionModule(HyperVActionBase):

    ARGUMENT_SPEC = dict(
        vm=dict(type="list", elements="str"),
        vm_id=dict(type="list", elements="str"),
        all_vms=dict(type="bool", default=False),
        checkpoint_type=dict(type="str", choices=["standard", "production", "production_only", "disabled"]),
        automatic_checkpoints=dict(type="bool"),
        checkpoint_location=dict(type="str"),
        operation_timeout=dict(type="int", default=600),
    )
    NAME_OPTIONS = ("vm", "vm_id", "checkpoint_location")

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self.validated_args()
        label = ", ".join((args["vm"] or []) + (args["vm_id"] or [])) or None
        try:
            wanted = type_planner.desired_settings(args)
            # Checked by value, not by presence: all_vms=false next to vm is fine.
            named = bool(args["vm"] or args["vm_id"])
            if args["all_vms"] and named:
                raise PlanError("invalid_option", "all_vms=true cannot be combined with vm or vm_id")
            if not args["all_vms"] and not named:
                raise PlanError("invalid_option", "vm or vm_id must name at least one VM, or set all_vms=true")
            host = self.hyperv_host(task_vars, args["operation_timeout"])
            host_record, vms = host.get_vms(names=args["vm"] or [], ids=args["vm_id"] or [],
                                            all_vms=args["all_vms"], include_checkpoints=True)
            entries, changes = type_planner.plan_settings(host_record, unique_vms(vms), wanted)
            if changes and not self._task.check_mode:
                after = {vm["id"]: vm for vm in host.set_checkpoint_settings(changes)}
                for entry in entries:
                    if entry["id"] in after:
                        entry["after"] = type_planner.settings_of(after[entry["id"]])
        except (PlanError, HostOperationError) as error:
            return self.failure(result, error, label)
        result["changed"] = bool(changes)
        result["vms"] = entries
        if self._task.diff and changes:
            changed = [entry for entry in entries if entry["changed"]]
            result["diff"] = {
                "before": {diff_key(entry, entries): entry["before"] for entry in changed},
                "after": {diff_key(entry, entries): entry["after"] for entry in changed},
            }
        return result


def diff_key(entry, entries):
    """The VM's name, with its id when another VM has the same name (Hyper-V allows that)."""
    if sum(1 for other in entries if other["name"] == entry["name"]) > 1:
        return "%s (%s)" % (entry["name"], entry["id"])
    return entry["name"]
