# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of hyperv.checkpoint.hyperv_checkpoint_info: one read, never a change."""

from __future__ import annotations

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_planner as planner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_report as checkpoint_report
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._action_base import HyperVActionBase
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_errors import HostOperationError


class ActionModule(HyperVActionBase):

    ARGUMENT_SPEC = dict(
        vm=dict(type="list", elements="str"),
        vm_id=dict(type="list", elements="str"),
        name_pattern=dict(type="str"),
        older_than=dict(type="str"),
        include_sizes=dict(type="bool", default=True),
        operation_timeout=dict(type="int", default=600),
    )
    NAME_OPTIONS = ("vm", "vm_id", "name_pattern")

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self.validated_args()
        result["changed"] = False
        try:
            older_than = planner.parse_duration(args["older_than"], "older_than")
            for option in ("vm", "vm_id"):
                if any(not (item or "").strip() for item in args[option] or []):
                    raise planner.PlanError("invalid_option", "%s must not contain empty entries" % option)
            host = self.hyperv_host(task_vars, args["operation_timeout"])
            all_vms = not args["vm"] and not args["vm_id"]
            host_record, vms = host.get_vms(names=args["vm"] or [], ids=args["vm_id"] or [], all_vms=all_vms,
                                            include_checkpoints=True, include_sizes=args["include_sizes"])
        except (planner.PlanError, HostOperationError) as error:
            return self.failure(result, error, ", ".join(args["vm"] or args["vm_id"] or []) or None)
        report = checkpoint_report.build_report(host_record, vms, planner.utc_now(),
                                                name_pattern=args["name_pattern"], older_than=older_than)
        result.update(report)
        return result
