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


# The refusals of the Caddyfile variables happen in Python (the caddy_config filter) and are unit-tested there;
# GOMEMLIMIT=400M is go_service's, as go_services' traefik_gomemlimit_400M case runs it. What stays here is refused
# by the real host: caddy validate itself, the sha256 of the binary on the controller, and go_service's two
# Ansible checks no unit test runs (GOMEMLIMIT in its valid form, a GOGC that is not one).
REFUSALS = {
    "gomemlimit_valid_form": (
        {"caddy_environment": {"GOMEMLIMIT": "400MiB"}},
        "caddy_environment: GOMEMLIMIT=400MiB",
        "comes from the memory plan",
    ),
    "sha256_mismatch": (
        {"caddy_version": "2.11.8", "caddy_sha256": "0" * 64},
        "caddy_binary.sha256:",
        "not the pinned 0000",
    ),
    # The filter's site-address form lets a '*' inside a label through; Caddy takes a site with a host name
    # for one it gets a certificate for, and no certificate has such a name.
    "caddy_validate_refuses": (
        {"caddy_site_address": "a*b"},
        "caddy: caddy validate refused the new /etc/caddy/Caddyfile, which was not installed; the running caddy.service"
        " keeps its configuration.",
        "subject does not qualify for certificate: 'a*b'",
    ),
    "bad_gogc": ({"caddy_gogc": "fast"}, 'caddy_gogc: "fast" is not a GOGC', "integer percent"),
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


def _environ_gomemlimit(host):
    raw = host.check_output(f"tr '\\0' '\\n' < /proc/{_pid(host)}/environ")
    return [line for line in raw.splitlines() if line.startswith("GOMEMLIMIT=")]


def _for_this_host(result, task_name):
    # The JSON callback names a role's task "ROLE : NAME".
    return [
        task["hosts"]["smallvps-edge"]
        for play in result.json["plays"]
        for task in play["tasks"]
        if task["task"]["name"].split(" : ")[-1] == task_name and "smallvps-edge" in task["hosts"]
    ]


def test_a_new_caddyfile_is_a_reload_and_a_new_gomemlimit_a_restart_or_a_warning(host, ansible_playbook):
    """One run with a new Caddyfile and a new plan, restarts not allowed: the same process reloads the Caddyfile
    and keeps its GOMEMLIMIT, and the run says so. The next run, back to the scenario's variables: restarted."""
    pid = _pid(host)
    assert _admin_idle_timeout(host) == 120 * 10**9
    timeouts = {"read_header": "10s", "read_body": "30s", "write": "60s", "idle": "30s"}
    services = [{"name": "caddy", "tier": 1, "runtime": "go", "min": "64M", "max": "112M", "oom_score_adjust": -200}]
    kept = ansible_playbook(
        "smallvps.hardening.site",
        {"caddy_timeouts": timeouts, "smallvps_services": services, "caddy_restart_allowed": False},
        tags="caddy,systemd_tiering",
        as_json=True,
        limit="smallvps-edge",
    )
    assert kept.returncode == 0, kept.output
    assert [outcome["changed"] for outcome in _for_this_host(kept, "Reload caddy for the new Caddyfile")] == [True]
    warnings = [
        w
        for play in kept.json["plays"]
        for task in play["tasks"]
        for w in task["hosts"].get("smallvps-edge", {}).get("warnings", [])
    ]
    print(f"warnings: {warnings}")
    # Caddy 2.11.7 sets a GOMEMLIMIT of its own: no warning about a missing one.
    assert not [w for w in warnings if "older than 2.10.0" in w]
    restart_warnings = [w for w in warnings if "was not restarted" in w]
    assert len(restart_warnings) == 1 and "(the plan: 100MiB)" in restart_warnings[0]
    assert (_pid(host), _admin_idle_timeout(host)) == (pid, 30 * 10**9)
    assert _environ_gomemlimit(host) == ["GOMEMLIMIT=115MiB"]
    # Allowed (the default), back to the scenario's plan and Caddyfile: the drop-in is newer than the process again,
    # so the run restarts Caddy, which starts with the plan's value.
    back = ansible_playbook("smallvps.hardening.site", tags="caddy,systemd_tiering", limit="smallvps-edge")
    assert back.returncode == 0, back.output
    assert _pid(host) != pid
    assert (_admin_idle_timeout(host), _environ_gomemlimit(host)) == (120 * 10**9, ["GOMEMLIMIT=115MiB"])
