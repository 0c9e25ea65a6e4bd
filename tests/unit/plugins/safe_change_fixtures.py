"""Builders for the unit tests of the role safe_change's decision code: options and run states."""

import copy
import pathlib

import yaml

from hyperv_records import NOW

REPO = pathlib.Path(__file__).resolve().parents[3]
SPEC = yaml.safe_load((REPO / "roles/safe_change/meta/argument_specs.yml").read_text(encoding="utf-8"))
OPTIONS = SPEC["argument_specs"]["main"]["options"]


def options(**changes):
    """The role's variables as the step prepare passes them on: every option, the spec's defaults filled in."""
    values = {name: copy.deepcopy(spec.get("default")) for name, spec in OPTIONS.items()}
    values.update(hyperv_host="hv01", safe_change_id="CHG0042", safe_change_requested_by="jane doe",
                  safe_change_tasks="/srv/change.yml")
    values.update(changes)
    return values


def state(**changes):
    """A run's state after a pre-flight that passed on the guest (the step prepare)."""
    run_options = options(**changes.pop("options", {}))
    value = {
        "run_id": "run-1", "host": "web01", "vm": "web01", "hyperv_host": "hv01", "change_id": "CHG0042",
        "checkpoint_name": "safe_change CHG0042 by jane_doe 2026-11-25T12:00:00Z", "started": "2026-11-25T12:00:00Z",
        "check_mode": False, "play": "Patch", "options": run_options, "proceed": True, "outcome": "", "reason": "",
        "checkpoint": {}, "notes": [], "would": [], "failure": {}, "marks": {"preflight": NOW.timestamp()},
        "url_from_elsewhere": False, "verify_more": False,
    }
    value.update(changes)
    return value
