# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The render action: per product, the content its public filter returns for the same input, and the filter's
refusal as the task's plain message; an unknown product or option is refused naming the accepted ones."""

from __future__ import annotations

import json
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail, AnsibleFilterError

from ansible_collections.smallvps.hardening.plugins.action.render import ActionModule
from ansible_collections.smallvps.hardening.plugins.filter.caddy_config import caddy_config
from ansible_collections.smallvps.hardening.plugins.filter.haproxy_config import haproxy_config
from ansible_collections.smallvps.hardening.plugins.filter.nginx_limit_req_config import nginx_limit_req_config
from ansible_collections.smallvps.hardening.plugins.filter.oathkeeper_config import oathkeeper_config
from ansible_collections.smallvps.hardening.plugins.filter.traefik_config import traefik_config
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import MIB, build_plan
from ansible_collections.smallvps.hardening.tests.unit.local_playbook import run_local_playbook

FACTS = {"effective_memory_bytes": 1024 * MIB, "cpus": 2}
SERVICES = [
    {"name": "sshd", "tier": 0, "min": "16M"},
    {"name": "nginx", "tier": 0, "min": "16M", "limit_req_clients": 2000},
    {"name": "oathkeeper", "tier": 1, "runtime": "go", "min": "64M", "introspection_cache": True},
]
PLAN = build_plan(FACTS, SERVICES, units=["ssh.service", "haproxy.service", "nginx.service", "oathkeeper.service"])
PLAN_WITHOUT_OATHKEEPER = build_plan(FACTS, SERVICES[:2], units=["ssh.service", "haproxy.service", "nginx.service"])

HAPROXY = {"servers": ["127.0.0.1:8000"], "port": 8080, "timeouts": {"client": "1m"}, "nbthread": None}
NGINX = {"zones": [{"name": "perip", "rate": "5r/s"}], "status": 503}
CADDY = {
    "site_address": ":80",
    "upstreams": ["127.0.0.1:8000"],
    "timeouts": {"read_header": "10s", "read_body": "30s", "write": "60s", "idle": "2m"},
    "max_header_size": "32KiB",
    "upstream_pool": {"keepalive": "2m", "keepalive_idle_conns": 32},
}
TRAEFIK = {
    "address": ":80",
    "upstreams": ["http://127.0.0.1:8000"],
    "responding_timeouts": {"readTimeout": "60s", "writeTimeout": "60s", "idleTimeout": "90s"},
    "forwarding_timeouts": {"dialTimeout": "5s", "responseHeaderTimeout": "60s", "idleConnTimeout": "30s"},
    "max_header_bytes": 32768,
    "max_idle_conns_per_host": 8,
    "version": "3.3.5",
}
OATHKEEPER = {"rules": [{"id": "app", "url": "http://<.*>/<.*>", "upstream": "http://127.0.0.1:8000"}]}

# product -> (the task's plan, its options, what the public filter returns for the same input)
ACCEPTED = {
    "haproxy": (PLAN, HAPROXY, lambda: haproxy_config(PLAN, **HAPROXY)),
    "nginx_limit_req": (PLAN, NGINX, lambda: nginx_limit_req_config(PLAN, **NGINX)),
    "caddy": (None, CADDY, lambda: caddy_config(**CADDY)),
    "traefik": (None, TRAEFIK, lambda: traefik_config(**TRAEFIK)),
    "oathkeeper": (PLAN, OATHKEEPER, lambda: oathkeeper_config(PLAN["services"]["oathkeeper"], **OATHKEEPER)),
}


def run(args: dict, check_mode: bool = False) -> dict:
    """The action's result for these task arguments, as Ansible would call it."""
    task = MagicMock(args=args, async_val=0, check_mode=check_mode, action="smallvps.hardening.render")
    connection = MagicMock()
    connection._shell.tmpdir = "/nonexistent"
    action = ActionModule(task, connection, MagicMock(), MagicMock(), MagicMock())
    return action.run(task_vars={})


def filter_refusal(call) -> str:
    with pytest.raises(AnsibleFilterError) as refused:
        call()
    return refused.value.message


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check mode"])
@pytest.mark.parametrize("product", sorted(ACCEPTED))
def test_content_is_what_the_filter_returns(product, check_mode):
    plan, options, filtered = ACCEPTED[product]
    result = run({"product": product, "plan": plan, "options": options}, check_mode)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert result["content"] == filtered()


def test_oathkeeper_takes_its_entry_from_the_plan():
    # The plan's introspection cache size reaches config.yml only through the entry the unit names.
    result = run(
        {
            "product": "oathkeeper",
            "plan": PLAN,
            "options": {
                **OATHKEEPER,
                "unit": "oathkeeper",
                "authenticators": {
                    "oauth2_introspection": {
                        "enabled": True,
                        "introspection_url": "http://127.0.0.1:4445/admin/oauth2/introspect",
                    }
                },
            },
        }
    )
    assert not result.get("failed"), result.get("msg")
    cost = PLAN["services"]["oathkeeper"]["introspection_max_cost"]
    assert result["content"]["config"]["authenticators"]["oauth2_introspection"]["config"]["cache"]["max_cost"] == cost


# product -> (plan, options that the filter refuses, the call of the filter, the variable the refusal starts with)
REFUSED = {
    "haproxy": (PLAN, {"servers": []}, lambda: haproxy_config(PLAN, servers=[]), "haproxy_servers"),
    "haproxy without its entry": (
        build_plan(FACTS, SERVICES[:1], units=["ssh.service"]),
        {"servers": ["127.0.0.1:8000"]},
        lambda: haproxy_config(build_plan(FACTS, SERVICES[:1], units=["ssh.service"]), servers=["127.0.0.1:8000"]),
        "smallvps_services",
    ),
    "nginx_limit_req": (
        PLAN,
        {"zones": [{"name": "perip", "rate": "0.5r/s"}]},
        lambda: nginx_limit_req_config(PLAN, zones=[{"name": "perip", "rate": "0.5r/s"}]),
        "nginx_limit_req_zones[0]",
    ),
    "caddy": (None, {**CADDY, "admin": "off"}, lambda: caddy_config(**{**CADDY, "admin": "off"}), "caddy_admin"),
    "traefik": (
        None,
        {**TRAEFIK, "version": "3.1.4"},
        lambda: traefik_config(**{**TRAEFIK, "version": "3.1.4"}),
        "traefik_binary.version",
    ),
    "oathkeeper": (
        PLAN,
        {"prometheus_host": "0.0.0.0"},
        lambda: oathkeeper_config(PLAN["services"]["oathkeeper"], prometheus_host="0.0.0.0"),
        "oathkeeper_prometheus_host",
    ),
    "oathkeeper without its entry": (
        PLAN_WITHOUT_OATHKEEPER,
        {},
        lambda: oathkeeper_config(None),
        "smallvps_services",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_refusal_is_the_filters_message_naming_the_variable(case):
    plan, options, filtered, variable = REFUSED[case]
    result = run({"product": case.split()[0], "plan": plan, "options": options})
    assert result["failed"] is True and result["changed"] is False
    assert "content" not in result
    assert result["msg"] == filter_refusal(filtered)
    assert result["msg"].startswith(f"{variable}:") or result["msg"].startswith(f"{variable} "), result["msg"]


def test_a_plan_that_is_not_a_plan_is_refused_as_the_filter_refuses_it():
    result = run({"product": "haproxy", "options": {"servers": ["127.0.0.1:8000"]}})
    assert result["msg"] == filter_refusal(lambda: haproxy_config(None, servers=["127.0.0.1:8000"]))
    assert result["msg"].startswith("haproxy_config: input is")


def test_an_unknown_product_is_refused_naming_the_products():
    with pytest.raises(AnsibleActionFail) as refused:
        run({"product": "apache", "options": {}})
    message = str(refused.value)
    assert "product" in message and "apache" in message
    assert "caddy, haproxy, nginx_limit_req, oathkeeper, traefik" in message


def test_an_unknown_option_is_refused_naming_it_and_the_accepted_ones():
    result = run({"product": "haproxy", "plan": PLAN, "options": {**HAPROXY, "maxconn": 10}})
    assert result["failed"] is True
    assert result["msg"] == (
        "render: options: 'maxconn' is not an option of haproxy; expected some of servers, port, bind_address, "
        "timeouts, http2, nbthread, hard_stop_after"
    )


def test_a_missing_required_option_is_refused_naming_it():
    options = {key: value for key, value in CADDY.items() if key != "upstreams"}
    result = run({"product": "caddy", "options": options})
    assert result["failed"] is True
    assert result["msg"] == "render: options: caddy needs 'upstreams'"


def test_an_unknown_argument_is_refused():
    with pytest.raises(AnsibleActionFail) as refused:
        run({"product": "haproxy", "plan": PLAN, "options": HAPROXY, "servers": []})
    assert "servers" in str(refused.value)


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Render haproxy
      smallvps.hardening.render:
        product: haproxy
        plan: "{{ plan }}"
        options: {servers: "{{ servers }}", port: 8080, timeouts: {client: 1m}, nbthread: "{{ none }}"}
      register: rendered
    - name: Refuse haproxy's servers
      smallvps.hardening.render:
        product: haproxy
        plan: "{{ plan }}"
        options: {servers: []}
      ignore_errors: true
    - name: Render in check mode
      smallvps.hardening.render:
        product: caddy
        options: "{{ caddy }}"
      check_mode: true
"""


def test_the_action_runs_in_a_playbook(tmp_path):
    code, report = run_local_playbook(
        tmp_path,
        PLAYBOOK,
        json.dumps({"plan": PLAN, "servers": HAPROXY["servers"], "caddy": CADDY}),
    )
    assert code == 0, report
    rendered, refused, checked = (task["hosts"]["localhost"] for task in report["plays"][0]["tasks"])
    assert rendered["content"] == json.loads(json.dumps(haproxy_config(PLAN, **HAPROXY)))
    assert rendered["changed"] is False
    assert refused["failed"] is True
    assert refused["msg"] == filter_refusal(lambda: haproxy_config(PLAN, servers=[]))
    assert checked["content"] == json.loads(json.dumps(caddy_config(**CADDY)))
