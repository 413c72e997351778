# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The memory plan of one host: every number the roles write, computed once.

Pure Python, no I/O. The memory_plan filter and the plan action call build_plan(); the memory_plan role runs
that filter once per host and every role reads the result. docs/memory-budget.md explains
every constant below. The sizes inside a service (workers, GOMEMLIMIT, caches, connections) are its products'
(_products.py); nothing here names a product.
"""

from __future__ import annotations

import math
from fractions import Fraction

from ansible.module_utils.common.validation import check_type_int

from ._memory_host import HostFacts, normalize_facts
from ._memory_reserve import resolve_reserve
from ._memory_services import Service, parse_services
from ._memory_sizes import MIB, MemoryBudgetError, parse_ratio
from ._product import SizingContext, refuse
from ._products import RUNTIME_PRODUCTS, SERVICE_PRODUCTS
from ._swap_sizing import BACKENDS, DEFAULT_BACKEND
from ._variable_checks import is_int

# MemoryHigh for a service with oomd: true, as a share of its MemoryMax: the throttling
# that systemd-oomd measures starts here and the hard limit stays above it.
DEFAULT_MEMORY_HIGH_RATIO = 0.9
# The gomemlimit_ratio option (the plan's, for the go runtime's sizes): GOMEMLIMIT as a share of the first limit
# that acts. GOMEMLIMIT bounds the Go runtime's own memory; the cgroup also charges the binary's text, page cache and
# socket buffers, so the GC must start working before the cgroup limit does, not at it.
MAX_GOMEMLIMIT_RATIO = 0.9
DEFAULT_GOMEMLIMIT_RATIO = 0.9

# systemd-oomd's ManagedOOMMemoryPressureLimit for oomd: true services. A leak throttled at
# MemoryHigh measured 50-88 % PSI "full" on the VM test host, so oomd's default 60 % sometimes
# never fired; at 40 % it killed every time (docs/memory-budget.md#tiers).
OOMD_PRESSURE_LIMIT = "40%"

RESTART_BY_TIER = {0: "on-failure", 1: "always", 2: None}
# A tier-1 service OOM-killed every >= 15 s (300 s / 20) is restarted forever;
# a hard crash loop (every RestartSec=3 s) hits the burst in about a minute and stops.
TIER1_RESTART_SEC = 3
TIER1_START_LIMIT_INTERVAL_SEC = 300
TIER1_START_LIMIT_BURST = 20


def _clamp(value: Fraction, low: int, high: int | None) -> Fraction:
    value = max(value, Fraction(low))
    return value if high is None else min(value, Fraction(high))


def share_by_weight(pool_mb: int, demands: list[tuple[int, int | None, Fraction]]) -> list[int]:
    """Water-filling: find the level L with sum(clamp(L * weight, min, max)) == pool, floor each.

    demands are (min_mb, max_mb or None, weight); the caller guarantees sum(min) <= pool.
    A bigger pool never lowers L, so no service ever shrinks when the host grows.
    """
    if not demands:
        return []
    if sum(low for low, _, _ in demands) >= pool_mb:
        return [low for low, _, _ in demands]
    if all(high is not None for _, high, _ in demands) and sum(high for _, high, _ in demands) <= pool_mb:
        return [high for _, high, _ in demands]

    def total_at(level: Fraction) -> Fraction:
        return sum(_clamp(level * weight, low, high) for low, high, weight in demands)

    breakpoints = sorted(
        {Fraction(low) / w for low, _, w in demands}
        | {Fraction(high) / w for _, high, w in demands if high is not None}
    )
    below, above = Fraction(0), None
    for point in breakpoints:
        if total_at(point) >= pool_mb:
            above = point
            break
        below = point
    # Between two neighbouring breakpoints the total is linear in the level.
    slope = sum(
        w
        for low, high, w in demands
        if low / w <= below and (high is None or (above is not None and high / w >= above))
    )
    level = below + (pool_mb - total_at(below)) / slope
    return [math.floor(_clamp(level * weight, low, high)) for low, high, weight in demands]


def _memory_high_mb(service: Service, memory_max_mb: int, high_ratio: Fraction) -> int | None:
    if service.memory_high_mb is None and not service.oomd:
        return None
    high_mb = service.memory_high_mb if service.memory_high_mb is not None else math.floor(high_ratio * memory_max_mb)
    if not 1 <= high_mb < memory_max_mb:
        raise refuse(
            service.name,
            "memory_high",
            f"{high_mb} MiB is not below the MemoryMax of {memory_max_mb} MiB the "
            "plan gives this service; lower memory_high or raise min",
        )
    return high_mb


def _mb(value_mb: int | None) -> str | None:
    return None if value_mb is None else f"{value_mb}M"


def _bytes(value_mb: int | None) -> int | None:
    return None if value_mb is None else value_mb * MIB


def _runtime_sizes(service: Service, limit_mb: int, context: SizingContext) -> dict:
    """Every runtime's entry keys, None but those of this service's runtime."""
    values = {}
    for product in RUNTIME_PRODUCTS:
        values.update(dict.fromkeys(product.entry_keys))
        values.update(product.sizes(service, limit_mb, context))
    return values


def _service_sizes(service: Service, limit_mb: int, context: SizingContext) -> dict:
    """The sizes the service's own keys ask its products for (a limit_req zone, maxconn...), in product order."""
    values = {}
    for product in SERVICE_PRODUCTS:
        if product.sizes:
            values.update(product.sizes(service, limit_mb, context))
    return values


def service_plan(service: Service, memory_max_mb: int | None, high_ratio: Fraction, context: SizingContext) -> dict:
    """One service's entry; memory_max_mb is None for tier 0 and 2 (their budget is their min)."""
    tier1 = service.tier == 1
    budget_mb = memory_max_mb if tier1 else service.min_mb
    memory_high_mb = _memory_high_mb(service, memory_max_mb, high_ratio) if tier1 else None
    # The first limit that acts: what workers, GOMEMLIMIT and caches are sized against.
    limit_mb = memory_high_mb if memory_high_mb is not None else budget_mb
    runtime_sizes = _runtime_sizes(service, limit_mb, context)
    swap_max_mb = service.swap_max_mb if tier1 else None
    entry = {
        "name": service.name,
        "unit": service.unit,
        "tier": service.tier,
        "runtime": service.runtime,
        "processes": list(service.processes),
        "budget_mb": budget_mb,
        "budget_bytes": budget_mb * MIB,
        "limit_mb": limit_mb,
        "limit_bytes": limit_mb * MIB,
        "memory_max": _mb(memory_max_mb),
        "memory_max_bytes": _bytes(memory_max_mb),
        "memory_high": _mb(memory_high_mb),
        "memory_high_bytes": _bytes(memory_high_mb),
        "memory_swap_max": None if swap_max_mb is None else ("0" if swap_max_mb == 0 else f"{swap_max_mb}M"),
        "memory_swap_max_bytes": _bytes(swap_max_mb),
        "managed_oom_memory_pressure": "kill" if service.oomd else None,
        "managed_oom_memory_pressure_limit": OOMD_PRESSURE_LIMIT if service.oomd else None,
        **runtime_sizes,
        "oom_score_adjust": service.oom_score_adjust,
        # cgroup v2: tier 0's estimate stays resident under reclaim (system.slice gets the sum,
        # see the summary: protection only reaches a unit through its parents).
        "memory_low": _mb(service.min_mb) if service.tier == 0 else None,
        "memory_low_bytes": _bytes(service.min_mb) if service.tier == 0 else None,
        # systemd-oomd picks tier 0 only when nothing else is left (its swap and pressure rules alike).
        "managed_oom_preference": "avoid" if service.tier == 0 else None,
        "oom_policy": service.oom_policy,
        "restart": RESTART_BY_TIER[service.tier],
        "restart_sec": TIER1_RESTART_SEC if tier1 else None,
        "start_limit_interval_sec": TIER1_START_LIMIT_INTERVAL_SEC if tier1 else None,
        "start_limit_burst": TIER1_START_LIMIT_BURST if tier1 else None,
    }
    entry.update(_service_sizes(service, limit_mb, context))
    return entry


def _throttle_warnings(services: list[Service]) -> list[str]:
    return [
        f"service '{s.name}': MemoryHigh without oomd and with MemorySwapMax=0: a leak is throttled at "
        "MemoryHigh for as long as it lasts instead of being killed at MemoryMax; set oomd: true or swap_max"
        for s in services
        if s.tier == 1 and s.memory_high_mb is not None and not s.oomd and not s.swap_max_mb
    ]


def _oomd_warnings(services: list[Service]) -> list[str]:
    # systemd-oomd (252) kills a unit over its pressure limit only if the unit's pgscan rose in its last 30 s. With
    # MemorySwapMax=0 only file pages charged to the unit can be reclaimed, and a page is charged to whoever read it
    # first: the installer, for a binary it unpacked (docs/memory-budget.md#tiers, measured on the VM test host).
    return [
        f"service '{s.name}': oomd: true with MemorySwapMax=0: systemd-oomd kills the unit only while the kernel "
        "reclaims pages charged to it, and its anonymous memory cannot be; if its program's pages were read first by "
        "another process (a shared interpreter, a binary an installer unpacked), a leak can stay throttled at "
        "MemoryHigh without a kill. Start it with its program's page cache dropped, or leave oomd out (the kernel "
        "kills at MemoryMax)"
        for s in services
        if s.tier == 1 and s.oomd and not s.swap_max_mb
    ]


def _refuse_pool(services: list[Service], effective_mb: int, reserve_mb: int, pool_mb: int) -> MemoryBudgetError:
    def listing(tier: int) -> str:
        parts = [f"{s.name} {s.min_mb}" for s in services if s.tier == tier]
        return f" ({', '.join(parts)})" if parts else ""

    tier0_mb = sum(s.min_mb for s in services if s.tier == 0)
    tier2_mb = sum(s.min_mb for s in services if s.tier == 2)
    tier1_mb = sum(s.min_mb for s in services if s.tier == 1)
    names = ", ".join(f"'{s.name}'" for s in services)
    return MemoryBudgetError(
        f"memory_plan: service {names} key 'min': the minimums do not fit: effective {effective_mb} MiB"
        f" - reserve {reserve_mb} MiB - tier-0 estimates {tier0_mb} MiB{listing(0)}"
        f" - tier-2 estimates {tier2_mb} MiB{listing(2)} = pool {pool_mb} MiB, but the tier-1 minimums"
        f" sum to {tier1_mb} MiB{listing(1)}; missing {tier1_mb - pool_mb} MiB. Lower 'min', move a service "
        f"to tier 2, pass a smaller reserve or use a bigger host"
    )


def _resolve_cpus(cpus, host: HostFacts, services: list[Service]) -> int:
    if cpus is not None:
        if not is_int(cpus) or cpus < 1:
            raise MemoryBudgetError(f"memory_plan: option 'cpus': {cpus!r} is not an integer >= 1")
        return cpus
    needing = [p.runtime for p in RUNTIME_PRODUCTS if p.needs_cpus and any(s.runtime == p.runtime for s in services)]
    if host.cpus is None and needing:
        raise MemoryBudgetError(
            "memory_plan: option 'cpus': the facts have no CPU count (cpus, processor_vcpus or "
            f"processor_nproc) and a {needing[0]} service needs one; pass cpus=N"
        )
    return host.cpus or 1


def _pair(prefix: str, value_mb: int) -> dict:
    return {f"{prefix}_bytes": value_mb * MIB, f"{prefix}_mb": value_mb}


SWAP_FORM = (
    "a mapping {backend: file|zram|both, state: present|absent, "
    "zram_size_mb: integer >= 0 (or its decimal string)}, the swap role's swap_backend, swap_state and "
    "swap_zram_size_mb; null keys take the role's defaults"
)


def _as_spec_int(value):
    """`value` as the swap role's argument spec (type int) reads it, so `-e swap_zram_size_mb=512` (a
    string) plans the device the role sets up; None when the spec would refuse it, or for a boolean."""
    if isinstance(value, bool):
        return None
    try:
        return check_type_int(value)
    except TypeError:
        return None


def _check_swap(swap) -> dict | None:
    if swap is None:
        return None
    if not isinstance(swap, dict) or set(swap) - {"backend", "state", "zram_size_mb"}:
        raise MemoryBudgetError(f"memory_plan: option 'swap': {swap!r} is not {SWAP_FORM}")
    zram_mb = swap.get("zram_size_mb")
    if zram_mb is not None:
        zram_mb = _as_spec_int(zram_mb)
    checks = (
        ("backend", swap.get("backend") in (None,) + BACKENDS),
        ("state", swap.get("state") in (None, "present", "absent")),
        ("zram_size_mb", swap.get("zram_size_mb") is None or (zram_mb is not None and zram_mb >= 0)),
    )
    for key, valid in checks:
        if not valid:
            raise MemoryBudgetError(f"memory_plan: option 'swap': key '{key}' is {swap[key]!r}; expected {SWAP_FORM}")
    return {**swap, "zram_size_mb": zram_mb} if "zram_size_mb" in swap else swap


def build_plan(
    facts,
    services,
    reserve=None,
    cpus=None,
    memory_high_ratio=DEFAULT_MEMORY_HIGH_RATIO,
    gomemlimit_ratio=DEFAULT_GOMEMLIMIT_RATIO,
    units=None,
    swap=None,
) -> dict:
    """The whole memory plan: {'services': {name: entry}, 'summary': {...}, 'warnings': [...]}."""
    high_ratio = parse_ratio(memory_high_ratio, 1, False, "memory_plan: option 'memory_high_ratio'")
    go_ratio = parse_ratio(gomemlimit_ratio, MAX_GOMEMLIMIT_RATIO, True, "memory_plan: option 'gomemlimit_ratio'")
    host = normalize_facts(facts)
    swap = _check_swap(swap)
    parsed = parse_services(services, units)
    cpu_count = _resolve_cpus(cpus, host, parsed)

    effective_mb = host.effective_mb
    reserve_plan = resolve_reserve(reserve, host, swap)
    reserve_mb = reserve_plan["reserve_mb"]
    tier0_mb = sum(s.min_mb for s in parsed if s.tier == 0)
    tier2_mb = sum(s.min_mb for s in parsed if s.tier == 2)
    pool_mb = effective_mb - reserve_mb - tier0_mb - tier2_mb
    tier1 = [s for s in parsed if s.tier == 1]
    if pool_mb < 0 or pool_mb < sum(s.min_mb for s in tier1):
        raise _refuse_pool(parsed, effective_mb, reserve_mb, pool_mb)

    shares = share_by_weight(pool_mb, [(s.min_mb, s.max_mb, s.weight) for s in tier1])
    caps = dict(zip([s.name for s in tier1], shares, strict=True))
    context = SizingContext(cpus=cpu_count, gomemlimit_ratio=go_ratio)
    plans = {s.name: service_plan(s, caps.get(s.name), high_ratio, context) for s in parsed}
    allocated_mb = sum(caps.values())
    summary = {
        "effective_memory_bytes": host.effective_bytes,
        "effective_memory_mb": effective_mb,
        "memtotal_bytes": host.memtotal_bytes,
        "memtotal_mb": host.memtotal_bytes // MIB,
        "cgroup_memory_limit_bytes": host.cgroup_limit_bytes,
        **_pair("reserve", reserve_mb),
        "reserve_terms": reserve_plan["terms"],
        "watermarks_source": reserve_plan["watermarks_source"],
        **_pair("tier0", tier0_mb),
        # MemoryLow of system.slice: a unit's memory.low protects only as far as its parent's does.
        **_pair("system_slice_memory_low", tier0_mb),
        **_pair("tier2", tier2_mb),
        **_pair("pool", pool_mb),
        **_pair("allocated", allocated_mb),
        **_pair("headroom", pool_mb - allocated_mb),
        # The swap the role will set up, not what is active now: the plan must not change
        # between the run that switches swap on and the next.
        "swap_backend": (swap or {}).get("backend") or DEFAULT_BACKEND,
        "cpus": cpu_count,
        "source": host.source,
    }
    return {
        "services": plans,
        "summary": summary,
        "warnings": list(host.warnings) + _throttle_warnings(tier1) + _oomd_warnings(tier1),
    }
