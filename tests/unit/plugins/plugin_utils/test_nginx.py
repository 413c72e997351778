# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""nginx_limit_req's variables checked and rendered: the exact lines, and every refusal naming its variable."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._nginx import (
    NginxLimitReqError,
    build_config,
    limit_req_zone_bytes,
    sizes,
)
from ansible_collections.smallvps.hardening.tests.unit.plugins.plugin_utils.product_service import (
    CONTEXT,
    MIB,
    service,
)

RATE_FORM = (
    "expected an integer count per second or minute, like 5r/s or 30r/m (nginx has no fractions: 0.5r/s is 30r/m)"
)
ZONES = [{"name": "perip", "rate": "5r/s"}]
CONN_ZONES = [{"name": "perconn", "size": "1m"}]
LOCATIONS = [
    {
        "name": "root",
        "path": "/",
        "limit_req": [{"zone": "perip", "burst": 10, "nodelay": True}],
        "limit_conn": [{"zone": "perconn", "number": 20}],
    },
    {"name": "slow", "path": "/slow"},
    {"name": "trial", "path": "/trial", "limit_req": [{"zone": "perip", "burst": 10, "delay": 5}], "dry_run": True},
]
ALLOWLIST = ["127.0.0.2", "10.0.0.0/8"]
VALID = {
    "zones": ZONES,
    "conn_zones": CONN_ZONES,
    "locations": LOCATIONS,
    "allowlist": ALLOWLIST,
    "plan_zone_size": "250k",
}
TAIL = ["limit_req_status 429;", "limit_req_log_level error;", "limit_conn_status 429;", "limit_conn_log_level error;"]


def refusal(**overrides) -> str:
    with pytest.raises(NginxLimitReqError) as caught:
        build_config(**{**VALID, **overrides})
    return str(caught.value)


def location(**raw) -> dict:
    return {"name": "loc", "path": "/x", **raw}


def test_realistic_config_renders_exact_lines():
    assert build_config(**VALID) == {
        "http": [
            "geo $smallvps_limit_exempt {",
            "    default 0;",
            "    127.0.0.2/32 1;",
            "    10.0.0.0/8 1;",
            "}",
            "map $smallvps_limit_exempt $smallvps_limit_key_perip {",
            "    default $binary_remote_addr;",
            '    1 "";',
            "}",
            "map $smallvps_limit_exempt $smallvps_limit_key_perconn {",
            "    default $binary_remote_addr;",
            '    1 "";',
            "}",
            "limit_req_zone $smallvps_limit_key_perip zone=perip:250k rate=5r/s;",
            "limit_conn_zone $smallvps_limit_key_perconn zone=perconn:1m;",
            *TAIL,
        ],
        "locations": [
            {
                "name": "root",
                "path": "/",
                "proxy": True,
                "lines": ["limit_req zone=perip burst=10 nodelay;", "limit_conn perconn 20;"],
            },
            {"name": "slow", "path": "/slow", "proxy": True, "lines": []},
            {
                "name": "trial",
                "path": "/trial",
                "proxy": True,
                "lines": ["limit_req zone=perip burst=10 delay=5;", "limit_req_dry_run on;", "limit_conn_dry_run on;"],
            },
        ],
        # 250k = 256000 bytes / 128 = 2000 addresses; 1m / 64 = 16384 connection states
        "zones": [
            {
                "name": "perip",
                "key": "$binary_remote_addr",
                "size": "250k",
                "size_bytes": 256000,
                "rate": "5r/s",
                "states": 2000,
            }
        ],
        "conn_zones": [
            {"name": "perconn", "key": "$binary_remote_addr", "size": "1m", "size_bytes": 1048576, "states": 16384}
        ],
    }


def test_without_allowlist_zones_are_keyed_on_their_own_key_and_dry_run_is_global():
    config = build_config(
        [{"name": "perip", "rate": "30r/m", "key": "$binary_remote_addr$uri", "size": "64k"}],
        CONN_ZONES,
        status=503,
        conn_status=444,
        log_level="warn",
        dry_run=True,
    )
    assert config["http"] == [
        "limit_req_zone $binary_remote_addr$uri zone=perip:64k rate=30r/m;",
        "limit_conn_zone $binary_remote_addr zone=perconn:1m;",
        "limit_req_status 503;",
        "limit_req_log_level warn;",
        "limit_conn_status 444;",
        "limit_conn_log_level warn;",
        "limit_req_dry_run on;",
        "limit_conn_dry_run on;",
    ]
    assert config["locations"] == []


def test_nothing_to_limit_is_allowed():
    assert build_config([]) == {"http": TAIL, "locations": [], "zones": [], "conn_zones": []}


def test_allowlist_keys_a_custom_key_through_its_map():
    config = build_config(
        [{"name": "login", "rate": "1r/s", "key": "$binary_remote_addr$uri", "size": "32k"}], allowlist=["::1"]
    )
    assert config["http"][:9] == [
        "geo $smallvps_limit_exempt {",
        "    default 0;",
        "    ::1/128 1;",
        "}",
        "map $smallvps_limit_exempt $smallvps_limit_key_login {",
        "    default $binary_remote_addr$uri;",
        '    1 "";',
        "}",
        "limit_req_zone $smallvps_limit_key_login zone=login:32k rate=1r/s;",
    ]
    assert config["zones"][0]["key"] == "$binary_remote_addr$uri"


@pytest.mark.parametrize(
    ("size", "printed", "size_bytes"),
    [
        ("32k", "32k", 32768),
        ("32K", "32k", 32768),
        ("1m", "1m", 1048576),
        ("10M", "10m", 10485760),
        ("1024k", "1024k", 1048576),
        ("65536", "64k", 65536),
        (65536, "64k", 65536),
        (1048576, "1024k", 1048576),
        ("0032k", "32k", 32768),
    ],
)
def test_sizes_print_in_nginx_form(size, printed, size_bytes):
    [zone] = build_config([{"name": "z", "rate": "1r/s", "size": size}])["zones"]
    assert (zone["size"], zone["size_bytes"], zone["states"]) == (printed, size_bytes, size_bytes // 128)


def test_a_given_size_wins_over_the_plan():
    [zone] = build_config([{"name": "z", "rate": "05r/s", "size": "1m"}], plan_zone_size="250k")["zones"]
    assert (zone["size"], zone["rate"]) == ("1m", "5r/s")


@pytest.mark.parametrize(
    ("limit", "line"),
    [
        ({"zone": "perip"}, "limit_req zone=perip;"),
        ({"zone": "perip", "burst": 0}, "limit_req zone=perip;"),  # nginx refuses burst=0
        (
            {"zone": "perip", "burst": 5, "delay": 0},
            "limit_req zone=perip burst=5;",
        ),  # nginx refuses delay=0, its default
        ({"zone": "perip", "burst": 5, "delay": 5}, "limit_req zone=perip burst=5 delay=5;"),
        ({"zone": "perip", "burst": 5, "nodelay": False}, "limit_req zone=perip burst=5;"),
        ({"zone": "perip", "nodelay": True}, "limit_req zone=perip nodelay;"),
    ],
)
def test_limit_req_lines(limit, line):
    [rendered] = build_config(ZONES, locations=[location(limit_req=[limit])], plan_zone_size="32k")["locations"]
    assert rendered["lines"] == [line]


def test_location_dry_run_off_and_proxy_false_are_kept():
    [rendered] = build_config(
        ZONES,
        CONN_ZONES,
        [location(dry_run=False, proxy=False, limit_conn=[{"zone": "perconn", "number": 65535}])],
        plan_zone_size="32k",
    )["locations"]
    assert rendered == {
        "name": "loc",
        "path": "/x",
        "proxy": False,
        "lines": ["limit_conn perconn 65535;", "limit_req_dry_run off;", "limit_conn_dry_run off;"],
    }


def test_two_zones_in_one_location_and_paths_with_modifiers():
    zones = [{"name": "perip", "rate": "5r/s"}, {"name": "perserver", "rate": "100r/s", "key": "$server_name"}]
    locations = [
        location(name="login", path="= /login", limit_req=[{"zone": "perip", "burst": 3}, {"zone": "perserver"}]),
        location(name="re", path="~* ^/slow/(a|b)$"),
    ]
    config = build_config(zones, locations=locations, plan_zone_size="32k")
    assert [(loc["path"], loc["lines"]) for loc in config["locations"]] == [
        ("= /login", ["limit_req zone=perip burst=3;", "limit_req zone=perserver;"]),
        ("~* ^/slow/(a|b)$", []),
    ]


def test_allowlist_is_normalized():
    config = build_config([], allowlist=["10.1.2.3/8", "2001:DB8::1", "192.168.0.0/16"])
    assert config["http"][2:5] == ["    10.0.0.0/8 1;", "    2001:db8::1/128 1;", "    192.168.0.0/16 1;"]


def test_rate_message_is_exact():
    zones = [{"name": "a", "rate": "1r/s"}, {"name": "b", "rate": "1r/s"}, {"name": "perip", "rate": "5r/h"}]
    assert refusal(zones=zones) == f"nginx_limit_req_zones[2] (perip) key 'rate': '5r/h' is not a rate; {RATE_FORM}"


def test_missing_size_without_plan_message_is_exact():
    assert refusal(plan_zone_size=None) == (
        "nginx_limit_req_zones[0] (perip): no 'size'; give one (an nginx size such as 1m, at least 32k) or set "
        "limit_req_clients on the nginx entry of smallvps_services so the memory plan sizes the zone"
    )


def test_unknown_zone_message_is_exact():
    message = refusal(locations=[location(name="root", limit_req=[{"zone": "nope"}])])
    assert message == (
        "nginx_limit_req_locations[0] (root) limit_req[0] key 'zone': 'nope' is not a zone of nginx_limit_req_zones; "
        "defined: perip"
    )


ZONE = {"name": "perip", "rate": "5r/s"}
Z = "nginx_limit_req_zones[0] (perip)"
CZ = "nginx_limit_req_conn_zones[0] (perconn)"
L = "nginx_limit_req_locations[0] (loc)"
REFUSALS = [
    # nginx_limit_req_zones
    ({"zones": "perip"}, "nginx_limit_req_zones: 'perip' is a string, not a list", "expected a list like"),
    ({"zones": None}, "nginx_limit_req_zones: None is empty (null), not a list", "{name: perip, rate: 5r/s}"),
    ({"zones": ["perip"]}, "nginx_limit_req_zones[0]: 'perip' is a string, not a mapping", "expected one like"),
    ({"zones": [{**ZONE, "burst": 5}]}, f"{Z} key 'burst': unknown key", "accepted keys: name, rate, key, size"),
    (
        {"zones": [{"rate": "5r/s"}]},
        "nginx_limit_req_zones[0] key 'name': None is not a name",
        "letters, digits and '_'",
    ),
    (
        {"zones": [{**ZONE, "name": "per-ip"}]},
        "nginx_limit_req_zones[0] key 'name': 'per-ip' is not a name",
        "required",
    ),
    ({"zones": [{**ZONE, "name": ""}]}, "nginx_limit_req_zones[0] key 'name': ''", "is not a name"),
    *[
        ({"zones": [{**ZONE, "rate": rate}]}, f"{Z} key 'rate': {rate!r} is not a rate", RATE_FORM)
        for rate in ("5r/h", "0.5r/s", "5", 5, "5 r/s", "5r/s;", "-1r/s", "5R/S", "5r/min", " 5r/s", "5r/s\n", "٥r/s")
    ],
    ({"zones": [{"name": "perip"}]}, f"{Z} key 'rate': None is not a rate", RATE_FORM),
    ({"zones": [{**ZONE, "rate": "0r/s"}]}, f"{Z} key 'rate': '0r/s' lets no request through", "at least 1r/m"),
    *[
        (
            {"zones": [{**ZONE, "rate": rate}]},
            f"{Z} key 'rate': {rate!r} is more than nginx can hold",
            "expected 1..9223372036854775 requests",
        )
        for rate in ("99999999999999999999r/s", "9223372036854776r/m")
    ],
    *[
        (
            {"zones": [{**ZONE, "size": size}]},
            f"{Z} key 'size': {size!r} is {size_bytes} bytes, more than nginx reads as a size",
            "at most 8796093022207m (9223372036854775807 bytes)",
        )
        for size, size_bytes in (
            ("9999999999999m", 9999999999999 * 2**20),
            ("8796093022208m", 8796093022208 * 2**20),
            ("9007199254740992k", 2**63),
            (2**63, 2**63),
        )
    ],
    *[
        ({"zones": [{**ZONE, "key": key}]}, f"{Z} key 'key': {key!r} is not a zone key", "like $binary_remote_addr")
        for key in ("", "$a b", "$a;", "$a{", "$a}", '"$a"', "'$a'", "$a\n", "$a\t", "$a\\", "#a", 5, None, ["$a"])
    ],
    *[
        (
            {"zones": [{**ZONE, "size": size}]},
            f"{Z} key 'size': {size!r} is not a size",
            "like 32k, 250k, 1m or 10M, at least 32k",
        )
        for size in ("1.5m", "1g", "1mb", "10 m", "", "k", True, None, 1.5, "-64k")
    ],
    *[
        (
            {"zones": [{**ZONE, "size": size}]},
            f"{Z} key 'size': {size!r} is {size_bytes} bytes, below the 32k",
            "at least 32k",
        )
        for size, size_bytes in (("31k", 31744), ("16k", 16384), (32767, 32767), ("0", 0), (0, 0), (-65536, -65536))
    ],
    ({"zones": [{**ZONE, "size": "40000"}]}, f"{Z} key 'size': '40000' bytes is not a whole number of KiB", "like 40k"),
    (
        {"plan_zone_size": "lots"},
        f"{Z} key 'size' (the memory plan's limit_req_zone_size): 'lots' is not a size",
        "at least 32k",
    ),
    (
        {"plan_zone_size": "16k"},
        f"{Z} key 'size' (the memory plan's limit_req_zone_size): '16k' is 16384 bytes",
        "below the 32k",
    ),
    # nginx_limit_req_conn_zones
    (
        {"conn_zones": {"name": "perconn"}},
        "nginx_limit_req_conn_zones: {'name': 'perconn'} is a mapping, not a list",
        "{name: perconn, size: 1m}",
    ),
    ({"conn_zones": [{"name": "perconn"}]}, f"{CZ}: no 'size'", "at least 32k"),
    (
        {"conn_zones": [{"name": "perconn", "size": "1m", "rate": "5r/s"}]},
        f"{CZ} key 'rate': unknown key",
        "accepted keys: name, key, size",
    ),
    ({"conn_zones": [{"name": "perconn", "size": "16k"}]}, f"{CZ} key 'size': '16k' is 16384 bytes", "below the 32k"),
    (
        {"conn_zones": [{"name": "perconn", "size": "1m", "key": "$a b"}]},
        f"{CZ} key 'key': '$a b' is not a zone key",
        "without spaces",
    ),
    (
        {"conn_zones": [{"name": "per conn", "size": "1m"}]},
        "nginx_limit_req_conn_zones[0] key 'name': 'per conn' is not a name",
        "like perip",
    ),
    # zone names across both lists
    (
        {"zones": [ZONE, ZONE]},
        "nginx_limit_req_zones[1] (perip) key 'name': 'perip' is also the name of nginx_limit_req_zones[0] (perip)",
        "unique across both lists",
    ),
    (
        {"zones": [ZONE, {"name": "perip", "rate": "1r/s"}]},  # zone_twice: another rate changes nothing
        "nginx_limit_req_zones[1] (perip) key 'name': 'perip' is also the name of nginx_limit_req_zones[0] (perip)",
        "perip",
    ),
    (
        {"conn_zones": [{"name": "perip", "size": "1m"}]},
        (
            "nginx_limit_req_conn_zones[0] (perip) key 'name': 'perip' is also the name of nginx_limit_req_zones[0] "
            "(perip)"
        ),
        "limit_req or limit_conn",
    ),
    (
        {"conn_zones": [{"name": "PerIP", "size": "1m"}]},
        (
            "nginx_limit_req_conn_zones[0] (PerIP) key 'name': 'PerIP' is also the name of nginx_limit_req_zones[0] "
            "(perip)"
        ),
        "ignoring case",
    ),
    (
        {"conn_zones": [*CONN_ZONES, *CONN_ZONES]},
        (
            "nginx_limit_req_conn_zones[1] (perconn) key 'name': 'perconn' is also the name of "
            "nginx_limit_req_conn_zones[0] (perconn)"
        ),
        "unique",
    ),
    # nginx_limit_req_locations
    (
        {"locations": {"name": "root"}},
        "nginx_limit_req_locations: {'name': 'root'} is a mapping, not a list",
        "[{name: root, path: /}]",
    ),
    ({"locations": ["/"]}, "nginx_limit_req_locations[0]: '/' is a string, not a mapping", "expected one like"),
    (
        {"locations": [location(limit=[])]},
        f"{L} key 'limit': unknown key",
        "accepted keys: name, path, limit_req, limit_conn, dry_run, proxy",
    ),
    (
        {"locations": [{"path": "/"}]},
        "nginx_limit_req_locations[0] key 'name': None is not a name",
        "letters, digits, '_' and '-'",
    ),
    ({"locations": [location(name="a b")]}, "nginx_limit_req_locations[0] key 'name': 'a b' is not a name", "like api"),
    (
        {"locations": [location(), location(path="/y")]},
        "nginx_limit_req_locations[1] (loc) key 'name': 'loc' is also the name of nginx_limit_req_locations[0]",
        "must be unique",
    ),
    *[
        (
            {"locations": [location(path=path)]},
            f"{L} key 'path': {path!r} is not a location match",
            "like /, /api/, = /login or ~ ^/slow",
        )
        for path in (None, "", "   ", "/a;", "/a{", "/a}", "/a\n", "/a\r", "/ #x", "#x", 5, ["/"])
    ],
    (
        {"locations": [location(path="= /login"), location(name="b", path="=  /login")]},
        "nginx_limit_req_locations[1] (b) key 'path': '=  /login' is also the path of nginx_limit_req_locations[0]",
        "may appear once",
    ),
    (
        {"locations": [location(limit_req={"zone": "perip"})]},
        f"{L} key 'limit_req': {{'zone': 'perip'}} is a mapping, not a list",
        "like [{zone",
    ),
    (
        {"locations": [location(limit_req=None)]},
        f"{L} key 'limit_req': None is empty (null), not a list",
        "expected a list",
    ),
    (
        {"locations": [location(limit_req=["perip"])]},
        f"{L} limit_req[0]: 'perip' is a string, not a mapping",
        "{zone: perip, burst: 10",
    ),
    (
        {"locations": [location(limit_req=[{"zone": "perip", "rate": "1r/s"}])]},
        f"{L} limit_req[0] key 'rate': unknown key",
        "accepted keys: zone, burst, nodelay, delay",
    ),
    (
        {"locations": [location(limit_req=[{"burst": 5}])]},
        f"{L} limit_req[0] key 'zone': None is not a zone of nginx_limit_req_zones",
        "defined: perip",
    ),
    (
        {"locations": [location(limit_req=[{"zone": "perconn"}])]},
        f"{L} limit_req[0] key 'zone': 'perconn' is not a zone of nginx_limit_req_zones",
        "defined: perip",
    ),
    (
        {"zones": [], "locations": [location(limit_req=[{"zone": "perip"}])]},
        f"{L} limit_req[0] key 'zone': 'perip' is not a zone",
        "defined: none",
    ),
    *[
        (
            {"locations": [location(limit_req=[{"zone": "perip", "burst": burst}])]},
            f"{L} limit_req[0] key 'burst': {burst!r} is not an integer",
            "0..9223372036854775",
        )
        for burst in (-1, "10", True, 1.5, None, 10**20, 9223372036854776)
    ],
    (
        {"locations": [location(limit_req=[{"zone": "perip", "nodelay": "yes"}])]},
        f"{L} limit_req[0] key 'nodelay': 'yes' is not a boolean",
        "expected true or false",
    ),
    (
        {"locations": [location(limit_req=[{"zone": "perip", "nodelay": 1}])]},
        f"{L} limit_req[0] key 'nodelay': 1 is not a boolean",
        "true or false",
    ),
    *[
        (
            {"locations": [location(limit_req=[{"zone": "perip", "burst": 5, "delay": delay}])]},
            f"{L} limit_req[0] key 'delay': {delay} is not an integer",
            "0..9223372036854775",
        )
        for delay in (-1, 9223372036854776)
    ],
    (
        {"locations": [location(limit_req=[{"zone": "perip", "burst": 5, "delay": False}])]},
        f"{L} limit_req[0] key 'delay': False",
        "not an integer",
    ),
    (
        {"locations": [location(limit_req=[{"zone": "perip", "burst": 10, "nodelay": True, "delay": 5}])]},
        f"{L} limit_req[0] key 'delay': nodelay and delay exclude each other",
        "nodelay serves the whole burst at once, delay=N only the first N",
    ),
    (
        {"locations": [location(limit_req=[{"zone": "perip", "burst": 3, "delay": 5}])]},
        f"{L} limit_req[0] key 'delay': 5 is more than burst 3",
        "at most the burst",
    ),
    (
        {"locations": [location(limit_req=[{"zone": "perip", "delay": 1}])]},
        f"{L} limit_req[0] key 'delay': 1 is more than burst 0",
        "at most",
    ),
    (
        {"locations": [location(limit_req=[{"zone": "perip"}, {"zone": "perip", "burst": 5}])]},
        f"{L} limit_req[1] key 'zone': 'perip' is already applied by limit_req[0]",
        "once per location",
    ),
    (
        {"locations": [location(limit_conn=[{"zone": "perip", "number": 1}])]},
        f"{L} limit_conn[0] key 'zone': 'perip' is not a zone of nginx_limit_req_conn_zones",
        "defined: perconn",
    ),
    (
        {"locations": [location(limit_conn=[{"zone": "perconn"}])]},
        f"{L} limit_conn[0] key 'number': required",
        "1..65535",
    ),
    *[
        (
            {"locations": [location(limit_conn=[{"zone": "perconn", "number": number}])]},
            f"{L} limit_conn[0] key 'number': {number!r} is not an integer 1..65535",
            "1..65535",
        )
        for number in (0, 65536, True, "20", None)
    ],
    (
        {"locations": [location(limit_conn=[{"zone": "perconn", "number": 1, "burst": 1}])]},
        f"{L} limit_conn[0] key 'burst': unknown key",
        "accepted keys: zone, number",
    ),
    (
        {"locations": [location(limit_conn=[{"zone": "perconn", "number": 1}, {"zone": "perconn", "number": 2}])]},
        f"{L} limit_conn[1] key 'zone': 'perconn' is already applied by limit_conn[0]",
        "once per location",
    ),
    ({"locations": [location(dry_run="yes")]}, f"{L} key 'dry_run': 'yes' is not a boolean", "true or false"),
    ({"locations": [location(dry_run=None)]}, f"{L} key 'dry_run': None is not a boolean", "true or false"),
    ({"locations": [location(proxy="no")]}, f"{L} key 'proxy': 'no' is not a boolean", "true or false"),
    # nginx_limit_req_allowlist
    (
        {"allowlist": "10.0.0.0/8"},
        "nginx_limit_req_allowlist: '10.0.0.0/8' is a string, not a list",
        "like ['127.0.0.1', '10.0.0.0/8']",
    ),
    *[
        (
            {"allowlist": [value]},
            f"nginx_limit_req_allowlist[0]: {value!r} is not an address or network",
            "IPv4 or IPv6 address or CIDR network",
        )
        for value in ("10.0.0.256", "example.com", "10.0.0.0/33", "", "10.0.0.0/8 ", 167772160, None, ["10.0.0.1"])
    ],
    (
        {"allowlist": ["10.0.0.0/8", "10.1.0.0/8"]},
        "nginx_limit_req_allowlist[1]: '10.1.0.0/8' is 10.0.0.0/8",
        "already listed as nginx_limit_req_allowlist[0]",
    ),
    (
        {"allowlist": ["127.0.0.2", "10.0.0.0/8", "127.0.0.2/32"]},
        "nginx_limit_req_allowlist[2]: '127.0.0.2/32' is 127.0.0.2/32",
        "already listed as nginx_limit_req_allowlist[0]",
    ),
    # the single settings
    *[
        ({"status": status}, f"nginx_limit_req_status: {status!r} is not an HTTP status", "integer 400..599")
        for status in (200, 399, 600, "429", True, 429.0, None)
    ],
    ({"conn_status": 399}, "nginx_limit_req_conn_status: 399 is not an HTTP status", "integer 400..599"),
    *[
        (
            {"log_level": level},
            f"nginx_limit_req_log_level: {level!r} is not a log level",
            "one of info, notice, warn, error",
        )
        for level in ("debug", "ERROR", "crit", None, ["error"])
    ],
    *[
        ({"dry_run": flag}, f"nginx_limit_req_dry_run: {flag!r} is not a boolean", "true or false")
        for flag in ("on", 1, None)
    ],
]


@pytest.mark.parametrize(("overrides", "start", "phrase"), REFUSALS)
def test_refusal_names_the_variable_and_the_accepted_form(overrides, start, phrase):
    message = refusal(**overrides)
    assert message.startswith(start), message
    assert phrase in message, message


# --- properties: any valid configuration renders only complete nginx lines ---------------------

NAMES = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)
KEYS = st.sampled_from(["$binary_remote_addr", "$binary_remote_addr$uri", "$server_name", "$http_x_api_key", "static"])
SIZES = st.one_of(
    st.integers(32, 4096).map(lambda k: f"{k}k"),
    st.integers(1, 64).map(lambda m: f"{m}M"),
    st.integers(32, 4096).map(lambda k: k * 1024),
)
NETWORKS = st.one_of(
    st.ip_addresses().map(str), st.tuples(st.ip_addresses(v=4), st.integers(0, 32)).map(lambda t: f"{t[0]}/{t[1]}")
)


def _unique_lower(names):
    return len({name.lower() for name in names}) == len(names)


@st.composite
def configs(draw):
    names = draw(st.lists(NAMES, max_size=6, unique_by=str.lower))
    split = draw(st.integers(0, len(names)))
    zones = [
        {
            "name": n,
            "rate": f"{draw(st.integers(1, 10000))}r/{draw(st.sampled_from('sm'))}",
            "key": draw(KEYS),
            **({"size": draw(SIZES)} if draw(st.booleans()) else {}),
        }
        for n in names[:split]
    ]
    conn_zones = [{"name": n, "key": draw(KEYS), "size": draw(SIZES)} for n in names[split:]]
    locations = []
    for index in range(draw(st.integers(0, 4))):
        burst = draw(st.integers(0, 100))
        limit_req = [
            {
                "zone": z["name"],
                "burst": burst,
                **draw(st.sampled_from([{}, {"nodelay": True}, {"nodelay": False}, {"delay": min(burst, 3)}])),
            }
            for z in (draw(st.lists(st.sampled_from(zones), unique_by=lambda z: z["name"])) if zones else [])
        ]
        limit_conn = [
            {"zone": z["name"], "number": draw(st.integers(1, 65535))}
            for z in (draw(st.lists(st.sampled_from(conn_zones), unique_by=lambda z: z["name"])) if conn_zones else [])
        ]
        extra = draw(st.sampled_from([{}, {"dry_run": True}, {"dry_run": False}, {"proxy": False}]))
        locations.append(
            {
                "name": f"loc-{index}",
                "path": f"{draw(st.sampled_from(['', '= ', '~ ^', '^~ ']))}/p{index}/",
                "limit_req": limit_req,
                "limit_conn": limit_conn,
                **extra,
            }
        )
    allowlist = draw(st.lists(NETWORKS, max_size=5, unique_by=lambda v: str(ipaddress.ip_network(v, strict=False))))
    return {
        "zones": zones,
        "conn_zones": conn_zones,
        "locations": locations,
        "allowlist": allowlist,
        "plan_zone_size": draw(st.sampled_from([None, "250k", "1m"])) if all("size" in z for z in zones) else "250k",
        "dry_run": draw(st.booleans()),
        "log_level": draw(st.sampled_from(["info", "notice", "warn", "error"])),
        "status": draw(st.integers(400, 599)),
        "conn_status": draw(st.integers(400, 599)),
    }


@given(configs())
def test_any_valid_config_renders_complete_single_lines(config):
    rendered = build_config(**config)
    lines = rendered["http"] + [line for loc in rendered["locations"] for line in loc["lines"]]
    assert all(line.endswith((";", "{", "}")) and "\n" not in line and "\r" not in line for line in lines)
    # blocks close, and only block contents are indented (by 4 spaces)
    assert sum(line.endswith("{") for line in rendered["http"]) == sum(line == "}" for line in rendered["http"])
    assert all(
        line.startswith("    ") == (line.endswith(";") and not line.startswith(("geo", "map", "limit")))
        for line in rendered["http"]
    )
    assert sum(line.startswith("limit_req_zone ") for line in lines) == len(config["zones"])
    assert sum(line.startswith("limit_conn_zone ") for line in lines) == len(config["conn_zones"])
    assert [loc["name"] for loc in rendered["locations"]] == [loc["name"] for loc in config["locations"]]


@given(configs())
def test_states_follow_the_size(config):
    rendered = build_config(**config)
    for zone in rendered["zones"]:
        assert zone["states"] == zone["size_bytes"] // 128 and zone["size_bytes"] >= 32 * 1024
        assert (
            zone["size"][-1] in "km"
            and int(zone["size"][:-1]) * {"k": 1024, "m": 1024 * 1024}[zone["size"][-1]] == zone["size_bytes"]
        )
    for zone in rendered["conn_zones"]:
        assert zone["states"] == zone["size_bytes"] // 64
    assert _unique_lower([z["name"] for z in rendered["zones"] + rendered["conn_zones"]])


def test_numbers_past_what_nginx_parses_are_refused_with_the_range():
    # The three values of issue 20: nginx would refuse the size ("invalid zone size") and the rate ("invalid rate");
    # the burst it would multiply by 1000 past 64 bits.
    assert refusal(zones=[{**ZONE, "rate": "99999999999999999999r/s"}]) == (
        f"{Z} key 'rate': '99999999999999999999r/s' is more than nginx can hold (it keeps the rate in thousandths, in "
        "a 64-bit integer); expected 1..9223372036854775 requests, like 5r/s or 30r/m"
    )
    assert refusal(zones=[{**ZONE, "size": "9999999999999m"}]) == (
        f"{Z} key 'size': '9999999999999m' is 10485759999998951424 bytes, more than nginx reads as a size; expected an "
        "nginx size: bytes or a whole number with k or m, like 32k, 250k, 1m or 10M, at least 32k, at most "
        "8796093022207m (9223372036854775807 bytes)"
    )
    assert refusal(locations=[location(limit_req=[{"zone": "perip", "burst": 10**20}])]) == (
        f"{L} limit_req[0] key 'burst': 100000000000000000000 is not an integer 0..9223372036854775"
    )


def test_the_largest_numbers_nginx_parses_still_render():
    config = build_config(
        zones=[{"name": "perip", "rate": "9223372036854775r/m", "size": "8796093022207m"}],
        locations=[location(limit_req=[{"zone": "perip", "burst": 9223372036854775, "delay": 9223372036854775}])],
    )
    assert config["http"][0] == "limit_req_zone $binary_remote_addr zone=perip:8796093022207m rate=9223372036854775r/m;"
    assert config["locations"][0]["lines"] == ["limit_req zone=perip burst=9223372036854775 delay=9223372036854775;"]


# The planner's side: the zone size its clients need (was test_memory_extras.py).
@pytest.mark.parametrize(
    ("clients", "expected"),
    [(1, 32768), (256, 32768), (257, 33792), (264, 33792), (10000, 1280000), (100000, 12800000)],
)
def test_limit_req_zone_bytes(clients, expected):
    # 128 bytes a state, rounded up to whole KiB, at least 32 KiB
    assert limit_req_zone_bytes(clients) == expected


def test_the_zone_size_from_the_limit():
    assert sizes(service(limit_req_clients=10000), 64, CONTEXT) == {
        "limit_req_zone_size": "1250k",
        "limit_req_zone_bytes": 1280000,
    }


def test_zone_larger_than_the_limit_is_refused():
    with pytest.raises(MemoryBudgetError) as caught:
        sizes(service(min=1, limit_req_clients=100000), 1, CONTEXT)
    message = str(caught.value)
    assert message.startswith("memory_plan: service 'svc' key 'limit_req_clients': 100000 clients need a 12500k zone")
    assert "more than the service's 1 MiB" in message
    # 8192 clients need exactly 1 MiB: that still fits a 1 MiB limit
    assert sizes(service(min=1, limit_req_clients=8192), 1, CONTEXT)["limit_req_zone_bytes"] == MIB
