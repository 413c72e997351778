#!/usr/bin/python
# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: unit_oom_score_adjust
short_description: Give the running processes of systemd units the OOMScoreAdjust their drop-ins now say
version_added: 0.1.0
author:
  - smallvps.hardening maintainers
description:
  - systemd applies C(OOMScoreAdjust=) only when it starts a unit's processes, so a new drop-in does not protect
    an sshd or nginx that is already running. Restarting them would do it, but restarting the SSH door or the
    front proxy blindly is what this collection avoids.
  - This module writes the value into C(/proc/PID/oom_score_adj) of every process in each running unit's cgroup,
    the same value a restart would give them, without restarting anything.
  - A protection a process already has is kept - a negative target never raises a value that is lower still. The
    OpenSSH listener sets itself to -1000; writing the tier's -500 over it would weaken the SSH door.
  - Lowering a value below what the process had needs C(CAP_SYS_RESOURCE). Inside containers (Docker, LXC-based
    VPSes) the kernel refuses it; so does systemd itself, silently. Refusals are reported in RV(refused) and as a
    warning, not as a failure. Check mode predicts them from the module's own capabilities, so a dry run does not
    report a change a real run cannot make.
  - Units that are not running are skipped; they get the value from systemd when they start.
options:
  units:
    description: Unit name (for example C(ssh.service)) to the OOMScoreAdjust its processes should have, -1000..1000.
    type: dict
    required: true
  proc_root:
    description: Where proc is mounted (for tests and chroots).
    type: path
    default: /proc
  cgroup_root:
    description: Where the cgroup hierarchies are mounted (for tests and chroots).
    type: path
    default: /sys/fs/cgroup
attributes:
  check_mode:
    support: full
    description: Reports which processes would change and changes none.
  diff_mode:
    support: none
    description: No diff.
seealso:
  - plugin: smallvps.hardening.systemd_tier_dropins
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Protect the running sshd and cap the running app's OOM priority
  smallvps.hardening.unit_oom_score_adjust:
    units:
      ssh.service: -500
      app.service: 100
"""

RETURN = r"""
adjusted:
  description: Processes whose oom_score_adj was changed (or would be, in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{unit: app.service, pid: 812, from: 0, to: 100}]
refused:
  description: Processes the kernel would not change (lowering needs CAP_SYS_RESOURCE).
  returned: always
  type: list
  elements: dict
  sample: [{unit: ssh.service, pid: 77, from: 0, to: -500, error: Permission denied}]
not_running:
  description: Units that have no running processes, skipped.
  returned: always
  type: list
  elements: str
"""

import errno
import os

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = dict(
    units=dict(type="dict", required=True),
    proc_root=dict(type="path", default="/proc"),
    cgroup_root=dict(type="path", default="/sys/fs/cgroup"),
)

# Where a unit's cgroup.procs lives: cgroup v2, the v2 part of a hybrid host, and the
# name=systemd hierarchy every v1 host has.
CGROUP_HIERARCHIES = ("", "unified", "systemd")


def unit_pids(cgroup_root: str, control_group: str) -> list[int] | None:
    """PIDs in the unit's cgroup, or None when no hierarchy has it."""
    relative = control_group.lstrip("/")
    for hierarchy in CGROUP_HIERARCHIES:
        procs = os.path.join(cgroup_root, hierarchy, relative, "cgroup.procs")
        try:
            with open(procs, encoding="ascii") as handle:
                return sorted(int(line) for line in handle if line.strip())
        except OSError:
            continue
    return None


CAP_SYS_RESOURCE = 24


def can_lower(proc_root: str) -> bool:
    """Whether this process may lower an oom_score_adj (CAP_SYS_RESOURCE in its effective set)."""
    try:
        with open(os.path.join(proc_root, "self", "status"), encoding="ascii") as handle:
            for line in handle:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << CAP_SYS_RESOURCE))
    except (OSError, ValueError, IndexError):
        pass
    return False


def adjust_pids(unit: str, pids: list[int], value: int, proc_root: str, check_mode: bool, lower_allowed: bool = True):
    """(adjusted, refused) lists of dicts; processes that exit meanwhile are ignored.

    lower_allowed is what check mode predicts for a lowering (a real run asks the kernel).
    """
    adjusted, refused = [], []
    for pid in pids:
        path = os.path.join(proc_root, str(pid), "oom_score_adj")
        try:
            with open(path, encoding="ascii") as handle:
                current = int(handle.read().strip())
        except (OSError, ValueError):
            continue
        # Keep a stronger protection than the tier's (the OpenSSH listener's own -1000).
        if current == value or (value < 0 and current < value):
            continue
        record = {"unit": unit, "pid": pid, "from": current, "to": value}
        if check_mode and value < current and not lower_allowed:
            refused.append(dict(record, error=os.strerror(errno.EACCES)))
            continue
        if not check_mode:
            try:
                with open(path, "w", encoding="ascii") as handle:
                    handle.write(f"{value}\n")
            except OSError as error:
                if error.errno == errno.ESRCH:
                    continue
                refused.append(dict(record, error=os.strerror(error.errno or errno.EPERM)))
                continue
        adjusted.append(record)
    return adjusted, refused


def run_module() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    adjusted, refused, not_running = [], [], []
    lower_allowed = can_lower(module.params["proc_root"])
    for unit, value in module.params["units"].items():
        try:
            value = int(value)
        except (TypeError, ValueError):
            module.fail_json(
                msg=f"unit_oom_score_adjust: units.{unit} is {value!r}, expected an integer in -1000..1000"
            )
        if not -1000 <= value <= 1000:
            module.fail_json(msg=f"unit_oom_score_adjust: units.{unit} is {value}, outside -1000..1000")
        rc, out, err = module.run_command(
            ["systemctl", "show", "--property=ActiveState,ControlGroup", unit], check_rc=False
        )
        if rc != 0:
            module.fail_json(msg=f"unit_oom_score_adjust: systemctl show {unit} failed: {err.strip()}")
        props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        pids = unit_pids(module.params["cgroup_root"], props.get("ControlGroup", ""))
        if props.get("ActiveState") not in ("active", "reloading", "activating") or not pids:
            not_running.append(unit)
            continue
        unit_adjusted, unit_refused = adjust_pids(
            unit, pids, value, module.params["proc_root"], module.check_mode, lower_allowed
        )
        adjusted += unit_adjusted
        refused += unit_refused
    for record in refused:
        module.warn(
            f"the kernel refused oom_score_adj {record['to']} for {record['unit']} (pid {record['pid']}, "
            f"stays {record['from']}): {record['error']}. Lowering needs CAP_SYS_RESOURCE, which containers "
            f"and LXC-based VPSes lack; systemd cannot apply the drop-in's value there either."
        )
    module.exit_json(changed=bool(adjusted), adjusted=adjusted, refused=refused, not_running=not_running)


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
