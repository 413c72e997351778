# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""`ansible-playbook -e swap_zram_size_mb=512` passes a string: the plan reads it as the swap role's
argument spec does (type int), through the same vars the memory_plan role builds."""

from __future__ import annotations

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import run_local_playbook

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: "{{ {'effective_memory_bytes': 1073741824, 'cpus': 1}
                 | smallvps.hardening.memory_plan([], swap=memory_plan_swap) }}"
      vars:
        # as in roles/memory_plan/tasks/main.yml
        memory_plan_swap:
          backend: "{{ swap_backend | default(none) }}"
          state: "{{ swap_state | default(none) }}"
          zram_size_mb: "{{ swap_zram_size_mb | default(none) }}"
"""


def test_extra_vars_zram_size_is_planned(tmp_path):
    returncode, report = run_local_playbook(tmp_path, PLAYBOOK, "swap_backend=zram", "swap_zram_size_mb=512")
    assert returncode == 0, report
    task = report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    # 80 + 32 + a full 512 MiB zram device (256 + 0.512 -> 257)
    assert task["msg"]["summary"]["reserve_terms"]["zram_mb"] == 257
