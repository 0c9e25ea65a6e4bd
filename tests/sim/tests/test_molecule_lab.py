"""tests/sim/molecule_lab.py, the simulated lab of the Molecule scenarios: up starts hosts that answer and writes
their inventory, down stops every process of the lab (also a keeper that ignores SIGTERM), a wrong spec is refused
naming the entry before anything starts."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys

import pytest
import yaml

import molecule_lab

TOOL = pathlib.Path(molecule_lab.__file__).resolve()

SPEC = """\
hyperv:
  hv01:
    vms: [app01, app02]
    settings: {merge_seconds: 1}
    vm_settings: {app02: {checkpoint_type: Standard}}
    checkpoints:
      app01: [{name: nightly, age_seconds: 86400}]
guests:
  app01: {hyperv: hv01, files: {app/version: "1.4\\n"}}
  app02: {hyperv: hv01}
"""


def run(*args, timeout=180):
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def listens(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def lab(tmp_path):
    """A lab directory; whatever the test left running there is stopped afterwards."""
    directory = tmp_path / "lab"
    yield directory
    run("down", "--dir", str(directory))


def test_up_writes_the_inventory_of_hosts_that_answer_and_down_stops_them(lab, tmp_path):
    spec = tmp_path / "lab.yml"
    spec.write_text(SPEC)
    inventory_path = tmp_path / "inventory" / "hyperv_lab.yml"

    started = run("up", "--spec", str(spec), "--dir", str(lab), "--inventory", str(inventory_path))

    assert started.returncode == 0, started.stderr
    inventory = yaml.safe_load(inventory_path.read_text())["all"]
    hv01 = inventory["children"]["hyperv"]["hosts"]["hv01"]
    assert hv01["ansible_connection"] == "winrm" and listens(hv01["ansible_port"])
    guests = inventory["children"]["guests"]["hosts"]
    assert set(guests) == {"app01", "app02"}
    assert guests["app01"]["ansible_connection"] == "sim_guest" and guests["app01"]["hyperv_host"] == "hv01"
    disk = pathlib.Path(guests["app01"]["guest_disk_path"])
    assert (disk / "app" / "version").read_text() == "1.4\n"
    assert inventory["vars"]["sim_guest_web"].startswith("http://127.0.0.1:")
    host = molecule_lab.SimHost(guests["app01"]["ansible_sim_state"])
    assert [checkpoint["name"] for checkpoint in host.checkpoints("app01")] == ["nightly"]
    assert host.vm("app02")["checkpoint_type"] == "Standard"
    assert host.state()["host"]["merge_seconds"] == 1
    pgid = int((lab / molecule_lab.PID_FILE).read_text())
    assert group_alive(pgid)
    # A second up over a running lab is refused; the lab goes on.
    again = run("up", "--spec", str(spec), "--dir", str(lab))
    assert again.returncode == 1 and "already running" in again.stderr
    assert listens(hv01["ansible_port"])

    stopped = run("down", "--dir", str(lab))

    assert stopped.returncode == 0, stopped.stderr
    assert not group_alive(pgid)
    assert not listens(hv01["ansible_port"])
    assert not lab.exists()
    # Nothing left to stop: down is a no-op.
    assert run("down", "--dir", str(lab)).returncode == 0


def test_down_kills_a_lab_that_does_not_stop(lab, tmp_path, monkeypatch):
    """A keeper that ignores SIGTERM (hung) is killed with its hosts after the grace period."""
    spec = tmp_path / "lab.yml"
    spec.write_text(SPEC)
    assert run("up", "--spec", str(spec), "--dir", str(lab)).returncode == 0
    pgid = int((lab / molecule_lab.PID_FILE).read_text())
    os.kill(pgid, signal.SIGSTOP)  # a stopped process never handles SIGTERM; SIGKILL still ends it
    monkeypatch.setattr(molecule_lab, "STOP_TIMEOUT_SECONDS", 1)

    assert molecule_lab.down(lab) == 0

    assert not group_alive(pgid)
    assert not lab.exists()


@pytest.mark.parametrize("spec, message", [
    ("guests: {}\n", "needs a mapping 'hyperv' of at least one simulated Hyper-V host"),
    ("hyperv: {hv01: {vms: [a]}}\nguests: {a: {hyperv: hv02}}\n",
     "guest a names hyperv host 'hv02', which the spec does not have"),
    ("hyperv: {hv01: {vms: [a]}}\nguests: {b: {hyperv: hv01}}\n", "guest b is VM b, which is not among the vms of hv01"),
    ("hyperv: {hv01: {vm: [a]}}\n", "hyperv host hv01 has unknown keys vm"),
    ("hyperv: {hv01: {vms: [a]}}\nguests: {a: {hyperv: hv01, file: {}}}\n", "guest a has unknown keys file"),
])
def test_a_wrong_spec_is_refused_naming_the_entry_before_anything_starts(lab, tmp_path, spec, message):
    path = tmp_path / "lab.yml"
    path.write_text(spec)

    refused = run("up", "--spec", str(path), "--dir", str(lab))

    assert refused.returncode == 2 and message in refused.stderr, refused.stderr
    assert not lab.exists()
