#!/usr/bin/env python3
"""Measure what a hyperv_checkpoint task costs against the simulated host: ``make bench``.

Runs playbooks over WinRM (NTLM with message encryption) against a fresh simulator and
reports seconds per task, with the playbook's start-up subtracted (a run of the same
playbook with no Hyper-V task). Figures depend on the machine; the round-trip counts
do not (they are asserted by tests/integration/test_hyperv_checkpoint.py).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "sim"))

from hyperv_sim.harness import inventory_vars, running_simulator  # noqa: E402

TASKS = {
    "baseline (no Hyper-V task)": "    - ansible.builtin.meta: noop\n",
    "present, no change (1 round trip)": "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: bench-existing}\n",
    "info of one VM (1 round trip)": "    - hyperv.checkpoint.hyperv_checkpoint_info: {vm: web01}\n",
    "create + delete (2 + 2 round trips)": (
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: 'bench-{{ item }}'}\n"
        "      loop: [1]\n"
        "    - hyperv.checkpoint.hyperv_checkpoint: {vm: web01, name: 'bench-{{ item }}', state: absent}\n"
        "      loop: [1]\n"),
}


def playbook(path, task, repeat):
    body = "".join(task.replace("[1]", "[%d]" % i) for i in range(repeat))
    path.write_text("- hosts: hyperv\n  gather_facts: false\n  tasks:\n" + body)
    return path


def timed_run(inventory, play):
    command = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(play)]
    started = time.perf_counter()
    completed = subprocess.run(command, check=False, capture_output=True, text=True, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit("benchmark playbook failed:\n" + completed.stdout[-3000:])
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=20, help="tasks per playbook run (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement; the median is reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        with running_simulator(tmp / "state.json", vms=["web01"]) as sim:
            from hyperv_sim.admin import SimHost

            host = SimHost(sim.state_path)
            host.set_host(merge_seconds=0)
            host.add_checkpoint("web01", "bench-existing")
            inventory = tmp / "inventory.json"
            inventory.write_text(json.dumps({"hyperv": {"hosts": {"hv01": inventory_vars(sim)}}}))
            medians = {}
            for label, task in TASKS.items():
                repeat = 1 if label.startswith("baseline") else args.tasks
                play = playbook(tmp / "bench.yml", task, repeat)
                medians[label] = (statistics.median(timed_run(inventory, play) for dummy in range(args.runs)), repeat)
    baseline = medians.pop("baseline (no Hyper-V task)")[0]
    print("hyperv.checkpoint against the simulated host (WinRM, NTLM, message encryption); "
          "median of %d runs, %d tasks each, start-up of %.2fs subtracted" % (args.runs, args.tasks, baseline))
    for label, (seconds, repeat) in medians.items():
        print("  %-40s %6.3f s per task" % (label, (seconds - baseline) / repeat / (2 if "+" in label else 1)))


if __name__ == "__main__":
    main()
