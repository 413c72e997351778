# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The oathkeeper role's variables as config.yml: valid against upstream's schema, the cache sizes
always the plan's, and no variable that emits a key Oathkeeper does not have."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.smallvps.hardening.plugins.module_utils.oathkeeper_config import OathkeeperConfigError, build_config
from ansible_collections.smallvps.hardening.tests.unit.upstream_schemas import errors

SCHEMA = "oathkeeper/config.schema.json"
INTROSPECTION = {"introspection_url": "http://127.0.0.1:4445/admin/oauth2/introspect", "required_scope": ["read"]}
VARIABLE_SETS = {
    "defaults (noop, allow, noop)": {},
    "introspection, cache on": {"authenticators": {"oauth2_introspection": {**INTROSPECTION, "cache": {"ttl": "30s"}}},
                                "introspection_max_cost": 6355},
    "introspection, cache off": {"authenticators": {"oauth2_introspection": {**INTROSPECTION, "cache": {"enabled": False}}},
                                 "introspection_max_cost": 1000},
    "client credentials, remote_json, header": {
        "authenticators": {"oauth2_client_credentials": {"token_url": "https://auth.example/oauth2/token"}, "anonymous": {}},
        "authorizers": {"remote_json": {"remote": "http://127.0.0.1:4466/check", "payload": '{"subject":"{{ print .Subject }}"}'}},
        "mutators": {"header": {"headers": {"X-User": "{{ print .Subject }}"}}},
        "introspection_max_cost": 2000, "proxy_timeouts": {"read": "10s", "write": "60s", "idle": "90s"}, "log_level": "warn",
    },
}


@pytest.mark.parametrize("changes", VARIABLE_SETS.values(), ids=VARIABLE_SETS.keys())
def test_rendered_configs_are_valid_oathkeeper(changes):
    assert errors(SCHEMA, build_config(**changes)) == []


def test_max_cost_is_always_the_plans_even_with_the_cache_off():
    config = build_config(**VARIABLE_SETS["introspection, cache off"])
    cache = config["authenticators"]["oauth2_introspection"]["config"]["cache"]
    assert cache == {"enabled": False, "ttl": "60s", "max_cost": 1000}
    tokens = build_config(**VARIABLE_SETS["client credentials, remote_json, header"])
    assert tokens["authenticators"]["oauth2_client_credentials"]["config"]["cache"]["max_tokens"] == 2000


@pytest.mark.parametrize(
    ("where", "value"),
    [(("serve", "proxy", "max_idle_conns"), 100), (("serve", "proxy", "idle_conn_timeout"), "90s"),
     (("serve", "proxy", "disable_keep_alives"), True), (("cache",), {"max_cost": 1000}),
     (("authenticators", "oauth2_introspection", "config", "cache", "cleanup_interval"), "1m")],
    ids=["max_idle_conns", "idle_conn_timeout", "disable_keep_alives", "top-level cache", "cleanup_interval"],
)
def test_popular_keys_that_do_not_exist_fail_the_schema(where, value):
    config = copy.deepcopy(build_config(**VARIABLE_SETS["introspection, cache on"]))
    node = config
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    assert errors(SCHEMA, config), where


@pytest.mark.parametrize(
    ("changes", "starts"),
    [
        ({"proxy_timeouts": {"max_idle_conns": "100"}}, "oathkeeper_proxy_timeouts key 'max_idle_conns': unknown key"),
        ({"authenticators": {"oauth2_introspection": {**INTROSPECTION, "cache": {"max_cost": 100}}}, "introspection_max_cost": 1000},
         "oathkeeper_authenticators.oauth2_introspection key 'cache' key 'max_cost': refused; the memory plan sets it"),
        ({"authenticators": {"oauth2_introspection": {**INTROSPECTION, "cache": {"cleanup_interval": "1m"}}},
          "introspection_max_cost": 1000}, "oathkeeper_authenticators.oauth2_introspection key 'cache' key 'cleanup_interval': "
         "refused; Oathkeeper has no such key"),
        ({"authenticators": {"oauth2_introspection": INTROSPECTION}},
         "smallvps_services: the oathkeeper entry has no introspection_cache: true"),
        ({"authenticators": {"oauth2_introspection": INTROSPECTION}, "introspection_max_cost": 0},
         "smallvps_services: the plan's introspection_max_cost 0 is not an integer > 0"),
        ({"authenticators": {"oauth2_introspection": {}}, "introspection_max_cost": 1000},
         "oathkeeper_authenticators.oauth2_introspection key 'introspection_url': required"),
        ({"authenticators": {"jwt": {}}}, "oathkeeper_authenticators.jwt: not a handler this role configures"),
        ({"authorizers": {"remote_json": {"remote": "http://x/", "payload": "{}", "cache": {}}}},
         "oathkeeper_authorizers.remote_json key 'cache': refused"),
        ({"proxy_timeouts": {"read": "1m30s"}}, "oathkeeper_proxy_timeouts key 'read': '1m30s' is not a duration"),
        ({"proxy_port": 0}, "oathkeeper_proxy_port: 0 is not a port"),
        ({"log_level": "INFO"}, "oathkeeper_log_level: 'INFO' is not a level"),
    ],
)
def test_refusals_name_the_variable(changes, starts):
    with pytest.raises(OathkeeperConfigError) as refused:
        build_config(**changes)
    assert str(refused.value).startswith(starts)


def test_rules_name_only_configured_handlers():
    from ansible_collections.smallvps.hardening.plugins.module_utils.oathkeeper_config import build_rules

    config = build_config()
    rules = build_rules([{"id": "app", "url": "http://<.*>/<.*>", "upstream": "http://127.0.0.1:8000"}],
                        config["authenticators"], config["authorizers"], config["mutators"])
    assert rules == [{"id": "app", "upstream": {"url": "http://127.0.0.1:8000"},
                      "match": {"url": "http://<.*>/<.*>", "methods": ["GET", "HEAD"]},
                      "authenticators": [{"handler": "noop"}], "authorizer": {"handler": "allow"},
                      "mutators": [{"handler": "noop"}]}]
    with pytest.raises(OathkeeperConfigError) as refused:
        build_rules([{"id": "app", "url": "http://<.*>/<.*>", "upstream": "http://127.0.0.1:8000", "authorizer": "deny"}],
                    config["authenticators"], config["authorizers"], config["mutators"])
    assert str(refused.value).startswith("oathkeeper_access_rules[0] key 'authorizer': 'deny'; expected one of the configured")
    with pytest.raises(OathkeeperConfigError) as refused:
        build_rules([{"id": "a", "url": "x", "upstream": "http://127.0.0.1:8000"}], config["authenticators"],
                    config["authorizers"], config["mutators"])
    assert str(refused.value).startswith("oathkeeper_access_rules[0] key 'url': 'x' is not an http(s) URL")
