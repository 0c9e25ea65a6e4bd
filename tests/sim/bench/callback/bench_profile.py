# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""BENCH ONLY: where a playbook's time goes, task by task, written to a JSON file."""

from __future__ import annotations

DOCUMENTATION = """
    name: bench_profile
    type: aggregate
    short_description: BENCH ONLY - the wall time and CPU of every task (all hosts) and its action, to a JSON file
    description:
        - For make bench (tests/sim/bench/profile.py). A task's time runs from its start to the next task's start,
          over all hosts, as ansible.posix.profile_tasks measures it; the file named by the environment variable
          C(BENCH_PROFILE_FILE) gets one entry per task run, with the action and the number of host results.
        - A task's CPU is the controller's (ansible-playbook and the workers it reaped) over the same span; a worker
          is reaped when its result is read, so a few milliseconds may fall to the next task.
"""

import json
import os
import resource
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_profile"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._tasks = []
        self._current = None

    @staticmethod
    def _cpu():
        return sum(usage.ru_utime + usage.ru_stime
                   for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))

    def _close(self):
        if self._current is not None:
            self._current["seconds"] = time.monotonic() - self._current.pop("started")
            self._current["cpu"] = self._cpu() - self._current.pop("cpu_started")
            self._tasks.append(self._current)
            self._current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self._current = {"name": task.get_name(), "action": task.action, "delegated": bool(task.delegate_to),
                         "results": 0, "skipped": 0, "started": time.monotonic(), "cpu_started": self._cpu()}

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    def _result(self, result, skipped=False):
        if self._current is not None:
            self._current["results"] += 1
            self._current["skipped"] += int(skipped)

    def v2_runner_on_ok(self, result):
        self._result(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result)

    def v2_runner_on_unreachable(self, result):
        self._result(result)

    def v2_runner_on_skipped(self, result):
        self._result(result, skipped=True)

    def v2_playbook_on_stats(self, stats):
        self._close()
        path = os.environ.get("BENCH_PROFILE_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(self._tasks, handle, indent=1)
