# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Private to this collection: what playbooks/drill.yml refuses before it touches the host, and what it drills.
Pure Python, no I/O; the drill_check action runs it on the controller."""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.smallvps.hardening.plugins.module_utils._drill_verdict import HEALTH_FORM, health_error

CONFIRM = (
    "smallvps_drill_confirm: drill.yml changes memory on the host: it makes each drilled unit leak until the "
    "kernel kills inside it and floods nginx on loopback. Set smallvps_drill_confirm=true (a boolean) to run it"
)
UNITS_FORM = (
    "a list of the plan's tier-1 unit names, such as [app.service] (default: every tier-1 unit of the plan but the "
    "monitoring role's smallvps-memory-metrics.service)"
)
# The monitoring role's metrics service (plugin_utils/_memory_metrics.UNIT; a test keeps the two equal): a oneshot its
# timer starts every half minute, so between two runs it has no process and no cgroup to leak in. molecule/monitoring
# shows its cap at work. Left out of the default leak round only; naming it is still the user's choice.
NOT_DRILLED_BY_DEFAULT = ("smallvps-memory-metrics.service",)
HEALTH_MAP_FORM = f"a mapping of drilled unit name to a health URL, {HEALTH_FORM}"


class DrillRefusal(Exception):
    """A variable of the drill that is refused; the message names it and the accepted form."""


def as_unit(name: str) -> str:
    return name if re.search(r"\.(service|scope|slice)$", name) else f"{name}.service"


def _is_true(value) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "yes"))


def check_request(confirm, units, health, host_wide: bool, host_wide_opt_in, hostname: str) -> None:
    """The checks of the drill's first play: nothing about the host, only the variables."""
    if not _is_true(confirm):
        raise DrillRefusal(CONFIRM)
    if units is not None:
        if not isinstance(units, list) or not units:
            raise DrillRefusal(f"smallvps_drill_units: {units!r} is not {UNITS_FORM}")
        for unit in units:
            if not isinstance(unit, str) or not re.fullmatch(r"[A-Za-z0-9:_.@\\-]+", unit):
                raise DrillRefusal(f"smallvps_drill_units: {unit!r} is not a unit name; the form is {UNITS_FORM}")
        if len({as_unit(u) for u in units}) != len(units):
            raise DrillRefusal(f"smallvps_drill_units: {units!r} names a unit twice; the form is {UNITS_FORM}")
    if not isinstance(health, dict):
        raise DrillRefusal(f"smallvps_drill_health: {health!r} is not {HEALTH_MAP_FORM}")
    for unit, url in health.items():
        error = health_error(url)
        if not isinstance(unit, str) or error:
            raise DrillRefusal(
                f"smallvps_drill_health: {unit!r}: {error or 'not a unit name'}; the form is {HEALTH_MAP_FORM}"
            )
    if host_wide and host_wide_opt_in != hostname:
        raise DrillRefusal(
            f"smallvps_drill_host_wide: the host_wide round puts the whole host {hostname} under memory pressure "
            f"outside every cap; set smallvps_drill_host_wide={hostname} (this host's inventory_hostname) to allow it "
            + ("(it is unset)" if host_wide_opt_in is None else f"(it is {host_wide_opt_in!r})")
        )


def plan_units(plan: dict, tier: int) -> list[str]:
    return sorted(entry["unit"] for entry in plan["services"].values() if entry["tier"] == tier)


def resolve_units(plan: dict, units, health: dict) -> list[dict]:
    """The leak round's units with their plan limits and health URL; refuses units outside the plan's tier 1."""
    by_unit = {entry["unit"]: entry for entry in plan["services"].values()}
    tier1 = plan_units(plan, 1)
    chosen = [u for u in tier1 if u not in NOT_DRILLED_BY_DEFAULT] if units is None else [as_unit(u) for u in units]
    for unit in chosen:
        entry = by_unit.get(unit)
        if entry is not None and entry["tier"] == 0:
            raise DrillRefusal(
                f"smallvps_drill_units: {unit} is tier 0 in the plan, and the drill never touches tier 0; "
                f"name tier-1 units only ({', '.join(tier1) or 'the plan has none'})"
            )
        if entry is None or entry["tier"] != 1:
            where = "not in the plan" if entry is None else f"tier {entry['tier']} in the plan"
            raise DrillRefusal(
                f"smallvps_drill_units: {unit} is {where}; the drill leaks in the plan's tier-1 units "
                f"({', '.join(tier1) or 'the plan has none'}): {UNITS_FORM}"
            )
    unknown = sorted(set(map(as_unit, health)) - set(chosen))
    if unknown:
        raise DrillRefusal(
            f"smallvps_drill_health: {', '.join(unknown)} is not a drilled unit ({', '.join(chosen) or 'none'}); "
            f"the form is {HEALTH_MAP_FORM}"
        )
    urls = {as_unit(u): url for u, url in health.items()}
    return [
        {
            "unit": unit,
            "memory_max": by_unit[unit]["memory_max_bytes"],
            "memory_swap_max": by_unit[unit]["memory_swap_max_bytes"],
            "health": urls.get(unit),
        }
        for unit in chosen
    ]


def parse_show(text: str) -> dict:
    """`systemctl show --property=Id,LoadState,MemoryMax UNIT...` -> {Id: {property: value}}."""
    units = {}
    for block in re.split(r"\n\s*\n", text.strip()):
        values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if "Id" in values:
            units[values["Id"]] = values
    return units


def check_applied(leaks: list[dict], shown: str) -> None:
    """Refuses units the host lacks or whose MemoryMax is not the plan's: site.yml has not applied the plan."""
    seen = parse_show(shown)
    for leak in leaks:
        unit, values = leak["unit"], seen.get(leak["unit"], {})
        if values.get("LoadState") != "loaded":
            raise DrillRefusal(
                f"smallvps_drill_units: {unit} does not exist on this host (LoadState "
                f"{values.get('LoadState', 'unknown')}); run site.yml first"
            )
        if values.get("MemoryMax") != str(leak["memory_max"]):
            raise DrillRefusal(
                f"smallvps_drill_units: {unit} has MemoryMax={values.get('MemoryMax')}, the plan says "
                f"{leak['memory_max']}: the plan is not applied on this host; run site.yml first"
            )


def _rate(text: str) -> float:
    number, per = re.fullmatch(r"(\d+)r/([sm])", str(text)).groups()
    return int(number) / (1 if per == "s" else 60)


def _port(listen: list) -> int | None:
    for entry in listen or []:
        address = str(entry).split()[0]
        if address.startswith("unix:"):
            continue
        port = address.rpartition(":")[2] if ":" in address else address
        if port.isdigit():
            return int(port)
    return None


def _allowlisted(allowlist: list) -> bool:
    for network in allowlist or []:
        try:
            if ipaddress.ip_address("127.0.0.1") in ipaddress.ip_network(str(network), strict=False):
                return True
        except ValueError:
            continue
    return False


def flood_targets(nginx: dict) -> tuple[list[dict], list[str]]:
    """(targets, skipped reasons) from nginx_limit_req's settings: zones, locations, dry_run, proxy_enabled,
    proxy_listen, allowlist. Each limited location is aimed at through the reverse-proxy server on loopback."""
    if str(nginx.get("proxy_enabled", True)).lower() in ("false", "no", "0"):
        return [], ["nginx_limit_req_proxy_enabled is false: the limited locations are snippets in your own servers"]
    if _allowlisted(nginx.get("allowlist")):
        return [], ["127.0.0.1 is in nginx_limit_req_allowlist: nginx never limits loopback, so a flood proves nothing"]
    port = _port(nginx.get("proxy_listen"))
    if port is None:
        return [], [f"nginx_limit_req_proxy_listen {nginx.get('proxy_listen')!r} has no TCP port to aim at"]
    rates = {zone["name"]: _rate(zone["rate"]) for zone in nginx.get("zones") or []}
    targets, skipped = [], []
    for location in nginx.get("locations") or []:
        name, path = location.get("name"), str(location.get("path", ""))
        limits = location.get("limit_req") or []
        if not limits:
            continue
        if str(location.get("dry_run", nginx.get("dry_run", False))).lower() in ("true", "yes", "1"):
            skipped.append(f"location {name}: dry run, nothing is rejected")
            continue
        words = path.split()
        if words[0] in ("~", "~*") or path.startswith("@"):
            skipped.append(f"location {name}: {path} is a regex or named location, with no URL to aim at")
            continue
        limit = limits[0]
        if limit["zone"] not in rates:
            skipped.append(f"location {name}: zone {limit['zone']} is not in nginx_limit_req_zones")
            continue
        url_path = words[-1]
        host = "127.0.0.1" if port == 80 else f"127.0.0.1:{port}"
        targets.append(
            {
                "location": name,
                "url": f"http://{host}{url_path}",
                "rate": rates[limit["zone"]],
                "burst": int(limit.get("burst", 0)),
            }
        )
    return targets, skipped
