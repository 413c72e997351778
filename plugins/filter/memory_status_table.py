# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: memory_status_table
short_description: Render plan versus live (the memory_status module's status) as fixed-width text lines
version_added: 0.1.0
author:
  - smallvps.hardening maintainers
description:
  - Turns the C(status) of M(smallvps.hardening.memory_status) into text lines, one per planned unit (unit, tier,
    memory.current, memory.peak, the plan's MemoryMax, percent of it in use, the plan's MemoryLow for tier 0,
    swap in use, the unit's and its parent slice's memory.events C(oom_kill/max/high); sizes in MiB, C(-) for
    none, C(absent) when the unit has no cgroup), then the host line (PSI memory some and full avg10 and avg60,
    C(/proc/vmstat) oom_kill, swap used, the cgroup version) and one line per warning.
  - Meant for C(ansible.builtin.debug); C(playbooks/status.yml) prints it (docs/status.md).
positional: _input, warnings
options:
  _input:
    description: The C(status) the memory_status module returns.
    type: dict
    required: true
  warnings:
    description: The module's C(memory_warnings), printed after the host line.
    type: list
    elements: str
    default: []
seealso:
  - module: smallvps.hardening.memory_status
"""

EXAMPLES = r"""
- name: Show plan versus live
  ansible.builtin.debug:
    msg: "{{ memory_status.status | smallvps.hardening.memory_status_table(memory_status.memory_warnings) }}"

# unit           tier  current    peak  MemoryMax  %max  MemoryLow   swap  oom_kill/max/high  slice oom_kill/max/high
# ssh.service       0     5.9M    9.1M          -     -      16.0M   0.0M              0/0/0                    1/296/0
# nginx.service     0     7.6M   12.0M          -     -      32.0M   0.0M              0/0/0                    1/296/0
# app.service       1   101.2M  130.5M     352.0M  28.8      -       0.0M              0/0/0                    1/296/0
# host: PSI memory some avg10 0.0 avg60 0.31, full avg10 0.0 avg60 0.2; vmstat oom_kill 1; swap used 0.0M of 256.0M
"""

RETURN = r"""
_value:
  description: The table, one string per line, without trailing spaces.
  type: list
  elements: str
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.smallvps.hardening.plugins.plugin_utils._status_table import (
    StatusTableError,
    render_status_table,
)

memory_status_table = as_filter_errors(StatusTableError)(render_status_table)


class FilterModule:
    def filters(self):
        return {"memory_status_table": memory_status_table}
