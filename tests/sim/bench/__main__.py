"""``make bench`` (``python -m bench`` from tests/sim): the figures of docs/performance.md.

Modes: default (about 20 minutes on 2 cores; ``--sizes 10,100,400`` adds the largest patch
window), ``--quick`` (a few minutes, fewer runs and sizes), ``--smoke`` (seconds: the test
suite runs it so the bench cannot rot; no baseline, latencies 0). BENCH_TIME_SCALE (default
0.1) multiplies every simulated latency.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys

from bench import host_work, large_host, patch_window, per_task, profile
from bench.lab import REPO, BenchLab
from bench.report import table

MODES = {
    # per-task: tasks per run, runs; large host: VMs, checkpoints, runs; window: sizes, runs per size
    # host work: the VMs of the small and the large host, checkpoints per VM
    "full": dict(tasks=20, runs=3, vms=500, checkpoints=10, large_runs=3, sizes=(10, 100),
                 window_runs={1: 3, 10: 3, 100: 1, 400: 1}, baseline=True, work_hosts=(10, 1000, 5)),
    "quick": dict(tasks=10, runs=1, vms=500, checkpoints=10, large_runs=1, sizes=(10, 100),
                  window_runs={}, baseline=True, work_hosts=(10, 1000, 5)),
    "smoke": dict(tasks=1, runs=1, vms=5, checkpoints=2, large_runs=1, sizes=(), window_runs={}, baseline=False,
                  work_hosts=(2, 5, 1)),
}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_const", const="quick", dest="mode")
    mode.add_argument("--smoke", action="store_const", const="smoke", dest="mode")
    parser.add_argument("--out", default=str(REPO / "bench" / "results.json"), help="results file (JSON)")
    parser.add_argument("--only", choices=("per_task", "large_host", "patch_window", "host_work"), action="append",
                        help="run only these figures (repeatable)")
    parser.add_argument("--sizes", help="guests per patch window, comma-separated (default 10,100; the committed "
                        "results add 400, about 20 more minutes)")
    parser.add_argument("--forks", type=int, default=25)
    parser.add_argument("--strategy", choices=("linear", "free"), default="linear",
                        help="the patch window play's strategy (measure free with BENCH_TIME_SCALE=1: its controller "
                        "work overlaps the waiting, which the time-scale reconstruction does not model)")
    parser.add_argument("--profile", type=int, metavar="GUESTS",
                        help="also profile one patch window of GUESTS guests task by task (results: profile)")
    parser.add_argument("--report", metavar="RESULTS", help="print the table of a results file and exit")
    parser.add_argument("--hosts", type=int, default=4)
    parser.set_defaults(mode="full")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.report:
        print(table(json.loads(pathlib.Path(args.report).read_text())))
        return 0
    config = MODES[args.mode]
    time_scale = float(os.environ.get("BENCH_TIME_SCALE", "0" if args.mode == "smoke" else "0.1"))
    only = set(args.only or (() if args.profile else ("per_task", "large_host", "patch_window", "host_work")))
    collections = None
    implementations = list(per_task.COLLECTION_OVER)
    if config["baseline"]:
        from bench import baseline

        collections = baseline.collections_path()
        implementations.append("win_powershell")
    operations = per_task.OPERATIONS if args.mode != "smoke" else ("noop_create",)

    def make_lab():
        return BenchLab(collections)

    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save():
        # After every figure, so a long run that is stopped keeps what it measured.
        results["machine"]["load_average_at_end"] = os.getloadavg()
        out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")

    results = {}
    if (args.only or args.profile) and out.exists():
        # Re-measuring some figures keeps the others of the same file.
        results = json.loads(out.read_text())
    results.update({"mode": args.mode, "time_scale": time_scale,
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "load_average_at_start": os.getloadavg()}})

    def save_window(window):
        results["patch_window"] = window
        save()

    startup = None
    if "per_task" in only:
        with make_lab() as lab:
            results["per_task"] = per_task.measure(lab, implementations, operations, config["tasks"], config["runs"])
        startup = results["per_task"]["startup"]
        save()
        print(table({"per_task": results["per_task"]}), flush=True)
    if "large_host" in only:
        if startup is None:
            with make_lab() as lab:
                lab.add_hyperv("hv01")
                startup = per_task.startup(lab, config["large_runs"])
        with make_lab() as lab:
            results["large_host"] = large_host.measure(lab, config["vms"], config["checkpoints"], config["large_runs"],
                                                       startup)
        save()
        print(table({"large_host": results["large_host"]}), flush=True)
    if "host_work" in only:
        small, large, checkpoints = config["work_hosts"]
        results["host_work"] = host_work.measure(make_lab, small, large, checkpoints)
        save()
        print(table({"host_work": results["host_work"]}), flush=True)
    if "patch_window" in only:
        sizes = [int(size) for size in args.sizes.split(",")] if args.sizes else config["sizes"]
        results["patch_window"] = patch_window.measure(
            make_lab, sizes, args.hosts, args.forks, time_scale, lambda size: config["window_runs"].get(size, 1),
            progress=save_window, strategy=args.strategy)
        save()
    if args.profile:
        results["profile"] = profile.measure(make_lab, args.profile, args.hosts, args.forks, time_scale)
        save()
    print()
    print(table(results))
    print("\nresults: %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
