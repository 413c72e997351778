# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Runs on the controller: the drill's verdict table, its failures and the JSON report, from the rounds."""

from __future__ import annotations

from datetime import UTC, datetime

from ansible_collections.smallvps.hardening.plugins.module_utils._drill_report import failures, rows, table
from ansible_collections.smallvps.hardening.plugins.modules.drill_report import ARGUMENT_SPEC
from ansible_collections.smallvps.hardening.plugins.plugin_utils._action import RefusingAction


class ActionModule(RefusingAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def produce(self, args: dict) -> dict:
        verdicts = [v for v in args["verdicts"] if isinstance(v, dict)]
        failed = failures(verdicts)
        flat = rows(verdicts)
        return {
            "table": table(verdicts),
            "failures": failed,
            "passed": not failed,
            "report": {
                "host": args["host"],
                "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "passed": not failed,
                "verdicts": flat,
                "failures": failed,
            },
        }
