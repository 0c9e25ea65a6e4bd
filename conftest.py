"""Test-session set-up shared by every suite.

Ansible loads this collection from .../ansible_collections/hyperv/checkpoint, so the
session links the checkout there (build/collections) and points
ANSIBLE_COLLECTIONS_PATH at it, for pytest-ansible's --ansible-unit-inject-only and
for the ansible-playbook runs of the integration tests.
"""

import os
import pathlib

REPO = pathlib.Path(__file__).resolve().parent
COLLECTIONS = REPO / "build" / "collections"


def _link_collection():
    namespace_dir = COLLECTIONS / "ansible_collections" / "hyperv"
    namespace_dir.mkdir(parents=True, exist_ok=True)
    link = namespace_dir / "checkpoint"
    if not (link.is_symlink() and link.resolve() == REPO):
        if link.is_symlink():
            link.unlink()
        link.symlink_to(REPO, target_is_directory=True)


_link_collection()
os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS)
os.environ.setdefault("ANSIBLE_HOME", str(REPO / ".ansible"))
