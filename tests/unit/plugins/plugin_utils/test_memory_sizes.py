# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Sizes as users write them (parse_size), ratios, and the refusal they raise."""

from __future__ import annotations

from fractions import Fraction

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import (
    KIB,
    MAX_SIZE_BYTES,
    MIB,
    MemoryBudgetError,
    ceil_mib,
    is_int,
    is_number,
    parse_ratio,
    parse_size,
    parse_size_mb,
)

WHERE = "memory_plan: service 'x' key 'min'"
GIB = 1024 * MIB
PIB = 1024 * 1024 * GIB


def refused(value, **kwargs) -> str:
    with pytest.raises(MemoryBudgetError) as caught:
        parse_size(value, WHERE, **kwargs)
    message = str(caught.value)
    assert message.startswith(f"{WHERE}: "), message
    return message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (64, 64 * MIB),
        ("64", 64 * MIB),
        ("64M", 64 * MIB),
        ("64MB", 64 * MIB),
        ("64m", 64 * MIB),
        ("1G", 1024 * MIB),
        ("1.5G", 1536 * MIB),
        ("512MiB", 512 * MIB),
        ("2GiB", 2048 * MIB),
        ("1.5GiB", 1536 * MIB),
        ("64K", 64 * KIB),
        ("64KiB", 64 * KIB),
        ("64KB", 64 * KIB),
        ("1T", 1024 * GIB),
        (" 128M ", 128 * MIB),
        ("128 M", 128 * MIB),
        # exactly 1 PiB is the largest size accepted
        ("1048576G", PIB),
        (1024 * 1024 * 1024, PIB),
    ],
)
def test_parse_size_accepts(value, expected):
    assert parse_size(value, WHERE) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (0, "is zero"),
        ("0", "is zero"),
        ("0M", "is zero"),
        (-1, "is negative"),
        ("-5M", "cannot parse"),
        ("abc", "cannot parse"),
        ("M", "cannot parse"),
        ("", "is not a size"),
        ("   ", "is not a size"),
        (True, "is not a size"),
        (False, "is not a size"),
        (1.5, "is not a size"),
        (None, "is not a size"),
        ([64], "is not a size"),
        # unitless decimals would be bytes for human_to_bytes: refused, not read as 32 bytes
        ("32.5", "cannot parse"),
        ("0.5", "cannot parse"),
        ("1e3M", "cannot parse"),
        ("2P", "cannot parse"),
        ("64MiBs", "cannot parse"),
    ],
)
def test_parse_size_refuses(value, fragment):
    message = refused(value)
    assert fragment in message
    # the accepted form is part of every refusal
    assert "'64M'" in message and "MiB" in message


@pytest.mark.parametrize(
    "value",
    [
        "9" * 400 + "M",
        "9" * 400,
        "1" + "0" * 399 + "G",
        "9" * 21 + "K",
        10**400,
        "1048577G",  # one GiB above 1 PiB
        "2000000T",
        1024 * 1024 * 1024 + 1,  # MiB
    ],
)
def test_huge_sizes_are_refused_with_a_message_not_an_overflow(value):
    message = refused(value)
    assert "is too large" in message and "below 1 PiB" in message


def test_max_size_is_one_pib():
    assert MAX_SIZE_BYTES == PIB


def test_zero_is_accepted_only_when_allowed():
    assert parse_size(0, WHERE, allow_zero=True) == 0
    assert parse_size("0M", WHERE, allow_zero=True) == 0
    assert "0 or more" in refused(-1, allow_zero=True)
    assert "greater than 0" in refused(0)


@pytest.mark.parametrize(
    ("value", "expected_mb"),
    [("64K", 1), ("1025K", 2), ("1M", 1), ("1.5M", 2), ("1.0001G", 1025), (100, 100)],
)
def test_parse_size_mb_rounds_up_to_whole_mib(value, expected_mb):
    assert parse_size_mb(value, WHERE) == expected_mb


def test_ceil_mib():
    assert [ceil_mib(b) for b in (0, 1, MIB - 1, MIB, MIB + 1)] == [0, 1, 1, 1, 2]


def test_is_int_and_is_number_reject_bools():
    assert is_int(3) and not is_int(True) and not is_int(3.0) and not is_int("3")
    assert is_number(3) and is_number(0.5) and not is_number(False) and not is_number("0.5")


@pytest.mark.parametrize(
    ("value", "upper", "inclusive", "expected"),
    [
        (0.9, 1, False, Fraction(0.9)),
        (0.9, 0.9, True, Fraction(0.9)),
        (1, 1, True, Fraction(1)),
        (0.5, 0.9, True, Fraction(1, 2)),
    ],
)
def test_parse_ratio_accepts(value, upper, inclusive, expected):
    ratio = parse_ratio(value, upper, inclusive, "memory_plan: option 'r'")
    assert ratio == expected and isinstance(ratio, Fraction)


@pytest.mark.parametrize(
    ("value", "upper", "inclusive", "fragment"),
    [
        (1, 1, False, "out of range"),
        (0.95, 0.9, True, "out of range"),
        (0, 1, False, "out of range"),
        (-0.1, 1, False, "out of range"),
        (1.5, 1, True, "out of range"),
        ("0.9", 1, False, "not a number"),
        (True, 1, False, "not a number"),
        (None, 1, False, "not a number"),
        (float("nan"), 1, False, "not a number"),
        (float("inf"), 1, False, "not a number"),
    ],
)
def test_parse_ratio_refuses(value, upper, inclusive, fragment):
    with pytest.raises(MemoryBudgetError) as caught:
        parse_ratio(value, upper, inclusive, "memory_plan: option 'r'")
    message = str(caught.value)
    assert message.startswith("memory_plan: option 'r': ") and fragment in message
    assert ("<= " if inclusive else "< ") + str(upper) in message


def test_megabits_are_refused():
    refused("64Mb")
