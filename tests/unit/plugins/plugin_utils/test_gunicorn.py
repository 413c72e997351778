# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""gunicorn's workers (runtime python) from the first limit that acts and the CPU count."""

from __future__ import annotations

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._gunicorn import sizes
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._product import SizingContext
from ansible_collections.smallvps.hardening.tests.unit.plugins.plugin_utils.product_service import CONTEXT, service


def test_workers_are_what_the_limit_holds_at_most_2_cpus_plus_1():
    # 0.9 x 256 MiB = 230 MiB; less the 32 MiB master, 64 MiB workers: 3.
    assert sizes(service(tier=1, runtime="python"), 256, CONTEXT) == {"workers": 3}
    # One CPU: at most 2 x 1 + 1 = 3 even with room for 14.
    assert sizes(service(tier=1, runtime="python"), 1024, CONTEXT) == {"workers": 3}
    assert sizes(service(tier=1, runtime="python"), 1024, SizingContext(cpus=8, gomemlimit_ratio=None)) == {
        "workers": 13
    }


def test_only_the_python_runtime_gets_workers():
    assert sizes(service(tier=1), 256, CONTEXT) == {}


def test_a_limit_without_room_for_one_worker_is_refused():
    with pytest.raises(MemoryBudgetError) as refused:
        sizes(service(tier=1, runtime="python"), 64, CONTEXT)
    assert str(refused.value) == (
        "memory_plan: service 'svc' key 'min': the first limit that acts, 64 MiB, leaves 57 MiB for the master "
        "(32 MiB) and one worker (64 MiB) after 10 % headroom; raise min or lower per_worker/master"
    )
