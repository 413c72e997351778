# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""render_table: a plan as fixed-width lines; the numbers are worked by hand in the comments."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import MIB, build_plan
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_table import render_table
from ansible_collections.smallvps.hardening.tests.unit.plugins.plugin_utils.not_a_plan import WITHOUT_SERVICES

HOST_1G = {"effective_memory_bytes": 1024 * MIB, "cpus": 1}
SERVICES = [
    {"name": "app", "tier": 1, "runtime": "python", "min": "256M", "per_worker": "64M"},
    {"name": "nginx", "tier": 0, "min": "32M"},
    {"name": "sshd", "tier": 0, "min": "16M"},
    {"name": "api", "tier": 1, "runtime": "go", "min": 64, "max": 100},
]


def test_render_table():
    lines = render_table(build_plan(HOST_1G, SERVICES))
    assert (
        lines[0]
        == "service  tier  MemoryLow  MemoryMax  MemoryHigh  MemorySwapMax  GOMEMLIMIT  workers  OOMScoreAdjust"
    )
    # pool 1024 - 178 - 48 = 798: api is pinned at its max 100, app gets 698
    # MemoryLow: tier 0 only, its min
    assert lines[1].split() == ["app", "1", "-", "698M", "-", "0", "-", "3", "100"]
    assert lines[2].split() == ["nginx", "0", "32M", "-", "-", "-", "-", "-", "-500"]
    # sshd protects its listener itself; an OOMScoreAdjust would reach every session (SELF_PROTECTING_UNITS).
    assert lines[3].split() == ["sshd", "0", "16M", "-", "-", "-", "-", "-", "-"]
    assert lines[4].split() == ["api", "1", "-", "100M", "-", "0", "90MiB", "-", "100"]
    assert len({len(line) for line in lines[:5]}) == 1
    assert all(line == line.rstrip() for line in lines)
    assert lines[5] == "effective 1024 MiB (source meminfo; memtotal 1024 MiB, cgroup limit none), swap file, cpus 1"
    assert lines[6] == "reserve 178 MiB = base 80 + page cache 32 + watermarks 66 (estimated) + zram 0"
    # system.slice's MemoryLow is the sum of tier 0's: 32 + 16
    assert lines[7] == (
        "tier 0 48 MiB (system.slice MemoryLow 48 MiB), tier 2 0 MiB, pool 798 MiB, allocated 798 MiB, headroom 0 MiB"
    )
    assert len(lines) == 8


def test_memory_high_column_with_oomd():
    plan = build_plan(HOST_1G, [dict(SERVICES[0], oomd=True)] + SERVICES[1:3])
    # MemoryMax 798, MemoryHigh floor(0.9 x 798) = 718
    assert render_table(plan)[1].split() == ["app", "1", "-", "798M", "718M", "0", "-", "3", "100"]


def test_cgroup_zram_and_given_reserve_lines():
    facts = {
        "effective_memory_bytes": 512 * MIB,
        "memtotal_bytes": 1024 * MIB,
        "cgroup_memory_limit_bytes": 512 * MIB,
        "cpus": 2,
    }
    lines = render_table(build_plan(facts, [], swap={"backend": "zram"}))
    assert lines[-3] == "effective 512 MiB (source cgroup; memtotal 1024 MiB, cgroup limit 512 MiB), swap zram, cpus 2"
    # zram of 256 MiB: 128 + 0.256 -> 129
    assert (
        lines[-2] == "reserve 241 MiB = base 80 + page cache 32 + watermarks 0 (none inside a cgroup limit) + zram 129"
    )
    assert (
        lines[-1]
        == "tier 0 0 MiB (system.slice MemoryLow 0 MiB), tier 2 0 MiB, pool 271 MiB, allocated 0 MiB, headroom 271 MiB"
    )
    given = render_table(build_plan(facts, [], reserve="300M"))
    assert given[-2] == "reserve 300 MiB = given 300"


def test_warnings_are_the_last_lines():
    lines = render_table(
        build_plan(
            {"memtotal_mb": 512, "processor_vcpus": 1}, [{"name": "app", "tier": 1, "min": 64, "memory_high": 32}]
        )
    )
    assert lines[-2].startswith("warning: memory_plan: facts: plain ansible_facts")
    assert lines[-1].startswith("warning: service 'app': MemoryHigh without oomd")


@pytest.mark.parametrize(
    ("plan", "fragment"),
    WITHOUT_SERVICES
    + [
        ({"services": {"x": {}}}, "input: no 'summary' mapping"),
        ({"services": {}, "summary": {"reserve_mb": 1}}, "key 'summary' lacks effective_memory_mb"),
    ],
)
def test_non_plans_are_refused_naming_the_key(plan, fragment):
    with pytest.raises(MemoryBudgetError) as caught:
        render_table(plan)
    assert str(caught.value).startswith("memory_plan_table: input")
    assert fragment in str(caught.value)


def test_a_plan_missing_a_summary_key_is_refused():
    plan = build_plan(HOST_1G, SERVICES)
    del plan["summary"]["reserve_terms"]
    with pytest.raises(MemoryBudgetError, match="memory_plan_table: input: key 'summary' lacks reserve_terms"):
        render_table(plan)
    entry_missing = build_plan(HOST_1G, SERVICES)
    del entry_missing["services"]["api"]["oom_score_adjust"]
    with pytest.raises(MemoryBudgetError, match="memory_plan_table: service 'api': key 'oom_score_adjust' is missing"):
        render_table(entry_missing)


def test_a_summary_key_of_the_wrong_type_is_refused():
    plan = build_plan(HOST_1G, SERVICES)
    plan["summary"]["reserve_terms"] = None
    with pytest.raises(MemoryBudgetError, match="reserve_terms"):
        render_table(plan)


def test_the_plan_is_not_mutated():
    plan = build_plan(HOST_1G, SERVICES)
    before = copy.deepcopy(plan)
    render_table(plan)
    assert plan == before


def test_extras_follow_the_summary_one_line_per_service():
    # What nginx_limit_req and the Go roles write must show in the table budget.yml prints.
    services = [
        {"name": "nginx", "tier": 0, "min": "32M", "limit_req_clients": 2000},
        {"name": "api", "tier": 1, "runtime": "go", "min": 64, "max": 100, "introspection_cache": True},
    ]
    lines = render_table(build_plan(HOST_1G, services))
    tier_line = next(i for i, line in enumerate(lines) if line.startswith("tier 0 "))
    # 2000 x 128 B = 250k; api's limit 100 MiB: floor(0.1 x 100 MiB / 2112 B) = 4964
    assert lines[tier_line + 1 :] == ["nginx: limit_req_zone_size=250k", "api: introspection_max_cost=4964"]
