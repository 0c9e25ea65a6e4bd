"""hyperv_checkpoint's report of what the host did on a create: fallback, a type that could not be put back, a
type a killed run left switched, a name set after Checkpoint-VM failed; and what it sends for the create."""

from __future__ import annotations

import pytest

from tests.unit.plugins.modules.test_module_docs import FakeHost, checkpoint_record, run_action, vm_record

import hyperv_records as records


@pytest.fixture
def create_reply(monkeypatch):
    replies = {}
    sent = {}

    def create(self, vm_id, name, checkpoint_type=None, known_ids=(), **options):
        sent.update(options, checkpoint_type=checkpoint_type, known_ids=list(known_ids))
        created = checkpoint_record(99, name, hours_ago=0)
        return dict({"checkpoint": created, "taken_type": "production", "fell_back": False,
                     "type_restore_error": None, "name_repaired": False, "type_override_repaired": None,
                     "vm": {k: v for k, v in self.vm.items() if k != "checkpoints"}}, **replies)

    monkeypatch.setattr(FakeHost, "create_checkpoint", create)
    replies["_sent"] = sent
    return replies


def reply_with(create_reply, **values):
    create_reply.update(values)
    return create_reply


def create(monkeypatch, create_reply, vm=None, **args):
    sent = create_reply.pop("_sent")
    result = run_action(monkeypatch, "hyperv_checkpoint", dict({"vm": "app01", "name": "pre-patch"}, **args),
                        vm if vm is not None else vm_record([]))
    return result, sent


def test_a_type_that_could_not_be_put_back_is_a_warning(monkeypatch, create_reply):
    reply_with(create_reply, type_restore_error="The operation cannot be performed while the object is in use.")
    result, dummy = create(monkeypatch, create_reply, checkpoint_type="standard")
    assert result["changed"] and not result.get("failed")
    assert any("could not be put back" in warning and "object is in use" in warning for warning in result["warnings"])


def test_production_fallback_is_a_warning(monkeypatch, create_reply):
    reply_with(create_reply, taken_type="standard", fell_back=True)
    result, dummy = create(monkeypatch, create_reply)
    assert result["taken_type"] == "standard" and result["fell_back"] is True
    assert any("standard checkpoint" in warning for warning in result["warnings"])


def test_a_clean_create_has_no_warnings(monkeypatch, create_reply):
    result, dummy = create(monkeypatch, create_reply)
    assert result["taken_type"] == "production" and "warnings" not in result


def test_a_type_a_killed_run_left_switched_is_reported_when_put_back(monkeypatch, create_reply):
    reply_with(create_reply, type_override_repaired="Production")
    result, dummy = create(monkeypatch, create_reply)
    assert any("was stopped while the VM's checkpoint type was switched; its type Production was put back" in warning
               for warning in result["warnings"])


def test_a_name_set_after_checkpoint_vm_failed_is_reported(monkeypatch, create_reply):
    reply_with(create_reply, name_repaired=True)
    result, dummy = create(monkeypatch, create_reply)
    assert any("default name" in warning and "renamed it to 'pre-patch'" in warning for warning in result["warnings"])


def test_the_create_sends_the_free_space_minimum_the_read_time_and_the_vms_type(monkeypatch, create_reply):
    result, sent = create(monkeypatch, create_reply, min_free_gb=2.5)
    assert sent["min_free_bytes"] == int(2.5 * 1024 ** 3)
    assert sent["vm_type"] == "Production"
    assert sent["since"].endswith("Z")  # the host's time of the read: FakeHost.HOST_RECORD["time"]


def test_min_free_gb_zero_sends_no_minimum(monkeypatch, create_reply):
    dummy, sent = create(monkeypatch, create_reply, min_free_gb=0)
    assert sent["min_free_bytes"] == 0


def test_low_free_space_refuses_before_the_host_is_asked(monkeypatch, create_reply):
    vm = vm_record([])
    vm["volumes"] = [records.volume("D:\\", free_gb=3.0)]
    result, sent = create(monkeypatch, create_reply, vm=vm, min_free_gb=5)
    assert result["failed"] and result["error_code"] == "low_disk_space"
    assert "volume D:\\ of VM 'app01' has 3.0 GB free, less than min_free_gb 5 GB" in result["msg"]
    assert sent == {}  # no create was sent


def test_a_share_of_unknown_free_space_is_a_warning_not_a_refusal(monkeypatch, create_reply):
    vm = vm_record([])
    vm["volumes"] = [records.volume("\\\\fs01\\vms", free_gb=None, size_gb=None)]
    result, dummy = create(monkeypatch, create_reply, vm=vm)
    assert result["changed"] and not result.get("failed")
    assert any("free space of \\\\fs01\\vms is not known" in warning for warning in result["warnings"])


def test_a_negative_minimum_is_refused(monkeypatch, create_reply):
    result, sent = create(monkeypatch, create_reply, min_free_gb=-1)
    assert result["failed"] and result["error_code"] == "invalid_option" and "min_free_gb" in result["msg"]
