# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: what every hyperv.checkpoint action plugin does the same way.

Validate the task's options once, before any connection (the name rules, the argument spec, then the
module's own ``check_options``); open the connection (bad credentials and a host that does not answer are
a task failure with error code host_unreachable, which a rescue sees); build the HyperVHost client with
verbose logging; and turn every HypervError into the failed task's fields (_errors.error_result).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._connection_rules import (
    UNSUPPORTED_CONNECTION,
    connection_problem,
)
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import (
    HostUnreachableError,
    HypervError,
    OptionError,
    PlanError,
    error_result,
)
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._hyperv_host import HyperVHost
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._operation_runner import is_logon_failure
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._option_rules import normalize_name_options

display = Display()

NOTHING_SENT = "; nothing was sent to the host"


class HyperVActionBase(ActionBase):
    """Base for the action plugins that run operations on a Hyper-V host.

    A subclass declares its argument spec and rules, ``check_options(args)`` (the rest of its validation, pure;
    returns the options the task works with) and ``run_checked(args, task_vars)``, which returns the task's
    result or raises HypervError.
    """

    TRANSFERS_FILES = False
    _requires_connection = True

    # As validate_argument_spec takes them.
    ARGUMENT_SPEC: ClassVar[dict[str, dict[str, Any]]] = {}
    MUTUALLY_EXCLUSIVE: ClassVar[list[tuple[str, ...]]] = []
    REQUIRED_ONE_OF: ClassVar[list[tuple[str, ...]]] = []
    REQUIRED_IF: ClassVar[list[tuple[Any, ...]]] = []
    REQUIRED_BY: ClassVar[dict[str, tuple[str, ...]]] = {}
    # Options that name something on the host (_option_rules): strings only, no control characters.
    NAME_OPTIONS: ClassVar[tuple[str, ...]] = ()
    NAME_HINTS: ClassVar[dict[str, str]] = {"vm": "; address such a VM by vm_id"}
    # Options that take a checkpoint type: Hyper-V's spelling (ProductionOnly) is accepted too.
    TYPE_OPTIONS: ClassVar[tuple[str, ...]] = ()

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp
        args = None
        try:
            args = self.validated_args()
            result.update(self.run_checked(args, task_vars or {}))
        except HypervError as error:
            result.update(error_result(error, self.vm_label(args or self._task.args)))
        return result

    def run_checked(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def check_options(args: dict[str, Any]) -> dict[str, Any]:
        """The module's own rules on the validated options; returns the options to work with."""
        return args

    @staticmethod
    def vm_label(args: Mapping[str, Any]) -> str | None:
        """The VM(s) the task is about, for messages."""
        names = []
        for option in ("vm", "vm_id"):
            value = args.get(option)
            names.extend(value if isinstance(value, list) else [value] if value else [])
        return ", ".join(str(name) for name in names) or None

    def argument_spec(self) -> dict[str, dict[str, Any]]:
        """The options this task is validated against: ARGUMENT_SPEC, unless one action has several shapes."""
        return self.ARGUMENT_SPEC

    def validated_args(self) -> dict[str, Any]:
        """The task's options, validated once and with defaults; raises OptionError naming the bad option."""
        spec = self.argument_spec()
        try:
            normalized = normalize_name_options(spec, self.NAME_OPTIONS, self._task.args, self.NAME_HINTS)
        except OptionError as error:
            raise OptionError(error.message + NOTHING_SENT)
        for option in self.TYPE_OPTIONS:
            if option in normalized:
                normalized[option] = checkpoint_types.option_value(normalized[option])
        # validate_argument_spec reads the task's own args: a lone name for a list option
        # must reach it as a one-item list, not be split at its commas.
        self._task.args = normalized
        try:
            dummy, args = self.validate_argument_spec(
                argument_spec=spec,
                mutually_exclusive=self.MUTUALLY_EXCLUSIVE,
                required_one_of=self.REQUIRED_ONE_OF,
                required_if=self.REQUIRED_IF,
                required_by=self.REQUIRED_BY,
            )
        except AnsibleActionFail as error:
            raise OptionError(str(error.message) + NOTHING_SENT)
        return self.check_options(args)

    def host_label(self, task_vars: Mapping[str, Any] | None) -> str:
        """The inventory name of the Hyper-V host the task connects to: the delegated host, else the task's own.

        Not ansible_delegated_vars' inventory_hostname: ansible-core sets that to the task's own host (the guest).
        """
        if self._task.delegate_to:
            return self._task.delegate_to
        return (task_vars or {}).get("inventory_hostname", "the Hyper-V host")

    def hyperv_host(self, task_vars: Mapping[str, Any] | None, operation_timeout: float | None) -> HyperVHost:
        host = self.host_label(task_vars)
        # Before connecting: a guest's POSIX shell, or the controller itself, cannot run the operations.
        problem = connection_problem(getattr(self._connection, "_load_name", None) or self._connection.transport,
                                     getattr(self._connection._shell, "SHELL_FAMILY", None), host)
        if problem:
            raise PlanError(UNSUPPORTED_CONNECTION, problem)
        # Connect first: a wrong password or an unreachable host fails here (over ssh, which logs on
        # with the first command, operation_runner does the same). psrp lets the Kerberos libraries' errors through.
        try:
            self._connection._connect()
        except Exception as error:
            if isinstance(error, AnsibleConnectionFailure) or is_logon_failure(error):
                raise HostUnreachableError("connect", host, error)
            raise
        return HyperVHost(self._connection, host, timeout=operation_timeout,
                          log=lambda message: display.vvv(message, host=host))
