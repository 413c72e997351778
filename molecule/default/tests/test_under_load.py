"""The app tier of the demo host (512 MiB, group `app`, converged with site.yml), measured from inside.

nginx limits `/` as the example's app box does (nginx_limit_req's defaults: 10r/s, burst=20 nodelay;
the `limits` fixture reads them as the role applies them), exempts 127.0.0.2, dry-runs `/trial`
with the same burst, and passes to the demo app on gunicorn with the plan's gevent workers (README: 4). The load client
(molecule/shared/load/smallvps_load.py) runs in the container against its own loopback and
prints one JSON document per run. This file runs after test_default.py (pytest takes files in
name order), whose checks want the host as site.yml left it: the tests here reload, change the
zone and kill the app; the ones that change the host come last.
"""

import json
import re
import time
from pathlib import Path

import pytest
import yaml

MIB = 1024 * 1024
BASE = "http://127.0.0.1"
ROLE_DEFAULTS = Path(__file__).resolve().parents[3] / "roles" / "nginx_limit_req" / "defaults" / "main.yml"


@pytest.fixture(scope="module")
def limits(host):
    """The zone's rate (r/s) and the burst of `/` as nginx_limit_req applies them: the inventory's values (the
    example's group_vars, the demo's inventory/hosts.yml), else the role's defaults."""
    defaults = yaml.safe_load(ROLE_DEFAULTS.read_text(encoding="utf-8"))
    variables = host.ansible.get_variables()
    zones = variables.get("nginx_limit_req_zones", defaults["nginx_limit_req_zones"])
    locations = variables.get("nginx_limit_req_locations", defaults["nginx_limit_req_locations"])
    [limit] = next(location for location in locations if location["path"] == "/")["limit_req"]
    zone = next(zone for zone in zones if zone["name"] == limit["zone"])
    assert zone["rate"].endswith("r/s") and limit.get("nodelay"), (zone, limit)
    return {"zone": zone["name"], "rate": int(zone["rate"].removesuffix("r/s")), "burst": limit["burst"]}


def _load(host, *args, timeout=150):
    result = host.run(f"timeout {timeout} smallvps-load " + " ".join(args))
    assert result.rc == 0, result.stderr
    report = json.loads(result.stdout)
    print(f"smallvps-load {' '.join(args)}: {json.dumps(report)}")
    return report


def _show(host, unit, *props):
    output = host.check_output(f"systemctl show -p {','.join(props)} {unit}")
    return dict(line.split("=", 1) for line in output.splitlines())


def _main_pid(host, unit):
    return int(_show(host, unit, "MainPID")["MainPID"])


def _children(host, pid):
    return sorted(int(p) for p in host.check_output(f"pgrep -P {pid} || true").split())


def _refill(limits):
    # The burst refills at the zone's rate: every measurement starts from a full bucket.
    time.sleep(limits["burst"] / limits["rate"] + 1)


def test_app_unit_runs_under_the_plan(host, plan):
    row = plan["rows"]["app"]
    props = _show(
        host, "app.service", "MemoryMax", "MemorySwapMax", "OOMScoreAdjust", "OOMPolicy", "Restart", "ActiveState"
    )
    assert int(props["MemoryMax"]) == int(row["MemoryMax"].rstrip("M")) * MIB
    assert props["MemorySwapMax"] == row["MemorySwapMax"]  # parsed here; enforced on cgroup v2 only
    assert props["OOMScoreAdjust"] == row["OOMScoreAdjust"]
    # gunicorn's master respawns a worker the OOM killer took: the unit must not stop for it.
    assert (props["OOMPolicy"], props["Restart"], props["ActiveState"]) == ("continue", "always", "active")


def test_gunicorn_runs_the_plans_workers_with_gevent(host, plan):
    config = host.file("/etc/app/gunicorn.conf.py").content_string
    assert 'worker_class = "gevent"' in config
    workers = int(plan["rows"]["app"]["workers"])
    assert f"workers = {workers}" in config
    assert len(_children(host, _main_pid(host, "app.service"))) == workers


def test_socket_is_for_the_app_and_nginx_only(host):
    socket = host.file("/run/app/gunicorn.sock")
    assert socket.is_socket
    assert (socket.user, socket.group, socket.mode) == ("app", "app", 0o660)
    assert "app" in host.user("www-data").groups


def test_nginx_is_tier0_with_oompolicy_continue(host):
    props = _show(host, "nginx.service", "MemoryMax", "OOMScoreAdjust", "OOMPolicy")
    assert props == {"MemoryMax": "infinity", "OOMScoreAdjust": "-500", "OOMPolicy": "continue"}


def test_zone_size_comes_from_the_plan(host, limits):
    # limit_req_clients 8000 x 128 bytes = 1000k: the zone has no size of its own.
    conf = host.file("/etc/nginx/conf.d/smallvps-limit-req.conf").content_string
    zone, rate = limits["zone"], limits["rate"]
    line = rf"^limit_req_zone \$smallvps_limit_key_{zone} zone={zone}:1000k rate={rate}r/s;$"
    assert re.search(line, conf, re.M), conf
    assert "limit_req_status 429;" in conf


def test_a_burst_gets_exactly_burst_plus_one_through(host, limits):
    _refill(limits)
    burst = limits["burst"]
    report = _load(host, "burst", "--url", f"{BASE}/", "--count", "50")
    # Exactly burst + 1 at once (nodelay), and what the rate refilled while the 50 arrived (at 10r/s, one
    # token per 100 ms: none when they all arrive within that).
    refilled = int(report["seconds"] * limits["rate"])
    assert burst + 1 <= report["status"]["200"] <= burst + 1 + refilled, report
    assert report["status"] == {"200": report["status"]["200"], "429": 50 - report["status"]["200"]}, report


def test_the_accepted_rate_is_the_configured_rate(host, limits):
    _refill(limits)
    # 4 x the rate for 10 s; after the first 2 s the burst allowance is spent.
    rate = limits["rate"]
    report = _load(host, "rate", "--url", f"{BASE}/", "--rps", str(4 * rate), "--seconds", "10", "--skip", "2")
    assert 0.9 * rate <= report["accepted_rate"] <= 1.1 * rate, report
    assert set(report["status"]) <= {"200", "429"}


def test_the_allowlisted_address_is_never_limited(host, limits):
    _refill(limits)
    report = _load(host, "burst", "--url", f"{BASE}/", "--count", "50", "--source", "127.0.0.2")
    assert report["status"] == {"200": 50}


def test_dry_run_lets_everything_through_and_logs_it(host, limits):
    _refill(limits)
    before = host.check_output("grep -c 'limiting requests, dry run' /var/log/nginx/error.log || true")
    report = _load(host, "burst", "--url", f"{BASE}/trial", "--count", "50")
    # The demo app's own 404 (it has no /trial): every request passed the limit and reached it.
    assert report["status"] == {"404": 50}, report
    after = host.check_output("grep -c 'limiting requests, dry run' /var/log/nginx/error.log || true")
    # /trial has the burst of / (inventory/hosts.yml): all but burst + 1 would have been refused.
    assert int(after) - int(before or 0) == 50 - limits["burst"] - 1


def test_200_slow_requests_on_the_gevent_workers_take_about_a_second(host):
    # Each /slow request sleeps 1 s cooperatively; 2 sync workers would need ~100 s, 4 about 50 s
    # (benchmarks/gevent-vs-sync.sh).
    report = _load(host, "concurrent", "--url", f"{BASE}/slow", "--count", "200")
    assert report["status"] == {"200": 200}, report
    assert report["seconds"] <= 3, report


def _pids(host):
    nginx, app = _main_pid(host, "nginx.service"), _main_pid(host, "app.service")
    return {"nginx": nginx, "nginx_workers": _children(host, nginx), "app": app, "app_workers": _children(host, app)}


def _files_and_pids(host):
    checksums = host.check_output(
        "md5sum /etc/nginx/conf.d/*.conf /etc/nginx/snippets/smallvps-* /etc/app/gunicorn.conf.py "
        "/etc/systemd/system/app.service"
    )
    return checksums, _pids(host)


# case: (overrides, variable the refusal starts with, phrase of the accepted form). Refusals the
# nginx_limit_req_config filter makes in Python are unit-tested where they happen
# (tests/unit/plugins/plugin_utils/test_nginx.py: 5r/h, 0.5r/s, burst -1, nodelay with
# delay, a 16k zone, a zone twice, an undefined zone); one of them stays here to show that the role
# fails before it changes the host. gunicorn_gevent's checks are the role's own asserts.
REFUSALS = {
    "zone_undefined": (
        {"nginx_limit_req_locations": [{"name": "root", "path": "/", "limit_req": [{"zone": "nope"}]}]},
        "nginx_limit_req_locations[0]",
        "not a zone of nginx_limit_req_zones",
    ),
    "module_missing": (
        {"gunicorn_gevent_app_module": "no_such_module:app"},
        "gunicorn_gevent_app_module",
        "neither no_such_module.py",
    ),
    "module_malformed": (
        {"gunicorn_gevent_app_module": "smallvps_demo"},
        "gunicorn_gevent_app_module",
        "package.module:callable",
    ),
    "socket_in_tmp": ({"gunicorn_gevent_socket": "/tmp/app.sock"}, "gunicorn_gevent_socket", "PrivateTmp"),
    "not_planned": ({"gunicorn_gevent_service": "other"}, "gunicorn_gevent_service", "tier-1, runtime python"),
    # Valid for the role's checks, refused by nginx itself: rolled back, the running nginx untouched.
    "nginx_refuses": (
        {"nginx_limit_req_zones": [{"name": "perip", "rate": "5r/s", "key": "$no_such_variable"}]},
        "nginx_limit_req: nginx -t refused",
        'unknown "no_such_variable" variable',
    ),
}


def test_bad_input_is_refused_before_anything_changes(host, apply_cases):
    before = _files_and_pids(host)
    # nginx_refuses writes the live files before nginx -t: alone, so no other case sees them.
    runs = [
        {case: overrides for case, (overrides, _, _) in REFUSALS.items() if case != "nginx_refuses"},
        {"nginx_refuses": REFUSALS["nginx_refuses"][0]},
    ]
    outcomes, output = {}, ""
    for cases in runs:
        run = apply_cases(["nginx_limit_req", "gunicorn_gevent"], cases)
        outcomes.update(run)
        output += run.result.output[-3000:]
    for case, (_, variable, phrase) in REFUSALS.items():
        stats, message = outcomes[case]
        print(f"{case}: {message}")
        assert stats["failures"] == 1, (case, output)
        # The refusal itself, not Ansible's wrapping of it: it starts with the variable.
        assert message.startswith(variable) and phrase in message, (case, message)
        # nginx_refuses writes and restores its files: the rollback's own tasks count as changes.
        if case != "nginx_refuses":
            assert stats["changed"] == 0, (case, stats)
    assert _files_and_pids(host) == before
    # The running nginx still serves the old configuration.
    assert host.run("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/pid").stdout == "200"


def test_a_new_gunicorn_conf_reloads_gunicorn_not_nginx(host, ansible_playbook):
    before = _pids(host)
    result = ansible_playbook(
        "smallvps.hardening.site", {"gunicorn_gevent_max_requests": 999}, tags="gunicorn_gevent", as_json=True
    )
    assert result.returncode == 0, result.output
    time.sleep(3)
    after = _pids(host)
    assert after["app"] == before["app"] and after["app_workers"] != before["app_workers"], (before, after)
    assert (after["nginx"], after["nginx_workers"]) == (before["nginx"], before["nginx_workers"])


def test_a_new_zone_reloads_nginx_not_gunicorn(host, ansible_playbook):
    before = _pids(host)
    result = ansible_playbook(
        "smallvps.hardening.site",
        {"nginx_limit_req_zones": [{"name": "perip", "rate": "6r/s"}]},
        tags="nginx_limit_req",
        as_json=True,
    )
    assert result.returncode == 0, result.output
    time.sleep(3)
    after = _pids(host)
    assert after["nginx"] == before["nginx"] and after["nginx_workers"] != before["nginx_workers"], (before, after)
    assert (after["app"], after["app_workers"]) == (before["app"], before["app_workers"])


def _oom_kills(host, unit):
    """The kernel's OOM kills inside the unit's memory cgroup (v1 memory.oom_control, v2 memory.events)."""
    pid = _main_pid(host, unit)
    lines = host.check_output(f"cat /proc/{pid}/cgroup").splitlines()
    v1 = [line.split(":", 2)[2] for line in lines if line.split(":", 2)[1] == "memory"]
    path = (
        f"/sys/fs/cgroup/memory{v1[0]}/memory.oom_control"
        if v1
        else f"/sys/fs/cgroup{lines[0].split(':', 2)[2]}/memory.events"
    )
    counters = dict(line.split() for line in host.check_output(f"cat {path}").splitlines())
    return int(counters["oom_kill"])


def test_a_leak_past_memorymax_is_killed_and_serves_again(host, plan):
    """The demo app grows past its MemoryMax: the kernel kills the worker, the master respawns it,
    nginx keeps its PID and never refuses a connection (the other workers answer meanwhile).

    On this cgroup v1 host systemd does not see a kill inside a unit (it reads memory.events of
    cgroup v2), so OOMPolicy cannot act here: test_app_unit_runs_under_the_plan checks that it
    is set, and molecule/vm's pre-fork drill shows what it does on a real cgroup v2 kernel."""
    nginx_before, master_before = _main_pid(host, "nginx.service"), _main_pid(host, "app.service")
    kills_before = _oom_kills(host, "app.service")
    host.check_output("systemctl reset-failed smallvps-watch.service 2>/dev/null || true")
    host.check_output(
        "systemd-run --unit=smallvps-watch --collect -p StandardOutput=file:/tmp/watch.json "
        "/usr/local/bin/smallvps-load watch --url http://127.0.0.1/pid --seconds 20 --timeout 5"
    )
    time.sleep(1)
    # The workers share MemoryMax: 64 MiB steps take one past it; stop at the first kill.
    workers = int(plan["rows"]["app"]["workers"])
    steps = 0
    while _oom_kills(host, "app.service") == kills_before and steps < 12:
        host.run("curl -s -m 10 -o /dev/null 'http://127.0.0.1/grow?mb=64'")
        steps += 1
    killed_at = time.time()
    assert _oom_kills(host, "app.service") > kills_before, f"no OOM kill after {steps} x 64 MiB"
    while len(_children(host, _main_pid(host, "app.service"))) < workers and time.time() - killed_at < 10:
        time.sleep(0.2)
    respawned = time.time() - killed_at
    print(f"OOM kill after {steps} x 64 MiB; all {workers} workers up again {respawned:.1f} s after it")
    assert respawned <= 5
    assert _main_pid(host, "app.service") == master_before
    assert "was sent SIGKILL" in host.check_output("journalctl -u app.service --since '-60s' --no-pager")
    deadline = time.time() + 30
    while time.time() < deadline and host.run("systemctl is-active --quiet smallvps-watch.service").rc == 0:
        time.sleep(1)
    watch = json.loads(host.file("/tmp/watch.json").content_string)
    print(f"watch during the leak: {json.dumps(watch)}")
    assert not watch["errors"].get("ConnectionRefusedError"), watch
    assert set(watch["status"]) <= {"200", "502", "503", "504"}, watch
    assert watch["recovered_after"] is None or watch["recovered_after"] <= 5, watch
    assert _main_pid(host, "nginx.service") == nginx_before
    assert host.run("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/pid").stdout == "200"


def test_a_dead_app_is_restarted_and_nginx_answers_502_meanwhile(host):
    """The whole app dies (every process SIGKILLed): Restart=always brings it back after
    RestartSec=3; nginx keeps its PID and answers 502 meanwhile, never a refused connection."""
    nginx_before, master_before = _main_pid(host, "nginx.service"), _main_pid(host, "app.service")
    host.check_output("systemctl reset-failed smallvps-watch.service 2>/dev/null || true")
    host.check_output(
        "systemd-run --unit=smallvps-watch --collect -p StandardOutput=file:/tmp/watch-dead.json "
        "/usr/local/bin/smallvps-load watch --url http://127.0.0.1/pid --seconds 12 --timeout 5"
    )
    time.sleep(1)
    host.check_output("systemctl kill --signal=SIGKILL app.service")
    deadline = time.time() + 30
    while time.time() < deadline and host.run("systemctl is-active --quiet smallvps-watch.service").rc == 0:
        time.sleep(1)
    watch = json.loads(host.file("/tmp/watch-dead.json").content_string)
    print(f"watch while the app was dead: {json.dumps(watch)}")
    assert not watch["errors"], watch
    assert set(watch["status"]) == {"200", "502"}, watch
    assert watch["recovered_after"] is not None and watch["recovered_after"] <= 5, watch
    assert _main_pid(host, "app.service") not in (0, master_before)
    assert _main_pid(host, "nginx.service") == nginx_before
