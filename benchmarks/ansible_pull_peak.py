# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The peak memory Ansible's processes hold at once on a container host (benchmarks/ansible-pull-rss.sh).

    python3 ansible_pull_peak.py OUT STOP

Runs inside the host's container until the file STOP exists, then writes one JSON line to OUT. Every 50 ms
it sums the memory of every process started through `docker exec` (parent PID 0, not PID 1) and of their
descendants, other than its own: ansible-pull and all it starts, or in push mode the module processes the
docker connection starts, with what they run (apt, dpkg). Services systemd starts are not counted.
What the host must hold at once is that sum, not the largest process (what /usr/bin/time's "Maximum
resident set size" reports): Pss (shared pages split between their users) and Rss (shared pages counted
in each), and the largest processes at the Pss peak.
"""

from __future__ import annotations

import json
import os
import sys
import time


def _parents() -> dict:
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return parents


def _exec_root(pid: int, parents: dict) -> int:
    """The ancestor `docker exec` started (parent PID 0), or 1 for systemd's own processes."""
    while parents.get(pid, 0) not in (0, 1):
        pid = parents[pid]
    return pid if parents.get(pid) == 0 else 1


def _memory_kib(pid: int) -> tuple:
    """(Pss, Rss) in KiB from smaps_rollup; (0, 0) for a process that is gone."""
    values = {"Pss:": 0, "Rss:": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                key, _, rest = line.partition(" ")
                if key in values:
                    values[key] = int(rest.split()[0])
    except (OSError, ValueError):
        pass
    return values["Pss:"], values["Rss:"]


def _name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = [word.decode(errors="replace") for word in cmdline.read().split(b"\0") if word]
    except OSError:
        return "?"
    # python3 /path/ansible-playbook ... -> ansible-playbook; python3 .../AnsiballZ_apt.py -> AnsiballZ_apt.py
    words = [os.path.basename(word) for word in argv[:2]]
    if words and words[0].startswith("python") and len(words) > 1 and not words[1].startswith("-"):
        words = words[1:]
    return words[0] if words else "?"


def main() -> int:
    out, stop = sys.argv[1], sys.argv[2]
    mine = _exec_root(os.getpid(), _parents())
    peak = {"pss_mib": 0.0, "rss_mib": 0.0, "processes": 0, "top": []}
    while not os.path.exists(stop):
        parents = _parents()
        counted = [pid for pid in parents if pid != 1 and _exec_root(pid, parents) not in (1, mine)]
        sample = {pid: _memory_kib(pid) for pid in counted}
        pss = sum(value[0] for value in sample.values()) / 1024
        if pss > peak["pss_mib"]:
            top = sorted(sample, key=lambda pid: sample[pid][0], reverse=True)[:5]
            peak.update(pss_mib=round(pss, 1), top=[f"{_name(pid)} {sample[pid][0] / 1024:.0f}" for pid in top])
        rss = sum(value[1] for value in sample.values()) / 1024
        peak["rss_mib"] = round(max(peak["rss_mib"], rss), 1)
        peak["processes"] = max(peak["processes"], len(sample))
        time.sleep(0.05)
    with open(out, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(peak) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
