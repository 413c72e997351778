# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: memory_status_thresholds
short_description: Check playbooks/status.yml's variables and return them as the memory_status module takes them
version_added: 0.1.0
author:
  - smallvps.hardening maintainers
description:
  - Takes C({status_warn_max_percent, status_warn_pressure_avg10, status_json_dir}) (unset or null keys take
    the defaults 90, 10.0 and none) and returns C({max_percent, pressure_avg10, json_dir}).
  - A threshold must be a percent from 0 to 100, a number or a string of digits (C(-e status_warn_max_percent=95));
    C(status_json_dir), when set, a non-empty string. Anything else is refused with a message that names the
    variable and the accepted form, before any host is read.
positional: _input
options:
  _input:
    description: The variables, by name.
    type: dict
    required: true
seealso:
  - module: smallvps.hardening.memory_status
  - plugin: smallvps.hardening.memory_status_table
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Check the thresholds
  ansible.builtin.set_fact:
    status_checked: >-
      {{ {'status_warn_max_percent': status_warn_max_percent | default(none),
          'status_warn_pressure_avg10': status_warn_pressure_avg10 | default(none),
          'status_json_dir': status_json_dir | default(none)} | smallvps.hardening.memory_status_thresholds }}
"""

RETURN = r"""
_value:
  description: C({max_percent, pressure_avg10, json_dir}); the thresholds as floats, json_dir null when unset.
  type: dict
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.smallvps.hardening.plugins.plugin_utils._status_table import (
    StatusTableError,
    check_status_variables,
)

memory_status_thresholds = as_filter_errors(StatusTableError)(check_status_variables)


class FilterModule:
    def filters(self):
        return {"memory_status_thresholds": memory_status_thresholds}
