#!/usr/bin/python
# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: memory_status
short_description: Plan versus live, each planned unit's memory against its plan and the host's memory pressure
version_added: 0.1.0
author:
  - smallvps.hardening maintainers
description:
  - For every unit of the memory plan, reads its cgroup (from C(systemctl show -p ControlGroup,Slice)) and its parent
    slice's C(memory.current), C(memory.peak), C(memory.swap.current), C(memory.max), C(memory.low) and
    C(memory.events) (C(low), C(high), C(max), C(oom), C(oom_kill), C(oom_group_kill)), and the percent of the plan's
    MemoryMax in use. A unit that is not running has no cgroup (C(cgroup) is C(null)); its slice's counters, which
    outlive the unit's restarts, still show.
  - Host-wide, C(/proc/pressure/memory) (some and full, avg10, avg60, avg300, total), C(/proc/vmstat) C(oom_kill) and
    swap from C(/proc/meminfo).
  - Returns C(memory_warnings) for a unit above O(max_percent) of its MemoryMax, a cgroup whose limit is not the
    plan's, and PSI memory some or full avg10 above O(pressure_avg10).
  - On cgroup v1 (a container on a v1 machine) memory.current is C(memory.usage_in_bytes), memory.peak
    C(memory.max_usage_in_bytes), the C(max) event C(memory.failcnt), C(oom_kill) comes from C(memory.oom_control),
    the other events are C(null), and a slice's counters count its own events only, not its units'.
  - The module only reads; it never changes the host. C(playbooks/status.yml) runs it (docs/status.md).
options:
  units:
    description:
      - The plan's units, each C({name, unit, tier, memory_max_bytes, memory_low_bytes}) as in
        C(smallvps_memory_plan.services); other keys of a plan entry are ignored. C(memory_max_bytes) and
        C(memory_low_bytes) are C(null) where the plan sets none. A bad item is refused naming its index and key.
    type: list
    elements: raw
    required: true
  max_percent:
    description: Warn about a unit whose memory.current is above this percent of its planned MemoryMax (0 to 100).
    type: float
    default: 90
  pressure_avg10:
    description: Warn when PSI memory some or full avg10 is above this percent (0 to 100).
    type: float
    default: 10.0
  cgroup_root:
    description:
      - Where the cgroup filesystem is mounted. For tests and chroots.
      - At C(/sys/fs/cgroup) the units' cgroups come from C(systemctl show); below another root each unit is looked
        for at C(system.slice/<unit>) under systemd's root (PID 1's cgroup without C(init.scope)).
    type: path
    default: /sys/fs/cgroup
  proc_root:
    description: Where the proc filesystem is mounted. For tests and chroots.
    type: path
    default: /proc
attributes:
  check_mode:
    support: full
    description: The same in a dry run; the module only reads.
  diff_mode:
    support: none
    description: No diff.
seealso:
  - module: smallvps.hardening.memory_facts
"""

EXAMPLES = r"""
- name: Read each planned unit's memory against the plan
  smallvps.hardening.memory_status:
    units: "{{ smallvps_memory_plan.services.values() | list }}"
    max_percent: 90
    pressure_avg10: 10.0
  register: memory_status
"""

RETURN = r"""
status:
  description:
    - C({cgroup_version, units, host}). C(cgroup_version) is C(v2), C(v1) or C(null).
    - Each of C(units) is the input unit with C(cgroup) and C(slice) (each C(null) when the directory does not exist,
      else C({path, current_bytes, peak_bytes, swap_bytes, memory_max_live_bytes, memory_low_live_bytes, events})),
      C(slice_path) and C(percent_of_max) (C(null) without a planned MemoryMax or a cgroup). A figure the kernel
      does not offer is C(null) (C(memory.peak) before Linux 5.19).
    - C(host) is C({psi_memory, vmstat_oom_kill, swap_total_bytes, swap_used_bytes}); C(psi_memory) is
      C({some, full}) of C({avg10, avg60, avg300, total}), or C(null) without PSI.
  returned: success
  type: dict
memory_warnings:
  description: One line per warning (a unit above the threshold, a limit other than the plan's, memory pressure).
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.smallvps.hardening.plugins.module_utils._memory_status import (
    MemoryStatusError,
    check_units,
    collect,
    warnings,
)

DEFAULT_CGROUP_ROOT = "/sys/fs/cgroup"
ARGUMENT_SPEC = dict(
    units=dict(type="list", elements="raw", required=True),
    max_percent=dict(type="float", default=90),
    pressure_avg10=dict(type="float", default=10.0),
    cgroup_root=dict(type="path", default=DEFAULT_CGROUP_ROOT),
    proc_root=dict(type="path", default="/proc"),
)


def run_module() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    for option in ("max_percent", "pressure_avg10"):
        if not 0 <= module.params[option] <= 100:
            module.fail_json(
                msg=f"memory_status: {option} must be a percent from 0 to 100, got {module.params[option]}"
            )
    try:
        units = check_units(module.params["units"], option="units")
    except MemoryStatusError as error:
        module.fail_json(msg=f"memory_status: {error}")
    root = module.params["cgroup_root"]
    # systemctl describes the real tree only.
    systemctl = "systemctl" if root.rstrip("/") == DEFAULT_CGROUP_ROOT else None
    status = collect(units, root=root, proc=module.params["proc_root"], systemctl=systemctl)
    found = warnings(status, module.params["max_percent"], module.params["pressure_avg10"])
    module.exit_json(changed=False, status=status, memory_warnings=found)


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
