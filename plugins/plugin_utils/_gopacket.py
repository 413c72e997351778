# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""gopacket's TCP reassembly in the user's Go daemon (reassembly: true or {share: 0.25}): how many pages
it may buffer, in total and per connection, from a share of the first limit that acts.

Its own module rather than _go.py's: the page size and the per-connection divisor are gopacket's numbers, not
the Go runtime's, and its key comes after the service products' keys in smallvps_services.
"""

from __future__ import annotations

import math
from fractions import Fraction

from ._memory_sizes import MIB, is_number
from ._product import Product, refuse

KEYS = {"reassembly": {"type": "raw", "default": False, "runtime": "go"}}
DEFAULT_SHARE = Fraction(1, 4)
MAX_SHARE = 0.5
# gopacket reassembly page: 1900 bytes of payload plus page header, ~2 KiB.
PAGE_BYTES = 2048
# One stalled connection may hold at most 1/64 of the pages so it cannot starve the rest.
PER_CONNECTION_DIVISOR = 64


def parse(raw: dict, name: str, runtime: str) -> dict:
    value = raw.get("reassembly", False)
    if isinstance(value, bool):
        return {"reassembly_share": DEFAULT_SHARE if value else None}
    if not isinstance(value, dict):
        raise refuse(name, "reassembly", f"{value!r} is neither a boolean nor a mapping like {{share: 0.25}}")
    for key in value:
        if key != "share":
            raise refuse(name, "reassembly", f"unknown sub-key {key!r}; accepted: share")
    share = value.get("share", 0.25)
    if not is_number(share) or not math.isfinite(share) or not 0 < share <= MAX_SHARE:
        raise refuse(name, "reassembly", f"share {share!r} is out of range; expected a number > 0 and <= {MAX_SHARE}")
    return {"reassembly_share": Fraction(share)}


def reassembly_pages(share: Fraction, budget_bytes: int) -> tuple[int, int]:
    total = math.floor(share * budget_bytes / PAGE_BYTES)
    return total, max(1, total // PER_CONNECTION_DIVISOR)


def sizes(service, limit_mb: int, context) -> dict:
    if service.reassembly_share is None:
        return {}
    total, per_connection = reassembly_pages(service.reassembly_share, limit_mb * MIB)
    if total < 1:
        raise refuse(
            service.name,
            "reassembly",
            f"share {float(service.reassembly_share)} of {limit_mb} MiB is less than one {PAGE_BYTES}-byte page; "
            "raise share or min",
        )
    return {"max_buffered_pages_total": total, "max_buffered_pages_per_connection": per_connection}


PRODUCT = Product(
    name="gopacket",
    keys=KEYS,
    parse=parse,
    sizes=sizes,
    table_keys=("max_buffered_pages_total", "max_buffered_pages_per_connection"),
)
