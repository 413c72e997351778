# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The nginx_limit_req_config filter as Ansible calls it: the zone size from the plan, errors as AnsibleFilterError."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smallvps.hardening.plugins.filter.nginx_limit_req_config import FilterModule
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import MIB, build_plan
from ansible_collections.smallvps.hardening.tests.unit.plugins.plugin_utils.not_a_plan import WITHOUT_SERVICES

nginx_limit_req_config = FilterModule().filters()["nginx_limit_req_config"]
FACTS = {"effective_memory_bytes": 1024 * MIB, "cpus": 1}
APP = {"name": "app.service", "tier": 1, "min": "128M"}
# 2000 clients x 128 bytes = 256000 bytes = 250k
PLAN = build_plan(FACTS, [APP, {"name": "nginx", "tier": 0, "min": "16M", "limit_req_clients": 2000}])
PLAN_WITHOUT_CLIENTS = build_plan(FACTS, [APP, {"name": "nginx", "tier": 0, "min": "16M"}])
PLAN_WITHOUT_NGINX = build_plan(FACTS, [APP])
ZONES = [{"name": "perip", "rate": "5r/s"}]


def filter_error(plan, **options) -> str:
    with pytest.raises(AnsibleFilterError) as caught:
        nginx_limit_req_config(plan, **options)
    return caught.value.message


def test_filter_is_registered():
    assert set(FilterModule().filters()) == {"nginx_limit_req_config"}


def test_zone_size_comes_from_the_nginx_entry_of_the_plan():
    config = nginx_limit_req_config(
        PLAN,
        zones=ZONES,
        conn_zones=[{"name": "perconn", "size": "1m"}],
        locations=[
            {
                "name": "root",
                "path": "/",
                "limit_req": [{"zone": "perip", "burst": 10, "nodelay": True}],
                "limit_conn": [{"zone": "perconn", "number": 20}],
            }
        ],
        allowlist=["127.0.0.2", "10.0.0.0/8"],
        status=429,
        conn_status=503,
        log_level="warn",
        dry_run=False,
    )
    assert config["zones"] == [
        {
            "name": "perip",
            "key": "$binary_remote_addr",
            "size": "250k",
            "size_bytes": 256000,
            "rate": "5r/s",
            "states": 2000,
        }
    ]
    assert "limit_req_zone $smallvps_limit_key_perip zone=perip:250k rate=5r/s;" in config["http"]
    assert config["http"][-4:] == [
        "limit_req_status 429;",
        "limit_req_log_level warn;",
        "limit_conn_status 503;",
        "limit_conn_log_level warn;",
    ]
    assert config["locations"][0]["lines"] == ["limit_req zone=perip burst=10 nodelay;", "limit_conn perconn 20;"]


def test_options_are_optional():
    assert nginx_limit_req_config(PLAN)["http"] == [
        "limit_req_status 429;",
        "limit_req_log_level error;",
        "limit_conn_status 429;",
        "limit_conn_log_level error;",
    ]


@pytest.mark.parametrize("plan", [PLAN_WITHOUT_CLIENTS, PLAN_WITHOUT_NGINX, {"services": {}}])
def test_without_a_planned_size_a_zone_needs_its_own(plan):
    assert (
        nginx_limit_req_config(plan, zones=[{"name": "perip", "rate": "5r/s", "size": "1m"}])["zones"][0]["size"]
        == "1m"
    )
    message = filter_error(plan, zones=ZONES)
    assert message.startswith("nginx_limit_req_zones[0] (perip): no 'size'; ")
    assert "set limit_req_clients on the nginx entry of smallvps_services" in message


def test_refusals_reach_ansible_with_the_message_unchanged():
    message = filter_error(PLAN, zones=[{"name": "perip", "rate": "0.5r/s"}])
    assert message.startswith("nginx_limit_req_zones[0] (perip) key 'rate': '0.5r/s' is not a rate; ")
    assert "0.5r/s is 30r/m" in message


@pytest.mark.parametrize(
    ("plan", "fragment"),
    WITHOUT_SERVICES
    + [
        ({"services": {"nginx": "250k"}}, "service 'nginx' is a string, not a plan entry"),
        (
            {"services": {"nginx": {"unit": "nginx.service", "limit_req_zone_size": "250k"}}},
            "service 'nginx': key 'name' is missing",
        ),
    ],
)
def test_a_bad_plan_is_a_filter_error_naming_the_key(plan, fragment):
    message = filter_error(plan, zones=ZONES)
    assert message.startswith("nginx_limit_req_config: ") and fragment in message, message
