# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""memory_plan computes the host's plan once per run, whichever tags run: later plays that pull it in (site.yml's,
through systemd_tiering) evaluate one skipped include. Run by ansible-playbook against this machine (connection
local; memory_facts reads this machine) with a fake systemctl that lists two units."""

from __future__ import annotations

import json
import os
import sys

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import run_playbook

FAKE_SYSTEMCTL = "#!/bin/sh\nprintf 'ssh.service enabled enabled\\nnginx.service enabled enabled\\n'\n"
PLAYBOOK = """
- name: Plan
  hosts: all
  gather_facts: false
  roles:
    - role: smallvps.hardening.memory_plan
      tags: [plan]

- name: Later
  hosts: all
  gather_facts: false
  roles:
    - role: smallvps.hardening.memory_plan
      tags: [later]
  tasks:
    - name: Show the plan's units
      ansible.builtin.debug:
        msg: "{{ smallvps_memory_plan.services.keys() | list }}"
      tags: [later]
"""
COMPUTE = "Compute the memory plan, or refuse before anything changes"


def _run(tmp_path, *args: str):
    """{play name: [(task name, skipped)]} and the exit code of PLAYBOOK on this machine."""
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    fake = tmp_path / "bin" / "systemctl"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(FAKE_SYSTEMCTL)
    fake.chmod(0o755)
    variables = {"smallvps_services": [], "ansible_python_interpreter": sys.executable}
    returncode, report = run_playbook(
        ["-i", "localhost,", "-c", "local", str(tmp_path / "site.yml"), "-e", json.dumps(variables), *args],
        PATH=f"{fake.parent}:{os.environ['PATH']}",
    )
    plays = {
        play["play"]["name"]: [
            (task["task"]["name"].split(" : ")[-1], bool(task["hosts"]["localhost"].get("skipped")))
            for task in play["tasks"]
        ]
        for play in report["plays"]
    }
    return returncode, plays


def test_a_later_play_evaluates_one_skipped_include(tmp_path):
    returncode, plays = _run(tmp_path)
    assert returncode == 0, plays
    assert (COMPUTE, False) in plays["Plan"]
    later = [task for task in plays["Later"] if not task[0].startswith("Validating arguments")]
    assert later == [("Compute the memory plan once per host", True), ("Show the plan's units", False)]


def test_the_plan_is_computed_whichever_tags_run(tmp_path):
    # Only the later play's tag: the plan its tasks read is still computed (in the first play).
    returncode, plays = _run(tmp_path, "--tags", "later")
    assert returncode == 0, plays
    assert (COMPUTE, False) in plays["Plan"]
    assert ("Show the plan's units", False) in plays["Later"]
