# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""A refusal says what a value is in the user's words. ansible-core 2.19 hands filters its own subclasses of dict
and list (_AnsibleLazyTemplateDict, _AnsibleLazyTemplateList): their class names must never reach a message."""

from __future__ import annotations

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils import _caddy as caddy_config
from ansible_collections.smallvps.hardening.plugins.plugin_utils import _haproxy as haproxy_config
from ansible_collections.smallvps.hardening.plugins.plugin_utils import _nginx as nginx_limit_req
from ansible_collections.smallvps.hardening.plugins.plugin_utils import _swap_sizing as swap_sizing
from ansible_collections.smallvps.hardening.plugins.plugin_utils import _traefik as traefik_config
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_host import normalize_facts
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError, parse_size
from ansible_collections.smallvps.hardening.plugins.plugin_utils._plan_input import plan_entries


class _AnsibleLazyTemplateDict(dict):
    pass


class _AnsibleLazyTemplateList(list):
    pass


LAZY_LIST = _AnsibleLazyTemplateList(["5s"])
LAZY_DICT = _AnsibleLazyTemplateDict(name="perip")
CADDY = {
    "site_address": ":80",
    "upstreams": ["127.0.0.1:8000"],
    "timeouts": {},
    "max_header_size": "32KiB",
    "upstream_pool": {},
}
TRAEFIK = {
    "address": ":80",
    "upstreams": ["http://127.0.0.1:8000"],
    "responding_timeouts": {},
    "forwarding_timeouts": {},
    "max_header_bytes": 32768,
    "max_idle_conns_per_host": 8,
    "version": "3.3.5",
}
HAPROXY = {"servers": ["127.0.0.1:8000"], "tune_bufsize": 16384, "maxconn": 945, "cpus": 2}

CASES = {
    "caddy_timeouts": (
        lambda: caddy_config.build_caddyfile(**{**CADDY, "timeouts": LAZY_LIST}),
        "is a list, not a mapping",
    ),
    "caddy_upstream_pool": (lambda: caddy_config.build_caddyfile(**{**CADDY, "upstream_pool": LAZY_LIST}), "is a list"),
    "traefik_forwarding_timeouts": (
        lambda: traefik_config.build_config(**{**TRAEFIK, "forwarding_timeouts": LAZY_LIST}),
        "is a list, not a mapping",
    ),
    "haproxy_timeouts": (
        lambda: haproxy_config.build_config(**HAPROXY, timeouts=LAZY_LIST),
        "is a list, not a mapping",
    ),
    "haproxy_servers[0]": (
        lambda: haproxy_config.build_config(**{**HAPROXY, "servers": [LAZY_DICT]}),
        "is a mapping, not a server",
    ),
    "nginx_limit_req_zones": (lambda: nginx_limit_req.build_config(LAZY_DICT), "is a mapping, not a list"),
    "nginx_limit_req_zones[0]": (lambda: nginx_limit_req.build_config([LAZY_LIST]), "is a list, not a mapping"),
    "memory_plan_table: input": (
        lambda: plan_entries(LAZY_LIST, "memory_plan_table"),
        "is a list, with no 'services'",
    ),
    "memory_plan_table: service 'app'": (
        lambda: plan_entries({"services": {"app": LAZY_LIST}}, "memory_plan_table"),
        "is a list, not a plan entry",
    ),
    "memory_plan: facts": (lambda: normalize_facts(LAZY_LIST), "input is a list, expected"),
    "swap: swap_plan expects": (lambda: swap_sizing.swap_plan(LAZY_LIST), "got a list"),
    "min": (lambda: parse_size(LAZY_LIST, "min"), "['5s'] is not a size"),
}


@pytest.mark.parametrize(
    ("start", "refuse", "words"), [(start, *case) for start, case in CASES.items()], ids=list(CASES)
)
def test_ansibles_lazy_type_names_never_reach_a_refusal(start, refuse, words):
    with pytest.raises((ValueError, MemoryBudgetError, swap_sizing.SwapSizingError)) as refused:
        refuse()
    message = str(refused.value)
    assert message.startswith(start) and words in message, message
    assert "_Ansible" not in message and "Lazy" not in message, message
