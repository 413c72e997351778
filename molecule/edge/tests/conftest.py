"""Fixtures of the edge scenario's tests."""

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def plan(ansible_playbook, host):
    """This host's plan as budget.yml prints it (the one site.yml applied): {'rows': {service: {column: cell}},
    'extras': {service: {key: value}}, 'cpus': n}."""
    result = ansible_playbook("smallvps.hardening.budget", as_json=True, limit=host.backend.get_hostname())
    assert result.returncode == 0, result.output
    name = host.backend.get_hostname()
    [table] = [task["hosts"][name]["msg"] for play in result.json["plays"] for task in play["tasks"]
               if task["task"]["name"].endswith("Show the plan every role applies") and name in task["hosts"]]
    header, *lines = table
    columns = header.split()
    rows = {cells[0]: dict(zip(columns, cells)) for cells in (line.split() for line in lines) if len(cells) == len(columns)}
    extras = {}
    for line in lines:
        service, sep, rest = line.partition(": ")
        if sep and service in rows and "=" in rest:
            extras[service] = dict(item.split("=", 1) for item in rest.split(", "))
    [host_line] = [line for line in lines if line.startswith("effective ")]
    print(f"plan of {name}: {' | '.join(line for line in lines if line.startswith(('effective', 'haproxy')))}")
    return {"rows": rows, "extras": extras, "cpus": int(host_line.rsplit("cpus ", 1)[1])}


@pytest.fixture
def refused(ansible_playbook, host):
    """Run cases.yml with `roles` and `cases` ({case: {variable: value}}); returns {case: (stats, failure message)}
    for this host's aliases."""
    cases_playbook = Path(__file__).resolve().parents[1] / "cases.yml"

    def run(roles, cases):
        result = ansible_playbook(cases_playbook, {"edge_test_roles": roles, "edge_test_cases": cases,
                                                   "edge_test_host": host.backend.get_hostname()}, as_json=True)
        assert result.json is not None, result.output
        messages = {}
        for play in result.json["plays"]:
            for task in play["tasks"]:
                for name, outcome in task["hosts"].items():
                    if outcome.get("failed"):
                        messages[name] = outcome.get("msg", "")
        name = host.backend.get_hostname()
        return {case: (result.json["stats"][f"{name}-{case}"], messages.get(f"{name}-{case}", "")) for case in cases}

    return run
