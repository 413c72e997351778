# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Runs on the controller: the host's memory plan, or a failure with the planner's own refusal."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.smallvps.hardening.plugins.modules.plan import ARGUMENT_SPEC
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import build_plan
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._swap_sizing import SwapSizingError


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result["changed"] = False
        try:
            result["plan"] = build_plan(
                args["facts"], args["services"], reserve=args["reserve"], units=args["units"], swap=args["swap"]
            )
        except (MemoryBudgetError, SwapSizingError) as refusal:
            # Every refusal of the planner is about the host's services or the facts they must fit in.
            result.update(failed=True, msg=f"smallvps_services: {refusal}")
        return result
