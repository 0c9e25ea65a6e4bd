"""Figures 3 and 4: a patch window, the safe_change role over many guests of several simulated hosts.

Latencies (seconds at full scale, multiplied by the time scale): Checkpoint-VM 3, the disk
merge after a delete 10 (the role waits for it), the change on the guest 20 (a ``sleep`` run
on the guest through the sim_guest connection, with ``raw``: the guest's work is the wait. With a Python module,
as before 2026-12-07, each simulated guest also ran the module's Python, about 0.26 s of CPU that a real guest
spends on its own CPU and the simulation spends on the controller's two cores; docs/performance.md). One guest's critical path is the same role
run with a single guest; the ideal makespan is ceil(guests / forks) x that critical path.
Times are net of ansible-playbook's start-up (the same inventory with an empty play).
"""

from __future__ import annotations

import math
import os
import re

from bench.stats import spread

FULL_SCALE = {"checkpoint": 3.0, "merge": 10.0, "change": 20.0}
ROLE_SETTINGS = {
    "safe_change_reachable_timeout": 30,
    "safe_change_verify_retries": 0,
    "safe_change_verify_delay": 0,
    "safe_change_summary": False,
}
# As docs/performance.md ("Large windows") and playbooks/patch_window.yml include the role: without Ansible's own
# argument-spec task, whose checks the role's first step makes itself.
PLAY = """- name: Patch window
  hosts: guests
  gather_facts: false
  strategy: {strategy}
  vars:
    safe_change_id: BENCH-1
    safe_change_requested_by: bench
  tasks:
    - name: The change inside a checkpoint
      ansible.builtin.import_role:
        name: hyperv.checkpoint.safe_change
        rolespec_validate: false
"""
EMPTY_PLAY = "- hosts: guests\n  gather_facts: false\n  tasks:\n    - ansible.builtin.meta: noop\n"
CHANGE_TASKS = """- name: Bench change | The guest works for a while (simulated patch)
  ansible.builtin.raw: sleep {{ bench_change_seconds }}
  changed_when: true
"""


def latencies(time_scale: float) -> dict:
    return {name: seconds * time_scale for name, seconds in FULL_SCALE.items()}


def build(lab, guests: int, hosts: int, time_scale: float) -> None:
    """``hosts`` simulated Hyper-V hosts sharing ``guests`` guests round-robin, with the scaled latencies."""
    scaled = latencies(time_scale)
    change_file = lab.tmp / "bench-change.yml"
    change_file.write_text(CHANGE_TASKS)
    names = ["g%04d" % number for number in range(guests)]
    host_names = ["hv%02d" % (number + 1) for number in range(min(hosts, guests))]
    for index, host_name in enumerate(host_names):
        lab.add_hyperv(host_name, vms=names[index::len(host_names)], checkpoint_seconds=scaled["checkpoint"])
        lab.hosts[host_name].set_host(merge_seconds=scaled["merge"])
    for index, name in enumerate(names):
        lab.add_guest(name, host_names[index % len(host_names)], safe_change_tasks=str(change_file),
                      bench_change_seconds=scaled["change"], **ROLE_SETTINGS)


RECAP = re.compile(r"^\S+\s*:\s*ok=(\d+)\s+changed=\d+\s+unreachable=\d+\s+failed=(\d+)\s+skipped=(\d+)", re.M)


def tasks_per_guest(stdout: str) -> float | None:
    """Task results per guest in the recap (ok + failed + skipped), from the lines that made it into ``stdout``."""
    counts = [sum(int(group) for group in match.groups()) for match in RECAP.finditer(stdout)]
    guest_counts = [count for count in counts if count > 1]  # the Hyper-V hosts only show delegated results
    return sum(guest_counts) / len(guest_counts) if guest_counts else None


def play(strategy: str = "linear") -> str:
    """The window's playbook under the play ``strategy`` (linear, or free: docs/performance.md, large windows)."""
    return PLAY.replace("{strategy}", strategy)


def run_window(lab, forks: int, runs: int, strategy: str = "linear") -> dict:
    startup = lab.run(EMPTY_PLAY, forks=forks)
    measured = [lab.run(play(strategy), forks=forks) for dummy in range(runs)]
    return {
        "tasks_per_guest": tasks_per_guest(measured[0]["stdout"]),
        "startup_wall": startup["wall"],
        "wall": spread(run["wall"] - startup["wall"] for run in measured),
        "cpu": spread(run["cpu"] - startup["cpu"] for run in measured),
        "guest_cpu": spread(run["guest_cpu"] for run in measured),
        "round_trips": spread(run["traffic"]["round_trips"] for run in measured),
        "hyperv_tasks": spread(run["traffic"]["shells"] for run in measured),
        "wire_bytes": spread(run["traffic"]["wire_in"] + run["traffic"]["wire_out"] for run in measured),
        "peak_rss_mb": spread(run["peak_rss_mb"] for run in measured),
    }


def critical_path(make_lab, time_scale: float, runs: int, strategy: str = "linear") -> dict:
    """The role for one guest alone: its net wall time and what of it is the simulated work."""
    with make_lab() as lab:
        build(lab, 1, 1, time_scale)
        window = run_window(lab, forks=1, runs=runs, strategy=strategy)
    work = sum(latencies(time_scale).values())
    median = window["wall"]["median"]
    return dict(window, simulated_work=work, role_overhead=median - work)


def measure(make_lab, sizes, hosts: int, forks: int, time_scale: float, runs_for, progress=None,
            strategy: str = "linear") -> dict:
    """Per size: makespan against the ideal, reconstructed at full scale; ``runs_for(size)`` repetitions.

    ``progress(results)`` is called after every size, so a long run keeps what it measured. The reconstruction
    assumes the linear strategy (the controller's work adds to the waiting); at time scale 1 nothing is
    reconstructed, which is how the free strategy is measured (its controller work hides in the waiting).
    """
    critical = critical_path(make_lab, time_scale, runs_for(1), strategy)
    full_work = sum(FULL_SCALE.values())
    results = {"time_scale": time_scale, "hosts": hosts, "forks": forks, "strategy": strategy,
               "latencies": latencies(time_scale),
               "latencies_full_scale": FULL_SCALE, "critical_path": critical, "sizes": {}}
    for size in sizes:
        with make_lab() as lab:
            build(lab, size, hosts, time_scale)
            window = run_window(lab, forks=forks, runs=runs_for(size), strategy=strategy)
        rounds = math.ceil(size / forks)
        ideal = rounds * critical["wall"]["median"]
        makespan = window["wall"]["median"]
        overhead = makespan - ideal
        results["sizes"][str(size)] = dict(
            window,
            guests=size,
            rounds=rounds,
            ideal=ideal,
            makespan_over_ideal=makespan / ideal if ideal else None,
            overhead_beyond_ideal=overhead,
            cpu_per_guest=window["cpu"]["median"] / size,
            # Of it, the simulated guests' own processes (the change's module...): a real guest's, not the
            # controller's. cpu_per_guest keeps them, as it always has, so that figures compare across versions.
            guest_cpu_per_guest=window["guest_cpu"]["median"] / size,
            controller_only_cpu_per_guest=(window["cpu"]["median"] - window["guest_cpu"]["median"]) / size,
            round_trips_per_guest=window["round_trips"]["median"] / size,
            hyperv_tasks_per_guest=window["hyperv_tasks"]["median"] / size,
            # The controller cannot finish sooner than its CPU work spread over every core.
            cpu_bound=window["cpu"]["median"] / (os.cpu_count() or 1),
            # At full scale every round waits the unscaled simulated work; the controller's
            # overhead does not scale with the latencies, so it is carried over as measured.
            ideal_full_scale=rounds * (critical["role_overhead"] + full_work),
            makespan_full_scale=rounds * (critical["role_overhead"] + full_work) + overhead,
        )
        entry = results["sizes"][str(size)]
        entry["makespan_over_ideal_full_scale"] = entry["makespan_full_scale"] / entry["ideal_full_scale"]
        if progress:
            progress(results)
    return results
