# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: traefik_config
short_description: Check the traefik role's variables and build Traefik v3's static and dynamic configuration
version_added: 0.4.0
author:
  - smallvps.hardening maintainers
description:
  - Takes the variables of the P(smallvps.hardening.traefik#role) role and returns the static configuration
    (entry point C(web) with C(respondingTimeouts) and C(http.maxHeaderBytes), C(serversTransport) with
    C(maxIdleConnsPerHost) and C(forwardingTimeouts), the file provider with C(watch)) and the dynamic one (a router
    and a load-balanced service to the upstreams, a compress middleware with C(encodings)).
  - Only keys Traefik v3 defines are emitted; the collection's unit tests validate every output against
    SchemaStore's Traefik v3 schemas. Every refusal starts with the role variable.
  - Durations are Go durations of at most 2562047h; ports are 1 to 65535.
positional: upstreams, responding_timeouts, forwarding_timeouts, max_header_bytes, max_idle_conns_per_host, compress,
  encodings, file_watch, dynamic_path, rule, log_level
options:
  version:
    description:
      - The Traefik release the files are for (C(traefik_binary.version)), C(major.minor.patch).
      - Refused when it is older than the first release that reads every key the files set (Traefik exits at start
        on a key it does not know); C(entryPoints.web.http.maxHeaderBytes) and the compress middleware's
        C(encodings) need 3.2.0.
    type: str
    required: true
  _input:
    description: The entry point address (C(traefik_address)), for example C(:80).
    type: str
    required: true
  upstreams:
    description: Upstream URLs, C(http://host:port).
    type: list
    elements: str
    required: true
  responding_timeouts:
    description: C(readTimeout), C(writeTimeout), C(idleTimeout) (Go durations).
    type: dict
    required: true
  forwarding_timeouts:
    description: C(dialTimeout), C(responseHeaderTimeout), C(idleConnTimeout) (Go durations).
    type: dict
    required: true
  max_header_bytes:
    description: C(entryPoints.web.http.maxHeaderBytes), 4096..1048576.
    type: int
    required: true
  max_idle_conns_per_host:
    description: C(serversTransport.maxIdleConnsPerHost), 1..200 (each idle connection holds ~128 KiB).
    type: int
    required: true
  compress:
    description: Add the compress middleware to the router.
    type: bool
    default: true
  encodings:
    description: The compress middleware's C(encodings), from C(gzip), C(br), C(zstd).
    type: list
    elements: str
    default: [gzip]
  file_watch:
    description: C(providers.file.watch).
    type: bool
    default: false
  dynamic_path:
    description: The dynamic configuration file the file provider reads.
    type: str
    default: /etc/traefik/dynamic.yml
  rule:
    description: The router's rule.
    type: str
    default: PathPrefix(`/`)
  log_level:
    description: C(log.level).
    type: str
    default: INFO
  check_new_version:
    description:
      - C(global.checkNewVersion). Traefik asks its update server for a newer release when true (upstream's
        default); C(global.sendAnonymousUsage) is always written false.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Build the Traefik configuration
  ansible.builtin.set_fact:
    traefik_files: >-
      {{ ':80' | smallvps.hardening.traefik_config(['http://127.0.0.1:8000'], {'idleTimeout': '90s'},
         {'idleConnTimeout': '30s'}, 32768, 8, version='3.3.5') }}
"""

RETURN = r"""
_value:
  description: The two configurations.
  type: dict
  contains:
    static:
      description: The static configuration (traefik.yml).
      type: dict
    dynamic:
      description: The file provider's dynamic configuration.
      type: dict
    required_version:
      description: The oldest Traefik release that reads every key of the two files.
      type: str
      sample: 3.2.0
    recommended_version:
      description: The release below which the role warns (3.3.5, where the compress middleware's default order puts
        gzip first).
      type: str
      sample: 3.3.5
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.smallvps.hardening.plugins.plugin_utils._traefik import PRODUCT

traefik_config = as_filter_errors(*PRODUCT.render.errors)(PRODUCT.render.function)


class FilterModule:
    def filters(self):
        return {"traefik_config": traefik_config}
