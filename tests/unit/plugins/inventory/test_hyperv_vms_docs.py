# -*- coding: utf-8 -*-
"""The inventory plugin hyperv_vms: its documentation as ansible-doc renders it, and its examples."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

from ansible_collections.hyperv.checkpoint.plugins.inventory import hyperv_vms

FQCN = "hyperv.checkpoint.hyperv_vms"
ANSIBLE_DOC = pathlib.Path(sys.executable).parent / "ansible-doc"
SOURCE = pathlib.Path(hyperv_vms.__file__).read_text(encoding="utf-8")


class VaultLoader(yaml.SafeLoader):
    """Reads the examples' inline vault values as plain text."""


VaultLoader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))


@pytest.fixture(scope="module")
def rendered():
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    completed = subprocess.run([str(ANSIBLE_DOC), "-t", "inventory", FQCN, "--json"], env=env, capture_output=True,
                               text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    assert "WARNING" not in completed.stderr, completed.stderr
    return json.loads(completed.stdout)[FQCN]


def test_ansible_doc_renders_every_option_with_type_and_description(rendered):
    doc = rendered
    assert doc["doc"]["version_added"] == "0.1.0"  # the first release had it (changelogs/changelog.yaml)
    options = doc["doc"]["options"]
    own = yaml.safe_load(hyperv_vms.DOCUMENTATION)["options"]
    for name in own:
        assert options[name]["type"] and options[name]["description"], name
    # The constructed and inventory_cache fragments are merged in.
    assert {"compose", "groups", "keyed_groups", "strict", "cache", "cache_plugin", "cache_timeout"} <= set(options)
    assert options["validate_certs"]["default"] is True
    assert options["password"]["env"] == [{"name": "HYPERV_INVENTORY_PASSWORD"}]


def test_the_code_reads_only_documented_options(rendered):
    used = set(re.findall(r'get_option\("([a-z_]+)"\)', SOURCE))
    assert used and used <= set(rendered["doc"]["options"])


def test_examples_use_only_documented_options_and_keep_certificate_validation(rendered):
    options = set(rendered["doc"]["options"])
    examples = [example for example in yaml.load_all(hyperv_vms.EXAMPLES, Loader=VaultLoader) if example]
    assert len(examples) == 4
    for example in examples:
        assert example["plugin"] == FQCN
        assert set(example) <= options, set(example) - options
        assert example.get("validate_certs", True) is True
        assert "password" not in example or example["password"].startswith("$ANSIBLE_VAULT")
