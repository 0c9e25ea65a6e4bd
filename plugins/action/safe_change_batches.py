# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of hyperv.checkpoint.safe_change_batches: playbooks/patch_window.yml's serial batches.

The guests in batches of at most ``batch_size`` that keep every application group (safe_change_group) whole
(_safe_change_groups.batches), on the controller; nothing is sent to any host.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_groups as groups
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._action_base import HyperVActionBase
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_vars import safe_change_group


class ActionModule(HyperVActionBase):

    _requires_connection = False

    ARGUMENT_SPEC = dict(
        hosts_to_batch=dict(type="list", elements="str", default=[]),
        batch_size=dict(type="str", default="1"),
    )

    def run_checked(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        hosts = args["hosts_to_batch"]
        try:
            ordered, sizes = groups.batches(hosts, {host: safe_change_group(task_vars, host) for host in hosts},
                                            args["batch_size"])
        except ValueError as error:
            return dict(failed=True, msg="batch_size must be a number of guests (5) or a percentage (25%%): %s" % error)
        return dict(changed=False, hosts=ordered, batches=sizes or [1],
                    msg="%d guest(s) in %d batch(es) of at most %s, application groups kept whole" % (
                        len(ordered), len(sizes), args["batch_size"]))
