#!/usr/bin/python
# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: warn
short_description: Show a message as an Ansible warning
version_added: 0.4.0
author:
  - smallvps.hardening maintainers
description:
  - Adds O(msg) to the task's warnings, so it appears as C([WARNING]) in the play output and in the C(warnings)
    list of the task result (the JSON callback, ara and AWX show it), and changes nothing.
  - The roles use it where a run succeeds but left something for you to act on, for example a Go service still
    running with an old C(GOMEMLIMIT) because you did not allow a restart.
  - Runs on the controller only (an action plugin); this file holds its documentation.
options:
  msg:
    description: The warning.
    type: str
    required: true
attributes:
  check_mode:
    support: full
    description: Warns the same in a dry run.
  diff_mode:
    support: none
    description: No diff.
"""

EXAMPLES = r"""
- name: Say that the running service keeps its old heap limit
  smallvps.hardening.warn:
    msg: caddy.service still runs with GOMEMLIMIT=200MiB; restart it to apply 180MiB
"""

RETURN = r"""
msg:
  description: The warning, as given.
  returned: always
  type: str
"""

# The action plugin (plugins/action/warn.py) validates its arguments with this.
ARGUMENT_SPEC = {"msg": {"type": "str", "required": True}}
