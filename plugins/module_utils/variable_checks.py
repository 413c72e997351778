# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Checks every filter that turns role variables into a configuration makes the same way.

Each module passes its own error class, so a refusal still says which role it comes from.
"""

from __future__ import annotations


def is_int(value) -> bool:
    """An integer, and not a boolean (YAML's `yes` is True, which Python counts as 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def mapping(value, where: str, error: type[Exception], keys: tuple | None = None, expected: str | None = None) -> dict:
    """`value` when it is a mapping whose keys are all in `keys` (any keys when None); else raises `error`
    naming `where` and what is accepted (`expected`, or the keys)."""
    if not isinstance(value, dict):
        hint = f"; expected {expected}" if expected else f"; expected keys {', '.join(keys)}" if keys else ""
        raise error(f"{where}: {value!r} ({type(value).__name__}) is not a mapping{hint}")
    for key in value if keys is not None else ():
        if key not in keys:
            raise error(f"{where} key '{key}': unknown key; accepted keys: {', '.join(keys)}")
    return value
