"""The bench (make bench) in its smallest configuration, so that it cannot rot; no figure is asserted."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

SIM_DIR = pathlib.Path(__file__).resolve().parent.parent


def test_the_bench_runs_every_figure_in_smoke_mode(tmp_path):
    out = tmp_path / "results.json"
    # Reached only by a bench that hangs: its smoke run takes well under a minute even on a loaded machine.
    completed = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(out)], cwd=str(SIM_DIR),
                               capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    results = json.loads(out.read_text())
    noop = results["per_task"]["operations"]["noop_create"]
    # What the simulator counted, not a timing: one round trip over each of winrm, psrp and ssh.
    assert [noop[impl]["round_trips"]["median"] for impl in ("collection", "collection_psrp", "collection_ssh")] \
        == [1, 1, 1]
    assert noop["collection_ssh"]["http_requests"]["median"] == 0 and noop["collection_ssh"]["wire_bytes"]["median"] > 0
    assert results["large_host"]["round_trips"]["median"] == 1
    assert results["large_host"]["vms"] == 5
    critical = results["patch_window"]["critical_path"]
    assert critical["round_trips"]["median"] >= 3  # info, create, delete of the one guest
    # The simulated guest's own processes (the change's module) are counted apart: not a timing, the plumbing.
    assert critical["guest_cpu"]["median"] > 0
    assert "per task" in completed.stdout.lower() and "patch window" in completed.stdout.lower()
    assert "collection psrp" in completed.stdout and "collection ssh" in completed.stdout


def test_the_patch_window_bench_runs_under_the_free_strategy(tmp_path):
    out = tmp_path / "results.json"
    completed = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--only", "patch_window", "--strategy", "free",
                                "--sizes", "3", "--forks", "2", "--hosts", "2", "--out", str(out)], cwd=str(SIM_DIR),
                               capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    window = json.loads(out.read_text())["patch_window"]
    assert window["strategy"] == "free" and window["sizes"]["3"]["rounds"] == 2
    # Every guest ran the role (its Hyper-V tasks reached the hosts): the counts, not a timing.
    assert window["sizes"]["3"]["round_trips_per_guest"] >= 3
    assert "strategy free" in completed.stdout
