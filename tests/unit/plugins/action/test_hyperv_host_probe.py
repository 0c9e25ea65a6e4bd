# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hyperv_host_probe's action runs every experiment, compares, and refuses a VM with checkpoints (fake host)."""

from __future__ import annotations

from types import SimpleNamespace

from ansible_collections.hyperv.checkpoint.plugins.action import hyperv_host_probe as action
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _host_assumptions as host_assumptions

import hyperv_records as records


class FakeHost:
    host_name = "hv01"

    def __init__(self, vm):
        self.vm = vm
        self.probed = []

    def get_vm_with_checkpoints(self, name=None, vm_id=None, include_sizes=False):
        return records.host_record(), self.vm

    def probe(self, vm_id, experiment):
        self.probed.append(experiment)
        return {"experiment": experiment, "observations": {"state_after_restore": "Running"}, "host": {}}


def run(monkeypatch, args, vm, check_mode=False):
    task = SimpleNamespace(args=dict(args), check_mode=check_mode, diff=False, async_val=0, action="hyperv_host_probe",
                           delegate_to=None)
    plugin = action.ActionModule(task, SimpleNamespace(_shell=SimpleNamespace(tmpdir=None)), None, None, None)
    fake = FakeHost(vm)
    monkeypatch.setattr(plugin, "hyperv_host", lambda task_vars, timeout, follow=True: fake)
    return plugin.run(task_vars={}), fake


def test_every_experiment_runs_and_is_compared(monkeypatch):
    result, fake = run(monkeypatch, {"vm": "probe01"}, records.vm(name="probe01"))
    assert fake.probed == list(host_assumptions.EXPERIMENTS)
    assert result["changed"] and not result.get("failed")
    rows = {row["id"]: row for row in result["assumptions"]}
    assert rows["restore_restarts_a_running_vm"]["status"] == "as_assumed"
    assert rows["restore_of_production_ends_off"]["status"] == "differs"  # the fake answers Running for all
    assert "restore_of_production_ends_off" in result["differences"]


def test_a_vm_with_checkpoints_is_refused_and_check_mode_skips(monkeypatch):
    vm = records.vm(name="probe01", checkpoints=[records.checkpoint(1, "keep")], current=1)
    result, fake = run(monkeypatch, {"vm": "probe01", "experiments": ["volumes"]}, vm)
    assert result["failed"] and result["error_code"] == "vm_has_checkpoints" and fake.probed == []
    result, fake = run(monkeypatch, {"vm": "probe01"}, records.vm(name="probe01"), check_mode=True)
    assert result["skipped"] and fake.probed == []
