# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The plan-versus-live collector on fake cgroup and proc trees: v2 and v1, a restarted unit whose leaf cgroup is
gone while its slice's counters stay, a kernel without memory.peak, the warnings, the Prometheus text (parsed by
prometheus_client's own parser) and the script's atomic write."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.smallvps.hardening.plugins.module_utils import _memory_status as status_mod

MIB = 1024 * 1024
COLLECTOR = status_mod.__file__
APP = {"name": "app", "unit": "app.service", "tier": 1, "memory_max_bytes": 352 * MIB, "memory_low_bytes": None}
NGINX = {"name": "nginx", "unit": "nginx.service", "tier": 0, "memory_max_bytes": None, "memory_low_bytes": 32 * MIB}
PSI = "some avg10=1.50 avg60=0.80 avg300=0.20 total=1234567\nfull avg10=0.50 avg60=0.30 avg300=0.10 total=765432\n"
EVENTS = "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\noom_group_kill 0\n"


def _tree(tmp_path, files: dict) -> tuple[str, str]:
    for relative, content in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return str(tmp_path / "cgroup"), str(tmp_path / "proc")


def _host(**extra) -> dict:
    """A v2 host: app runs at 340 MiB (96.6 % of 352), nginx at 20 MiB, system.slice counted 3 oom_kills."""
    files = {
        "cgroup/cgroup.controllers": "cpu memory\n",
        "cgroup/system.slice/memory.current": f"{400 * MIB}\n",
        "cgroup/system.slice/memory.peak": f"{450 * MIB}\n",
        "cgroup/system.slice/memory.swap.current": "0\n",
        "cgroup/system.slice/memory.events": EVENTS.replace("oom_kill 2", "oom_kill 3"),
        "cgroup/system.slice/app.service/memory.current": f"{340 * MIB}\n",
        "cgroup/system.slice/app.service/memory.peak": f"{351 * MIB}\n",
        "cgroup/system.slice/app.service/memory.swap.current": f"{MIB}\n",
        "cgroup/system.slice/app.service/memory.max": f"{352 * MIB}\n",
        "cgroup/system.slice/app.service/memory.events": EVENTS,
        "cgroup/system.slice/nginx.service/memory.current": f"{20 * MIB}\n",
        "cgroup/system.slice/nginx.service/memory.peak": f"{24 * MIB}\n",
        "cgroup/system.slice/nginx.service/memory.swap.current": "0\n",
        "cgroup/system.slice/nginx.service/memory.max": "max\n",
        "cgroup/system.slice/nginx.service/memory.low": f"{32 * MIB}\n",
        "cgroup/system.slice/nginx.service/memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
        "proc/1/cgroup": "0::/init.scope\n",
        "proc/pressure/memory": PSI,
        "proc/vmstat": "pgfault 100\noom_kill 5\n",
        "proc/meminfo": "MemTotal: 524288 kB\nSwapTotal: 262144 kB\nSwapFree: 196608 kB\n",
    }
    files.update(extra)
    return files


def _collect(tmp_path, files, units=(APP, NGINX), **kwargs):
    root, proc = _tree(tmp_path, files)
    return status_mod.collect([dict(unit) for unit in units], root=root, proc=proc, systemctl=None, **kwargs)


def test_v2_unit_and_slice_figures_against_the_plan(tmp_path):
    status = _collect(tmp_path, _host())
    assert status["cgroup_version"] == "v2"
    app, nginx = status["units"]
    assert app["cgroup"]["path"] == "/system.slice/app.service" and app["slice_path"] == "/system.slice"
    assert app["cgroup"]["current_bytes"] == 340 * MIB and app["cgroup"]["peak_bytes"] == 351 * MIB
    assert app["cgroup"]["swap_bytes"] == MIB and app["cgroup"]["memory_max_live_bytes"] == 352 * MIB
    assert app["cgroup"]["events"] == {"low": 0, "high": 0, "max": 7, "oom": 2, "oom_kill": 2, "oom_group_kill": 0}
    assert app["slice"]["events"]["oom_kill"] == 3 and app["slice"]["current_bytes"] == 400 * MIB
    assert app["percent_of_max"] == 96.6
    # Tier 0 has no cap: no percent; its MemoryLow live and planned; an event line the kernel lacks is None.
    assert nginx["percent_of_max"] is None and nginx["cgroup"]["memory_low_live_bytes"] == 32 * MIB
    assert nginx["cgroup"]["memory_max_live_bytes"] is None and nginx["cgroup"]["events"]["oom_group_kill"] is None
    host = status["host"]
    assert host["psi_memory"]["some"] == {"avg10": 1.5, "avg60": 0.8, "avg300": 0.2, "total": 1234567}
    assert host["psi_memory"]["full"]["avg10"] == 0.5
    assert host["vmstat_oom_kill"] == 5
    assert host["swap_total_bytes"] == 256 * MIB and host["swap_used_bytes"] == 64 * MIB


def test_a_restarting_unit_has_no_leaf_cgroup_but_its_slice_counters_survive(tmp_path):
    files = {k: v for k, v in _host().items() if "/app.service/" not in k}
    app = _collect(tmp_path, files)["units"][0]
    assert app["cgroup"] is None and app["percent_of_max"] is None
    assert app["slice"]["path"] == "/system.slice" and app["slice"]["events"]["oom_kill"] == 3
    assert status_mod.warnings(_collect(tmp_path, files)) == []


def test_a_kernel_without_memory_peak_reports_none(tmp_path):
    files = {k: v for k, v in _host().items() if not k.endswith("memory.peak")}
    app = _collect(tmp_path, files)["units"][0]
    assert app["cgroup"]["peak_bytes"] is None and app["slice"]["peak_bytes"] is None
    assert app["cgroup"]["current_bytes"] == 340 * MIB


def test_no_psi_and_no_oom_kill_line_are_none(tmp_path):
    files = _host(**{"proc/vmstat": "pgfault 100\n"})
    del files["proc/pressure/memory"]
    host = _collect(tmp_path, files)["host"]
    assert host["psi_memory"] is None and host["vmstat_oom_kill"] is None


def test_units_in_a_container_are_found_under_pid1s_cgroup(tmp_path):
    """A container sharing the host's cgroup namespace: systemd's tree starts at PID 1's cgroup."""
    files = {
        (k.replace("cgroup/system.slice", "cgroup/docker/abc/system.slice")): v
        for k, v in _host(**{"proc/1/cgroup": "0::/docker/abc/init.scope\n"}).items()
    }
    app = _collect(tmp_path, files)["units"][0]
    assert app["cgroup"]["path"] == "/docker/abc/system.slice/app.service"
    assert app["slice"]["path"] == "/docker/abc/system.slice"


def test_v1_memory_controller(tmp_path):
    base = "cgroup/memory/docker/abc/system.slice"
    files = {
        "cgroup/memory/.keep": "",
        "proc/1/cgroup": "4:memory:/docker/abc/init.scope\n1:name=systemd:/docker/abc/init.scope\n",
        f"{base}/memory.usage_in_bytes": f"{300 * MIB}\n",
        f"{base}/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
        f"{base}/app.service/memory.usage_in_bytes": f"{120 * MIB}\n",
        f"{base}/app.service/memory.max_usage_in_bytes": f"{127 * MIB}\n",
        f"{base}/app.service/memory.memsw.usage_in_bytes": f"{121 * MIB}\n",
        f"{base}/app.service/memory.limit_in_bytes": f"{128 * MIB}\n",
        f"{base}/app.service/memory.failcnt": "12\n",
        f"{base}/app.service/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n",
        "proc/meminfo": "MemTotal: 524288 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
    }
    unit = dict(APP, memory_max_bytes=128 * MIB)
    status = _collect(tmp_path, files, units=[unit])
    assert status["cgroup_version"] == "v1"
    [app] = status["units"]
    assert app["cgroup"]["current_bytes"] == 120 * MIB and app["cgroup"]["peak_bytes"] == 127 * MIB
    assert app["cgroup"]["swap_bytes"] == MIB and app["cgroup"]["memory_max_live_bytes"] == 128 * MIB
    assert app["cgroup"]["events"] == {**dict.fromkeys(status_mod.EVENTS), "max": 12, "oom_kill": 4}
    assert app["slice"]["events"]["oom_kill"] == 0 and app["slice"]["memory_max_live_bytes"] is None
    assert app["percent_of_max"] == 93.8
    assert status["host"]["swap_used_bytes"] == 0


def test_systemctl_names_the_cgroup_and_the_slice_of_a_stopped_unit(tmp_path):
    """systemctl's ControlGroup wins (a unit in a slice of its own); a stopped unit has none, its Slice is read."""
    fake = tmp_path / "systemctl"
    fake.write_text(
        f"#!{sys.executable}\nprint('Id=app.service\\nControlGroup=/app.slice/app-web.slice/app.service\\n"
        "Slice=app-web.slice\\n\\nId=nginx.service\\nControlGroup=\\nSlice=system.slice')\n"
    )
    fake.chmod(0o755)
    files = _host(
        **{
            "cgroup/app.slice/app-web.slice/app.service/memory.current": f"{10 * MIB}\n",
            "cgroup/app.slice/app-web.slice/memory.events": EVENTS,
        }
    )
    root, proc = _tree(tmp_path, files)
    app, nginx = status_mod.collect([APP, NGINX], root=root, proc=proc, systemctl=str(fake))["units"]
    assert app["cgroup"]["current_bytes"] == 10 * MIB and app["slice"]["path"] == "/app.slice/app-web.slice"
    assert app["slice"]["events"]["oom_kill"] == 2
    assert nginx["cgroup"] is None and nginx["slice_path"] == "/system.slice"
    assert nginx["slice"]["events"]["oom_kill"] == 3


@pytest.mark.parametrize(
    ("name", "path"), [("system.slice", "/system.slice"), ("a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice")]
)
def test_slice_paths(name, path):
    assert status_mod.slice_path("", name) == path
    assert status_mod.slice_path("/docker/x", name) == "/docker/x" + path


def test_a_unit_above_the_threshold_is_flagged(tmp_path):
    status = _collect(tmp_path, _host())
    assert status_mod.warnings(status) == [
        "app.service: memory.current 340.0 MiB is 96.6% of its MemoryMax 352.0 MiB (above 90%)"
    ]
    assert status_mod.warnings(status, max_percent=97) == []


def test_a_live_limit_other_than_the_plans_is_flagged(tmp_path):
    status = _collect(tmp_path, _host(**{"cgroup/system.slice/app.service/memory.max": f"{512 * MIB}\n"}))
    assert status_mod.warnings(status, max_percent=99) == [
        "app.service: its cgroup's limit is 512.0 MiB, the plan's MemoryMax 352.0 MiB: the plan is not applied "
        "(run site.yml)"
    ]


def test_memory_pressure_above_the_threshold_is_flagged(tmp_path):
    psi = "some avg10=42.00 avg60=10.00 avg300=1.00 total=99\nfull avg10=12.50 avg60=3.00 avg300=1.00 total=9\n"
    status = _collect(tmp_path, _host(**{"proc/pressure/memory": psi}))
    assert status_mod.warnings(status, max_percent=99, pressure_avg10=10.0) == [
        "memory pressure: full avg10 12.5 is above 10",
        "memory pressure: some avg10 42.0 is above 10",
    ]
    assert status_mod.warnings(status, max_percent=99, pressure_avg10=50) == []


@pytest.mark.parametrize(
    ("units", "message"),
    [
        ({"app": APP}, "units must be a list of {name, unit, tier, memory_max_bytes, memory_low_bytes}"),
        ([dict(APP, unit="")], "units[0].unit must be a non-empty name without '/', got ''"),
        ([NGINX, dict(APP, tier=3)], "units[1].tier must be 0, 1 or 2, got 3"),
        ([dict(APP, memory_max_bytes="352M")], "units[0].memory_max_bytes must be a positive number of bytes"),
        (["app"], "units[0] must be a dict with keys name, unit, tier"),
    ],
)
def test_bad_units_are_refused_naming_the_item_and_key(units, message):
    with pytest.raises(status_mod.MemoryStatusError, match=None) as raised:
        status_mod.check_units(units)
    assert message in str(raised.value)


def _families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_prometheus_text_parses_with_prometheus_clients_parser(tmp_path):
    text = status_mod.prometheus_text(_collect(tmp_path, _host()))
    families = _families(text)
    # Every sample belongs to its declared family: the lax parser turns a stray line into an untyped family.
    assert all(family.type in ("gauge", "counter") for family in families.values()), families
    assert families["smallvps_memory_events"].type == "counter"
    assert families["smallvps_memory_vmstat_oom_kill"].type == "counter"

    def value(family, **labels):
        [sample] = [s for s in families[family].samples if labels.items() <= s.labels.items()]
        return sample.value

    assert value("smallvps_memory_max_bytes", unit="app.service", name="app", tier="1") == 352 * MIB
    assert value("smallvps_memory_low_bytes", unit="nginx.service") == 32 * MIB
    assert value("smallvps_memory_current_bytes", unit="app.service", level="unit") == 340 * MIB
    assert value("smallvps_memory_current_bytes", unit="app.service", level="slice") == 400 * MIB
    assert value("smallvps_memory_max_used_ratio", unit="app.service") == pytest.approx(0.966)
    assert value("smallvps_memory_events", unit="app.service", level="slice", event="oom_kill") == 3
    assert value("smallvps_memory_events", unit="app.service", level="unit", event="max") == 7
    assert value("smallvps_memory_pressure_avg10", kind="some") == 1.5
    assert value("smallvps_memory_pressure_stall_seconds", kind="full") == pytest.approx(0.765432)
    assert value("smallvps_memory_vmstat_oom_kill") == 5
    assert value("smallvps_memory_swap_used_bytes") == 64 * MIB
    # Sample names of counters end in _total, as the TYPE line declares.
    assert {s.name for s in families["smallvps_memory_events"].samples} == {"smallvps_memory_events_total"}


def test_prometheus_text_of_a_stopped_unit_says_absent_and_keeps_the_slice(tmp_path):
    files = {k: v for k, v in _host().items() if "/app.service/" not in k}
    families = _families(status_mod.prometheus_text(_collect(tmp_path, files)))
    present = {
        (s.labels["unit"], s.labels["level"]): s.value for s in families["smallvps_memory_cgroup_present"].samples
    }
    assert present[("app.service", "unit")] == 0 and present[("app.service", "slice")] == 1
    assert not [s for s in families["smallvps_memory_current_bytes"].samples if s.labels == {"unit": "app.service"}]
    kills = [
        s.value
        for s in families["smallvps_memory_events"].samples
        if s.labels["unit"] == "app.service" and s.labels["event"] == "oom_kill"
    ]
    assert kills == [3]


def test_label_values_are_escaped():
    status = {
        "units": [dict(APP, name='a"b\\nc\nd\\', cgroup=None, slice=None, slice_path="/x", percent_of_max=None)],
        "host": {"psi_memory": None, "vmstat_oom_kill": None, "swap_total_bytes": None, "swap_used_bytes": None},
    }
    families = _families(status_mod.prometheus_text(status))
    [sample] = families["smallvps_memory_max_bytes"].samples
    assert sample.labels["name"] == 'a"b\\nc\nd\\'


def test_the_script_writes_the_textfile_atomically(tmp_path):
    root, proc = _tree(tmp_path, _host())
    config = tmp_path / "units.json"
    config.write_text(json.dumps({"units": [APP, NGINX]}))
    out = tmp_path / "textfile" / "smallvps_memory.prom"
    out.parent.mkdir()
    command = [sys.executable, COLLECTOR, "--config", str(config), "--textfile", str(out)]
    result = subprocess.run(
        [*command, "--cgroup-root", root, "--proc-root", proc], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert os.listdir(out.parent) == ["smallvps_memory.prom"]
    assert "smallvps_memory_events" in _families(out.read_text())


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("not json", "not JSON"),
        (json.dumps([dict(APP, tier=5)]), "units[0].tier must be 0, 1 or 2, got 5"),
        (None, "cannot read it"),
    ],
)
def test_the_script_refuses_bad_config_with_a_message(tmp_path, config, message):
    path = tmp_path / "units.json"
    if config is not None:
        path.write_text(config)
    out = tmp_path / "out.prom"
    result = subprocess.run(
        [sys.executable, COLLECTOR, "--config", str(path), "--textfile", str(out)], capture_output=True, text=True
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not out.exists()


def test_the_script_says_when_it_cannot_write(tmp_path):
    config = tmp_path / "units.json"
    config.write_text("[]")
    out = tmp_path / "missing" / "out.prom"
    result = subprocess.run(
        [sys.executable, COLLECTOR, "--config", str(config), "--textfile", str(out)], capture_output=True, text=True
    )
    assert result.returncode == 1 and f"cannot write {out}" in result.stderr, result.stderr


def test_the_collector_imports_nothing_but_the_standard_library():
    """The timer copies this one file to the host and runs it with the system's python3."""
    code = f"import runpy, sys; runpy.run_path({COLLECTOR!r}); print(sorted(m for m in sys.modules if 'ansible' in m))"
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
