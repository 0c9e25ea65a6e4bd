# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible's own winrm connection plugin, opened outside a play (for the inventory plugin).

Inventory plugins run before any task, so there is no task connection to borrow. Loading
the winrm connection plugin by name gives the same pywinrm transport, authentication
(NTLM, Kerberos, CredSSP, basic), message encryption and certificate handling as a task
gets, and the PowerShell shell plugin that operation_runner.run_operation needs; nothing
of WinRM is implemented twice.
"""

from __future__ import annotations

WINRM_PREFIX = "ansible_winrm_"


def open_winrm_connection(variables):
    """A connected winrm connection configured from inventory-style ``variables``
    (ansible_host, ansible_port, ansible_user, ansible_password, ansible_winrm_*)."""
    from ansible import constants as C
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader

    connection = connection_loader.get("winrm", PlayContext())
    options = dict(variables)
    # As the task executor does: ansible_winrm_* settings that are no option of the plugin
    # (server_cert_validation, ca_trust_path, message_encryption...) go to pywinrm as extras.
    option_variables = set(C.config.get_plugin_vars("connection", "winrm"))
    options["_extras"] = {name: value for name, value in variables.items()
                          if name.startswith(WINRM_PREFIX) and name not in option_variables}
    connection.set_options(var_options=options)
    connection._connect()
    return connection
