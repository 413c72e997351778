# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Private to this collection: the drill's three rounds, measured on the host; _drill_verdict judges them."""

from __future__ import annotations

import http.client
import os
import threading
import time
from urllib.parse import urlsplit

from ansible_collections.smallvps.hardening.plugins.module_utils import _drill_host as host
from ansible_collections.smallvps.hardening.plugins.module_utils._drill_verdict import (
    MIB,
    flood_verdict,
    host_wide_verdict,
    leak_verdict,
)

# The grower may pass the unit's limit by this much before it stops growing: a limit that does not act shows as
# "not killed" and the host pays at most this much more.
GROWER_HEADROOM = 64 * MIB
# After a kill, systemd needs a moment to notice it (OOMPolicy, Restart=): serving is checked from then on.
SETTLE = 0.5
# Requests the flood sends at most per target, whatever the duration.
FLOOD_MAX_REQUESTS = 50000
# The flood's pace: this many times the zone's rate, at least FLOOD_MIN_PACE a second. Far past what the limit
# accepts, so 429s must come, without filling nginx's error log with a line per rejected request at full speed.
FLOOD_PACE_FACTOR = 20
FLOOD_MIN_PACE = 100


def _killed_by(kills: dict, unit: str, pids: set, counter_rose: bool) -> str:
    if any(unit in group for group in kills["oomd"]):
        return "systemd-oomd"
    if any(pid in pids for pid, _ in kills["earlyoom"]):
        return "earlyoom"
    if counter_rose or any(pid in pids for pid, _ in kills["kernel"]):
        return "kernel"
    return "unknown"


def _unrun(unit: str, version: str, why: str) -> dict:
    """The verdict of a leak round that could not start."""
    return {"round": "leak", "unit": unit, "cgroup": version, "killed": False, "passed": False, "why": [why]}


def leak(unit, memory_max, memory_swap_max, health, tier0_units, timeout, recovery_timeout) -> dict:
    """Grow inside UNIT's cgroup until something kills; then time until the unit serves again."""
    cgroup = host.unit_cgroup(unit)
    if cgroup is None:
        return _unrun(unit, host.cgroup_version(), f"{unit} has no memory cgroup (is it running, with MemoryMax set?)")
    tier0_before = host.unit_state(tier0_units)
    seen = host.show(unit, "MainPID", "OOMScoreAdjust")
    old_pid, adjust = int(seen["MainPID"] or 0), seen["OOMScoreAdjust"] or "0"
    kills_before, hits_before = cgroup.oom_kills(), cgroup.limit_hits()
    cursor = host.journal_cursor()
    cgroup.reset_peak()
    # v2's memory.peak covers the cgroup's whole life: it counts only when the round raised it.
    peak_before = cgroup.peak() if cgroup.version == "v2" else None
    peak = {"usage": 0, "swap": 0, "counter_rose": False, "limit_hit": False}
    # Pages the unit had in swap before the round (from before its MemorySwapMax, or an earlier pressure) are not
    # the round's: the check is how much its swap rose.
    swap_before = cgroup.swap() or 0
    grower = host.start_grower(memory_max + GROWER_HEADROOM, timeout)
    try:
        try:
            cgroup.adopt(grower.pid)
        except OSError as error:  # v2 refuses a cgroup with children of its own (Delegate=): EBUSY
            return _unrun(unit, cgroup.version, f"the grower could not join {unit}'s cgroup {cgroup.path}: {error}")
        host.write(f"/proc/{grower.pid}/oom_score_adj", adjust)
        grower.stdin.write("go\n")
        grower.stdin.flush()

        def killed():
            peak["usage"] = max(peak["usage"], cgroup.usage() or 0)
            peak["swap"] = max(peak["swap"], cgroup.swap() or 0)
            # Read while the cgroup lives: after the kill systemd may stop the unit and remove it (v2).
            # The kill after the limit's counter: read in that order, a kill seen here has its limit hit seen too.
            kills, hits = cgroup.oom_kills(), cgroup.limit_hits()
            if hits is not None and hits_before is not None and hits > hits_before:
                peak["limit_hit"] = True
            if kills is not None and kills_before is not None and kills > kills_before:
                peak["counter_rose"] = True
                return True
            if grower.poll() is not None:
                return grower.returncode < 0  # a signal; 0 is the grower's own timeout
            return int(host.show(unit, "MainPID")["MainPID"] or 0) != old_pid

        started = time.monotonic()
        died = host.wait_for(killed, timeout + 2)
        kernel_peak = cgroup.peak()
        if kernel_peak and (peak_before is None or kernel_peak > peak_before):
            peak["usage"] = max(peak["usage"], kernel_peak)
    finally:
        host.stop_grower(grower)
    # The grower's SIGKILL can be seen before the counter: a last read, while the cgroup may still be there.
    kills_after, hits_after = cgroup.oom_kills(), cgroup.limit_hits()
    counter_rose = peak["counter_rose"] or (
        kills_after is not None and kills_before is not None and kills_after > kills_before
    )
    limit_hit = peak["limit_hit"] or (hits_after is not None and hits_before is not None and hits_after > hits_before)
    back_after = None
    if died is not None:
        time.sleep(SETTLE)

        def serving():
            # Active first: a unit systemd is stopping (OOMPolicy=stop) may still answer while it drains.
            state = host.show(unit, "MainPID", "ActiveState")
            if state["ActiveState"] != "active" or not int(state["MainPID"] or 0):
                return False
            return host.healthy(health) if health else True

        back = host.wait_for(serving, recovery_timeout, poll=0.1)
        back_after = None if back is None else round(back - died, 2)
    new_pid = int(host.show(unit, "MainPID")["MainPID"] or 0)
    kills = host.kills_since(cursor)
    killed_by = "none" if died is None else _killed_by(kills, unit, {grower.pid, old_pid}, counter_rose)
    measured = {
        "unit": unit,
        "cgroup": cgroup.version,
        "killed": died is not None,
        # Killed inside the unit at its own limits: systemd-oomd named the unit (MemoryHigh's pressure), or the
        # kernel's kill and the limit's counter both rose (a counter the kernel lacks cannot tell).
        "killed_in_unit": killed_by == "systemd-oomd"
        or ((counter_rose or kills_before is None) and (limit_hit or hits_before is None)),
        "killed_by": killed_by,
        "peak_bytes": peak["usage"],
        "swap_bytes": max(peak["swap"] - swap_before, 0),
        "restarted": new_pid != old_pid,
        "back_after": back_after,
        "timeout": timeout,
        "tier0_before": tier0_before,
        "tier0_after": host.unit_state(tier0_units),
    }
    verdict = leak_verdict(measured, memory_max, memory_swap_max, recovery_timeout)
    verdict.update(seconds_to_kill=None if died is None else round(died - started, 2), health=health or None)
    if died is None:
        verdict["victim"] = None
    else:
        verdict["victim"] = "the drill's grower" if grower.returncode == -9 else "a process of the unit"
    return verdict


def _hammer(url: str, deadline: float, pace: dict, counts: dict, lock: threading.Lock) -> None:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = None
    mine = {"sent": 0, "answered_2xx": 0, "limited_429": 0, "other": 0}
    while time.monotonic() < deadline:
        with lock:
            if pace["left"] <= 0:
                break
            pace["left"] -= 1
            slot = max(time.monotonic(), pace["next"])
            pace["next"] = slot + pace["gap"]
        time.sleep(max(slot - time.monotonic(), 0))
        if time.monotonic() >= deadline:
            break
        mine["sent"] += 1
        try:
            if connection is None:
                connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=2)
            connection.request("GET", path)
            reply = connection.getresponse()
            reply.read()
            status = reply.status
            if reply.will_close:
                connection.close()
                connection = None
        except (OSError, http.client.HTTPException):
            status = None
            if connection is not None:
                connection.close()
            connection = None
        key = "answered_2xx" if status and 200 <= status < 300 else "limited_429" if status == 429 else "other"
        mine[key] += 1
    if connection is not None:
        connection.close()
    with lock:
        for key, value in mine.items():
            counts[key] += value


def flood_one(target: dict, duration: float, concurrency: int) -> dict:
    counts = {"sent": 0, "answered_2xx": 0, "limited_429": 0, "other": 0}
    lock = threading.Lock()
    started = time.monotonic()
    rate = max(FLOOD_PACE_FACTOR * float(target["rate"]), FLOOD_MIN_PACE)
    pace = {"left": FLOOD_MAX_REQUESTS, "next": started, "gap": 1 / rate}
    deadline = started + duration
    threads = [
        threading.Thread(target=_hammer, args=(target["url"], deadline, pace, counts, lock), daemon=True)
        for _ in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 5)
    return flood_verdict(target, counts, round(time.monotonic() - started, 2))


def flood(targets: list, duration: float, concurrency: int) -> list:
    """Each target in turn, `concurrency` keep-alive connections for `duration` seconds, paced (FLOOD_PACE_FACTOR)."""
    return [flood_one(target, duration, concurrency) for target in targets]


def host_wide(tier0_units: list, timeout: float) -> dict:
    """A transient unit with no cap grows until something kills it (or RuntimeMaxSec ends it)."""
    unit = f"{host.TRANSIENT_PREFIX}host-{os.getpid()}.service"
    tier0_before = host.unit_state(tier0_units)
    cursor = host.journal_cursor()
    cap = host.meminfo_bytes("MemTotal", "SwapTotal")
    grower_pids, peak = set(), {"usage": 0}
    try:
        # The grower's own end comes 2 s before RuntimeMaxSec: an exit, not a kill, when nothing acted.
        host.run(
            "systemd-run", "--quiet", f"--unit={unit}", "-p", f"RuntimeMaxSec={int(timeout)}",
            "--", *host.grower_argv(cap, max(timeout - 2, 1)),
        )  # fmt: skip

        def ended():
            state = host.show(unit, "ActiveState", "MainPID")
            if int(state["MainPID"] or 0):
                grower_pids.add(int(state["MainPID"]))
            cgroup = host.unit_cgroup(unit)
            if cgroup is not None:
                peak["usage"] = max(peak["usage"], cgroup.usage() or 0)
            return state["ActiveState"] not in ("active", "activating")

        started = time.monotonic()
        done = host.wait_for(ended, timeout + 5, poll=0.05)
        result = host.show(unit, "Result", "ExecMainCode", "ExecMainStatus", "ActiveState")
    finally:
        host.run("systemctl", "stop", unit)
        host.run("systemctl", "reset-failed", unit)
    kills = host.kills_since(cursor)
    # ExecMainCode 2/3: CLD_KILLED/CLD_DUMPED, the grower died of a signal.
    signalled = result["ExecMainCode"] in ("2", "3") or result["Result"] == "oom-kill"
    # systemd counts a SIGTERM death (earlyoom's first signal) as a clean exit and may unload the transient unit
    # at once, its ExecMainCode gone with it: a grower named in earlyoom's or the kernel's log was killed all the same.
    logged = any(pid in grower_pids for pid, _ in kills["earlyoom"] + kills["kernel"])
    killed = done is not None and (signalled or logged) and result["Result"] != "timeout"
    victims = [{"pid": p, "name": n, "by": "kernel"} for p, n in kills["kernel"]]
    victims += [{"pid": p, "name": n, "by": "earlyoom"} for p, n in kills["earlyoom"]]
    measured = {
        "unit": unit,
        "cgroup": host.cgroup_version(),
        "killed": killed,
        # A SIGKILL that neither earlyoom nor systemd-oomd logged is the kernel's (in a container its log is out of
        # reach): earlyoom logs every kill, oomd names the unit.
        "killed_by": _killed_by(
            kills, unit, grower_pids, result["Result"] == "oom-kill" or result["ExecMainStatus"] == "9"
        )
        if killed
        else "none",
        "result": result["Result"],
        "victims": victims,
        "grower_pids": grower_pids,
        "timed_out": result["Result"] == "timeout",
        "timeout": timeout,
        "peak_bytes": peak["usage"],
        "tier0_before": tier0_before,
        "tier0_after": host.unit_state(tier0_units),
    }
    verdict = host_wide_verdict(measured)
    verdict["seconds_to_kill"] = None if done is None or not killed else round(done - started, 2)
    return verdict
