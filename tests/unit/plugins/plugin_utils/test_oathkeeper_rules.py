# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""oathkeeper_access_rules as the access rules file: the structure Oathkeeper reads, unique ids, and
only handlers config.yml enables (Oathkeeper refuses a rule that names a disabled one)."""

from __future__ import annotations

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._oathkeeper import (
    OathkeeperConfigError,
    build_config,
)
from ansible_collections.smallvps.hardening.plugins.plugin_utils._oathkeeper_rules import build_rules

APP = {"id": "app", "url": "http://<.*>/<.*>", "upstream": "http://127.0.0.1:8000"}
# Disabled handlers listed first: the default must still be an enabled one.
MIXED = {
    "authenticators": {"anonymous": {"enabled": False}, "noop": {}},
    "authorizers": {"deny": {"enabled": False}, "allow": {}},
    "mutators": {"header": {"enabled": False}, "noop": {}},
}


def rules_file_errors(rules, config: dict) -> list[str]:
    """What Oathkeeper would refuse in an access rules file, given the config.yml it runs with."""
    found = [] if isinstance(rules, list) and rules else ["(top): not a non-empty list"]
    enabled = {
        kind: {name for name, handler in config[kind].items() if handler["enabled"]}
        for kind in ("authenticators", "authorizers", "mutators")
    }
    ids = [rule.get("id") for rule in rules if isinstance(rule, dict)] if isinstance(rules, list) else []
    found += [f"id {rule_id!r}: not unique" for rule_id in sorted(set(ids), key=str) if ids.count(rule_id) > 1]
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        if set(rule) != {"id", "upstream", "match", "authenticators", "authorizer", "mutators"}:
            found.append(f"[{index}]: keys {sorted(rule)}")
            continue
        if not isinstance(rule["id"], str) or not rule["id"]:
            found.append(f"[{index}].id: not a non-empty string")
        if set(rule["upstream"]) != {"url"} or set(rule["match"]) != {"url", "methods"}:
            found.append(f"[{index}]: upstream {rule['upstream']!r} / match {rule['match']!r}")
        if any(
            any(c.isspace() for c in url) for url in (rule["upstream"].get("url", ""), rule["match"].get("url", ""))
        ):
            found.append(f"[{index}]: whitespace in a URL")
        named = {
            "authenticators": rule["authenticators"],
            "authorizers": [rule["authorizer"]],
            "mutators": rule["mutators"],
        }
        for kind, handlers in named.items():
            if not isinstance(handlers, list) or not handlers or any(set(h) != {"handler"} for h in handlers):
                found.append(f"[{index}].{kind}: {handlers!r} is not a non-empty list of {{handler: name}}")
                continue
            found += [
                f"[{index}].{kind}: {h['handler']!r} is not enabled in config.yml"
                for h in handlers
                if h["handler"] not in enabled[kind]
            ]
    return found


def _files(rules, **handlers):
    config = build_config(**handlers)
    return build_rules(rules, config["authenticators"], config["authorizers"], config["mutators"]), config


RULE_SETS = {
    "defaults": ([APP], {}),
    "disabled handlers listed first": ([APP], MIXED),
    "every key": (
        [
            {
                **APP,
                "methods": ["GET", "POST"],
                "authenticators": ["noop", "anonymous"],
                "authorizer": "allow",
                "mutators": ["header"],
            },
            {"id": "health", "url": "https://<.*>/health", "upstream": "https://app.example/"},
        ],
        {
            "authenticators": {"noop": {}, "anonymous": {"subject": "guest"}},
            "mutators": {"noop": {}, "header": {"headers": {"X-User": "{{ print .Subject }}"}}},
        },
    ),
}


@pytest.mark.parametrize(("rules", "handlers"), RULE_SETS.values(), ids=RULE_SETS.keys())
def test_rendered_rules_files_are_ones_oathkeeper_reads(rules, handlers):
    rendered, config = _files(rules, **handlers)
    assert rules_file_errors(rendered, config) == []


def test_the_rules_file_check_finds_what_oathkeeper_refuses():
    """The check above can fail: a duplicate id, a disabled handler, a newline, a missing key."""
    rendered, config = _files([APP], **MIXED)
    bad = [
        dict(rendered[0], authorizer={"handler": "deny"}),
        dict(rendered[0], upstream={"url": "http://a/\n"}),
        {k: v for k, v in rendered[0].items() if k != "mutators"},
    ]
    assert rules_file_errors(bad, config) == [
        "id 'app': not unique",
        "[0].authorizers: 'deny' is not enabled in config.yml",
        "[1]: whitespace in a URL",
        "[2]: keys ['authenticators', 'authorizer', 'id', 'match', 'upstream']",
    ]


def test_a_rule_gets_the_first_enabled_handler_of_each_kind():
    rendered, _ = _files([APP], **MIXED)
    assert rendered == [
        {
            "id": "app",
            "upstream": {"url": "http://127.0.0.1:8000"},
            "match": {"url": "http://<.*>/<.*>", "methods": ["GET", "HEAD"]},
            "authenticators": [{"handler": "noop"}],
            "authorizer": {"handler": "allow"},
            "mutators": [{"handler": "noop"}],
        }
    ]


REFUSALS = {
    "a disabled authenticator": (
        {**APP, "authenticators": ["noop", "anonymous"]},
        MIXED,
        "oathkeeper_access_rules[0] key 'authenticators': 'anonymous' is disabled (enabled: false "
        "in oathkeeper_authenticators) and Oathkeeper refuses a rule that names it; expected a "
        "list of the enabled authenticators: noop",
    ),
    "a disabled authorizer": (
        {**APP, "authorizer": "deny"},
        MIXED,
        "oathkeeper_access_rules[0] key 'authorizer': 'deny' is disabled (enabled: false in oathkeeper_authorizers)",
    ),
    "a disabled mutator": (
        {**APP, "mutators": ["header"]},
        MIXED,
        "oathkeeper_access_rules[0] key 'mutators': 'header' is disabled (enabled: false in oathkeeper_mutators)",
    ),
    "an unconfigured authorizer": (
        {**APP, "authorizer": "deny"},
        {},
        "oathkeeper_access_rules[0] key 'authorizer': 'deny'; expected one of the enabled authorizers: allow",
    ),
    "an upstream with a newline": (
        {**APP, "upstream": "http://127.0.0.1:8000\n"},
        {},
        "oathkeeper_access_rules[0] key 'upstream': 'http://127.0.0.1:8000\\n' is not an "
        "http(s) URL on one line, without spaces",
    ),
    "an upstream with a newline inside": (
        {**APP, "upstream": "http://127.0.0.1:8000/\nX-Evil: 1"},
        {},
        "oathkeeper_access_rules[0] key 'upstream': ",
    ),
    "a match url with a space": (
        {**APP, "url": "http://<.*>/a b"},
        {},
        "oathkeeper_access_rules[0] key 'url': 'http://<.*>/a b' is not an http(s) match "
        "pattern on one line, without spaces, such as http://<.*>/<.*>",
    ),
    "a match url that is not one": (
        {**APP, "url": "x"},
        {},
        "oathkeeper_access_rules[0] key 'url': 'x' is not an http(s) match pattern",
    ),
    "a handler name that is a list": (
        {**APP, "authorizer": ["allow"]},
        {},
        "oathkeeper_access_rules[0] key 'authorizer': ['allow']; expected one of the enabled",
    ),
    "a rule that is not a mapping": ("app", {}, "oathkeeper_access_rules[0]: 'app' is "),
}


@pytest.mark.parametrize(("rule", "handlers", "starts"), REFUSALS.values(), ids=REFUSALS.keys())
def test_refusals_name_the_rule_and_key(rule, handlers, starts):
    with pytest.raises(OathkeeperConfigError) as refused:
        _files([rule], **handlers)
    assert str(refused.value).startswith(starts)


def test_ids_are_unique():
    with pytest.raises(OathkeeperConfigError) as refused:
        _files([APP, dict(APP)])
    assert str(refused.value).startswith("oathkeeper_access_rules[1] key 'id': 'app' is not a unique id")


class _AnsibleLazyTemplateList(list):
    """Named as ansible-core 2.19's own: its class name must never reach a refusal."""


def test_ansibles_lazy_type_names_never_reach_a_refusal():
    with pytest.raises(OathkeeperConfigError) as refused:
        _files([_AnsibleLazyTemplateList(["app"])])
    message = str(refused.value)
    assert message.startswith("oathkeeper_access_rules[0]: ['app'] is a list, not a mapping; expected a rule"), message
    assert "_Ansible" not in message and "Lazy" not in message, message
