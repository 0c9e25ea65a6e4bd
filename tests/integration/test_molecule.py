"""The Molecule scenarios of extensions/molecule, run by pytest-ansible's ``molecule_scenario`` fixture.

pytest-ansible finds every scenario git tracks (``**/molecule/*/molecule.yml``) and gives each to
``test_scenario`` as a ``MoleculeScenario``, whose ``test()`` is ``molecule test -s <name>`` run in
extensions/ (so run pytest from the repository's root, as ``make test`` does). Each scenario's create
starts simulated Hyper-V hosts and guests (tests/sim/molecule_lab.py) and its destroy stops them; the
fixture ``molecule_run`` gives each run its own Molecule ephemeral directory and stops the lab itself
when Molecule did not (a crash, a timeout), so no simulator outlives a test.

``test_a_converge_that_is_not_idempotent_fails_naming_the_task`` runs a scenario built for the test:
a converge with a task that changes the VM on every run, whose idempotence step must fail and name it.
"""

from __future__ import annotations

import itertools
import os
import pathlib
import re
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
import yaml

from deprecations import DEPRECATION
from isolation import private_socket_dirs

if TYPE_CHECKING:  # the fixture comes from pytest-ansible, which only .venv (ansible-core 2.19) has
    from pytest_ansible.molecule import MoleculeScenario

pytestmark = pytest.mark.integration

REPO = pathlib.Path(__file__).resolve().parents[2]
MOLECULE_ROOT = REPO / "extensions" / "molecule"
LAB_TOOL = REPO / "tests" / "sim" / "molecule_lab.py"
ANSIBLE_BIN = pathlib.Path(sys.executable).parent
# Each scenario keeps its own state here: the lab (hosts, disks), Molecule's inventory and the results.
LAB_DIR = "hyperv-lab"


class MoleculeRun:
    """Where one Molecule run keeps its state, and what it printed."""

    def __init__(self, ephemeral: pathlib.Path, capfd):
        self.ephemeral = ephemeral
        self._capfd = capfd

    @property
    def lab(self) -> pathlib.Path:
        return self.ephemeral / LAB_DIR

    def output(self) -> str:
        """What Molecule printed since the last call (pytest's capture of the process's stdout and stderr)."""
        captured = self._capfd.readouterr()
        return captured.out + captured.err


@pytest.fixture
def molecule_run(tmp_path, monkeypatch, capfd):
    """The environment of one Molecule run: its own ephemeral directory, Ansible temp and socket directories,
    this virtualenv first on PATH (Molecule runs ansible-playbook and ansible-config by name), the collection
    path of conftest.py. Afterwards the lab is stopped whatever Molecule did, and the test fails when it was
    Molecule's destroy that should have done it."""
    ephemeral = tmp_path / "molecule"
    monkeypatch.setenv("MOLECULE_EPHEMERAL_DIRECTORY", str(ephemeral))
    monkeypatch.setenv("ANSIBLE_LOCAL_TEMP", str(tmp_path / "ansible-tmp"))
    monkeypatch.setenv("PATH", "%s%s%s" % (ANSIBLE_BIN, os.pathsep, os.environ.get("PATH", "")))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("ANSIBLE_NOCOLOR", "1")
    monkeypatch.setenv("ANSIBLE_FORCE_COLOR", "0")
    monkeypatch.delenv("MOLECULE_OPTS", raising=False)
    run = MoleculeRun(ephemeral, capfd)
    with private_socket_dirs() as socket_dirs:
        for name, value in socket_dirs.items():
            monkeypatch.setenv(name, value)
        try:
            yield run
        finally:
            left = stop_left_lab(run.lab)
    assert not left, "Molecule's destroy did not stop and remove the lab in %s" % run.lab


def stop_left_lab(lab: pathlib.Path) -> bool:
    """Stop and remove the lab a Molecule run left behind (it crashed, or timed out, before its destroy);
    True when there was one."""
    if not lab.exists():
        return False
    stopped = subprocess.run([sys.executable, str(LAB_TOOL), "down", "--dir", str(lab)], check=False,
                             capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    return True


def check_output(output: str) -> None:
    for line in output.splitlines():
        assert DEPRECATION not in line, output[-20000:]


# A line of the DETAILS Molecule prints at the end: "<scenario> > <step>: Executed: <result>" ("➜" in colour).
DETAIL = re.compile(r"^(\S+) (?:>|➜) (\w+): Executed: (.+?)\s*$")


def test_scenario(molecule_scenario: MoleculeScenario, molecule_run):
    """``molecule test`` of each scenario: every step of its test_sequence ran and succeeded (none skipped or
    missing its playbook). The scenario's verify.yml holds its assertions."""
    completed = molecule_scenario.test()
    output = molecule_run.output()
    assert completed.returncode == 0, output[-20000:]
    sequence = yaml.safe_load((MOLECULE_ROOT / molecule_scenario.name / "molecule.yml").read_text())[
        "scenario"]["test_sequence"]
    details = [match.group(2, 3) for match in map(DETAIL.match, output.splitlines())
               if match and match.group(1) == molecule_scenario.name]
    assert details == [(step, "Successful") for step in sequence], output[-20000:]
    check_output(output)


NOT_IDEMPOTENT_CONVERGE = """\
---
- name: Converge | A task that changes the VM on every run
  hosts: hyperv
  gather_facts: false
  tasks:
    - name: Converge | Standard checkpoints for web01
      hyperv.checkpoint.hyperv_checkpoint_type:
        vm: [web01]
        checkpoint_type: standard

    - name: Converge | A checkpoint of web01
      hyperv.checkpoint.hyperv_checkpoint:
        vm: web01
        name: before patch

    - name: Converge | Roll web01 back to its checkpoint, on every run
      hyperv.checkpoint.hyperv_checkpoint:
        vm: web01
        name: before patch
        state: restored
        power_state: running
"""


def test_a_converge_that_is_not_idempotent_fails_naming_the_task(molecule_run, tmp_path):
    """A copy of the scenario ``modules`` with a converge that restores a checkpoint on every run: ``molecule
    test`` fails at its idempotence step with a message naming that task (and only it), and destroy still
    stops the lab."""
    project = tmp_path / "collection"
    scenario = project / "extensions" / "molecule" / "not_idempotent"
    shutil.copytree(MOLECULE_ROOT / "utils", project / "extensions" / "molecule" / "utils")
    scenario.mkdir()
    # The scenarios reach the simulator as ../../../tests from their own directory.
    (project / "tests").symlink_to(REPO / "tests", target_is_directory=True)
    molecule_yml = (MOLECULE_ROOT / "modules" / "molecule.yml").read_text()
    assert "    - prepare\n" in molecule_yml and "    - verify\n" in molecule_yml
    (scenario / "molecule.yml").write_text(molecule_yml.replace("    - prepare\n", "").replace("    - verify\n", ""))
    (scenario / "lab").mkdir()
    (scenario / "lab" / "hosts.yml").write_text("hyperv:\n  hv01:\n    vms: [web01]\n")
    (scenario / "converge.yml").write_text(NOT_IDEMPOTENT_CONVERGE)

    completed = subprocess.run([sys.executable, "-m", "molecule", "test", "-s", "not_idempotent"],
                               cwd=project / "extensions", check=False, timeout=280)
    output = molecule_run.output()

    assert completed.returncode != 0, output[-20000:]
    start = output.find("Idempotence test failed because of the following tasks:")
    assert start >= 0, output[-20000:]
    failure = output[start:]
    # "* [host] => task" per task that changed something (Molecule's console may drop the "[host]" as markup).
    lines = failure.splitlines()[1:]
    named = [line.split("=> ", 1)[1].strip() for line in itertools.takewhile(lambda line: line.startswith("*"), lines)]
    assert named == ["Converge | Roll web01 back to its checkpoint, on every run"], failure[:3000]
    # Then destroy ran (and the fixture checks that it stopped the lab and removed it).
    assert any("destroy" in line and "Executed: Successful" in line for line in lines), failure[-6000:]
    check_output(output)


def test_a_lab_molecule_left_running_is_stopped_by_the_test(molecule_run):
    """``molecule create`` alone leaves the lab running, as a Molecule that crashed before its destroy would:
    the fixture's clean-up (stop_left_lab) stops the keeper and every simulator of the lab."""
    completed = subprocess.run([sys.executable, "-m", "molecule", "create", "-s", "modules"],
                               cwd=MOLECULE_ROOT.parent, check=False, timeout=280)
    output = molecule_run.output()
    assert completed.returncode == 0, output[-20000:]
    pgid = int((molecule_run.lab / "keeper.pid").read_text())
    os.killpg(pgid, 0)  # running (raises ProcessLookupError otherwise)

    assert stop_left_lab(molecule_run.lab)

    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    assert not molecule_run.lab.exists()
