# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Private to this collection: the drill's verdict table and failures, from the rounds' verdicts. Pure Python."""

from __future__ import annotations

COLUMNS = ("round", "unit", "limit", "killed at", "by", "back after", "tier 0 intact", "429 share")


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def rows(verdicts: list[dict]) -> list[dict]:
    """One flat verdict per leak unit, flood target and host-wide round."""
    flat = []
    for verdict in verdicts:
        if not isinstance(verdict, dict):  # a round that did not run
            continue
        if verdict.get("round") == "flood" and "targets" in verdict:
            flat.extend(verdict["targets"])
        elif verdict.get("round") in ("leak", "flood", "host_wide"):
            flat.append(verdict)
    return flat


def _cells(v: dict) -> tuple:
    if v["round"] == "flood":
        share = None if v.get("share_429") is None else f"{v['share_429'] * 100:.0f}%"
        return ("flood", v["location"], f"{v['configured_rate']:g}r/s+{v['burst']}", "-", "-", "-", "-", share or "-")
    return (
        v["round"],
        v.get("unit", "-"),
        _fmt(v.get("limit"), " MiB"),
        _fmt(v.get("killed_at"), " MiB"),
        v.get("killed_by") or "-",
        _fmt(v.get("back_after"), " s"),
        _fmt(v.get("tier0_intact")),
        "-",
    )


def table(verdicts: list[dict]) -> list[str]:
    """The verdict table, one line per row, with a PASS/FAIL column."""
    lines = [(*COLUMNS, "verdict")] + [(*_cells(v), "pass" if v["passed"] else "FAIL") for v in rows(verdicts)]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(COLUMNS) + 1)]
    return ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in lines]


def failures(verdicts: list[dict]) -> list[str]:
    """One line per failed verdict: which, and every reason."""
    failed = []
    for v in rows(verdicts):
        if not v["passed"]:
            which = f"flood {v['location']}" if v["round"] == "flood" else f"{v['round']} {v.get('unit', '')}".strip()
            failed.append(f"{which}: {'; '.join(v['why']) or 'failed'}")
    return failed
