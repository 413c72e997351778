# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: memory_plan_entry
short_description: The entry of a memory plan that sizes one systemd unit
version_added: 0.4.0
author:
  - smallvps.hardening maintainers
description:
  - Returns the service entry of a plan from P(smallvps.hardening.memory_plan#filter) whose C(unit) is the given one,
    or C(none) when the plan sizes no such unit.
  - The roles that run a planned service (gunicorn_gevent, haproxy, go_service and the roles built on it) read
    their numbers from this entry, and refuse to run when it is C(none).
positional: _input, unit
options:
  _input:
    description: The host's plan (C(smallvps_memory_plan), from P(smallvps.hardening.memory_plan#role)).
    type: dict
    required: true
  unit:
    description:
      - The unit's name, C(app.service), read by the rule the plan applies to
        O(smallvps.hardening.memory_plan#filter:services[].name) (one rule for both); a name without C(.service)
        means C(<name>.service), and C(sshd) or C(sshd.service) means C(ssh.service) (Debian's unit, whose alias
        C(sshd.service) is).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Read the plan's limits of caddy.service
  ansible.builtin.set_fact:
    caddy_plan: "{{ smallvps_memory_plan | smallvps.hardening.memory_plan_entry('caddy.service') }}"
"""

RETURN = r"""
_value:
  description: The service's entry (C(unit), C(tier), C(memory_max), C(gomemlimit), C(workers), its extras such as
    C(maxconn)), or C(none).
  type: dict
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_services import unit_of
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._plan_input import plan_entries


@as_filter_errors(MemoryBudgetError)
def memory_plan_entry(plan, unit):
    entries = plan_entries(plan, "memory_plan_entry")
    if not isinstance(unit, str) or not unit:
        raise MemoryBudgetError(
            f"memory_plan_entry: unit {unit!r} is not a unit name; expected one such as app.service"
        )
    wanted = unit_of(unit)
    return next((entry for entry in entries if entry["unit"] == wanted), None)


class FilterModule:
    def filters(self):
        return {"memory_plan_entry": memory_plan_entry}
