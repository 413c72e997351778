# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Sizes as users write them, and the error every memory-plan refusal raises.

Pure Python, no I/O. Shared by the planner's modules (memory_services, memory_reserve,
memory_plan) so that a size means the same thing everywhere.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from ansible.module_utils.common.text.formatters import human_to_bytes

from ._variable_checks import is_int

KIB = 1024
MIB = 1024 * 1024
# No memory size a VPS plan deals with comes near this; larger values are typos (or
# 400-digit strings that would overflow a float).
MAX_SIZE_BYTES = 2**50  # 1 PiB

SIZE_FORM = (
    "a positive integer (MiB), a string of digits (MiB) or a number with a binary unit like "
    "'64M', '64MB', '512MiB', '1.5G', '2GiB', '64K', '64KiB'"
)

_DIGITS = re.compile(r"^[0-9]+$")
# A number with a unit: a unitless '32.5' would be read as bytes by human_to_bytes.
# The unit letter in either case; the byte suffix only as "B" or "iB": "64Mb" is megabits.
_WITH_UNIT = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([KMGTkmgt])(?:iB|B)?$")


class MemoryBudgetError(ValueError):
    """A refusal: the message says which service/option/fact, the numbers, and the accepted form."""


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def ceil_mib(size_bytes: int) -> int:
    """Whole MiB, rounded up: an estimate or a minimum never shrinks by rounding."""
    return -(-size_bytes // MIB)


def _to_bytes(value, where: str) -> int:
    if is_int(value):
        return value * MIB
    if not isinstance(value, str) or not value.strip():
        raise MemoryBudgetError(f"{where}: {value!r} is not a size; expected {SIZE_FORM}")
    text = value.strip()
    if _DIGITS.match(text):
        return int(text) * MIB
    match = _WITH_UNIT.match(text)
    if not match:
        raise MemoryBudgetError(f"{where}: cannot parse {value!r} as a size; expected {SIZE_FORM}")
    if len(match.group(1)) > 20:
        raise MemoryBudgetError(f"{where}: {value!r} is too large; expected {SIZE_FORM} below 1 PiB")
    try:
        # human_to_bytes reads '64M' and '64MB' as binary, not '64MiB': normalise to 'MB'.
        return human_to_bytes(f"{match.group(1)}{match.group(2).upper()}B")
    except (ValueError, TypeError, OverflowError):
        raise MemoryBudgetError(f"{where}: cannot parse {value!r} as a size; expected {SIZE_FORM}") from None


def parse_size(value, where: str, allow_zero: bool = False) -> int:
    """Bytes from an int (MiB), a digit string (MiB) or a number with a binary unit; refuse the rest.

    `where` starts the error message, e.g. "memory_plan: service 'app' key 'min'".
    """
    size_bytes = _to_bytes(value, where)
    if size_bytes > MAX_SIZE_BYTES:
        raise MemoryBudgetError(f"{where}: {value!r} is too large; expected {SIZE_FORM} below 1 PiB")
    if size_bytes < 0 or (size_bytes == 0 and not allow_zero):
        bound = "0 or more" if allow_zero else "greater than 0"
        raise MemoryBudgetError(
            f"{where}: {value!r} is {'negative' if size_bytes < 0 else 'zero'}; expected {SIZE_FORM} {bound}"
        )
    return size_bytes


def parse_size_mb(value, where: str, allow_zero: bool = False) -> int:
    return ceil_mib(parse_size(value, where, allow_zero))


def parse_ratio(value, upper: float, upper_inclusive: bool, where: str):
    """A ratio 0 < value < upper (or <= upper); returned as a Fraction for exact arithmetic."""
    bound = f"<= {upper}" if upper_inclusive else f"< {upper}"
    if not is_number(value) or not math.isfinite(value):
        raise MemoryBudgetError(f"{where}: {value!r} is not a number; expected a number > 0 and {bound}")
    ratio = Fraction(value)
    limit = Fraction(upper)
    too_big = ratio > limit if upper_inclusive else ratio >= limit
    if ratio <= 0 or too_big:
        raise MemoryBudgetError(f"{where}: {value!r} is out of range; expected a number > 0 and {bound}")
    return ratio
