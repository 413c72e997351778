#!/usr/bin/python3
"""Memory drills on the real-kernel test host (molecule/vm), run inside the guest.

  leak UNIT PORT ROUNDS  make a tier-1 stand-in leak ROUNDS times: who killed it, when, how
                         far it got, whether it swapped, how soon it served again
  prefork UNIT PORT      make the worker of a pre-fork stand-in leak: the master must stay
  memorylow UNIT CONTROL fill the host with swap on until CONTROL is half swapped out: how much
                         of UNIT (same size, protected by memory.low) stayed resident
  host ROUNDS            swap off, a hog outside every cap fills the host ROUNDS times:
                         which process the kernel kills, and whether tier 0 keeps its PIDs
  earlyoom               the same hog once, grown slowly, with earlyoom running
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
# Grows 4 MiB at a time until something kills it; RuntimeMaxSec bounds it if nothing does.
HOSTILE = "h = []\nwhile True:\n    h.append(bytes([5]) * (4 << 20))\n"
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

        def still_running():
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
        results.append({
            "round": number,
            "result": result,
            "killed_by": "systemd-oomd" if re.search(rf"Killed \S*{re.escape(unit)} due to memory pressure", oomd)
            else "kernel" if f"Memory cgroup out of memory: Killed process {old_pid} " in kernel else "unknown",
            "allocated_mib_when_killed": int(read(progress_file, "0") or 0),
            "peak_memory_mib": round(peak["memory"] / 2**20, 1),
            "peak_swap_mib": round(peak["swap"] / 2**20, 1),
            "seconds_to_kill": round(died - started, 2),
            "seconds_to_recover": None if recovered is None else round(recovered - died, 2),
            "new_pid": show(unit, "MainPID"),
        })
    return {"unit": unit, "rounds": results, "memory_max": show(unit, "MemoryMax"),
            "memory_high": show(unit, "MemoryHigh"), "restarts": show(unit, "NRestarts")}


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
        "unit": unit, "oom_policy": show(unit, "OOMPolicy"),
        "master_before": master, "master_after": show(unit, "MainPID"),
        "workers_before": workers_before, "workers_after": children(show(unit, "MainPID")),
        "restarts_before": restarts, "restarts_after": show(unit, "NRestarts"),
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
        run("systemd-run", "--unit=smallvps-pressure", "--collect", "-p", "RuntimeMaxSec=120", "-p", "MemorySwapMax=0",
            "python3", "-c", GROW_AND_HOLD, str(pressure_mib), "0.005", "60")
        swapped = wait_for(lambda: (cgroup_value(control, "memory.swap.current") or 0) >= before[control] // 2, 100)
        during = {u: {"memory_mib": round(cgroup_value(u, "memory.current") / 2**20, 1),
                      "swap_mib": round(cgroup_value(u, "memory.swap.current") / 2**20, 1),
                      "memory_low": read(f"{CGROUP}/{u}/memory.low")} for u in (protected, control)}
    finally:
        run("systemctl", "stop", "smallvps-pressure.service", check=False)
        with open("/proc/sys/vm/swappiness", "w", encoding="ascii") as knob:
            knob.write(swappiness)
    return {"pressure_mib": pressure_mib, "control_swapped": swapped is not None, "swappiness_restored": swappiness,
            "memory_before_mib": {u: round(v / 2**20, 1) for u, v in before.items()}, "during": during,
            "system_slice_memory_low": read(f"{CGROUP}/memory.low")}


def tier0_pids():
    return {unit: show(unit, "MainPID") for unit in TIER0}


def journal_cursor():
    shown = run("journalctl", "-n", "0", "--show-cursor", check=False)
    return shown.rpartition("-- cursor: ")[2].strip()


def victims(cursor):
    """The processes the kernel's OOM killer took since the cursor (global and cgroup OOMs)."""
    kernel = run("journalctl", "-k", "--no-pager", "-o", "cat", f"--after-cursor={cursor}", check=False)
    return re.findall(r"Out of memory: Killed process \d+ \(([^)]+)\)", kernel)


def hostile_round(number, runtime_max):
    unit = f"smallvps-hostile-{number}.service"
    started = time.monotonic()
    run("systemd-run", f"--unit={unit}", "--wait", "--collect", "-p", f"RuntimeMaxSec={runtime_max}",
        "python3", "-c", HOSTILE, check=False)
    return round(time.monotonic() - started, 2)


def host(rounds):
    swaps = read("/proc/swaps").splitlines()[1:]
    if swaps:
        raise SystemExit("drill: swap is on; the host-wide drill needs it off (swapoff -a)")
    earlyoom_was_active = show("earlyoom.service", "ActiveState") == "active"
    run("systemctl", "stop", "earlyoom.service", check=False)
    before = tier0_pids()
    results = []
    try:
        for number in range(1, rounds + 1):
            cursor = journal_cursor()
            seconds = hostile_round(number, 120)
            after = tier0_pids()
            results.append({"round": number, "seconds": seconds, "killed": victims(cursor),
                            "tier0_pids_kept": after == before})
    finally:
        if earlyoom_was_active:
            run("systemctl", "start", "earlyoom.service", check=False)
    return {"rounds": results, "tier0_before": before, "tier0_after": tier0_pids(),
            "session_oom_score_adj": read("/proc/self/oom_score_adj")}


def earlyoom():
    run("systemctl", "start", "earlyoom.service")
    before = tier0_pids()
    since, cursor = now_for_journal(), journal_cursor()
    started = time.monotonic()
    # Slowly, so earlyoom (polling /proc/meminfo) acts before the kernel has to.
    run("systemd-run", "--unit=smallvps-hostile-slow.service", "--wait", "--collect", "-p", "RuntimeMaxSec=90",
        "python3", "-c", GROW_AND_HOLD, "2048", "0.01", "30", check=False)
    log = journal_since(since, "-u", "earlyoom.service")
    return {"seconds": round(time.monotonic() - started, 2),
            "earlyoom_args": run("ps", "-o", "args=", "-C", "earlyoom", check=False),
            "earlyoom_kills": re.findall(r"sending SIG\w+ to process \d+ uid \d+ \"([^\"]+)\"", log),
            "kernel_kills": victims(cursor), "tier0_pids_kept": tier0_pids() == before}


def processes(unit):
    pids = read(f"{CGROUP}/{unit}/cgroup.procs", "").split()
    return [{"pid": pid, "comm": read(f"/proc/{pid}/comm"), "oom_score_adj": read(f"/proc/{pid}/oom_score_adj")}
            for pid in pids]


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
        chain.append({"pid": pid, "comm": read(f"/proc/{pid}/comm"), "cmdline": read(f"/proc/{pid}/cmdline", "")
                      .replace("\0", " ").strip(), "oom_score_adj": read(f"/proc/{pid}/oom_score_adj")})
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
    props = "MainPID,MemoryLow,MemoryMax,MemoryHigh,MemorySwapMax,ManagedOOMPreference,ManagedOOMMemoryPressure,OOMPolicy,OOMScoreAdjust"
    report = {}
    for unit in units:
        shown = dict(line.split("=", 1) for line in run("systemctl", "show", "-p", props, unit).splitlines())
        report[unit] = {"properties": shown, "processes": processes(unit), "memory.low": read(f"{CGROUP}/{unit}/memory.low"),
                        "memory.max": read(f"{CGROUP}/{unit}/memory.max"), "oomd_mark": oomd_mark(unit),
                        "main_started": started_at(shown["MainPID"]), "dropin_written": dropin_written(unit)}
    return {"units": report, "system_slice_memory_low": read(f"{CGROUP}/memory.low"),
            "session": {"self_oom_score_adj": read("/proc/self/oom_score_adj"), "ancestors": ancestors()},
            "systemd_oomd": show("systemd-oomd.service", "ActiveState"),
            "oomd_root_slice": run("systemctl", "show", "-p", "ManagedOOMSwap", "--value", "--", "-.slice")}


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "leak":
        report = leak(args[0], int(args[1]), int(args[2]))
    elif command == "prefork":
        report = prefork(args[0], int(args[1]))
    elif command == "memorylow":
        report = memorylow(args[0], args[1])
    elif command == "host":
        report = host(int(args[0]))
    elif command == "earlyoom":
        report = earlyoom()
    elif command == "status":
        report = status(args)
    else:
        raise SystemExit(__doc__)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(sys.argv)
