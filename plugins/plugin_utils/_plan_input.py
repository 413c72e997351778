"""Checks that what a filter was given is a memory plan, before it reads a single key.

memory_plan_table and systemd_tier_dropins are public: other collections call them with
whatever they have, and a wrong input must be a refusal naming the key, not a KeyError.
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._variable_checks import is_int, kind

ENTRY_KEYS = (
    "name",
    "unit",
    "tier",
    "memory_max",
    "memory_high",
    "memory_swap_max",
    "managed_oom_memory_pressure",
    "managed_oom_memory_pressure_limit",
    "gomemlimit",
    "workers",
    "oom_score_adjust",
    "memory_low",
    "managed_oom_preference",
    "oom_policy",
    "restart",
    "restart_sec",
    "start_limit_interval_sec",
    "start_limit_burst",
)
SUMMARY_KEYS = (
    "effective_memory_mb",
    "memtotal_mb",
    "cgroup_memory_limit_bytes",
    "source",
    "cpus",
    "reserve_mb",
    "reserve_terms",
    "watermarks_source",
    "tier0_mb",
    "system_slice_memory_low_mb",
    "tier2_mb",
    "pool_mb",
    "allocated_mb",
    "headroom_mb",
    "swap_backend",
)


SUMMARY_INTS = (
    "effective_memory_mb",
    "memtotal_mb",
    "cpus",
    "reserve_mb",
    "tier0_mb",
    "system_slice_memory_low_mb",
    "tier2_mb",
    "pool_mb",
    "allocated_mb",
    "headroom_mb",
)


def _check_summary_types(summary: dict, where: str, expected: str) -> None:
    wrong = [key for key in SUMMARY_INTS if not is_int(summary[key])]
    limit = summary["cgroup_memory_limit_bytes"]
    if limit is not None and not is_int(limit):
        wrong.append("cgroup_memory_limit_bytes")
    terms = summary["reserve_terms"]
    if not isinstance(terms, dict) or not all(is_int(value) for value in terms.values()):
        wrong.append("reserve_terms")
    if wrong:
        raise MemoryBudgetError(
            f"{where}: input: key 'summary.{wrong[0]}' is {summary[wrong[0]]!r}, not a number of the plan; {expected}"
        )


def plan_entries(plan, where: str, need_summary: bool = False) -> list:
    """The plan's service entries, in plan order; refuses anything that is not a memory plan."""
    expected = "expects the output of smallvps.hardening.memory_plan (a dict with services, summary and warnings)"
    if not isinstance(plan, dict) or not isinstance(plan.get("services"), dict):
        raise MemoryBudgetError(f"{where}: input is {kind(plan)}, with no 'services' mapping; {expected}")
    if need_summary:
        summary = plan.get("summary")
        if not isinstance(summary, dict):
            raise MemoryBudgetError(f"{where}: input: no 'summary' mapping; {expected}")
        missing = [key for key in SUMMARY_KEYS if key not in summary]
        if missing:
            raise MemoryBudgetError(f"{where}: input: key 'summary' lacks {', '.join(missing)}; {expected}")
        _check_summary_types(summary, where, expected)
    entries = []
    for name, entry in plan["services"].items():
        if not isinstance(entry, dict):
            raise MemoryBudgetError(f"{where}: service {name!r} is {kind(entry)}, not a plan entry; {expected}")
        missing = [key for key in ENTRY_KEYS if key not in entry]
        if missing:
            raise MemoryBudgetError(
                f"{where}: service {name!r}: key '{missing[0]}' is missing (and {len(missing) - 1} more); {expected}"
            )
        if entry["tier"] not in (0, 1, 2) or isinstance(entry["tier"], bool):
            raise MemoryBudgetError(f"{where}: service {name!r}: key 'tier' is {entry['tier']!r}; expected 0, 1 or 2")
        entries.append(entry)
    return entries
