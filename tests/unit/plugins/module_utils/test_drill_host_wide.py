# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The host_wide round's course with systemd faked: who killed the transient unit, when it fails, and that the unit
is stopped in every path."""

from __future__ import annotations

import pytest

from ansible_collections.smallvps.hardening.plugins.module_utils import _drill_host as host
from ansible_collections.smallvps.hardening.plugins.module_utils import _drill_rounds as rounds

NO_KILLS = {"kernel": [], "earlyoom": [], "oomd": []}


@pytest.fixture
def fake_systemd(monkeypatch):
    def install(end: dict, kills: dict = NO_KILLS, tier0_after: dict | None = None) -> list:
        calls, shows = [], {"n": 0}

        def show(unit, *props):
            shows["n"] += 1
            if shows["n"] < 3:  # running for two polls, as PID 700
                return {**dict.fromkeys(props, ""), "ActiveState": "active", "MainPID": "700"}
            return {"MainPID": "0", **end}

        before = {"ssh.service": {"main_pid": 10, "active": "active"}}
        states = iter([before, tier0_after or before])
        monkeypatch.setattr(host, "run", lambda *argv, check=False: calls.append(argv) or "")
        monkeypatch.setattr(host, "show", show)
        monkeypatch.setattr(host, "unit_cgroup", lambda unit: None)
        monkeypatch.setattr(host, "unit_state", lambda units: next(states))
        monkeypatch.setattr(host, "journal_cursor", lambda: "")
        monkeypatch.setattr(host, "kills_since", lambda cursor: kills)
        monkeypatch.setattr(host, "meminfo_bytes", lambda *keys: 512 << 20)
        return calls

    return install


SIGKILLED = {"ActiveState": "failed", "Result": "signal", "ExecMainCode": "2", "ExecMainStatus": "9"}


def _round() -> dict:
    return rounds.host_wide(["ssh.service"], 5)


def test_a_grower_the_kernel_killed_alone_passes_and_the_unit_is_stopped(fake_systemd):
    calls = fake_systemd(SIGKILLED)
    verdict = _round()
    assert verdict["passed"], verdict["why"]
    assert (verdict["killed"], verdict["killed_by"]) == (True, "kernel")
    unit = verdict["unit"]
    assert unit.startswith("smallvps-drill-host-") and calls[0][:2] == ("systemd-run", "--quiet")
    assert "RuntimeMaxSec=5" in calls[0] and host.MARKER in calls[0]
    assert ("systemctl", "stop", unit) in calls


def test_earlyoom_is_named_when_it_logged_the_grower(fake_systemd):
    fake_systemd(
        {**SIGKILLED, "ExecMainStatus": "15"},
        kills={"kernel": [], "earlyoom": [(700, "python3")], "oomd": []},
    )
    verdict = _round()
    assert verdict["passed"] and verdict["killed_by"] == "earlyoom"


@pytest.mark.parametrize(
    ("end", "kills", "tier0_after", "reason"),
    [
        (
            {"ActiveState": "inactive", "Result": "timeout", "ExecMainCode": "1", "ExecMainStatus": "0"},
            NO_KILLS,
            None,
            "was not killed within 5 s (it ran out its RuntimeMaxSec)",
        ),
        (
            SIGKILLED,
            {"kernel": [(700, "python3"), (77, "sshd")], "earlyoom": [], "oomd": []},
            None,
            "besides the drill's grower, these processes were killed: sshd (77)",
        ),
        (
            SIGKILLED,
            NO_KILLS,
            {"ssh.service": {"main_pid": 11, "active": "active"}},
            "ssh.service changed its main PID",
        ),
    ],
)
def test_each_failure_is_named(fake_systemd, end, kills, tier0_after, reason):
    calls = fake_systemd(end, kills, tier0_after)
    verdict = _round()
    assert not verdict["passed"]
    assert any(reason in why for why in verdict["why"]), verdict["why"]
    assert ("systemctl", "stop", verdict["unit"]) in calls


def test_a_grower_earlyoom_logged_counts_as_killed_when_systemd_unloaded_its_unit(fake_systemd):
    # earlyoom's SIGTERM is a clean exit to systemd, which then drops the transient unit: show() answers defaults.
    fake_systemd(
        {"ActiveState": "inactive", "Result": "success", "ExecMainCode": "0", "ExecMainStatus": "0"},
        kills={"kernel": [], "earlyoom": [(700, "python3")], "oomd": []},
    )
    verdict = _round()
    assert verdict["passed"], verdict["why"]
    assert (verdict["killed"], verdict["killed_by"]) == (True, "earlyoom")
