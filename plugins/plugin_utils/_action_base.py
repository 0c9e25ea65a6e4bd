# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: what every hyperv.checkpoint action plugin does the same way.

Validate the task's options against the argument spec, open the connection (bad
credentials and a host that does not answer are a task failure with error code
host_unreachable, which a rescue sees), build the
HyperVHost client with verbose logging, and turn host errors into task failures
that name the VM, the host and what to do.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_planner import PlanError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._connection_rules import (
    UNSUPPORTED_CONNECTION,
    connection_problem,
)
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_errors import HostOperationError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._hyperv_host import HyperVHost
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._option_rules import OptionError, normalize_name_options

display = Display()

# What the user can do about each host error code.
HINTS = {
    "vm_not_found": "check the VM name or id (hyperv.checkpoint.hyperv_checkpoint_info lists the VMs of a host), "
                    "and that the task runs against the Hyper-V host that holds the VM (delegate_to)",
    "ambiguous": "several VMs share this name: address the VM by vm_id",
    "owned_by_other_node": "the VM is clustered and runs on another node: delegate the task to the owner node",
    "checkpoint_not_found": "list the VM's checkpoints with hyperv.checkpoint.hyperv_checkpoint_info",
    "checkpoints_disabled": "enable checkpoints with hyperv.checkpoint.hyperv_checkpoint_type",
    "production_checkpoint_failed": "the guest could not be quiesced (VSS or the Linux freeze daemon): check the "
                                    "guest's backup integration service, or use checkpoint_type=production to allow a "
                                    "standard checkpoint instead",
    "limit_reached": "delete old checkpoints first; Hyper-V allows 50 per VM",
    "unsupported_on_host": "this setting needs a newer Windows Server version on the Hyper-V host",
    "hyperv_module_missing": "install the Hyper-V PowerShell module on the host: "
                             "Install-WindowsFeature Hyper-V-PowerShell",
    "low_disk_space": "free space on the volume (delete old checkpoints, move the VM's disks or checkpoint files), "
                      "or lower min_free_gb if the change writes little",
    "access_denied": "add the connecting user to the host's local group Hyper-V Administrators",
    "hyperv_timeout": "Hyper-V gave up on the operation; check the VM (a guest that does not answer VSS makes "
                      "production checkpoints time out) and try again",
    "constrained_language": "an AppLocker or WDAC policy locks PowerShell down on the host; the collection's scripts "
                            "need FullLanguage mode for the connecting user (docs/host-fidelity.md, locked-down hosts)",
    "busy": "another operation is running on the VM; try again later",
    "timeout": "the operation may still be running on the host; check the VM before running the task again, "
               "or raise operation_timeout",
    "connection_lost": "the connection to the host broke; check the host's WinRM or OpenSSH service",
    "host_unreachable": "check the Hyper-V host's connection variables (docs/host-setup.md): its address, port, "
                        "transport, user and password (or SSH key)",
    "protocol_error": "the host did not run the collection's PowerShell runner: check that the connection uses "
                      "the powershell shell and Windows PowerShell 5.1",
}


class HyperVActionBase(ActionBase):
    """Base for the action plugins that run operations on a Hyper-V host."""

    TRANSFERS_FILES = False
    _requires_connection = True

    ARGUMENT_SPEC = {}
    MUTUALLY_EXCLUSIVE = []
    REQUIRED_ONE_OF = []
    REQUIRED_IF = []
    REQUIRED_BY = {}
    # Options that name something on the host (option_rules): strings only, no control characters.
    NAME_OPTIONS = ()
    NAME_HINTS = {"vm": "; address such a VM by vm_id"}

    def validated_args(self):
        """The task's options, validated and with defaults; raises AnsibleActionFail naming the bad option."""
        try:
            normalized = normalize_name_options(self.ARGUMENT_SPEC, self.NAME_OPTIONS, self._task.args,
                                                self.NAME_HINTS)
        except OptionError as error:
            raise AnsibleActionFail("%s; nothing was sent to the host" % error)
        # validate_argument_spec reads the task's own args: a lone name for a list option
        # must reach it as a one-item list, not be split at its commas.
        self._task.args = normalized
        dummy, args = self.validate_argument_spec(
            argument_spec=self.ARGUMENT_SPEC,
            mutually_exclusive=self.MUTUALLY_EXCLUSIVE,
            required_one_of=self.REQUIRED_ONE_OF,
            required_if=self.REQUIRED_IF,
            required_by=self.REQUIRED_BY,
        )
        return args

    def host_label(self, task_vars):
        delegated = (task_vars or {}).get("ansible_delegated_vars") or {}
        if self._task.delegate_to and self._task.delegate_to in delegated:
            return delegated[self._task.delegate_to].get("inventory_hostname", self._task.delegate_to)
        return (task_vars or {}).get("inventory_hostname", "the Hyper-V host")

    def hyperv_host(self, task_vars, operation_timeout):
        if operation_timeout <= 0:
            raise PlanError("invalid_option", "operation_timeout must be a positive number of seconds")
        host = self.host_label(task_vars)
        # Before connecting: a guest's POSIX shell, or the controller itself, cannot run the operations.
        problem = connection_problem(getattr(self._connection, "_load_name", None) or self._connection.transport,
                                     getattr(self._connection._shell, "SHELL_FAMILY", None), host)
        if problem:
            raise PlanError(UNSUPPORTED_CONNECTION, problem)
        # Connect first: a wrong password or an unreachable host fails here (over ssh, which logs on
        # with the first command, operation_runner does the same). It is an ordinary task
        # failure, not UNREACHABLE: a delegated task's UNREACHABLE is pinned on the guest, which then
        # leaves the play without its rescue running.
        try:
            self._connection._connect()
        except AnsibleConnectionFailure as error:
            raise HostOperationError("host_unreachable", "the Hyper-V host %s did not answer: %s" % (host, error),
                                     operation="connect", host=host)
        return HyperVHost(self._connection, host, timeout=operation_timeout,
                          log=lambda message: display.vvv(message, host=host))

    @staticmethod
    def failure(result, error, vm_label=None):
        """Fill ``result`` as a failed task for a HostOperationError or PlanError."""
        code = getattr(error, "code", "error")
        message = getattr(error, "message", str(error))
        where = getattr(error, "host", None)
        operation = getattr(error, "operation", None)
        text = message
        matches = (getattr(error, "details", None) or {}).get("matches") or []
        missing = [match["id"] for match in matches if isinstance(match, dict) and match.get("id") not in text]
        if code == "ambiguous" and missing:
            text = "%s (matches: %s)" % (text.rstrip("."), ", ".join(missing))
        if vm_label and vm_label not in text:
            text = "VM '%s': %s" % (vm_label, text)
        context = []
        if operation:
            context.append("operation %s" % operation)
        if where and where not in text:
            context.append("host %s" % where)
        if context:
            text = "%s (%s)" % (text, ", ".join(context))
        hint = HINTS.get(code)
        if hint:
            text = "%s. What to do: %s" % (text.rstrip("."), hint)
        result.update(failed=True, msg=text, error_code=code, error_details=getattr(error, "details", {}) or {})
        return result
