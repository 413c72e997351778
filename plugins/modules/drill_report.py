#!/usr/bin/python
# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: drill_report
short_description: The drill's verdict table, its failures and its JSON report
version_added: 0.5.0
author:
  - smallvps.hardening maintainers
description:
  - Turns the verdicts of smallvps.hardening.drill rounds into the table playbooks/drill.yml prints (round, unit,
    limit, killed at, by, back after, tier 0 intact, 429 share, verdict; one row per leak unit, flood target and
    host-wide round), one line per failed verdict naming it and every reason, and the report it writes on the host.
  - Runs on the controller only (an action plugin); this file holds its documentation.
options:
  verdicts:
    description: The C(verdict) of each round that ran; anything that is not a mapping is left out (a skipped round).
    type: list
    elements: raw
    required: true
  host:
    description: The host's name, in the report.
    type: str
    required: true
attributes:
  check_mode:
    support: full
    description: The same in a dry run.
  diff_mode:
    support: none
    description: No diff.
"""

EXAMPLES = r"""
- name: Make the verdict table
  smallvps.hardening.drill_report:
    verdicts: "{{ drill_leak.results | default([]) | map(attribute='verdict') | list }}"
    host: "{{ inventory_hostname }}"
  register: drill_table
"""

RETURN = r"""
table:
  description: The verdict table, one string per line, the header first.
  returned: always
  type: list
  elements: str
failures:
  description: One line per failed verdict, its round and unit or location, then every reason.
  returned: always
  type: list
  elements: str
passed:
  description: Whether every verdict passed.
  returned: always
  type: bool
report:
  description: What drill.yml writes as JSON, C({host, at, passed, verdicts, failures}), one verdict per row; at is
    the UTC time the report was made (C(2026-12-05T02:20:00Z)).
  returned: always
  type: dict
"""

# The action plugin (plugins/action/drill_report.py) validates its arguments with this.
ARGUMENT_SPEC = {
    "verdicts": {"type": "list", "elements": "raw", "required": True},
    "host": {"type": "str", "required": True},
}
