"""Simulated Hyper-V hosts and guests for the Molecule scenarios (extensions/molecule), outliving one command.

A Molecule scenario's ``create`` and ``destroy`` are separate ansible-playbook runs, so the lab cannot live in a
``with running_simulator(...)`` block of one process. ``up`` starts a keeper process of its own session that holds
exactly such blocks (hyperv_sim.harness.running_simulator for each host, demo/guests.py's GuestWeb for the guests'
web pages) until ``down`` stops it:

    python tests/sim/molecule_lab.py up --spec lab/hosts.yml --dir LAB --inventory INVENTORY_DIR/hyperv_lab.yml
    python tests/sim/molecule_lab.py down --dir LAB

The spec (YAML) names the Hyper-V hosts, their VMs, checkpoints and settings, and the guests with the files on their
disks; see extensions/molecule/README.md. ``up`` writes an Ansible inventory: group ``hyperv`` (winrm, NTLM with
message encryption, each host on a free port) and group ``guests`` (the sim_guest connection: the guest's tasks run
on this machine, with its disk folder as ``guest_disk_path``), and the variable ``sim_guest_web`` (the guests' web
server, ``{{ sim_guest_web }}/<vm>/<path>``).

The keeper and its simulators share one process group, so ``down`` (and a test whose Molecule crashed before its
destroy) stops them all, and also when the keeper itself hangs. ``down`` then removes the lab directory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time

import yaml

SIM_DIR = pathlib.Path(__file__).resolve().parent
for _path in (SIM_DIR, SIM_DIR / "demo"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from guests import GuestWeb, guest_vars, write_files  # noqa: E402
from hyperv_sim.admin import SimHost  # noqa: E402
from hyperv_sim.harness import inventory_vars, running_simulator  # noqa: E402

PID_FILE = "keeper.pid"
READY_FILE = "ready"
LOG_FILE = "keeper.log"
INVENTORY_FILE = "inventory.yml"
# How long ``up`` waits for the keeper's hosts to listen: each is a Python process whose start can take
# seconds on a loaded machine (two xdist workers on two cores beside other engineers' runs).
START_TIMEOUT_SECONDS = 120
# How long ``down`` lets the keeper stop its hosts (each gets running_simulator's own 5 s grace) before
# it kills the whole process group.
STOP_TIMEOUT_SECONDS = 30
# After SIGKILL: how long until the kernel has torn the processes down and they are reaped.
KILL_WAIT_SECONDS = 30
POLL_SECONDS = 0.1
HOST_KEYS = {"vms", "settings", "vm_settings", "checkpoints", "free_gb"}
GUEST_KEYS = {"hyperv", "vm", "files"}


class SpecError(ValueError):
    """The lab spec is wrong: the message names the entry."""


def load_spec(path: pathlib.Path) -> dict:
    """The lab spec, checked: {"hyperv": {host: {...}}, "guests": {guest: {...}}}."""
    spec = yaml.safe_load(path.read_text()) or {}
    if not isinstance(spec, dict) or not isinstance(spec.get("hyperv"), dict) or not spec["hyperv"]:
        raise SpecError("%s: needs a mapping 'hyperv' of at least one simulated Hyper-V host" % path)
    guests = spec.setdefault("guests", {})
    if not isinstance(guests, dict):
        raise SpecError("%s: 'guests' must be a mapping of guest names" % path)
    for name, host in spec["hyperv"].items():
        host = spec["hyperv"][name] = host or {}
        unknown = set(host) - HOST_KEYS
        if unknown:
            raise SpecError("%s: hyperv host %s has unknown keys %s (known: %s)"
                            % (path, name, ", ".join(sorted(unknown)), ", ".join(sorted(HOST_KEYS))))
    for name, guest in guests.items():
        guest = guests[name] = guest or {}
        unknown = set(guest) - GUEST_KEYS
        if unknown:
            raise SpecError("%s: guest %s has unknown keys %s (known: %s)"
                            % (path, name, ", ".join(sorted(unknown)), ", ".join(sorted(GUEST_KEYS))))
        hyperv = guest.get("hyperv")
        if hyperv not in spec["hyperv"]:
            raise SpecError("%s: guest %s names hyperv host %r, which the spec does not have" % (path, name, hyperv))
        vm = guest.get("vm", name)
        if vm not in (spec["hyperv"][hyperv].get("vms") or []):
            raise SpecError("%s: guest %s is VM %s, which is not among the vms of %s" % (path, name, vm, hyperv))
    return spec


def build_inventory(hosts: dict, guests: dict, web_url: str) -> dict:
    """The inventory of the lab: ``hosts`` {name: hyperv host variables}, ``guests`` {name: guest variables}."""
    return {
        "all": {
            "vars": {"ansible_python_interpreter": sys.executable, "sim_guest_web": web_url},
            "children": {
                "hyperv": {"hosts": hosts},
                "guests": {"hosts": guests},
            },
        }
    }


def _arrange(host: SimHost, settings: dict) -> None:
    """A host's settings, VM settings and checkpoints from the spec, before anything connects."""
    host.set_host(**dict({"merge_seconds": 0}, **(settings.get("settings") or {})))
    if settings.get("free_gb") is not None:
        host.set_free_space(settings["free_gb"])
    for vm, attrs in (settings.get("vm_settings") or {}).items():
        host.set_vm(vm, **attrs)
    for vm, checkpoints in (settings.get("checkpoints") or {}).items():
        for checkpoint in checkpoints:
            host.add_checkpoint(vm, checkpoint["name"], age_seconds=checkpoint.get("age_seconds", 0))


def serve(spec_path: pathlib.Path, lab: pathlib.Path) -> None:
    """The keeper: start every host and the guests' web server, write the inventory, then wait for a signal."""
    spec = load_spec(spec_path)
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, lambda *_: stop.set())
    hosts = {}
    with contextlib.ExitStack() as stack:
        started = {}
        for name, settings in spec["hyperv"].items():
            sim = stack.enter_context(running_simulator(lab / ("%s-state.json" % name), vms=settings.get("vms") or [],
                                                        host_name=name.upper()))
            started[name] = (sim, SimHost(sim.state_path))
            hosts[name] = inventory_vars(sim)
        web = stack.enter_context(GuestWeb(lambda vm: _state_of(vm, spec, started)))
        guests = {}
        # Files first: a checkpoint of the spec then holds them, as a checkpoint taken on the real guest would.
        for name, guest in spec["guests"].items():
            sim, host = started[guest["hyperv"]]
            disk = host.disk_path(guest.get("vm", name))
            write_files(disk, guest.get("files") or {})
            guests[name] = guest_vars(sim.state_path, guest.get("vm", name), guest["hyperv"], disk)
        for name, settings in spec["hyperv"].items():
            _arrange(started[name][1], settings)
        inventory = lab / INVENTORY_FILE
        inventory.write_text(yaml.safe_dump(build_inventory(hosts, guests, "http://127.0.0.1:%d" % web.port)))
        (lab / READY_FILE).write_text("%d\n" % os.getpid())
        while not stop.wait(1):
            pass


def _state_of(vm: str, spec: dict, started: dict):
    for name, guest in spec["guests"].items():
        if guest.get("vm", name) == vm:
            return started[guest["hyperv"]][0].state_path
    return None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _keeper_pid(lab: pathlib.Path) -> int | None:
    try:
        return int((lab / PID_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def up(spec_path: pathlib.Path, lab: pathlib.Path, inventory: pathlib.Path | None) -> int:
    """Start the keeper in a session of its own; wait until its hosts listen; copy its inventory."""
    load_spec(spec_path)  # a wrong spec fails here, before anything starts
    pid = _keeper_pid(lab)
    if pid is not None and _group_alive(pid):
        print("a lab is already running in %s (process group %d): stop it first (molecule destroy, or %s down --dir %s)"
              % (lab, pid, sys.argv[0], lab), file=sys.stderr)
        return 1
    lab.mkdir(parents=True, exist_ok=True)
    for stale in (READY_FILE, INVENTORY_FILE):
        (lab / stale).unlink(missing_ok=True)
    with open(lab / LOG_FILE, "ab") as log:
        # stdout and stderr to a file: ansible's command module waits until every holder of its pipes has exited.
        keeper = subprocess.Popen([sys.executable, str(pathlib.Path(__file__).resolve()), "serve",
                                   "--spec", str(spec_path), "--dir", str(lab)],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    (lab / PID_FILE).write_text("%d\n" % keeper.pid)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not (lab / READY_FILE).exists():
        if keeper.poll() is not None or time.monotonic() > deadline:
            reason = ("exited with code %s" % keeper.returncode if keeper.returncode is not None
                      else "was not ready within %d s" % START_TIMEOUT_SECONDS)
            stop_group(keeper.pid)
            print("the lab keeper %s; its log (%s):\n%s" % (reason, lab / LOG_FILE, (lab / LOG_FILE).read_text()),
                  file=sys.stderr)
            return 1
        time.sleep(POLL_SECONDS)
    if inventory is not None:
        inventory.parent.mkdir(parents=True, exist_ok=True)
        inventory.write_text((lab / INVENTORY_FILE).read_text())
    print(json.dumps({"pid": keeper.pid, "inventory": str(inventory or lab / INVENTORY_FILE)}))
    return 0


def stop_group(pgid: int) -> bool:
    """SIGTERM to the keeper's process group (the keeper stops its hosts), SIGKILL to what is left after
    STOP_TIMEOUT_SECONDS; True when something was running."""
    if not _group_alive(pgid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    if not _wait_for_group(pgid, STOP_TIMEOUT_SECONDS):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        _wait_for_group(pgid, KILL_WAIT_SECONDS)
    return True


def _wait_for_group(pgid: int, seconds: float) -> bool:
    """Wait until no process of the group is left (a killed process counts until it is reaped); True if none is."""
    deadline = time.monotonic() + seconds
    while _group_alive(pgid):
        if time.monotonic() > deadline:
            return False
        # The keeper is not our child once ``up`` has exited (init reaps it); reap it here when it is ours.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pgid, os.WNOHANG)
        time.sleep(POLL_SECONDS)
    return True


def down(lab: pathlib.Path, keep: bool = False) -> int:
    """Stop the lab of ``lab`` (nothing to do when none runs) and remove its directory."""
    pid = _keeper_pid(lab)
    stopped = stop_group(pid) if pid is not None else False
    if not keep and lab.exists():
        shutil.rmtree(lab)
    print(json.dumps({"stopped": stopped, "removed": not keep}))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "serve"):
        command = commands.add_parser(name)
        command.add_argument("--spec", type=pathlib.Path, required=True)
        command.add_argument("--dir", type=pathlib.Path, required=True)
        if name == "up":
            command.add_argument("--inventory", type=pathlib.Path, help="also write the inventory here")
    command = commands.add_parser("down")
    command.add_argument("--dir", type=pathlib.Path, required=True)
    command.add_argument("--keep", action="store_true", help="stop the lab but keep its directory (to look at it)")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            return up(args.spec.resolve(), args.dir.resolve(), args.inventory and args.inventory.resolve())
        if args.command == "serve":
            serve(args.spec, args.dir)
            return 0
        return down(args.dir.resolve(), args.keep)
    except SpecError as error:
        print(str(error), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
