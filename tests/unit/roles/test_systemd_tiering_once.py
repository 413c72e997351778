# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""systemd_tiering does its work once per host per run when two plays pull it in (its own play, then a role that
depends on it, as in site.yml): run by ansible-playbook against this machine (connection local) with the plan given
(memory_plan then reads nothing), the drop-ins written under tmp_path, and a fake systemctl that logs every call."""

from __future__ import annotations

import json
import os
import sys

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import MIB, build_plan
from ansible_collections.smallvps.hardening.tests.unit.local_playbook import run_playbook

PLAN = build_plan(
    {"effective_memory_bytes": 512 * MIB, "cpus": 1},
    [
        {"name": "edge.service", "tier": 0, "min": "32M", "processes": ["edge"]},
        {"name": "app.service", "tier": 1, "min": "64M", "max": "128M"},
    ],
)
FAKE_SYSTEMCTL = f"""#!{sys.executable}
import os, sys
with open(os.environ["FAKE_SYSTEMCTL_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[1] == "show":
    names = [arg for arg in sys.argv[2:] if not arg.startswith("-")]
    print("\\n\\n".join(
        f"Id={{name}}\\nNames={{name}}\\nLoadState=loaded\\nActiveState=inactive\\nSubState=dead\\n"
        f"UnitFileState=enabled\\nMemoryCurrent=[not set]\\nControlGroup="
        for name in names))
"""
# The role's play, then a play whose only role depends on systemd_tiering (nginx_limit_req, caddy, ... in site.yml).
PLAYBOOK = """
- name: Survive memory exhaustion on every host
  hosts: all
  gather_facts: false
  roles:
    - role: smallvps.hardening.systemd_tiering
      tags: [systemd_tiering]

- name: App tier
  hosts: all
  gather_facts: false
  roles:
    - role: dependent
      tags: [dependent]
"""
WRITE = "Write one drop-in per unit and remove those of units no longer tiered (or tier 2 with nothing to set)"


def _run(tmp_path, *args: str, playbook: str = PLAYBOOK, **extra_vars):
    """(exit code, json report, the fake systemctl's calls) of PLAYBOOK on this machine."""
    (tmp_path / "roles" / "dependent" / "meta").mkdir(parents=True, exist_ok=True)
    (tmp_path / "roles" / "dependent" / "meta" / "main.yml").write_text(
        "dependencies:\n  - role: smallvps.hardening.systemd_tiering\n"
    )
    (tmp_path / "site.yml").write_text(playbook)
    (tmp_path / "system").mkdir(exist_ok=True)
    fake = tmp_path / "bin" / "systemctl"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(FAKE_SYSTEMCTL)
    fake.chmod(0o755)
    log = tmp_path / "systemctl.log"
    log.write_text("")
    variables = {
        "smallvps_memory_plan": PLAN,
        "systemd_tiering_root": str(tmp_path / "system"),
        "systemd_tiering_restart_units": ["app.service"],
        "ansible_become": False,
        "ansible_python_interpreter": sys.executable,
        **extra_vars,
    }
    returncode, report = run_playbook(
        ["-i", "localhost,", "-c", "local", str(tmp_path / "site.yml"), "-e", json.dumps(variables), *args],
        PATH=f"{fake.parent}:{os.environ['PATH']}",
        ANSIBLE_ROLES_PATH=str(tmp_path / "roles"),
        FAKE_SYSTEMCTL_LOG=str(log),
    )
    return returncode, report, log.read_text().splitlines()


def _ran(report: dict) -> list[tuple[str, str]]:
    """(play name, task name) of the tasks that ran on localhost, in order."""
    return [
        (play["play"]["name"], task["task"]["name"].split(" : ")[-1])
        for play in report["plays"]
        for task in play["tasks"]
        if "localhost" in task["hosts"] and not task["hosts"]["localhost"].get("skipped")
    ]


def _failures(report: dict) -> list:
    return [
        (task["task"]["name"], task["hosts"]["localhost"].get("msg"))
        for play in report["plays"]
        for task in play["tasks"]
        if task["hosts"].get("localhost", {}).get("failed")
    ]


def _written(tmp_path) -> dict:
    root = tmp_path / "system"
    return {path.parent.name: path.read_text() for path in sorted(root.glob("*.d/50-smallvps-tier.conf"))}


@pytest.mark.parametrize("tags", ["", "systemd_tiering", "dependent"])
def test_two_plays_tier_the_host_once(tmp_path, tags):
    returncode, report, calls = _run(tmp_path, *(["--tags", tags] if tags else []))
    assert returncode == 0, _failures(report)
    ran = _ran(report)
    # The first play that pulls the role in does the work, the next one skips its one include.
    first = "Survive memory exhaustion on every host" if tags != "dependent" else "App tier"
    assert [play for play, task in ran if task == WRITE] == [first]
    assert set(_written(tmp_path)) == {"edge.service.d", "app.service.d", "system.slice.d"}
    assert calls.count("daemon-reload") == 1
    # systemd_service starts a unit it is told to restart when it is not running (the fake's are not).
    assert [call for call in calls if "start " in call] == ["start app.service"]
    assert sum(call.startswith("show --property=Id,MemoryCurrent") for call in calls) == 1


def test_the_app_play_skips_the_work_in_one_task(tmp_path):
    returncode, report, _ = _run(tmp_path)
    assert returncode == 0
    app_play = [play for play in report["plays"] if play["play"]["name"] == "App tier"][0]
    # memory_plan's own block is its business; of systemd_tiering, one skipped include is all.
    tiering = [
        task["task"]["name"].split(" : ")[-1] for task in app_play["tasks"] if "systemd_tiering" in task["task"]["path"]
    ]
    assert tiering == ["Tier the host's units, once per host per run"]


def test_a_rerun_changes_nothing_and_restarts_nothing(tmp_path):
    _run(tmp_path)
    returncode, report, calls = _run(tmp_path)
    assert returncode == 0 and report["stats"]["localhost"]["changed"] == 0
    assert "daemon-reload" not in calls and not [call for call in calls if "start " in call]


def test_other_inputs_in_a_later_play_apply_again(tmp_path):
    # Same run, but the later play sets one of the role's variables: what was applied is not what it asks for.
    playbook = PLAYBOOK.replace(
        "  hosts: all\n  gather_facts: false\n  roles:\n    - role: dependent",
        (
            "  hosts: all\n  gather_facts: false\n  vars: {systemd_tiering_live_apply: false}\n"
            "  roles:\n    - role: dependent"
        ),
    )
    assert playbook != PLAYBOOK
    returncode, report, _ = _run(tmp_path, playbook=playbook)
    assert returncode == 0
    assert [play for play, task in _ran(report) if task == WRITE] == [
        "Survive memory exhaustion on every host",
        "App tier",
    ]


def test_check_mode_writes_nothing_and_reports_once(tmp_path):
    returncode, report, calls = _run(tmp_path, "--check")
    assert returncode == 0
    assert [play for play, task in _ran(report) if task == WRITE] == ["Survive memory exhaustion on every host"]
    write = [
        task["hosts"]["localhost"]
        for play in report["plays"]
        for task in play["tasks"]
        if task["task"]["name"].endswith(WRITE) and not task["hosts"]["localhost"].get("skipped")
    ][0]
    assert write["changed"] and set(write["changed_units"]) == {"edge.service", "app.service", "system.slice"}
    assert list((tmp_path / "system").iterdir()) == []
    assert "daemon-reload" not in calls


def test_a_run_limited_to_earlyoom_marks_the_host_too(tmp_path):
    # --tags systemd_tiering_earlyoom selects the include but not the drop-ins; the marker is set all the same, so
    # the later play does not include the work a second time for nothing.
    returncode, report, calls = _run(tmp_path, "--tags", "systemd_tiering_earlyoom")
    assert returncode == 0, _failures(report)
    include = "Tier the host's units, once per host per run"
    assert [play for play, task in _ran(report) if task == include] == ["Survive memory exhaustion on every host"]
    assert _written(tmp_path) == {} and calls == []


def test_the_role_own_tag_selects_the_work_when_the_play_gives_the_role_none(tmp_path):
    # A play listing the role without tags (or include_role): only the tags the role gives its tasks select them.
    playbook = "- hosts: all\n  gather_facts: false\n  roles:\n    - role: smallvps.hardening.systemd_tiering\n"
    returncode, report, _ = _run(tmp_path, "--tags", "systemd_tiering", playbook=playbook)
    assert returncode == 0, _failures(report)
    assert set(_written(tmp_path)) == {"edge.service.d", "app.service.d", "system.slice.d"}
