# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The monitoring role's checks (tasks/validate.yml), run by ansible-playbook on the controller:
the glances web UI (no authentication) stays on loopback unless monitoring_glances_web_expose."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: smallvps.hardening.monitoring
        tasks_from: validate
"""


def _validate(tmp_path, **extra_vars):
    playbook = tmp_path / "validate.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"),
               ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
    extra_vars = json.dumps({"monitoring_glances_web_enabled": True, **extra_vars})
    result = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", str(playbook), "-e", extra_vars],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    tasks = json.loads(result.stdout)["plays"][0]["tasks"]
    # Role tasks are named "<role> : <task>" in the json callback.
    return result.returncode, {task["task"]["name"].split(" : ")[-1]: task["hosts"]["localhost"] for task in tasks}


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "10.0.0.5", "vps1.example.net"])
def test_an_address_beyond_loopback_is_refused_naming_the_variable_and_the_opt_in(tmp_path, address):
    rc, tasks = _validate(tmp_path, monitoring_glances_web_address=address)
    refusal = tasks["Refuse a web UI address beyond loopback without monitoring_glances_web_expose"]
    assert rc != 0 and refusal.get("failed"), tasks
    assert refusal["msg"].startswith(f"monitoring_glances_web_address: '{address}' is not a loopback address")
    assert "monitoring_glances_web_expose: true" in refusal["msg"]


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_passes_without_a_warning(tmp_path, address):
    rc, tasks = _validate(tmp_path, monitoring_glances_web_address=address)
    assert rc == 0, tasks
    assert tasks["Warn that the web UI listens beyond loopback"].get("skipped"), tasks


def test_the_opt_in_lets_it_listen_and_warns(tmp_path):
    rc, tasks = _validate(tmp_path, monitoring_glances_web_address="0.0.0.0", monitoring_glances_web_expose=True)
    assert rc == 0, tasks
    warning = tasks["Warn that the web UI listens beyond loopback"]
    assert not warning.get("skipped") and "0.0.0.0:61208 without authentication" in json.dumps(warning), warning
