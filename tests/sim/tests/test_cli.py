"""The simulator's command line: hyperv-sim --help lists every command it runs, as a new user finds them."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

HYPERV_SIM = pathlib.Path(__file__).resolve().parents[1] / "hyperv-sim"


def run(*args):
    # Reached only by a hung process: starting Python can take seconds beside another worker's playbook.
    return subprocess.run([sys.executable, str(HYPERV_SIM), *args], capture_output=True, text=True, timeout=60,
                          check=False)


def test_help_lists_every_command_and_each_command_has_its_own_help():
    completed = run("--help")
    assert completed.returncode == 0, completed.stderr
    assert "{admin,serve}" in completed.stdout
    for command in ("admin", "serve"):
        helped = run(command, "--help")
        assert helped.returncode == 0, helped.stderr
        assert helped.stdout.startswith("usage: hyperv-sim %s" % command)


def test_admin_set_times_sets_how_long_the_hosts_cmdlets_take(tmp_path):
    """For users testing their own playbooks' waits against the simulator (a merge that runs a while)."""
    state = str(tmp_path / "state.json")
    assert run("admin", "--state", state, "add-vm", "web01").returncode == 0
    completed = run("admin", "--state", state, "set-times", "--merge-seconds", "30", "--start-seconds", "2.5")
    assert completed.returncode == 0, completed.stderr
    host = json.loads(run("admin", "--state", state, "show").stdout)["host"]
    assert (host["merge_seconds"], host["start_seconds"]) == (30.0, 2.5)
    for wrong in ([], ["--merge-seconds", "-1"]):
        refused = run("admin", "--state", state, "set-times", *wrong)
        assert refused.returncode == 1 and refused.stderr.startswith("hyperv-sim admin: set-times"), refused
