"""What changes to Caddy do on smallvps-edge (upstream 2.11.7): a new Caddyfile is a reload in
the same process, a changed GOMEMLIMIT drop-in a restart (or a warning), bad input and a binary whose
sha256 is not the pinned one are refused before anything changes."""

import json
import pytest

BINARY = "/opt/smallvps/caddy/2.11.7/caddy"


@pytest.fixture(autouse=True)
def _upstream_host_only(host):
    if host.backend.get_hostname() != "smallvps-edge":
        pytest.skip("runs on smallvps-edge only: it changes the upstream Caddy's configuration and binary")


def _pid(host):
    return int(host.check_output("systemctl show -p MainPID --value caddy.service"))


def _admin_idle_timeout(host):
    config = json.loads(host.check_output("curl -sf http://localhost:2019/config/"))
    [server] = config["apps"]["http"]["servers"].values()
    return server.get("idle_timeout")


def _state(host):
    files = "/etc/caddy/Caddyfile /etc/systemd/system/caddy.service /etc/systemd/system/caddy.service.d/*.conf"
    return host.check_output(f"md5sum {files} {BINARY}; ls /opt/smallvps/caddy"), _pid(host)


REFUSALS = {
    "gomemlimit_400M": ({"caddy_environment": {"GOMEMLIMIT": "400M"}}, "caddy_environment: GOMEMLIMIT=400M is refused",
                        "Go exits at start on it"),
    "gomemlimit_valid_form": ({"caddy_environment": {"GOMEMLIMIT": "400MiB"}}, "caddy_environment: GOMEMLIMIT=400MiB",
                              "comes from the memory plan"),
    "sha256_mismatch": ({"caddy_version": "2.11.8", "caddy_sha256": "0" * 64}, "caddy_sha256:",
                        "not the pinned 0000"),
    "caddy_validate_refuses": ({"caddy_grace_period": "9999999999h"}, "caddy: caddy validate refused the new Caddyfile",
                               "invalid duration"),
    "no_upstreams": ({"caddy_upstreams": []}, "caddy_upstreams: [] is not a non-empty list", "host:port"),
    "pool_unbounded": ({"caddy_upstream_pool": {"max_conns_per_host": 0}}, "caddy_upstream_pool key 'max_conns_per_host'",
                       "integer >= 1"),
    "bad_gogc": ({"caddy_gogc": "fast"}, "caddy_gogc: \"fast\" is not a GOGC", "integer percent"),
}


def test_bad_input_is_refused_before_anything_changes(host, apply_cases):
    before = _state(host)
    outcomes = apply_cases(["caddy"], {case: overrides for case, (overrides, _, _) in REFUSALS.items()})
    for case, (_, starts, phrase) in REFUSALS.items():
        stats, message = outcomes[case]
        print(f"{case}: {message}")
        assert stats["failures"] == 1, (case, stats)
        assert message.startswith(starts) and phrase in message, (case, message)
        assert stats["changed"] == 0, (case, stats)
    # No file, no binary, no process changed; the old configuration still serves.
    assert _state(host) == before
    assert host.run("curl -sf -o /dev/null http://127.0.0.1/").rc == 0


def test_a_new_caddyfile_is_a_reload_in_the_same_process(host, ansible_playbook):
    pid = _pid(host)
    assert _admin_idle_timeout(host) == 120 * 10**9
    timeouts = {"read_header": "10s", "read_body": "30s", "write": "60s", "idle": "30s"}
    changed = ansible_playbook("smallvps.hardening.site", {"caddy_timeouts": timeouts}, tags="caddy", limit="smallvps-edge")
    assert changed.returncode == 0, changed.output
    assert "RUNNING HANDLER [smallvps.hardening.caddy : Reload caddy]" in changed.output
    # Caddy 2.11.7 sets a GOMEMLIMIT of its own: no warning about a missing one.
    assert "older than 2.10.0" not in changed.output
    assert (_pid(host), _admin_idle_timeout(host)) == (pid, 30 * 10**9)
    back = ansible_playbook("smallvps.hardening.site", tags="caddy", limit="smallvps-edge")
    assert back.returncode == 0, back.output
    assert (_pid(host), _admin_idle_timeout(host)) == (pid, 120 * 10**9)


def test_a_new_gomemlimit_restarts_caddy_or_warns(host, ansible_playbook):
    def environ_gomemlimit():
        raw = host.check_output(f"tr '\\0' '\\n' < /proc/{_pid(host)}/environ")
        return [line for line in raw.splitlines() if line.startswith("GOMEMLIMIT=")]

    services = [{"name": "caddy", "tier": 1, "runtime": "go", "min": "64M", "max": "112M", "oom_score_adjust": -200}]
    pid = _pid(host)
    # Not allowed: the plan's new value is written, the running Caddy keeps its own, and the run says so.
    kept = ansible_playbook("smallvps.hardening.site", {"smallvps_services": services, "caddy_restart_allowed": False},
                            tags="caddy,systemd_tiering", as_json=True, limit="smallvps-edge")
    assert kept.returncode == 0, kept.output
    warnings = [w for play in kept.json["plays"] for task in play["tasks"]
                for w in task["hosts"].get("smallvps-edge", {}).get("warnings", []) if "was not restarted" in w]
    print(f"warning: {warnings}")
    assert len(warnings) == 1 and "(the plan: 100MiB)" in warnings[0]
    assert (_pid(host), environ_gomemlimit()) == (pid, ["GOMEMLIMIT=115MiB"])
    # Allowed (the default), back to the scenario's plan: the drop-in is newer than the process again, so the run
    # restarts Caddy, which starts with the plan's value.
    back = ansible_playbook("smallvps.hardening.site", tags="caddy,systemd_tiering", limit="smallvps-edge")
    assert back.returncode == 0, back.output
    assert _pid(host) != pid and environ_gomemlimit() == ["GOMEMLIMIT=115MiB"]
