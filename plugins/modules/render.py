#!/usr/bin/python
# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: render
short_description: Render one product's configuration from the memory plan, or refuse the variables
version_added: 0.4.0
author:
  - smallvps.hardening maintainers
description:
  - Checks a role's variables against the memory plan and returns what the role's templates print, in one task. On
    a refusal the task fails with the product's own message, which starts with the variable it names and says the
    accepted form (no C(Finalization of task args) wrapping, nothing to catch in a C(rescue)).
  - C(content) is exactly what the product's public filter returns for the same input, and a refusal's C(msg) is
    the text that filter raises; the filter's page documents each option and each key of C(content).
  - "Per product: O(product=haproxy): O(plan) is the whole plan (required); O(options) are those of
    P(smallvps.hardening.haproxy_config#filter) (C(servers), C(port), C(bind_address), C(timeouts), C(http2),
    C(nbthread), C(hard_stop_after)); C(content) is its dict of lines by section."
  - "O(product=nginx_limit_req): O(plan) is the whole plan (required; without an C(nginx.service) entry every zone
    sets its own size); O(options) are those of P(smallvps.hardening.nginx_limit_req_config#filter) (C(zones),
    C(conn_zones), C(locations), C(allowlist), C(status), C(conn_status), C(log_level), C(dry_run)); C(content) is
    its dict of lines."
  - "O(product=caddy): no O(plan) (ignored); O(options) are the filter's input as C(site_address) plus the options
    of P(smallvps.hardening.caddy_config#filter) (C(upstreams), C(timeouts), C(max_header_size), C(upstream_pool)
    required; C(request_buffers), C(response_buffers), C(grace_period), C(admin)); C(content) is C({lines: [...]})."
  - "O(product=traefik): no O(plan) (ignored); O(options) are the filter's input as C(address) plus the options of
    P(smallvps.hardening.traefik_config#filter) (C(upstreams), C(responding_timeouts), C(forwarding_timeouts),
    C(max_header_bytes), C(max_idle_conns_per_host) required; C(compress), C(encodings), C(file_watch),
    C(dynamic_path), C(rule), C(log_level), C(version), C(check_new_version)); C(content) is C(static), C(dynamic)
    and C(recommended_version)."
  - "O(product=oathkeeper): O(plan) is the whole plan, and the option C(unit) names Oathkeeper's entry in it
    (C(oathkeeper_service), a service name or unit; default C(oathkeeper.service)); a plan without that entry, or
    no O(plan), is refused as the filter refuses a missing entry. The other O(options) are those of
    P(smallvps.hardening.oathkeeper_config#filter) (C(proxy_port), C(proxy_timeouts), C(api_host), C(api_port),
    C(authenticators), C(authorizers), C(mutators), C(rules), C(rules_path), C(log_level), C(prometheus_host),
    C(prometheus_port), C(api_expose), C(prometheus_expose), C(telemetry_enabled), C(environment)); C(content) is
    C(config), C(rules) and C(warnings)."
  - An unknown product, an unknown option or a missing required option is refused with a message naming it and the
    accepted ones.
  - Runs on the controller only (an action plugin); this file holds its documentation.
options:
  product:
    description: The product whose configuration to render.
    type: str
    required: true
    choices: [caddy, haproxy, nginx_limit_req, oathkeeper, traefik]
  plan:
    description:
      - The whole memory plan (C(smallvps_memory_plan), from the P(smallvps.hardening.memory_plan#role) role).
      - Required for C(haproxy) and C(nginx_limit_req) (the filter's refusal when it is not a plan), optional for
        C(oathkeeper), ignored for C(caddy) and C(traefik).
    type: raw
  options:
    description: The product's options by name, the names of its public filter's options (see the description).
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Renders and refuses the same in a dry run; it changes nothing in either.
  diff_mode:
    support: none
    description: No diff.
"""

EXAMPLES = r"""
- name: Render haproxy.cfg's lines, or refuse the variables
  smallvps.hardening.render:
    product: haproxy
    plan: "{{ smallvps_memory_plan }}"
    options:
      servers: "{{ haproxy_servers }}"
      port: "{{ haproxy_port }}"
  register: haproxy_rendered

- name: Build Oathkeeper's config.yml and access rules from its plan entry
  smallvps.hardening.render:
    product: oathkeeper
    plan: "{{ smallvps_memory_plan }}"
    options:
      unit: "{{ oathkeeper_service }}"
      rules: "{{ oathkeeper_access_rules }}"
  register: oathkeeper_rendered
"""

RETURN = r"""
content:
  description: What the product's public filter returns for the same input (see the description, per product).
  returned: success
  type: raw
msg:
  description: The refusal, starting with the variable it names.
  returned: failure
  type: str
"""

# The action plugin (plugins/action/render.py) validates its arguments with this.
ARGUMENT_SPEC = {
    "product": {
        "type": "str",
        "required": True,
        "choices": ["caddy", "haproxy", "nginx_limit_req", "oathkeeper", "traefik"],
    },
    "plan": {"type": "raw"},
    "options": {"type": "dict", "default": {}},
}
