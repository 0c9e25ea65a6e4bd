# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hyperv_host_probe: its documentation matches its action plugin and renders; the action runs every experiment,
compares, and refuses a VM with checkpoints (against a fake host)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from types import SimpleNamespace

import yaml

from ansible_collections.hyperv.checkpoint.plugins.action import hyperv_host_probe as action
from ansible_collections.hyperv.checkpoint.plugins.modules import hyperv_host_probe as module_doc
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _host_assumptions as host_assumptions

import hyperv_records as records

FQCN = "hyperv.checkpoint.hyperv_host_probe"
ANSIBLE_DOC = pathlib.Path(sys.executable).parent / "ansible-doc"


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(module_doc.DOCUMENTATION)
    assert doc["module"] == "hyperv_host_probe" and doc["version_added"] == "0.2.0"
    spec = action.ActionModule.ARGUMENT_SPEC
    assert sorted(doc["options"]) == sorted(spec)
    for name, option in spec.items():
        for key in ("type", "default", "choices", "elements"):
            assert doc["options"][name].get(key) == option.get(key), (name, key)
    assert {name for name in vars(module_doc) if not name.startswith("__")} == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert all(task["hyperv.checkpoint.hyperv_host_probe"]["vm"] for task in yaml.safe_load(module_doc.EXAMPLES)
               if "hyperv.checkpoint.hyperv_host_probe" in task)


def test_ansible_doc_renders_it_without_warnings():
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    completed = subprocess.run([str(ANSIBLE_DOC), "-t", "module", FQCN, "--json"], env=env, capture_output=True,
                               text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    assert "[WARNING]" not in completed.stderr
    data = json.loads(completed.stdout)[FQCN]
    assert set(data["return"]) == set(yaml.safe_load(module_doc.RETURN))


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
    monkeypatch.setattr(plugin, "hyperv_host", lambda task_vars, timeout: fake)
    return plugin.run(task_vars={}), fake


def test_every_experiment_runs_and_is_compared(monkeypatch):
    result, fake = run(monkeypatch, {"vm": "probe01"}, records.vm(name="probe01"))
    assert fake.probed == list(host_assumptions.EXPERIMENTS)
    assert result["changed"] and not result.get("failed")
    rows = {row["id"]: row for row in result["assumptions"]}
    assert rows["restore_restarts_a_running_vm"]["status"] == "as_assumed"
    assert rows["restore_of_production_ends_off"]["status"] == "differs"  # the fake answers Running for all
    assert "restore_of_production_ends_off" in result["differences"]
    returned = set(result) - {"changed", "failed", "msg"}
    assert returned <= set(yaml.safe_load(module_doc.RETURN))


def test_a_vm_with_checkpoints_is_refused_and_check_mode_skips(monkeypatch):
    vm = records.vm(name="probe01", checkpoints=[records.checkpoint(1, "keep")], current=1)
    result, fake = run(monkeypatch, {"vm": "probe01", "experiments": ["volumes"]}, vm)
    assert result["failed"] and result["error_code"] == "vm_has_checkpoints" and fake.probed == []
    result, fake = run(monkeypatch, {"vm": "probe01"}, records.vm(name="probe01"), check_mode=True)
    assert result["skipped"] and fake.probed == []
