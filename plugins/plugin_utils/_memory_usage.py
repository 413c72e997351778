"""Which planned MemoryMax values are below what their running unit uses now.

Writing such a MemoryMax makes the kernel reclaim and then OOM-kill the unit at the next
daemon-reload: the systemd_tiering role refuses it before writing anything, unless told to.
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MIB
from ansible_collections.smallvps.hardening.plugins.plugin_utils._plan_input import plan_entries


def parse_systemctl_show(output: str) -> dict:
    """`systemctl show -p Id,MemoryCurrent UNIT...` -> {unit: bytes or None}; blocks are blank-line separated."""
    usage = {}
    for block in output.strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if "Id" in props:
            current = props.get("MemoryCurrent", "")
            # "[not set]" (no accounting, not running) or the 2^64-1 of older systemd.
            usage[props["Id"]] = int(current) if current.isdigit() and int(current) < 2**63 else None
    return usage


def memory_max_below_usage(plan, shown: str) -> list:
    """One message per tier-1 unit whose planned MemoryMax is below its memory.current."""
    usage = parse_systemctl_show(shown or "")
    refusals = []
    for entry in plan_entries(plan, "memory_max_below_usage"):
        current = usage.get(entry["unit"])
        limit = entry.get("memory_max_bytes")
        if entry["tier"] != 1 or current is None or limit is None or current <= limit:
            continue
        refusals.append(
            f"service '{entry['name']}': {entry['unit']} uses {current // MIB} MiB now and the plan's MemoryMax is "
            f"{entry['memory_max']}: at the daemon-reload the kernel would reclaim and then OOM-kill it. Raise its "
            "min/max in smallvps_services, restart it first so it uses less, or set "
            "systemd_tiering_allow_memory_max_below_usage: true to accept the kill"
        )
    return refusals
