# -*- coding: utf-8 -*-
"""checkpoint_report: the hyperv_checkpoint_info report from the host's records."""

from __future__ import annotations

import copy

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_report as report
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_tree import CheckpointTree, render_tree

from hyperv_records import NOW, ago, checkpoint, cp_id, host_record, vm


def web01():
    """base(1, 3d) -> patch(2, 2h) -> test(3, 10m, current); base -> branch(4, 1d); backup(5, Recovery, 5h)."""
    return vm(checkpoints=[
        checkpoint(1, "base", created=ago(days=3), size_bytes=100),
        checkpoint(4, "branch", parent=1, created=ago(days=1), size_bytes=50),
        checkpoint(2, "patch", parent=1, created=ago(hours=2), size_bytes=None),
        checkpoint(5, "backup", parent=2, created=ago(hours=1, minutes=30), size_bytes=7, snapshot_type="Recovery"),
        checkpoint(3, "test", parent=2, created=ago(minutes=10), size_bytes=300),
    ], current=3)


def by_name(vm_report):
    return {entry["name"]: entry for entry in vm_report["checkpoints"]}


def test_entries_have_age_depth_and_is_current():
    entries = by_name(report.vm_report(web01(), NOW))
    assert {name: e["age_seconds"] for name, e in entries.items()} == {
        "base": 3 * 86400, "branch": 86400, "patch": 7200, "backup": 5400, "test": 600}
    assert {name: e["depth"] for name, e in entries.items()} == {
        "base": 0, "branch": 1, "patch": 1, "backup": 2, "test": 2}
    assert [name for name, e in entries.items() if e["is_current"]] == ["test"]
    assert all(isinstance(e["age_seconds"], int) for e in entries.values())


def test_entries_keep_the_host_record_and_the_input_is_not_changed():
    record = web01()
    before = copy.deepcopy(record)
    entry = by_name(report.vm_report(record, NOW))["test"]
    for key, value in record["checkpoints"][4].items():
        assert entry[key] == value
    assert record == before


def test_age_is_truncated_to_whole_seconds():
    record = vm(checkpoints=[checkpoint(1, "a", created="2026-11-25T11:59:58.9000000Z")], current=1)
    assert report.vm_report(record, NOW)["checkpoints"][0]["age_seconds"] == 1


def test_counts_ages_and_sizes_of_the_vm():
    result = report.vm_report(web01(), NOW)
    assert result["checkpoint_total"] == 5
    assert result["checkpoint_matching"] == 5
    assert result["oldest_age_seconds"] == 3 * 86400
    assert result["newest_age_seconds"] == 600
    assert result["total_size_bytes"] == 100 + 50 + 7 + 300  # unknown sizes are skipped
    assert result["tree"] == render_tree(web01()["checkpoints"], cp_id(3))
    assert result["tree"].count("<- Now") == 1


def test_vm_keys_are_kept_and_raw_checkpoints_replaced():
    record = web01()
    result = report.vm_report(record, NOW)
    for key, value in record.items():
        if key != "checkpoints":
            assert result[key] == value
    assert [e["id"] for e in result["checkpoints"]] == [cp["id"] for cp in record["checkpoints"]]
    assert "age_seconds" in result["checkpoints"][0]


def test_pattern_filter():
    result = report.vm_report(web01(), NOW, name_pattern="*a*")
    assert [e["name"] for e in result["checkpoints"]] == ["base", "branch", "patch", "backup"]
    assert result["checkpoint_matching"] == 4
    assert result["checkpoint_total"] == 5
    assert report.vm_report(web01(), NOW, name_pattern="BASE")["checkpoint_matching"] == 0  # case-sensitive
    assert [e["name"] for e in report.vm_report(web01(), NOW, name_pattern="[bt]*")["checkpoints"]] == [
        "base", "branch", "backup", "test"]


def test_age_filter_is_strictly_older():
    assert [e["name"] for e in report.vm_report(web01(), NOW, older_than=7200)["checkpoints"]] == ["base", "branch"]
    assert [e["name"] for e in report.vm_report(web01(), NOW, older_than=7199)["checkpoints"]] == [
        "base", "branch", "patch"]


def test_filters_combine_and_totals_stay_over_all_checkpoints():
    result = report.vm_report(web01(), NOW, name_pattern="b*", older_than=3600)
    assert [e["name"] for e in result["checkpoints"]] == ["base", "branch", "backup"]
    assert result["checkpoint_total"] == 5
    assert result["oldest_age_seconds"] == 3 * 86400
    assert result["newest_age_seconds"] == 600
    assert result["total_size_bytes"] == 457


def test_vm_without_checkpoints():
    result = report.vm_report(vm(), NOW)
    assert result["checkpoints"] == []
    assert (result["checkpoint_total"], result["checkpoint_matching"]) == (0, 0)
    assert result["oldest_age_seconds"] is None and result["newest_age_seconds"] is None
    assert result["total_size_bytes"] is None
    assert result["tree"] == "(Now: no checkpoint above the running state)\n"


def test_sizes_unknown_or_zero():
    unknown = vm(checkpoints=[checkpoint(1, "a"), checkpoint(2, "b", parent=1)], current=2)
    assert report.vm_report(unknown, NOW)["total_size_bytes"] is None
    zero = vm(checkpoints=[checkpoint(1, "a", size_bytes=0)], current=1)
    assert report.vm_report(zero, NOW)["total_size_bytes"] == 0


def test_tree_depths_with_orphan_parent():
    checkpoints = [checkpoint(1, "a", parent="gone"), checkpoint(2, "b", parent=1), checkpoint(3, "c", parent=2)]
    assert CheckpointTree(checkpoints).depths() == {cp_id(1): 0, cp_id(2): 1, cp_id(3): 2}


def test_build_report_merges_vms():
    db01 = vm(name="db01", vm_id="6f2a1c1e-0000-4000-8000-000000000002", merging=True,
              checkpoints=[checkpoint(11, "nightly", created=ago(days=2), size_bytes=1000, vm_name="db01")],
              current=11)
    idle = vm(name="idle", vm_id="6f2a1c1e-0000-4000-8000-000000000003")
    busy = vm(name="busy", vm_id="6f2a1c1e-0000-4000-8000-000000000004", merging=True)

    result = report.build_report(host_record(), [web01(), db01, idle, busy], NOW, name_pattern="n*")

    assert result["host"] == host_record()
    assert result["vm_count"] == 4
    assert [r["name"] for r in result["vms"]] == ["web01", "db01", "idle", "busy"]
    assert result["checkpoint_count"] == 6
    assert result["matching_count"] == 1
    assert result["merging_vms"] == ["db01", "busy"]
    assert result["vms"][1]["total_size_bytes"] == 1000
    assert result["vms"][1]["checkpoints"][0]["is_current"] is True
    assert [r["checkpoint_matching"] for r in result["vms"]] == [0, 1, 0, 0]


def test_build_report_without_vms():
    result = report.build_report(host_record(), [], NOW)
    assert result == {"host": host_record(), "vms": [], "vm_count": 0, "checkpoint_count": 0, "matching_count": 0,
                      "merging_vms": []}
