# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Sizes inside a service that follow from its limit: nginx zone, introspection max_cost, reassembly pages."""

from __future__ import annotations

from fractions import Fraction

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_extras import (
    extras,
    introspection_max_cost,
    limit_req_zone_bytes,
    reassembly_pages,
)
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_services import (
    MemoryBudgetError,
    parse_services,
)

MIB = 1024 * 1024


def service(**raw):
    [parsed] = parse_services([{"name": "svc", "tier": 0, "min": 8, **raw}])
    return parsed


@pytest.mark.parametrize(
    ("clients", "expected"),
    [(1, 32768), (256, 32768), (257, 33792), (264, 33792), (10000, 1280000), (100000, 12800000)],
)
def test_limit_req_zone_bytes(clients, expected):
    # 128 bytes a state, rounded up to whole KiB, at least 32 KiB
    assert limit_req_zone_bytes(clients) == expected


@pytest.mark.parametrize(
    ("budget_bytes", "expected"),
    [
        (128 * MIB, 6355),  # 13421772.8 / 2112 = 6355.0...
        (115 * MIB, 5709),  # 12058624 / 2112 = 5709.6
        (8 * MIB, 1000),  # 397 entries: the floor of 1000 wins
        (21120000, 1000),  # exactly 1000 entries
        (1024 * MIB, 50840),  # 107374182.4 / 2112 = 50840.0...
    ],
)
def test_introspection_max_cost(budget_bytes, expected):
    assert introspection_max_cost(budget_bytes) == expected


@pytest.mark.parametrize(
    ("share", "budget_bytes", "expected"),
    [
        (Fraction(1, 4), 128 * MIB, (16384, 256)),
        (Fraction(1, 2), 128 * MIB, (32768, 512)),
        (Fraction(1, 4), 115 * MIB, (14720, 230)),
        (Fraction(1, 4), 1 * MIB, (128, 2)),
        (Fraction(1, 4), 64 * 2048 * 4 - 1, (63, 1)),  # fewer than 64 pages: one per connection still
        (Fraction(1, 4), 1000, (0, 1)),
    ],
)
def test_reassembly_pages(share, budget_bytes, expected):
    assert reassembly_pages(share, budget_bytes) == expected


def test_extras_only_when_declared():
    assert extras(service(), 64) == {}
    assert extras(service(runtime="go"), 64) == {}


def test_extras_from_the_limit():
    assert extras(service(limit_req_clients=10000), 64) == {
        "limit_req_zone_size": "1250k",
        "limit_req_zone_bytes": 1280000,
    }
    go = service(runtime="go", introspection_cache=True, reassembly={"share": 0.5})
    assert extras(go, 128) == {
        "introspection_max_cost": 6355,
        "max_buffered_pages_total": 32768,
        "max_buffered_pages_per_connection": 512,
    }


def test_zone_larger_than_the_limit_is_refused():
    with pytest.raises(MemoryBudgetError) as caught:
        extras(service(min=1, limit_req_clients=100000), 1)
    message = str(caught.value)
    assert message.startswith("memory_budget: service 'svc' key 'limit_req_clients': 100000 clients need a 12500k zone")
    assert "more than the service's 1 MiB" in message
    # 8192 clients need exactly 1 MiB: that still fits a 1 MiB limit
    assert extras(service(min=1, limit_req_clients=8192), 1)["limit_req_zone_bytes"] == MIB


def test_reassembly_below_one_page_is_refused():
    with pytest.raises(MemoryBudgetError) as caught:
        extras(service(runtime="go", reassembly={"share": 0.0009}), 2)
    message = str(caught.value)
    assert message.startswith(
        "memory_budget: service 'svc' key 'reassembly': share 0.0009 of 2 MiB is less than one 2048-byte page"
    )


def test_haproxy_maxconn_follows_the_budget_and_the_buffer():
    # 64 MiB - 16 MiB base, at 2 x 16384 + 20 KiB = 53248 bytes per connection.
    assert extras(service(tune_bufsize=16384), 64) == {"tune_bufsize": 16384, "maxconn": 945, "connection_bytes": 53248}
    # Halving the buffer: 2 x 8192 + 20480 = 36864 bytes, more connections in the same memory.
    assert extras(service(tune_bufsize=8192), 64)["maxconn"] == 48 * MIB // 36864
    # Upstream's rough sizing: ~20000 saturated connections per GB at the default buffer.
    assert 19000 < extras(service(tune_bufsize=16384), 1024)["maxconn"] < 21000


def test_haproxy_budget_without_room_for_one_connection_is_refused():
    with pytest.raises(MemoryBudgetError) as refused:
        extras(service(min=16, tune_bufsize=16384), 16)
    assert str(refused.value).startswith(
        "memory_budget: service 'svc' key 'tune_bufsize': 16 MiB minus the 16 MiB base"
    )
