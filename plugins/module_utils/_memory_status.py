# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Plan versus live: each planned unit's memory against its plan, and the host's memory pressure.

Runs on the host, standard library only: the memory_status module imports it, and the same file runs
as a plain script (a timer's job) that writes the figures in Prometheus text format:

    python3 _memory_status.py --config UNITS.json --textfile /var/lib/node_exporter/smallvps_memory.prom

UNITS.json is the plan's units: a list of {name, unit, tier, memory_max_bytes, memory_low_bytes}
(or an object with that list under "units"). Roots are parameters so tests can point at fake trees.
cgroup v2 gives every figure; on cgroup v1 (a container on a v1 machine) memory.current is
memory.usage_in_bytes, memory.peak memory.max_usage_in_bytes, the "max" event memory.failcnt, oom_kill
comes from memory.oom_control, and the other events do not exist (None). v1 counts events where they
happen only, so a v1 slice's counters do not include its units'.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

EVENTS = ("low", "high", "max", "oom", "oom_kill", "oom_group_kill")
PSI_KINDS = ("some", "full")
PSI_FIELDS = ("avg10", "avg60", "avg300", "total")
# cgroup v1 reports "no limit" as a huge page-aligned number (9223372036854771712).
CGROUP_V1_UNLIMITED = 2**62
MIB = 1024 * 1024
UNIT_KEYS = ("name", "unit", "tier", "memory_max_bytes", "memory_low_bytes")


class MemoryStatusError(Exception):
    """The input cannot be used (a bad unit list); reading the host never raises it."""


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _int(path: str) -> int | None:
    """A file holding one number; None when missing, "max" or unreadable."""
    text = _read(path)
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def _keyed(path: str) -> dict[str, int] | None:
    """A "key value" per line file (memory.events, memory.oom_control, vmstat); None when missing."""
    text = _read(path)
    if text is None:
        return None
    values = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].lstrip("-").isdigit():
            values[fields[0]] = int(fields[1])
    return values


def check_units(units, option: str = "units") -> list[dict]:
    """The unit list as collect() takes it, or MemoryStatusError naming OPTION, the item and the key."""
    form = f"a list of {{{', '.join(UNIT_KEYS)}}} (the plan's services)"
    if not isinstance(units, list):
        raise MemoryStatusError(f"{option} must be {form}, got {type(units).__name__}")
    checked = []
    for index, unit in enumerate(units):
        where = f"{option}[{index}]"
        if not isinstance(unit, dict):
            raise MemoryStatusError(f"{where} must be a dict with keys {', '.join(UNIT_KEYS)}, got {unit!r}")
        for key in ("name", "unit"):
            if not isinstance(unit.get(key), str) or not unit[key] or "/" in unit[key]:
                raise MemoryStatusError(f"{where}.{key} must be a non-empty name without '/', got {unit.get(key)!r}")
        if unit.get("tier") not in (0, 1, 2) or isinstance(unit.get("tier"), bool):
            raise MemoryStatusError(f"{where}.tier must be 0, 1 or 2, got {unit.get('tier')!r}")
        for key in ("memory_max_bytes", "memory_low_bytes"):
            value = unit.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise MemoryStatusError(f"{where}.{key} must be a positive number of bytes or null, got {value!r}")
        checked.append({key: unit.get(key) for key in UNIT_KEYS})
    return checked


def cgroup_layout(root: str) -> tuple[str | None, str | None]:
    """("v2", root) on the unified hierarchy, ("v1", root/memory) on the v1 memory controller, else (None, None)."""
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        return "v2", root
    if os.path.isdir(os.path.join(root, "memory")):
        return "v1", os.path.join(root, "memory")
    return None, None


def systemd_root(proc: str, version: str | None) -> str:
    """Where systemd's tree starts: PID 1's cgroup without its init.scope ("" on a host, /docker/<id> in a
    container sharing the host's cgroup namespace)."""
    text = _read(os.path.join(proc, "1", "cgroup")) or ""
    for line in text.splitlines():
        _id, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if (version == "v2" and _id == "0" and not controllers) or (
            version == "v1" and "memory" in controllers.split(",")
        ):
            path = path.rstrip("/")
            return path[: -len("/init.scope")] if path.endswith("/init.scope") else path
    return ""


def slice_path(prefix: str, slice_name: str) -> str:
    """A slice's cgroup path: a-b.slice lives at a.slice/a-b.slice, -.slice is systemd's root."""
    stem = slice_name[: -len(".slice")] if slice_name.endswith(".slice") else slice_name
    if stem in ("", "-"):
        return prefix or "/"
    parts = stem.split("-")
    return prefix + "".join("/" + "-".join(parts[: i + 1]) + ".slice" for i in range(len(parts)))


def show_units(names: list[str], systemctl: str) -> dict[str, dict[str, str]] | None:
    """{unit: {ControlGroup, Slice}} from one systemctl call; None when systemctl cannot answer."""
    if not names:
        return {}
    try:
        result = subprocess.run(
            [systemctl, "show", "--property=Id,ControlGroup,Slice", "--", *names],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    blocks = [
        dict(line.split("=", 1) for line in block.splitlines() if "=" in line) for block in result.stdout.split("\n\n")
    ]
    blocks = [block for block in blocks if block]
    # systemctl answers in the order asked; Id is the unit's own name, which an alias would change.
    return dict(zip(names, blocks, strict=True)) if len(blocks) == len(names) else None


def cgroup_figures(base: str, path: str, version: str) -> dict | None:
    """One cgroup's memory figures, or None when its directory does not exist (the unit is not running)."""
    directory = base + path if path != "/" else base
    if not os.path.isdir(directory):
        return None

    def at(name):
        return os.path.join(directory, name)

    if version == "v2":
        events = _keyed(at("memory.events")) or {}
        swap = _int(at("memory.swap.current"))
        figures = {
            "current_bytes": _int(at("memory.current")),
            "peak_bytes": _int(at("memory.peak")),
            "swap_bytes": swap,
            "memory_max_live_bytes": _int(at("memory.max")),
            "memory_low_live_bytes": _int(at("memory.low")),
            "events": {event: events.get(event) for event in EVENTS},
        }
    else:
        usage = _int(at("memory.usage_in_bytes"))
        memsw = _int(at("memory.memsw.usage_in_bytes"))
        limit = _int(at("memory.limit_in_bytes"))
        oom_control = _keyed(at("memory.oom_control")) or {}
        events = dict.fromkeys(EVENTS)
        events.update(max=_int(at("memory.failcnt")), oom_kill=oom_control.get("oom_kill"))
        figures = {
            "current_bytes": usage,
            "peak_bytes": _int(at("memory.max_usage_in_bytes")),
            "swap_bytes": memsw - usage if memsw is not None and usage is not None else None,
            "memory_max_live_bytes": limit if limit is not None and limit < CGROUP_V1_UNLIMITED else None,
            "memory_low_live_bytes": None,
            "events": events,
        }
    return {"path": path, **figures}


def read_psi(proc: str) -> dict | None:
    """/proc/pressure/memory as {some: {avg10, avg60, avg300, total}, full: {...}}; None without PSI."""
    text = _read(os.path.join(proc, "pressure", "memory"))
    if text is None:
        return None
    psi = {}
    for line in text.splitlines():
        kind, *pairs = line.split()
        if kind in PSI_KINDS:
            fields = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
            psi[kind] = {
                field: (int(fields[field]) if field == "total" else float(fields[field]))
                for field in PSI_FIELDS
                if field in fields
            }
    return psi or None


def read_host(proc: str) -> dict:
    meminfo = {}
    for line in (_read(os.path.join(proc, "meminfo")) or "").splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            meminfo[key.strip()] = int(fields[0]) * 1024
    swap_total, swap_free = meminfo.get("SwapTotal"), meminfo.get("SwapFree")
    return {
        "psi_memory": read_psi(proc),
        "vmstat_oom_kill": (_keyed(os.path.join(proc, "vmstat")) or {}).get("oom_kill"),
        "swap_total_bytes": swap_total,
        "swap_used_bytes": swap_total - swap_free if swap_total is not None and swap_free is not None else None,
    }


def collect(units, root: str = "/sys/fs/cgroup", proc: str = "/proc", systemctl: str | None = "systemctl") -> dict:
    """Every planned unit's figures at its cgroup and its parent slice, and the host's.

    A unit's cgroup and slice come from `systemctl show` (one call) when SYSTEMCTL answers, else the unit is
    looked for at <systemd root>/system.slice/<unit> under ROOT. A unit that is not running has no cgroup:
    its "cgroup" is None and its slice's counters, which outlive the unit's restarts, still show.
    """
    units = check_units(units)
    version, base = cgroup_layout(root)
    prefix = systemd_root(proc, version)
    shown = show_units([unit["unit"] for unit in units], systemctl) if systemctl and version else None
    entries = []
    for unit in units:
        props = (shown or {}).get(unit["unit"], {})
        if shown is not None:
            leaf = props.get("ControlGroup") or None
            parent = os.path.dirname(leaf) if leaf else slice_path(prefix, props.get("Slice") or "system.slice")
        else:
            parent = slice_path(prefix, "system.slice")
            leaf = f"{parent}/{unit['unit']}"
        cgroup = cgroup_figures(base, leaf, version) if version and leaf else None
        current = cgroup["current_bytes"] if cgroup else None
        cap = unit["memory_max_bytes"]
        entries.append(
            {
                **unit,
                "cgroup": cgroup,
                "slice": cgroup_figures(base, parent, version) if version else None,
                "slice_path": parent,
                "percent_of_max": round(100.0 * current / cap, 1) if current is not None and cap else None,
            }
        )
    return {"cgroup_version": version, "units": entries, "host": read_host(proc)}


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:.1f} MiB"


def warnings(status: dict, max_percent: float = 90, pressure_avg10: float = 10.0) -> list[str]:
    """A unit above MAX_PERCENT of its plan's MemoryMax, a live limit other than the plan's, PSI memory some or
    full avg10 above PRESSURE_AVG10 (percent)."""
    found = []
    for unit in status["units"]:
        cgroup, cap = unit["cgroup"], unit["memory_max_bytes"]
        if unit["percent_of_max"] is not None and unit["percent_of_max"] > max_percent:
            found.append(
                f"{unit['unit']}: memory.current {_mib(cgroup['current_bytes'])} is {unit['percent_of_max']}% "
                f"of its MemoryMax {_mib(cap)} (above {max_percent:g}%)"
            )
        if cgroup and cap and cgroup["memory_max_live_bytes"] not in (None, cap):
            found.append(
                f"{unit['unit']}: its cgroup's limit is {_mib(cgroup['memory_max_live_bytes'])}, the plan's "
                f"MemoryMax {_mib(cap)}: the plan is not applied (run site.yml)"
            )
    for kind, figures in sorted((status["host"]["psi_memory"] or {}).items()):
        avg10 = figures.get("avg10")
        if avg10 is not None and avg10 > pressure_avg10:
            found.append(f"memory pressure: {kind} avg10 {avg10} is above {pressure_avg10:g}")
    return found


# Prometheus text exposition format: name, type, help; samples follow their family's HELP and TYPE lines.
FAMILIES = (
    ("max_bytes", "gauge", "MemoryMax of the unit in the smallvps memory plan."),
    ("low_bytes", "gauge", "MemoryLow of the unit in the smallvps memory plan (tier 0)."),
    ("cgroup_present", "gauge", "1 when the cgroup exists (the unit runs), else 0."),
    ("current_bytes", "gauge", "memory.current of the cgroup (v1: memory.usage_in_bytes)."),
    ("peak_bytes", "gauge", "memory.peak of the cgroup (v1: memory.max_usage_in_bytes)."),
    ("swap_bytes", "gauge", "memory.swap.current of the cgroup."),
    ("max_used_ratio", "gauge", "memory.current of the unit over its planned MemoryMax."),
    ("events_total", "counter", "memory.events of the cgroup by event (v1: max is failcnt, oom_kill oom_control)."),
    ("pressure_avg10", "gauge", "PSI memory stall over 10 s, percent (/proc/pressure/memory)."),
    ("pressure_avg60", "gauge", "PSI memory stall over 60 s, percent (/proc/pressure/memory)."),
    ("pressure_avg300", "gauge", "PSI memory stall over 300 s, percent (/proc/pressure/memory)."),
    ("pressure_stall_seconds_total", "counter", "PSI memory total stall time, seconds (/proc/pressure/memory)."),
    ("vmstat_oom_kill_total", "counter", "OOM kills of the whole host (/proc/vmstat oom_kill)."),
    ("swap_total_bytes", "gauge", "SwapTotal of /proc/meminfo."),
    ("swap_used_bytes", "gauge", "SwapTotal minus SwapFree of /proc/meminfo."),
)
PREFIX = "smallvps_memory_"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))


def prometheus_text(status: dict) -> str:
    """The status in Prometheus text format (version 0.0.4), for node_exporter's textfile collector."""
    samples = {name: [] for name, _type, _help in FAMILIES}

    def add(name, labels, value):
        if value is not None:
            samples[name].append((labels, value))

    for unit in status["units"]:
        labels = {"unit": unit["unit"], "name": unit["name"], "tier": str(unit["tier"])}
        add("max_bytes", labels, unit["memory_max_bytes"])
        add("low_bytes", labels, unit["memory_low_bytes"])
        add("max_used_ratio", labels, None if unit["percent_of_max"] is None else unit["percent_of_max"] / 100)
        for level in ("unit", "slice"):
            figures = unit["cgroup" if level == "unit" else "slice"]
            at = {**labels, "level": level}
            add("cgroup_present", at, 0 if figures is None else 1)
            for key in ("current_bytes", "peak_bytes", "swap_bytes"):
                add(key, at, figures and figures[key])
            for event in EVENTS:
                add("events_total", {**at, "event": event}, figures and figures["events"][event])
    host = status["host"]
    for kind, figures in sorted((host["psi_memory"] or {}).items()):
        for field in ("avg10", "avg60", "avg300"):
            add(f"pressure_{field}", {"kind": kind}, figures.get(field))
        total = figures.get("total")
        add("pressure_stall_seconds_total", {"kind": kind}, None if total is None else total / 1e6)
    add("vmstat_oom_kill_total", {}, host["vmstat_oom_kill"])
    add("swap_total_bytes", {}, host["swap_total_bytes"])
    add("swap_used_bytes", {}, host["swap_used_bytes"])
    lines = []
    for name, kind, text in FAMILIES:
        if not samples[name]:
            continue
        full = PREFIX + name
        lines += [f"# HELP {full} {text}", f"# TYPE {full} {kind}"]
        for labels, value in samples[name]:
            pairs = ",".join(f'{key}="{_escape(val)}"' for key, val in labels.items())
            lines.append(f"{full}{{{pairs}}} {_number(value)}" if pairs else f"{full} {_number(value)}")
    return "\n".join(lines) + "\n"


def write_atomically(path: str, text: str) -> None:
    """Write then rename in the same directory, so a reader (node_exporter) never sees half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def load_config(path: str) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except OSError as error:
        raise MemoryStatusError(f"--config {path}: cannot read it: {error.strerror}") from error
    except ValueError as error:
        raise MemoryStatusError(f"--config {path}: not JSON: {error}") from error
    units = config.get("units") if isinstance(config, dict) else config
    return check_units(units, option=f"--config {path}: units")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write each planned unit's memory figures in Prometheus text format.")
    parser.add_argument("--config", required=True, help="JSON: the plan's units (name, unit, tier, memory_*_bytes)")
    parser.add_argument("--textfile", required=True, help="the .prom file to write (atomically)")
    parser.add_argument("--cgroup-root", default="/sys/fs/cgroup")
    parser.add_argument("--proc-root", default="/proc")
    args = parser.parse_args(argv)
    try:
        units = load_config(args.config)
        text = prometheus_text(collect(units, root=args.cgroup_root, proc=args.proc_root))
        write_atomically(args.textfile, text)
    except MemoryStatusError as error:
        print(f"smallvps memory status: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"smallvps memory status: cannot write {args.textfile}: {error.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
