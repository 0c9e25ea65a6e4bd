"""The built collection artifact: what users install, checked by installing it.

The tarball must hold the plugins, operation scripts, role, playbooks and docs, and nothing of the
tests, the simulated host or local caches; installed into an empty collections path, ansible-doc must
render every module from it (so the documentation users read is the one that ships).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tarfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
BIN = pathlib.Path(sys.executable).parent
MODULES = sorted("hyperv.checkpoint." + path.stem for path in (REPO / "plugins/modules").glob("*.py"))


@pytest.fixture(scope="module")
def artifact_names(artifact):
    with tarfile.open(artifact) as archive:
        return set(archive.getnames())


@pytest.fixture(scope="module")
def installed(artifact, tmp_path_factory):
    """ansible-doc's environment with only the installed artifact on the collections path."""
    collections = tmp_path_factory.mktemp("installed")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_HOME=str(collections / ".home"),
               ANSIBLE_NOCOLOR="1")
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(collections),
                    str(artifact)], check=True, capture_output=True, text=True, env=env)
    return collections, env


def test_artifact_ships_every_operation_script(artifact_names):
    scripts = sorted(path.name for path in (REPO / "plugins/plugin_utils/powershell").glob("*.ps1"))
    assert "runner.ps1" in scripts and "_errors.ps1" in scripts and "get_vms.ps1" in scripts
    for name in scripts:
        assert "plugins/plugin_utils/powershell/%s" % name in artifact_names


def test_artifact_ships_plugins_role_playbooks_and_ee_requirements(artifact_names):
    for path in ("plugins/action/hyperv_checkpoint.py", "plugins/modules/hyperv_checkpoint.py",
                 "plugins/modules/hyperv_checkpoint_type.py", "plugins/modules/hyperv_checkpoint_info.py",
                 "plugins/plugin_utils/_host_contract.py", "roles/safe_change/meta/argument_specs.yml",
                 "playbooks/patch_window.yml", "plugins/inventory/hyperv_vms.py", "meta/runtime.yml",
                 "meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt",
                 "requirements.txt", "docs/host-setup.md", "README.md"):
        assert path in artifact_names, path


def test_artifact_leaves_out_tests_simulator_and_caches(artifact_names):
    leaked = [name for name in artifact_names
              if name.startswith(("tests", ".venv", ".ansible", ".hypothesis", ".pytest_cache", "build/",
                                  "collections/", ".git", "bench/"))
              or "__pycache__" in name or name.endswith((".pyc", ".tar.gz"))]
    assert leaked == []


def test_ansible_doc_renders_every_module_from_the_installed_artifact(installed):
    collections, env = installed
    assert (collections / "ansible_collections/hyperv/checkpoint/MANIFEST.json").is_file()
    listed = subprocess.run([str(BIN / "ansible-doc"), "--list", "--json", "hyperv.checkpoint"],
                            check=True, capture_output=True, text=True, env=env)
    assert sorted(json.loads(listed.stdout)) == MODULES
    for module in MODULES:
        shown = subprocess.run([str(BIN / "ansible-doc"), module], capture_output=True, text=True, env=env,
                               check=False)
        assert shown.returncode == 0, shown.stderr
        assert "ERROR" not in shown.stderr and str(collections) in shown.stdout, shown.stdout[:500]
        assert "EXAMPLES:" in shown.stdout and "RETURN VALUES:" in shown.stdout


def test_ansible_doc_renders_the_role_from_the_installed_artifact(installed):
    collections, env = installed
    shown = subprocess.run([str(BIN / "ansible-doc"), "-t", "role", "hyperv.checkpoint.safe_change"],
                           capture_output=True, text=True, env=env, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "ENTRY POINT: *main*" in shown.stdout and "safe_change_id" in shown.stdout and "hyperv_host" in shown.stdout


def test_ansible_doc_renders_the_inventory_plugin_from_the_installed_artifact(installed):
    collections, env = installed
    listed = subprocess.run([str(BIN / "ansible-doc"), "-t", "inventory", "--list", "--json", "hyperv.checkpoint"],
                            check=True, capture_output=True, text=True, env=env)
    assert sorted(json.loads(listed.stdout)) == ["hyperv.checkpoint.hyperv_vms"]
    shown = subprocess.run([str(BIN / "ansible-doc"), "-t", "inventory", "hyperv.checkpoint.hyperv_vms"],
                           capture_output=True, text=True, env=env, check=False)
    assert shown.returncode == 0, shown.stderr
    assert str(collections) in shown.stdout and "keyed_groups" in shown.stdout and "EXAMPLES:" in shown.stdout
