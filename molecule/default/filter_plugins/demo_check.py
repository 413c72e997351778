"""demo_check_report: `make demo`'s post-check, its claims checked and said in a few lines (demo-check.yml).

Every line is a fact read on the host (molecule/default/demo_limits.py, a request, the flood, the leak) next to
what the plan says; "failed" lists every claim that does not hold, and the playbook fails on any.
"""

# systemctl show's property -> the plan entry's key in bytes, and what systemd shows when the plan sets none.
PROPERTIES = (
    ("MemoryMax", "memory_max_bytes", "infinity"),
    ("MemoryHigh", "memory_high_bytes", "infinity"),
    ("MemorySwapMax", "memory_swap_max_bytes", "infinity"),
    ("OOMScoreAdjust", "oom_score_adjust", "0"),
    ("MemoryLow", "memory_low_bytes", "0"),
)
# cgroup v2 file -> the property it enforces ("max" there is systemd's "infinity").
V2_FILES = (
    ("memory.max", "MemoryMax"),
    ("memory.high", "MemoryHigh"),
    ("memory.swap.max", "MemorySwapMax"),
    ("memory.low", "MemoryLow"),
)


def _expected(entry):
    return {prop: default if entry.get(key) is None else str(entry[key]) for prop, key, default in PROPERTIES}


def _limits(plan, facts, failed):
    headers = ["unit"] + [prop for prop, _, _ in PROPERTIES] + ["process oom_score_adj", "vs plan"]
    rows = []
    for entry in plan["services"].values():
        unit, want = entry["unit"], _expected(entry)
        got = facts["units"][unit]
        shown = got["show"]
        wrong = [f"{prop} {shown.get(prop)} (plan {value})" for prop, value in want.items() if shown.get(prop) != value]
        if wrong:
            failed.append(f"{unit}: systemd shows " + ", ".join(wrong))
        adj = got["oom_score_adj"]
        rows.append(
            [unit]
            + [shown.get(prop, "?") for prop, _, _ in PROPERTIES]
            + ["-" if adj is None else str(adj)]
            + ["same" if not wrong else "DIFFERS"]
        )
    widths = [max(len(row[i]) for row in [headers] + rows) for i in range(len(headers))]
    return [
        "  ".join(
            [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        )
        for row in [headers] + rows
    ]


def _kernel_checks(plan, facts, failed):
    """The kernel's own files hold the plan's values: v1 memory.limit_in_bytes (MemoryMax), v2 all four."""
    for entry in plan["services"].values():
        unit, want = entry["unit"], _expected(entry)
        kernel = facts["units"][unit]["kernel"]
        if facts["cgroup"] == "v1":
            if entry.get("memory_max_bytes") is not None and kernel.get("memory.limit_in_bytes") != want["MemoryMax"]:
                failed.append(f"{unit}: memory.limit_in_bytes is {kernel.get('memory.limit_in_bytes')}, not MemoryMax")
            continue
        for name, prop in V2_FILES:
            if (kernel.get(name) or "").replace("max", "infinity") != want[prop]:
                failed.append(f"{unit}: {name} is {kernel.get(name)}, not {prop} {want[prop]}")


def _container(plan, facts, failed):
    """What this host's kernel enforces of those limits, said plainly."""
    _kernel_checks(plan, facts, failed)
    units = facts["units"]
    if facts["cgroup"] == "v1":
        capped = [
            f"{e['unit']} memory.limit_in_bytes {units[e['unit']]['kernel'].get('memory.limit_in_bytes')}"
            for e in plan["services"].values()
            if e.get("memory_max_bytes") is not None
        ]
        lines = [
            f"cgroup v1: the kernel enforces MemoryMax ({', '.join(capped) or 'no unit is capped'});",
            "  MemoryHigh, MemorySwapMax, MemoryLow are v2 only: systemd shows them, nothing enforces them here",
        ]
    else:
        lines = ["cgroup v2: the kernel holds all four (memory.max, .high, .swap.max, .low checked)"]
    if not facts["cap_sys_resource"]:
        lowered = [
            f"{unit} {got['show'].get('OOMScoreAdjust')} -> {got['oom_score_adj']}"
            for unit, got in units.items()
            if got["oom_score_adj"] is not None and got["oom_score_adj"] > int(got["show"].get("OOMScoreAdjust", "0"))
        ]
        ssh = units.get("ssh.service", {}).get("oom_score_adj")
        lines.append("oom_score_adj: no CAP_SYS_RESOURCE in this container, so no process gets a negative value:")
        lines.append(
            "  "
            + ", ".join(
                lowered + ([f"sshd's own -1000 -> {ssh}"] if ssh is not None and ssh > -1000 else [])
                or ["none was asked for"]
            )
        )
    swaps = ", ".join(line.split()[0] for line in facts["swaps"]) or "none"
    if facts.get("container"):
        lines.append(f"swap: the machine's (/proc/swaps: {swaps}); a container cannot switch its swap file on")
    else:
        lines.append(f"swap: {swaps}")
    return lines


def _request(request, failed):
    status, size = request.get("status"), len(request.get("content") or "")
    if status != 200 or not size:
        failed.append(f"GET / through nginx answered {status} with {size} bytes, not 200 with a body")
    return f"request: GET http://127.0.0.1/ through nginx to the app: {status}, {size} bytes"


def _burst(report, burst, rate, failed):
    """Requests at once from a full bucket: burst + 1 answered (nodelay), plus what the zone's rate refilled while
    they arrived (the load client's "seconds"); every other one 429."""
    sent, status = report["sent"], report["status"]
    ok, limited = status.get("200", 0), status.get("429", 0)
    most = burst + 1 + int(report["seconds"] * rate)
    if not burst + 1 <= ok <= most or ok + limited != sent:
        failed.append(
            f"{sent} requests at once on /: {ok} x 200, {limited} x 429; not {burst + 1}..{most} x 200, 429 else"
        )
    return f"429 past the burst: {sent} requests at once on /: {ok} x 200 (burst {burst} + 1), {limited} x 429"


def _drill(report, failed):
    """One line per verdict of the drill's report (playbooks/drill.yml: {host, passed, verdicts, failures})."""
    lines = []
    for v in report.get("verdicts", []):
        if v.get("round") == "flood":
            lines.append(
                f"flood {v.get('location')} (drill, beside the leak): {v.get('sent')} sent, "
                f"{v.get('answered_2xx')} x 2xx, {v.get('limited_429')} x 429 "
                f"({(v.get('share_429') or 0) * 100:.0f} %), "
                f"accepted {v.get('accepted_rate')} r/s (its burst of {v.get('burst')} included), "
                f"configured {v.get('configured_rate')} r/s"
            )
        elif v.get("round") == "leak":
            lines.append(
                f"leak {v.get('unit')} (drill): grew to {v.get('killed_at')} MiB of its {v.get('limit')} MiB limit, "
                f"killed by {v.get('killed_by')}, serving again after {v.get('back_after')} s, "
                f"tier 0 intact: {'yes' if v.get('tier0_intact') else 'NO'}"
            )
    failed.extend(f"drill: {line}" for line in report.get("failures", []))
    if not report.get("passed") and not report.get("failures"):
        failed.append("drill: the report did not pass")
    kinds = {v.get("round") for v in report.get("verdicts", [])}
    failed.extend(f"drill: no {kind} verdict" for kind in ("flood", "leak") if kind not in kinds)
    return lines


def demo_check_report(plan, facts, request, burst=None, drill=None):
    """{"lines": the post-check's summary, "failed": every claim that does not hold}. burst: (the load
    client's report, the location's burst, the zone's rate in r/s); drill: the drill's JSON report."""
    failed = []
    lines = ["limits systemd reports (systemctl show; bytes), against the plan:"]
    lines += _limits(plan, facts, failed)
    lines += _container(plan, facts, failed)
    lines.append(_request(request, failed))
    if burst is not None:
        lines.append(_burst(*burst, failed))
    if drill is not None:
        lines += _drill(drill, failed)
    lines.append("post-check: every claim above holds" if not failed else f"post-check FAILED: {len(failed)} claim(s)")
    lines += [f"  - {claim}" for claim in failed]
    return {"lines": lines, "failed": failed}


class FilterModule:
    def filters(self):
        return {"demo_check_report": demo_check_report}
