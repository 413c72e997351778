"""The systemd_tier_dropins filter as Ansible calls it: found by name, errors as AnsibleFilterError."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smallvps.hardening.plugins.filter.systemd_tier_dropins import FilterModule
from ansible_collections.smallvps.hardening.plugins.module_utils.memory_budget import MIB, build_plan

systemd_tier_dropins = FilterModule().filters()["systemd_tier_dropins"]


def test_filter_turns_a_plan_into_dropins():
    plan = build_plan({"effective_memory_bytes": 1024 * MIB, "cpus": 1},
                      [{"name": "app.service", "tier": 1, "min": "128M"}])
    [dropin] = systemd_tier_dropins(plan)
    assert dropin["unit"] == "app.service"
    assert ["MemoryMax", plan["services"]["app.service"]["memory_max"]] in dropin["sections"]["Service"]


def test_filter_reports_a_bad_plan_as_a_filter_error_with_the_message():
    with pytest.raises(AnsibleFilterError, match="expects the output of smallvps.hardening.memory_budget"):
        systemd_tier_dropins({"services": []})
