# -*- coding: utf-8 -*-
"""The checkpoint-type choices are written once, in plugin_utils/_checkpoint_types.py; the code takes them from there.

Documentation cannot: module DOCUMENTATION is static YAML (ansible-doc and ansible-test read it without running the
module), the role's meta/argument_specs.yml is YAML, an AWX survey is JSON. So this checks every documented list, as
ansible-doc reads it, against _checkpoint_types.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_options import role_options

REPO = pathlib.Path(__file__).resolve().parents[3]
ANSIBLE_DOC = pathlib.Path(sys.executable).parent / "ansible-doc"
REQUESTABLE = list(checkpoint_types.REQUESTABLE)
# The role validates its variables before anything normalizes them, so it lists Hyper-V's spelling too.
ROLE_CHOICES = ["", *REQUESTABLE, *(checkpoint_types.host_value(option) for option in REQUESTABLE)]

# (plugin type, name, option) -> the choices it must document.
DOCUMENTED = {
    ("module", "hyperv_checkpoint", "checkpoint_type"): REQUESTABLE,
    ("module", "hyperv_checkpoint_type", "checkpoint_type"): list(checkpoint_types.SETTINGS),
    ("module", "safe_change_hold", "checkpoint_type"): ["", *REQUESTABLE],
    ("role", "safe_change", "safe_change_checkpoint_type"): ROLE_CHOICES,
}


def ansible_doc(plugin_type, names):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    completed = subprocess.run([str(ANSIBLE_DOC), "-t", plugin_type, "--json"]
                               + ["hyperv.checkpoint.%s" % name for name in names],
                               env=env, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.fixture(scope="module")
def documented_choices():
    found = {}
    modules = ansible_doc("module", [name for kind, name, dummy in DOCUMENTED if kind == "module"])
    roles = ansible_doc("role", [name for kind, name, dummy in DOCUMENTED if kind == "role"])
    for kind, name, option in DOCUMENTED:
        if kind == "module":
            options = modules["hyperv.checkpoint.%s" % name]["doc"]["options"]
        else:
            options = roles["hyperv.checkpoint.%s" % name]["entry_points"]["main"]["options"]
        found[kind, name, option] = options[option].get("choices")
    return found


@pytest.mark.parametrize("place", sorted(DOCUMENTED), ids="-".join)
def test_documented_choices_are_those_of_checkpoint_types(documented_choices, place):
    assert documented_choices[place] == DOCUMENTED[place]


def test_no_other_option_documents_checkpoint_types(documented_choices):
    """A new option that takes a checkpoint type is added to DOCUMENTED, so the test above covers it."""
    host_spellings = set(checkpoint_types.HOST_VALUES.values())
    everything = set(checkpoint_types.SETTINGS) | host_spellings
    modules = [path.stem for path in (REPO / "plugins" / "modules").glob("*.py")]
    places = []
    for fqcn, data in ansible_doc("module", modules).items():
        places += [("module", fqcn.split(".")[-1], option, spec.get("choices"))
                   for option, spec in data["doc"]["options"].items()]
    for fqcn, data in ansible_doc("role", ["safe_change"]).items():
        for entry_point in data["entry_points"].values():
            places += [("role", fqcn.split(".")[-1], option, spec.get("choices"))
                       for option, spec in entry_point["options"].items()]
    typed = {(kind, name, option) for kind, name, option, choices in places if everything & set(choices or [])}
    assert typed == set(DOCUMENTED)


def test_awx_surveys_offer_the_role_choices():
    """A survey question for a checkpoint type offers what the role takes (none asks for one today)."""
    for path in sorted((REPO / "awx" / "surveys").glob("*.json")):
        for question in json.loads(path.read_text())["spec"]:
            if question["variable"].endswith("checkpoint_type"):
                choices = question["choices"]
                choices = choices.split("\n") if isinstance(choices, str) else choices
                assert set(choices) <= set(ROLE_CHOICES), (path.name, question["variable"])


def test_the_role_validates_the_documented_choices():
    """The role's variables are validated once, against its argument spec as the role's options reader reads it."""
    assert role_options()["safe_change_checkpoint_type"]["choices"] == ROLE_CHOICES
