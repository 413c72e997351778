# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: nginx_limit_req_config
short_description: Check nginx request and connection limits and render them as nginx lines
version_added: 0.3.0
author:
  - smallvps.hardening maintainers
description:
  - Takes the memory plan and the variables of the P(smallvps.hardening.nginx_limit_req#role) role, refuses
    anything nginx would refuse (or silently misapply), and returns every line the role's templates print.
  - A O(zones) entry without O(zones[].size) takes the C(limit_req_zone_size) of the plan's C(nginx.service)
    entry, which P(smallvps.hardening.memory_plan#filter) adds when that service sets C(limit_req_clients)
    (128 bytes per state, at least 32 KiB).
  - With an O(allowlist), a C(geo) block sets C($smallvps_limit_exempt) to C(1) for the listed networks, and every zone
    is keyed on a C(map) that is empty for them (C($smallvps_limit_key_<zone>)); nginx does not account an empty key.
  - Every refusal fails the task with a message that starts with the role variable, the entry's 0-based index as
    Ansible writes it (C(nginx_limit_req_zones[0])), its name in parentheses and the key, and says the accepted form.
positional: zones, conn_zones, locations, allowlist, status, conn_status, log_level, dry_run
options:
  _input:
    description:
      - The plan returned by P(smallvps.hardening.memory_plan#filter) (C(smallvps_memory_plan)).
      - A plan without a C(nginx.service) entry, or whose entry has no C(limit_req_zone_size), gives no size;
        every zone must then set O(zones[].size).
    type: dict
    required: true
  zones:
    description: The C(limit_req_zone) zones (C(nginx_limit_req_zones)); unknown keys are refused. May be empty.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The zone name, letters, digits and C(_); unique across O(zones) and O(conn_zones), ignoring case.
        type: str
        required: true
      rate:
        description:
          - Requests per second or minute, C(<n>r/s) or C(<n>r/m), n from 1 to 9223372036854775 (64-bit nginx keeps
            the rate in thousandths).
          - nginx has no fractions; half a request per second is C(30r/m).
        type: str
        required: true
      key:
        description: What is counted, one nginx word of variables and text (no spaces, quotes, C(;), C({), C(}), C(\),
          C(#)).
        type: str
        default: $binary_remote_addr
      size:
        description:
          - The zone size, bytes (a whole number of KiB) or a number with C(k) or C(m), for example C(250k) or C(1m);
            at least C(32k), at most C(8796093022207m) (what 64-bit nginx parses). Printed lowercase, bytes as C(k).
          - Defaults to the memory plan's C(limit_req_zone_size); without one the size is required.
        type: raw
  conn_zones:
    description: The C(limit_conn_zone) zones (C(nginx_limit_req_conn_zones)); unknown keys are refused. May be empty.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The zone name, letters, digits and C(_); unique across O(zones) and O(conn_zones), ignoring case.
        type: str
        required: true
      key:
        description: What is counted, as O(zones[].key).
        type: str
        default: $binary_remote_addr
      size:
        description: The zone size, as O(zones[].size) (64 bytes per state, at least C(32k)).
        type: raw
        required: true
  locations:
    description: The C(location) blocks and the limits each applies (C(nginx_limit_req_locations)); unknown keys are
      refused.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: A unique name, letters, digits, C(_) and C(-).
        type: str
        required: true
      path:
        description:
          - What follows C(location), for example C(/), C(/api/), C(= /login) or C(~ ^/slow); unique.
          - No C({), C(}), C(;), newline or C(#) comment.
        type: str
        required: true
      limit_req:
        description: The O(zones) this location applies, each at most once.
        type: list
        elements: dict
        default: []
        suboptions:
          zone:
            description: The name of one of O(zones).
            type: str
            required: true
          burst:
            description: Requests above the rate that are queued rather than refused, 0 to 9223372036854775; C(0) is
              left out.
            type: int
            default: 0
          nodelay:
            description: Serve the whole burst at once; excludes O(locations[].limit_req[].delay).
            type: bool
            default: false
          delay:
            description: Serve the first N of the burst without delay; at most O(locations[].limit_req[].burst); C(0) is
              left out.
            type: int
      limit_conn:
        description: The O(conn_zones) this location applies, each at most once.
        type: list
        elements: dict
        default: []
        suboptions:
          zone:
            description: The name of one of O(conn_zones).
            type: str
            required: true
          number:
            description: Connections one key may hold open, 1 to 65535.
            type: int
            required: true
      dry_run:
        description: C(limit_req_dry_run) and C(limit_conn_dry_run) for this location; unset inherits O(dry_run).
        type: bool
      proxy:
        description: Kept in the result; the role's template passes the location to the app upstream when true.
        type: bool
        default: true
  allowlist:
    description:
      - IPv4 or IPv6 addresses or CIDR networks that no zone counts (C(nginx_limit_req_allowlist)).
      - Printed normalized as a network, C(127.0.0.2) as C(127.0.0.2/32) and C(10.1.2.3/8) as C(10.0.0.0/8); duplicates
        are refused.
    type: list
    elements: str
    default: []
  status:
    description: C(limit_req_status), 400 to 599 (C(nginx_limit_req_status)); nginx's own default is 503.
    type: int
    default: 429
  conn_status:
    description: C(limit_conn_status), 400 to 599 (C(nginx_limit_req_conn_status)).
    type: int
    default: 429
  log_level:
    description: C(limit_req_log_level) and C(limit_conn_log_level) (C(nginx_limit_req_log_level)).
    type: str
    choices: [info, notice, warn, error]
    default: error
  dry_run:
    description: C(limit_req_dry_run on) and C(limit_conn_dry_run on) in the http context (C(nginx_limit_req_dry_run));
      needs nginx 1.17.6.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Render the limits once for the role's templates
  ansible.builtin.set_fact:
    nginx_limit_req_config: >-
      {{ smallvps_memory_plan | smallvps.hardening.nginx_limit_req_config(
           zones=[{'name': 'perip', 'rate': '5r/s'}],
           conn_zones=[{'name': 'perconn', 'size': '1m'}],
           locations=[{'name': 'root', 'path': '/', 'limit_req': [{'zone': 'perip', 'burst': 10, 'nodelay': true}],
                       'limit_conn': [{'zone': 'perconn', 'number': 20}]}],
           allowlist=['127.0.0.1', '10.0.0.0/8']) }}

- name: Write the http-context file
  ansible.builtin.copy:
    dest: /etc/nginx/conf.d/smallvps-limits.conf
    content: "{{ nginx_limit_req_config.http | join('\n') }}\n"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The nginx lines and the zones, as checked.
  type: dict
  contains:
    http:
      description:
        - Every line of the http-context file in order; the C(geo) and C(map) blocks (with an allow-list),
          C(limit_req_zone), C(limit_conn_zone), C(limit_req_status), C(limit_req_log_level), C(limit_conn_status),
          C(limit_conn_log_level), and C(limit_req_dry_run on)/C(limit_conn_dry_run on) with O(dry_run).
        - Lines inside a block are indented by 4 spaces.
      type: list
      elements: str
      sample:
        - limit_req_zone $binary_remote_addr zone=perip:250k rate=5r/s;
        - limit_req_status 429;
    locations:
      description: One entry per O(locations), in order.
      type: list
      elements: dict
      contains:
        name:
          description: O(locations[].name).
          type: str
        path:
          description: O(locations[].path), as given.
          type: str
        proxy:
          description: O(locations[].proxy).
          type: bool
        lines:
          description: The C(limit_req), C(limit_conn) and dry-run lines of the location, without indentation.
          type: list
          elements: str
          sample: [limit_req zone=perip burst=10 nodelay;, limit_conn perconn 20;]
    zones:
      description: One entry per O(zones) with C(name), C(key), C(size) (nginx form), C(size_bytes), C(rate) and
        C(states) (C(size_bytes) // 128, the addresses that fit).
      type: list
      elements: dict
    conn_zones:
      description: One entry per O(conn_zones) with C(name), C(key), C(size), C(size_bytes) and C(states) (C(size_bytes)
        // 64).
      type: list
      elements: dict
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.smallvps.hardening.plugins.plugin_utils._nginx import PRODUCT

nginx_limit_req_config = as_filter_errors(*PRODUCT.render.errors)(PRODUCT.render.function)


class FilterModule:
    def filters(self):
        return {"nginx_limit_req_config": nginx_limit_req_config}
