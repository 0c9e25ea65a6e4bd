"""Run one command and report its resource use: ``python measure.py OUT.json -- COMMAND...``.

A process of its own per measured run, so that ``RUSAGE_CHILDREN`` holds exactly that run's
controller processes (ansible-playbook and every fork it waited for): CPU seconds, and the
peak resident memory of the largest of them.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    out, separator, command = argv[0], argv[1], argv[2:]
    if separator != "--" or not command:
        raise SystemExit("usage: measure.py OUT.json -- COMMAND...")
    started = time.perf_counter()
    completed = subprocess.run(command, check=False, capture_output=True, text=True)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"rc": completed.returncode, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
                   "peak_rss_mb": usage.ru_maxrss / 1024.0, "stdout": completed.stdout[-4000:],
                   "stderr": completed.stderr[-2000:]}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
