"""The memory metrics for node_exporter: a timer whose service the plan caps, writing a Prometheus text file
atomically, with the plan's caps and the cgroups' own figures."""

import json
import os
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

MIB = 1024 * 1024
UNIT = "smallvps-memory-metrics.service"
TIMER = "smallvps-memory-metrics.timer"
IDLE = "smallvps-idle.service"
DIRECTORY = "/var/lib/node_exporter"
PROM = f"{DIRECTORY}/smallvps_memory.prom"
CONFIG = "/etc/smallvps/memory-metrics.json"
SCRIPT = "/usr/local/lib/smallvps/memory_status.py"
# memory.events' keys the collector reports (a newer kernel may list more).
EVENTS = ("low", "high", "max", "oom", "oom_kill", "oom_group_kill")
CONVERGE = Path(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", Path(__file__).resolve().parents[1])) / "converge.yml"


def _show(host, unit, *props):
    output = host.check_output(f"systemctl show -p {','.join(props)} {unit}")
    return dict(line.split("=", 1) for line in output.splitlines())


def _write_now(host):
    """One run of the service, as the timer starts it; systemctl returns when a oneshot has exited."""
    result = host.run(f"systemctl start {UNIT}")
    assert result.rc == 0, result.stderr + host.run(f"journalctl -u {UNIT} -n 20 --no-pager").stdout
    return host.file(PROM).content_string


def _samples(text):
    """{(metric name, frozenset of labels): value} of every sample, read by Prometheus' own text parser."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _at(samples, metric, labels):
    return samples[(metric, frozenset(labels.items()))]


def _plan_entry(host, unit):
    (entry,) = [entry for entry in json.loads(host.file(CONFIG).content_string) if entry["unit"] == unit]
    return entry


def test_the_timer_is_enabled_and_has_run_the_service(host):
    timer = host.service(TIMER)
    assert timer.is_enabled and timer.is_running
    assert _show(host, TIMER, "LastTriggerUSec")["LastTriggerUSec"] not in ("", "n/a")
    assert _show(host, UNIT, "Result")["Result"] == "success"
    assert host.run(f"systemd-analyze verify --man=no /etc/systemd/system/{UNIT} /etc/systemd/system/{TIMER}").rc == 0


def test_the_service_is_capped_by_the_plan_at_idle_priority_without_network(host):
    entry = _plan_entry(host, UNIT)
    assert (entry["tier"], entry["memory_max_bytes"]) == (1, 16 * MIB)
    props = _show(
        host,
        UNIT,
        "MemoryMax",
        "MemorySwapMax",
        "Restart",
        "Type",
        "Nice",
        "CPUSchedulingPolicy",
        "IOSchedulingClass",
        "PrivateNetwork",
        "IPAddressDeny",
        "ProtectSystem",
        "NoNewPrivileges",
        "ReadWritePaths",
        "CapabilityBoundingSet",
    )
    # The plan's cap, written by systemd_tiering; the oneshot drop-in keeps Restart=no.
    assert (props["MemoryMax"], props["MemorySwapMax"]) == (str(16 * MIB), "0")
    assert (props["Type"], props["Restart"]) == ("oneshot", "no")
    assert (props["Nice"], props["CPUSchedulingPolicy"], props["IOSchedulingClass"]) == ("19", "5", "3")
    assert (props["PrivateNetwork"], props["ProtectSystem"], props["NoNewPrivileges"]) == ("yes", "strict", "yes")
    assert props["IPAddressDeny"] and props["ReadWritePaths"] == DIRECTORY
    assert props["CapabilityBoundingSet"] == "cap_dac_override"


def test_the_collector_is_the_collections_file(host):
    source = Path(__file__).resolve().parents[3] / "plugins" / "module_utils" / "_memory_status.py"
    assert host.file(SCRIPT).content_string == source.read_text()


def test_the_file_is_replaced_by_a_rename_and_leaves_no_temporary_file(host):
    _write_now(host)
    before = host.check_output(f"stat -c %i {PROM}")
    _write_now(host)
    # A file written in place keeps its inode; a new file renamed over it has another.
    assert host.check_output(f"stat -c %i {PROM}") != before
    assert host.check_output(f"ls -A {DIRECTORY}").split() == ["smallvps_memory.prom"]
    assert host.file(PROM).mode == 0o644


def test_the_file_parses_and_carries_the_plans_caps(host):
    samples = _samples(_write_now(host))
    for unit in (UNIT, IDLE):
        entry = _plan_entry(host, unit)
        labels = {"unit": unit, "name": entry["name"], "tier": "1"}
        assert _at(samples, "smallvps_memory_max_bytes", labels) == entry["memory_max_bytes"]
    idle = _plan_entry(host, IDLE)
    assert idle["memory_max_bytes"] == int(_show(host, IDLE, "MemoryMax")["MemoryMax"])


def _cgroup_files(host, path):
    """A cgroup's memory figures from its files, as the collector names them: cgroup v2, or v1's memory hierarchy
    (the test machine's Docker runs on v1: usage_in_bytes, max_usage_in_bytes, failcnt, oom_control)."""
    v2 = f"/sys/fs/cgroup{path}"
    if host.file(f"{v2}/memory.current").exists:
        lines = host.file(f"{v2}/memory.events").content_string.splitlines()
        figures = {
            "current_bytes": int(host.file(f"{v2}/memory.current").content_string),
            "events": {key: int(value) for key, value in (line.split() for line in lines) if key in EVENTS},
        }
        if host.file(f"{v2}/memory.peak").exists:
            figures["peak_bytes"] = int(host.file(f"{v2}/memory.peak").content_string)
        return figures
    v1 = f"/sys/fs/cgroup/memory{path}"
    oom_control = dict(line.split() for line in host.file(f"{v1}/memory.oom_control").content_string.splitlines())
    return {
        "current_bytes": int(host.file(f"{v1}/memory.usage_in_bytes").content_string),
        "peak_bytes": int(host.file(f"{v1}/memory.max_usage_in_bytes").content_string),
        "events": {
            "max": int(host.file(f"{v1}/memory.failcnt").content_string),
            "oom_kill": int(oom_control["oom_kill"]),
        },
    }


def test_the_values_are_the_units_cgroup_files(host):
    samples = _samples(_write_now(host))
    # Read right after the run: the idle unit's figures hold still.
    control_group = _show(host, IDLE, "ControlGroup")["ControlGroup"]
    entry = _plan_entry(host, IDLE)
    for level, path in (("unit", control_group), ("slice", os.path.dirname(control_group))):
        labels = {"unit": IDLE, "name": entry["name"], "tier": "1", "level": level}
        files = _cgroup_files(host, path)
        assert _at(samples, "smallvps_memory_cgroup_present", labels) == 1
        # A slice's use moves with every unit in it; its counters, and the idle unit's use, hold still.
        for figure in ("current_bytes", "peak_bytes") if level == "unit" else ():
            if figure in files:
                assert _at(samples, f"smallvps_memory_{figure}", labels) == files[figure], figure
        assert files["events"], path
        for event, count in files["events"].items():
            # A counter's sample carries the _total suffix.
            assert _at(samples, "smallvps_memory_events_total", {**labels, "event": event}) == count, event
    vmstat = dict(line.split() for line in host.file("/proc/vmstat").content_string.splitlines())
    assert _at(samples, "smallvps_memory_vmstat_oom_kill_total", {}) == int(vmstat["oom_kill"])


def test_the_service_stays_well_under_its_cap(host):
    # Its own cgroup, read by itself while it ran: the collector's peak so far, before it writes the file.
    samples = _samples(_write_now(host))
    labels = {"unit": UNIT, "name": "smallvps-memory-metrics", "tier": "1", "level": "unit"}
    peak = _at(samples, "smallvps_memory_peak_bytes", labels)
    print(f"{UNIT} memory.peak while collecting: {peak / MIB:.1f} MiB of its {16} MiB MemoryMax")
    assert 0 < peak < 12 * MIB


def test_turning_it_off_stops_the_timer_and_removes_every_file(host, ansible_playbook):
    result = ansible_playbook(CONVERGE, {"monitoring_memory_metrics_enabled": False})
    assert result.returncode == 0, result.output[-3000:]
    assert not host.service(TIMER).is_running
    for path in (f"/etc/systemd/system/{UNIT}", f"/etc/systemd/system/{TIMER}", SCRIPT, CONFIG, PROM):
        assert not host.file(path).exists, path
    assert host.file(DIRECTORY).is_directory
    again = ansible_playbook(CONVERGE, {"monitoring_memory_metrics_enabled": False})
    assert again.returncode == 0 and again.changed == 0, again.output[-3000:]
