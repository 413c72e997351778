# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Private to this collection (no stable API): render one product's configuration, or refuse its variables.

The render action plugin calls `render`; the public filters (haproxy_config, nginx_limit_req_config, caddy_config,
traefik_config, oathkeeper_config) wrap the same product functions (each product module's Product.render), so a
role that renders through the action gets exactly what the filter returns, and the same refusal message.
"""

from __future__ import annotations

from ._products import RENDERERS


class Refusal(ValueError):
    """A refusal of the render step: the product's own message, or an unknown product or option."""


def accepted_options(product: str) -> dict:
    """{option name: required?} of a product of the render step."""
    return RENDERERS[product].options()


def render(product: str, plan, options: dict):
    """The product's content for the plan and options; a refusal raises Refusal with the product's message."""
    if product not in RENDERERS:
        raise Refusal(f"render: product {product!r} is not one of {', '.join(sorted(RENDERERS))}")
    renderer = RENDERERS[product]
    accepted = accepted_options(product)
    unknown = sorted(name for name in options if name not in accepted)
    if unknown:
        raise Refusal(
            f"render: options: {', '.join(repr(name) for name in unknown)} is not an option of {product}; "
            f"expected some of {', '.join(accepted)}"
        )
    missing = [name for name, required in accepted.items() if required and name not in options]
    if missing:
        raise Refusal(f"render: options: {product} needs {', '.join(repr(name) for name in missing)}")
    try:
        if renderer.takes == "plan":
            return renderer.function(plan, **options)
        return renderer.function(**options)
    except renderer.errors as error:
        raise Refusal(str(error)) from error
