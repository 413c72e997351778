# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""HAProxy in front of the app: its service key (tune_bufsize), its built-in plan entry, the maxconn its budget
holds, and the role's variables checked once and rendered as haproxy.cfg lines.

Pure Python, no Ansible imports. The haproxy role's template only prints what build_config returns; its memory
numbers (global maxconn, tune.bufsize) are the plan entry's, which `sizes` gives. Every value HAProxy would refuse,
or accept and read differently (a plain number of milliseconds where seconds were meant), is refused first, with a
message that names the variable and the accepted form.
"""

from __future__ import annotations

import ipaddress
import re

from ._memory_sizes import KIB, MIB, MemoryBudgetError
from ._plan_input import plan_entries
from ._product import Product, Renderer, refuse
from ._variable_checks import is_int, kind

HAPROXY_UNIT = "haproxy.service"
# An HTTP/2 frame carries up to 16384 bytes of payload (SETTINGS_MAX_FRAME_SIZE's initial
# value); HAProxy's h2 mux needs a buffer that holds one.
HTTP2_MIN_BUFSIZE = 16384
# Space kept free in a buffer for header rewrites; HAProxy caps it at half the buffer.
MAXREWRITE = 1024
# HAProxy 2.6 is built with MAX_THREADS 64 (Debian 12); more threads than that are refused.
MAX_THREADS = 64
# HAProxy keeps times in milliseconds in a signed 32-bit integer: about 24.8 days at most.
MAX_TIME_MS = 2**31 - 1
TIME_UNITS_MS = {"ms": 1, "s": 1000, "m": 60 * 1000, "h": 3600 * 1000, "d": 86400 * 1000}

# The defaults section's timeouts; haproxy_timeouts replaces any of them.
DEFAULT_TIMEOUTS = {
    # Reaching a backend server; on loopback or a LAN a connection takes milliseconds.
    "connect": "5s",
    # Inactivity of the client and of the server while a request is under way.
    "client": "30s",
    "server": "30s",
    # The whole request head: bounds what a slow (slowloris) client holds.
    "http-request": "10s",
    # An idle client connection between requests still counts against maxconn.
    "http-keep-alive": "5s",
    # A request waiting for a free server slot.
    "queue": "10s",
}
TIMEOUT_KEYS = tuple(DEFAULT_TIMEOUTS)

# Debian's package: its unit bind-mounts /dev/log into the chroot, its postinst creates the user.
DEBIAN_GLOBAL = ("log /dev/log local0", "chroot /var/lib/haproxy", "user haproxy", "group haproxy")
# The runtime API; expose-fd listeners lets a new process fetch the listening sockets through it
# (haproxy -x). Debian's master-worker unit needs no stats socket for that since HAProxy 2.6: the
# master hands the previous worker's internal socketpair to the new one (-x sockpair@FD).
STATS_SOCKET = "stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners"
FRONTEND = "http_in"
BACKEND = "app_servers"

SERVERS = "haproxy_servers"
TIMEOUTS = "haproxy_timeouts"

TIME_FORM = (
    "an HAProxy time: a whole number and one unit, ms, s, m, h or d, like 100ms, 5s, 30s or 1m "
    "(a plain number is milliseconds to HAProxy; 1m30s and 1.5s are not HAProxy times, write 90s or 1500ms)"
)
SERVER_FORM = "host:port, like 127.0.0.1:8000, [::1]:8000 or app.internal:8000 (a port 1..65535; IPv6 in brackets)"
_TIME = re.compile(r"([0-9]+)(ms|s|m|h|d)")
_PORT = re.compile(r"[0-9]{1,5}")
# Letters, digits, '-' and '_' (container and compose service names have underscores).
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


class HaproxyConfigError(ValueError):
    """A refusal: the message starts with the variable (and index), and says the accepted form."""


def parse_time(value, where: str) -> tuple[str, int]:
    """('30s', 30000): the time as HAProxy reads it, and in milliseconds."""
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise HaproxyConfigError(f"{where}: {value!r} is not a time; expected {TIME_FORM}")
    number, unit = int(match[1]), match[2]
    milliseconds = number * TIME_UNITS_MS[unit]
    if milliseconds < 1:
        raise HaproxyConfigError(f"{where}: {value!r} is no time at all; expected at least 1ms, {TIME_FORM}")
    if milliseconds > MAX_TIME_MS:
        raise HaproxyConfigError(
            f"{where}: {value!r} is more than HAProxy's longest time, {MAX_TIME_MS}ms (about 24 days)"
        )
    return f"{number}{unit}", milliseconds


def _timeouts(timeouts) -> dict:
    if not isinstance(timeouts, dict):
        raise HaproxyConfigError(
            f"{TIMEOUTS}: {timeouts!r} is {kind(timeouts)}, not a mapping; expected one like "
            f"{{client: 30s, http-request: 10s}}, keys {', '.join(TIMEOUT_KEYS)}"
        )
    for key in timeouts:
        if key not in TIMEOUT_KEYS:
            raise HaproxyConfigError(f"{TIMEOUTS} key {key!r}: unknown key; accepted keys: {', '.join(TIMEOUT_KEYS)}")
    merged = {**DEFAULT_TIMEOUTS, **timeouts}
    return {key: parse_time(merged[key], f"{TIMEOUTS} key '{key}'")[0] for key in TIMEOUT_KEYS}


def _hostname(host: str) -> bool:
    labels = host.split(".")
    # A dotted all-numeric name is a mistyped IPv4 address (10.0.0.256, 10.1), not a host name.
    return (
        len(host) <= 253
        and all(_LABEL.fullmatch(label) for label in labels)
        and not all(label.isdigit() for label in labels)
    )


def _server(value, index: int) -> tuple[str, str]:
    """(address as HAProxy reads it, the same normalized for duplicate detection)."""
    where = f"{SERVERS}[{index}]"
    if not isinstance(value, str):
        raise HaproxyConfigError(f"{where}: {value!r} is {kind(value)}, not a server; expected {SERVER_FORM}")
    if value.startswith("["):
        host, _, port = value[1:].partition("]")
        if not port.startswith(":"):
            raise HaproxyConfigError(f"{where}: {value!r} has no port; expected {SERVER_FORM}")
        port = port[1:]
        try:
            address = ipaddress.IPv6Address(host)
            if address.scope_id:
                raise ValueError(host)
        except ValueError:
            raise HaproxyConfigError(
                f"{where}: {value!r}: {host!r} is not an IPv6 address (without a %zone); expected {SERVER_FORM}"
            ) from None
        rendered_host, key_host = f"[{address.compressed}]", f"[{address.compressed}]"
    else:
        host, colon, port = value.rpartition(":")
        if not colon:
            raise HaproxyConfigError(f"{where}: {value!r} has no port; expected {SERVER_FORM}")
        if ":" in host:
            raise HaproxyConfigError(
                f"{where}: {value!r}: an IPv6 address needs brackets, like [{host}]:{port}; expected {SERVER_FORM}"
            )
        try:
            rendered_host = key_host = str(ipaddress.IPv4Address(host))
        except ValueError:
            if not _hostname(host):
                raise HaproxyConfigError(
                    f"{where}: {value!r}: {host!r} is neither an IPv4 address nor a host name "
                    f"(letters, digits, '-' and '_' in dot-separated labels); expected {SERVER_FORM}"
                ) from None
            rendered_host, key_host = host, host.lower()
    if not _PORT.fullmatch(port) or not 1 <= int(port) <= 65535:
        raise HaproxyConfigError(f"{where}: {value!r}: {port!r} is not a port; expected {SERVER_FORM}")
    return f"{rendered_host}:{int(port)}", f"{key_host}:{int(port)}"


def _servers(servers) -> list:
    if not isinstance(servers, (list, tuple)) or not servers:
        raise HaproxyConfigError(
            f"{SERVERS}: {servers!r} is not a non-empty list of servers; required, a list like "
            "['127.0.0.1:8000'], each host:port"
        )
    addresses, seen = [], {}
    for index, value in enumerate(servers):
        address, key = _server(value, index)
        if key in seen:
            raise HaproxyConfigError(
                f"{SERVERS}[{index}]: {value!r} is {address}, already listed as {SERVERS}[{seen[key]}]"
            )
        seen[key] = index
        addresses.append(address)
    return addresses


def _bind(address, port, http2) -> str:
    if not is_int(port) or not 1 <= port <= 65535:
        raise HaproxyConfigError(f"haproxy_port: {port!r} is not a port; expected an integer 1..65535, like 80 or 8080")
    form = (
        "'*' (every IPv4 address), '::' (every IPv6 and IPv4 address) or one IPv4 or IPv6 address of the host, "
        "like 127.0.0.1 or 2001:db8::1"
    )
    if address == "*":
        line = f"bind *:{port}"
    else:
        try:
            parsed = ipaddress.ip_address(address) if isinstance(address, str) else None
        except ValueError:
            parsed = None
        if getattr(parsed, "scope_id", None):
            parsed = None
        if parsed is None:
            raise HaproxyConfigError(
                f"haproxy_bind_address: {address!r} is not an address to listen on; expected {form}"
            )
        if parsed.version == 4:
            line = f"bind {parsed}:{port}"
        else:
            line = f"bind [{parsed.compressed}]:{port}" + (" v4v6" if parsed == ipaddress.IPv6Address("::") else "")
    # HAProxy detects the HTTP/2 preface on a clear-text bind by itself; proto h1 switches that off.
    return line if http2 else f"{line} proto h1"


def _nbthread(nbthread, cpus) -> int:
    if nbthread is None:
        if not is_int(cpus) or cpus < 1:
            raise HaproxyConfigError(
                f"haproxy_config: input: the plan's summary.cpus is {cpus!r}, not a CPU count; "
                "set haproxy_nbthread or pass the plan of smallvps.hardening.memory_plan"
            )
        return min(cpus, MAX_THREADS)
    if not is_int(nbthread) or not 1 <= nbthread <= MAX_THREADS:
        raise HaproxyConfigError(
            f"haproxy_nbthread: {nbthread!r} is not a thread count; expected an integer 1..{MAX_THREADS}, "
            "or leave it unset for the plan's CPU count"
        )
    return nbthread


# 16384: HAProxy's default buffer, the least HTTP/2 accepts; the plan sizes maxconn from it.
BUILTIN = {"name": "haproxy", "tier": 0, "min": "64M", "processes": ["haproxy"], "tune_bufsize": 16384}
# The entry as the refusals show it (YAML flow style), without the processes the user need not write.
BUILTIN_ENTRY = "{" + ", ".join(f"{key}: {value}" for key, value in BUILTIN.items() if key != "processes") + "}"


def no_entry_message() -> str:
    return (
        f"smallvps_services: the memory plan has no entry for {HAPROXY_UNIT}; put the host in the inventory group "
        "edge_haproxy (or add haproxy.service to memory_plan_units_to_come) so the plan counts haproxy before it is "
        f"installed, with the built-in entry {BUILTIN_ENTRY} or an entry of your own like it in smallvps_services"
    )


def no_maxconn_message(name) -> str:
    return (
        f"smallvps_services: the haproxy entry '{name}' has no tune_bufsize, "
        "so the memory plan gives HAProxy no maxconn; "
        f"add tune_bufsize: 16384 to it, like {BUILTIN_ENTRY}"
    )


def _check_plan_numbers(tune_bufsize, maxconn) -> None:
    for key, value in (("tune_bufsize", tune_bufsize), ("maxconn", maxconn)):
        if not is_int(value) or value < 1:
            raise HaproxyConfigError(
                f"haproxy_config: input: the plan's haproxy.service entry has {key} {value!r}, not a "
                "positive integer; pass the plan of smallvps.hardening.memory_plan"
            )


def build_config(
    servers,
    tune_bufsize,
    maxconn,
    cpus,
    port=80,
    bind_address="*",
    timeouts=None,
    http2=True,
    nbthread=None,
    hard_stop_after="30s",
) -> dict:
    """{'global', 'defaults', 'frontend', 'backend': [lines], 'maxconn', 'tune_bufsize', 'nbthread', 'servers',
    'timeouts'}.

    tune_bufsize and maxconn are the plan's (the haproxy.service entry); cpus is its summary.cpus.
    """
    _check_plan_numbers(tune_bufsize, maxconn)
    if not isinstance(http2, bool):
        raise HaproxyConfigError(f"haproxy_http2: {http2!r} is not a boolean; expected true or false")
    if http2 and tune_bufsize < HTTP2_MIN_BUFSIZE:
        raise HaproxyConfigError(
            f"haproxy_http2: true needs tune.bufsize {HTTP2_MIN_BUFSIZE} or more "
            f"(an HTTP/2 frame is up to {HTTP2_MIN_BUFSIZE} "
            f"bytes), but the memory plan gives {tune_bufsize}: "
            f"set tune_bufsize: {HTTP2_MIN_BUFSIZE} (or more) on the haproxy "
            "entry of smallvps_services, or set haproxy_http2: false"
        )
    threads = _nbthread(nbthread, cpus)
    stop_after = parse_time(hard_stop_after, "haproxy_hard_stop_after")[0]
    parsed_timeouts = _timeouts({} if timeouts is None else timeouts)
    bind = _bind(bind_address, port, http2)
    addresses = _servers(servers)
    return {
        "global": [
            *DEBIAN_GLOBAL,
            STATS_SOCKET,
            "stats timeout 30s",
            f"maxconn {maxconn}",
            f"tune.bufsize {tune_bufsize}",
            f"tune.maxrewrite {min(MAXREWRITE, tune_bufsize // 2)}",
            f"nbthread {threads}",
            f"hard-stop-after {stop_after}",
        ],
        "defaults": [
            "mode http",
            "log global",
            "option httplog",
            "option dontlognull",
            "option forwardfor",
            *(f"timeout {key} {value}" for key, value in parsed_timeouts.items()),
        ],
        "frontend": [bind, f"default_backend {BACKEND}"],
        "backend": [f"server server{index} {address} check" for index, address in enumerate(addresses, start=1)],
        "frontend_name": FRONTEND,
        "backend_name": BACKEND,
        "maxconn": maxconn,
        "tune_bufsize": tune_bufsize,
        "nbthread": threads,
        "servers": addresses,
        "timeouts": parsed_timeouts,
    }


# The planner's side: the service key, and the connections the budget holds.
KEYS = {"tune_bufsize": {"type": "int"}}
TUNE_BUFSIZE_RANGE = (1024, 1048576)
# A full connection holds two buffers of tune.bufsize (request and response) plus its session, stream and
# connection structs and the kernel's socket buffers. 20 KiB for that overhead makes the default 16384-byte buffer
# cost 52 KiB, upstream's own rough sizing of about 20000 saturated connections per GB. The process itself (code,
# pools, threads) is the base.
CONNECTION_OVERHEAD_BYTES = 20 * KIB
BASE_BYTES = 16 * MIB


def parse(raw: dict, name: str, runtime: str) -> dict:
    if "tune_bufsize" not in raw:
        return {"tune_bufsize": None}
    bufsize = raw["tune_bufsize"]
    low, high = TUNE_BUFSIZE_RANGE
    if not is_int(bufsize) or not low <= bufsize <= high:
        raise refuse(
            name,
            "tune_bufsize",
            f"{bufsize!r} is not HAProxy's tune.bufsize in bytes; expected an integer "
            f"in {low}..{high}, 16384 by default (HTTP/2 needs at least 16384)",
        )
    return {"tune_bufsize": bufsize}


def connection_bytes(bufsize: int) -> int:
    return 2 * bufsize + CONNECTION_OVERHEAD_BYTES


def maxconn_for(bufsize: int, limit_bytes: int) -> int:
    """Connections that fit under the first limit that acts (MemoryHigh when there is one, not the budget)."""
    return (limit_bytes - BASE_BYTES) // connection_bytes(bufsize)


def sizes(service, limit_mb: int, context) -> dict:
    if service.tune_bufsize is None:
        return {}
    maxconn = maxconn_for(service.tune_bufsize, limit_mb * MIB)
    if maxconn < 1:
        raise refuse(
            service.name,
            "tune_bufsize",
            f"{limit_mb} MiB minus the {BASE_BYTES // MIB} MiB base leaves "
            f"no room for one {connection_bytes(service.tune_bufsize)}-byte connection; raise min or "
            "lower tune_bufsize",
        )
    return {
        "tune_bufsize": service.tune_bufsize,
        "maxconn": maxconn,
        "connection_bytes": connection_bytes(service.tune_bufsize),
    }


def plan_entry(plan) -> dict:
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
    """The public filter's and the render action's function: the lines of haproxy.cfg from the whole plan."""
    entry = plan_entry(plan)
    return build_config(
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


PRODUCT = Product(
    name="haproxy",
    keys=KEYS,
    parse=parse,
    units=(HAPROXY_UNIT,),
    builtin=BUILTIN,
    sizes=sizes,
    table_keys=("maxconn", "tune_bufsize"),
    render=Renderer("haproxy", haproxy_config, "plan", (HaproxyConfigError, MemoryBudgetError)),
)
