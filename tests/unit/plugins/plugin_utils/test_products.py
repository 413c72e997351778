# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The product registry: every product module is listed once, and the planner and the render step read products
only through it (so a product's number, key or refusal is one file's change)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from ansible_collections.smallvps.hardening.plugins.modules.render import ARGUMENT_SPEC
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_services import (
    CORE_SCHEMA,
    SERVICE_SCHEMA,
)
from ansible_collections.smallvps.hardening.plugins.plugin_utils._product import Product
from ansible_collections.smallvps.hardening.plugins.plugin_utils._products import PRODUCTS, RENDERERS
from ansible_collections.smallvps.hardening.tests.unit.plugins.plugin_utils.product_service import (
    CONTEXT,
    service,
)

PLUGIN_UTILS = Path(__file__).resolve().parents[4] / "plugins" / "plugin_utils"
PACKAGE = "ansible_collections.smallvps.hardening.plugins.plugin_utils"
# The modules that must name no product: they reach products through _products alone.
PRODUCT_BLIND = ("_memory_services.py", "_memory_plan.py", "_render.py")


def _product_modules() -> dict:
    """{module name: its PRODUCT} for every plugin_utils module that exports one."""
    found = {}
    for path in sorted(PLUGIN_UTILS.glob("_*.py")):
        module = importlib.import_module(f"{PACKAGE}.{path.stem}")
        if isinstance(getattr(module, "PRODUCT", None), Product):
            found[path.stem] = module.PRODUCT
    return found


def test_every_product_module_is_registered_once_under_its_own_name():
    modules = _product_modules()
    assert list(PRODUCTS) == [p for p in PRODUCTS if p in modules.values()], "a registered product has no module"
    assert sorted(p.name for p in PRODUCTS) == sorted(name.lstrip("_") for name in modules)
    assert len({p.name for p in PRODUCTS}) == len(PRODUCTS)


def _product_words() -> set:
    """What only a product may say: its name, runtime, units, aliases, keys and the settings it parses."""
    words = set()
    for product in PRODUCTS:
        words |= {product.name, *product.units, *product.aliases, *product.aliases.values(), *product.keys}
        words |= {product.runtime} if product.runtime else set()
        words |= set(product.entry_keys)
        if product.render:
            words.add(product.render.name)
    for raw in (p.builtin for p in PRODUCTS if p.builtin):
        words |= set(raw)
    return words - set(CORE_SCHEMA) - {"name", "tier", "min", "processes"}


@pytest.mark.parametrize("module", PRODUCT_BLIND)
def test_the_planner_and_the_render_step_name_no_product(module):
    tree = ast.parse((PLUGIN_UTILS / module).read_text(encoding="utf-8"))
    product_modules = set(_product_modules())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & product_modules, f"{module} imports a product module instead of _products"
    words = _product_words()
    named = sorted(
        node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and node.value in words
    ) + sorted(node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr in words)
    assert named == [], f"{module} names what belongs to a product: {named}"


def test_no_two_products_declare_one_key():
    declared = [key for product in PRODUCTS for key in product.keys]
    assert len(declared) == len(set(declared))
    assert not set(declared) & set(CORE_SCHEMA)
    assert set(declared) <= set(SERVICE_SCHEMA)


def test_a_service_product_sizes_nothing_for_an_entry_that_asks_for_nothing():
    for runtime in ("generic", "go", "python"):
        for product in PRODUCTS:
            if product.sizes and not product.runtime:
                assert product.sizes(service(runtime=runtime), 64, CONTEXT) == {}, product.name


def test_a_product_setting_reads_as_an_attribute_and_nothing_else_does():
    parsed = service(tune_bufsize=8192)
    assert parsed.tune_bufsize == 8192 and parsed.settings["tune_bufsize"] == 8192
    with pytest.raises(AttributeError):
        parsed.no_such_setting  # noqa: B018


def test_the_render_action_offers_exactly_the_registered_renderers():
    assert ARGUMENT_SPEC["product"]["choices"] == sorted(RENDERERS)
