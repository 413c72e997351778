# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The traefik role's variables as Traefik v3 configs: valid against upstream's schemas, and the refusals."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.smallvps.hardening.plugins.module_utils.traefik_config import TraefikConfigError, build_config
from ansible_collections.smallvps.hardening.tests.unit.upstream_schemas import errors

STATIC, DYNAMIC = "traefik/traefik-v3.json", "traefik/traefik-v3-file-provider.json"
GOOD = {
    "address": ":80", "upstreams": ["http://127.0.0.1:8000"],
    "responding_timeouts": {"readTimeout": "60s", "writeTimeout": "60s", "idleTimeout": "90s"},
    "forwarding_timeouts": {"dialTimeout": "5s", "responseHeaderTimeout": "60s", "idleConnTimeout": "30s"},
    "max_header_bytes": 32768, "max_idle_conns_per_host": 8,
}
VARIABLE_SETS = {
    "defaults": {},
    "no compression, two upstreams, watch on": {"compress": False, "upstreams": ["http://127.0.0.1:8000", "http://[::1]:8001"],
                                                "file_watch": True},
    "every encoding, few timeouts": {"encodings": ["gzip", "zstd", "br"], "responding_timeouts": {"idleTimeout": "30s"},
                                     "forwarding_timeouts": {}},
    "loopback entry point, debug log": {"address": "127.0.0.1:8081", "log_level": "DEBUG", "rule": "Host(`app.example`)"},
}


@pytest.mark.parametrize("changes", VARIABLE_SETS.values(), ids=VARIABLE_SETS.keys())
def test_rendered_configs_are_valid_traefik_v3(changes):
    config = build_config(**{**GOOD, **changes})
    assert errors(STATIC, config["static"]) == []
    assert errors(DYNAMIC, config["dynamic"]) == []


def test_memory_bounds_are_where_traefik_reads_them():
    config = build_config(**GOOD)
    static, http = config["static"], config["dynamic"]["http"]
    assert static["providers"]["file"]["watch"] is False
    assert static["serversTransport"]["maxIdleConnsPerHost"] == 8
    assert static["serversTransport"]["forwardingTimeouts"]["idleConnTimeout"] == "30s"
    assert static["entryPoints"]["web"]["http"]["maxHeaderBytes"] == 32768
    assert static["entryPoints"]["web"]["transport"]["respondingTimeouts"]["writeTimeout"] == "60s"
    assert http["middlewares"]["compress"]["compress"]["encodings"] == ["gzip"]
    assert http["routers"]["app"]["middlewares"] == ["compress"]


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("static", "entryPoints", "web", "transport", "respondingTimeout"), "60s"),  # misspelt
        (("static", "serversTransport", "maxIdleConns"), 8),
        (("static", "providers", "file", "watcher"), False),
        (("static", "experimentl"), {}),  # the top level too
        (("dynamic", "http", "middlewares", "compress", "compress", "level"), 5),
    ],
    ids=["respondingTimeout", "maxIdleConns", "watcher", "top-level", "compress level"],
)
def test_an_unknown_key_fails_the_schema(where, value):
    config = copy.deepcopy(build_config(**GOOD))
    node = config
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    found = errors(STATIC if where[0] == "static" else DYNAMIC, config[where[0]])
    assert found and any(where[-1] in error for error in found), found


@pytest.mark.parametrize(
    ("changes", "starts"),
    [
        ({"encodings": ["deflate"]}, "traefik_compress_encodings[0]: 'deflate' is not an encoding Traefik has"),
        ({"encodings": []}, "traefik_compress_encodings: [] is not a non-empty list"),
        ({"encodings": ["gzip", "gzip"]}, "traefik_compress_encodings: ['gzip', 'gzip'] lists an encoding twice"),
        ({"max_idle_conns_per_host": 500}, "traefik_max_idle_conns_per_host: 500 is not an integer 1..200"),
        ({"max_idle_conns_per_host": 0}, "traefik_max_idle_conns_per_host: 0 is not an integer 1..200"),
        ({"max_header_bytes": "32k"}, "traefik_max_header_bytes: '32k' is not an integer 4096..1048576"),
        ({"responding_timeouts": {"readTimeout": 60}}, "traefik_responding_timeouts key 'readTimeout': 60 is not a Go duration"),
        ({"responding_timeouts": {"read": "60s"}}, "traefik_responding_timeouts key 'read': unknown key"),
        ({"forwarding_timeouts": {"idleConnTimeout": "1 min"}}, "traefik_forwarding_timeouts key 'idleConnTimeout': '1 min'"),
        ({"upstreams": ["127.0.0.1:8000"]}, "traefik_upstreams[0]: '127.0.0.1:8000' is not an upstream"),
        ({"upstreams": []}, "traefik_upstreams: [] is not a non-empty list"),
        ({"address": "80"}, "traefik_address: '80' is not an entry point address"),
        ({"file_watch": "no"}, "traefik_file_watch: 'no' is not a boolean"),
        ({"log_level": "info"}, "traefik_log_level: 'info' is not a level"),
    ],
)
def test_refusals_name_the_variable(changes, starts):
    with pytest.raises(TraefikConfigError) as refused:
        build_config(**{**GOOD, **changes})
    assert str(refused.value).startswith(starts)
