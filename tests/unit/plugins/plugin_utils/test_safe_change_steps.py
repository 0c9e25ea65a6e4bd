# -*- coding: utf-8 -*-
"""_safe_change_steps: the Hyper-V side of a run against a scripted host client."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_steps as steps
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import HostError

from hyperv_records import NOW, VM_ID, ago, checkpoint, cp_id, vm
from safe_change_fixtures import state

OURS = "safe_change CHG-OLD by someone 2026-01-01T00:00:00Z"
NEW_ID = "0000beef-0000-4000-8000-000000000001"


class Client:
    """A host client: reads answer ``vms`` in turn (the last one repeats); every call is logged."""

    def __init__(self, *vms, fail=None, other_first=False, create_lists=True):
        self.vms = list(vms) or [vm()]
        self.calls = []
        self.fail = fail or {}
        self.other_first = other_first
        self.create_lists = create_lists

    def _maybe_fail(self, operation):
        if operation in self.fail:
            raise HostError(self.fail[operation][0], self.fail[operation][1], operation=operation, host="HV01")

    def read(self, name):
        self.calls.append(("read", name))
        self._maybe_fail("read")
        record = self.vms.pop(0) if len(self.vms) > 1 else self.vms[0]
        return {"computer_name": "HV01"}, record

    def create(self, vm_id, name, checkpoint_type, known_ids, min_free_gb, since, vm_type):
        self.calls.append(("create", name, checkpoint_type))
        self._maybe_fail("create")
        made = checkpoint(NEW_ID, name, created=ago(seconds=0))
        mine = [made]
        if self.other_first:
            mine.insert(0, checkpoint(2, "safe_change CHG-RACE by b 2026-11-25T11:59:59Z", created=ago(seconds=1)))
        self.vms = [vm(checkpoints=mine, current=NEW_ID)]
        reply = {"checkpoint": made, "taken_type": "Production", "fell_back": False, "vm": vm(checkpoints=mine)}
        if not self.create_lists:
            del reply["vm"]["checkpoints"]
        return reply

    def delete(self, vm_id, checkpoint_id):
        self.calls.append(("delete", checkpoint_id))
        self._maybe_fail("delete")
        return vm(merging=True)

    def wait_for_merge(self, record):
        self._maybe_fail("wait_for_merge")
        return 1.5

    def restore(self, vm_id, checkpoint_id, power_state):
        self.calls.append(("restore", checkpoint_id, power_state))
        self._maybe_fail("restore")

    def rename(self, vm_id, checkpoint_id, new_name):
        self.calls.append(("rename", checkpoint_id, new_name))
        self._maybe_fail("rename")
        return {"id": checkpoint_id, "name": new_name}

    @staticmethod
    def describe(error):
        return "VM 'web01': %s" % error.message


def run(client, check_mode=False, **changes):
    alerts = []
    hyperv = steps.HostSteps(client, now=lambda: NOW, clock=lambda: 1000.0, alert=alerts.append)
    return hyperv.checkpoint(state(**changes), check_mode), hyperv, alerts


def test_a_clean_vm_gets_its_checkpoint_and_the_lock_is_checked():
    client = Client()
    after, dummy, dummy = run(client)
    assert after["proceed"] and after["checkpoint"] == {
        "id": NEW_ID, "name": after["checkpoint_name"], "reused": False, "taken_type": "Production",
        "fell_back": False, "state": "present"}
    assert [call[0] for call in client.calls] == ["read", "create", "read"]
    assert after["vm_id"] == VM_ID and after["power_state_before"] == "Running"


@pytest.mark.parametrize("create_lists", [True, False])
def test_the_lock_is_checked_on_a_read_after_the_create_not_on_the_list_it_returned(create_lists):
    """The create's list can be the Hyper-V module's cached one (5 s), without another run's newer checkpoint."""
    client = Client(other_first=True, create_lists=create_lists)
    after, dummy, dummy = run(client)
    assert not after["proceed"] and after["checkpoint"]["state"] == "deleted"
    assert [call[0] for call in client.calls] == ["read", "create", "read", "delete"]


def test_pre_flight_refusals_change_nothing():
    client = Client(vm(state="Off"))
    after, dummy, dummy = run(client)
    assert not after["proceed"] and after["outcome"] == "skipped"
    assert after["reason"] == "Pre-flight refused the change: VM 'web01' on hv01: it is Off, not Running: the change " \
                              "needs a running guest. Nothing was changed."
    assert client.calls == [("read", "web01")]


def test_a_guest_that_did_not_answer_is_refused_with_what_the_host_says():
    after, dummy, dummy = run(Client(vm(state="Off")), guest_problem="the guest web01 does not answer")
    assert after["reason"].endswith("it is Off, not Running: the change needs a running guest; the guest web01 does "
                                    "not answer. Nothing was changed.")


@pytest.mark.parametrize("code, expected", [
    ("vm_not_found", "Hyper-V host hv01 has no VM named 'web01' (set hyperv_vm_name"),
    ("host_unreachable", "The Hyper-V host hv01 did not answer: no answer."),
    ("busy", "Reading VM 'web01' on hv01 failed (busy): no answer."),
])
def test_a_vm_that_cannot_be_read(code, expected):
    after, dummy, dummy = run(Client(fail={"read": (code, "no answer")}))
    assert after["reason"].startswith("Pre-flight refused the change: " + expected), after["reason"]


def test_check_mode_only_reads_and_says_what_it_would_do():
    client = Client()
    after, dummy, dummy = run(client, check_mode=True)
    assert client.calls == [("read", "web01")]
    assert after["outcome"] == "skipped" and after["would"][0].startswith("take checkpoint 'safe_change CHG0042")


def test_left_overs_are_removed_then_a_new_checkpoint_is_taken():
    left = vm(checkpoints=[checkpoint(1, OURS, created=ago(hours=3))], current=1)
    client = Client(left, vm())
    after, dummy, dummy = run(client, options={"safe_change_stale_policy": "remove"})
    assert [call[0] for call in client.calls] == ["read", "delete", "create", "read"]
    assert after["notes"] == [{"code": steps.LEFT_OVERS_REMOVED, "text": "removed left-over checkpoints: %s" % OURS}]
    assert after["proceed"]


def test_a_left_over_taken_by_hand_for_this_change_is_adopted_without_its_marker():
    manual = "safe_change CHG0042 by ops 2026-11-25T11:00:00Z manual"
    client = Client(vm(checkpoints=[checkpoint(1, manual, created=ago(hours=1))], current=1))
    after, dummy, dummy = run(client, options={"safe_change_stale_policy": "reuse"})
    assert client.calls[1] == ("rename", cp_id(1), manual[:-len(" manual")])
    assert after["checkpoint"]["reused"] and after["checkpoint"]["name"] == manual[:-len(" manual")]


def test_a_run_that_came_second_backs_off_and_deletes_its_own_checkpoint():
    client = Client(other_first=True)
    after, dummy, dummy = run(client)
    assert not after["proceed"] and after["checkpoint"]["state"] == "deleted"
    assert "('safe_change CHG-RACE by b 2026-11-25T11:59:59Z', id %s) and goes on; this run backed off and deleted " \
           "its own checkpoint" % cp_id(2) in after["reason"]
    assert client.calls[-1] == ("delete", NEW_ID)


def test_two_runs_of_the_same_second_are_told_apart_by_the_lock():
    """Same change, user and second: the same name; the ids decide (the create always makes one)."""
    name = state()["checkpoint_name"]
    client = Client(vm(checkpoints=[checkpoint(1, name, created=ago(seconds=1))]))
    after, dummy, dummy = run(client)
    assert not after["proceed"] and "may be the lock of a safe_change run that is still going" in after["reason"]
    assert [call[0] for call in client.calls] == ["read"]


def test_a_create_that_timed_out_says_the_checkpoint_may_exist():
    after, dummy, dummy = run(Client(fail={"create": ("timeout", "the host did not answer within 3 seconds")}))
    assert after["reason"].startswith("The checkpoint could not be taken: VM 'web01': the host did not answer")
    assert "may still have taken checkpoint" in after["reason"]


def test_commit_deletes_or_keeps_the_checkpoint():
    hyperv = steps.HostSteps(Client(), now=lambda: NOW, clock=lambda: 2000.0)
    taken = state(checkpoint={"id": "c1", "name": OURS, "state": "present"}, vm_id=VM_ID)
    deleted = hyperv.commit(taken)
    assert deleted["outcome"] == "committed" and deleted["checkpoint"]["state"] == "deleted"
    assert deleted["checkpoint"]["merge_seconds"] == 1.5 and deleted["marks"]["commit"] == 2000.0
    kept = hyperv.commit(state(checkpoint={"id": "c1", "name": OURS, "state": "present"}, vm_id=VM_ID,
                               options={"safe_change_keep_hours": 2}))
    assert kept["checkpoint"] == {"id": "c1", "name": OURS + " kept-until 2026-11-25T14:00:00Z", "state": "kept",
                                  "kept_until": "2026-11-25T14:00:00Z"}


def test_a_merge_that_outlasts_the_timeout_still_counts_as_deleted():
    hyperv = steps.HostSteps(Client(fail={"wait_for_merge": ("merge_timeout", "still merging")}), now=lambda: NOW)
    after = hyperv.commit(state(checkpoint={"id": "c1", "name": OURS}, vm_id=VM_ID))
    assert after["checkpoint"]["state"] == "deleted" and "goes on in the background" in after["notes"][0]["text"]
    failed = steps.HostSteps(Client(fail={"delete": ("busy", "in use")}), now=lambda: NOW).commit(
        state(checkpoint={"id": "c1", "name": OURS}, vm_id=VM_ID))
    assert failed["checkpoint"]["state"] == "kept" and "deleting the checkpoint failed" in failed["notes"][0]["text"]


def test_a_revert_restores_to_the_power_state_before():
    client = Client()
    progress, times = [], iter([90.0, 100.0, 142.0])
    after = steps.HostSteps(client, now=lambda: NOW, clock=lambda: next(times), progress=progress.append).revert(
        state(checkpoint={"id": "c1", "name": OURS}, vm_id=VM_ID, power_state_before="Running"))
    assert client.calls == [("restore", "c1", "running")] and after["outcome"] == "reverted"
    # A restore starts the VM again, which takes a while: a line when it begins and when it ends.
    assert progress == ["restoring checkpoint '%s' of VM 'web01' on hv01, VM back to Running" % OURS,
                        "restored, after 42 s"]


def test_a_failed_revert_keeps_the_checkpoint_marked_for_a_human_and_says_so_loudly():
    client = Client(fail={"restore": ("host_error", "the file was not found")})
    alerts = []
    after = steps.HostSteps(client, now=lambda: NOW, alert=alerts.append).revert(
        state(checkpoint={"id": "c1", "name": OURS}, vm_id=VM_ID, power_state_before="Running",
              failure={"phase": "change", "task": "t", "msg": "boom"}))
    assert after["outcome"] == "revert_failed" and after["checkpoint"]["name"] == OURS + " revert-failed"
    assert after["revert_error"] == "VM 'web01': the file was not found"
    assert alerts and alerts[0].startswith("REVERT FAILED on web01: a human is needed.")


def test_after_the_revert_the_checkpoint_is_deleted_or_kept_for_a_human():
    hyperv = steps.HostSteps(Client(), now=lambda: NOW)
    reverted = state(outcome="reverted", checkpoint={"id": "c1", "name": OURS, "restored": True}, vm_id=VM_ID)
    passed = hyperv.after_revert(reverted, None)
    assert passed["post_revert"] == "passed" and passed["checkpoint"]["state"] == "deleted"
    failed = hyperv.after_revert(reverted, "still 404")
    assert failed["post_revert"] == "failed" and failed["checkpoint"]["state"] == "kept"


def test_a_checkpoint_taken_by_hand_is_one_per_change():
    client = Client()
    held = steps.HostSteps(client, now=lambda: NOW).hold(state(checkpoint_name=OURS + " manual"), False)
    assert held["outcome"] == "held" and not held["checkpoint"]["reused"]
    manual = checkpoint(1, "safe_change CHG0042 by x 2026-11-25T11:00:00Z manual", created=ago(hours=1))
    again = steps.HostSteps(Client(vm(checkpoints=[manual])), now=lambda: NOW).hold(state(), False)
    assert again["checkpoint"]["reused"] and "parsed" not in again["checkpoint"]


def test_failure_of_knows_the_phase():
    run_state = state()
    captured = {"run_id": "run-1", "task": "Health", "action": "ansible.builtin.uri", "result": {"msg": "404"}}
    assert steps.failure_of(run_state, captured, {"run_id": "run-1"}) == {"phase": "verify", "task": "Health",
                                                                          "msg": "404"}
    assert steps.failure_of(run_state, captured, {"run_id": "old"})["phase"] == "change"
    assert steps.failure_of(run_state, dict(captured, run_id="old"), None) is None


def lost(operation, code="connection_lost", unanswered=1):
    """A client whose ``operation`` fails with ``code`` after ``unanswered`` attempts that got no answer."""
    client = Client()
    failure = HostError(code, "the connection to the host was lost", operation=operation, host="HV01")
    failure.unanswered_attempts = unanswered

    def fail(*args):
        client.calls.append((operation,) + args)
        raise failure
    setattr(client, operation, fail)
    return client


@pytest.mark.parametrize("code, unanswered", [("connection_lost", 3), ("timeout", 0), ("host_unreachable", 1),
                                              ("session_rejected", 0), ("vm_not_found", 1)])
def test_a_delete_whose_answer_never_came_leaves_the_checkpoint_unknown_and_says_what_to_check(code, unanswered):
    after = steps.HostSteps(lost("delete", code, unanswered), now=lambda: NOW).commit(
        state(checkpoint={"id": "c1", "name": OURS}, vm_id=VM_ID))
    assert after["outcome"] == "committed" and after["checkpoint"]["state"] == "unknown"
    assert steps.note_codes(after) == [steps.DELETE_UNKNOWN]
    assert "playbooks/report.yml" in after["notes"][0]["text"] and "(id c1)" in after["notes"][0]["text"]
    reverted = steps.HostSteps(lost("delete", code, unanswered), now=lambda: NOW).after_revert(
        state(checkpoint={"id": "c1", "name": OURS}, vm_id=VM_ID), None)
    assert reverted["checkpoint"]["state"] == "unknown"


@pytest.mark.parametrize("code", ["host_unreachable", "busy"])
def test_a_delete_the_host_never_saw_or_refused_keeps_the_checkpoint(code):
    after = steps.HostSteps(lost("delete", code, 0), now=lambda: NOW).commit(
        state(checkpoint={"id": "c1", "name": OURS}, vm_id=VM_ID))
    assert after["checkpoint"]["state"] == "kept" and steps.note_codes(after) == [steps.DELETE_FAILED]


def test_a_host_lost_while_the_merge_was_awaited_still_deleted_the_checkpoint():
    after = steps.HostSteps(lost("wait_for_merge"), now=lambda: NOW).commit(
        state(checkpoint={"id": "c1", "name": OURS}, vm_id=VM_ID))
    assert after["checkpoint"]["state"] == "deleted" and steps.note_codes(after) == [steps.MERGE_UNSEEN]
    assert "Hyper-V finishes the merge on its own" in after["notes"][0]["text"]
