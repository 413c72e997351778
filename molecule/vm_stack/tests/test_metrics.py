"""The memory metrics for node_exporter on the VM (monitoring_memory_metrics_enabled in inventory/hosts.yml): the
plan budget.yml prints caps the timer's service, and the kill of a leak in app.service is counted at its slice.

A drill of its own (the leak round alone, in app.service): this module runs before test_vm_stack.py, whose drill
fixture is its module's. The timer's own peak memory is printed for the record.
"""

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

MIB = 2**20
UNIT = "smallvps-memory-metrics.service"
PROM = "/var/lib/node_exporter/smallvps_memory.prom"
APP = "app.service"
LEAK_VARS = {
    "smallvps_drill_confirm": True,
    "smallvps_drill_units": [APP],
    "smallvps_drill_health": {"app": "unix:/run/app/gunicorn.sock"},
}


def _show(host, unit, *props):
    output = host.check_output(f"systemctl show -p {','.join(props)} {unit}")
    return dict(line.split("=", 1) for line in output.splitlines())


def _written_now(host):
    """The metrics file after one run of the service, as the timer starts it (systemctl waits for a oneshot)."""
    return host.check_output(f"systemctl start {UNIT} && cat {PROM}")


def _samples(text):
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _slice_oom_kills(samples):
    (count,) = [
        value
        for (name, labels), value in samples.items()
        if name == "smallvps_memory_events_total"
        and dict(labels).get("unit") == APP
        and dict(labels).get("level") == "slice"
        and dict(labels).get("event") == "oom_kill"
    ]
    return count


@pytest.fixture(scope="module")
def leak_drill(host, ansible_playbook):
    """The metrics file before and after drill.yml's leak round in app.service."""
    before = _written_now(host)
    result = ansible_playbook("smallvps.hardening.drill", LEAK_VARS, tags="leak", as_json=True, timeout=900)
    after = _written_now(host)
    print(f"\n{PROM} after the leak round:\n{after}")
    return {"result": result, "before": _samples(before), "after": _samples(after), "text": after}


def test_budget_prints_the_cap_systemd_applies_to_the_timers_service(host, plan):
    row = plan["rows"]["smallvps-memory-metrics"]
    assert (row["tier"], row["MemoryMax"]) == ("1", "16M"), row
    props = _show(host, UNIT, "MemoryMax", "MemorySwapMax", "Restart")
    assert props == {"MemoryMax": str(16 * MIB), "MemorySwapMax": "0", "Restart": "no"}, props
    assert host.service("smallvps-memory-metrics.timer").is_running


def test_the_leaks_kill_is_counted_at_the_apps_slice(leak_drill):
    result = leak_drill["result"]
    assert result.returncode == 0 and result.json is not None, result.output[-3000:]
    before, after = _slice_oom_kills(leak_drill["before"]), _slice_oom_kills(leak_drill["after"])
    print(f"oom_kill at {APP}'s slice: {before:g} before the leak round, {after:g} after")
    assert after > before
    assert (
        leak_drill["after"][("smallvps_memory_vmstat_oom_kill_total", frozenset())]
        > leak_drill["before"][("smallvps_memory_vmstat_oom_kill_total", frozenset())]
    )


def test_the_timers_service_peak_memory(host, leak_drill):
    # Its own cgroup, read by the collector while it ran (systemd 252 has no MemoryPeak property).
    labels = frozenset({"unit": UNIT, "name": "smallvps-memory-metrics", "tier": "1", "level": "unit"}.items())
    peak = leak_drill["after"][("smallvps_memory_peak_bytes", labels)]
    shown = host.run(f"systemctl show -p MemoryPeak {UNIT}").stdout.strip()
    print(f"{UNIT} peak memory: {peak / MIB:.1f} MiB (memory.peak while collecting); systemctl: {shown or 'none'}")
    print(json.dumps({"timer_service_peak_bytes": peak, "memory_max_bytes": 16 * MIB}))
    assert 0 < peak < 16 * MIB
