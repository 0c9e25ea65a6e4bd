"""The AWX credential type for the inventory source: it injects exactly the environment variables
the inventory plugin hyperv_vms reads for its user and password, and keeps the password secret."""

from __future__ import annotations

import json
import pathlib

import yaml

from ansible_collections.hyperv.checkpoint.plugins.inventory import hyperv_vms

REPO = pathlib.Path(__file__).resolve().parents[3]
CREDENTIAL_TYPE = json.loads((REPO / "awx" / "credential_types" / "hyperv_inventory.json").read_text())


def plugin_env(option):
    return [entry["name"] for entry in yaml.safe_load(hyperv_vms.DOCUMENTATION)["options"][option]["env"]]


def test_injectors_set_the_plugins_user_and_password_variables():
    assert CREDENTIAL_TYPE["injectors"]["env"] == {
        plugin_env("user")[0]: "{{ username }}",
        plugin_env("password")[0]: "{{ password }}",
    }


def test_password_is_secret_and_both_inputs_are_required():
    fields = {field["id"]: field for field in CREDENTIAL_TYPE["inputs"]["fields"]}
    assert fields["password"]["secret"] is True
    assert not fields["username"].get("secret")
    assert sorted(CREDENTIAL_TYPE["inputs"]["required"]) == ["password", "username"]
    assert CREDENTIAL_TYPE["kind"] == "cloud"
