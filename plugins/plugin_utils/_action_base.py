# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: what every hyperv.checkpoint action plugin does the same way.

Validate the task's options once, before any connection (the name rules, the argument spec, then the
module's own ``check_options``); open the connection (bad credentials and a host that does not answer are
a task failure with error code host_unreachable, which a rescue sees); build the HyperVHost client with
verbose logging; and turn every HypervError into the failed task's fields (_errors.error_result).

On a failover cluster the client follows a VM that another node runs now (_cluster_follow): this base opens
the connection to that node from its inventory variables, warns once per VM followed, names the node that
acted in the result (``hyperv_node``) and closes the connections it opened.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Mapping

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _cluster_follow as cluster_follow
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._connection_rules import (
    UNSUPPORTED_CONNECTION,
    connection_problem,
    short_name,
)
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import (
    HostError,
    HostUnreachableError,
    HypervError,
    OptionError,
    PlanError,
    error_result,
)
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_vars import templated_host_var
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._hyperv_host import HyperVHost
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._operation_runner import is_logon_failure
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._option_rules import normalize_name_options
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._remote_connection import open_connection

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
        self._hyperv_clients: list[HyperVHost] = []
        self._node_connections: list[Any] = []
        try:
            args = self.validated_args()
            result.update(self.run_checked(args, task_vars or {}))
        except HypervError as error:
            result.update(error_result(error, self.vm_label(args or self._task.args)))
        finally:
            self._close_node_connections()
        return self._with_nodes(result)

    def _with_nodes(self, result: dict[str, Any]) -> dict[str, Any]:
        """``result`` with ``hyperv_node`` (the inventory name of the node the task's operations ran on: where its
        first client ended, having followed its VM or not) and one warning per VM the task followed to another
        node."""
        clients = getattr(self, "_hyperv_clients", [])
        if not clients:
            return result
        result["hyperv_node"] = clients[0].host_name
        warned = set()
        for client in clients:
            for move in getattr(client, "followed", []):
                text = cluster_follow.followed_warning(move["vm"], move["from"], move["to"], move["owner_node"])
                if text not in warned:
                    warned.add(text)
                    result["warnings"] = list(result.get("warnings") or []) + [text]
        return result

    def _close_node_connections(self) -> None:
        for connection in getattr(self, "_node_connections", []):
            try:
                connection.close()
            except Exception as exc:  # the task's outcome is known; a failed close changes nothing on the host
                display.vvv("closing the connection to a cluster node failed: %s" % exc)

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

    def hyperv_host(self, task_vars: Mapping[str, Any] | None, operation_timeout: float | None,
                    follow: bool = True) -> HyperVHost:
        """The client of the delegated Hyper-V host; with ``follow``, it runs an operation on a VM that another
        node of the cluster runs on that node (_cluster_follow)."""
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
        client = HyperVHost(self._connection, host, timeout=operation_timeout,
                            log=lambda message: display.vvv(message, host=host),
                            follow=self.node_follower(task_vars or {}) if follow else None)
        return self.tracked(client)

    def tracked(self, client: HyperVHost) -> HyperVHost:
        """``client``, remembered for the result's ``hyperv_node`` and the warnings about VMs it followed."""
        if not hasattr(self, "_hyperv_clients"):
            self._hyperv_clients = []
        self._hyperv_clients.append(client)
        return client

    def node_follower(self, task_vars: Mapping[str, Any]) -> Callable[[HostError], tuple[Any, str]]:
        """``follow(error)`` for HyperVHost: a connection to the inventory host that is the node named by an
        owned_by_other_node ``error``, and its inventory name; raises owned_by_other_node saying why not."""
        def refuse(error: HostError, reason: str, detail: str = "") -> HostError:
            owner = str(error.details.get("owner_node"))
            message = cluster_follow.refusal_message(str(error.details.get("vm") or ""), owner, reason,
                                                     error.host or "", detail)
            return HostError(error.code, message, operation=error.operation, host=error.host,
                             computer_name=error.computer_name, details=dict(error.details, follow=reason))

        def follow(error: HostError) -> tuple[Any, str]:
            owner = str(error.details.get("owner_node"))
            groups = task_vars.get("groups") or {}
            names = list(groups.get("all") or []) if isinstance(groups, Mapping) else []
            found = cluster_follow.find_node(owner, names, lambda host, name: templated_host_var(task_vars, host, name))
            if not found:
                raise refuse(error, cluster_follow.NOT_FOLLOWED_NOT_IN_INVENTORY)
            if len(found) > 1:
                raise refuse(error, cluster_follow.NOT_FOLLOWED_AMBIGUOUS, ", ".join(found))
            node = found[0]
            default = short_name(getattr(self._connection, "_load_name", None) or self._connection.transport)
            variables = cluster_follow.connection_variables(node, self._node_variables(task_vars, node), default)
            if variables["ansible_connection"] not in cluster_follow.FOLLOW_CONNECTIONS:
                raise refuse(error, cluster_follow.NOT_FOLLOWED_CONNECTION,
                             "%s %s" % (node, variables["ansible_connection"]))
            try:
                connection = open_connection(variables)
            except Exception as exc:  # any failure to reach the node: the refusal names it
                raise refuse(error, cluster_follow.NOT_FOLLOWED_UNREACHABLE, "%s: %s" % (node, exc))
            if not hasattr(self, "_node_connections"):
                self._node_connections = []
            self._node_connections.append(connection)
            return connection, node

        return follow

    @staticmethod
    def _node_variables(task_vars: Mapping[str, Any], node: str) -> dict[str, Any]:
        """The connection variables (``ansible_*``) of inventory host ``node``, templated as that host sees them."""
        hostvars = task_vars.get("hostvars")
        if hostvars is None or node not in hostvars:
            return {}
        variables = {}
        node_vars = hostvars[node]
        for key in list(node_vars):
            if isinstance(key, str) and key.startswith("ansible_"):
                try:
                    variables[key] = node_vars[key]
                except Exception:  # a variable that cannot be templated is one the connection cannot use either
                    continue
        return variables
