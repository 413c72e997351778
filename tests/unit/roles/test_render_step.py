# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The haproxy and nginx_limit_req roles render through smallvps.hardening.render (tasks/validate.yml, the first
thing each role does), run by ansible-playbook on the controller: a refusal fails that task with the product's plain
message (the variable first, no "Finalization of task args" wrapping, no rescue to re-word it), and an accepted input
reaches the role's templates. Only the role's own files are loaded: its meta dependencies (memory_plan,
systemd_tiering) would act on the machine running the tests."""

from __future__ import annotations

import json

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import MIB, build_plan
from ansible_collections.smallvps.hardening.tests.unit.local_playbook import run_role_validate

HOST = {"effective_memory_bytes": 512 * MIB, "cpus": 1}
SHOW_HAPROXY_GLOBAL = """    - ansible.builtin.debug:
        msg: "{{ haproxy_lines.global }}"
"""


def _haproxy_plan():
    return build_plan(HOST, [], units=["haproxy.service"])


def test_haproxy_refuses_a_variable_with_the_products_own_message(tmp_path):
    rc, results = run_role_validate(
        tmp_path,
        "haproxy",
        {"smallvps_memory_plan": _haproxy_plan(), "haproxy_servers": ["127.0.0.1:8000"], "haproxy_port": 70000},
    )
    [(name, result)] = results
    assert rc != 0 and result.get("failed"), results
    assert name == "Check the variables against the memory plan and render every haproxy.cfg line", results
    assert result["msg"].startswith("haproxy_port: "), result["msg"]
    assert "Finalization" not in result["msg"] and "Traceback" not in result["msg"], result["msg"]


def test_haproxy_refuses_a_plan_without_its_entry_naming_smallvps_services(tmp_path):
    rc, results = run_role_validate(
        tmp_path, "haproxy", {"smallvps_memory_plan": build_plan(HOST, []), "haproxy_servers": ["127.0.0.1:8000"]}
    )
    assert rc != 0 and results[-1][1]["msg"].startswith("smallvps_services: "), results


def test_haproxy_lines_reach_the_role_with_the_plans_maxconn(tmp_path):
    plan = _haproxy_plan()
    rc, results = run_role_validate(
        tmp_path,
        "haproxy",
        {"smallvps_memory_plan": plan, "haproxy_servers": ["127.0.0.1:8000"]},
        then=SHOW_HAPROXY_GLOBAL,
    )
    assert rc == 0, results
    assert f"maxconn {plan['services']['haproxy']['maxconn']}" in results[-1][1]["msg"], results


def test_nginx_limit_req_refuses_a_rate_nginx_cannot_parse(tmp_path):
    rc, results = run_role_validate(
        tmp_path,
        "nginx_limit_req",
        {
            "smallvps_memory_plan": build_plan(HOST, [], units=["nginx.service"]),
            "nginx_limit_req_zones": [{"name": "perip", "rate": "99999999999999999999r/s"}],
        },
    )
    [(_name, result)] = results
    assert rc != 0 and result.get("failed"), results
    assert result["msg"].startswith("nginx_limit_req_zones"), result["msg"]
    assert "Finalization" not in result["msg"], result["msg"]


def test_nginx_limit_req_lines_carry_the_plans_zone_size(tmp_path):
    plan = build_plan(HOST, [], units=["nginx.service"])
    rc, results = run_role_validate(
        tmp_path,
        "nginx_limit_req",
        {"smallvps_memory_plan": plan, "nginx_limit_req_zones": [{"name": "perip", "rate": "5r/s"}]},
        then='    - ansible.builtin.debug:\n        msg: "{{ nginx_limit_req_lines.zones }}"\n',
    )
    assert rc == 0, results
    assert plan["services"]["nginx"]["limit_req_zone_size"] in json.dumps(results[-1][1]["msg"]), results
