# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""A planned MemoryMax below what the running unit uses is refused by systemd_tiering."""

from __future__ import annotations

import pytest

from ansible_collections.smallvps.hardening.plugins.filter.memory_max_below_usage import (
    memory_max_below_usage as as_filter,
)
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import MIB, build_plan
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_usage import (
    memory_max_below_usage,
    parse_systemctl_show,
)

FACTS = {"effective_memory_bytes": 1024 * MIB, "cpus": 1}
SERVICES = [
    {"name": "ssh", "tier": 0, "min": "16M"},
    {"name": "app", "tier": 1, "min": "96M", "max": "96M"},
    {"name": "worker", "tier": 1, "min": "64M", "max": "64M"},
    {"name": "backup", "tier": 2, "min": "8M"},
]
PLAN = build_plan(FACTS, SERVICES)


def _shown(**bytes_by_unit):
    # systemctl show prints one block per unit, separated by a blank line.
    return "\n\n".join(f"Id={unit}\nMemoryCurrent={value}" for unit, value in bytes_by_unit.items()) + "\n"


def test_parse_reads_every_block_and_treats_unset_as_unknown():
    shown = _shown(**{"app.service": 5 * MIB, "worker.service": "[not set]", "x.service": 2**64 - 1})
    assert parse_systemctl_show(shown) == {"app.service": 5 * MIB, "worker.service": None, "x.service": None}


def test_a_unit_using_less_than_its_new_cap_passes():
    shown = _shown(**{"app.service": 96 * MIB, "worker.service": 10 * MIB})
    assert memory_max_below_usage(PLAN, shown) == []


def test_a_unit_using_more_than_its_new_cap_is_refused_naming_it():
    shown = _shown(**{"app.service": 96 * MIB + 1, "worker.service": 200 * MIB})
    refusals = memory_max_below_usage(PLAN, shown)
    assert len(refusals) == 2
    assert refusals[0].startswith("service 'app': app.service uses 96 MiB now and the plan's MemoryMax is 96M")
    assert refusals[1].startswith("service 'worker': worker.service uses 200 MiB now and the plan's MemoryMax is 64M")
    assert all("systemd_tiering_allow_memory_max_below_usage: true" in refusal for refusal in refusals)


@pytest.mark.parametrize("shown", ["", _shown(**{"app.service": "[not set]"}), _shown(**{"ssh.service": 900 * MIB})])
def test_stopped_unaccounted_and_uncapped_units_are_never_refused(shown):
    # Tier 0 and 2 have no MemoryMax; a unit with no reading (stopped, no accounting) cannot be judged.
    assert memory_max_below_usage(PLAN, shown) == []


def test_the_filter_refuses_a_non_plan_naming_itself():
    with pytest.raises(Exception, match="memory_max_below_usage: input"):
        as_filter({"nope": 1}, "")
