# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The traefik role's variables, checked, as Traefik v3's static and dynamic (file provider)
configuration. Only keys upstream defines are emitted (UPSTREAM.md, "Traefik v3"); the unit
tests validate every output against SchemaStore's v3 schemas."""

from __future__ import annotations

import re

from .variable_checks import is_int, mapping

# Go's time.ParseDuration forms: 10s, 1m30s, 500ms.
_DURATION = re.compile(r"(?:[0-9]+(?:ns|us|ms|s|m|h))+")
DURATION_FORM = "a Go duration such as 10s, 90s, 1m30s or 500ms"
# Compress middleware encodings Traefik knows (v3.2.0+). Per-encoder memory in user reports:
# gzip 20-30 MB, zstd 60-80 MB, brotli 350-500 MB.
ENCODINGS = ("gzip", "br", "zstd")
RESPONDING_KEYS = ("readTimeout", "writeTimeout", "idleTimeout")
FORWARDING_KEYS = ("dialTimeout", "responseHeaderTimeout", "idleConnTimeout")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "PANIC")
# Upstream's default is 200 idle connections per host, each holding ~128 KiB of buffers.
MAX_IDLE_CONNS_PER_HOST = 200
_UPSTREAM = re.compile(r"https?://(?:[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}/?")
UPSTREAM_FORM = "http://host:port, for example http://127.0.0.1:8000"
_ADDRESS = re.compile(r"(?:[0-9.]+|\[[0-9A-Fa-f:]+\])?:[0-9]{1,5}")


class TraefikConfigError(ValueError):
    """A traefik role variable Traefik would refuse, or one the collection does not accept."""


def _durations(value, variable: str, keys: tuple) -> dict:
    checked = {}
    for key, duration in mapping(value, variable, TraefikConfigError, keys).items():
        if not isinstance(duration, str) or not _DURATION.fullmatch(duration):
            raise TraefikConfigError(f"{variable} key '{key}': {duration!r} is not {DURATION_FORM}")
        checked[key] = duration
    return checked


def _count(value, variable: str, low: int, high: int, why: str) -> int:
    if not is_int(value) or not low <= value <= high:
        raise TraefikConfigError(f"{variable}: {value!r} is not an integer {low}..{high}; {why}")
    return value


def _encodings(value) -> list:
    if not isinstance(value, (list, tuple)) or not value:
        raise TraefikConfigError(f"traefik_compress_encodings: {value!r} is not a non-empty list; expected a list of "
                                 f"{', '.join(ENCODINGS)}, [gzip] by default (brotli costs hundreds of MB)")
    for index, encoding in enumerate(value):
        if encoding not in ENCODINGS:
            raise TraefikConfigError(f"traefik_compress_encodings[{index}]: {encoding!r} is not an encoding Traefik has; "
                                     f"expected one of {', '.join(ENCODINGS)}")
    if len(set(value)) != len(value):
        raise TraefikConfigError(f"traefik_compress_encodings: {list(value)!r} lists an encoding twice")
    return list(value)


def _upstreams(value) -> list:
    if not isinstance(value, (list, tuple)) or not value:
        raise TraefikConfigError(f"traefik_upstreams: {value!r} is not a non-empty list; expected a list of {UPSTREAM_FORM}")
    for index, url in enumerate(value):
        if not isinstance(url, str) or not _UPSTREAM.fullmatch(url):
            raise TraefikConfigError(f"traefik_upstreams[{index}]: {url!r} is not an upstream; expected {UPSTREAM_FORM}")
    return list(value)


def build_config(address, upstreams, responding_timeouts, forwarding_timeouts, max_header_bytes, max_idle_conns_per_host,
                 compress=True, encodings=("gzip",), file_watch=False, dynamic_path="/etc/traefik/dynamic.yml",
                 rule="PathPrefix(`/`)", log_level="INFO") -> dict:
    """{'static': {...}, 'dynamic': {...}}: the two files the role writes, as data."""
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
        raise TraefikConfigError(f"traefik_address: {address!r} is not an entry point address; expected ':80', "
                                 "'127.0.0.1:8081' or '[::1]:8081'")
    if not isinstance(file_watch, bool):
        raise TraefikConfigError(f"traefik_file_watch: {file_watch!r} is not a boolean; expected false (no watcher, "
                                 "the role restarts nothing for a new file) or true")
    if not isinstance(compress, bool):
        raise TraefikConfigError(f"traefik_compress: {compress!r} is not a boolean; expected true or false")
    if log_level not in LOG_LEVELS:
        raise TraefikConfigError(f"traefik_log_level: {log_level!r} is not a level; expected one of {', '.join(LOG_LEVELS)}")
    if not isinstance(rule, str) or not rule or "\n" in rule:
        raise TraefikConfigError(f"traefik_router_rule: {rule!r} is not a rule; expected one line such as PathPrefix(`/`)")
    if not isinstance(dynamic_path, str) or not dynamic_path.startswith("/"):
        raise TraefikConfigError(f"traefik_dynamic_path: {dynamic_path!r} is not an absolute path")
    entry_point = {
        "address": address,
        "transport": {"respondingTimeouts": _durations(responding_timeouts, "traefik_responding_timeouts", RESPONDING_KEYS)},
        "http": {"maxHeaderBytes": _count(max_header_bytes, "traefik_max_header_bytes", 4096, 1048576,
                                          "bytes of request headers (Traefik's default is 1048576)")},
    }
    static = {
        "entryPoints": {"web": entry_point},
        "serversTransport": {
            "maxIdleConnsPerHost": _count(max_idle_conns_per_host, "traefik_max_idle_conns_per_host", 1,
                                          MAX_IDLE_CONNS_PER_HOST, "each idle upstream connection holds ~128 KiB"),
            "forwardingTimeouts": _durations(forwarding_timeouts, "traefik_forwarding_timeouts", FORWARDING_KEYS),
        },
        "providers": {"file": {"filename": dynamic_path, "watch": file_watch}},
        "log": {"level": log_level},
    }
    router = {"rule": rule, "entryPoints": ["web"], "service": "app"}
    http = {"routers": {"app": router},
            "services": {"app": {"loadBalancer": {"servers": [{"url": url} for url in _upstreams(upstreams)]}}}}
    if compress:
        router["middlewares"] = ["compress"]
        http["middlewares"] = {"compress": {"compress": {"encodings": _encodings(encodings)}}}
    return {"static": static, "dynamic": {"http": http}}
