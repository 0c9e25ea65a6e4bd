# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: a VM's checkpoint type as the options write it and as Hyper-V does.

The options take ``production_only``; Hyper-V (and so every record the host sends, the inventory's
variables and the results) says ``ProductionOnly``. Options accept either spelling in any case, so that a
value read from a result or an inventory variable can be given back; results carry both.
"""

from __future__ import annotations

from typing import Any, Mapping, TypeVar

_Value = TypeVar("_Value")

# Option value -> Hyper-V's CheckpointType.
HOST_VALUES = {
    "standard": "Standard",
    "production": "Production",
    "production_only": "ProductionOnly",
    "disabled": "Disabled",
}
OPTION_VALUES = {host: option for option, host in HOST_VALUES.items()}
# The choices of the options, in the order the documentation lists them. Module documentation is static YAML, so
# tests/unit/collection/test_checkpoint_type_choices.py checks that every documented list equals these.
# A VM's setting (hyperv_checkpoint_type).
SETTINGS = tuple(HOST_VALUES)
# What a task can ask of one checkpoint (hyperv_checkpoint, the role): "disabled" is a VM's setting, not a kind.
REQUESTABLE = tuple(option for option in SETTINGS if option != "disabled")
_BY_KEY = {option.replace("_", ""): option for option in HOST_VALUES}


def option_value(value: _Value) -> _Value | str:
    """``value`` in the options' spelling (``ProductionOnly``, ``PRODUCTION_ONLY`` -> ``production_only``);
    anything that is no checkpoint type is returned as it is, for the argument spec to refuse."""
    if not isinstance(value, str):
        return value
    return _BY_KEY.get(value.strip().replace("_", "").lower(), value)


def host_value(option: str | None) -> str | None:
    """Hyper-V's spelling of an option value (None for None)."""
    return HOST_VALUES.get(option) if option else None


def option_of(host: str | None) -> str | None:
    """The options' spelling of a type the host reported (None for None, or a type the options do not know)."""
    return OPTION_VALUES.get(host) if host else None


def with_option(record: Mapping[str, Any], key: str = "checkpoint_type") -> dict[str, Any]:
    """``record`` with ``<key>_option`` beside its host-spelled ``key``."""
    return dict(record, **{key + "_option": option_of(record.get(key))})
