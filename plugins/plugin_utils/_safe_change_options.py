# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the options of the role safe_change, read and checked once.

The role's meta/argument_specs.yml is the one list of what the role knows: its types, defaults and choices
are checked by Ansible's ArgumentSpecValidator; ``option_problems`` adds only what a spec cannot say (ranges,
options that go together, a Hyper-V host that is in the inventory).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_content import error_text

if TYPE_CHECKING:
    from ansible.template import Templar

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE_SPEC = os.path.join(COLLECTION_ROOT, "roles", "safe_change", "meta", "argument_specs.yml")
# Variables the role sets or publishes itself: not typos of its options.
ROLE_OUTPUTS = ("safe_change_result", "safe_change_results", "safe_change_phase")
# The least value of each number option, and how a message says it.
LEAST_VALUES = (
    ("safe_change_keep_hours", 0, "0 (delete the checkpoint) or more"),
    ("safe_change_stale_max_age_hours", 1, "more than 0"),
    ("safe_change_lock_minutes", 0, "0 (no lock) or more"),
    ("safe_change_reachable_timeout", 1, "more than 0 seconds"),
    ("safe_change_verify_retries", 0, "0 or more"),
    ("safe_change_verify_delay", 0, "0 or more seconds"),
    ("safe_change_merge_timeout", 1, "more than 0 seconds"),
    ("safe_change_operation_timeout", 1, "more than 0 seconds"),
    ("safe_change_min_free_gb", 0, "0 (no check) or more GB"),
)

_role_options_cache: list[dict[str, dict[str, Any]]] = []


def role_options() -> dict[str, dict[str, Any]]:
    """The options of the role safe_change (its meta/argument_specs.yml): name -> type, elements, default, choices.

    Read once per process: the strategy imports the action plugins, and with them this module, before it forks
    the workers, so they share it.
    """
    if not _role_options_cache:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with open(ROLE_SPEC, encoding="utf-8") as handle:
            spec = yaml.load(handle, Loader=loader)["argument_specs"]["main"]["options"]
        _role_options_cache.append({name: {key: value for key, value in option.items()
                                           if key in ("type", "elements", "default", "choices")}
                                    for name, option in spec.items()})
    return _role_options_cache[0]


_validator_cache: list[ArgumentSpecValidator] = []


def role_options_validator() -> ArgumentSpecValidator:
    """A validator of the role's options, built once per process like role_options (building one deep-copies the
    spec: a few milliseconds that every step of every guest would spend again)."""
    if not _validator_cache:
        _validator_cache.append(ArgumentSpecValidator(role_options()))
    return _validator_cache[0]


role_options_validator()


def role_defaults() -> dict[str, Any]:
    """The role's options with their defaults, for a step that runs outside the role (hold)."""
    return {name: option.get("default") for name, option in role_options().items()}


def templated_options(templar: Templar, task_vars: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The role's variables, templated and converted to the types of the spec; and the problems met doing so."""
    spec = role_options()
    problems = []
    given = {}
    for name in spec:
        if name not in task_vars:
            continue
        try:
            given[name] = templar.template(task_vars[name])
        except AnsibleError as error:
            problems.append("%s cannot be templated: %s" % (name, error_text(error)))
    if "safe_change_checkpoint_type" in given:
        # Hyper-V's spelling (ProductionOnly, as results and inventory variables carry it) too.
        given["safe_change_checkpoint_type"] = checkpoint_types.option_value(given["safe_change_checkpoint_type"])
    validated = role_options_validator().validate(given)
    problems.extend(validated.error_messages)
    return dict(validated.validated_parameters), problems


# Strategies that run a task on every host of the batch before the next task: the role's steps that decide for
# the whole batch (application groups, the summary) run once, after every guest got there. mitogen's strategies
# keep the names of those they wrap.
LOCKSTEP_STRATEGIES = frozenset(("linear", "debug", "mitogen_linear"))


def is_lockstep(strategy: str) -> bool:
    """Whether the play's ``strategy`` runs its hosts task by task together (``linear`` and its kind)."""
    return strategy.rsplit(".", 1)[-1] in LOCKSTEP_STRATEGIES


def strategy_problem(options: Mapping[str, Any], strategy: str) -> str | None:
    """Why the role cannot honour the play's strategy for these options, or None."""
    if is_lockstep(strategy) or not str(options.get("safe_change_group") or "").strip():
        return None
    return ("safe_change_group needs the linear strategy, and this play's strategy is %s: the members of an "
            "application group take their checkpoints together, change in order and revert all together, which needs "
            "every guest of the batch at each step at once. Set strategy: linear on the play (the default), or run "
            "these guests without safe_change_group" % strategy)


def option_problems(options: Mapping[str, Any], hyperv_host_known: bool, strategy: str = "linear") -> list[str]:
    """What is wrong with the role's options (of the spec's types and choices) taken together; empty when nothing is.

    ``hyperv_host_known``: whether ``hyperv_host`` names a host of the inventory; ``strategy``: the play's.
    """
    problems = []
    problem = strategy_problem(options, strategy)
    if problem:
        problems.append(problem)
    hyperv_host = options.get("hyperv_host")
    if not str(hyperv_host or "").strip():
        problems.append("hyperv_host is not set: name the inventory host of the guest's Hyper-V host")
    elif not hyperv_host_known:
        problems.append("hyperv_host %s is not in the inventory" % hyperv_host)
    if not str(options.get("safe_change_id") or "").strip():
        problems.append("safe_change_id is empty: give the change id (e.g. CHG0042), it goes into the checkpoint name")
    if bool(options.get("safe_change_tasks")) == bool(options.get("safe_change_role")):
        problems.append("set exactly one of safe_change_tasks and safe_change_role (the change to apply)")
    prefix = options.get("safe_change_name_prefix") or ""
    if not prefix or " " in prefix:
        problems.append("safe_change_name_prefix must not be empty or contain spaces")
    for option, least, meaning in LEAST_VALUES:
        if options[option] < least:
            problems.append("%s must be %s, not %r" % (option, meaning, options[option]))
    return problems


def unknown_variable_warnings(task_vars: Mapping[str, Any]) -> list[str]:
    """A warning for each ``safe_change_*`` variable the role does not know (a typo is silently ignored)."""
    known = set(role_options()) | set(ROLE_OUTPUTS)
    warnings = []
    for name in sorted(task_vars):
        if not name.startswith("safe_change_") or name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1)
        warnings.append("safe_change does not know the variable %s, which is ignored%s" % (
            name, "; did you mean %s?" % close[0] if close else " (roles/safe_change/README.md lists the variables)"))
    return warnings


def requested_by(options: Mapping[str, Any], task_vars: Mapping[str, Any], templar: Templar) -> str:
    """Who runs the change: safe_change_requested_by, else the AWX user, else the controller's user."""
    for value in (options.get("safe_change_requested_by"), task_vars.get("awx_user_name"),
                  task_vars.get("tower_user_name")):
        if value:
            return str(templar.template(value))
    return os.environ.get("USER") or "ansible"
