# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Runs on the controller: renders one product's configuration, or fails with the product's own refusal."""

from __future__ import annotations

from ansible_collections.smallvps.hardening.plugins.modules.render import ARGUMENT_SPEC
from ansible_collections.smallvps.hardening.plugins.plugin_utils._action import RefusingAction
from ansible_collections.smallvps.hardening.plugins.plugin_utils._render import Refusal, render


class ActionModule(RefusingAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    REFUSALS = (Refusal,)

    def produce(self, args: dict) -> dict:
        return {"content": render(args["product"], args["plan"], args["options"])}
