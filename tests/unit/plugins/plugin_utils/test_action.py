# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""RefusingAction, the shape of the plan and render actions: each refuses a task argument its module does not
have before it runs, with ansible-core's message naming the action (the class derives _VALID_ARGS from the
subclass's ARGUMENT_SPEC); their results and refusals are tested in tests/unit/plugins/action."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.smallvps.hardening.plugins.action.plan import ActionModule as PlanAction
from ansible_collections.smallvps.hardening.plugins.action.render import ActionModule as RenderAction


def _run(action_class, name: str, args: dict) -> dict:
    task = MagicMock(args=args, async_val=0, check_mode=False, action=f"smallvps.hardening.{name}")
    connection = MagicMock()
    connection._shell.tmpdir = "/nonexistent"
    return action_class(task, connection, MagicMock(), MagicMock(), MagicMock()).run(task_vars={})


@pytest.mark.parametrize(
    ("action_class", "name", "args"),
    [
        (PlanAction, "plan", {"facts": {}, "services": [], "swap_file": "1G"}),
        (RenderAction, "render", {"product": "haproxy", "options": {}, "swap_file": "1G"}),
    ],
    ids=["plan", "render"],
)
def test_an_argument_outside_the_modules_spec_is_refused_naming_the_action(action_class, name, args):
    with pytest.raises(AnsibleActionFail) as refused:
        _run(action_class, name, args)
    assert refused.value.message == f"Invalid options for smallvps.hardening.{name}: swap_file"
