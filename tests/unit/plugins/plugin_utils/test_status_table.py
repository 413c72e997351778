# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smallvps.hardening.plugins.filter.memory_status_table import memory_status_table
from ansible_collections.smallvps.hardening.plugins.filter.memory_status_thresholds import memory_status_thresholds
from ansible_collections.smallvps.hardening.plugins.plugin_utils._status_table import (
    StatusTableError,
    check_status_variables,
    render_status_table,
)

MIB = 1024 * 1024
EVENTS = {"low": 0, "high": 0, "max": 296, "oom": 1, "oom_kill": 1, "oom_group_kill": 0}


def _figures(current, peak, swap, events):
    return {"current_bytes": current, "peak_bytes": peak, "swap_bytes": swap, "events": events}


STATUS = {
    "cgroup_version": "v2",
    "units": [
        {
            "name": "nginx",
            "unit": "nginx.service",
            "tier": 0,
            "memory_max_bytes": None,
            "memory_low_bytes": 32 * MIB,
            "cgroup": _figures(7 * MIB, 12 * MIB, 0, dict(EVENTS, max=0, oom_kill=0)),
            "slice": _figures(200 * MIB, 300 * MIB, 0, EVENTS),
            "percent_of_max": None,
        },
        {
            "name": "app",
            "unit": "app.service",
            "tier": 1,
            "memory_max_bytes": 352 * MIB,
            "memory_low_bytes": None,
            "cgroup": None,
            "slice": _figures(200 * MIB, 300 * MIB, 0, EVENTS),
            "percent_of_max": None,
        },
        {
            "name": "hog",
            "unit": "hog.service",
            "tier": 1,
            "memory_max_bytes": 128 * MIB,
            "memory_low_bytes": None,
            "cgroup": _figures(120 * MIB, None, None, dict.fromkeys(EVENTS) | {"max": 4, "oom_kill": 0}),
            "slice": _figures(200 * MIB, None, None, dict.fromkeys(EVENTS) | {"oom_kill": 0}),
            "percent_of_max": 93.75,
        },
    ],
    "host": {
        "psi_memory": {
            "some": {"avg10": 0.5, "avg60": 1.25, "avg300": 0.0, "total": 10},
            "full": {"avg10": 0.0, "avg60": 0.5, "avg300": 0.0, "total": 5},
        },
        "vmstat_oom_kill": 3,
        "swap_total_bytes": 256 * MIB,
        "swap_used_bytes": 12 * MIB,
    },
}


# Sizes in MiB; "absent": no cgroup (the unit does not run); "-": none planned or not offered by the kernel.
TABLE = """\
unit           tier  current   peak  MemoryMax  %max  MemoryLow  swap  oom_kill/max/high  slice oom_kill/max/high
nginx.service     0     7.0M  12.0M          -     -      32.0M  0.0M              0/0/0                  1/296/0
app.service       1   absent      -     352.0M     -          -     -                  -                  1/296/0
hog.service       1   120.0M      -     128.0M  93.8          -     -              0/4/-                    0/-/-
host: PSI memory some avg10 0.5 avg60 1.25, full avg10 0.0 avg60 0.5; vmstat oom_kill 3; swap used 12.0M of 256.0M; \
cgroup v2
warning: hog.service: above"""


def test_one_row_per_unit_then_the_host_and_the_warnings():
    assert "\n".join(render_status_table(STATUS, ["hog.service: above"])) == TABLE


def test_a_host_without_psi_or_swap_says_so():
    status = dict(STATUS, units=[], cgroup_version=None)
    status["host"] = {"psi_memory": None, "vmstat_oom_kill": None, "swap_total_bytes": 0, "swap_used_bytes": 0}
    assert render_status_table(status)[-1] == (
        "host: PSI memory none (no /proc/pressure/memory); vmstat oom_kill -; swap used none; cgroup none"
    )


def test_the_filter_refuses_what_is_not_a_status():
    with pytest.raises(AnsibleFilterError, match="memory_status_table: the input is a list without units and host"):
        memory_status_table([])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, {"max_percent": 90.0, "pressure_avg10": 10.0, "json_dir": None}),
        (
            {"status_warn_max_percent": "95", "status_warn_pressure_avg10": 2.5, "status_json_dir": "/tmp/s"},
            {"max_percent": 95.0, "pressure_avg10": 2.5, "json_dir": "/tmp/s"},
        ),
        ({"status_warn_max_percent": None}, {"max_percent": 90.0, "pressure_avg10": 10.0, "json_dir": None}),
    ],
)
def test_status_variables_with_their_defaults(values, expected):
    assert memory_status_thresholds(values) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"status_warn_max_percent": True}, "status_warn_max_percent: True is a boolean; expected a percent"),
        ({"status_warn_max_percent": "9O"}, "status_warn_max_percent: '9O' is a string; expected a percent"),
        ({"status_warn_max_percent": 100.5}, "status_warn_max_percent: 100.5 is a number outside 0..100"),
        ({"status_warn_pressure_avg10": -1}, "status_warn_pressure_avg10: -1 is a number outside 0..100"),
        ({"status_json_dir": ""}, "status_json_dir: '' is a string; expected a directory on the controller"),
    ],
)
def test_bad_status_variables_are_refused_by_name(values, message):
    with pytest.raises(StatusTableError) as raised:
        check_status_variables(values)
    assert str(raised.value).startswith(message), str(raised.value)
