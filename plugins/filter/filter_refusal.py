# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: filter_refusal
short_description: A refusal of one of the collection's filters, without Ansible's wrapping
version_added: 0.4.0
author:
  - smallvps.hardening maintainers
description:
  - >-
    When a filter such as P(smallvps.hardening.caddy_config#filter) refuses a variable, Ansible reports
    C(Task failed: Finalization of task args ... The filter plugin '...' failed:) before the refusal itself.
  - This filter returns the refusal alone, which starts with the variable it names. The roles fail with it in
    the C(rescue) of the task that called the filter.
  - A message without that wrapping is returned unchanged.
positional: _input
options:
  _input:
    description: The failed task's message, C(ansible_failed_result.msg).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Check the variables
  block:
    - name: Build the Caddyfile
      ansible.builtin.set_fact:
        caddy_caddyfile: "{{ caddy_site_address | smallvps.hardening.caddy_config(caddy_upstreams) }}"
  rescue:
    - name: Refuse the variables the filter refused
      ansible.builtin.fail:
        msg: "{{ ansible_failed_result.msg | smallvps.hardening.filter_refusal }}"
"""

RETURN = r"""
_value:
  description: The filter's own message.
  type: str
"""

import re

# Everything up to and including the last "The filter plugin 'NAME' failed: ".
_WRAPPING = re.compile(r"(?s)^.*The filter plugin '[^']*' failed: ")


def filter_refusal(message):
    return _WRAPPING.sub("", str(message))


class FilterModule:
    def filters(self):
        return {"filter_refusal": filter_refusal}
