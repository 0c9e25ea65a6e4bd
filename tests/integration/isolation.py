"""What each ansible-playbook run of a test keeps to itself on a machine shared by two xdist workers.

ANSIBLE_HOME is the checkout's .ansible for every run, and Ansible puts the ssh ControlMaster sockets
(cp/) and the persistent connection sockets (pc/) there: two workers' runs against two simulated
hosts would share one directory of sockets, and a socket left by a killed run could be picked up by
another test. Each test gets directories of its own instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def private_socket_dirs() -> Iterator[dict[str, str]]:
    """Environment variables that give a test its own ssh control and persistent connection directories.

    They live in a short directory directly under /tmp, not in pytest's tmp_path nor under TMPDIR: a Unix
    socket path holds at most 107 bytes, Ansible adds a name to the directory, and pytest's directories
    (longer under xdist) or a long TMPDIR would push it over the limit, where ssh fails before it logs on."""
    directory = tempfile.mkdtemp(prefix="hvcp-", dir="/tmp" if os.path.isdir("/tmp") else None)
    try:
        yield {"ANSIBLE_SSH_CONTROL_PATH_DIR": directory + "/cp",
               "ANSIBLE_PERSISTENT_CONTROL_PATH_DIR": directory + "/pc"}
    finally:
        shutil.rmtree(directory, ignore_errors=True)
