# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.smallvps.hardening.plugins.modules import memory_status

MIB = 1024 * 1024
# A plan entry as smallvps_memory_plan.services holds it: keys the module does not read are ignored.
APP = {"name": "app", "unit": "app.service", "tier": 1, "memory_max_bytes": 100 * MIB, "memory_low_bytes": None}
PLAN_ENTRY = dict(APP, runtime="python", restart="always", memory_high_bytes=None)


def run_module(capsys, args: dict) -> tuple[int, dict]:
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        memory_status.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def fake_host(tmp_path):
    files = {
        "cgroup/cgroup.controllers": "memory\n",
        "cgroup/system.slice/memory.events": "max 3\noom 1\noom_kill 1\n",
        "cgroup/system.slice/app.service/memory.current": f"{95 * MIB}\n",
        "cgroup/system.slice/app.service/memory.max": f"{100 * MIB}\n",
        "proc/1/cgroup": "0::/init.scope\n",
        "proc/pressure/memory": "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n",
        "proc/vmstat": "oom_kill 1\n",
        "proc/meminfo": "MemTotal: 524288 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
    }
    for relative, content in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return {"cgroup_root": str(tmp_path / "cgroup"), "proc_root": str(tmp_path / "proc")}


@pytest.mark.parametrize("check_mode", [False, True])
def test_reads_the_plan_against_the_tree_and_changes_nothing(capsys, fake_host, check_mode):
    code, result = run_module(capsys, dict(fake_host, units=[PLAN_ENTRY], _ansible_check_mode=check_mode))
    assert code == 0 and result["changed"] is False
    [app] = result["status"]["units"]
    assert app["cgroup"]["current_bytes"] == 95 * MIB and app["percent_of_max"] == 95.0
    assert app["slice"]["events"]["oom_kill"] == 1 and "runtime" not in app
    assert result["memory_warnings"] == [
        "app.service: memory.current 95.0 MiB is 95.0% of its MemoryMax 100.0 MiB (above 90%)"
    ]


def test_thresholds_are_options(capsys, fake_host):
    code, result = run_module(capsys, dict(fake_host, units=[APP], max_percent=96, pressure_avg10=5))
    assert code == 0 and result["memory_warnings"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"units": [APP, dict(APP, tier="one")]}, "memory_status: units[1].tier must be 0, 1 or 2, got 'one'"),
        ({"units": [dict(APP, memory_max_bytes=-1)]}, "memory_status: units[0].memory_max_bytes must be a positive"),
        ({"units": [APP], "max_percent": 150}, "memory_status: max_percent must be a percent from 0 to 100, got 150"),
        ({"units": [APP], "pressure_avg10": -1}, "memory_status: pressure_avg10 must be a percent from 0 to 100"),
    ],
)
def test_bad_input_is_refused_naming_the_option(capsys, fake_host, args, message):
    code, result = run_module(capsys, dict(fake_host, **args))
    assert code == 1 and result["failed"]
    assert message in result["msg"]
