"""hyperv_checkpoint's report of what the host did on a create: fallback and a type that could not be put back."""

from __future__ import annotations

import pytest

from tests.unit.plugins.modules.test_module_docs import FakeHost, checkpoint_record, run_action, vm_record


@pytest.fixture
def create_reply(monkeypatch):
    replies = {}

    def create(self, vm_id, name, checkpoint_type=None, known_ids=()):
        created = checkpoint_record(99, name, hours_ago=0)
        return dict({"checkpoint": created, "taken_type": "production", "fell_back": False,
                     "type_restore_error": None, "vm": {k: v for k, v in self.vm.items() if k != "checkpoints"}},
                    **replies)

    monkeypatch.setattr(FakeHost, "create_checkpoint", create)
    return replies


def test_a_type_that_could_not_be_put_back_is_a_warning(monkeypatch, create_reply):
    create_reply["type_restore_error"] = "The operation cannot be performed while the object is in use."
    result = run_action(monkeypatch, "hyperv_checkpoint", {"vm": "app01", "name": "pre-patch",
                                                           "checkpoint_type": "standard"}, vm_record([]))
    assert result["changed"] and not result.get("failed")
    assert any("could not be put back" in warning and "object is in use" in warning for warning in result["warnings"])


def test_production_fallback_is_a_warning(monkeypatch, create_reply):
    create_reply.update(taken_type="standard", fell_back=True)
    result = run_action(monkeypatch, "hyperv_checkpoint", {"vm": "app01", "name": "pre-patch"}, vm_record([]))
    assert result["taken_type"] == "standard" and result["fell_back"] is True
    assert any("standard checkpoint" in warning for warning in result["warnings"])


def test_a_clean_create_has_no_warnings(monkeypatch, create_reply):
    result = run_action(monkeypatch, "hyperv_checkpoint", {"vm": "app01", "name": "pre-patch"}, vm_record([]))
    assert result["taken_type"] == "production" and "warnings" not in result
