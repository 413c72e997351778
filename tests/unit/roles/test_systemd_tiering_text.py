# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The drop-in text systemd_tier_dropins makes is byte for byte what the role's template wrote before the
systemd_dropins module replaced it (files/tier.conf.j2 is that template, unchanged), so an upgrade rewrites no
drop-in and restarts nothing. The template is rendered by ansible.builtin.template itself, on this machine."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ansible_collections.smallvps.hardening.plugins.filter.systemd_tier_dropins import FilterModule
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import MIB, build_plan
from ansible_collections.smallvps.hardening.tests.unit.local_playbook import run_local_playbook
from ansible_collections.smallvps.hardening.tests.unit.plugins.plugin_utils.test_systemd_dropins import SERVICES

TEMPLATE = Path(__file__).parent / "files" / "tier.conf.j2"
# Every tier, system.slice, GOMEMLIMIT, OOMPolicy, MemoryHigh, oomd, an OOMScoreAdjust on tier 2, and a tier 2
# without a drop-in.
PLAN = build_plan({"effective_memory_bytes": 1024 * MIB, "cpus": 1}, SERVICES)
systemd_tier_dropins = FilterModule().filters()["systemd_tier_dropins"]


def test_the_text_is_what_the_old_template_wrote(tmp_path):
    dropins = systemd_tier_dropins(PLAN)
    playbook = f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.template:
        src: {TEMPLATE}
        dest: "{tmp_path}/{{{{ item.unit }}}}.conf"
        mode: "0644"
      loop: "{{{{ dropins | selectattr('sections') }}}}"
"""
    returncode, report = run_local_playbook(
        tmp_path, playbook, json.dumps({"dropins": dropins, "ansible_python_interpreter": sys.executable})
    )
    assert returncode == 0, report["plays"][0]["tasks"][0]["hosts"]["localhost"]["results"][0]["msg"]
    tiered = [dropin for dropin in dropins if dropin["sections"]]
    assert len(tiered) == len(SERVICES)  # backup.service (tier 2, nothing set) has none; system.slice has one
    for dropin in tiered:
        assert dropin["content"] == (tmp_path / f"{dropin['unit']}.conf").read_text(), dropin["unit"]
    assert [dropin["content"] for dropin in dropins if not dropin["sections"]] == [""]


def test_the_first_line_is_the_managed_string_given():
    app = [d for d in systemd_tier_dropins(PLAN, managed="Managed by site.yml") if d["unit"] == "app.service"][0]
    assert app["content"].splitlines()[:2] == [
        "# Managed by site.yml",
        "# Tier 1 (cap) from smallvps.hardening.systemd_tiering.",
    ]
