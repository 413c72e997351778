# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Runs on the controller: hands the message to Ansible as a warning of this task."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.smallvps.hardening.plugins.modules.warn import ARGUMENT_SPEC


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("msg",))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        msg = args["msg"]
        if not msg.strip():
            raise AnsibleActionFail("warn: msg is required, a non-empty string")
        result.update(changed=False, msg=msg, warnings=[msg])
        return result
