# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The reserve: memory the plan keeps for the base system, term by term.

A Debian host's base need is mostly fixed; it does not grow with RAM. What does grow is the
memory the kernel keeps free (its watermarks) and, with zram swap, the RAM the compressed
pool takes. docs/memory-budget.md explains every term.
"""

from __future__ import annotations

import math

from ._memory_host import HostFacts
from ._memory_sizes import KIB, MIB, SIZE_FORM, MemoryBudgetError, parse_size_mb
from ._swap_sizing import DEFAULT_BACKEND, ZRAM_BACKENDS, zram_ram_mb, zram_size_mb

# systemd, journald, udevd, dbus, logind, cron and a getty, plus kernel slab and page tables:
# a minimal Debian 12/13 server measures 60-100 MiB of used memory before any service.
BASE_USERSPACE_MB = 80
# Page cache the host must keep or it thrashes re-reading its own binaries and libraries
# (the "swapping but nothing runs" state): the text of the running programs and journald's files.
HOT_PAGE_CACHE_MB = 32

# Kernel watermarks (mm/page_alloc.c): min_free_kbytes = 4 x sqrt(lowmem in KiB), within
# 128 KiB..256 MiB; with transparent hugepages on (Debian's default is madvise) khugepaged raises it
# to its recommended value, 44 MiB on a two-zone x86-64 host, capped at 5 % of RAM.
MIN_FREE_FLOOR_KIB = 128
MIN_FREE_CEILING_KIB = 262144
THP_RECOMMENDED_MIN_FREE_KIB = 44 * 1024
THP_MIN_FREE_MAX_PERCENT = 5
# watermark_scale_factor: the gap between the min, low and high watermarks, in 1/10000 of RAM.
DEFAULT_WATERMARK_SCALE_FACTOR = 10


def estimated_min_free_bytes(memory_bytes: int) -> int:
    """min_free_kbytes as a Debian kernel with THP=madvise sets it, in bytes."""
    memory_kib = memory_bytes // KIB
    by_sqrt = min(max(math.isqrt(16 * memory_kib), MIN_FREE_FLOOR_KIB), MIN_FREE_CEILING_KIB)
    by_thp = min(THP_RECOMMENDED_MIN_FREE_KIB, memory_kib * THP_MIN_FREE_MAX_PERCENT // 100)
    return max(by_sqrt, by_thp) * KIB


def high_watermark_bytes(memory_bytes: int, min_free_bytes: int, scale_factor: int) -> int:
    """What kswapd keeps free: min + 2 x max(min / 4, RAM x scale_factor / 10000)."""
    step = max(min_free_bytes // 4, memory_bytes * scale_factor // 10000)
    return min_free_bytes + 2 * step


def watermarks_mb(host: HostFacts) -> tuple[int, str]:
    """The watermark term in MiB and where it came from."""
    if host.source == "cgroup":
        # Inside a memory cgroup the kernel reclaims at the limit; its free-memory watermarks
        # belong to the machine the container runs on.
        return 0, "none inside a cgroup limit"
    # Whole MiB, as the pool is: a few more bytes of RAM must never cost a service a MiB.
    memory_bytes = host.effective_mb * MIB
    if host.min_free_bytes is not None:
        scale = (
            host.watermark_scale_factor if host.watermark_scale_factor is not None else DEFAULT_WATERMARK_SCALE_FACTOR
        )
        return -(-high_watermark_bytes(memory_bytes, host.min_free_bytes, scale) // MIB), "min_free_kbytes"
    estimate = estimated_min_free_bytes(memory_bytes)
    return -(-high_watermark_bytes(memory_bytes, estimate, DEFAULT_WATERMARK_SCALE_FACTOR) // MIB), "estimated"


def planned_zram_mb(host: HostFacts, swap: dict | None) -> int:
    """RAM a full zram device of the swap role's configuration takes (0 without zram)."""
    swap = swap or {}
    backend = swap.get("backend") or DEFAULT_BACKEND
    state = swap.get("state") or "present"
    if state != "present" or backend not in ZRAM_BACKENDS:
        return 0
    return zram_ram_mb(zram_size_mb(host.effective_mb, swap.get("zram_size_mb") or 0))


def default_reserve(host: HostFacts, swap: dict | None) -> dict:
    watermark_mb, watermark_source = watermarks_mb(host)
    terms = {
        "base_mb": BASE_USERSPACE_MB,
        "page_cache_mb": HOT_PAGE_CACHE_MB,
        "watermarks_mb": watermark_mb,
        "zram_mb": planned_zram_mb(host, swap),
    }
    return {"reserve_mb": sum(terms.values()), "terms": terms, "watermarks_source": watermark_source}


def resolve_reserve(reserve, host: HostFacts, swap: dict | None) -> dict:
    """{'reserve_mb', 'terms', 'watermarks_source'}; a given reserve replaces every term."""
    effective_mb = host.effective_mb
    if reserve is None:
        resolved = default_reserve(host, swap)
        terms = resolved["terms"]
        origin = (
            f"default reserve {resolved['reserve_mb']} MiB (base {terms['base_mb']} + page cache "
            f"{terms['page_cache_mb']} + watermarks {terms['watermarks_mb']} + zram {terms['zram_mb']} MiB)"
        )
    else:
        reserve_mb = parse_size_mb(reserve, "memory_plan: option 'reserve'")
        resolved = {"reserve_mb": reserve_mb, "terms": {"given_mb": reserve_mb}, "watermarks_source": "given"}
        origin = f"reserve {reserve!r} ({reserve_mb} MiB)"
    if resolved["reserve_mb"] >= effective_mb:
        raise MemoryBudgetError(
            f"memory_plan: option 'reserve': {origin} is not below the effective memory "
            f"{effective_mb} MiB; pass a smaller reserve ({SIZE_FORM}) or use a bigger host"
        )
    return resolved
