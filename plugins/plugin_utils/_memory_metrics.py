# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The monitoring role's memory metrics for node_exporter, as the planner sees it: a small built-in tier-1 entry.

roles/monitoring runs plugins/module_utils/_memory_status.py from a timer as this unit (when
monitoring_memory_metrics_enabled) and counts it as to come, so the plan caps it like any tier-1 service and
systemd_tiering writes its MemoryMax.
"""

from __future__ import annotations

from ._product import Product

# roles/monitoring/vars/main.yml names the same unit (tests/unit/roles/test_monitoring_memory_metrics.py).
UNIT = "smallvps-memory-metrics.service"

# python3 -I -S reading a few dozen cgroup files: a few MiB of anonymous memory, the interpreter's pages besides.
# A fixed cap (min == max): it takes 16 MiB from the tier-1 pool whatever the host's size. Its processes are the
# unit's name, as for an entry of yours that names none, not python3 (their comm): earlyoom's prefer list would
# otherwise match every Python program of the host.
PRODUCT = Product(
    name="memory_metrics",
    units=(UNIT,),
    builtin={
        "name": "smallvps-memory-metrics",
        "tier": 1,
        "min": "16M",
        "max": "16M",
        "processes": ["smallvps-memory-metrics"],
    },
)
