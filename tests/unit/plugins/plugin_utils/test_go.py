# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The go runtime's GOMEMLIMIT from the first limit that acts (the planner's tests cover it inside a plan)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._go import sizes
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._product import SizingContext
from ansible_collections.smallvps.hardening.tests.unit.plugins.plugin_utils.product_service import (
    CONTEXT,
    MIB,
    service,
)


def test_a_tier_1_go_service_gets_its_share_of_the_limit_in_mib():
    # 0.9 x 200 MiB = 180 MiB; Go reads "MiB", never "M".
    assert sizes(service(tier=1, runtime="go"), 200, CONTEXT) == {"gomemlimit": "180MiB", "gomemlimit_bytes": 180 * MIB}
    half = SizingContext(cpus=1, gomemlimit_ratio=Fraction(1, 2))
    assert sizes(service(tier=1, runtime="go"), 200, half)["gomemlimit"] == "100MiB"


def test_only_the_go_runtime_and_no_estimate_get_one():
    assert sizes(service(tier=1), 200, CONTEXT) == {}
    assert sizes(service(tier=0, runtime="go"), 200, CONTEXT) == {}
    assert sizes(service(tier=0, runtime="go", gomemlimit="50M"), 200, CONTEXT)["gomemlimit"] == "50MiB"


def test_a_gomemlimit_above_the_share_is_refused():
    with pytest.raises(MemoryBudgetError) as refused:
        sizes(service(tier=1, runtime="go", gomemlimit="190M"), 200, CONTEXT)
    assert str(refused.value) == (
        "memory_plan: service 'svc' key 'gomemlimit': 190 MiB is above 180 MiB, 0.9 x the 200 MiB limit that acts "
        "first; lower it or leave it to the plan"
    )
