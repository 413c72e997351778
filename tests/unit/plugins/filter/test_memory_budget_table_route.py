# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The table filter's old name, smallvps.hardening.memory_budget_table, is routed to memory_plan_table by
meta/runtime.yml: a playbook that still calls it gets the same lines, and a deprecation naming the new name and
the removal."""

from __future__ import annotations

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import run_local_playbook

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    plan: "{{ {'effective_memory_bytes': 1073741824, 'cpus': 1}
              | smallvps.hardening.memory_plan([{'name': 'app', 'tier': 1, 'runtime': 'python', 'min': '256M'}]) }}"
  tasks:
    - name: new
      ansible.builtin.debug:
        msg: "{{ plan | smallvps.hardening.memory_plan_table }}"
    - name: old
      ansible.builtin.debug:
        msg: "{{ plan | smallvps.hardening.memory_budget_table }}"
"""


def test_the_old_name_gives_the_same_table_and_warns(tmp_path):
    returncode, report = run_local_playbook(tmp_path, PLAYBOOK)
    assert returncode == 0, report
    new, old = (task["hosts"]["localhost"] for task in report["plays"][0]["tasks"])
    assert old["msg"] == new["msg"] and new["msg"][1].split()[:4] == ["app", "1", "-", "846M"]
    assert "deprecations" not in new
    (deprecation,) = old["deprecations"]
    assert deprecation["version"] == "1.0.0" and deprecation["collection_name"] == "smallvps.hardening"
    assert deprecation["msg"].startswith('Filter "smallvps.hardening.memory_budget_table" has been deprecated. ')
    assert "Use smallvps.hardening.memory_plan_table, the same filter" in deprecation["msg"]
