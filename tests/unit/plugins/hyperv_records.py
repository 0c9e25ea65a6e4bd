"""Small builders for the host's records, with exactly the keys of docs/host-protocol.md."""

import datetime

VM_ID = "6f2a1c1e-0000-4000-8000-000000000001"
NOW = datetime.datetime(2026, 11, 25, 12, 0, 0, tzinfo=datetime.timezone.utc)


def iso(moment):
    """The host's CreationTime text: 7 fractional digits and a trailing Z."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def ago(seconds=0, minutes=0, hours=0, days=0, now=NOW):
    return iso(now - datetime.timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days))


def cp_id(number):
    return "0000cafe-0000-4000-8000-%012d" % number


def checkpoint(number, name, parent=None, created=None, snapshot_type="Standard", vm_id=VM_ID, vm_name="web01",
               size_bytes=None, is_automatic=False, parent_name=None, has_memory_state=False):
    """A Checkpoint record; ``parent`` is the number (or id) of the parent checkpoint."""
    parent_id = cp_id(parent) if isinstance(parent, int) else parent
    return {
        "id": cp_id(number) if isinstance(number, int) else number,
        "name": name,
        "vm_id": vm_id,
        "vm_name": vm_name,
        "parent_id": parent_id,
        "parent_name": parent_name,
        "creation_time": created or ago(hours=100 - number if isinstance(number, int) else 1),
        "snapshot_type": snapshot_type,
        "is_automatic": is_automatic,
        "has_memory_state": has_memory_state,
        "size_bytes": size_bytes,
    }


GIB = 1024 ** 3


def volume(path="C:\\", free_gb=500.0, size_gb=2048.0):
    """A Volume record; None for free_gb/size_gb: unknown (an SMB share)."""
    return {"path": path, "free_bytes": None if free_gb is None else int(free_gb * GIB),
            "size_bytes": None if size_gb is None else int(size_gb * GIB)}


def vm(name="web01", checkpoints=None, current=None, checkpoint_type="Standard", merging=False, vm_id=VM_ID,
       state="Running", volumes=None, type_override=None):
    """A VM record (all keys present) plus ``checkpoints``; ``current`` is a number or an id."""
    checkpoints = list(checkpoints or [])
    current_id = cp_id(current) if isinstance(current, int) else current
    current_name = next((cp["name"] for cp in checkpoints if cp["id"] == current_id), None)
    return {
        "id": vm_id,
        "name": name,
        "state": state,
        "checkpoint_type": checkpoint_type,
        "automatic_checkpoints": False if checkpoint_type is not None else None,
        "checkpoint_location": "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V",
        "current_checkpoint_id": current_id,
        "current_checkpoint_name": current_name,
        "is_clustered": False,
        "owner_node": None,
        "computer_name": "HV01",
        "primary_status": "Ok",
        "secondary_status": "MergingDisks" if merging else None,
        "merging": merging,
        "checkpoint_count": sum(1 for cp in checkpoints if cp["snapshot_type"] == "Standard"),
        "volumes": [volume()] if volumes is None else volumes,
        "disk_chain_bytes": None,
        "type_override": type_override,
        "checkpoints": checkpoints,
    }


def chain(*names, start=1):
    """Checkpoints in a line, each the child of the one before, numbered from ``start``."""
    result = []
    for offset, name in enumerate(names):
        number = start + offset
        result.append(checkpoint(number, name, parent=number - 1 if offset else None))
    return result


def host_record():
    return {
        "computer_name": "HV01",
        "os_caption": "Microsoft Windows Server 2022 Datacenter",
        "os_version": "10.0.20348",
        "supports_checkpoint_type": True,
        "supports_automatic_checkpoints": True,
        "time": iso(NOW),
    }
