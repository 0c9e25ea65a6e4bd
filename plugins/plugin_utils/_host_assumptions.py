# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: what the collection and its simulated host assume about Hyper-V, as data the host probe checks.

The simulator (tests/sim) models each behaviour below and the operation scripts rely on it; none
of it could be run here. hyperv.checkpoint.hyperv_host_probe runs each experiment on a disposable
VM of a real host (playbooks/probe_host.yml) and compares what the host did with ``expected``;
against the simulator every assumption holds (tests/integration/test_probe.py), so a difference on
a real host is a place where the simulator is kinder, or stricter, than Hyper-V.

``safe_either_way`` marks assumptions the scripts do not depend on: they are written to be right
under both behaviours, and the probe only settles which one the host has.
docs/host-fidelity.md lists the same assumptions with their sources (a test keeps the two in step).
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple


class Assumption(NamedTuple):
    id: str
    experiment: str
    observation: str
    # A host's observation: a string (a state, an error id) or a boolean.
    expected: str | bool
    source: str
    safe_either_way: bool


# The experiments, in the order the probe runs them. Each is one operation on the host
# (probe_host.ps1) that leaves the VM as it found it: power state, checkpoint type, automatic
# checkpoints, no checkpoint left.
EXPERIMENTS = (
    "restore_running_standard",
    "restore_running_production",
    "restore_off_standard",
    "remove_saved_state",
    "turn_off_automatic",
    "checkpoint_default_name",
    "production_fallback",
    "merge_visibility",
    "busy_error",
    "checkpoint_disks",
    "volumes",
    "deleted_checkpoint_properties",
    "cluster_owner",
)

DECOMPILED = "decompiled Hyper-V module (nforgeio/neonSDK Lib/Neon.HyperV/HyperVWmiDriver)"

ASSUMPTIONS = (
    Assumption("standard_checkpoint_holds_memory", "restore_running_standard", "checkpoint_state", "Saved",
               DECOMPILED + ", VMSnapshot.State: Saved when the checkpoint holds a saved state (IsSaved); "
               "reference section 6", False),
    Assumption("restore_restarts_a_running_vm", "restore_running_standard", "state_after_restore", "Running",
               DECOMPILED + ", Commands/RestoreVMSnapshot.cs: saves a Running/Paused VM, applies, starts it again "
               "when it is Saved and was Running; os-autoinst/os-autoinst PR 1680 log 'VM state: Running, after "
               "restoring from checkpoint'", True),
    Assumption("production_checkpoint_has_no_memory", "restore_running_production", "checkpoint_state", "Off",
               "learn.microsoft.com 'Using checkpoints': no memory state in production checkpoints", False),
    Assumption("restore_of_production_ends_off", "restore_running_production", "state_after_restore", "Off",
               "learn.microsoft.com 'Using checkpoints': the VM is off after a production checkpoint is applied; "
               + DECOMPILED + " (RestoreVMSnapshot starts only a Saved VM)", True),
    Assumption("production_failure_is_operation_failed", "restore_running_production", "production_failure_id",
               "OperationFailed",
               DECOMPILED + ", ExceptionHelper: a failed WMI job (32768) is OperationFailed; the id of a guest that "
               "cannot quiesce is not documented", False),
    Assumption("restore_onto_off_vm_stays_saved", "restore_off_standard", "state_after_restore", "Saved",
               DECOMPILED + ", RestoreVMSnapshot: only a VM that was Running is started again", False),
    Assumption("save_vm_saves", "remove_saved_state", "state_after_save", "Saved",
               "learn.microsoft.com Save-VM", False),
    Assumption("remove_saved_state_turns_off", "remove_saved_state", "state_after_remove", "Off",
               DECOMPILED + ", Commands/RemoveVMSavedState.cs (DeleteSavedState); learn.microsoft.com "
               "Remove-VMSavedState", False),
    Assumption("remove_saved_state_keeps_checkpoints", "remove_saved_state", "checkpoints_unchanged", True,
               DECOMPILED + ", RemoveVMSavedState touches no checkpoint", False),
    Assumption("start_takes_an_automatic_checkpoint", "turn_off_automatic", "automatic_checkpoint_taken", True,
               "Microsoft blog 'Making it easier to revert' (2017), reference section 9", True),
    Assumption("turn_off_deletes_the_automatic_checkpoint", "turn_off_automatic",
               "automatic_checkpoint_deleted_by_turn_off", True,
               DECOMPILED + ", Commands/StopVM.cs: DeleteAutomaticCheckpoint after -TurnOff or a shut-down", True),
    Assumption("default_name_starts_with_the_vm_name", "checkpoint_default_name", "default_name_starts_with_vm_name",
               True, "learn.microsoft.com Checkpoint-VM: 'a combination of the virtual machine's name and a current "
               "timestamp'; " + DECOMPILED + ", Commands/CheckpointVM.cs (TakeSnapshot, then Name and Put)", True),
    Assumption("production_fallback_keeps_the_vm_type", "production_fallback", "type_after", "Production",
               "learn.microsoft.com Set-VM -CheckpointType Production: 'Otherwise, create standard checkpoints'", False),
    Assumption("merge_shows_late", "merge_visibility", "merge_visible_at_once", False,
               "issue 14 (assumption): Remove-VMSnapshot returns before the merge shows; reference section 7", True),
    Assumption("merge_shortens_the_chain", "merge_visibility", "chain_shrank", True,
               "learn.microsoft.com 'Hyper-V snapshots, checkpoints and differencing disks': the .avhdx is merged "
               "and deleted", False),
    Assumption("busy_is_a_retryable_id", "busy_error", "code", "busy",
               DECOMPILED + ", ExceptionHelper: 32774 is ObjectInUse/ResourceBusy and 32775 InvalidState; "
               "os-autoinst-distri-opensuse PR 5858; canonical/multipass#4204", False),
    Assumption("checkpoint_freezes_the_parent_disk", "checkpoint_disks", "frozen_is_parent_of_running", True,
               "learn.microsoft.com Get-VMHardDiskDrive -VMSnapshot; 'Hyper-V snapshots, checkpoints and "
               "differencing disks'", False),
    Assumption("running_disk_is_differencing", "checkpoint_disks", "running_is_differencing", True,
               "techthoughts2/Diag-V#10; reference section 3", False),
    Assumption("volumes_are_win32_volumes", "volumes", "all_paths_on_a_volume", True,
               "learn.microsoft.com Win32_Volume (mount points included); SMB paths have none", True),
    Assumption("deleted_checkpoint_reads_cached_values", "deleted_checkpoint_properties", "state_readable_after_delete",
               True, DECOMPILED + ", DataUpdaterBase.GetData: a property read re-reads the host at most every 5 s "
               "(Constants.UpdateThreshold) and, when the object is gone (ServerObjectDeletedException), marks it "
               "deleted and returns the values read before", True),
    Assumption("cluster_storage_paths_have_space", "volumes", "cluster_storage_paths_have_space", True,
               "learn.microsoft.com Get-ClusterSharedVolume (SharedVolumeInfo's partition); a path under "
               "ClusterStorage is never given the system drive's space (docs/clusters.md)", True),
    Assumption("cluster_owner_by_vm_id", "cluster_owner", "owner_is_this_node", True,
               "learn.microsoft.com Get-ClusterResource -VMId; the task runs on the VM's owner", False),
    Assumption("cluster_owner_listing_reads_vm_ids", "cluster_owner", "listing_owner_matches", True,
               "learn.microsoft.com Get-ClusterParameter (private properties) and the 'Virtual Machine' resource "
               "type's VmId; the parameter's ClusterObject and Value are community use (docs/clusters.md)", True),
)


def compare(observations: Mapping[str, Mapping[str, Any] | None]) -> list[dict[str, Any]]:
    """One row per assumption: ``status`` as_assumed, differs or not_observed (the experiment could not
    check it on this host, e.g. no production checkpoint possible)."""
    rows = []
    for assumption in ASSUMPTIONS:
        observed = (observations.get(assumption.experiment) or {}).get(assumption.observation)
        if observed is None:
            status = "not_observed"
        elif observed == assumption.expected:
            status = "as_assumed"
        else:
            status = "differs"
        rows.append({"id": assumption.id, "experiment": assumption.experiment,
                     "observation": assumption.observation, "expected": assumption.expected, "observed": observed,
                     "status": status, "safe_either_way": assumption.safe_either_way, "source": assumption.source})
    return rows
