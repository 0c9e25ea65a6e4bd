# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: a VM's checkpoint tree (pure): parents, descendants, depths, text.

Built once from the checkpoint records of one VM (``id``, ``parent_id``; docs/host-protocol.md). A checkpoint
whose parent is not among them (a root, or one whose parent was left out of a listing) is a root here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Collection, Iterable

if TYPE_CHECKING:
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_contract import CheckpointRecord


class CheckpointTree:
    """The checkpoints of one VM as a tree, in the order given."""

    def __init__(self, checkpoints: Iterable[CheckpointRecord]) -> None:
        self.checkpoints = list(checkpoints)
        # Looked up with None too (a root's parent), which no checkpoint has as its id.
        self.parents: dict[str | None, str | None] = {cp["id"]: cp.get("parent_id") for cp in self.checkpoints}
        self.children: dict[str | None, list[CheckpointRecord]] = {}
        for cp in self.checkpoints:
            self.children.setdefault(self.parent_of(cp["id"]), []).append(cp)

    def parent_of(self, checkpoint_id: str | None) -> str | None:
        """The parent's id, or None for a root."""
        parent = self.parents.get(checkpoint_id)
        return parent if parent in self.parents else None

    def descendants(self, roots: Iterable[str]) -> list[CheckpointRecord]:
        """Every checkpoint below the ids ``roots`` (not the roots themselves)."""
        found: list[CheckpointRecord] = []
        stack: list[str | None] = list(roots)
        while stack:
            for child in self.children.get(stack.pop(), []):
                found.append(child)
                stack.append(child["id"])
        return found

    def depths(self) -> dict[str | None, int]:
        """Depth of each checkpoint (a root is 0)."""
        depths: dict[str | None, int] = {}
        for checkpoint_id in self.parents:
            depth, parent = 0, self.parent_of(checkpoint_id)
            while parent is not None:
                depth, parent = depth + 1, self.parent_of(parent)
            depths[checkpoint_id] = depth
        return depths

    def surviving_ancestor(self, checkpoint_id: str | None, removed: Collection[str | None]) -> str | None:
        """``checkpoint_id``, or its nearest ancestor not in ``removed`` (None when there is none)."""
        while checkpoint_id in removed:
            checkpoint_id = self.parents.get(checkpoint_id)
        return checkpoint_id

    def without(self, removed_ids: Iterable[str],
                current: str | None) -> tuple[list[CheckpointRecord], str | None]:
        """(the checkpoints left after deleting ``removed_ids``, each under its nearest surviving ancestor, and
        the VM's position ``current`` after it): Hyper-V moves children and "Now" up to the deleted one's parent."""
        removed: set[str | None] = set(removed_ids)
        kept = [dict(cp, parent_id=self.surviving_ancestor(cp.get("parent_id"), removed))
                for cp in self.checkpoints if cp["id"] not in removed]
        return kept, self.surviving_ancestor(current, removed)

    def render(self, current_id: str | None) -> str:
        """The tree as text, one line per checkpoint (``name [id] creation_time``), indented under its parent,
        '<- Now' at the VM's position."""
        lines: list[str] = []

        def walk(parent: str | None, depth: int) -> None:
            for cp in self.children.get(parent, []):
                marker = "  <- Now" if cp["id"] == current_id else ""
                lines.append("%s%s [%s] %s%s" % ("  " * depth, cp["name"], cp["id"], cp.get("creation_time") or "",
                                                 marker))
                walk(cp["id"], depth + 1)

        walk(None, 0)
        if current_id is None:
            lines.append("(Now: no checkpoint above the running state)")
        return "\n".join(lines) + "\n"


def render_tree(checkpoints: Iterable[CheckpointRecord], current_id: str | None) -> str:
    """The checkpoint tree of ``checkpoints`` as text (CheckpointTree.render)."""
    return CheckpointTree(checkpoints).render(current_id)
