# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the controller's UTC clock and the host's ISO 8601 times.

Shared by the planners, the host client and the role's steps, which compare the controller's clock with the
creation times the host reports.
"""

from __future__ import annotations

import datetime
import re

HOST_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$")


def parse_time(text: str) -> datetime.datetime:
    """UTC datetime from the host's ISO 8601 text (7 fractional digits, trailing Z)."""
    match = HOST_TIME.match(text)
    if not match:
        raise ValueError("not an ISO 8601 time: %r" % text)
    # fromisoformat, not strptime: strptime's first call in a process builds its locale regexes (about 10 ms),
    # and every Ansible worker is a new process that parses a few of the host's times.
    base = datetime.datetime.fromisoformat(match.group(1))
    micro = int((match.group(2) or "0")[:6].ljust(6, "0"))
    value = base.replace(microsecond=micro, tzinfo=datetime.timezone.utc)
    offset = match.group(3)
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        value -= sign * datetime.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    return value


def utc_now() -> datetime.datetime:
    """The controller's clock in UTC; ages compare it with the host's creation times."""
    return datetime.datetime.now(datetime.timezone.utc)
