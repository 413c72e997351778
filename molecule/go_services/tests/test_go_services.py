"""Traefik, Oathkeeper and a capture daemon of the user's own on smallvps-go.

Unless SMALLVPS_TRAEFIK_BINARY / SMALLVPS_OATHKEEPER_BINARY named real binaries, each service
runs molecule/shared/standin/go_standin.py: a Python script that records its argv and
environment and serves nothing. These tests then check what the roles control (the unit, the
limits, GOMEMLIMIT, the argv, the files, restarts), never Traefik's or Oathkeeper's behaviour.
"""

import os

import pytest
import yaml

from ansible_collections.smallvps.hardening.tests.unit.upstream_schemas import errors

MIB = 1024 * 1024
SERVICES = ("traefik", "oathkeeper", "capture")
REAL = {
    "traefik": os.environ.get("SMALLVPS_TRAEFIK_BINARY", ""),
    "oathkeeper": os.environ.get("SMALLVPS_OATHKEEPER_BINARY", ""),
}


def _show(host, unit, *props):
    output = host.check_output(f"systemctl show -p {','.join(props)} {unit}")
    return dict(line.split("=", 1) for line in output.splitlines())


def _pid(host, service):
    return int(_show(host, f"{service}.service", "MainPID")["MainPID"])


def _environ(host, pid):
    raw = host.check_output(f"tr '\\0' '\\n' < /proc/{pid}/environ")
    return dict(line.split("=", 1) for line in raw.splitlines() if "=" in line)


def _argv(host, pid):
    return host.check_output(f"tr '\\0' '\\n' < /proc/{pid}/cmdline").splitlines()


def _is_standin(service):
    return service == "capture" or not REAL[service]


def test_which_binaries_ran():
    for service in SERVICES:
        what = (
            f"the real binary {REAL[service]}"
            if not _is_standin(service)
            else "the stand-in molecule/shared/standin/go_standin.py (not a run of the real service)"
        )
        print(f"{service}: {what}")


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_under_the_plan(host, plan, service):
    row = plan["rows"][service]
    props = _show(
        host,
        f"{service}.service",
        "MemoryMax",
        "OOMScoreAdjust",
        "Restart",
        "User",
        "ActiveState",
        "NoNewPrivileges",
        "ProtectSystem",
    )
    assert int(props["MemoryMax"]) == int(row["MemoryMax"].rstrip("M")) * MIB
    assert (props["OOMScoreAdjust"], props["Restart"], props["ActiveState"]) == (
        row["OOMScoreAdjust"],
        "always",
        "active",
    )
    assert (props["User"], props["NoNewPrivileges"], props["ProtectSystem"]) == (service, "yes", "strict")
    # What the process got from systemd, read from the kernel.
    assert _environ(host, _pid(host, service))["GOMEMLIMIT"] == row["GOMEMLIMIT"]
    assert row["GOMEMLIMIT"].endswith("MiB")


def _unit_environment(host, service):
    """The unit's Environment= as systemd merged it (the role's unit and the plan's drop-in)."""
    output = _show(host, f"{service}.service", "Environment")["Environment"]
    return dict(item.split("=", 1) for item in output.split())


# What each role puts in its unit's environment beyond HOME and GOMEMLIMIT.
ROLE_ENVIRONMENT = {
    "traefik": {},
    "oathkeeper": {"SQA_OPT_OUT": "true"},
    "capture": {"CAPTURE_MAX_PAGES_PER_CONNECTION": None},
}


@pytest.mark.parametrize("service", SERVICES)
def test_the_running_process_has_the_environment_the_role_wrote(host, plan, service):
    """The unit's Environment= (what the roles wrote: GOMEMLIMIT from the plan, the telemetry opt-out, the page
    limit) and the running process's /proc/PID/environ (what it was given): every variable the unit sets is in
    the process. The stand-in's own record of its environment is not used: it would only check the stand-in."""
    unit = _unit_environment(host, service)
    assert unit["GOMEMLIMIT"] == plan["rows"][service]["GOMEMLIMIT"]
    assert unit["HOME"] == f"/var/lib/{service}"
    for name, value in ROLE_ENVIRONMENT[service].items():
        assert unit[name] == (value or plan["extras"][service]["max_buffered_pages_per_connection"]), (name, unit)
    assert set(unit) == {"HOME", "GOMEMLIMIT", *ROLE_ENVIRONMENT[service]}, unit
    environ = _environ(host, _pid(host, service))
    assert {name: environ.get(name) for name in unit} == unit


def test_oathkeeper_listens_on_loopback_and_does_not_phone_home(host):
    """What the role controls of Oathkeeper's listeners and telemetry: config.yml (serve.api and serve.prometheus on
    127.0.0.1, the proxy on every address) and SQA_OPT_OUT=true in the unit and the running process. The stand-in
    serves nothing, so `ss` cannot show Oathkeeper's real binds here: that needs SMALLVPS_OATHKEEPER_BINARY."""
    config = yaml.safe_load(host.file("/etc/oathkeeper/config.yml").content_string)
    assert config["serve"]["api"] == {"host": "127.0.0.1", "port": 4456}
    assert config["serve"]["prometheus"] == {"host": "127.0.0.1", "port": 9000}
    assert "host" not in config["serve"]["proxy"] and config["serve"]["proxy"]["port"] == 4455
    assert _unit_environment(host, "oathkeeper")["SQA_OPT_OUT"] == "true"
    assert _environ(host, _pid(host, "oathkeeper"))["SQA_OPT_OUT"] == "true"


def test_an_exposed_listener_is_accepted_with_its_opt_in_and_warned_about(host, ansible_playbook):
    """In check mode: the opt-in lets the role through with one warning naming it, and nothing changes."""
    before = _files_and_pids(host)
    run = ansible_playbook(
        "smallvps.hardening.site",
        {"oathkeeper_prometheus_host": "0.0.0.0", "oathkeeper_prometheus_expose": True},
        check=True,
        tags="oathkeeper",
        as_json=True,
    )
    assert run.returncode == 0, run.output
    warnings = [
        w
        for play in run.json["plays"]
        for task in play["tasks"]
        for w in task["hosts"].get("smallvps-go", {}).get("warnings", [])
        if w.startswith("oathkeeper: ")
    ]
    assert warnings == [
        "oathkeeper: the Prometheus endpoint (request metrics; no authentication) listens on 0.0.0.0 "
        "port 9000 (oathkeeper_prometheus_expose: true); anyone who reaches it can use it, so firewall "
        "it"
    ], warnings
    assert _files_and_pids(host) == before


def test_traefik_argv_and_files(host):
    pid = _pid(host, "traefik")
    assert _argv(host, pid)[-1] == "--configFile=/etc/traefik/traefik.yml"
    static = yaml.safe_load(host.file("/etc/traefik/traefik.yml").content_string)
    dynamic = yaml.safe_load(host.file("/etc/traefik/dynamic.yml").content_string)
    assert errors("traefik/traefik-v3.json", static) == []
    assert errors("traefik/traefik-v3-file-provider.json", dynamic) == []
    assert static["providers"]["file"] == {"filename": "/etc/traefik/dynamic.yml", "watch": False}
    assert static["serversTransport"]["maxIdleConnsPerHost"] == 8
    assert dynamic["http"]["middlewares"]["compress"]["compress"]["encodings"] == ["gzip"]
    assert "cap_net_bind_service" in _show(host, "traefik.service", "AmbientCapabilities")["AmbientCapabilities"]


def test_oathkeeper_argv_and_the_plans_cache_size(host, plan):
    pid = _pid(host, "oathkeeper")
    assert _argv(host, pid)[-3:] == ["serve", "--config", "/etc/oathkeeper/config.yml"]
    config = yaml.safe_load(host.file("/etc/oathkeeper/config.yml").content_string)
    assert errors("oathkeeper/config.schema.json", config) == []
    cache = config["authenticators"]["oauth2_introspection"]["config"]["cache"]
    assert cache == {
        "enabled": True,
        "ttl": "30s",
        "max_cost": int(plan["extras"]["oathkeeper"]["introspection_max_cost"]),
    }
    print(f"oathkeeper: max_cost {cache['max_cost']} (the plan's introspection_max_cost), not 100000000")
    rules = yaml.safe_load(host.file("/etc/oathkeeper/rules.yml").content_string)
    assert [rule["id"] for rule in rules] == ["app"]


def test_the_capture_daemon_gets_the_plans_page_limits(host, plan):
    extras = plan["extras"]["capture"]
    pid = _pid(host, "capture")
    assert _argv(host, pid)[-3:] == ["--interface", "lo", f"--max-pages-total={extras['max_buffered_pages_total']}"]
    assert _environ(host, pid)["CAPTURE_MAX_PAGES_PER_CONNECTION"] == extras["max_buffered_pages_per_connection"]


def test_a_new_traefik_file_restarts_it_or_warns(host, ansible_playbook):
    pid = _pid(host, "traefik")
    kept = ansible_playbook(
        "smallvps.hardening.site",
        {"traefik_max_idle_conns_per_host": 4, "traefik_restart_allowed": False},
        tags="traefik",
        as_json=True,
    )
    assert kept.returncode == 0, kept.output
    warnings = [
        w
        for play in kept.json["plays"]
        for task in play["tasks"]
        for w in task["hosts"].get("smallvps-go", {}).get("warnings", [])
        if "was not restarted" in w
    ]
    assert len(warnings) == 1 and "/etc/traefik/traefik.yml" in warnings[0], warnings
    assert _pid(host, "traefik") == pid
    back = ansible_playbook("smallvps.hardening.site", tags="traefik")
    assert back.returncode == 0, back.output
    # The file changed back after the process started: this run restarts it.
    assert _pid(host, "traefik") != pid


REFUSALS = {
    "traefik_gomemlimit_400M": (
        ["traefik"],
        {"traefik_environment": {"GOMEMLIMIT": "400M"}},
        "traefik_environment: GOMEMLIMIT=400M is refused: Go exits at start on it",
    ),
    "traefik_deflate": (
        ["traefik"],
        {"traefik_compress_encodings": ["gzip", "deflate"]},
        "traefik_compress_encodings[1]: 'deflate' is not an encoding Traefik has",
    ),
    "traefik_unknown_timeout": (
        ["traefik"],
        {"traefik_responding_timeouts": {"readTimeouts": "60s"}},
        "traefik_responding_timeouts key 'readTimeouts': unknown key",
    ),
    "traefik_old": (
        ["traefik"],
        {"traefik_version": "3.1.4"},
        "traefik_binary.version: '3.1.4' is older than 3.2.0, the first Traefik that reads",
    ),
    # The old per-field variables still feed traefik_binary (traefik_old above); this one sets the mapping.
    "traefik_sha256": (
        ["traefik"],
        {"traefik_binary": {"url": "http://127.0.0.1:8900/traefik", "version": "3.3.6", "sha256": "1" * 64}},
        "traefik_binary.sha256:",
    ),
    # The Oathkeeper filter's refusals are unit-tested (tests/unit/plugins/plugin_utils/test_oathkeeper.py);
    # this one proves the role hands its variables to the filter and that a refusal changes nothing on the host.
    "oathkeeper_prometheus_everywhere": (
        ["oathkeeper"],
        {"oathkeeper_prometheus_host": "0.0.0.0"},
        "oathkeeper_prometheus_host: '0.0.0.0' is not a loopback address",
    ),
    "reassembly_share_above_cap": (
        ["traefik"],
        {
            "smallvps_services": [
                {"name": "traefik", "tier": 1, "runtime": "go", "min": "64M", "max": "128M"},
                {
                    "name": "oathkeeper",
                    "tier": 1,
                    "runtime": "go",
                    "min": "64M",
                    "max": "96M",
                    "introspection_cache": True,
                },
                {
                    "name": "capture",
                    "tier": 1,
                    "runtime": "go",
                    "min": "32M",
                    "max": "64M",
                    "reassembly": {"share": 0.9},
                },
            ]
        },
        "smallvps_services: memory_plan: service 'capture' key 'reassembly': share 0.9 is out of range",
    ),
}


def _files_and_pids(host):
    files = (
        "/etc/traefik/*.yml /etc/oathkeeper/*.yml /etc/systemd/system/*.service /etc/systemd/system/*.service.d/*.conf"
    )
    return host.check_output(f"md5sum {files}; ls /opt/smallvps/*"), [_pid(host, s) for s in SERVICES]


def test_bad_input_is_refused_before_anything_changes(host, apply_cases):
    before = _files_and_pids(host)
    for roles in (["traefik"], ["oathkeeper"]):
        cases = {case: overrides for case, (case_roles, overrides, _) in REFUSALS.items() if case_roles == roles}
        for case, (stats, message) in apply_cases(roles, cases).items():
            print(f"{case}: {message}")
            assert stats["failures"] == 1, (case, stats)
            assert message.startswith(REFUSALS[case][2]), (case, message)
            # A URL source can only be checked by downloading: the new version's directory is made for it and
            # removed again when the sha256 does not match (two changes, nothing left: compared below).
            assert stats["changed"] == (2 if case == "traefik_sha256" else 0), (case, stats)
    assert _files_and_pids(host) == before
