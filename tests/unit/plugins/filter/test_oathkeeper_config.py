# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""oathkeeper_config as the role calls it: the two files, a warning per exposed listener, refusals as
Ansible filter errors that start with the variable."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smallvps.hardening.plugins.filter.oathkeeper_config import FilterModule

oathkeeper_config = FilterModule().filters()["oathkeeper_config"]
ENTRY = {"name": "oathkeeper", "introspection_max_cost": 6355}
RULES = [{"id": "app", "url": "http://<.*>/<.*>", "upstream": "http://127.0.0.1:8000"}]
# The role's call: tasks/main.yml passes these positionally, the rest by keyword.
POSITIONAL = (
    4455,
    None,
    "127.0.0.1",
    4456,
    {"noop": {}},
    {"allow": {}},
    {"noop": {}},
    RULES,
    "/etc/oathkeeper/rules.yml",
    "info",
)


def test_the_defaults_give_loopback_listeners_and_no_warning():
    files = oathkeeper_config(
        ENTRY,
        *POSITIONAL,
        prometheus_host="127.0.0.1",
        prometheus_port=9000,
        api_expose=False,
        prometheus_expose=False,
        telemetry_enabled=False,
        environment={},
    )
    assert files["config"]["serve"]["prometheus"] == {"host": "127.0.0.1", "port": 9000}
    assert files["config"]["serve"]["api"] == {"host": "127.0.0.1", "port": 4456}
    assert [rule["id"] for rule in files["rules"]] == ["app"]
    assert files["warnings"] == []


def test_an_exposed_listener_comes_back_as_a_warning():
    files = oathkeeper_config(ENTRY, *POSITIONAL, prometheus_host="0.0.0.0", prometheus_expose=True)
    assert files["warnings"] == [
        "oathkeeper: the Prometheus endpoint (request metrics; no authentication) listens on 0.0.0.0 port 9000 "
        "(oathkeeper_prometheus_expose: true); anyone who reaches it can use it, so firewall it"
    ]


@pytest.mark.parametrize(
    ("keywords", "starts"),
    [
        ({"prometheus_host": "0.0.0.0"}, "oathkeeper_prometheus_host: '0.0.0.0' is not a loopback address"),
        ({"environment": {"SQA_OPT_OUT": "false"}}, "oathkeeper_environment key 'SQA_OPT_OUT': refused"),
        ({"telemetry_enabled": "false"}, "oathkeeper_telemetry_enabled: 'false' is not a boolean"),
    ],
    ids=["prometheus on every IPv4 address", "SQA_OPT_OUT of the user's", "telemetry as a string"],
)
def test_refusals_reach_ansible_as_filter_errors(keywords, starts):
    with pytest.raises(AnsibleFilterError) as refused:
        oathkeeper_config(ENTRY, *POSITIONAL, **keywords)
    assert str(refused.value).startswith(starts)
