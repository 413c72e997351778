# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Swap sizing for a small VPS: every swap number in the collection, computed once.

Pure Python, no I/O. The swap role reads these numbers and decisions through the
smallvps.hardening.swap_plan filter, and the memory planner imports the zram figures, so no
template repeats any of this arithmetic. docs/swap.md explains every constant below.
"""

from __future__ import annotations

import math
from fractions import Fraction

from ._variable_checks import kind

MIB = 1024 * 1024

DEFAULT_BACKEND = "file"
BACKENDS = ("file", "zram", "both")
FILE_BACKENDS = ("file", "both")
ZRAM_BACKENDS = ("zram", "both")

# The automatic swap file size, by effective memory (RAM, or the cgroup limit when smaller).
AUTO_FILE_SMALL_MB = 1024  # up to here: 1 x RAM
AUTO_FILE_MEDIUM_MB = 4096  # up to here: RAM / 2, at least AUTO_FILE_MEDIUM_MIN_MB
AUTO_FILE_MEDIUM_MIN_MB = 1024
AUTO_FILE_LARGE_MB = 2048  # above AUTO_FILE_MEDIUM_MB
# Below this an automatic file is refused as "no room": it would not hold anything useful.
MIN_FILE_MB = 16

# An existing automatic file smaller than the automatic size is only grown (recreated: swapoff,
# delete, dd) when that gains at least this much: a quarter of a dd of the whole file for a few
# MiB of swap is not worth it, and the free disk moves by a few MiB between any two runs.
GROW_MIN_GAIN_MB = 64
GROW_MIN_GAIN_FRACTION = Fraction(1, 8)  # of the automatic size

# zram-generator's own default expression, min(ram / 2, 4096), as numbers.
ZRAM_AUTO_FRACTION = Fraction(1, 2)
ZRAM_AUTO_MAX_MB = 4096
# RAM a full zram device takes: its data compressed at 2:1, the ratio the kernel's
# Documentation/admin-guide/blockdev/zram.rst says to expect. zstd typically reaches 3-4:1 on
# anonymous memory; 2:1 also covers lz4/lzo-rle and data that compresses badly.
ZRAM_ASSUMED_COMPRESSION_RATIO = 2
# Plus zram's own metadata (its per-page table), "about 0.1% of the size of the disk" (same
# document).
ZRAM_METADATA_FRACTION = Fraction(1, 1000)

# vm.swappiness by kind. The kernel's Documentation/admin-guide/sysctl/vm.rst defines it as the
# relative IO cost of swap against filesystem paging (0..200, 100 = equal cost) and says "for
# in-memory swap, like zram or zswap, ... values beyond 100 can be considered".
SWAPPINESS_FILE = 10  # a network disk: swap costs far more than dropping page cache
SWAPPINESS_ZRAM = 100  # compressed RAM first: swap-in costs no more than re-reading a file
SWAPPINESS_BY_BACKEND = {"file": SWAPPINESS_FILE, "zram": SWAPPINESS_ZRAM, "both": SWAPPINESS_ZRAM}
SWAPPINESS_RANGE = (0, 200)

# swapoff reads every used swap page back into RAM. It is refused unless the used swap fits in
# MemAvailable minus this margin, which keeps room for the page cache of the running programs
# and for allocations made while swapoff runs (MemAvailable is an estimate that counts page cache
# the kernel would have to drop).
SWAPOFF_MARGIN_MB = 128


class SwapSizingError(ValueError):
    """Bad input: the message names the value and what is allowed."""


def _int(name: str, value, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        else:
            raise SwapSizingError(f"swap: {name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise SwapSizingError(f"swap: {name} must be an integer >= {minimum}, got {value!r}")
    return value


def auto_file_size_mb(effective_mb: int) -> int:
    """The automatic swap file size in MiB for `effective_mb` MiB of memory.

    <= 1 GiB: 1 x RAM; <= 4 GiB: RAM / 2 but at least 1 GiB; above: 2 GiB.
    """
    effective_mb = _int("effective_memory_mb", effective_mb)
    if effective_mb <= AUTO_FILE_SMALL_MB:
        return effective_mb
    if effective_mb <= AUTO_FILE_MEDIUM_MB:
        return max(effective_mb // 2, AUTO_FILE_MEDIUM_MIN_MB)
    return AUTO_FILE_LARGE_MB


def zram_size_mb(effective_mb: int, requested_mb: int = 0) -> int:
    """The zram device's disksize in MiB: `requested_mb`, or with 0 min(effective / 2, 4096)."""
    effective_mb = _int("effective_memory_mb", effective_mb)
    requested_mb = _int("swap_zram_size_mb", requested_mb)
    if requested_mb:
        return requested_mb
    return min(math.floor(effective_mb * ZRAM_AUTO_FRACTION), ZRAM_AUTO_MAX_MB)


def zram_ram_mb(size_mb: int) -> int:
    """The most RAM (MiB, rounded up) a full zram device of `size_mb` MiB takes: its compressed
    pages at ZRAM_ASSUMED_COMPRESSION_RATIO plus zram's metadata. 0 for no device."""
    size_mb = _int("zram size_mb", size_mb)
    return math.ceil(Fraction(size_mb, ZRAM_ASSUMED_COMPRESSION_RATIO) + size_mb * ZRAM_METADATA_FRACTION)


def swappiness(backend: str, requested: int | None = None) -> int:
    """vm.swappiness: `requested` when given, else by kind (SWAPPINESS_BY_BACKEND)."""
    if backend not in BACKENDS:
        raise SwapSizingError(f"swap: swap_backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if requested is None:
        return SWAPPINESS_BY_BACKEND[backend]
    low, high = SWAPPINESS_RANGE
    if isinstance(requested, bool) or not isinstance(requested, int) or not low <= requested <= high:
        raise SwapSizingError(f"swap: swap_vm_swappiness must be null or an integer {low}..{high}, got {requested!r}")
    return requested


def grow_min_gain_mb(desired_mb: int) -> int:
    """The least an automatic file must grow by to be recreated (see GROW_MIN_GAIN_MB)."""
    return max(GROW_MIN_GAIN_MB, math.ceil(desired_mb * GROW_MIN_GAIN_FRACTION))


def file_decision(
    desired_mb: int,
    explicit: bool,
    current_bytes: int | None,
    avail_bytes: int,
    min_free_disk_mb: int,
    *,
    path: str = "the swap file",
    fstype: str = "",
    directory: str = "",
) -> dict:
    """What to do with the swap file: keep, create, recreate, or refuse (nothing changes).

    `desired_mb` is swap_file_size_mb when `explicit`, else the automatic size;
    `current_bytes` the existing file's size (None: no file); `avail_bytes` the free bytes of its
    filesystem; `min_free_disk_mb` what must stay free once the file exists. The file's own space
    counts as free when it is replaced.

    Explicit size: a file of that size is kept whatever the disk says; otherwise it is created or
    recreated when it fits, and refused when it does not.
    Automatic size (the hysteresis, so free-disk drift never recreates the file):
      - no file: create min(desired, room); refuse below MIN_FILE_MB;
      - a file of the desired size, or smaller and growing it would gain less than
        grow_min_gain_mb(desired) (or the disk has no room for that gain): keep;
      - a file larger than desired: recreate at min(desired, room), since that only frees disk;
      - a file smaller than MIN_FILE_MB is treated as no file.

    Returns {action, size_mb, desired_mb, current_mb, room_mb, lowered, message}; `size_mb` is the
    file's size after the run, `message` says why a size was lowered or why the run is refused.
    """
    desired_mb = _int("swap_file_size_mb" if explicit else "automatic swap size", desired_mb, 1 if explicit else 0)
    avail_bytes = _int("free disk bytes", avail_bytes)
    min_free_disk_mb = _int("swap_file_min_free_disk_mb", min_free_disk_mb)
    if current_bytes is not None:
        current_bytes = _int("current swap file size", current_bytes)
    current_mb = None if current_bytes is None else current_bytes // MIB
    avail_mb = avail_bytes // MIB
    room_mb = (avail_bytes + (current_bytes or 0)) // MIB - min_free_disk_mb
    where = f"the {fstype} filesystem of {directory}" if fstype else f"the filesystem of {directory or path}"
    plan = {
        "desired_mb": desired_mb,
        "current_mb": current_mb,
        "room_mb": room_mb,
        "lowered": False,
        "message": "",
    }

    def result(action: str, size_mb: int, message: str = "") -> dict:
        return dict(plan, action=action, size_mb=size_mb, lowered=size_mb < desired_mb, message=message)

    if current_bytes is not None and current_bytes == desired_mb * MIB:
        return result("keep", desired_mb)
    new_action = "create" if current_bytes is None else "recreate"

    if explicit:
        if desired_mb <= room_mb:
            return result(new_action, desired_mb)
        reused = (
            f" (plus {current_mb} MiB of the current {path}, which is replaced)" if current_bytes is not None else ""
        )
        return result(
            "refuse",
            desired_mb,
            f"swap: swap_file_size_mb={desired_mb} MiB does not fit: {where} has {avail_mb} MiB free{reused} "
            f"and swap_file_min_free_disk_mb={min_free_disk_mb} MiB must stay free, so at most "
            f"{max(room_mb, 0)} MiB fit. Nothing was changed.",
        )

    target_mb = min(desired_mb, room_mb)
    if current_mb is not None and current_mb >= MIN_FILE_MB and current_bytes < desired_mb * MIB:
        if target_mb - current_mb < grow_min_gain_mb(desired_mb):
            return result(
                "keep",
                current_mb,
                f"swap: keeping {path} at {current_mb} MiB (the automatic size is {desired_mb} MiB): growing it "
                f"would gain {max(target_mb - current_mb, 0)} MiB, less than the "
                f"{grow_min_gain_mb(desired_mb)} MiB worth a recreate ({where} has {avail_mb} MiB free, "
                f"swap_file_min_free_disk_mb={min_free_disk_mb} MiB).",
            )
    if target_mb < MIN_FILE_MB:
        return result(
            "refuse",
            max(target_mb, 0),
            f"swap: no room for a swap file: the automatic size would be {desired_mb} MiB, but {where} has "
            f"{avail_mb} MiB free and swap_file_min_free_disk_mb={min_free_disk_mb} MiB must stay free. Free some "
            "disk, lower swap_file_min_free_disk_mb, or use swap_backend=zram. Nothing was changed.",
        )
    message = ""
    if target_mb < desired_mb:
        message = (
            f"swap: the automatic size is {desired_mb} MiB, lowered to {target_mb} MiB so that "
            f"swap_file_min_free_disk_mb={min_free_disk_mb} MiB stay free on {directory or path} "
            f"({avail_mb} MiB free now)."
        )
    return result(new_action, target_mb, message)


def swapoff_refusal(
    devices: list,
    mem_available_bytes: int | None,
    margin_mb: int = SWAPOFF_MARGIN_MB,
    check: bool = True,
) -> str:
    """Why switching `devices` off (dicts with path and used_bytes, as in smallvps_memory.swap_devices)
    must be refused, or '' when it may go ahead: their used swap must fit in MemAvailable minus
    `margin_mb`. With `check` false nothing is refused."""
    margin_mb = _int("swap_swapoff_margin_mb", margin_mb)
    if not check or not devices:
        return ""
    used = sum(_int(f"used_bytes of {device.get('path')}", device.get("used_bytes") or 0) for device in devices)
    if used == 0:
        return ""
    names = ", ".join(f"{device['path']} ({_mib(device.get('used_bytes') or 0)} MiB used)" for device in devices)
    if mem_available_bytes is None:
        return (
            f"swap: switching {names} off needs swapoff, which reads every used swap page back into RAM, and "
            "MemAvailable is unknown here (no MemAvailable in /proc/meminfo), so the role cannot check that it "
            "fits. Run swapoff yourself when it is safe, or set swap_swapoff_check_enabled=false. Nothing was changed."
        )
    mem_available_bytes = _int("mem_available_bytes", mem_available_bytes)
    if used <= mem_available_bytes - margin_mb * MIB:
        return ""
    return (
        f"swap: switching {names} off needs swapoff, which reads all {_mib(used)} MiB of used swap back into "
        f"RAM, but MemAvailable is {_mib(mem_available_bytes)} MiB and swap_swapoff_margin_mb={margin_mb} MiB "
        f"must stay available, so at most {max(_mib(mem_available_bytes) - margin_mb, 0)} MiB fit. Free memory "
        "(stop or restart the services holding swapped pages) and run again, or lower swap_swapoff_margin_mb. "
        "Nothing was changed."
    )


def _mib(value: int) -> int:
    """Bytes in MiB, rounded up, so that a message never shows a nonzero amount as 0."""
    return -(-value // MIB)


def swap_plan(
    memory_facts: dict,
    *,
    state: str = "present",
    backend: str = DEFAULT_BACKEND,
    file_path: str = "/swapfile",
    file_size_mb: int = 0,
    file_min_free_disk_mb: int = 1024,
    file_current_bytes: int | None = None,
    file_avail_bytes: int | None = None,
    file_fstype: str = "",
    file_priority: int = 10,
    zram_size_mb_requested: int = 0,
    swappiness_requested: int | None = None,
    activate: bool = True,
    swapoff_check: bool = True,
    swapoff_margin_mb: int = SWAPOFF_MARGIN_MB,
) -> dict:
    """Everything the swap role writes or decides, from the smallvps_memory facts and its variables.

    Returns {effective_memory_mb, file_wanted, zram_wanted, file, zram, swappiness, swapoff}:
    file is file_decision() plus auto_size_mb and size_bytes (or {action: remove} when no file is
    wanted); zram is {size_mb, ram_mb}; swapoff is {paths, refusal}: the active swap devices this run
    would switch off and, where activation is on, why that must be refused ('' when it may go ahead).
    """
    if not isinstance(memory_facts, dict) or "effective_memory_mb" not in memory_facts:
        raise SwapSizingError(
            "swap: swap_plan expects the smallvps_memory facts of smallvps.hardening.memory_facts "
            f"(a dict with effective_memory_mb), got {kind(memory_facts)}"
        )
    if state not in ("present", "absent"):
        raise SwapSizingError(f"swap: swap_state must be present or absent, got {state!r}")
    if backend not in BACKENDS:
        raise SwapSizingError(f"swap: swap_backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    effective_mb = _int("effective_memory_mb", memory_facts["effective_memory_mb"])
    file_size_mb = _int("swap_file_size_mb", file_size_mb)
    file_priority = _int("swap_file_priority", file_priority)
    devices = memory_facts.get("swap_devices") or []
    file_wanted = state == "present" and backend in FILE_BACKENDS
    zram_wanted = state == "present" and backend in ZRAM_BACKENDS

    file_devices = [device for device in devices if device.get("path") == file_path]
    priority_wrong = file_wanted and any(device.get("priority") != file_priority for device in file_devices)
    if file_wanted:
        auto_mb = auto_file_size_mb(effective_mb)
        if file_avail_bytes is None:
            raise SwapSizingError(f"swap: the free space of the filesystem of {file_path} is unknown")
        directory = file_path.rsplit("/", 1)[0] or "/"
        file_plan = file_decision(
            file_size_mb or auto_mb,
            bool(file_size_mb),
            file_current_bytes,
            file_avail_bytes,
            file_min_free_disk_mb,
            path=file_path,
            fstype=file_fstype,
            directory=directory,
        )
        file_plan["auto_size_mb"] = auto_mb
        file_plan["size_bytes"] = file_plan["size_mb"] * MIB
        file_off = file_plan["action"] == "recreate" or priority_wrong
    else:
        file_plan = {"action": "remove" if file_current_bytes is not None else "absent"}
        file_off = True
    file_plan["priority_wrong"] = priority_wrong

    off = [device for device in file_devices if file_off]
    if not zram_wanted:
        off += [device for device in devices if device.get("path") == "/dev/zram0"]
    refusal = ""
    if activate and file_plan["action"] != "refuse":
        refusal = swapoff_refusal(off, memory_facts.get("mem_available_bytes"), swapoff_margin_mb, swapoff_check)
    zram_mb = zram_size_mb(effective_mb, zram_size_mb_requested)
    return {
        "effective_memory_mb": effective_mb,
        "file_wanted": file_wanted,
        "zram_wanted": zram_wanted,
        "file": file_plan,
        "zram": {"size_mb": zram_mb, "ram_mb": zram_ram_mb(zram_mb)},
        "swappiness": swappiness(backend, swappiness_requested),
        "swapoff": {"paths": [device["path"] for device in off], "refusal": refusal},
    }
