# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of hyperv.checkpoint.hyperv_checkpoint_info: one read, never a change."""

from __future__ import annotations

from typing import Any

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_report as checkpoint_report
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _option_rules as rules
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._action_base import HyperVActionBase
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import HostError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._utc_time import utc_now


class ActionModule(HyperVActionBase):

    ARGUMENT_SPEC = dict(
        vm=dict(type="list", elements="str"),
        vm_id=dict(type="list", elements="str"),
        name_pattern=dict(type="str"),
        older_than=dict(type="str"),
        include_sizes=dict(type="bool", default=True),
        on_missing=dict(type="str", default="fail", choices=["fail", "report"]),
        operation_timeout=dict(type="int", default=600),
        follow_vm=dict(type="bool", default=True),
    )
    NAME_OPTIONS = ("vm", "vm_id", "name_pattern")

    @staticmethod
    def check_options(args: dict[str, Any]) -> dict[str, Any]:
        return check_options(args)

    def run_checked(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        host = self.hyperv_host(task_vars, args["operation_timeout"], follow=args["follow_vm"])
        names, ids = args["vm"] or [], args["vm_id"] or []
        several = len(names) + len(ids) > 1
        # Several VMs: each one another cluster node runs is read there (the listing cannot move as a whole). The
        # host lists the missing ones only when asked: a listing that fails at its first missing VM is asked again
        # when that VM runs on another node.
        try:
            host_record, vms, missing = host.get_vms_and_missing(
                names=names, ids=ids, all_vms=not names and not ids,
                include_checkpoints=True, include_sizes=args["include_sizes"],
                report_missing=args["on_missing"] == "report")
        except HostError as error:
            if not (several and args["follow_vm"] and error.code == "owned_by_other_node"):
                raise
            host_record, vms, missing = host.get_vms_and_missing(
                names=names, ids=ids, include_checkpoints=True, include_sizes=args["include_sizes"])
        if several and args["follow_vm"]:
            missing = self._read_on_their_nodes(args, task_vars, vms, missing)
            if missing and args["on_missing"] == "fail":
                first = missing[0]
                raise HostError(first["error_code"], first["msg"], operation="get_vms", host=host.host_name,
                                details=first["error_details"])
        report = checkpoint_report.build_report(host_record, vms, utc_now(), name_pattern=args["name_pattern"],
                                                older_than=args["older_than_seconds"])
        if args["on_missing"] == "report":
            report["missing_vms"] = missing
        return dict(report, changed=False)

    def _read_on_their_nodes(self, args: dict[str, Any], task_vars: dict[str, Any], vms: list[dict[str, Any]],
                             missing: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Read each missing VM that another node of the cluster runs on that node (added to ``vms``); returns the
        VMs still missing, with the reason the ones of other nodes were not read there."""
        still = []
        for entry in missing:
            if entry["error_code"] != "owned_by_other_node":
                still.append(entry)
                continue
            by_id = entry["vm"] in (args["vm_id"] or [])
            client = self.hyperv_host(task_vars, args["operation_timeout"], follow=True)
            try:
                dummy, found = client.get_vms(names=[] if by_id else [entry["vm"]], ids=[entry["vm"]] if by_id else [],
                                              include_checkpoints=True, include_sizes=args["include_sizes"])
            except HostError as error:
                still.append(dict(entry, error_code=error.code, msg=error.message, error_details=error.details))
                continue
            vms.extend(found)
        return still


def check_options(args: dict[str, Any]) -> dict[str, Any]:
    """hyperv_checkpoint_info's rules beyond the argument spec; ``older_than_seconds`` added."""
    rules.check_not_blank(args, ("vm", "vm_id"))
    rules.check_positive(args, ("operation_timeout",))
    return dict(args, older_than_seconds=rules.parse_duration(args["older_than"], "older_than"))
