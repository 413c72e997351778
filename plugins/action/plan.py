# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Runs on the controller: the host's memory plan, or a failure with the planner's own refusal."""

from __future__ import annotations

from ansible_collections.smallvps.hardening.plugins.modules.plan import ARGUMENT_SPEC
from ansible_collections.smallvps.hardening.plugins.plugin_utils._action import RefusingAction
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import build_plan
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._swap_sizing import SwapSizingError


class ActionModule(RefusingAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    REFUSALS = (MemoryBudgetError, SwapSizingError)
    # Every refusal of the planner is about the host's services or the facts they must fit in.
    REFUSAL_PREFIX = "smallvps_services: "

    def produce(self, args: dict) -> dict:
        plan = build_plan(
            args["facts"], args["services"], reserve=args["reserve"], units=args["units"], swap=args["swap"]
        )
        return {"plan": plan}
