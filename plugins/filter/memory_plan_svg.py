# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: memory_plan_svg
short_description: Draw a host's memory plan as an SVG bar
version_added: 0.5.0
author:
  - smallvps.hardening maintainers
description:
  - Turns the output of P(smallvps.hardening.memory_plan#filter) into one SVG document, as text. Its title is
    the host name and its effective memory; below it the effective memory as a horizontal bar split into the
    reserve, tier 0, each tier-1 service's C(MemoryMax), tier 2 and the headroom, each segment labelled with its
    name and MiB, and a legend with one row per segment (name, MiB, and what it holds).
  - Every number is read from the plan's summary and its tier-1 entries, none is computed again; a plan whose
    parts do not add up to its effective memory is refused.
  - Each segment (C(g.segment) in the bar, C(g.label) in the legend) carries C(data-kind), C(data-name) and
    C(data-mib) attributes, so a program can read back what the picture shows.
  - P(smallvps.hardening.memory_plan_index#filter) makes the page that lists every host's picture.
    C(playbooks/budget.yml) writes both when C(budget_picture_dir) is set (see C(docs/plan-picture.md)).
  - Runs on the controller with the Python standard library only. Refusals start with C(memory_plan_svg:).
positional: _input, host
options:
  _input:
    description: The host's plan (C(smallvps_memory_plan), from P(smallvps.hardening.memory_plan#role)).
    type: dict
    required: true
  host:
    description:
      - The host's name, shown in the title; the picture is meant to be saved as C(<host>.svg), so a name with
        C(/) (or C(.), C(..), empty) is refused.
    type: str
    required: true
seealso:
  - plugin: smallvps.hardening.memory_plan_index
    plugin_type: filter
  - plugin: smallvps.hardening.memory_plan_table
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Save the host's plan as a picture on the controller
  ansible.builtin.copy:
    content: "{{ smallvps_memory_plan | smallvps.hardening.memory_plan_svg(inventory_hostname) }}"
    dest: "/tmp/plan/{{ inventory_hostname }}.svg"
    mode: "0644"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: The SVG document, as text ending in a newline.
  type: str
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._plan_picture import render_svg

# The picture behind the error wrapper: a plan that is not one reaches Ansible as the task's failure.
memory_plan_svg = as_filter_errors(MemoryBudgetError)(render_svg)


class FilterModule:
    def filters(self):
        return {"memory_plan_svg": memory_plan_svg}
