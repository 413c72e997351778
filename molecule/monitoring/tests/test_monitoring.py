"""What the monitoring role must leave on a host: tools that run, a web UI on loopback only."""

import json
import time

WEB_PORT = 61208


def test_htop_and_glances_are_installed(host):
    for package in ("htop", "glances"):
        assert host.package(package).is_installed, package


def test_htop_runs(host):
    result = host.run("htop --version")
    assert result.rc == 0, result.stderr
    assert result.stdout.startswith("htop "), result.stdout


def test_glances_recommends_were_not_installed(host):
    # glances recommends matplotlib and influxdb bindings: tens of MiB on a small VPS.
    assert not host.package("python3-matplotlib").is_installed


def test_distro_glances_server_is_off(host):
    server = host.service("glances")
    assert not server.is_running
    assert not server.is_enabled


def test_web_unit_is_valid_and_low_priority(host):
    assert host.run("systemd-analyze verify --man=no /etc/systemd/system/glances-web.service").rc == 0
    props = host.check_output(
        "systemctl show -p Nice,CPUSchedulingPolicy,IOSchedulingClass,MemoryMax glances-web.service"
    )
    values = dict(line.split("=", 1) for line in props.splitlines())
    assert values["Nice"] == "19"
    assert values["CPUSchedulingPolicy"] == "5"  # SCHED_IDLE
    assert values["IOSchedulingClass"] == "3"  # idle
    assert values["MemoryMax"] == "infinity"  # tier 2: no cap


def _wait_for_listener(host, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        listeners = host.check_output(f"ss -Hltn 'sport = :{WEB_PORT}'")
        if listeners.strip():
            return listeners
        time.sleep(1)
    raise AssertionError(f"nothing listens on port {WEB_PORT} after {seconds}s")


def test_web_ui_listens_on_loopback_only(host):
    assert host.service("glances-web").is_running
    assert host.service("glances-web").is_enabled
    listeners = _wait_for_listener(host).splitlines()
    local_addresses = {line.split()[3] for line in listeners}
    assert local_addresses == {f"127.0.0.1:{WEB_PORT}"}, local_addresses


def test_web_api_answers_on_loopback(host):
    _wait_for_listener(host)
    # glances 3.x serves API version 3, glances 4.x version 4.
    for api in (4, 3):
        result = host.run(f"curl -sf --max-time 10 http://127.0.0.1:{WEB_PORT}/api/{api}/cpu")
        if result.rc == 0:
            assert "total" in json.loads(result.stdout)
            return
    raise AssertionError(f"glances API did not answer on 127.0.0.1:{WEB_PORT}: {result.stderr}")
