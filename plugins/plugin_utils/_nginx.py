# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""nginx: its service key (limit_req_clients), its built-in plan entry, the limit_req zone size its clients need,
and the nginx_limit_req role's variables checked once and rendered as nginx lines.

Pure Python, no Ansible imports. The nginx_limit_req role's templates only print what
build_config returns, so every rule nginx would refuse at `nginx -t` (or, worse, accept and
misapply) is refused here first, with a message that names the variable and the accepted form.
"""

from __future__ import annotations

import ipaddress
import re

from ._memory_sizes import KIB, MIB, MemoryBudgetError
from ._plan_input import plan_entries
from ._product import Product, Renderer, refuse
from ._variable_checks import is_int, kind, mapping

NGINX_UNIT = "nginx.service"
# limit_req: one state is 128 bytes on 64-bit; a zone smaller than 32 KiB is refused.
LIMIT_REQ_STATE_BYTES = 128
MIN_ZONE_BYTES = 32 * KIB
# One limit_conn state on 64-bit nginx is 64 bytes; nginx refuses a zone smaller than 8 pages, limit_conn gets the
# same floor.
LIMIT_CONN_STATE_BYTES = 64
STATUS_RANGE = (400, 599)
LOG_LEVELS = ("info", "notice", "warn", "error")
# nginx stores the limit_conn count in a u_short: 65535 at most.
MAX_CONNECTIONS = 65535
# 64-bit nginx reads numbers into ngx_int_t (ngx_atoi) and sizes into ssize_t (ngx_parse_size): both refuse more
# than 2^63-1 ("invalid zone size"). It then multiplies a rate and a burst by 1000 unchecked (ctx->rate, limit->burst
# are in thousandths): past 2^63-1 / 1000 the product wraps and the limit is misapplied. `nodelay` sets its delay to
# that same bound (NGX_MAX_INT_T_VALUE / 1000).
NGX_MAX_INT = 2**63 - 1
MAX_RATE = NGX_MAX_INT // 1000
MAX_BURST = NGX_MAX_INT // 1000
MAX_ZONE_BYTES = NGX_MAX_INT
DEFAULT_KEY = "$binary_remote_addr"
# An empty key is not accounted: the allow-list maps exempt addresses to "" per zone.
EXEMPT_VARIABLE = "$smallvps_limit_exempt"
KEY_VARIABLE_PREFIX = "$smallvps_limit_key_"

ZONE_KEYS = ("name", "rate", "key", "size")
CONN_ZONE_KEYS = ("name", "key", "size")
LOCATION_KEYS = ("name", "path", "limit_req", "limit_conn", "dry_run", "proxy")
LIMIT_REQ_KEYS = ("zone", "burst", "nodelay", "delay")
LIMIT_CONN_KEYS = ("zone", "number")

ZONES = "nginx_limit_req_zones"
CONN_ZONES = "nginx_limit_req_conn_zones"
LOCATIONS = "nginx_limit_req_locations"
ALLOWLIST = "nginx_limit_req_allowlist"

_ZONE_NAME = re.compile(r"[A-Za-z0-9_]+")
_LOCATION_NAME = re.compile(r"[A-Za-z0-9_-]+")
_RATE = re.compile(r"([0-9]+)r/([sm])")
_SIZE = re.compile(r"([0-9]+)([kKmM]?)")
# A key is one nginx token: no statement end, block, quote or space; no backslash (it escapes
# the next character) and no '#' (at a token start it comments out the rest of the line).
_KEY_FORBIDDEN = re.compile(r"""[;{}"'\\#\s]""")
# A location match may hold spaces ("= /login") but must not end the line or open a block;
# a '#' starting a word would comment out the template's " {".
_PATH_FORBIDDEN = re.compile(r"[{};\r\n]|(?:^|\s)#")

RATE_FORM = "an integer count per second or minute, like 5r/s or 30r/m (nginx has no fractions: 0.5r/s is 30r/m)"
SIZE_FORM = "an nginx size: bytes or a whole number with k or m, like 32k, 250k, 1m or 10M, at least 32k"


class NginxLimitReqError(ValueError):
    """A refusal: the message starts with the variable and index, and says the accepted form."""


def _items(value, variable: str, example: str) -> list:
    if not isinstance(value, (list, tuple)):
        raise NginxLimitReqError(f"{variable}: {value!r} is {kind(value)}, not a list; expected a list like {example}")
    return list(value)


def _mapping(entry, where: str, keys: tuple, example: str) -> dict:
    return mapping(entry, where, NginxLimitReqError, keys, expected=f"one like {example}")


def _where(variable: str, index: int, entry, pattern: re.Pattern) -> str:
    """'nginx_limit_req_zones[2] (perip)': Ansible's 0-based index, and the name once it is one."""
    name = entry.get("name") if isinstance(entry, dict) else None
    return (
        f"{variable}[{index}] ({name})" if isinstance(name, str) and pattern.fullmatch(name) else f"{variable}[{index}]"
    )


def _name(entry: dict, where: str, pattern: re.Pattern, form: str) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not pattern.fullmatch(name):
        raise NginxLimitReqError(f"{where} key 'name': {name!r} is not a name; required, {form}")
    return name


def _flag(entry: dict, where: str, key: str, default):
    if key not in entry:
        return default
    if not isinstance(entry[key], bool):
        raise NginxLimitReqError(f"{where} key '{key}': {entry[key]!r} is not a boolean; expected true or false")
    return entry[key]


def _count(entry: dict, where: str, key: str, low: int, high: int | None = None, default=None):
    """An integer in low..high; `default` when the key is absent (None: optional, no value)."""
    if key not in entry:
        return default
    value = entry[key]
    if not is_int(value) or value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f"{low} or more"
        raise NginxLimitReqError(f"{where} key '{key}': {value!r} is not an integer {bound}")
    return value


def _rate(value, where: str) -> str:
    match = _RATE.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise NginxLimitReqError(f"{where} key 'rate': {value!r} is not a rate; expected {RATE_FORM}")
    if int(match[1]) < 1:
        raise NginxLimitReqError(f"{where} key 'rate': {value!r} lets no request through; expected at least 1r/m")
    if int(match[1]) > MAX_RATE:
        raise NginxLimitReqError(
            f"{where} key 'rate': {value!r} is more than nginx can hold (it keeps the rate in "
            f"thousandths, in a 64-bit integer); expected 1..{MAX_RATE} requests, like 5r/s or 30r/m"
        )
    return f"{int(match[1])}r/{match[2]}"


def _size(value, where: str) -> tuple[str, int]:
    """('250k', 256000): nginx's own form, lowercase; plain bytes only as a whole number of KiB."""
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if is_int(value):
        number, unit = value, ""
    elif match:
        number, unit = int(match[1]), match[2].lower()
    else:
        raise NginxLimitReqError(f"{where}: {value!r} is not a size; expected {SIZE_FORM}")
    size_bytes = number * {"": 1, "k": KIB, "m": MIB}[unit]
    if size_bytes < MIN_ZONE_BYTES:
        raise NginxLimitReqError(
            f"{where}: {value!r} is {size_bytes} bytes, below the 32k nginx needs for a zone; expected {SIZE_FORM}"
        )
    if size_bytes > MAX_ZONE_BYTES:
        raise NginxLimitReqError(
            f"{where}: {value!r} is {size_bytes} bytes, more than nginx reads as a size; expected "
            f"{SIZE_FORM}, at most {MAX_ZONE_BYTES // MIB}m ({MAX_ZONE_BYTES} bytes)"
        )
    if not unit:
        # Bytes are printed as k so the zone reads the way the docs and the memory plan write it.
        if size_bytes % KIB:
            raise NginxLimitReqError(
                f"{where}: {value!r} bytes is not a whole number of KiB; give it in k or m, like "
                f"{-(-size_bytes // KIB)}k"
            )
        number, unit = size_bytes // KIB, "k"
    return f"{number}{unit}", size_bytes


def _key(entry: dict, where: str) -> str:
    key = entry.get("key", DEFAULT_KEY)
    if not isinstance(key, str) or not key or _KEY_FORBIDDEN.search(key):
        raise NginxLimitReqError(
            f"{where} key 'key': {key!r} is not a zone key; expected one nginx word of variables "
            f"and text without spaces, quotes, ';', '{{', '}}', '\\' or '#', like {DEFAULT_KEY}"
        )
    return key


def _zone(raw, index: int, conn: bool, plan_zone_size) -> dict:
    """One zone of either list; only a limit_req zone may take its size from the memory plan."""
    variable = CONN_ZONES if conn else ZONES
    where = _where(variable, index, raw, _ZONE_NAME)
    example = "{name: perconn, size: 1m}" if conn else "{name: perip, rate: 5r/s}"
    entry = _mapping(raw, where, CONN_ZONE_KEYS if conn else ZONE_KEYS, example)
    zone = {"name": _name(entry, where, _ZONE_NAME, "letters, digits and '_', like perip"), "key": _key(entry, where)}
    if not conn:
        zone["rate"] = _rate(entry.get("rate"), where)
    if "size" in entry:
        zone["size"], zone["size_bytes"] = _size(entry["size"], f"{where} key 'size'")
    elif conn:
        raise NginxLimitReqError(
            f"{where}: no 'size'; give one, an nginx size such as 1m, at least 32k (64 bytes a connection state)"
        )
    elif plan_zone_size is None:
        raise NginxLimitReqError(
            f"{where}: no 'size'; give one (an nginx size such as 1m, at least 32k) or set limit_req_clients "
            "on the nginx entry of smallvps_services so the memory plan sizes the zone"
        )
    else:
        zone["size"], zone["size_bytes"] = _size(
            plan_zone_size, f"{where} key 'size' (the memory plan's limit_req_zone_size)"
        )
    zone["states"] = zone["size_bytes"] // (LIMIT_CONN_STATE_BYTES if conn else LIMIT_REQ_STATE_BYTES)
    return zone


def _check_unique_zone_names(zones: list, conn_zones: list) -> None:
    # One shared memory zone serves one module ("already declared for a different use"), and the
    # allow-list's map variables are named after the zone: nginx variable names ignore case.
    seen = {}
    for variable, parsed in ((ZONES, zones), (CONN_ZONES, conn_zones)):
        for index, zone in enumerate(parsed):
            other = seen.setdefault(zone["name"].lower(), (variable, index, zone["name"]))
            if other[:2] != (variable, index):
                raise NginxLimitReqError(
                    f"{variable}[{index}] ({zone['name']}) key 'name': {zone['name']!r} is also the name of "
                    f"{other[0]}[{other[1]}] ({other[2]}); zone names must be unique across both lists, "
                    "ignoring case (a shared memory zone serves limit_req or limit_conn, not both)"
                )


def _zone_of(entry: dict, where: str, zone_names: list, variable: str) -> str:
    zone = entry.get("zone")
    if zone not in zone_names:
        raise NginxLimitReqError(
            f"{where} key 'zone': {zone!r} is not a zone of {variable}; defined: {', '.join(zone_names) or 'none'}"
        )
    return zone


def _limit_req_line(raw, where: str, zone_names: list) -> tuple[str, str]:
    entry = _mapping(raw, where, LIMIT_REQ_KEYS, "{zone: perip, burst: 10, nodelay: true}")
    zone = _zone_of(entry, where, zone_names, ZONES)
    burst = _count(entry, where, "burst", 0, MAX_BURST, default=0)
    nodelay = _flag(entry, where, "nodelay", False)
    delay = _count(entry, where, "delay", 0, MAX_BURST)
    if nodelay and delay is not None:
        raise NginxLimitReqError(
            f"{where} key 'delay': nodelay and delay exclude each other; nodelay serves the whole burst at "
            "once, delay=N only the first N"
        )
    if delay is not None and delay > burst:
        raise NginxLimitReqError(
            f"{where} key 'delay': {delay} is more than burst {burst}; delay=N serves the first N requests "
            "of the burst without delay, so N is at most the burst"
        )
    # nginx refuses burst=0 and delay=0; both are its defaults, so they are left out.
    parts = [f"zone={zone}"] + ([f"burst={burst}"] if burst else [])
    parts += ["nodelay"] if nodelay else ([f"delay={delay}"] if delay else [])
    return zone, f"limit_req {' '.join(parts)};"


def _limit_conn_line(raw, where: str, zone_names: list) -> tuple[str, str]:
    entry = _mapping(raw, where, LIMIT_CONN_KEYS, "{zone: perconn, number: 20}")
    zone = _zone_of(entry, where, zone_names, CONN_ZONES)
    if "number" not in entry:
        raise NginxLimitReqError(
            f"{where} key 'number': required, the connections one key may hold open, 1..{MAX_CONNECTIONS}"
        )
    return zone, f"limit_conn {zone} {_count(entry, where, 'number', 1, MAX_CONNECTIONS)};"


def _limit_lines(entry: dict, where: str, key: str, zone_names: list, render, example: str) -> list:
    lines, used = [], {}
    for index, raw in enumerate(_items(entry.get(key, []), f"{where} key '{key}'", example)):
        zone, line = render(raw, f"{where} {key}[{index}]", zone_names)
        if zone in used:
            # nginx: "is duplicate"; one zone applies once per location.
            raise NginxLimitReqError(
                f"{where} {key}[{index}] key 'zone': {zone!r} is already applied by {key}[{used[zone]}]; "
                "a zone may be applied once per location"
            )
        used[zone] = index
        lines.append(line)
    return lines


def _path(entry: dict, where: str) -> str:
    path = entry.get("path")
    if not isinstance(path, str) or not path.strip() or _PATH_FORBIDDEN.search(path):
        raise NginxLimitReqError(
            f"{where} key 'path': {path!r} is not a location match; required, what follows 'location', like "
            "/, /api/, = /login or ~ ^/slow, without '{', '}', ';', a newline or a '#' comment"
        )
    return path


def _location(raw, index: int, req_zones: list, conn_zones: list) -> dict:
    where = _where(LOCATIONS, index, raw, _LOCATION_NAME)
    entry = _mapping(raw, where, LOCATION_KEYS, "{name: root, path: /, limit_req: [{zone: perip, burst: 10}]}")
    name = _name(entry, where, _LOCATION_NAME, "letters, digits, '_' and '-', like api")
    path = _path(entry, where)
    lines = _limit_lines(entry, where, "limit_req", req_zones, _limit_req_line, "[{zone: perip, burst: 10}]")
    lines += _limit_lines(entry, where, "limit_conn", conn_zones, _limit_conn_line, "[{zone: perconn, number: 20}]")
    dry_run = _flag(entry, where, "dry_run", None)
    if dry_run is not None:
        lines += [
            f"limit_req_dry_run {'on' if dry_run else 'off'};",
            f"limit_conn_dry_run {'on' if dry_run else 'off'};",
        ]
    return {"name": name, "path": path, "proxy": _flag(entry, where, "proxy", True), "lines": lines}


def _locations(locations, req_zones: list, conn_zones: list) -> list:
    parsed, names, paths = [], {}, {}
    for index, raw in enumerate(_items(locations, LOCATIONS, "[{name: root, path: /}]")):
        location = _location(raw, index, req_zones, conn_zones)
        where = f"{LOCATIONS}[{index}] ({location['name']})"
        if location["name"] in names:
            raise NginxLimitReqError(
                f"{where} key 'name': {location['name']!r} is also the name of {LOCATIONS}[{names[location['name']]}]; "
                "location names must be unique"
            )
        # nginx refuses a second identical prefix or exact location ("duplicate location").
        match = " ".join(location["path"].split())
        if match in paths:
            raise NginxLimitReqError(
                f"{where} key 'path': {location['path']!r} is also the path of {LOCATIONS}[{paths[match]}]; "
                "a location match may appear once"
            )
        names[location["name"]], paths[match] = index, index
        parsed.append(location)
    return parsed


def _allowlist(allowlist) -> list:
    networks = {}
    for index, value in enumerate(_items(allowlist, ALLOWLIST, "['127.0.0.1', '10.0.0.0/8']")):
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            network = str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise NginxLimitReqError(
                f"{ALLOWLIST}[{index}]: {value!r} is not an address or network; expected an IPv4 or IPv6 "
                "address or CIDR network, like 127.0.0.1, 10.0.0.0/8 or 2001:db8::/32"
            ) from None
        if network in networks:
            raise NginxLimitReqError(
                f"{ALLOWLIST}[{index}]: {value!r} is {network}, already listed as {ALLOWLIST}[{networks[network]}]"
            )
        networks[network] = index
    return list(networks)


def _global(value, variable: str, check, form: str):
    if not check(value):
        raise NginxLimitReqError(f"{variable}: {value!r} is not {form}")
    return value


def _http_lines(
    zones: list, conn_zones: list, networks: list, status: int, conn_status: int, log_level: str, dry_run: bool
) -> list:
    lines = []
    # With an allow-list every zone is keyed on a map that is "" for exempt addresses.
    keyed = {
        zone["name"]: f"{KEY_VARIABLE_PREFIX}{zone['name']}" if networks else zone["key"] for zone in zones + conn_zones
    }
    if networks:
        lines += [f"geo {EXEMPT_VARIABLE} {{", "    default 0;", *(f"    {network} 1;" for network in networks), "}"]
        for zone in zones + conn_zones:
            lines += [
                f"map {EXEMPT_VARIABLE} {keyed[zone['name']]} {{",
                f"    default {zone['key']};",
                '    1 "";',
                "}",
            ]
    lines += [f"limit_req_zone {keyed[z['name']]} zone={z['name']}:{z['size']} rate={z['rate']};" for z in zones]
    lines += [f"limit_conn_zone {keyed[z['name']]} zone={z['name']}:{z['size']};" for z in conn_zones]
    lines += [
        f"limit_req_status {status};",
        f"limit_req_log_level {log_level};",
        f"limit_conn_status {conn_status};",
        f"limit_conn_log_level {log_level};",
    ]
    if dry_run:
        lines += ["limit_req_dry_run on;", "limit_conn_dry_run on;"]
    return lines


def build_config(
    zones,
    conn_zones=(),
    locations=(),
    allowlist=(),
    plan_zone_size=None,
    status=429,
    conn_status=429,
    log_level="error",
    dry_run=False,
) -> dict:
    """{'http': [lines], 'locations': [{name, path, proxy, lines}], 'zones': [...], 'conn_zones': [...]}."""

    def is_status(value):
        return is_int(value) and STATUS_RANGE[0] <= value <= STATUS_RANGE[1]

    status_form = (
        "an HTTP status for refused requests; expected an integer 400..599, like 429 (Too Many Requests) or 503"
    )
    status = _global(status, "nginx_limit_req_status", is_status, status_form)
    conn_status = _global(conn_status, "nginx_limit_req_conn_status", is_status, status_form)
    log_level = _global(
        log_level,
        "nginx_limit_req_log_level",
        lambda value: value in LOG_LEVELS,
        f"a log level; expected one of {', '.join(LOG_LEVELS)}",
    )
    dry_run = _global(
        dry_run, "nginx_limit_req_dry_run", lambda value: isinstance(value, bool), "a boolean; expected true or false"
    )
    req = [
        _zone(raw, i, False, plan_zone_size)
        for i, raw in enumerate(_items(zones, ZONES, "[{name: perip, rate: 5r/s}]"))
    ]
    conn = [
        _zone(raw, i, True, None) for i, raw in enumerate(_items(conn_zones, CONN_ZONES, "[{name: perconn, size: 1m}]"))
    ]
    _check_unique_zone_names(req, conn)
    parsed_locations = _locations(locations, [z["name"] for z in req], [z["name"] for z in conn])
    networks = _allowlist(allowlist)
    return {
        "http": _http_lines(req, conn, networks, status, conn_status, log_level, dry_run),
        "locations": parsed_locations,
        "zones": [{k: z[k] for k in ("name", "key", "size", "size_bytes", "rate", "states")} for z in req],
        "conn_zones": [{k: z[k] for k in ("name", "key", "size", "size_bytes", "states")} for z in conn],
    }


# The planner's side: the service key, the built-in entry and the zone size.
KEYS = {"limit_req_clients": {"type": "int"}}
# 8000 clients: a 1000k limit_req zone, for the nginx_limit_req zones that give no size.
BUILTIN = {"name": "nginx", "tier": 0, "min": "32M", "processes": ["nginx"], "limit_req_clients": 8000}


def parse(raw: dict, name: str, runtime: str) -> dict:
    if "limit_req_clients" not in raw:
        return {"limit_req_clients": None}
    clients = raw["limit_req_clients"]
    if not is_int(clients) or clients <= 0:
        raise refuse(
            name, "limit_req_clients", f"{clients!r} is not a positive integer (expected distinct client addresses)"
        )
    return {"limit_req_clients": clients}


def limit_req_zone_bytes(clients: int) -> int:
    by_states = -(-clients * LIMIT_REQ_STATE_BYTES // KIB) * KIB
    return max(MIN_ZONE_BYTES, by_states)


def sizes(service, limit_mb: int, context) -> dict:
    if service.limit_req_clients is None:
        return {}
    zone_bytes = limit_req_zone_bytes(service.limit_req_clients)
    if zone_bytes > limit_mb * MIB:
        raise refuse(
            service.name,
            "limit_req_clients",
            f"{service.limit_req_clients} clients need a {zone_bytes // KIB}k zone, "
            f"more than the service's {limit_mb} MiB; lower limit_req_clients or raise min",
        )
    return {"limit_req_zone_size": f"{zone_bytes // KIB}k", "limit_req_zone_bytes": zone_bytes}


def plan_zone_size(plan):
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
    """The public filter's and the render action's function: the role's lines from the whole plan."""
    return build_config(
        zones, conn_zones, locations, allowlist, plan_zone_size(plan), status, conn_status, log_level, dry_run
    )


# A pre-fork server: the master respawns a worker the OOM killer took.
PRODUCT = Product(
    name="nginx",
    keys=KEYS,
    parse=parse,
    units=(NGINX_UNIT,),
    builtin=BUILTIN,
    prefork=True,
    sizes=sizes,
    table_keys=("limit_req_zone_size",),
    render=Renderer("nginx_limit_req", nginx_limit_req_config, "plan", (NginxLimitReqError, MemoryBudgetError)),
)
