# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

import os

import pytest

from ansible_collections.smallvps.hardening.plugins.module_utils._memory_facts import (
    MemoryFactsError,
    cgroup_dirs,
    collect_memory_facts,
    online_cpus,
    read_swaps,
    read_zram_devices,
    services_cgroup_path,
)

MIB = 1024 * 1024
V1_UNLIMITED = "9223372036854771712\n"
DOCKER_ID = "3f1c2a9b7e"


def meminfo(total_kb: int = 2048 * 1024, swap_kb: int = 0, available_kb: int | None = None) -> str:
    return (
        f"MemTotal:       {total_kb} kB\n"
        "MemFree:          123456 kB\n"
        + (f"MemAvailable:   {available_kb} kB\n" if available_kb is not None else "")
        + f"SwapTotal:      {swap_kb} kB\n"
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
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(2048 * 1024),
            "proc/cpuinfo": cpuinfo(4),
            "proc/1/cgroup": "0::/machine.slice/vps.scope/init.scope\n",
            "sys/fs/cgroup/cgroup.controllers": "cpu memory pids\n",
            "sys/fs/cgroup/machine.slice/memory.max": "max\n",
            "sys/fs/cgroup/machine.slice/vps.scope/memory.max": f"{768 * MIB}\n",
            "sys/fs/cgroup/machine.slice/vps.scope/init.scope/memory.max": "max\n",
        },
    )
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_version"] == 2
    assert facts["cgroup_memory_limit_bytes"] == 768 * MIB
    assert facts["effective_memory_bytes"] == 768 * MIB
    assert facts["effective_memory_mb"] == 768
    assert facts["memory_source"] == "cgroup"
    assert facts["memtotal_bytes"] == 2048 * MIB and facts["memtotal_mb"] == 2048
    assert facts["cpus"] == 4


def test_cgroup_v2_smallest_limit_wins_and_cpu_max_quota_applies(tmp_path):
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(),
            "proc/cpuinfo": cpuinfo(8),
            "proc/1/cgroup": "0::/a/b\n",
            "sys/fs/cgroup/cgroup.controllers": "cpu memory\n",
            "sys/fs/cgroup/a/memory.max": f"{256 * MIB}\n",
            "sys/fs/cgroup/a/b/memory.max": f"{512 * MIB}\n",
            "sys/fs/cgroup/a/cpu.max": "max 100000\n",
            "sys/fs/cgroup/a/b/cpu.max": "150000 100000\n",
        },
    )
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_memory_limit_bytes"] == 256 * MIB
    assert facts["cpus"] == 2  # ceil(1.5)


def test_cgroup_v1_docker_limit_below_unlimited_root(tmp_path):
    proc, sys = make_tree(
        tmp_path,
        {
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
        },
    )
    # init.scope has no directory of its own under memory/: skipped, not an error.
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_version"] == 1
    assert facts["cgroup_memory_limit_bytes"] == 536870912
    assert facts["effective_memory_mb"] == 512
    assert facts["memory_source"] == "cgroup"
    assert facts["cpus"] == 1


def test_cgroup_v1_private_namespace_limit_at_the_mount_root(tmp_path):
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(),
            "proc/1/cgroup": f"4:memory:/docker/{DOCKER_ID}\n",
            "sys/fs/cgroup/memory/memory.limit_in_bytes": f"{300 * MIB}\n",
        },
    )
    assert collect_memory_facts(proc, sys)["cgroup_memory_limit_bytes"] == 300 * MIB


def test_cgroup_v1_cpu_quota_minus_one_is_no_limit(tmp_path):
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(),
            "proc/cpuinfo": cpuinfo(3),
            "proc/1/cgroup": "3:cpu,cpuacct:/\n4:memory:/\n",
            "sys/fs/cgroup/memory/memory.limit_in_bytes": V1_UNLIMITED,
            "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n",
            "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
        },
    )
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_memory_limit_bytes"] is None
    assert facts["cpus"] == 3


def test_no_limit_anywhere_uses_meminfo(tmp_path):
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(1024 * 1024),
            "proc/1/cgroup": "0::/init.scope\n",
            "sys/fs/cgroup/cgroup.controllers": "memory\n",
            "sys/fs/cgroup/init.scope/memory.max": "max\n",
        },
    )
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_memory_limit_bytes"] is None
    assert facts["effective_memory_bytes"] == 1024 * MIB
    assert facts["memory_source"] == "meminfo"


def test_limit_above_memtotal_keeps_meminfo_as_source(tmp_path):
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(1024 * 1024),
            "proc/1/cgroup": "0::/big\n",
            "sys/fs/cgroup/cgroup.controllers": "memory\n",
            "sys/fs/cgroup/big/memory.max": f"{4096 * MIB}\n",
        },
    )
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_memory_limit_bytes"] == 4096 * MIB
    assert facts["effective_memory_bytes"] == 1024 * MIB
    assert facts["memory_source"] == "meminfo"


def test_falls_back_to_self_cgroup_when_pid1_is_unreadable(tmp_path):
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(),
            "proc/self/cgroup": "0::/user.slice\n",
            "sys/fs/cgroup/cgroup.controllers": "memory\n",
            "sys/fs/cgroup/user.slice/memory.max": f"{128 * MIB}\n",
        },
    )
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
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(swap_kb=786432),
            "proc/swaps": (
                "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                "/swapfile                               file\t\t262144\t\t1024\t\t-2\n"
                "/dev/vda2                               partition\t262144\t\t0\t\t-3\n"
                "/dev/zram0                              partition\t262144\t\t512\t\t100\n"
                "/srv/my\\040swap                         file\t\t4\t\t0\t\t-4\n"
            ),
        },
    )
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
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(),
            "proc/pressure/memory": "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        },
    )
    assert collect_memory_facts(proc, sys)["psi_memory"] is True


def test_cgroup_dirs_walk_from_leaf_to_root():
    assert cgroup_dirs("/m", "/docker/x/init.scope") == ["/m/docker/x/init.scope", "/m/docker/x", "/m/docker", "/m"]
    assert cgroup_dirs("/m", "/") == ["/m"]
    assert cgroup_dirs("/m", "/../../outside") == ["/m"]


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or not os.path.isdir("/proc/self"), reason="needs a Linux /proc"
)
def test_real_proc_uses_the_affinity_mask():
    assert online_cpus("/proc") == len(os.sched_getaffinity(0))


# --- meminfo and vm sysctls -------------------------------------------------------------


def test_mem_available_from_meminfo(tmp_path):
    proc, sys = make_tree(tmp_path, {"proc/meminfo": meminfo(available_kb=700 * 1024)})
    assert collect_memory_facts(proc, sys)["mem_available_bytes"] == 700 * MIB


def test_mem_available_absent_is_none(tmp_path):
    # Kernels before 3.14 and some container meminfo shims have no MemAvailable line.
    proc, sys = make_tree(tmp_path, {"proc/meminfo": meminfo()})
    assert collect_memory_facts(proc, sys)["mem_available_bytes"] is None


def test_vm_watermarks_and_transparent_hugepages(tmp_path):
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(),
            "proc/sys/vm/min_free_kbytes": "45056\n",
            "proc/sys/vm/watermark_scale_factor": "125\n",
            "sys/kernel/mm/transparent_hugepage/enabled": "always [madvise] never\n",
        },
    )
    facts = collect_memory_facts(proc, sys)
    assert facts["min_free_bytes"] == 45056 * 1024
    assert facts["watermark_scale_factor"] == 125
    assert facts["thp_enabled"] == "madvise"


@pytest.mark.parametrize("mode", ["always", "never"])
def test_thp_enabled_is_the_bracketed_word(tmp_path, mode):
    words = " ".join(f"[{w}]" if w == mode else w for w in ("always", "madvise", "never"))
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(),
            "sys/kernel/mm/transparent_hugepage/enabled": words + "\n",
        },
    )
    assert collect_memory_facts(proc, sys)["thp_enabled"] == mode


def test_vm_files_missing_are_none(tmp_path):
    proc, sys = make_tree(tmp_path, {"proc/meminfo": meminfo()})
    facts = collect_memory_facts(proc, sys)
    assert facts["min_free_bytes"] is None
    assert facts["watermark_scale_factor"] is None
    assert facts["thp_enabled"] is None


def test_vm_files_unreadable_or_garbage_are_none(tmp_path):
    # Tests run as root, so chmod 000 would not stop a read; a directory in the file's place does.
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(),
            "proc/sys/vm/watermark_scale_factor": "ten\n",
            "sys/kernel/mm/transparent_hugepage/enabled": "always madvise never\n",
        },
        dirs=("proc/sys/vm/min_free_kbytes",),
    )
    facts = collect_memory_facts(proc, sys)
    assert facts["min_free_bytes"] is None
    assert facts["watermark_scale_factor"] is None
    assert facts["thp_enabled"] is None


# --- the services' cgroup: PID 1's cgroup, init.scope replaced by system.slice ------------


def test_services_cgroup_path():
    assert services_cgroup_path("/init.scope") == "/system.slice"
    assert services_cgroup_path("/") == "/system.slice"
    assert services_cgroup_path(f"/docker/{DOCKER_ID}/init.scope") == f"/docker/{DOCKER_ID}/system.slice"
    assert services_cgroup_path("/a/b") == "/a/b/system.slice"
    assert services_cgroup_path("/a/init.scope/b") == "/a/init.scope/b/system.slice"
    # Still outside our namespace: cgroup_dirs reads only the mount root for it.
    assert cgroup_dirs("/m", services_cgroup_path("/../x/init.scope")) == ["/m"]


def test_vm_v2_system_slice_limit_binds_while_root_has_none(tmp_path):
    # A VM: PID 1 in /init.scope. The cgroup root has no memory.max at all; an admin
    # capped system.slice. A limit on init.scope binds PID 1 only and is ignored.
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(2048 * 1024),
            "proc/cpuinfo": cpuinfo(4),
            "proc/1/cgroup": "0::/init.scope\n",
            "sys/fs/cgroup/cgroup.controllers": "cpu memory pids\n",
            "sys/fs/cgroup/init.scope/memory.max": f"{64 * MIB}\n",
            "sys/fs/cgroup/init.scope/cpu.max": "10000 100000\n",
            "sys/fs/cgroup/system.slice/memory.max": f"{1536 * MIB}\n",
            "sys/fs/cgroup/system.slice/cpu.max": "200000 100000\n",
            "sys/fs/cgroup/user.slice/memory.max": f"{32 * MIB}\n",
        },
    )
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_memory_limit_bytes"] == 1536 * MIB
    assert facts["effective_memory_bytes"] == 1536 * MIB
    assert facts["memory_source"] == "cgroup"
    assert facts["cpus"] == 2
    assert facts["cgroup_memory_high_bytes"] is None
    assert facts["cgroup_swap_max_bytes"] is None


def test_v2_container_host_namespace_walks_system_slice_and_parents(tmp_path):
    # docker run --cgroupns=host --memory 512m: PID 1 (systemd) in /docker/<id>/init.scope.
    base = f"sys/fs/cgroup/docker/{DOCKER_ID}"
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(8 * 1024 * 1024),
            "proc/cpuinfo": cpuinfo(8),
            "proc/1/cgroup": f"0::/docker/{DOCKER_ID}/init.scope\n",
            "sys/fs/cgroup/cgroup.controllers": "cpu memory pids\n",
            "sys/fs/cgroup/docker/memory.max": "max\n",
            f"{base}/memory.max": f"{512 * MIB}\n",
            f"{base}/memory.high": "max\n",
            f"{base}/memory.swap.max": f"{512 * MIB}\n",
            f"{base}/cpu.max": "150000 100000\n",
            f"{base}/init.scope/memory.max": f"{16 * MIB}\n",
            f"{base}/init.scope/cpu.max": "10000 100000\n",
            f"{base}/system.slice/memory.max": "max\n",
            f"{base}/system.slice/memory.high": f"{400 * MIB}\n",
            f"{base}/system.slice/memory.swap.max": "max\n",
        },
    )
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_version"] == 2
    assert facts["cgroup_memory_limit_bytes"] == 512 * MIB
    assert facts["effective_memory_mb"] == 512
    assert facts["cgroup_memory_high_bytes"] == 400 * MIB
    assert facts["cgroup_swap_max_bytes"] == 512 * MIB
    assert facts["cpus"] == 2


def test_v2_container_without_system_slice_dir_still_reads_parents(tmp_path):
    # Today's Docker layout before systemd started any service: no system.slice directory.
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(8 * 1024 * 1024),
            "proc/1/cgroup": f"0::/docker/{DOCKER_ID}/init.scope\n",
            "sys/fs/cgroup/cgroup.controllers": "memory\n",
            f"sys/fs/cgroup/docker/{DOCKER_ID}/memory.max": f"{512 * MIB}\n",
        },
    )
    assert collect_memory_facts(proc, sys)["cgroup_memory_limit_bytes"] == 512 * MIB


def test_v1_container_host_namespace_walks_system_slice_and_parents(tmp_path):
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(24 * 1024 * 1024),
            "proc/cpuinfo": cpuinfo(8),
            "proc/1/cgroup": (
                f"12:cpu,cpuacct:/docker/{DOCKER_ID}/init.scope\n"
                f"4:memory:/docker/{DOCKER_ID}/init.scope\n"
                f"1:name=systemd:/docker/{DOCKER_ID}/init.scope\n"
            ),
            "sys/fs/cgroup/memory/memory.limit_in_bytes": V1_UNLIMITED,
            "sys/fs/cgroup/memory/docker/memory.limit_in_bytes": V1_UNLIMITED,
            f"sys/fs/cgroup/memory/docker/{DOCKER_ID}/memory.limit_in_bytes": f"{1024 * MIB}\n",
            f"sys/fs/cgroup/memory/docker/{DOCKER_ID}/init.scope/memory.limit_in_bytes": f"{16 * MIB}\n",
            f"sys/fs/cgroup/memory/docker/{DOCKER_ID}/system.slice/memory.limit_in_bytes": f"{600 * MIB}\n",
            # v1 has no memory.high / memory.swap.max; files of these names would not count.
            f"sys/fs/cgroup/memory/docker/{DOCKER_ID}/system.slice/memory.high": f"{100 * MIB}\n",
            f"sys/fs/cgroup/memory/docker/{DOCKER_ID}/system.slice/memory.swap.max": "0\n",
            f"sys/fs/cgroup/cpu,cpuacct/docker/{DOCKER_ID}/cpu.cfs_quota_us": "300000\n",
            f"sys/fs/cgroup/cpu,cpuacct/docker/{DOCKER_ID}/cpu.cfs_period_us": "100000\n",
            f"sys/fs/cgroup/cpu,cpuacct/docker/{DOCKER_ID}/init.scope/cpu.cfs_quota_us": "10000\n",
            f"sys/fs/cgroup/cpu,cpuacct/docker/{DOCKER_ID}/init.scope/cpu.cfs_period_us": "100000\n",
        },
    )
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_version"] == 1
    assert facts["cgroup_memory_limit_bytes"] == 600 * MIB
    assert facts["memory_source"] == "cgroup"
    assert facts["cgroup_memory_high_bytes"] is None
    assert facts["cgroup_swap_max_bytes"] is None
    assert facts["cpus"] == 3


def test_v2_memory_high_and_swap_max_zero(tmp_path):
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(),
            "proc/1/cgroup": "0::/init.scope\n",
            "sys/fs/cgroup/cgroup.controllers": "memory\n",
            "sys/fs/cgroup/init.scope/memory.swap.max": f"{64 * MIB}\n",
            "sys/fs/cgroup/system.slice/memory.max": "max\n",
            "sys/fs/cgroup/system.slice/memory.high": f"{900 * MIB}\n",
            # 0 is a real limit: the services may not swap at all.
            "sys/fs/cgroup/system.slice/memory.swap.max": "0\n",
        },
    )
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_memory_limit_bytes"] is None
    assert facts["cgroup_memory_high_bytes"] == 900 * MIB
    assert facts["cgroup_swap_max_bytes"] == 0


def test_v2_memory_high_and_swap_max_all_max_are_none(tmp_path):
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(),
            "proc/1/cgroup": "0::/init.scope\n",
            "sys/fs/cgroup/cgroup.controllers": "memory\n",
            "sys/fs/cgroup/system.slice/memory.high": "max\n",
            "sys/fs/cgroup/system.slice/memory.swap.max": "max\n",
        },
    )
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_memory_high_bytes"] is None
    assert facts["cgroup_swap_max_bytes"] is None


def test_unreadable_cgroup_files_are_skipped(tmp_path):
    # system.slice's files cannot be read (directories in their place): the parents still count.
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(),
            "proc/cpuinfo": cpuinfo(4),
            "proc/1/cgroup": f"0::/docker/{DOCKER_ID}/init.scope\n",
            "sys/fs/cgroup/cgroup.controllers": "cpu memory\n",
            f"sys/fs/cgroup/docker/{DOCKER_ID}/memory.max": f"{512 * MIB}\n",
            f"sys/fs/cgroup/docker/{DOCKER_ID}/memory.high": f"{480 * MIB}\n",
            f"sys/fs/cgroup/docker/{DOCKER_ID}/memory.swap.max": "garbage\n",
        },
        dirs=tuple(
            f"sys/fs/cgroup/docker/{DOCKER_ID}/system.slice/{name}"
            for name in ("memory.max", "memory.high", "memory.swap.max", "cpu.max")
        ),
    )
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_memory_limit_bytes"] == 512 * MIB
    assert facts["cgroup_memory_high_bytes"] == 480 * MIB
    assert facts["cgroup_swap_max_bytes"] is None
    assert facts["cpus"] == 4


def test_no_cgroup_filesystem_gives_no_high_or_swap_limit(tmp_path):
    proc, sys = make_tree(tmp_path, {"proc/meminfo": meminfo()})
    facts = collect_memory_facts(proc, sys)
    assert facts["cgroup_memory_high_bytes"] is None
    assert facts["cgroup_swap_max_bytes"] is None


# --- zram -------------------------------------------------------------------------------


def mm_stat(orig: int, compr: int, used: int, limit: int) -> str:
    # orig_data_size compr_data_size mem_used_total mem_limit mem_used_max same_pages pages_compacted
    # huge_pages huge_pages_since
    return f"{orig:>9} {compr:>9} {used:>9} {limit:>9} {used + 4096:>9}      12        0        3        5\n"


def test_zram_devices_with_and_without_mem_limit(tmp_path):
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(),
            "sys/block/zram0/disksize": f"{512 * MIB}\n",
            "sys/block/zram0/mm_stat": mm_stat(40 * MIB, 10 * MIB, 11 * MIB, 0),
            "sys/block/zram1/disksize": f"{256 * MIB}\n",
            "sys/block/zram1/mm_stat": mm_stat(8 * MIB, 2 * MIB, 3 * MIB, 128 * MIB),
            # Not set up: disksize 0, left out.
            "sys/block/zram2/disksize": "0\n",
            "sys/block/zram2/mm_stat": mm_stat(0, 0, 0, 0),
            "sys/block/vda/size": "41943040\n",
        },
    )
    facts = collect_memory_facts(proc, sys)
    assert facts["zram_devices"] == [
        {
            "name": "zram0",
            "disksize_bytes": 512 * MIB,
            "orig_data_bytes": 40 * MIB,
            "compr_data_bytes": 10 * MIB,
            "mem_used_bytes": 11 * MIB,
            "mem_limit_bytes": None,
        },
        {
            "name": "zram1",
            "disksize_bytes": 256 * MIB,
            "orig_data_bytes": 8 * MIB,
            "compr_data_bytes": 2 * MIB,
            "mem_used_bytes": 3 * MIB,
            "mem_limit_bytes": 128 * MIB,
        },
    ]
    assert facts["zram_mem_used_bytes"] == 14 * MIB


def test_zram_devices_in_number_order(tmp_path):
    files = {}
    for number in (10, 2):
        files[f"sys/block/zram{number}/disksize"] = f"{MIB}\n"
        files[f"sys/block/zram{number}/mm_stat"] = mm_stat(0, 0, number, 0)
    _, sys = make_tree(tmp_path, files)
    assert [device["name"] for device in read_zram_devices(sys)] == ["zram2", "zram10"]


def test_zram_unreadable_mm_stat_gives_none_sizes(tmp_path):
    proc, sys = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(),
            "sys/block/zram0/disksize": f"{64 * MIB}\n",
            "sys/block/zram1/disksize": f"{MIB}\n",
            "sys/block/zram1/mm_stat": mm_stat(0, 0, 4096, 0),
        },
        dirs=("sys/block/zram0/mm_stat", "sys/block/zram3/disksize"),
    )
    facts = collect_memory_facts(proc, sys)
    assert facts["zram_devices"][0] == {
        "name": "zram0",
        "disksize_bytes": 64 * MIB,
        "orig_data_bytes": None,
        "compr_data_bytes": None,
        "mem_used_bytes": None,
        "mem_limit_bytes": None,
    }
    # zram3's disksize cannot be read: not known to be set up, left out.
    assert [device["name"] for device in facts["zram_devices"]] == ["zram0", "zram1"]
    assert facts["zram_mem_used_bytes"] == 4096


def test_no_zram_devices(tmp_path):
    proc, sys = make_tree(tmp_path, {"proc/meminfo": meminfo(), "sys/block/vda/size": "1\n"})
    facts = collect_memory_facts(proc, sys)
    assert facts["zram_devices"] == []
    assert facts["zram_mem_used_bytes"] == 0
