# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: memory_plan_table
short_description: Render a memory plan as fixed-width text lines
version_added: 0.4.0
author:
  - smallvps.hardening maintainers
description:
  - Turns the output of P(smallvps.hardening.memory_plan#filter) into a list of text lines, one per service
    (name, tier, MemoryLow, MemoryMax, MemoryHigh, MemorySwapMax, GOMEMLIMIT, workers, OOMScoreAdjust; C(-) for
    none), then three summary lines (effective memory and its source, swap, cpus; the reserve and its terms;
    tier 0 and system.slice's MemoryLow, tier 2, pool, allocated, headroom) and one line per warning.
  - Meant for C(ansible.builtin.debug), so a playbook prints the plan without Jinja arithmetic.
  - Before 0.4.0 this filter was called C(smallvps.hardening.memory_budget_table); that name still works until
    1.0.0, with a deprecation warning. Its refusals start with C(memory_plan_table:) under either name.
positional: _input
options:
  _input:
    description: The plan returned by P(smallvps.hardening.memory_plan#filter).
    type: dict
    required: true
seealso:
  - plugin: smallvps.hardening.memory_plan
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Print the plan
  ansible.builtin.debug:
    msg: "{{ memory_plan | smallvps.hardening.memory_plan_table }}"

# service  tier  MemoryLow  MemoryMax  MemoryHigh  MemorySwapMax  GOMEMLIMIT  workers  OOMScoreAdjust
# app         1          -       798M           -              0           -        3             100
# nginx       0        32M          -           -              -           -        -            -500
# sshd        0        16M          -           -              -           -        -               -
# effective 1024 MiB (source ansible_facts; memtotal 1024 MiB, cgroup limit none), swap file, cpus 1
# reserve 178 MiB = base 80 + page cache 32 + watermarks 66 (estimated) + zram 0
# tier 0 48 MiB (system.slice MemoryLow 48 MiB), tier 2 0 MiB, pool 798 MiB, allocated 798 MiB, headroom 0 MiB
"""

RETURN = r"""
_value:
  description: The table, one string per line, without trailing spaces.
  type: list
  elements: str
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_table import render_table

# The table itself behind the error wrapper: a plan that is not one reaches Ansible as the task's failure.
memory_plan_table = as_filter_errors(MemoryBudgetError)(render_table)


class FilterModule:
    def filters(self):
        return {"memory_plan_table": memory_plan_table}
