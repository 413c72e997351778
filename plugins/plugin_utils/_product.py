# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Private to this collection (no stable API): what one product tells the planner and the render step.

A product is a program the collection plans memory for or writes configuration for (nginx, HAProxy, gunicorn,
the Go runtime...). Each lives in one module, plugins/plugin_utils/_<product>.py, which exports one `Product`;
_products.py lists them. The planner (_memory_services, _memory_plan) and the render step (_render) read products
only through that list, so a product's number, key or refusal changes in its own module alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

from ._memory_sizes import MemoryBudgetError, ceil_mib, parse_size


def refuse(name: str, key: str, message: str) -> MemoryBudgetError:
    """A refusal of one key of one smallvps_services entry."""
    return MemoryBudgetError(f"memory_plan: service '{name}' key '{key}': {message}")


def service_unit(name: str) -> str:
    """'app' -> 'app.service' (the planner's unit_of also resolves aliases such as sshd)."""
    return name if name.endswith(".service") else f"{name}.service"


def size_mb(raw: dict, name: str, key: str, default=None, allow_zero: bool = False) -> int | None:
    """A size key of an entry in whole MiB, rounded up; `default` (a size or None) when the key is absent."""
    value = raw.get(key, default)
    if value is None:
        return None
    return ceil_mib(parse_size(value, f"memory_plan: service '{name}' key '{key}'", allow_zero))


def flag(raw: dict, name: str, key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise refuse(name, key, f"{value!r} is not a boolean; expected true or false")
    return value


@dataclass(frozen=True)
class SizingContext:
    """What a product's sizes may read besides its own service: the plan's options for this host."""

    cpus: int
    gomemlimit_ratio: object


@dataclass(frozen=True)
class Renderer:
    """How the render action calls one product (and its public filter wraps the same function).

    name: the action's `product` value (nginx's is nginx_limit_req).
    function: takes the input first (see `takes`), then the options as keywords; raises one of `errors`.
    takes: "plan" (the action's `plan`, as given), or None when the function's first parameter is an option
      itself (caddy's site_address, traefik's address).
    errors: the exceptions that are the product's refusals; their message is the refusal, unchanged.
    extra_options: options the action accepts besides the function's own parameters (they reach it as **kwargs).
    """

    name: str
    function: Callable
    takes: str | None
    errors: tuple
    extra_options: tuple = ()

    def options(self) -> dict:
        """{option name: required?}, from the function's signature."""
        parameters = list(inspect.signature(self.function).parameters.values())
        if self.takes == "plan":
            parameters = parameters[1:]
        named = {
            each.name: each.default is inspect.Parameter.empty
            for each in parameters
            if each.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
        }
        return {**dict.fromkeys(self.extra_options, False), **named}


@dataclass(frozen=True)
class Product:
    """One product's registration; every field but `name` is optional.

    name: the product, as its module is named.
    keys: the smallvps_services keys it adds, in order, each spec as in an argument spec (type, default,
      choices...) plus the scope the planner enforces: "tier" (only that tier) or "runtime" (only that runtime).
    parse: (raw entry, service name, runtime) -> {setting: value} for its keys, refusing a bad value with
      `refuse`; the planner keeps the result in Service.settings (read as service.<setting>).
    runtime: the `runtime` value this product is (go, python); a product without one is a service product.
    units: the units that are this product (nginx.service), for `prefork` and `self_protecting`.
    aliases: {another name of one of its units: the unit} (sshd.service: ssh.service), so both are one unit.
    builtin: the smallvps_services entry (tier 0, or a small tier 1) added when its unit exists and no entry of the
      user names it.
    prefork: its master respawns a worker the OOM killer took: OOMPolicy=continue unless the user sets one.
    self_protecting: it sets its own OOM score; the plan writes no OOMScoreAdjust unless the user sets one.
    needs_cpus: its sizes need the host's CPU count.
    entry_keys: keys every plan entry carries, None unless `sizes` gives them (a runtime's gomemlimit, workers);
      a product without entry_keys adds its sizes' keys only to its own services' entries, after the others.
    sizes: (service, limit_mb, SizingContext) -> {plan key: value}, sized from the first limit that acts on
      the service (MemoryHigh when it has one, else its budget); {} for a service it does not concern.
    table_keys: the keys of its sizes that budget.yml's table prints for an entry that has them, in order.
    render: how the render action calls it (see Renderer).
    """

    name: str
    keys: dict = field(default_factory=dict)
    parse: Callable | None = None
    runtime: str | None = None
    units: tuple = ()
    aliases: dict = field(default_factory=dict)
    builtin: dict | None = None
    prefork: bool = False
    self_protecting: bool = False
    needs_cpus: bool = False
    entry_keys: tuple = ()
    sizes: Callable | None = None
    table_keys: tuple = ()
    render: Renderer | None = None

    def concerns(self, unit: str, runtime: str) -> bool:
        """Whether a service is this product: its unit is one of `units`, or it runs on this runtime."""
        return unit in self.units or (self.runtime is not None and runtime == self.runtime)
