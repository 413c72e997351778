# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

import os

import pytest

from ansible_collections.smallvps.hardening.plugins.module_utils.memory_facts import (
    MemoryFactsError,
    cgroup_dirs,
    collect_memory_facts,
    online_cpus,
    read_swaps,
)

MIB = 1024 * 1024
V1_UNLIMITED = "9223372036854771712\n"
DOCKER_ID = "3f1c2a9b7e"


def meminfo(total_kb: int = 2048 * 1024, swap_kb: int = 0) -> str:
    return (
        f"MemTotal:       {total_kb} kB\n"
        "MemFree:          123456 kB\n"
        f"SwapTotal:      {swap_kb} kB\n"
        "HugePages_Total:       0\n"
    )


def cpuinfo(count: int) -> str:
    return "".join(f"processor\t: {i}\nmodel name\t: Fake CPU\n\n" for i in range(count))


def make_tree(root, files: dict[str, str], dirs: tuple[str, ...] = ()) -> tuple[str, str]:
    """Write files (paths relative to root) and return (proc_root, sys_root)."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    for relative in dirs:
        (root / relative).mkdir(parents=True, exist_ok=True)
    (root / "proc").mkdir(exist_ok=True)
    (root / "sys").mkdir(exist_ok=True)
    return str(root / "proc"), str(root / "sys")


def test_cgroup_v2_limit_at_a_parent_level(tmp_path):
    proc, sys = make_tree(tmp_path, {
        "proc/meminfo": meminfo(2048 * 1024),
        "proc/cpuinfo": cpuinfo(4),
        "proc/1/cgroup": "0::/machine.slice/vps.scope/init.scope\n",
        "sys/fs/cgroup/cgroup.controllers": "cpu memory pids\n",
        "sys/fs/cgroup/machine.slice/memory.max": "max\n",
        "sys/fs/cgroup/machine.slice/vps.scope/memory.max": f"{768 * MIB}\n",
        "sys/fs/cgroup/machine.slice/vps.scope/init.scope/memory.max": "max\n",
    })
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_version"] == 2
    assert facts["cgroup_memory_limit_bytes"] == 768 * MIB
    assert facts["effective_memory_bytes"] == 768 * MIB
    assert facts["effective_memory_mb"] == 768
    assert facts["memory_source"] == "cgroup"
    assert facts["memtotal_bytes"] == 2048 * MIB and facts["memtotal_mb"] == 2048
    assert facts["cpus"] == 4


def test_cgroup_v2_smallest_limit_wins_and_cpu_max_quota_applies(tmp_path):
    proc, sys = make_tree(tmp_path, {
        "proc/meminfo": meminfo(),
        "proc/cpuinfo": cpuinfo(8),
        "proc/1/cgroup": "0::/a/b\n",
        "sys/fs/cgroup/cgroup.controllers": "cpu memory\n",
        "sys/fs/cgroup/a/memory.max": f"{256 * MIB}\n",
        "sys/fs/cgroup/a/b/memory.max": f"{512 * MIB}\n",
        "sys/fs/cgroup/a/cpu.max": "max 100000\n",
        "sys/fs/cgroup/a/b/cpu.max": "150000 100000\n",
    })
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_memory_limit_bytes"] == 256 * MIB
    assert facts["cpus"] == 2  # ceil(1.5)


def test_cgroup_v1_docker_limit_below_unlimited_root(tmp_path):
    proc, sys = make_tree(tmp_path, {
        "proc/meminfo": meminfo(24 * 1024 * 1024),
        "proc/cpuinfo": cpuinfo(2),
        "proc/1/cgroup": (
            f"12:cpu,cpuacct:/docker/{DOCKER_ID}/init.scope\n"
            f"4:memory:/docker/{DOCKER_ID}/init.scope\n"
            f"1:name=systemd:/docker/{DOCKER_ID}/init.scope\n"
        ),
        "sys/fs/cgroup/memory/memory.limit_in_bytes": V1_UNLIMITED,
        f"sys/fs/cgroup/memory/docker/{DOCKER_ID}/memory.limit_in_bytes": "536870912\n",
        "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
        "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
        f"sys/fs/cgroup/cpu,cpuacct/docker/{DOCKER_ID}/cpu.cfs_quota_us": "50000\n",
        f"sys/fs/cgroup/cpu,cpuacct/docker/{DOCKER_ID}/cpu.cfs_period_us": "100000\n",
    })
    # init.scope has no directory of its own under memory/: skipped, not an error.
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_version"] == 1
    assert facts["cgroup_memory_limit_bytes"] == 536870912
    assert facts["effective_memory_mb"] == 512
    assert facts["memory_source"] == "cgroup"
    assert facts["cpus"] == 1


def test_cgroup_v1_private_namespace_limit_at_the_mount_root(tmp_path):
    proc, sys = make_tree(tmp_path, {
        "proc/meminfo": meminfo(),
        "proc/1/cgroup": f"4:memory:/docker/{DOCKER_ID}\n",
        "sys/fs/cgroup/memory/memory.limit_in_bytes": f"{300 * MIB}\n",
    })
    assert collect_memory_facts(proc, sys)["cgroup_memory_limit_bytes"] == 300 * MIB


def test_cgroup_v1_cpu_quota_minus_one_is_no_limit(tmp_path):
    proc, sys = make_tree(tmp_path, {
        "proc/meminfo": meminfo(),
        "proc/cpuinfo": cpuinfo(3),
        "proc/1/cgroup": "3:cpu,cpuacct:/\n4:memory:/\n",
        "sys/fs/cgroup/memory/memory.limit_in_bytes": V1_UNLIMITED,
        "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n",
        "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
    })
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_memory_limit_bytes"] is None
    assert facts["cpus"] == 3


def test_no_limit_anywhere_uses_meminfo(tmp_path):
    proc, sys = make_tree(tmp_path, {
        "proc/meminfo": meminfo(1024 * 1024),
        "proc/1/cgroup": "0::/init.scope\n",
        "sys/fs/cgroup/cgroup.controllers": "memory\n",
        "sys/fs/cgroup/init.scope/memory.max": "max\n",
    })
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_memory_limit_bytes"] is None
    assert facts["effective_memory_bytes"] == 1024 * MIB
    assert facts["memory_source"] == "meminfo"


def test_limit_above_memtotal_keeps_meminfo_as_source(tmp_path):
    proc, sys = make_tree(tmp_path, {
        "proc/meminfo": meminfo(1024 * 1024),
        "proc/1/cgroup": "0::/big\n",
        "sys/fs/cgroup/cgroup.controllers": "memory\n",
        "sys/fs/cgroup/big/memory.max": f"{4096 * MIB}\n",
    })
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_memory_limit_bytes"] == 4096 * MIB
    assert facts["effective_memory_bytes"] == 1024 * MIB
    assert facts["memory_source"] == "meminfo"


def test_falls_back_to_self_cgroup_when_pid1_is_unreadable(tmp_path):
    proc, sys = make_tree(tmp_path, {
        "proc/meminfo": meminfo(),
        "proc/self/cgroup": "0::/user.slice\n",
        "sys/fs/cgroup/cgroup.controllers": "memory\n",
        "sys/fs/cgroup/user.slice/memory.max": f"{128 * MIB}\n",
    })
    assert collect_memory_facts(proc, sys)["cgroup_memory_limit_bytes"] == 128 * MIB


def test_no_cgroup_filesystem_and_no_optional_files(tmp_path):
    proc, sys = make_tree(tmp_path, {"proc/meminfo": meminfo(512 * 1024 + 100)})
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_version"] is None
    assert facts["cgroup_memory_limit_bytes"] is None
    assert facts["memtotal_bytes"] == (512 * 1024 + 100) * 1024
    assert facts["memtotal_mb"] == 512
    assert facts["swap_devices"] == []
    assert facts["psi_memory"] is False
    assert facts["cpus"] is None


def test_missing_meminfo_is_an_error(tmp_path):
    proc, sys = make_tree(tmp_path, {})
    with pytest.raises(MemoryFactsError, match="cannot read .*meminfo"):
        collect_memory_facts(proc, sys)


def test_meminfo_without_memtotal_is_an_error(tmp_path):
    proc, sys = make_tree(tmp_path, {"proc/meminfo": "MemFree: 1 kB\n"})
    with pytest.raises(MemoryFactsError, match="no MemTotal"):
        collect_memory_facts(proc, sys)


def test_swaps_file_partition_zram(tmp_path):
    proc, sys = make_tree(tmp_path, {
        "proc/meminfo": meminfo(swap_kb=786432),
        "proc/swaps": (
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
            "/swapfile                               file\t\t262144\t\t1024\t\t-2\n"
            "/dev/vda2                               partition\t262144\t\t0\t\t-3\n"
            "/dev/zram0                              partition\t262144\t\t512\t\t100\n"
            "/srv/my\\040swap                         file\t\t4\t\t0\t\t-4\n"
        ),
    })
    facts = collect_memory_facts(proc, sys)
    assert facts["swap_total_bytes"] == 768 * MIB and facts["swap_total_mb"] == 768
    assert facts["swap_devices"] == [
        {"path": "/swapfile", "type": "file", "size_bytes": 256 * MIB, "used_bytes": 1024 * 1024, "priority": -2},
        {"path": "/dev/vda2", "type": "partition", "size_bytes": 256 * MIB, "used_bytes": 0, "priority": -3},
        {"path": "/dev/zram0", "type": "zram", "size_bytes": 256 * MIB, "used_bytes": 512 * 1024, "priority": 100},
        {"path": "/srv/my swap", "type": "file", "size_bytes": 4096, "used_bytes": 0, "priority": -4},
    ]


def test_garbage_swaps_lines_are_skipped(tmp_path):
    proc, _ = make_tree(tmp_path, {"proc/swaps": "Filename Type Size Used Priority\nnonsense\n/x file a b c\n"})
    assert read_swaps(proc) == []


def test_psi_memory_present(tmp_path):
    proc, sys = make_tree(tmp_path, {
        "proc/meminfo": meminfo(),
        "proc/pressure/memory": "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    })
    assert collect_memory_facts(proc, sys)["psi_memory"] is True


def test_cgroup_dirs_walk_from_leaf_to_root():
    assert cgroup_dirs("/m", "/docker/x/init.scope") == ["/m/docker/x/init.scope", "/m/docker/x", "/m/docker", "/m"]
    assert cgroup_dirs("/m", "/") == ["/m"]
    assert cgroup_dirs("/m", "/../../outside") == ["/m"]


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or not os.path.isdir("/proc/self"), reason="needs a Linux /proc")
def test_real_proc_uses_the_affinity_mask():
    assert online_cpus("/proc") == len(os.sched_getaffinity(0))
