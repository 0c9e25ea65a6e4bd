# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: free space on the volumes of a VM, the first cause of checkpoint outages (pure functions).

A checkpoint's differencing disk (.avhdx) takes every write the guest makes after it; when its
volume fills, Hyper-V pauses the VM (reference: "paused-critical"), and a later delete needs room
for the merge. The host reports each VM's volumes (disks, differencing disks, checkpoint files) in
the VM record's ``volumes`` (docs/host-protocol.md); these functions decide on them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_contract import VmRecord

# Gigabytes as Windows shows them: 1024**3 bytes.
GIB = 1024 ** 3
# hyperv_checkpoint's min_free_gb default: room for a patch window's writes to the differencing
# disk (a cumulative update writes several GB) and for the merge's working space.
DEFAULT_MIN_FREE_GB = 10.0


def min_free_bytes(min_free_gb: float | None) -> int:
    """``min_free_gb`` in bytes; 0 (no check) for None, 0 or less."""
    if not min_free_gb or min_free_gb <= 0:
        return 0
    return int(min_free_gb * GIB)


def low_free_space(vm_record: VmRecord, min_free_gb: float | None) -> str | None:
    """The problem, as text, when a volume of ``vm_record`` has less than ``min_free_gb`` GB free; None
    when every volume whose free space is known has enough (or ``min_free_gb`` is 0 or None).

    A volume whose free space the host cannot tell (an SMB share: ``free_bytes`` null) is not
    counted as low; see unknown_free_space.
    """
    wanted = min_free_bytes(min_free_gb)
    if not wanted:
        return None
    low = [volume for volume in vm_record.get("volumes") or []
           if volume.get("free_bytes") is not None and volume["free_bytes"] < wanted]
    if not low:
        return None
    worst = min(low, key=lambda volume: volume["free_bytes"])
    return ("volume %s of VM '%s' has %s free, less than min_free_gb %s GB: a checkpoint's differencing disk grows "
            "with every write and Hyper-V pauses the VM when the volume fills"
            % (worst["path"], vm_record.get("name"), human_bytes(worst["free_bytes"]), _number(min_free_gb)))


def unknown_free_space(vm_record: VmRecord) -> list[str]:
    """Paths of the VM's volumes whose free space the host could not tell."""
    return [volume["path"] for volume in vm_record.get("volumes") or [] if volume.get("free_bytes") is None]


def lowest_free_bytes(vm_record: VmRecord) -> int | None:
    """The least free space of the VM's volumes, or None when none is known."""
    known = [volume["free_bytes"] for volume in vm_record.get("volumes") or [] if volume.get("free_bytes") is not None]
    return min(known) if known else None


def human_bytes(count: float) -> str:
    """1.5 GB, 820.0 MB: for messages."""
    for unit, size in (("TB", 1024 ** 4), ("GB", GIB), ("MB", 1024 ** 2), ("KB", 1024)):
        if count >= size:
            return "%.1f %s" % (count / size, unit)
    return "%d bytes" % count


def _number(value: object) -> str:
    return ("%g" % value) if isinstance(value, float) else str(value)
