# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of hyperv.checkpoint.hyperv_host_probe: what a real host does, against what the collection assumes.

One read of the VM, then one operation per experiment (probe_host.ps1), then the comparison with
host_assumptions (pure). The VM must have no checkpoints: the experiments take, restore and delete
their own, and each puts the VM back as it found it.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _host_assumptions as host_assumptions
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _option_rules as rules
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._action_base import HyperVActionBase
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import HypervError, PlanError, error_result


class ActionModule(HyperVActionBase):

    ARGUMENT_SPEC = dict(
        vm=dict(type="str"),
        vm_id=dict(type="str"),
        experiments=dict(type="list", elements="str", choices=list(host_assumptions.EXPERIMENTS)),
        operation_timeout=dict(type="int", default=600),
    )
    MUTUALLY_EXCLUSIVE = [("vm", "vm_id")]
    REQUIRED_ONE_OF = [("vm", "vm_id")]
    NAME_OPTIONS = ("vm", "vm_id")

    @staticmethod
    def check_options(args: dict[str, Any]) -> dict[str, Any]:
        rules.check_not_blank(args, ("vm", "vm_id"))
        rules.check_positive(args, ("operation_timeout",))
        return args

    def run_checked(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        if self._task.check_mode:
            return dict(changed=False, skipped=True, msg="the probe changes the VM; it does not run in check mode")
        experiments = args["experiments"] or list(host_assumptions.EXPERIMENTS)
        observations: dict[str, Any] = {}
        try:
            host = self.hyperv_host(task_vars, args["operation_timeout"], follow=False)
            host_record, vm = host.get_vm_with_checkpoints(name=args["vm"], vm_id=args["vm_id"])
            if vm.get("checkpoints"):
                raise PlanError("vm_has_checkpoints",
                                "VM '%s' has %d checkpoints; the probe takes, restores and deletes checkpoints and "
                                "needs a disposable VM without any" % (vm["name"], len(vm["checkpoints"])))
            for experiment in experiments:
                observations[experiment] = host.probe(vm["id"], experiment)["observations"]
        except HypervError as error:
            return dict(error_result(error, self.vm_label(args)), observations=observations)
        rows = host_assumptions.compare(observations)
        return dict(
            changed=True,
            host=host_record,
            vm={"id": vm["id"], "name": vm["name"]},
            observations=observations,
            assumptions=rows,
            differences=[row["id"] for row in rows if row["status"] == "differs"],
        )
