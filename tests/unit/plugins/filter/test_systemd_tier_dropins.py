# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The systemd_tier_dropins filter as Ansible calls it: found by name, errors as AnsibleFilterError."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smallvps.hardening.plugins.filter.systemd_tier_dropins import FilterModule
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import MIB, build_plan
from ansible_collections.smallvps.hardening.tests.unit.plugins.plugin_utils.not_a_plan import WITHOUT_SERVICES

systemd_tier_dropins = FilterModule().filters()["systemd_tier_dropins"]
PLAN = build_plan(
    {"effective_memory_bytes": 1024 * MIB, "cpus": 1}, [{"name": "app.service", "tier": 1, "min": "128M"}]
)


def test_filter_is_registered():
    assert set(FilterModule().filters()) == {"systemd_tier_dropins"}


def test_filter_turns_a_plan_into_dropins():
    dropin, system_slice = systemd_tier_dropins(PLAN)
    assert (dropin["unit"], dropin["name"], dropin["tier"]) == ("app.service", "app.service", 1)
    service = dict(dropin["sections"]["Service"])
    # 1024 - 178 = 846
    assert (service["MemoryMax"], service["MemorySwapMax"]) == ("846M", "0")
    assert "MemoryHigh" not in service and "ManagedOOMMemoryPressure" not in service
    # no tier 0: system.slice gets no MemoryLow, so no drop-in
    assert (system_slice["unit"], system_slice["sections"]) == ("system.slice", {})


@pytest.mark.parametrize(
    ("plan", "fragment"),
    WITHOUT_SERVICES
    + [
        ({"services": {}}, "input: no 'summary' mapping"),
        ({"services": {"x": {}}, "summary": PLAN["summary"]}, "service 'x': key 'name' is missing"),
        (
            {"services": {"app.service": dict(PLAN["services"]["app.service"], tier=5)}, "summary": PLAN["summary"]},
            "service 'app.service': key 'tier' is 5",
        ),
    ],
)
def test_filter_reports_a_bad_plan_as_a_filter_error_naming_the_key(plan, fragment):
    with pytest.raises(AnsibleFilterError) as caught:
        systemd_tier_dropins(plan)
    assert caught.value.message.startswith("systemd_tier_dropins: ") and fragment in caught.value.message


@pytest.mark.parametrize("managed", [5, "two\nlines"])
def test_filter_refuses_a_managed_line_that_is_not_one_line_of_text(managed):
    with pytest.raises(AnsibleFilterError) as caught:
        systemd_tier_dropins(PLAN, managed=managed)
    assert caught.value.message == f"systemd_tier_dropins: managed is {managed!r}, expected one line of text"
