# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of hyperv.checkpoint.hyperv_checkpoint_type.

One read of all addressed VMs, a plan from type_planner, and (when something
changes) one write for all of them: two round trips whatever the number of VMs.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _option_rules as rules
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _type_planner as type_planner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._action_base import HyperVActionBase
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_report import unique_vms
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import HostError, OptionError


class ActionModule(HyperVActionBase):

    ARGUMENT_SPEC = dict(
        vm=dict(type="list", elements="str"),
        vm_id=dict(type="list", elements="str"),
        all_vms=dict(type="bool", default=False),
        checkpoint_type=dict(type="str", choices=list(checkpoint_types.SETTINGS)),
        automatic_checkpoints=dict(type="bool"),
        checkpoint_location=dict(type="str"),
        operation_timeout=dict(type="int", default=600),
        follow_vm=dict(type="bool", default=True),
    )
    REQUIRED_ONE_OF = [("checkpoint_type", "automatic_checkpoints", "checkpoint_location")]
    NAME_OPTIONS = ("vm", "vm_id", "checkpoint_location")
    TYPE_OPTIONS = ("checkpoint_type",)

    @staticmethod
    def check_options(args: dict[str, Any]) -> dict[str, Any]:
        return check_options(args)

    def run_checked(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        host = self.hyperv_host(task_vars, args["operation_timeout"], follow=args["follow_vm"])
        names, ids = args["vm"] or [], args["vm_id"] or []
        # Several VMs: each one another cluster node runs is read and changed there. The host lists the missing
        # ones only when asked: a listing that fails at its first missing VM is asked again when that VM runs on
        # another node.
        several = len(names) + len(ids) > 1 and args["follow_vm"]
        try:
            host_record, vms, missing = host.get_vms_and_missing(names=names, ids=ids, all_vms=args["all_vms"],
                                                                 include_checkpoints=True, report_missing=False)
        except HostError as error:
            if not (several and error.code == "owned_by_other_node"):
                raise
            host_record, vms, missing = host.get_vms_and_missing(names=names, ids=ids, include_checkpoints=True)
        groups = [(host, host_record, unique_vms(vms))] + self._on_their_nodes(args, task_vars, missing)
        wanted = type_planner.desired_settings(args)
        entries: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        plans = []
        # Every node's plan before any change: a refusal (an unsupported setting) changes nothing anywhere.
        for client, record, group in groups:
            group_entries, group_changes = type_planner.plan_settings(record, group, wanted)
            entries.extend(group_entries)
            changes.extend(group_changes)
            plans.append((client, group_changes))
        after: list[dict[str, Any]] = []
        if changes and not self._task.check_mode:
            for client, group_changes in plans:
                if group_changes:
                    after.extend(client.set_checkpoint_settings(group_changes))
        return type_planner.type_result(entries, changes, after, bool(self._task.diff))

    def _on_their_nodes(self, args: dict[str, Any], task_vars: dict[str, Any],
                        missing: list[dict[str, Any]]) -> list[tuple[Any, dict[str, Any], list[dict[str, Any]]]]:
        """(client, host record, VMs) of each VM in ``missing`` that another node runs, read on that node; the first
        VM that is on no node fails the task, before anything is changed."""
        found = []
        for entry in missing:
            if entry["error_code"] != "owned_by_other_node":
                raise HostError(entry["error_code"], entry["msg"], operation="get_vms", details=entry["error_details"])
            by_id = entry["vm"] in (args["vm_id"] or [])
            client = self.hyperv_host(task_vars, args["operation_timeout"], follow=True)
            record, vms = client.get_vms(names=[] if by_id else [entry["vm"]], ids=[entry["vm"]] if by_id else [],
                                         include_checkpoints=True)
            found.append((client, record, vms))
        return found


def check_options(args: dict[str, Any]) -> dict[str, Any]:
    """hyperv_checkpoint_type's rules beyond the argument spec."""
    rules.check_not_blank(args, ("vm", "vm_id", "checkpoint_location"))
    rules.check_positive(args, ("operation_timeout",))
    # Checked by value, not by presence: all_vms=false next to vm is fine.
    named = bool(args["vm"] or args["vm_id"])
    if args["all_vms"] and named:
        raise OptionError("all_vms=true cannot be combined with vm or vm_id")
    if not args["all_vms"] and not named:
        raise OptionError("vm or vm_id must name at least one VM, or set all_vms=true")
    return args
