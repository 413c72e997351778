# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""What the drill reads on the host: cgroup v1 and v2 files (fake trees), leftover growers (a fake /proc), health
over a unix socket and loopback (real servers), and the grower itself (a real, small, bounded one)."""

from __future__ import annotations

import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from socketserver import UnixStreamServer

import pytest

from ansible_collections.smallvps.hardening.plugins.module_utils import _drill_host as host


def _files(folder, files: dict):
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)


def test_a_v2_unit_reads_memory_events_current_and_swap(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    _files(
        tmp_path / "system.slice" / "app.service",
        {
            "memory.events": "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n",
            "memory.current": "104857600\n",
            "memory.swap.current": "1048576\n",
            "memory.peak": "268435456\n",
        },
    )
    assert host.cgroup_version(str(tmp_path)) == "v2"
    cgroup = host.Cgroup("/system.slice/app.service", "v2", str(tmp_path))
    assert cgroup.exists()
    assert (cgroup.oom_kills(), cgroup.usage(), cgroup.swap(), cgroup.peak()) == (2, 100 << 20, 1 << 20, 256 << 20)
    # The limit's own count is memory.events' oom (reclaim at memory.max failed), not max (reclaim started).
    assert cgroup.limit_hits() == 2


def test_a_v1_unit_reads_oom_control_usage_and_memsw(tmp_path):
    unit = "docker/abc/system.slice/app.service"
    _files(
        tmp_path / "memory" / unit,
        {
            "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
            "memory.usage_in_bytes": "209715200\n",
            "memory.max_usage_in_bytes": "385875968\n",
            "memory.memsw.usage_in_bytes": "211812352\n",
            "memory.failcnt": "7\n",
            "cgroup.procs": "",
        },
    )
    (tmp_path / "systemd" / unit).mkdir(parents=True)
    (tmp_path / "systemd" / unit / "cgroup.procs").write_text("")
    assert host.cgroup_version(str(tmp_path)) == "v1"
    cgroup = host.Cgroup(f"/{unit}", "v1", str(tmp_path))
    assert (cgroup.oom_kills(), cgroup.usage(), cgroup.peak(), cgroup.swap()) == (3, 200 << 20, 368 << 20, 2 << 20)
    assert cgroup.limit_hits() == 7
    cgroup.reset_peak()
    cgroup.adopt(4242)
    assert (tmp_path / "memory" / unit / "memory.max_usage_in_bytes").read_text() == "0"
    assert (tmp_path / "memory" / unit / "cgroup.procs").read_text() == "4242"
    assert (tmp_path / "systemd" / unit / "cgroup.procs").read_text() == "4242"


def test_a_cgroup_without_counters_reads_none(tmp_path):
    cgroup = host.Cgroup("/system.slice/gone.service", "v2", str(tmp_path))
    assert not cgroup.exists()
    assert (cgroup.oom_kills(), cgroup.limit_hits(), cgroup.usage(), cgroup.swap()) == (None, None, None, None)


def test_only_growers_are_leftovers(tmp_path):
    commands = {
        "10": ["python3", "-c", host.GROWER, host.MARKER, "100", "60", "wait"],
        "11": ["python3", "-c", "print(1)", "other"],
        "12": ["sshd:", host.MARKER],
        "13": ["nginx", "-c", "/etc/nginx/nginx.conf", host.MARKER],
    }
    for pid, argv in commands.items():
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (tmp_path / "self").mkdir()
    assert host.leftover_growers(str(tmp_path)) == [10]


def test_the_grower_waits_for_go_grows_to_its_cap_and_ends_by_itself():
    grower = host.start_grower(16 << 20, 1.0)
    try:
        time.sleep(0.3)
        with open(f"/proc/{grower.pid}/status") as status:
            before = int(next(line for line in status if line.startswith("VmRSS:")).split()[1])
        grower.stdin.write("go\n")
        grower.stdin.flush()
        time.sleep(0.6)
        with open(f"/proc/{grower.pid}/status") as status:
            grown = int(next(line for line in status if line.startswith("VmRSS:")).split()[1])
        assert grower.wait(timeout=5) == 0
    finally:
        host.stop_grower(grower)
    # 16 MiB at most: four 4 MiB steps, every page written.
    assert before < 12 << 10 and 16 << 10 <= grown - before + 1024 and grown - before < 24 << 10


def test_a_grower_whose_drill_is_gone_does_not_grow():
    grower = host.start_grower(16 << 20, 30.0)
    grower.stdin.close()
    assert grower.wait(timeout=5) == 0


class _Answer(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 - BaseHTTPRequestHandler's name
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class _UnixHTTPServer(UnixStreamServer, HTTPServer):
    def server_bind(self):
        UnixStreamServer.server_bind(self)
        self.server_name, self.server_port = "localhost", 0

    def get_request(self):
        request, _ = super().get_request()
        return request, ("localhost", 0)


@pytest.mark.parametrize(("status", "serving"), [(200, True), (404, True), (503, False)])
def test_health_over_a_unix_socket_is_any_status_below_500(tmp_path, status, serving):
    path = str(tmp_path / "app.sock")
    server = _UnixHTTPServer(path, type("H", (_Answer,), {"status": status}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert host.healthy(f"unix:{path}") is serving
    finally:
        server.shutdown()
        server.server_close()


def test_health_over_loopback_and_nothing_listening():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert host.healthy(f"http://127.0.0.1:{server.server_port}/health")
    finally:
        server.shutdown()
        server.server_close()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    assert not host.healthy(f"http://127.0.0.1:{port}/")
    assert not host.healthy(f"unix:{os.devnull}")


def test_wait_for_returns_when_the_condition_holds_or_none_after_the_time():
    assert host.wait_for(lambda: True, 1) is not None
    started = time.monotonic()
    assert host.wait_for(lambda: False, 0.2) is None and time.monotonic() - started >= 0.2
