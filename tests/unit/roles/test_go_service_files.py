# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""go_service_files and what a new one does, run by ansible-playbook on the controller: go_service's validate,
files and start task files against a fake systemctl (a script first on PATH that keeps the unit's state in a
file and logs every action) and a fake binary that refuses a file holding "bad". The unit (here the fake's
FragmentPath) is written in the same call as the files. A file the program refuses does not stay: it and every
other file of the call are put back as they were; a new file with on_change: reload reloads the running service,
one read only at start (or a new unit) restarts it. One run: each case is a host of its own, connection local,
in a directory of its own."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import run_playbook
from ansible_collections.smallvps.hardening.tests.unit.roles.test_go_service_validate import PLAN

# The fake systemctl: the unit's state in $FAKE_SYSTEMD/state.json, every action appended to $FAKE_SYSTEMD/log.
SYSTEMCTL = r"""#!PYTHON
import json, os, sys, time
from datetime import datetime, timezone
here = os.environ["FAKE_SYSTEMD"]
path = os.path.join(here, "state.json")
state = json.load(open(path))
words = [w for w in sys.argv[1:] if not w.startswith("-")]
verb = words[0] if words else ""
with open(os.path.join(here, "log"), "a") as log:
    log.write(verb + "\n")
def started():
    state.update(ActiveState="active", MainPID=state["MainPID"] + 100, start=time.time())
if verb == "show":
    stamp = datetime.fromtimestamp(state["start"], timezone.utc).strftime("%a %Y-%m-%d %H:%M:%S.%f UTC")
    print(f"Id=collector.service\nLoadState=loaded\nActiveState={state['ActiveState']}")
    print(f"MainPID={state['MainPID'] if state['ActiveState'] == 'active' else 0}\nExecMainStartTimestamp={stamp}")
    print(f"FragmentPath={here}/collector.service\nDropInPaths=\nUnitFileState=enabled")
elif verb == "is-enabled":
    print("enabled")
elif verb == "start" and state["ActiveState"] != "active" or verb == "restart":
    started()
elif verb == "reload" and state["ActiveState"] != "active":
    sys.exit("Job for collector.service failed: collector.service is not active, cannot reload.")
json.dump(state, open(path, "w"))
"""
# The fake binary: `prog check FILE` refuses a file that holds "bad".
PROG = """#!/bin/sh
if grep -q bad "$2"; then echo "prog: line 1: bad is not a directive" >&2; exit 1; fi
"""

PLAYBOOK = """
- hosts: all
  gather_facts: false
  environment:
    FAKE_SYSTEMD: "{{ fake_dir }}"
  tasks:
    - name: Validate
      ansible.builtin.include_role:
        name: smallvps.hardening.go_service
        tasks_from: validate
    - name: Files
      ansible.builtin.include_role:
        name: smallvps.hardening.go_service
        tasks_from: files
      # Role parameters, over the role's vars: the unit is the fake's, in the case's directory.
      vars:
        go_service_unit_path: "{{ fake_dir }}/collector.service"
        go_service_unit_content: "{{ unit_content }}"
    - name: Start
      ansible.builtin.include_role:
        name: smallvps.hardening.go_service
        tasks_from: start
"""

UNIT = "[Service]\n"
NEW_UNIT = "[Service]\nEnvironment=A=1\n"
# case: (the unit's ActiveState, site.conf's new content, static.yml's new content, more host variables).
# site.conf (on_change: reload, checked by prog) was "old", static.yml (read at start) "same" and the unit UNIT
# before the run.
CASES = {
    "reload": ("active", "new", "same", {}),
    "unchanged": ("active", "old", "same", {}),
    "restart_for_a_start_file": ("active", "new", "changed", {}),
    "restart_not_allowed": ("active", "new", "changed", {"go_service_restart_allowed": False}),
    "between_restarts": ("activating", "new", "same", {}),
    "stopped": ("failed", "new", "same", {}),
    "refused": ("active", "bad", "changed", {"unit_content": NEW_UNIT}),
    "new_unit": ("active", "old", "same", {"unit_content": NEW_UNIT}),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """{case: (failed message or None, warnings, {task name: changed}, actions logged, site.conf, static.yml,
    the unit)}."""
    tmp = tmp_path_factory.mktemp("go_service_files")
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(SYSTEMCTL.replace("PYTHON", sys.executable))
    (bin_dir / "prog").write_text(PROG)
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    hosts = {}
    for case, (_, site, static, extra) in CASES.items():
        here = tmp / case
        (here / "etc").mkdir(parents=True)
        (here / "etc" / "site.conf").write_text("old")
        (here / "etc" / "static.yml").write_text("same")
        (here / "collector.service").write_text(UNIT)
        (here / "log").write_text("")
        hosts[case] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "fake_dir": str(here),
            "unit_content": UNIT,
            "smallvps_memory_plan": PLAN,
            "go_service_name": "collector",
            "go_service_binary": {"source": "package"},
            "go_service_binary_name": "prog",
            "go_service_package_binary": str(bin_dir / "prog"),
            "go_service_files": [
                {
                    "path": str(here / "etc" / "site.conf"),
                    "content": site,
                    "validate_args": ["check", "%s"],
                    "on_change": "reload",
                },
                {"path": str(here / "etc" / "static.yml"), "content": static},
            ],
            **extra,
        }
    # Every file above is older than the process the fake unit runs.
    time.sleep(0.05)
    for case, (active_state, *_) in CASES.items():
        state = {"ActiveState": active_state, "MainPID": 4000, "start": time.time()}
        (tmp / case / "state.json").write_text(json.dumps(state))
    (tmp / "inventory.yml").write_text(json.dumps({"all": {"hosts": hosts}}))
    (tmp / "playbook.yml").write_text(PLAYBOOK)
    _, report = run_playbook(
        ["-i", str(tmp / "inventory.yml"), str(tmp / "playbook.yml")],
        timeout=300,
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        ANSIBLE_FORKS="8",
    )
    found = {case: [None, [], {}] for case in CASES}
    for task in report["plays"][0]["tasks"]:
        for case, outcome in task["hosts"].items():
            # The last failure: a refused file fails the write (rescued), then the refusal.
            if outcome.get("failed"):
                found[case][0] = outcome["msg"]
            found[case][1] += outcome.get("warnings", [])
            if not outcome.get("skipped"):
                # The json callback names a role's task "ROLE : NAME".
                found[case][2][task["task"]["name"].split(" : ")[-1]] = outcome.get("changed", False)
    return {
        case: (
            *values,
            (tmp / case / "log").read_text().split(),
            (tmp / case / "etc" / "site.conf").read_text(),
            (tmp / case / "etc" / "static.yml").read_text(),
            (tmp / case / "collector.service").read_text(),
        )
        for case, values in found.items()
    }


def _actions(log):
    """What the run did to the unit (the fake's log without the reads)."""
    return [verb for verb in log if verb not in ("show", "is-enabled")]


def test_a_new_file_with_on_change_reload_reloads_the_running_service(outcomes):
    failed, _, tasks, log, site, static, _ = outcomes["reload"]
    assert failed is None and (site, static) == ("new", "same"), failed
    assert _actions(log) == ["reload"], log
    assert tasks["Reload collector for the new site.conf"] is True, tasks


def test_an_unchanged_file_does_nothing(outcomes):
    failed, _, tasks, log, site, _, _ = outcomes["unchanged"]
    assert failed is None and site == "old", failed
    assert _actions(log) == [], log


def test_a_new_file_read_only_at_start_restarts_and_the_restart_takes_the_reloadable_one_too(outcomes):
    failed, _, _, log, site, static, _ = outcomes["restart_for_a_start_file"]
    assert failed is None and (site, static) == ("new", "changed"), failed
    assert _actions(log) == ["restart"], log


def test_without_restarts_the_reloadable_file_is_still_reloaded_and_the_rest_warned(outcomes):
    failed, warnings, _, log, _, _, _ = outcomes["restart_not_allowed"]
    assert failed is None, failed
    assert _actions(log) == ["reload"], log
    [warning] = [w for w in warnings if "was not restarted" in w]
    assert "static.yml changed" in warning and "site.conf" not in warning, warning


def test_a_service_between_restarts_is_started_on_the_new_file_not_reloaded(outcomes):
    failed, _, tasks, log, _, _, _ = outcomes["between_restarts"]
    assert failed is None, failed
    assert _actions(log) == ["reset-failed", "restart"], log
    assert tasks["Start collector, which was not running, on the new site.conf"] is True, tasks


def test_a_stopped_service_is_started_and_not_reloaded_after(outcomes):
    failed, _, _, log, _, _, _ = outcomes["stopped"]
    assert failed is None, failed
    assert _actions(log) == ["start"], log


def test_a_new_unit_written_with_the_files_restarts_the_running_service(outcomes):
    failed, _, _, log, site, _, unit = outcomes["new_unit"]
    assert failed is None and (site, unit) == ("old", NEW_UNIT), failed
    assert _actions(log) == ["restart"], log


def test_a_file_the_program_refuses_does_not_stay_nor_the_unit_beside_it_and_nothing_is_started(outcomes):
    failed, _, _, log, site, static, unit = outcomes["refused"]
    assert (site, static, unit) == ("old", "same", UNIT) and _actions(log) == [], (site, static, unit, log)
    assert failed is not None
    assert failed.startswith("go_service: prog check refused the new "), failed
    assert failed.split("refused the new ")[1].startswith("/") and "/refused/etc/site.conf," in failed, failed
    assert failed.endswith(
        ", which was not installed; the running collector.service keeps its configuration."
        " prog: line 1: bad is not a directive"
    ), failed
