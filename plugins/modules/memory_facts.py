#!/usr/bin/python
# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: memory_facts
short_description: Gather the memory and CPUs a small VPS really has (cgroup limits included)
version_added: 0.1.0
author:
  - smallvps.hardening maintainers
description:
  - Reads C(/proc/meminfo), the cgroup of PID 1 (v1 or v2), C(/proc/swaps), C(/proc/pressure/memory)
    and the CPU affinity and CFS quota, and returns them as the C(smallvps_memory) fact.
  - The effective memory is the smaller of C(MemTotal) and the tightest cgroup memory limit on the
    path of PID 1's cgroup, so a container started with C(--memory 512m) on a big host reports 512 MiB.
  - This is the input of the P(smallvps.hardening.memory_budget#filter) filter.
  - The module only reads files; it never changes the host.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: linux
options:
  proc_root:
    description:
      - Where the proc filesystem is mounted. For tests and chroots.
      - CPU affinity (C(sched_getaffinity)) is only used when this is the real C(/proc);
        otherwise the C(processor) lines of C(cpuinfo) are counted.
    type: path
    default: /proc
  sys_root:
    description:
      - Where the sysfs filesystem is mounted (cgroups are read below C(fs/cgroup)). For tests and chroots.
    type: path
    default: /sys
notes:
  - A missing or unreadable C(meminfo) fails the module; every other missing file yields C(null) or an empty list.
  - cgroup v1 reports "no limit" as a huge number (9223372036854771712); any value of 2^62 or more is read as no limit.
seealso:
  - plugin: smallvps.hardening.memory_budget
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Learn what memory this host really has
  smallvps.hardening.memory_facts:

- name: Plan the memory of the services from it
  ansible.builtin.set_fact:
    memory_plan: >-
      {{ ansible_facts.smallvps_memory | smallvps.hardening.memory_budget([
           {'name': 'nginx', 'tier': 0, 'min': '32M'},
           {'name': 'sshd', 'tier': 0, 'min': '16M'},
           {'name': 'app', 'tier': 1, 'runtime': 'python', 'min': '256M'}]) }}

- name: Read a chroot's view (tests use fake trees the same way)
  smallvps.hardening.memory_facts:
    proc_root: /srv/chroot/proc
    sys_root: /srv/chroot/sys
  register: chroot_memory
"""

RETURN = r"""
memory:
  description: The same dictionary as the C(smallvps_memory) fact.
  returned: success
  type: dict
  sample:
    memtotal_bytes: 1073741824
    memtotal_mb: 1024
    cgroup_version: 2
    cgroup_memory_limit_bytes: 536870912
    effective_memory_bytes: 536870912
    effective_memory_mb: 512
    memory_source: cgroup
    swap_total_bytes: 268435456
    swap_total_mb: 256
    swap_devices:
      - {path: /dev/zram0, type: zram, size_bytes: 268435456, used_bytes: 0, priority: 100}
    psi_memory: true
    cpus: 1
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: success
  type: complex
  contains:
    smallvps_memory:
      description: What memory and CPUs the host really has.
      returned: success
      type: dict
      contains:
        memtotal_bytes:
          description: C(MemTotal) from C(meminfo), in bytes.
          type: int
        memtotal_mb:
          description: C(memtotal_bytes) in whole MiB (rounded down).
          type: int
        cgroup_version:
          description: C(2) when C(fs/cgroup/cgroup.controllers) exists, C(1) when C(fs/cgroup/memory) is a directory, else C(null).
          type: int
        cgroup_memory_limit_bytes:
          description:
            - The smallest C(memory.max) (v2) or C(memory.limit_in_bytes) (v1) on the path of PID 1's cgroup,
              from its own directory up to the cgroup root; C(null) when there is no limit.
            - Falls back to C(/proc/self/cgroup) when C(/proc/1/cgroup) cannot be read. Missing directories are skipped.
          type: int
        effective_memory_bytes:
          description: The smaller of C(memtotal_bytes) and C(cgroup_memory_limit_bytes).
          type: int
        effective_memory_mb:
          description: C(effective_memory_bytes) in whole MiB (rounded down).
          type: int
        memory_source:
          description: C(cgroup) when the cgroup limit is below C(MemTotal), else C(meminfo).
          type: str
          choices: [cgroup, meminfo]
        swap_total_bytes:
          description: C(SwapTotal) from C(meminfo), in bytes.
          type: int
        swap_total_mb:
          description: C(swap_total_bytes) in whole MiB (rounded down).
          type: int
        swap_devices:
          description: One entry per line of C(/proc/swaps).
          type: list
          elements: dict
          contains:
            path:
              description: Swap file or device path.
              type: str
            type:
              description: C(zram) when the path starts with C(/dev/zram), else C(file) or C(partition) as the kernel reports.
              type: str
            size_bytes:
              description: Size in bytes.
              type: int
            used_bytes:
              description: Used bytes.
              type: int
            priority:
              description: Swap priority.
              type: int
        psi_memory:
          description: Whether C(pressure/memory) exists and can be read (pressure stall information, used by systemd-oomd and earlyoom-style tools).
          type: bool
        cpus:
          description:
            - CPUs usable by services, the affinity mask (real C(/proc)) or the C(processor) count in C(cpuinfo),
              lowered to C(ceil(quota / period)) by a cgroup CPU quota (v2 C(cpu.max), v1 C(cpu.cfs_quota_us)), at least 1.
            - C(null) when neither can be read.
          type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.smallvps.hardening.plugins.module_utils.memory_facts import (
    MemoryFactsError,
    collect_memory_facts,
)


ARGUMENT_SPEC = dict(
    proc_root=dict(type="path", default="/proc"),
    sys_root=dict(type="path", default="/sys"),
)


def run_module() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        memory = collect_memory_facts(module.params["proc_root"], module.params["sys_root"])
    except MemoryFactsError as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=False, memory=memory, ansible_facts={"smallvps_memory": memory})


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
