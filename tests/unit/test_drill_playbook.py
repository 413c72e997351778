# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""playbooks/drill.yml refuses before it touches the host: run by ansible-playbook against this machine (connection
local), with the plan given (budget.yml then reads nothing) and a fake systemctl that logs every call and answers
`systemctl show` from a table. A refused run calls nothing but `systemctl show` and starts no round."""

from __future__ import annotations

import json
import os
import sys

import pytest

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import ROOT, run_playbook

MIB = 1 << 20
PLAN = {
    "services": {
        "nginx": {"unit": "nginx.service", "tier": 0, "memory_max_bytes": None, "memory_swap_max_bytes": None},
        "app": {"unit": "app.service", "tier": 1, "memory_max_bytes": 368 * MIB, "memory_swap_max_bytes": 0},
    }
}
FAKE_SYSTEMCTL = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["FAKE_SYSTEMCTL_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
units = json.loads(os.environ["FAKE_SYSTEMCTL_UNITS"])
if sys.argv[1] == "show":
    names = sys.argv[sys.argv.index("--") + 1:]
    seen = [units.get(name, {{}}) for name in names]
    print("\\n\\n".join(
        "Id={{}}\\nLoadState={{}}\\nMemoryMax={{}}".format(
            name, unit.get("LoadState", "not-found"), unit.get("MemoryMax", "infinity"))
        for name, unit in zip(names, seen)))
"""
APPLIED = {
    "app.service": {"LoadState": "loaded", "MemoryMax": str(368 * MIB)},
    "nginx.service": {"LoadState": "loaded"},
}


def _drill(tmp_path, extra_vars: dict, units: dict = APPLIED, tags: str = "", check: bool = False):
    """(exit code, json report, the fake systemctl's calls) of drill.yml on this machine (--check with check)."""
    fake = tmp_path / "bin" / "systemctl"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(FAKE_SYSTEMCTL)
    fake.chmod(0o755)
    log = tmp_path / "systemctl.log"
    log.write_text("")
    variables = {
        "smallvps_memory_plan": PLAN,
        # Should a refusal break, what runs stays small and in tmp_path.
        "smallvps_drill_report": str(tmp_path / "drill.json"),
        "smallvps_drill_timeout": 1,
        "smallvps_drill_flood_duration": 1,
        "ansible_become": False,
        "ansible_python_interpreter": sys.executable,
        **extra_vars,
    }
    args = ["-i", "localhost,", "-c", "local", str(ROOT / "playbooks" / "drill.yml"), "-e", json.dumps(variables)]
    returncode, report = run_playbook(
        args + (["--tags", tags] if tags else []) + (["--check"] if check else []),
        PATH=f"{fake.parent}:{os.environ['PATH']}",
        FAKE_SYSTEMCTL_LOG=str(log),
        FAKE_SYSTEMCTL_UNITS=json.dumps(units),
    )
    return returncode, report, log.read_text().splitlines()


def _ran(report: dict) -> list[str]:
    """The names of the tasks that ran on localhost, in order."""
    return [
        task["task"]["name"]
        for play in report["plays"]
        for task in play["tasks"]
        if "localhost" in task["hosts"] and not task["hosts"]["localhost"].get("skipped")
    ]


def _failure(report: dict) -> tuple[str, str]:
    for play in report["plays"]:
        for task in play["tasks"]:
            result = task["hosts"].get("localhost", {})
            if result.get("failed"):
                return task["task"]["name"], result["msg"]
    raise AssertionError("no task failed")


FIRST = "Check the opt-in, the drilled units, the health URLs and the host-wide opt-in"


@pytest.mark.parametrize(
    ("extra_vars", "tags", "message"),
    [
        ({}, "", "smallvps_drill_confirm: drill.yml changes memory on the host"),
        ({"smallvps_drill_confirm": True, "smallvps_drill_units": "app"}, "", "smallvps_drill_units: 'app' is not a"),
        (
            {"smallvps_drill_confirm": True, "smallvps_drill_health": {"app": "http://192.0.2.10/health"}},
            "",
            "smallvps_drill_health: 'app': 'http://192.0.2.10/health' does not aim at a loopback address",
        ),
        (
            {"smallvps_drill_confirm": True},
            "host_wide",
            "smallvps_drill_host_wide: the host_wide round puts the whole host localhost under memory pressure",
        ),
    ],
)
def test_the_first_play_refuses_before_the_host_is_read(tmp_path, extra_vars, tags, message):
    returncode, report, calls = _drill(tmp_path, extra_vars, tags=tags)
    assert returncode != 0
    name, msg = _failure(report)
    assert name == FIRST and message in msg, msg
    assert _ran(report) == [FIRST] and calls == []


DRILL_CHECK = "Refuse units outside the plan's tier 1, or a plan site.yml has not applied"


@pytest.mark.parametrize(
    ("extra_vars", "units", "message"),
    [
        (
            {"smallvps_drill_units": ["nginx"]},
            APPLIED,
            "smallvps_drill_units: nginx.service is tier 0 in the plan, and the drill never touches tier 0",
        ),
        (
            {"smallvps_drill_units": ["ghost.service"]},
            APPLIED,
            "smallvps_drill_units: ghost.service is not in the plan",
        ),
        ({}, {}, "smallvps_drill_units: app.service does not exist on this host (LoadState not-found); run site.yml"),
        (
            {},
            {"app.service": {"LoadState": "loaded", "MemoryMax": "infinity"}},
            "app.service has MemoryMax=infinity, the plan says 385875968: the plan is not applied on this host",
        ),
    ],
)
def test_the_drill_play_refuses_a_unit_off_the_plan_or_a_plan_not_applied(tmp_path, extra_vars, units, message):
    returncode, report, calls = _drill(tmp_path, {"smallvps_drill_confirm": True, **extra_vars}, units=units)
    assert returncode != 0
    name, msg = _failure(report)
    assert name == DRILL_CHECK and message in msg, msg
    # Nothing ran after the refusal: no round, no cleanup, no report written; systemctl was only read.
    assert _ran(report)[-1] == DRILL_CHECK
    assert calls and all(call.startswith("show --property=Id,LoadState,MemoryMax -- ") for call in calls)


# A location that is limited, one in dry run (not flooded: said why), one regex location (the same).
LOCATIONS = [
    {"name": "root", "path": "/", "limit_req": [{"zone": "perip", "burst": 10, "nodelay": True}]},
    {"name": "trial", "path": "/trial", "limit_req": [{"zone": "perip", "burst": 10}], "dry_run": True},
    {"name": "probe", "path": "~ ^/(pid|rss)$", "limit_req": [{"zone": "perip", "burst": 1}]},
]


def test_a_dry_run_runs_no_round_and_still_reports(tmp_path):
    extra_vars = {"smallvps_drill_confirm": True, "nginx_limit_req_locations": LOCATIONS}
    returncode, report, calls = _drill(tmp_path, extra_vars, check=True)
    ran = _ran(report)
    assert returncode == 0, json.dumps(report)[-3000:]
    said = next(
        task["hosts"]["localhost"]["msg"]
        for play in report["plays"]
        for task in play["tasks"]
        if task["task"]["name"] == "Say which limited locations are not flooded, and why"
    )
    assert said == [
        "location trial: dry run, nothing is rejected",
        "location probe: ~ ^/(pid|rss)$ is a regex or named location, with no URL to aim at",
    ]
    assert calls and all(call.startswith("show ") for call in calls)
    assert not [name for name in ran if name.startswith(("Start the flood", "Leak inside", "Stop every"))], ran
    table = next(
        task["hosts"]["localhost"]["table"]
        for play in report["plays"]
        for task in play["tasks"]
        if task["task"]["name"] == "Make the verdict table"
    )
    assert table == ["round  unit  limit  killed at  by  back after  tier 0 intact  429 share  verdict"]
    assert not (tmp_path / "drill.json").exists()
