"""HAProxy on the edge hosts of the inventory group edge_haproxy: Debian's package (2.6 on Debian 12,
3.0 on Debian 13) on :8080 in front of the backend on 127.0.0.1:8000 (Python's http.server,
answering "backend"). Load runs inside the host against its own loopback (smallvps-load), every
figure is printed (-s), and the tests that change the host come last.

The role's own runs (a changed configuration, a refused one) go through a small playbook that
applies smallvps.hardening.haproxy to this host with its inventory variables and the test's on top.
"""

import json
import os
import shlex
import subprocess
import time

import pytest

UNIT = "haproxy.service"
PORT = 8080
URL = f"http://127.0.0.1:{PORT}/"
CONFIG = "/etc/haproxy/haproxy.cfg"
STATS_SOCKET = "/run/haproxy/admin.sock"
MASTER_SOCKET = "/run/haproxy-master.sock"
LOAD_REPORT = "/tmp/haproxy-load.json"

# One runtime-API command on a unix socket, answered by whichever process listens there (the
# current worker on the stats socket, the master on the master socket): the whole answer.
ASK = """
import socket

def ask(path, command, timeout=5):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(command.encode() + b"\\n")
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    return out.decode()
"""

# python3 -c CLI SOCKET COMMAND: prints the answer.
CLI = (
    ASK
    + """
import sys
print(ask(sys.argv[1], sys.argv[2]))
"""
)

# systemctl reload, then the time until a stats-socket connection is answered by a worker with
# another PID: the new worker is up and has the listeners.
RELOAD_TIMER = (
    ASK
    + f"""
import json, subprocess, time

def worker_pid():
    info = ask("{STATS_SOCKET}", "show info", timeout=1)
    return int([line for line in info.splitlines() if line.startswith("Pid:")][0].split(":")[1])

old = worker_pid()
start = time.monotonic()
subprocess.run(["systemctl", "reload", "{UNIT}"], check=True)
returned = time.monotonic() - start
new = None
while time.monotonic() - start < 10:
    try:
        new = worker_pid()
    except (OSError, IndexError, ValueError):
        new = None
    if new not in (None, old):
        break
    time.sleep(0.005)
print(json.dumps({{"old_worker": old, "new_worker": new, "reload_returned_s": round(returned, 3),
                  "new_worker_answered_s": round(time.monotonic() - start, 3)}}))
"""
)


@pytest.fixture(scope="module", autouse=True)
def edge_haproxy(host):
    """Only the hosts the role was applied to (group edge_haproxy of the scenario's inventory)."""
    inventory = json.loads(
        subprocess.run(
            ["ansible-inventory", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--list"],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
    )
    if host.backend.get_hostname() not in inventory.get("edge_haproxy", {}).get("hosts", []):
        pytest.skip("haproxy runs on the hosts of the group edge_haproxy only")
    if host.backend.get_hostname() == "smallvps-edge-pkg":
        pytest.skip("the composed box's haproxy is test_composed.py's: these tests measure smallvps-edge's")


@pytest.fixture
def haproxy_plan(plan):
    """The haproxy extras and the CPU count of this host's plan, as budget.yml prints it (the plan the role read)."""
    return {**{key: int(value) for key, value in plan["extras"]["haproxy"].items()}, "cpus": plan["cpus"]}


@pytest.fixture(scope="module")
def apply_role(ansible_playbook, host, tmp_path_factory):
    """Run the role on this host with extra variables; returns the finished ansible-playbook (JSON)."""
    playbook = tmp_path_factory.mktemp("haproxy") / "apply.yml"
    playbook.write_text(
        f"- name: Apply the haproxy role\n  hosts: {host.backend.get_hostname()}\n  become: true\n"
        "  roles:\n    - role: smallvps.hardening.haproxy\n"
    )

    def apply(overrides=None):
        started = time.monotonic()
        result = ansible_playbook(playbook, *([overrides] if overrides else []), as_json=True)
        result.seconds = time.monotonic() - started
        assert result.json is not None, result.output
        return result

    return apply


def _cli(host, socket, command):
    return host.check_output(f"python3 -c {shlex.quote(CLI)} {socket} {shlex.quote(command)}")


def _info(host):
    return dict(line.split(": ", 1) for line in _cli(host, STATS_SOCKET, "show info").splitlines() if ": " in line)


def _master(host):
    return int(host.check_output(f"systemctl show -p MainPID --value {UNIT}"))


def _workers(host, master):
    return sorted(int(pid) for pid in host.check_output(f"pgrep -P {master} -x haproxy || true").split())


def _wait_for_one_worker(host, master, seconds=10):
    """The master's one worker. After a reload the old worker exits once its connections end (at the
    latest at hard-stop-after); a haproxy that is not master-worker has none."""
    deadline = time.time() + seconds
    while len(_workers(host, master)) != 1 and time.time() < deadline:
        time.sleep(0.2)
    workers = _workers(host, master)
    assert len(workers) == 1, (
        f"haproxy {master} (the unit's main process) has workers {workers}, not one: is it master-worker?"
    )
    return workers


def _start_load(host, rps, seconds):
    host.check_output("systemctl reset-failed haproxy-load.service 2>/dev/null || true")
    host.check_output(f"rm -f {LOAD_REPORT}")
    host.check_output(
        f"systemd-run --unit=haproxy-load --collect -p StandardOutput=file:{LOAD_REPORT} "
        f"/usr/local/bin/smallvps-load rate --url {URL} --rps {rps} --seconds {seconds} --timeout 5"
    )


def _load_report(host, seconds):
    deadline = time.time() + seconds + 30
    while time.time() < deadline and host.run("systemctl is-active --quiet haproxy-load.service").rc == 0:
        time.sleep(1)
    report = json.loads(host.file(LOAD_REPORT).content_string)
    print(
        f"load: sent {report['sent']}, status {report['status']}, errors {report['errors']},"
        f" max_lag {report['max_lag']} s"
    )
    return report


def test_a_request_through_8080_reaches_the_backend(host):
    response = host.run(f"curl -s -i -m 5 {URL}")
    assert response.rc == 0, response.stderr
    head, _, body = response.stdout.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.") and " 200 " in head.splitlines()[0], head
    # The backend's answer, through the proxy: its body and its Server header.
    assert body == "backend\n"
    assert "\r\nserver: simplehttp/" in head.lower()


def test_maxconn_bufsize_and_threads_are_the_plans(host, haproxy_plan):
    config = host.file(CONFIG).content_string.splitlines()
    for line in (
        f"maxconn {haproxy_plan['maxconn']}",
        f"tune.bufsize {haproxy_plan['tune_bufsize']}",
        f"nbthread {haproxy_plan['cpus']}",
    ):
        assert f"    {line}" in config, line
    # What the running worker uses, not only what the file says.
    info = _info(host)
    pools = _cli(host, STATS_SOCKET, "show pools")
    frontend = [
        row.split(",")
        for row in _cli(host, STATS_SOCKET, "show stat").splitlines()
        if row.startswith("http_in,FRONTEND,")
    ]
    print(
        f"running: {info['Version']}, Maxconn {info['Maxconn']}, Nbthread {info['Nbthread']}, "
        f"frontend slim {frontend[0][6]}, {[line.strip() for line in pools.splitlines() if 'Pool buffer' in line]}"
    )
    assert int(info["Maxconn"]) == int(info["Hard_maxconn"]) == haproxy_plan["maxconn"]
    assert int(info["Nbthread"]) == haproxy_plan["cpus"]
    assert f"Pool buffer ({haproxy_plan['tune_bufsize']} bytes)" in pools
    # The frontend's own limit is the global one (field 7 of show stat is slim).
    assert int(frontend[0][6]) == haproxy_plan["maxconn"]


def test_the_unit_runs_haproxy_master_worker(host):
    assert " -Ws " in host.check_output(f"systemctl show -p ExecStart --value {UNIT}")
    master = _master(host)
    assert "-Ws" in host.file(f"/proc/{master}/cmdline").content.decode().split("\0")
    [worker] = _wait_for_one_worker(host, master)
    processes = _cli(host, MASTER_SOCKET, "show proc")
    print(f"show proc:\n{processes}")
    assert any(line.split()[:2] == [str(master), "master"] for line in processes.splitlines())
    assert any(line.split()[:2] == [str(worker), "worker"] for line in processes.splitlines())
    assert host.check_output(f"ps -o user= -p {worker}").strip() == "haproxy"
    assert int(_info(host)["Pid"]) == worker


def test_http2_with_prior_knowledge_is_answered(host):
    # haproxy_http2 is true (the default): HAProxy speaks h2c on the clear-text bind by itself.
    answer = host.check_output(
        f"curl -s -o /dev/null -m 5 -w '%{{http_version}} %{{http_code}}' --http2-prior-knowledge {URL}"
    )
    assert answer == "2 200"


def test_a_reload_under_load_loses_no_request(host):
    """systemctl reload (SIGUSR2 to the -Ws master) while 50 requests a second arrive for 20 s."""
    master = _master(host)
    [worker] = _wait_for_one_worker(host, master)
    _start_load(host, rps=50, seconds=20)
    time.sleep(5)
    timing = json.loads(host.check_output(f"python3 -c {shlex.quote(RELOAD_TIMER)}"))
    print(
        f"reload: systemctl returned after {timing['reload_returned_s']} s, the new worker {timing['new_worker']} "
        f"answered {timing['new_worker_answered_s']} s after the reload (old worker {timing['old_worker']})"
    )
    report = _load_report(host, 20)
    assert report["sent"] == 1000 and report["status"] == {"200": 1000} and report["errors"] == {}, report
    assert timing["old_worker"] == worker and timing["new_worker"] not in (None, worker), timing
    assert timing["new_worker_answered_s"] < 5, timing
    # The master keeps its PID; the old worker is gone, the new one serves.
    assert _master(host) == master
    assert _wait_for_one_worker(host, master) == [timing["new_worker"]]


def test_a_new_configuration_from_the_role_reloads_without_losing_a_request(host, apply_role):
    """The role with another client timeout while 25 requests a second arrive: reloaded, never restarted."""
    master = _master(host)
    [worker] = _wait_for_one_worker(host, master)
    # The window is wide enough for the role's run on a busy machine (50 s seen with other scenarios running).
    _start_load(host, rps=25, seconds=60)
    time.sleep(3)
    result = apply_role({"haproxy_timeouts": {"client": "31s"}})
    print(f"role run with timeout client 31s: {result.seconds:.1f} s, changed {result.changed}")
    assert result.returncode == 0, result.output[-3000:]
    assert result.seconds < 55, "the role's run must end inside the load window"
    assert "    timeout client 31s" in host.file(CONFIG).content_string.splitlines()
    report = _load_report(host, 60)
    assert report["sent"] == 1500 and report["status"] == {"200": 1500} and report["errors"] == {}, report
    assert _master(host) == master
    [new_worker] = _wait_for_one_worker(host, master)
    assert new_worker != worker
    # The role's own file comes back with the next run of the role (idempotence showed it is the converged one).


def test_haproxy_c_refuses_a_broken_file(host):
    # haproxy -c itself, which the role's template runs before the file lands: the running file passes, a broken
    # copy does not. Through the role, a file haproxy -c refuses never lands: test_haproxy_refusals.py.
    assert host.run(f"haproxy -c -q -f {CONFIG}").rc == 0
    broken = host.run(
        f"sed 's/^    maxconn /    maxconnn /' {CONFIG} > /tmp/haproxy-broken.cfg && "
        "haproxy -c -f /tmp/haproxy-broken.cfg; rc=$?; rm -f /tmp/haproxy-broken.cfg; exit $rc"
    )
    print(f"haproxy -c on a broken copy: rc {broken.rc}: {broken.stderr.strip().splitlines()[-2:]}")
    assert broken.rc != 0 and "unknown keyword 'maxconnn'" in broken.stderr
