#!/usr/bin/python
# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: drill
short_description: Prove on the host that its memory plan and rate limits act (a leak, a flood, host-wide pressure)
version_added: 0.5.0
author:
  - smallvps.hardening maintainers
description:
  - One round of the operator's drill (playbooks/drill.yml, docs/drill.md). It changes memory on the host for a
    bounded time and always returns a O(round) verdict; a failed verdict is not a task failure (the playbook decides).
  - C(leak) starts a grower (python3, 4 MiB every 30 ms, every page written, never beyond O(memory_max) + 64 MiB,
    gone after O(timeout)) inside the unit's own memory cgroup with the unit's C(OOMScoreAdjust), watches until the
    kernel (or systemd-oomd, earlyoom) kills inside the unit, then times how long until the unit serves again.
  - C(flood) sends O(concurrency) keep-alive loopback connections' worth of GETs at each of O(targets) for
    O(duration) seconds and counts 2xx, 429 and other answers.
  - C(host_wide) starts a transient unit C(smallvps-drill-host-PID) without any cap that grows up to MemTotal +
    SwapTotal until something kills it (RuntimeMaxSec=O(timeout) ends it otherwise), and checks that tier 0 kept its
    main PIDs.
  - C(cleanup) stops every C(smallvps-drill-*) transient unit and kills every grower left (a process whose command
    line carries C(smallvps-drill-grower)).
  - cgroup v2 and cgroup v1 (containers on a v1 or hybrid host) alike; the verdict says which it saw. On v1 the
    unit's peak is C(memory.max_usage_in_bytes) and its kills C(memory.oom_control)'s C(oom_kill).
options:
  round:
    description: Which round.
    type: str
    required: true
    choices: [leak, flood, host_wide, cleanup]
  unit:
    description: C(leak) the unit to leak in, for example C(app.service).
    type: str
  memory_max:
    description: C(leak) the unit's MemoryMax in the plan, in bytes (the plan's C(memory_max_bytes)).
    type: int
  memory_swap_max:
    description: C(leak) the unit's MemorySwapMax in the plan in bytes, or null for no swap check.
    type: int
  health:
    description:
      - C(leak) how to tell the unit serves again, C(http://127.0.0.1:PORT/path) or C(unix:/path/to.sock) (an HTTP
        GET / over that socket); any HTTP status below 500 is serving.
      - Without it, the unit serves again when it is active with a main PID (a new one if it was restarted).
    type: str
  tier0_units:
    description: C(leak) and C(host_wide) the units whose main PID must not change and which must stay active.
    type: list
    elements: str
    default: []
  timeout:
    description: C(leak) how long the grower may grow (default 60 s); C(host_wide) the transient unit's
      RuntimeMaxSec (default 90 s).
    type: int
  recovery_timeout:
    description: C(leak) how long after the kill the unit may take to serve again.
    type: int
    default: 30
  targets:
    description: C(flood) the locations to flood, each C({location, url, rate, burst}); url is a loopback
      C(http://) URL, rate the zone's requests per second and burst the location's burst.
    type: list
    elements: dict
    default: []
  duration:
    description: C(flood) seconds per target, at most 60.
    type: float
    default: 5
  concurrency:
    description: C(flood) connections at once, 1 to 64.
    type: int
    default: 8
attributes:
  check_mode:
    support: none
    description: A drill cannot be dry; the task is skipped in check mode.
  diff_mode:
    support: none
    description: No diff.
seealso:
  - plugin: smallvps.hardening.drill_check
    plugin_type: module
"""

EXAMPLES = r"""
- name: Leak inside app.service until the kernel kills at its MemoryMax
  smallvps.hardening.drill:
    round: leak
    unit: app.service
    memory_max: 268435456
    health: unix:/run/app/gunicorn.sock
    tier0_units: [ssh.service, nginx.service]
  register: leak

- name: Flood nginx's limited location for 5 seconds
  smallvps.hardening.drill:
    round: flood
    targets:
      - {location: root, url: "http://127.0.0.1/", rate: 10, burst: 20}
"""

RETURN = r"""
verdict:
  description:
    - The round's verdict. Always C(passed) and C(why) (every failed check in plain words) and C(round).
    - C(leak) adds unit, cgroup (v1 or v2), limit (MiB), killed, killed_by (kernel, systemd-oomd, earlyoom, unknown
      or none), killed_at (MiB, the unit's peak at the kill), restarted, back_after (s from the kill to serving),
      swap_mib, tier0_intact.
    - C(flood) adds targets, one verdict each with sent, answered_2xx, limited_429, other, share_429, accepted_rate,
      configured_rate.
    - C(host_wide) adds unit, victim, killed_by, tier0_intact.
  returned: always
  type: dict
  sample: {round: leak, unit: app.service, cgroup: v2, limit: 256.0, killed: true, killed_by: kernel,
           killed_at: 256.0, restarted: false, back_after: 0.6, swap_mib: 0.0, tier0_intact: true,
           passed: true, why: []}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.smallvps.hardening.plugins.module_utils import _drill_host as host
from ansible_collections.smallvps.hardening.plugins.module_utils import _drill_rounds as rounds
from ansible_collections.smallvps.hardening.plugins.module_utils._drill_verdict import (
    HEALTH_FORM,
    health_error,
    loopback_url_error,
)

ARGUMENT_SPEC = dict(
    round=dict(type="str", required=True, choices=["leak", "flood", "host_wide", "cleanup"]),
    unit=dict(type="str"),
    memory_max=dict(type="int"),
    memory_swap_max=dict(type="int"),
    health=dict(type="str"),
    tier0_units=dict(type="list", elements="str", default=[]),
    timeout=dict(type="int"),
    recovery_timeout=dict(type="int", default=30),
    targets=dict(type="list", elements="dict", default=[]),
    duration=dict(type="float", default=5),
    concurrency=dict(type="int", default=8),
)
MAX_DURATION = 60
MAX_CONCURRENCY = 64
TARGET_KEYS = ("location", "url", "rate", "burst")


def target_errors(targets: list) -> list[str]:
    """Why the flood's targets are not what it accepts (loopback http URLs, a positive rate, a burst >= 0)."""
    errors = []
    for index, target in enumerate(targets):
        missing = [key for key in TARGET_KEYS if key not in target]
        if missing:
            errors.append(f"targets[{index}] lacks {', '.join(missing)}; each is {{location, url, rate, burst}}")
            continue
        url_error = loopback_url_error(target["url"])
        if url_error:
            errors.append(f"targets[{index}].url: {url_error}")
        rate, burst = target["rate"], target["burst"]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0:
            errors.append(f"targets[{index}].rate: {rate!r} is not a number of requests per second > 0")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 0:
            errors.append(f"targets[{index}].burst: {burst!r} is not an integer >= 0")
    return errors


def argument_errors(p: dict) -> list[str]:
    errors = []
    if p["round"] == "leak":
        if not p["unit"]:
            errors.append("unit is required for the leak round (a unit name such as app.service)")
        if not p["memory_max"] or p["memory_max"] <= 0:
            errors.append("memory_max is required for the leak round: the unit's MemoryMax in bytes, > 0")
        if p["health"] and health_error(p["health"]):
            errors.append(f"health: {health_error(p['health'])}; the forms are {HEALTH_FORM}")
    if p["round"] == "flood":
        if not 0 < p["duration"] <= MAX_DURATION:
            errors.append(f"duration: {p['duration']} is not in (0, {MAX_DURATION}] seconds")
        if not 1 <= p["concurrency"] <= MAX_CONCURRENCY:
            errors.append(f"concurrency: {p['concurrency']} is not in 1..{MAX_CONCURRENCY}")
        errors += target_errors(p["targets"])
    for key in ("timeout", "recovery_timeout"):
        if p[key] is not None and p[key] <= 0:
            errors.append(f"{key}: {p[key]} is not a number of seconds > 0")
    return errors


def run_round(p: dict) -> dict:
    if p["round"] == "leak":
        return rounds.leak(
            p["unit"],
            p["memory_max"],
            p["memory_swap_max"],
            p["health"],
            p["tier0_units"],
            p["timeout"] or 60,
            p["recovery_timeout"],
        )
    if p["round"] == "flood":
        results = rounds.flood(p["targets"], p["duration"], p["concurrency"])
        why = [reason for result in results for reason in result["why"]]
        return {"round": "flood", "targets": results, "passed": not why, "why": why}
    if p["round"] == "host_wide":
        return rounds.host_wide(p["tier0_units"], p["timeout"] or 90)
    return {"round": "cleanup", **host.cleanup(), "passed": True, "why": []}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=False)
    errors = argument_errors(module.params)
    if errors:
        module.fail_json(msg="drill: " + "; ".join(errors))
    verdict = run_round(module.params)
    changed = module.params["round"] != "flood" and not (
        module.params["round"] == "cleanup" and not verdict["stopped_units"] and not verdict["killed_growers"]
    )
    module.exit_json(changed=changed, verdict=verdict)


if __name__ == "__main__":
    main()
