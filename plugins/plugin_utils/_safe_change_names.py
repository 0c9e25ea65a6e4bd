# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the names of the checkpoints of safe_change.

The name is the only thing a checkpoint carries that Hyper-V lets us choose, so it holds what
later runs, people in Hyper-V Manager and playbooks/cleanup.yml need to know:

    <prefix> <change id> by <who> <UTC time>[ manual][ kept-until <UTC time>][ revert-failed]

- ``manual``: taken by playbooks/checkpoint.yml for a change made by hand, not by a run of the role;
- ``kept-until <UTC time>``: kept after a successful change until that time;
- ``revert-failed``: kept by a run whose revert failed, for a human.

Pure functions, no I/O.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

MAX_NAME_LENGTH = 100
MAX_WHO_LENGTH = 24
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MANUAL = "manual"
KEPT_UNTIL = "kept-until"
REVERT_FAILED = "revert-failed"

_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
_NAME = re.compile(
    r"^(?P<prefix>\S+) (?P<change_id>(?:(?! %s ).)+?)(?: by (?P<who>\S+))? (?P<time>%s)"
    r"(?P<manual> %s)?(?: %s (?P<kept_until>%s))?(?P<revert_failed> %s)?$"
    % (KEPT_UNTIL, _TIME, MANUAL, KEPT_UNTIL, _TIME, REVERT_FAILED))


class CheckpointName:
    """What a checkpoint name of safe_change says; ``parsed`` is False for a name with only our prefix."""

    def __init__(self, name: str, prefix: str, change_id: str | None = None, who: str | None = None,
                 time: str | None = None, manual: bool = False, kept_until: str | None = None,
                 revert_failed: bool = False, parsed: bool = True) -> None:
        self.name = name
        self.prefix = prefix
        self.change_id = change_id
        self.who = who
        self.time = time
        self.manual = manual
        self.kept_until = kept_until
        self.revert_failed = revert_failed
        self.parsed = parsed

    def __repr__(self) -> str:
        return "CheckpointName(%r)" % self.name


def format_time(moment: datetime.datetime | float) -> str:
    """UTC text of a datetime (naive values are taken as UTC) or a POSIX timestamp."""
    if isinstance(moment, (int, float)):
        moment = datetime.datetime.fromtimestamp(moment, datetime.timezone.utc)
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime(TIME_FORMAT)


def normalize_who(who: Any) -> str:
    """The requester as one word of at most 24 characters (spaces become ``_``)."""
    return re.sub(r"\s+", "_", str(who or "").strip())[:MAX_WHO_LENGTH]


def build_name(prefix: str, change_id: Any, who: Any, started: datetime.datetime | float, manual: bool = False) -> str:
    """``<prefix> <change id> by <who> <UTC time>``, with `` manual`` for a checkpoint taken by hand."""
    who = normalize_who(who)
    name = "%s %s%s %s" % (prefix, str(change_id).strip(), (" by %s" % who) if who else "", format_time(started))
    return name + (" " + MANUAL if manual else "")


def base_name(name: str) -> str:
    """The name without its ``kept-until`` and ``revert-failed`` suffixes."""
    name = re.sub(r" %s$" % REVERT_FAILED, "", name)
    return re.sub(r" %s \S+$" % KEPT_UNTIL, "", name)


def kept_name(name: str, until: datetime.datetime | float) -> str:
    """The name of a checkpoint kept after a success until ``until``."""
    return "%s %s %s" % (base_name(name), KEPT_UNTIL, format_time(until))


def revert_failed_name(name: str) -> str:
    """The name of a checkpoint kept by a failed revert."""
    return "%s %s" % (base_name(name), REVERT_FAILED)


def adopted_name(name: str) -> str:
    """A checkpoint taken by hand, once a run adopts it: without ``manual``, so it is that run's lock."""
    return re.sub(r" %s$" % MANUAL, "", base_name(name))


def longest_name(name: str, keep_hours: int, now: datetime.datetime) -> str:
    """The longest this run's checkpoint name can become: kept after a success, or after a failed revert."""
    if keep_hours > 0:
        return kept_name(name, now + datetime.timedelta(hours=keep_hours))
    return revert_failed_name(name)


def is_ours(name: str, prefix: str) -> bool:
    return name.startswith(prefix + " ")


def parse(name: str, prefix: str) -> CheckpointName | None:
    """The CheckpointName of ``name`` when it starts with ``prefix``, else None."""
    if not is_ours(name, prefix):
        return None
    match = _NAME.match(name)
    if not match or match.group("prefix") != prefix:
        # Ours by its prefix, but renamed by hand or cut short: still counted, as earlier releases did.
        kept = re.search(r" %s (\S+)(?: %s)?$" % (KEPT_UNTIL, REVERT_FAILED), name)
        return CheckpointName(name, prefix, manual=base_name(name).endswith(" " + MANUAL),
                              kept_until=kept.group(1) if kept else None,
                              revert_failed=name.endswith(" " + REVERT_FAILED), parsed=False)
    return CheckpointName(
        name, prefix, change_id=match.group("change_id"), who=match.group("who"), time=match.group("time"),
        manual=bool(match.group("manual")), kept_until=match.group("kept_until"),
        revert_failed=bool(match.group("revert_failed")))
