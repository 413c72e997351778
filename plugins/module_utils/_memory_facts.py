# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""What memory and CPU a host really has, read from a /proc and a /sys tree.

Both roots are parameters so tests (and chroots) can point at fake trees. Only a
missing/unreadable meminfo is an error; everything else degrades to None or [].

cgroup limits are read on the path of the services (PID 1's cgroup, init.scope
replaced by system.slice) up to the mount root: see services_cgroup_path.
docs/memory-facts.md explains every key.
"""

from __future__ import annotations

import math
import os
import re

KIB = 1024
MIB = 1024 * 1024
# cgroup v1 reports "no limit" as a huge page-aligned number (9223372036854771712).
CGROUP_V1_UNLIMITED = 2**62
# cgroup v1 mounts the cpu controller under one of these names depending on the distribution.
CGROUP_V1_CPU_DIRS = ("cpu", "cpu,cpuacct", "cpuacct,cpu")
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")
_BRACKETED = re.compile(r"\[(\w+)\]")
# systemd runs itself in <root>/init.scope and the services in <root>/system.slice.
PID1_SCOPE = "init.scope"
SERVICES_SLICE = "system.slice"


class MemoryFactsError(Exception):
    """The facts cannot be gathered at all (no readable meminfo)."""


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def read_meminfo(proc_root: str) -> dict[str, int]:
    """meminfo values in bytes (lines without a kB unit, like HugePages_Total, kept as counts)."""
    path = os.path.join(proc_root, "meminfo")
    text = _read_text(path)
    if text is None:
        raise MemoryFactsError(f"memory_facts: cannot read {path}; proc_root must point at a mounted /proc")
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            scale = KIB if fields[1:] == ["kB"] else 1
            values[key.strip()] = int(fields[0]) * scale
    if "MemTotal" not in values:
        raise MemoryFactsError(f"memory_facts: {path} has no MemTotal line")
    return values


def cgroup_version(sys_root: str) -> int | None:
    cgroup_root = os.path.join(sys_root, "fs", "cgroup")
    if os.path.exists(os.path.join(cgroup_root, "cgroup.controllers")):
        return 2
    if os.path.isdir(os.path.join(cgroup_root, "memory")):
        return 1
    return None


def pid1_cgroup_lines(proc_root: str) -> list[tuple[str, list[str], str]]:
    """(hierarchy id, controllers, path) of PID 1, falling back to our own process."""
    for pid in ("1", "self"):
        text = _read_text(os.path.join(proc_root, pid, "cgroup"))
        if text:
            lines = []
            for line in text.splitlines():
                parts = line.split(":", 2)
                if len(parts) == 3:
                    lines.append((parts[0], parts[1].split(",") if parts[1] else [], parts[2]))
            return lines
    return []


def cgroup_path(lines: list[tuple[str, list[str], str]], controller: str | None) -> str | None:
    """The v2 path (controller None, line `0::/path`) or the v1 path of the hierarchy holding controller."""
    for hierarchy, controllers, path in lines:
        if controller is None and hierarchy == "0" and not controllers:
            return path
        if controller is not None and controller in controllers:
            return path
    return None


def cgroup_dirs(mount_root: str, path: str) -> list[str]:
    """The cgroup directory of path and each parent up to the mount root, leaf first."""
    parts = [part for part in path.split("/") if part not in ("", ".")]
    # A path outside our cgroup namespace ("/../x") cannot be mapped: only the root is ours.
    if ".." in parts:
        parts = []
    return [os.path.join(mount_root, *parts[:depth]) for depth in range(len(parts), -1, -1)]


def _read_limit(path: str) -> int | None:
    text = _read_text(path)
    if text is None:
        return None
    value = text.strip()
    if not value.isdigit():
        return None
    limit = int(value)
    return None if limit >= CGROUP_V1_UNLIMITED else limit


def _smallest(values) -> int | None:
    present = [value for value in values if value is not None]
    return min(present) if present else None


def services_cgroup_path(path: str) -> str:
    """Where the host's services live: PID 1's cgroup without a trailing init.scope, plus /system.slice.

    systemd puts itself in <root>/init.scope and the services in <root>/system.slice, so a limit set
    on init.scope binds PID 1 only, while limits on system.slice and on every parent bind the services.
    """
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if parts and parts[-1] == PID1_SCOPE:
        parts.pop()
    return "/" + "/".join(parts + [SERVICES_SLICE])


def services_cgroup_dirs(proc_root: str, sys_root: str, controller: str) -> tuple[int | None, list[str]]:
    """(cgroup version, directories to read leaf first) for the services' cgroup.

    controller is "memory" or "cpu": on v1 it picks the hierarchy line and the mount; v2 has one of each.
    """
    cgroup_root = os.path.join(sys_root, "fs", "cgroup")
    version = cgroup_version(sys_root)
    lines = pid1_cgroup_lines(proc_root)
    if version == 2:
        path = cgroup_path(lines, None)
        mount_root = cgroup_root
    elif version == 1:
        path = cgroup_path(lines, controller)
        if controller == "memory":
            mounts = [os.path.join(cgroup_root, "memory")]
        else:
            mounts = [os.path.join(cgroup_root, name) for name in CGROUP_V1_CPU_DIRS]
        mount_root = next((m for m in mounts if os.path.isdir(m)), None)
    else:
        return version, []
    if path is None or mount_root is None:
        return version, []
    return version, cgroup_dirs(mount_root, services_cgroup_path(path))


def _smallest_in(dirs: list[str], filename: str) -> int | None:
    # "max" is not a number and so reads as no limit; missing directories and files are skipped.
    return _smallest(_read_limit(os.path.join(d, filename)) for d in dirs)


def cgroup_memory_limit(proc_root: str, sys_root: str) -> int | None:
    """The smallest memory limit that binds the services (see services_cgroup_path), None when there is none."""
    version, dirs = services_cgroup_dirs(proc_root, sys_root, "memory")
    return _smallest_in(dirs, "memory.max" if version == 2 else "memory.limit_in_bytes")


def cgroup_memory_high(proc_root: str, sys_root: str) -> int | None:
    """The smallest memory.high (v2 only) that binds the services, None on v1 or when all are max."""
    version, dirs = services_cgroup_dirs(proc_root, sys_root, "memory")
    return _smallest_in(dirs, "memory.high") if version == 2 else None


def cgroup_swap_max(proc_root: str, sys_root: str) -> int | None:
    """The smallest memory.swap.max (v2 only) that binds the services; 0 means no swap allowed."""
    version, dirs = services_cgroup_dirs(proc_root, sys_root, "memory")
    return _smallest_in(dirs, "memory.swap.max") if version == 2 else None


def _quota_cpus(quota: int, period: int) -> int | None:
    if quota <= 0 or period <= 0:
        return None
    return max(1, math.ceil(quota / period))


def _read_cpu_max_v2(directory: str) -> int | None:
    text = _read_text(os.path.join(directory, "cpu.max"))
    fields = text.split() if text else []
    if len(fields) != 2 or not fields[0].isdigit() or not fields[1].isdigit():
        return None
    return _quota_cpus(int(fields[0]), int(fields[1]))


def _read_int(path: str) -> int | None:
    text = _read_text(path)
    try:
        return int(text.strip()) if text else None
    except ValueError:
        return None


def _read_cfs_quota_v1(directory: str) -> int | None:
    quota = _read_int(os.path.join(directory, "cpu.cfs_quota_us"))
    period = _read_int(os.path.join(directory, "cpu.cfs_period_us"))
    # quota -1 means no limit.
    if quota is None or period is None:
        return None
    return _quota_cpus(quota, period)


def cgroup_cpu_limit(proc_root: str, sys_root: str) -> int | None:
    """CPUs allowed by the tightest CPU quota that binds the services (ceil), None when unlimited."""
    version, dirs = services_cgroup_dirs(proc_root, sys_root, "cpu")
    read = _read_cpu_max_v2 if version == 2 else _read_cfs_quota_v1
    return _smallest(read(d) for d in dirs)


def online_cpus(proc_root: str) -> int | None:
    """CPUs this process may run on: the affinity mask for the real /proc, else cpuinfo's count."""
    if os.path.realpath(proc_root) == "/proc" and hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    text = _read_text(os.path.join(proc_root, "cpuinfo"))
    if not text:
        return None
    count = sum(1 for line in text.splitlines() if line.split(":")[0].strip() == "processor")
    return count or None


def usable_cpus(proc_root: str, sys_root: str) -> int | None:
    online = online_cpus(proc_root)
    quota = cgroup_cpu_limit(proc_root, sys_root)
    return _smallest([online, quota])


def _unescape_swap_path(path: str) -> str:
    # /proc/swaps writes spaces, tabs and newlines in paths as octal escapes (\040).
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), path)


def read_swaps(proc_root: str) -> list[dict]:
    text = _read_text(os.path.join(proc_root, "swaps"))
    devices = []
    for line in (text or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) != 5 or not all(f.lstrip("-").isdigit() for f in fields[2:]):
            continue
        path = _unescape_swap_path(fields[0])
        devices.append(
            {
                "path": path,
                "type": "zram" if path.startswith("/dev/zram") else fields[1],
                "size_bytes": int(fields[2]) * KIB,
                "used_bytes": int(fields[3]) * KIB,
                "priority": int(fields[4]),
            }
        )
    return devices


def psi_memory_available(proc_root: str) -> bool:
    # With psi=0 on the kernel command line the file exists but reading it fails.
    return _read_text(os.path.join(proc_root, "pressure", "memory")) is not None


def min_free_bytes(proc_root: str) -> int | None:
    kbytes = _read_int(os.path.join(proc_root, "sys", "vm", "min_free_kbytes"))
    return None if kbytes is None else kbytes * KIB


def watermark_scale_factor(proc_root: str) -> int | None:
    return _read_int(os.path.join(proc_root, "sys", "vm", "watermark_scale_factor"))


def thp_enabled(sys_root: str) -> str | None:
    """The selected mode of transparent hugepages: the bracketed word of "always [madvise] never"."""
    text = _read_text(os.path.join(sys_root, "kernel", "mm", "transparent_hugepage", "enabled"))
    match = _BRACKETED.search(text or "")
    return match.group(1) if match else None


def _zram_number(name: str) -> tuple[int, str]:
    suffix = name[len("zram") :]
    return (int(suffix) if suffix.isdigit() else -1, name)


def read_zram_devices(sys_root: str) -> list[dict]:
    """One dict per initialised zram device (disksize > 0), in device number order."""
    block = os.path.join(sys_root, "block")
    try:
        names = [name for name in os.listdir(block) if name.startswith("zram")]
    except OSError:
        return []
    devices = []
    for name in sorted(names, key=_zram_number):
        disksize = _read_int(os.path.join(block, name, "disksize"))
        if not disksize or disksize <= 0:
            continue
        # mm_stat: orig_data_size compr_data_size mem_used_total mem_limit mem_used_max same_pages
        # pages_compacted huge_pages [huge_pages_since], all sizes in bytes (kernel zram.rst).
        text = _read_text(os.path.join(block, name, "mm_stat"))
        fields = (text or "").split()[:4]
        if len(fields) == 4 and all(field.isdigit() for field in fields):
            orig, compr, used, mem_limit = (int(field) for field in fields)
        else:
            orig = compr = used = mem_limit = None
        devices.append(
            {
                "name": name,
                "disksize_bytes": disksize,
                "orig_data_bytes": orig,
                "compr_data_bytes": compr,
                "mem_used_bytes": used,
                # 0 means the device may use as much memory as it likes.
                "mem_limit_bytes": mem_limit or None,
            }
        )
    return devices


def collect_memory_facts(proc_root: str = "/proc", sys_root: str = "/sys") -> dict:
    """The smallvps_memory facts dict (see the memory_facts module's RETURN)."""
    meminfo = read_meminfo(proc_root)
    memtotal = meminfo["MemTotal"]
    limit = cgroup_memory_limit(proc_root, sys_root)
    limited = limit is not None and limit < memtotal
    effective = limit if limited else memtotal
    swap_total = meminfo.get("SwapTotal", 0)
    zram_devices = read_zram_devices(sys_root)
    return {
        "memtotal_bytes": memtotal,
        "memtotal_mb": memtotal // MIB,
        "mem_available_bytes": meminfo.get("MemAvailable"),
        "cgroup_version": cgroup_version(sys_root),
        "cgroup_memory_limit_bytes": limit,
        "cgroup_memory_high_bytes": cgroup_memory_high(proc_root, sys_root),
        "cgroup_swap_max_bytes": cgroup_swap_max(proc_root, sys_root),
        "effective_memory_bytes": effective,
        "effective_memory_mb": effective // MIB,
        "memory_source": "cgroup" if limited else "meminfo",
        "swap_total_bytes": swap_total,
        "swap_total_mb": swap_total // MIB,
        "swap_devices": read_swaps(proc_root),
        "zram_devices": zram_devices,
        "zram_mem_used_bytes": sum(device["mem_used_bytes"] or 0 for device in zram_devices),
        "min_free_bytes": min_free_bytes(proc_root),
        "watermark_scale_factor": watermark_scale_factor(proc_root),
        "thp_enabled": thp_enabled(sys_root),
        "psi_memory": psi_memory_available(proc_root),
        "cpus": usable_cpus(proc_root, sys_root),
    }
