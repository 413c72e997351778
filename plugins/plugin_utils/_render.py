# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Private to this collection (no stable API): render one product's configuration, or refuse its variables.

The public filters (haproxy_config, nginx_limit_req_config, caddy_config, traefik_config, oathkeeper_config) and
the render action plugin both call `render`, so a role that renders through the action gets exactly what the filter
returns, and the same refusal message.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from ._caddy_config import CaddyConfigError, build_caddyfile
from ._haproxy_config import HAPROXY_UNIT, HaproxyConfigError, no_entry_message, no_maxconn_message
from ._haproxy_config import build_config as build_haproxy
from ._memory_services import unit_of
from ._memory_sizes import MemoryBudgetError
from ._nginx_limit_req import NginxLimitReqError
from ._nginx_limit_req import build_config as build_nginx_limit_req
from ._oathkeeper_config import OathkeeperConfigError, check_environment, exposed
from ._oathkeeper_config import build_config as build_oathkeeper
from ._oathkeeper_rules import build_rules
from ._plan_input import plan_entries
from ._traefik_config import TraefikConfigError
from ._traefik_config import build_config as build_traefik

NGINX_UNIT = "nginx.service"
OATHKEEPER_UNIT = "oathkeeper.service"


class Refusal(ValueError):
    """A refusal of the render step: the product's own message, or an unknown product or option."""


def haproxy_plan_entry(plan) -> dict:
    """The plan's haproxy.service entry; refused when it is missing or has no maxconn."""
    for entry in plan_entries(plan, "haproxy_config", need_summary=True):
        if entry["unit"] == HAPROXY_UNIT:
            if entry.get("maxconn") is None:
                raise HaproxyConfigError(no_maxconn_message(entry["name"]))
            return entry
    raise HaproxyConfigError(no_entry_message())


def haproxy_config(
    plan, servers=None, port=80, bind_address="*", timeouts=None, http2=True, nbthread=None, hard_stop_after="30s"
):
    entry = haproxy_plan_entry(plan)
    return build_haproxy(
        servers,
        entry.get("tune_bufsize"),
        entry["maxconn"],
        plan["summary"]["cpus"],
        port=port,
        bind_address=bind_address,
        timeouts=timeouts,
        http2=http2,
        nbthread=nbthread,
        hard_stop_after=hard_stop_after,
    )


def nginx_plan_zone_size(plan):
    """The plan's limit_req_zone_size for nginx.service; None without that entry or that key."""
    for entry in plan_entries(plan, "nginx_limit_req_config"):
        if entry["unit"] == NGINX_UNIT:
            return entry.get("limit_req_zone_size")
    return None


def nginx_limit_req_config(
    plan,
    zones=(),
    conn_zones=(),
    locations=(),
    allowlist=(),
    status=429,
    conn_status=429,
    log_level="error",
    dry_run=False,
):
    return build_nginx_limit_req(
        zones, conn_zones, locations, allowlist, nginx_plan_zone_size(plan), status, conn_status, log_level, dry_run
    )


def caddy_config(
    site_address,
    upstreams,
    timeouts,
    max_header_size,
    upstream_pool,
    request_buffers=0,
    response_buffers=0,
    grace_period="10s",
    admin="localhost:2019",
):
    return build_caddyfile(
        site_address,
        upstreams,
        timeouts,
        max_header_size,
        upstream_pool,
        request_buffers,
        response_buffers,
        grace_period,
        admin,
    )


def traefik_config(
    address,
    upstreams,
    responding_timeouts,
    forwarding_timeouts,
    max_header_bytes,
    max_idle_conns_per_host,
    compress=True,
    encodings=("gzip",),
    file_watch=False,
    dynamic_path="/etc/traefik/dynamic.yml",
    rule="PathPrefix(`/`)",
    log_level="INFO",
    version=None,
    check_new_version=False,
):
    return build_traefik(
        address,
        upstreams,
        responding_timeouts,
        forwarding_timeouts,
        max_header_bytes,
        max_idle_conns_per_host,
        compress,
        list(encodings),
        file_watch,
        dynamic_path,
        rule,
        log_level,
        version=version,
        check_new_version=check_new_version,
    )


def oathkeeper_config(
    plan_entry,
    proxy_port=4455,
    proxy_timeouts=None,
    api_host="127.0.0.1",
    api_port=4456,
    authenticators=None,
    authorizers=None,
    mutators=None,
    rules=None,
    rules_path="/etc/oathkeeper/rules.yml",
    log_level="info",
    prometheus_host="127.0.0.1",
    prometheus_port=9000,
    api_expose=False,
    prometheus_expose=False,
    telemetry_enabled=False,
    environment=None,
):
    if not isinstance(plan_entry, dict):
        raise OathkeeperConfigError(
            "smallvps_services: no memory plan entry for Oathkeeper; add one such as "
            "{name: oathkeeper, tier: 1, runtime: go, min: 64M, introspection_cache: true}"
        )
    check_environment({} if environment is None else environment, telemetry_enabled)
    config = build_oathkeeper(
        proxy_port,
        proxy_timeouts,
        api_host,
        api_port,
        authenticators,
        authorizers,
        mutators,
        rules_path,
        log_level,
        plan_entry.get("introspection_max_cost"),
        prometheus_host,
        prometheus_port,
        api_expose,
        prometheus_expose,
    )
    rules = build_rules(rules, config["authenticators"], config["authorizers"], config["mutators"])
    return {"config": config, "rules": rules, "warnings": exposed(config)}


def oathkeeper_from_plan(plan, unit=OATHKEEPER_UNIT, **options):
    """oathkeeper_config on the entry of `unit` in the whole plan (no plan or no entry: the filter's refusal)."""
    entry = None
    if plan is not None:
        wanted = unit_of(unit) if isinstance(unit, str) and unit else unit
        entry = next((each for each in plan_entries(plan, "oathkeeper_config") if each["unit"] == wanted), None)
    return oathkeeper_config(entry, **options)


@dataclass(frozen=True)
class Renderer:
    """How the render step calls one product.

    function: takes the input first (see `takes`), then the options as keywords.
    takes: what the render step passes first: "plan" (the `plan` argument as given), or the name of the option
      that is the filter's input (caddy's site_address, traefik's address); None for neither.
    errors: the exceptions that are the product's refusals.
    """

    function: Callable
    takes: str | None
    errors: tuple

    def options(self) -> dict:
        """{option name: required?}, from the function's signature."""
        parameters = list(inspect.signature(self.function).parameters.values())
        if self.takes == "plan":
            parameters = parameters[1:]
        return {
            each.name: each.default is inspect.Parameter.empty
            for each in parameters
            if each.kind is not inspect.Parameter.VAR_KEYWORD
        }


RENDERERS = {
    "haproxy": Renderer(haproxy_config, "plan", (HaproxyConfigError, MemoryBudgetError)),
    "nginx_limit_req": Renderer(nginx_limit_req_config, "plan", (NginxLimitReqError, MemoryBudgetError)),
    "caddy": Renderer(caddy_config, "site_address", (CaddyConfigError,)),
    "traefik": Renderer(traefik_config, "address", (TraefikConfigError,)),
    "oathkeeper": Renderer(oathkeeper_from_plan, "plan", (OathkeeperConfigError, MemoryBudgetError)),
}
# oathkeeper_from_plan passes its options on to oathkeeper_config: those are its options too.
OATHKEEPER_OPTIONS = ("unit",) + tuple(inspect.signature(oathkeeper_config).parameters)[1:]


def accepted_options(product: str) -> dict:
    """{option name: required?} of a product of the render step."""
    if product == "oathkeeper":
        return {name: False for name in OATHKEEPER_OPTIONS}
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
