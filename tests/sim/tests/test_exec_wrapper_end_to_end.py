"""A real ansible-playbook run of a PowerShell module against the simulator: the exec wrapper is
recognised and answered (host-side work not simulated), and its traffic is counted."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

from hyperv_sim.admin import SimHost
from hyperv_sim.harness import inventory_vars, running_simulator

LIBRARY = pathlib.Path(__file__).resolve().parent / "library"
PLAY = """- hosts: hv01
  gather_facts: false
  tasks:
    - sim_ps_module: {script: "Checkpoint-VM -Name web01"}
      register: outcome
    - ansible.builtin.assert: {that: [outcome.changed, "outcome.output == []"]}
"""


def test_a_powershell_module_runs_through_the_exec_wrapper_in_one_round_trip(tmp_path):
    with running_simulator(tmp_path / "state.json", vms=["web01"]) as sim:
        host = SimHost(sim.state_path)
        (tmp_path / "inventory.json").write_text(json.dumps({"all": {"hosts": {"hv01": inventory_vars(sim)}}}))
        (tmp_path / "play.yml").write_text(PLAY)
        host.reset_traffic()
        # Reached only by a playbook that hangs: one task, which a loaded machine stretches to seconds, not minutes.
        completed = subprocess.run(
            [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp_path / "inventory.json"),
             str(tmp_path / "play.yml")],
            env=dict(os.environ, ANSIBLE_LIBRARY=str(LIBRARY), ANSIBLE_NOCOLOR="1"),
            capture_output=True, text=True, timeout=120, check=False)
        traffic = host.traffic()
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert traffic["commands"] == {"exec_wrapper:ansible.legacy.sim_ps_module": 1}
    assert traffic["totals"]["round_trips"] == 1
    # the manifest carries Ansible.Basic.cs: far more than the module's own few hundred bytes
    assert traffic["totals"]["wire_in"] > 100 * 1024
    assert host.checkpoints("web01") == []
