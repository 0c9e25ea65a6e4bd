"""The built collection artifact: what users install must hold the operation scripts and nothing of the test bed."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tarfile

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def artifact_names(tmp_path_factory):
    output = tmp_path_factory.mktemp("build")
    galaxy = pathlib.Path(sys.executable).parent / "ansible-galaxy"
    subprocess.run([str(galaxy), "collection", "build", "--force", "--output-path", str(output), str(REPO)],
                   check=True, capture_output=True, text=True)
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    with tarfile.open(output / ("hyperv-checkpoint-%s.tar.gz" % version)) as archive:
        return set(archive.getnames())


def test_artifact_ships_every_operation_script(artifact_names):
    scripts = sorted(path.name for path in (REPO / "plugins/plugin_utils/powershell").glob("*.ps1"))
    assert "runner.ps1" in scripts and "_common.ps1" in scripts
    for name in scripts:
        assert "plugins/plugin_utils/powershell/%s" % name in artifact_names


def test_artifact_ships_modules_role_playbooks_and_ee_requirements(artifact_names):
    for path in ("plugins/action/hyperv_checkpoint.py", "plugins/modules/hyperv_checkpoint.py",
                 "plugins/modules/hyperv_checkpoint_type.py", "plugins/modules/hyperv_checkpoint_info.py",
                 "roles/safe_change/meta/argument_specs.yml", "playbooks/patch_window.yml",
                 "meta/runtime.yml", "meta/execution-environment.yml", "requirements.txt"):
        assert path in artifact_names, path


def test_artifact_leaves_out_the_simulator_and_local_state(artifact_names):
    leaked = [name for name in artifact_names
              if name.startswith(("tests/sim", "tests/output", ".venv", ".ansible", "build/", "collections/", "bench/"))
              or "__pycache__" in name or name.endswith(".pyc")]
    assert leaked == []
