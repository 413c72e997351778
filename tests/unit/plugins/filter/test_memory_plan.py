# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The memory_plan and memory_plan_table filters as Ansible calls them: found by name,
positional options, every refusal an AnsibleFilterError with the planner's message (memory_plan:, the
table's memory_plan_table:). The old filter names are tested in test_memory_budget_route.py and
test_memory_budget_table_route.py."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smallvps.hardening.plugins.filter.memory_plan import FilterModule
from ansible_collections.smallvps.hardening.plugins.filter.memory_plan_table import FilterModule as TableFilterModule

MIB = 1024 * 1024
memory_plan = FilterModule().filters()["memory_plan"]
memory_plan_table = TableFilterModule().filters()["memory_plan_table"]

SERVICES = [
    {"name": "app", "tier": 1, "runtime": "python", "min": "256M", "per_worker": "64M"},
    {"name": "nginx", "tier": 0, "min": "32M"},
    {"name": "sshd", "tier": 0, "min": "16M"},
]
MODULE_FACTS = {
    "memtotal_bytes": 2048 * MIB,
    "memtotal_mb": 2048,
    "cgroup_version": 1,
    "cgroup_memory_limit_bytes": 1024 * MIB,
    "effective_memory_bytes": 1024 * MIB,
    "effective_memory_mb": 1024,
    "memory_source": "cgroup",
    "swap_total_bytes": 0,
    "swap_total_mb": 0,
    "swap_devices": [],
    "psi_memory": True,
    "cpus": 1,
}


def filter_error(function, *args) -> str:
    with pytest.raises(AnsibleFilterError) as caught:
        function(*args)
    return caught.value.message


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"memory_plan"}
    assert set(TableFilterModule().filters()) == {"memory_plan_table"}


def test_module_facts_form():
    plan = memory_plan(MODULE_FACTS, SERVICES)
    # inside a cgroup limit: reserve 80 + 32, no watermarks; pool 1024 - 112 - 48 = 864
    assert plan["services"]["app"]["memory_max"] == "864M"
    assert plan["services"]["app"]["memory_high"] is None and plan["services"]["app"]["memory_swap_max"] == "0"
    assert (plan["summary"]["source"], plan["summary"]["reserve_mb"]) == ("cgroup", 112)
    assert plan["summary"]["cgroup_memory_limit_bytes"] == 1024 * MIB
    assert plan["warnings"] == []


def test_ansible_facts_with_smallvps_memory_form():
    ansible_facts = {"memtotal_mb": 2048, "processor_vcpus": 4, "smallvps_memory": MODULE_FACTS}
    assert memory_plan(ansible_facts, SERVICES) == memory_plan(MODULE_FACTS, SERVICES)


def test_plain_ansible_facts_form_warns():
    plan = memory_plan({"memtotal_mb": 1024, "swaptotal_mb": 0, "processor_vcpus": 1}, SERVICES)
    # estimated watermarks: reserve 178, pool 1024 - 178 - 48 = 798
    assert plan["services"]["app"]["memory_max"] == "798M"
    assert plan["summary"]["source"] == "ansible_facts"
    assert "cgroup" in plan["warnings"][0] and "smallvps.hardening.memory_facts" in plan["warnings"][0]


def test_options_are_passed_through_in_order():
    plan = memory_plan(MODULE_FACTS, SERVICES, "300M", 4, 0.8, 0.7)
    assert plan["summary"]["reserve_mb"] == 300
    # 1024 - 300 - 48 = 676; no oomd: no MemoryHigh; min(9, floor((608.4 - 32) / 64) = 9)
    assert (plan["services"]["app"]["memory_max"], plan["services"]["app"]["memory_high"]) == ("676M", None)
    assert plan["services"]["app"]["workers"] == 9
    oomd = memory_plan(MODULE_FACTS, [dict(SERVICES[0], oomd=True)] + SERVICES[1:], "300M", 4, 0.8, 0.7)
    # MemoryHigh floor(0.8 x 676) = 540; workers floor((486 - 32) / 64) = 7
    assert (oomd["services"]["app"]["memory_high"], oomd["services"]["app"]["workers"]) == ("540M", 7)
    units_and_swap = memory_plan(MODULE_FACTS, [], None, None, 0.9, 0.9, ["ssh.service"], {"backend": "zram"})
    assert list(units_and_swap["services"]) == ["ssh"]
    # 112 + a full 512 MiB zram device (256 + 0.512 -> 257)
    assert (units_and_swap["summary"]["reserve_mb"], units_and_swap["summary"]["swap_backend"]) == (369, "zram")


def test_refusal_becomes_ansible_filter_error_with_the_same_message():
    message = filter_error(memory_plan, MODULE_FACTS, [{"name": "sshd", "tier": 0, "min": 16, "max": 32}])
    assert message.startswith("memory_plan: service 'sshd' key 'max': tier 0 is never capped")


@pytest.mark.parametrize(
    ("facts", "services", "start"),
    [
        (MODULE_FACTS, [{"name": "a", "tier": 1, "min": "9" * 400 + "M"}], "memory_plan: service 'a' key 'min': "),
        (MODULE_FACTS, [{"name": "a", "tier": 0, "min": "32.5"}], "memory_plan: service 'a' key 'min': cannot parse"),
        (MODULE_FACTS, [{"name": "a", "tier": 1, "min": "32.5"}], "memory_plan: service 'a' key 'min': cannot parse"),
        (MODULE_FACTS, [{"name": "../x", "tier": 1, "min": 64}], "memory_plan: service '../x' key 'name': "),
        (MODULE_FACTS, [{"name": "x/y", "tier": 1, "min": 64}], "memory_plan: service 'x/y' key 'name': "),
        (MODULE_FACTS, [{"name": "foo.timer", "tier": 2, "min": 8}], "memory_plan: service 'foo.timer' key 'name': "),
        (
            MODULE_FACTS,
            [{"name": "nginx", "tier": 0, "min": 32}, {"name": "nginx.service", "tier": 1, "min": 64}],
            "memory_plan: service 'nginx.service' key 'name': names the same unit",
        ),
        (
            MODULE_FACTS,
            [{"name": "sshd", "tier": 0, "min": 16}, {"name": "ssh.service", "tier": 0, "min": 16}],
            "memory_plan: service 'ssh.service' key 'name': names the same unit",
        ),
        (
            dict(MODULE_FACTS, effective_memory_bytes=2048 * MIB),
            [],
            "memory_plan: facts: key 'effective_memory_bytes'",
        ),
        (
            {"hostname": "vps"},
            SERVICES,
            "memory_plan: facts: none of effective_memory_bytes, smallvps_memory or memtotal_mb",
        ),
    ],
)
def test_bad_input_is_an_ansible_filter_error_naming_the_key(facts, services, start):
    assert filter_error(memory_plan, facts, services).startswith(start)


def test_reserve_refusal_through_the_filter():
    message = filter_error(memory_plan, MODULE_FACTS, SERVICES, "9" * 400 + "M")
    assert message.startswith("memory_plan: option 'reserve': ") and "too large" in message


def test_swap_sizing_errors_become_filter_errors_too():
    message = filter_error(
        memory_plan, MODULE_FACTS, [], None, None, 0.9, 0.9, None, {"backend": "zram", "zram_size_mb": "lots"}
    )
    assert "swap_zram_size_mb" in message


def test_table_filter():
    lines = memory_plan_table(memory_plan(MODULE_FACTS, SERVICES))
    assert lines[1].split() == ["app", "1", "-", "864M", "-", "0", "-", "3", "100"]
    assert lines[-2] == "reserve 112 MiB = base 80 + page cache 32 + watermarks 0 (none inside a cgroup limit) + zram 0"


@pytest.mark.parametrize(
    ("plan", "fragment"),
    [
        (None, "input is empty (null), with no 'services' mapping"),
        ([], "input is a list, with no 'services' mapping"),
        ({}, "input is a mapping, with no 'services' mapping"),
        ("not a plan", "input is a string, with no 'services' mapping"),
        ({"services": {"x": {}}}, "input: no 'summary' mapping"),
        ({"services": {"x": {}}, "summary": {}}, "key 'summary' lacks effective_memory_mb"),
    ],
)
def test_table_filter_refuses_non_plans_naming_the_key(plan, fragment):
    message = filter_error(memory_plan_table, plan)
    assert message.startswith("memory_plan_table: ") and fragment in message
    assert "expects the output of smallvps.hardening.memory_plan" in message


def test_table_filter_refuses_a_plan_missing_summary_keys():
    plan = memory_plan(MODULE_FACTS, SERVICES)
    del plan["summary"]["headroom_mb"]
    assert "key 'summary' lacks headroom_mb" in filter_error(memory_plan_table, plan)
