# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of hyperv.checkpoint.safe_change_hold: playbooks/checkpoint.yml's checkpoint of a change made by hand.

One checkpoint per change id, named as the role safe_change names its own plus "manual", taken on the Hyper-V
host with the role's pre-flight refusals (_safe_change_steps.HostSteps.hold), so that a run of the role for the
same change adopts it and runs of other changes see it as a lock.
"""

from __future__ import annotations

from typing import Any

from ansible.utils.display import Display

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_names as names
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_preflight as preflight
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._action_base import HyperVActionBase
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_client import host_steps
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_options import requested_by, role_defaults
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_run import RunState
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_steps import note_texts
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._utc_time import utc_now

display = Display()


class ActionModule(HyperVActionBase):

    ARGUMENT_SPEC = dict(
        vm=dict(type="str"),
        change_id=dict(type="str"),
        name_prefix=dict(type="str", default="safe_change"),
        requested_by=dict(type="str", default=""),
        checkpoint_type=dict(type="str", default="", choices=["", *checkpoint_types.REQUESTABLE]),
        lock_minutes=dict(type="int", default=120),
        operation_timeout=dict(type="int", default=600),
    )
    # Hyper-V's spelling (ProductionOnly) too, as the modules take it.
    TYPE_OPTIONS = ("checkpoint_type",)

    def run_checked(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        change_id = (args["change_id"] or "").strip()
        prefix = args["name_prefix"] or ""
        if not change_id or not prefix or " " in prefix or args["lock_minutes"] < 0:
            return dict(failed=True, msg="change_id is required (e.g. CHG0042); name_prefix must be one word; "
                                         "lock_minutes must be 0 or more")
        options = dict(role_defaults(), safe_change_name_prefix=prefix, safe_change_lock_minutes=args["lock_minutes"],
                       safe_change_checkpoint_type=args["checkpoint_type"],
                       safe_change_operation_timeout=args["operation_timeout"])
        now = utc_now()
        who = args["requested_by"] or requested_by(options, task_vars, self._templar)
        name = names.build_name(prefix, change_id, who, now, manual=True)
        problem = preflight.name_problem(name, 0, now)
        if problem:
            return dict(failed=True, msg=problem)
        vm = args["vm"] or task_vars["inventory_hostname"]
        run = RunState.begin(task_vars["inventory_hostname"], vm, self.host_label(task_vars), change_id, options,
                             now)
        run.checkpoint_name = name
        started = run.to_dict()
        held = host_steps(lambda: self.hyperv_host(task_vars, args["operation_timeout"]), started).hold(
            started, bool(self._task.check_mode))
        if held["outcome"] != "held":
            return dict(failed=True, msg=held["reason"], warnings=[])
        checkpoint = dict(held["checkpoint"], vm_name=vm, vm_id=held.get("vm_id"))
        created = not checkpoint["reused"]
        text = "%s: %s checkpoint '%s' (id %s) of VM %s on %s" % (
            held["host"], ("would take" if self._task.check_mode else "took") if created else "found the",
            checkpoint["name"], checkpoint.get("id") or "-", vm, held["hyperv_host"])
        display.display(text)
        return dict(changed=created, checkpoint=checkpoint, taken_type=checkpoint.pop("taken_type", None),
                    fell_back=checkpoint.pop("fell_back", None), warnings=note_texts(held["notes"]), msg=text)
