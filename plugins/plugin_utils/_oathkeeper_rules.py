# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""oathkeeper_access_rules, checked, as Ory Oathkeeper's access rules file.

Each rule names handlers config.yml enables (Oathkeeper refuses a rule that names a disabled
one); by default the first enabled one of each kind. URLs are checked as _oathkeeper.py
checks the handlers' own: one line, no spaces. The error and the URL forms live here, and _oathkeeper.py
imports them, so the two modules do not import each other.
"""

from __future__ import annotations

import re

from ._variable_checks import mapping

# An absolute http(s) URL of RFC 3986 characters, with a host: no whitespace, no control
# character (jsonschema's uri check lets a trailing newline through; Go's url.Parse does not).
URL = re.compile(r"https?://[A-Za-z0-9._~%!$&'()*+,;=:@\[\]-]+(?:[/?#][A-Za-z0-9._~%!$&'()*+,;=:@/?#\[\]-]*)?")
# A rule's match URL is a pattern (http://<.*>/<.*>): any printable characters but whitespace.
MATCH_PATTERN = re.compile(r"https?://[!-~]+")
URL_FORM = "an http(s) URL on one line, without spaces, such as http://127.0.0.1:4445/admin/oauth2/introspect"

_RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# The config.yml section each rule key names handlers from, by its role variable.
VARIABLES = {
    "authenticators": "oathkeeper_authenticators",
    "authorizer": "oathkeeper_authorizers",
    "mutators": "oathkeeper_mutators",
}
RULE_KEYS = ("id", "url", "methods", "upstream", "authenticators", "authorizer", "mutators")


class OathkeeperConfigError(ValueError):
    """An oathkeeper role variable that would emit a key Oathkeeper does not have, or a value it refuses."""


def checked_mapping(value, where: str, expected: str) -> dict:
    return mapping(value, where, OathkeeperConfigError, expected=expected)


def _rule_handlers(rule: dict, where: str, key: str, handlers: dict, many: bool):
    """The handlers a rule names (default: the first enabled one); only enabled ones, as Oathkeeper requires."""
    enabled = [name for name, handler in handlers.items() if handler["enabled"]]
    names = rule.get(key, [enabled[0]] if many else enabled[0])
    names = names if many else [names]
    expected = (
        f"{'a list of ' if many else 'one of '}the enabled {VARIABLES[key][len('oathkeeper_') :]}: {', '.join(enabled)}"
    )
    if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
        raise OathkeeperConfigError(f"{where} key '{key}': {rule.get(key)!r}; expected {expected}")
    for name in names:
        if name in handlers and not handlers[name]["enabled"]:
            raise OathkeeperConfigError(
                f"{where} key '{key}': '{name}' is disabled (enabled: false in "
                f"{VARIABLES[key]}) and Oathkeeper refuses a rule that names it; "
                f"expected {expected}"
            )
        if name not in enabled:
            raise OathkeeperConfigError(f"{where} key '{key}': {rule.get(key)!r}; expected {expected}")
    return [{"handler": name} for name in names] if many else {"handler": names[0]}


def build_rules(rules, authenticators, authorizers, mutators) -> list:
    """The access rules file as data: each rule names handlers the config enables."""
    if not isinstance(rules, list) or not rules:
        raise OathkeeperConfigError(f"oathkeeper_access_rules: {rules!r} is not a non-empty list of rules")
    seen, out = set(), []
    for index, rule in enumerate(rules):
        where = f"oathkeeper_access_rules[{index}]"
        rule = checked_mapping(
            rule, where, "a rule: a mapping with id, url, upstream and optionally methods and handlers"
        )
        for key in rule:
            if key not in RULE_KEYS:
                raise OathkeeperConfigError(f"{where} key '{key}': unknown key; accepted keys: {', '.join(RULE_KEYS)}")
        rule_id = rule.get("id")
        if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id) or rule_id in seen:
            raise OathkeeperConfigError(f"{where} key 'id': {rule_id!r} is not a unique id (letters, digits, _ . : -)")
        seen.add(rule_id)
        if not isinstance(rule.get("url"), str) or not MATCH_PATTERN.fullmatch(rule["url"]):
            raise OathkeeperConfigError(
                f"{where} key 'url': {rule.get('url')!r} is not an http(s) match pattern on one "
                "line, without spaces, such as http://<.*>/<.*>"
            )
        if not isinstance(rule.get("upstream"), str) or not URL.fullmatch(rule["upstream"]):
            raise OathkeeperConfigError(f"{where} key 'upstream': {rule.get('upstream')!r} is not {URL_FORM}")
        methods = rule.get("methods", ["GET", "HEAD"])
        if not isinstance(methods, list) or not methods or any(m not in METHODS for m in methods):
            raise OathkeeperConfigError(f"{where} key 'methods': {methods!r}; expected a list of {', '.join(METHODS)}")
        out.append(
            {
                "id": rule_id,
                "upstream": {"url": rule["upstream"]},
                "match": {"url": rule["url"], "methods": methods},
                "authenticators": _rule_handlers(rule, where, "authenticators", authenticators, True),
                "authorizer": _rule_handlers(rule, where, "authorizer", authorizers, False),
                "mutators": _rule_handlers(rule, where, "mutators", mutators, True),
            }
        )
    return out
