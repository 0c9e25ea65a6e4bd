# -*- coding: utf-8 -*-
"""connection_rules: which task connections can carry the PowerShell operations."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._connection_rules import connection_problem, short_name


@pytest.mark.parametrize("connection", ["winrm", "psrp", "ssh", "ansible.builtin.psrp"])
@pytest.mark.parametrize("shell", ["powershell", "cmd"])  # winrm has the cmd shell from ansible-core 2.21 on
def test_a_windows_shell_is_accepted_on_any_connection(connection, shell):
    assert connection_problem(connection, shell, "hv01") is None


def test_a_posix_shell_is_refused_naming_connection_shell_host_and_what_to_set():
    message = connection_problem("ansible.builtin.ssh", "sh", "web01")
    assert "'web01' is 'ssh' with the 'sh' shell" in message
    for setting in ("delegate_to", "ansible_connection=winrm or psrp", "ansible_shell_type=powershell"):
        assert setting in message
    assert message.endswith("Nothing was sent to the host.")


def test_the_controller_itself_is_refused_as_no_hyperv_host():
    message = connection_problem("local", "sh", "localhost")
    assert "runs on the Ansible controller itself (ansible_connection=local for 'localhost')" in message
    assert "delegate_to" in message


@pytest.mark.parametrize("name, short", [("ansible.legacy.local", "local"), ("community.general.lxc", "community.general.lxc"),
                                         (None, "unknown")])
def test_short_names(name, short):
    assert short_name(name) == short
