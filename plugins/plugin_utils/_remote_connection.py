# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: Ansible's own winrm or psrp connection plugin, opened outside a play (for the inventory plugin).

Inventory plugins run before any task, so there is no task connection to borrow. Loading
the connection plugin by name gives the same transport (pywinrm, or pypsrp), authentication
(NTLM, Kerberos, CredSSP, basic), message encryption and certificate handling as a task
gets, and the PowerShell shell plugin; nothing of WinRM or PSRP is implemented twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from ansible.plugins.connection import ConnectionBase

CONNECTIONS = ("winrm", "psrp")


def open_connection(variables: Mapping[str, Any]) -> ConnectionBase:
    """A connected winrm or psrp connection (``ansible_connection``) configured from inventory-style
    ``variables`` (ansible_host, ansible_port, ansible_user, ansible_password, ansible_winrm_* or ansible_psrp_*)."""
    from ansible import constants as C
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader

    name = variables.get("ansible_connection", "winrm")
    if name not in CONNECTIONS:
        raise ValueError("the connection must be one of %s, not %r" % (", ".join(CONNECTIONS), name))
    connection = connection_loader.get(name, PlayContext())
    options = dict(variables)
    # As the task executor does: ansible_winrm_* (ansible_psrp_*) settings that are no option of the plugin
    # (server_cert_validation, ca_trust_path...) go to pywinrm (pypsrp) as extras.
    prefix = "ansible_%s_" % name
    option_variables = set(C.config.get_plugin_vars("connection", name))
    options["_extras"] = {key: value for key, value in variables.items()
                          if key.startswith(prefix) and key not in option_variables}
    connection.set_options(var_options=options)
    connection._connect()
    return connection
