"""A memory plan as fixed-width text lines, for budget.yml and the memory_plan role to print."""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MIB
from ansible_collections.smallvps.hardening.plugins.plugin_utils._plan_input import plan_entries
from ansible_collections.smallvps.hardening.plugins.plugin_utils._products import PRODUCTS

TABLE_COLUMNS = (
    ("service", "name"),
    ("tier", "tier"),
    ("MemoryLow", "memory_low"),
    ("MemoryMax", "memory_max"),
    ("MemoryHigh", "memory_high"),
    ("MemorySwapMax", "memory_swap_max"),
    ("GOMEMLIMIT", "gomemlimit"),
    ("workers", "workers"),
    ("OOMScoreAdjust", "oom_score_adjust"),
)
# Sizes inside a service (its products' sizes), printed one line per service that has any: the roles
# write them (nginx_limit_req's zone size, say), so budget.yml must show them too.
EXTRAS = tuple(key for product in PRODUCTS for key in product.table_keys)
TERM_LABELS = (
    ("base_mb", "base"),
    ("page_cache_mb", "page cache"),
    ("watermarks_mb", "watermarks"),
    ("zram_mb", "zram"),
    ("given_mb", "given"),
)


def _cell(value) -> str:
    return "-" if value is None else str(value)


def _reserve_line(summary: dict) -> str:
    terms = summary["reserve_terms"]
    parts = []
    for key, label in TERM_LABELS:
        if key in terms:
            note = f" ({summary['watermarks_source']})" if key == "watermarks_mb" else ""
            parts.append(f"{label} {terms[key]}{note}")
    return f"reserve {summary['reserve_mb']} MiB = {' + '.join(parts)}"


def render_table(plan) -> list:
    """One line per service, then the host, the reserve and the split, the extras, then the warnings."""
    entries = plan_entries(plan, "memory_plan_table", need_summary=True)
    headers = [header for header, _ in TABLE_COLUMNS]
    rows = [[_cell(entry.get(key)) for _, key in TABLE_COLUMNS] for entry in entries]
    widths = [max(len(row[i]) for row in [headers] + rows) for i in range(len(headers))]

    def line(cells):
        first = cells[0].ljust(widths[0])
        return "  ".join(
            [first] + [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        ).rstrip()

    s = plan["summary"]
    limit = s["cgroup_memory_limit_bytes"]
    limit_text = "none" if limit is None else f"{limit // MIB} MiB"
    lines = [line(headers)] + [line(row) for row in rows]
    lines.append(
        f"effective {s['effective_memory_mb']} MiB (source {s['source']}; memtotal {s['memtotal_mb']} MiB, "
        f"cgroup limit {limit_text}), swap {s['swap_backend']}, cpus {s['cpus']}"
    )
    lines.append(_reserve_line(s))
    lines.append(
        f"tier 0 {s['tier0_mb']} MiB (system.slice MemoryLow {s['system_slice_memory_low_mb']} MiB), "
        f"tier 2 {s['tier2_mb']} MiB, pool {s['pool_mb']} MiB, "
        f"allocated {s['allocated_mb']} MiB, headroom {s['headroom_mb']} MiB"
    )
    for entry in entries:
        extras = [f"{key}={entry[key]}" for key in EXTRAS if entry.get(key) is not None]
        if extras:
            lines.append(f"{entry['name']}: {', '.join(extras)}")
    lines.extend(f"warning: {warning}" for warning in plan.get("warnings") or [])
    return lines
