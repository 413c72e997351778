"""Fixtures of the edge scenario's tests."""

import pytest


@pytest.fixture(scope="module")
def plan(ansible_playbook, host):
    """This host's plan as budget.yml prints it (the one site.yml applied): {'rows': {service: {column: cell}},
    'extras': {service: {key: value}}}."""
    result = ansible_playbook("smallvps.hardening.budget", as_json=True)
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
    return {"rows": rows, "extras": extras}
