# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The caddy role's variables, checked, as the lines of a Caddyfile.

Only the options that bound Caddy's memory are variables (UPSTREAM.md, "Caddy"): the servers'
timeouts and header size, the reverse proxy's connection pools and buffers, the grace period
of a reload. Every refusal names the role variable and the accepted form.
"""

from __future__ import annotations

import re

from ._product import Product, Renderer
from ._variable_checks import duration_within_go, is_int, mapping, port_in_range

# Go durations as Caddy reads them (time.ParseDuration plus Caddy's "d" for days): 10s, 1m30s, 500ms.
_DURATION = re.compile(r"(?:[0-9]+(?:ns|us|ms|s|m|h|d))+")
DURATION_FORM = "a duration such as 10s, 2m, 1m30s or 500ms"
# Caddy parses sizes with go-humanize: 16384, 16KiB, 16kB, 1MiB, 1MB.
_SIZE = re.compile(r"([0-9]+)(B|kB|KB|KiB|MB|MiB)?")
_SIZE_UNITS = {None: 1, "B": 1, "kB": 1000, "KB": 1000, "KiB": 1024, "MB": 1000**2, "MiB": 1024**2}
# Caddy keeps sizes and counts in 64-bit ints, but a number passes through a float64 on the way (go-humanize
# parses sizes as floats; `caddy validate` round-trips the adapted JSON): 9223372036854775807 comes back as
# 9223372036854776000 and no longer fits ("cannot unmarshal number"). The largest float64 below 2^63 does.
CADDY_MAX_INT = 2**63 - 1024
SIZE_FORM = "a size such as 16KiB, 32kB, 1MiB or 16384 (bytes)"
# host:port with a host name, IPv4 or [IPv6] address, or unix//absolute/path.sock
_UPSTREAM = re.compile(r"(?:(?:[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}|unix//[A-Za-z0-9_./@-]+)")
UPSTREAM_FORM = "host:port (127.0.0.1:8000, app.internal:8000, [::1]:8000) or unix//run/app/app.sock"
# A site address without a scheme: [host]:port, or a host name (Caddy then serves it over HTTPS).
_SITE = re.compile(r"(?:[A-Za-z0-9*][A-Za-z0-9.*-]*)?(?::[0-9]{1,5})?")
SITE_FORM = "':80' (plain HTTP on port 80), 'localhost:8081' or a host name such as example.com (HTTPS)"
# The admin endpoint reloads go through; only loopback, never off.
_ADMIN = re.compile(r"(?:localhost|127\.0\.0\.1|\[::1\]):([0-9]{1,5})")
ADMIN_FORM = "localhost:2019 or 127.0.0.1:<port> (reloads go through it: never off, never a public address)"

TIMEOUT_KEYS = ("read_header", "read_body", "write", "idle")
POOL_KEYS = ("keepalive", "keepalive_idle_conns", "keepalive_idle_conns_per_host", "max_conns_per_host")


class CaddyConfigError(ValueError):
    """A caddy role variable Caddy would refuse or the collection does not accept."""


def _port(text: str, where: str, form: str) -> None:
    if ":" in text:
        port_in_range(text.rsplit(":", 1)[1], text, where, CaddyConfigError, form)


def _duration(value, where: str) -> str:
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        raise CaddyConfigError(f"{where}: {value!r} is not {DURATION_FORM}")
    if not re.search(r"[1-9]", value):
        raise CaddyConfigError(
            f"{where}: {value!r} is zero, which Caddy reads as no limit; expected {DURATION_FORM} above 0"
        )
    return duration_within_go(value, where, CaddyConfigError, DURATION_FORM, days=True)


def _size(value, where: str) -> str:
    text = str(value) if is_int(value) else value
    match = _SIZE.fullmatch(text) if isinstance(text, str) else None
    if not match or not re.search(r"[1-9]", text):
        raise CaddyConfigError(f"{where}: {value!r} is not {SIZE_FORM}, above 0")
    if int(match[1]) * _SIZE_UNITS[match[2]] > CADDY_MAX_INT:
        raise CaddyConfigError(
            f"{where}: {value!r} is more than Caddy can hold (a 64-bit integer, read through a float); "
            f"expected {SIZE_FORM}, at most {CADDY_MAX_INT} bytes"
        )
    return text


def _site_address(value) -> str:
    if not isinstance(value, str) or not value or not _SITE.fullmatch(value):
        raise CaddyConfigError(f"caddy_site_address: {value!r} is not a site address; expected {SITE_FORM}")
    _port(value, "caddy_site_address", SITE_FORM)
    return value


def _upstreams(value) -> list:
    if not isinstance(value, (list, tuple)) or not value:
        raise CaddyConfigError(
            f"caddy_upstreams: {value!r} is not a non-empty list; expected a list of {UPSTREAM_FORM}"
        )
    for index, upstream in enumerate(value):
        if not isinstance(upstream, str) or not _UPSTREAM.fullmatch(upstream):
            raise CaddyConfigError(
                f"caddy_upstreams[{index}]: {upstream!r} is not an upstream; expected {UPSTREAM_FORM}"
            )
        if not upstream.startswith("unix//"):
            _port(upstream, f"caddy_upstreams[{index}]", UPSTREAM_FORM)
    if len(set(value)) != len(value):
        raise CaddyConfigError(f"caddy_upstreams: {list(value)!r} lists an upstream twice; list each once")
    return list(value)


def _pool(value) -> list:
    pool = mapping(value, "caddy_upstream_pool", CaddyConfigError, POOL_KEYS)
    lines = []
    for key in POOL_KEYS:
        if key not in pool:
            continue
        where = f"caddy_upstream_pool key '{key}'"
        if key == "keepalive":
            lines.append(f"keepalive {_duration(pool[key], where)}")
            continue
        if not is_int(pool[key]) or not 1 <= pool[key] <= CADDY_MAX_INT:
            raise CaddyConfigError(
                f"{where}: {pool[key]!r} is not an integer >= 1 (connections), at most {CADDY_MAX_INT}; "
                "the pools are bounded here on purpose, Caddy's own max_conns_per_host is unlimited"
            )
        lines.append(f"{key} {pool[key]}")
    per_host, total = pool.get("keepalive_idle_conns_per_host"), pool.get("keepalive_idle_conns")
    if per_host is not None and total is not None and per_host > total:
        raise CaddyConfigError(
            f"caddy_upstream_pool key 'keepalive_idle_conns_per_host': {per_host} is above "
            f"keepalive_idle_conns {total}, the idle connections of all upstreams together"
        )
    return lines


def _buffers(value, variable: str) -> str | None:
    # 0 (the default): stream bodies through, no buffer of a request or response in memory.
    if is_int(value) and value == 0:
        return None
    return _size(value, variable)


def build_caddyfile(
    site_address,
    upstreams,
    timeouts,
    max_header_size,
    upstream_pool,
    request_buffers=0,
    response_buffers=0,
    grace_period="10s",
    admin="localhost:2019",
) -> dict:
    """{'lines': [...]} for the role's Caddyfile template, tab-indented as `caddy fmt` writes it."""
    admin_match = _ADMIN.fullmatch(admin) if isinstance(admin, str) else None
    if not admin_match:
        raise CaddyConfigError(f"caddy_admin: {admin!r} is not a loopback address; expected {ADMIN_FORM}")
    port_in_range(admin_match[1], admin, "caddy_admin", CaddyConfigError, ADMIN_FORM)
    timeouts = mapping(timeouts, "caddy_timeouts", CaddyConfigError, TIMEOUT_KEYS)
    timeout_lines = [
        f"{key} {_duration(timeouts[key], f'caddy_timeouts key {key!r}')}" for key in TIMEOUT_KEYS if key in timeouts
    ]
    header = _size(max_header_size, "caddy_max_header_size")
    grace = _duration(grace_period, "caddy_grace_period")
    site = _site_address(site_address)
    targets = _upstreams(upstreams)
    transport = _pool(upstream_pool)
    request = _buffers(request_buffers, "caddy_request_buffers")
    response = _buffers(response_buffers, "caddy_response_buffers")

    lines = ["{", f"\tadmin {admin}", f"\tgrace_period {grace}", "\tservers {"]
    if timeout_lines:
        lines += ["\t\ttimeouts {"] + [f"\t\t\t{line}" for line in timeout_lines] + ["\t\t}"]
    lines += [f"\t\tmax_header_size {header}", "\t}", "}", "", f"{site} {{", f"\treverse_proxy {' '.join(targets)} {{"]
    lines += [f"\t\trequest_buffers {request}"] if request else []
    lines += [f"\t\tresponse_buffers {response}"] if response else []
    if transport:
        lines += ["\t\ttransport http {"] + [f"\t\t\t{line}" for line in transport] + ["\t\t}"]
    lines += ["\t}", "}"]
    return {"lines": lines}


# The public filter and the render action call build_caddyfile itself: no plan, the site address first.
PRODUCT = Product(name="caddy", render=Renderer("caddy", build_caddyfile, None, (CaddyConfigError,)))
