# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Where Oathkeeper's defaults live: build_config's signature holds them (config_files, the filter's and the
render step's function, passes on only the options it is given), the role's defaults/main.yml and vars/main.yml
are the user-facing copy, and the oathkeeper_config filter's documentation states them; the three agree."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.smallvps.hardening.plugins.filter import oathkeeper_config as oathkeeper_filter
from ansible_collections.smallvps.hardening.plugins.plugin_utils._oathkeeper import (
    BUILD_CONFIG_DEFAULT,
    BUILD_CONFIG_OPTIONS,
    build_config,
    config_files,
)

ROOT = Path(__file__).resolve().parents[4]
ROLE = ROOT / "roles" / "oathkeeper"
ENTRY = {"name": "oathkeeper", "introspection_max_cost": 6355}
RULES = [{"id": "app", "url": "http://<.*>/<.*>", "upstream": "http://127.0.0.1:8000"}]
BUILD_DEFAULTS = {name: each.default for name, each in inspect.signature(build_config).parameters.items()}
OWN_DEFAULTS = {name: each.default for name, each in inspect.signature(config_files).parameters.items()}
DOCUMENTED = yaml.safe_load(oathkeeper_filter.DOCUMENTATION)["options"]


def _role_options() -> dict:
    """The render step's options of tasks/validate.yml, each resolved from the role's defaults and vars."""
    variables = {}
    for path in (ROLE / "defaults" / "main.yml", ROLE / "vars" / "main.yml"):
        variables.update(yaml.safe_load(path.read_text(encoding="utf-8")))
    render = yaml.safe_load((ROLE / "tasks" / "validate.yml").read_text(encoding="utf-8"))[0]
    options = {}
    for option, template in render["smallvps.hardening.render"]["options"].items():
        name = re.fullmatch(r"\{\{ (\w+) \}\}", template).group(1)
        options[option] = variables[name]
    return options


def test_config_files_restates_no_default_of_build_config():
    assert set(BUILD_CONFIG_OPTIONS) == set(BUILD_DEFAULTS) - {"introspection_max_cost"}
    assert {name: OWN_DEFAULTS[name] for name in BUILD_CONFIG_OPTIONS} == dict.fromkeys(
        BUILD_CONFIG_OPTIONS, BUILD_CONFIG_DEFAULT
    )


def test_what_is_not_given_is_build_configs_default():
    files = config_files(ENTRY, rules=RULES)
    assert files["config"] == build_config(introspection_max_cost=6355)
    assert files["config"]["serve"]["proxy"]["port"] == 4455 and files["config"]["log"] == {"level": "info"}


def test_the_roles_defaults_render_what_build_configs_defaults_render():
    options = _role_options()
    assert options["rules_path"] == BUILD_DEFAULTS["rules_path"]
    del options["unit"], options["rules"]
    assert config_files(ENTRY, rules=RULES, **options) == config_files(ENTRY, rules=RULES)


@pytest.mark.parametrize("option", sorted(set(DOCUMENTED) - {"_input"}))
def test_the_filters_documented_default_is_the_codes(option):
    code = BUILD_DEFAULTS[option] if option in BUILD_CONFIG_OPTIONS else OWN_DEFAULTS[option]
    # A default the code computes from None (the timeouts, the handlers) is described, not stated.
    assert DOCUMENTED[option].get("default") == code, option
