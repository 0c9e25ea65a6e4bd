# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the built-in checks of safe_change on a guest.

The guest answers (a raw ``echo`` over the guest's own connection, so neither Python nor
ansible.windows is needed on it), its services run, a URL answers, a command succeeds. All run in
one task; the service, URL and command checks are tried ``retries`` more times, ``delay`` seconds
apart. The I/O is passed in (a function that runs a command on the guest, one that resets the
connection, one that opens a URL, the clock), so that the logic is tested without a guest.
"""

from __future__ import annotations

import shlex
import time
from typing import Any, Callable

PROBE = "echo safe_change-probe"
PROBE_ANSWER = "safe_change-probe"


class CheckFailed(Exception):
    """A check failed; the message says which and why."""


def service_command(family: str, services: list[str]) -> str:
    """One command that exits 1 and names the services that do not run, 0 when all run."""
    if family == "windows":
        quoted = ", ".join("'%s'" % name.replace("'", "''") for name in services)
        return ("$ErrorActionPreference = 'Stop'; $down = @(); foreach ($n in @(%s)) { "
                "$s = Get-Service -Name ([Management.Automation.WildcardPattern]::Escape($n)) "
                "-ErrorAction SilentlyContinue; if ($null -eq $s) { $down += ('{0} (not installed)' -f $n) } "
                "elseif ($s.Status -ne 'Running') { $down += ('{0} ({1})' -f $n, $s.Status) } }; "
                "if ($down.Count -gt 0) { Write-Output ($down -join ', '); exit 1 }" % quoted)
    quoted = " ".join(shlex.quote(name) for name in services)
    return ('down=""; for s in %s; do systemctl is-active --quiet -- "$s" || down="$down${down:+, }$s"; done; '
            'if [ -n "$down" ]; then echo "$down"; exit 1; fi' % quoted)


def guest_family(setting: str, shell_family: str | None) -> str:
    """``windows`` or ``linux``: the setting, or for ``auto`` the family of the guest's shell."""
    if setting in ("windows", "linux"):
        return setting
    return "windows" if shell_family in ("powershell", "cmd") else "linux"


class GuestChecks:
    """The checks against one guest.

    ``run_command(cmd) -> (rc, stdout, stderr)`` runs on the guest and raises on a connection failure;
    ``reset()`` drops the guest's connection so that the next command reconnects; ``open_url(url,
    validate_certs, timeout) -> status`` requests a URL from the controller (raising on no answer).
    """

    def __init__(self, host: str, run_command: Callable[[str], tuple[int | None, str, str]], reset: Callable[[], None],
                 open_url: Callable[[str, bool, int], int] | None = None, family: str = "linux",
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 log: Callable[[str], None] | None = None, progress: Callable[[str], None] | None = None) -> None:
        self.host = host
        self._run = run_command
        self._reset = reset
        self._open_url = open_url
        self.family = family
        self._sleep = sleep
        self._clock = clock
        self._log = log or (lambda message: None)
        # A line when a wait begins and when it ends (shown at default verbosity, as win_reboot's waits are at its
        # level): a verification that retries for minutes must not look like a hang.
        self._progress = progress or (lambda message: None)

    def probe(self) -> str | None:
        """None when the guest answers, else why not."""
        try:
            rc, stdout, stderr = self._run(PROBE)
        except Exception as error:  # connection plugins raise many types for a guest that is away
            return str(error) or type(error).__name__
        if rc != 0 or PROBE_ANSWER not in stdout:
            return "the probe command gave exit code %s: %s" % (rc, (stderr or stdout).strip()[:300])
        return None

    def wait_until_answers(self, timeout: float) -> None:
        """Probe until the guest answers; CheckFailed after ``timeout`` seconds."""
        started = self._clock()
        deadline = started + timeout
        pause = min(timeout, 5)
        probes = 0
        while True:
            problem = self.probe()
            probes += 1
            if problem is None:
                if probes > 1:
                    self._progress("the guest answers, after %s (%d probes)" % (seconds(self._clock() - started),
                                                                                probes))
                return
            if self._clock() >= deadline:
                raise CheckFailed("The guest %s did not answer within %s seconds (%d probes): %s"
                                  % (self.host, timeout, probes, problem))
            if probes == 1:
                self._progress("the guest does not answer yet (%s); waiting up to %s seconds for it"
                               % (problem, timeout))
            self._log("guest %s does not answer yet: %s" % (self.host, problem))
            self._reset()
            self._sleep(max(0.0, min(pause, deadline - self._clock())))

    def _tries(self, what: str, attempt: Callable[[], str | None], retries: int, delay: float) -> tuple[str | None, str]:
        """Run ``attempt`` (returns None when the check passed, else the problem) up to 1 + ``retries`` times:
        (None, "") when it passed, else (the problem of the last try, how many tries over how long)."""
        problem = None
        started = self._clock()
        for number in range(retries + 1):
            if number:
                self._sleep(delay)
            try:
                problem = attempt()
            except Exception as error:  # the guest went away between tries: tried again, reported last
                problem = "the guest did not answer: %s" % error
                self._reset()
            if problem is None:
                if number:
                    self._progress("%s passed at try %d of %d, after %s" % (
                        what, number + 1, retries + 1, seconds(self._clock() - started)))
                return None, ""
            self._log("check on %s failed (try %d of %d): %s" % (self.host, number + 1, retries + 1, problem))
            if number == 0 and retries:
                self._progress("%s failed at try 1 of %d (%s); trying again every %s seconds"
                               % (what, retries + 1, problem, delay))
        return problem, " (%d %s over %s)" % (retries + 1, "try" if retries == 0 else "tries",
                                              seconds(self._clock() - started))

    def services(self, services: list[str], retries: int, delay: float) -> None:
        command = service_command(self.family, services)

        def attempt() -> str | None:
            rc, stdout, stderr = self._run(command)
            return None if rc == 0 else (stdout.strip() or stderr.strip() or "exit code %s" % rc)

        problem, tries = self._tries("the services check", attempt, retries, delay)
        if problem is not None:
            raise CheckFailed("Services not running on %s: %s%s" % (self.host, problem, tries))

    def url(self, url: str, statuses: list[int], validate_certs: bool, timeout: int, retries: int,
            delay: float) -> None:
        status, error = None, None

        def attempt() -> str | None:
            nonlocal status, error
            try:
                if self._open_url is None:
                    raise TypeError("GuestChecks was given no open_url")
                status, error = self._open_url(url, validate_certs, timeout), None
            except Exception as failure:  # no answer at all: reported with the reason
                status, error = None, str(failure)
            return None if status in statuses else "status %s" % status

        problem, tries = self._tries("the URL check", attempt, retries, delay)
        if problem is None:
            return
        expected = " or ".join(str(each) for each in statuses)
        if status is None:
            raise CheckFailed("%s answered nothing, expected %s: %s%s" % (url, expected, error, tries))
        raise CheckFailed("%s answered %s, expected %s%s" % (url, status, expected, tries))

    def command(self, command: str, retries: int, delay: float) -> None:
        last = None  # (exit code, output) of the last try that ran

        def attempt() -> str | None:
            nonlocal last
            rc, stdout, stderr = self._run(command)
            last = (rc, ("%s %s" % (stdout.strip(), stderr.strip())).strip())
            return None if rc == 0 else "exit code %s" % rc

        problem, tries = self._tries("the verification command", attempt, retries, delay)
        if problem is None:
            return
        if last is None:
            raise CheckFailed("The verification command failed on %s (%s)%s" % (self.host, problem, tries))
        rc, output = last[0], last[1]
        raise CheckFailed("The verification command failed on %s with exit code %s%s%s" % (
            self.host, rc, tries, ": " + output[:300] if output else ""))

    def verify(self, options: dict[str, Any], url_from_controller: bool = True) -> None:
        """The built-in verification of safe_change, in order; CheckFailed names the first check that failed."""
        retries, delay = options["safe_change_verify_retries"], options["safe_change_verify_delay"]
        self.wait_until_answers(options["safe_change_reachable_timeout"])
        if options["safe_change_verify_services"]:
            self.services(options["safe_change_verify_services"], retries, delay)
        if options["safe_change_verify_url"] and url_from_controller:
            self.url(options["safe_change_verify_url"], options["safe_change_verify_url_status"],
                     options["safe_change_verify_url_validate_certs"], options["safe_change_verify_url_timeout"],
                     retries, delay)
        if options["safe_change_verify_command"]:
            self.command(options["safe_change_verify_command"], retries, delay)


def seconds(value: float) -> str:
    return "%d s" % round(value)


def open_url_status(url: str, validate_certs: bool, timeout: int) -> int:
    """The HTTP status ``url`` answers with, requested from the controller (redirects of GET followed)."""
    from urllib.error import HTTPError

    from ansible.module_utils.urls import open_url

    try:
        response = open_url(url, validate_certs=validate_certs, timeout=timeout, follow_redirects="safe")
    except HTTPError as error:
        return error.code
    try:
        return response.getcode()
    finally:
        response.close()
