# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""normalize_facts: the three accepted fact forms, and facts that contradict themselves."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_host import (
    ANSIBLE_FACTS_WARNING,
    MemoryBudgetError,
    normalize_facts,
)

MIB = 1024 * 1024
MODULE_FACTS = {
    "effective_memory_bytes": 512 * MIB,
    "memtotal_bytes": 1024 * MIB,
    "cgroup_memory_limit_bytes": 512 * MIB,
    "memory_source": "cgroup",
    "swap_total_bytes": 256 * MIB,
    "cpus": 2,
}


def refusal(facts) -> str:
    with pytest.raises(MemoryBudgetError) as caught:
        normalize_facts(facts)
    message = str(caught.value)
    assert message.startswith("memory_plan: facts: "), message
    return message


def test_module_form():
    host = normalize_facts(MODULE_FACTS)
    assert (host.effective_bytes, host.memtotal_bytes, host.cgroup_limit_bytes) == (512 * MIB, 1024 * MIB, 512 * MIB)
    assert (host.swap_total_bytes, host.cpus, host.source, host.warnings) == (256 * MIB, 2, "cgroup", ())
    assert host.effective_mb == 512
    assert (host.min_free_bytes, host.watermark_scale_factor) == (None, None)


def test_module_form_minimal():
    host = normalize_facts({"effective_memory_bytes": 1024 * MIB})
    assert (host.memtotal_bytes, host.cgroup_limit_bytes, host.swap_total_bytes, host.cpus) == (
        1024 * MIB,
        None,
        0,
        None,
    )
    assert host.source == "meminfo"


def test_source_follows_the_limit_when_not_given():
    below = {"effective_memory_bytes": 512 * MIB, "memtotal_bytes": 1024 * MIB, "cgroup_memory_limit_bytes": 512 * MIB}
    assert normalize_facts(below).source == "cgroup"
    equal = {
        "effective_memory_bytes": 1024 * MIB,
        "memtotal_bytes": 1024 * MIB,
        "cgroup_memory_limit_bytes": 1024 * MIB,
    }
    assert normalize_facts(equal).source == "meminfo"
    above = {
        "effective_memory_bytes": 1024 * MIB,
        "memtotal_bytes": 1024 * MIB,
        "cgroup_memory_limit_bytes": 4096 * MIB,
    }
    assert normalize_facts(above).source == "meminfo"


def test_kernel_watermark_facts_are_kept():
    host = normalize_facts(
        {"effective_memory_bytes": 1024 * MIB, "min_free_bytes": 16 * MIB, "watermark_scale_factor": 100}
    )
    assert (host.min_free_bytes, host.watermark_scale_factor) == (16 * MIB, 100)


def test_smallvps_memory_inside_ansible_facts_wins_over_memtotal_mb():
    host = normalize_facts({"smallvps_memory": MODULE_FACTS, "memtotal_mb": 4096, "processor_vcpus": 8})
    assert host == normalize_facts(MODULE_FACTS)


def test_plain_ansible_facts():
    host = normalize_facts({"memtotal_mb": 2048, "swaptotal_mb": 512, "processor_nproc": 2})
    assert (host.effective_bytes, host.memtotal_bytes, host.cgroup_limit_bytes) == (2048 * MIB, 2048 * MIB, None)
    assert (host.swap_total_bytes, host.cpus, host.source) == (512 * MIB, 2, "ansible_facts")
    assert host.warnings == (ANSIBLE_FACTS_WARNING,)
    assert "smallvps.hardening.memory_facts" in ANSIBLE_FACTS_WARNING and "cgroup" in ANSIBLE_FACTS_WARNING
    assert normalize_facts({"memtotal_mb": 2048, "processor_vcpus": 4, "processor_nproc": 2}).cpus == 4
    assert normalize_facts({"memtotal_mb": 2048}).cpus is None


def test_effective_memory_not_whole_mib_is_floored():
    host = normalize_facts({"effective_memory_bytes": 1024 * MIB - 1})
    assert host.effective_mb == 1023 and host.effective_bytes == 1024 * MIB - 1


@pytest.mark.parametrize(
    ("facts", "fragment"),
    [
        ("1024", "input is a string"),
        (None, "input is empty (null)"),
        ({}, "none of effective_memory_bytes"),
        ({"memory": 1}, "none of effective_memory_bytes"),
        ({"effective_memory_bytes": "1G"}, "key 'effective_memory_bytes'"),
        ({"effective_memory_bytes": 0}, "key 'effective_memory_bytes'"),
        ({"effective_memory_bytes": True}, "key 'effective_memory_bytes'"),
        ({"effective_memory_bytes": None}, "key 'effective_memory_bytes'"),
        ({"effective_memory_bytes": MIB, "cgroup_memory_limit_bytes": 0}, "key 'cgroup_memory_limit_bytes'"),
        ({"effective_memory_bytes": MIB, "cpus": 0}, "key 'cpus'"),
        ({"effective_memory_bytes": MIB, "min_free_bytes": -1}, "key 'min_free_bytes'"),
        ({"effective_memory_bytes": MIB, "watermark_scale_factor": "10"}, "key 'watermark_scale_factor'"),
        ({"effective_memory_bytes": MIB, "swap_total_bytes": -1}, "key 'swap_total_bytes'"),
        ({"memtotal_mb": True}, "key 'memtotal_mb'"),
        ({"memtotal_mb": 0}, "key 'memtotal_mb'"),
        ({"memtotal_mb": 512, "processor_vcpus": 0}, "key 'processor_vcpus'"),
        ({"memtotal_mb": 512, "swaptotal_mb": "0"}, "key 'swaptotal_mb'"),
    ],
)
def test_bad_facts_are_refused(facts, fragment):
    assert fragment in refusal(facts)


def test_effective_memory_above_its_own_cgroup_limit_is_refused():
    message = refusal(
        {"effective_memory_bytes": 1024 * MIB, "memtotal_bytes": 2048 * MIB, "cgroup_memory_limit_bytes": 512 * MIB}
    )
    assert "key 'effective_memory_bytes' is 1073741824, above cgroup_memory_limit_bytes 536870912" in message
    assert "min(memtotal_bytes, cgroup_memory_limit_bytes)" in message


def test_effective_memory_above_memtotal_is_refused():
    message = refusal({"effective_memory_bytes": 2048 * MIB, "memtotal_bytes": 1024 * MIB})
    assert "key 'effective_memory_bytes' is 2147483648, above memtotal_bytes 1073741824" in message


def test_nested_contradicting_facts_are_refused_too():
    bad = dict(MODULE_FACTS, effective_memory_bytes=512 * MIB + 1)
    assert "above cgroup_memory_limit_bytes" in refusal({"smallvps_memory": bad, "memtotal_mb": 4096})


def test_facts_are_not_mutated():
    facts = {"smallvps_memory": dict(MODULE_FACTS), "memtotal_mb": 4096}
    before = copy.deepcopy(facts)
    normalize_facts(facts)
    assert facts == before
