# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Ory Oathkeeper: its service key (introspection_cache), the token cache its budget holds, and the oathkeeper
role's variables, checked, as config.yml (the access rules file: _oathkeeper_rules.py).

Only keys Oathkeeper's schema defines can come out (UPSTREAM.md, "Ory Oathkeeper"): every
handler takes a fixed set of fields, and the popular ones that do not exist (a top-level
`cache`, `cleanup_interval`, `serve.proxy.max_idle_conns`) have no variable. The cache sizes
are the memory plan's: `max_cost` is ALWAYS written when oauth2_introspection is enabled,
because Oathkeeper sizes its cache from it (100000000 by default: ~4 GiB) even with the
cache disabled; `max_tokens` likewise for oauth2_client_credentials. The caches themselves
stay off, as upstream leaves them, unless the user enables them.

Nothing but the proxy listens beyond loopback unless the user opts in: the management API and
the Prometheus endpoint (which Oathkeeper always starts, on every interface when its host is
empty) get loopback hosts, and any other host is refused without its `*_expose` variable.
"""

from __future__ import annotations

import inspect
import ipaddress
import math
import re
from fractions import Fraction

from ._memory_sizes import MIB, MemoryBudgetError
from ._oathkeeper_rules import (
    URL,
    URL_FORM,
    OathkeeperConfigError,
    build_rules,
    checked_mapping,
)
from ._plan_input import plan_entries
from ._product import Product, Renderer, flag, service_unit
from ._variable_checks import duration_within_go, is_int

# Oathkeeper's own duration pattern (one number, one unit).
_DURATION = re.compile(r"[0-9]+(?:ns|us|ms|s|m|h)")
DURATION_FORM = "a duration with one unit, such as 5s, 2m or 120s"
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
LOOPBACK = ("127.0.0.1", "::1", "localhost")
PROXY_TIMEOUT_KEYS = ("read", "write", "idle")
LOG_LEVELS = ("panic", "fatal", "error", "warn", "info", "debug", "trace")
# The fields each handler takes, under its `config`; `enabled` is the handler's switch.
AUTHENTICATORS = {
    "noop": (),
    "anonymous": ("subject",),
    "oauth2_introspection": ("introspection_url", "required_scope", "target_audience", "trusted_issuers", "cache"),
    "oauth2_client_credentials": ("token_url", "required_scope", "cache"),
}
AUTHORIZERS = {"allow": (), "deny": (), "remote_json": ("remote", "payload", "headers")}
MUTATORS = {"noop": (), "header": ("headers",)}
REQUIRED = {
    "oauth2_introspection": ("introspection_url",),
    "oauth2_client_credentials": ("token_url",),
    "remote_json": ("remote", "payload"),
    "header": ("headers",),
}
URL_FIELDS = ("introspection_url", "token_url", "remote")
LIST_FIELDS = ("required_scope", "target_audience", "trusted_issuers")
CACHE_KEYS = ("enabled", "ttl")
CACHED = ("oauth2_introspection", "oauth2_client_credentials")
# What each handler list falls back to when empty, for the refusal's example.
EXAMPLE = {"authenticators": "noop", "authorizers": "allow", "mutators": "noop"}
# Keys write-ups put in config.yml that Oathkeeper does not have (or the plan owns): why each is refused.
NOT_A_KEY = {
    "max_cost": "the memory plan sets it (introspection_max_cost of the oathkeeper entry)",
    "max_tokens": "the memory plan sets it (introspection_max_cost of the oathkeeper entry)",
    "cleanup_interval": "Oathkeeper has no such key; its caches expire entries by ttl",
}
# The listeners besides the proxy: what each serves, for the refusal and the warning.
SERVES = {
    "api": "the management API (the access rules, /decisions, health; no authentication)",
    "prometheus": "the Prometheus endpoint (request metrics; no authentication)",
}


def _duration(value, where: str) -> str:
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        raise OathkeeperConfigError(f"{where}: {value!r} is not {DURATION_FORM}")
    # Oathkeeper reads it with Go's time.ParseDuration, which refuses more than 2^63-1 ns.
    return duration_within_go(value, where, OathkeeperConfigError, DURATION_FORM)


def _port(value, where: str) -> int:
    if not is_int(value) or not 1 <= value <= 65535:
        raise OathkeeperConfigError(f"{where}: {value!r} is not a port; expected an integer 1..65535")
    return value


def _bool(value, where: str) -> bool:
    if not isinstance(value, bool):
        raise OathkeeperConfigError(f"{where}: {value!r} is not a boolean; expected true or false")
    return value


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _host(value, what: str, expose) -> str:
    """serve.<what>.host: loopback, or any other address only with oathkeeper_<what>_expose."""
    variable, opt_in = f"oathkeeper_{what}_host", f"oathkeeper_{what}_expose"
    _bool(expose, opt_in)
    if not isinstance(value, str) or value and not (_is_address(value) or _HOSTNAME.fullmatch(value)):
        raise OathkeeperConfigError(
            f"{variable}: {value!r} is not a host; expected an IP address or a host name, such as 127.0.0.1"
        )
    if not _is_loopback(value) and not expose:
        where = "every interface (an empty host)" if value == "" else "not a loopback address"
        raise OathkeeperConfigError(
            f"{variable}: {value!r} is {where}: {SERVES[what]} would be reachable from other "
            f"hosts. Keep it on loopback ({', '.join(LOOPBACK)}), or set {opt_in}: true to "
            "listen there"
        )
    return value


def exposed(config: dict) -> list:
    """One warning per listener besides the proxy that the user opted to put beyond loopback."""
    warnings = []
    for what in SERVES:
        serve = config["serve"][what]
        if not _is_loopback(serve["host"]):
            warnings.append(
                f"oathkeeper: {SERVES[what]} listens on {serve['host'] or 'every interface'} port "
                f"{serve['port']} (oathkeeper_{what}_expose: true); anyone who reaches it can use it, "
                "so firewall it"
            )
    return warnings


def check_environment(environment, telemetry_enabled) -> None:
    """The role sets SQA_OPT_OUT from oathkeeper_telemetry_enabled; a second source would contradict it."""
    _bool(telemetry_enabled, "oathkeeper_telemetry_enabled")
    if "SQA_OPT_OUT" in checked_mapping(environment, "oathkeeper_environment", "a mapping of variable names to values"):
        raise OathkeeperConfigError(
            "oathkeeper_environment key 'SQA_OPT_OUT': refused; the role sets it from "
            "oathkeeper_telemetry_enabled (false, the default, sets SQA_OPT_OUT=true)"
        )


def _cache(value, where: str, size_key: str, size) -> dict:
    cache = checked_mapping(value, where, "a mapping such as {enabled: true, ttl: 30s}")
    for key in cache:
        if key not in CACHE_KEYS:
            why = NOT_A_KEY.get(key, f"accepted keys: {', '.join(CACHE_KEYS)}")
            raise OathkeeperConfigError(f"{where} key '{key}': refused; {why}")
    # Off unless the user turns it on, as upstream leaves it: a cached token stays valid after its revocation.
    out = {"enabled": _bool(cache.get("enabled", False), f"{where} key 'enabled'")}
    out["ttl"] = _duration(cache.get("ttl", "60s"), f"{where} key 'ttl'")
    out[size_key] = size
    return out


def _field(key: str, value, where: str):
    if key in URL_FIELDS:
        if not isinstance(value, str) or not URL.fullmatch(value):
            raise OathkeeperConfigError(f"{where} key '{key}': {value!r} is not {URL_FORM}")
    elif key in LIST_FIELDS:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise OathkeeperConfigError(f"{where} key '{key}': {value!r} is not a list of strings, such as [api]")
    elif key == "headers":
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise OathkeeperConfigError(f"{where} key 'headers': {value!r} is not a mapping of header names to strings")
    elif not isinstance(value, str) or not value:
        raise OathkeeperConfigError(f"{where} key '{key}': {value!r} is not a non-empty string")
    return value


def _handler(kind: str, name: str, raw, fields: tuple, sizes: dict) -> dict:
    where = f"oathkeeper_{kind}.{name}"
    raw = checked_mapping(raw, where, f"a mapping of enabled and the {name} handler's fields, or {{}}")
    for key in raw:
        if key != "enabled" and key not in fields:
            why = NOT_A_KEY.get(key, f"accepted keys: {', '.join(('enabled',) + fields)}")
            raise OathkeeperConfigError(f"{where} key '{key}': refused; {why}")
    enabled = _bool(raw.get("enabled", True), f"{where} key 'enabled'")
    for key in REQUIRED.get(name, ()) if enabled else ():
        if key not in raw:
            raise OathkeeperConfigError(f"{where} key '{key}': required for the {name} handler")
    config = {key: _field(key, raw[key], where) for key in fields if key in raw and key != "cache"}
    if name in sizes:
        # Written whether or not the cache is enabled: Oathkeeper allocates it either way.
        size_key, size = sizes[name]
        config["cache"] = _cache(raw.get("cache", {}), f"{where} key 'cache'", size_key, size)
    if not enabled:
        # Checked like an enabled one, but not written: Oathkeeper's schema skips a disabled handler's config.
        return {"enabled": False}
    return {"enabled": True, "config": config} if fields else {"enabled": True}


def _handlers(kind: str, value, known: dict, sizes: dict) -> dict:
    example = f"{{{EXAMPLE[kind]}: {{}}}}"
    handlers = checked_mapping(
        value, f"oathkeeper_{kind}", f"a mapping of handler names to their fields, such as {example}"
    )
    out = {}
    for name, raw in handlers.items():
        if name not in known:
            raise OathkeeperConfigError(
                f"oathkeeper_{kind}.{name}: not a handler this role configures; accepted: {', '.join(known)}"
            )
        out[name] = _handler(kind, name, raw, known[name], sizes)
    if not any(handler["enabled"] for handler in out.values()):
        raise OathkeeperConfigError(
            f"oathkeeper_{kind}: {'no handler' if not out else 'every handler is disabled'}; "
            f"expected at least one enabled handler, such as {example} (every rule needs one)"
        )
    return out


def build_config(
    proxy_port=4455,
    proxy_timeouts=None,
    api_host="127.0.0.1",
    api_port=4456,
    authenticators=None,
    authorizers=None,
    mutators=None,
    rules_path="/etc/oathkeeper/rules.yml",
    log_level="info",
    introspection_max_cost=None,
    prometheus_host="127.0.0.1",
    prometheus_port=9000,
    api_expose=False,
    prometheus_expose=False,
) -> dict:
    """config.yml as data; introspection_max_cost is the memory plan's (None: the plan gives none)."""
    authenticators = {"noop": {}} if authenticators is None else authenticators
    needs_cache = any(
        isinstance(raw, dict) and raw.get("enabled", True) is True
        for name, raw in checked_mapping(
            authenticators,
            "oathkeeper_authenticators",
            "a mapping of handler names to their fields, such as {noop: {}}",
        ).items()
        if name in CACHED
    )
    if needs_cache and introspection_max_cost is None:
        raise OathkeeperConfigError(
            "smallvps_services: the oathkeeper entry has no introspection_cache: true, so the "
            "memory plan gives no cache size; Oathkeeper would size its cache at 100000000 "
            "entries (~4 GiB). Add introspection_cache: true to the entry"
        )
    if needs_cache and (not is_int(introspection_max_cost) or introspection_max_cost <= 0):
        raise OathkeeperConfigError(
            f"smallvps_services: the plan's introspection_max_cost {introspection_max_cost!r} is "
            "not an integer > 0; max_cost 0 makes Oathkeeper fall back to 100000000"
        )
    sizes = {
        "oauth2_introspection": ("max_cost", introspection_max_cost),
        "oauth2_client_credentials": ("max_tokens", introspection_max_cost),
    }
    timeouts = checked_mapping(
        {"read": "5s", "write": "120s", "idle": "120s"} if proxy_timeouts is None else proxy_timeouts,
        "oathkeeper_proxy_timeouts",
        "a mapping such as {read: 5s, write: 120s, idle: 120s}",
    )
    for key in timeouts:
        if key not in PROXY_TIMEOUT_KEYS:
            raise OathkeeperConfigError(
                f"oathkeeper_proxy_timeouts key '{key}': unknown key; accepted keys: "
                f"{', '.join(PROXY_TIMEOUT_KEYS)} (serve.proxy has no connection-pool keys)"
            )
    ports = {
        "oathkeeper_proxy_port": _port(proxy_port, "oathkeeper_proxy_port"),
        "oathkeeper_api_port": _port(api_port, "oathkeeper_api_port"),
        "oathkeeper_prometheus_port": _port(prometheus_port, "oathkeeper_prometheus_port"),
    }
    for variable, others in (
        ("oathkeeper_api_port", ("oathkeeper_proxy_port",)),
        ("oathkeeper_prometheus_port", ("oathkeeper_proxy_port", "oathkeeper_api_port")),
    ):
        for other in others:
            if ports[variable] == ports[other]:
                raise OathkeeperConfigError(
                    f"{variable}: {ports[variable]} is also {other}; Oathkeeper cannot bind "
                    "one port for two listeners: expected different ports"
                )
    if log_level not in LOG_LEVELS:
        raise OathkeeperConfigError(
            f"oathkeeper_log_level: {log_level!r} is not a level; expected one of {', '.join(LOG_LEVELS)}"
        )
    if not isinstance(rules_path, str) or not rules_path.startswith("/") or any(c.isspace() for c in rules_path):
        raise OathkeeperConfigError(f"oathkeeper_rules_path: {rules_path!r} is not an absolute path without spaces")
    return {
        "serve": {
            "proxy": {
                "port": proxy_port,
                "timeout": {
                    key: _duration(value, f"oathkeeper_proxy_timeouts key '{key}'") for key, value in timeouts.items()
                },
            },
            "api": {"host": _host(api_host, "api", api_expose), "port": api_port},
            "prometheus": {"host": _host(prometheus_host, "prometheus", prometheus_expose), "port": prometheus_port},
        },
        "access_rules": {"repositories": [f"file://{rules_path}"]},
        "authenticators": _handlers("authenticators", authenticators, AUTHENTICATORS, sizes),
        "authorizers": _handlers("authorizers", {"allow": {}} if authorizers is None else authorizers, AUTHORIZERS, {}),
        "mutators": _handlers("mutators", {"noop": {}} if mutators is None else mutators, MUTATORS, {}),
        "log": {"level": log_level},
    }


# The planner's side: the service key and the cache size.
KEYS = {"introspection_cache": {"type": "bool", "default": False, "runtime": "go"}}
# oauth2_introspection cache (ristretto): every entry has cost 1, so max_cost is an entry count. One entry ~ 2 KiB
# (token|introspection_url key, JSON introspection result, store item) + 10 counters x (2 B count-min sketch
# + ~1.2 B doorkeeper bloom) doubled for power-of-two rounding = 64 B.
INTROSPECTION_CACHE_SHARE = Fraction(1, 10)
INTROSPECTION_ENTRY_BYTES = 2048 + 64
INTROSPECTION_MIN_MAX_COST = 1000
UNIT = "oathkeeper.service"


def parse(raw: dict, name: str, runtime: str) -> dict:
    return {"introspection_cache": flag(raw, name, "introspection_cache", KEYS["introspection_cache"]["default"])}


def introspection_max_cost(budget_bytes: int) -> int:
    return max(
        INTROSPECTION_MIN_MAX_COST, math.floor(INTROSPECTION_CACHE_SHARE * budget_bytes / INTROSPECTION_ENTRY_BYTES)
    )


def sizes(service, limit_mb: int, context) -> dict:
    if not service.introspection_cache:
        return {}
    return {"introspection_max_cost": introspection_max_cost(limit_mb * MIB)}


class _BuildConfigDefault:
    """An option config_files passes to build_config only when given: its default is build_config's alone."""

    def __repr__(self) -> str:
        return "build_config's default"


BUILD_CONFIG_DEFAULT = _BuildConfigDefault()
# build_config's options that config_files passes through; introspection_max_cost is the plan entry's.
BUILD_CONFIG_OPTIONS = tuple(
    name for name in inspect.signature(build_config).parameters if name != "introspection_max_cost"
)


def config_files(
    plan_entry,
    proxy_port=BUILD_CONFIG_DEFAULT,
    proxy_timeouts=BUILD_CONFIG_DEFAULT,
    api_host=BUILD_CONFIG_DEFAULT,
    api_port=BUILD_CONFIG_DEFAULT,
    authenticators=BUILD_CONFIG_DEFAULT,
    authorizers=BUILD_CONFIG_DEFAULT,
    mutators=BUILD_CONFIG_DEFAULT,
    rules=None,
    rules_path=BUILD_CONFIG_DEFAULT,
    log_level=BUILD_CONFIG_DEFAULT,
    prometheus_host=BUILD_CONFIG_DEFAULT,
    prometheus_port=BUILD_CONFIG_DEFAULT,
    api_expose=BUILD_CONFIG_DEFAULT,
    prometheus_expose=BUILD_CONFIG_DEFAULT,
    telemetry_enabled=False,
    environment=None,
):
    """The public filter's function: config.yml, the access rules and the warnings, from Oathkeeper's plan entry.
    The positional order is the filter's (rules among build_config's options); what is not given gets
    build_config's default."""
    # First, while the locals are the parameters.
    given = {
        name: value
        for name, value in locals().items()
        if name in BUILD_CONFIG_OPTIONS and value is not BUILD_CONFIG_DEFAULT
    }
    if not isinstance(plan_entry, dict):
        raise OathkeeperConfigError(
            "smallvps_services: no memory plan entry for Oathkeeper; add one such as "
            "{name: oathkeeper, tier: 1, runtime: go, min: 64M, introspection_cache: true}"
        )
    check_environment({} if environment is None else environment, telemetry_enabled)
    config = build_config(introspection_max_cost=plan_entry.get("introspection_max_cost"), **given)
    rules = build_rules(rules, config["authenticators"], config["authorizers"], config["mutators"])
    return {"config": config, "rules": rules, "warnings": exposed(config)}


def oathkeeper_from_plan(plan, unit=UNIT, **options):
    """The render action's function: config_files on the entry of `unit` (oathkeeper_service: a service name
    or unit) in the whole plan; no plan or no such entry is the filter's refusal of a missing entry."""
    entry = None
    if plan is not None:
        wanted = service_unit(unit) if isinstance(unit, str) and unit else unit
        entry = next((each for each in plan_entries(plan, "oathkeeper_config") if each["unit"] == wanted), None)
    return config_files(entry, **options)


PRODUCT = Product(
    name="oathkeeper",
    keys=KEYS,
    parse=parse,
    sizes=sizes,
    table_keys=("introspection_max_cost",),
    render=Renderer(
        "oathkeeper",
        oathkeeper_from_plan,
        "plan",
        (OathkeeperConfigError, MemoryBudgetError),
        extra_options=("unit",) + tuple(inspect.signature(config_files).parameters)[1:],
    ),
)
