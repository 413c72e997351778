# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The oathkeeper role's variables, checked, as Ory Oathkeeper's config.yml.

Only keys Oathkeeper's schema defines can come out (UPSTREAM.md, "Ory Oathkeeper"): every
handler takes a fixed set of fields, and the popular ones that do not exist (a top-level
`cache`, `cleanup_interval`, `serve.proxy.max_idle_conns`) have no variable. The cache sizes
are the memory plan's: `max_cost` is ALWAYS written when oauth2_introspection is configured,
because Oathkeeper sizes its cache from it (100000000 by default: ~4 GiB) even with the
cache disabled; `max_tokens` likewise for oauth2_client_credentials.
"""

from __future__ import annotations

import re

from .variable_checks import is_int, mapping

# Oathkeeper's own duration pattern (one number, one unit).
_DURATION = re.compile(r"[0-9]+(?:ns|us|ms|s|m|h)")
DURATION_FORM = "a duration with one unit, such as 5s, 2m or 120s"
_URL = re.compile(r"https?://[^\s]+")
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
REQUIRED = {"oauth2_introspection": ("introspection_url",), "oauth2_client_credentials": ("token_url",),
            "remote_json": ("remote", "payload"), "header": ("headers",)}
CACHE_KEYS = ("enabled", "ttl")
# Keys write-ups put in config.yml that Oathkeeper does not have (or the plan owns): why each is refused.
NOT_A_KEY = {
    "max_cost": "the memory plan sets it (introspection_max_cost of the oathkeeper entry)",
    "max_tokens": "the memory plan sets it (introspection_max_cost of the oathkeeper entry)",
    "cleanup_interval": "Oathkeeper has no such key; its caches expire entries by ttl",
}


class OathkeeperConfigError(ValueError):
    """An oathkeeper role variable that would emit a key Oathkeeper does not have, or a value it refuses."""


def _duration(value, where: str) -> str:
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        raise OathkeeperConfigError(f"{where}: {value!r} is not {DURATION_FORM}")
    return value


def _port(value, where: str) -> int:
    if not is_int(value) or not 1 <= value <= 65535:
        raise OathkeeperConfigError(f"{where}: {value!r} is not a port; expected an integer 1..65535")
    return value


def _mapping(value, where: str) -> dict:
    return mapping(value, where, OathkeeperConfigError)


def _cache(value, where: str, size_key: str, size: int) -> dict:
    cache = _mapping(value, where)
    for key in cache:
        if key not in CACHE_KEYS:
            why = NOT_A_KEY.get(key, f"accepted keys: {', '.join(CACHE_KEYS)}")
            raise OathkeeperConfigError(f"{where} key '{key}': refused; {why}")
    out = {"enabled": cache.get("enabled", True)}
    if not isinstance(out["enabled"], bool):
        raise OathkeeperConfigError(f"{where} key 'enabled': {out['enabled']!r} is not a boolean")
    out["ttl"] = _duration(cache.get("ttl", "60s"), f"{where} key 'ttl'")
    out[size_key] = size
    return out


def _handler(kind: str, name: str, raw, fields: tuple, sizes: dict) -> dict:
    where = f"oathkeeper_{kind}.{name}"
    raw = _mapping(raw, where)
    for key in raw:
        if key != "enabled" and key not in fields:
            why = NOT_A_KEY.get(key, f"accepted keys: {', '.join(('enabled',) + fields)}")
            raise OathkeeperConfigError(f"{where} key '{key}': refused; {why}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise OathkeeperConfigError(f"{where} key 'enabled': {enabled!r} is not a boolean")
    for key in REQUIRED.get(name, ()):
        if key not in raw:
            raise OathkeeperConfigError(f"{where} key '{key}': required for the {name} handler")
    config = {}
    for key in fields:
        if key not in raw:
            continue
        value = raw[key]
        if key in ("introspection_url", "token_url", "remote"):
            if not isinstance(value, str) or not _URL.fullmatch(value):
                raise OathkeeperConfigError(f"{where} key '{key}': {value!r} is not an http(s) URL")
        elif key in ("required_scope", "trusted_issuers"):
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise OathkeeperConfigError(f"{where} key '{key}': {value!r} is not a list of strings")
        elif key == "headers":
            if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                raise OathkeeperConfigError(f"{where} key 'headers': {value!r} is not a mapping of header names to strings")
        elif key == "cache":
            continue
        elif not isinstance(value, str) or not value:
            raise OathkeeperConfigError(f"{where} key '{key}': {value!r} is not a non-empty string")
        config[key] = value
    if name in sizes:
        # Written whether or not the cache is enabled: Oathkeeper allocates it either way.
        size_key, size = sizes[name]
        config["cache"] = _cache(raw.get("cache", {}), f"{where} key 'cache'", size_key, size)
    handler = {"enabled": enabled}
    if config or (enabled and fields):
        handler["config"] = config
    return handler


def _handlers(kind: str, value, known: dict, sizes: dict) -> dict:
    handlers = _mapping(value, f"oathkeeper_{kind}")
    out = {}
    for name, raw in handlers.items():
        if name not in known:
            raise OathkeeperConfigError(f"oathkeeper_{kind}.{name}: not a handler this role configures; accepted: "
                                        f"{', '.join(known)}")
        out[name] = _handler(kind, name, raw, known[name], sizes)
    return out


def build_config(proxy_port=4455, proxy_timeouts=None, api_host="127.0.0.1", api_port=4456, authenticators=None,
                 authorizers=None, mutators=None, rules_path="/etc/oathkeeper/rules.yml", log_level="info",
                 introspection_max_cost=None) -> dict:
    """config.yml as data; introspection_max_cost is the memory plan's (None: the plan gives none)."""
    authenticators = {"noop": {}} if authenticators is None else authenticators
    needs_cache = any(name in _mapping(authenticators, "oathkeeper_authenticators")
                      for name in ("oauth2_introspection", "oauth2_client_credentials"))
    if needs_cache and introspection_max_cost is None:
        raise OathkeeperConfigError("smallvps_services: the oathkeeper entry has no introspection_cache: true, so the "
                                    "memory plan gives no cache size; Oathkeeper would size its cache at 100000000 "
                                    "entries (~4 GiB). Add introspection_cache: true to the entry")
    if needs_cache and (not is_int(introspection_max_cost) or introspection_max_cost <= 0):
        raise OathkeeperConfigError(f"smallvps_services: the plan's introspection_max_cost {introspection_max_cost!r} is "
                                    "not an integer > 0; max_cost 0 makes Oathkeeper fall back to 100000000")
    sizes = {"oauth2_introspection": ("max_cost", introspection_max_cost),
             "oauth2_client_credentials": ("max_tokens", introspection_max_cost)}
    timeouts = _mapping({"read": "5s", "write": "120s", "idle": "120s"} if proxy_timeouts is None else proxy_timeouts,
                        "oathkeeper_proxy_timeouts")
    for key in timeouts:
        if key not in PROXY_TIMEOUT_KEYS:
            raise OathkeeperConfigError(f"oathkeeper_proxy_timeouts key '{key}': unknown key; accepted keys: "
                                        f"{', '.join(PROXY_TIMEOUT_KEYS)} (serve.proxy has no connection-pool keys)")
    if not isinstance(api_host, str) or not api_host:
        raise OathkeeperConfigError(f"oathkeeper_api_host: {api_host!r} is not a host; expected 127.0.0.1 (loopback)")
    if log_level not in LOG_LEVELS:
        raise OathkeeperConfigError(f"oathkeeper_log_level: {log_level!r} is not a level; expected one of {', '.join(LOG_LEVELS)}")
    if not isinstance(rules_path, str) or not rules_path.startswith("/"):
        raise OathkeeperConfigError(f"oathkeeper_rules_path: {rules_path!r} is not an absolute path")
    return {
        "serve": {
            "proxy": {"port": _port(proxy_port, "oathkeeper_proxy_port"),
                      "timeout": {key: _duration(value, f"oathkeeper_proxy_timeouts key '{key}'") for key, value in timeouts.items()}},
            "api": {"host": api_host, "port": _port(api_port, "oathkeeper_api_port")},
        },
        "access_rules": {"repositories": [f"file://{rules_path}"]},
        "authenticators": _handlers("authenticators", authenticators, AUTHENTICATORS, sizes),
        "authorizers": _handlers("authorizers", {"allow": {}} if authorizers is None else authorizers, AUTHORIZERS, {}),
        "mutators": _handlers("mutators", {"noop": {}} if mutators is None else mutators, MUTATORS, {}),
        "log": {"level": log_level},
    }


_RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
RULE_KEYS = ("id", "url", "methods", "upstream", "authenticators", "authorizer", "mutators")


def build_rules(rules, authenticators, authorizers, mutators) -> list:
    """The access rules file as data: each rule names handlers the config enables."""
    if not isinstance(rules, list) or not rules:
        raise OathkeeperConfigError(f"oathkeeper_access_rules: {rules!r} is not a non-empty list of rules")
    seen, out = set(), []
    for index, rule in enumerate(rules):
        where = f"oathkeeper_access_rules[{index}]"
        rule = _mapping(rule, where)
        for key in rule:
            if key not in RULE_KEYS:
                raise OathkeeperConfigError(f"{where} key '{key}': unknown key; accepted keys: {', '.join(RULE_KEYS)}")
        rule_id = rule.get("id")
        if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id) or rule_id in seen:
            raise OathkeeperConfigError(f"{where} key 'id': {rule_id!r} is not a unique id (letters, digits, _ . : -)")
        seen.add(rule_id)
        for key in ("url", "upstream"):
            if not isinstance(rule.get(key), str) or not rule[key].startswith(("http://", "https://")):
                raise OathkeeperConfigError(f"{where} key '{key}': {rule.get(key)!r} is not an http(s) URL (a match "
                                            "pattern such as http://<.*>/<.*> for url)")
        methods = rule.get("methods", ["GET", "HEAD"])
        if not isinstance(methods, list) or not methods or any(m not in METHODS for m in methods):
            raise OathkeeperConfigError(f"{where} key 'methods': {methods!r}; expected a list of {', '.join(METHODS)}")

        def handlers(key, enabled, many):
            names = rule.get(key, [next(iter(enabled))] if many else next(iter(enabled)))
            names = names if many else [names]
            if not isinstance(names, list) or not names or any(n not in enabled for n in names):
                raise OathkeeperConfigError(f"{where} key '{key}': {rule.get(key)!r}; expected "
                                            f"{'a list of ' if many else 'one of '}the configured {key}: {', '.join(enabled)}")
            return [{"handler": n} for n in names] if many else {"handler": names[0]}

        out.append({"id": rule_id, "upstream": {"url": rule["upstream"]},
                    "match": {"url": rule["url"], "methods": methods},
                    "authenticators": handlers("authenticators", authenticators, True),
                    "authorizer": handlers("authorizer", authorizers, False),
                    "mutators": handlers("mutators", mutators, True)})
    return out
