# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Memory plan for a small VPS: every piece of budget arithmetic in the collection.

Pure Python, no I/O: the filter plugin calls build_plan() and render_table(); roles
use the filter, so no template repeats any of this math. docs/memory-budget.md
explains every constant below.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from ansible.module_utils.common.text.formatters import human_to_bytes

KIB = 1024
MIB = 1024 * 1024

# Base system reserve: systemd, journald, dbus, kernel slab and enough page cache
# that the box does not thrash re-reading its own binaries.
RESERVE_BASE_MB = 64
RESERVE_PERCENT = 30
RESERVE_CAP_MB = 1024

DEFAULT_RATIO = 0.9
DEFAULT_WEIGHT = 1
DEFAULT_RUNTIME = "generic"
RUNTIMES = ("go", "python", "generic")
TIERS = (0, 1, 2)

# Gunicorn/uWSGI style: one master process plus forked workers.
DEFAULT_PER_WORKER_MB = 64
DEFAULT_MASTER_MB = 32

OOM_SCORE_ADJUST_BY_TIER = {0: -500, 1: 100, 2: None}
OOM_SCORE_ADJUST_RANGE = (-1000, 1000)
RESTART_BY_TIER = {0: "on-failure", 1: "always", 2: None}
# A tier-1 service OOM-killed every >= 15 s (300 s / 20) is restarted forever;
# a hard crash loop (every RestartSec=3 s) hits the burst in about a minute and stops.
TIER1_RESTART_SEC = 3
TIER1_START_LIMIT_INTERVAL_SEC = 300
TIER1_START_LIMIT_BURST = 20

# nginx limit_req: one state is 128 bytes on 64-bit; a zone smaller than 32 KiB is refused.
NGINX_LIMIT_REQ_STATE_BYTES = 128
NGINX_LIMIT_REQ_MIN_ZONE_BYTES = 32 * KIB

# Oathkeeper oauth2_introspection cache (ristretto): every entry has cost 1, so
# max_cost is an entry count. One entry ~ 2 KiB (token|introspection_url key,
# JSON introspection result, store item) + 10 counters x (2 B count-min sketch
# + ~1.2 B doorkeeper bloom) doubled for power-of-two rounding = 64 B.
INTROSPECTION_CACHE_SHARE = Fraction(1, 10)
INTROSPECTION_ENTRY_BYTES = 2048 + 64
INTROSPECTION_MIN_MAX_COST = 1000

# gopacket reassembly page: 1900 bytes of payload plus page header, ~2 KiB.
GOPACKET_PAGE_BYTES = 2048
REASSEMBLY_DEFAULT_SHARE = Fraction(1, 4)
REASSEMBLY_MAX_SHARE = Fraction(1, 2)
# One stalled connection may hold at most 1/64 of the pages so it cannot starve the rest.
REASSEMBLY_PER_CONNECTION_DIVISOR = 64

SIZE_FORM = (
    "a positive integer (MiB), a string of digits (MiB) or a string like "
    "'64M', '64MB', '512MiB', '1.5G', '2GiB', '64K', '64KiB'"
)
SERVICE_KEYS = (
    "name", "tier", "runtime", "min", "max", "weight", "oom_score_adjust",
    "per_worker", "master", "limit_req_clients", "introspection_cache", "reassembly",
)
TIER1_ONLY_KEYS = ("max", "weight")
RUNTIME_ONLY_KEYS = {"per_worker": "python", "master": "python", "introspection_cache": "go", "reassembly": "go"}
REASSEMBLY_KEYS = ("share",)
FACT_FORMS = (
    "the result of smallvps.hardening.memory_facts (a dict with effective_memory_bytes), "
    "ansible_facts containing smallvps_memory, or plain ansible_facts with memtotal_mb"
)
ANSIBLE_FACTS_WARNING = (
    "memory_budget: facts: plain ansible_facts (memtotal_mb) were used, cgroup memory "
    "limits and CPU quotas were not considered; run smallvps.hardening.memory_facts first"
)

_DIGITS = re.compile(r"^[0-9]+$")
_BINARY_SUFFIX = re.compile(r"^([0-9.]+)\s*([KMGTPEZY])iB$", re.IGNORECASE)


class MemoryBudgetError(ValueError):
    """A refusal: the message says which service/option/fact, the numbers, and the accepted form."""


@dataclass(frozen=True)
class Service:
    name: str
    tier: int
    runtime: str
    min_mb: int
    max_mb: int | None
    weight: Fraction
    oom_score_adjust: int | None
    per_worker_mb: int | None
    master_mb: int | None
    limit_req_clients: int | None
    introspection_cache: bool
    reassembly_share: Fraction | None


@dataclass(frozen=True)
class HostFacts:
    effective_bytes: int
    memtotal_bytes: int
    cgroup_limit_bytes: int | None
    swap_total_bytes: int
    cpus: int | None
    source: str
    warnings: tuple


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def ceil_mib(size_bytes: int) -> int:
    """Whole MiB, rounded up: an estimate or a minimum never shrinks by rounding."""
    return -(-size_bytes // MIB)


def parse_size(value, where: str) -> int:
    """Bytes from an int (MiB), a digit string (MiB) or a human size string; refuse the rest.

    `where` starts the error message, e.g. "memory_budget: service 'app' key 'min'".
    """
    if _is_int(value):
        size_bytes = value * MIB
    elif isinstance(value, str) and _DIGITS.match(value.strip()):
        size_bytes = int(value.strip()) * MIB
    elif isinstance(value, str) and value.strip():
        # human_to_bytes knows '64MB' and '64M' (both binary) but not '64MiB'.
        text = _BINARY_SUFFIX.sub(r"\1\2B", value.strip())
        try:
            size_bytes = human_to_bytes(text)
        except (ValueError, TypeError):
            raise MemoryBudgetError(f"{where}: cannot parse {value!r} as a size; expected {SIZE_FORM}") from None
    else:
        raise MemoryBudgetError(f"{where}: {value!r} ({type(value).__name__}) is not a size; expected {SIZE_FORM}")
    if size_bytes <= 0:
        raise MemoryBudgetError(f"{where}: {value!r} is zero or negative; expected {SIZE_FORM} greater than 0")
    return size_bytes


def parse_size_mb(value, where: str) -> int:
    return ceil_mib(parse_size(value, where))


def _parse_ratio(value, upper: Fraction, upper_inclusive: bool, where: str) -> Fraction:
    bound = f"<= {float(upper)}" if upper_inclusive else f"< {float(upper)}"
    if not _is_number(value) or not math.isfinite(value):
        raise MemoryBudgetError(f"{where}: {value!r} is not a number; expected a number > 0 and {bound}")
    ratio = Fraction(value)
    too_big = ratio > upper if upper_inclusive else ratio >= upper
    if ratio <= 0 or too_big:
        raise MemoryBudgetError(f"{where}: {value!r} is out of range; expected a number > 0 and {bound}")
    return ratio


# ---------------------------------------------------------------- facts


def _fact_int(facts: dict, key: str, required: bool, minimum: int) -> int | None:
    value = facts.get(key)
    if value is None and not required:
        return None
    if not _is_int(value) or value < minimum:
        raise MemoryBudgetError(
            f"memory_budget: facts: key '{key}' is {value!r}; expected an integer >= {minimum}"
        )
    return value


def normalize_facts(facts) -> HostFacts:
    """HostFacts from any of the three accepted fact forms (see FACT_FORMS)."""
    if not isinstance(facts, dict):
        raise MemoryBudgetError(
            f"memory_budget: facts: input is {type(facts).__name__}, expected {FACT_FORMS}"
        )
    if "effective_memory_bytes" not in facts and isinstance(facts.get("smallvps_memory"), dict):
        facts = facts["smallvps_memory"]
    if "effective_memory_bytes" in facts:
        return HostFacts(
            effective_bytes=_fact_int(facts, "effective_memory_bytes", True, 1),
            memtotal_bytes=_fact_int(facts, "memtotal_bytes", False, 1) or facts["effective_memory_bytes"],
            cgroup_limit_bytes=_fact_int(facts, "cgroup_memory_limit_bytes", False, 1),
            swap_total_bytes=_fact_int(facts, "swap_total_bytes", False, 0) or 0,
            cpus=_fact_int(facts, "cpus", False, 1),
            source=str(facts.get("memory_source") or "memory_facts"),
            warnings=(),
        )
    if "memtotal_mb" in facts:
        memtotal_bytes = _fact_int(facts, "memtotal_mb", True, 1) * MIB
        cpus = _fact_int(facts, "processor_vcpus", False, 1)
        if cpus is None:
            cpus = _fact_int(facts, "processor_nproc", False, 1)
        return HostFacts(
            effective_bytes=memtotal_bytes,
            memtotal_bytes=memtotal_bytes,
            cgroup_limit_bytes=None,
            swap_total_bytes=(_fact_int(facts, "swaptotal_mb", False, 0) or 0) * MIB,
            cpus=cpus,
            source="ansible_facts",
            warnings=(ANSIBLE_FACTS_WARNING,),
        )
    raise MemoryBudgetError(
        f"memory_budget: facts: none of effective_memory_bytes, smallvps_memory or memtotal_mb "
        f"found (keys: {sorted(map(str, facts))[:12]}); expected {FACT_FORMS}"
    )


# ---------------------------------------------------------------- services


def _service_label(raw: dict, index: int) -> str:
    name = raw.get("name")
    return str(name) if isinstance(name, str) and name else f"#{index + 1}"


def _refuse(name: str, key: str, message: str) -> MemoryBudgetError:
    return MemoryBudgetError(f"memory_budget: service '{name}' key '{key}': {message}")


def _check_known_keys(raw: dict, name: str) -> None:
    for key in raw:
        if key not in SERVICE_KEYS:
            raise _refuse(name, str(key), f"unknown key; accepted keys: {', '.join(SERVICE_KEYS)}")


def _check_key_scope(raw: dict, name: str, tier: int, runtime: str) -> None:
    """Refuse keys that would have no effect on this tier or runtime."""
    for key in TIER1_ONLY_KEYS:
        if key in raw and tier != 1:
            reason = (
                "tier 0 is never capped: a MemoryMax would let the OOM killer kill sshd or the "
                "front proxy inside its own cgroup; drop 'max' or move the service to tier 1"
                if key == "max" and tier == 0
                else f"only tier 1 services are capped and shared by weight, this one is tier {tier}; "
                f"drop '{key}' or move the service to tier 1"
            )
            raise _refuse(name, key, reason)
    for key, only in RUNTIME_ONLY_KEYS.items():
        if key in raw and runtime != only:
            raise _refuse(name, key, f"only valid with runtime '{only}', this service has runtime '{runtime}'")


def _parse_tier(raw: dict, name: str) -> int:
    tier = raw.get("tier")
    if not _is_int(tier) or tier not in TIERS:
        raise _refuse(name, "tier", f"{tier!r} is not a tier; required, one of 0 (protect), 1 (cap), 2 (leave alone)")
    return tier


def _parse_runtime(raw: dict, name: str) -> str:
    runtime = raw.get("runtime", DEFAULT_RUNTIME)
    if runtime not in RUNTIMES:
        raise _refuse(name, "runtime", f"{runtime!r} is not a runtime; expected one of {', '.join(RUNTIMES)}")
    return str(runtime)


def _parse_weight(raw: dict, name: str) -> Fraction:
    weight = raw.get("weight", DEFAULT_WEIGHT)
    if not _is_number(weight) or not math.isfinite(weight) or weight <= 0:
        raise _refuse(name, "weight", f"{weight!r} is not a positive number; expected e.g. 1, 2 or 0.5")
    return Fraction(weight)


def _parse_oom_score_adjust(raw: dict, name: str, tier: int) -> int | None:
    if "oom_score_adjust" not in raw:
        return OOM_SCORE_ADJUST_BY_TIER[tier]
    value = raw["oom_score_adjust"]
    low, high = OOM_SCORE_ADJUST_RANGE
    if not _is_int(value) or not low <= value <= high:
        raise _refuse(name, "oom_score_adjust", f"{value!r} is not an integer in {low}..{high}")
    return value


def _parse_limit_req_clients(raw: dict, name: str) -> int | None:
    if "limit_req_clients" not in raw:
        return None
    clients = raw["limit_req_clients"]
    if not _is_int(clients) or clients <= 0:
        raise _refuse(name, "limit_req_clients", f"{clients!r} is not a positive integer (expected distinct client addresses)")
    return clients


def _parse_introspection_cache(raw: dict, name: str) -> bool:
    flag = raw.get("introspection_cache", False)
    if not isinstance(flag, bool):
        raise _refuse(name, "introspection_cache", f"{flag!r} is not a boolean; expected true or false")
    return flag


def _parse_reassembly(raw: dict, name: str) -> Fraction | None:
    value = raw.get("reassembly", False)
    where = f"memory_budget: service '{name}' key 'reassembly'"
    if isinstance(value, bool):
        return REASSEMBLY_DEFAULT_SHARE if value else None
    if not isinstance(value, dict):
        raise MemoryBudgetError(f"{where}: {value!r} is neither a boolean nor a mapping like {{share: 0.25}}")
    for key in value:
        if key not in REASSEMBLY_KEYS:
            raise MemoryBudgetError(f"{where}: unknown sub-key {key!r}; accepted: {', '.join(REASSEMBLY_KEYS)}")
    return _parse_ratio(value.get("share", 0.25), REASSEMBLY_MAX_SHARE, True, f"{where}: share")


def _parse_min_max(raw: dict, name: str) -> tuple[int, int | None]:
    if "min" not in raw:
        raise _refuse(name, "min", f"required; expected {SIZE_FORM}")
    min_bytes = parse_size(raw["min"], f"memory_budget: service '{name}' key 'min'")
    if "max" not in raw:
        return ceil_mib(min_bytes), None
    max_bytes = parse_size(raw["max"], f"memory_budget: service '{name}' key 'max'")
    if max_bytes < min_bytes:
        raise _refuse(name, "min", f"min {raw['min']!r} ({min_bytes} bytes) is above max {raw['max']!r} ({max_bytes} bytes); min must be <= max")
    return ceil_mib(min_bytes), ceil_mib(max_bytes)


def _parse_python_sizes(raw: dict, name: str, runtime: str, min_mb: int) -> tuple[int | None, int | None]:
    if runtime != "python":
        return None, None
    per_worker_mb = parse_size_mb(raw.get("per_worker", DEFAULT_PER_WORKER_MB), f"memory_budget: service '{name}' key 'per_worker'")
    master_mb = parse_size_mb(raw.get("master", DEFAULT_MASTER_MB), f"memory_budget: service '{name}' key 'master'")
    if min_mb < master_mb + per_worker_mb:
        raise _refuse(
            name, "min",
            f"{min_mb} MiB cannot hold the master ({master_mb} MiB) and one worker ({per_worker_mb} MiB); "
            f"set min to at least {master_mb + per_worker_mb} MiB or lower per_worker/master",
        )
    return per_worker_mb, master_mb


def _check_ratio_room(service: Service, memory_high_ratio: Fraction, gomemlimit_ratio: Fraction) -> None:
    # MemoryHigh and GOMEMLIMIT are floor(ratio * budget) MiB and must not be 0.
    checks = []
    if service.tier == 1:
        checks.append(("MemoryHigh", "memory_high_ratio", memory_high_ratio))
    if service.runtime == "go":
        checks.append(("GOMEMLIMIT", "gomemlimit_ratio", gomemlimit_ratio))
    for label, option, ratio in checks:
        if math.floor(ratio * service.min_mb) < 1:
            need = math.ceil(1 / ratio)
            raise _refuse(service.name, "min", f"{service.min_mb} MiB leaves no whole MiB for {label} at {option} {float(ratio)}; use at least {need} MiB")


def parse_service(raw, index: int, memory_high_ratio: Fraction, gomemlimit_ratio: Fraction) -> Service:
    if not isinstance(raw, dict):
        raise MemoryBudgetError(f"memory_budget: option 'services': item {index + 1} is {type(raw).__name__}, expected a mapping with name, tier and min")
    name = _service_label(raw, index)
    _check_known_keys(raw, name)
    if not isinstance(raw.get("name"), str) or not raw.get("name"):
        raise _refuse(name, "name", f"{raw.get('name')!r} is not a name; required, a non-empty string")
    tier = _parse_tier(raw, name)
    runtime = _parse_runtime(raw, name)
    _check_key_scope(raw, name, tier, runtime)
    min_mb, max_mb = _parse_min_max(raw, name)
    per_worker_mb, master_mb = _parse_python_sizes(raw, name, runtime, min_mb)
    service = Service(
        name=name, tier=tier, runtime=runtime, min_mb=min_mb, max_mb=max_mb,
        weight=_parse_weight(raw, name),
        oom_score_adjust=_parse_oom_score_adjust(raw, name, tier),
        per_worker_mb=per_worker_mb, master_mb=master_mb,
        limit_req_clients=_parse_limit_req_clients(raw, name),
        introspection_cache=_parse_introspection_cache(raw, name),
        reassembly_share=_parse_reassembly(raw, name),
    )
    _check_ratio_room(service, memory_high_ratio, gomemlimit_ratio)
    return service


def parse_services(services, memory_high_ratio: Fraction, gomemlimit_ratio: Fraction) -> list[Service]:
    if not isinstance(services, (list, tuple)):
        raise MemoryBudgetError(f"memory_budget: option 'services': {type(services).__name__} given, expected a list of mappings")
    parsed, first_index = [], {}
    for index, raw in enumerate(services):
        service = parse_service(raw, index, memory_high_ratio, gomemlimit_ratio)
        if service.name in first_index:
            raise _refuse(service.name, "name", f"duplicate name (items {first_index[service.name] + 1} and {index + 1}); names must be unique")
        first_index[service.name] = index
        parsed.append(service)
    return parsed


# ---------------------------------------------------------------- arithmetic


def default_reserve_mb(effective_mb: int) -> int:
    return min(RESERVE_BASE_MB + effective_mb * RESERVE_PERCENT // 100, RESERVE_CAP_MB)


def resolve_reserve_mb(reserve, effective_mb: int) -> int:
    if reserve is None:
        reserve_mb = default_reserve_mb(effective_mb)
        origin = f"default reserve {reserve_mb} MiB ({RESERVE_BASE_MB} MiB + {RESERVE_PERCENT}% of {effective_mb} MiB)"
    else:
        reserve_mb = parse_size_mb(reserve, "memory_budget: option 'reserve'")
        origin = f"reserve {reserve!r} ({reserve_mb} MiB)"
    if reserve_mb >= effective_mb:
        raise MemoryBudgetError(
            f"memory_budget: option 'reserve': {origin} is not below the effective memory "
            f"{effective_mb} MiB; pass a smaller reserve ({SIZE_FORM}) or use a bigger host"
        )
    return reserve_mb


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

    breakpoints = sorted({Fraction(low) / w for low, _, w in demands} | {Fraction(high) / w for _, high, w in demands if high is not None})
    below, above = Fraction(0), None
    for point in breakpoints:
        if total_at(point) >= pool_mb:
            above = point
            break
        below = point
    # Between two neighbouring breakpoints the total is linear in the level.
    slope = sum(w for low, high, w in demands if low / w <= below and (high is None or (above is not None and high / w >= above)))
    level = below + (pool_mb - total_at(below)) / slope
    return [math.floor(_clamp(level * weight, low, high)) for low, high, weight in demands]


def _refuse_pool(services: list[Service], effective_mb: int, reserve_mb: int, pool_mb: int) -> MemoryBudgetError:
    def listing(tier: int) -> str:
        parts = [f"{s.name} {s.min_mb}" for s in services if s.tier == tier]
        return f" ({', '.join(parts)})" if parts else ""

    tier0_mb = sum(s.min_mb for s in services if s.tier == 0)
    tier2_mb = sum(s.min_mb for s in services if s.tier == 2)
    tier1_mb = sum(s.min_mb for s in services if s.tier == 1)
    missing_mb = tier1_mb - pool_mb
    names = ", ".join(f"'{s.name}'" for s in services)
    return MemoryBudgetError(
        f"memory_budget: service {names} key 'min': the minimums do not fit: effective {effective_mb} MiB"
        f" - reserve {reserve_mb} MiB - tier-0 estimates {tier0_mb} MiB{listing(0)}"
        f" - tier-2 estimates {tier2_mb} MiB{listing(2)} = pool {pool_mb} MiB, but the tier-1 minimums"
        f" sum to {tier1_mb} MiB{listing(1)}; missing {missing_mb} MiB. Lower 'min', move a service "
        f"to tier 2, pass a smaller reserve or use a bigger host"
    )


def _systemd_mb(value_mb: int | None) -> str | None:
    return None if value_mb is None else f"{value_mb}M"


def _bytes(value_mb: int | None) -> int | None:
    return None if value_mb is None else value_mb * MIB


def python_workers(service: Service, budget_mb: int, cpus: int) -> int:
    # 2 x CPUs + 1 is gunicorn's advice; memory usually caps it first on a small VPS.
    by_memory = (budget_mb - service.master_mb) // service.per_worker_mb
    return max(1, min(2 * cpus + 1, by_memory))


def limit_req_zone_bytes(clients: int) -> int:
    by_states = -(-clients * NGINX_LIMIT_REQ_STATE_BYTES // KIB) * KIB
    return max(NGINX_LIMIT_REQ_MIN_ZONE_BYTES, by_states)


def introspection_max_cost(budget_bytes: int) -> int:
    return max(INTROSPECTION_MIN_MAX_COST, math.floor(INTROSPECTION_CACHE_SHARE * budget_bytes / INTROSPECTION_ENTRY_BYTES))


def reassembly_pages(share: Fraction, budget_bytes: int) -> tuple[int, int]:
    total = math.floor(share * budget_bytes / GOPACKET_PAGE_BYTES)
    return total, max(1, total // REASSEMBLY_PER_CONNECTION_DIVISOR)


def _extras(service: Service, budget_mb: int) -> dict:
    budget_bytes = budget_mb * MIB
    extras = {}
    if service.limit_req_clients is not None:
        zone_bytes = limit_req_zone_bytes(service.limit_req_clients)
        if zone_bytes > budget_bytes:
            raise _refuse(service.name, "limit_req_clients", f"{service.limit_req_clients} clients need a {zone_bytes // KIB}k zone, more than the service budget {budget_mb} MiB; lower limit_req_clients or raise min")
        extras["limit_req_zone_size"] = f"{zone_bytes // KIB}k"
        extras["limit_req_zone_bytes"] = zone_bytes
    if service.introspection_cache:
        extras["introspection_max_cost"] = introspection_max_cost(budget_bytes)
    if service.reassembly_share is not None:
        total, per_connection = reassembly_pages(service.reassembly_share, budget_bytes)
        if total < 1:
            raise _refuse(service.name, "reassembly", f"share {float(service.reassembly_share)} of {budget_mb} MiB is less than one {GOPACKET_PAGE_BYTES}-byte page; raise share or min")
        extras["max_buffered_pages_total"] = total
        extras["max_buffered_pages_per_connection"] = per_connection
    return extras


def service_plan(service: Service, memory_max_mb: int | None, cpus: int, memory_high_ratio: Fraction, gomemlimit_ratio: Fraction) -> dict:
    """One service's entry; memory_max_mb is None for tier 0 and 2 (their budget is their min)."""
    budget_mb = service.min_mb if memory_max_mb is None else memory_max_mb
    memory_high_mb = None if memory_max_mb is None else math.floor(memory_high_ratio * memory_max_mb)
    gomemlimit_mb = math.floor(gomemlimit_ratio * budget_mb) if service.runtime == "go" else None
    tier1 = service.tier == 1
    entry = {
        "name": service.name,
        "tier": service.tier,
        "runtime": service.runtime,
        "budget_bytes": budget_mb * MIB,
        "budget_mb": budget_mb,
        "memory_max": _systemd_mb(memory_max_mb),
        "memory_max_bytes": _bytes(memory_max_mb),
        "memory_high": _systemd_mb(memory_high_mb),
        "memory_high_bytes": _bytes(memory_high_mb),
        # Go reads only "MiB"/"GiB"-style suffixes; "M" or "MB" makes the runtime exit at start.
        "gomemlimit": None if gomemlimit_mb is None else f"{gomemlimit_mb}MiB",
        "gomemlimit_bytes": _bytes(gomemlimit_mb),
        "workers": python_workers(service, budget_mb, cpus) if service.runtime == "python" else None,
        "oom_score_adjust": service.oom_score_adjust,
        "restart": RESTART_BY_TIER[service.tier],
        "restart_sec": TIER1_RESTART_SEC if tier1 else None,
        "start_limit_interval_sec": TIER1_START_LIMIT_INTERVAL_SEC if tier1 else None,
        "start_limit_burst": TIER1_START_LIMIT_BURST if tier1 else None,
    }
    entry.update(_extras(service, budget_mb))
    return entry


def _resolve_cpus(cpus, host: HostFacts, services: list[Service]) -> int:
    if cpus is not None:
        if not _is_int(cpus) or cpus < 1:
            raise MemoryBudgetError(f"memory_budget: option 'cpus': {cpus!r} is not an integer >= 1")
        return cpus
    if host.cpus is None and any(s.runtime == "python" for s in services):
        raise MemoryBudgetError("memory_budget: option 'cpus': the facts have no CPU count (cpus, processor_vcpus or processor_nproc) and a python service needs one; pass cpus=N")
    return host.cpus or 1


def _mb_pair(prefix: str, value_mb: int) -> dict:
    return {f"{prefix}_bytes": value_mb * MIB, f"{prefix}_mb": value_mb}


def build_plan(facts, services, reserve=None, cpus=None, memory_high_ratio=DEFAULT_RATIO, gomemlimit_ratio=DEFAULT_RATIO) -> dict:
    """The whole memory plan: {'services': {name: entry}, 'summary': {...}, 'warnings': [...]}."""
    high_ratio = _parse_ratio(memory_high_ratio, Fraction(1), False, "memory_budget: option 'memory_high_ratio'")
    go_ratio = _parse_ratio(gomemlimit_ratio, Fraction(1), False, "memory_budget: option 'gomemlimit_ratio'")
    host = normalize_facts(facts)
    parsed = parse_services(services, high_ratio, go_ratio)
    cpu_count = _resolve_cpus(cpus, host, parsed)

    effective_mb = host.effective_bytes // MIB
    reserve_mb = resolve_reserve_mb(reserve, effective_mb)
    tier0_mb = sum(s.min_mb for s in parsed if s.tier == 0)
    tier2_mb = sum(s.min_mb for s in parsed if s.tier == 2)
    pool_mb = effective_mb - reserve_mb - tier0_mb - tier2_mb
    tier1 = [s for s in parsed if s.tier == 1]
    if pool_mb < 0 or pool_mb < sum(s.min_mb for s in tier1):
        raise _refuse_pool(parsed, effective_mb, reserve_mb, pool_mb)

    caps = dict(zip([s.name for s in tier1], share_by_weight(pool_mb, [(s.min_mb, s.max_mb, s.weight) for s in tier1])))
    plans = {s.name: service_plan(s, caps.get(s.name), cpu_count, high_ratio, go_ratio) for s in parsed}
    allocated_mb = sum(caps.values())
    summary = {
        "effective_memory_bytes": host.effective_bytes,
        "effective_memory_mb": effective_mb,
        "memtotal_bytes": host.memtotal_bytes,
        "memtotal_mb": host.memtotal_bytes // MIB,
        "cgroup_memory_limit_bytes": host.cgroup_limit_bytes,
        **_mb_pair("reserve", reserve_mb),
        **_mb_pair("tier0", tier0_mb),
        **_mb_pair("tier2", tier2_mb),
        **_mb_pair("pool", pool_mb),
        **_mb_pair("allocated", allocated_mb),
        **_mb_pair("headroom", pool_mb - allocated_mb),
        "swap_total_bytes": host.swap_total_bytes,
        "swap_total_mb": host.swap_total_bytes // MIB,
        "cpus": cpu_count,
        "source": host.source,
    }
    return {"services": plans, "summary": summary, "warnings": list(host.warnings)}


# ---------------------------------------------------------------- table

TABLE_COLUMNS = (
    ("service", "name"), ("tier", "tier"), ("MemoryMax", "memory_max"), ("MemoryHigh", "memory_high"),
    ("GOMEMLIMIT", "gomemlimit"), ("workers", "workers"), ("OOMScoreAdjust", "oom_score_adjust"),
)


def _cell(value) -> str:
    return "-" if value is None else str(value)


def render_table(plan: dict) -> list[str]:
    """The plan as fixed-width text lines: one per service, then the summary and warnings."""
    if not isinstance(plan, dict) or not isinstance(plan.get("services"), dict) or not isinstance(plan.get("summary"), dict):
        raise MemoryBudgetError("memory_budget: facts: memory_budget_table expects the output of memory_budget (services, summary, warnings)")
    headers = [header for header, _ in TABLE_COLUMNS]
    rows = [[_cell(entry.get(key)) for _, key in TABLE_COLUMNS] for entry in plan["services"].values()]
    widths = [max(len(row[i]) for row in [headers] + rows) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first] + [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:])]).rstrip()

    s = plan["summary"]
    limit = s.get("cgroup_memory_limit_bytes")
    limit_text = "none" if limit is None else f"{limit // MIB} MiB"
    lines = [line(headers)] + [line(row) for row in rows]
    lines.append(
        f"effective {s['effective_memory_mb']} MiB (source {s['source']}; memtotal {s['memtotal_mb']} MiB, "
        f"cgroup limit {limit_text}), swap {s['swap_total_mb']} MiB, cpus {s['cpus']}"
    )
    lines.append(
        f"reserve {s['reserve_mb']} MiB, tier 0 {s['tier0_mb']} MiB, tier 2 {s['tier2_mb']} MiB, "
        f"pool {s['pool_mb']} MiB, allocated {s['allocated_mb']} MiB, headroom {s['headroom_mb']} MiB"
    )
    lines.extend(f"warning: {warning}" for warning in plan.get("warnings", []))
    return lines
