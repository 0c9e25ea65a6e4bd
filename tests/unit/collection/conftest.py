"""The collection artifact, built once for the tests of this directory."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def artifact(tmp_path_factory):
    """The path of ``ansible-galaxy collection build`` of this checkout."""
    output = tmp_path_factory.mktemp("build")
    galaxy = pathlib.Path(sys.executable).parent / "ansible-galaxy"
    subprocess.run([str(galaxy), "collection", "build", "--force", "--output-path", str(output), str(REPO)],
                   check=True, capture_output=True, text=True)
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    return output / ("hyperv-checkpoint-%s.tar.gz" % version)
