# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The Go roles (caddy, traefik, oathkeeper) on go_service: one <role>_binary mapping with go_service's keys, and
nothing read back from go_service but its one documented result, go_service_result."""

from __future__ import annotations

import re

import pytest
import yaml

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import ROOT

GO_ROLES = ("caddy", "traefik", "oathkeeper")
BINARY_KEYS = ("source", "version", "sha256", "url", "src", "host_path", "archive_member")


def _options(role):
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return specs["argument_specs"]["main"]["options"]


ENGINE = _options("go_service")


@pytest.mark.parametrize("role", GO_ROLES)
def test_the_binary_mapping_has_go_services_keys_and_types(role):
    ours, engine = _options(role)[f"{role}_binary"], ENGINE["go_service_binary"]
    assert ours["type"] == "dict" and ours["mutually_exclusive"] == engine["mutually_exclusive"]
    assert list(ours["options"]) == list(engine["options"]) == list(BINARY_KEYS)
    for key, spec in ours["options"].items():
        assert spec["type"] == engine["options"][key]["type"], key
        assert set(spec.get("choices", [])) <= set(engine["options"][key].get("choices", [])), key


@pytest.mark.parametrize("role", GO_ROLES)
def test_the_old_per_field_variables_are_documented_as_deprecated_and_have_no_default(role):
    options = _options(role)
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    for key in BINARY_KEYS:
        spec = options[f"{role}_{key}"]
        assert "default" not in spec and f"{role}_{key}" not in defaults
        assert spec["description"].startswith(f"Deprecated; sets O({role}_binary.{key})")


@pytest.mark.parametrize("role", GO_ROLES)
def test_a_go_role_reads_nothing_of_go_service_but_its_result(role):
    inputs = set(ENGINE)
    for path in sorted((ROOT / "roles" / role).rglob("*")):
        if path.suffix not in (".yml", ".j2"):
            continue
        for name in set(re.findall(r"\bgo_service_[a-z0-9_]+", path.read_text())):
            assert name in inputs or name == "go_service_result", f"{path.relative_to(ROOT)} reads {name}"
