# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""With its default variables, no role opens a listener beyond what docs/listeners.md says.

Each test reads the role's defaults/main.yml and renders what the role writes from them: the
config filters as the roles call them, and the role templates that carry a listener through
Ansible's own templating. A variable the user must set (the upstreams) gets a loopback value.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.smallvps.hardening.plugins.filter.caddy_config import caddy_config
from ansible_collections.smallvps.hardening.plugins.filter.haproxy_config import FilterModule as HaproxyFilters
from ansible_collections.smallvps.hardening.plugins.filter.traefik_config import traefik_config
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import MIB, build_plan

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = "127.0.0.1:8000"


def defaults(role: str) -> dict:
    return yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text(encoding="utf-8"))


def _trusted(value):
    # Role defaults are templates to Ansible (gunicorn_gevent_socket names gunicorn_gevent_service).
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: _trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    return value


def render_template(role: str, template: str, **extra) -> str:
    variables = {**defaults(role), "ansible_managed": "managed", **extra}
    source = (ROOT / "roles" / role / "templates" / template).read_text(encoding="utf-8")
    return Templar(loader=DataLoader(), variables=_trusted(variables)).template(trust_as_template(source))


def test_caddy_admin_endpoint_is_loopback_and_the_site_is_port_80():
    d = defaults("caddy")
    lines = caddy_config(
        d["caddy_site_address"],
        [UPSTREAM],
        d["caddy_timeouts"],
        d["caddy_max_header_size"],
        d["caddy_upstream_pool"],
        d["caddy_request_buffers"],
        d["caddy_response_buffers"],
        d["caddy_grace_period"],
        d["caddy_admin"],
    )["lines"]
    # The global options block: the admin endpoint (config API and /metrics) on loopback, and no other server.
    global_block = lines[: lines.index("}") + 1]
    assert [line for line in global_block if line.strip().startswith("admin")] == ["\tadmin localhost:2019"]
    # One site block, plain HTTP on every address, port 80: Caddy opens no :443 for it.
    assert [line for line in lines if line.endswith(" {") and not line.startswith("\t")] == [":80 {"]


def test_traefik_opens_only_its_web_entry_point():
    d = defaults("traefik")
    # traefik_version has no default (the user pins it); the filter gates keys on it where it takes one.
    version = {"version": "3.3.5"} if "version" in inspect.signature(traefik_config).parameters else {}
    version["check_new_version"] = d["traefik_check_new_version"]
    static = traefik_config(
        d["traefik_address"],
        [f"http://{UPSTREAM}"],
        d["traefik_responding_timeouts"],
        d["traefik_forwarding_timeouts"],
        d["traefik_max_header_bytes"],
        d["traefik_max_idle_conns_per_host"],
        d["traefik_compress"],
        d["traefik_compress_encodings"],
        d["traefik_file_watch"],
        "/etc/traefik/dynamic.yml",
        d["traefik_router_rule"],
        d["traefik_log_level"],
        **version,
    )["static"]
    # api (and its dashboard), metrics and ping each add a listener (the `traefik` entry point, :8080) when present.
    assert {"api", "metrics", "ping"} & set(static) == set()
    assert {name: point["address"] for name, point in static["entryPoints"].items()} == {"web": ":80"}
    # Nothing phones home: no daily update check, no usage statistics.
    assert static["global"] == {"checkNewVersion": False, "sendAnonymousUsage": False}


def test_haproxy_runtime_api_is_a_unix_socket_and_there_is_no_stats_page():
    d = defaults("haproxy")
    plan = build_plan({"effective_memory_bytes": 1024 * MIB, "cpus": 1}, [], units=["haproxy.service"])
    config = HaproxyFilters().filters()["haproxy_config"](
        plan,
        servers=[UPSTREAM],
        port=d["haproxy_port"],
        bind_address=d["haproxy_bind_address"],
        timeouts=d["haproxy_timeouts"],
        http2=d["haproxy_http2"],
        hard_stop_after=d["haproxy_hard_stop_after"],
    )
    every_line = [line for section in ("global", "defaults", "frontend", "backend") for line in config[section]]
    stats = [line for line in every_line if line.startswith("stats")]
    assert stats == [
        "stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners",
        "stats timeout 30s",
    ]
    assert [line for line in every_line if line.startswith("bind")] == ["bind *:80"]


def test_gunicorn_binds_only_unix_sockets_in_its_run_directory():
    conf = render_template("gunicorn_gevent", "gunicorn.conf.py.j2", gunicorn_gevent_plan={"workers": 2})
    settings = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(conf).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    assert settings["bind"] == ["unix:/run/app/gunicorn.sock"]
    # srw-rw----; the control socket keeps gunicorn's own mode, 0600, as no control_socket_mode is set
    assert settings["umask"] == 0o117 and "control_socket_mode" not in settings
    assert settings["control_socket"] == "/run/app/gunicorn.ctl"
    assert not {"statsd_host", "control_socket_disable"} & set(settings)


def test_glances_web_is_off_and_on_loopback_when_turned_on():
    d = defaults("monitoring")
    assert (d["monitoring_glances_web_enabled"], d["monitoring_glances_server_enabled"]) == (False, False)
    unit = render_template("monitoring", "glances-web.service.j2", monitoring_glances_web_distro_args=[])
    [exec_start] = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    assert " --bind 127.0.0.1 --port 61208 " in exec_start
