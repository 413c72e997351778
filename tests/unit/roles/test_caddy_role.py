# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The caddy role's Caddyfile as it hands it to go_service (caddy_caddyfile, roles/caddy/vars/main.yml), run by
ansible-playbook on the controller with the role's vars only (its meta dependencies would act on this machine): the
render step's lines, each on a line of its own, tabs kept, after two lines of ours."""

from __future__ import annotations

import json

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import ROOT, run_local_playbook

LINES = ["{", "\tadmin localhost:2019", "}", "", ":80 {", "\treverse_proxy 127.0.0.1:8000", "}"]


def test_the_caddyfile_is_the_render_steps_lines_one_a_line(tmp_path):
    playbook = f"""
- hosts: localhost
  gather_facts: false
  vars_files:
    - {ROOT}/roles/caddy/defaults/main.yml
    - {ROOT}/roles/caddy/vars/main.yml
  tasks:
    - name: Show
      ansible.builtin.debug:
        msg: "{{{{ caddy_caddyfile }}}}"
"""
    rc, report = run_local_playbook(tmp_path, playbook, json.dumps({"caddy_rendered": {"content": {"lines": LINES}}}))
    shown = report["plays"][0]["tasks"][0]["hosts"]["localhost"].get("msg")
    assert rc == 0, report
    header = (
        "# Managed by Ansible (smallvps.hardening.caddy)\n"
        "# Every line below comes from the render step (caddy_config: the role's variables, checked).\n"
    )
    assert shown == header + "".join(f"{line}\n" for line in LINES), shown
