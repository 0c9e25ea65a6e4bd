"""Figure 2: hyperv_checkpoint_info of a whole large host (default 500 VMs x 10 checkpoints) in one task."""

from __future__ import annotations

from bench.per_task import playbook
from bench.stats import spread

INFO_ALL = "hyperv.checkpoint.hyperv_checkpoint_info: {include_sizes: false}"


def measure(lab, vms: int, checkpoints: int, runs: int, startup: dict) -> dict:
    """``startup``: per_task.startup() of a one-host lab (the playbook's cost without the task)."""
    host = lab.add_hyperv("hv01")
    host.add_vms(["vm%04d" % number for number in range(vms)], checkpoints_each=checkpoints)
    measured = [lab.run(playbook([INFO_ALL])) for dummy in range(runs)]
    startup_wall = startup["wall"]["median"]
    startup_cpu = startup["cpu"]["median"]
    return {
        "vms": vms,
        "checkpoints_per_vm": checkpoints,
        "round_trips": spread(run["traffic"]["round_trips"] for run in measured),
        "response_wire_bytes": spread(run["traffic"]["wire_out"] for run in measured),
        "response_soap_bytes": spread(run["traffic"]["soap_out"] for run in measured),
        "wall": spread(run["wall"] - startup_wall for run in measured),
        "cpu": spread(run["cpu"] - startup_cpu for run in measured),
        "peak_rss_mb": spread(run["peak_rss_mb"] for run in measured),
        "peak_rss_mb_without_task": startup["peak_rss_mb"],
    }
