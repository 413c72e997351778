# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: swap_plan
short_description: Size the swap file and zram, pick vm.swappiness and decide keep/create/recreate/refuse
version_added: 0.1.0
author:
  - smallvps.hardening maintainers
description:
  - Takes the C(smallvps_memory) facts of M(smallvps.hardening.memory_facts) and the swap role's variables
    and returns every number and decision the role uses, so that no template or task does swap arithmetic.
  - 'Automatic swap file size from the effective memory: up to 1 GiB 1 x RAM; up to 4 GiB RAM / 2 but at least
    1 GiB; above 2 GiB. It is lowered to what fits the free disk minus O(file_min_free_disk_mb).'
  - 'Hysteresis: an existing automatic file is kept unless it is larger than the automatic size, or growing it
    would gain at least max(64 MiB, 1/8 of the automatic size) and the disk has room for that; so free disk that
    drifts by a few MiB between runs never recreates it. A file of the wanted size is always kept.'
  - An explicit size that does not fit, or an automatic one below 16 MiB, gives C(file.action=refuse) and a
    C(file.message) saying why; the role fails with it before anything changes.
  - 'The swapoff check: the used swap of every active device this run would switch off must fit in MemAvailable
    minus O(swapoff_margin_mb); otherwise C(swapoff.refusal) says why. Unknown MemAvailable is refused too,
    unless O(swapoff_check=false).'
  - C(vm.swappiness) is O(swappiness) when given, else 10 for a swap file and 100 with zram (kernel
    C(Documentation/admin-guide/sysctl/vm.rst) says values of 100 and more suit in-memory swap).
  - See C(docs/swap.md) in the collection for the reasoning behind every constant.
options:
  _input:
    description: The C(smallvps_memory) facts (C(effective_memory_mb), C(swap_devices), C(mem_available_bytes)).
    type: dict
    required: true
  state:
    description: The role's C(swap_state).
    type: str
    default: present
    choices: [present, absent]
  backend:
    description: The role's C(swap_backend).
    type: str
    default: file
    choices: [file, zram, both]
  file_path:
    description: The swap file's path.
    type: str
    default: /swapfile
  file_size_mb:
    description: The swap file's size in MiB, C(0) for automatic.
    type: int
    default: 0
  file_min_free_disk_mb:
    description: MiB that must stay free on the file's filesystem once the file exists.
    type: int
    default: 1024
  file_current_bytes:
    description: The size of the existing swap file in bytes, C(null) when there is none.
    type: int
  file_avail_bytes:
    description: Free bytes of the file's filesystem (required when a swap file is wanted).
    type: int
  file_fstype:
    description: The file's filesystem type, for messages.
    type: str
    default: ""
  file_priority:
    description: The wanted swap priority of the file; an active file with another one must be switched off.
    type: int
    default: 10
  zram_size_mb:
    description: The zram device's size in MiB, C(0) for automatic (min(effective memory / 2, 4096)).
    type: int
    default: 0
  swappiness:
    description: C(vm.swappiness), C(null) to choose it by backend.
    type: int
  activate:
    description: Whether the role runs swapon/swapoff (only then is the swapoff check made).
    type: bool
    default: true
  swapoff_check:
    description: C(false) skips the swapoff check.
    type: bool
    default: true
  swapoff_margin_mb:
    description: MiB of MemAvailable that must remain after swapoff.
    type: int
    default: 128
seealso:
  - module: smallvps.hardening.memory_facts
"""

EXAMPLES = r"""
- name: Plan the swap
  ansible.builtin.set_fact:
    swap_plan: >-
      {{ ansible_facts['smallvps_memory'] | smallvps.hardening.swap_plan(
           backend='both', file_path='/swapfile', file_current_bytes=None, file_avail_bytes=10737418240) }}

- name: Refuse what does not fit
  ansible.builtin.fail:
    msg: "{{ swap_plan.file.message }}"
  when: swap_plan.file.action == 'refuse'
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    effective_memory_mb:
      description: The effective memory the sizes come from.
      type: int
    file_wanted:
      description: Whether a swap file is wanted (state present, backend file or both).
      type: bool
    zram_wanted:
      description: Whether zram is wanted (state present, backend zram or both).
      type: bool
    file:
      description:
        - 'C(action): C(keep), C(create), C(recreate) or C(refuse) when a file is wanted; C(remove) or C(absent) when
          not.'
        - C(size_mb)/C(size_bytes) the file's size after the run, C(desired_mb) the explicit or automatic size,
          C(auto_size_mb) the automatic size, C(current_mb) the existing file's size (C(null) for none), C(room_mb)
          the most that fits the free disk minus the margin (the file's own space counted as free), C(lowered)
          whether C(size_mb) is below C(desired_mb), C(priority_wrong) whether the active file has another
          priority, C(message) why the size was lowered or kept or why the run is refused.
      type: dict
    zram:
      description: C(size_mb) the zram device's size, C(ram_mb) the most RAM it takes when full.
      type: dict
    swappiness:
      description: The C(vm.swappiness) to write.
      type: int
    swapoff:
      description:
        - C(paths) the active swap devices this run would switch off; C(refusal) why that must not happen, or an
          empty string.
      type: dict
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.smallvps.hardening.plugins.plugin_utils._swap_sizing import (
    SWAPOFF_MARGIN_MB,
    SwapSizingError,
)
from ansible_collections.smallvps.hardening.plugins.plugin_utils._swap_sizing import (
    swap_plan as build_swap_plan,
)


@as_filter_errors(SwapSizingError)
def swap_plan(
    memory_facts,
    state="present",
    backend="file",
    file_path="/swapfile",
    file_size_mb=0,
    file_min_free_disk_mb=1024,
    file_current_bytes=None,
    file_avail_bytes=None,
    file_fstype="",
    file_priority=10,
    zram_size_mb=0,
    swappiness=None,
    activate=True,
    swapoff_check=True,
    swapoff_margin_mb=SWAPOFF_MARGIN_MB,
):
    return build_swap_plan(
        memory_facts,
        state=state,
        backend=backend,
        file_path=file_path,
        file_size_mb=file_size_mb,
        file_min_free_disk_mb=file_min_free_disk_mb,
        file_current_bytes=file_current_bytes,
        file_avail_bytes=file_avail_bytes,
        file_fstype=file_fstype,
        file_priority=file_priority,
        zram_size_mb_requested=zram_size_mb,
        swappiness_requested=swappiness,
        activate=activate,
        swapoff_check=swapoff_check,
        swapoff_margin_mb=swapoff_margin_mb,
    )


class FilterModule:
    def filters(self):
        return {"swap_plan": swap_plan}
