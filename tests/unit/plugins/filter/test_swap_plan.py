"""The swap_plan filter as Ansible calls it: found by name, errors as AnsibleFilterError."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smallvps.hardening.plugins.filter.swap_plan import FilterModule
from ansible_collections.smallvps.hardening.plugins.plugin_utils._swap_sizing import MIB

swap_plan = FilterModule().filters()["swap_plan"]
FACTS = {"effective_memory_mb": 1024, "mem_available_bytes": 512 * MIB, "swap_devices": []}


def test_filter_returns_the_plan():
    plan = swap_plan(FACTS, backend="zram")
    assert plan["zram"] == {"size_mb": 512, "ram_mb": 257}
    assert plan["swappiness"] == 100
    assert plan["file"] == {"action": "absent", "priority_wrong": False}


def test_filter_passes_the_role_variables_by_name():
    plan = swap_plan(
        FACTS, file_size_mb=300, file_avail_bytes=4096 * MIB, file_min_free_disk_mb=100, swappiness=30, zram_size_mb=64
    )
    assert (plan["file"]["action"], plan["file"]["size_mb"]) == ("create", 300)
    assert plan["swappiness"] == 30
    assert plan["zram"]["size_mb"] == 64


def test_filter_reports_bad_input_as_a_filter_error_with_the_message():
    with pytest.raises(AnsibleFilterError, match="swap_backend must be one of file, zram, both, got 'disk'"):
        swap_plan(FACTS, backend="disk")
