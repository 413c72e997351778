"""The composed box, smallvps-edge-pkg: every role that can share one 512 MiB host on one host (nginx on :80 in
front of the demo app on gunicorn, Debian's caddy on :8081, Debian's HAProxy on :8080, sshd), converged by
site.yml. Molecule's converge was its first run and idempotence its second; these tests read what the first run
left, then check that the roles' handlers bring up a proxy that is not running instead of failing to reload it.
"""

import pytest

COMPOSED = "smallvps-edge-pkg"
# unit: (how to ask it from inside the host, what it answers)
ANSWERS = {
    "ssh.service": (
        "python3 -c \"import socket; s = socket.create_connection(('127.0.0.1', 22), 5); "
        "print(s.recv(64).decode().split('-')[0])\"",
        "SSH\n",
    ),
    "nginx.service": ("curl -s -m 5 http://127.0.0.1:80/", "ok\n"),
    "app.service": ("curl -s -m 5 --unix-socket /run/app/gunicorn.sock http://localhost/", "ok\n"),
    "caddy.service": ("curl -s -m 5 http://127.0.0.1:8081/", "backend\n"),
    "haproxy.service": ("curl -s -m 5 http://127.0.0.1:8080/", "backend\n"),
}
# A restart that waits a minute: the unit stays between restarts (ActiveState activating) for the whole role run.
SLOW_RESTART = "/run/systemd/system/{unit}.d/zz-test-slow-restart.conf"


@pytest.fixture(autouse=True)
def _composed_host_only(host):
    if host.backend.get_hostname() != COMPOSED:
        pytest.skip(f"runs on {COMPOSED} only: the composed box")


def _show(host, unit, *props):
    output = host.check_output(f"systemctl show -p {','.join(props)} {unit}")
    return dict(line.split("=", 1) for line in output.splitlines())


def test_every_service_is_up_and_answers_on_its_port(host):
    for unit, (ask, answer) in ANSWERS.items():
        assert _show(host, unit, "ActiveState")["ActiveState"] == "active", unit
        assert host.run(ask).stdout == answer, unit


def test_the_plan_covers_every_service(plan):
    assert set(plan["rows"]) == {"sshd", "nginx", "app", "caddy", "haproxy"}
    caddy = plan["rows"]["caddy"]
    print(f"composed box's caddy: MemoryMax {caddy['MemoryMax']}, GOMEMLIMIT {caddy['GOMEMLIMIT']}")


def test_caddy_never_started_on_debians_caddyfile(host):
    """Debian's caddy package starts caddy.service at install, on its Caddyfile's site on :80, which nginx holds:
    a failed start and a restart loop until the role's Caddyfile is in place. Held at install, it never did."""
    assert _show(host, "caddy.service", "NRestarts")["NRestarts"] == "0"
    journal = host.check_output("journalctl -u caddy.service -o cat --no-pager")
    assert "address already in use" not in journal
    assert "Scheduled restart job" not in journal and "Failed with result" not in journal
    # Every Caddy that ever started here read the role's Caddyfile: the site on :8081.
    assert "listening on :80" not in journal


def _hold_between_restarts(host, unit, break_config):
    path = SLOW_RESTART.format(unit=unit)
    host.check_output(
        f"mkdir -p {path.rsplit('/', 1)[0]} && printf '[Service]\\nRestartSec=60\\n' > {path} && "
        "systemctl daemon-reload"
    )
    host.check_output(break_config)
    host.run(f"systemctl restart {unit}")
    assert _show(host, unit, "ActiveState", "SubState") == {"ActiveState": "activating", "SubState": "auto-restart"}


def _release(host, unit):
    host.run(f"rm -f {SLOW_RESTART.format(unit=unit)}; systemctl daemon-reload")


def _tasks(result, name):
    # The JSON callback names a role's task "ROLE : NAME".
    return [
        task["hosts"][COMPOSED]
        for play in result.json["plays"]
        for task in play["tasks"]
        if task["task"]["name"].split(" : ")[-1] == name and COMPOSED in task["hosts"]
    ]


def test_a_proxy_between_restarts_is_started_not_reloaded(host, ansible_playbook):
    """The first-run failure, made certain: each proxy (nginx too) fails at start on a configuration the role did
    not write (port 22, which sshd holds) and waits a minute to restart. The role writes its own, and its handler
    (nginx's task), where `systemctl reload` would fail ("caddy.service is not active, cannot reload"), starts the
    proxy instead. It leaves failed starts in caddy's journal: it runs after
    test_caddy_never_started_on_debians_caddyfile."""
    files = "/etc/caddy/Caddyfile /etc/haproxy/haproxy.cfg /etc/nginx/conf.d/smallvps-app.conf"
    checksums = host.check_output(f"md5sum {files}")
    try:
        _hold_between_restarts(host, "caddy.service", "sed -i 's/^:8081 {/:22 {/' /etc/caddy/Caddyfile")
        _hold_between_restarts(
            host, "haproxy.service", "sed -i 's/^    bind \\*:8080$/    bind *:22/' /etc/haproxy/haproxy.cfg"
        )
        # nginx -t passes this one; the start fails. nginx's restart is on-failure (the plan's drop-in).
        _hold_between_restarts(
            host,
            "nginx.service",
            "sed -i 's/^    listen 80 default_server;/    listen 22;/' /etc/nginx/conf.d/smallvps-app.conf",
        )
        result = ansible_playbook(
            "smallvps.hardening.site", tags="caddy,haproxy,nginx_limit_req", limit=COMPOSED, as_json=True
        )
        assert result.returncode == 0, result.output[-3000:]
    finally:
        for unit in ("caddy.service", "haproxy.service", "nginx.service"):
            _release(host, unit)
    assert [o["changed"] for o in _tasks(result, "Start caddy, which was not running, on the new Caddyfile")] == [True]
    assert [o["changed"] for o in _tasks(result, "Start haproxy, which was not running, on the new configuration")] == [
        True
    ]
    assert [o["changed"] for o in _tasks(result, "Start nginx, which was not running, on the new configuration")] == [
        True
    ]
    assert host.check_output(f"md5sum {files}") == checksums
    for unit in ("caddy.service", "haproxy.service", "nginx.service"):
        ask, answer = ANSWERS[unit]
        assert _show(host, unit, "ActiveState")["ActiveState"] == "active", unit
        assert host.run(ask).stdout == answer, unit
    # The same run shows the package's Caddy 2.6.2 is warned about: it sets no GOMEMLIMIT of its own.
    warnings = [
        w
        for play in result.json["plays"]
        for task in play["tasks"]
        for w in task["hosts"].get(COMPOSED, {}).get("warnings", [])
        if "older than 2.10.0" in w
    ]
    print(f"warnings: {warnings}")
    assert len(warnings) == 1 and warnings[0].startswith("caddy: 2.6.2 is older than 2.10.0")
    assert "GOMEMLIMIT=86MiB" in warnings[0]
