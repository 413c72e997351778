# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The monitoring role's checks (tasks/validate.yml), run by ansible-playbook on the controller:
the glances web UI (no authentication) stays on loopback unless monitoring_glances_web_expose."""

from __future__ import annotations

import json

import pytest

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import run_local_playbook

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: smallvps.hardening.monitoring
        tasks_from: validate
"""


def _validate(tmp_path, **extra_vars):
    """Exit code and {task name: its result} of the role's checks with these variables."""
    returncode, report = run_local_playbook(
        tmp_path, PLAYBOOK, json.dumps({"monitoring_glances_web_enabled": True, **extra_vars})
    )
    # Role tasks are named "<role> : <task>" in the json callback.
    tasks = report["plays"][0]["tasks"]
    return returncode, {task["task"]["name"].split(" : ")[-1]: task["hosts"]["localhost"] for task in tasks}


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
