"""Every role's defaults and meta/argument_specs.yml must describe the same variables.

The argument spec is both the input validation and the documentation; a default that is
missing from it is never validated, and a spec default that differs from defaults/main.yml
documents a value the role does not use.
"""

from pathlib import Path

import pytest
import yaml

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
ROLES = sorted(p.name for p in ROLES_DIR.iterdir() if (p / "tasks").is_dir())

# Python types a YAML value may load as, per argument_spec type.
SPEC_TYPES = {
    "str": (str,),
    "path": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
    "raw": (object,),
}


def _load(path):
    with path.open() as handle:
        return yaml.safe_load(handle) or {}


def _entry_points(role):
    return _load(ROLES_DIR / role / "meta" / "argument_specs.yml")["argument_specs"]


def _defaults(role):
    path = ROLES_DIR / role / "defaults" / "main.yml"
    return _load(path) if path.exists() else {}


def test_there_are_roles_to_check():
    assert ROLES, f"no roles found under {ROLES_DIR}"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_a_main_argument_spec(role):
    assert "main" in _entry_points(role)


@pytest.mark.parametrize("role", ROLES)
def test_defaults_and_spec_name_the_same_variables(role):
    options = _entry_points(role)["main"].get("options", {})
    defaults = _defaults(role)
    assert sorted(set(defaults) - set(options)) == [], "defaults missing from argument_specs"
    with_default = {name for name, spec in options.items() if "default" in spec}
    assert sorted(with_default - set(defaults)) == [], "spec defaults missing from defaults/main.yml"


@pytest.mark.parametrize("role", ROLES)
def test_defaults_match_spec_type_and_value(role):
    options = _entry_points(role)["main"].get("options", {})
    for name, value in _defaults(role).items():
        spec = options[name]
        if isinstance(value, str) and "{{" in value:
            continue  # a template: its type is only known on the host
        expected = SPEC_TYPES[spec.get("type", "str")]
        # bool is an int in Python; an int option must not hold a bool.
        assert isinstance(value, expected) and not (
            isinstance(value, bool) and bool not in expected and object not in expected
        ), f"{role}: {name} is {type(value).__name__}, spec says {spec.get('type', 'str')}"
        assert spec.get("default") == value, f"{role}: {name} default differs between spec and defaults"


# The host's description, read by every role through the memory plan: the collection's prefix,
# declared (and validated) by the one role that reads them.
COLLECTION_INPUTS = {"memory_plan": {"smallvps_services", "smallvps_memory_reserve"}}


@pytest.mark.parametrize("role", ROLES)
def test_variables_carry_the_role_prefix(role):
    options = _entry_points(role)["main"].get("options", {})
    allowed = COLLECTION_INPUTS.get(role, set())
    unprefixed = sorted(name for name in options if not name.startswith(f"{role}_") and name not in allowed)
    assert unprefixed == [], f"variables without the '{role}_' prefix"


@pytest.mark.parametrize("role", ROLES)
def test_every_option_is_described(role):
    options = _entry_points(role)["main"].get("options", {})
    undescribed = sorted(name for name, spec in options.items() if not spec.get("description"))
    assert undescribed == []
