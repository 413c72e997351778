# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""What drill.yml refuses before it touches the host, what it drills, and where it aims the flood."""

from __future__ import annotations

import pytest

from ansible_collections.smallvps.hardening.plugins.module_utils._drill_checks import (
    NOT_DRILLED_BY_DEFAULT,
    DrillRefusal,
    check_applied,
    check_request,
    flood_targets,
    resolve_units,
)

MIB = 1 << 20
PLAN = {
    "services": {
        "sshd": {"unit": "ssh.service", "tier": 0, "memory_max_bytes": None, "memory_swap_max_bytes": None},
        "nginx": {"unit": "nginx.service", "tier": 0, "memory_max_bytes": None, "memory_swap_max_bytes": None},
        "app": {"unit": "app.service", "tier": 1, "memory_max_bytes": 368 * MIB, "memory_swap_max_bytes": 0},
        "worker": {"unit": "worker.service", "tier": 1, "memory_max_bytes": 64 * MIB, "memory_swap_max_bytes": None},
        "batch": {"unit": "batch.service", "tier": 2, "memory_max_bytes": None, "memory_swap_max_bytes": None},
    }
}
METRICS = {
    "unit": "smallvps-memory-metrics.service",
    "tier": 1,
    "memory_max_bytes": 16 * MIB,
    "memory_swap_max_bytes": 0,
}


def _request(**changes):
    args = {
        "confirm": True,
        "units": None,
        "health": {},
        "host_wide": False,
        "host_wide_opt_in": None,
        "hostname": "app.example.net",
    }
    args.update(changes)
    check_request(**args)


def test_a_confirmed_request_passes():
    _request()
    _request(confirm="true", units=["app"], health={"app": "unix:/run/app/gunicorn.sock"})
    _request(host_wide=True, host_wide_opt_in="app.example.net")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"confirm": None}, "smallvps_drill_confirm: drill.yml changes memory on the host"),
        ({"confirm": False}, "Set smallvps_drill_confirm=true"),
        ({"confirm": "yes please"}, "Set smallvps_drill_confirm=true"),
        ({"units": "app.service"}, "smallvps_drill_units: 'app.service' is not a list of the plan's tier-1 unit"),
        ({"units": []}, "smallvps_drill_units: [] is not a list"),
        ({"units": ["app service"]}, "smallvps_drill_units: 'app service' is not a unit name"),
        ({"units": ["app", "app.service"]}, "names a unit twice"),
        ({"health": ["http://127.0.0.1/"]}, "smallvps_drill_health: ['http://127.0.0.1/'] is not a mapping"),
        ({"health": {"app": "http://192.0.2.10/"}}, "smallvps_drill_health: 'app': 'http://192.0.2.10/' does not aim"),
        (
            {"host_wide": True},
            "set smallvps_drill_host_wide=app.example.net (this host's inventory_hostname) to allow it (it is unset)",
        ),
        ({"host_wide": True, "host_wide_opt_in": "other.example.net"}, "(it is 'other.example.net')"),
    ],
)
def test_the_variables_are_refused_with_their_name_and_form(changes, message):
    with pytest.raises(DrillRefusal) as refusal:
        _request(**changes)
    assert message in str(refusal.value)


def test_without_units_every_tier1_unit_is_drilled_with_its_plan_limits():
    units = resolve_units(PLAN, None, {"app.service": "http://127.0.0.1:8000/health"})
    assert units == [
        {
            "unit": "app.service",
            "memory_max": 368 * MIB,
            "memory_swap_max": 0,
            "health": "http://127.0.0.1:8000/health",
        },
        {"unit": "worker.service", "memory_max": 64 * MIB, "memory_swap_max": None, "health": None},
    ]
    assert [u["unit"] for u in resolve_units(PLAN, ["worker"], {})] == ["worker.service"]


def test_the_metrics_oneshot_is_left_out_of_the_default_leak_round_but_may_be_named():
    """With the monitoring role's metrics on, drill.yml's default must still run: their oneshot service has no
    cgroup between two runs of its timer."""
    plan = {"services": {**PLAN["services"], "smallvps-memory-metrics": METRICS}}
    assert [u["unit"] for u in resolve_units(plan, None, {})] == ["app.service", "worker.service"]
    assert [u["unit"] for u in resolve_units(plan, [METRICS["unit"]], {})] == [METRICS["unit"]]


def test_the_unit_left_out_is_the_one_the_planner_adds_for_the_metrics():
    from ansible_collections.smallvps.hardening.plugins.plugin_utils import _memory_metrics

    assert NOT_DRILLED_BY_DEFAULT == (_memory_metrics.UNIT,)


@pytest.mark.parametrize(
    ("units", "health", "message"),
    [
        (["ssh.service"], {}, "smallvps_drill_units: ssh.service is tier 0 in the plan, and the drill never touches"),
        (["nginx"], {}, "nginx.service is tier 0"),
        (["batch"], {}, "smallvps_drill_units: batch.service is tier 2 in the plan"),
        (
            ["ghost.service"],
            {},
            "smallvps_drill_units: ghost.service is not in the plan; the drill leaks in the plan's",
        ),
        (["app"], {"worker": "unix:/run/w.sock"}, "smallvps_drill_health: worker.service is not a drilled unit"),
    ],
)
def test_units_outside_the_plans_tier1_are_refused(units, health, message):
    with pytest.raises(DrillRefusal) as refusal:
        resolve_units(PLAN, units, health)
    assert message in str(refusal.value)


SHOWN = "Id=app.service\nLoadState=loaded\nMemoryMax={}\n\nId=worker.service\nLoadState={}\nMemoryMax=67108864\n"


def test_a_plan_applied_on_the_host_passes():
    check_applied(resolve_units(PLAN, None, {}), SHOWN.format(368 * MIB, "loaded"))


@pytest.mark.parametrize(
    ("shown", "message"),
    [
        (SHOWN.format(368 * MIB, "not-found"), "worker.service does not exist on this host (LoadState not-found)"),
        (SHOWN.format("infinity", "loaded"), "app.service has MemoryMax=infinity, the plan says 385875968"),
        ("Id=worker.service\nLoadState=loaded\nMemoryMax=67108864\n", "app.service does not exist on this host"),
    ],
)
def test_a_plan_not_applied_is_refused(shown, message):
    with pytest.raises(DrillRefusal) as refusal:
        check_applied(resolve_units(PLAN, None, {}), shown)
    assert message in str(refusal.value) and "run site.yml first" in str(refusal.value)


NGINX = {
    "zones": [{"name": "perip", "rate": "5r/s"}, {"name": "slow", "rate": "30r/m"}],
    "locations": [
        {"name": "root", "path": "/", "limit_req": [{"zone": "perip", "burst": 10, "nodelay": True}]},
        {"name": "api", "path": "= /api", "limit_req": [{"zone": "slow"}]},
        {"name": "free", "path": "/free"},
        {"name": "probe", "path": "~ ^/(pid|rss)$", "limit_req": [{"zone": "perip", "burst": 1}]},
        {"name": "trial", "path": "/trial", "limit_req": [{"zone": "perip", "burst": 10}], "dry_run": True},
    ],
    "dry_run": False,
    "allowlist": ["127.0.0.2"],
    "proxy_enabled": True,
    "proxy_listen": ["80 default_server", "[::]:80 default_server"],
}


def test_the_flood_aims_at_every_limited_location_with_a_url():
    targets, skipped = flood_targets(NGINX)
    assert targets == [
        {"location": "root", "url": "http://127.0.0.1/", "rate": 5.0, "burst": 10},
        {"location": "api", "url": "http://127.0.0.1/api", "rate": 0.5, "burst": 0},
    ]
    assert skipped == [
        "location probe: ~ ^/(pid|rss)$ is a regex or named location, with no URL to aim at",
        "location trial: dry run, nothing is rejected",
    ]


def test_the_flood_aims_at_the_proxy_servers_port():
    targets, _ = flood_targets({**NGINX, "proxy_listen": ["127.0.0.1:8080"]})
    assert targets[0]["url"] == "http://127.0.0.1:8080/"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"allowlist": ["127.0.0.0/8"]}, "127.0.0.1 is in nginx_limit_req_allowlist"),
        ({"proxy_enabled": False}, "nginx_limit_req_proxy_enabled is false"),
        ({"proxy_listen": ["unix:/run/nginx.sock"]}, "has no TCP port to aim at"),
        ({"dry_run": True, "locations": NGINX["locations"][:1]}, "location root: dry run"),
    ],
)
def test_a_flood_that_would_prove_nothing_is_skipped_with_its_reason(changes, reason):
    targets, skipped = flood_targets({**NGINX, **changes})
    assert targets == [] and any(reason in why for why in skipped), skipped
