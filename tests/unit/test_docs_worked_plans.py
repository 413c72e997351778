"""The worked plans in docs/memory-budget.md and README.md are what the arithmetic gives today.

Each heading of section 6 names a host and a service list; the first ```text block under it
is the plan (table, then one line of extras per service that declares them) or the refusal.
When the arithmetic changes on purpose, a failure prints the new block to paste.
"""

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.smallvps.hardening.plugins.module_utils.memory_budget import (
    MemoryBudgetError,
    build_plan,
    render_table,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "memory-budget.md"
README = ROOT / "README.md"
MIB = 1024 * 1024
EXTRAS = ("limit_req_zone_size", "introspection_max_cost",
          "max_buffered_pages_total", "max_buffered_pages_per_connection")

ACCEPTANCE = [
    {"name": "app", "tier": 1, "runtime": "python", "min": "256M", "per_worker": "64M"},
    {"name": "nginx", "tier": 0, "min": "32M"},
    {"name": "sshd", "tier": 0, "min": "16M"},
]
SMALLER_STACK = [
    {"name": "sshd", "tier": 0, "min": "8M"},
    {"name": "nginx", "tier": 0, "min": "16M", "limit_req_clients": 2000},
    {"name": "api", "tier": 1, "runtime": "go", "min": "48M"},
]


def _block_after(heading, doc=DOC, kind="(?:text|yaml)"):
    """The first ```text (or ```yaml) block after a heading line of the doc."""
    text = doc.read_text(encoding="utf-8")
    match = re.search(rf"^#+ {re.escape(heading)}\n.*?^```{kind}\n(.*?)^```", text, re.M | re.S)
    assert match, f"{doc.name} has no heading {heading!r} with a code block after it"
    return match.group(1).rstrip("\n")


def _standard_stack():
    return yaml.safe_load(_block_after("The standard stack on 256 MiB to 8 GiB"))


def _facts(mb, cpus):
    # As the doc says: module-form facts (what memory_facts returns on a host without a cgroup
    # limit), no swap.
    return {"effective_memory_bytes": mb * MIB, "memtotal_bytes": mb * MIB, "memory_source": "meminfo",
            "cgroup_memory_limit_bytes": None, "swap_total_bytes": 0, "cpus": cpus}


def _rendered(mb, cpus, services):
    try:
        plan = build_plan(_facts(mb, cpus), services)
    except MemoryBudgetError as refusal:
        return str(refusal)
    lines = render_table(plan)
    for name, entry in plan["services"].items():
        extras = [f"{key}={entry[key]}" for key in EXTRAS if entry.get(key) is not None]
        if extras:
            lines.append(f"{name}: {', '.join(extras)}")
    return "\n".join(lines)


@pytest.mark.parametrize(("heading", "mb", "cpus", "services"), [
    ("The acceptance case", 1024, 1, ACCEPTANCE),
    ("256 MiB, the standard stack: refused", 256, 1, None),
    ("256 MiB, a smaller stack", 256, 1, SMALLER_STACK),
    ("512 MiB (1 CPU)", 512, 1, None),
    ("1 GiB (1 CPU)", 1024, 1, None),
    ("2 GiB (2 CPUs)", 2048, 2, None),
    ("8 GiB (4 CPUs)", 8192, 4, None),
])
def test_worked_plan_matches_the_arithmetic(heading, mb, cpus, services):
    expected = _rendered(mb, cpus, services if services is not None else _standard_stack())
    assert _block_after(heading) == expected, f"paste this under '{heading}':\n{expected}"


def test_readme_plan_matches_the_arithmetic():
    # README.md shows the acceptance case with its services in YAML, then the plan.
    services = yaml.safe_load(_block_after("The memory plan", README, "yaml"))["smallvps_services"]
    expected = _rendered(1024, 1, services)
    assert _block_after("The memory plan", README, "text") == expected, f"paste this into README.md:\n{expected}"
