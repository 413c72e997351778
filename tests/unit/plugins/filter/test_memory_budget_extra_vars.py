# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""`ansible-playbook -e swap_zram_size_mb=512` passes a string: the plan reads it as the swap role's
argument spec does (type int), through the same vars the memory_plan role builds."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: "{{ {'effective_memory_bytes': 1073741824, 'cpus': 1}
                 | smallvps.hardening.memory_budget([], swap=memory_plan_swap) }}"
      vars:
        # as in roles/memory_plan/tasks/main.yml
        memory_plan_swap:
          backend: "{{ swap_backend | default(none) }}"
          state: "{{ swap_state | default(none) }}"
          zram_size_mb: "{{ swap_zram_size_mb | default(none) }}"
"""


def test_extra_vars_zram_size_is_planned(tmp_path):
    playbook = tmp_path / "plan.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"),
               ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
    result = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", str(playbook),
         "-e", "swap_backend=zram", "-e", "swap_zram_size_mb=512"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    task = json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    # 80 + 32 + a full 512 MiB zram device (256 + 0.512 -> 257)
    assert task["msg"]["summary"]["reserve_terms"]["zram_mb"] == 257
