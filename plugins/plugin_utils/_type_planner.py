# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: decide what hyperv_checkpoint_type changes on each VM: pure functions, no I/O.

``plan_settings(host, vms, desired)`` compares each VM's checkpoint settings with
the desired ones and returns one entry per VM; settings the host's Windows version
lacks are refused for all VMs before anything is changed.
"""

from __future__ import annotations

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_planner import PlanError

CHECKPOINT_TYPES = {
    "standard": "Standard",
    "production": "Production",
    "production_only": "ProductionOnly",
    "disabled": "Disabled",
}
# VM record key, the host protocol's change key, and the host feature it needs.
SETTINGS = (
    ("checkpoint_type", "checkpoint_type", "CheckpointType", "supports_checkpoint_type", "Windows Server 2016"),
    ("automatic_checkpoints", "automatic_checkpoints", "AutomaticCheckpoints", "supports_automatic_checkpoints",
     "Windows Server 2019"),
    ("checkpoint_location", "checkpoint_location", "CheckpointLocation", None, None),
)


def desired_settings(args):
    """The task's options as VM record values (None = leave as it is)."""
    wanted = {
        "checkpoint_type": CHECKPOINT_TYPES[args["checkpoint_type"]] if args.get("checkpoint_type") else None,
        "automatic_checkpoints": args.get("automatic_checkpoints"),
        "checkpoint_location": args.get("checkpoint_location"),
    }
    if all(value is None for value in wanted.values()):
        raise PlanError("invalid_option", "give at least one of checkpoint_type, automatic_checkpoints or "
                        "checkpoint_location")
    if wanted["checkpoint_location"] is not None and not wanted["checkpoint_location"].strip():
        raise PlanError("invalid_option", "checkpoint_location must not be empty")
    return wanted


def ensure_supported(host, wanted):
    for option, dummy, dummy2, feature, needs in SETTINGS:
        if feature and wanted.get(option) is not None and not host.get(feature):
            raise PlanError(
                "unsupported_on_host",
                "%s needs %s or later; host %s runs %s (version %s). Nothing was changed"
                % (option, needs, host.get("computer_name"), host.get("os_caption"), host.get("os_version")),
                {"setting": option, "os_caption": host.get("os_caption"), "os_version": host.get("os_version")})


def settings_of(vm):
    return {option: vm.get(key) for option, key, dummy, dummy2, dummy3 in SETTINGS}


def same_location(left, right):
    # Windows paths are case-insensitive and a trailing backslash means the same folder.
    if left is None or right is None:
        return left == right
    return left.rstrip("\\/").lower() == right.rstrip("\\/").lower()


def plan_vm(vm, wanted):
    """(entry for the result, change for the host or None)."""
    before = settings_of(vm)
    after = dict(before)
    change = {"VMId": vm["id"], "CheckpointType": None, "AutomaticCheckpoints": None, "CheckpointLocation": None}
    for option, dummy, host_key, dummy2, dummy3 in SETTINGS:
        value = wanted.get(option)
        if value is None:
            continue
        equal = same_location(before[option], value) if option == "checkpoint_location" else before[option] == value
        if not equal:
            after[option] = value
            change[host_key] = value
    changed = after != before
    if changed and after["checkpoint_location"] != before["checkpoint_location"] and vm.get("checkpoints"):
        raise PlanError(
            "checkpoint_location_in_use",
            "VM '%s' has %d checkpoints; Hyper-V only moves the checkpoint location of a VM without checkpoints"
            % (vm["name"], len(vm["checkpoints"])))
    entry = {"name": vm["name"], "id": vm["id"], "state": vm.get("state"), "changed": changed,
             "before": before, "after": after}
    return entry, (change if changed else None)


def plan_settings(host, vms, wanted):
    """Per-VM entries and the list of changes to send in one round trip."""
    ensure_supported(host, wanted)
    entries, changes = [], []
    for vm in vms:
        entry, change = plan_vm(vm, wanted)
        entries.append(entry)
        if change:
            changes.append(change)
    return entries, changes
