# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: rules for the options that name things on the host, stricter than Ansible's argument spec.

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

import unicodedata


class OptionError(Exception):
    """A task option breaks one of the rules above; the message names the option."""


def control_character(text):
    """(index, character) of the first control character in ``text``, or None."""
    for index, character in enumerate(text):
        if unicodedata.category(character) == "Cc":
            return index, character
    return None


def check_text(option, text, hint=""):
    """Refuse a name with a control character, saying which one and where."""
    found = control_character(text)
    if found is not None:
        index, character = found
        raise OptionError("%s contains the control character U+%04X at position %d; names must be printable "
                          "text%s" % (option, ord(character), index + 1, hint))


def _kind(value):
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "a dictionary"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a %s" % type(value).__name__


def normalize_name_options(argument_spec, name_options, task_args, hints=None):
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
