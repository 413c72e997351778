# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""playbooks/status.yml run by ansible-playbook against this machine (connection local) with the plan given, so
budget.yml reads nothing: it prints the table, writes <host>.json on the controller when asked (check mode too),
changes nothing, and refuses bad variables by name before the memory_status module runs. The figures themselves are
tested on fake trees (tests/unit/plugins/module_utils/test_memory_status.py) and on real hosts (molecule tiering,
vm_stack); this machine runs no systemd, so the planned units are absent here."""

from __future__ import annotations

import json
import sys

import pytest

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import ROOT, run_playbook

MIB = 1 << 20
PLAN = {
    "services": {
        "nginx": {
            "name": "nginx",
            "unit": "nginx.service",
            "tier": 0,
            "memory_max_bytes": None,
            "memory_low_bytes": 32 * MIB,
            "runtime": None,
        },
        "app": {
            "name": "app",
            "unit": "smallvps-status-test-app.service",
            "tier": 1,
            "memory_max_bytes": 368 * MIB,
            "memory_low_bytes": None,
            "runtime": "python",
        },
    }
}


def _status(extra_vars: dict, check: bool = False):
    variables = {"smallvps_memory_plan": PLAN, "ansible_python_interpreter": sys.executable, **extra_vars}
    args = ["-i", "localhost,", "-c", "local", str(ROOT / "playbooks" / "status.yml"), "-e", json.dumps(variables)]
    returncode, report = run_playbook(args + (["--check"] if check else []))
    tasks = {task["task"]["name"]: task["hosts"]["localhost"] for play in report["plays"] for task in play["tasks"]}
    return returncode, report, tasks


@pytest.mark.parametrize("check", [False, True])
def test_prints_the_table_writes_json_and_changes_nothing(tmp_path, check):
    out = tmp_path / "status"
    returncode, report, tasks = _status({"status_json_dir": str(out), "status_warn_max_percent": "95"}, check)
    assert returncode == 0, tasks
    table = tasks["Show plan versus live"]["msg"]
    assert table[0].split() == [
        "unit",
        "tier",
        "current",
        "peak",
        "MemoryMax",
        "%max",
        "MemoryLow",
        "swap",
        "oom_kill/max/high",
        "slice",
        "oom_kill/max/high",
    ]
    nginx, app = table[1].split(), table[2].split()
    assert nginx[:2] == ["nginx.service", "0"] and nginx[4] == "-" and nginx[6] == "32.0M", table
    assert app[:3] == ["smallvps-status-test-app.service", "1", "absent"] and app[4] == "368.0M", table
    assert table[3].startswith("host: PSI memory "), table
    read = tasks["Read each planned unit's memory, its slice's and the host's pressure"]
    assert read["invocation"]["module_args"]["max_percent"] == 95.0, read["invocation"]
    assert read["invocation"]["module_args"]["pressure_avg10"] == 10.0, read["invocation"]
    written = json.loads((out / "localhost.json").read_text())
    assert written["host"] == "localhost" and written["thresholds"] == {"max_percent": 95.0, "pressure_avg10": 10.0}
    assert [unit["unit"] for unit in written["status"]["units"]] == [
        "nginx.service",
        "smallvps-status-test-app.service",
    ]
    assert written["status"]["units"][1]["cgroup"] is None
    assert (
        written["warnings"]
        == tasks["Read each planned unit's memory, its slice's and the host's pressure"]["memory_warnings"]
    )
    # The host is unchanged: only the report on the controller is written.
    changed = {name for name, outcome in tasks.items() if outcome.get("changed")}
    assert changed == {"Create the JSON directory on the controller", "Write <inventory_hostname>.json"}, changed


def test_without_status_json_dir_nothing_is_written(tmp_path):
    returncode, report, tasks = _status({})
    assert returncode == 0 and report["stats"]["localhost"]["changed"] == 0, report["stats"]
    assert tasks["Write <inventory_hostname>.json"].get("skipped"), tasks


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"status_warn_max_percent": "ninety"},
            "status_warn_max_percent: 'ninety' is a string; expected a percent from 0 to 100 (default 90)",
        ),
        (
            {"status_warn_pressure_avg10": 150},
            "status_warn_pressure_avg10: 150 is a number outside 0..100; expected a percent from 0 to 100 "
            "(default 10.0)",
        ),
        ({"status_json_dir": ["a"]}, "status_json_dir: ['a'] is a list; expected a directory on the controller"),
    ],
)
def test_bad_variables_are_refused_by_name_before_any_host_is_read(variables, message):
    returncode, _report, tasks = _status(variables)
    assert returncode != 0
    refusal = tasks["Refuse the variable the check refused"]
    assert refusal["msg"].startswith(message), refusal["msg"]
    assert "Read each planned unit's memory, its slice's and the host's pressure" not in tasks
