# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""OpenSSH's server, as the planner sees it: a built-in tier-0 entry that protects itself."""

from __future__ import annotations

from ._product import Product

# Debian and Ubuntu ship OpenSSH as ssh.service with sshd.service as an alias, so `sshd`, `ssh` and
# `ssh.service` are one unit.
UNIT = "ssh.service"
ALIASES = {"sshd.service": UNIT}

# OpenSSH writes -1000 for its listener and restores the value it was started with for every session: an
# OOMScoreAdjust on ssh.service would hand the tier's protection to every user shell. Its tier-0 entry gets none
# unless the user sets one.
PRODUCT = Product(
    name="ssh",
    units=(UNIT,),
    aliases=ALIASES,
    builtin={"name": "ssh", "tier": 0, "min": "16M", "processes": ["sshd"]},
    self_protecting=True,
)
