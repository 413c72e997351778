# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Which directive each tier gets; the numbers themselves come from build_plan."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.smallvps.hardening.plugins.module_utils.memory_plan import MIB, build_plan
from ansible_collections.smallvps.hardening.plugins.module_utils.memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils.systemd_dropins import dropin, dropins

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


def test_one_dropin_per_service_in_plan_order():
    plan, _ = _by_unit()
    assert [d["name"] for d in dropins(plan)] == [s["name"] for s in SERVICES]
    assert [d["unit"] for d in dropins(plan)] == [
        "ssh.service", "caddy.service", "app.service", "oathkeeper.service", "guarded.service", "throttled.service",
        "backup.service", "report.service"]


def test_tier0_is_protected_and_never_capped():
    _, units = _by_unit()
    # No OOMScoreAdjust on ssh.service: OpenSSH sets -1000 on its listener and restores the start value for sessions.
    assert units["ssh.service"]["sections"] == {"Service": [["Restart", "on-failure"]]}
    assert (units["ssh.service"]["tier"], units["ssh.service"]["oom_score_adjust"], units["ssh.service"]["processes"]) == (0, None, ["sshd"])


def test_tier0_go_service_gets_the_gomemlimit_it_set_but_no_cap():
    _, units = _by_unit()
    assert units["caddy.service"]["sections"] == {"Service": [
        ["OOMScoreAdjust", -500], ["Restart", "on-failure"], ["Environment", "GOMEMLIMIT=40MiB"]]}


def test_tier1_gets_memory_max_and_swap_max_but_no_memory_high_by_default():
    _, units = _by_unit()
    sections = units["app.service"]["sections"]
    assert sections["Service"] == [
        ["MemoryAccounting", "yes"], ["MemoryMax", "160M"], ["MemorySwapMax", "0"],
        ["OOMScoreAdjust", 100], ["Restart", "always"], ["RestartSec", 3]]
    assert sections["Unit"] == [["StartLimitIntervalSec", 300], ["StartLimitBurst", 20]]
    assert units["app.service"]["processes"] == ["gunicorn"]
    # GOMEMLIMIT = floor(0.9 x 64) = 57
    assert units["oathkeeper.service"]["sections"]["Service"] == [
        ["MemoryAccounting", "yes"], ["MemoryMax", "64M"], ["MemorySwapMax", "0"],
        ["OOMScoreAdjust", 100], ["Restart", "always"], ["RestartSec", 3], ["Environment", "GOMEMLIMIT=57MiB"]]


def test_tier1_with_oomd_gets_memory_high_and_managed_oom():
    _, units = _by_unit()
    # MemoryHigh floor(0.9 x 100) = 90
    assert units["guarded.service"]["sections"]["Service"] == [
        ["MemoryAccounting", "yes"], ["MemoryMax", "100M"], ["MemorySwapMax", "64M"], ["MemoryHigh", "90M"],
        ["ManagedOOMMemoryPressure", "kill"], ["OOMScoreAdjust", 100], ["Restart", "always"], ["RestartSec", 3]]


def test_tier1_with_an_explicit_memory_high_and_no_oomd():
    _, units = _by_unit()
    service = units["throttled.service"]["sections"]["Service"]
    assert ["MemoryHigh", "80M"] in service
    assert "ManagedOOMMemoryPressure" not in dict(service)


def test_tier2_is_left_alone_unless_asked():
    _, units = _by_unit()
    assert units["backup.service"]["sections"] == {}
    assert units["report.service"]["sections"] == {"Service": [["OOMScoreAdjust", 500]]}


def test_dropin_of_a_single_entry():
    plan, _ = _by_unit()
    assert dropin(plan["services"]["backup"]) == {
        "unit": "backup.service", "name": "backup", "tier": 2, "oom_score_adjust": None, "processes": ["backup"], "sections": {}}


@pytest.mark.parametrize(
    ("plan", "fragment"),
    [
        (None, "input: NoneType without a 'services' mapping"),
        ([], "input: list without a 'services' mapping"),
        ({}, "input: dict without a 'services' mapping"),
        ({"services": []}, "input: dict without a 'services' mapping"),
        ({"services": {"x": {}}}, "service 'x': key 'name' is missing"),
        ({"services": {"x": None}}, "service 'x': NoneType is not a plan entry"),
    ],
)
def test_not_a_plan_is_refused_naming_the_key(plan, fragment):
    with pytest.raises(MemoryBudgetError) as caught:
        dropins(plan)
    message = str(caught.value)
    assert message.startswith("systemd_tier_dropins: ") and fragment in message
    assert "expects the output of smallvps.hardening.memory_budget" in message


def test_no_summary_needed():
    plan, _ = _by_unit()
    assert dropins({"services": plan["services"]}) == dropins(plan)


def test_the_plan_is_not_mutated():
    plan, _ = _by_unit()
    before = copy.deepcopy(plan)
    for item in dropins(plan):
        item["processes"].append("x")
    assert plan == before
