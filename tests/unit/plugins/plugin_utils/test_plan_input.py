# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""plan_entries: what the public filters accept as a memory plan, and how they refuse the rest."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import MIB, build_plan
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._plan_input import (
    ENTRY_KEYS,
    SUMMARY_KEYS,
    plan_entries,
)

EXPECTED = "expects the output of smallvps.hardening.memory_plan (a dict with services, summary and warnings)"
PLAN = build_plan(
    {"effective_memory_bytes": 1024 * MIB, "cpus": 1},
    [{"name": "app", "tier": 1, "min": 64}, {"name": "sshd", "tier": 0, "min": 16}],
)


def refusal(plan, need_summary=False) -> str:
    with pytest.raises(MemoryBudgetError) as caught:
        plan_entries(plan, "some_filter", need_summary=need_summary)
    message = str(caught.value)
    assert message.startswith("some_filter: "), message
    return message


def test_a_plan_gives_its_entries_in_plan_order():
    assert [e["name"] for e in plan_entries(PLAN, "f")] == ["app", "sshd"]
    assert [e["name"] for e in plan_entries(PLAN, "f", need_summary=True)] == ["app", "sshd"]
    assert plan_entries({"services": {}}, "f") == []


def test_every_key_the_filters_read_is_in_a_plan():
    for entry in PLAN["services"].values():
        assert set(ENTRY_KEYS) <= set(entry)
    assert set(SUMMARY_KEYS) <= set(PLAN["summary"])


@pytest.mark.parametrize(
    ("plan", "fragment"),
    [
        (None, "input is empty (null), with no 'services' mapping"),
        ([], "input is a list, with no 'services' mapping"),
        ({}, "input is a mapping, with no 'services' mapping"),
        ("plan", "input is a string, with no 'services' mapping"),
        ({"services": []}, "input is a mapping, with no 'services' mapping"),
        ({"services": None}, "input is a mapping, with no 'services' mapping"),
        ({"services": {"x": {}}}, "service 'x': key 'name' is missing (and 17 more)"),
        ({"services": {"x": 5}}, "service 'x' is a number, not a plan entry"),
        (
            {"services": {"app": {k: v for k, v in PLAN["services"]["app"].items() if k != "restart_sec"}}},
            "service 'app': key 'restart_sec' is missing (and 0 more)",
        ),
        (
            {"services": {"sshd": {k: v for k, v in PLAN["services"]["sshd"].items() if k != "memory_low"}}},
            "service 'sshd': key 'memory_low' is missing (and 0 more)",
        ),
        (
            {
                "services": {
                    "app": {
                        k: v
                        for k, v in PLAN["services"]["app"].items()
                        if k not in ("managed_oom_preference", "oom_policy")
                    }
                }
            },
            "service 'app': key 'managed_oom_preference' is missing (and 1 more)",
        ),
        (
            {"services": {"app": dict(PLAN["services"]["app"], tier=3)}},
            "service 'app': key 'tier' is 3; expected 0, 1 or 2",
        ),
        ({"services": {"app": dict(PLAN["services"]["app"], tier=True)}}, "service 'app': key 'tier' is True"),
        ({"services": {"app": dict(PLAN["services"]["app"], tier="1")}}, "service 'app': key 'tier' is '1'"),
    ],
)
def test_non_plans_are_refused_naming_the_key(plan, fragment):
    message = refusal(plan)
    assert fragment in message
    assert message.endswith(EXPECTED) or "key 'tier'" in fragment
    if isinstance(plan, dict) and isinstance(plan.get("services"), dict):
        # with a good summary, the entries are still checked
        assert fragment in refusal(dict(plan, summary=PLAN["summary"]), need_summary=True)
    else:
        assert fragment in refusal(plan, need_summary=True)


@pytest.mark.parametrize(
    ("plan", "fragment"),
    [
        ({"services": {}}, "input: no 'summary' mapping"),
        ({"services": {}, "summary": []}, "input: no 'summary' mapping"),
        ({"services": {}, "summary": {}}, "input: key 'summary' lacks effective_memory_mb, memtotal_mb"),
        (
            dict(PLAN, summary={k: v for k, v in PLAN["summary"].items() if k != "headroom_mb"}),
            "input: key 'summary' lacks headroom_mb;",
        ),
        (
            dict(PLAN, summary={k: v for k, v in PLAN["summary"].items() if k != "system_slice_memory_low_mb"}),
            "input: key 'summary' lacks system_slice_memory_low_mb;",
        ),
        (
            dict(PLAN, summary=dict(PLAN["summary"], system_slice_memory_low_mb="16M")),
            "input: key 'summary.system_slice_memory_low_mb' is '16M', not a number of the plan;",
        ),
        (
            dict(PLAN, summary={k: v for k, v in PLAN["summary"].items() if k not in ("cpus", "swap_backend")}),
            "input: key 'summary' lacks cpus, swap_backend;",
        ),
    ],
)
def test_a_plan_without_its_summary_is_refused_when_the_summary_is_needed(plan, fragment):
    message = refusal(plan, need_summary=True)
    assert fragment in message and message.endswith(EXPECTED)


def test_the_plan_is_not_mutated():
    plan = copy.deepcopy(PLAN)
    before = copy.deepcopy(plan)
    plan_entries(plan, "f", need_summary=True)
    assert plan == before
