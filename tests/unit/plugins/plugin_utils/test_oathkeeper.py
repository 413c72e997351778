# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The oathkeeper role's variables as config.yml: valid against upstream's schema (formats checked), the
cache sizes always the plan's, the listeners besides the proxy on loopback unless opted out, and no
variable that emits a key or value Oathkeeper does not accept.

The schema comparisons are marked needs_schema (they skip, saying why, without ../shared/schemas);
every other assertion is in a test of its own that always runs."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._oathkeeper import (
    OathkeeperConfigError,
    build_config,
    check_environment,
    exposed,
    introspection_max_cost,
    sizes,
)
from ansible_collections.smallvps.hardening.tests.unit.plugins.plugin_utils.product_service import (
    CONTEXT,
    MIB,
    service,
)
from ansible_collections.smallvps.hardening.tests.unit.upstream_schemas import errors, needs_schema

SCHEMA = "oathkeeper/config.schema.json"
INTROSPECTION = {"introspection_url": "http://127.0.0.1:4445/admin/oauth2/introspect", "required_scope": ["read"]}
VARIABLE_SETS = {
    "defaults (noop, allow, noop)": {},
    "introspection, cache on": {
        "authenticators": {
            "oauth2_introspection": {
                **INTROSPECTION,
                "target_audience": ["api", "https://api.example/"],
                "trusted_issuers": ["https://auth.example/"],
                "cache": {"enabled": True, "ttl": "30s"},
            }
        },
        "introspection_max_cost": 6355,
    },
    "introspection, cache off": {
        "authenticators": {"oauth2_introspection": {**INTROSPECTION, "cache": {"enabled": False}}},
        "introspection_max_cost": 1000,
    },
    "introspection, no cache given": {
        "authenticators": {"oauth2_introspection": INTROSPECTION},
        "introspection_max_cost": 1000,
    },
    "client credentials, remote_json, header": {
        "authenticators": {
            "oauth2_client_credentials": {"token_url": "https://auth.example/oauth2/token"},
            "anonymous": {},
        },
        "authorizers": {
            "remote_json": {"remote": "http://127.0.0.1:4466/check", "payload": '{"subject":"{{ print .Subject }}"}'}
        },
        "mutators": {"header": {"headers": {"X-User": "{{ print .Subject }}"}}},
        "introspection_max_cost": 2000,
        "proxy_timeouts": {"read": "10s", "write": "60s", "idle": "90s"},
        "log_level": "warn",
    },
    "disabled handlers beside enabled ones": {
        "authenticators": {"noop": {}, "oauth2_introspection": {**INTROSPECTION, "enabled": False}},
        "authorizers": {"allow": {}, "remote_json": {"enabled": False, "remote": "http://127.0.0.1:4466/check"}},
        "mutators": {"noop": {}, "header": {"enabled": False}},
    },
    "exposed API and Prometheus, other ports": {
        "api_host": "0.0.0.0",
        "api_expose": True,
        "api_port": 14456,
        "prometheus_host": "",
        "prometheus_expose": True,
        "prometheus_port": 19000,
    },
}


@needs_schema(SCHEMA)
@pytest.mark.parametrize("changes", VARIABLE_SETS.values(), ids=VARIABLE_SETS.keys())
def test_rendered_configs_are_valid_oathkeeper(changes):
    assert errors(SCHEMA, build_config(**changes)) == []


def test_the_listeners_besides_the_proxy_default_to_loopback():
    serve = build_config()["serve"]
    assert serve["api"] == {"host": "127.0.0.1", "port": 4456}
    assert serve["prometheus"] == {"host": "127.0.0.1", "port": 9000}
    assert "host" not in serve["proxy"] and serve["proxy"]["port"] == 4455
    assert exposed(build_config()) == []


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "localhost"])
def test_every_loopback_host_is_accepted_without_opting_in(host):
    serve = build_config(api_host=host, prometheus_host=host)["serve"]
    assert (serve["api"]["host"], serve["prometheus"]["host"]) == (host, host)


@pytest.mark.parametrize("what", ["api", "prometheus"])
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "203.0.113.7", "auth.example.net"])
def test_a_host_beyond_loopback_needs_its_opt_in_and_then_warns(what, host):
    with pytest.raises(OathkeeperConfigError) as refused:
        build_config(**{f"{what}_host": host})
    message = str(refused.value)
    assert message.startswith(f"oathkeeper_{what}_host: {host!r} is ")
    assert f"set oathkeeper_{what}_expose: true to listen there" in message
    config = build_config(**{f"{what}_host": host, f"{what}_expose": True})
    assert config["serve"][what]["host"] == host
    warnings = exposed(config)
    assert len(warnings) == 1 and f"(oathkeeper_{what}_expose: true)" in warnings[0], warnings


def test_the_refusal_of_an_exposed_host_reads_well():
    with pytest.raises(OathkeeperConfigError) as refused:
        build_config(prometheus_host="")
    assert str(refused.value) == (
        "oathkeeper_prometheus_host: '' is every interface (an empty host): the Prometheus endpoint (request metrics; "
        "no authentication) would be reachable from other hosts. Keep it on loopback (127.0.0.1, ::1, localhost), or "
        "set oathkeeper_prometheus_expose: true to listen there"
    )


def test_caches_are_off_unless_enabled_and_max_cost_is_always_the_plans():
    config = build_config(**VARIABLE_SETS["introspection, no cache given"])
    assert config["authenticators"]["oauth2_introspection"]["config"]["cache"] == {
        "enabled": False,
        "ttl": "60s",
        "max_cost": 1000,
    }
    config = build_config(**VARIABLE_SETS["introspection, cache off"])
    assert config["authenticators"]["oauth2_introspection"]["config"]["cache"] == {
        "enabled": False,
        "ttl": "60s",
        "max_cost": 1000,
    }
    config = build_config(**VARIABLE_SETS["introspection, cache on"])
    assert config["authenticators"]["oauth2_introspection"]["config"]["cache"] == {
        "enabled": True,
        "ttl": "30s",
        "max_cost": 6355,
    }
    tokens = build_config(**VARIABLE_SETS["client credentials, remote_json, header"])
    assert tokens["authenticators"]["oauth2_client_credentials"]["config"]["cache"] == {
        "enabled": False,
        "ttl": "60s",
        "max_tokens": 2000,
    }


def test_target_audience_is_a_list_as_upstream_requires():
    config = build_config(**VARIABLE_SETS["introspection, cache on"])
    assert config["authenticators"]["oauth2_introspection"]["config"]["target_audience"] == [
        "api",
        "https://api.example/",
    ]


def test_a_disabled_handler_is_checked_but_written_without_config():
    config = build_config(**VARIABLE_SETS["disabled handlers beside enabled ones"])
    assert config["authenticators"] == {"noop": {"enabled": True}, "oauth2_introspection": {"enabled": False}}
    assert config["authorizers"] == {"allow": {"enabled": True}, "remote_json": {"enabled": False}}
    assert config["mutators"] == {"noop": {"enabled": True}, "header": {"enabled": False}}
    # Disabled, its fields are still checked: switching it on later must not surface an old mistake.
    with pytest.raises(OathkeeperConfigError) as refused:
        build_config(authenticators={"noop": {}, "oauth2_introspection": {"enabled": False, "introspection_url": "x"}})
    assert str(refused.value).startswith(
        "oathkeeper_authenticators.oauth2_introspection key 'introspection_url': 'x' is not an http(s) URL"
    )


@needs_schema(SCHEMA)
def test_the_schema_does_not_look_at_a_disabled_handlers_config():
    """Why a disabled handler's config is not written: upstream's schema would let anything through there."""
    config = build_config(**VARIABLE_SETS["disabled handlers beside enabled ones"])
    config["authenticators"]["oauth2_introspection"]["config"] = {"introspection_url": 5, "no_such_key": True}
    assert errors(SCHEMA, config) == []


@needs_schema(SCHEMA)
@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("serve", "proxy", "max_idle_conns"), 100),
        (("serve", "proxy", "idle_conn_timeout"), "90s"),
        (("serve", "proxy", "disable_keep_alives"), True),
        (("cache",), {"max_cost": 1000}),
        (("authenticators", "oauth2_introspection", "config", "cache", "cleanup_interval"), "1m"),
        (("authenticators", "oauth2_introspection", "config", "target_audience"), "api"),
        (("authenticators", "oauth2_introspection", "config", "introspection_url"), "http://auth example/introspect"),
    ],
    ids=[
        "max_idle_conns",
        "idle_conn_timeout",
        "disable_keep_alives",
        "top-level cache",
        "cleanup_interval",
        "target_audience as a string",
        "introspection_url with a space",
    ],
)
def test_what_the_role_refuses_fails_the_schema(where, value):
    config = copy.deepcopy(build_config(**VARIABLE_SETS["introspection, cache on"]))
    node = config
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    assert errors(SCHEMA, config), where


REFUSALS = {
    "max_idle_conns": (
        {"proxy_timeouts": {"max_idle_conns": "100"}},
        "oathkeeper_proxy_timeouts key 'max_idle_conns': unknown key",
    ),
    "max_cost of the user's": (
        {
            "authenticators": {"oauth2_introspection": {**INTROSPECTION, "cache": {"max_cost": 100}}},
            "introspection_max_cost": 1000,
        },
        "oathkeeper_authenticators.oauth2_introspection key 'cache' key 'max_cost': refused; the memory plan sets it",
    ),
    "max_cost 0 of the user's": (
        {
            "authenticators": {"oauth2_introspection": {**INTROSPECTION, "cache": {"max_cost": 0}}},
            "introspection_max_cost": 1000,
        },
        "oathkeeper_authenticators.oauth2_introspection key 'cache' key 'max_cost': refused; the memory plan sets it",
    ),
    "cleanup_interval": (
        {
            "authenticators": {"oauth2_introspection": {**INTROSPECTION, "cache": {"cleanup_interval": "1m"}}},
            "introspection_max_cost": 1000,
        },
        "oathkeeper_authenticators.oauth2_introspection key 'cache' key 'cleanup_interval': refused; "
        "Oathkeeper has no such key",
    ),
    "no plan size": (
        {"authenticators": {"oauth2_introspection": INTROSPECTION}},
        "smallvps_services: the oathkeeper entry has no introspection_cache: true",
    ),
    "plan size 0": (
        {"authenticators": {"oauth2_introspection": INTROSPECTION}, "introspection_max_cost": 0},
        "smallvps_services: the plan's introspection_max_cost 0 is not an integer > 0",
    ),
    "no introspection_url": (
        {"authenticators": {"oauth2_introspection": {}}, "introspection_max_cost": 1000},
        "oathkeeper_authenticators.oauth2_introspection key 'introspection_url': required",
    ),
    "unknown handler": (
        {"authenticators": {"jwt": {}}},
        "oathkeeper_authenticators.jwt: not a handler this role configures",
    ),
    "remote_json cache": (
        {"authorizers": {"remote_json": {"remote": "http://x/", "payload": "{}", "cache": {}}}},
        "oathkeeper_authorizers.remote_json key 'cache': refused",
    ),
    "1m30s": ({"proxy_timeouts": {"read": "1m30s"}}, "oathkeeper_proxy_timeouts key 'read': '1m30s' is not a duration"),
    "a timeout past Go's durations": (
        {"proxy_timeouts": {"write": "9999999999h"}},
        "oathkeeper_proxy_timeouts key 'write': '9999999999h' is longer than the longest duration Go reads",
    ),
    "a cache ttl past Go's durations": (
        {
            "authenticators": {"oauth2_introspection": {**INTROSPECTION, "cache": {"ttl": "2562048h"}}},
            "introspection_max_cost": 1,
        },
        "oathkeeper_authenticators.oauth2_introspection key 'cache' key 'ttl': '2562048h' is longer than the longest",
    ),
    "port 0": ({"proxy_port": 0}, "oathkeeper_proxy_port: 0 is not a port"),
    "prometheus port 65536": ({"prometheus_port": 65536}, "oathkeeper_prometheus_port: 65536 is not a port"),
    "INFO": ({"log_level": "INFO"}, "oathkeeper_log_level: 'INFO' is not a level"),
    "no authenticator": (
        {"authenticators": {}},
        "oathkeeper_authenticators: no handler; expected at least one enabled "
        "handler, such as {noop: {}} (every rule needs one)",
    ),
    "no authorizer": (
        {"authorizers": {}},
        "oathkeeper_authorizers: no handler; expected at least one enabled handler, such as {allow: {}}",
    ),
    "no mutator": ({"mutators": {}}, "oathkeeper_mutators: no handler; expected at least one enabled handler"),
    "every mutator disabled": (
        {"mutators": {"noop": {"enabled": False}}},
        "oathkeeper_mutators: every handler is disabled; expected at least one enabled handler",
    ),
    "authenticators not a mapping": ({"authenticators": ["noop"]}, "oathkeeper_authenticators: ['noop'] is "),
    "introspection_url with a newline": (
        {
            "authenticators": {"oauth2_introspection": {"introspection_url": "http://127.0.0.1:4445/introspect\n"}},
            "introspection_max_cost": 1000,
        },
        "oathkeeper_authenticators.oauth2_introspection key 'introspection_url': 'http://127.0.0.1:4445/introspect\\n' "
        "is not an http(s) URL on one line, without spaces",
    ),
    "remote with a space": (
        {"authorizers": {"remote_json": {"remote": "http://127.0.0.1:4466/a b", "payload": "{}"}}},
        "oathkeeper_authorizers.remote_json key 'remote': 'http://127.0.0.1:4466/a b' is not an http(s) URL",
    ),
    "token_url without a host": (
        {
            "authenticators": {"oauth2_client_credentials": {"token_url": "https:///token"}},
            "introspection_max_cost": 1000,
        },
        "oathkeeper_authenticators.oauth2_client_credentials key 'token_url': 'https:///token' is not an http(s) URL",
    ),
    "target_audience as a string": (
        {
            "authenticators": {"oauth2_introspection": {**INTROSPECTION, "target_audience": "api"}},
            "introspection_max_cost": 1,
        },
        "oathkeeper_authenticators.oauth2_introspection key 'target_audience': 'api' is not a list of strings",
    ),
    "cache on as a string": (
        {
            "authenticators": {"oauth2_introspection": {**INTROSPECTION, "cache": {"enabled": "yes"}}},
            "introspection_max_cost": 1,
        },
        "oathkeeper_authenticators.oauth2_introspection key 'cache' key 'enabled': 'yes' is not a boolean",
    ),
    "api port is the proxy's": (
        {"api_port": 4455},
        "oathkeeper_api_port: 4455 is also oathkeeper_proxy_port; "
        "Oathkeeper cannot bind one port for two listeners: expected different ports",
    ),
    "prometheus port is the proxy's": (
        {"prometheus_port": 4455},
        "oathkeeper_prometheus_port: 4455 is also oathkeeper_proxy_port",
    ),
    "prometheus port is the API's": (
        {"prometheus_port": 4456},
        "oathkeeper_prometheus_port: 4456 is also oathkeeper_api_port",
    ),
    "api host with a newline": (
        {"api_host": "127.0.0.1\n", "api_expose": True},
        "oathkeeper_api_host: '127.0.0.1\\n' is not a host; expected an IP address or a host name",
    ),
    "api host bracketed": ({"api_host": "[::1]"}, "oathkeeper_api_host: '[::1]' is not a host"),
    "api host 0.0.0.0": (
        {"api_host": "0.0.0.0"},
        "oathkeeper_api_host: '0.0.0.0' is not a loopback address: "
        "the management API (the access rules, /decisions, health; no authentication) would be "
        "reachable from other hosts. Keep it on loopback (127.0.0.1, ::1, localhost), or set "
        "oathkeeper_api_expose: true to listen there",
    ),
    "expose as a string": (
        {"prometheus_host": "0.0.0.0", "prometheus_expose": "yes"},
        "oathkeeper_prometheus_expose: 'yes' is not a boolean; expected true or false",
    ),
}


@pytest.mark.parametrize(("changes", "starts"), REFUSALS.values(), ids=REFUSALS.keys())
def test_refusals_name_the_variable(changes, starts):
    with pytest.raises(OathkeeperConfigError) as refused:
        build_config(**changes)
    assert str(refused.value).startswith(starts)
    # What was expected, in the user's words: never a Python type name (_AnsibleLazyTemplateDict, list, str).
    assert "(list)" not in str(refused.value) and "(str)" not in str(refused.value)


def test_the_longest_duration_go_reads_is_accepted():
    config = build_config(proxy_timeouts={"read": "2562047h", "write": "9223372036854775807ns", "idle": "120s"})
    assert config["serve"]["proxy"]["timeout"]["read"] == "2562047h"


def test_telemetry_is_the_roles_to_set():
    check_environment({"TZ": "UTC"}, False)
    check_environment({}, True)
    with pytest.raises(OathkeeperConfigError) as refused:
        check_environment({"SQA_OPT_OUT": "false"}, False)
    assert str(refused.value) == (
        "oathkeeper_environment key 'SQA_OPT_OUT': refused; the role sets it from "
        "oathkeeper_telemetry_enabled (false, the default, sets SQA_OPT_OUT=true)"
    )
    with pytest.raises(OathkeeperConfigError) as refused:
        check_environment({}, "no")
    assert str(refused.value) == "oathkeeper_telemetry_enabled: 'no' is not a boolean; expected true or false"


class _AnsibleLazyTemplateDict(dict):
    """Named as ansible-core 2.19's own: its class name must never reach a refusal."""


class _AnsibleLazyTemplateList(list):
    """Named as ansible-core 2.19's own: its class name must never reach a refusal."""


LAZY_CASES = {
    "oathkeeper_authenticators: ['noop'] is a list, not a mapping": {
        "authenticators": _AnsibleLazyTemplateList(["noop"])
    },
    "oathkeeper_authenticators.noop: ['x'] is a list, not a mapping": {
        "authenticators": _AnsibleLazyTemplateDict(noop=_AnsibleLazyTemplateList(["x"]))
    },
    "oathkeeper_proxy_timeouts: ['5s'] is a list, not a mapping": {"proxy_timeouts": _AnsibleLazyTemplateList(["5s"])},
    "oathkeeper_authenticators.oauth2_introspection key 'cache': [] is a list, not a mapping": {
        "authenticators": {"oauth2_introspection": {**INTROSPECTION, "cache": _AnsibleLazyTemplateList()}},
        "introspection_max_cost": 1,
    },
    "oathkeeper_api_host: {'a': 1} is not a host": {"api_host": _AnsibleLazyTemplateDict(a=1)},
}


@pytest.mark.parametrize(("starts", "changes"), LAZY_CASES.items(), ids=list(LAZY_CASES))
def test_ansibles_lazy_type_names_never_reach_a_refusal(starts, changes):
    with pytest.raises(OathkeeperConfigError) as refused:
        build_config(**changes)
    message = str(refused.value)
    assert message.startswith(starts), message
    assert "_Ansible" not in message and "Lazy" not in message, message


# The planner's side: the introspection cache the budget holds (was test_memory_extras.py).
@pytest.mark.parametrize(
    ("budget_bytes", "expected"),
    [
        (128 * MIB, 6355),  # 13421772.8 / 2112 = 6355.0...
        (115 * MIB, 5709),  # 12058624 / 2112 = 5709.6
        (8 * MIB, 1000),  # 397 entries: the floor of 1000 wins
        (21120000, 1000),  # exactly 1000 entries
        (1024 * MIB, 50840),  # 107374182.4 / 2112 = 50840.0...
    ],
)
def test_introspection_max_cost(budget_bytes, expected):
    assert introspection_max_cost(budget_bytes) == expected


def test_the_cache_size_only_for_an_entry_that_asks():
    assert sizes(service(runtime="go"), 128, CONTEXT) == {}
    assert sizes(service(runtime="go", introspection_cache=True), 128, CONTEXT) == {"introspection_max_cost": 6355}
