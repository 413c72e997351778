# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""memory_plan_entry: the entry a role reads its numbers from, found by the unit it runs."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smallvps.hardening.plugins.filter.memory_plan_entry import FilterModule
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import MIB, build_plan
from ansible_collections.smallvps.hardening.tests.unit.plugins.plugin_utils.not_a_plan import WITHOUT_SERVICES

memory_plan_entry = FilterModule().filters()["memory_plan_entry"]
FACTS = {"effective_memory_bytes": 512 * MIB, "cpus": 2}
SERVICES = [
    {"name": "sshd", "tier": 0, "min": "16M"},
    {"name": "caddy", "tier": 1, "runtime": "go", "min": "64M", "max": "128M"},
    {"name": "app", "tier": 1, "runtime": "python", "min": "64M", "max": "256M"},
]
PLAN = build_plan(FACTS, SERVICES)


def test_finds_the_entry_of_the_unit():
    entry = memory_plan_entry(PLAN, "app.service")
    assert entry is PLAN["services"]["app"]
    assert entry["workers"] >= 1
    assert memory_plan_entry(PLAN, "app.socket") is None


def test_a_name_without_suffix_is_a_service_unit():
    assert memory_plan_entry(PLAN, "caddy") is PLAN["services"]["caddy"]
    assert memory_plan_entry(PLAN, "caddy")["gomemlimit"].endswith("MiB")


@pytest.mark.parametrize("unit", ["sshd", "sshd.service", "ssh", "ssh.service"])
def test_sshd_names_ssh_service_as_in_the_plan(unit):
    # smallvps_services' `sshd` plans ssh.service (Debian's unit, sshd.service its alias): the same rule here
    assert PLAN["services"]["sshd"]["unit"] == "ssh.service"
    assert memory_plan_entry(PLAN, unit) is PLAN["services"]["sshd"]


def test_a_unit_the_plan_does_not_size_is_none():
    assert memory_plan_entry(PLAN, "traefik.service") is None


@pytest.mark.parametrize(
    ("plan", "unit", "phrase"),
    [(plan, "caddy.service", phrase) for plan, phrase in WITHOUT_SERVICES]
    + [
        ({"services": {"caddy": {"unit": "caddy.service"}}}, "caddy.service", "service 'caddy': key 'name' is missing"),
        (PLAN, "", "unit '' is not a unit name"),
        (PLAN, 3, "unit 3 is not a unit name"),
    ],
)
def test_refuses_what_is_not_a_plan_or_a_unit(plan, unit, phrase):
    with pytest.raises(AnsibleFilterError) as caught:
        memory_plan_entry(plan, unit)
    assert caught.value.message.startswith("memory_plan_entry: ") and phrase in caught.value.message
