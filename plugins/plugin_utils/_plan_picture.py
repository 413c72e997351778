# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""A memory plan as a picture, for budget.yml: one SVG per host and one index.html for all of them.

Controller only and standard library only: the pictures are files on the machine that runs
ansible-playbook, and nothing new is installed anywhere. Every number drawn is read from the plan
(its summary and its tier-1 entries' MemoryMax), never computed again: the picture cannot disagree
with the table budget.yml prints. Each segment carries its numbers as data-* attributes and as
text, so a test (or a script) can read back what a browser shows.
"""

from __future__ import annotations

import re
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_table import TERM_LABELS
from ansible_collections.smallvps.hardening.plugins.plugin_utils._plan_input import plan_entries
from ansible_collections.smallvps.hardening.plugins.plugin_utils._variable_checks import kind

EXPECTED = "expects the output of smallvps.hardening.memory_plan (a dict with services, summary and warnings)"
COLOURS = {"reserve": "#8d99ae", "tier0": "#2b6cb0", "tier2": "#805ad5", "headroom": "#f7fafc"}
# Tier 1 services take turns with these, so two neighbours never share a colour.
TIER1_COLOURS = ("#38a169", "#dd6b20", "#319795", "#d69e2e", "#c53030", "#975a16", "#b83280")
WIDTH = 960
MARGIN = 20
BAR_TOP = 64
BAR_HEIGHT = 48
ROW = 22
# A label fits inside its segment when the segment is at least this many pixels per character
# (12 px sans-serif averages under 7 px a character).
PX_PER_CHAR = 7
# The index's columns: (key, header); each row carries data-<key>, which the sort script reads.
INDEX_COLUMNS = (
    ("host", "host"),
    ("effective", "effective"),
    ("reserve", "reserve"),
    ("tier0", "tier 0"),
    ("tier1", "tier 1 MemoryMax"),
    ("tier2", "tier 2"),
    ("headroom", "headroom"),
)
SORT_SCRIPT = """
(function () {
  // Sorts the rows by a column: on load by the URL's #sort=KEY (or #sort=-KEY, descending), else by
  // headroom, least first; a click on a header sorts by it, a second click reverses.
  var table = document.getElementById("plans");
  var body = table.tBodies[0];
  var current = {key: null, descending: false};
  function value(row, key) {
    var text = row.getAttribute("data-" + key);
    if (key === "host") return text;
    // A host without a plan has no numbers: it comes first, as the one with the least headroom.
    return text === "" ? -Infinity : Number(text);
  }
  function sort(key, descending) {
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a, key), y = value(b, key);
      var order = x < y ? -1 : x > y ? 1 : 0;
      if (descending) order = -order;
      return order || (a.getAttribute("data-host") < b.getAttribute("data-host") ? -1 : 1);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    current = {key: key, descending: descending};
    table.setAttribute("data-sorted-by", key + (descending ? " descending" : " ascending"));
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
    var key = cell.getAttribute("data-key");
    if (!key) return;
    cell.addEventListener("click", function () {
      sort(key, current.key === key ? !current.descending : false);
    });
  });
  var wanted = /^#sort=(-?)([a-z0-9]+)$/.exec(window.location.hash);
  var known = wanted && table.tHead.querySelector('th[data-key="' + wanted[2] + '"]');
  if (known) sort(wanted[2], wanted[1] === "-"); else sort("headroom", false);
})();
"""
STYLE = """
body { font-family: sans-serif; margin: 2em; color: #1a202c; }
table { border-collapse: collapse; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #e2e8f0; text-align: right; vertical-align: middle; }
th { cursor: pointer; background: #edf2f7; white-space: nowrap; }
th:first-child, td:first-child, th:last-child, td:last-child { text-align: left; }
td.picture img { width: 420px; display: block; }
tr.no-plan td { color: #c53030; }
"""


def _refuse(where: str, what: str) -> MemoryBudgetError:
    return MemoryBudgetError(f"{where}: input: {what}; {EXPECTED}")


def _memory_max_mib(entry: dict, where: str) -> int:
    found = re.fullmatch(r"([0-9]+)M", str(entry["memory_max"]))
    if found is None:
        raise _refuse(where, f"service {entry['name']!r}: key 'memory_max' is {entry['memory_max']!r}, not NNNM")
    return int(found.group(1))


def plan_segments(plan, where: str) -> list[dict]:
    """The bar's parts, left to right: reserve, tier 0, each tier-1 MemoryMax, tier 2, headroom.

    Each is {kind, name, mib, detail}; their MiB add up to the effective memory, or the input is refused.
    """
    entries = plan_entries(plan, where, need_summary=True)
    summary = plan["summary"]
    names = {tier: ", ".join(e["name"] for e in entries if e["tier"] == tier) for tier in (0, 2)}
    tier1 = [(entry["name"], _memory_max_mib(entry, where)) for entry in entries if entry["tier"] == 1]
    reserve_terms = summary["reserve_terms"]
    terms = " + ".join(f"{label} {reserve_terms[key]}" for key, label in TERM_LABELS if key in reserve_terms)
    segments = [
        {"kind": "reserve", "name": "reserve", "mib": summary["reserve_mb"], "detail": terms},
        {"kind": "tier0", "name": "tier 0", "mib": summary["tier0_mb"], "detail": names[0]},
        *({"kind": "tier1", "name": name, "mib": mib, "detail": "MemoryMax"} for name, mib in tier1),
        {"kind": "tier2", "name": "tier 2", "mib": summary["tier2_mb"], "detail": names[2]},
        {"kind": "headroom", "name": "headroom", "mib": summary["headroom_mb"], "detail": "pool left unallocated"},
    ]
    allocated = sum(mib for _, mib in tier1)
    if allocated != summary["allocated_mb"]:
        raise _refuse(
            where, f"the tier-1 MemoryMax add up to {allocated} MiB, not summary.allocated_mb {summary['allocated_mb']}"
        )
    total = sum(segment["mib"] for segment in segments)
    if total != summary["effective_memory_mb"] or any(segment["mib"] < 0 for segment in segments):
        raise _refuse(
            where,
            f"reserve, tier 0, tier 1, tier 2 and headroom add up to {total} MiB, not "
            f"summary.effective_memory_mb {summary['effective_memory_mb']}",
        )
    return segments


def check_host(host, where: str) -> str:
    """The host's name, refused unless it can name its picture's file (<host>.svg) in one directory."""
    if not isinstance(host, str) or host in ("", ".", "..") or "/" in host or "\0" in host:
        raise MemoryBudgetError(
            f"{where}: host {host!r} ({kind(host)}) cannot name a picture file (<host>.svg); "
            "expected an inventory hostname without '/', such as inventory_hostname"
        )
    return host


def _attrs(**values) -> str:
    return " ".join(f"{key.replace('_', '-')}={quoteattr(str(value))}" for key, value in values.items())


def _data(segment: dict) -> str:
    """What a test reads back from the browser's DOM: the segment's kind, name and MiB."""
    return _attrs(data_kind=segment["kind"], data_name=segment["name"], data_mib=segment["mib"])


def _colours(segments: list[dict]) -> list[str]:
    tier1 = iter(TIER1_COLOURS * (1 + len(segments) // len(TIER1_COLOURS)))
    return [next(tier1) if segment["kind"] == "tier1" else COLOURS[segment["kind"]] for segment in segments]


def _bar(segments: list[dict], colours: list[str], effective: int) -> list[str]:
    """The segments as rectangles, cut at rounded running totals so they tile the bar without gaps."""
    width = WIDTH - 2 * MARGIN
    lines, done = [], 0
    for segment, colour in zip(segments, colours, strict=True):
        left = MARGIN + round(width * done / effective)
        done += segment["mib"]
        right = MARGIN + round(width * done / effective)
        label = f"{segment['name']} {segment['mib']} MiB"
        lines.append(f'<g class="segment" {_data(segment)}>')
        lines.append(f"<title>{escape(label)}</title>")
        lines.append(
            f"<rect {_attrs(x=left, y=BAR_TOP, width=right - left, height=BAR_HEIGHT, fill=colour)} "
            'stroke="#4a5568" stroke-width="0.5"/>'
        )
        if right - left >= PX_PER_CHAR * max(len(segment["name"]), len(f"{segment['mib']} MiB")) + 6:
            middle = (left + right) // 2
            fill = "#1a202c" if segment["kind"] in ("headroom", "reserve") else "#ffffff"
            for offset, text in ((20, segment["name"]), (36, f"{segment['mib']} MiB")):
                where = _attrs(x=middle, y=BAR_TOP + offset, fill=fill)
                lines.append(f'<text {where} text-anchor="middle">{escape(text)}</text>')
        lines.append("</g>")
    return lines


def _legend(segments: list[dict], colours: list[str]) -> list[str]:
    """One row per segment: swatch, name, MiB, detail (the labels a test compares with the plan)."""
    lines = []
    for index, (segment, colour) in enumerate(zip(segments, colours, strict=True)):
        y = BAR_TOP + BAR_HEIGHT + 24 + index * ROW
        lines.append(f'<g class="label" {_data(segment)}>')
        lines.append(f'<rect {_attrs(x=MARGIN, y=y - 12, width=14, height=14, fill=colour)} stroke="#4a5568"/>')
        lines.append(f'<text class="name" {_attrs(x=MARGIN + 22, y=y)}>{escape(segment["name"])}</text>')
        lines.append(f'<text class="mib" {_attrs(x=MARGIN + 330, y=y)} text-anchor="end">{segment["mib"]} MiB</text>')
        lines.append(
            f'<text class="detail" {_attrs(x=MARGIN + 350, y=y)} fill="#4a5568">{escape(segment["detail"])}</text>'
        )
        lines.append("</g>")
    return lines


def render_svg(plan, host) -> str:
    """The host's plan as one SVG document: a title, the bar, and a legend row per segment."""
    where = "memory_plan_svg"
    check_host(host, where)
    segments = plan_segments(plan, where)
    summary = plan["summary"]
    effective = summary["effective_memory_mb"]
    colours = _colours(segments)
    height = BAR_TOP + BAR_HEIGHT + 24 + len(segments) * ROW
    title = f"{host}: {effective} MiB effective memory"
    subtitle = (
        f"source {summary['source']}; pool {summary['pool_mb']} MiB, allocated {summary['allocated_mb']} MiB, "
        f"headroom {summary['headroom_mb']} MiB"
    )
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" {_attrs(width=WIDTH, height=height, viewBox=f"0 0 {WIDTH} {height}")}'
        f' {_attrs(data_host=host, data_effective_mib=effective)} font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect {_attrs(width=WIDTH, height=height)} fill="#ffffff"/>',
        f'<text class="title" {_attrs(x=MARGIN, y=28)} font-size="18" font-weight="bold">{escape(title)}</text>',
        f'<text class="subtitle" {_attrs(x=MARGIN, y=48)} fill="#4a5568">{escape(subtitle)}</text>',
        *_bar(segments, colours, effective),
        *_legend(segments, colours),
        "</svg>",
    ]
    return "\n".join(lines) + "\n"


def _index_row(host: str, plan) -> str:
    if plan is None:
        cells = "".join(f'<td data-key="{key}">-</td>' for key, _ in INDEX_COLUMNS[1:])
        data = _attrs(**{f"data_{key}": "" for key, _ in INDEX_COLUMNS[1:]})
        return (
            f'<tr class="no-plan" {_attrs(data_host=host)} {data}><td data-key="host">{escape(host)}</td>{cells}'
            '<td class="picture">no plan: the run failed on this host before its plan was made</td></tr>'
        )
    where = f"memory_plan_index: host {host!r}"
    segments = plan_segments(plan, where)
    summary = plan["summary"]
    numbers = {
        "effective": summary["effective_memory_mb"],
        "reserve": summary["reserve_mb"],
        "tier0": summary["tier0_mb"],
        "tier1": sum(segment["mib"] for segment in segments if segment["kind"] == "tier1"),
        "tier2": summary["tier2_mb"],
        "headroom": summary["headroom_mb"],
    }
    data = _attrs(data_host=host, **{f"data_{key}": value for key, value in numbers.items()})
    link = quote(f"{host}.svg")
    cells = "".join(f'<td data-key="{key}">{value}</td>' for key, value in numbers.items())
    return (
        f'<tr {data}><td data-key="host"><a href={quoteattr(link)}>{escape(host)}</a></td>{cells}'
        f'<td class="picture"><img src={quoteattr(link)} alt={quoteattr(f"memory plan of {host}")}></td></tr>'
    )


def _headroom_order(item) -> tuple:
    host, plan = item
    return (-1, host) if plan is None else (plan["summary"]["headroom_mb"], host)


def render_index(plans) -> str:
    """index.html for {host: plan, or None for a host without one}: a table, least headroom first, whose
    rows link each host's <host>.svg (written beside it) and sort on a click."""
    where = "memory_plan_index"
    if not isinstance(plans, dict) or not plans:
        raise MemoryBudgetError(
            f"{where}: input is {kind(plans)}; expected a non-empty mapping of inventory hostname to that host's "
            "plan (smallvps_memory_plan), or none for a host without one"
        )
    for host, plan in plans.items():
        check_host(host, where)
        if plan is not None:
            plan_segments(plan, f"{where}: host {host!r}")
    rows = [_index_row(host, plan) for host, plan in sorted(plans.items(), key=_headroom_order)]
    header = "".join(f'<th data-key="{key}">{escape(text)}</th>' for key, text in INDEX_COLUMNS)
    count = f"{len(plans)} host{'s' if len(plans) != 1 else ''}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>Memory plans: {count}</title>",
            f"<style>{STYLE}</style></head><body>",
            f"<h1>Memory plans: {count}</h1>",
            "<p>Each host's plan (smallvps_memory_plan) as budget.yml computed it, in MiB. "
            "Click a column to sort by it, again to reverse; a host name opens its picture.</p>",
            '<table id="plans" data-sorted-by="headroom ascending">',
            f"<thead><tr>{header}<th>plan</th></tr></thead><tbody>",
            *rows,
            "</tbody></table>",
            f"<script>{SORT_SCRIPT}</script>",
            "</body></html>",
            "",
        ]
    )
