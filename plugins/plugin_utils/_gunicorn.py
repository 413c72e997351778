# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""gunicorn, the python runtime (runtime: python): a master and workers, as many as the limit holds."""

from __future__ import annotations

import math
from fractions import Fraction

from ._product import Product, refuse, size_mb

RUNTIME = "python"
KEYS = {
    "per_worker": {"type": "raw", "default": "64M", "runtime": RUNTIME},
    "master": {"type": "raw", "default": "32M", "runtime": RUNTIME},
}
# Master + workers may fill at most this share of the first limit that acts: the rest is the app's page cache,
# sockets and allocator fragmentation, which the cgroup charges too.
WORKERS_SHARE = Fraction(9, 10)


def parse(raw: dict, name: str, runtime: str) -> dict:
    if runtime != RUNTIME:
        return {"per_worker_mb": None, "master_mb": None}
    return {
        "per_worker_mb": size_mb(raw, name, "per_worker", KEYS["per_worker"]["default"]),
        "master_mb": size_mb(raw, name, "master", KEYS["master"]["default"]),
    }


def python_workers(service, limit_mb: int, cpus: int) -> int:
    # 2 x CPUs + 1 is gunicorn's advice; memory usually caps it first on a small VPS.
    by_memory = math.floor((WORKERS_SHARE * limit_mb - service.master_mb) / service.per_worker_mb)
    if by_memory < 1:
        raise refuse(
            service.name,
            "min",
            f"the first limit that acts, {limit_mb} MiB, leaves {math.floor(WORKERS_SHARE * limit_mb)} MiB for "
            f"the master ({service.master_mb} MiB) and one worker ({service.per_worker_mb} MiB) after "
            f"{100 - int(WORKERS_SHARE * 100)} % headroom; raise min or lower per_worker/master",
        )
    return min(2 * cpus + 1, by_memory)


def sizes(service, limit_mb: int, context) -> dict:
    if service.runtime != RUNTIME:
        return {}
    return {"workers": python_workers(service, limit_mb, context.cpus)}


# A pre-fork server whose master respawns a worker the OOM killer took: systemd's default OOMPolicy=stop would
# stop the whole unit for one worker.
PRODUCT = Product(
    name="gunicorn",
    keys=KEYS,
    parse=parse,
    runtime=RUNTIME,
    prefork=True,
    needs_cpus=True,
    entry_keys=("workers",),
    sizes=sizes,
)
