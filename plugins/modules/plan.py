#!/usr/bin/python
# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: plan
short_description: Compute a host's memory plan, or refuse its services with the plain message
version_added: 0.4.0
author:
  - smallvps.hardening maintainers
description:
  - >-
    Computes the plan P(smallvps.hardening.memory_plan#filter) computes, from the same input, in one task. A plan
    that does not fit, or a service the planner refuses, fails the task with the planner's message after
    C(smallvps_services: ), without Ansible's C(Finalization of task args) wrapping, so there is nothing to catch
    in a C(rescue).
  - The P(smallvps.hardening.memory_plan#role) role computes the host's plan with it.
  - Runs on the controller only (an action plugin); this file holds its documentation.
options:
  facts:
    description: The facts, as the filter's input (C(smallvps_memory) from M(smallvps.hardening.memory_facts)).
    type: dict
    required: true
  services:
    description:
      - The host's services (C(smallvps_services)).
      - See the filter's O(smallvps.hardening.memory_plan#filter:services).
    type: raw
    default: []
  reserve:
    description: The filter's O(smallvps.hardening.memory_plan#filter:reserve) (C(smallvps_memory_reserve)).
    type: raw
  units:
    description:
      - The units present on the host or to come.
      - See the filter's O(smallvps.hardening.memory_plan#filter:units).
    type: raw
  swap:
    description: The swap the swap role sets up (the filter's O(smallvps.hardening.memory_plan#filter:swap)).
    type: raw
attributes:
  check_mode:
    support: full
    description: Computes and refuses the same in a dry run; it changes nothing in either.
  diff_mode:
    support: none
    description: No diff.
"""

EXAMPLES = r"""
- name: Compute the memory plan
  smallvps.hardening.plan:
    facts: "{{ ansible_facts['smallvps_memory'] }}"
    services: "{{ smallvps_services }}"
  register: memory_plan_result
"""

RETURN = r"""
plan:
  description: The plan, as the filter returns it (C(services), C(summary), C(warnings)).
  returned: success
  type: dict
msg:
  description: "The refusal, starting with C(smallvps_services: )."
  returned: failure
  type: str
"""

# The action plugin (plugins/action/plan.py) validates its arguments with this.
ARGUMENT_SPEC = {
    "facts": {"type": "dict", "required": True},
    # raw: the planner's own checks name the variable and the accepted form.
    "services": {"type": "raw", "default": []},
    "reserve": {"type": "raw"},
    "units": {"type": "raw"},
    "swap": {"type": "raw"},
}
