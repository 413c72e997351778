# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The verdict table drill.yml prints and the failures it fails with."""

from __future__ import annotations

from ansible_collections.smallvps.hardening.plugins.module_utils._drill_report import failures, rows, table

LEAK = {
    "round": "leak",
    "unit": "app.service",
    "limit": 368.0,
    "killed_at": 368.0,
    "killed_by": "kernel",
    "back_after": 0.52,
    "tier0_intact": True,
    "passed": True,
    "why": [],
}
TARGET = {
    "round": "flood",
    "location": "root",
    "configured_rate": 5.0,
    "burst": 10,
    "share_429": 0.93,
    "passed": False,
    "why": ["root (http://127.0.0.1/): no 429 among 10 requests"],
}
FLOOD = {"round": "flood", "targets": [TARGET], "passed": False, "why": TARGET["why"]}


def test_one_row_per_leak_unit_and_flood_target_skipped_rounds_left_out():
    assert rows([LEAK, FLOOD, None, {"round": "cleanup"}]) == [LEAK, TARGET]
    assert table([LEAK, FLOOD]) == [
        "round  unit         limit    killed at  by      back after  tier 0 intact  429 share  verdict",
        "leak   app.service  368 MiB  368 MiB    kernel  0.52 s      yes            -          pass",
        "flood  root         5r/s+10  -          -       -           -              93%        FAIL",
    ]


def test_a_leak_never_killed_shows_dashes_and_no():
    never = {**LEAK, "killed_at": None, "killed_by": "none", "back_after": None, "tier0_intact": False, "passed": False}
    assert table([never])[1].split() == ["leak", "app.service", "368", "MiB", "-", "none", "-", "NO", "-", "FAIL"]


def test_failures_name_the_round_and_every_reason():
    failed = {**LEAK, "passed": False, "why": ["app.service was not killed within 60 s", "tier-0 unit ssh.service ..."]}
    assert failures([failed, FLOOD]) == [
        "leak app.service: app.service was not killed within 60 s; tier-0 unit ssh.service ...",
        "flood root: root (http://127.0.0.1/): no 429 among 10 requests",
    ]
    assert failures([LEAK]) == []
