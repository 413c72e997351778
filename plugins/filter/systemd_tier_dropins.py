# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: systemd_tier_dropins
short_description: Turn a memory plan into systemd drop-in directives per tier
version_added: 0.1.0
author:
  - smallvps.hardening maintainers
description:
  - Takes the plan returned by P(smallvps.hardening.memory_plan#filter) and returns, per service, the
    systemd directives its tier gets. The numbers come from the plan; this filter only decides which
    directive carries which number, so templates compute nothing.
  - Tier 0 (protect) gets C(OOMScoreAdjust) (where the plan has one), C(MemoryLow) (its estimate),
    C(ManagedOOMPreference=avoid) and C(Restart=on-failure), never C(MemoryMax).
  - Tier 1 (cap) gets C(MemoryAccounting=yes), C(MemoryMax), C(MemorySwapMax), C(OOMScoreAdjust), C(Restart=always),
    C(RestartSec), in C([Unit]) C(StartLimitIntervalSec) and C(StartLimitBurst), and C(MemoryHigh) and
    C(ManagedOOMMemoryPressure) where the plan has them.
  - Tier 2 (leave alone) gets nothing, or only C(OOMScoreAdjust) and C(OOMPolicy) when the service sets them.
  - Every tier gets C(OOMPolicy) where the plan has one (V(continue) for pre-fork servers by default).
  - Go services of tier 0 and 1 also get C(Environment=GOMEMLIMIT=<n>MiB).
  - After the services comes one entry for C(system.slice) with C(MemoryLow) in C([Slice]), the sum of tier 0's
    (a unit's C(memory.low) protects only as far as its parents' does), or no sections without tier 0. This
    needs the plan's C(summary).
  - Service names without a unit suffix get C(.service).
  - Each entry also carries the drop-in file's C(content) for the P(smallvps.hardening.systemd_dropins#module)
    module to write, a header naming the tier followed by each section and its C(key=value) lines.
positional: _input
options:
  _input:
    description: The plan returned by P(smallvps.hardening.memory_plan#filter).
    type: dict
    required: true
  managed:
    description: The first line of each drop-in's content, after C(# ).
    type: str
    default: Ansible managed
seealso:
  - plugin: smallvps.hardening.memory_plan
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Write every unit's drop-in in one call
  vars:
    tiered: "{{ memory_plan | smallvps.hardening.systemd_tier_dropins | selectattr('sections') }}"
  smallvps.hardening.systemd_dropins:
    name: 50-smallvps-tier.conf
    dropins: "{{ dict(tiered | map(attribute='unit') | zip(tiered | map(attribute='content'))) }}"
"""

RETURN = r"""
_value:
  description: One entry per service, in plan order, then one for C(system.slice).
  type: list
  elements: dict
  contains:
    unit:
      description: The unit name, for example C(ssh.service).
      type: str
    name:
      description: The service name in the plan.
      type: str
    tier:
      description: The tier (C(0) for C(system.slice)).
      type: int
    oom_score_adjust:
      description: The OOMScoreAdjust the unit's processes should have, C(null) for none.
      type: int
    processes:
      description: The unit's process names (comm), for earlyoom; empty for C(system.slice).
      type: list
      elements: str
    sections:
      description:
        - 'C({Unit: [[key, value], ...], Service: [[key, value], ...]}), C({Slice: [[MemoryLow, <n>M]]}) for
          C(system.slice); empty sections are left out, and an empty mapping means the unit gets no drop-in.'
      type: dict
    content:
      description: The drop-in file's text, C('') when C(sections) is empty.
      type: str
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._systemd_dropins import MANAGED, dropins


@as_filter_errors(MemoryBudgetError)
def systemd_tier_dropins(plan, managed=MANAGED):
    if not isinstance(managed, str) or "\n" in managed:
        raise MemoryBudgetError(f"systemd_tier_dropins: managed is {managed!r}, expected one line of text")
    return dropins(plan, managed)


class FilterModule:
    def filters(self):
        return {"systemd_tier_dropins": systemd_tier_dropins}
