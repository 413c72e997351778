# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""A parsed smallvps_services entry and the plan's options, for the tests of one product's sizes."""

from __future__ import annotations

from fractions import Fraction

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_services import parse_services
from ansible_collections.smallvps.hardening.plugins.plugin_utils._product import SizingContext

MIB = 1024 * 1024
CONTEXT = SizingContext(cpus=1, gomemlimit_ratio=Fraction(9, 10))


def service(**raw):
    """The entry {name: svc, tier: 0, min: 8, **raw}, parsed as the planner parses it."""
    [parsed] = parse_services([{"name": "svc", "tier": 0, "min": 8, **raw}])
    return parsed
