"""Bad input to the haproxy role on smallvps-edge: every case refused before anything changes,
the message starting with the variable, and the running HAProxy still serving its configuration."""

import pytest

CADDY_ENTRY = {"name": "caddy", "tier": 1, "runtime": "go", "min": "64M", "max": "128M", "oom_score_adjust": -200}
REFUSALS = {
    "no_servers": ({"haproxy_servers": []}, "haproxy_servers: [] is not a non-empty list of servers"),
    "no_port": ({"haproxy_servers": ["127.0.0.1"]}, "haproxy_servers[0]: '127.0.0.1' has no port"),
    "bad_host": ({"haproxy_servers": ["10.0.0.256:8000"]}, "haproxy_servers[0]: '10.0.0.256:8000': '10.0.0.256' is neither"),
    "ipv6_without_brackets": ({"haproxy_servers": ["::1:8000"]}, "haproxy_servers[0]: '::1:8000': an IPv6 address needs brackets"),
    "duplicate_server": ({"haproxy_servers": ["127.0.0.1:8000", "127.0.0.1:08000"]},
                         "haproxy_servers[1]: '127.0.0.1:08000' is 127.0.0.1:8000, already listed"),
    "timeout_without_unit": ({"haproxy_timeouts": {"client": 30000}}, "haproxy_timeouts key 'client': 30000 is not a time"),
    "go_style_timeout": ({"haproxy_timeouts": {"client": "1m30s"}}, "haproxy_timeouts key 'client': '1m30s' is not a time"),
    "unknown_timeout": ({"haproxy_timeouts": {"tunnel": "1h"}}, "haproxy_timeouts key 'tunnel': unknown key"),
    "timeout_too_long": ({"haproxy_timeouts": {"server": "25d"}}, "haproxy_timeouts key 'server': '25d' is more than"),
    "hard_stop_after": ({"haproxy_hard_stop_after": "30"}, "haproxy_hard_stop_after: '30' is not a time"),
    "port": ({"haproxy_port": 70000}, "haproxy_port: 70000 is not a port"),
    "bind_address": ({"haproxy_bind_address": "localhost"}, "haproxy_bind_address: 'localhost' is not an address"),
    "nbthread": ({"haproxy_nbthread": 0}, "haproxy_nbthread: 0 is not a thread count"),
    # The plan's buffer is the smallvps_services entry's: the host's other entries stay, so the plan is otherwise the same.
    "http2_small_buffer": ({"smallvps_services": [CADDY_ENTRY, {"name": "haproxy", "tier": 0, "min": "64M", "tune_bufsize": 8192}]},
                           "haproxy_http2: true needs tune.bufsize 16384 or more"),
    "no_tune_bufsize": ({"smallvps_services": [CADDY_ENTRY, {"name": "haproxy", "tier": 0, "min": "64M"}]},
                        "smallvps_services: the haproxy entry 'haproxy' has no tune_bufsize"),
    # Valid to the role's checks, refused by haproxy -c itself: never installed.
    "haproxy_refuses": ({"haproxy_servers": ["no-such-host.invalid:8000"]}, "haproxy: haproxy -c refused the new configuration"),
}


@pytest.fixture(autouse=True)
def _haproxy_host_only(host):
    if host.backend.get_hostname() != "smallvps-edge":
        pytest.skip("runs on smallvps-edge only: the host in edge_haproxy")


def _state(host):
    master = host.check_output("systemctl show -p MainPID --value haproxy.service")
    return host.check_output("md5sum /etc/haproxy/haproxy.cfg /etc/systemd/system/haproxy.service.d/*.conf"), master, \
        host.check_output(f"pgrep -P {master}")


def test_bad_input_is_refused_before_anything_changes(host, apply_cases):
    before = _state(host)
    outcomes = apply_cases(["haproxy"], {case: overrides for case, (overrides, _) in REFUSALS.items()})
    for case, (_, starts) in REFUSALS.items():
        stats, message = outcomes[case]
        print(f"{case}: {message}")
        assert stats["failures"] == 1, (case, stats)
        assert message.startswith(starts), (case, message)
        assert stats["changed"] == 0, (case, stats)
    assert _state(host) == before
    assert host.run("curl -sf -o /dev/null http://127.0.0.1:8080/").rc == 0
