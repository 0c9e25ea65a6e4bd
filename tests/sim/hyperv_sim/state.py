"""The simulated host's state file: one JSON document shared by every process that touches the host.

Several ansible forks (each with its own WinRM shell), the simulator's threads, the test's
admin calls and the ``sim_guest`` connection all read and change one host at the same time,
so every access is a transaction: an exclusive ``fcntl.flock`` on ``<state>.lock`` held
around the whole read-modify-write, and the new text written to a temporary file that
``os.replace`` swaps in, so that no reader ever sees half a document, even one that does
not lock. The disk directories of the VMs live next to the file, in ``<stem>.disks/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pathlib
import tempfile
from typing import Callable, Iterator

STATE_VERSION = 1


class StateFileError(Exception):
    """The state file is missing or is not a state document this simulator understands."""


def disks_dir_for(state_path: str | os.PathLike) -> pathlib.Path:
    """``<dir>/<stem>.disks``: the VMs' disk directories belong with their state file."""
    path = pathlib.Path(state_path)
    return path.with_name(path.stem + ".disks")


def _encode(state: dict) -> str:
    return json.dumps(state, indent=2, ensure_ascii=True) + "\n"


def _decode(text: str, path: pathlib.Path) -> dict:
    try:
        state = json.loads(text)
    except ValueError as error:
        raise StateFileError("%s is not valid JSON: %s" % (path, error)) from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise StateFileError("%s is not a version %d hyperv-sim state file" % (path, STATE_VERSION))
    return state


def running_disk(disks_dir: str | os.PathLike, vm: dict) -> pathlib.Path:
    """The VM's running disk: the directory the guest reads and writes."""
    return pathlib.Path(disks_dir) / vm["id"] / "current"


def find_vm(state: dict, name_or_id: str) -> dict:
    """Any VM of the state file (also one owned by another node): a unique name, else an id. Names compare as
    Hyper-V compares them, case aside (an exact match first), so a guest named WEB01 in the inventory reaches
    the VM web01 as it would on a real host."""
    named = [vm for vm in state["vms"].values() if vm["name"] == name_or_id] or \
        [vm for vm in state["vms"].values() if vm["name"].lower() == name_or_id.lower()]
    if len(named) > 1:
        raise LookupError("%d VMs are named %r: use an id (%s)" % (len(named), name_or_id,
                                                                   ", ".join(vm["id"] for vm in named)))
    if named:
        return named[0]
    for vm in state["vms"].values():
        if vm["id"] == name_or_id.lower():
            return vm
    raise LookupError("no VM named or with id %r on the simulated host" % name_or_id)


class StateFile:
    """Locked, atomic access to one state file (see the module docstring)."""

    def __init__(self, path: str | os.PathLike):
        self.path = pathlib.Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.disks_dir = disks_dir_for(self.path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, text: str) -> None:
        handle, temp_path = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w", encoding="ascii") as temp:
                temp.write(text)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_path, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_path)
            raise

    @contextlib.contextmanager
    def transaction(self, create: Callable[[], dict] | None = None) -> Iterator[dict]:
        """Yield the state for reading and changing it under the lock; save it if it changed.

        A missing file raises StateFileError, unless ``create`` is given: it then makes the
        initial state. Nothing is written when the body raises, or when the state is unchanged
        (a read must leave the file as it was, byte for byte).
        """
        with self._locked():
            if self.path.exists():
                state = _decode(self.path.read_text(encoding="ascii"), self.path)
                before = _encode(state)
            elif create is not None:
                state = create()
                before = None
            else:
                raise StateFileError("no hyperv-sim state file at %s" % self.path)
            yield state
            after = _encode(state)
            if after != before:
                self._write(after)

    def read(self) -> dict:
        """A consistent copy of the state, for inspection only.

        Decoded under the lock and never encoded again: the guests' connection reads the state before
        every command, and encoding a host's whole state twice per read cost more than the command.
        """
        with self._locked():
            if not self.path.exists():
                raise StateFileError("no hyperv-sim state file at %s" % self.path)
            return _decode(self.path.read_text(encoding="ascii"), self.path)
