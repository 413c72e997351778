"""Upstream's JSON schemas (kept outside the repository, ../shared/schemas; see its README),
for validating the configs the roles render for binaries the test machines cannot download.

SMALLVPS_SCHEMAS points elsewhere; without the directory the tests that need it skip, saying why.
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
    "https://raw.githubusercontent.com/ory/oathkeeper/77eee56/oryx/logrusx/config.schema.json": "oathkeeper/logrusx.config.schema.json",
    "https://raw.githubusercontent.com/ory/oathkeeper/77eee56/oryx/otelx/config.schema.json": "oathkeeper/otelx.config.schema.json",
}


def _load(relative: str) -> dict:
    path = SCHEMAS / relative
    if not path.is_file():
        pytest.skip(f"upstream schema {path} is absent: put ../shared/schemas beside the project or set SMALLVPS_SCHEMAS")
    return json.loads(path.read_text(encoding="utf-8"))


def validator(relative: str) -> Draft7Validator:
    schema = _load(relative)
    registry = Registry().with_resources(
        (url, Resource.from_contents(_load(local))) for url, local in OATHKEEPER_REFS.items()
    ) if relative.startswith("oathkeeper/") else Registry()
    return Draft7Validator(schema, registry=registry)


def errors(relative: str, document: dict) -> list[str]:
    """Every schema error, plus top-level keys the schema does not define (Traefik's static schema
    leaves its top level open, so a misspelt section would otherwise pass)."""
    check = validator(relative)
    found = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in check.iter_errors(document)]
    unknown = sorted(set(document) - set(check.schema.get("properties", {})))
    return found + [f"(top): unknown key '{key}'" for key in unknown]
