# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""caddy, traefik and oathkeeper render through smallvps.hardening.render (each role's tasks/validate.yml, before
go_service installs anything), run by ansible-playbook on the controller: a refusal fails that task with the
product's plain message (the variable first, no "Finalization of task args" wrapping, no rescue), and what is
accepted reaches the role (its warnings too). Only the role's own files are loaded: its meta dependencies would act
on the machine running the tests."""

from __future__ import annotations

import pytest

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import run_role_validate
from ansible_collections.smallvps.hardening.tests.unit.roles.test_go_service_validate import PLAN, _entry

# Oathkeeper's entry with the cache size the plan gives an entry with introspection_cache.
OATHKEEPER_PLAN = {**PLAN, "services": {"oathkeeper": _entry("oathkeeper", introspection_max_cost=4194304)}}
SHOW = {
    "caddy": "caddy_rendered.content.lines",
    "traefik": "traefik_rendered.content.static.entryPoints",
    "oathkeeper": "oathkeeper_rendered.content.config.authenticators",
}
BASE = {
    "caddy": {"caddy_upstreams": ["127.0.0.1:8000"], "go_service_result": {"source": "package"}},
    "traefik": {"traefik_upstreams": ["http://127.0.0.1:8000"], "traefik_binary": {"version": "3.3.5"}},
    "oathkeeper": {
        "smallvps_memory_plan": OATHKEEPER_PLAN,
        "oathkeeper_access_rules": [{"id": "app", "url": "http://<.*>/<.*>", "upstream": "http://127.0.0.1:8000"}],
    },
}


def _validate(tmp_path, role, **extra_vars):
    """Exit code, [(task name, result)] of ROLE's tasks/validate.yml and what it rendered (SHOW), if it passed."""
    show = f"""    - name: Show
      ansible.builtin.debug:
        msg: "{{{{ {SHOW[role]} }}}}"
"""
    rc, results = run_role_validate(tmp_path, role, {**BASE[role], **extra_vars}, then=show)
    shown = results[-1][1].get("msg") if results and results[-1][0] == "Show" else None
    return rc, results, shown


def _refusal(results):
    failed = [(name, result["msg"]) for name, result in results if result.get("failed")]
    assert len(failed) == 1, results
    name, msg = failed[0]
    assert "Finalization" not in msg and "Traceback" not in msg, msg
    return name, msg


@pytest.mark.parametrize(
    "role, variables, starts",
    [
        ("caddy", {"caddy_max_header_size": "lots"}, "caddy_max_header_size: "),
        ("caddy", {"caddy_upstreams": []}, "caddy_upstreams: "),
        ("traefik", {"traefik_compress_encodings": ["deflate"]}, "traefik_compress_encodings[0]: 'deflate'"),
        # The version comes from traefik_binary, or from traefik_version, its deprecated alias.
        ("traefik", {"traefik_binary": {"version": "3.1.4"}}, "traefik_binary.version: '3.1.4' is older than 3.2.0"),
        ("traefik", {"traefik_version": "3.1.4"}, "traefik_binary.version: '3.1.4' is older than 3.2.0"),
        ("oathkeeper", {"oathkeeper_prometheus_host": "0.0.0.0"}, "oathkeeper_prometheus_host: '0.0.0.0' is not"),
        ("oathkeeper", {"oathkeeper_service": "gatekeeper"}, "smallvps_services: no memory plan entry for Oathkeeper"),
    ],
)
def test_a_refusal_is_the_products_plain_message_at_the_render_step(tmp_path, role, variables, starts):
    rc, results, _ = _validate(tmp_path, role, **variables)
    name, msg = _refusal(results)
    assert rc != 0 and name.startswith("Render ") and msg.startswith(starts), (name, msg)


def test_caddy_lines_reach_the_template(tmp_path):
    rc, results, lines = _validate(tmp_path, "caddy")
    assert rc == 0 and "\tadmin localhost:2019" in lines and "\treverse_proxy 127.0.0.1:8000 {" in lines, results


def test_traefik_renders_for_the_pinned_version_and_warns_below_the_recommended_one(tmp_path):
    rc, results, entry_points = _validate(tmp_path, "traefik", traefik_binary={"version": "3.3.4"})
    assert rc == 0 and entry_points["web"]["address"] == ":80", results
    [warning] = [w for _, result in results for w in result.get("warnings", [])]
    assert warning.startswith("traefik: 3.3.4 is older than 3.3.5"), warning
    rc, results, _ = _validate(tmp_path, "traefik")
    assert rc == 0 and not [w for _, result in results for w in result.get("warnings", [])], results


def test_oathkeeper_takes_its_cache_size_from_the_plan_and_warns_for_an_exposed_listener(tmp_path):
    authenticators = {"oauth2_introspection": {"introspection_url": "http://127.0.0.1:4445/admin/oauth2/introspect"}}
    rules = [
        {
            "id": "app",
            "url": "http://<.*>/<.*>",
            "upstream": "http://127.0.0.1:8000",
            "authenticators": ["oauth2_introspection"],
        }
    ]
    rc, results, shown = _validate(
        tmp_path,
        "oathkeeper",
        oathkeeper_authenticators=authenticators,
        oathkeeper_access_rules=rules,
        oathkeeper_prometheus_host="0.0.0.0",
        oathkeeper_prometheus_expose=True,
    )
    assert rc == 0, results
    assert shown["oauth2_introspection"]["config"]["cache"]["max_cost"] == 4194304, shown
    [warning] = [w for _, result in results for w in result.get("warnings", [])]
    assert warning.startswith("oathkeeper: the Prometheus endpoint") and "0.0.0.0 port 9000" in warning, warning
