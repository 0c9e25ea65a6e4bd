"""Every ansible-playbook and ansible-inventory run of the integration suite shows deprecation warnings
(ANSIBLE_DEPRECATION_WARNINGS) and fails on one: the collection runs on every supported ansible-core without
any, and each version's own run of the suite checks it there."""

from __future__ import annotations

DEPRECATION = "[DEPRECATION WARNING]"
SHOW = {"ANSIBLE_DEPRECATION_WARNINGS": "True"}


def assert_no_deprecation(completed, allowed=()):
    """``allowed``: texts of deprecations a test caused itself on purpose (a deprecated plugin it enables)."""
    output = completed.stdout + completed.stderr
    for line in output.splitlines():
        if DEPRECATION in line and not any(text in line for text in allowed):
            start = output.find(line)
            raise AssertionError(output[max(0, start - 2000):start + 4000])
