# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""What the planner knows about a host, from any of the three accepted fact forms."""

from __future__ import annotations

from dataclasses import dataclass

from ._memory_sizes import MIB, MemoryBudgetError
from ._variable_checks import is_int, kind

FACT_FORMS = (
    "the result of smallvps.hardening.memory_facts (a dict with effective_memory_bytes), "
    "ansible_facts containing smallvps_memory, or plain ansible_facts with memtotal_mb"
)
ANSIBLE_FACTS_WARNING = (
    "memory_plan: facts: plain ansible_facts (memtotal_mb) were used, cgroup memory "
    "limits, CPU quotas and kernel watermarks were not read (watermarks are estimated); "
    "run smallvps.hardening.memory_facts first"
)


@dataclass(frozen=True)
class HostFacts:
    effective_bytes: int
    memtotal_bytes: int
    cgroup_limit_bytes: int | None
    swap_total_bytes: int
    cpus: int | None
    # cgroup: the effective memory is a cgroup limit (a container or LXC VPS); meminfo: RAM.
    source: str
    min_free_bytes: int | None
    watermark_scale_factor: int | None
    warnings: tuple

    @property
    def effective_mb(self) -> int:
        return self.effective_bytes // MIB


def _fact_int(facts: dict, key: str, required: bool, minimum: int) -> int | None:
    value = facts.get(key)
    if value is None and not required:
        return None
    if not is_int(value) or value < minimum:
        raise MemoryBudgetError(f"memory_plan: facts: key '{key}' is {value!r}; expected an integer >= {minimum}")
    return value


def _from_module(facts: dict) -> HostFacts:
    effective = _fact_int(facts, "effective_memory_bytes", True, 1)
    limit = _fact_int(facts, "cgroup_memory_limit_bytes", False, 1)
    memtotal = _fact_int(facts, "memtotal_bytes", False, 1) or effective
    if (limit is not None and effective > limit) or effective > memtotal:
        above = (
            "cgroup_memory_limit_bytes " + str(limit)
            if limit is not None and effective > limit
            else "memtotal_bytes " + str(memtotal)
        )
        raise MemoryBudgetError(
            f"memory_plan: facts: key 'effective_memory_bytes' is {effective}, above {above}; "
            "expected min(memtotal_bytes, cgroup_memory_limit_bytes) as smallvps.hardening.memory_facts returns it"
        )
    source = str(facts.get("memory_source") or ("cgroup" if limit is not None and limit < memtotal else "meminfo"))
    return HostFacts(
        effective_bytes=effective,
        memtotal_bytes=memtotal,
        cgroup_limit_bytes=limit,
        swap_total_bytes=_fact_int(facts, "swap_total_bytes", False, 0) or 0,
        cpus=_fact_int(facts, "cpus", False, 1),
        source=source,
        min_free_bytes=_fact_int(facts, "min_free_bytes", False, 0),
        watermark_scale_factor=_fact_int(facts, "watermark_scale_factor", False, 0),
        warnings=(),
    )


def _from_ansible_facts(facts: dict) -> HostFacts:
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
        min_free_bytes=None,
        watermark_scale_factor=None,
        warnings=(ANSIBLE_FACTS_WARNING,),
    )


def normalize_facts(facts) -> HostFacts:
    """HostFacts from any of the three accepted fact forms (see FACT_FORMS)."""
    if not isinstance(facts, dict):
        raise MemoryBudgetError(f"memory_plan: facts: input is {kind(facts)}, expected {FACT_FORMS}")
    if "effective_memory_bytes" not in facts and isinstance(facts.get("smallvps_memory"), dict):
        facts = facts["smallvps_memory"]
    if "effective_memory_bytes" in facts:
        return _from_module(facts)
    if "memtotal_mb" in facts:
        return _from_ansible_facts(facts)
    raise MemoryBudgetError(
        f"memory_plan: facts: none of effective_memory_bytes, smallvps_memory or memtotal_mb "
        f"found (keys: {sorted(map(str, facts))[:12]}); expected {FACT_FORMS}"
    )
