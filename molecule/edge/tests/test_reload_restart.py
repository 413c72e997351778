"""Side by side on smallvps-edge, in one run: HAProxy reload, Caddy reload, Caddy restart, each
under the same polling load (one request every 10 ms through the proxy being acted on). For
each: how long the systemctl command took, and how many requests failed. This replaces the
seeds' "HAProxy ~2 s reload vs Caddy ~1 min restart" with our own figures (docs/front-proxies.md)."""

import json

import pytest

ACTIONS = (
    ("haproxy reload", "systemctl reload haproxy.service", "http://127.0.0.1:8080/"),
    ("caddy reload", "systemctl reload caddy.service", "http://127.0.0.1/"),
    ("caddy restart", "systemctl restart caddy.service", "http://127.0.0.1/"),
)
POLL_INTERVAL = 0.01
# How http.client reports a connection the server reset: before the response, or while sending the request.
RESETS = {"RemoteDisconnected", "ConnectionResetError"}


@pytest.fixture(autouse=True)
def _both_proxies_host_only(host):
    if host.backend.get_hostname() != "smallvps-edge":
        pytest.skip("runs on smallvps-edge only: the host with both proxies")


def _under_load(host, command, url):
    script = (
        f"smallvps-load watch --url {url} --seconds 6 --interval {POLL_INTERVAL} > /tmp/watch.json & "
        f"sleep 2; start=$(date +%s.%N); {command}; end=$(date +%s.%N); wait; "
        f'echo "$start $end"; cat /tmp/watch.json'
    )
    out = host.run(f"timeout 60 sh -c '{script}'")
    assert out.rc == 0, out.stderr
    times, report = out.stdout.split("\n", 1)
    start, end = (float(t) for t in times.split())
    report = json.loads(report)
    failed = sum(report["errors"].values()) + sum(n for status, n in report["status"].items() if status != "200")
    return {
        "seconds": round(end - start, 3),
        "requests": report["polls"],
        "failed": failed,
        "unavailable_for": report["recovered_after"],
        "errors": report["errors"],
        "status": report["status"],
    }


def test_reload_and_restart_side_by_side(host):
    figures = {name: _under_load(host, command, url) for name, command, url in ACTIONS}
    for name, figure in figures.items():
        print(f"{name}: {json.dumps(figure)}")
    # HAProxy's new worker takes the listening sockets over (expose-fd listeners): its reload loses nothing.
    assert figures["haproxy reload"]["failed"] == 0
    # Caddy binds the new configuration's listener as a second SO_REUSEPORT socket and closes the old one: a
    # connection queued on the old socket at that instant is reset (0.22 per reload at 750 new connections a
    # second in benchmarks/caddy-reload.txt; these polls make about 80 a second, so rarely one). Never a refusal,
    # never an outage: at most one poll fails, by a reset. A restart fails this (refusals while nothing listens).
    reload = figures["caddy reload"]
    assert reload["failed"] <= 1 and set(reload["errors"]) <= RESETS, reload
    assert all(f["requests"] > 200 for f in figures.values())
