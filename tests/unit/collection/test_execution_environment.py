"""The execution environment: `ansible-builder create` on execution-environment.yml, and what the
build would install for the collection (its meta/execution-environment.yml, read by the very
introspection script the build context carries). No container runtime runs here, so the image
itself is not built."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml
from packaging.requirements import Requirement

REPO = pathlib.Path(__file__).resolve().parents[3]
BIN = pathlib.Path(sys.executable).parent
DEFINITION = REPO / "execution-environment.yml"


def pins(path):
    """name -> version of the ``name==version`` lines of a requirements file and the files it includes (-r)."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)$", line.strip())
        if match:
            found[match.group(1).lower()] = match.group(2)
        elif line.startswith("-r "):
            found.update(pins(path.parent / line[3:].strip()))
    return found


@pytest.fixture(scope="module")
def context(artifact, tmp_path_factory):
    """`ansible-builder create` of a copy of the definition, beside the freshly built collection."""
    work = tmp_path_factory.mktemp("ee")
    shutil.copy(DEFINITION, work / "execution-environment.yml")
    (work / "build" / "ee").mkdir(parents=True)
    shutil.copy(artifact, work / "build" / "ee" / "hyperv-checkpoint.tar.gz")
    completed = subprocess.run(
        [str(BIN / "ansible-builder"), "create", "--file", "execution-environment.yml", "--context", "context",
         "--output-filename", "Containerfile"], cwd=str(work), capture_output=True, text=True, timeout=300,
        check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return work / "context"


def test_create_writes_a_containerfile_with_the_tested_ansible_core(context):
    containerfile = (context / "Containerfile").read_text()
    tested = pins(REPO / "requirements.txt")
    assert 'ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"' in containerfile
    assert "ansible-core==%s" % tested["ansible-core"] in containerfile
    # The steps that install the collections and then their requirements.
    assert "ansible-galaxy collection install" in containerfile
    assert "introspect.py introspect" in containerfile


def test_the_context_carries_this_collection_and_ansible_windows(context, artifact):
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements["collections"] == [{"name": "ansible.windows", "version": ">=2.5.0"},
                                           {"name": "collections/hyperv-checkpoint.tar.gz", "type": "file"}]
    shipped = context / "_build" / "collections" / "hyperv-checkpoint.tar.gz"
    assert shipped.read_bytes() == artifact.read_bytes()


def test_introspection_finds_winrm_psrp_and_kerberos_requirements(context, artifact, tmp_path):
    # Install the artifact as the galaxy stage would, then run the context's own introspect.py.
    target = tmp_path / "ansible_collections" / "hyperv" / "checkpoint"
    target.mkdir(parents=True)
    with tarfile.open(artifact) as archive:
        archive.extractall(target, filter="data")
    completed = subprocess.run(
        [sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect", str(tmp_path),
         "--write-pip", str(tmp_path / "requirements.txt"), "--write-bindep", str(tmp_path / "bindep.txt")],
        capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    python = [Requirement(line.split("#", 1)[0].strip())
              for line in (tmp_path / "requirements.txt").read_text().splitlines() if line.strip()]
    by_name = {requirement.name.lower(): requirement for requirement in python}
    assert by_name["pywinrm"].extras == {"kerberos", "credssp"}
    assert by_name["pypsrp"].extras == {"kerberos", "credssp"}
    # The versions the collection is tested with are allowed in the EE.
    tested = pins(REPO / "requirements.txt")
    for name, requirement in by_name.items():
        assert requirement.specifier.contains(tested[name]), (name, tested[name])
    system = (tmp_path / "bindep.txt").read_text()
    assert "krb5-libs [platform:rpm]" in system and "krb5-devel [platform:rpm compile]" in system
