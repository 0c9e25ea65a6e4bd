# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the variables of the other hosts of a play, as a step reads them.

A step that runs once per batch (run_once) reads what the role's earlier steps registered on every guest. The
public way, ``hostvars[host]``, computes every variable of that host to return one (milliseconds a host, and a
batch can have hundreds); the variables a task set at run time (registered results, set_fact) are also in the
variable manager's cache of them, an ansible-core internal. ``run_time_facts`` is the one place that reads it;
tests/unit/plugins/plugin_utils/test_host_vars.py checks it against the real objects of every supported
ansible-core, and without it the steps fall back to ``hostvars``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def run_time_facts(hostvars: Any) -> Mapping[str, Mapping[str, Any]] | None:
    """{host: {name: value}} of what tasks set at run time, from the variable manager behind ``hostvars``;
    None when this ansible-core keeps it elsewhere."""
    variable_manager = getattr(hostvars, "_variable_manager", None)
    cache = getattr(variable_manager, "_nonpersistent_fact_cache", None)
    return cache if isinstance(cache, Mapping) else None


def host_var(task_vars: Mapping[str, Any], host: str, name: str) -> Any:
    """A variable that a task set at run time (a registered result, a set_fact) on another host of the play."""
    hostvars = task_vars.get("hostvars")
    facts = run_time_facts(hostvars)
    if facts is not None:
        return (facts.get(host) or {}).get(name)
    return templated_host_var(task_vars, host, name)


def templated_host_var(task_vars: Mapping[str, Any], host: str, name: str) -> Any:
    """A variable of another inventory host as that host would see it (templated); None when it has none."""
    hostvars = task_vars.get("hostvars")
    try:
        return hostvars[host].get(name) if hostvars is not None and host in hostvars else None
    except Exception:  # a host whose variables cannot be templated has none of ours
        return None


def safe_change_group(task_vars: Mapping[str, Any], host: str) -> str:
    """safe_change_group of an inventory host (templated, as the host would see it); empty for none."""
    return str(templated_host_var(task_vars, host, "safe_change_group") or "").strip()
