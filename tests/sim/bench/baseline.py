"""The baseline's collection, ansible.windows, installed for the bench only (not a test requirement).

Ansible Galaxy is not reachable here; the ``ansible`` package on PyPI carries ansible.windows.
Its wheel is downloaded once with pip (no install, no dependencies) into build/bench/ and only
ansible_collections/ansible/windows is unpacked into build/bench/collections, which the
baseline's playbooks add to ANSIBLE_COLLECTIONS_PATH. A fresh clone sets this up by itself.
"""

from __future__ import annotations

import glob
import os
import pathlib
import subprocess
import sys
import zipfile

from bench.lab import REPO

# The community package of the ansible-core release the collection pins (2.19 -> Ansible 12).
ANSIBLE_PACKAGE = "ansible==12.3.0"
BENCH_DIR = REPO / "build" / "bench"
COLLECTIONS = BENCH_DIR / "collections"
WINDOWS = COLLECTIONS / "ansible_collections" / "ansible" / "windows"
PREFIX = "ansible_collections/ansible/windows/"


def collections_path() -> str:
    """ANSIBLE_COLLECTIONS_PATH with ansible.windows and this collection (build/collections)."""
    ensure_ansible_windows()
    return os.pathsep.join([str(COLLECTIONS), str(REPO / "build" / "collections")])


def ensure_ansible_windows() -> pathlib.Path:
    if (WINDOWS / "MANIFEST.json").exists():
        return WINDOWS
    wheels = BENCH_DIR / "wheels"
    found = glob.glob(str(wheels / "ansible-*.whl"))
    if not found:
        print("bench: downloading %s (once, for ansible.windows.win_powershell)" % ANSIBLE_PACKAGE, flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                        "-d", str(wheels), ANSIBLE_PACKAGE], check=True)
        found = glob.glob(str(wheels / "ansible-*.whl"))
    with zipfile.ZipFile(found[0]) as wheel:
        for member in wheel.namelist():
            if member.startswith(PREFIX):
                wheel.extract(member, COLLECTIONS)
    return WINDOWS
