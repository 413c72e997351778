# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Private to this collection (no stable API): the shape the collection's controller-only action plugins share.

An action of this shape reads no host and changes nothing: it checks the task's arguments against its module's
ARGUMENT_SPEC, computes one result from them, and turns a refusal of the code it calls into the task's failure
with the refusal's own message (no traceback, no wrapping for the role to strip).
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class RefusingAction(ActionBase):
    """A subclass sets ARGUMENT_SPEC (its module's), REFUSALS (the exceptions that are refusals), optionally
    REFUSAL_PREFIX (put before the refusal's message), and `produce`."""

    TRANSFERS_FILES = False
    _requires_connection = False
    ARGUMENT_SPEC: dict = {}
    REFUSALS: tuple = ()
    REFUSAL_PREFIX = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # ActionBase refuses any task argument outside _VALID_ARGS before run does anything.
        cls._VALID_ARGS = frozenset(cls.ARGUMENT_SPEC)

    def produce(self, args: dict) -> dict:
        """The result's keys for the validated arguments; raises one of REFUSALS to refuse them."""
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        result["changed"] = False
        try:
            result.update(self.produce(args))
        except self.REFUSALS as refusal:
            result.update(failed=True, msg=f"{self.REFUSAL_PREFIX}{refusal}")
        return result
