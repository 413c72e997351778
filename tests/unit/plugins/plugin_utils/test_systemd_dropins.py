# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Which directive each tier gets; the numbers themselves come from build_plan."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import MIB, build_plan
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._systemd_dropins import dropin, dropins
from ansible_collections.smallvps.hardening.tests.unit.plugins.plugin_utils.not_a_plan import WITHOUT_SERVICES

FACTS = {"effective_memory_bytes": 1024 * MIB, "cpus": 1}
SERVICES = [
    {"name": "ssh", "tier": 0, "min": "16M"},
    {"name": "caddy.service", "tier": 0, "runtime": "go", "min": "48M", "gomemlimit": "40M"},
    {"name": "app", "tier": 1, "runtime": "python", "min": "128M", "max": "160M", "processes": ["gunicorn"]},
    {"name": "oathkeeper", "tier": 1, "runtime": "go", "min": "48M", "max": "64M"},
    {"name": "guarded", "tier": 1, "min": "32M", "max": "100M", "oomd": True, "swap_max": "64M"},
    {"name": "throttled", "tier": 1, "min": "32M", "max": "100M", "memory_high": "80M"},
    {"name": "backup", "tier": 2, "min": "8M"},
    {"name": "report", "tier": 2, "min": "8M", "oom_score_adjust": 500},
]


def _by_unit():
    # 1 GiB: reserve 178, tier 0 64, tier 2 16, pool 766 >= 160 + 64 + 100 + 100: every tier-1 service at its max
    plan = build_plan(FACTS, SERVICES)
    return plan, {d["unit"]: d for d in dropins(plan)}


def test_one_dropin_per_service_in_plan_order_then_system_slice():
    plan, _ = _by_unit()
    assert [d["name"] for d in dropins(plan)] == [s["name"] for s in SERVICES] + ["system.slice"]
    assert [d["unit"] for d in dropins(plan)] == [
        "ssh.service",
        "caddy.service",
        "app.service",
        "oathkeeper.service",
        "guarded.service",
        "throttled.service",
        "backup.service",
        "report.service",
        "system.slice",
    ]


def test_tier0_is_protected_and_never_capped():
    _, units = _by_unit()
    # No OOMScoreAdjust on ssh.service: OpenSSH sets -1000 on its listener and restores the start value for sessions.
    # MemoryLow is its min; systemd-oomd takes it last.
    assert units["ssh.service"]["sections"] == {
        "Service": [["MemoryLow", "16M"], ["ManagedOOMPreference", "avoid"], ["Restart", "on-failure"]]
    }
    assert (
        units["ssh.service"]["tier"],
        units["ssh.service"]["oom_score_adjust"],
        units["ssh.service"]["processes"],
    ) == (0, None, ["sshd"])


def test_tier0_go_service_gets_the_gomemlimit_it_set_but_no_cap():
    _, units = _by_unit()
    # A generic or go unit that is not nginx keeps systemd's OOMPolicy: none written.
    assert units["caddy.service"]["sections"] == {
        "Service": [
            ["OOMScoreAdjust", -500],
            ["MemoryLow", "48M"],
            ["ManagedOOMPreference", "avoid"],
            ["Restart", "on-failure"],
            ["Environment", "GOMEMLIMIT=40MiB"],
        ]
    }


def test_tier1_gets_memory_max_and_swap_max_but_no_memory_high_by_default():
    _, units = _by_unit()
    sections = units["app.service"]["sections"]
    # runtime python (gunicorn's master respawns its workers): OOMPolicy=continue
    assert sections["Service"] == [
        ["MemoryAccounting", "yes"],
        ["MemoryMax", "160M"],
        ["MemorySwapMax", "0"],
        ["OOMScoreAdjust", 100],
        ["Restart", "always"],
        ["RestartSec", 3],
        ["OOMPolicy", "continue"],
    ]
    assert sections["Unit"] == [["StartLimitIntervalSec", 300], ["StartLimitBurst", 20]]
    assert units["app.service"]["processes"] == ["gunicorn"]
    # GOMEMLIMIT = floor(0.9 x 64) = 57
    assert units["oathkeeper.service"]["sections"]["Service"] == [
        ["MemoryAccounting", "yes"],
        ["MemoryMax", "64M"],
        ["MemorySwapMax", "0"],
        ["OOMScoreAdjust", 100],
        ["Restart", "always"],
        ["RestartSec", 3],
        ["Environment", "GOMEMLIMIT=57MiB"],
    ]


def test_tier1_with_oomd_gets_memory_high_and_managed_oom():
    _, units = _by_unit()
    # MemoryHigh floor(0.9 x 100) = 90
    assert units["guarded.service"]["sections"]["Service"] == [
        ["MemoryAccounting", "yes"],
        ["MemoryMax", "100M"],
        ["MemorySwapMax", "64M"],
        ["MemoryHigh", "90M"],
        ["ManagedOOMMemoryPressure", "kill"],
        ["ManagedOOMMemoryPressureLimit", "40%"],
        ["OOMScoreAdjust", 100],
        ["Restart", "always"],
        ["RestartSec", 3],
    ]


def test_tier1_with_an_explicit_memory_high_and_no_oomd():
    _, units = _by_unit()
    service = units["throttled.service"]["sections"]["Service"]
    assert ["MemoryHigh", "80M"] in service
    assert "ManagedOOMMemoryPressure" not in dict(service)


def test_tier2_is_left_alone_unless_asked():
    _, units = _by_unit()
    assert units["backup.service"]["sections"] == {}
    assert units["report.service"]["sections"] == {"Service": [["OOMScoreAdjust", 500]]}


def test_tier2_go_service_gets_only_the_gomemlimit_it_set():
    # A heap limit the user wrote on the entry is honoured on tier 2 too (docs/memory-budget.md#tiers);
    # without one a tier-2 Go service gets no drop-in, the plan knowing only an estimate.
    plan = build_plan(
        FACTS,
        [
            {"name": "crawler", "tier": 2, "runtime": "go", "min": "64M", "gomemlimit": "48M"},
            {"name": "indexer", "tier": 2, "runtime": "go", "min": "64M"},
        ],
    )
    units = {d["unit"]: d for d in dropins(plan)}
    assert units["crawler.service"]["sections"] == {"Service": [["Environment", "GOMEMLIMIT=48MiB"]]}
    assert units["indexer.service"]["sections"] == {}


def test_system_slice_gets_the_sum_of_tier0_memory_low():
    plan, units = _by_unit()
    # ssh 16 + caddy 48: a unit's memory.low protects only as far as its parent's does
    assert units["system.slice"] == {
        "unit": "system.slice",
        "name": "system.slice",
        "tier": 0,
        "oom_score_adjust": None,
        "processes": [],
        "sections": {"Slice": [["MemoryLow", "64M"]]},
        "content": (
            "# Ansible managed\n"
            "# Tier 0 (protect) from smallvps.hardening.systemd_tiering.\n"
            "# Values come from this host's memory plan (smallvps_services); the plan is printed by the\n"
            "# memory_plan role in every run and by: ansible-playbook smallvps.hardening.budget\n"
            "\n"
            "[Slice]\n"
            "MemoryLow=64M\n"
        ),
    }
    assert plan["summary"]["system_slice_memory_low_mb"] == 64


def test_system_slice_gets_no_dropin_without_tier0():
    plan = build_plan(FACTS, [s for s in SERVICES if s["tier"] != 0])
    last = dropins(plan)[-1]
    assert (last["unit"], last["sections"]) == ("system.slice", {})
    assert [d["unit"] for d in dropins(plan) if d["sections"].get("Slice")] == []


# Every tier's directives in the order the drop-in carries them, OOMPolicy included.
ORDER_SERVICES = [
    {"name": "nginx", "tier": 0, "min": "32M"},
    {"name": "web", "tier": 1, "runtime": "python", "min": "128M", "max": "160M", "oomd": True},
    {"name": "api", "tier": 1, "runtime": "go", "min": "48M", "max": "64M", "oom_policy": "kill"},
    {"name": "jobs", "tier": 2, "runtime": "python", "min": "128M"},
    {"name": "report", "tier": 2, "min": "8M", "oom_score_adjust": 500, "oom_policy": "continue"},
    {"name": "batch", "tier": 2, "min": "8M", "oom_policy": "stop"},
]


def test_directives_of_each_tier_in_order():
    # 1 GiB: reserve 178, tier 0 32, tier 2 144, pool 670: both tier-1 services at their max
    units = {d["unit"]: d["sections"] for d in dropins(build_plan(FACTS, ORDER_SERVICES))}
    assert units["nginx.service"] == {
        "Service": [
            ["OOMScoreAdjust", -500],
            ["MemoryLow", "32M"],
            ["ManagedOOMPreference", "avoid"],
            ["Restart", "on-failure"],
            ["OOMPolicy", "continue"],
        ]
    }
    # MemoryHigh floor(0.9 x 160) = 144
    assert units["web.service"] == {
        "Unit": [["StartLimitIntervalSec", 300], ["StartLimitBurst", 20]],
        "Service": [
            ["MemoryAccounting", "yes"],
            ["MemoryMax", "160M"],
            ["MemorySwapMax", "0"],
            ["MemoryHigh", "144M"],
            ["ManagedOOMMemoryPressure", "kill"],
            ["ManagedOOMMemoryPressureLimit", "40%"],
            ["OOMScoreAdjust", 100],
            ["Restart", "always"],
            ["RestartSec", 3],
            ["OOMPolicy", "continue"],
        ],
    }
    # GOMEMLIMIT floor(0.9 x 64) = 57, after OOMPolicy
    assert units["api.service"]["Service"] == [
        ["MemoryAccounting", "yes"],
        ["MemoryMax", "64M"],
        ["MemorySwapMax", "0"],
        ["OOMScoreAdjust", 100],
        ["Restart", "always"],
        ["RestartSec", 3],
        ["OOMPolicy", "kill"],
        ["Environment", "GOMEMLIMIT=57MiB"],
    ]
    # tier 2: python gets no OOMPolicy of its own; only what is set
    assert units["jobs.service"] == {}
    assert units["report.service"] == {"Service": [["OOMScoreAdjust", 500], ["OOMPolicy", "continue"]]}
    assert units["batch.service"] == {"Service": [["OOMPolicy", "stop"]]}
    assert units["system.slice"] == {"Slice": [["MemoryLow", "32M"]]}


def test_no_memory_low_or_oomd_preference_outside_tier0():
    _, units = _by_unit()
    for dropin_ in units.values():
        keys = [key for directives in dropin_["sections"].values() for key, _ in directives]
        if dropin_["tier"] == 0 and dropin_["unit"] != "system.slice":
            assert ("MemoryLow" in keys, "ManagedOOMPreference" in keys) == (True, True), dropin_["unit"]
        elif dropin_["unit"] != "system.slice":
            assert "MemoryLow" not in keys and "ManagedOOMPreference" not in keys, dropin_["unit"]


def test_dropin_of_a_single_entry():
    plan, _ = _by_unit()
    assert dropin(plan["services"]["backup"]) == {
        "unit": "backup.service",
        "name": "backup",
        "tier": 2,
        "oom_score_adjust": None,
        "processes": ["backup"],
        "sections": {},
    }


@pytest.mark.parametrize(
    ("plan", "fragment"),
    WITHOUT_SERVICES
    + [
        ({"services": {}}, "input: no 'summary' mapping"),
        ({"services": {"x": {}}, "summary": build_plan(FACTS, [])["summary"]}, "service 'x': key 'name' is missing"),
        (
            {"services": {"x": None}, "summary": build_plan(FACTS, [])["summary"]},
            "service 'x' is empty (null), not a plan entry",
        ),
    ],
)
def test_not_a_plan_is_refused_naming_the_key(plan, fragment):
    with pytest.raises(MemoryBudgetError) as caught:
        dropins(plan)
    message = str(caught.value)
    assert message.startswith("systemd_tier_dropins: ") and fragment in message
    assert "expects the output of smallvps.hardening.memory_plan" in message


def test_the_summary_is_needed_for_system_slice():
    plan, _ = _by_unit()
    with pytest.raises(MemoryBudgetError, match="systemd_tier_dropins: input: no 'summary' mapping"):
        dropins({"services": plan["services"]})
    del plan["summary"]["system_slice_memory_low_mb"]
    with pytest.raises(
        MemoryBudgetError, match="systemd_tier_dropins: input: key 'summary' lacks system_slice_memory_low_mb;"
    ):
        dropins(plan)


def test_the_plan_is_not_mutated():
    plan, _ = _by_unit()
    before = copy.deepcopy(plan)
    for item in dropins(plan):
        item["processes"].append("x")
    assert plan == before
