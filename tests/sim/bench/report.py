"""The bench's table, from the results dictionary (the same one written to bench/results.json)."""

from __future__ import annotations

LABELS = {"create": "create", "noop_create": "no-op create", "delete": "delete", "info": "info (1 VM)"}
IMPLEMENTATIONS = {"collection": "collection winrm", "collection_psrp": "collection psrp",
                   "collection_ssh": "collection ssh", "win_powershell": "win_powershell*"}


def _fmt(figure, unit="", digits=2) -> str:
    if figure is None or figure.get("median") is None:
        return "-"
    if figure["runs"] == 1:
        return "%.*f%s" % (digits, figure["median"], unit)
    return "%.*f%s [%.*f..%.*f]" % (digits, figure["median"], unit, digits, figure["min"], digits, figure["max"])


def _kb(figure) -> dict | None:
    if figure is None or figure.get("median") is None:
        return figure
    return {key: (value / 1024.0 if key != "runs" and value is not None else value) for key, value in figure.items()}


def per_task_table(section: dict) -> list[str]:
    lines = ["1. Per task (median [min..max] of %d runs of %d tasks; start-up of %.2f s wall / %.2f s CPU subtracted)"
             % (section["runs"], section["tasks_per_run"], section["startup"]["wall"]["median"],
                section["startup"]["cpu"]["median"]),
             "   %-13s %-17s %-11s %-26s %-24s %-24s" % (
                 "operation", "implementation", "round trips", "wire KiB (sent+received)", "controller CPU s",
                 "wall s")]
    ordered = [op for op in LABELS if op in section["operations"]]
    for op in ordered:
        per_op = section["operations"][op]
        for impl in IMPLEMENTATIONS:
            if impl not in per_op:
                continue
            figures = per_op[impl]
            lines.append("   %-13s %-17s %-11s %-26s %-24s %-24s" % (
                LABELS[op], IMPLEMENTATIONS[impl],
                _fmt(figures["round_trips"], digits=1), _fmt(_kb(figures["wire_bytes"]), digits=1),
                _fmt(figures["cpu"]), _fmt(figures["wall"])))
        if "ratio" in per_op:
            ratio = per_op["ratio"]
            lines.append("   %-13s %-17s %-11s %-26s %-24s %-24s" % (
                "", "ratio (winrm)", "%.2f" % ratio["round_trips"], "%.3f" % ratio["wire_bytes"],
                "%.2f" % ratio["cpu"] if ratio["cpu"] is not None else "-",
                "%.2f" % ratio["wall"] if ratio["wall"] is not None else "-"))
    lines.append("   winrm, psrp: NTLM with message encryption over http, bytes are HTTP bodies as encrypted on the "
                 "wire; ssh: the whole TCP stream (encrypted, key exchange when a new")
    lines.append("   connection is made); controller CPU of ssh leaves out OpenSSH's ControlPersist master, which runs "
                 "detached from ansible-playbook.")
    lines.append("   * win_powershell (over winrm): transport only - the simulator answers Ansible's exec wrapper with a "
                 "success and does not simulate its host-side work")
    lines.append("     (compiling Ansible.Basic, starting the module). microsoft.hyperv's hv_checkpoint is a "
                 ".ps1 module with the same exec wrapper: same transport.")
    return lines


def large_host_table(section: dict) -> list[str]:
    return [
        "2. hyperv_checkpoint_info of a whole host: %d VMs x %d checkpoints" % (
            section["vms"], section["checkpoints_per_vm"]),
        "   round trips %s; response %s KiB on the wire (%s KiB SOAP); wall %s s; controller CPU %s s; "
        "controller peak RSS %s MiB (%s MiB for the same playbook without the task)" % (
            _fmt(section["round_trips"], digits=0), _fmt(_kb(section["response_wire_bytes"]), digits=0),
            _fmt(_kb(section["response_soap_bytes"]), digits=0), _fmt(section["wall"]), _fmt(section["cpu"]),
            _fmt(section["peak_rss_mb"], digits=0), _fmt(section["peak_rss_mb_without_task"], digits=0)),
    ]


def host_work_table(section: dict) -> list[str]:
    lines = [
        "5. Host-side work of one task: Hyper-V and cluster cmdlet calls / objects they returned, on a host of %d VMs "
        "and one of %d (%d checkpoints each)" % (section["small_vms"], section["large_vms"], section["checkpoints_per_vm"]),
        "   %-14s %-16s %-16s %-14s" % ("operation", "%d VMs" % section["small_vms"], "%d VMs" % section["large_vms"],
                                        "large / small"),
    ]
    for label, entry in section["operations"].items():
        lines.append("   %-14s %-16s %-16s %-14s" % (
            label, "%d / %d" % (entry["small"]["calls"], entry["small"]["objects"]),
            "%d / %d" % (entry["large"]["calls"], entry["large"]["objects"]),
            "%.2f / %.2f" % (entry["calls_ratio"] or 0, entry["objects_ratio"] or 0)))
    return lines


def patch_window_table(section: dict) -> list[str]:
    critical = section["critical_path"]
    scale = section["time_scale"]
    lines = [
        "3./4. Patch window: safe_change role, %d simulated hosts, forks %d, strategy %s, time scale %g (latencies: "
        "checkpoint %.1f s, merge %.1f s, change %.1f s)" % (
            section["hosts"], section["forks"], section.get("strategy", "linear"), scale,
            section["latencies"]["checkpoint"],
            section["latencies"]["merge"], section["latencies"]["change"]),
        "   one guest's critical path %s s = simulated work %.1f s + role overhead %.1f s; %s task results per guest, "
        "%s of them Hyper-V tasks (%s round trips)" % (
            _fmt(critical["wall"]), critical["simulated_work"], critical["role_overhead"],
            _num(critical.get("tasks_per_guest")), _num(critical["hyperv_tasks"]["median"]),
            _num(critical["round_trips"]["median"])),
        "   %-7s %-22s %-8s %-7s %-20s %-9s %-7s %-6s %-7s %-22s" % (
            "guests", "makespan s", "ideal s", "/ideal", "controller CPU s", "CPU/core", "CPU/g", "RT/g", "KiB/g",
            "full scale: makespan/ideal"),
    ]
    for size, entry in sorted(section["sizes"].items(), key=lambda item: int(item[0])):
        lines.append("   %-7s %-22s %-8.1f %-7.2f %-20s %-9.1f %-7.2f %-6.1f %-7.1f %-22s" % (
            size, _fmt(entry["wall"], digits=1), entry["ideal"], entry["makespan_over_ideal"],
            _fmt(entry["cpu"], digits=1), entry["cpu_bound"], entry["cpu_per_guest"], entry["round_trips_per_guest"],
            entry["wire_bytes"]["median"] / 1024.0 / entry["guests"],
            "%.0f / %.0f s = %.2f" % (entry["makespan_full_scale"], entry["ideal_full_scale"],
                                      entry["makespan_over_ideal_full_scale"])))
    lines.append("   CPU/core: controller CPU seconds / cores, the least time the run can take on this controller; "
                 "CPU/g, RT/g (round trips), KiB/g (on the wire): per guest.")
    split = [(size, entry) for size, entry in sorted(section["sizes"].items(), key=lambda item: int(item[0]))
             if entry.get("guest_cpu_per_guest") is not None]
    if split:
        lines.append("   CPU/g includes the simulated guests' own processes (the change and the checks run on the "
                     "controller here); without them: " + ", ".join("%s guests %.2f s (guests' own %.2f s)" % (
                         size, entry["controller_only_cpu_per_guest"], entry["guest_cpu_per_guest"])
                         for size, entry in split))
    lines.append("   full scale: ideal and makespan with the unscaled latencies, the measured controller "
                 "overhead carried over (docs/performance.md).")
    return lines


def _num(value) -> str:
    return "-" if value is None else "%g" % round(value, 1)


def profile_table(section: dict) -> list[str]:
    total = sum(entry["seconds"] for entry in section["by_kind"].values()) or 1.0
    lines = ["Profile: one patch window of %d guests, time scale %g: %.1f s wall, %.1f s controller CPU; the time of "
             "each task over all guests" % (section["guests"], section["time_scale"], section["wall"], section["cpu"])]
    for name, entry in sorted(section["by_kind"].items(), key=lambda item: -item[1]["seconds"]):
        lines.append("   %-11s %3d tasks %7.1f s  %3.0f%%  %6.1f s CPU" % (
            name, entry["tasks"], entry["seconds"], 100.0 * entry["seconds"] / total, entry.get("cpu", 0.0)))
    for task in section["top_tasks"]:
        lines.append("   %7.2f s  %-10s %s" % (task["seconds"], task["kind"], task["name"]))
    if section.get("top_tasks_by_cpu"):
        lines.append("   The tasks that took the most controller CPU (all guests):")
        for task in section["top_tasks_by_cpu"]:
            lines.append("   %7.2f s CPU  %4d results  %-10s %s" % (task["cpu"], task["results"], task["kind"], task["name"]))
    return lines


def table(results: dict) -> str:
    lines = ["hyperv.checkpoint bench: WinRM over http, NTLM with message encryption, unless a row names psrp or "
             "ssh; bytes are HTTP bodies as encrypted on the wire (headers not counted)", ""]
    if "per_task" in results:
        lines += per_task_table(results["per_task"]) + [""]
    if "large_host" in results:
        lines += large_host_table(results["large_host"]) + [""]
    if "host_work" in results:
        lines += host_work_table(results["host_work"]) + [""]
    if "patch_window" in results:
        lines += patch_window_table(results["patch_window"]) + [""]
    if "profile" in results:
        lines += profile_table(results["profile"])
    return "\n".join(lines)
