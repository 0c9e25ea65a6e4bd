# -*- coding: utf-8 -*-
"""_safe_change_guest: the built-in checks on a guest, with a scripted guest and clock."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_guest import (
    PROBE,
    CheckFailed,
    GuestChecks,
    guest_family,
    service_command,
)

from safe_change_fixtures import options


class Guest:
    """Answers commands from a script: a list of (rc, stdout, stderr) or exceptions per command."""

    def __init__(self, answers=None, default=(0, "", "")):
        self.answers = answers or {}
        self.default = default
        self.commands = []
        self.resets = 0
        self.now = 0.0
        self.progress = []

    def run(self, command):
        self.commands.append(command)
        script = self.answers.get("probe" if command == PROBE else "other", [])
        answer = script.pop(0) if script else (
            (0, "safe_change-probe\n", "") if command == PROBE else self.default)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def reset(self):
        self.resets += 1

    def sleep(self, seconds):
        self.now += seconds

    def clock(self):
        return self.now

    def checks(self, family="linux", open_url=None):
        return GuestChecks("web01", self.run, self.reset, open_url=open_url, family=family, sleep=self.sleep,
                           clock=self.clock, progress=self.progress.append)


def test_a_guest_that_answers_passes_the_probe():
    assert Guest().checks().probe() is None


def test_a_guest_that_comes_back_is_waited_for():
    guest = Guest({"probe": [ConnectionError("no route"), ConnectionError("no route"), (0, "safe_change-probe", "")]})
    guest.checks().wait_until_answers(60)
    assert guest.resets == 2 and guest.now == 10
    # A line when the wait begins and one when it ends, with the probes it took.
    assert guest.progress == ["the guest does not answer yet (no route); waiting up to 60 seconds for it",
                              "the guest answers, after 10 s (3 probes)"]
    answering = Guest()
    answering.checks().wait_until_answers(60)
    assert answering.progress == []  # no wait, no lines


def test_a_guest_that_never_comes_back_fails_after_the_timeout():
    guest = Guest({"probe": [ConnectionError("guest web01 is not reachable: VM state Off")] * 100})
    with pytest.raises(CheckFailed) as failed:
        guest.checks().wait_until_answers(12)
    assert str(failed.value) == "The guest web01 did not answer within 12 seconds (4 probes): guest web01 is not " \
                                "reachable: VM state Off"
    assert guest.now == 12


def test_services_are_checked_in_one_command_and_retried():
    guest = Guest({"other": [(1, "app, db\n", ""), (0, "", "")]})
    guest.checks().services(["app", "db"], retries=1, delay=5)
    assert len(guest.commands) == 2 and "systemctl is-active --quiet" in guest.commands[0] and guest.now == 5
    assert guest.progress == ["the services check failed at try 1 of 2 (app, db); trying again every 5 seconds",
                              "the services check passed at try 2 of 2, after 5 s"]
    failing = Guest({"other": [(1, "app\n", "")] * 3})
    with pytest.raises(CheckFailed, match=r"^Services not running on web01: app \(3 tries over 2 s\)$"):
        failing.checks().services(["app"], retries=2, delay=1)
    assert len(failing.commands) == 3


def test_service_names_are_quoted_for_each_shell():
    assert "for s in 'my svc' 'x'\"'\"'y';" in service_command("linux", ["my svc", "x'y"])
    windows = service_command("windows", ["W3SVC", "it's"])
    assert "@('W3SVC', 'it''s')" in windows and "WildcardPattern]::Escape" in windows


def test_the_url_status_must_be_one_of_the_accepted():
    statuses = iter([503, 200])
    Guest().checks(open_url=lambda url, validate, timeout: next(statuses)).url("http://x/health", [200], True, 5, 1, 0)
    with pytest.raises(CheckFailed, match=r"^http://x/health answered 404, expected 200 or 204 \(1 try over 0 s\)$"):
        Guest().checks(open_url=lambda *args: 404).url("http://x/health", [200, 204], True, 5, 0, 0)

    def refused(*args):
        raise OSError("connection refused")

    with pytest.raises(CheckFailed, match=r"answered nothing, expected 200: connection refused \(1 try over 0 s\)$"):
        Guest().checks(open_url=refused).url("http://x/health", [200], True, 5, 0, 0)


def test_a_command_must_exit_zero_and_its_output_is_reported():
    with pytest.raises(CheckFailed, match=r"^The verification command failed on web01 with exit code 3 \(1 try over "
                                          r"0 s\): out err$"):
        Guest({"other": [(3, "out\n", "err\n")]}).checks().command("check", 0, 0)
    Guest({"other": [(3, "", ""), (0, "", "")]}).checks().command("check", 1, 0)


def test_verify_runs_the_checks_in_order_and_stops_at_the_first_that_fails():
    guest = Guest({"other": [(1, "app", "")]})
    run_options = options(safe_change_verify_services=["app"], safe_change_verify_command="check",
                          safe_change_verify_retries=0)
    with pytest.raises(CheckFailed, match="Services not running"):
        guest.checks().verify(run_options)
    assert guest.commands[0] == PROBE and "check" not in guest.commands


def test_the_url_is_left_to_its_own_task_when_requested_from_another_host():
    asked = []
    Guest().checks(open_url=lambda *args: asked.append(args) or 200).verify(
        options(safe_change_verify_url="http://x"), url_from_controller=False)
    assert asked == []


@pytest.mark.parametrize("setting, shell, family", [("auto", "powershell", "windows"), ("auto", "sh", "linux"),
                                                    ("linux", "powershell", "linux"), ("windows", "sh", "windows")])
def test_the_guest_family(setting, shell, family):
    assert guest_family(setting, shell) == family
