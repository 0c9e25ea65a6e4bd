# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: shape the host's VM and checkpoint records into hyperv_checkpoint_info's report (pure)."""

from __future__ import annotations

import datetime
import fnmatch
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_planner import age_seconds, kind_of
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_tree import CheckpointTree

if TYPE_CHECKING:
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_contract import (
        CheckpointRecord,
        HostRecord,
        VmRecord,
    )


def checkpoint_entry(checkpoint: CheckpointRecord, vm: VmRecord, now: datetime.datetime,
                     depths: Mapping[str | None, int]) -> dict[str, Any]:
    entry = dict(checkpoint)
    entry["age_seconds"] = int(age_seconds(checkpoint, now))
    entry["is_current"] = checkpoint["id"] == vm.get("current_checkpoint_id")
    entry["depth"] = depths.get(checkpoint["id"], 0)
    entry["kind"] = kind_of(checkpoint)
    return entry


def matches(entry: Mapping[str, Any], name_pattern: str | None, older_than: float | None) -> bool:
    if name_pattern is not None and not fnmatch.fnmatchcase(entry["name"], name_pattern):
        return False
    if older_than is not None and entry["age_seconds"] <= older_than:
        return False
    return True


def vm_report(vm: VmRecord, now: datetime.datetime, name_pattern: str | None = None,
              older_than: float | None = None) -> dict[str, Any]:
    checkpoints = vm.get("checkpoints", [])
    tree = CheckpointTree(checkpoints)
    depths = tree.depths()
    entries = [checkpoint_entry(cp, vm, now, depths) for cp in checkpoints]
    selected = [entry for entry in entries if matches(entry, name_pattern, older_than)]
    sizes = [entry["size_bytes"] for entry in entries if entry.get("size_bytes") is not None]
    report = checkpoint_types.with_option({key: value for key, value in vm.items() if key != "checkpoints"})
    report.update(
        checkpoints=selected,
        checkpoint_total=len(entries),
        checkpoint_matching=len(selected),
        oldest_age_seconds=max((entry["age_seconds"] for entry in entries), default=None),
        newest_age_seconds=min((entry["age_seconds"] for entry in entries), default=None),
        total_size_bytes=sum(sizes) if sizes else None,
        tree=tree.render(vm.get("current_checkpoint_id")),
    )
    return report


def unique_vms(vms: Iterable[VmRecord]) -> list[VmRecord]:
    """Each VM once, in first-seen order: a VM asked for by name and by id is one VM."""
    seen: set[str] = set()
    unique: list[VmRecord] = []
    for vm in vms:
        if vm["id"] not in seen:
            seen.add(vm["id"])
            unique.append(vm)
    return unique


def build_report(host: HostRecord, vms: Iterable[VmRecord], now: datetime.datetime, name_pattern: str | None = None,
                 older_than: float | None = None) -> dict[str, Any]:
    reports = [vm_report(vm, now, name_pattern, older_than) for vm in unique_vms(vms)]
    return {
        "host": host,
        "vms": reports,
        "vm_count": len(reports),
        "checkpoint_count": sum(r["checkpoint_total"] for r in reports),
        "matching_count": sum(r["checkpoint_matching"] for r in reports),
        "merging_vms": [r["name"] for r in reports if r.get("merging")],
    }
