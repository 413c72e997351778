# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The traefik role's variables, checked, as Traefik v3's static and dynamic (file provider)
configuration. Only keys upstream defines are emitted (UPSTREAM.md, "Traefik v3"); the unit
tests validate every output against SchemaStore's v3 schemas. KEY_VERSIONS says which Traefik
release first reads each key: a render for an older one is refused, naming the key."""

from __future__ import annotations

import re

from ._product import Product, Renderer
from ._variable_checks import duration_within_go, is_int, mapping, port_in_range

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
_UPSTREAM = re.compile(r"https?://(?:[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})/?")
UPSTREAM_FORM = "http://host:port, for example http://127.0.0.1:8000"
_ADDRESS = re.compile(r"(?:[0-9.]+|\[[0-9A-Fa-f:]+\])?:([0-9]{1,5})")
ADDRESS_FORM = "':80', '127.0.0.1:8081' or '[::1]:8081'"
_VERSION = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)")

# Every key path build_config can emit ('*': a name the role chooses, '[]': each item of a list; a mapping only when
# it is written empty, as a timeouts mapping can be) and the first
# Traefik release that reads it. Traefik exits at start on a static key it does not know ("field not found"), so
# the version the role installs must be at least the newest of these among the keys a render emits. Checked
# against Traefik's own sources (pkg/config/static, pkg/config/dynamic) at the v3.0.0 and v3.2.0 tags.
KEY_VERSIONS = {
    "static": {
        "entryPoints.*.address": "3.0.0",
        "entryPoints.*.transport.respondingTimeouts": "3.0.0",
        "entryPoints.*.transport.respondingTimeouts.readTimeout": "3.0.0",
        "entryPoints.*.transport.respondingTimeouts.writeTimeout": "3.0.0",
        "entryPoints.*.transport.respondingTimeouts.idleTimeout": "3.0.0",
        "entryPoints.*.http.maxHeaderBytes": "3.2.0",
        "serversTransport.maxIdleConnsPerHost": "3.0.0",
        "serversTransport.forwardingTimeouts": "3.0.0",
        "serversTransport.forwardingTimeouts.dialTimeout": "3.0.0",
        "serversTransport.forwardingTimeouts.responseHeaderTimeout": "3.0.0",
        "serversTransport.forwardingTimeouts.idleConnTimeout": "3.0.0",
        "providers.file.filename": "3.0.0",
        "providers.file.watch": "3.0.0",
        "log.level": "3.0.0",
        "global.checkNewVersion": "3.0.0",
        "global.sendAnonymousUsage": "3.0.0",
    },
    "dynamic": {
        "http.routers.*.rule": "3.0.0",
        "http.routers.*.entryPoints": "3.0.0",
        "http.routers.*.service": "3.0.0",
        "http.routers.*.middlewares": "3.0.0",
        "http.services.*.loadBalancer.servers[].url": "3.0.0",
        "http.middlewares.*.compress.encodings": "3.2.0",
    },
}
# Below this, the compress middleware prefers zstd and br when `encodings` is unset (3.2.0-3.3.4): the role always
# sets it, but a middleware the user adds would not; the role warns.
RECOMMENDED_VERSION = "3.3.5"
# The maps whose keys are names the role (or the user) chooses, not Traefik's own keys.
_NAMED = {"static": ("entryPoints",), "dynamic": ("http.routers", "http.services", "http.middlewares")}


class TraefikConfigError(ValueError):
    """A traefik role variable Traefik would refuse, or one the collection does not accept."""


def version_tuple(version: str) -> tuple:
    return tuple(int(part) for part in _VERSION.fullmatch(version).groups())


def key_paths(document, file: str) -> list:
    """The key paths of a rendered file, spelt as in KEY_VERSIONS."""
    paths = []

    def walk(node, path: str) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(value, f"{path}.*" if path in _NAMED[file] else f"{path}.{key}" if path else key)
        elif isinstance(node, list) and any(isinstance(item, dict) for item in node):
            for item in node:
                walk(item, f"{path}[]")
        else:
            paths.append(path)

    walk(document, "")
    return sorted(set(paths))


def _check_version(version, static: dict, dynamic: dict) -> str:
    """The oldest Traefik that reads every key of the two files; refuses a `version` older than that."""
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise TraefikConfigError(
            f"traefik_binary.version: {version!r} is not a release version; expected major.minor.patch, "
            f"like {RECOMMENDED_VERSION}"
        )
    needs = {}
    for file, document in (("static", static), ("dynamic", dynamic)):
        for path in key_paths(document, file):
            # A path missing from the table is the role's own mistake: KeyError, not a user refusal.
            needs.setdefault(KEY_VERSIONS[file][path], []).append(path)
    newest = max(needs, key=version_tuple)
    if version_tuple(version) < version_tuple(newest):
        raise TraefikConfigError(
            f"traefik_binary.version: {version!r} is older than {newest}, the first Traefik that reads "
            f"{' and '.join(needs[newest])}, which this configuration sets (Traefik exits at start on "
            f"a key it does not know); expected {newest} or later, {RECOMMENDED_VERSION} or later "
            "recommended"
        )
    return newest


def _durations(value, variable: str, keys: tuple) -> dict:
    checked = {}
    for key, duration in mapping(value, variable, TraefikConfigError, keys).items():
        if not isinstance(duration, str) or not _DURATION.fullmatch(duration):
            raise TraefikConfigError(f"{variable} key '{key}': {duration!r} is not {DURATION_FORM}")
        checked[key] = duration_within_go(duration, f"{variable} key '{key}'", TraefikConfigError, DURATION_FORM)
    return checked


def _count(value, variable: str, low: int, high: int, why: str) -> int:
    if not is_int(value) or not low <= value <= high:
        raise TraefikConfigError(f"{variable}: {value!r} is not an integer {low}..{high}; {why}")
    return value


def _encodings(value) -> list:
    if not isinstance(value, (list, tuple)) or not value:
        raise TraefikConfigError(
            f"traefik_compress_encodings: {value!r} is not a non-empty list; expected a list of "
            f"{', '.join(ENCODINGS)}, [gzip] by default (brotli costs hundreds of MB)"
        )
    for index, encoding in enumerate(value):
        if encoding not in ENCODINGS:
            raise TraefikConfigError(
                f"traefik_compress_encodings[{index}]: {encoding!r} is not an encoding Traefik has; "
                f"expected one of {', '.join(ENCODINGS)}"
            )
    if len(set(value)) != len(value):
        raise TraefikConfigError(f"traefik_compress_encodings: {list(value)!r} lists an encoding twice")
    return list(value)


def _upstreams(value) -> list:
    if not isinstance(value, (list, tuple)) or not value:
        raise TraefikConfigError(
            f"traefik_upstreams: {value!r} is not a non-empty list; expected a list of {UPSTREAM_FORM}"
        )
    for index, url in enumerate(value):
        match = _UPSTREAM.fullmatch(url) if isinstance(url, str) else None
        if not match:
            raise TraefikConfigError(
                f"traefik_upstreams[{index}]: {url!r} is not an upstream; expected {UPSTREAM_FORM}"
            )
        port_in_range(match[1], url, f"traefik_upstreams[{index}]", TraefikConfigError, UPSTREAM_FORM)
    return list(value)


def build_config(
    address,
    upstreams,
    responding_timeouts,
    forwarding_timeouts,
    max_header_bytes,
    max_idle_conns_per_host,
    compress=True,
    encodings=("gzip",),
    file_watch=False,
    dynamic_path="/etc/traefik/dynamic.yml",
    rule="PathPrefix(`/`)",
    log_level="INFO",
    *,
    version=None,
    check_new_version=False,
) -> dict:
    """{'static': {...}, 'dynamic': {...}, 'required_version', 'recommended_version'}: the two files the role
    writes, as data, once `version` (traefik_binary.version) is checked to read every key they set."""
    address_match = _ADDRESS.fullmatch(address) if isinstance(address, str) else None
    if not address_match:
        raise TraefikConfigError(f"traefik_address: {address!r} is not an entry point address; expected {ADDRESS_FORM}")
    port_in_range(address_match[1], address, "traefik_address", TraefikConfigError, ADDRESS_FORM)
    if not isinstance(file_watch, bool):
        raise TraefikConfigError(
            f"traefik_file_watch: {file_watch!r} is not a boolean; expected false (no watcher, "
            "the role restarts nothing for a new file) or true"
        )
    if not isinstance(check_new_version, bool):
        raise TraefikConfigError(
            f"traefik_check_new_version: {check_new_version!r} is not a boolean; expected false "
            "(Traefik asks its update server for a newer release at start and every day when true)"
        )
    if not isinstance(compress, bool):
        raise TraefikConfigError(f"traefik_compress: {compress!r} is not a boolean; expected true or false")
    if log_level not in LOG_LEVELS:
        raise TraefikConfigError(
            f"traefik_log_level: {log_level!r} is not a level; expected one of {', '.join(LOG_LEVELS)}"
        )
    if not isinstance(rule, str) or not rule or "\n" in rule:
        raise TraefikConfigError(
            f"traefik_router_rule: {rule!r} is not a rule; expected one line such as PathPrefix(`/`)"
        )
    if not isinstance(dynamic_path, str) or not dynamic_path.startswith("/"):
        raise TraefikConfigError(f"traefik_dynamic_path: {dynamic_path!r} is not an absolute path")
    entry_point = {
        "address": address,
        "transport": {
            "respondingTimeouts": _durations(responding_timeouts, "traefik_responding_timeouts", RESPONDING_KEYS)
        },
        "http": {
            "maxHeaderBytes": _count(
                max_header_bytes,
                "traefik_max_header_bytes",
                4096,
                1048576,
                "bytes of request headers (Traefik's default is 1048576)",
            )
        },
    }
    static = {
        "entryPoints": {"web": entry_point},
        "serversTransport": {
            "maxIdleConnsPerHost": _count(
                max_idle_conns_per_host,
                "traefik_max_idle_conns_per_host",
                1,
                MAX_IDLE_CONNS_PER_HOST,
                "each idle upstream connection holds ~128 KiB",
            ),
            "forwardingTimeouts": _durations(forwarding_timeouts, "traefik_forwarding_timeouts", FORWARDING_KEYS),
        },
        "providers": {"file": {"filename": dynamic_path, "watch": file_watch}},
        "log": {"level": log_level},
        # Traefik asks its update server for a newer release unless told not to; usage statistics are
        # off upstream and written off so that the file says so.
        "global": {"checkNewVersion": check_new_version, "sendAnonymousUsage": False},
    }
    router = {"rule": rule, "entryPoints": ["web"], "service": "app"}
    http = {
        "routers": {"app": router},
        "services": {"app": {"loadBalancer": {"servers": [{"url": url} for url in _upstreams(upstreams)]}}},
    }
    if compress:
        router["middlewares"] = ["compress"]
        http["middlewares"] = {"compress": {"compress": {"encodings": _encodings(encodings)}}}
    dynamic = {"http": http}
    required = _check_version(version, static, dynamic)
    return {
        "static": static,
        "dynamic": dynamic,
        "required_version": required,
        "recommended_version": RECOMMENDED_VERSION,
    }


PRODUCT = Product(name="traefik", render=Renderer("traefik", build_config, None, (TraefikConfigError,)))
