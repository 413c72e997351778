"""One service schema: memory_services.SERVICE_SCHEMA. The filter's DOCUMENTATION (ansible-doc)
and the memory_plan role's argument spec (Ansible's validation of smallvps_services) repeat it;
this test keeps the copies from drifting."""

from pathlib import Path

import pytest
import yaml

from ansible_collections.smallvps.hardening.plugins.filter import memory_plan as memory_plan_filter
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_services import SERVICE_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
COMPARED = ("type", "required", "default", "choices", "elements")


def _filter_copy():
    return yaml.safe_load(memory_plan_filter.DOCUMENTATION)["options"]["services"]["suboptions"]


def _role_copy():
    spec = yaml.safe_load((ROOT / "roles/memory_plan/meta/argument_specs.yml").read_text(encoding="utf-8"))
    return spec["argument_specs"]["main"]["options"]["smallvps_services"]["options"]


def _normalised(spec):
    # Absent "required" means false in both argument specs and plugin docs.
    return {key: spec.get(key, False if key == "required" else None) for key in COMPARED}


@pytest.mark.parametrize("copy", [_filter_copy, _role_copy], ids=["filter DOCUMENTATION", "memory_plan argument_specs"])
def test_copy_lists_the_schema_keys_in_order(copy):
    assert list(copy()) == list(SERVICE_SCHEMA)


@pytest.mark.parametrize("copy", [_filter_copy, _role_copy], ids=["filter DOCUMENTATION", "memory_plan argument_specs"])
def test_copy_has_the_schema_types_and_defaults(copy):
    documented = copy()
    for key, spec in SERVICE_SCHEMA.items():
        assert _normalised(documented[key]) == _normalised(spec), key
        assert documented[key].get("description"), f"{key} has no description"
