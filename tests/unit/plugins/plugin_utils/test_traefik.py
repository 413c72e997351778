# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The traefik role's variables as Traefik v3 configs: valid against upstream's schemas, the refusals, and the table of
the first Traefik release that reads each key."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.smallvps.hardening.plugins.plugin_utils._traefik import (
    KEY_VERSIONS,
    RECOMMENDED_VERSION,
    TraefikConfigError,
    build_config,
    key_paths,
    version_tuple,
)
from ansible_collections.smallvps.hardening.tests.unit.upstream_schemas import errors, needs_schema

ROOT = Path(__file__).resolve().parents[4]

STATIC, DYNAMIC = "traefik/traefik-v3.json", "traefik/traefik-v3-file-provider.json"
GOOD = {
    "address": ":80",
    "upstreams": ["http://127.0.0.1:8000"],
    "responding_timeouts": {"readTimeout": "60s", "writeTimeout": "60s", "idleTimeout": "90s"},
    "forwarding_timeouts": {"dialTimeout": "5s", "responseHeaderTimeout": "60s", "idleConnTimeout": "30s"},
    "max_header_bytes": 32768,
    "max_idle_conns_per_host": 8,
    "version": "3.3.5",
}
VARIABLE_SETS = {
    "defaults": {},
    "no compression, two upstreams, watch on": {
        "compress": False,
        "upstreams": ["http://127.0.0.1:8000", "http://[::1]:8001"],
        "file_watch": True,
    },
    "every encoding, few timeouts": {
        "encodings": ["gzip", "zstd", "br"],
        "responding_timeouts": {"idleTimeout": "30s"},
        "forwarding_timeouts": {},
    },
    "loopback entry point, debug log": {
        "address": "127.0.0.1:8081",
        "log_level": "DEBUG",
        "rule": "Host(`app.example`)",
    },
    "update check on": {"check_new_version": True},
    "no timeouts at all, oldest version": {"responding_timeouts": {}, "forwarding_timeouts": {}, "version": "3.2.0"},
    "longest durations, highest ports": {
        "responding_timeouts": {"readTimeout": "2562047h47m16s854775807ns"},
        "forwarding_timeouts": {"dialTimeout": "2562047h"},
        "address": ":65535",
        "upstreams": ["http://127.0.0.1:65535"],
    },
}


@pytest.mark.parametrize("changes", VARIABLE_SETS.values(), ids=VARIABLE_SETS.keys())
def test_every_variable_set_renders_for_traefik_3_2_and_later(changes):
    config = build_config(**{**GOOD, **changes})
    assert config["required_version"] == "3.2.0"
    assert config["recommended_version"] == RECOMMENDED_VERSION
    assert set(config) == {"static", "dynamic", "required_version", "recommended_version"}


@needs_schema(STATIC, DYNAMIC)
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
@needs_schema(STATIC, DYNAMIC)
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
        (
            {"responding_timeouts": {"readTimeout": 60}},
            "traefik_responding_timeouts key 'readTimeout': 60 is not a Go duration",
        ),
        ({"responding_timeouts": {"read": "60s"}}, "traefik_responding_timeouts key 'read': unknown key"),
        (
            {"forwarding_timeouts": {"idleConnTimeout": "1 min"}},
            "traefik_forwarding_timeouts key 'idleConnTimeout': '1 min'",
        ),
        ({"upstreams": ["127.0.0.1:8000"]}, "traefik_upstreams[0]: '127.0.0.1:8000' is not an upstream"),
        ({"upstreams": []}, "traefik_upstreams: [] is not a non-empty list"),
        ({"address": "80"}, "traefik_address: '80' is not an entry point address"),
        ({"file_watch": "no"}, "traefik_file_watch: 'no' is not a boolean"),
        ({"log_level": "info"}, "traefik_log_level: 'info' is not a level"),
        # past what Traefik parses
        *[
            (
                {variable: {key: "9999999999h"}},
                f"traefik_{variable} key '{key}': '9999999999h' is longer than the longest "
                "duration Go reads, 2562047h47m16.854775807s",
            )
            for variable, key in (
                ("responding_timeouts", "readTimeout"),
                ("responding_timeouts", "idleTimeout"),
                ("forwarding_timeouts", "dialTimeout"),
                ("forwarding_timeouts", "responseHeaderTimeout"),
                ("forwarding_timeouts", "idleConnTimeout"),
            )
        ],
        (
            {"forwarding_timeouts": {"dialTimeout": "2562047h47m16s854775808ns"}},
            "traefik_forwarding_timeouts key 'dialTimeout'",
        ),
        *[
            (
                {"address": address},
                f"traefik_address: {address!r} has port {int(address.rsplit(':', 1)[1])}, outside 1..65535",
            )
            for address in (":99999", ":65536", ":0", "127.0.0.1:70000", "[::1]:99999")
        ],
        *[
            (
                {"upstreams": ["http://127.0.0.1:8000", url]},
                f"traefik_upstreams[1]: {url!r} has port {port}, outside 1..65535",
            )
            for url, port in (("http://127.0.0.1:99999", 99999), ("http://[::1]:65536/", 65536), ("https://app:0", 0))
        ],
        # the version the keys need
        *[
            (
                {"version": version},
                f"traefik_binary.version: {version!r} is not a release version; expected major.minor.patch",
            )
            for version in ("", "3.2", "v3.3.5", "3.3.5-rc1", None, 3.3)
        ],
        ({"version": "3.1.4"}, "traefik_binary.version: '3.1.4' is older than 3.2.0, the first Traefik that reads"),
        ({"version": "2.11.0", "compress": False}, "traefik_binary.version: '2.11.0' is older than 3.2.0"),
    ],
)
def test_refusals_name_the_variable(changes, starts):
    with pytest.raises(TraefikConfigError) as refused:
        build_config(**{**GOOD, **changes})
    assert str(refused.value).startswith(starts)


def test_a_traefik_older_than_the_keys_is_refused_naming_the_keys():
    with pytest.raises(TraefikConfigError) as refused:
        build_config(**{**GOOD, "version": "3.1.4"})
    assert str(refused.value) == (
        "traefik_binary.version: '3.1.4' is older than 3.2.0, the first Traefik that reads "
        "entryPoints.*.http.maxHeaderBytes and http.middlewares.*.compress.encodings, which this configuration sets "
        "(Traefik exits at start on a key it "
        "does not know); expected 3.2.0 or later, 3.3.5 or later recommended"
    )
    # Without compression maxHeaderBytes alone still needs 3.2.0: the gate is not only about compression.
    with pytest.raises(
        TraefikConfigError,
        match=r"^traefik_binary.version: '3.1.4' is older than 3.2.0, the first Traefik "
        r"that reads entryPoints\.\*\.http\.maxHeaderBytes, which",
    ):
        build_config(**{**GOOD, "version": "3.1.4", "compress": False})


@pytest.mark.parametrize("version", ["3.2.0", "3.3.4", "3.10.0", "4.0.0"])
def test_a_traefik_that_reads_every_key_is_accepted(version):
    assert build_config(**{**GOOD, "version": version})["required_version"] == "3.2.0"


def _emitted() -> dict:
    paths = {"static": set(), "dynamic": set()}
    for changes in VARIABLE_SETS.values():
        config = build_config(**{**GOOD, **changes})
        for file in paths:
            paths[file] |= set(key_paths(config[file], file))
    return paths


def test_every_emitted_key_has_a_row_and_every_row_is_emitted():
    emitted = _emitted()
    for file, table in KEY_VERSIONS.items():
        assert emitted[file] - set(table) == set(), f"{file} keys without a first version"
        assert set(table) - emitted[file] == set(), f"{file} rows no variable set emits"
    assert "entryPoints.*.http.maxHeaderBytes" in emitted["static"]
    assert KEY_VERSIONS["static"]["entryPoints.*.http.maxHeaderBytes"] == "3.2.0"
    assert KEY_VERSIONS["dynamic"]["http.middlewares.*.compress.encodings"] == "3.2.0"


def test_key_paths_name_what_the_user_names_with_a_star():
    config = build_config(**{**GOOD, "address": ":8080"})
    assert "entryPoints.*.address" in key_paths(config["static"], "static")
    assert "http.services.*.loadBalancer.servers[].url" in key_paths(config["dynamic"], "dynamic")


def test_the_roles_version_docs_say_what_the_table_says():
    newest = max((v for table in KEY_VERSIONS.values() for v in table.values()), key=version_tuple)
    specs = yaml.safe_load((ROOT / "roles/traefik/meta/argument_specs.yml").read_text())
    description = specs["argument_specs"]["main"]["options"]["traefik_version"]["description"]
    defaults = (ROOT / "roles/traefik/defaults/main.yml").read_text()
    for text in (description, defaults):
        assert f"At least {newest}" in text or f"at least {newest}" in text, text
        assert f"{RECOMMENDED_VERSION} or later recommended" in text, text
    # The role's tasks take both numbers from the product (the filter, or the render action), none of their own.
    tasks = (ROOT / "roles/traefik/tasks/validate.yml").read_text() + (
        ROOT / "roles/traefik/tasks/main.yml"
    ).read_text()
    assert re.search(r"version(=|: \"\{\{ )traefik_", tasks) and ".recommended_version" in tasks
    assert "3.2.0" not in tasks and RECOMMENDED_VERSION not in tasks


def test_the_update_check_is_off_unless_asked_and_usage_statistics_always_off():
    assert build_config(**GOOD)["static"]["global"] == {"checkNewVersion": False, "sendAnonymousUsage": False}
    asked = build_config(**GOOD, check_new_version=True)["static"]["global"]
    assert asked == {"checkNewVersion": True, "sendAnonymousUsage": False}
    with pytest.raises(TraefikConfigError, match=r"^traefik_check_new_version: 'yes' is not a boolean"):
        build_config(**GOOD, check_new_version="yes")
