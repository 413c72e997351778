# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Plan versus live as fixed-width text lines (status.yml prints them), and status.yml's variables checked.

The figures come from the memory_status module (plugins/module_utils/_memory_status.py on the host).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ._variable_checks import kind

MIB = 1024 * 1024
COLUMNS = (
    "unit",
    "tier",
    "current",
    "peak",
    "MemoryMax",
    "%max",
    "MemoryLow",
    "swap",
    "oom_kill/max/high",
    "slice oom_kill/max/high",
)
THRESHOLDS = (
    # variable, status.yml's default, what the module calls it
    ("status_warn_max_percent", 90, "max_percent"),
    ("status_warn_pressure_avg10", 10.0, "pressure_avg10"),
)
_NUMBER = re.compile(r"^\s*[0-9]+(\.[0-9]+)?\s*$")


class StatusTableError(Exception):
    """The filter's input is not what memory_status returns, or a status.yml variable is refused."""


def _size(value) -> str:
    return "-" if value is None else f"{value / MIB:.1f}M"


def _events(figures) -> str:
    if figures is None:
        return "-"
    events = figures["events"]
    return "/".join("-" if events.get(key) is None else str(events[key]) for key in ("oom_kill", "max", "high"))


def _row(unit: Mapping) -> list[str]:
    cgroup = unit.get("cgroup")
    percent = unit.get("percent_of_max")
    return [
        unit["unit"],
        str(unit["tier"]),
        _size(cgroup["current_bytes"]) if cgroup else "absent",
        _size(cgroup["peak_bytes"]) if cgroup else "-",
        _size(unit.get("memory_max_bytes")),
        "-" if percent is None else f"{percent:.1f}",
        _size(unit.get("memory_low_bytes")),
        _size(cgroup["swap_bytes"]) if cgroup else "-",
        _events(cgroup),
        _events(unit.get("slice")),
    ]


def _host_line(status: Mapping) -> str:
    host = status["host"]
    psi = host.get("psi_memory")
    if psi:
        pressure = ", ".join(
            f"{kind_} avg10 {psi[kind_].get('avg10', '-')} avg60 {psi[kind_].get('avg60', '-')}"
            for kind_ in ("some", "full")
            if kind_ in psi
        )
    else:
        pressure = "none (no /proc/pressure/memory)"
    oom_kill = host.get("vmstat_oom_kill")
    swap = (
        "none"
        if not host.get("swap_total_bytes")
        else f"{_size(host.get('swap_used_bytes'))} of {_size(host['swap_total_bytes'])}"
    )
    return (
        f"host: PSI memory {pressure}; vmstat oom_kill {'-' if oom_kill is None else oom_kill}; swap used {swap}; "
        f"cgroup {status.get('cgroup_version') or 'none'}"
    )


def render_status_table(status, warnings=None) -> list[str]:
    """One row per planned unit (sizes in MiB, "absent" when the unit has no cgroup), the host line, the warnings."""
    if not isinstance(status, Mapping) or not isinstance(status.get("units"), list) or "host" not in status:
        raise StatusTableError(
            f"memory_status_table: the input is {kind(status)} without units and host; "
            "expected the status the smallvps.hardening.memory_status module returns"
        )
    rows = [list(COLUMNS)] + [_row(unit) for unit in status["units"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]

    def line(cells):
        return "  ".join(
            [cells[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        ).rstrip()

    lines = [line(row) for row in rows]
    lines.append(_host_line(status))
    lines.extend(f"warning: {warning}" for warning in warnings or [])
    return lines


def check_status_variables(values) -> dict:
    """status.yml's variables as the module takes them, {max_percent, pressure_avg10, json_dir}; a bad one raises
    StatusTableError naming it and the accepted form. Numbers may come as strings (-e name=95)."""
    values = values if isinstance(values, Mapping) else {}
    checked = {}
    for variable, default, option in THRESHOLDS:
        value = values.get(variable)
        if value is None:
            value = default
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str) and _NUMBER.match(value):
            number = float(value)
        if number is None or not 0 <= number <= 100:
            raise StatusTableError(
                f"{variable}: {value!r} is {kind(value)}{'' if number is None else ' outside 0..100'}; "
                f"expected a percent from 0 to 100 (default {default})"
            )
        checked[option] = number
    json_dir = values.get("status_json_dir")
    if json_dir is not None and (not isinstance(json_dir, str) or not json_dir.strip()):
        raise StatusTableError(
            f"status_json_dir: {json_dir!r} is {kind(json_dir)}; expected a directory on the controller "
            "(one <inventory_hostname>.json per host is written there), or leave it unset"
        )
    checked["json_dir"] = json_dir
    return checked
