# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""monitoring on a distribution it has no vars file for (Ubuntu 24.04 here, given as facts): htop and glances
install as on Debian; only the web UI, whose server libraries differ by glances version, is refused, naming the
variable. Run by ansible-playbook on the controller in check mode, with a dpkg-query that says every package is
installed, so nothing is installed or changed here."""

from __future__ import annotations

import json
import os
import sys

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import run_playbook

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: smallvps.hardening.monitoring
"""
FAKE_DPKG_QUERY = '#!/bin/sh\nfor p in "$@"; do case "$p" in -*) ;; *) echo "$p installed";; esac; done\n'
UBUNTU = {"distribution": "Ubuntu", "distribution_major_version": "24", "os_family": "Debian"}
REFUSAL = "Refuse a web UI on a distribution the role has no server libraries for"


def _run(tmp_path, **extra_vars):
    (tmp_path / "playbook.yml").write_text(PLAYBOOK)
    fake = tmp_path / "bin" / "dpkg-query"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(FAKE_DPKG_QUERY)
    fake.chmod(0o755)
    variables = {"ansible_facts": UBUNTU, "ansible_python_interpreter": sys.executable, **extra_vars}
    returncode, report = run_playbook(
        ["-i", "localhost,", "-c", "local", "--check", str(tmp_path / "playbook.yml"), "-e", json.dumps(variables)],
        PATH=f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
    )
    tasks = report["plays"][0]["tasks"]
    return returncode, {task["task"]["name"].split(" : ")[-1]: task["hosts"]["localhost"] for task in tasks}


def test_htop_and_glances_install_on_a_distribution_without_a_vars_file(tmp_path):
    returncode, tasks = _run(tmp_path)
    assert returncode == 0, tasks
    assert not tasks[REFUSAL].get("failed")
    assert "Install htop, glances and, for the web UI, its server libraries" in tasks


def test_the_web_ui_there_is_refused_naming_the_variable(tmp_path):
    returncode, tasks = _run(tmp_path, monitoring_glances_web_enabled=True)
    assert returncode != 0 and tasks[REFUSAL].get("failed"), tasks
    assert tasks[REFUSAL]["msg"].startswith("monitoring_glances_web_enabled: ")
    assert "not for Ubuntu 24" in tasks[REFUSAL]["msg"]
