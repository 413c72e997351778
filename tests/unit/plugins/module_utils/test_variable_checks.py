# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The checks the config filters share: each refusal is raised as the caller's own error class."""

from __future__ import annotations

import pytest

from ansible_collections.smallvps.hardening.plugins.module_utils.variable_checks import is_int, mapping


class RoleError(ValueError):
    pass


@pytest.mark.parametrize(("value", "expected"), [(3, True), (0, True), (True, False), (False, False), (3.0, False), ("3", False)])
def test_is_int_refuses_booleans_floats_and_strings(value, expected):
    assert is_int(value) is expected


def test_mapping_returns_a_mapping_of_known_keys_unchanged():
    value = {"read": "5s"}
    assert mapping(value, "x_timeouts", RoleError, ("read", "write")) is value
    assert mapping({"anything": 1}, "x_handlers", RoleError) == {"anything": 1}


@pytest.mark.parametrize(("keys", "expected", "message"), [
    (("read", "write"), None, "x_timeouts: ['5s'] (list) is not a mapping; expected keys read, write"),
    (None, "one like {read: 5s}", "x_timeouts: ['5s'] (list) is not a mapping; expected one like {read: 5s}"),
    (None, None, "x_timeouts: ['5s'] (list) is not a mapping"),
])
def test_mapping_refuses_a_non_mapping_naming_the_variable_and_the_form(keys, expected, message):
    with pytest.raises(RoleError) as refused:
        mapping(["5s"], "x_timeouts", RoleError, keys, expected=expected)
    assert str(refused.value) == message


def test_mapping_refuses_an_unknown_key_naming_it_and_the_accepted_ones():
    with pytest.raises(RoleError, match=r"^x_timeouts key 'reed': unknown key; accepted keys: read, write$"):
        mapping({"read": "5s", "reed": "5s"}, "x_timeouts", RoleError, ("read", "write"))
