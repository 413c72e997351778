# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The haproxy role's variables checked and rendered: the exact lines, and every refusal naming its variable."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.smallvps.hardening.plugins.plugin_utils._haproxy import (
    BUILTIN_ENTRY,
    DEFAULT_TIMEOUTS,
    HaproxyConfigError,
    build_config,
    parse_time,
    sizes,
)
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.tests.unit.plugins.plugin_utils.product_service import (
    CONTEXT,
    MIB,
    service,
)

# The built-in 64M haproxy entry: maxconn (64 MiB - 16 MiB) / (2 x 16384 + 20 KiB) = 945.
PLAN = {"tune_bufsize": 16384, "maxconn": 945, "cpus": 2}
VALID = {"servers": ["127.0.0.1:8000"], **PLAN}
TIME_FORM = "expected an HAProxy time: a whole number and one unit, ms, s, m, h or d, like 100ms, 5s, 30s or 1m"
SERVER_FORM = "expected host:port, like 127.0.0.1:8000, [::1]:8000 or app.internal:8000"


def refusal(**overrides) -> str:
    with pytest.raises(HaproxyConfigError) as caught:
        build_config(**{**VALID, **overrides})
    return str(caught.value)


def test_realistic_config_renders_exact_lines():
    config = build_config(
        ["127.0.0.1:8000", "[2001:DB8:0::1]:08001", "App.internal:8002"],
        port=8080,
        timeouts={"client": "1m", "http-request": "5s"},
        hard_stop_after="1m",
        **PLAN,
    )
    assert config == {
        "global": [
            "log /dev/log local0",
            "chroot /var/lib/haproxy",
            "user haproxy",
            "group haproxy",
            "stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners",
            "stats timeout 30s",
            "maxconn 945",
            "tune.bufsize 16384",
            "tune.maxrewrite 1024",
            "nbthread 2",
            "hard-stop-after 1m",
        ],
        "defaults": [
            "mode http",
            "log global",
            "option httplog",
            "option dontlognull",
            "option forwardfor",
            "timeout connect 5s",
            "timeout client 1m",
            "timeout server 30s",
            "timeout http-request 5s",
            "timeout http-keep-alive 5s",
            "timeout queue 10s",
        ],
        "frontend": ["bind *:8080", "default_backend app_servers"],
        "backend": [
            "server server1 127.0.0.1:8000 check",
            "server server2 [2001:db8::1]:8001 check",
            "server server3 App.internal:8002 check",
        ],
        "frontend_name": "http_in",
        "backend_name": "app_servers",
        "maxconn": 945,
        "tune_bufsize": 16384,
        "nbthread": 2,
        "servers": ["127.0.0.1:8000", "[2001:db8::1]:8001", "App.internal:8002"],
        "timeouts": {**DEFAULT_TIMEOUTS, "client": "1m", "http-request": "5s"},
    }


def test_defaults_listen_on_every_ipv4_address_port_80_with_http2():
    config = build_config(**VALID)
    assert config["frontend"][0] == "bind *:80"
    assert config["defaults"][-6:] == [f"timeout {key} {value}" for key, value in DEFAULT_TIMEOUTS.items()]
    assert "hard-stop-after 30s" in config["global"]


@pytest.mark.parametrize(
    ("address", "http2", "line"),
    [
        ("*", False, "bind *:80 proto h1"),
        ("::", True, "bind [::]:80 v4v6"),
        ("::", False, "bind [::]:80 v4v6 proto h1"),
        ("127.0.0.1", True, "bind 127.0.0.1:80"),
        ("0.0.0.0", True, "bind 0.0.0.0:80"),
        ("2001:DB8::0:1", True, "bind [2001:db8::1]:80"),
        ("::1", True, "bind [::1]:80"),
    ],
)
def test_bind_lines(address, http2, line):
    assert build_config(bind_address=address, http2=http2, **VALID)["frontend"][0] == line


def test_memory_numbers_come_from_the_plan_only():
    config = build_config(["10.0.0.5:80"], tune_bufsize=32768, maxconn=1234, cpus=4)
    assert ["maxconn 1234", "tune.bufsize 32768", "tune.maxrewrite 1024", "nbthread 4"] == config["global"][6:10]
    assert (config["maxconn"], config["tune_bufsize"], config["nbthread"]) == (1234, 32768, 4)


def test_a_small_buffer_without_http2_keeps_half_of_it_for_headers():
    # HAProxy caps maxrewrite at half the buffer; the line says what it will use.
    config = build_config(["127.0.0.1:8000"], tune_bufsize=1024, maxconn=10, cpus=1, http2=False)
    assert "tune.maxrewrite 512" in config["global"] and "tune.bufsize 1024" in config["global"]
    assert config["frontend"][0] == "bind *:80 proto h1"


@pytest.mark.parametrize(
    ("nbthread", "cpus", "written"), [(None, 1, 1), (None, 2, 2), (None, 128, 64), (3, 2, 3), (64, 1, 64)]
)
def test_nbthread_is_the_plans_cpu_count_unless_set(nbthread, cpus, written):
    assert (
        build_config(["127.0.0.1:8000"], tune_bufsize=16384, maxconn=945, cpus=cpus, nbthread=nbthread)["nbthread"]
        == written
    )


@pytest.mark.parametrize(
    ("value", "printed", "milliseconds"),
    [
        ("100ms", "100ms", 100),
        ("5s", "5s", 5000),
        ("030s", "30s", 30000),
        ("1m", "1m", 60000),
        ("2h", "2h", 7200000),
        ("24d", "24d", 2073600000),
        ("2147483647ms", "2147483647ms", 2**31 - 1),
        ("1ms", "1ms", 1),
    ],
)
def test_times_in_haproxy_form(value, printed, milliseconds):
    assert parse_time(value, "x") == (printed, milliseconds)


S = "haproxy_servers"
REFUSALS = [
    # the plan's numbers, and HTTP/2's need of a 16 KiB buffer
    (
        {"tune_bufsize": 8192},
        "haproxy_http2: true needs tune.bufsize 16384 or more",
        "set tune_bufsize: 16384 (or more) on the haproxy entry of smallvps_services, or set haproxy_http2: false",
    ),
    ({"tune_bufsize": 16383}, "haproxy_http2: true needs tune.bufsize 16384", "the memory plan gives 16383"),
    ({"maxconn": None}, "haproxy_config: input: the plan's haproxy.service entry has maxconn None", "positive integer"),
    ({"maxconn": 0}, "haproxy_config: input: the plan's haproxy.service entry has maxconn 0", "memory_plan"),
    (
        {"tune_bufsize": "16384"},
        "haproxy_config: input: the plan's haproxy.service entry has tune_bufsize '16384'",
        "integer",
    ),
    ({"cpus": None}, "haproxy_config: input: the plan's summary.cpus is None", "set haproxy_nbthread"),
    ({"cpus": 0}, "haproxy_config: input: the plan's summary.cpus is 0", "CPU count"),
    # haproxy_http2, haproxy_nbthread, haproxy_hard_stop_after
    *[({"http2": flag}, f"haproxy_http2: {flag!r} is not a boolean", "true or false") for flag in ("yes", 1, None)],
    *[
        ({"nbthread": n}, f"haproxy_nbthread: {n!r} is not a thread count", "1..64, or leave it unset")
        for n in (0, 65, -1, "2", True, 1.5)
    ],
    *[
        ({"hard_stop_after": value}, f"haproxy_hard_stop_after: {value!r} is not a time", TIME_FORM)
        for value in ("30", 30, "1m30s", "1.5s", "30 s", "30S", "30sec", "", None, "5us", "-1s", "٣s")
    ],
    ({"hard_stop_after": "0s"}, "haproxy_hard_stop_after: '0s' is no time at all", "at least 1ms"),
    ({"hard_stop_after": "25d"}, "haproxy_hard_stop_after: '25d' is more than HAProxy's longest time", "2147483647ms"),
    # haproxy_timeouts
    (
        {"timeouts": ["client", "30s"]},
        "haproxy_timeouts: ['client', '30s'] is a list, not a mapping",
        "keys connect, client, server, http-request, http-keep-alive, queue",
    ),
    ({"timeouts": "30s"}, "haproxy_timeouts: '30s' is a string, not a mapping", "{client: 30s"),
    (
        {"timeouts": {"tunnel": "1h"}},
        "haproxy_timeouts key 'tunnel': unknown key",
        "accepted keys: connect, client, server, http-request, http-keep-alive, queue",
    ),
    ({"timeouts": {"http_request": "5s"}}, "haproxy_timeouts key 'http_request': unknown key", "http-request"),
    *[
        (
            {"timeouts": {"client": value}},
            f"haproxy_timeouts key 'client': {value!r} is not a time",
            "a plain number is milliseconds to HAProxy",
        )
        for value in (30000, "30000", "1m30s", "0.5s", None, True)
    ],
    *[
        ({"timeouts": {"server": value}}, f"haproxy_timeouts key 'server': {value!r} is more than", "about 24 days")
        for value in ("2147483648ms", "25d")
    ],
    ({"timeouts": {"connect": "0ms"}}, "haproxy_timeouts key 'connect': '0ms' is no time at all", "at least 1ms"),
    # haproxy_port, haproxy_bind_address
    *[
        ({"port": port}, f"haproxy_port: {port!r} is not a port", "integer 1..65535")
        for port in (0, 65536, 70000, "80", True, None, 80.0)
    ],
    *[
        (
            {"bind_address": address},
            f"haproxy_bind_address: {address!r} is not an address to listen on",
            "'*' (every IPv4 address), '::' (every IPv6 and IPv4 address)",
        )
        for address in ("", "0.0.0.0:80", "localhost", "10.0.0.256", "[::1]", "fe80::1%eth0", "*:80", None, 80, ["*"])
    ],
    # haproxy_servers
    *[
        (
            {"servers": servers},
            f"{S}: {servers!r} is not a non-empty list of servers",
            "required, a list like ['127.0.0.1:8000']",
        )
        for servers in ([], None, "127.0.0.1:8000", {"127.0.0.1": 8000})
    ],
    *[
        ({"servers": [value]}, f"{S}[0]: {value!r} has no port", SERVER_FORM)
        for value in ("127.0.0.1", "app.internal", "[::1]", "[::1]8000")
    ],
    *[
        ({"servers": ["127.0.0.1:8000", value]}, f"{S}[1]: {value!r}: {port!r} is not a port", SERVER_FORM)
        for value, port in (
            ("127.0.0.1:", ""),
            ("127.0.0.1:0", "0"),
            ("127.0.0.1:65536", "65536"),
            ("127.0.0.1:http", "http"),
            ("127.0.0.1:+80", "+80"),
            ("[::1]:80a", "80a"),
            ("127.0.0.1:800000", "800000"),
            ("a:8 0", "8 0"),
        )
    ],
    *[
        ({"servers": [value]}, f"{S}[0]: {value!r}: {host!r} is neither an IPv4 address nor a host name", SERVER_FORM)
        for value, host in (
            ("10.0.0.256:80", "10.0.0.256"),
            ("10.0.0.256:8000", "10.0.0.256"),
            ("10.1:80", "10.1"),
            ("010.0.0.1:80", "010.0.0.1"),
            (":8000", ""),
            ("-app:80", "-app"),
            ("app.:80", "app."),
            ("a b:80", "a b"),
            ("app/x:80", "app/x"),
            ("app;:80", "app;"),
            (f"{'a' * 64}:80", "a" * 64),
            ("éxample.org:80", "éxample.org"),
        )
    ],
    ({"servers": ["::1:8000"]}, f"{S}[0]: '::1:8000': an IPv6 address needs brackets, like [::1]:8000", SERVER_FORM),
    *[
        ({"servers": [value]}, f"{S}[0]: {value!r}: {host!r} is not an IPv6 address", SERVER_FORM)
        for value, host in (("[10.0.0.1]:80", "10.0.0.1"), ("[app]:80", "app"), ("[fe80::1%eth0]:80", "fe80::1%eth0"))
    ],
    *[
        ({"servers": [value]}, f"{S}[0]: {value!r} is {words}, not a server", SERVER_FORM)
        for value, words in (
            (8000, "a number"),
            (None, "empty (null)"),
            (["127.0.0.1", 8000], "a list"),
            ({"host": "127.0.0.1"}, "a mapping"),
        )
    ],
    (
        {"servers": ["127.0.0.1:8000", "127.0.0.1:08000"]},
        f"{S}[1]: '127.0.0.1:08000' is 127.0.0.1:8000",
        f"already listed as {S}[0]",
    ),
    (
        {"servers": ["[::1]:8000", "[0:0::1]:8000"]},
        f"{S}[1]: '[0:0::1]:8000' is [::1]:8000",
        f"already listed as {S}[0]",
    ),
    (
        {"servers": ["App.internal:80", "x:1", "app.internal:80"]},
        f"{S}[2]: 'app.internal:80' is app.internal:80",
        f"already listed as {S}[0]",
    ),
]


@pytest.mark.parametrize(("overrides", "start", "phrase"), REFUSALS)
def test_refusal_names_the_variable_and_the_accepted_form(overrides, start, phrase):
    message = refusal(**overrides)
    assert message.startswith(start), message
    assert phrase in message, message


def test_http2_refusal_message_is_exact():
    assert refusal(tune_bufsize=8192) == (
        "haproxy_http2: true needs tune.bufsize 16384 or more (an HTTP/2 frame is up to 16384 bytes), but the memory "
        "plan gives 8192: set tune_bufsize: 16384 (or more) on the haproxy entry of smallvps_services, or set "
        "haproxy_http2: false"
    )


def test_http2_refusal_comes_before_any_other():
    # Refused first, whatever else is wrong: the user learns about the buffer before the servers.
    assert refusal(tune_bufsize=8192, servers=[]).startswith("haproxy_http2: ")


# --- properties: any valid configuration renders only complete haproxy lines ------------------

LABELS = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
HOSTS = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
    st.lists(LABELS, min_size=1, max_size=4)
    .map(".".join)
    .filter(lambda h: not all(label.isdigit() for label in h.split("."))),
)


def _normalized(server: str) -> str:
    host, _, port = server.rpartition(":")
    return f"{ipaddress.IPv6Address(host[1:-1]) if host.startswith('[') else host.lower()}:{port}"


SERVERS = st.lists(
    st.tuples(HOSTS, st.integers(1, 65535)).map(lambda t: f"{t[0]}:{t[1]}"),
    min_size=1,
    max_size=8,
    unique_by=_normalized,
)
TIMES = st.tuples(st.integers(1, 596), st.sampled_from(["ms", "s", "m", "h"])).map(lambda t: f"{t[0]}{t[1]}")


@st.composite
def configs(draw):
    bufsize = draw(st.integers(1024, 1048576))
    return {
        "servers": draw(SERVERS),
        "tune_bufsize": bufsize,
        "maxconn": draw(st.integers(1, 100000)),
        "cpus": draw(st.integers(1, 256)),
        "port": draw(st.integers(1, 65535)),
        "bind_address": draw(st.one_of(st.just("*"), st.just("::"), st.ip_addresses().map(str))),
        "timeouts": draw(st.dictionaries(st.sampled_from(list(DEFAULT_TIMEOUTS)), TIMES)),
        "http2": bufsize >= 16384 and draw(st.booleans()),
        "nbthread": draw(st.one_of(st.none(), st.integers(1, 64))),
        "hard_stop_after": draw(TIMES),
    }


@given(configs())
def test_any_valid_config_renders_complete_single_lines(config):
    rendered = build_config(**config)
    lines = rendered["global"] + rendered["defaults"] + rendered["frontend"] + rendered["backend"]
    assert all(
        line and line == line.strip() and "\n" not in line and "\r" not in line and "#" not in line for line in lines
    )
    assert len(rendered["backend"]) == len(config["servers"])
    assert (
        f"maxconn {config['maxconn']}" in rendered["global"]
        and f"tune.bufsize {config['tune_bufsize']}" in rendered["global"]
    )
    assert 1 <= rendered["nbthread"] <= 64
    assert rendered["frontend"][0].endswith(
        f":{config['port']}" if config["http2"] else f":{config['port']} proto h1"
    ) or (config["bind_address"] == "::" and "v4v6" in rendered["frontend"][0])
    assert [line.split()[0] for line in rendered["defaults"][-6:]] == ["timeout"] * 6


@given(SERVERS)
def test_servers_round_trip(servers):
    rendered = build_config(servers, **PLAN)["servers"]
    for given_server, written in zip(servers, rendered, strict=True):
        host, _, port = written.rpartition(":")
        assert int(port) == int(given_server.rpartition(":")[2])
        if host.startswith("["):
            assert ipaddress.IPv6Address(host[1:-1]) == ipaddress.IPv6Address(given_server.rpartition(":")[0][1:-1])
        else:
            assert host == given_server.rpartition(":")[0]


# The planner's side: the connections the budget holds (was test_memory_extras.py).
def test_haproxy_maxconn_follows_the_budget_and_the_buffer():
    # 64 MiB - 16 MiB base, at 2 x 16384 + 20 KiB = 53248 bytes per connection.
    assert sizes(service(tune_bufsize=16384), 64, CONTEXT) == {
        "tune_bufsize": 16384,
        "maxconn": 945,
        "connection_bytes": 53248,
    }
    # Halving the buffer: 2 x 8192 + 20480 = 36864 bytes, more connections in the same memory.
    assert sizes(service(tune_bufsize=8192), 64, CONTEXT)["maxconn"] == 48 * MIB // 36864
    # Upstream's rough sizing: ~20000 saturated connections per GB at the default buffer.
    assert 19000 < sizes(service(tune_bufsize=16384), 1024, CONTEXT)["maxconn"] < 21000


def test_haproxy_budget_without_room_for_one_connection_is_refused():
    with pytest.raises(MemoryBudgetError) as refused:
        sizes(service(min=16, tune_bufsize=16384), 16, CONTEXT)
    assert str(refused.value).startswith("memory_plan: service 'svc' key 'tune_bufsize': 16 MiB minus the 16 MiB base")


def test_the_refusals_show_the_built_in_entry_as_the_role_writes_it():
    # roles/haproxy/vars/main.yml's haproxy_builtin_entry repeats this string for the role's own messages.
    assert BUILTIN_ENTRY == "{name: haproxy, tier: 0, min: 64M, tune_bufsize: 16384}"
