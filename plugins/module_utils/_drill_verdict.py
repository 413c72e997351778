# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Private to this collection: the drill's verdicts, pass or fail from measurements. Pure Python, no I/O.

The drill module (on the host) measures; these functions judge. Every failed check adds one plain sentence to
`why`, so a verdict says everything that went wrong, not only the first thing.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

MIB = 1 << 20
# A kill "at the limit": the unit's peak may pass MemoryMax by a few pages the kernel charges while it decides
# (kernel stacks, page tables); more than this means the limit was not the unit's MemoryMax.
LIMIT_TOLERANCE_BYTES = 4 * MIB
# The accepted rate may pass rate + burst / duration by this share (nginx counts in milliseconds, the drill's
# clock starts before the first request).
RATE_TOLERANCE = 0.10
HEALTH_FORM = "http://127.0.0.1:PORT/path (a loopback address) or unix:/path/to.sock (an HTTP GET / over it)"


def mib(value: int | None) -> float | None:
    return None if value is None else round(value / MIB, 1)


def loopback_url_error(url) -> str | None:
    """Why URL is not a plain http URL to a loopback address, or None when it is."""
    if not isinstance(url, str):
        return f"{url!r} is not a string"
    parts = urlsplit(url)
    if parts.scheme != "http":
        return f"{url!r} is not an http:// URL"
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        loopback = False
    if not loopback:
        return (
            f"{url!r} does not aim at a loopback address (127.0.0.1, ::1 or localhost); the drill loads only loopback"
        )
    return None


def health_error(url) -> str | None:
    """Why URL is not one of the health check's forms (HEALTH_FORM), or None."""
    if isinstance(url, str) and url.startswith("unix:"):
        path = url[len("unix:") :]
        return None if path.startswith("/") and len(path) > 1 else f"{url!r}: a unix socket's path must be absolute"
    return loopback_url_error(url)


def tier0_check(before: dict, after: dict) -> list[str]:
    """Why tier 0 is not intact: before/after map unit -> {main_pid, active}; a unit not active before the round
    only has to keep its (absent) main PID."""
    why = []
    for unit, seen in sorted(before.items()):
        now = after.get(unit, {})
        if now.get("main_pid") != seen.get("main_pid"):
            why.append(f"tier-0 unit {unit} changed its main PID ({seen.get('main_pid')} -> {now.get('main_pid')})")
        if seen.get("active") == "active" and now.get("active") != "active":
            why.append(f"tier-0 unit {unit} is not active ({now.get('active')})")
    return why


def leak_verdict(m: dict, memory_max: int, memory_swap_max: int | None, recovery_timeout: float) -> dict:
    """The leak round's verdict from its measurements `m`: unit, cgroup, killed, killed_in_unit, killed_by,
    peak_bytes, swap_bytes, restarted, back_after (s or None), timeout, tier0_before, tier0_after."""
    why = []
    unit = m["unit"]
    if not m["killed"]:
        why.append(
            f"{unit} was not killed within {m['timeout']} s: it grew to {mib(m['peak_bytes'])} MiB "
            f"against a plan limit of {mib(memory_max)} MiB (is the plan's MemoryMax applied?)"
        )
    elif not m["killed_in_unit"]:
        why.append(
            f"{unit}: the kill was not at the unit's own limit (its cgroup's OOM kill or limit counters did not "
            "rise): the host, not the unit, paid"
        )
    if m["peak_bytes"] is not None and m["peak_bytes"] > memory_max + LIMIT_TOLERANCE_BYTES:
        why.append(f"{unit} reached {mib(m['peak_bytes'])} MiB, above its limit of {mib(memory_max)} MiB")
    if m["killed"]:
        if m["back_after"] is None:
            why.append(f"{unit} did not serve again within {recovery_timeout} s of the kill")
        elif m["back_after"] > recovery_timeout:
            why.append(f"{unit} served again after {m['back_after']} s, more than {recovery_timeout} s")
    if memory_swap_max is not None and (m.get("swap_bytes") or 0) > memory_swap_max + LIMIT_TOLERANCE_BYTES:
        why.append(
            f"{unit} used {mib(m['swap_bytes'])} MiB of swap, above its MemorySwapMax of {mib(memory_swap_max)} MiB"
        )
    tier0 = tier0_check(m["tier0_before"], m["tier0_after"])
    return {
        "round": "leak",
        "unit": unit,
        "cgroup": m["cgroup"],
        "limit": mib(memory_max),
        "killed": m["killed"],
        "killed_by": m["killed_by"],
        "killed_at": mib(m["peak_bytes"]) if m["killed"] else None,
        "peak": mib(m["peak_bytes"]),
        "restarted": m["restarted"],
        "back_after": m["back_after"],
        "swap_mib": mib(m.get("swap_bytes")),
        "swap_max": mib(memory_swap_max),
        "tier0_intact": not tier0,
        "passed": not why and not tier0,
        "why": why + tier0,
    }


def flood_verdict(target: dict, counts: dict, seconds: float) -> dict:
    """A flood target's verdict from the statuses counted over `seconds`: counts has sent, answered_2xx,
    limited_429, other."""
    rate, burst = float(target["rate"]), int(target["burst"])
    sent, ok, limited = counts["sent"], counts["answered_2xx"], counts["limited_429"]
    accepted_rate = round(ok / seconds, 2) if seconds > 0 else None
    allowed = burst + rate * seconds
    ceiling = (rate + burst / seconds) * (1 + RATE_TOLERANCE) if seconds > 0 else None
    why = []
    where = f"{target['location']} ({target['url']})"
    if sent <= allowed:
        why.append(
            f"{where}: only {sent} requests sent in {seconds} s, not more than burst + rate x duration = "
            f"{allowed:g}: the flood proved nothing (raise concurrency or duration)"
        )
    elif not limited:
        why.append(f"{where}: no 429 among {sent} requests, past the {allowed:g} the limit allows (is it on?)")
    if ceiling is not None and accepted_rate > ceiling:
        why.append(f"{where}: accepted {accepted_rate}/s, above rate + burst/duration + 10 % = {ceiling:.2f}/s")
    return {
        "round": "flood",
        "location": target["location"],
        "url": target["url"],
        "sent": sent,
        "answered_2xx": ok,
        "limited_429": limited,
        "other": counts["other"],
        "share_429": round(limited / sent, 3) if sent else None,
        "accepted_rate": accepted_rate,
        "configured_rate": rate,
        "burst": burst,
        "seconds": seconds,
        "passed": not why,
        "why": why,
    }


def host_wide_verdict(m: dict) -> dict:
    """The host-wide round's verdict: m has unit, cgroup, killed, killed_by, result, victims (the kernel's, earlyoom's
    or oomd's victims [{pid, name}]), grower_pids, timed_out, tier0_before, tier0_after."""
    why = []
    if not m["killed"]:
        why.append(
            f"{m['unit']} was not killed within {m['timeout']} s"
            + (" (it ran out its RuntimeMaxSec)" if m["timed_out"] else "")
            + ": nothing acted on the pressure"
        )
    others = [v for v in m["victims"] if v["pid"] not in m["grower_pids"]]
    if others:
        names = ", ".join(f"{v['name']} ({v['pid']})" for v in others)
        why.append(f"besides the drill's grower, these processes were killed: {names}")
    tier0 = tier0_check(m["tier0_before"], m["tier0_after"])
    return {
        "round": "host_wide",
        "unit": m["unit"],
        "cgroup": m["cgroup"],
        "killed": m["killed"],
        "killed_by": m["killed_by"],
        "killed_at": mib(m.get("peak_bytes")),
        "victim": {"unit": m["unit"], "result": m["result"], "killed_by": m["killed_by"], "others": others},
        "tier0_intact": not tier0,
        "passed": not why and not tier0,
        "why": why + tier0,
    }
