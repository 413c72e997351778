# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: memory_plan
short_description: Plan MemoryMax, MemorySwapMax, GOMEMLIMIT, workers and cache sizes for the services of a small VPS
version_added: 0.4.0
author:
  - smallvps.hardening maintainers
description:
  - Takes what the host really has (facts) and the list of services it runs, and returns one plan in
    which every number the roles write
    (systemd C(MemoryMax)/C(MemorySwapMax)/C(MemoryHigh)/C(MemoryLow)/C(OOMScoreAdjust)/C(Restart*),
    C(GOMEMLIMIT), gunicorn workers, nginx C(limit_req_zone) size, Oathkeeper cache C(max_cost),
    gopacket reassembly page limits) comes from the same arithmetic.
  - 'The effective memory is split as: reserve (base system, kernel watermarks, zram) + tier-0 estimates
    + tier-2 estimates + pool; the pool is shared by the tier-1 services by O(services[].weight), each
    clamped to its O(services[].min) and O(services[].max) (water-filling). Everything is in whole MiB.'
  - 'Tier 1 gets C(MemoryMax) and C(MemorySwapMax) (0 by default), and no C(MemoryHigh) unless
    O(services[].oomd) or O(services[].memory_high) asks for it: without swap, memory above C(MemoryHigh)
    cannot be reclaimed and a leaking unit would be throttled forever instead of killed.'
  - 'Tier 0 gets C(MemoryLow) = its O(services[].min) (cgroup v2: those pages stay resident under reclaim) and
    C(ManagedOOMPreference=avoid) (systemd-oomd takes it last); C(system.slice) gets C(MemoryLow) = the sum of
    tier 0''s, since a unit''s C(memory.low) protects only as far as its parents'' does.'
  - Workers, C(GOMEMLIMIT) and the cache sizes are sized against the first limit that acts
    (C(MemoryHigh) where written, else C(MemoryMax); the estimate O(services[].min) on tier 0 and 2).
  - The filter refuses (fails the task) instead of producing a plan that does not fit; the message names
    the service and key (or option, or facts), the numbers, and the accepted form.
  - Sizes are an integer (MiB), a string of digits (MiB) or a number with a binary unit like C(64M),
    C(64MB), C(512MiB), C(1.5G), C(2GiB), C(64K), C(64KiB) (C(M) = MiB); they are rounded up to whole MiB.
  - See C(docs/memory-budget.md) in the collection for the reasoning behind every constant.
  - Before 0.4.0 this filter was called C(smallvps.hardening.memory_budget); that name still works until 1.0.0,
    with a deprecation warning.
positional: services, reserve, cpus, memory_high_ratio, gomemlimit_ratio, units, swap
options:
  _input:
    description:
      - The facts, in one of three forms.
      - The C(smallvps_memory) dictionary returned by M(smallvps.hardening.memory_facts) (it has
        C(effective_memory_bytes)).
      - An C(ansible_facts) dictionary that contains C(smallvps_memory) (that is used).
      - Plain Ansible facts with C(memtotal_mb) and optionally C(processor_vcpus) or C(processor_nproc).
        cgroup limits are then not considered and kernel watermarks are estimated; the plan gets
        C(source=ansible_facts) and a warning.
    type: dict
    required: true
  services:
    description: The services on the host. Unknown keys are refused, so typos cannot pass silently.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The systemd service, C(app) or C(app.service); only C(.service) units. C(sshd), C(ssh) and
            C(ssh.service) name the same unit (Debian's OpenSSH), and two entries for one unit are refused.
        type: str
        required: true
      tier:
        description:
          - C(0) protect (never capped, MemoryLow = min, ManagedOOMPreference=avoid, OOMScoreAdjust -500,
            Restart=on-failure), C(1) cap (MemoryMax from the pool, MemorySwapMax, OOMScoreAdjust 100, Restart=always),
            C(2) leave alone (estimate only).
        type: int
        required: true
        choices: [0, 1, 2]
      runtime:
        description: C(go) gets C(gomemlimit) (tier 1, or when set); C(python) gets C(workers).
        type: str
        default: generic
        choices: [go, python, generic]
      min:
        description:
          - Tier 1, the smallest C(MemoryMax) that still works; tier 0 and 2, the memory estimate subtracted from the
            pool.
        type: raw
        required: true
      max:
        description: Tier 1 only, the largest C(MemoryMax) worth giving. Refused on tier 0 (and tier 2), which are never
          capped.
        type: raw
      weight:
        description: Tier 1 only, a positive number; the pool is shared in proportion to the weights.
        type: float
        default: 1
      swap_max:
        description: Tier 1 only, C(MemorySwapMax) (a size, or 0 for no swap). A cap without it lets a leak swap instead
          of being killed.
        type: raw
        default: 0
      memory_high:
        description:
          - Tier 1 only, an explicit C(MemoryHigh) below the planned C(MemoryMax). Without O(services[].oomd) and
            with C(swap_max=0) a leak is then throttled rather than killed (the plan warns).
        type: raw
      oomd:
        description:
          - Tier 1 only. V(true) writes C(MemoryHigh) (memory_high_ratio x MemoryMax unless O(services[].memory_high)
            is set) and C(ManagedOOMMemoryPressure=kill), so systemd-oomd kills the unit when the throttling lasts.
        type: bool
        default: false
      oom_score_adjust:
        description: Overrides the tier default (-500 / 100 / none), an integer in -1000..1000.
        type: int
      oom_policy:
        description:
          - systemd C(OOMPolicy), what systemd does when the kernel OOM killer kills one of the unit's processes.
            V(continue) logs it and the unit runs on, V(stop) stops the unit (systemd's default), V(kill) kills the rest
            of the unit too.
          - Default V(continue) on tier 0 and 1 for runtime V(python) and for C(nginx.service), pre-fork servers whose
            master respawns the worker the kernel killed; none (systemd's default) otherwise, and on tier 2 unless set.
        type: str
        choices: [continue, stop, kill]
      gomemlimit:
        description:
          - Go only, an explicit C(GOMEMLIMIT) (a size). Tier 1 gets gomemlimit_ratio x the first limit that acts
            without it, and refuses more; tier 0 and 2 get none unless it is set.
        type: raw
      per_worker:
        description: Python only, the memory of one worker (size).
        type: raw
        default: 64M
      master:
        description: Python only, the memory of the master process (size).
        type: raw
        default: 32M
      processes:
        description: The process names (comm) the unit runs, for earlyoom's avoid/prefer lists; default the unit's name.
        type: list
        elements: str
      limit_req_clients:
        description: Expected distinct client addresses of an nginx C(limit_req_zone); adds C(limit_req_zone_size) (128
          bytes per state, 32 KiB minimum).
        type: int
      tune_bufsize:
        description:
          - HAProxy's C(tune.bufsize) in bytes (1024..1048576; HTTP/2 needs 16384). Adds C(maxconn) =
            (budget - 16 MiB) / (2 x tune_bufsize + 20 KiB) and C(connection_bytes); the built-in haproxy entry has
            16384.
        type: int
      introspection_cache:
        description:
          - Go only. V(true) when this service is Ory Oathkeeper with the C(oauth2_introspection) authenticator, even
            with the cache disabled (the cache is allocated anyway); adds C(introspection_max_cost), about 10% of the
            limit at 2112 bytes per entry.
        type: bool
        default: false
      reassembly:
        description:
          - 'Go only. V(true) or C({share: 0.25}) (0 < share <= 0.5) for a capture daemon using gopacket
            tcpassembly/reassembly; adds C(max_buffered_pages_total) = share x limit / 2048 and
            C(max_buffered_pages_per_connection) = total / 64 (at least 1).'
        type: raw
        default: false
  reserve:
    description:
      - Memory kept for the base system (size), replacing the computed reserve (base 80 MiB + hot page cache 32 MiB
        + the kernel's high watermark + the RAM of a full zram device).
      - A reserve not below the effective memory is refused.
    type: raw
  cpus:
    description: CPU count for Python worker counts (C(2 x cpus + 1) at most); default from the facts.
    type: int
  memory_high_ratio:
    description: With O(services[].oomd), C(MemoryHigh) = floor(ratio x C(MemoryMax)) MiB; 0 < ratio < 1.
    type: float
    default: 0.9
  gomemlimit_ratio:
    description: C(GOMEMLIMIT) = floor(ratio x the first limit that acts) MiB; 0 < ratio <= 0.9.
    type: float
    default: 0.9
  units:
    description:
      - The unit names on the host (a list, or C(ansible_facts.services) from M(ansible.builtin.service_facts)).
      - When given, every service must name an existing unit, and the built-in tier-0 entries C(ssh) (16M) and
        C(nginx) (32M) are added when their unit exists and no entry names the same unit.
    type: raw
  swap:
    description:
      - 'The swap the host will have: C({backend: file|zram|both, state: present|absent, zram_size_mb: 0})
        (the swap role''s variables). With zram, the RAM of a full zram device joins the reserve.'
    type: dict
seealso:
  - plugin: smallvps.hardening.memory_facts
    plugin_type: module
  - plugin: smallvps.hardening.memory_plan_table
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Gather the real memory (cgroup limits included)
  smallvps.hardening.memory_facts:

- name: Plan a 1 GiB host
  ansible.builtin.set_fact:
    host_plan: "{{ ansible_facts | smallvps.hardening.memory_plan(smallvps_services) }}"
  vars:
    smallvps_services:
      - {name: sshd, tier: 0, min: 16M}
      - {name: nginx, tier: 0, min: 32M, limit_req_clients: 10000}
      - {name: app, tier: 1, runtime: python, min: 256M, per_worker: 64M}
      - {name: oathkeeper, tier: 1, runtime: go, min: 64M, max: 128M, introspection_cache: true}

- name: Print the memory limit of the app
  ansible.builtin.debug:
    msg: >-
      MemoryMax={{ host_plan.services.app.memory_max }}
      MemorySwapMax={{ host_plan.services.app.memory_swap_max }}

- name: Without memory_facts (no cgroup limits, a warning is added), a fixed reserve
  ansible.builtin.debug:
    msg: "{{ plain_facts | smallvps.hardening.memory_plan(app_only, reserve='200M') }}"
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
      description: One entry per service, keyed by name; built-in entries first, then input order.
      type: dict
      contains:
        name:
          description: The service name.
          type: str
        unit:
          description: The systemd unit, for example C(ssh.service) for C(sshd).
          type: str
        tier:
          description: The tier.
          type: int
        runtime:
          description: The runtime.
          type: str
        processes:
          description: The unit's process names, for earlyoom.
          type: list
          elements: str
        budget_bytes:
          description: Memory the service may use; tier 1 its C(MemoryMax), tier 0 and 2 their O(services[].min)
            estimate.
          type: int
        budget_mb:
          description: C(budget_bytes) in MiB.
          type: int
        limit_bytes:
          description:
            - The first limit that acts (C(MemoryHigh) where written, else the budget); workers, GOMEMLIMIT and caches
              fit under it.
          type: int
        limit_mb:
          description: C(limit_bytes) in MiB.
          type: int
        memory_max:
          description: systemd C(MemoryMax) like C(614M); C(null) for tier 0 and 2.
          type: str
        memory_max_bytes:
          description: C(memory_max) in bytes.
          type: int
        memory_high:
          description: systemd C(MemoryHigh) like C(552M), only with O(services[].oomd) or O(services[].memory_high);
            else C(null).
          type: str
        memory_high_bytes:
          description: C(memory_high) in bytes.
          type: int
        memory_swap_max:
          description: systemd C(MemorySwapMax), C(0) by default; C(null) for tier 0 and 2.
          type: str
        memory_swap_max_bytes:
          description: C(memory_swap_max) in bytes.
          type: int
        managed_oom_memory_pressure:
          description: C(kill) with O(services[].oomd), else C(null).
          type: str
        managed_oom_memory_pressure_limit:
          description: C(40%) with O(services[].oomd) (systemd C(ManagedOOMMemoryPressureLimit)), else C(null).
          type: str
        gomemlimit:
          description: Go, C(GOMEMLIMIT) like C(552MiB) (never C(M)/C(MB), which Go rejects); C(null) otherwise.
          type: str
        gomemlimit_bytes:
          description: C(gomemlimit) in bytes.
          type: int
        workers:
          description: Python only, min(2 x cpus + 1, (0.9 x limit - master) / per_worker), at least 1; C(null)
            otherwise.
          type: int
        oom_score_adjust:
          description:
            - systemd C(OOMScoreAdjust); tier 0 -500, tier 1 100, tier 2 C(null), unless overridden.
            - C(null) for C(ssh.service) on tier 0 unless set, since OpenSSH protects its listener (-1000) itself and
              restores its start value for every session.
          type: int
        memory_low:
          description:
            - systemd C(MemoryLow) like C(32M), tier 0 only (its O(services[].min)); C(null) on tier 1 and 2.
            - cgroup v2 only; it protects only up to what C(system.slice) protects
              (C(summary.system_slice_memory_low_mb)).
          type: str
        memory_low_bytes:
          description: C(memory_low) in bytes.
          type: int
        managed_oom_preference:
          description: systemd C(ManagedOOMPreference), C(avoid) on tier 0 (systemd-oomd takes it last), else C(null).
          type: str
        oom_policy:
          description:
            - systemd C(OOMPolicy) as set, else C(continue) for runtime C(python) and C(nginx.service) on tier 0 and 1,
              else C(null) (systemd's default, C(stop)).
          type: str
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
        tune_bufsize:
          description: Only with O(services[].tune_bufsize), HAProxy's C(tune.bufsize) in bytes.
          type: int
        maxconn:
          description: Only with O(services[].tune_bufsize), HAProxy's global C(maxconn).
          type: int
        connection_bytes:
          description: Only with O(services[].tune_bufsize), the memory one full connection is assumed to cost.
          type: int
        introspection_max_cost:
          description: Only with O(services[].introspection_cache), Oathkeeper
            C(authenticators.oauth2_introspection.config.cache.max_cost).
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
          tier0, system_slice_memory_low, tier2, pool, allocated and headroom; C(reserve_terms) (base_mb, page_cache_mb,
          watermarks_mb, zram_mb, or given_mb) and C(watermarks_source); plus C(cgroup_memory_limit_bytes),
          C(swap_backend), C(cpus) and C(source) (C(cgroup), C(meminfo) or C(ansible_facts)).
        - reserve + tier0 + tier2 + allocated + headroom = effective (in MiB).
        - C(system_slice_memory_low_mb) equals C(tier0_mb), the sum of the tier-0 C(MemoryLow) values, for
          C(system.slice)'s own C(MemoryLow) (0 without tier 0).
      type: dict
    warnings:
      description: Things the caller should know, for example that cgroup limits were not considered.
      type: list
      elements: str
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import build_plan
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._swap_sizing import SwapSizingError

# The planner itself, its arguments the filter's: the refusals reach Ansible as the task's failure.
memory_plan = as_filter_errors(MemoryBudgetError, SwapSizingError)(build_plan)


class FilterModule:
    def filters(self):
        return {"memory_plan": memory_plan}
