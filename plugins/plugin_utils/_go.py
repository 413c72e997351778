# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The Go runtime (runtime: go): GOMEMLIMIT, from the first limit that acts on the service."""

from __future__ import annotations

import math

from ._memory_sizes import MIB
from ._product import Product, refuse, size_mb

RUNTIME = "go"
KEYS = {"gomemlimit": {"type": "raw", "runtime": RUNTIME}}


def parse(raw: dict, name: str, runtime: str) -> dict:
    return {"gomemlimit_mb": size_mb(raw, name, "gomemlimit")}


def gomemlimit_mb(service, limit_mb: int, go_ratio) -> int | None:
    ceiling = math.floor(go_ratio * limit_mb)
    if service.gomemlimit_mb is not None:
        if service.tier == 1 and service.gomemlimit_mb > ceiling:
            raise refuse(
                service.name,
                "gomemlimit",
                f"{service.gomemlimit_mb} MiB is above {ceiling} MiB, "
                f"{float(go_ratio):g} x the {limit_mb} MiB limit that acts first; lower it or leave it to the plan",
            )
        return service.gomemlimit_mb
    # Tier 0 and 2 have only an estimate: a heap limit from it would make the GC run flat out
    # once the live heap is bigger than the guess.
    if service.tier != 1:
        return None
    if ceiling < 1:
        raise refuse(service.name, "min", f"{limit_mb} MiB leaves no whole MiB for GOMEMLIMIT at {float(go_ratio):g}")
    return ceiling


def sizes(service, limit_mb: int, context) -> dict:
    if service.runtime != RUNTIME:
        return {}
    value_mb = gomemlimit_mb(service, limit_mb, context.gomemlimit_ratio)
    if value_mb is None:
        return {}
    # Go reads only "MiB"/"GiB"-style suffixes; "M" or "MB" makes the runtime exit at start.
    return {"gomemlimit": f"{value_mb}MiB", "gomemlimit_bytes": value_mb * MIB}


PRODUCT = Product(
    name="go",
    keys=KEYS,
    parse=parse,
    runtime=RUNTIME,
    entry_keys=("gomemlimit", "gomemlimit_bytes"),
    sizes=sizes,
)
