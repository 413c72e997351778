# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""smallvps.hardening.plan, run by ansible-playbook: the plan the memory_plan filter computes from the same input, and
a refusal that fails the task with the planner's message after `smallvps_services: `, with no wrapping to strip
(the memory_plan role computes the host's plan with it, and has no rescue)."""

from __future__ import annotations

import json

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import run_local_playbook

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    facts: {effective_memory_bytes: 536870912, cpus: 1}
  tasks:
    - name: action
      smallvps.hardening.plan:
        facts: "{{ facts }}"
        services: "{{ services }}"
        units: [app.service]
      register: planned
    - name: filter
      ansible.builtin.debug:
        msg: "{{ facts | smallvps.hardening.memory_plan(services, units=['app.service']) }}"
"""


def _run(tmp_path, services):
    returncode, report = run_local_playbook(tmp_path, PLAYBOOK, json.dumps({"services": services}))
    return returncode, [task["hosts"]["localhost"] for task in report["plays"][0]["tasks"]]


def test_the_action_plans_what_the_filter_plans(tmp_path):
    rc, (action, filtered) = _run(tmp_path, [{"name": "app", "tier": 1, "runtime": "python", "min": "192M"}])
    assert rc == 0 and not action.get("changed"), action
    assert action["plan"] == filtered["msg"]
    assert action["plan"]["services"]["app"]["memory_max"] is not None


def test_a_plan_that_does_not_fit_fails_with_the_planners_message_only(tmp_path):
    rc, results = _run(tmp_path, [{"name": "app", "tier": 1, "runtime": "python", "min": "2G"}])
    (action,) = results
    assert rc != 0 and action["failed"], action
    assert action["msg"].startswith("smallvps_services: memory_plan: "), action["msg"]
    assert "'app'" in action["msg"] and "Finalization" not in action["msg"], action["msg"]


def test_a_service_that_is_not_a_mapping_is_refused_by_the_planner_not_by_the_argument_spec(tmp_path):
    rc, (action,) = _run(tmp_path, "app")
    assert rc != 0 and action["msg"].startswith("smallvps_services: memory_plan: option 'services'"), action
