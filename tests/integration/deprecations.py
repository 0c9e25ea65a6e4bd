"""Every ansible-playbook and ansible-inventory run of the integration suite shows deprecation warnings
(ANSIBLE_DEPRECATION_WARNINGS) and fails on one: the collection runs on every supported ansible-core without
any, and each version's own run of the suite checks it there."""

from __future__ import annotations

DEPRECATION = "[DEPRECATION WARNING]"
SHOW = {"ANSIBLE_DEPRECATION_WARNINGS": "True"}


def assert_no_deprecation(completed):
    output = completed.stdout + completed.stderr
    assert DEPRECATION not in output, output[max(0, output.find(DEPRECATION) - 2000):][:6000]
