# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""render_svg and render_index: the numbers drawn are the plan's (worked by hand below), text is escaped, and
what is not a plan is refused by name. tests/unit/test_plan_picture_browser.py opens them in a browser."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import MIB, build_plan
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._plan_picture import (
    plan_segments,
    render_index,
    render_svg,
)
from ansible_collections.smallvps.hardening.tests.unit.plugins.plugin_utils.not_a_plan import WITHOUT_SERVICES

SVG = "{http://www.w3.org/2000/svg}"
HOST_1G = {"effective_memory_bytes": 1024 * MIB, "cpus": 1}
SERVICES = [
    {"name": "app", "tier": 1, "runtime": "python", "min": "256M", "max": "512M"},
    {"name": "nginx", "tier": 0, "min": "32M"},
    {"name": "sshd", "tier": 0, "min": "16M"},
    {"name": "api", "tier": 1, "runtime": "go", "min": 64, "max": 100},
    {"name": "backup", "tier": 2, "min": "40M"},
]
PLAN = build_plan(HOST_1G, SERVICES)
# reserve 178 (base 80 + page cache 32 + watermarks 66), tier 0 32 + 16, tier 2 40: pool 1024 - 178 - 48 - 40 = 758;
# app and api are pinned at their max (512, 100): allocated 612, headroom 146. 178 + 48 + 612 + 40 + 146 = 1024.
BAR = [
    ("reserve", "reserve", 178),
    ("tier0", "tier 0", 48),
    ("tier1", "app", 512),
    ("tier1", "api", 100),
    ("tier2", "tier 2", 40),
    ("headroom", "headroom", 146),
]


def _groups(svg: str, kind: str) -> list[ElementTree.Element]:
    return [g for g in ElementTree.fromstring(svg).iter(f"{SVG}g") if g.get("class") == kind]


def test_the_segments_are_the_plans_numbers():
    segments = plan_segments(PLAN, "memory_plan_svg")
    assert [(s["kind"], s["name"], s["mib"]) for s in segments] == BAR
    assert segments[0]["detail"] == "base 80 + page cache 32 + watermarks 66 + zram 0"
    assert segments[1]["detail"] == "nginx, sshd" and segments[4]["detail"] == "backup"


def test_the_svg_draws_each_segment_with_its_label_and_share():
    svg = render_svg(PLAN, "web1")
    root = ElementTree.fromstring(svg)
    assert root.get("data-host") == "web1" and root.get("data-effective-mib") == "1024"
    assert root.find(f"{SVG}title").text == "web1: 1024 MiB effective memory"
    for kind in ("segment", "label"):
        assert [(g.get("data-kind"), g.get("data-name"), int(g.get("data-mib"))) for g in _groups(svg, kind)] == BAR
    assert [[t.text for t in g.iter(f"{SVG}text")][:2] for g in _groups(svg, "label")] == [
        [name, f"{mib} MiB"] for _, name, mib in BAR
    ]
    # 920 px for 1024 MiB, cut at rounded running totals: reserve 0..160, tier 0 160..203, app 203..663 ...
    widths = [int(g.find(f"{SVG}rect").get("width")) for g in _groups(svg, "segment")]
    assert widths == [160, 43, 460, 90, 36, 131] and sum(widths) == 920
    # tier 2 (36 px) is too narrow for "40 MiB" inside; the legend still has it.
    assert [t.text for t in _groups(svg, "segment")[4].iter(f"{SVG}text")] == []


def test_text_is_escaped():
    host = 'a<b&"c'
    svg = render_svg(PLAN, host)
    root = ElementTree.fromstring(svg)
    assert root.get("data-host") == host and root.find(f"{SVG}title").text == f"{host}: 1024 MiB effective memory"

    class Cells(HTMLParser):
        texts: list = []

        def handle_data(self, data):
            self.texts.append(data)

    Cells().feed(render_index({host: PLAN}))
    assert host in Cells.texts


def test_the_index_lists_hosts_least_headroom_first_and_a_host_without_a_plan_first():
    full = build_plan(HOST_1G, [{"name": "app", "tier": 1, "min": "256M"}])
    html = render_index({"b-roomy": PLAN, "a-full": full, "c-failed": None})
    rows = [line for line in html.splitlines() if line.startswith("<tr ")]
    assert [row.split('data-host="')[1].split('"')[0] for row in rows] == ["c-failed", "a-full", "b-roomy"]
    assert 'data-headroom="0"' in rows[1] and 'data-headroom="146"' in rows[2] and 'data-headroom=""' in rows[0]
    assert 'data-tier1="612"' in rows[2] and '<img src="b-roomy.svg"' in rows[2]
    assert "no plan: the run failed on this host before its plan was made" in rows[0]


@pytest.mark.parametrize(("plan", "start"), WITHOUT_SERVICES)
def test_what_is_not_a_plan_is_refused(plan, start):
    with pytest.raises(MemoryBudgetError, match="^" + re.escape("memory_plan_svg: " + start)):
        render_svg(plan, "web1")
    if plan is None:
        return  # the index's word for a host without a plan (above)
    with pytest.raises(MemoryBudgetError, match="^" + re.escape("memory_plan_index: host 'web1': " + start)):
        render_index({"web1": plan})


def test_a_plan_whose_parts_do_not_add_up_is_refused():
    wrong = copy.deepcopy(PLAN)
    wrong["summary"]["headroom_mb"] += 1
    with pytest.raises(MemoryBudgetError) as error:
        render_svg(wrong, "web1")
    assert str(error.value) == (
        "memory_plan_svg: input: reserve, tier 0, tier 1, tier 2 and headroom add up to 1025 MiB, not "
        "summary.effective_memory_mb 1024; expects the output of smallvps.hardening.memory_plan "
        "(a dict with services, summary and warnings)"
    )
    wrong = copy.deepcopy(PLAN)
    wrong["services"]["api"]["memory_max"] = "101M"
    with pytest.raises(MemoryBudgetError, match="tier-1 MemoryMax add up to 613 MiB, not summary.allocated_mb 612"):
        render_svg(wrong, "web1")
    wrong["services"]["api"]["memory_max"] = "1G"
    with pytest.raises(MemoryBudgetError, match="service 'api': key 'memory_max' is '1G', not NNNM"):
        render_svg(wrong, "web1")


@pytest.mark.parametrize("host", ["", ".", "..", "../web1", "a/b", None, 3])
def test_a_host_that_cannot_name_a_file_is_refused(host):
    with pytest.raises(MemoryBudgetError, match=r"^memory_plan_svg: host .* cannot name a picture file \(<host>.svg\)"):
        render_svg(PLAN, host)


@pytest.mark.parametrize("plans", [None, {}, [PLAN]])
def test_the_index_refuses_anything_but_a_mapping_of_hosts(plans):
    with pytest.raises(MemoryBudgetError, match="^memory_plan_index: input is .*; expected a non-empty mapping"):
        render_index(plans)
