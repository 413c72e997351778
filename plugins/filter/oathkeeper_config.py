# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: oathkeeper_config
short_description: Check the oathkeeper role's variables and build Ory Oathkeeper's config.yml and access rules
version_added: 0.4.0
author:
  - smallvps.hardening maintainers
description:
  - Takes the memory plan's entry for Oathkeeper and the variables of the P(smallvps.hardening.oathkeeper#role) role,
    and returns C(config) (C(serve.proxy) port and timeouts, C(serve.api), C(serve.prometheus),
    C(access_rules.repositories), the authenticators, authorizers and mutators), C(rules) (the access rules file) and
    C(warnings) (one per listener the user exposed beyond loopback).
  - C(serve.api.host) and C(serve.prometheus.host) must be loopback (127.0.0.1, ::1, localhost) unless C(api_expose) /
    C(prometheus_expose) is true; the proxy, API and Prometheus ports must differ.
  - A disabled handler's fields are checked but not written; a rule may name only enabled handlers. The token caches
    are off unless C(cache.enabled) is true.
  - Only keys Oathkeeper's schema defines are emitted. Each handler takes a fixed set of fields, and C(max_cost),
    C(max_tokens) and C(cleanup_interval) are refused from the variables. When C(oauth2_introspection) (or
    C(oauth2_client_credentials)) is enabled, C(config.cache.max_cost) (C(max_tokens)) is always written, from the
    plan's C(introspection_max_cost), even with the cache disabled.
  - The collection's unit tests validate every output against Oathkeeper's schema. Every refusal starts with the
    role variable.
positional: proxy_port, proxy_timeouts, api_host, api_port, authenticators, authorizers, mutators, rules, rules_path,
  log_level
options:
  _input:
    description: The plan's entry for Oathkeeper (its C(introspection_max_cost), when C(introspection_cache) is set).
    type: dict
    required: true
  proxy_port:
    description: C(serve.proxy.port).
    type: int
    default: 4455
  proxy_timeouts:
    description: C(serve.proxy.timeout) keys C(read), C(write), C(idle).
    type: dict
  api_host:
    description: C(serve.api.host).
    type: str
    default: 127.0.0.1
  api_port:
    description: C(serve.api.port).
    type: int
    default: 4456
  authenticators:
    description: Handler name to its fields (C(enabled) plus the handler's own), for noop, anonymous,
      oauth2_introspection, oauth2_client_credentials.
    type: dict
  authorizers:
    description: Handler name to its fields, for allow, deny, remote_json.
    type: dict
  mutators:
    description: Handler name to its fields, for noop, header.
    type: dict
  rules:
    description: The access rules (id, url, methods, upstream, authenticators, authorizer, mutators).
    type: list
    elements: dict
  rules_path:
    description: Where the rules file is written.
    type: str
    default: /etc/oathkeeper/rules.yml
  log_level:
    description: C(log.level).
    type: str
    default: info
  prometheus_host:
    description: C(serve.prometheus.host).
    type: str
    default: 127.0.0.1
  prometheus_port:
    description: C(serve.prometheus.port).
    type: int
    default: 9000
  api_expose:
    description: Accept an C(api_host) that is not loopback.
    type: bool
    default: false
  prometheus_expose:
    description: Accept a C(prometheus_host) that is not loopback.
    type: bool
    default: false
  telemetry_enabled:
    description: The role's C(oathkeeper_telemetry_enabled); checked with C(environment).
    type: bool
    default: false
  environment:
    description: The role's C(oathkeeper_environment); C(SQA_OPT_OUT) is refused there (the role sets it).
    type: dict
"""

EXAMPLES = r"""
- name: Build the Oathkeeper files
  ansible.builtin.set_fact:
    oathkeeper_files: >-
      {{ oathkeeper_plan | smallvps.hardening.oathkeeper_config(4455, {'read': '5s'}, '127.0.0.1', 4456,
         {'noop': {}}, {'allow': {}}, {'noop': {}},
         [{'id': 'app', 'url': 'http://<.*>/<.*>', 'upstream': 'http://127.0.0.1:8000'}],
         prometheus_host='127.0.0.1', prometheus_port=9000) }}
"""

RETURN = r"""
_value:
  description: The two files, and the warnings.
  type: dict
  contains:
    config:
      description: config.yml.
      type: dict
    rules:
      description: The access rules file.
      type: list
    warnings:
      description: One message per listener (API, Prometheus) the variables put beyond loopback.
      type: list
      elements: str
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.smallvps.hardening.plugins.plugin_utils._oathkeeper import OathkeeperConfigError, config_files

# The filter takes Oathkeeper's plan entry; the render action takes the whole plan and the entry's unit.
oathkeeper_config = as_filter_errors(OathkeeperConfigError)(config_files)


class FilterModule:
    def filters(self):
        return {"oathkeeper_config": oathkeeper_config}
