# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Runs on the controller: renders one product's configuration, or fails with the product's own refusal."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.smallvps.hardening.plugins.modules.render import ARGUMENT_SPEC
from ansible_collections.smallvps.hardening.plugins.plugin_utils._render import Refusal, render


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result["changed"] = False
        try:
            result["content"] = render(args["product"], args["plan"], args["options"])
        except Refusal as refusal:
            result.update(failed=True, msg=str(refusal))
        return result
