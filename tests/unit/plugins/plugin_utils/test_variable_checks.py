# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The checks the config filters share: each refusal is raised as the caller's own error class."""

from __future__ import annotations

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._variable_checks import (
    INT64_MAX,
    duration_within_go,
    go_duration_ns,
    is_int,
    kind,
    mapping,
    port_in_range,
)


class RoleError(ValueError):
    pass


@pytest.mark.parametrize(
    ("value", "expected"), [(3, True), (0, True), (True, False), (False, False), (3.0, False), ("3", False)]
)
def test_is_int_refuses_booleans_floats_and_strings(value, expected):
    assert is_int(value) is expected


def test_mapping_returns_a_mapping_of_known_keys_unchanged():
    value = {"read": "5s"}
    assert mapping(value, "x_timeouts", RoleError, ("read", "write")) is value
    assert mapping({"anything": 1}, "x_handlers", RoleError) == {"anything": 1}


@pytest.mark.parametrize(
    ("keys", "expected", "message"),
    [
        (("read", "write"), None, "x_timeouts: ['5s'] is a list, not a mapping; expected keys read, write"),
        (None, "one like {read: 5s}", "x_timeouts: ['5s'] is a list, not a mapping; expected one like {read: 5s}"),
        (None, None, "x_timeouts: ['5s'] is a list, not a mapping"),
    ],
)
def test_mapping_refuses_a_non_mapping_naming_the_variable_and_the_form(keys, expected, message):
    with pytest.raises(RoleError) as refused:
        mapping(["5s"], "x_timeouts", RoleError, keys, expected=expected)
    assert str(refused.value) == message


def test_mapping_refuses_an_unknown_key_naming_it_and_the_accepted_ones():
    with pytest.raises(RoleError, match=r"^x_timeouts key 'reed': unknown key; accepted keys: read, write$"):
        mapping({"read": "5s", "reed": "5s"}, "x_timeouts", RoleError, ("read", "write"))


class _AnsibleLazyTemplateDict(dict):
    """Named like the mapping ansible-core 2.19 hands a filter for a templated dict."""


class _AnsibleLazyTemplateList(list):
    """Named like ansible-core 2.19's templated list."""


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (_AnsibleLazyTemplateList(["5s"]), "a list"),
        (("5s",), "a list"),
        (_AnsibleLazyTemplateDict(a=1), "a mapping"),
        ("5s", "a string"),
        (5, "a number"),
        (0.5, "a number"),
        (True, "a boolean"),
        (None, "empty (null)"),
    ],
)
def test_kind_says_what_a_value_is_in_the_users_words(value, words):
    assert kind(value) == words


def test_mapping_never_prints_ansibles_lazy_type_names():
    with pytest.raises(RoleError) as refused:
        mapping(_AnsibleLazyTemplateList(["5s"]), "x_timeouts", RoleError, ("read",))
    assert str(refused.value) == "x_timeouts: ['5s'] is a list, not a mapping; expected keys read"
    assert "_Ansible" not in str(refused.value)


@pytest.mark.parametrize(
    ("text", "days", "nanoseconds"),
    [
        ("10s", False, 10 * 10**9),
        ("1m30s", False, 90 * 10**9),
        ("500ms", False, 5 * 10**8),
        ("7us", False, 7000),
        ("2562047h47m16s854775807ns", False, INT64_MAX),
        ("1d", True, 86400 * 10**9),
        ("1d", False, None),
        ("1.5h", False, None),
        ("10", False, None),
        ("s", False, None),
        ("", False, None),
        (10, False, None),
    ],
)
def test_go_duration_ns_counts_nanoseconds_without_overflow(text, days, nanoseconds):
    assert go_duration_ns(text, days) == nanoseconds


@pytest.mark.parametrize("text", ["2562047h", "2562047h47m16s854775807ns", "106751d"])
def test_durations_go_can_hold_pass(text):
    assert duration_within_go(text, "x_timeout", RoleError, "a duration", days=True) == text


@pytest.mark.parametrize("text", ["9999999999h", "2562048h", "2562047h47m16s854775808ns", "106752d"])
def test_durations_past_int64_nanoseconds_are_refused_naming_the_variable(text):
    with pytest.raises(RoleError) as refused:
        duration_within_go(text, "x_timeout", RoleError, "a duration", days=True)
    assert str(refused.value) == (
        f"x_timeout: {text!r} is longer than the longest duration Go reads, 2562047h47m16.854775807s "
        "(a 64-bit count of nanoseconds); expected a duration, at most 2562047h"
    )


@pytest.mark.parametrize(
    ("port", "ok"), [("1", True), ("65535", True), (443, True), ("0", False), ("65536", False), ("99999", False)]
)
def test_port_in_range_is_1_to_65535(port, ok):
    if ok:
        assert port_in_range(port, f"h:{port}", "x_address", RoleError, "host:port") == int(port)
    else:
        with pytest.raises(RoleError) as refused:
            port_in_range(port, f"h:{port}", "x_address", RoleError, "host:port")
        assert str(refused.value) == f"x_address: 'h:{port}' has port {int(port)}, outside 1..65535; expected host:port"
