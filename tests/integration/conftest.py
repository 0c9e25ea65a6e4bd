"""Integration tests: real ansible-playbook runs over WinRM against the simulated Hyper-V host.

Each test gets its own simulator process on a free port (started and always
stopped by hyperv_sim.harness.running_simulator) and its own state file, so tests
are independent and can run in parallel.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SIM_DIR = REPO / "tests" / "sim"
TARGETS = pathlib.Path(__file__).resolve().parent / "targets"
sys.path.insert(0, str(SIM_DIR))

from hyperv_sim.admin import SimHost  # noqa: E402
from hyperv_sim.harness import inventory_vars, running_simulator  # noqa: E402
from hyperv_sim.kerberos_realm import running_realm  # noqa: E402
from deprecations import SHOW, assert_no_deprecation  # noqa: E402
from isolation import private_socket_dirs  # noqa: E402

ANSIBLE_BIN = pathlib.Path(sys.executable).parent


class PlaybookRun:
    """The outcome of one ansible-playbook run: rc, output, and the recap per host."""

    def __init__(self, completed):
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr

    def __repr__(self):
        return "PlaybookRun(rc=%s)\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            self.rc, self.stdout[-6000:], self.stderr[-3000:])


class Lab:
    """A simulated Hyper-V host plus what a test needs to run playbooks against it."""

    def __init__(self, tmp_path, sim, connection="winrm", ssh_auth="key", socket_dirs=None):
        self.tmp_path = tmp_path
        self.socket_dirs = socket_dirs or {}  # the test's own ssh and persistent connection sockets
        self.sim = sim
        self.host = SimHost(sim.state_path)
        self.inventory = tmp_path / "inventory.json"
        self.extra_hosts = {}
        self.connection = connection  # how the play reaches hv01: winrm, psrp or ssh (by key or password)
        self.ssh_auth = ssh_auth
        self.env = {}  # more environment for every run (a Kerberos realm's KRB5_CONFIG and ticket cache)
        self.host_vars = {}  # more variables of hv01, over inventory_vars' (kinit mode, a hostname override)

    def write_inventory(self):
        hyperv = {"hv01": dict(inventory_vars(self.sim, self.connection, self.ssh_auth), **self.host_vars)}
        inventory = {
            "all": {
                "children": {
                    "hyperv": {"hosts": hyperv},
                    "guests": {"hosts": self.extra_hosts},
                },
                "vars": {"ansible_python_interpreter": sys.executable},
            }
        }
        self.inventory.write_text(json.dumps(inventory))
        return self.inventory

    def playbook(self, playbook, extra_vars=None, check=False, diff=False, verbosity=0, env=None, timeout=240,
                 allowed_deprecations=()):
        """Run ansible-playbook; returns PlaybookRun (never raises on a failed play, but on a deprecation warning
        other than the ``allowed_deprecations`` the test caused itself)."""
        self.write_inventory()
        command = [str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(self.inventory), str(playbook)]
        if extra_vars:
            command += ["-e", json.dumps(extra_vars)]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        if verbosity:
            command.append("-" + "v" * verbosity)
        run_env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_RETRY_FILES_ENABLED="False",
                       ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                       ANSIBLE_LOCAL_TEMP=str(self.tmp_path / "ansible-tmp"), **self.socket_dirs)
        run_env.update(self.env)
        run_env.update(env or {})
        run_env.update(SHOW)
        completed = subprocess.run(command, check=False, capture_output=True, text=True, env=run_env, timeout=timeout,
                                   cwd=str(REPO))
        assert_no_deprecation(completed, allowed_deprecations)
        return PlaybookRun(completed)

    def target(self, target, tasks="main.yml", extra_vars=None, **kwargs):
        """Run tasks/<tasks> of integration target <target> against the simulated host."""
        play = self.tmp_path / ("play-%s-%s" % (target, tasks))
        play.write_text(
            "- hosts: hyperv\n"
            "  gather_facts: false\n"
            "  tasks:\n"
            "    - name: Run %s/%s\n"
            "      ansible.builtin.include_tasks: %s\n" % (target, tasks, TARGETS / target / "tasks" / tasks))
        variables = {"hyperv_test_vm": "web01"}
        variables.update(extra_vars or {})
        return self.playbook(play, extra_vars=variables, **kwargs)


@pytest.fixture
def lab(tmp_path):
    """A fresh simulated host with VMs web01 (Running) and db01 (Running), NTLM with message encryption."""
    with private_socket_dirs() as socket_dirs, \
            running_simulator(tmp_path / "hyperv-state.json", vms=["web01", "db01"]) as sim:
        yield Lab(tmp_path, sim, socket_dirs=socket_dirs)


@pytest.fixture
def start_lab(tmp_path):
    """Start a simulated host with other options (transport, tls, vms), reached over ``connection`` (winrm, psrp
    or ssh, by ``ssh_auth`` key or password); stopped at the end of the test."""
    with contextlib.ExitStack() as stack:
        socket_dirs = stack.enter_context(private_socket_dirs())

        def start(vms=("web01",), connection="winrm", ssh_auth="key", **options):
            sim = stack.enter_context(running_simulator(tmp_path / "hyperv-state.json", vms=list(vms), **options))
            return Lab(tmp_path, sim, connection, ssh_auth, socket_dirs=socket_dirs)

        yield start


@pytest.fixture(scope="session")
def kerberos_realm(tmp_path_factory):
    """The test session's Kerberos realm (hyperv_sim.kerberos_realm): a KDC on a free loopback port with the user and
    the services of simulated hosts hv01 and hv02, stopped when the session ends, also after failures. Each xdist
    worker has its own."""
    with running_realm(tmp_path_factory.mktemp("kerberos-realm"), hosts=("hv01", "hv02")) as realm:
        yield realm
