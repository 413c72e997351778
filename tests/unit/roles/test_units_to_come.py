# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The units the plan counts before they exist (memory_plan_units_declared): every *_units_to_come list the plan's
play sees. site.yml (whose plan is budget.yml's) and a play of one's own with the same roles, in any order, count
the same units, and they are the units site.yml's old group rule counted."""

from __future__ import annotations

import json

import yaml

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import ROOT, run_local_playbook

SITE = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())
BUDGET = yaml.safe_load((ROOT / "playbooks" / "budget.yml").read_text())
# site.yml's plays for one inventory group, and their roles.
GROUP_ROLES = {
    play["hosts"]: [entry["role"] for entry in play["roles"]]
    for play in SITE
    if "hosts" in play and play["hosts"] != "all"
}
# What memory_plan's defaults counted per group before the rule (memory_plan named the groups).
BEFORE = {
    "app": ["app.service", "nginx.service"],
    "edge_caddy": ["caddy.service"],
    "edge_haproxy": ["haproxy.service"],
    "edge_traefik": ["traefik.service"],
    "auth": ["oathkeeper.service"],
}


def _play(hosts, roles, play_vars=None):
    """A play that loads memory_plan and `roles` (when: false: nothing runs, their vars are read) and shows what
    the plan would count."""
    return {
        "name": "units",
        "hosts": hosts,
        "gather_facts": False,
        "vars": play_vars or {},
        "roles": [{"role": role, "when": False} for role in ["smallvps.hardening.memory_plan", *roles]],
        "tasks": [{"ansible.builtin.debug": {"var": "memory_plan_units_declared"}}],
    }


# A host per group, one in every group, one in none, and one whose roles' service names are set, with lists of its
# own.
HOSTS = [
    {"name": "every", "groups": list(BEFORE)},
    {"name": "none", "groups": []},
    *({"name": f"in_{group}", "groups": [group]} for group in BEFORE),
    {
        "name": "renamed",
        "groups": ["app", "auth"],
        "gunicorn_gevent_service": "shop.service",
        "oathkeeper_service": "auth",
        "memory_plan_units_to_come": ["capture.service"],
        "x_units_to_come": ["y.service"],
    },
]
EVERY_ROLE = [role for roles in GROUP_ROLES.values() for role in roles]


def _declared(tmp_path, plays) -> list[dict]:
    """memory_plan_units_declared per host, one dict per play of `plays`."""
    add = [{"ansible.builtin.add_host": dict(host, ansible_connection="local")} for host in HOSTS]
    setup = {"name": "hosts", "hosts": "localhost", "gather_facts": False, "tasks": add}
    returncode, report = run_local_playbook(tmp_path, json.dumps([setup, *plays]))
    assert returncode == 0, json.dumps(report)[-3000:]
    return [
        {host: result["memory_plan_units_declared"] for host, result in play["tasks"][-1]["hosts"].items()}
        for play in report["plays"][1:]
    ]


def test_site_imports_budget_first_and_plans_nowhere_else():
    assert SITE[0]["ansible.builtin.import_playbook"] == "budget.yml" and "always" in SITE[0]["tags"]
    roles = [entry["role"] for play in SITE[1:] for entry in play["roles"]]
    assert "smallvps.hardening.memory_plan" not in roles
    assert set(GROUP_ROLES) == set(BEFORE)
    tasks = yaml.safe_load((ROOT / "roles" / "memory_plan" / "tasks" / "compute.yml").read_text())
    (plan,) = [task for task in tasks if "smallvps.hardening.plan" in task]
    assert "+ memory_plan_units_declared" in plan["smallvps.hardening.plan"]["units"]


def test_site_and_a_play_of_ones_own_count_the_same_units_as_before(tmp_path):
    # budget.yml's play as it is (its vars) on every host; then, per group, a play of one's own with that group's
    # site.yml roles in reverse order; then one with every such role, on the hosts in several groups.
    budget = _play("all:!localhost", [], BUDGET[0]["vars"])
    own = [_play(f"in_{group}", list(reversed(roles))) for group, roles in GROUP_ROLES.items()]
    every = _play("every:renamed", EVERY_ROLE)
    site, *per_group, all_roles = _declared(tmp_path, [budget, *own, every])
    assert site["none"] == []
    for group, result in zip(GROUP_ROLES, per_group, strict=True):
        assert site[f"in_{group}"] == result[f"in_{group}"] == BEFORE[group], group
    assert site["every"] == all_roles["every"] == sorted(unit for units in BEFORE.values() for unit in units)
    # The service names the roles read move the units with them; yours, and any *_units_to_come list, join.
    assert site["renamed"] == ["auth.service", "capture.service", "nginx.service", "shop.service", "y.service"]
    # A play of one's own sees every role's declaration, whatever the host's groups: it gives its roles to all.
    assert set(all_roles["renamed"]) == set(site["renamed"]) | {"caddy.service", "haproxy.service", "traefik.service"}
