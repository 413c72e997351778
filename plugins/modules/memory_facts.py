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
  - Reads C(/proc/meminfo), the cgroup limits that bind the host's services (v1 or v2), C(/proc/swaps),
    the zram devices, the VM watermark sysctls, transparent hugepages, C(/proc/pressure/memory)
    and the CPU affinity and CFS quota, and returns them as the C(smallvps_memory) fact.
  - cgroup limits are read where the services run, in C(system.slice) next to PID 1's C(init.scope),
    and on every parent up to the cgroup root; the tightest wins. A limit on PID 1's own scope binds
    PID 1 only and is not read.
  - The effective memory is the smaller of C(MemTotal) and that cgroup memory limit,
    so a container started with C(--memory 512m) on a big host reports 512 MiB.
  - See C(docs/memory-facts.md) in the collection for where each key is read from.
  - This is the input of the P(smallvps.hardening.memory_plan#filter) filter.
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
  - "The cgroup walk: take PID 1's cgroup path (v2 C(0::) line, v1 the line of the controller's hierarchy;
    C(/proc/self/cgroup) when C(/proc/1/cgroup) cannot be read), drop a trailing C(/init.scope), append
    C(/system.slice), then read that directory and each parent up to the mount root, skipping missing ones.
    A path with C(..) lies outside the cgroup namespace and only the mount root is read."
seealso:
  - plugin: smallvps.hardening.memory_plan
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Learn what memory this host really has
  smallvps.hardening.memory_facts:

- name: Plan the memory of the services from it
  ansible.builtin.set_fact:
    memory_plan: >-
      {{ ansible_facts.smallvps_memory | smallvps.hardening.memory_plan([
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
    mem_available_bytes: 612368384
    cgroup_version: 2
    cgroup_memory_limit_bytes: 536870912
    cgroup_memory_high_bytes: 503316480
    cgroup_swap_max_bytes: null
    effective_memory_bytes: 536870912
    effective_memory_mb: 512
    memory_source: cgroup
    swap_total_bytes: 268435456
    swap_total_mb: 256
    swap_devices:
      - {path: /dev/zram0, type: zram, size_bytes: 268435456, used_bytes: 0, priority: 100}
    zram_devices:
      - name: zram0
        disksize_bytes: 268435456
        orig_data_bytes: 0
        compr_data_bytes: 0
        mem_used_bytes: 0
        mem_limit_bytes: null
    zram_mem_used_bytes: 0
    min_free_bytes: 4194304
    watermark_scale_factor: 10
    thp_enabled: madvise
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
        mem_available_bytes:
          description:
            - C(MemAvailable) from C(meminfo), in bytes, the kernel's estimate of what can be allocated
              without swapping.
            - C(null) when C(meminfo) has no such line.
          type: int
        cgroup_version:
          description: C(2) when C(fs/cgroup/cgroup.controllers) exists, C(1) when C(fs/cgroup/memory) is a directory,
            else C(null).
          type: int
        cgroup_memory_limit_bytes:
          description:
            - The smallest C(memory.max) (v2) or C(memory.limit_in_bytes) (v1) on the cgroup walk of the services
              (see notes), from C(system.slice) up to the cgroup root; C(null) when there is no limit.
            - C(max) and values of 2^62 or more mean no limit. Missing directories and unreadable files are skipped.
          type: int
        cgroup_memory_high_bytes:
          description:
            - The smallest C(memory.high) on the same walk (v2 only), the point where the kernel throttles and reclaims.
            - C(null) on cgroup v1, without cgroups, or when every level is C(max).
          type: int
        cgroup_swap_max_bytes:
          description:
            - The smallest C(memory.swap.max) on the same walk (v2 only).
              C(0) is a real value, the services may not swap.
            - C(null) on cgroup v1, without cgroups, or when every level is C(max).
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
              description: C(zram) when the path starts with C(/dev/zram), else C(file) or C(partition) as the kernel
                reports.
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
        zram_devices:
          description:
            - One entry per C(block/zram*) device whose C(disksize) is above 0 (devices not set up are left out),
              in device number order. Sizes come from C(disksize) and C(mm_stat), all in bytes.
            - A field is C(null) when C(mm_stat) cannot be read.
          type: list
          elements: dict
          contains:
            name:
              description: Device name, for example C(zram0).
              type: str
            disksize_bytes:
              description: C(disksize), the most uncompressed data the device holds.
              type: int
            orig_data_bytes:
              description: C(mm_stat) field 1, C(orig_data_size), uncompressed size of the data stored.
              type: int
            compr_data_bytes:
              description: C(mm_stat) field 2, C(compr_data_size), compressed size of the data stored.
              type: int
            mem_used_bytes:
              description: C(mm_stat) field 3, C(mem_used_total), RAM the device takes, allocator overhead included.
              type: int
            mem_limit_bytes:
              description:
                - C(mm_stat) field 4, C(mem_limit), the most RAM the device may take; C(null) when 0 (no limit).
              type: int
        zram_mem_used_bytes:
          description: Sum of C(mem_used_bytes) over C(zram_devices) (unknown counted as 0); 0 without zram.
          type: int
        min_free_bytes:
          description:
            - C(/proc/sys/vm/min_free_kbytes) times 1024, the memory the kernel keeps free; C(null) if unreadable.
          type: int
        watermark_scale_factor:
          description: C(/proc/sys/vm/watermark_scale_factor) (in 1/10000 of memory); C(null) if unreadable.
          type: int
        thp_enabled:
          description:
            - The selected transparent hugepage mode, the bracketed word of C(kernel/mm/transparent_hugepage/enabled)
              under I(sys_root); C(null) if unreadable or nothing is bracketed.
          type: str
          sample: madvise
        psi_memory:
          description: Whether C(pressure/memory) exists and can be read (pressure stall information, used by
            systemd-oomd and earlyoom-style tools).
          type: bool
        cpus:
          description:
            - CPUs usable by services, the affinity mask (real C(/proc)) or the C(processor) count in C(cpuinfo),
              lowered to C(ceil(quota / period)) by the tightest cgroup CPU quota on the services' cgroup walk
              (v2 C(cpu.max), v1 C(cpu.cfs_quota_us)), at least 1.
            - C(null) when neither can be read.
          type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.smallvps.hardening.plugins.module_utils._memory_facts import (
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
