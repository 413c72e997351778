#!/usr/bin/python3
"""Memory drills on the real-kernel test host (molecule/vm), run inside the guest.

  leak UNIT PORT ROUNDS  make a tier-1 stand-in leak ROUNDS times: who killed it, when, how
                         far it got, whether it swapped, how soon it served again
  oomd UNIT PORT SECONDS make a unit of oomd mode leak and watch it SECONDS: throttling, pressure,
                         reclaim, whether systemd-oomd kills it; then it must serve again
  prefork UNIT PORT      make the worker of a pre-fork stand-in leak: the master must stay
  memorylow UNIT CONTROL fill the host with swap on until CONTROL is half swapped out: how much
                         of UNIT (same size, protected by memory.low) stayed resident
  host ROUNDS            swap off, a hog outside every cap (the biggest process) fills the host
                         ROUNDS times: who the kernel kills (benchmarks/oom-drill.sh)
  tier0 ROUNDS           swap off: small growers outside every cap fill the host ROUNDS times until
                         the kernel kills; then the tier-0 door is made the biggest process and the
                         kernel's OOM killer is invoked (SysRq f) with the door's oom_score_adj at 0
                         (the control: it must be the victim) and as the plan set it; then the
                         growers again with earlyoom, without --avoid/--prefer (door at 0) and as
                         the plan configured it
  status UNITS...        what each unit's processes and cgroup carry: oom_score_adj, memory.low,
                         systemd's properties, the systemd-oomd mark; and this ssh session's own

Prints one JSON document. Every loop is bounded in count and time; every process this
starts runs in a transient unit with RuntimeMaxSec, so nothing outlives the drill.
"""

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

CGROUP = "/sys/fs/cgroup/system.slice"
TIER0 = ("ssh.service", "nginx.service", "smallvps-door.service")
POLL = 0.02
# Grows to argv[1] MiB, 1 MiB per argv[2] seconds, then holds it for argv[3] seconds.
GROW_AND_HOLD = (
    "import sys, time\nh = []\nfor _ in range(int(sys.argv[1])):\n    h.append(bytes([6]) * (1 << 20))\n"
    "    time.sleep(float(sys.argv[2]))\nopen('/run/smallvps-pressure.full', 'w').close()\n"
    "time.sleep(float(sys.argv[3]))\n"
)


def run(*argv, check=True):
    return subprocess.run(argv, capture_output=True, text=True, check=check).stdout.strip()


def show(unit, prop):
    return run("systemctl", "show", "-p", prop, "--value", unit)


def read(path, default=None):
    try:
        with open(path, encoding="ascii") as source:
            return source.read().strip()
    except OSError:
        return default


def cgroup_value(unit, name):
    raw = read(f"{CGROUP}/{unit}/{name}")
    return None if raw is None else int(raw)


def memory_events(unit):
    raw = read(f"{CGROUP}/{unit}/memory.events", "")
    return {key: int(value) for key, value in (line.split() for line in raw.splitlines())}


def wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(POLL)
    return None


def healthy(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False


def grow(port):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/grow", timeout=120).read()
    except OSError:
        pass  # killed mid-request: that is the point


def journal_since(cursor_time, *args):
    return run("journalctl", "--no-pager", "-o", "cat", "--since", cursor_time, *args, check=False)


def now_for_journal():
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - 1))


def leak(unit, port, rounds):
    """One round: /grow, poll the cgroup until the main process is gone, note who killed it."""
    results = []
    progress_file = f"/run/{unit.removesuffix('.service')}.progress"
    for number in range(1, rounds + 1):
        if wait_for(lambda: healthy(port), 60) is None:
            raise SystemExit(f"drill: {unit} did not answer on port {port} within 60 s")
        old_pid = show(unit, "MainPID")
        since = now_for_journal()
        peak = {"memory": 0, "swap": 0}

        def still_running(peak=peak, old_pid=old_pid):  # this round's, bound now
            for key, name in (("memory", "memory.current"), ("swap", "memory.swap.current")):
                value = cgroup_value(unit, name)
                if value is not None:
                    peak[key] = max(peak[key], value)
            return show(unit, "MainPID") != old_pid

        started = time.monotonic()
        threading.Thread(target=grow, args=(port,), daemon=True).start()
        died = wait_for(still_running, 120)
        if died is None:
            raise SystemExit(f"drill: {unit} was not killed within 120 s (throttled at MemoryHigh?)")
        # Between the kill and the restart (RestartSec) systemd keeps the result of the run that died;
        # systemd-oomd's word that it killed the unit may come a moment after the SIGKILL.
        wait_for(lambda: show(unit, "Result") == "oom-kill", 1.5)
        result = show(unit, "Result")
        recovered = wait_for(lambda: healthy(port), 60)
        # journalctl ANDs -k with -u: two reads.
        oomd = journal_since(since, "-u", "systemd-oomd.service")
        kernel = journal_since(since, "-k")
        results.append(
            {
                "round": number,
                "result": result,
                "killed_by": "systemd-oomd"
                if re.search(rf"Killed \S*{re.escape(unit)} due to memory pressure", oomd)
                else "kernel"
                if f"Memory cgroup out of memory: Killed process {old_pid} " in kernel
                else "unknown",
                "allocated_mib_when_killed": int(read(progress_file, "0") or 0),
                "peak_memory_mib": round(peak["memory"] / 2**20, 1),
                "peak_swap_mib": round(peak["swap"] / 2**20, 1),
                "seconds_to_kill": round(died - started, 2),
                "seconds_to_recover": None if recovered is None else round(recovered - died, 2),
                "new_pid": show(unit, "MainPID"),
            }
        )
    return {
        "unit": unit,
        "rounds": results,
        "memory_max": show(unit, "MemoryMax"),
        "memory_high": show(unit, "MemoryHigh"),
        "restarts": show(unit, "NRestarts"),
    }


def pressure(unit):
    """The unit's PSI memory line 'full' avg10, and its reclaim counters (memory.stat)."""
    psi = read(f"{CGROUP}/{unit}/memory.pressure", "")
    full = re.search(r"full avg10=([0-9.]+)", psi)
    stat = dict(line.split() for line in read(f"{CGROUP}/{unit}/memory.stat", "").splitlines())
    return {
        "full_avg10": float(full.group(1)) if full else None,
        **{key: int(stat.get(key, 0)) for key in ("pgscan", "pgsteal", "file", "anon")},
    }


# The oomd drill: how often it notes the unit's PSI and reclaim counters (seconds), and when it asks
# oomctl for systemd-oomd's own view of them (seconds after the leak began).
OOMD_SAMPLE_SEC = 5
OOMD_DUMP_AT_SEC = (12, 30, 50)


def oomctl():
    """systemd-oomd's own view (oomctl): per monitored cgroup its pressure, pgscan and last pgscan."""
    return [line.strip() for line in run("oomctl", check=False).splitlines() if line.strip()]


def pressure_limit(unit):
    """ManagedOOMMemoryPressureLimit in percent: systemctl shows it as a fraction of 2^32."""
    raw = show(unit, "ManagedOOMMemoryPressureLimit")
    return float(raw.rstrip("%")) if raw.endswith("%") else round(int(raw or 0) * 100 / 2**32, 2)


def oomd_watch(unit, port, seconds):
    """Make the unit leak and watch for SECONDS: throttled at MemoryHigh, does systemd-oomd kill it?
    Then the unit must be serving again: after oomd's kill by itself (Restart=always), else after
    the drill's SIGKILL ends the leak. Reports what oomd decides on: the unit's PSI and pgscan over
    time, when pgscan last rose, since when avg10 stayed over the limit, oomctl's view and oomd's log."""
    if wait_for(lambda: healthy(port), 60) is None:
        raise SystemExit(f"drill: {unit} did not answer on port {port} within 60 s")
    old_pid, restarts = show(unit, "MainPID"), int(show(unit, "NRestarts"))
    limit = pressure_limit(unit)
    before, events_before = pressure(unit), memory_events(unit)
    cursor = journal_cursor()
    peak = {"memory": 0, "full_avg10": 0.0}
    # The cgroup goes with the process that died: its counters as last read before the kill.
    last = {"pressure": before, "events": events_before}
    seen = {"samples": [], "pgscan_rises": [], "above_since": None, "oomctl": []}
    dumps = list(OOMD_DUMP_AT_SEC)

    def killed():
        if show(unit, "MainPID") != old_pid:
            return True
        now = pressure(unit)
        events = memory_events(unit)
        # Between the kill and systemd's new MainPID the cgroup may be gone already (its files read
        # empty): keep the reading from before, read while the cgroup still existed.
        if not events:
            return False
        at = round(time.monotonic() - started, 1)
        if now["pgscan"] > last["pressure"]["pgscan"]:
            seen["pgscan_rises"].append([at, now["pgscan"] - before["pgscan"]])
        full = now["full_avg10"] or 0.0
        if full <= limit:
            seen["above_since"] = None
        elif seen["above_since"] is None:
            seen["above_since"] = at
        last["pressure"], last["events"] = now, events
        current = cgroup_value(unit, "memory.current") or 0
        peak["memory"] = max(peak["memory"], current)
        peak["full_avg10"] = max(peak["full_avg10"], full)
        if not seen["samples"] or at - seen["samples"][-1]["s"] >= OOMD_SAMPLE_SEC:
            seen["samples"].append(
                {
                    "s": at,
                    "full_avg10": full,
                    "pgscan": now["pgscan"] - before["pgscan"],
                    "pgsteal": now["pgsteal"] - before["pgsteal"],
                    "file_kib": now["file"] >> 10,
                    "memory_mib": round(current / 2**20, 1),
                    "events_high": events.get("high", 0) - events_before.get("high", 0),
                }
            )
        if dumps and at >= dumps[0]:
            dumps.pop(0)
            seen["oomctl"].append({"s": at, "lines": oomctl()})
        return False

    started = time.monotonic()
    threading.Thread(target=grow, args=(port,), daemon=True).start()
    died = wait_for(killed, seconds)
    after, events = last["pressure"], last["events"]
    oomd = run(
        "journalctl", "-u", "systemd-oomd.service", "--no-pager", "-o", "cat", f"--after-cursor={cursor}", check=False
    )
    if died is None:
        run("systemctl", "kill", "-s", "KILL", unit)
        wait_for(lambda: show(unit, "MainPID") != old_pid, 10)
    ended = time.monotonic()
    recovered = wait_for(lambda: healthy(port), 30)
    rises = seen["pgscan_rises"]
    return {
        "unit": unit,
        "memory_high": show(unit, "MemoryHigh"),
        "memory_max": show(unit, "MemoryMax"),
        "memory_swap_max": show(unit, "MemorySwapMax"),
        "limit_percent": limit,
        "watched_seconds": seconds,
        "killed_by": "systemd-oomd"
        if re.search(rf"Killed \S*{re.escape(unit)} due to memory pressure", oomd)
        else None
        if died is None
        else "other",
        "seconds_to_kill": None if died is None else round(died - started, 2),
        "peak_memory_mib": round(peak["memory"] / 2**20, 1),
        "peak_full_avg10": peak["full_avg10"],
        "memory_events_high": events.get("high", 0) - events_before.get("high", 0),
        "memory_events_max": events.get("max", 0) - events_before.get("max", 0),
        "pgscan": after["pgscan"] - before["pgscan"],
        "pgsteal": after["pgsteal"] - before["pgsteal"],
        "file_mib": round(after["file"] / 2**20, 1),
        "anon_mib": round(after["anon"] / 2**20, 1),
        # What systemd-oomd 252 kills on (src/oom/oomd-manager.c): avg10 over the limit for its duration
        # (here since above_limit_since_s) and a rise of the unit's pgscan within the last 30 s
        # (RECLAIM_DURATION_USEC; the last rise seen at last_pgscan_rise_s). In seconds since the leak began.
        "above_limit_since_s": seen["above_since"],
        "pgscan_rises": len(rises),
        "first_pgscan_rises": rises[:5],
        "last_pgscan_rise_s": rises[-1][0] if rises else None,
        "samples": seen["samples"],
        "oomctl": seen["oomctl"],
        "oomd_log": oomd.splitlines()[-40:],
        "old_pid": old_pid,
        "new_pid": show(unit, "MainPID"),
        "restarts": int(show(unit, "NRestarts")) - restarts,
        "seconds_to_serve_again": None if recovered is None else round(recovered - ended, 2),
    }


def children(pid):
    return read(f"/proc/{pid}/task/{pid}/children", "").split()


def prefork(unit, port):
    """The kernel kills the worker at MemoryMax; with OOMPolicy=continue the master stays and respawns it."""
    if wait_for(lambda: healthy(port), 60) is None:
        raise SystemExit(f"drill: {unit} did not answer on port {port} within 60 s")
    master = show(unit, "MainPID")
    workers_before = children(master)
    restarts = show(unit, "NRestarts")
    kills_before = memory_events(unit).get("oom_kill", 0)
    started = time.monotonic()
    threading.Thread(target=grow, args=(port,), daemon=True).start()
    replaced = wait_for(lambda: memory_events(unit).get("oom_kill", 0) > kills_before, 120)
    recovered = wait_for(lambda: healthy(port), 30)
    return {
        "unit": unit,
        "oom_policy": show(unit, "OOMPolicy"),
        "master_before": master,
        "master_after": show(unit, "MainPID"),
        "workers_before": workers_before,
        "workers_after": children(show(unit, "MainPID")),
        "restarts_before": restarts,
        "restarts_after": show(unit, "NRestarts"),
        "active_state": show(unit, "ActiveState"),
        "oom_kills": memory_events(unit).get("oom_kill", 0) - kills_before,
        "seconds_to_kill": None if replaced is None else round(replaced - started, 2),
        "seconds_to_serve_again": None if recovered is None or replaced is None else round(recovered - replaced, 2),
    }


def memorylow(protected, control):
    """A pressure unit outside every cap takes RAM until the kernel swaps out the control (an
    unprotected unit holding as much): how much of the protected one stayed resident."""
    meminfo = dict(line.split(":", 1) for line in read("/proc/meminfo").splitlines())
    # 64 MiB more than the kernel could give without swapping.
    pressure_mib = int(meminfo["MemAvailable"].split()[0]) // 1024 + 64
    before = {u: cgroup_value(u, "memory.current") for u in (protected, control)}
    swappiness = read("/proc/sys/vm/swappiness")
    # With the swap role's swappiness 10 the kernel thrashes the page cache for minutes under TCG
    # before it swaps; at 100 it swaps at once. memory.low decides which anonymous pages go either way.
    with open("/proc/sys/vm/swappiness", "w", encoding="ascii") as knob:
        knob.write("100")
    try:
        run(
            "systemd-run",
            "--unit=smallvps-pressure",
            "--collect",
            "-p",
            "RuntimeMaxSec=120",
            "-p",
            "MemorySwapMax=0",
            "python3",
            "-c",
            GROW_AND_HOLD,
            str(pressure_mib),
            "0.005",
            "60",
        )
        swapped = wait_for(lambda: (cgroup_value(control, "memory.swap.current") or 0) >= before[control] // 2, 100)
        during = {
            u: {
                "memory_mib": round(cgroup_value(u, "memory.current") / 2**20, 1),
                "swap_mib": round(cgroup_value(u, "memory.swap.current") / 2**20, 1),
                "memory_low": read(f"{CGROUP}/{u}/memory.low"),
            }
            for u in (protected, control)
        }
    finally:
        run("systemctl", "stop", "smallvps-pressure.service", check=False)
        with open("/proc/sys/vm/swappiness", "w", encoding="ascii") as knob:
            knob.write(swappiness)
    return {
        "pressure_mib": pressure_mib,
        "control_swapped": swapped is not None,
        "swappiness_restored": swappiness,
        "memory_before_mib": {u: round(v / 2**20, 1) for u, v in before.items()},
        "during": during,
        "system_slice_memory_low": read(f"{CGROUP}/memory.low"),
    }


def tier0_pids():
    return {unit: show(unit, "MainPID") for unit in TIER0}


def journal_cursor():
    shown = run("journalctl", "-n", "0", "--show-cursor", check=False)
    return shown.rpartition("-- cursor: ")[2].strip()


def kernel_oom_kills():
    """The kernel's count of OOM-killer kills, global and memory-cgroup alike."""
    return int(next(line.split()[1] for line in read("/proc/vmstat").splitlines() if line.startswith("oom_kill ")))


def victims(cursor):
    """(pid, comm) of the processes the kernel's OOM killer took since the cursor."""
    kernel = run("journalctl", "-k", "--no-pager", "-o", "cat", f"--after-cursor={cursor}", check=False)
    return re.findall(r"Out of memory: Killed process (\d+) \(([^)]+)\)", kernel)


def earlyoom_victims(unit, cursor):
    log = run("journalctl", "-u", unit, "--no-pager", "-o", "cat", f"--after-cursor={cursor}", check=False)
    return re.findall(r"sending SIG\w+ to process (\d+) uid \d+ \"([^\"]+)\"", log)


# The tier-0 control rounds make the door the NATURAL victim: it holds DOOR_MIB (a runtime
# drop-in, restarted by systemd with the plan's OOMScoreAdjust=-500), more than any other
# process, while the pressure comes from TRIGGER's small growers in a unit outside every cap
# (oom_score_adj 0). The kernel's badness is rss + swap + page tables plus oom_score_adj x
# (RAM + swap) / 1000: -500 takes about 245 MiB off the door on this 512 MiB guest, tier 1's
# +100 adds about 49 MiB. Without -500 the door (about 168 MiB) outscores every other process;
# with it, it scores below all of them. earlyoom ranks by /proc/PID/oom_score, the same figure.
DOOR = "smallvps-door.service"
DOOR_MIB = 160
DOOR_DROPIN = "/run/systemd/system/smallvps-door.service.d/60-smallvps-drill.conf"
TRIGGER_UNIT = "smallvps-trigger.service"
STOP = "/run/smallvps-trigger.stop"
# Each child grows CHUNK MiB per STEP seconds up to CAP MiB, far below the door, while the host's
# MemAvailable stays above FLOOR MiB, and exits at the first OOM kill the kernel counts or when the
# drill writes STOP (earlyoom's kill is no OOM kill): the pressure ends with the first victim.
# FLOOR sits just under earlyoom's -m threshold: the growers hold the host inside earlyoom's band
# instead of racing through it. Racing (1 MiB per 0.06 s per child) let the kernel kill first when
# another job shared the 2 cores (CI at e91e457: earlyoom took the hog, the kernel two others).
TRIGGER = r"""
import os, sys, time
stop, step = sys.argv[1], float(sys.argv[5])
children, cap_mib, chunk_mib, floor_mib = (int(arg) for arg in (*sys.argv[2:5], sys.argv[6]))

def kills():
    with open("/proc/vmstat", encoding="ascii") as source:
        return next(int(line.split()[1]) for line in source if line.startswith("oom_kill "))

def available_mib():
    with open("/proc/meminfo", encoding="ascii") as source:
        return next(int(line.split()[1]) for line in source if line.startswith("MemAvailable:")) >> 10

before = kills()
for _ in range(children):
    if os.fork() == 0:
        hoard = []
        while kills() == before and not os.path.exists(stop):
            if len(hoard) * chunk_mib < cap_mib and available_mib() > floor_mib:
                hoard.append(bytes([3]) * (chunk_mib << 20))
                time.sleep(step)
            else:
                time.sleep(0.1)  # full or in earlyoom's band: spinning would starve reclaim under TCG
        os._exit(0)
for _ in range(children):
    os.wait()
"""
# (children, cap MiB, chunk MiB, step s); the floor is added per round from earlyoom's -m.
EARLYOOM_FILL = ("10", "40", "1", "0.06")
# The real host-wide OOM: one process growing 4 MiB at a time, as fast as it can, without end.
# Anything slower, or growers that stop short, lets the kernel thrash the page cache for
# minutes under TCG before it kills.
HOSTILE = "h = []\nwhile True:\n    h.append(bytes([5]) * (4 << 20))\n"


def door_hold(mib):
    """Restart the door holding MIB (None: its unit's own 40 MiB); systemd applies the drop-ins."""
    if mib is None:
        if os.path.exists(DOOR_DROPIN):
            os.remove(DOOR_DROPIN)
    else:
        os.makedirs(os.path.dirname(DOOR_DROPIN), exist_ok=True)
        with open(DOOR_DROPIN, "w", encoding="ascii") as dropin:
            dropin.write(f"[Service]\nEnvironment=SMALLVPS_DOOR_MIB={mib}\n")
    run("systemctl", "daemon-reload")
    run("systemctl", "restart", DOOR)
    return wait_door(mib or 40)


def wait_door(mib, seconds=60):
    """The door's PID once it holds MIB (VmRSS), or None."""

    def holding():
        pid = show(DOOR, "MainPID")
        status = read(f"/proc/{pid}/status", "") if pid != "0" else ""
        rss = re.search(r"VmRSS:\s+(\d+) kB", status)
        return rss is not None and int(rss.group(1)) >= mib * 1024

    return show(DOOR, "MainPID") if wait_for(holding, seconds) else None


def rss_mib(pid):
    return round(int(re.search(r"VmRSS:\s+(\d+)", read(f"/proc/{pid}/status", "VmRSS: 0")).group(1)) / 1024, 1)


def scores(pids):
    """What each process weighs for the killers: RSS, oom_score_adj, /proc/PID/oom_score."""
    return {
        name: {
            "pid": pid,
            "rss_mib": rss_mib(pid),
            "oom_score_adj": read(f"/proc/{pid}/oom_score_adj"),
            "oom_score": read(f"/proc/{pid}/oom_score"),
        }
        for name, pid in pids.items()
        if pid != "0"
    }


def watched_pids():
    """Every process of system.slice's services, for earlyoom's victim (no kernel count shows it)."""
    pids = set()
    for unit in os.listdir(CGROUP):
        pids.update(read(f"{CGROUP}/{unit}/cgroup.procs", "").split())
    return pids


def pressure_round(name, door_adj, fill, killer):
    """One round: the door at DOOR_MIB, its oom_score_adj set to DOOR_ADJ (None: as systemd set it),
    the trigger growing until the first victim. Reports who died, by whose hand."""
    door_pid = show(DOOR, "MainPID")
    if door_adj is not None:
        with open(f"/proc/{door_pid}/oom_score_adj", "w", encoding="ascii") as knob:
            knob.write(str(door_adj))
    before = tier0_pids()
    weights = scores({**before, "smallvps-hog.service": show("smallvps-hog.service", "MainPID")})
    cursor, kills_before = journal_cursor(), kernel_oom_kills()
    watched = watched_pids()
    trigger_seen = [0]

    def someone_died():
        """A service's process gone, or one of the trigger's growers (earlyoom may pick one)."""
        count = len(read(f"{CGROUP}/{TRIGGER_UNIT}/cgroup.procs", "").split())
        shrank = count < trigger_seen[0]
        trigger_seen[0] = max(trigger_seen[0], count)
        return shrank or any(not os.path.exists(f"/proc/{pid}") for pid in watched)

    if os.path.exists(STOP):
        os.remove(STOP)
    started = time.monotonic()
    if killer == "sysrq":
        # The kernel's OOM killer on demand (SysRq f): the victim it would choose right now, by the
        # same badness as in a real OOM, without the minutes a real one can take under TCG.
        with open("/proc/sysrq-trigger", "w", encoding="ascii") as sysrq:
            sysrq.write("f")
        gone = wait_for(lambda: kernel_oom_kills() != kills_before, 10)
    else:
        run("systemctl", "reset-failed", TRIGGER_UNIT, check=False)
        program = ["-c", HOSTILE] if killer == "kernel" else ["-c", TRIGGER, STOP, *fill]
        run("systemd-run", f"--unit={TRIGGER_UNIT}", "--collect", "-p", "RuntimeMaxSec=90", "python3", *program)
        try:
            if killer == "kernel":
                # About 15 s on a quiet machine; over 60 s seen with other jobs on the 2 cores.
                gone = wait_for(lambda: kernel_oom_kills() != kills_before, 85)
            else:
                gone = wait_for(someone_died, 60)
        finally:
            # The growers let go at once: one victim, not a string of them.
            open(STOP, "w").close()
            run("systemctl", "stop", TRIGGER_UNIT, check=False)
    # The journal may lag the kill by a moment.
    wait_for(lambda: victims(cursor) or (killer not in ("sysrq", "kernel") and earlyoom_victims(killer, cursor)), 5)
    killed = victims(cursor) + ([] if killer in ("sysrq", "kernel") else earlyoom_victims(killer, cursor))
    # A SIGKILLed process stays in /proc until systemd reaps it: the killers' own word first.
    door_killed = any(pid == door_pid for pid, _comm in killed) or not os.path.exists(f"/proc/{door_pid}")
    report = {
        "round": name,
        "seconds": round(time.monotonic() - started, 2),
        "door_adj": door_adj,
        "weights": weights,
        "seconds_to_first_victim": None if gone is None else round(gone - started, 2),
        "kernel_victims": victims(cursor),
        "earlyoom_victims": [] if killer in ("sysrq", "kernel") else earlyoom_victims(killer, cursor),
        "door_killed": door_killed,
        "door_pid": door_pid,
        "fill": fill,
    }
    if door_killed:
        # The kernel's SIGKILL is a failure (Restart=on-failure starts it again); earlyoom's SIGTERM
        # is a clean exit to systemd, which then leaves it stopped.
        restarted = wait_for(lambda: show(DOOR, "MainPID") not in ("0", door_pid), 5)
        report["door_restarted_by_systemd"] = restarted is not None
        if restarted is None:
            run("systemctl", "start", DOOR)
        wait_door(DOOR_MIB)
    report["seconds_with_door_back"] = round(time.monotonic() - started, 2)
    report["tier0_after"] = tier0_pids()
    report["tier0_pids_kept"] = {u: p for u, p in report["tier0_after"].items() if before[u] == p}
    return report


def earlyoom_fill():
    """EARLYOOM_FILL with its floor: 80 % of the MemAvailable at which the plan's earlyoom acts (-m),
    so that ten growers overshooting by a chunk each still leave the kernel out of it."""
    percent = float(re.search(r"-m (\d+)", read("/etc/default/earlyoom", "")).group(1))
    total_mib = int(re.search(r"MemTotal:\s+(\d+)", read("/proc/meminfo")).group(1)) >> 10
    return (*EARLYOOM_FILL, str(int(total_mib * percent / 100 * 0.8)))


def bare_earlyoom_args():
    """The plan's earlyoom arguments without --avoid and --prefer."""
    args = re.search(r'EARLYOOM_ARGS="([^"]*)"', read("/etc/default/earlyoom", "")).group(1).split()
    named = ("--avoid", "--prefer")
    return [arg for i, arg in enumerate(args) if arg not in named and (i == 0 or args[i - 1] not in named)]


def host(rounds):
    """benchmarks/oom-drill.sh's rounds: swap off, earlyoom stopped, the hog the biggest process.
    Its victims are no evidence of tier-0 protection (tier0 is)."""
    if read("/proc/swaps").splitlines()[1:]:
        raise SystemExit("drill: swap is on; the host-wide drill needs it off (swapoff -a)")
    earlyoom_was_active = show("earlyoom.service", "ActiveState") == "active"
    run("systemctl", "stop", "earlyoom.service", check=False)
    before, results = tier0_pids(), []
    try:
        for number in range(1, rounds + 1):
            seen = pressure_round(f"host full {number}", None, None, "kernel")
            results.append(
                {
                    "round": number,
                    "seconds": seen["seconds"],
                    "tier0_pids_kept": seen["tier0_after"] == before,
                    "killed": [comm for _pid, comm in seen["kernel_victims"]],
                }
            )
    finally:
        if earlyoom_was_active:
            run("systemctl", "start", "earlyoom.service", check=False)
    return {"rounds": results, "tier0_before": before, "tier0_after": tier0_pids()}


def tier0(rounds):
    """The kernel (swap off, earlyoom stopped) and then earlyoom, each with the door's protection
    removed (the control: the door must die) and with the plan's (it must not)."""
    if read("/proc/swaps").splitlines()[1:]:
        raise SystemExit("drill: swap is on; the tier-0 drill needs it off (swap_state: absent)")
    drill_started = time.monotonic()
    earlyoom_was_active = show("earlyoom.service", "ActiveState") == "active"
    run("systemctl", "stop", "earlyoom.service", check=False)
    report = {"door_mib": DOOR_MIB, "tier0_before": tier0_pids(), "host_full": [], "kernel": [], "earlyoom": []}
    try:
        # A real host-wide OOM first, with the door as converge left it (40 MiB): with the door at
        # 160 MiB the kernel thrashes the page cache for a minute under TCG before it kills.
        for number in range(rounds):
            report["host_full"].append(pressure_round(f"host full, as planned {number + 1}", None, None, "kernel"))
        if door_hold(DOOR_MIB) is None:
            raise SystemExit(f"drill: the door did not come up holding {DOOR_MIB} MiB")
        report["door_adj_from_systemd"] = read(f"/proc/{show(DOOR, 'MainPID')}/oom_score_adj")
        report["kernel"].append(pressure_round("sysrq f, door at 0", 0, None, "sysrq"))
        report["kernel"].append(pressure_round("sysrq f, as planned", None, None, "sysrq"))
        bare = bare_earlyoom_args()
        report["earlyoom_bare_args"] = bare
        run(
            "systemd-run",
            "--unit=smallvps-earlyoom-bare.service",
            "--collect",
            "-p",
            "RuntimeMaxSec=120",
            "/usr/bin/earlyoom",
            *bare,
        )
        try:
            time.sleep(1)  # earlyoom's first reading
            report["earlyoom"].append(
                pressure_round(
                    "earlyoom without --avoid/--prefer, door at 0", 0, earlyoom_fill(), "smallvps-earlyoom-bare.service"
                )
            )
        finally:
            run("systemctl", "stop", "smallvps-earlyoom-bare.service", check=False)
        run("systemctl", "start", "earlyoom.service")
        time.sleep(1)
        report["earlyoom_args"] = run("ps", "-o", "args=", "-C", "earlyoom", check=False)
        report["earlyoom"].append(pressure_round("earlyoom as planned", None, earlyoom_fill(), "earlyoom.service"))
    finally:
        if not earlyoom_was_active:
            run("systemctl", "stop", "earlyoom.service", check=False)
        door_hold(None)
    report["tier0_after"] = tier0_pids()
    report["seconds"] = round(time.monotonic() - drill_started, 2)
    return report


def processes(unit):
    pids = read(f"{CGROUP}/{unit}/cgroup.procs", "").split()
    return [
        {"pid": pid, "comm": read(f"/proc/{pid}/comm"), "oom_score_adj": read(f"/proc/{pid}/oom_score_adj")}
        for pid in pids
    ]


def oomd_mark(unit):
    marks = {}
    for name in ("user.oomd_avoid", "user.oomd_omit"):
        try:
            marks[name] = os.getxattr(f"{CGROUP}/{unit}", name).decode()
        except OSError:
            pass
    return marks


def ancestors():
    """This process's parents up to PID 1: the ssh session it runs in."""
    chain, pid = [], str(os.getppid())
    while pid not in ("0", "1"):
        chain.append(
            {
                "pid": pid,
                "comm": read(f"/proc/{pid}/comm"),
                "cmdline": read(f"/proc/{pid}/cmdline", "").replace("\0", " ").strip(),
                "oom_score_adj": read(f"/proc/{pid}/oom_score_adj"),
            }
        )
        pid = read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()[1]
    return chain


def started_at(pid):
    """When a process started, in seconds since the epoch (None: no process)."""
    stat = read(f"/proc/{pid}/stat") if pid != "0" else None
    if stat is None:
        return None
    boot = next(int(line.split()[1]) for line in read("/proc/stat").splitlines() if line.startswith("btime "))
    return boot + int(stat.rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")


def dropin_written(unit):
    try:
        return os.stat(f"/etc/systemd/system/{unit}.d/50-smallvps-tier.conf").st_mtime
    except OSError:
        return None


def status(units):
    props = (
        "MainPID,MemoryLow,MemoryMax,MemoryHigh,MemorySwapMax,ManagedOOMPreference,ManagedOOMMemoryPressure,"
        "OOMPolicy,OOMScoreAdjust"
    )
    report = {}
    for unit in units:
        shown = dict(line.split("=", 1) for line in run("systemctl", "show", "-p", props, unit).splitlines())
        report[unit] = {
            "properties": shown,
            "processes": processes(unit),
            "memory.low": read(f"{CGROUP}/{unit}/memory.low"),
            "memory.max": read(f"{CGROUP}/{unit}/memory.max"),
            "oomd_mark": oomd_mark(unit),
            "main_started": started_at(shown["MainPID"]),
            "dropin_written": dropin_written(unit),
        }
    return {
        "units": report,
        "system_slice_memory_low": read(f"{CGROUP}/memory.low"),
        "session": {"self_oom_score_adj": read("/proc/self/oom_score_adj"), "ancestors": ancestors()},
        "systemd_oomd": show("systemd-oomd.service", "ActiveState"),
        "oomd_root_slice": run("systemctl", "show", "-p", "ManagedOOMSwap", "--value", "--", "-.slice"),
    }


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "leak":
        report = leak(args[0], int(args[1]), int(args[2]))
    elif command == "oomd":
        report = oomd_watch(args[0], int(args[1]), int(args[2]))
    elif command == "prefork":
        report = prefork(args[0], int(args[1]))
    elif command == "memorylow":
        report = memorylow(args[0], args[1])
    elif command == "host":
        report = host(int(args[0]))
    elif command == "tier0":
        report = tier0(int(args[0]))
    elif command == "status":
        report = status(args)
    else:
        raise SystemExit(__doc__)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(sys.argv)
