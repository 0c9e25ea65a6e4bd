"""Where a patch window's time goes: every task of the role, by kind (``--profile GUESTS``).

One window of the role (same latencies as figures 3-4) with the bench_profile callback:
the time of each task over all guests, grouped into collection tasks (this collection's actions: the
role's steps, which work on the Hyper-V host or check the guest), guest tasks (modules that run on the
guest: the change) and controller-only tasks (set_fact, include_*, the argument check, skipped tasks...).
"""

from __future__ import annotations

import json
import pathlib

from bench import patch_window

CALLBACK_DIR = pathlib.Path(__file__).resolve().parent / "callback"
GUEST_ACTIONS = {"ansible.builtin.command", "ansible.builtin.shell", "ansible.builtin.raw", "ansible.builtin.copy",
                 "ansible.builtin.file", "ansible.builtin.wait_for_connection", "ansible.builtin.ping",
                 "command", "shell", "raw", "wait_for_connection"}


def kind(task: dict) -> str:
    if task["action"].startswith("hyperv.checkpoint."):
        return "collection"
    if task["action"] in GUEST_ACTIONS and task["results"] > task["skipped"]:
        return "guest"
    return "controller"


def measure(make_lab, guests: int, hosts: int, forks: int, time_scale: float) -> dict:
    with make_lab() as lab:
        patch_window.build(lab, guests, hosts, time_scale)
        profile_file = lab.tmp / "profile.json"
        lab.environment["BENCH_PROFILE_FILE"] = str(profile_file)
        lab.callbacks.append((CALLBACK_DIR, "bench_profile"))
        run = lab.run(patch_window.play(), forks=forks)
        tasks = json.loads(profile_file.read_text())
    by_kind = {}
    for task in tasks:
        entry = by_kind.setdefault(kind(task), {"tasks": 0, "seconds": 0.0, "cpu": 0.0})
        entry["tasks"] += 1
        entry["seconds"] += task["seconds"]
        entry["cpu"] += task["cpu"]
    top = sorted(tasks, key=lambda task: task["seconds"], reverse=True)[:12]
    by_cpu = sorted(tasks, key=lambda task: task["cpu"], reverse=True)[:12]
    return {"guests": guests, "time_scale": time_scale, "wall": run["wall"], "cpu": run["cpu"],
            "by_kind": by_kind, "top_tasks": [dict(task, kind=kind(task)) for task in top],
            "top_tasks_by_cpu": [dict(task, kind=kind(task)) for task in by_cpu], "task_runs": len(tasks)}
