# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST ONLY: write the run's set_stats data and the recap of every host to a JSON file."""

from __future__ import annotations

DOCUMENTATION = """
    name: sim_results
    type: aggregate
    short_description: TEST ONLY - write set_stats data and the play recap to a JSON file
    description:
        - For the tests and the demo of hyperv.checkpoint. At the end of the run it writes a JSON document with
          the keys C(custom) (the set_stats data of the run) and C(recap) (per host C(ok), C(changed), C(failures),
          C(unreachable), ...) to the file named by the environment variable C(SIM_RESULTS_FILE).
        - It writes the file even when a play stopped early, which a final play of the playbook could not do.
    requirements:
        - enable it with ANSIBLE_CALLBACKS_ENABLED=sim_results and ANSIBLE_CALLBACK_PLUGINS=tests/sim/plugins/callback
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "sim_results"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("SIM_RESULTS_FILE")
        if not path:
            return
        recap = {host: stats.summarize(host) for host in sorted(stats.processed)}
        data = {"custom": _plain(stats.custom.get("_run", {})), "recap": _plain(recap)}
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True, default=str)


def _plain(value):
    """Ansible's tagged/lazy containers as plain JSON types."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
