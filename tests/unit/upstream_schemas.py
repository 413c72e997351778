"""Upstream's JSON schemas (kept outside the repository, ../shared/schemas; see its README),
for validating the configs the roles render for binaries the test machines cannot download.

SMALLVPS_SCHEMAS points elsewhere. Without the directory only the schema comparisons skip, saying
why: mark those tests with `needs_schema(...)` (or let `errors()` skip them) and keep every other
assertion in a test that does not touch a schema, so it still runs.

Validation checks formats too ("uri", "uri-reference"; rfc3986-validator in requirements.txt):
without a checker jsonschema treats "format" as a note and lets any string through.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = Path(os.environ.get("SMALLVPS_SCHEMAS", ROOT.parent / "shared" / "schemas"))
# The Oathkeeper schema refers to its sub-schemas by these URLs; they are resolved to the local files.
OATHKEEPER_REFS = {
    "https://raw.githubusercontent.com/ory/oathkeeper/77eee56/oryx/logrusx/config.schema.json": (
        "oathkeeper/logrusx.config.schema.json"
    ),
    "https://raw.githubusercontent.com/ory/oathkeeper/77eee56/oryx/otelx/config.schema.json": (
        "oathkeeper/otelx.config.schema.json"
    ),
}
FORMAT_CHECKER = Draft7Validator.FORMAT_CHECKER


def missing(*relative: str) -> str | None:
    """Why a schema test cannot run (the first absent file), or None when every file is there."""
    refs = [local for name in relative if name.startswith("oathkeeper/") for local in OATHKEEPER_REFS.values()]
    needed = list(relative) + refs
    for name in needed:
        path = SCHEMAS / name
        if not path.is_file():
            return f"upstream schema {path} is absent: put ../shared/schemas beside the project or set SMALLVPS_SCHEMAS"
    return None


def needs_schema(*relative: str):
    """A skipif mark for a test that compares against these schemas: it skips (with the reason) when one is absent."""
    reason = missing(*relative)
    return pytest.mark.skipif(reason is not None, reason=reason or "")


def _load(relative: str) -> dict:
    reason = missing(relative)
    if reason:
        pytest.skip(reason)
    return json.loads((SCHEMAS / relative).read_text(encoding="utf-8"))


def formats(schema) -> set[str]:
    """Every "format" a schema (or any part of it) names."""
    if isinstance(schema, dict):
        found = {schema["format"]} if isinstance(schema.get("format"), str) else set()
        return found.union(*(formats(value) for value in schema.values()))
    if isinstance(schema, list):
        return set().union(*(formats(value) for value in schema))
    return set()


def unchecked_formats(schema, checker=None) -> set[str]:
    """The formats a schema names that `checker` (the helper's by default) cannot check: jsonschema would
    pass any value for them."""
    return formats(schema) - set((checker or FORMAT_CHECKER).checkers)


def validator(relative: str) -> Draft7Validator:
    schema = _load(relative)
    subschemas = (
        {url: _load(local) for url, local in OATHKEEPER_REFS.items()} if relative.startswith("oathkeeper/") else {}
    )
    unchecked = set().union(unchecked_formats(schema), *(unchecked_formats(sub) for sub in subschemas.values()))
    if unchecked:
        raise RuntimeError(
            f"{relative} names formats nothing checks: {', '.join(sorted(unchecked))}; "
            "install requirements.txt (rfc3986-validator checks uri and uri-reference)"
        )
    registry = Registry().with_resources((url, Resource.from_contents(sub)) for url, sub in subschemas.items())
    return Draft7Validator(schema, registry=registry, format_checker=FORMAT_CHECKER)


def errors(relative: str, document: dict) -> list[str]:
    """Every schema error (formats included), plus top-level keys the schema does not define (Traefik's
    static schema leaves its top level open, so a misspelt section would otherwise pass)."""
    check = validator(relative)
    found = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in check.iter_errors(document)]
    unknown = sorted(set(document) - set(check.schema.get("properties", {})))
    return found + [f"(top): unknown key '{key}'" for key in unknown]
