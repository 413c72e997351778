# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: caddy_config
short_description: Check the caddy role's variables and render them as Caddyfile lines
version_added: 0.4.0
author:
  - smallvps.hardening maintainers
description:
  - Takes the variables of the P(smallvps.hardening.caddy#role) role that bound Caddy's memory, refuses what Caddy
    would refuse or what would leave a pool unbounded, and returns the lines of the whole Caddyfile, tab-indented
    as C(caddy fmt) writes it. The role's template only prints them, and C(caddy validate) checks the file.
  - The global options carry C(admin), C(grace_period) and C(servers) with C(timeouts) and C(max_header_size); one
    site proxies to the upstreams with C(transport http) keepalive pools, and C(request_buffers) /
    C(response_buffers) only when they are not 0.
  - Every refusal starts with the role variable (and key), and says the accepted form.
positional: upstreams, timeouts, max_header_size, upstream_pool, request_buffers, response_buffers, grace_period, admin
options:
  _input:
    description: The site address (C(caddy_site_address)), for example C(:80), C(localhost:8081) or a host name (HTTPS).
    type: str
    required: true
  upstreams:
    description: The upstreams, C(host:port) or C(unix//path); at least one, each once.
    type: list
    elements: str
    required: true
  timeouts:
    description: C(servers.timeouts) keys C(read_header), C(read_body), C(write), C(idle), as Go durations above 0 and
      at most 2562047h (Go's longest duration).
    type: dict
    required: true
  max_header_size:
    description: C(servers.max_header_size), for example C(32KiB); at most 9223372036854774784 bytes.
    type: raw
    required: true
  upstream_pool:
    description:
      - The reverse proxy's C(transport http) pool keys C(keepalive) (duration), C(keepalive_idle_conns),
        C(keepalive_idle_conns_per_host), C(max_conns_per_host) (integers from 1 to 9223372036854774784).
    type: dict
    required: true
  request_buffers:
    description: Bytes of a request body Caddy buffers; 0 streams it (no buffer).
    type: raw
    default: 0
  response_buffers:
    description: Bytes of a response body Caddy buffers; 0 streams it (no buffer).
    type: raw
    default: 0
  grace_period:
    description: How long a reload or stop waits for old connections before it closes them.
    type: str
    default: 10s
  admin:
    description: The admin endpoint, loopback only (reloads go through it), port 1 to 65535.
    type: str
    default: localhost:2019
"""

EXAMPLES = r"""
- name: Render the Caddyfile lines
  ansible.builtin.set_fact:
    caddyfile: >-
      {{ ':80' | smallvps.hardening.caddy_config(['127.0.0.1:8000'], {'read_header': '10s', 'idle': '2m'}, '32KiB',
         {'keepalive_idle_conns_per_host': 8, 'max_conns_per_host': 64}) }}
"""

RETURN = r"""
_value:
  description: The Caddyfile.
  type: dict
  contains:
    lines:
      description: Its lines, without line ends.
      type: list
      elements: str
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._caddy import PRODUCT
from ansible_collections.smallvps.hardening.plugins.plugin_utils._filter_errors import as_filter_errors

caddy_config = as_filter_errors(*PRODUCT.render.errors)(PRODUCT.render.function)


class FilterModule:
    def filters(self):
        return {"caddy_config": caddy_config}
