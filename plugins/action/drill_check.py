# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Runs on the controller: the drill's refusals, and what it drills (units, tier 0, flood targets)."""

from __future__ import annotations

from ansible_collections.smallvps.hardening.plugins.module_utils._drill_checks import (
    DrillRefusal,
    check_applied,
    check_request,
    flood_targets,
    plan_units,
    resolve_units,
)
from ansible_collections.smallvps.hardening.plugins.modules.drill_check import ARGUMENT_SPEC
from ansible_collections.smallvps.hardening.plugins.plugin_utils._action import RefusingAction


class ActionModule(RefusingAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    REFUSALS = (DrillRefusal,)

    def produce(self, args: dict) -> dict:
        health = args["health"] if args["health"] is not None else {}
        check_request(
            args["confirm"], args["units"], health, args["host_wide"], args["host_wide_opt_in"], args["hostname"]
        )
        result = {"units": [], "tier0_units": [], "targets": [], "skipped": []}
        if args["plan"] is not None:
            result["units"] = resolve_units(args["plan"], args["units"], health)
            result["tier0_units"] = plan_units(args["plan"], 0)
            if args["shown"] is not None:
                check_applied(result["units"], args["shown"])
        if args["nginx"] is not None:
            result["targets"], result["skipped"] = flood_targets(args["nginx"])
        return result
