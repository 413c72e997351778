# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Checks every filter that turns role variables into a configuration makes the same way.

Each module passes its own error class, so a refusal still says which role it comes from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# Go keeps a time.Duration, and Caddy its integer and byte-size options, in 64-bit integers.
INT64_MAX = 2**63 - 1
# time.ParseDuration refuses anything longer than math.MaxInt64 nanoseconds.
GO_DURATION_MAX = "2562047h47m16.854775807s"
GO_DURATION_MAX_HOURS = INT64_MAX // (3600 * 10**9)
PORT_RANGE = (1, 65535)
_GO_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_GO_PART = re.compile(r"([0-9]+)(ns|us|µs|ms|s|m|h|d)")


def is_int(value) -> bool:
    """An integer, and not a boolean (YAML's `yes` is True, which Python counts as 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def kind(value) -> str:
    """What a value is, in the words of a role's user: never a Python class name (ansible-core 2.19 hands
    filters _AnsibleLazyTemplateDict and friends, names that mean nothing to the person who wrote the YAML)."""
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (str, bytes)):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (Sequence, set, frozenset)):
        return "a list"
    return "neither a string, a number, a boolean, a list nor a mapping"


def mapping(value, where: str, error: type[Exception], keys: tuple | None = None, expected: str | None = None) -> dict:
    """`value` when it is a mapping whose keys are all in `keys` (any keys when None); else raises `error`
    naming `where` and what is accepted (`expected`, or the keys)."""
    if not isinstance(value, dict):
        hint = f"; expected {expected}" if expected else f"; expected keys {', '.join(keys)}" if keys else ""
        raise error(f"{where}: {value!r} is {kind(value)}, not a mapping{hint}")
    for key in value if keys is not None else ():
        if key not in keys:
            raise error(f"{where} key '{key}': unknown key; accepted keys: {', '.join(keys)}")
    return value


def go_duration_ns(text: str, days: bool = False) -> int | None:
    """The nanoseconds of a duration written as whole numbers with Go's units (10s, 1m30s, 500ms; with `days`,
    Caddy's d = 24h too), or None when `text` is not one. Python's integers do not overflow, so the caller can
    compare the result with INT64_MAX, the bound Go's time.ParseDuration enforces."""
    if not isinstance(text, str) or not text:
        return None
    total, end = 0, 0
    for part in _GO_PART.finditer(text):
        if part.start() != end or (part[2] == "d" and not days):
            return None
        total += int(part[1]) * (24 * _GO_UNIT_NS["h"] if part[2] == "d" else _GO_UNIT_NS[part[2]])
        end = part.end()
    return total if end == len(text) else None


def duration_within_go(text: str, where: str, error: type[Exception], form: str, days: bool = False) -> str:
    """`text` (already checked to be a duration of `form`) when Go can hold it; else raises `error` naming `where`."""
    nanoseconds = go_duration_ns(text, days)
    if nanoseconds is not None and nanoseconds > INT64_MAX:
        raise error(
            f"{where}: {text!r} is longer than the longest duration Go reads, {GO_DURATION_MAX} "
            f"(a 64-bit count of nanoseconds); expected {form}, at most {GO_DURATION_MAX_HOURS}h"
        )
    return text


def port_in_range(port, value, where: str, error: type[Exception], form: str) -> int:
    """The port number `port` (digits or an integer) found in `value`, when it is 1..65535; else raises `error`."""
    number = int(port)
    if not PORT_RANGE[0] <= number <= PORT_RANGE[1]:
        raise error(f"{where}: {value!r} has port {number}, outside {PORT_RANGE[0]}..{PORT_RANGE[1]}; expected {form}")
    return number
