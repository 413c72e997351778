# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: memory_plan_index
short_description: One HTML page listing the memory plans of many hosts, sortable by headroom
version_added: 0.5.0
author:
  - smallvps.hardening maintainers
description:
  - Turns a mapping of host name to plan (P(smallvps.hardening.memory_plan#filter)'s output) into one HTML
    document, as text. It holds a table with a row per host (effective memory, reserve, tier 0, the sum of tier 1's
    C(MemoryMax), tier 2, headroom, all in MiB, from the plan's summary), least headroom first, with a link to
    and a thumbnail of the host's C(<host>.svg) (P(smallvps.hardening.memory_plan_svg#filter)), expected in the
    same directory.
  - A small inline script sorts the table when a column header is clicked (a second click reverses), and on
    load by the URL's C(#sort=KEY) or C(#sort=-KEY) (descending), KEY one of C(host), C(effective),
    C(reserve), C(tier0), C(tier1), C(tier2), C(headroom); the table's C(data-sorted-by) says the order shown.
  - A host whose plan is C(none) (the run failed on it before the plan was made) gets a row that says so,
    first in the default order.
  - Runs on the controller with the Python standard library only. Refusals start with C(memory_plan_index:).
positional: _input
options:
  _input:
    description: Inventory hostname to that host's plan (C(smallvps_memory_plan)), or C(none); not empty.
    type: dict
    required: true
seealso:
  - plugin: smallvps.hardening.memory_plan_svg
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Save the page of every host's plan on the controller
  ansible.builtin.copy:
    content: >-
      {{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'smallvps_memory_plan')))
         | combine(dict(ansible_play_hosts_all | difference(ansible_play_hosts) | zip_longest([])))
         | smallvps.hardening.memory_plan_index }}
    dest: /tmp/plan/index.html
    mode: "0644"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
_value:
  description: The HTML document, as text ending in a newline.
  type: str
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._plan_picture import render_index

# The page behind the error wrapper: an input that is not a mapping of plans reaches Ansible as the task's failure.
memory_plan_index = as_filter_errors(MemoryBudgetError)(render_index)


class FilterModule:
    def filters(self):
        return {"memory_plan_index": memory_plan_index}
