# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The schema helper itself: formats are checked, and a missing schema skips only what needs it."""

from __future__ import annotations

import pytest
from jsonschema import FormatChecker

from ansible_collections.smallvps.hardening.tests.unit import upstream_schemas
from ansible_collections.smallvps.hardening.tests.unit.upstream_schemas import errors, needs_schema

OATHKEEPER = "oathkeeper/config.schema.json"
URI_SCHEMA = {
    "properties": {"url": {"type": "string", "format": "uri"}, "to": {"type": "string", "format": "uri-reference"}}
}


def test_uri_formats_are_checked_by_the_helpers_checker():
    assert upstream_schemas.unchecked_formats(URI_SCHEMA) == set()
    # A bare FormatChecker with no checkers would let any string through as a "uri".
    assert upstream_schemas.unchecked_formats(URI_SCHEMA, FormatChecker(())) == {"uri", "uri-reference"}


@needs_schema(OATHKEEPER)
def test_a_string_that_is_no_uri_fails_the_oathkeeper_schema():
    document = {"authorizers": {"remote": {"enabled": True, "config": {"remote": "not a uri"}}}}
    # The handler's oneOf reports the whole handler, not the field: the valid URL below is the control.
    found = errors(OATHKEEPER, document)
    assert any(error.startswith("authorizers/remote:") for error in found), found
    document["authorizers"]["remote"]["config"]["remote"] = "http://127.0.0.1:4456/check"
    assert errors(OATHKEEPER, document) == []


def test_a_missing_schema_directory_gives_the_reason(monkeypatch, tmp_path):
    monkeypatch.setattr(upstream_schemas, "SCHEMAS", tmp_path / "absent")
    reason = upstream_schemas.missing("traefik/traefik-v3.json")
    assert reason and "traefik/traefik-v3.json is absent" in reason and "SMALLVPS_SCHEMAS" in reason
    assert upstream_schemas.missing() is None
    with pytest.raises(pytest.skip.Exception, match="is absent"):
        errors("traefik/traefik-v3.json", {})


def test_a_schema_naming_an_unchecked_format_is_refused(monkeypatch):
    monkeypatch.setattr(upstream_schemas, "FORMAT_CHECKER", FormatChecker(()))
    monkeypatch.setattr(upstream_schemas, "_load", lambda relative: URI_SCHEMA)
    with pytest.raises(RuntimeError, match="names formats nothing checks: uri, uri-reference"):
        upstream_schemas.validator("any.json")
