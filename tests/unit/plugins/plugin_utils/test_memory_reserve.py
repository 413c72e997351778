# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The reserve: base 80 + hot page cache 32 + the kernel's high watermark + a full zram device.

Expected values are worked by hand from the rules in memory_reserve.py's comments:
min_free_kbytes = max(clamp(isqrt(16 x KiB), 128, 262144), min(44 MiB, 5 % of RAM)),
high watermark = min + 2 x max(min / 4, RAM x scale / 10000) rounded up to MiB,
zram RAM = ceil(size / 2 + size / 1000) with size = min(RAM / 2, 4096) by default.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_host import normalize_facts
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_reserve import (
    BASE_USERSPACE_MB,
    HOT_PAGE_CACHE_MB,
    MemoryBudgetError,
    default_reserve,
    estimated_min_free_bytes,
    high_watermark_bytes,
    planned_zram_mb,
    resolve_reserve,
    watermarks_mb,
)

KIB = 1024
MIB = 1024 * KIB
GIB_MB = 1024


def module_host(mb: int, **extra):
    return normalize_facts({"effective_memory_bytes": mb * MIB, **extra})


def plain_host(mb: int):
    return normalize_facts({"memtotal_mb": mb})


def cgroup_host(mb: int):
    return normalize_facts(
        {"effective_memory_bytes": mb * MIB, "memtotal_bytes": 2 * mb * MIB, "cgroup_memory_limit_bytes": mb * MIB}
    )


def test_constants():
    assert (BASE_USERSPACE_MB, HOT_PAGE_CACHE_MB) == (80, 32)


@pytest.mark.parametrize(
    ("memory_mb", "expected_kib"),
    [
        (1, 128),  # isqrt(16 x 1024) = 128, the floor; 5 % is 51 KiB
        (80, 4096),  # isqrt(16 x 81920) = 1144 < 5 % = 4096
        (256, 13107),  # 5 % of 262144 KiB
        (512, 26214),
        (1024, 45056),  # 5 % would be 52428: the THP value 44 MiB caps it
        (8192, 45056),  # isqrt = 11585 < 45056
        (1024 * GIB_MB, 131072),  # 1 TiB: isqrt(2^34) = 2^17 beats THP
        (16 * 1024 * GIB_MB, 262144),  # 16 TiB: isqrt = 524288, capped at 256 MiB
    ],
)
def test_estimated_min_free(memory_mb, expected_kib):
    assert estimated_min_free_bytes(memory_mb * MIB) == expected_kib * KIB


def test_high_watermark():
    # step = max(16 MiB / 4, 1 GiB x 10 / 10000 = 1073741 B) = 4 MiB
    assert high_watermark_bytes(1024 * MIB, 16 * MIB, 10) == 24 * MIB
    # step = max(4 MiB, 1 GiB x 100 / 10000 = 10737418 B)
    assert high_watermark_bytes(1024 * MIB, 16 * MIB, 100) == 16 * MIB + 2 * 10737418
    assert high_watermark_bytes(1024 * MIB, 0, 0) == 0


@pytest.mark.parametrize(
    ("memory_mb", "expected_mb"),
    [
        (80, 6),  # 4 MiB + 2 x 1 MiB
        (256, 20),  # 13107 KiB x 1.5 = 19.2 MiB, rounded up
        (512, 39),  # 26214 KiB x 1.5 = 38.4 MiB
        (1024, 66),  # 44 MiB x 1.5
        (8192, 66),
        (16384, 77),  # 44 MiB + 2 x 16 GiB / 1000 = 76.77 MiB
    ],
)
def test_estimated_watermarks(memory_mb, expected_mb):
    assert watermarks_mb(module_host(memory_mb)) == (expected_mb, "estimated")
    assert watermarks_mb(plain_host(memory_mb)) == (expected_mb, "estimated")


def test_watermarks_from_facts():
    assert watermarks_mb(module_host(1024, min_free_bytes=16 * MIB, watermark_scale_factor=100)) == (
        37,
        "min_free_kbytes",
    )
    # no scale factor fact: the kernel default 10
    assert watermarks_mb(module_host(1024, min_free_bytes=16 * MIB)) == (24, "min_free_kbytes")
    assert watermarks_mb(module_host(1024, min_free_bytes=0, watermark_scale_factor=0)) == (0, "min_free_kbytes")


def test_no_watermarks_inside_a_cgroup_limit():
    assert watermarks_mb(cgroup_host(512)) == (0, "none inside a cgroup limit")
    assert watermarks_mb(module_host(512, memory_source="cgroup", min_free_bytes=64 * MIB)) == (
        0,
        "none inside a cgroup limit",
    )


@pytest.mark.parametrize(
    ("memory_mb", "swap", "expected_mb"),
    [
        (1024, None, 0),
        (1024, {}, 0),  # the swap role's default backend is a file
        (1024, {"backend": "file"}, 0),
        (1024, {"backend": "zram"}, 257),  # size 512: 256 + 0.512
        (1024, {"backend": "both"}, 257),
        (1024, {"backend": "zram", "state": "absent"}, 0),
        (1024, {"backend": "zram", "zram_size_mb": 256}, 129),
        (1024, {"backend": "zram", "zram_size_mb": 0}, 257),
        (256, {"backend": "zram"}, 65),  # size 128: 64 + 0.128
        (16384, {"backend": "zram"}, 2053),  # size capped at 4096: 2048 + 4.096
    ],
)
def test_planned_zram(memory_mb, swap, expected_mb):
    assert planned_zram_mb(module_host(memory_mb), swap) == expected_mb


def test_default_reserve_terms():
    assert default_reserve(module_host(1024), None) == {
        "reserve_mb": 178,
        "terms": {"base_mb": 80, "page_cache_mb": 32, "watermarks_mb": 66, "zram_mb": 0},
        "watermarks_source": "estimated",
    }
    assert default_reserve(module_host(1024), {"backend": "zram"})["reserve_mb"] == 178 + 257
    assert default_reserve(cgroup_host(1024), None)["reserve_mb"] == 112
    assert default_reserve(module_host(256), None)["reserve_mb"] == 132
    assert default_reserve(module_host(512), None)["reserve_mb"] == 151
    assert default_reserve(module_host(16384), None)["reserve_mb"] == 189


def test_given_reserve_replaces_every_term():
    assert resolve_reserve("300M", module_host(1024), {"backend": "zram"}) == {
        "reserve_mb": 300,
        "terms": {"given_mb": 300},
        "watermarks_source": "given",
    }
    assert resolve_reserve("64K", module_host(1024), None)["reserve_mb"] == 1
    assert resolve_reserve(1023, module_host(1024), None)["reserve_mb"] == 1023


@pytest.mark.parametrize(
    ("reserve", "fragment"),
    [
        ("1G", "not below the effective memory 1024 MiB"),
        (2048, "not below"),
        (0, "is zero"),
        ("x", "cannot parse"),
        (True, "not a size"),
        ("32.5", "cannot parse"),
        ("9" * 400 + "M", "too large"),
        ("9" * 400, "too large"),
    ],
)
def test_bad_reserve_is_refused(reserve, fragment):
    with pytest.raises(MemoryBudgetError) as caught:
        resolve_reserve(reserve, module_host(1024), None)
    assert str(caught.value).startswith("memory_plan: option 'reserve': ")
    assert fragment in str(caught.value)


def test_default_reserve_above_a_tiny_host_is_refused():
    with pytest.raises(MemoryBudgetError) as caught:
        resolve_reserve(None, module_host(80), None)
    assert str(caught.value).startswith(
        "memory_plan: option 'reserve': default reserve 118 MiB (base 80 + page cache 32 + watermarks 6 + zram 0 "
        "MiB) is not below the effective memory 80 MiB"
    )


def test_smallest_host_the_default_reserve_fits():
    # 122 MiB: watermarks 6246 KiB x 1.5 = 9.15 -> 10 MiB, reserve 122 = not below 122
    with pytest.raises(MemoryBudgetError):
        resolve_reserve(None, module_host(122), None)
    assert resolve_reserve(None, module_host(123), None)["reserve_mb"] == 122


def test_swap_is_not_mutated():
    swap = {"backend": "zram", "state": "present", "zram_size_mb": 0}
    before = copy.deepcopy(swap)
    resolve_reserve(None, module_host(1024), swap)
    assert swap == before


# ---------------------------------------------------------------- properties

HOSTS = {"module": module_host, "plain": plain_host, "cgroup": cgroup_host}
SWAPS = [None, {"backend": "file"}, {"backend": "zram"}, {"backend": "both"}, {"backend": "zram", "zram_size_mb": 512}]
CASES = [(kind, swap) for kind in HOSTS for swap in SWAPS]
CASE_IDS = [
    f"{kind}-{(swap or {}).get('backend', 'none')}{'-512' if swap and swap.get('zram_size_mb') else ''}"
    for kind, swap in CASES
]
memory = st.integers(min_value=128, max_value=16 * GIB_MB)


def reserve_mb(kind: str, mb: int, swap) -> int:
    return default_reserve(HOSTS[kind](mb), swap)["reserve_mb"]


@pytest.mark.parametrize(("kind", "swap"), CASES, ids=CASE_IDS)
def test_reserve_never_shrinks_when_ram_grows_one_mib_at_a_time(kind, swap):
    previous = reserve_mb(kind, 128, swap)
    for mb in range(129, 16 * GIB_MB + 1, 1 if kind != "cgroup" else 97):
        current = reserve_mb(kind, mb, swap)
        assert current >= previous, (mb, previous, current)
        previous = current


@pytest.mark.parametrize(("kind", "swap"), CASES, ids=CASE_IDS)
@settings(max_examples=200, deadline=None)
@given(small=memory, large=memory)
def test_reserve_monotone_and_its_share_of_ram_never_grows(kind, swap, small, large):
    small, large = sorted((small, large))
    r_small, r_large = reserve_mb(kind, small, swap), reserve_mb(kind, large, swap)
    assert r_small <= r_large
    # r_large / large <= r_small / small, up to the rounding of the two terms rounded up to
    # whole MiB (watermarks, zram): neighbouring sizes may differ by a step of 1 MiB.
    assert r_large * small <= r_small * large + 2 * small
    # 1/16 apart the fixed 112 MiB of base and page cache outweigh any rounding: strictly by the share.
    if 16 * large >= 17 * small:
        assert r_large * small <= r_small * large
