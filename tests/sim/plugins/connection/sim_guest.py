# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST ONLY: a guest VM of the simulated Hyper-V host, reached as a local connection.

Load it with ANSIBLE_CONNECTION_PLUGINS=tests/sim/plugins/connection and use it as
``ansible_connection: sim_guest``. See tests/sim/README.md.
"""

from __future__ import annotations

DOCUMENTATION = """
    name: sim_guest
    short_description: TEST ONLY - a guest VM of the simulated Hyper-V host, run on the controller
    description:
        - A subclass of the C(local) connection for the tests and the demo of hyperv.checkpoint. Every command first
          reads the simulated Hyper-V host's state file and fails with AnsibleConnectionFailure (the host shows as
          UNREACHABLE) unless the VM is C(Running), its C(guest_reachable) attribute is true (a missing attribute
          counts as true) and its disk has no C(.network-down) file at the top.
        - Otherwise the command runs locally, like the C(local) connection, with the environment variable
          C(GUEST_DISK) set to the VM's disk directory and a C(guest_bin) directory (a fake C(systemctl) that reads
          C(services/NAME) files on the guest's disk) in front of C(PATH).
        - Change tasks write files under the VM's disk directory, so restoring a checkpoint on the simulated host
          truly reverts what the change did.
        - With the environment variable C(SIM_GUEST_CPU_LOG) set, the CPU seconds of each command's processes are
          appended to that file (the bench tells the guests' own work apart from the controller's).
    author: hyperv.checkpoint maintainers
    options:
        sim_state:
            description: Path of the simulated Hyper-V host's state file.
            type: path
            required: true
            vars:
                - name: ansible_sim_state
        sim_vm:
            description:
                - Name of the VM on the simulated Hyper-V host.
                - Defaults to the inventory name (C(ansible_host) when set).
            type: str
            vars:
                - name: ansible_sim_vm
                - name: hyperv_vm_name
        become_success_timeout:
            type: int
            default: 10
            description: As for the local connection.
            vars:
                - name: ansible_local_become_success_timeout
        become_strip_preamble:
            type: bool
            default: true
            description: As for the local connection.
            vars:
                - name: ansible_local_become_strip_preamble
    extends_documentation_fragment:
        - connection_pipelining
"""

import contextlib
import os
import pathlib
import resource
import sys

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection.local import Connection as LocalConnection

SIM_DIR = pathlib.Path(__file__).resolve().parents[2]
GUEST_BIN = SIM_DIR / "plugins" / "guest_bin"
NETWORK_DOWN_MARKER = ".network-down"

if str(SIM_DIR) not in sys.path:
    sys.path.insert(0, str(SIM_DIR))


def guest_status(state_path, vm_name):
    """(reachable, reason, disk path) of the guest ``vm_name`` on the simulated host."""
    # Imported late (only the tests and the demo have the simulator), and only the state file's reader:
    # every guest command of every worker reads it, and the engine or the admin API would cost an import (a
    # compile, without byte code) each time.
    from hyperv_sim.state import StateFile, find_vm, running_disk

    state_file = StateFile(state_path)
    try:
        vm = find_vm(state_file.read(), vm_name)
    except Exception as error:  # unknown VM, unreadable state: the guest cannot be reached
        return False, "no such VM on the simulated host (%s)" % error, None
    disk = running_disk(state_file.disks_dir, vm)
    power_state = vm.get("state")
    if power_state != "Running":
        return False, "VM state %s" % power_state, disk
    if not vm.get("guest_reachable", True):
        return False, "the guest does not answer on the network (guest_reachable is false)", disk
    if (disk / NETWORK_DOWN_MARKER).exists():
        return False, "the guest's network is down (%s on its disk)" % NETWORK_DOWN_MARKER, disk
    return True, "", disk


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _account_guest_cpu(seconds):
    """The bench's split of the controller's CPU: what the simulated guests' own processes used (the change's
    module, a verification command), which on a real guest is the guest's, goes to SIM_GUEST_CPU_LOG."""
    path = os.environ.get("SIM_GUEST_CPU_LOG")
    if path:
        # One short line per command, appended: atomic between the workers that write at once.
        with open(path, "a", encoding="ascii") as log:
            log.write("%.6f\n" % seconds)


class Connection(LocalConnection):
    """The local connection, gated by the simulated VM's state."""

    transport = "sim_guest"

    def _vm_name(self):
        return self.get_option("sim_vm") or self._play_context.remote_addr

    def _require_reachable(self):
        vm_name = self._vm_name()
        reachable, reason, disk = guest_status(self.get_option("sim_state"), vm_name)
        if not reachable:
            raise AnsibleConnectionFailure("guest %s is not reachable: %s" % (vm_name, reason))
        return disk

    def _connect(self):
        self._require_reachable()
        return super()._connect()

    @contextlib.contextmanager
    def _guest_environment(self, disk):
        saved = {name: os.environ.get(name) for name in ("GUEST_DISK", "PATH")}
        os.environ["GUEST_DISK"] = str(disk)
        os.environ["PATH"] = "%s%s%s" % (GUEST_BIN, os.pathsep, saved["PATH"] or os.defpath)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def exec_command(self, cmd, in_data=None, sudoable=True):
        disk = self._require_reachable()
        before = _children_cpu()
        try:
            with self._guest_environment(disk):
                return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        finally:
            _account_guest_cpu(_children_cpu() - before)

    def put_file(self, in_path, out_path):
        self._require_reachable()
        return super().put_file(in_path, out_path)

    def fetch_file(self, in_path, out_path):
        self._require_reachable()
        return super().fetch_file(in_path, out_path)
