# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""gopacket's reassembly pages from a share of the first limit that acts (was test_memory_extras.py)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._gopacket import reassembly_pages, sizes
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.tests.unit.plugins.plugin_utils.product_service import (
    CONTEXT,
    MIB,
    service,
)


@pytest.mark.parametrize(
    ("share", "budget_bytes", "expected"),
    [
        (Fraction(1, 4), 128 * MIB, (16384, 256)),
        (Fraction(1, 2), 128 * MIB, (32768, 512)),
        (Fraction(1, 4), 115 * MIB, (14720, 230)),
        (Fraction(1, 4), 1 * MIB, (128, 2)),
        (Fraction(1, 4), 64 * 2048 * 4 - 1, (63, 1)),  # fewer than 64 pages: one per connection still
        (Fraction(1, 4), 1000, (0, 1)),
    ],
)
def test_reassembly_pages(share, budget_bytes, expected):
    assert reassembly_pages(share, budget_bytes) == expected


def test_pages_from_the_limit_only_for_an_entry_that_asks():
    assert sizes(service(runtime="go"), 128, CONTEXT) == {}
    assert sizes(service(runtime="go", reassembly={"share": 0.5}), 128, CONTEXT) == {
        "max_buffered_pages_total": 32768,
        "max_buffered_pages_per_connection": 512,
    }


def test_reassembly_below_one_page_is_refused():
    with pytest.raises(MemoryBudgetError) as caught:
        sizes(service(runtime="go", reassembly={"share": 0.0009}), 2, CONTEXT)
    message = str(caught.value)
    assert message.startswith(
        "memory_plan: service 'svc' key 'reassembly': share 0.0009 of 2 MiB is less than one 2048-byte page"
    )
