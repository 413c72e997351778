"""systemd_tiering on a 512 MiB host: read-back, live limits, earlyoom, refusals, OOM drills."""

import functools
import json
from pathlib import Path

import pytest

MIB = 1024 * 1024
HOG = "smallvps-hog.service"
DROPIN = f"/etc/systemd/system/{HOG}.d/50-smallvps-tier.conf"
# 512 MiB host: reserve 64 + 30 % = 217 MiB, ssh 16 + nginx 32 MiB kept, pool 247 MiB;
# the hog (min 64M, max 96M) gets its max.
HOG_MEMORY_MAX = 96 * MIB
HOG_MEMORY_HIGH = 86 * MIB
RESTART_SEC = 3
CAP_SYS_RESOURCE = 24
# ExecMainCode/ExecMainStatus of a process killed by SIGKILL (CLD_KILLED = 2, signal 9).
KILLED_BY_SIGKILL = "2/9"
NO_OOM_COUNTER = "this kernel has no oom_kill line in /proc/vmstat (added in 4.13)"


def _show(host, unit, *props):
    output = host.check_output(f"systemctl show -p {','.join(props)} {unit}")
    return dict(line.split("=", 1) for line in output.splitlines())


@pytest.fixture
def apply(ansible_playbook):
    """Run apply.yml with -e overrides; see molecule/conftest.py."""
    return functools.partial(ansible_playbook, Path(__file__).resolve().parents[1] / "apply.yml")


def _cgroup_file(host, unit, name):
    control_group = _show(host, unit, "ControlGroup")["ControlGroup"]
    for hierarchy in ("memory", ""):  # cgroup v1, then v2
        path = f"/sys/fs/cgroup/{hierarchy}{control_group}/{name}".replace("//", "/")
        if host.file(path).exists:
            return int(host.file(path).content_string.strip())
    raise AssertionError(f"no {name} for {unit}")


def test_tier1_unit_reads_back_the_plan(host):
    props = _show(host, HOG, "MemoryMax", "MemoryHigh", "OOMScoreAdjust", "Restart", "RestartUSec",
                  "StartLimitBurst", "StartLimitIntervalUSec")
    assert int(props["MemoryMax"]) == HOG_MEMORY_MAX
    assert int(props["MemoryHigh"]) == HOG_MEMORY_HIGH  # written and parsed; enforced on cgroup v2 only
    assert props["OOMScoreAdjust"] == "100"
    assert props["Restart"] == "always"
    assert props["RestartUSec"] == f"{RESTART_SEC}s"
    assert props["StartLimitBurst"] == "20"
    assert props["StartLimitIntervalUSec"] == "5min"


def test_tier1_limit_is_live_in_the_running_cgroup(host):
    limit_name = "memory.limit_in_bytes" if host.file("/sys/fs/cgroup/memory").is_directory else "memory.max"
    assert _cgroup_file(host, HOG, limit_name) == HOG_MEMORY_MAX


def test_running_tier1_process_got_its_oom_score_adjust_without_restart(host):
    pid = _show(host, HOG, "MainPID")["MainPID"]
    assert host.file(f"/proc/{pid}/oom_score_adj").content_string.strip() == "100"
    assert _show(host, HOG, "NRestarts")["NRestarts"] == "0"


@pytest.mark.parametrize("unit", ["ssh.service", "nginx.service"])
def test_tier0_units_are_protected_and_never_capped(host, unit):
    props = _show(host, unit, "MemoryMax", "OOMScoreAdjust", "Restart", "NRestarts")
    assert props["MemoryMax"] == "infinity"
    assert props["OOMScoreAdjust"] == "-500"
    assert props["Restart"] == "on-failure"


def test_tier0_oom_score_adjust_is_applied_where_the_kernel_allows(host):
    cap_eff = int(host.check_output("awk '/^CapEff/ {print $2}' /proc/1/status"), 16)
    if not cap_eff & (1 << CAP_SYS_RESOURCE):
        pytest.skip("this host lacks CAP_SYS_RESOURCE (a container): the kernel refuses negative "
                    "oom_score_adj, for systemd and for the role alike; the role warns about it")
    pid = _show(host, "ssh.service", "MainPID")["MainPID"]
    assert host.file(f"/proc/{pid}/oom_score_adj").content_string.strip() == "-500"


def test_earlyoom_avoids_tier0_and_prefers_tier1(host):
    assert host.service("earlyoom").is_running
    args = host.check_output("ps -o args= -C earlyoom")
    assert "--avoid ^(sshd|nginx)$" in args
    assert "--prefer ^(python3)$" in args


def test_unknown_unit_is_refused_before_any_change(host, apply):
    before = host.file(DROPIN).content_string
    result = apply({"systemd_tiering_services": [
        {"name": "smallvps-hog.service", "tier": 1, "min": "48M"},
        {"name": "no-such-app.service", "tier": 1, "min": "32M"},
    ]})
    output = result.output
    assert result.returncode != 0
    assert "systemd_tiering_services" in output and "no-such-app.service" in output, output
    assert host.file(DROPIN).content_string == before
    assert not host.file("/etc/systemd/system/no-such-app.service.d").exists


@pytest.mark.parametrize(("service", "expected"), [
    ({"name": "smallvps-hog.service", "tier": 1, "min": "64M", "oom_score_adjust": 2000},
     "key 'oom_score_adjust'"),
    ({"name": "smallvps-hog.service", "tier": 1, "min": "-64M"}, "key 'min'"),
    ({"name": "smallvps-hog.service", "tier": 3, "min": "64M"}, "tier"),
])
def test_bad_input_is_refused_naming_the_variable(host, service, expected, apply):
    before = host.file(DROPIN).content_string
    result = apply({"systemd_tiering_services": [service]})
    output = result.output
    assert result.returncode != 0
    assert "systemd_tiering_services" in output, output
    assert expected in output, output
    assert host.file(DROPIN).content_string == before


def test_oom_drill_kills_tier1_at_its_limit_and_it_comes_back(host):
    drill = json.loads(host.check_output("smallvps-oom-drill unit 5"))
    assert drill["memory_max_bytes"] == HOG_MEMORY_MAX
    assert drill["restarts"] == 5
    for round_result in drill["rounds"]:
        assert round_result["exit"] == KILLED_BY_SIGKILL, round_result
        # The kernel counted an OOM kill in that window: the SIGKILL came from the OOM killer.
        assert round_result["kernel_oom_kills"] is not None, NO_OOM_COUNTER
        assert round_result["kernel_oom_kills"] >= 1, round_result
        assert round_result["new_pid"] != round_result["old_pid"]
        # It was killed near its MemoryMax, not earlier for another reason.
        assert 0.6 * 96 <= round_result["allocated_mib_when_killed"] <= 96, round_result
        assert round_result["seconds_to_recover"] <= RESTART_SEC + 2, round_result
    assert drill["protected_after"] == drill["protected_before"]
    assert all(pid != "0" for pid in drill["protected_before"].values())


def test_container_oom_picks_the_tier1_filler_not_tier0(host):
    drill = json.loads(host.check_output("smallvps-oom-drill container"))
    assert drill["filler_exit"] == KILLED_BY_SIGKILL, drill
    assert drill["kernel_oom_kills"] is not None, NO_OOM_COUNTER
    assert drill["kernel_oom_kills"] >= 1, drill
    assert drill["protected_after"] == drill["protected_before"], drill
    assert drill["hog_alive"], drill
