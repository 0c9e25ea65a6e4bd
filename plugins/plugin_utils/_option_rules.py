# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: the rules every module's options follow beyond Ansible's argument spec.

Each module validates its options once, before any connection (HyperVActionBase.validated_args): the
rules for names below, its argument spec (types, choices, required_if), then its own ``check_options``,
which combines the small rules here (durations, names, numbers, options that only go with some states).
Everything raises OptionError (error_code ``invalid_option``) naming the option.

Names: the options that name things on the host are stricter than the argument spec.

Ansible's argument spec turns a list or a dict given for a ``str`` option into its Python
text (``['a', 'b']``), and splits a string given for a ``list`` option at its commas. For a
name that would make the task address a checkpoint or VM nobody named: a checkpoint called
``['a', 'b']``, or two VMs ``web`` and ``01`` for the VM ``web,01``. So, before the argument
spec sees the options:

- a name option of type ``str`` takes a string only (YAML turns ``007`` into 7 and ``no`` into
  False, so numbers and booleans are refused instead of guessed back);
- a name option of type ``list`` takes a list of strings, or one string that is one name;
- no name may contain a control character (NUL, tab, newline, ...): such names cannot be typed
  or shown faithfully, a NUL cannot pass through the Windows APIs' NUL-terminated strings, and
  Hyper-V documents none of them as part of a name.

Nothing here contacts the host: a refusal means no request was sent.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable, Mapping, Sequence

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import OptionError

# Hyper-V's limit for a checkpoint name (reference: "Using checkpoints", WMI ElementName).
MAX_NAME_LENGTH = 100

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def control_character(text: str) -> tuple[int, str] | None:
    """(index, character) of the first control character in ``text``, or None."""
    for index, character in enumerate(text):
        if unicodedata.category(character) == "Cc":
            return index, character
    return None


def check_text(option: str, text: str, hint: str = "") -> None:
    """Refuse a name with a control character, saying which one and where."""
    found = control_character(text)
    if found is not None:
        index, character = found
        raise OptionError("%s contains the control character U+%04X at position %d; names must be printable "
                          "text%s" % (option, ord(character), index + 1, hint))


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "a dictionary"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a %s" % type(value).__name__


def normalize_name_options(argument_spec: Mapping[str, Mapping[str, Any]], name_options: Iterable[str],
                           task_args: Mapping[str, Any], hints: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``task_args`` with the name options checked, a lone string for a list option made a one-item list.

    ``name_options``: the options of ``argument_spec`` that name things on the host. Raises
    OptionError naming the first option that breaks a rule.
    """
    hints = hints or {}
    normalized = dict(task_args)
    for option in name_options:
        value = task_args.get(option)
        if value is None:
            continue
        hint = hints.get(option, "")
        if argument_spec[option].get("type") == "list":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)):
                raise OptionError("%s must be a list of names, not %s (%r)" % (option, _kind(value), value))
            for position, item in enumerate(items, 1):
                if not isinstance(item, str):
                    raise OptionError("%s: entry %d must be a name (a string), not %s (%r); quote it in YAML"
                                      % (option, position, _kind(item), item))
                check_text("%s entry %d" % (option, position), item, hint)
            normalized[option] = list(items)
        else:
            if not isinstance(value, str):
                raise OptionError("%s must be a string, not %s (%r); quote it in YAML or use the string filter"
                                  % (option, _kind(value), value))
            check_text(option, value, hint)
    return normalized


def parse_duration(value: object, option: str) -> int | None:
    """Seconds from ``90``, ``"90"``, ``"30m"``, ``"48h"``, ``"7d"`` or ``"2w"`` (None for None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise OptionError("%s must be a duration like 48h or 7d, not %r" % (option, value))
    if isinstance(value, int):
        seconds = value
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise OptionError("%s must be a duration like 3600, 90m, 48h, 7d or 2w, not %r" % (option, value))
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if seconds <= 0:
        raise OptionError("%s must be greater than zero, not %r" % (option, value))
    return seconds


def check_checkpoint_name(args: Mapping[str, Any], option: str) -> None:
    """A checkpoint name: not blank, at most Hyper-V's 100 characters."""
    name = args.get(option)
    if name is None:
        return
    if not name.strip():
        raise OptionError("%s must not be empty or blank" % option)
    if len(name) > MAX_NAME_LENGTH:
        raise OptionError("%s is %d characters long; Hyper-V allows at most %d: %r"
                          % (option, len(name), MAX_NAME_LENGTH, name[:40] + "..."))


def check_not_blank(args: Mapping[str, Any], options: Iterable[str]) -> None:
    """Each of ``options`` that is given (a string, or a list of strings) has no empty or blank entry."""
    for option in options:
        value = args.get(option)
        values = value if isinstance(value, list) else [] if value is None else [value]
        if any(not item.strip() for item in values):
            raise OptionError("%s must not be empty or blank%s" % (option, " (an entry is)" if isinstance(value, list)
                                                                   else ""))


def check_positive(args: Mapping[str, Any], options: Iterable[str], zero: bool = False) -> None:
    """Each of ``options`` is greater than zero (``zero``: or zero)."""
    for option in options:
        value = args.get(option)
        if value is not None and (value < 0 if zero else value <= 0):
            raise OptionError("%s must be %s, not %s" % (
                option, "0 or more" if zero else "a positive number" + (" of seconds" if "timeout" in option else ""),
                value))


def check_only_with(args: Mapping[str, Any],
                    rules: Iterable[tuple[Sequence[str], str, Sequence[str], str]]) -> None:
    """``rules``: (options, key, values, what the options do) - the options, when given, need ``key`` to be one of
    ``values``: ``(("new_name",), "state", ("present",), "renames a checkpoint")``."""
    for options, key, values, purpose in rules:
        given = [option for option in options if args.get(option) is not None]
        if given and args.get(key) not in values:
            raise OptionError("%s %s and need%s %s" % (
                ", ".join(given), purpose, "" if len(given) > 1 else "s",
                " or ".join("%s=%s" % (key, value) for value in values)))


def check_needs_one_of(args: Mapping[str, Any], rules: Iterable[tuple[Sequence[str], Sequence[str], str]]) -> None:
    """``rules``: (options, needed, why) - the options, when given, need one of the options ``needed``."""
    for options, needed, why in rules:
        given = [option for option in options if args.get(option) is not None and args.get(option) is not False]
        if given and all(args.get(option) is None for option in needed):
            raise OptionError("%s need%s %s%s" % (" and ".join(given), "" if len(given) > 1 else "s",
                                                  " or ".join(needed), why))
