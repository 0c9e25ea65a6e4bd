# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: which task connections the collection can run its PowerShell operations over.

The operations run Windows PowerShell on the Hyper-V host through the task's connection
plugin: ``winrm``, ``psrp``, or ``ssh`` to Windows OpenSSH. The command line the collection
sends (``PowerShell -NoProfile ... -EncodedCommand ...``) runs in either Windows shell: the
``powershell`` shell plugin (psrp; ssh with ``ansible_shell_type=powershell``; winrm up to
ansible-core 2.20) or the ``cmd`` one (winrm from ansible-core 2.21 on; ssh to a host whose
OpenSSH default shell is cmd.exe). Any other shell (``sh`` on a Linux guest, or the controller
itself with ``ansible_connection=local``) would be handed a command line it cannot run, so such
a task is refused before anything is sent.
"""

from __future__ import annotations

UNSUPPORTED_CONNECTION = "unsupported_connection"
WINDOWS_SHELL_FAMILIES = ("powershell", "cmd")
HOW_TO_REACH = ("run the task on the Hyper-V host (delegate_to: <the Hyper-V host's inventory name>) and reach that "
                "host with ansible_connection=winrm or psrp, or with ansible_connection=ssh and "
                "ansible_shell_type=powershell")


def short_name(plugin_name: str | None) -> str:
    """``ansible.builtin.ssh`` -> ``ssh``: the name users write in ansible_connection."""
    for prefix in ("ansible.builtin.", "ansible.legacy."):
        if plugin_name and plugin_name.startswith(prefix):
            return plugin_name[len(prefix):]
    return plugin_name or "unknown"


def connection_problem(connection_name: str | None, shell_family: str | None, host: str) -> str | None:
    """None when a connection with the shell plugin of ``shell_family`` can run the operations, else the
    refusal's message.

    ``connection_name`` is the connection plugin's name, ``host`` the inventory name the task runs against.
    """
    if shell_family in WINDOWS_SHELL_FAMILIES:
        return None
    connection_name = short_name(connection_name)
    if connection_name == "local":
        where = ("the task runs on the Ansible controller itself (ansible_connection=local for '%s'), which is no "
                 "Hyper-V host" % host)
    else:
        where = ("the task's connection to '%s' is '%s' with the '%s' shell, not a Windows shell (powershell or cmd)"
                 % (host, connection_name, shell_family or "unknown"))
    return ("hyperv.checkpoint runs Windows PowerShell on the Hyper-V host, but %s. What to do: %s. Nothing was sent "
            "to the host." % (where, HOW_TO_REACH))
