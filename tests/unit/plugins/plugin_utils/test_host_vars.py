# -*- coding: utf-8 -*-
"""_host_vars: the variables a task set at run time on another host, read without templating that host's variables.

run_time_facts reads an ansible-core internal (the variable manager's cache of set_fact and registered results).
These tests use ansible-core's real InventoryManager, VariableManager and HostVars, as a task's ``hostvars`` is
built, so that they fail when a release renames or reshapes it; test_on_every_supported_ansible_core runs them
on the other supported releases too (their virtualenvs, .venv-2.20 and .venv-2.21, from `make venvs`).
"""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _host_vars

REPO = pathlib.Path(__file__).resolve().parents[4]
OTHER_CORES = (".venv-2.20", ".venv-2.21")


@pytest.fixture
def play():
    """(task_vars with the real hostvars of a two-guest inventory, the variable manager behind them)."""
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources="web01,web02,")
    variable_manager = VariableManager(loader=loader, inventory=inventory)
    inventory.get_host("web02").set_variable("safe_change_group", " shop ")
    hostvars = HostVars(inventory=inventory, variable_manager=variable_manager, loader=loader)
    return {"hostvars": hostvars}, variable_manager


def test_a_registered_result_is_read_from_the_run_time_facts(play, monkeypatch):
    task_vars, variable_manager = play
    registered = {"run": {"run_id": "r1", "proceed": True}, "changed": False}
    # What the strategy does with a registered result (and set_fact with its facts).
    variable_manager.set_nonpersistent_facts("web01", {"__safe_change_prepared": registered})

    def every_variable(*args, **kwargs):
        raise AssertionError("hostvars[host] computed every variable of the host")

    monkeypatch.setattr(variable_manager, "get_vars", every_variable)
    assert _host_vars.run_time_facts(task_vars["hostvars"]) is not None
    assert _host_vars.host_var(task_vars, "web01", "__safe_change_prepared") == registered
    assert _host_vars.host_var(task_vars, "web01", "__safe_change_checkpointed") is None
    assert _host_vars.host_var(task_vars, "web02", "__safe_change_prepared") is None


def test_without_run_time_facts_the_public_hostvars_answer(play):
    task_vars, variable_manager = play
    variable_manager.set_nonpersistent_facts("web01", {"__safe_change_prepared": {"run": {}}})
    assert _host_vars.templated_host_var(task_vars, "web01", "__safe_change_prepared") == {"run": {}}
    assert _host_vars.host_var({"hostvars": None}, "web01", "__safe_change_prepared") is None
    assert _host_vars.templated_host_var(task_vars, "db99", "__safe_change_prepared") is None


def test_an_inventory_variable_is_read_through_hostvars(play):
    task_vars, dummy = play
    assert _host_vars.safe_change_group(task_vars, "web02") == "shop"
    assert _host_vars.safe_change_group(task_vars, "web01") == ""


@pytest.mark.skipif(os.environ.get("HYPERV_HOST_VARS_CORE") is not None, reason="already on another ansible-core")
@pytest.mark.parametrize("venv", OTHER_CORES)
def test_on_every_supported_ansible_core(venv):
    python = REPO / venv / "bin" / "python"
    if not python.exists():
        pytest.skip("%s is missing: `make venvs` creates it" % venv)
    environment = dict(os.environ, PYTHONPATH=str(REPO / "build" / "collections"), HYPERV_HOST_VARS_CORE=venv)
    # Only this file, without the suites' conftest (it needs test tools only .venv has).
    completed = subprocess.run([str(python), "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider", "--noconftest",
                                "-o", "addopts=", "-W", "ignore::pytest.PytestConfigWarning"],
                               cwd=str(REPO), env=environment, capture_output=True, text=True, timeout=300,
                               check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "3 passed" in completed.stdout, completed.stdout
