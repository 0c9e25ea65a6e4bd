"""Simulated Hyper-V hosts and measured ansible-playbook runs against them."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[3]
SIM_DIR = REPO / "tests" / "sim"
if str(SIM_DIR) not in sys.path:
    sys.path.insert(0, str(SIM_DIR))

from demo.guests import ansible_environment, guest_vars  # noqa: E402
from hyperv_sim.admin import SimHost  # noqa: E402
from hyperv_sim.harness import inventory_vars, running_simulator  # noqa: E402

ANSIBLE_PLAYBOOK = pathlib.Path(sys.executable).parent / "ansible-playbook"
MEASURE = pathlib.Path(__file__).resolve().parent / "measure.py"


class PlaybookFailed(Exception):
    pass


class BenchLab(contextlib.ExitStack):
    """Simulated hosts (started on entry's first ``add_hyperv``, always stopped on exit) and their guests."""

    def __init__(self, collections_path: str | None = None):
        super().__init__()
        self.tmp = pathlib.Path(self.enter_context(tempfile.TemporaryDirectory(prefix="hyperv-bench-")))
        self.collections_path = collections_path or str(REPO / "build" / "collections")
        self.sims = {}
        self.hosts: dict[str, SimHost] = {}
        self.guests: dict[str, dict] = {}
        self.environment: dict[str, str] = {}  # for ansible-playbook, on top of the sim's
        self.callbacks: list[tuple[pathlib.Path, str]] = []  # (directory, name) of extra callbacks
        self.connection = "winrm"  # how the playbooks reach the Hyper-V hosts: winrm, psrp or ssh (by key)
        self._runs = 0

    def add_hyperv(self, name: str, vms=(), **host_settings) -> SimHost:
        sim = self.enter_context(running_simulator(self.tmp / ("%s-state.json" % name), vms=list(vms),
                                                   host_name=name.upper()))
        self.sims[name] = sim
        self.hosts[name] = SimHost(sim.state_path)
        self.hosts[name].set_host(merge_seconds=0, **host_settings)
        return self.hosts[name]

    def add_guest(self, vm: str, hyperv: str, **variables) -> None:
        host = self.hosts[hyperv]
        self.guests[vm] = guest_vars(self.sims[hyperv].state_path, vm, hyperv, host.disk_path(vm), **variables)

    def reset_traffic(self) -> None:
        for host in self.hosts.values():
            host.reset_traffic()

    def traffic(self) -> dict:
        """Round trips and bytes since the reset, summed over the hosts; ``per_shell``: one entry per task."""
        totals, shells = {}, []
        for host in self.hosts.values():
            summary = host.traffic()
            for key, value in summary["totals"].items():
                totals[key] = totals.get(key, 0) + value
            shells.extend(summary["shells"].values())
        return dict(totals, shells=len(shells), per_shell_round_trips=sorted(s["round_trips"] for s in shells))

    def _inventory(self) -> pathlib.Path:
        inventory = {"all": {"children": {
            "hyperv": {"hosts": {name: inventory_vars(sim, self.connection) for name, sim in self.sims.items()}},
            "guests": {"hosts": self.guests},
        }, "vars": {"ansible_python_interpreter": sys.executable}}}
        path = self.tmp / "inventory.json"
        path.write_text(json.dumps(inventory))
        return path

    def run(self, playbook_text: str, forks: int = 5, extra_vars: dict | None = None) -> dict:
        """Run a playbook (YAML text) once, measured; the hosts' traffic of this run in ``traffic``."""
        self._runs += 1
        playbook = self.tmp / ("play-%d.yml" % self._runs)
        playbook.write_text(playbook_text)
        out = self.tmp / ("measure-%d.json" % self._runs)
        command = [sys.executable, str(MEASURE), str(out), "--", str(ANSIBLE_PLAYBOOK), "-i", str(self._inventory()),
                   "--forks", str(forks), str(playbook)]
        if extra_vars:
            command += ["-e", json.dumps(extra_vars)]
        environment = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(self.tmp / "ansible-tmp"))
        environment.update(ansible_environment())
        environment.update(self.environment)
        for directory, name in self.callbacks:
            environment["ANSIBLE_CALLBACK_PLUGINS"] += os.pathsep + str(directory)
            environment["ANSIBLE_CALLBACKS_ENABLED"] += "," + name
        if self.collections_path:
            environment["ANSIBLE_COLLECTIONS_PATH"] = self.collections_path
        guest_cpu_log = self.tmp / ("guest-cpu-%d.log" % self._runs)
        environment["SIM_GUEST_CPU_LOG"] = str(guest_cpu_log)
        self.reset_traffic()
        subprocess.run(command, check=True, env=environment, cwd=str(REPO))
        measured = json.loads(out.read_text())
        # The CPU of the simulated guests' own processes (sim_guest): on a real guest it is not the controller's.
        measured["guest_cpu"] = sum(float(line) for line in guest_cpu_log.read_text().split()) \
            if guest_cpu_log.exists() else 0.0
        if measured["rc"] != 0:
            raise PlaybookFailed("ansible-playbook failed (rc %s):\n%s\n%s"
                                 % (measured["rc"], measured["stdout"], measured["stderr"]))
        measured["traffic"] = self.traffic()
        return measured
