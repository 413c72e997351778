"""What a real kernel shows after converge: Debian 12 in QEMU (molecule/vm).

The guest runs under TCG, where every ssh login costs 2-3 s and every Ansible module about
5.5 s: the kernel's view is read with one command, memory_facts runs once.
"""

import json
from pathlib import Path

import pytest
import yaml

SWAPFILE = "/swapfile"
CONVERGE = yaml.safe_load((Path(__file__).resolve().parents[1] / "converge.yml").read_text())
PLANNED = CONVERGE[0]["vars"]


@pytest.fixture(scope="module")
def kernel(host):
    """The cgroup filesystem's type and /proc/swaps, from one login."""
    fstype, swaps = host.check_output("stat -fc %T /sys/fs/cgroup && echo --- && cat /proc/swaps").split("---", 1)
    return {"cgroup_fs": fstype.strip(), "swaps": swaps.strip().splitlines()}


def test_the_kernel_runs_cgroup_v2(kernel):
    assert kernel["cgroup_fs"] == "cgroup2fs"


def test_the_swap_file_is_on_with_the_planned_size_and_priority(kernel):
    lines = [line.split() for line in kernel["swaps"][1:]]
    devices = {path: (kind, int(size_kib), int(priority)) for path, kind, size_kib, _used, priority in lines}
    # The first page holds the swap header.
    planned = ("file", PLANNED["swap_file_size_mb"] * 1024 - 4, PLANNED["swap_file_priority"])
    assert devices.get(SWAPFILE) == planned, kernel["swaps"]


def test_memory_facts_reports_cgroup_v2(host):
    result = host.ansible("smallvps.hardening.memory_facts", check=False)
    assert result["ansible_facts"]["smallvps_memory"]["cgroup_version"] == 2, result


# smallvps-hog, tier 1 with min = max = 64M: its MemoryMax.
HOG_MEMORY_MAX_MIB = 64
RESTART_SEC = 3


def test_a_leak_is_killed_at_memory_max_and_does_not_escape_into_swap(host, kernel):
    """The promise on a real kernel: with a swap file on, the leaking tier-1 unit is OOM-killed at its
    MemoryMax (MemorySwapMax=0 from the plan) and serves again within RestartSec + 2 s. Without
    MemorySwapMax it would swap and grow past 64 MiB before any kill."""
    assert any(line.startswith(SWAPFILE) for line in kernel["swaps"]), kernel["swaps"]
    props = host.check_output("systemctl show -p MemoryMax,MemorySwapMax,MemoryHigh smallvps-hog.service")
    expected = {"MemoryMax": str(HOG_MEMORY_MAX_MIB * 1024 * 1024), "MemorySwapMax": "0", "MemoryHigh": "infinity"}
    assert dict(line.split("=", 1) for line in props.splitlines()) == expected
    drill = json.loads(host.check_output("smallvps-oom-drill unit 3"))
    assert drill["restarts"] == 3, drill
    for round_result in drill["rounds"]:
        assert round_result["exit"] == "2/9", round_result
        assert round_result["kernel_oom_kills"] >= 1, round_result
        assert round_result["allocated_mib_when_killed"] <= HOG_MEMORY_MAX_MIB, round_result
        assert round_result["seconds_to_recover"] <= RESTART_SEC + 2, round_result
