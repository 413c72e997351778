# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The leak round's course with the host faked (systemd, the cgroup's counters) and a real stand-in grower process:
when it calls a kill the unit's own, when it fails, and that the grower is gone in every path."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from ansible_collections.smallvps.hardening.plugins.module_utils import _drill_host as host
from ansible_collections.smallvps.hardening.plugins.module_utils import _drill_rounds as rounds

MIB = 1 << 20
# Stand-ins for the grower: each waits for "go" like the real one, then dies of SIGKILL, ends by itself, or stays.
KILLED = "import os, sys, time\nsys.stdin.readline()\ntime.sleep(0.2)\nos.kill(os.getpid(), 9)\n"
ENDS = "import sys, time\nsys.stdin.readline()\ntime.sleep(0.3)\n"
STAYS = "import sys, time\nsys.stdin.readline()\ntime.sleep(60)\n"


class FakeCgroup:
    """A v2 cgroup whose counters rise once the grower has died of a signal, as the scenario says."""

    version = "v2"
    path = "/sys/fs/cgroup/system.slice/app.service"
    refuse = False

    def __init__(self, kill_counts: bool, limit_counts: bool):
        self.kill_counts, self.limit_counts = kill_counts, limit_counts
        self.grower = None
        self.adopted = []
        self.died_at = None
        self.after = []  # (seconds after the grower's death, MainPID, ActiveState)

    def _died(self) -> bool:
        return self.grower is not None and self.grower.poll() is not None and self.grower.returncode < 0

    def oom_kills(self):
        return 5 + (self.kill_counts and self._died())

    def limit_hits(self):
        return 9 + (self.limit_counts and self._died())

    def usage(self):
        return 368 * MIB if self._died() else 100 * MIB

    def peak(self):
        return 368 * MIB

    swap_before = 0  # MiB in swap before the round; the round itself swaps nothing unless swap_rise says so
    swap_rise = 0

    def swap(self):
        return (self.swap_before + (self.swap_rise if self._died() else 0)) * MIB

    def reset_peak(self):
        pass

    def adopt(self, pid):
        if self.refuse:
            raise OSError(16, "Device or resource busy")
        self.adopted.append(pid)


@pytest.fixture
def fake_host(monkeypatch):
    def install(code: str, kill_counts: bool = True, limit_counts: bool = True) -> FakeCgroup:
        cgroup = FakeCgroup(kill_counts, limit_counts)

        def start_grower(cap, seconds):
            cgroup.grower = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, text=True)
            return cgroup.grower

        monkeypatch.setattr(host, "unit_cgroup", lambda unit: cgroup)
        monkeypatch.setattr(host, "start_grower", start_grower)

        def show(unit, *props):
            # Until the grower dies the unit runs as PID 100; then as cgroup.after says, by seconds since its death.
            state = {"MainPID": "100", "OOMScoreAdjust": "100", "ActiveState": "active"}
            if cgroup._died():
                cgroup.died_at = cgroup.died_at or time.monotonic()
                for since, pid, active in cgroup.after:
                    if time.monotonic() - cgroup.died_at >= since:
                        state.update(MainPID=pid, ActiveState=active)
            return state

        monkeypatch.setattr(host, "show", show)
        monkeypatch.setattr(host, "unit_state", lambda units: {u: {"main_pid": 1, "active": "active"} for u in units})
        monkeypatch.setattr(host, "write", lambda path, value: True)
        monkeypatch.setattr(host, "journal_cursor", lambda: "")
        monkeypatch.setattr(host, "kills_since", lambda cursor: {"kernel": [], "earlyoom": [], "oomd": []})
        return cgroup

    return install


def _leak(timeout: int = 5) -> dict:
    return rounds.leak("app.service", 368 * MIB, 0, None, ["ssh.service"], timeout, 5)


def test_a_kill_at_the_units_own_limit_passes(fake_host):
    cgroup = fake_host(KILLED)
    verdict = _leak()
    assert verdict["passed"], verdict["why"]
    assert cgroup.adopted == [cgroup.grower.pid]
    assert (verdict["killed"], verdict["killed_by"], verdict["killed_at"], verdict["victim"]) == (
        True,
        "kernel",
        368.0,
        "the drill's grower",
    )
    assert verdict["restarted"] is False and 0.5 <= verdict["back_after"] < 2


def test_a_kill_the_units_limit_did_not_cause_fails(fake_host):
    fake_host(KILLED, limit_counts=False)
    verdict = _leak()
    assert not verdict["passed"]
    assert any("the host, not the unit, paid" in why for why in verdict["why"]), verdict["why"]


def test_a_grower_never_killed_fails(fake_host):
    fake_host(ENDS)
    verdict = _leak(timeout=1)
    assert not verdict["passed"] and verdict["killed"] is False and verdict["killed_by"] == "none"
    assert verdict["victim"] is None, "nothing was killed, so there is no victim"
    assert any("was not killed within 1 s" in why for why in verdict["why"]), verdict["why"]


def test_the_grower_is_gone_when_the_round_ends_without_a_kill(fake_host):
    cgroup = fake_host(STAYS)
    verdict = _leak(timeout=1)
    assert not verdict["killed"]
    assert cgroup.grower.poll() is not None, "the grower outlived the round"


def test_a_cgroup_that_refuses_the_grower_fails_the_round_and_the_grower_goes(fake_host):
    cgroup = fake_host(STAYS)
    cgroup.refuse = True
    verdict = _leak()
    assert not verdict["passed"] and not verdict["killed"]
    assert verdict["why"] == [
        "the grower could not join app.service's cgroup /sys/fs/cgroup/system.slice/app.service: "
        "[Errno 16] Device or resource busy"
    ]
    assert cgroup.grower.poll() is not None, "the grower outlived the round"


@pytest.mark.parametrize("health", [None, "unix:/run/app/gunicorn.sock"])
def test_a_unit_systemd_stops_and_restarts_is_back_once_active_with_its_new_pid(fake_host, monkeypatch, health):
    cgroup = fake_host(KILLED)
    # OOMPolicy=stop: systemd stops the unit (deactivating, the old PID), then starts it again as PID 200. The
    # draining unit still answers its health check.
    cgroup.after = [(0, "100", "deactivating"), (1.0, "0", "activating"), (1.5, "200", "active")]
    monkeypatch.setattr(host, "healthy", lambda url: True)
    verdict = rounds.leak("app.service", 368 * MIB, 0, health, ["ssh.service"], 5, 5)
    assert verdict["passed"], verdict["why"]
    assert verdict["restarted"] is True and 1.5 <= verdict["back_after"] < 2.5


def test_swap_the_unit_held_before_the_round_is_not_the_rounds(fake_host):
    cgroup = fake_host(KILLED)
    cgroup.swap_before = 39  # left from an earlier pressure: MemorySwapMax=0 stops new swap, not old pages
    verdict = _leak()
    assert verdict["passed"], verdict["why"]
    assert verdict["swap_mib"] == 0.0


def test_swap_the_round_added_past_memory_swap_max_fails(fake_host):
    cgroup = fake_host(KILLED)
    cgroup.swap_before, cgroup.swap_rise = 39, 20
    verdict = _leak()
    assert not verdict["passed"]
    assert any("MiB of swap, above its MemorySwapMax" in why for why in verdict["why"]), verdict["why"]
