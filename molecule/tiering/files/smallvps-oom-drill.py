#!/usr/bin/env python3
"""OOM drills, run inside the test host so timings do not include docker exec.

  smallvps-oom-drill unit ROUNDS      kill the tier-1 hog at its MemoryMax ROUNDS times
  smallvps-oom-drill container        fill the container from an ordinary unit: the tier-1 hog, smaller
                                      than the tier-0 door, must be the one the kernel kills

Prints one JSON document. Every loop is bounded in count and time.
"""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

HOG_UNIT = "smallvps-hog.service"
HOG_URL = "http://127.0.0.1:8081"
PROGRESS = "/run/smallvps-hog.progress"
DOOR_UNIT = "smallvps-door.service"
# Tier 0: the SSH door, the proxy and the door stand-in that holds 120 MiB (smallvps-door).
PROTECTED = ("ssh.service", "nginx.service", DOOR_UNIT)
POLL = 0.02


def show(unit, prop):
    return subprocess.run(
        ["systemctl", "show", "-p", prop, "--value", unit], capture_output=True, text=True, check=True
    ).stdout.strip()


def healthy():
    try:
        with urllib.request.urlopen(f"{HOG_URL}/health", timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False


def wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(POLL)
    raise SystemExit(f"drill: condition not met within {seconds}s")


def trigger_growth():
    try:
        urllib.request.urlopen(f"{HOG_URL}/grow", timeout=60).read()
    except OSError:
        pass  # the hog dies mid-request: that is the point


def kernel_oom_kills():
    # The kernel's own count of OOM-killer kills (global and memory-cgroup alike). It is
    # not namespaced, so it proves the kernel, not some other SIGKILL, ended the process.
    with open("/proc/vmstat", encoding="ascii") as vmstat:
        for line in vmstat:
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    return None  # kernels before 4.13 do not count


def oom_kills_since(before):
    return None if before is None else kernel_oom_kills() - before


def machine_swap_mib():
    """SwapTotal of the machine (a container's /proc/meminfo shows the machine's)."""
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("SwapTotal:"):
                return int(line.split()[1]) // 1024
    return 0


def protected_pids():
    return {unit: show(unit, "MainPID") for unit in PROTECTED}


def unit_drill(rounds):
    limit_bytes = int(show(HOG_UNIT, "MemoryMax"))
    restarts_before = int(show(HOG_UNIT, "NRestarts"))
    before = protected_pids()
    results = []
    for round_number in range(1, rounds + 1):
        wait_for(healthy, 30)
        old_pid = show(HOG_UNIT, "MainPID")
        oom_kills_before = kernel_oom_kills()
        started = time.monotonic()
        threading.Thread(target=trigger_growth, daemon=True).start()
        died = wait_for(lambda old_pid=old_pid: show(HOG_UNIT, "MainPID") != old_pid, 60)
        # Until systemd starts the new process, ExecMain* describe the one that died.
        exit_status = f"{show(HOG_UNIT, 'ExecMainCode')}/{show(HOG_UNIT, 'ExecMainStatus')}"
        oom_kills = oom_kills_since(oom_kills_before)
        with open(PROGRESS, encoding="ascii") as progress:
            reached_mib = int(progress.read().strip() or 0)
        recovered = wait_for(healthy, 30)
        results.append(
            {
                "round": round_number,
                "old_pid": old_pid,
                "new_pid": show(HOG_UNIT, "MainPID"),
                "allocated_mib_when_killed": reached_mib,
                "seconds_to_kill": round(died - started, 3),
                "seconds_to_recover": round(recovered - died, 3),
                "exit": exit_status,
                "kernel_oom_kills": oom_kills,
            }
        )
    return {
        "memory_max_bytes": limit_bytes,
        "restart_sec": show(HOG_UNIT, "RestartUSec"),
        "restarts": int(show(HOG_UNIT, "NRestarts")) - restarts_before,
        # MemorySwapMax is not enforced on cgroup v1: with swap on the machine the hog swaps
        # past MemoryMax before it is killed.
        "machine_swap_mib": machine_swap_mib(),
        "rounds": results,
        "protected_before": before,
        "protected_after": protected_pids(),
    }


# The container-wide drill. The tier-0 door stand-in holds 120 MiB from start (smallvps-door,
# about 129 MiB resident); the tier-1 hog is made to hold HOG_HOLD_MIB (about 104 MiB resident
# with its interpreter), less than the door. The kernel's OOM badness (oom_badness() in
# mm/oom_kill.c) is rss + swap + page tables in pages, plus oom_score_adj x (limit in pages /
# 1000): at a 512 MiB limit the role's OOMScoreAdjust=100 adds 13100 pages, 51 MiB, to the
# hog, which then scores about 25 MiB above the door; without it the hog scores about 25 MiB
# below the door and the door is the victim. Tier 0 stays at oom_score_adj 0 in a container
# (no CAP_SYS_RESOURCE), so tier 1's +100 is the only thing that decides, as on such a VPS.
HOG_HOLD_MIB = 85
TRIGGER_UNIT = "smallvps-oom-trigger.service"
# The pressure comes from many small growers in a unit with no OOMScoreAdjust, none of them
# anywhere near the door or the hog in size: each grows 1 MiB per TRIGGER_STEP_SECONDS up to
# TRIGGER_CAP_MIB (10 x 40 MiB is far more than the host has left, about 200 MiB) and stops
# growing as soon as the kernel counts an OOM kill (/proc/vmstat oom_kill), so one kill
# relieves the pressure and nobody else becomes the next victim. They keep what they have for
# at most TRIGGER_LINGER_SECONDS; the drill stops them as soon as it has its answer.
TRIGGER_CHILDREN = 10
TRIGGER_CAP_MIB = 40
TRIGGER_STEP_SECONDS = 0.02
TRIGGER_LINGER_SECONDS = 30
TRIGGER = r"""
import os, sys, time
counter = sys.argv[1]
children, cap_mib = int(sys.argv[2]), int(sys.argv[3])
step, linger = float(sys.argv[4]), float(sys.argv[5])

def kills():
    with open(counter, encoding="ascii") as source:
        for line in source:
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    return 0

before = kills()
pids = []
for _ in range(children):
    pid = os.fork()
    if pid == 0:
        hoard = []
        while len(hoard) < cap_mib and kills() == before:
            hoard.append(bytes([3]) * 1048576)
            time.sleep(step)
        deadline = time.monotonic() + linger
        while time.monotonic() < deadline:
            time.sleep(0.5)
        os._exit(0)
    pids.append(pid)
for pid in pids:
    os.waitpid(pid, 0)
"""


def container_limit_bytes():
    """The memory limit of this host: with the host's cgroup namespace it sits above PID 1's
    cgroup (/docker/<id>), so walk up from it and take the smallest limit (None: no limit)."""
    with open("/proc/1/cgroup", encoding="ascii") as source:
        lines = [line.rstrip("\n").split(":", 2) for line in source]
    v1 = [path for _, controllers, path in lines if "memory" in controllers.split(",")]
    if v1:
        root, path, limit_name = "/sys/fs/cgroup/memory", v1[0], "memory.limit_in_bytes"
    else:
        root, path, limit_name = "/sys/fs/cgroup", lines[0][2], "memory.max"
    limits = []
    directory = os.path.normpath(root + path)
    while directory.startswith(root):
        try:
            with open(os.path.join(directory, limit_name), encoding="ascii") as source:
                raw = source.read().strip()
            if raw != "max" and int(raw) < 2**60:
                limits.append(int(raw))
        except OSError:
            pass
        directory = os.path.dirname(directory)
    return min(limits, default=None)


def badness(pid, limit_bytes):
    """oom_badness() of mm/oom_kill.c for a memory-cgroup OOM, in MiB: rss + swap + page
    tables, plus oom_score_adj x (limit in pages / 1000). /proc/PID/oom_score cannot tell:
    it scales oom_score_adj to the machine's RAM, not to the container's limit."""
    if pid == "0":
        return None  # not running
    kib = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as source:
        for line in source:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmSwap", "VmPTE"):
                kib[key] = int(value.split()[0])
    with open(f"/proc/{pid}/oom_score_adj", encoding="ascii") as source:
        adj = int(source.read())
    page = os.sysconf("SC_PAGE_SIZE")
    points = sum(kib.values()) * 1024 // page + adj * (limit_bytes // page // 1000)
    return {
        "pid": pid,
        "rss_mib": round(kib.get("VmRSS", 0) / 1024, 1),
        # What the kernel counts before oom_score_adj: rss + swap + page tables.
        "memory_mib": round(sum(kib.values()) / 1024, 1),
        "oom_score_adj": adj,
        "badness_mib": round(points * page / 2**20, 1),
    }


def poll(condition, seconds):
    """Like wait_for, but returns None on timeout: the drill reports what happened instead."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(POLL)
    return None


def container_drill():
    limit_bytes = container_limit_bytes()
    if limit_bytes is None:
        raise SystemExit("drill: no memory cgroup limit above PID 1 (start the host with --memory 512m)")
    if kernel_oom_kills() is None:
        raise SystemExit("drill: " + "this kernel has no oom_kill line in /proc/vmstat (added in 4.13)")
    wait_for(healthy, 30)
    hog_pid = show(HOG_UNIT, "MainPID")
    restarts_before = int(show(HOG_UNIT, "NRestarts"))
    with urllib.request.urlopen(f"{HOG_URL}/hold?mib={HOG_HOLD_MIB}", timeout=30) as reply:
        hog_reply = reply.read().decode().strip()
    before = protected_pids()
    scores = {unit: badness(pid, limit_bytes) for unit, pid in {**before, HOG_UNIT: hog_pid}.items()}
    kernel_before = kernel_oom_kills()
    subprocess.run(["systemctl", "reset-failed", TRIGGER_UNIT], capture_output=True, check=False)
    started = time.monotonic()
    # No OOMScoreAdjust and no MemoryMax: an ordinary process that only the container's limit stops.
    subprocess.run(
        [
            "systemd-run",
            f"--unit={TRIGGER_UNIT}",
            "-p",
            "Restart=no",
            "-p",
            f"RuntimeMaxSec={2 * TRIGGER_LINGER_SECONDS}",
            "/usr/bin/python3",
            "-c",
            TRIGGER,
            "/proc/vmstat",
            str(TRIGGER_CHILDREN),
            str(TRIGGER_CAP_MIB),
            str(TRIGGER_STEP_SECONDS),
            str(TRIGGER_LINGER_SECONDS),
        ],
        capture_output=True,
        check=True,
    )
    try:
        first_kill = poll(lambda: kernel_oom_kills() != kernel_before, 60)
        # systemd notices its main process died within milliseconds of the kill.
        died = poll(lambda: show(HOG_UNIT, "MainPID") != hog_pid, 5) if first_kill else None
        # Until systemd starts the new process (RestartSec later), ExecMain* describe the dead one.
        hog_exit = f"{show(HOG_UNIT, 'ExecMainCode')}/{show(HOG_UNIT, 'ExecMainStatus')}"
        kills_at_answer = oom_kills_since(kernel_before)
    finally:
        subprocess.run(["systemctl", "stop", TRIGGER_UNIT], capture_output=True, check=False)
        subprocess.run(["systemctl", "reset-failed", TRIGGER_UNIT], capture_output=True, check=False)
    if died is None and healthy():
        # A failed drill leaves the hog running: make it let go, or the next drill starts short.
        urllib.request.urlopen(f"{HOG_URL}/release", timeout=10).read()
    recovered = poll(healthy, 30) if died else None
    return {
        "limit_mib": limit_bytes // 2**20,
        "hog_hold": hog_reply,
        "badness_before": scores,
        "seconds_to_first_kill": None if first_kill is None else round(first_kill - started, 3),
        "hog_killed": died is not None,
        "hog_exit": hog_exit,
        "hog_restarts": int(show(HOG_UNIT, "NRestarts")) - restarts_before,
        "hog_pid_before": hog_pid,
        "hog_pid_after": show(HOG_UNIT, "MainPID"),
        "hog_back": recovered is not None and healthy(),
        "seconds_to_recover": None if recovered is None else round(recovered - died, 3),
        # Kills the kernel counted when the drill had its answer, and by the end of the drill.
        "kernel_oom_kills": kills_at_answer,
        "kernel_oom_kills_by_end": oom_kills_since(kernel_before),
        "protected_before": before,
        "protected_after": protected_pids(),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["unit"]:
        print(json.dumps(unit_drill(int(sys.argv[2]))))
    elif sys.argv[1:2] == ["container"]:
        print(json.dumps(container_drill()))
    else:
        raise SystemExit(__doc__)
