# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The filter's old name, smallvps.hardening.memory_budget, is routed to memory_plan by meta/runtime.yml:
a playbook that still calls it gets the same plan, and a deprecation naming the new name and the removal."""

from __future__ import annotations

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import run_local_playbook

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    facts: {effective_memory_bytes: 1073741824, cpus: 1}
    services: [{name: app, tier: 1, runtime: python, min: 256M}]
  tasks:
    - name: new
      ansible.builtin.debug:
        msg: "{{ facts | smallvps.hardening.memory_plan(services) }}"
    - name: old
      ansible.builtin.debug:
        msg: "{{ facts | smallvps.hardening.memory_budget(services) }}"
"""


def test_the_old_name_gives_the_same_plan_and_warns(tmp_path):
    returncode, report = run_local_playbook(tmp_path, PLAYBOOK)
    assert returncode == 0, report
    new, old = (task["hosts"]["localhost"] for task in report["plays"][0]["tasks"])
    assert old["msg"] == new["msg"] and new["msg"]["services"]["app"]["memory_max"] == "846M"
    assert "deprecations" not in new
    (deprecation,) = old["deprecations"]
    assert deprecation["version"] == "1.0.0" and deprecation["collection_name"] == "smallvps.hardening"
    assert deprecation["msg"].startswith('Filter "smallvps.hardening.memory_budget" has been deprecated. ')
    assert "Use smallvps.hardening.memory_plan, the same filter" in deprecation["msg"]
