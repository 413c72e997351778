# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The services a host lists in `smallvps_services`: their schema, validation and unit identity.

SERVICE_SCHEMA is the one source of the service keys: the keys every service has, here, and the keys each product
adds (its module's Product.keys, through _products). The memory_plan filter's DOCUMENTATION and the memory_plan
role's argument spec repeat it for ansible-doc and for Ansible's own validation; tests/unit/test_service_schema.py
ties both copies to it. Nothing here names a product.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from ._memory_sizes import SIZE_FORM, MemoryBudgetError, ceil_mib, is_number, parse_size
from ._product import flag, refuse, service_unit, size_mb
from ._products import BUILTIN_SERVICES, PRODUCTS, RUNTIME_PRODUCTS, SERVICE_PRODUCTS, UNIT_ALIASES, keys
from ._variable_checks import is_int

TIERS = (0, 1, 2)
# A service of no runtime product: nothing sized inside it.
GENERIC_RUNTIME = "generic"
RUNTIMES = tuple(product.runtime for product in RUNTIME_PRODUCTS) + (GENERIC_RUNTIME,)

# key: (type as in an argument spec, required, default, the only tier, the only runtime)
CORE_SCHEMA = {
    "name": {"type": "str", "required": True},
    "tier": {"type": "int", "required": True, "choices": list(TIERS)},
    "runtime": {"type": "str", "default": GENERIC_RUNTIME, "choices": list(RUNTIMES)},
    "min": {"type": "raw", "required": True},
    "max": {"type": "raw", "tier": 1},
    "weight": {"type": "float", "default": 1, "tier": 1},
    "swap_max": {"type": "raw", "default": 0, "tier": 1},
    "memory_high": {"type": "raw", "tier": 1},
    "oomd": {"type": "bool", "default": False, "tier": 1},
    "oom_score_adjust": {"type": "int"},
    "oom_policy": {"type": "str", "choices": ["continue", "stop", "kill"]},
}
# The runtimes' keys, then processes, then the service products' keys: the order the docs list them in.
SERVICE_SCHEMA = {
    **CORE_SCHEMA,
    **keys(RUNTIME_PRODUCTS),
    "processes": {"type": "list", "elements": "str"},
    **keys(SERVICE_PRODUCTS),
}
SERVICE_KEYS = tuple(SERVICE_SCHEMA)

OOM_SCORE_ADJUST_BY_TIER = {0: -500, 1: 100, 2: None}
OOM_SCORE_ADJUST_RANGE = (-1000, 1000)
OOM_POLICIES = ("continue", "stop", "kill")
# systemd unit names: ASCII letters, digits, ':', '-', '_', '.', '\' and '@' (systemd.unit(5)).
_UNIT_NAME = re.compile(r"[A-Za-z0-9:_@\\-][A-Za-z0-9:_.@\\-]*")
_OTHER_UNIT_TYPES = (
    ".slice",
    ".scope",
    ".socket",
    ".timer",
    ".mount",
    ".swap",
    ".path",
    ".target",
    ".device",
    ".automount",
)


@dataclass(frozen=True)
class Service:
    name: str
    unit: str
    tier: int
    runtime: str
    min_mb: int
    max_mb: int | None
    weight: Fraction
    swap_max_mb: int | None
    memory_high_mb: int | None
    oomd: bool
    oom_score_adjust: int | None
    oom_policy: str | None
    processes: tuple
    # What the products parsed from their keys (Product.parse), read as attributes: service.tune_bufsize.
    settings: dict

    def __getattr__(self, name: str):
        if name == "settings":
            raise AttributeError(name)
        try:
            return self.settings[name]
        except KeyError:
            raise AttributeError(f"Service has no attribute or product setting {name!r}") from None


def unit_of(name: str) -> str:
    """The systemd unit a service name stands for: 'app' -> 'app.service', 'sshd' -> 'ssh.service'."""
    unit = service_unit(name)
    return UNIT_ALIASES.get(unit, unit)


def _parse_name(raw: dict, label: str) -> str:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise refuse(label, "name", f"{name!r} is not a name; required, a non-empty string naming a systemd service")
    if name.endswith(_OTHER_UNIT_TYPES):
        raise refuse(
            name,
            "name",
            "only .service units are tiered (slices, timers, sockets and the like have no "
            "[Service] section to cap); name the service the unit starts, for example 'backup' for backup.timer",
        )
    if not _UNIT_NAME.fullmatch(name) or ".." in name:
        raise refuse(
            name,
            "name",
            "not a systemd unit name; use letters, digits and ':', '-', '_', '.', '@' "
            "(no '/', no '..'), for example 'app' or 'app.service'",
        )
    return name


def _check_known_keys(raw: dict, label: str) -> None:
    for key in raw:
        if key not in SERVICE_SCHEMA:
            raise refuse(label, str(key), f"unknown key; accepted keys: {', '.join(SERVICE_KEYS)}")


def _check_key_scope(raw: dict, name: str, tier: int, runtime: str) -> None:
    """Refuse keys that would have no effect on this tier or runtime."""
    for key, spec in SERVICE_SCHEMA.items():
        if key not in raw:
            continue
        if "tier" in spec and tier != spec["tier"]:
            reason = (
                "tier 0 is never capped: a MemoryMax would let the OOM killer kill sshd or the "
                "front proxy inside its own cgroup; drop 'max' or move the service to tier 1"
                if key == "max" and tier == 0
                else f"only tier 1 services are capped, this one is tier {tier}; "
                f"drop '{key}' or move the service to tier 1"
            )
            raise refuse(name, key, reason)
        if "runtime" in spec and runtime != spec["runtime"]:
            raise refuse(
                name, key, f"only valid with runtime '{spec['runtime']}', this service has runtime '{runtime}'"
            )


def _parse_tier(raw: dict, name: str) -> int:
    tier = raw.get("tier")
    if not is_int(tier) or tier not in TIERS:
        raise refuse(name, "tier", f"{tier!r} is not a tier; required, one of 0 (protect), 1 (cap), 2 (leave alone)")
    return tier


def _parse_runtime(raw: dict, name: str) -> str:
    runtime = raw.get("runtime", SERVICE_SCHEMA["runtime"]["default"])
    if runtime not in RUNTIMES:
        raise refuse(name, "runtime", f"{runtime!r} is not a runtime; expected one of {', '.join(RUNTIMES)}")
    return str(runtime)


def _parse_weight(raw: dict, name: str) -> Fraction:
    weight = raw.get("weight", SERVICE_SCHEMA["weight"]["default"])
    if not is_number(weight) or not math.isfinite(weight) or weight <= 0:
        raise refuse(name, "weight", f"{weight!r} is not a positive number; expected e.g. 1, 2 or 0.5")
    return Fraction(weight)


def _parse_oom_score_adjust(raw: dict, name: str, tier: int, runtime: str, unit: str) -> int | None:
    if "oom_score_adjust" not in raw:
        protects_itself = any(p.self_protecting and p.concerns(unit, runtime) for p in PRODUCTS)
        return None if protects_itself else OOM_SCORE_ADJUST_BY_TIER[tier]
    value = raw["oom_score_adjust"]
    low, high = OOM_SCORE_ADJUST_RANGE
    if not is_int(value) or not low <= value <= high:
        raise refuse(name, "oom_score_adjust", f"{value!r} is not an integer in {low}..{high}")
    return value


def _parse_oom_policy(raw: dict, name: str, tier: int, runtime: str, unit: str) -> str | None:
    if "oom_policy" not in raw:
        # Tier 2 is left alone: only what the user sets.
        prefork = any(p.prefork and p.concerns(unit, runtime) for p in PRODUCTS)
        return "continue" if prefork and tier != 2 else None
    policy = raw["oom_policy"]
    if policy not in OOM_POLICIES:
        raise refuse(
            name,
            "oom_policy",
            f"{policy!r} is not an OOMPolicy; expected one of {', '.join(OOM_POLICIES)} "
            "(continue for a pre-fork server whose master respawns its workers)",
        )
    return policy


def _size_mb(raw: dict, name: str, key: str, allow_zero: bool = False) -> int | None:
    return size_mb(raw, name, key, SERVICE_SCHEMA[key].get("default"), allow_zero)


def _parse_min_max(raw: dict, name: str) -> tuple[int, int | None]:
    if "min" not in raw:
        raise refuse(name, "min", f"required; expected {SIZE_FORM}")
    min_bytes = parse_size(raw["min"], f"memory_plan: service '{name}' key 'min'")
    if "max" not in raw:
        return ceil_mib(min_bytes), None
    max_bytes = parse_size(raw["max"], f"memory_plan: service '{name}' key 'max'")
    if max_bytes < min_bytes:
        raise refuse(name, "min", f"min {raw['min']!r} is above max {raw['max']!r}; min must be <= max")
    return ceil_mib(min_bytes), ceil_mib(max_bytes)


def _parse_processes(raw: dict, name: str, unit: str) -> tuple:
    if "processes" not in raw:
        # A built-in unit's processes are known (ssh.service runs sshd); others are named like the unit.
        known = [b["processes"] for b in BUILTIN_SERVICES if unit_of(b["name"]) == unit]
        return tuple(known[0]) if known else (unit[: -len(".service")],)
    processes = raw["processes"]
    if not isinstance(processes, list) or not processes or not all(isinstance(p, str) and p for p in processes):
        raise refuse(name, "processes", f"{processes!r} is not a non-empty list of process names (comm), e.g. [sshd]")
    return tuple(processes)


def parse_service(raw, index: int) -> Service:
    if not isinstance(raw, dict):
        raise MemoryBudgetError(
            f"memory_plan: option 'services': item {index + 1} is {type(raw).__name__}, "
            "expected a mapping with name, tier and min"
        )
    label = raw["name"] if isinstance(raw.get("name"), str) and raw.get("name") else f"#{index + 1}"
    _check_known_keys(raw, label)
    name = _parse_name(raw, label)
    tier = _parse_tier(raw, name)
    runtime = _parse_runtime(raw, name)
    _check_key_scope(raw, name, tier, runtime)
    min_mb, max_mb = _parse_min_max(raw, name)
    unit = unit_of(name)
    weight = _parse_weight(raw, name)
    swap_max_mb = _size_mb(raw, name, "swap_max", allow_zero=True) if tier == 1 else None
    memory_high_mb = _size_mb(raw, name, "memory_high")
    oomd = flag(raw, name, "oomd", SERVICE_SCHEMA["oomd"]["default"])
    oom_score_adjust = _parse_oom_score_adjust(raw, name, tier, runtime, unit)
    oom_policy = _parse_oom_policy(raw, name, tier, runtime, unit)
    # Each key's refusal comes in SERVICE_SCHEMA's order: the runtimes' keys, processes, the products' keys.
    settings = {}
    for product in RUNTIME_PRODUCTS:
        settings.update(product.parse(raw, name, runtime))
    processes = _parse_processes(raw, name, unit)
    return Service(
        name=name,
        unit=unit,
        tier=tier,
        runtime=runtime,
        min_mb=min_mb,
        max_mb=max_mb,
        weight=weight,
        swap_max_mb=swap_max_mb,
        memory_high_mb=memory_high_mb,
        oomd=oomd,
        oom_score_adjust=oom_score_adjust,
        oom_policy=oom_policy,
        processes=processes,
        settings={**settings, **_service_product_settings(raw, name, runtime)},
    )


def _service_product_settings(raw: dict, name: str, runtime: str) -> dict:
    settings = {}
    for product in SERVICE_PRODUCTS:
        if product.parse:
            settings.update(product.parse(raw, name, runtime))
    return settings


def _present(units) -> set | None:
    if units is None:
        return None
    if isinstance(units, dict):
        units = list(units)
    if not isinstance(units, (list, tuple, set)) or not all(isinstance(u, str) for u in units):
        raise MemoryBudgetError(
            "memory_plan: option 'units': expected the unit names present on the host "
            "(a list, or ansible_facts.services from ansible.builtin.service_facts)"
        )
    return {UNIT_ALIASES.get(unit, unit) for unit in units}


def parse_services(services, units=None) -> list[Service]:
    """The user's services, plus the built-in tier-0 entries whose unit is in `units`.

    With `units` (the unit names on the host), every service must name an existing unit; without
    it (the filter used on its own) nothing is added and nothing is checked against the host.
    """
    if not isinstance(services, (list, tuple)):
        raise MemoryBudgetError(
            f"memory_plan: option 'services': {type(services).__name__} given, expected a list of mappings"
        )
    present = _present(units)
    parsed, first_index = [], {}
    for index, raw in enumerate(services):
        service = parse_service(raw, index)
        if service.unit in first_index:
            other = parsed[first_index[service.unit]].name
            raise refuse(
                service.name,
                "name",
                f"names the same unit ({service.unit}) as '{other}' "
                f"(items {first_index[service.unit] + 1} and {index + 1}); list each unit once",
            )
        if present is not None and service.unit not in present:
            raise refuse(
                service.name,
                "name",
                f"unit {service.unit} does not exist on this host; install or create it first, or remove the entry",
            )
        first_index[service.unit] = index
        parsed.append(service)
    if present is None:
        return parsed
    builtins = [parse_service(dict(raw), i) for i, raw in enumerate(BUILTIN_SERVICES)]
    added = [b for b in builtins if b.unit in present and b.unit not in first_index]
    return added + parsed
