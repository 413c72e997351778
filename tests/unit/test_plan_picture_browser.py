# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""budget.yml's plan pictures as a browser shows them: the real planner's plans of a sample fleet
(scripts/plan_pictures.py), drawn by budget.yml in check mode with budget_picture_dir, opened in headless
Chromium. The labels and numbers of the DOM after the page's scripts ran, and the colours of the screenshot's
bar, must be the plans' own; the numbers expected are read from the plans here, not from the renderer.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("plan_pictures", ROOT / "scripts" / "plan_pictures.py")
plan_pictures = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(plan_pictures)

SVG = "{http://www.w3.org/2000/svg}"
# The bar's geometry in the SVG (plugin_utils/_plan_picture.py): x from 20 to 940, y from 64 to 112.
BAR_LEFT, BAR_WIDTH, BAR_TOP = 20, 920, 64
INDEX_KEYS = ("effective", "reserve", "tier0", "tier1", "tier2", "headroom")


@pytest.fixture(scope="module")
def browser():
    found = plan_pictures.find_browser()
    if found is None:
        reason = (
            "no headless Chromium (none of " + ", ".join(plan_pictures.BROWSERS) + " found): make unit installs "
            "Debian's chromium-headless-shell when run as root on Debian (scripts/browser.sh); elsewhere install it"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """(the picture directory, {host: plan}) after budget.yml drew the fleet's plans in check mode."""
    plans = plan_pictures.fleet_plans()
    directory = tmp_path_factory.mktemp("plan") / "pictures"
    result = plan_pictures.draw(plans, directory, check=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return directory, plans


def _expected_bar(plan) -> list[tuple[str, str, int]]:
    """(kind, name, MiB) left to right, read from the plan: its summary, and its tier-1 entries' MemoryMax."""
    summary = plan["summary"]
    tier1 = [
        ("tier1", entry["name"], int(entry["memory_max"].removesuffix("M")))
        for entry in plan["services"].values()
        if entry["tier"] == 1
    ]
    return [
        ("reserve", "reserve", summary["reserve_mb"]),
        ("tier0", "tier 0", summary["tier0_mb"]),
        *tier1,
        ("tier2", "tier 2", summary["tier2_mb"]),
        ("headroom", "headroom", summary["headroom_mb"]),
    ]


class _Rows(HTMLParser):
    """The index table's rows as the browser left them: [(the tr's attributes, [cell texts])], and the table's."""

    def __init__(self):
        super().__init__()
        self.rows, self.table, self._cell = [], {}, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.table = dict(attrs)
        elif tag == "tr" and "data-host" in dict(attrs):
            self.rows.append((dict(attrs), []))
        elif tag == "td" and self.rows:
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[-1][1].append(self._cell.strip())
            self._cell = None


def _index(browser, directory, fragment=""):
    parser = _Rows()
    parser.feed(plan_pictures.dump_dom(browser, (directory / "index.html").as_uri() + fragment))
    return parser


def _numbers(plan) -> list[int]:
    s = plan["summary"]
    tier1 = sum(mib for kind, _, mib in _expected_bar(plan) if kind == "tier1")
    return [s["effective_memory_mb"], s["reserve_mb"], s["tier0_mb"], tier1, s["tier2_mb"], s["headroom_mb"]]


def test_budget_draws_one_svg_per_host_and_the_index_even_in_check_mode(drawn):
    directory, plans = drawn
    assert sorted(path.name for path in directory.iterdir()) == sorted([*(f"{h}.svg" for h in plans), "index.html"])


def test_the_index_lists_every_plan_least_headroom_first(browser, drawn):
    directory, plans = drawn
    index = _index(browser, directory)
    assert index.table["data-sorted-by"] == "headroom ascending"
    hosts = [attrs["data-host"] for attrs, _ in index.rows]
    assert hosts == sorted(plans, key=lambda host: (plans[host]["summary"]["headroom_mb"], host))
    for attrs, cells in index.rows:
        plan = plans[attrs["data-host"]]
        assert cells[0] == attrs["data-host"]
        assert [int(cell) for cell in cells[1:7]] == _numbers(plan), attrs["data-host"]
        assert [int(attrs[f"data-{key}"]) for key in INDEX_KEYS] == _numbers(plan), attrs["data-host"]


def test_the_index_sorts_by_the_column_the_url_names(browser, drawn):
    # The order budget.yml writes is headroom's: only the page's script puts the biggest host first.
    directory, plans = drawn
    index = _index(browser, directory, "#sort=-effective")
    assert index.table["data-sorted-by"] == "effective descending"
    by_memory = sorted(plans, key=lambda host: (-plans[host]["summary"]["effective_memory_mb"], host))
    assert [attrs["data-host"] for attrs, _ in index.rows] == by_memory
    assert by_memory != [attrs["data-host"] for attrs, _ in _index(browser, directory).rows]


@functools.cache
def _svg(browser, path):
    """The SVG as the browser parsed it; read once per file (each browser start costs about half a second)."""
    return ElementTree.fromstring(plan_pictures.dump_dom(browser, path.as_uri()))


def _texts(group) -> list[str]:
    return ["".join(text.itertext()) for text in group.iter(f"{SVG}text")]


@pytest.mark.parametrize("host", sorted(plan_pictures.FLEET))
def test_each_host_picture_shows_its_plan(browser, drawn, host):
    directory, plans = drawn
    plan, root = plans[host], _svg(browser, directory / f"{host}.svg")
    effective = plan["summary"]["effective_memory_mb"]
    expected = _expected_bar(plan)
    assert sum(mib for _, _, mib in expected) == effective
    (title,) = [t for t in root.iter(f"{SVG}text") if t.get("class") == "title"]
    assert title.text == f"{host}: {effective} MiB effective memory"
    segments = [g for g in root.iter(f"{SVG}g") if g.get("class") == "segment"]
    labels = [g for g in root.iter(f"{SVG}g") if g.get("class") == "label"]
    for groups in (segments, labels):
        assert [(g.get("data-kind"), g.get("data-name"), int(g.get("data-mib"))) for g in groups] == expected
    # The legend's words and numbers; in the bar, those of the segments wide enough to hold them.
    for (_, name, mib), label, segment in zip(expected, labels, segments, strict=True):
        assert _texts(label)[:2] == [name, f"{mib} MiB"]
        assert _texts(segment) in ([], [name, f"{mib} MiB"])
    # Each segment as wide as its share of the bar (cut at rounded running totals).
    done = 0
    for (_, name, mib), segment in zip(expected, segments, strict=True):
        rect = segment.find(f"{SVG}rect")
        left = BAR_LEFT + round(BAR_WIDTH * done / effective)
        done += mib
        assert (int(rect.get("x")), int(rect.get("width"))) == (
            left,
            BAR_LEFT + round(BAR_WIDTH * done / effective) - left,
        ), name


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _png_rows(path: Path, last_row: int) -> tuple[int, int, list[bytearray], int]:
    """(width, height, rows 0..last_row, bytes per pixel) of an 8-bit RGB(A) non-interlaced PNG, as Chromium
    writes its screenshots; only the rows asked for are unfiltered (a row needs the one above it)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, colour, interlace) in ((8, 2, 0), (8, 6, 0)), f"{path}: unexpected PNG format"
    size, raw, rows = (3 if colour == 2 else 4), zlib.decompress(idat), []
    stride = width * size + 1
    previous = bytearray(stride - 1)
    for y in range(last_row + 1):
        kind, line = raw[y * stride], bytearray(raw[y * stride + 1 : (y + 1) * stride])
        for i in range(len(line)):
            a, b = (line[i - size] if i >= size else 0), previous[i]
            c = previous[i - size] if i >= size else 0
            line[i] = (line[i] + (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]) & 0xFF
        rows.append(line)
        previous = line
    return width, height, rows, size


def test_the_index_screenshot_is_a_page_of_the_window_size(browser, drawn, tmp_path):
    directory, _ = drawn
    png = tmp_path / "index.png"
    plan_pictures.screenshot(browser, (directory / "index.html").as_uri(), png, (1200, 760))
    width, height, _, _ = _png_rows(png, 0)
    assert (width, height) == (1200, 760)


@pytest.mark.parametrize("host", sorted(plan_pictures.FLEET))
def test_the_screenshot_bar_has_each_segment_where_the_plan_puts_it(browser, drawn, tmp_path, host):
    directory, plans = drawn
    svg = directory / f"{host}.svg"
    fills = [
        g.find(f"{SVG}rect").get("fill") for g in _svg(browser, svg).iter(f"{SVG}g") if g.get("class") == "segment"
    ]
    png = tmp_path / f"{host}.png"
    plan_pictures.screenshot(browser, svg.as_uri(), png, (960, 300))
    # Above the segments' labels: nothing but the segment's own colour.
    y = BAR_TOP + 6
    width, _, rows, size = _png_rows(png, y)
    assert width == 960
    effective, done = plans[host]["summary"]["effective_memory_mb"], 0
    for (_, name, mib), fill in zip(_expected_bar(plans[host]), fills, strict=True):
        left = BAR_LEFT + BAR_WIDTH * done / effective
        done += mib
        right = BAR_LEFT + BAR_WIDTH * done / effective
        if right - left < 4:
            continue
        x = int((left + right) / 2)
        assert "#" + rows[y][x * size : x * size + 3].hex() == fill, f"{host}: {name} at x={x}"
