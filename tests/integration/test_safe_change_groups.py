"""Application groups of the role safe_change (safe_change_group): changed as one, reverted together.

Real ansible-playbook runs against simulated Hyper-V hosts; the guests' disks are the VMs' disk
directories, so a reverted group is checked byte for byte.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from role_lab import TARGET, role_lab  # noqa: F401  (the fixture)
from test_safe_change import APP_FILES, SITE

pytestmark = pytest.mark.integration

TASKS = TARGET / "tasks"
GROUP_CHANGE = str(TASKS / "change_in_group.yml")
CHANGE_OK = str(TASKS / "change_ok.yml")


def operations(host, operation):
    """The VM ids of the runs of ``operation`` on the simulated host, in the order they ran."""
    return [request["params"]["VMId"] for request in host.requests()
            if request["operation"] == operation and request.get("accepted")]


def vm_id(host, name):
    return host.vm(name)["id"]


def add_member(lab, guest, group, order, log, hyperv="hv01", **variables):
    lab.add_guest(guest, hyperv, files=APP_FILES, safe_change_tasks=GROUP_CHANGE, safe_change_group=group,
                  safe_change_group_order=order, test_order_log=str(log), safe_change_verify_services=["app"],
                  **variables)


def test_two_groups_one_fails_and_is_reverted_in_the_reverse_order_the_other_is_committed(role_lab, tmp_path):
    """shop: db01 (order 0) fails its change, web01 (order 1) passes; crm: db02 and app02 on another host pass;
    solo has no group. The whole shop group is reverted, web01 first; crm and solo are committed."""
    hv01 = role_lab.add_hyperv("hv01", vms=["db01", "web01", "solo"])
    hv02 = role_lab.add_hyperv("hv02", vms=["db02", "app02"])
    log = tmp_path / "order.log"
    add_member(role_lab, "db01", "shop", 0, log, test_change_fails=True)
    add_member(role_lab, "web01", "shop", 1, log)
    add_member(role_lab, "db02", "crm", 0, log, hyperv="hv02")
    add_member(role_lab, "app02", "crm", 1, log, hyperv="hv02")
    role_lab.add_guest("solo", files=APP_FILES, safe_change_tasks=CHANGE_OK, safe_change_verify_services=["app"])
    before = {name: role_lab.digest(name) for name in role_lab.guests}

    run = role_lab.playbook(SITE)

    # Every member of a group took its checkpoint before any change started, under one time stamp.
    creates = operations(hv01, "create_checkpoint") + operations(hv02, "create_checkpoint")
    assert len(creates) == 5
    names = {guest: run.result(guest)["checkpoint"]["name"] for guest in ("db01", "web01", "db02", "app02")}
    assert names["db01"] == names["web01"] and names["db02"] == names["app02"], names
    # The changes ran by order: the two orders-0 first, then the orders 1.
    order = log.read_text().split()
    assert sorted(order[:2]) == ["db01", "db02"] and sorted(order[2:]) == ["app02", "web01"], order

    for guest in ("db01", "web01"):
        result = run.result(guest)
        assert result["outcome"] == "reverted" and result["failed"], result
        assert result["group"] == "shop" and result["group_outcome"] == "reverted", result
        assert result["group_cause"] == "db01", result
        assert result["post_revert_verification"] == "passed"
        assert role_lab.digest(guest) == before[guest], guest  # byte for byte
        assert role_lab.checkpoint_names(guest) == []
    assert run.result("db01")["failed_phase"] == "change"
    assert "schema migration 42 failed" in run.result("db01")["failure"]
    web = run.result("web01")
    assert web["failed_phase"] == "group" and "member db01 failed its change or its verification" in web["msg"], web
    # The reverse order: web01 (order 1) was restored before db01 (order 0).
    assert operations(hv01, "restore_checkpoint") == [vm_id(hv01, "web01"), vm_id(hv01, "db01")]

    # Each committed guest holds exactly what its own change wrote: the group's release, or change_ok's.
    for guest, release in (("db02", "3.0\n"), ("app02", "3.0\n"), ("solo", "2.0\n")):
        result = run.result(guest)
        assert result["outcome"] == "committed", result
        assert (role_lab.disk(guest) / "app" / "version").read_text() == release, guest
    assert run.result("db02")["group_outcome"] == "committed" and run.result("solo")["group"] == ""

    groups = run.custom["hyperv_checkpoint_groups"]
    assert groups == {
        "crm": {"members": ["db02", "app02"], "outcome": "committed", "cause": "", "failed": False,
                "needs_attention": False},
        "shop": {"members": ["db01", "web01"], "outcome": "reverted", "cause": "db01", "failed": True,
                 "needs_attention": False}}, groups
    assert run.custom["hyperv_checkpoint_outcome"]["web01"]["group"] == "shop"
    assert "group shop (db01, web01): REVERTED because of db01" in run.stdout
    assert "group crm (db02, app02): committed" in run.stdout


def test_pre_flight_is_all_or_nothing(role_lab, tmp_path):
    host = role_lab.add_hyperv("hv01", vms=["a1", "a2"])
    log = tmp_path / "order.log"
    add_member(role_lab, "a1", "app", 0, log)
    add_member(role_lab, "a2", "app", 1, log)
    host.set_vm("a2", checkpoint_type="Disabled")
    run = role_lab.playbook(SITE)
    for guest in ("a1", "a2"):
        result = run.result(guest)
        assert result["outcome"] == "skipped" and result["failed"], result
        assert "the group app is refused because its member a2 was: " in result["msg"], result
        assert "checkpoints are disabled" in result["msg"]
        assert result["group_outcome"] == "skipped" and result["group_cause"] == "a2"
    assert operations(host, "create_checkpoint") == [] and not log.exists()


def test_a_group_split_across_batches_or_limited_out_is_refused_before_anything(role_lab, tmp_path):
    host = role_lab.add_hyperv("hv01", vms=["b1", "b2", "c1", "c2"])
    log = tmp_path / "order.log"
    for guest in ("b1", "b2"):
        add_member(role_lab, guest, "billing", 0, log)
    for guest in ("c1", "c2"):
        add_member(role_lab, guest, "cache", 0, log)

    split = role_lab.playbook("tests/integration/targets/safe_change/serial.yml", extra_vars={"test_batch_size": 1})
    result = split.result("b1")
    assert result["outcome"] == "skipped", result
    assert "the group billing is split: its members b1 are in this batch, b2 in another batch of the play " \
           "(serial: make the batches hold whole groups)" in result["msg"], result

    limited = role_lab.playbook(SITE, limit="c1")
    assert "the group cache is split: its members c1 are in this batch, c2 not in the play (limited out" in \
        limited.result("c1")["msg"], limited.result("c1")
    assert operations(host, "create_checkpoint") == [] and not log.exists()


def test_patch_window_keeps_application_groups_in_one_batch(role_lab, tmp_path):
    """Serial 1, but the group pos (p1, p3) goes in one batch: inventory order p1, p2, p3, p4."""
    role_lab.add_hyperv("hv01", vms=["p1", "p2", "p3", "p4"])
    log = tmp_path / "order.log"
    for guest in ("p1", "p2", "p3", "p4"):
        role_lab.add_guest(guest, files=APP_FILES, safe_change_tasks=GROUP_CHANGE, test_order_log=str(log),
                           safe_change_verify_services=["app"], **({"safe_change_group": "pos"}
                                                                   if guest in ("p1", "p3") else {}))
    run = role_lab.playbook("playbooks/patch_window.yml", extra_vars={
        "change_id": "CHG-PW", "patch_window_serial": 1, "patch_window_change_tasks": GROUP_CHANGE,
        "patch_window_results_file": str(tmp_path / "results.json")})
    assert run.rc == 0, run
    assert run.stdout.count("PLAY [Patch window]") == 3, run  # [p1, p3], [p2], [p4]
    assert {guest: run.result(guest)["outcome"] for guest in role_lab.guests} == {
        "p1": "committed", "p2": "committed", "p3": "committed", "p4": "committed"}
    order = log.read_text().split()
    assert sorted(order[:2]) == ["p1", "p3"] and order[2:] == ["p2", "p4"], order  # the group's batch first
    assert run.result("p1")["group_outcome"] == "committed"


def test_a_member_unreachable_during_the_change_reverts_the_group(role_lab, tmp_path):
    role_lab.add_hyperv("hv01", vms=["u1", "u2"])
    log = tmp_path / "order.log"
    add_member(role_lab, "u1", "web", 0, log)
    role_lab.add_guest("u2", files=APP_FILES, safe_change_tasks=str(TASKS / "change_network_down.yml"),
                       safe_change_group="web", safe_change_verify_services=["app"])
    before = {name: role_lab.digest(name) for name in role_lab.guests}
    run = role_lab.playbook(SITE)
    assert run.result("u2")["outcome"] == "reverted" and run.result("u2")["failed_phase"] == "verify"
    assert run.result("u1")["outcome"] == "reverted" and run.result("u1")["group_cause"] == "u2"
    for guest in ("u1", "u2"):
        assert role_lab.digest(guest) == before[guest]
        assert run.recap[guest]["unreachable"] == 0


def test_a_member_whose_revert_fails_keeps_its_checkpoint_the_others_are_reverted(role_lab, tmp_path):
    host = role_lab.add_hyperv("hv01", vms=["r1", "r2"])
    log = tmp_path / "order.log"
    add_member(role_lab, "r1", "erp", 0, log, test_change_fails=True)
    add_member(role_lab, "r2", "erp", 1, log)
    before = {name: role_lab.digest(name) for name in role_lab.guests}
    # The first restore is r2's (order 1, reverted first): it fails.
    host.inject_fault("restore_checkpoint", "fail", code="host_error", message="The file was not found.", vm="r2")
    run = role_lab.playbook(SITE)
    failed = run.result("r2")
    assert failed["outcome"] == "revert_failed" and failed["needs_attention"], failed
    assert role_lab.checkpoint_names("r2") == [failed["checkpoint"]["name"]]
    assert failed["checkpoint"]["name"].endswith(" revert-failed")
    assert "REVERT FAILED on r2: a human is needed." in run.stdout
    reverted = run.result("r1")
    assert reverted["outcome"] == "reverted" and role_lab.digest("r1") == before["r1"], reverted
    assert role_lab.checkpoint_names("r1") == []
    assert run.custom["hyperv_checkpoint_groups"]["erp"]["outcome"] == "revert_failed"
    assert run.custom["hyperv_checkpoint_groups"]["erp"]["needs_attention"] is True


def test_the_controller_killed_after_some_members_were_checkpointed(role_lab, tmp_path):
    """The group's checkpoints are taken one member after the other: the controller dies after the first,
    while the second member's create hangs (and never runs). The next runs see the group's checkpoints and
    apply the stale policy to the group as a whole."""
    host = role_lab.add_hyperv("hv01", vms=["k1", "k2"])
    log = tmp_path / "order.log"
    add_member(role_lab, "k1", "hr", 0, log)
    add_member(role_lab, "k2", "hr", 1, log)
    host.inject_fault("create_checkpoint", "hang", vm="k2")
    killed = role_lab.start(SITE)
    deadline = time.monotonic() + 90
    while not host.checkpoints("k1"):
        assert time.monotonic() < deadline, "k1's checkpoint never came"
        time.sleep(0.2)
    os.killpg(killed[0].pid, signal.SIGKILL)
    killed[0].wait()
    [left] = host.checkpoints("k1")
    assert host.checkpoints("k2") == [] and not log.exists()

    # The lock of the dead run holds the whole group.
    locked = role_lab.playbook(SITE)
    for guest in ("k1", "k2"):
        assert "the group hr is refused because its member k1 was: " in locked.result(guest)["msg"], \
            locked.result(guest)
        assert "may be the lock of a safe_change run that is still going" in locked.result(guest)["msg"]
    # Told that the run is dead, policy reuse would reuse k1's checkpoint but has none for k2: refused as a whole.
    reuse = role_lab.playbook(SITE, extra_vars={"safe_change_lock_minutes": 0, "safe_change_stale_policy": "reuse"})
    for guest in ("k1", "k2"):
        assert "the group hr cannot reuse its left-over checkpoints: they are not one earlier run of the whole " \
               "group (k1: '%s'; k2: none)" % left["name"] in reuse.result(guest)["msg"], reuse.result(guest)
    assert [cp["id"] for cp in host.checkpoints("k1")] == [left["id"]] and not log.exists()
    # Policy remove deletes the left-over and the group goes through.
    removed = role_lab.playbook(SITE, extra_vars={"safe_change_lock_minutes": 0, "safe_change_stale_policy": "remove",
                                                  "test_change_id": "CHG-AGAIN"})
    for guest in ("k1", "k2"):
        assert removed.result(guest)["outcome"] == "committed", removed.result(guest)
        assert role_lab.checkpoint_names(guest) == []
    assert any("removed left-over checkpoints: %s" % left["name"] in note for note in removed.result("k1")["notes"])
    assert host.consistency_problems() == []


def test_check_mode_says_what_would_happen_to_each_member(role_lab, tmp_path):
    role_lab.add_hyperv("hv01", vms=["m1", "m2"])
    log = tmp_path / "order.log"
    add_member(role_lab, "m1", "pay", 0, log)
    add_member(role_lab, "m2", "pay", 1, log)
    run = role_lab.playbook(SITE, check=True)
    assert run.rc == 0, run
    for guest, position in (("m1", "1 of 2"), ("m2", "2 of 2")):
        would = run.result(guest)["would"]
        assert would[0].startswith("as member %s of the group pay" % position), would
        assert "m%s: check mode, as a member of the group, a real run would:" % guest[-1] in run.stdout
    assert not log.exists()


def test_groups_are_refused_under_a_strategy_that_does_not_keep_the_batch_together(role_lab, tmp_path):
    """Issue 22, point 7: the order and the all-or-nothing revert of a group need the linear strategy; under
    free the role refuses before any checkpoint, naming the strategy and what to set."""
    host = role_lab.add_hyperv("hv01", vms=["db01", "web01"])
    log = tmp_path / "order.log"
    add_member(role_lab, "db01", "shop", 0, log)
    add_member(role_lab, "web01", "shop", 1, log)
    run = role_lab.playbook(SITE, environment={"ANSIBLE_STRATEGY": "free"})

    for guest in ("db01", "web01"):
        result = run.result(guest)
        assert result["outcome"] == "skipped" and result["failed"], result
        assert "safe_change_group needs the linear strategy, and this play's strategy is free" in result["msg"]
        assert "Set strategy: linear on the play" in result["msg"]
    assert host.checkpoints("db01") == [] and host.checkpoints("web01") == []
    assert "create_checkpoint" not in [request["operation"] for request in host.requests()]
    assert not log.exists()
