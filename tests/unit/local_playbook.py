"""Runs a playbook against the controller itself (connection local) with this checkout as
smallvps.hardening, and returns its exit code and ansible.posix.json's report: for role tasks that
only read variables (checks, plans, the render step), which need no test host."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_playbook(args: list[str], timeout: int = 120, **env: str) -> tuple[int, dict]:
    """(exit code, the json callback's report) of `ansible-playbook ARGS` with this checkout as
    smallvps.hardening; ENV adds to the environment (PATH for fakes, ANSIBLE_FORKS, ...)."""
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"),
        ANSIBLE_STDOUT_CALLBACK="json",
        ANSIBLE_LOCALHOST_WARNING="False",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
        **env,
    )
    result = subprocess.run(
        ["ansible-playbook", *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(f"no json report: {result.stdout[-2000:]}{result.stderr[-2000:]}") from error
    return result.returncode, report


def run_local_playbook(tmp_path: Path, playbook: str, *extra_vars: str) -> tuple[int, dict]:
    """(exit code, the json callback's report); each of `extra_vars` is one -e argument."""
    path = tmp_path / "playbook.yml"
    path.write_text(playbook)
    args = [arg for extra in extra_vars for arg in ("-e", extra)]
    return run_playbook(["-i", "localhost,", "-c", "local", str(path), *args])


def run_role_validate(
    tmp_path: Path, role: str, extra_vars: dict, then: str = ""
) -> tuple[int, list[tuple[str, dict]]]:
    """Exit code and [(task name, result)] of ROLE's tasks/validate.yml with its defaults and vars, then the tasks
    in `then` (YAML, indented as a play's tasks). Only the role's own files are loaded: its meta dependencies
    (memory_plan, systemd_tiering, go_service) would act on the machine running the tests."""
    playbook = f"""
- hosts: localhost
  gather_facts: false
  vars_files:
    - {ROOT}/roles/{role}/defaults/main.yml
    - {ROOT}/roles/{role}/vars/main.yml
  tasks:
    - ansible.builtin.include_tasks: {ROOT}/roles/{role}/tasks/validate.yml
{then}"""
    returncode, report = run_local_playbook(tmp_path, playbook, json.dumps(extra_vars))
    results = [(task["task"]["name"], task["hosts"]["localhost"]) for task in report["plays"][0]["tasks"]]
    return returncode, [(name, result) for name, result in results if "include_tasks" not in name]
