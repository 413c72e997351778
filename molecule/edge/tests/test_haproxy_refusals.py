"""Bad input to the haproxy role on smallvps-edge: refused before anything changes, the message
starting with the variable (or haproxy -c's refusal), and the running HAProxy still serving its
configuration with the same master and worker."""

import pytest

# Every refusal of the role's variables happens in Python (the haproxy_config filter), and is unit-tested there
# (tests/unit/plugins/plugin_utils/test_haproxy.py): one of them here proves the role hands its variables
# to the filter and that a refused run changes nothing on the host. haproxy -c itself is the other: only the real
# program refuses that one, and the file it refused never lands.
REFUSALS = {
    "no_servers": ({"haproxy_servers": []}, "haproxy_servers: [] is not a non-empty list of servers"),
    "haproxy_refuses": (
        {"haproxy_servers": ["127.0.0.1:8000", "no-such-host.invalid:8000"]},
        "haproxy: haproxy -c refused the new configuration, so /etc/haproxy/haproxy.cfg was left as it "
        "was and the running haproxy keeps the old one",
    ),
}


@pytest.fixture(autouse=True)
def _haproxy_host_only(host):
    if host.backend.get_hostname() != "smallvps-edge":
        pytest.skip("runs on smallvps-edge only: the host in edge_haproxy")


def _state(host):
    master = host.check_output("systemctl show -p MainPID --value haproxy.service")
    return (
        host.check_output("md5sum /etc/haproxy/haproxy.cfg /etc/systemd/system/haproxy.service.d/*.conf"),
        master,
        host.check_output(f"pgrep -P {master}"),
    )


def test_bad_input_is_refused_before_anything_changes(host, apply_cases):
    before = _state(host)
    outcomes = apply_cases(["haproxy"], {case: overrides for case, (overrides, _) in REFUSALS.items()})
    for case, (_, starts) in REFUSALS.items():
        stats, message = outcomes[case]
        print(f"{case}: {message}")
        assert stats["failures"] == 1, (case, stats)
        assert message.startswith(starts), (case, message)
        if case == "haproxy_refuses":
            assert "could not resolve address 'no-such-host.invalid'" in message, message
        assert stats["changed"] == 0, (case, stats)
    assert _state(host) == before
    assert host.run("curl -sf -o /dev/null http://127.0.0.1:8080/").rc == 0
