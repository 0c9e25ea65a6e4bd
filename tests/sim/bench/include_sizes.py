"""What hyperv_checkpoint_info's include_sizes costs on a large host (docs/host-fidelity.md, "Sizes").

    cd tests/sim && python -m bench.include_sizes [--vms 500] [--checkpoints 10] [--runs 3]

Runs hyperv_checkpoint_info over every VM of one simulated host, with include_sizes false and true,
and prints the controller's wall and CPU time per run and the bytes of the host's answer, and the
Hyper-V cmdlet calls get_vms.ps1 makes on a real host for that many VMs and checkpoints. The
simulator answers the sizes from its model, so its time is the protocol's and the controller's
share only; what Get-VHD costs on a real host, playbooks/probe_host.yml measures there.
"""

from __future__ import annotations

import argparse
import json

from bench.lab import BenchLab
from bench.per_task import playbook
from bench.stats import spread


def host_calls(vms: int, checkpoints: int, sizes: bool) -> dict:
    """Cmdlet calls of get_vms.ps1 for ``vms`` VMs with a chain of ``checkpoints`` each (one disk each).

    Always: Get-VMSnapshot and Get-VMHardDiskDrive -VM per VM. With sizes: Get-VMHardDiskDrive
    -VMSnapshot for every checkpoint with a parent (its frozen disk is its parent's own disk), and
    Get-VHD once per distinct file: each checkpoint's own disk and the base disk (the running disk
    is the current checkpoint's own).
    """
    calls = {"Get-VMSnapshot": vms, "Get-VMHardDiskDrive -VM": vms}
    if sizes and checkpoints:
        calls["Get-VMHardDiskDrive -VMSnapshot"] = vms * (checkpoints - 1)
        calls["Get-VHD"] = vms * (checkpoints + 1)
    return calls


def measure(lab: BenchLab, vms: int, checkpoints: int, runs: int) -> dict:
    host = lab.add_hyperv("hv01")
    host.add_vms(["vm%04d" % number for number in range(vms)], checkpoints_each=checkpoints)
    result = {"vms": vms, "checkpoints_per_vm": checkpoints}
    for sizes in (False, True):
        task = "hyperv.checkpoint.hyperv_checkpoint_info: {include_sizes: %s}" % ("true" if sizes else "false")
        measured = [lab.run(playbook([task])) for dummy in range(runs)]
        result["sizes" if sizes else "no_sizes"] = {
            "wall": spread(run["wall"] for run in measured),
            "cpu": spread(run["cpu"] for run in measured),
            "response_wire_bytes": spread(run["traffic"]["wire_out"] for run in measured),
            "host_cmdlet_calls": host_calls(vms, checkpoints, sizes),
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.include_sizes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vms", type=int, default=500)
    parser.add_argument("--checkpoints", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with BenchLab() as lab:
        print(json.dumps(measure(lab, args.vms, args.checkpoints, args.runs), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
