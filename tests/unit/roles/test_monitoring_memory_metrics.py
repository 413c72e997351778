# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The monitoring role's memory metrics, run by ansible-playbook on the controller: what its checks refuse before
anything changes (naming the variable), the unit list it writes for the collector (every number the plan's), and
the unit the plan caps. One run: each case is a host of its own, connection local."""

from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.smallvps.hardening.plugins.module_utils._memory_status import load_config
from ansible_collections.smallvps.hardening.plugins.plugin_utils import _memory_metrics
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import build_plan
from ansible_collections.smallvps.hardening.tests.unit.local_playbook import ROOT, run_local_playbook

MIB = 1024 * 1024
UNIT = "smallvps-memory-metrics.service"
HOST_UNITS = ["ssh.service", "nginx.service", "app.service", UNIT]
APP = {"name": "app", "tier": 1, "min": "64M"}
PLAN = build_plan({"effective_memory_bytes": 1024 * MIB, "cpus": 1}, [APP], units=HOST_UNITS)
# The same host without the unit counted: nothing caps the metrics' service.
PLAN_WITHOUT = build_plan({"effective_memory_bytes": 1024 * MIB, "cpus": 1}, [APP], units=HOST_UNITS[:-1])
# An entry of the user's for the unit at tier 0: protected, never capped.
PLAN_TIER0 = build_plan(
    {"effective_memory_bytes": 1024 * MIB, "cpus": 1},
    [APP, {"name": "smallvps-memory-metrics", "tier": 0, "min": "16M"}],
    units=HOST_UNITS,
)
ON = {"monitoring_memory_metrics_enabled": True, "smallvps_memory_plan": PLAN}
CASES = {
    "defaults": ON,
    "off_with_bad_values": {
        "monitoring_memory_metrics_textfile_dir": "relative",
        "monitoring_memory_metrics_interval_seconds": 1,
    },
    "dir_other": {**ON, "monitoring_memory_metrics_textfile_dir": "/var/lib/prometheus/node-exporter"},
    "dir_relative": {**ON, "monitoring_memory_metrics_textfile_dir": "var/lib/node_exporter"},
    "dir_dotdot": {**ON, "monitoring_memory_metrics_textfile_dir": "/var/lib/../etc"},
    "dir_space": {**ON, "monitoring_memory_metrics_textfile_dir": "/var/lib/node exporter"},
    "dir_trailing_slash": {**ON, "monitoring_memory_metrics_textfile_dir": "/var/lib/node_exporter/"},
    "dir_root": {**ON, "monitoring_memory_metrics_textfile_dir": "/"},
    "dir_number": {**ON, "monitoring_memory_metrics_textfile_dir": 5},
    "interval_20": {**ON, "monitoring_memory_metrics_interval_seconds": 20},
    "interval_3600": {**ON, "monitoring_memory_metrics_interval_seconds": 3600},
    "interval_19": {**ON, "monitoring_memory_metrics_interval_seconds": 19},
    "interval_3601": {**ON, "monitoring_memory_metrics_interval_seconds": 3601},
    "interval_string": {**ON, "monitoring_memory_metrics_interval_seconds": "thirty"},
    "interval_bool": {**ON, "monitoring_memory_metrics_interval_seconds": True},
    "no_plan": {"monitoring_memory_metrics_enabled": True},
    "plan_without_unit": {**ON, "smallvps_memory_plan": PLAN_WITHOUT},
    "plan_unit_tier0": {**ON, "smallvps_memory_plan": PLAN_TIER0},
}
# The host without a plan (metrics off) has no units to show.
UNITS_WHEN_PLANNED = "{{ monitoring_memory_metrics_units if smallvps_memory_plan is defined else none }}"
DIR_REFUSAL = "Refuse a textfile directory that is not a plain absolute path"
INTERVAL_REFUSAL = "Refuse a metrics interval out of range"
PLAN_REFUSAL = "Refuse metrics whose unit the memory plan does not cap"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """{host: {task name: result}} of the role's checks, then of what the role writes, for every case."""
    tmp_path = tmp_path_factory.mktemp("metrics")
    add = [
        {"ansible.builtin.add_host": {"name": name, "ansible_connection": "local", **variables}}
        for name, variables in CASES.items()
    ]
    plays = [
        {"name": "hosts", "hosts": "localhost", "gather_facts": False, "tasks": add},
        {
            "name": "checks",
            "hosts": "all:!localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "checks",
                    "ansible.builtin.include_role": {
                        "name": "smallvps.hardening.monitoring",
                        "tasks_from": "validate",
                        "public": True,
                    },
                },
                {
                    "name": "written",
                    "ansible.builtin.debug": {
                        "msg": {
                            "units": UNITS_WHEN_PLANNED,
                            "to_come": "{{ monitoring_units_to_come }}",
                            "unit": "{{ monitoring_memory_metrics_unit }}",
                            "file": "{{ monitoring_memory_metrics_file }}",
                        }
                    },
                },
            ],
        },
    ]
    _returncode, report = run_local_playbook(tmp_path, json.dumps(plays))
    results = {}
    for task in report["plays"][1]["tasks"]:
        for host, result in task["hosts"].items():
            results.setdefault(host, {})[task["task"]["name"].split(" : ")[-1]] = result
    return results


def _refusal(results: dict, task: str) -> str:
    assert results[task].get("failed"), results
    return results[task]["msg"]


def test_defaults_pass_and_the_collector_gets_the_plan_units_numbers(run, tmp_path):
    written = run["defaults"]["written"]["msg"]
    # Every plan entry, in plan order, with the plan's own numbers (built-ins first: ssh, nginx, the metrics).
    assert written["units"] == [
        {key: entry[key] for key in ("name", "unit", "tier", "memory_max_bytes", "memory_low_bytes")}
        for entry in PLAN["services"].values()
    ]
    assert [unit["name"] for unit in written["units"]] == ["ssh", "nginx", "smallvps-memory-metrics", "app"]
    assert written["units"][2]["memory_max_bytes"] == 16 * MIB and written["units"][0]["memory_low_bytes"] == 16 * MIB
    # The file the role writes is what the collector reads (its own check of the list).
    config = tmp_path / "memory-metrics.json"
    config.write_text(json.dumps(written["units"], indent=2) + "\n")
    assert load_config(str(config)) == written["units"]
    assert written["file"] == "/var/lib/node_exporter/smallvps_memory.prom"


def test_the_role_counts_the_unit_the_planner_caps_only_when_on(run):
    assert run["defaults"]["written"]["msg"]["unit"] == _memory_metrics.UNIT == UNIT
    assert run["defaults"]["written"]["msg"]["to_come"] == [UNIT]
    assert run["off_with_bad_values"]["written"]["msg"]["to_come"] == []


def test_nothing_is_checked_when_off(run):
    checks = [run["off_with_bad_values"][task] for task in (DIR_REFUSAL, INTERVAL_REFUSAL, PLAN_REFUSAL)]
    assert all(result.get("skipped") for result in checks), checks


@pytest.mark.parametrize("case", ["dir_other", "interval_20", "interval_3600"])
def test_valid_values_pass(run, case):
    assert not any(result.get("failed") for result in run[case].values()), run[case]
    assert "written" in run[case]


@pytest.mark.parametrize(
    "case", ["dir_relative", "dir_dotdot", "dir_space", "dir_trailing_slash", "dir_root", "dir_number"]
)
def test_a_directory_that_is_not_a_plain_absolute_path_is_refused_naming_the_variable(run, case):
    message = _refusal(run[case], DIR_REFUSAL)
    value = json.dumps(CASES[case]["monitoring_memory_metrics_textfile_dir"])
    assert message.startswith(f"monitoring_memory_metrics_textfile_dir: {value} is not a plain absolute directory")
    assert "for example /var/lib/node_exporter" in message
    assert "written" not in run[case]


@pytest.mark.parametrize("case", ["interval_19", "interval_3601", "interval_string", "interval_bool"])
def test_an_interval_out_of_range_is_refused_naming_the_variable(run, case):
    message = _refusal(run[case], INTERVAL_REFUSAL)
    value = json.dumps(CASES[case]["monitoring_memory_metrics_interval_seconds"])
    assert message.startswith(f"monitoring_memory_metrics_interval_seconds: {value} is not an integer from 20 to 3600")


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("no_plan", "the memory plan is missing"),
        ("plan_without_unit", f"the memory plan of this run has no tier-1 entry for {UNIT}"),
        ("plan_unit_tier0", f"the memory plan of this run has no tier-1 entry for {UNIT}"),
    ],
)
def test_metrics_the_plan_does_not_cap_are_refused(run, case, says):
    message = _refusal(run[case], PLAN_REFUSAL)
    assert message.startswith(f"monitoring_memory_metrics_enabled: {says}, so nothing would cap"), message
    assert f"add {UNIT} to memory_plan_units_to_come" in message


def test_the_unit_and_the_directory_land_in_the_units_as_written():
    unit = (ROOT / "roles" / "monitoring" / "templates" / "smallvps-memory-metrics.service.j2").read_text()
    assert "ReadWritePaths={{ monitoring_memory_metrics_textfile_dir }}" in unit
    assert "ExecStart=/usr/bin/python3 -I -S {{ monitoring_memory_metrics_script }}" in unit
    defaults = yaml.safe_load((ROOT / "roles" / "monitoring" / "defaults" / "main.yml").read_text())
    assert defaults["monitoring_memory_metrics_textfile_dir"] == "/var/lib/node_exporter"


def test_budget_counts_the_unit_when_the_inventory_turns_the_metrics_on(tmp_path):
    # site.yml's plan is budget.yml's, made before the monitoring play: it must count the unit the role installs.
    budget = yaml.safe_load((ROOT / "playbooks" / "budget.yml").read_text())[0]
    shown = {"ansible.builtin.debug": {"var": "budget_units_to_come"}}
    plays = [
        {"hosts": "localhost", "gather_facts": False, "vars": {**budget["vars"], **variables}, "tasks": [shown]}
        for variables in ({"monitoring_memory_metrics_enabled": True}, {})
    ]
    returncode, report = run_local_playbook(tmp_path, json.dumps(plays))
    assert returncode == 0, report
    on, off = (play["tasks"][0]["hosts"]["localhost"]["budget_units_to_come"] for play in report["plays"])
    assert on == [UNIT] and off == []
