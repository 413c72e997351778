# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The haproxy_config filter as Ansible calls it: the numbers from the plan, errors as AnsibleFilterError."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smallvps.hardening.plugins.filter.haproxy_config import FilterModule
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import MIB, build_plan
from ansible_collections.smallvps.hardening.tests.unit.plugins.plugin_utils.not_a_plan import WITHOUT_SERVICES

haproxy_config = FilterModule().filters()["haproxy_config"]
FACTS = {"effective_memory_bytes": 512 * MIB, "cpus": 2}
SSH = {"name": "sshd", "tier": 0, "min": "16M"}
# haproxy.service exists (or is to come): the built-in entry joins, 64M and tune_bufsize 16384.
PLAN = build_plan(FACTS, [SSH], units=["ssh.service", "haproxy.service"])
SERVERS = ["127.0.0.1:8000"]


def filter_error(plan, **options) -> str:
    with pytest.raises(AnsibleFilterError) as caught:
        haproxy_config(plan, **{"servers": SERVERS, **options})
    return caught.value.message


def test_filter_is_registered():
    assert set(FilterModule().filters()) == {"haproxy_config"}


def test_the_built_in_entry_gives_945_connections_of_16k_buffers_and_the_hosts_cpus():
    config = haproxy_config(PLAN, servers=SERVERS, port=8080)
    assert PLAN["services"]["haproxy"]["maxconn"] == 945
    assert config["global"][6:10] == ["maxconn 945", "tune.bufsize 16384", "tune.maxrewrite 1024", "nbthread 2"]
    assert config["frontend"] == ["bind *:8080", "default_backend app_servers"]
    assert config["backend"] == ["server server1 127.0.0.1:8000 check"]


def test_an_entry_of_the_user_sizes_maxconn_from_its_own_budget():
    # (128 MiB - 16 MiB) / (2 x 32768 + 20 KiB) = 1365
    plan = build_plan(
        {**FACTS, "cpus": 4},
        [SSH, {"name": "haproxy", "tier": 0, "min": "128M", "tune_bufsize": 32768}],
        units=["ssh.service", "haproxy.service"],
    )
    config = haproxy_config(plan, servers=SERVERS, nbthread=1)
    assert (config["maxconn"], config["tune_bufsize"], config["nbthread"]) == (1365, 32768, 1)


def test_a_small_buffer_refuses_http2_and_serves_http1():
    plan = build_plan(
        FACTS,
        [SSH, {"name": "haproxy", "tier": 0, "min": "64M", "tune_bufsize": 8192}],
        units=["ssh.service", "haproxy.service"],
    )
    message = filter_error(plan)
    assert message.startswith("haproxy_http2: true needs tune.bufsize 16384 or more"), message
    assert "tune_bufsize: 16384 (or more) on the haproxy entry of smallvps_services" in message
    assert haproxy_config(plan, servers=SERVERS, http2=False)["frontend"][0] == "bind *:80 proto h1"


def test_a_plan_without_haproxy_is_refused_naming_smallvps_services():
    plan = build_plan(FACTS, [SSH], units=["ssh.service"])
    assert filter_error(plan) == (
        "smallvps_services: the memory plan has no entry for haproxy.service; put the host in the inventory group "
        "edge_haproxy (or add haproxy.service to memory_plan_units_to_come) so the plan counts haproxy before it is "
        "installed, with the built-in entry {name: haproxy, tier: 0, min: 64M, tune_bufsize: 16384} or an entry of "
        "your own like it in smallvps_services"
    )


def test_an_entry_without_tune_bufsize_is_refused_naming_smallvps_services():
    plan = build_plan(
        FACTS, [SSH, {"name": "haproxy", "tier": 0, "min": "64M"}], units=["ssh.service", "haproxy.service"]
    )
    assert filter_error(plan) == (
        "smallvps_services: the haproxy entry 'haproxy' has no tune_bufsize, so the memory plan gives HAProxy no "
        "maxconn; add tune_bufsize: 16384 to it, like {name: haproxy, tier: 0, min: 64M, tune_bufsize: 16384}"
    )


def test_refusals_reach_ansible_with_the_message_unchanged():
    message = filter_error(PLAN, servers=["127.0.0.1"])
    assert message.startswith("haproxy_servers[0]: '127.0.0.1' has no port; expected host:port"), message


@pytest.mark.parametrize(
    ("plan", "fragment"),
    WITHOUT_SERVICES
    + [
        ({"services": {}}, "input: no 'summary' mapping"),
        ({"services": {}, "summary": {"cpus": 2}}, "input: key 'summary' lacks"),
        ({**PLAN, "services": {"haproxy": "945"}}, "service 'haproxy' is a string, not a plan entry"),
        (
            {**PLAN, "services": {"haproxy": {"unit": "haproxy.service", "maxconn": 945}}},
            "service 'haproxy': key 'name' is missing",
        ),
    ],
)
def test_a_bad_plan_is_a_filter_error_naming_the_key(plan, fragment):
    message = filter_error(plan)
    assert message.startswith("haproxy_config: ") and fragment in message, message
