# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Private to this collection (no stable API): the products, the one place that names them all.

The planner and the render step read every product through this list (see _product.Product). Its order is
the order the products' keys take in smallvps_services (runtimes first: their keys come before `processes`), the
order built-in entries join the plan, and the order their sizes appear in a plan entry.
"""

from __future__ import annotations

from . import _caddy, _go, _gopacket, _gunicorn, _haproxy, _memory_metrics, _nginx, _oathkeeper, _ssh, _traefik

PRODUCTS = (
    _go.PRODUCT,
    _gunicorn.PRODUCT,
    _ssh.PRODUCT,
    _nginx.PRODUCT,
    _haproxy.PRODUCT,
    _oathkeeper.PRODUCT,
    _gopacket.PRODUCT,
    _caddy.PRODUCT,
    _traefik.PRODUCT,
    _memory_metrics.PRODUCT,
)
RUNTIME_PRODUCTS = tuple(product for product in PRODUCTS if product.runtime)
SERVICE_PRODUCTS = tuple(product for product in PRODUCTS if not product.runtime)


def keys(products) -> dict:
    """The smallvps_services keys the products add, in order."""
    return {key: spec for product in products for key, spec in product.keys.items()}


BUILTIN_SERVICES = tuple(product.builtin for product in PRODUCTS if product.builtin)
UNIT_ALIASES = {alias: unit for product in PRODUCTS for alias, unit in product.aliases.items()}
RENDERERS = {product.render.name: product.render for product in PRODUCTS if product.render}
