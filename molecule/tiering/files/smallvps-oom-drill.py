#!/usr/bin/env python3
"""OOM drills, run inside the test host so timings do not include docker exec.

  smallvps-oom-drill unit ROUNDS      kill the tier-1 hog at its MemoryMax ROUNDS times
  smallvps-oom-drill container        fill the host's memory from a tier-1 unit without MemoryMax

Prints one JSON document. Every loop is bounded in count and time.
"""

import json
import subprocess
import sys
import threading
import time
import urllib.request

HOG_UNIT = "smallvps-hog.service"
HOG_URL = "http://127.0.0.1:8081"
PROGRESS = "/run/smallvps-hog.progress"
PROTECTED = ("ssh.service", "nginx.service")
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
        died = wait_for(lambda: show(HOG_UNIT, "MainPID") != old_pid, 60)
        # Until systemd starts the new process, ExecMain* describe the one that died.
        exit_status = f"{show(HOG_UNIT, 'ExecMainCode')}/{show(HOG_UNIT, 'ExecMainStatus')}"
        oom_kills = oom_kills_since(oom_kills_before)
        with open(PROGRESS, encoding="ascii") as progress:
            reached_mib = int(progress.read().strip() or 0)
        recovered = wait_for(healthy, 30)
        results.append({
            "round": round_number,
            "old_pid": old_pid,
            "new_pid": show(HOG_UNIT, "MainPID"),
            "allocated_mib_when_killed": reached_mib,
            "seconds_to_kill": round(died - started, 3),
            "seconds_to_recover": round(recovered - died, 3),
            "exit": exit_status,
            "kernel_oom_kills": oom_kills,
        })
    return {
        "memory_max_bytes": limit_bytes,
        "restart_sec": show(HOG_UNIT, "RestartUSec"),
        "restarts": int(show(HOG_UNIT, "NRestarts")) - restarts_before,
        "rounds": results,
        "protected_before": before,
        "protected_after": protected_pids(),
    }


FILLER = (
    "import time\n"
    "hoard = []\n"
    "while True:\n"
    "    hoard.append(b'\\x01' * (1024 * 1024))\n"
)


def container_drill():
    before = protected_pids()
    oom_kills_before = kernel_oom_kills()
    unit = "smallvps-filler.service"
    subprocess.run(["systemctl", "reset-failed", unit], capture_output=True, check=False)
    # Tier-1 policy (OOMScoreAdjust=100) but no MemoryMax: only the host-wide limit stops it.
    subprocess.run(
        ["systemd-run", f"--unit={unit}", "-p", "OOMScoreAdjust=100", "-p", "Restart=no",
         "/usr/bin/python3", "-c", FILLER],
        capture_output=True, check=True,
    )
    wait_for(lambda: show(unit, "ActiveState") in ("failed", "inactive"), 120)
    return {
        "filler_exit": f"{show(unit, 'ExecMainCode')}/{show(unit, 'ExecMainStatus')}",
        "filler_result": show(unit, "Result"),
        "kernel_oom_kills": oom_kills_since(oom_kills_before),
        "hog_alive": healthy(),
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
