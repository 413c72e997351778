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
    # Forks: a cases run (molecule/shared/cases.yml) has one alias per case, and Ansible's default
    # of 5 would run 16 of them in four rounds, each task.
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_PIPELINING="1", ANSIBLE_FORKS="24")
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


CASES_PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shared", "cases.yml")


class CasesRun(dict):
    """{case: (its alias's recap stats, the message of the task that failed it)}; `.result` is the finished run."""


@pytest.fixture(scope="module")
def apply_cases(ansible_playbook, host):
    """Apply `roles` once per case of `cases` ({case: {variable: value}}) on aliases of this host, in one run of
    molecule/shared/cases.yml; returns a CasesRun. For cases refused before any change, or that only read the host."""

    def run(roles, cases):
        name = host.backend.get_hostname()
        result = ansible_playbook(
            CASES_PLAYBOOK, {"cases_roles": roles, "cases": cases, "cases_host": name}, as_json=True
        )
        assert result.json is not None, result.output
        messages = {}
        for play in result.json["plays"]:
            for task in play["tasks"]:
                for alias, outcome in task["hosts"].items():
                    # The last failure ends the case: earlier ones were rescued (a block that turns
                    # Ansible's wrapped filter error into the role's own message).
                    if outcome.get("failed"):
                        messages[alias] = str(outcome.get("msg", ""))
        outcome = CasesRun()
        for case in cases:
            alias = f"{name}-{case}"  # as cases.yml names it
            assert alias in result.json["stats"], result.output
            outcome[case] = (result.json["stats"][alias], messages.get(alias, ""))
        outcome.result = result
        return outcome

    return run


_PRINTED_PLANS = set()


@pytest.fixture(scope="session")
def _budget_tables():
    """budget.yml's table for every host of the scenario, from one run (the plan does not change between tests:
    those that change it put it back)."""
    result = _run_playbook("smallvps.hardening.budget", as_json=True)
    assert result.returncode == 0, result.output
    return {
        name: outcome["msg"]
        for play in result.json["plays"]
        for task in play["tasks"]
        if task["task"]["name"].endswith("Show the plan every role applies")
        for name, outcome in task["hosts"].items()
    }


@pytest.fixture
def plan(_budget_tables, host):
    """This host's memory plan as budget.yml prints it (the one site.yml applied): {'rows': {service: {column: cell}},
    'extras': {service: {key: value}}, 'cpus': n}."""
    name = host.backend.get_hostname()
    header, *lines = table = _budget_tables[name]
    columns = header.split()
    rows = {
        cells[0]: dict(zip(columns, cells, strict=True))
        for cells in (line.split() for line in lines)
        if len(cells) == len(columns)
    }
    extras = {}
    for line in lines:
        service, sep, rest = line.partition(": ")
        if sep and service in rows and "=" in rest:
            extras[service] = dict(item.split("=", 1) for item in rest.split(", "))
    [host_line] = [line for line in lines if line.startswith("effective ")]
    if name not in _PRINTED_PLANS:
        _PRINTED_PLANS.add(name)
        print(f"plan of {name}:\n" + "\n".join(table))
    return {"rows": rows, "extras": extras, "cpus": int(host_line.rsplit("cpus ", 1)[1])}
