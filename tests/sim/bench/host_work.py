"""Figure 5: the host-side work of one operation on a small and on a large host (issue 23).

The wire does not show what a task costs on the host: a read that lists every VM of the host builds
every VM's object there. The simulator counts what each operation's script asks of Hyper-V, the
Hyper-V and FailoverClusters cmdlet calls and the objects they return (hyperv_sim.work_log). Each
operation below runs as a one-task playbook on a host of ``small`` VMs and on one of ``large`` VMs
(``checkpoints`` checkpoints each, the VM addressed in the middle of the names); the figure is each
task's work on both hosts and the large host's over the small one's.
"""

from __future__ import annotations

from bench.per_task import playbook
from bench.stats import ratio

CHECKPOINT = "bench-work"
# (label, task): %(vm)s is the VM's name, %(id)s its id. Run in this order: the create makes the checkpoint the
# no-op create, the restore and the delete find.
OPERATIONS = (
    ("info by name", "hyperv.checkpoint.hyperv_checkpoint_info: {vm: [%(vm)s], include_sizes: false}"),
    ("info by id", "hyperv.checkpoint.hyperv_checkpoint_info: {vm_id: [%(id)s], include_sizes: false}"),
    ("create", "hyperv.checkpoint.hyperv_checkpoint: {vm: %(vm)s, name: " + CHECKPOINT + "}"),
    ("no-op create", "hyperv.checkpoint.hyperv_checkpoint: {vm: %(vm)s, name: " + CHECKPOINT + "}"),
    ("restore", "hyperv.checkpoint.hyperv_checkpoint: {vm: %(vm)s, name: " + CHECKPOINT + ", state: restored}"),
    ("delete", "hyperv.checkpoint.hyperv_checkpoint: {vm: %(vm)s, name: " + CHECKPOINT + ", state: absent}"),
)


def work_of_host(lab, vms: int, checkpoints: int) -> dict:
    """{operation label: the host's work (work_log.summarize)} of each operation on a new host of ``vms`` VMs."""
    host = lab.add_hyperv("hv01")
    names = ["vm%04d" % number for number in range(vms)]
    host.add_vms(names, checkpoints_each=checkpoints)
    target = names[len(names) // 2]
    values = {"vm": target, "id": host.vm(target)["id"]}
    measured = {}
    for label, task in OPERATIONS:
        host.reset_work()
        lab.run(playbook([task % values]))
        measured[label] = host.work()
    return measured


def measure(make_lab, small: int, large: int, checkpoints: int) -> dict:
    """``make_lab``: a new BenchLab (one per host size)."""
    with make_lab() as lab:
        on_small = work_of_host(lab, small, checkpoints)
    with make_lab() as lab:
        on_large = work_of_host(lab, large, checkpoints)
    operations = {}
    for label, dummy in OPERATIONS:
        operations[label] = {
            "small": on_small[label], "large": on_large[label],
            "calls_ratio": ratio(on_large[label]["calls"], on_small[label]["calls"]),
            "objects_ratio": ratio(on_large[label]["objects"], on_small[label]["objects"]),
        }
    return {"small_vms": small, "large_vms": large, "checkpoints_per_vm": checkpoints, "operations": operations}
