"""What a real kernel shows after converge: Debian 12 in QEMU (molecule/vm).

The guest runs under TCG, where every ssh login costs 2-3 s and every Ansible module about
5.5 s: the kernel's view is read with one command, memory_facts runs once.
"""

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
