# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Private to this collection: what the drill reads and starts on the host (systemd, cgroups, the journal,
health checks, the grower). Plain Python 3.9+ standard library; runs on the host, as root."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

CGROUP_ROOT = "/sys/fs/cgroup"
POLL = 0.02
# Every grower's first argument: what the cleanup looks for in /proc/*/cmdline, and nothing else carries.
MARKER = "smallvps-drill-grower"
TRANSIENT_PREFIX = "smallvps-drill-"
# Grows STEP bytes every PAUSE seconds, every byte written (so every page is resident), holds what it has, never
# beyond argv[2] bytes, and exits by itself after argv[3] seconds. With argv[4] == "wait" it first waits for "go"
# on stdin (the drill moves it into the unit's cgroup first) and exits if stdin closes without it.
GROWER = (
    "import sys, time\n"
    "cap, seconds, step, pause = int(sys.argv[2]), float(sys.argv[3]), 4 << 20, 0.03\n"
    "if sys.argv[4] == 'wait' and sys.stdin.readline().strip() != 'go':\n"
    "    sys.exit(0)\n"
    "held, size, end = [], 0, time.monotonic() + seconds\n"
    "while time.monotonic() < end:\n"
    "    if size + step <= cap:\n"
    "        held.append(bytes([7]) * step)\n"
    "        size += step\n"
    "    time.sleep(pause)\n"
)


def run(*argv: str, check: bool = False) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=30).stdout.strip()


def show(unit: str, *props: str) -> dict:
    """systemctl show's PROPS of UNIT, as strings."""
    out = run("systemctl", "show", "--no-pager", *(f"--property={p}" for p in props), "--", unit)
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return {p: values.get(p, "") for p in props}


def unit_state(units) -> dict:
    """unit -> {main_pid, active}: what 'tier 0 intact' compares."""
    states = {}
    for unit in units:
        seen = show(unit, "MainPID", "ActiveState")
        states[unit] = {"main_pid": int(seen["MainPID"] or 0), "active": seen["ActiveState"]}
    return states


def read(path: str, default: str | None = None) -> str | None:
    try:
        with open(path, encoding="ascii") as source:
            return source.read().strip()
    except (OSError, UnicodeDecodeError):
        return default


def write(path: str, value: str) -> bool:
    try:
        with open(path, "w", encoding="ascii") as sink:
            sink.write(value)
        return True
    except OSError:
        return False


def cgroup_version(root: str = CGROUP_ROOT) -> str:
    """v2 when the unified hierarchy is mounted at ROOT (it has cgroup.controllers); else v1 (legacy or hybrid,
    where memory is a v1 controller)."""
    return "v2" if os.path.exists(os.path.join(root, "cgroup.controllers")) else "v1"


class Cgroup:
    """A unit's memory cgroup, v1 or v2, by systemd's ControlGroup path."""

    def __init__(self, control_group: str, version: str, root: str = CGROUP_ROOT):
        self.version = version
        self.relative = control_group.lstrip("/")
        self.path = (
            os.path.join(root, self.relative) if version == "v2" else os.path.join(root, "memory", self.relative)
        )
        # v1: systemd tracks a unit's processes in its own name=systemd hierarchy.
        self.systemd_path = None if version == "v2" else os.path.join(root, "systemd", self.relative)

    def exists(self) -> bool:
        return os.path.isdir(self.path)

    def _int(self, name: str) -> int | None:
        raw = read(os.path.join(self.path, name))
        try:
            return None if raw is None or raw == "max" else int(raw)
        except ValueError:
            return None

    def _keyed(self, name: str) -> dict:
        raw = read(os.path.join(self.path, name), "") or ""
        pairs = (line.split() for line in raw.splitlines())
        return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}

    def oom_kills(self) -> int | None:
        """The kernel's OOM kills inside this cgroup (v2 memory.events, v1 memory.oom_control, kernel >= 4.13)."""
        return self._keyed("memory.events" if self.version == "v2" else "memory.oom_control").get("oom_kill")

    def limit_hits(self) -> int | None:
        """How often this cgroup's own limit acted: v2 memory.events' oom (reclaim at memory.max failed), v1
        memory.failcnt (usage reached the limit). An OOM kill of a process in the cgroup caused by a parent's limit
        (the whole host, a container's) raises oom_kill but not these."""
        if self.version == "v2":
            return self._keyed("memory.events").get("oom")
        return self._int("memory.failcnt")

    def usage(self) -> int | None:
        return self._int("memory.current" if self.version == "v2" else "memory.usage_in_bytes")

    def peak(self) -> int | None:
        """The kernel's own high-water mark: v1 memory.max_usage_in_bytes, v2 memory.peak (kernel >= 5.19)."""
        return self._int("memory.peak" if self.version == "v2" else "memory.max_usage_in_bytes")

    def reset_peak(self) -> None:
        if self.version == "v1":
            write(os.path.join(self.path, "memory.max_usage_in_bytes"), "0")

    def swap(self) -> int | None:
        if self.version == "v2":
            return self._int("memory.swap.current")
        memsw, usage = self._int("memory.memsw.usage_in_bytes"), self.usage()
        return None if memsw is None or usage is None else max(memsw - usage, 0)

    def adopt(self, pid: int) -> None:
        """Move PID into this cgroup (v1: its memory cgroup and systemd's own hierarchy)."""
        with open(os.path.join(self.path, "cgroup.procs"), "w", encoding="ascii") as procs:
            procs.write(str(pid))
        if self.systemd_path:
            write(os.path.join(self.systemd_path, "cgroup.procs"), str(pid))


def unit_cgroup(unit: str) -> Cgroup | None:
    """UNIT's memory cgroup, or None when it has none (not running, or no memory controller on v1)."""
    group = show(unit, "ControlGroup")["ControlGroup"]
    if not group:
        return None
    cgroup = Cgroup(group, cgroup_version())
    return cgroup if cgroup.exists() else None


def start_grower(cap_bytes: int, seconds: float) -> subprocess.Popen:
    """A grower waiting for 'go' on its stdin; its own session, so no signal to the module reaches it."""
    return subprocess.Popen(
        [sys.executable, "-c", GROWER, MARKER, str(int(cap_bytes)), str(seconds), "wait"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        text=True,
    )


def grower_argv(cap_bytes: int, seconds: float) -> list[str]:
    return ["python3", "-c", GROWER, MARKER, str(int(cap_bytes)), str(seconds), "nowait"]


def stop_grower(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            process.kill()
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def leftover_growers(proc: str = "/proc") -> list[int]:
    """PIDs whose command line is a drill grower's: python -c CODE MARKER ..."""
    found = []
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc, name, "cmdline"), "rb") as source:
                argv = source.read().split(b"\0")
        except OSError:
            continue
        python = os.path.basename(argv[0]).startswith(b"python")
        if python and len(argv) > 3 and argv[1] == b"-c" and argv[3] == MARKER.encode():
            found.append(int(name))
    return sorted(found)


def cleanup() -> dict:
    """Stop every smallvps-drill-* transient unit and kill every leftover grower."""
    listed = run("systemctl", "list-units", "--all", "--plain", "--no-legend", f"{TRANSIENT_PREFIX}*")
    units = [line.split()[0] for line in listed.splitlines() if line.strip()]
    for unit in units:
        run("systemctl", "stop", unit)
        run("systemctl", "reset-failed", unit)
    killed = []
    for pid in leftover_growers():
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except OSError:
            pass
    return {"stopped_units": units, "killed_growers": killed}


def wait_for(condition, seconds: float, poll: float = POLL) -> float | None:
    """The monotonic time CONDITION first held, or None after SECONDS."""
    deadline = time.monotonic() + seconds
    while True:
        if condition():
            return time.monotonic()
        if time.monotonic() >= deadline:
            return None
        time.sleep(poll)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def healthy(url: str, timeout: float = 1.0) -> bool:
    """Any HTTP answer below 500: http://127.0.0.1:PORT/path, or unix:/path (GET / over the socket)."""
    if url.startswith("unix:"):
        connection, path = _UnixConnection(url[len("unix:") :], timeout), "/"
    else:
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", path)
        return connection.getresponse().status < 500
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def journal_cursor() -> str:
    shown = run("journalctl", "-n", "0", "--show-cursor", "--no-pager")
    return shown.rpartition("-- cursor: ")[2].strip()


def journal(cursor: str, *args: str) -> str:
    after = [f"--after-cursor={cursor}"] if cursor else ["--since=-5min"]
    return run("journalctl", "--no-pager", "-o", "cat", *after, *args)


def kills_since(cursor: str) -> dict:
    """Who killed what since CURSOR: {'kernel': [(pid, name)], 'earlyoom': [(pid, name)], 'oomd': [cgroup]}.
    journalctl ANDs -k with -u, hence a read each."""
    kernel = journal(cursor, "-k")
    earlyoom = journal(cursor, "-u", "earlyoom.service")
    oomd = journal(cursor, "-u", "systemd-oomd.service")
    return {
        "kernel": [(int(p), n) for p, n in re.findall(r"[Kk]illed process (\d+) \(([^)]+)\)", kernel)],
        "earlyoom": [
            (int(p), n) for p, n in re.findall(r"sending SIG\w+ to process (\d+) uid \d+ \"([^\"]+)\"", earlyoom)
        ],
        "oomd": re.findall(r"Killed (\S+) due to memory pressure", oomd),
    }


def meminfo_bytes(*keys: str) -> int:
    raw = read("/proc/meminfo", "") or ""
    values = {k: int(v.split()[0]) * 1024 for k, v in (line.split(":", 1) for line in raw.splitlines())}
    return sum(values.get(k, 0) for k in keys)
