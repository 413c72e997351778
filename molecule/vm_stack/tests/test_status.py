"""playbooks/status.yml on the example app box in the VM (cgroup v2), after drill.yml's leak round killed app.service by
OOM: the kill is counted at app.service's parent slice, whose counters outlive the unit's restart.

This module runs before test_vm_stack.py (pytest takes the files in name order) and its drill_run fixture is that
module's own, so the leak round runs here, once: drill.yml --tags leak, as an operator runs it.
"""

import json
import shlex

import pytest

LEAK_VARS = {"smallvps_drill_confirm": True, "smallvps_drill_health": {"app": "unix:/run/app/gunicorn.sock"}}
READ_TASK = "Read each planned unit's memory, its slice's and the host's pressure"


def _events(host, unit):
    """app.service's cgroup and its slice's memory.events and memory.current, read in one login."""
    script = (
        "import json, os, subprocess\n"
        f"cg = subprocess.run(['systemctl', 'show', '-p', 'ControlGroup', '--value', '{unit}'], capture_output=True,"
        " text=True).stdout.strip()\n"
        "def read(path):\n"
        "    d = '/sys/fs/cgroup' + path\n"
        "    return {'events': dict((k, int(v)) for k, v in (l.split() for l in open(d + '/memory.events'))),\n"
        "            'current': int(open(d + '/memory.current').read()), 'path': path}\n"
        "print(json.dumps({'unit': read(cg), 'slice': read(os.path.dirname(cg))}))\n"
    )
    return json.loads(host.check_output(f"python3 -c {shlex.quote(script)}"))


@pytest.fixture(scope="module")
def status_after_leak(host, ansible_playbook, tmp_path_factory):
    before = _events(host, "app.service")
    leak = ansible_playbook("smallvps.hardening.drill", LEAK_VARS, tags="leak", as_json=True, timeout=900)
    assert leak.returncode == 0, leak.output[-3000:]
    out = tmp_path_factory.mktemp("status")
    result = ansible_playbook("smallvps.hardening.status", {"status_json_dir": str(out)}, as_json=True, timeout=900)
    after = _events(host, "app.service")
    assert result.returncode == 0 and result.json is not None, result.output[-3000:]
    tasks = {
        task["task"]["name"]: task["hosts"]["app.example.net"]
        for play in result.json["plays"]
        for task in play["tasks"]
        if "app.example.net" in task["hosts"]
    }
    table = tasks["Show plan versus live"]["msg"]
    print("\nstatus.yml after drill.yml's leak round:\n" + "\n".join(table))
    print(f"app.service's slice memory.events before the leak: {json.dumps(before['slice']['events'])}")
    report = json.loads((out / "app.example.net.json").read_text())
    print(f"status.yml's JSON: {json.dumps(report)}")
    return {"before": before, "after": after, "report": report, "read": tasks[READ_TASK], "table": table}


def _app(report):
    [app] = [unit for unit in report["status"]["units"] if unit["unit"] == "app.service"]
    return app


def test_the_leaks_kill_is_counted_at_app_services_slice(status_after_leak):
    app = _app(status_after_leak["report"])
    before, after = status_after_leak["before"], status_after_leak["after"]
    assert status_after_leak["report"]["status"]["cgroup_version"] == "v2"
    assert app["slice"]["path"] == after["slice"]["path"] == before["slice"]["path"] == "/system.slice", app
    assert app["slice"]["events"]["oom_kill"] >= 1, app
    assert app["slice"]["events"]["oom_kill"] >= before["slice"]["events"]["oom_kill"] + 1, (app, before)
    # Read again after status.yml: no kill came between, so the counters are the same.
    for event in ("oom_kill", "max", "oom"):
        assert app["slice"]["events"][event] == after["slice"]["events"][event], (event, app, after)
