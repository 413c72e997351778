# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: memory_max_below_usage
short_description: The planned MemoryMax values that are below what their running unit uses now
version_added: 0.2.0
author:
  - smallvps.hardening maintainers
description:
  - Compares each tier-1 entry of a memory plan with the unit's current memory use, as printed by
    C(systemctl show -p Id,MemoryCurrent UNIT...), and returns one message per unit whose planned
    C(MemoryMax) is below it.
  - Writing such a C(MemoryMax) makes the kernel reclaim and then OOM-kill the unit at the next
    daemon-reload. The P(smallvps.hardening.systemd_tiering#role) role refuses it before writing anything.
  - Units that are not running or have no memory accounting (C(MemoryCurrent=[not set])) are skipped.
positional: _input, shown
options:
  _input:
    description: The plan returned by P(smallvps.hardening.memory_plan#filter).
    type: dict
    required: true
  shown:
    description: The standard output of C(systemctl show -p Id,MemoryCurrent) for the plan's tier-1 units.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse a MemoryMax below what a running unit uses
  ansible.builtin.fail:
    msg: "{{ memory_plan | smallvps.hardening.memory_max_below_usage(shown.stdout) | join('; ') }}"
  when: memory_plan | smallvps.hardening.memory_max_below_usage(shown.stdout) | length > 0
"""

RETURN = r"""
_value:
  description: One message per unit, naming the service, its current use and the planned C(MemoryMax); empty when all
    fit.
  type: list
  elements: str
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_usage import memory_max_below_usage as _below


@as_filter_errors(MemoryBudgetError)
def memory_max_below_usage(plan, shown):
    return _below(plan, shown)


class FilterModule:
    def filters(self):
        return {"memory_max_below_usage": memory_max_below_usage}
