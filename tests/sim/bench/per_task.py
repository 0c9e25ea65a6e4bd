"""Figure 1: one task's cost, hyperv.checkpoint over winrm, psrp and ssh, and ansible.windows.win_powershell
running the cmdlets over winrm.

Each run is a playbook of ``tasks`` identical tasks against one simulated host (winrm and psrp: NTLM with
message encryption over http, as Ansible's defaults; ssh: Windows OpenSSH with PowerShell as the shell, key
authentication, OpenSSH's ControlPersist as Ansible sets it); per task = (run - the same playbook with no
task) / tasks for CPU and wall, traffic / tasks for round trips and bytes.
Every repetition runs, per implementation, create, no-op create, delete, info in that order: the
deletes remove what the creates made, so every implementation and repetition starts from the same host. The no-op create therefore reads
the VM with the 20 checkpoints just made besides its own (each checkpoint adds about 0.45 KiB to a
read's reply); info reads it with one.
"""

from __future__ import annotations

from bench.stats import ratio, spread

VM = "web01"
EXISTING = "bench-existing"
OPERATIONS = ("create", "noop_create", "delete", "info")
# The implementations: the collection over each connection, and the hand-written baseline over winrm.
CONNECTION_OF = {"collection": "winrm", "collection_psrp": "psrp", "collection_ssh": "ssh", "win_powershell": "winrm"}
COLLECTION_OVER = ("collection", "collection_psrp", "collection_ssh")

COLLECTION_TASKS = {
    "create": "hyperv.checkpoint.hyperv_checkpoint: {vm: %s, name: 'bench-{{ item }}'}" % VM,
    "noop_create": "hyperv.checkpoint.hyperv_checkpoint: {vm: %s, name: %s}" % (VM, EXISTING),
    "delete": "hyperv.checkpoint.hyperv_checkpoint: {vm: %s, name: 'bench-{{ item }}', state: absent}" % VM,
    "info": "hyperv.checkpoint.hyperv_checkpoint_info: {vm: [%s]}" % VM,
}
# What a user would write instead; the simulator answers the exec wrapper with a success and
# does not run these scripts (the host-side work of the baseline is not simulated).
BASELINE_SCRIPTS = {
    "create": "Checkpoint-VM -Name %s -SnapshotName 'bench-{{ item }}'" % VM,
    "noop_create": ("if (Get-VMSnapshot -VMName %s -Name '%s' -ErrorAction SilentlyContinue) "
                    "{ $Ansible.Changed = $false } else { Checkpoint-VM -Name %s -SnapshotName '%s' }"
                    % (VM, EXISTING, VM, EXISTING)),
    "delete": "Get-VMSnapshot -VMName %s -Name 'bench-{{ item }}' | Remove-VMSnapshot -Confirm:$false" % VM,
    "info": ("$Ansible.Changed = $false; Get-VMSnapshot -VMName %s | Select-Object Name, Id, ParentSnapshotId, "
             "CreationTime, SnapshotType" % VM),
}


def task_line(implementation: str, operation: str) -> str:
    if implementation in COLLECTION_OVER:
        return COLLECTION_TASKS[operation]
    return "ansible.windows.win_powershell: {script: %s}" % _yaml_quote(BASELINE_SCRIPTS[operation])


def _yaml_quote(text: str) -> str:
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def playbook(lines: list[str]) -> str:
    body = "".join("    - %s\n" % line for line in lines) or "    - ansible.builtin.meta: noop\n"
    return "- hosts: hyperv\n  gather_facts: false\n  tasks:\n" + body


def startup(lab, runs: int) -> dict:
    """ansible-playbook's own cost: the same playbook with no task (wall, cpu, peak_rss_mb)."""
    empty = [lab.run(playbook([])) for dummy in range(runs)]
    return {key: spread(run[key] for run in empty) for key in ("wall", "cpu", "peak_rss_mb")}


def measure(lab, implementations, operations, tasks: int, runs: int) -> dict:
    """Per implementation and operation: round trips, bytes, CPU and wall per task (median/min/max of ``runs``)."""
    host = lab.add_hyperv("hv01", vms=[VM])
    host.add_checkpoint(VM, EXISTING)
    base = startup(lab, runs)
    samples = {(impl, op): [] for impl in implementations for op in operations}
    for repetition in range(runs):
        # One implementation's four operations at a time: its deletes remove what its creates made, so the
        # 50-checkpoint limit is never near and every implementation starts from the same host.
        for impl in implementations:
            for op in operations:
                items = ["%s-%d-%d" % (impl, repetition, index) for index in range(tasks)]
                lines = [task_line(impl, op).replace("{{ item }}", item) for item in items]
                lab.connection = CONNECTION_OF[impl]
                samples[(impl, op)].append(lab.run(playbook(lines)))
    lab.connection = "winrm"
    results = {"tasks_per_run": tasks, "runs": runs, "startup": base, "operations": {}}
    for op in operations:
        per_op = {}
        for impl in implementations:
            per_op[impl] = _per_task(samples[(impl, op)], base, tasks)
        if "collection" in per_op and "win_powershell" in per_op:
            per_op["ratio"] = {key: ratio(per_op["collection"][key]["median"], per_op["win_powershell"][key]["median"])
                               for key in ("round_trips", "wire_bytes", "cpu", "wall")}
        results["operations"][op] = per_op
    return results


def _per_task(runs: list[dict], startup: dict, tasks: int) -> dict:
    def per(values):
        return spread(value / tasks for value in values)

    return {
        "round_trips": per(run["traffic"]["round_trips"] for run in runs),
        "http_requests": per(run["traffic"]["http_requests"] for run in runs),
        "wire_bytes": per(run["traffic"]["wire_in"] + run["traffic"]["wire_out"] for run in runs),
        "wire_sent": per(run["traffic"]["wire_in"] for run in runs),
        "wire_received": per(run["traffic"]["wire_out"] for run in runs),
        "soap_bytes": per(run["traffic"]["soap_in"] + run["traffic"]["soap_out"] for run in runs),
        "cpu": per(run["cpu"] - startup["cpu"]["median"] for run in runs),
        "wall": per(run["wall"] - startup["wall"]["median"] for run in runs),
        "shells_per_task": per(run["traffic"]["shells"] for run in runs),
    }
