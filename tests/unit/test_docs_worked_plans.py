"""The plans docs/memory-budget.md and README.md show are what the arithmetic gives today.

Everything is read from the pages themselves: each `####` heading of section 6 has a ```yaml
block (host, optional swap, services or `standard`) and the ```text block it produces (the
table, then one line of extras per service that declares them, or the refusal); section 3's
reserve table lists the reserve terms per host size; README.md shows the demo host's
inventory and plan. When the arithmetic changes on purpose, a failure prints the new block.
"""

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_host import normalize_facts
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import build_plan
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_reserve import default_reserve
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_table import render_table

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "memory-budget.md"
README = ROOT / "README.md"
MIB = 1024 * 1024


def _section(text, heading):
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section '## {heading}'"
    return match.group(1)


def _standard_stack(doc):
    match = re.search(r"^### The standard stack\n.*?^```yaml\n(.*?)^```", doc, re.M | re.S)
    assert match, "docs/memory-budget.md has no '### The standard stack' yaml block"
    return yaml.safe_load(match.group(1))


def _worked_plans():
    doc = DOC.read_text(encoding="utf-8")
    section = _section(doc, "6. Worked plans")
    found = re.findall(r"^#### (.+?)\n.*?^```yaml\n(.*?)^```\n.*?^```text\n(.*?)^```", section, re.M | re.S)
    return [(title, yaml.safe_load(spec), shown.rstrip("\n")) for title, spec, shown in found], _standard_stack(doc)


def _rendered(spec, standard):
    services = standard if spec["services"] == "standard" else spec["services"]
    host = spec["host"]
    # As the page says: module-form facts of a VM without a cgroup limit (watermarks estimated).
    facts = {
        "effective_memory_bytes": host["memory_mb"] * MIB,
        "memtotal_bytes": host["memory_mb"] * MIB,
        "cpus": host["cpus"],
    }
    try:
        plan = build_plan(facts, services, swap=spec.get("swap"))
    except MemoryBudgetError as refusal:
        return str(refusal)
    return "\n".join(render_table(plan))


PLANS, STANDARD = _worked_plans()


def test_the_doc_has_worked_plans_from_256_mib_to_8_gib():
    sizes = {spec["host"]["memory_mb"] for _, spec, _ in PLANS}
    assert {256, 512, 1024, 2048, 8192} <= sizes, sizes


@pytest.mark.parametrize(("title", "spec", "shown"), PLANS, ids=[title for title, _, _ in PLANS])
def test_worked_plan_matches_the_arithmetic(title, spec, shown):
    expected = _rendered(spec, STANDARD)
    assert shown == expected, f"paste this under '#### {title}':\n{expected}"


def _reserve_rows():
    section = _section(DOC.read_text(encoding="utf-8"), "3. The arithmetic, and why each constant has its value")
    rows = re.findall(
        r"^\| (\d+) (MiB|GiB) \| (\d+) \| (\d+) \| (\d+) \| (\d+) MiB \| \+(\d+) MiB \| (\d+) % \|$", section, re.M
    )
    assert len(rows) >= 5, "section 3 has no reserve table rows"
    return rows


@pytest.mark.parametrize("row", _reserve_rows(), ids=lambda row: f"{row[0]} {row[1]}")
def test_reserve_table_matches_the_arithmetic(row):
    size, unit, base, cache, watermarks, reserve, zram, share = row
    memory_mb = int(size) * (1024 if unit == "GiB" else 1)
    host = normalize_facts({"effective_memory_bytes": memory_mb * MIB, "memtotal_bytes": memory_mb * MIB})
    plain = default_reserve(host, None)
    with_zram = default_reserve(host, {"backend": "zram"})
    assert [int(base), int(cache), int(watermarks)] == [
        plain["terms"]["base_mb"],
        plain["terms"]["page_cache_mb"],
        plain["terms"]["watermarks_mb"],
    ]
    assert int(reserve) == plain["reserve_mb"]
    assert int(zram) == with_zram["terms"]["zram_mb"]
    assert int(share) == round(100 * plain["reserve_mb"] / memory_mb)


def test_readme_plan_matches_the_arithmetic():
    # README.md shows the demo host: a 512 MiB container (cgroup limit) on a 2-CPU machine.
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## The memory plan\n(.*?)(?=^## |\Z)", text, re.M | re.S).group(1)
    services = yaml.safe_load(re.search(r"^```yaml\n(.*?)^```", section, re.M | re.S).group(1))["smallvps_services"]
    shown = re.search(r"^```text\n(.*?)^```", section, re.M | re.S).group(1).rstrip("\n")
    memtotal_mb = int(re.search(r"memtotal (\d+) MiB", shown).group(1))
    facts = {
        "effective_memory_bytes": 512 * MIB,
        "memtotal_bytes": memtotal_mb * MIB,
        "cgroup_memory_limit_bytes": 512 * MIB,
        "memory_source": "cgroup",
        "cpus": 2,
    }
    units = ["ssh.service", "nginx.service", "app.service"]
    expected = "\n".join(render_table(build_plan(facts, services, units=units)))
    assert shown == expected, f"paste this into README.md:\n{expected}"
