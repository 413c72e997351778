# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""filter_refusal: the rescue of a role's filter call fails with the filter's own message."""

from __future__ import annotations

from ansible_collections.smallvps.hardening.plugins.filter.filter_refusal import FilterModule

filter_refusal = FilterModule().filters()["filter_refusal"]
REFUSAL = (
    "nginx_limit_req_zones[0] (perip) key 'rate': '5r/h' is not a rate; expected an integer count per second "
    "or minute, like 5r/s or 30r/m (nginx has no fractions: 0.5r/s is 30r/m)"
)


def test_strips_the_wrapping_ansible_core_puts_around_a_filter_error():
    # As ansible-core 2.19 reports it (seen in the app scenario's refusals).
    wrapped = (
        "Task failed: Finalization of task args for 'ansible.builtin.set_fact' failed: Error while resolving "
        "value for 'nginx_limit_req_lines': The filter plugin 'smallvps.hardening.nginx_limit_req_config' "
        "failed: " + REFUSAL
    )
    assert filter_refusal(wrapped) == REFUSAL


def test_strips_a_wrapping_over_several_lines():
    assert filter_refusal("Task failed:\nsomething\nThe filter plugin 'x' failed: " + REFUSAL) == REFUSAL


def test_a_message_without_the_wrapping_is_unchanged():
    assert filter_refusal(REFUSAL) == REFUSAL
    assert (
        filter_refusal("caddy: caddy validate refused the new Caddyfile")
        == "caddy: caddy validate refused the new Caddyfile"
    )
