# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Sizes inside a service that follow from its memory limit: nginx limit_req zones, HAProxy's
maxconn, the Oathkeeper introspection cache, gopacket reassembly pages. docs/memory-budget.md derives each."""

from __future__ import annotations

import math
from fractions import Fraction

from ._memory_services import Service, refuse
from ._memory_sizes import KIB, MIB

# nginx limit_req: one state is 128 bytes on 64-bit; a zone smaller than 32 KiB is refused.
NGINX_LIMIT_REQ_STATE_BYTES = 128
NGINX_LIMIT_REQ_MIN_ZONE_BYTES = 32 * KIB

# HAProxy: a full connection holds two buffers of tune.bufsize (request and response) plus
# its session, stream and connection structs and the kernel's socket buffers. 20 KiB for that
# overhead makes the default 16384-byte buffer cost 52 KiB, upstream's own rough sizing of
# about 20000 saturated connections per GB. The process itself (code, pools, threads) is the base.
HAPROXY_CONNECTION_OVERHEAD_BYTES = 20 * KIB
HAPROXY_BASE_BYTES = 16 * MIB

# Oathkeeper oauth2_introspection cache (ristretto): every entry has cost 1, so
# max_cost is an entry count. One entry ~ 2 KiB (token|introspection_url key,
# JSON introspection result, store item) + 10 counters x (2 B count-min sketch
# + ~1.2 B doorkeeper bloom) doubled for power-of-two rounding = 64 B.
INTROSPECTION_CACHE_SHARE = Fraction(1, 10)
INTROSPECTION_ENTRY_BYTES = 2048 + 64
INTROSPECTION_MIN_MAX_COST = 1000

# gopacket reassembly page: 1900 bytes of payload plus page header, ~2 KiB.
GOPACKET_PAGE_BYTES = 2048
# One stalled connection may hold at most 1/64 of the pages so it cannot starve the rest.
REASSEMBLY_PER_CONNECTION_DIVISOR = 64


def limit_req_zone_bytes(clients: int) -> int:
    by_states = -(-clients * NGINX_LIMIT_REQ_STATE_BYTES // KIB) * KIB
    return max(NGINX_LIMIT_REQ_MIN_ZONE_BYTES, by_states)


def haproxy_connection_bytes(bufsize: int) -> int:
    return 2 * bufsize + HAPROXY_CONNECTION_OVERHEAD_BYTES


def haproxy_maxconn(bufsize: int, limit_bytes: int) -> int:
    """Connections that fit under the first limit that acts (MemoryHigh when there is one, not the budget)."""
    return (limit_bytes - HAPROXY_BASE_BYTES) // haproxy_connection_bytes(bufsize)


def introspection_max_cost(budget_bytes: int) -> int:
    return max(
        INTROSPECTION_MIN_MAX_COST, math.floor(INTROSPECTION_CACHE_SHARE * budget_bytes / INTROSPECTION_ENTRY_BYTES)
    )


def reassembly_pages(share: Fraction, budget_bytes: int) -> tuple[int, int]:
    total = math.floor(share * budget_bytes / GOPACKET_PAGE_BYTES)
    return total, max(1, total // REASSEMBLY_PER_CONNECTION_DIVISOR)


def extras(service: Service, limit_mb: int) -> dict:
    """The extra keys a service declared, sized from the first limit that acts on it."""
    limit_bytes = limit_mb * MIB
    values = {}
    if service.limit_req_clients is not None:
        zone_bytes = limit_req_zone_bytes(service.limit_req_clients)
        if zone_bytes > limit_bytes:
            raise refuse(
                service.name,
                "limit_req_clients",
                f"{service.limit_req_clients} clients need a {zone_bytes // KIB}k zone, "
                f"more than the service's {limit_mb} MiB; lower limit_req_clients or raise min",
            )
        values["limit_req_zone_size"] = f"{zone_bytes // KIB}k"
        values["limit_req_zone_bytes"] = zone_bytes
    if service.tune_bufsize is not None:
        maxconn = haproxy_maxconn(service.tune_bufsize, limit_bytes)
        if maxconn < 1:
            raise refuse(
                service.name,
                "tune_bufsize",
                f"{limit_mb} MiB minus the {HAPROXY_BASE_BYTES // MIB} MiB base leaves "
                f"no room for one {haproxy_connection_bytes(service.tune_bufsize)}-byte connection; raise min or "
                "lower tune_bufsize",
            )
        values["tune_bufsize"] = service.tune_bufsize
        values["maxconn"] = maxconn
        values["connection_bytes"] = haproxy_connection_bytes(service.tune_bufsize)
    if service.introspection_cache:
        values["introspection_max_cost"] = introspection_max_cost(limit_bytes)
    if service.reassembly_share is not None:
        total, per_connection = reassembly_pages(service.reassembly_share, limit_bytes)
        if total < 1:
            raise refuse(
                service.name,
                "reassembly",
                f"share {float(service.reassembly_share)} of {limit_mb} MiB is less than "
                f"one {GOPACKET_PAGE_BYTES}-byte page; raise share or min",
            )
        values["max_buffered_pages_total"] = total
        values["max_buffered_pages_per_connection"] = per_connection
    return values
