#!/usr/bin/python
# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: drill_check
short_description: Refuse a drill before it touches the host, and say what it drills
version_added: 0.5.0
author:
  - smallvps.hardening maintainers
description:
  - playbooks/drill.yml's refusals, each naming the variable and the form it takes (docs/drill.md). Without
    O(plan), only the variables are checked (the opt-in, the forms of the units and health URLs, the host-wide
    opt-in).
  - With O(plan), the drilled units are resolved against the plan's tier 1 (a tier-0 unit is refused, as the drill
    never touches tier 0), and with O(shown) each must exist on the host with the plan's MemoryMax.
  - With O(nginx), the flood's targets are nginx_limit_req's limited locations, aimed at on loopback.
  - Runs on the controller only (an action plugin); this file holds its documentation.
options:
  confirm:
    description: smallvps_drill_confirm; the drill runs only when it is true.
    type: raw
  units:
    description: smallvps_drill_units, a list of tier-1 unit names, or null for every tier-1 unit of the plan.
    type: raw
  health:
    description: smallvps_drill_health, unit name to C(http://127.0.0.1:PORT/path) or C(unix:/path/to.sock).
    type: raw
    default: {}
  host_wide:
    description: Whether the host_wide round is asked for (its tag).
    type: bool
    default: false
  host_wide_opt_in:
    description: smallvps_drill_host_wide; the host_wide round needs it equal to O(hostname).
    type: raw
  hostname:
    description: The host's inventory_hostname.
    type: str
    required: true
  plan:
    description: The host's memory plan (smallvps_memory_plan).
    type: raw
  shown:
    description: C(systemctl show --property=Id,LoadState,MemoryMax) of the drilled units, with O(plan).
    type: str
  nginx:
    description: nginx_limit_req's zones, locations, dry_run, proxy_enabled, proxy_listen and allowlist.
    type: raw
attributes:
  check_mode:
    support: full
    description: Refuses and resolves the same in a dry run.
  diff_mode:
    support: none
    description: No diff.
"""

EXAMPLES = r"""
- name: Refuse before anything is touched
  smallvps.hardening.drill_check:
    confirm: "{{ smallvps_drill_confirm | default(false) }}"
    units: "{{ smallvps_drill_units | default(none) }}"
    health: "{{ smallvps_drill_health | default({}) }}"
    host_wide: "{{ 'host_wide' in ansible_run_tags }}"
    host_wide_opt_in: "{{ smallvps_drill_host_wide | default(none) }}"
    hostname: "{{ inventory_hostname }}"
"""

RETURN = r"""
units:
  description: With O(plan), the units to leak in, each C({unit, memory_max, memory_swap_max, health}).
  returned: always
  type: list
  elements: dict
tier0_units:
  description: With O(plan), the plan's tier-0 units.
  returned: always
  type: list
  elements: str
targets:
  description: With O(nginx), the flood's targets, each C({location, url, rate, burst}).
  returned: always
  type: list
  elements: dict
skipped:
  description: With O(nginx), why a limited location is not flooded.
  returned: always
  type: list
  elements: str
"""

# The action plugin (plugins/action/drill_check.py) validates its arguments with this.
ARGUMENT_SPEC = {
    "confirm": {"type": "raw"},
    "units": {"type": "raw"},
    "health": {"type": "raw", "default": {}},
    "host_wide": {"type": "bool", "default": False},
    "host_wide_opt_in": {"type": "raw"},
    "hostname": {"type": "str", "required": True},
    "plan": {"type": "raw"},
    "shown": {"type": "str"},
    "nginx": {"type": "raw"},
}
