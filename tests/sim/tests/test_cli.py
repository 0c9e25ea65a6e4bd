"""The simulator's command line: hyperv-sim --help lists every command it runs, as a new user finds them."""

from __future__ import annotations

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
