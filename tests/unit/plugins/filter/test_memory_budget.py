# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smallvps.hardening.plugins.filter.memory_budget import FilterModule
from ansible_collections.smallvps.hardening.plugins.filter.memory_budget_table import FilterModule as TableFilterModule

MIB = 1024 * 1024
memory_budget = FilterModule().filters()["memory_budget"]
memory_budget_table = TableFilterModule().filters()["memory_budget_table"]

SERVICES = [
    {"name": "app", "tier": 1, "runtime": "python", "min": "256M", "per_worker": "64M"},
    {"name": "nginx", "tier": 0, "min": "32M"},
    {"name": "sshd", "tier": 0, "min": "16M"},
]
MODULE_FACTS = {
    "memtotal_bytes": 2048 * MIB, "memtotal_mb": 2048, "cgroup_version": 1,
    "cgroup_memory_limit_bytes": 1024 * MIB, "effective_memory_bytes": 1024 * MIB, "effective_memory_mb": 1024,
    "memory_source": "cgroup", "swap_total_bytes": 0, "swap_total_mb": 0, "swap_devices": [], "psi_memory": True, "cpus": 1,
}


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"memory_budget"}
    assert set(TableFilterModule().filters()) == {"memory_budget_table"}


def test_module_facts_form():
    plan = memory_budget(MODULE_FACTS, SERVICES)
    assert plan["services"]["app"]["memory_max"] == "605M"
    assert plan["summary"]["source"] == "cgroup"
    assert plan["summary"]["cgroup_memory_limit_bytes"] == 1024 * MIB
    assert plan["warnings"] == []


def test_ansible_facts_with_smallvps_memory_form():
    ansible_facts = {"memtotal_mb": 2048, "processor_vcpus": 4, "smallvps_memory": MODULE_FACTS}
    plan = memory_budget(ansible_facts, SERVICES)
    assert plan == memory_budget(MODULE_FACTS, SERVICES)


def test_plain_ansible_facts_form_warns():
    plan = memory_budget({"memtotal_mb": 1024, "swaptotal_mb": 0, "processor_vcpus": 1}, SERVICES)
    assert plan["services"]["app"]["memory_max"] == "605M"
    assert plan["summary"]["source"] == "ansible_facts"
    assert "cgroup" in plan["warnings"][0] and "smallvps.hardening.memory_facts" in plan["warnings"][0]


def test_options_are_passed_through():
    plan = memory_budget(MODULE_FACTS, SERVICES, "300M", 4, 0.8, 0.7)
    assert plan["summary"]["reserve_mb"] == 300
    assert plan["services"]["app"]["memory_max"] == "676M"
    assert plan["services"]["app"]["memory_high"] == "540M"
    assert plan["services"]["app"]["workers"] == 9


def test_refusal_becomes_ansible_filter_error_with_the_same_message():
    with pytest.raises(AnsibleFilterError) as caught:
        memory_budget(MODULE_FACTS, [{"name": "sshd", "tier": 0, "min": 16, "max": 32}])
    assert caught.value.message.startswith("memory_budget: service 'sshd' key 'max': tier 0 is never capped")


def test_unknown_facts_form_names_the_accepted_forms():
    with pytest.raises(AnsibleFilterError) as caught:
        memory_budget({"hostname": "vps"}, SERVICES)
    assert caught.value.message.startswith("memory_budget: facts: ")
    assert "smallvps_memory" in caught.value.message and "memtotal_mb" in caught.value.message


def test_table_filter():
    lines = memory_budget_table(memory_budget(MODULE_FACTS, SERVICES))
    assert lines[1].split() == ["app", "1", "605M", "544M", "-", "3", "100"]
    with pytest.raises(AnsibleFilterError, match="expects the output of memory_budget"):
        memory_budget_table("not a plan")
