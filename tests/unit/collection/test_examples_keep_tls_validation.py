"""Every example a user copies keeps TLS certificate validation on and carries no password.

Examples are everything git tracks outside tests/ (README, docs, playbooks, roles, the
modules' EXAMPLES) plus the inventory template for real hosts. The simulator's own tests
may trust a test certificate, but do not switch validation off either (harness.py).
"""

from __future__ import annotations

import pathlib
import re
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
TEXT_SUFFIXES = {".md", ".yml", ".yaml", ".py", ".ini", ".cfg", ".j2", ".template", ".txt", ".json", ".toml"}
EXTRA_EXAMPLES = ("tests/integration/inventory.winrm.template",)
# What the integration tests and the demo connect with.
TEST_INVENTORY = "tests/sim/hyperv_sim/harness.py"

# Ways to switch certificate validation off in Ansible, pywinrm, pypsrp and requests.
VALIDATION_OFF = re.compile(
    r"""(cert_validation|server_cert_validation)["'\]]*\s*[:=]\s*["']?ignore"""
    r"""|validate_certs["']?\s*[:=]\s*["']?(false|no|off|0)\b"""
    r"""|\bverify\s*=\s*False\b"""
    r"""|ansible_psrp_cert_validation["']?\s*[:=]\s*["']?(ignore|false|no)""",
    re.IGNORECASE)
# A password written into an example instead of coming from a vault or AWX credential.
PLAIN_PASSWORD = re.compile(r"""(ansible_password|ansible_winrm_password|ansible_psrp_password)["']?\s*[:=]\s*"""
                            r"""(?!\s*["']?\{\{)["']?[^\s"'{}]+""", re.IGNORECASE)


def example_files():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, check=True, capture_output=True, text=True).stdout
    paths = [path for path in tracked.splitlines()
             if not path.startswith("tests/") and pathlib.PurePath(path).suffix in TEXT_SUFFIXES]
    return sorted(paths) + list(EXTRA_EXAMPLES)


def offending_lines(pattern, text):
    return [line.strip() for line in text.splitlines() if pattern.search(line)]


@pytest.mark.parametrize("line", [
    "ansible_winrm_server_cert_validation: ignore",
    'ansible_winrm_server_cert_validation="ignore"',
    "validate_certs: false",
    "    validate_certs: no",
    "session = requests.Session(); session.verify = False",
    "ansible_psrp_cert_validation: ignore",
    'variables["ansible_winrm_server_cert_validation"] = "ignore"',
])
def test_the_scan_recognizes_validation_switched_off(line):
    assert offending_lines(VALIDATION_OFF, line) == [line.strip()]


@pytest.mark.parametrize("line, found", [
    ("ansible_password: hunter2", True),
    ("ansible_password=Secret123", True),
    ('ansible_password: "{{ vault_hyperv_password }}"', False),
    ("ansible_password={{ vault_hyperv_password }}", False),
])
def test_the_scan_recognizes_plain_passwords(line, found):
    assert bool(offending_lines(PLAIN_PASSWORD, line)) is found


def test_there_are_examples_to_scan():
    files = example_files()
    assert "README.md" in files and "docs/host-setup.md" in files and "plugins/modules/hyperv_checkpoint.py" in files
    assert any(path.startswith("playbooks/") for path in files)


@pytest.mark.parametrize("path", example_files())
def test_no_example_switches_tls_validation_off_or_holds_a_password(path):
    text = (REPO / path).read_text(encoding="utf-8")
    assert offending_lines(VALIDATION_OFF, text) == []
    assert offending_lines(PLAIN_PASSWORD, text) == []


def test_the_tests_inventory_keeps_validation_on_too():
    assert offending_lines(VALIDATION_OFF, (REPO / TEST_INVENTORY).read_text(encoding="utf-8")) == []
