# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: memory_budget
short_description: Plan MemoryMax, MemoryHigh, GOMEMLIMIT, workers and cache sizes for the services of a small VPS
version_added: 0.1.0
author:
  - smallvps.hardening maintainers
description:
  - Takes what the host really has (facts) and the list of services it runs, and returns one plan in
    which every number the roles write (systemd C(MemoryMax)/C(MemoryHigh)/C(OOMScoreAdjust)/C(Restart*),
    C(GOMEMLIMIT), gunicorn workers, nginx C(limit_req_zone) size, Oathkeeper cache C(max_cost),
    gopacket reassembly page limits) comes from the same arithmetic.
  - 'The effective memory is split as: reserve (base system) + tier-0 estimates + tier-2 estimates + pool;
    the pool is shared by the tier-1 services by O(services[].weight), each clamped to its
    O(services[].min) and O(services[].max) (water-filling). Everything is in whole MiB.'
  - 'Tier 0 (protect: sshd, the front proxy) and tier 2 (leave alone) get no C(MemoryMax) and no C(MemoryHigh);
    their O(services[].min) is an estimate subtracted before the pool is shared.'
  - The filter refuses (fails the task) instead of producing a plan that does not fit; the message names
    the service and key (or option, or facts), the numbers, and the accepted form.
  - Sizes are an integer (MiB), a string of digits (MiB) or a string like C(64M), C(64MB), C(512MiB),
    C(1.5G), C(2GiB), C(64K), C(64KiB) (binary units, C(M) = MiB); they are rounded up to whole MiB.
  - See C(docs/memory-budget.md) in the collection for the reasoning behind every constant.
positional: services, reserve, cpus, memory_high_ratio, gomemlimit_ratio
options:
  _input:
    description:
      - The facts, in one of three forms.
      - The C(smallvps_memory) dictionary returned by M(smallvps.hardening.memory_facts) (it has C(effective_memory_bytes)).
      - An C(ansible_facts) dictionary that contains C(smallvps_memory) (that is used).
      - Plain Ansible facts with C(memtotal_mb) and optionally C(swaptotal_mb), C(processor_vcpus) or C(processor_nproc).
        cgroup limits are then not considered; the plan gets C(source=ansible_facts) and a warning.
    type: dict
    required: true
  services:
    description: The services on the host. Unknown keys are refused, so typos cannot pass silently.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Unique service name; the key of the service in the plan.
        type: str
        required: true
      tier:
        description:
          - C(0) protect (never capped, OOMScoreAdjust -500, Restart=on-failure), C(1) cap (MemoryMax/MemoryHigh
            from the pool, OOMScoreAdjust 100, Restart=always), C(2) leave alone (estimate only).
        type: int
        required: true
        choices: [0, 1, 2]
      runtime:
        description: C(go) gets C(gomemlimit); C(python) gets C(workers).
        type: str
        default: generic
        choices: [go, python, generic]
      min:
        description:
          - Tier 1, the smallest C(MemoryMax) that still works; tier 0 and 2, the memory estimate subtracted from the pool.
        type: raw
        required: true
      max:
        description: Tier 1 only, the largest C(MemoryMax) worth giving. Refused on tier 0 (and tier 2), which are never capped.
        type: raw
      weight:
        description: Tier 1 only, a positive number; the pool is shared in proportion to the weights.
        type: float
        default: 1
      oom_score_adjust:
        description: Overrides the tier default (-500 / 100 / none), an integer in -1000..1000.
        type: int
      per_worker:
        description: Python only, the memory of one worker (size).
        type: raw
        default: 64M
      master:
        description: Python only, the memory of the master process (size). O(services[].min) must hold the master and one worker.
        type: raw
        default: 32M
      limit_req_clients:
        description: Expected distinct client addresses of an nginx C(limit_req_zone); adds C(limit_req_zone_size) (128 bytes per state, 32 KiB minimum).
        type: int
      introspection_cache:
        description:
          - Go only. V(true) when this service is Ory Oathkeeper with the C(oauth2_introspection) authenticator, even with the cache
            disabled (the cache is allocated anyway); adds C(introspection_max_cost), about 10% of the budget at 2112 bytes per entry.
        type: bool
        default: false
      reassembly:
        description:
          - 'Go only. V(true) or C({share: 0.25}) (0 < share <= 0.5) for a capture daemon using gopacket tcpassembly/reassembly;
            adds C(max_buffered_pages_total) = share x budget / 2048 and C(max_buffered_pages_per_connection) = total / 64 (at least 1).'
        type: raw
        default: false
  reserve:
    description:
      - Memory kept for the base system (size). Default C(min(64 MiB + 30% of effective memory, 1 GiB)).
      - A reserve not below the effective memory is refused.
    type: raw
  cpus:
    description: CPU count for Python worker counts (C(2 x cpus + 1) at most); default from the facts.
    type: int
  memory_high_ratio:
    description: C(MemoryHigh) = floor(ratio x C(MemoryMax)) MiB, strictly below it; 0 < ratio < 1.
    type: float
    default: 0.9
  gomemlimit_ratio:
    description: C(GOMEMLIMIT) = floor(ratio x budget) MiB, strictly below C(MemoryMax); 0 < ratio < 1.
    type: float
    default: 0.9
seealso:
  - plugin: smallvps.hardening.memory_facts
    plugin_type: module
  - plugin: smallvps.hardening.memory_budget_table
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Gather the real memory (cgroup limits included)
  smallvps.hardening.memory_facts:

- name: Plan a 1 GiB host
  ansible.builtin.set_fact:
    memory_plan: "{{ ansible_facts | smallvps.hardening.memory_budget(smallvps_services) }}"
  vars:
    smallvps_services:
      - {name: sshd, tier: 0, min: 16M}
      - {name: nginx, tier: 0, min: 32M, limit_req_clients: 10000}
      - {name: app, tier: 1, runtime: python, min: 256M, per_worker: 64M}
      - {name: oathkeeper, tier: 1, runtime: go, min: 64M, max: 128M, introspection_cache: true}

# On a 1 GiB host: memory_plan.services.app.memory_max => "477M", .memory_high => "429M",
# .workers => 3 (1 CPU); memory_plan.services.oathkeeper.gomemlimit => "115MiB"
- name: Use the plan in a drop-in
  ansible.builtin.copy:
    dest: /etc/systemd/system/app.service.d/memory.conf
    content: |
      [Service]
      MemoryMax={{ memory_plan.services.app.memory_max }}
      MemoryHigh={{ memory_plan.services.app.memory_high }}
    mode: "0644"

- name: Without memory_facts (no cgroup limits, a warning is added), a fixed reserve
  ansible.builtin.debug:
    msg: "{{ plain_facts | smallvps.hardening.memory_budget(app_only, reserve='200M') }}"
  vars:
    plain_facts: {memtotal_mb: 512, processor_vcpus: 1}
    app_only:
      - {name: app, tier: 1, min: 128}
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    services:
      description: One entry per service, keyed by name, in input order.
      type: dict
      contains:
        name:
          description: The service name.
          type: str
        tier:
          description: The tier.
          type: int
        runtime:
          description: The runtime.
          type: str
        budget_bytes:
          description: Memory the service may use; tier 1 its C(MemoryMax), tier 0 and 2 their O(services[].min) estimate.
          type: int
        budget_mb:
          description: C(budget_bytes) in MiB.
          type: int
        memory_max:
          description: systemd C(MemoryMax) like C(614M); C(null) for tier 0 and 2.
          type: str
        memory_max_bytes:
          description: C(memory_max) in bytes.
          type: int
        memory_high:
          description: systemd C(MemoryHigh), floor(memory_high_ratio x MemoryMax) like C(552M); C(null) for tier 0 and 2.
          type: str
        memory_high_bytes:
          description: C(memory_high) in bytes.
          type: int
        gomemlimit:
          description: Go only, C(GOMEMLIMIT) like C(552MiB) (never C(M)/C(MB), which Go rejects); C(null) otherwise.
          type: str
        gomemlimit_bytes:
          description: C(gomemlimit) in bytes.
          type: int
        workers:
          description: Python only, min(2 x cpus + 1, (budget - master) / per_worker), at least 1; C(null) otherwise.
          type: int
        oom_score_adjust:
          description: systemd C(OOMScoreAdjust); tier 0 -500, tier 1 100, tier 2 C(null), unless overridden.
          type: int
        restart:
          description: systemd C(Restart); tier 0 C(on-failure), tier 1 C(always), tier 2 C(null).
          type: str
        restart_sec:
          description: systemd C(RestartSec); tier 1 C(3), else C(null).
          type: int
        start_limit_interval_sec:
          description: systemd C(StartLimitIntervalSec); tier 1 C(300), else C(null).
          type: int
        start_limit_burst:
          description: systemd C(StartLimitBurst); tier 1 C(20), else C(null).
          type: int
        limit_req_zone_size:
          description: Only with O(services[].limit_req_clients), nginx zone size like C(1250k).
          type: str
        limit_req_zone_bytes:
          description: Only with O(services[].limit_req_clients), the zone size in bytes.
          type: int
        introspection_max_cost:
          description: Only with O(services[].introspection_cache), Oathkeeper C(authenticators.oauth2_introspection.config.cache.max_cost).
          type: int
        max_buffered_pages_total:
          description: Only with O(services[].reassembly), gopacket C(MaxBufferedPagesTotal).
          type: int
        max_buffered_pages_per_connection:
          description: Only with O(services[].reassembly), gopacket C(MaxBufferedPagesPerConnection).
          type: int
    summary:
      description:
        - The split of the effective memory, C(_bytes) and C(_mb) pairs for effective_memory, memtotal, reserve,
          tier0, tier2, pool, allocated, headroom and swap_total; plus C(cgroup_memory_limit_bytes), C(cpus) and
          C(source) (C(cgroup), C(meminfo) or C(ansible_facts)).
        - reserve + tier0 + tier2 + allocated + headroom = effective (in MiB).
      type: dict
    warnings:
      description: Things the caller should know, for example that cgroup limits were not considered.
      type: list
      elements: str
"""

from ansible_collections.smallvps.hardening.plugins.module_utils.memory_budget import (
    DEFAULT_RATIO,
    MemoryBudgetError,
    build_plan,
)
from ansible_collections.smallvps.hardening.plugins.plugin_utils.filter_errors import as_filter_errors


@as_filter_errors(MemoryBudgetError)
def memory_budget(facts, services, reserve=None, cpus=None, memory_high_ratio=DEFAULT_RATIO, gomemlimit_ratio=DEFAULT_RATIO):
    return build_plan(facts, services, reserve, cpus, memory_high_ratio, gomemlimit_ratio)


class FilterModule:
    def filters(self):
        return {"memory_budget": memory_budget}
