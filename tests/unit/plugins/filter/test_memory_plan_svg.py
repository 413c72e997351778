# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The picture filters: their names, and a refusal that reaches Ansible as the task's failure, message unchanged."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smallvps.hardening.plugins.filter.memory_plan_index import FilterModule as IndexModule
from ansible_collections.smallvps.hardening.plugins.filter.memory_plan_svg import FilterModule as SvgModule
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import MIB, build_plan

memory_plan_svg = SvgModule().filters()["memory_plan_svg"]
memory_plan_index = IndexModule().filters()["memory_plan_index"]
PLAN = build_plan({"effective_memory_bytes": 512 * MIB, "cpus": 1}, [{"name": "app", "tier": 1, "min": "128M"}])
EXPECTS = "expects the output of smallvps.hardening.memory_plan (a dict with services, summary and warnings)"


def test_the_filters_draw_a_plan():
    assert memory_plan_svg(PLAN, "web1").startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert memory_plan_index({"web1": PLAN}).startswith("<!DOCTYPE html>")


def test_a_refusal_is_a_filter_error_naming_the_input():
    with pytest.raises(AnsibleFilterError) as error:
        memory_plan_svg({"services": {}}, "web1")
    assert error.value.message == f"memory_plan_svg: input: no 'summary' mapping; {EXPECTS}"
    with pytest.raises(AnsibleFilterError) as error:
        memory_plan_index({"web1": "plan"})
    assert (
        error.value.message
        == f"memory_plan_index: host 'web1': input is a string, with no 'services' mapping; {EXPECTS}"
    )
