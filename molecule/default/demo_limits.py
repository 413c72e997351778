#!/usr/bin/env python3
"""What systemd and the kernel say about the plan's units, on the demo host (stdlib only).

Usage: demo_limits.py UNIT... ; prints one JSON document:
  cgroup         "v1" (a container on a v1 or hybrid host) or "v2"
  container      what systemd says this host runs in (docker, lxc, ...), or null
  cap_sys_resource  whether this host's processes may lower an oom_score_adj (a container's may not)
  units          {unit: {"show": systemctl show's properties, "oom_score_adj": the main process's
                 value or null, "kernel": the unit's memory cgroup files (v1: memory.limit_in_bytes,
                 memory.memsw.limit_in_bytes; v2: memory.max, memory.high, memory.swap.max, memory.low)}}
  swaps          /proc/swaps without its header: the machine's swap, as a container sees it
"""

import json
import os
import subprocess
import sys

PROPERTIES = ("MemoryMax", "MemoryHigh", "MemorySwapMax", "OOMScoreAdjust", "MemoryLow", "MainPID", "ActiveState")
V1_FILES = ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")
V2_FILES = ("memory.max", "memory.high", "memory.swap.max", "memory.low")
CAP_SYS_RESOURCE = 24


def read(path):
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return None


def show(unit):
    output = subprocess.run(
        ["systemctl", "show", "-p", ",".join(PROPERTIES), unit], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def kernel(pid, version):
    """The unit's own memory cgroup files, found through its main process (v1: the memory controller's line)."""
    lines = (read(f"/proc/{pid}/cgroup") or "").splitlines()
    if version == "v2":
        paths = [line.split(":", 2)[2] for line in lines if line.startswith("0::")]
        base, names = "/sys/fs/cgroup", V2_FILES
    else:
        paths = [line.split(":", 2)[2] for line in lines if line.split(":", 2)[1:2] == ["memory"]]
        base, names = "/sys/fs/cgroup/memory", V1_FILES
    if not paths:
        return {}
    return {name: read(f"{base}{paths[0]}/{name}") for name in names}


def main(units):
    version = "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1"
    status = dict(line.split(":", 1) for line in (read("/proc/self/status") or "").splitlines() if ":" in line)
    report = {
        "cgroup": version,
        "container": read("/run/systemd/container"),
        "cap_sys_resource": bool(int(status.get("CapBnd", "0").strip(), 16) >> CAP_SYS_RESOURCE & 1),
        "units": {},
        "swaps": (read("/proc/swaps") or "").splitlines()[1:],
    }
    for unit in units:
        props = show(unit)
        pid = props.get("MainPID", "0")
        adj = read(f"/proc/{pid}/oom_score_adj") if pid != "0" else None
        report["units"][unit] = {
            "show": props,
            "oom_score_adj": int(adj) if adj is not None else None,
            "kernel": kernel(pid, version) if pid != "0" else {},
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
