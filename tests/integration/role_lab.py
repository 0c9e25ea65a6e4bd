"""Fixtures for the safe_change role and the playbooks: Hyper-V hosts plus guests.

Built on the same pieces as the ``lab`` fixture of conftest.py (hyperv_sim.harness and
hyperv_sim.admin), but with one or more simulated Hyper-V hosts and guests reached
through the test-only ``sim_guest`` connection (tests/sim/plugins/connection): a guest's
commands run on the controller while its VM runs, and its disk is the VM's disk
directory, so a restored checkpoint truly takes back what a change wrote.

    def test_x(role_lab):
        hv01 = role_lab.add_hyperv("hv01", vms=["web01"])
        role_lab.add_guest("web01", "hv01", files={"www/health": "OK"}, safe_change_tasks=...)
        run = role_lab.playbook("site.yml")
        run.result("web01")["outcome"]
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SIM_DIR = REPO / "tests" / "sim"
TARGET = pathlib.Path(__file__).resolve().parent / "targets" / "safe_change"
for _path in (SIM_DIR, SIM_DIR / "demo"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from guests import GuestWeb, ansible_environment, disk_digest, guest_vars, write_files  # noqa: E402
from hyperv_sim.admin import SimHost  # noqa: E402
from hyperv_sim.harness import inventory_vars, running_simulator  # noqa: E402
from deprecations import SHOW, assert_no_deprecation  # noqa: E402
from isolation import private_socket_dirs  # noqa: E402

ANSIBLE_BIN = pathlib.Path(sys.executable).parent

# Small timeouts: the simulated guests answer at once or never. Load cannot turn one into the other: the
# guest checks always probe once before they look at the clock, and the simulated host starts a VM before it
# answers (start_seconds 0), so a guest that can answer does at the first probe, however slowly it comes.
FAST = {
    "safe_change_reachable_timeout": 3,
    "safe_change_verify_retries": 0,
    "safe_change_verify_delay": 0,
    "safe_change_merge_timeout": 60,
    "safe_change_operation_timeout": 60,
}


class RoleRun:
    """One ansible-playbook run: rc, output, the recap and the safe_change results (set_stats)."""

    def __init__(self, completed, results_file):
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        data = json.loads(results_file.read_text()) if results_file.exists() else {}
        self.custom = data.get("custom", {})
        self.recap = data.get("recap", {})

    @property
    def results(self):
        return self.custom.get("safe_change_results", {})

    def result(self, host):
        assert host in self.results, self
        return self.results[host]

    def __repr__(self):
        return "RoleRun(rc=%s)\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            self.rc, self.stdout[-12000:], self.stderr[-3000:])


class RoleLab:
    """Simulated Hyper-V hosts, their guests, a web server for the guests, and ansible-playbook."""

    def __init__(self, tmp_path, stack):
        self.tmp_path = tmp_path
        self._stack = stack
        self.sims = {}
        self.connections = {}
        self.hosts = {}
        self.guests = {}
        self._vm_host = {}
        self._runs = 0
        self.web = stack.enter_context(GuestWeb(self._state_of))
        self.socket_dirs = stack.enter_context(private_socket_dirs())  # the test's own ssh and connection sockets

    def _state_of(self, vm):
        hyperv = self._vm_host.get(vm)
        return self.sims[hyperv].state_path if hyperv else None

    def add_hyperv(self, name, vms=(), host_name=None, connection="winrm", ssh_auth="key", **transport):
        """Start a simulated Hyper-V host with ``vms`` (all Running), reached over ``connection`` (winrm with NTLM
        and message encryption by default; psrp; or ssh by ``ssh_auth`` key or password; ``transport`` and
        ``tls`` as for running_simulator); returns its SimHost."""
        state = self.tmp_path / ("%s-state.json" % name)
        sim = self._stack.enter_context(running_simulator(state, vms=list(vms), host_name=host_name or name.upper(),
                                                          **transport))
        self.sims[name] = sim
        self.connections[name] = (connection, ssh_auth)
        self.hosts[name] = SimHost(sim.state_path)
        self.hosts[name].set_host(merge_seconds=0)
        for vm in vms:
            self._vm_host[vm] = name
        return self.hosts[name]

    def add_guest(self, name, hyperv="hv01", vm=None, files=None, **variables):
        """A guest (inventory host) for VM ``vm`` (default: ``name``) of ``hyperv``, with files on its disk."""
        vm = vm or name
        host = self.hosts[hyperv]
        self._vm_host[vm] = hyperv
        disk = host.disk_path(vm)
        if files:
            write_files(disk, files)
        settings = dict(FAST)
        settings.update(variables)
        self.guests[name] = guest_vars(self.sims[hyperv].state_path, vm, hyperv, disk, **settings)
        return disk

    def disk(self, name):
        vars_ = self.guests[name]
        return pathlib.Path(vars_["guest_disk_path"])

    def digest(self, name):
        return disk_digest(self.disk(name))

    def host_of(self, name):
        return self.hosts[self.guests[name]["hyperv_host"]]

    def checkpoint_names(self, name):
        return [cp["name"] for cp in self.host_of(name).checkpoints(self.guests[name]["hyperv_vm_name"])]

    def url(self, vm, path):
        return self.web.url(vm, path)

    def write_inventory(self):
        inventory = {
            "all": {
                "children": {
                    "hyperv": {"hosts": {name: inventory_vars(sim, *self.connections[name])
                                         for name, sim in self.sims.items()}},
                    "guests": {"hosts": self.guests},
                },
                "vars": {"ansible_python_interpreter": sys.executable},
            }
        }
        path = self.tmp_path / "inventory.json"
        path.write_text(json.dumps(inventory))
        return path

    def playbook(self, playbook, extra_vars=None, check=False, timeout=240, cwd=REPO, environment=None, limit=None,
                 allowed_deprecations=()):
        """Run ansible-playbook in ``cwd`` (never raises on a failed play, but on a deprecation warning other than
        the ``allowed_deprecations``); ``playbook`` relative to the repository; ``environment``: more environment
        variables."""
        return self.finish(self.start(playbook, extra_vars, check=check, cwd=cwd, environment=environment,
                                      limit=limit), timeout=timeout, allowed_deprecations=allowed_deprecations)

    def start(self, playbook, extra_vars=None, check=False, limit=None, cwd=REPO, environment=None):
        """Start ansible-playbook in its own process group (so a test can kill it with its workers);
        returns a handle for ``finish``."""
        self._runs += 1
        inventory = self.write_inventory()
        results = self.tmp_path / ("results-%d.json" % self._runs)
        command = [str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(inventory), str(REPO / playbook)]
        if extra_vars:
            command += ["-e", json.dumps(extra_vars)]
        if check:
            command.append("--check")
        if limit:
            command += ["--limit", limit]
        run_environment = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                               ANSIBLE_LOCAL_TEMP=str(self.tmp_path / "ansible-tmp"), **self.socket_dirs)
        run_environment.update(ansible_environment(results))
        run_environment.update(environment or {})
        run_environment.update(SHOW)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=run_environment, cwd=str(cwd), start_new_session=True)
        return process, results

    @staticmethod
    def finish(handle, timeout=240, allowed_deprecations=()):
        """Wait for a started run; returns its RoleRun (the process group is killed on a timeout)."""
        process, results = handle
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
        completed = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        assert_no_deprecation(completed, allowed_deprecations)
        return RoleRun(completed, results)


@pytest.fixture
def role_lab(tmp_path):
    """Simulated Hyper-V hosts (add_hyperv) and guests (add_guest); everything stops at the end."""
    with contextlib.ExitStack() as stack:
        yield RoleLab(tmp_path, stack)
