# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: decide what hyperv_checkpoint_type changes on each VM: pure functions, no I/O.

``plan_settings(host, vms, desired)`` compares each VM's checkpoint settings with
the desired ones and returns one entry per VM; settings the host's Windows version
lacks are refused for all VMs before anything is changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import PlanError

if TYPE_CHECKING:
    from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_contract import HostRecord, VmRecord

# The settings as the VM record and the result name them (None: leave as it is / not known).
Settings = dict[str, Any]
# One VM's change in set_checkpoint_settings' ``Changes`` (the protocol's SettingsChange record).
SettingsChange = dict[str, Any]

# VM record key, the host protocol's change key, and the host feature it needs.
SETTINGS = (
    ("checkpoint_type", "checkpoint_type", "CheckpointType", "supports_checkpoint_type", "Windows Server 2016"),
    ("automatic_checkpoints", "automatic_checkpoints", "AutomaticCheckpoints", "supports_automatic_checkpoints",
     "Windows Server 2019"),
    ("checkpoint_location", "checkpoint_location", "CheckpointLocation", None, None),
)


def desired_settings(args: Mapping[str, Any]) -> Settings:
    """The task's validated options as VM record values (None = leave as it is)."""
    return {
        "checkpoint_type": checkpoint_types.host_value(args.get("checkpoint_type")),
        "automatic_checkpoints": args.get("automatic_checkpoints"),
        "checkpoint_location": args.get("checkpoint_location"),
    }


def ensure_supported(host: HostRecord, wanted: Mapping[str, Any]) -> None:
    for option, dummy, dummy2, feature, needs in SETTINGS:
        if feature and wanted.get(option) is not None and not host.get(feature):
            raise PlanError(
                "unsupported_on_host",
                "%s needs %s or later; host %s runs %s (version %s). Nothing was changed"
                % (option, needs, host.get("computer_name"), host.get("os_caption"), host.get("os_version")),
                {"setting": option, "os_caption": host.get("os_caption"), "os_version": host.get("os_version")})


def settings_of(vm: VmRecord) -> Settings:
    """The VM's checkpoint settings, its type in both spellings (``checkpoint_type_option``)."""
    return checkpoint_types.with_option({option: vm.get(key) for option, key, dummy, dummy2, dummy3 in SETTINGS})


def same_location(left: str | None, right: str | None) -> bool:
    # Windows paths are case-insensitive and a trailing backslash means the same folder.
    if left is None or right is None:
        return left == right
    return left.rstrip("\\/").lower() == right.rstrip("\\/").lower()


def plan_vm(vm: VmRecord, wanted: Mapping[str, Any]) -> tuple[dict[str, Any], SettingsChange | None]:
    """(entry for the result, change for the host or None)."""
    before = settings_of(vm)
    after = dict(before)
    change: SettingsChange = {"VMId": vm["id"], "CheckpointType": None, "AutomaticCheckpoints": None,
                              "CheckpointLocation": None}
    for option, dummy, host_key, dummy2, dummy3 in SETTINGS:
        value = wanted.get(option)
        if value is None:
            continue
        equal = same_location(before[option], value) if option == "checkpoint_location" else before[option] == value
        if not equal:
            after[option] = value
            change[host_key] = value
    after = checkpoint_types.with_option(after)
    changed = after != before
    if changed and after["checkpoint_location"] != before["checkpoint_location"] and vm.get("checkpoints"):
        raise PlanError(
            "checkpoint_location_in_use",
            "VM '%s' has %d checkpoints; Hyper-V only moves the checkpoint location of a VM without checkpoints"
            % (vm["name"], len(vm["checkpoints"])))
    entry = {"name": vm["name"], "id": vm["id"], "state": vm.get("state"), "changed": changed,
             "before": before, "after": after}
    return entry, (change if changed else None)


def plan_settings(host: HostRecord, vms: Iterable[VmRecord],
                  wanted: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[SettingsChange]]:
    """Per-VM entries and the list of changes to send in one round trip."""
    ensure_supported(host, wanted)
    entries: list[dict[str, Any]] = []
    changes: list[SettingsChange] = []
    for vm in vms:
        entry, change = plan_vm(vm, wanted)
        entries.append(entry)
        if change:
            changes.append(change)
    return entries, changes


def type_result(entries: Sequence[Mapping[str, Any]], changes: Sequence[SettingsChange], after_vms: Iterable[VmRecord],
                diff: bool) -> dict[str, Any]:
    """The task's result: ``entries`` of plan_settings, with ``after`` as the host reported it for the VMs it
    changed (``after_vms``; none in check mode), and the diff of the changed VMs."""
    reported = {vm["id"]: settings_of(vm) for vm in after_vms}
    entries = [dict(entry, after=reported.get(entry["id"], entry["after"])) for entry in entries]
    result: dict[str, Any] = {"changed": bool(changes), "vms": entries}
    if diff and changes:
        changed = [entry for entry in entries if entry["changed"]]
        result["diff"] = {
            "before": {diff_key(entry, entries): entry["before"] for entry in changed},
            "after": {diff_key(entry, entries): entry["after"] for entry in changed},
        }
    return result


def diff_key(entry: Mapping[str, Any], entries: Iterable[Mapping[str, Any]]) -> str:
    """The VM's name, with its id when another VM has the same name (Hyper-V allows that)."""
    if sum(1 for other in entries if other["name"] == entry["name"]) > 1:
        return "%s (%s)" % (entry["name"], entry["id"])
    return entry["name"]
