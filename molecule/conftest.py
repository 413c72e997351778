"""Shared by every scenario's testinfra tests (pytest loads it from the rootdir down).

Behavioural tests run a playbook again against the scenario's hosts, with extra vars, and
look at what it said and changed: `ansible_playbook(playbook, {"var": value}, check=True)`.
"""

import json
import os
import re
import subprocess

import pytest


def _run_playbook(playbook, *extra_vars, check=False, timeout=600, as_json=False, tags=None, limit=None):
    command = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(playbook)]
    for overrides in extra_vars:
        command += ["-e", json.dumps(overrides)]
    if check:
        command.append("--check")
    if tags:
        command += ["--tags", tags]
    if limit:
        command += ["--limit", limit]
    # Plain text, so assertions can match task names and messages.
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_PIPELINING="1")
    if as_json:
        # One JSON document: tests read task results (a debug msg, say) instead of scraping text.
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    result.output = result.stdout + result.stderr
    if as_json:
        result.json = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
        stats = (result.json or {}).get("stats", {})
        result.changed = sum(host["changed"] for host in stats.values()) if stats else None
        return result
    recap = re.findall(r"\bchanged=(\d+)", result.stdout)
    # None when the play never reached its recap (a syntax error, say).
    result.changed = int(recap[-1]) if recap else None
    return result


@pytest.fixture(scope="session")
def ansible_playbook():
    """Run a playbook (path or FQCN) against the scenario's inventory; returns the finished process
    with `.output` (stdout + stderr) and `.changed` (the recap's changed= count); with
    as_json=True also `.json`, the ansible.posix.json callback's document."""
    return _run_playbook
