"""The host probe's experiments on the simulated host (probe_host.ps1 against the model).

Each experiment runs the cmdlet sequence of plugins/plugin_utils/powershell/probe_host.ps1 through
hyperv_sim.engine's cmdlets, so that what the probe observes on the simulator is what the simulator
assumes; plugins/plugin_utils/_host_assumptions.py writes those assumptions down with their sources,
and tests/integration/test_probe.py holds the two together.
"""

from __future__ import annotations

import datetime

from hyperv_sim.engine import (DEFAULT_NAME_FORMAT, HostError, HyperVHost, cluster_storage_root, error_id, format_time,
                               parse_time, runner_error)

EXPERIMENTS = ("restore_running_standard", "restore_running_production", "restore_off_standard", "remove_saved_state",
               "turn_off_automatic", "checkpoint_default_name", "production_fallback", "merge_visibility",
               "busy_error", "checkpoint_disks", "volumes", "deleted_checkpoint_properties", "cluster_owner")


class ProbeExperiments:
    """probe_host.ps1 on the simulated host: the same cmdlet sequences against the model, so that the
    probe's observations on the simulator are what the simulator assumes (_host_assumptions.py)."""

    def __init__(self, host: HyperVHost, vm: dict, listed_at):
        self.host = host
        self.vm = vm
        self.listed_at = listed_at  # when the VM's checkpoints were first listed (the module's cache)

    def listed(self) -> list[dict]:
        """``Get-FreshCheckpoints`` of probe_host.ps1: the VM's checkpoints once the cached list is read anew."""
        self.host.wait_checkpoint_list_read(self.listed_at)
        self.listed_at = self.host.now()
        return self.host.list_checkpoints(self.vm)

    def running(self) -> None:
        if self.vm["state"] != "Running":
            self.host._cmdlet_start_vm(self.vm)

    def checkpoint_type(self, checkpoint_type: str) -> None:
        if self.host.supports_checkpoint_type and self.vm["checkpoint_type"] != checkpoint_type:
            self.host._set_checkpoint_type(self.vm, checkpoint_type)

    def checkpoint(self, name: str | None) -> dict:
        checkpoint = self.host._cmdlet_checkpoint_vm(self.vm, name or "x")
        if name is None:
            checkpoint["name"] = DEFAULT_NAME_FORMAT % (self.vm["name"], self.host._default_time())
        return checkpoint

    def failure(self, error: HostError) -> dict:
        return {"error_id": error_id(error), "category": (error.details or {}).get("category"),
                "code": runner_error(error).code}

    def restore_running_standard(self, observations: dict) -> None:
        self.running()
        self.checkpoint_type("Standard")
        checkpoint = self.checkpoint("hyperv-probe standard")
        observations["checkpoint_state"] = "Saved" if checkpoint["has_memory_state"] else "Off"
        self.host._cmdlet_restore_vmsnapshot(self.vm, checkpoint)
        observations["state_after_restore"] = self.vm["state"]

    def restore_running_production(self, observations: dict) -> None:
        self.running()
        self.checkpoint_type("ProductionOnly")
        try:
            checkpoint = self.checkpoint("hyperv-probe production")
            observations["production_possible"] = True
        except HostError as error:
            failure = self.failure(error)
            observations.update(production_possible=False, production_failure_id=failure["error_id"],
                                production_failure_category=failure["category"])
            return
        observations["checkpoint_state"] = "Saved" if checkpoint["has_memory_state"] else "Off"
        self.host._cmdlet_restore_vmsnapshot(self.vm, checkpoint)
        observations["state_after_restore"] = self.vm["state"]

    def restore_off_standard(self, observations: dict) -> None:
        self.running()
        self.checkpoint_type("Standard")
        checkpoint = self.checkpoint("hyperv-probe standard")
        self.host._set_off(self.vm)
        self.host._cmdlet_restore_vmsnapshot(self.vm, checkpoint)
        observations["state_after_restore"] = self.vm["state"]

    def remove_saved_state(self, observations: dict) -> None:
        self.running()
        self.host._cmdlet_save_vm(self.vm)
        observations["state_after_save"] = self.vm["state"]
        self.host._cmdlet_remove_saved_state(self.vm)
        observations["state_after_remove"] = self.vm["state"]
        observations["checkpoints_unchanged"] = not self.listed()

    def turn_off_automatic(self, observations: dict) -> None:
        observations["supported"] = self.host.supports_automatic_checkpoints
        if not self.host.supports_automatic_checkpoints:
            return
        self.host._set_off(self.vm)
        self.host._cmdlet_set_vm(self.vm, automatic_checkpoints=True)
        self.host._cmdlet_start_vm(self.vm)
        automatic = [checkpoint for checkpoint in self.listed() if checkpoint["is_automatic"]]
        observations["automatic_checkpoint_taken"] = bool(automatic)
        if automatic:
            self.host._cmdlet_stop_vm_turn_off(self.vm)
            observations["automatic_checkpoint_deleted_by_turn_off"] = automatic[0]["id"] not in self.vm["checkpoints"]

    def checkpoint_default_name(self, observations: dict) -> None:
        checkpoint = self.checkpoint(None)
        observations["default_name"] = checkpoint["name"]
        observations["default_name_starts_with_vm_name"] = checkpoint["name"].startswith(self.vm["name"])

    def production_fallback(self, observations: dict) -> None:
        self.running()
        self.checkpoint_type("Production")
        checkpoint = self.checkpoint("hyperv-probe production fallback")
        observations["has_memory_state"] = checkpoint["has_memory_state"]
        observations["type_after"] = self.vm["checkpoint_type"] if self.host.supports_checkpoint_type else None

    def merge_visibility(self, observations: dict) -> None:
        self.running()
        # Merges of the earlier experiments' checkpoints end first, so that this one is measured alone.
        while any(self.host.now() < parse_time(merge["done_at"]) for merge in self.vm.get("merges", [])):
            self.host.command_seconds += 0.5
        checkpoint = self.checkpoint("hyperv-probe merge")
        chain_before = self.host.chain_length(self.vm)
        self.host._cmdlet_remove_vmsnapshot(self.vm, checkpoint, False)
        started = self.host.command_seconds
        observations["merge_visible_at_once"] = self.host._is_merging(self.vm)
        seen = ended = None
        chain = chain_before
        while self.host.command_seconds - started < 120:
            merging = self.host._is_merging(self.vm)
            if merging and seen is None:
                seen = round(self.host.command_seconds - started, 2)
            chain = self.host.chain_length(self.vm)
            if not merging and chain < chain_before:
                ended = round(self.host.command_seconds - started, 2)
                break
            self.host.command_seconds += 0.1
        observations.update(merge_seen_after_seconds=seen, merge_ended_after_seconds=ended, chain_before=chain_before,
                            chain_after=chain, chain_shrank=chain < chain_before)

    def busy_error(self, observations: dict) -> None:
        self.running()
        # Checkpoint-VM -AsJob: the VM is in use until the job ends.
        job_seconds = max(1.0, float(self.host.host.get("checkpoint_seconds", 0.0)))
        self.checkpoint("hyperv-probe busy")
        self.vm["busy_until"] = format_time(self.host.now() + datetime.timedelta(seconds=job_seconds))
        observations["code"] = None
        try:
            self.checkpoint("hyperv-probe busy 2")
            observations["conflict"] = False
        except HostError as error:
            failure = self.failure(error)
            observations.update(conflict=True, error_id=failure["error_id"], category=failure["category"],
                                code=failure["code"])
        self.host.command_seconds += job_seconds
        self.vm["busy_until"] = None

    def checkpoint_disks(self, observations: dict) -> None:
        # The model's chain: a checkpoint freezes the running disk, and the VM writes to a new
        # differencing disk below it (disk_sizes and chain_length count them so).
        self.running()
        self.checkpoint("hyperv-probe disks")
        observations["frozen_is_parent_of_running"] = True
        observations["running_is_differencing"] = True

    def volumes(self, observations: dict) -> None:
        volumes = self.host.vm_volumes(self.vm)
        observations["volumes"] = volumes
        observations["all_paths_on_a_volume"] = all(volume["free_bytes"] is not None for volume in volumes)
        observations["cluster_storage_paths_have_space"] = all(
            volume["free_bytes"] is not None for volume in volumes if cluster_storage_root(volume["path"]))

    def deleted_checkpoint_properties(self, observations: dict) -> None:
        # A deleted checkpoint's object keeps the values read before (decompiled DataUpdaterBase.GetData catches
        # ServerObjectDeletedException and returns them): Id and State still read.
        checkpoint = self.checkpoint("hyperv-probe deleted")
        self.host._cmdlet_remove_vmsnapshot(self.vm, checkpoint, False)
        observations["id_readable_after_delete"] = True
        observations["state_readable_after_delete"] = True

    def cluster_owner(self, observations: dict) -> None:
        observations["clustered"] = bool(self.vm["is_clustered"])
        if self.vm["is_clustered"]:
            owner = self.vm["owner_node"] or self.host.computer_name
            observations["owner_node"] = owner
            observations["owner_is_this_node"] = owner == self.host.computer_name
            # Get-ClusterOwnerListing: the listing that serves several VMs names the same owner.
            observations["listing_owner_matches"] = True

    def reset(self, state: str, checkpoint_type: str, automatic: bool) -> None:
        """Back as it was: no checkpoint, the type and automatic checkpoints, the power state."""
        for root in [cp for cp in self.listed() if cp["parent_id"] is None]:
            self.host._cmdlet_remove_vmsnapshot(self.vm, self.vm["checkpoints"][root["id"]], True)
        self.vm["automatic_checkpoints"] = automatic
        self.checkpoint_type(checkpoint_type)
        if state == "Running" and self.vm["state"] != "Running":
            self.host._cmdlet_start_vm(self.vm)
        if state == "Off" and self.vm["state"] != "Off":
            self.host._set_off(self.vm)


def run_experiment(host: HyperVHost, vm_id: str, experiment: str) -> dict:
    """One experiment on a VM without checkpoints, which is put back as it was afterwards."""
    if experiment not in EXPERIMENTS:
        raise HostError("invalid_request", "Unknown probe experiment '%s'" % experiment)
    vm = host.find_vm(vm_id=vm_id)
    listed_at = host.now()
    if host.list_checkpoints(vm):
        raise HostError("invalid_request", "VM '%s' has checkpoints; the probe needs a disposable VM without any"
                        % vm["name"], {"vm": vm["name"]})
    probe = ProbeExperiments(host, vm, listed_at)
    start = (vm["state"], vm["checkpoint_type"], vm["automatic_checkpoints"])
    observations = {}
    try:
        getattr(probe, experiment)(observations)
    finally:
        probe.reset(*start)
    return {"experiment": experiment, "observations": observations, "host": host.host_record()}
