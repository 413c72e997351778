# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The drill's verdicts: each check passes on a good measurement and fails, with its reason, on a bad one."""

from __future__ import annotations

import pytest

from ansible_collections.smallvps.hardening.plugins.module_utils._drill_verdict import (
    MIB,
    flood_verdict,
    health_error,
    host_wide_verdict,
    leak_verdict,
    loopback_url_error,
)

TIER0 = {"ssh.service": {"main_pid": 10, "active": "active"}, "nginx.service": {"main_pid": 20, "active": "active"}}


def _leak(**changes) -> dict:
    measured = {
        "unit": "app.service",
        "cgroup": "v2",
        "killed": True,
        "killed_in_unit": True,
        "killed_by": "kernel",
        "peak_bytes": 256 * MIB,
        "swap_bytes": 0,
        "restarted": True,
        "back_after": 2.5,
        "timeout": 60,
        "tier0_before": TIER0,
        "tier0_after": TIER0,
    }
    measured.update(changes)
    return leak_verdict(measured, 256 * MIB, 0, 30)


def test_a_kill_at_the_limit_and_a_quick_return_passes():
    verdict = _leak()
    assert verdict["passed"] and verdict["why"] == []
    assert (verdict["limit"], verdict["killed_at"], verdict["cgroup"], verdict["tier0_intact"]) == (
        256,
        256,
        "v2",
        True,
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"killed": False, "peak_bytes": 320 * MIB}, "app.service was not killed within 60 s: it grew to 320.0 MiB"),
        ({"killed_in_unit": False}, "the host, not the unit, paid"),
        ({"peak_bytes": 300 * MIB}, "reached 300.0 MiB, above its limit of 256.0 MiB"),
        ({"back_after": None}, "did not serve again within 30 s"),
        ({"back_after": 31.0}, "served again after 31.0 s, more than 30 s"),
        ({"swap_bytes": 64 * MIB}, "used 64.0 MiB of swap, above its MemorySwapMax of 0.0 MiB"),
        (
            {"tier0_after": {**TIER0, "ssh.service": {"main_pid": 11, "active": "active"}}},
            "tier-0 unit ssh.service changed its main PID (10 -> 11)",
        ),
        (
            {"tier0_after": {**TIER0, "nginx.service": {"main_pid": 20, "active": "failed"}}},
            "tier-0 unit nginx.service is not active (failed)",
        ),
    ],
)
def test_each_leak_check_fails_with_its_reason(changes, reason):
    verdict = _leak(**changes)
    assert not verdict["passed"]
    assert any(reason in why for why in verdict["why"]), verdict["why"]


def test_a_peak_within_the_tolerance_passes():
    assert _leak(peak_bytes=256 * MIB + 3 * MIB)["passed"]


def test_without_a_swap_limit_swap_is_not_judged():
    measured = {
        "unit": "app.service",
        "cgroup": "v1",
        "killed": True,
        "killed_in_unit": True,
        "killed_by": "kernel",
        "peak_bytes": 256 * MIB,
        "swap_bytes": 900 * MIB,
        "restarted": False,
        "back_after": 0.5,
        "timeout": 60,
        "tier0_before": TIER0,
        "tier0_after": TIER0,
    }
    assert leak_verdict(measured, 256 * MIB, None, 30)["passed"]
    assert not leak_verdict(measured, 256 * MIB, 0, 30)["passed"]


def test_a_tier0_unit_inactive_before_the_round_only_keeps_its_pid():
    before = {"oneshot.service": {"main_pid": 0, "active": "inactive"}}
    assert _leak(tier0_before=before, tier0_after=before)["passed"]


TARGET = {"location": "root", "url": "http://127.0.0.1/", "rate": 10, "burst": 20}


def test_a_flood_rejected_past_the_burst_at_the_configured_rate_passes():
    # 5 s at 10r/s with a burst of 20: 70 accepted at most, 14/s.
    verdict = flood_verdict(TARGET, {"sent": 1000, "answered_2xx": 70, "limited_429": 930, "other": 0}, 5.0)
    assert verdict["passed"], verdict["why"]
    assert (verdict["share_429"], verdict["accepted_rate"], verdict["configured_rate"]) == (0.93, 14.0, 10.0)


@pytest.mark.parametrize(
    ("counts", "reason"),
    [
        ({"sent": 1000, "answered_2xx": 1000, "limited_429": 0, "other": 0}, "no 429 among 1000 requests"),
        ({"sent": 60, "answered_2xx": 60, "limited_429": 0, "other": 0}, "only 60 requests sent in 5.0 s"),
        ({"sent": 1000, "answered_2xx": 90, "limited_429": 910, "other": 0}, "accepted 18.0/s, above"),
    ],
)
def test_each_flood_check_fails_with_its_reason(counts, reason):
    verdict = flood_verdict(TARGET, counts, 5.0)
    assert not verdict["passed"]
    assert any(reason in why for why in verdict["why"]), verdict["why"]


def test_the_accepted_rate_may_pass_the_ceiling_by_ten_percent_only():
    # ceiling (10 + 20/5) * 1.1 = 15.4/s: 77 accepted in 5 s is 15.4/s, 78 is 15.6/s.
    counts = {"sent": 1000, "limited_429": 900, "other": 0}
    assert flood_verdict(TARGET, {**counts, "answered_2xx": 77}, 5.0)["passed"]
    assert not flood_verdict(TARGET, {**counts, "answered_2xx": 78}, 5.0)["passed"]


def _host_wide(**changes) -> dict:
    measured = {
        "unit": "smallvps-drill-host-1.service",
        "cgroup": "v2",
        "killed": True,
        "killed_by": "earlyoom",
        "result": "signal",
        "victims": [{"pid": 500, "name": "python3", "by": "earlyoom"}],
        "grower_pids": {500},
        "timed_out": False,
        "timeout": 90,
        "peak_bytes": 400 * MIB,
        "tier0_before": TIER0,
        "tier0_after": TIER0,
    }
    measured.update(changes)
    return host_wide_verdict(measured)


def test_host_wide_passes_when_only_the_grower_was_killed():
    verdict = _host_wide()
    assert verdict["passed"] and verdict["victim"]["killed_by"] == "earlyoom"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"killed": False, "timed_out": True}, "ran out its RuntimeMaxSec"),
        (
            {"victims": [{"pid": 500, "name": "python3", "by": "kernel"}, {"pid": 77, "name": "sshd", "by": "kernel"}]},
            "these processes were killed: sshd (77)",
        ),
        ({"tier0_after": {**TIER0, "ssh.service": {"main_pid": 0, "active": "failed"}}}, "ssh.service changed"),
    ],
)
def test_each_host_wide_check_fails_with_its_reason(changes, reason):
    verdict = _host_wide(**changes)
    assert not verdict["passed"]
    assert any(reason in why for why in verdict["why"]), verdict["why"]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/", "http://127.0.0.1:8080/health", "http://localhost/x", "http://[::1]:80/"]
)
def test_loopback_urls_are_accepted(url):
    assert loopback_url_error(url) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://192.0.2.10/", "does not aim at a loopback address"),
        ("http://example.net/", "does not aim at a loopback address"),
        ("https://127.0.0.1/", "is not an http:// URL"),
        ("http://127.0.0.1:port/", "does not aim at a loopback address"),
        (8080, "is not a string"),
    ],
)
def test_other_urls_are_refused(url, reason):
    assert reason in loopback_url_error(url)


def test_health_takes_a_unix_socket_with_an_absolute_path():
    assert health_error("unix:/run/app/gunicorn.sock") is None
    assert "must be absolute" in health_error("unix:run/app.sock")
    assert "loopback" in health_error("http://10.0.0.1/health")
