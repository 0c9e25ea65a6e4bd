# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: VM and checkpoint names matched as Hyper-V matches them (pure).

Hyper-V's cmdlets compare names case-insensitively (Get-VM -Name, Get-VMSnapshot -Name and Restore-VMSnapshot
-Name match a case-insensitive wildcard pattern: the decompiled Hyper-V module, reference section 18). The
collection matches the same way, but literally: ``*``, ``?`` and ``[`` are ordinary characters. Two names that
differ only in case are the same name to Hyper-V, so a name that matches both is ambiguous. The operation
scripts compare with [string]::Equals(a, b, 'OrdinalIgnoreCase'); ``name_key`` is that comparison.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable, Mapping, TypeVar

_Named = TypeVar("_Named", bound=Mapping[str, Any])


def name_key(name: str) -> str:
    """``name`` as OrdinalIgnoreCase compares it: each character upper-cased on its own (a character whose upper
    case is longer, such as ``ß``, stays as it is, as in .NET's simple case mapping)."""
    return "".join(upper if len(upper) == 1 else character
                   for character, upper in ((character, character.upper()) for character in name))


def same_name(left: str, right: str) -> bool:
    return name_key(left) == name_key(right)


def named(records: Iterable[_Named], name: str) -> list[_Named]:
    """The records (dicts with ``name``) whose name is ``name`` as Hyper-V compares names."""
    key = name_key(name)
    return [record for record in records if name_key(record["name"]) == key]


def closest_names(name: str, names: Iterable[str], count: int = 3) -> list[str]:
    """Up to ``count`` of ``names`` that look most like ``name`` (case aside), for a "did you mean" hint."""
    by_key: dict[str, str] = {}
    for candidate in names:
        by_key.setdefault(name_key(candidate), candidate)
    return [by_key[key] for key in difflib.get_close_matches(name_key(name), list(by_key), n=count, cutoff=0.6)]


def did_you_mean(name: str, names: Iterable[str]) -> str:
    """``; did you mean 'web01'?`` when some of ``names`` look like ``name``, else an empty string."""
    return suggestion_text(closest_names(name, names))


def suggestion_text(close: Iterable[str]) -> str:
    """``; did you mean 'web01' or 'web02'?`` for names already chosen as close, else an empty string."""
    quoted = ["'%s'" % candidate for candidate in close]
    return "; did you mean %s?" % " or ".join(quoted) if quoted else ""
