# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: haproxy_config
short_description: Check the haproxy role's variables and render haproxy.cfg's lines from the memory plan
version_added: 0.4.0
author:
  - smallvps.hardening maintainers
description:
  - Takes the memory plan and the variables of the P(smallvps.hardening.haproxy#role) role, refuses anything HAProxy
    would refuse (or read differently), and returns every line of the role's C(haproxy.cfg) template, by section.
  - Global C(maxconn) and C(tune.bufsize) are the C(maxconn) and C(tune_bufsize) of the plan's C(haproxy.service)
    entry, which P(smallvps.hardening.memory_plan#filter) adds when that service sets C(tune_bufsize); C(maxconn) is
    the entry's first limit that acts (C(MemoryHigh) when the entry has one, else its budget) less 16 MiB, divided by
    2 x C(tune_bufsize) + 20 KiB a connection (945 for the built-in 64M entry).
    No option overrides them.
  - C(nbthread) is the plan's C(summary.cpus) (at most 64) unless O(nbthread) is given.
  - Every refusal fails the task with a message that starts with the role variable (C(haproxy_servers[1]),
    C(haproxy_timeouts key 'client')) and says the accepted form. A plan without a C(haproxy.service) entry, or whose
    entry has no C(maxconn), is refused with a message that starts with C(smallvps_services).
positional: servers, port, bind_address, timeouts, http2, nbthread, hard_stop_after
options:
  _input:
    description: The plan returned by P(smallvps.hardening.memory_plan#filter) (C(smallvps_memory_plan)).
    type: dict
    required: true
  servers:
    description:
      - The backend servers (C(haproxy_servers)), each C(host:port); at least one.
      - A host is an IPv4 address, an IPv6 address in brackets (C([::1]:8000)) or a host name, which HAProxy resolves
        when it starts or reloads (C(haproxy -c) refuses a name that does not resolve). Duplicates are refused.
    type: list
    elements: str
    required: true
  port:
    description: The frontend's port (C(haproxy_port)), 1 to 65535.
    type: int
    default: 80
  bind_address:
    description:
      - Where the frontend listens (C(haproxy_bind_address)). C(*) is every IPv4 address; C(::) every IPv6 and IPv4
        address (C(v4v6)); otherwise one IPv4 or IPv6 address (without a C(%zone)).
    type: str
    default: "*"
  timeouts:
    description:
      - Timeouts of the C(defaults) section (C(haproxy_timeouts)) replacing the built-in ones; unknown keys are refused.
      - A time is a whole number and one unit, C(ms), C(s), C(m), C(h) or C(d) (C(100ms), C(5s), C(1m)); at most
        2147483647 ms. Plain numbers, which HAProxy reads as milliseconds, are refused.
    type: dict
    default: {}
    suboptions:
      connect:
        description: C(timeout connect), reaching a server.
        type: str
        default: 5s
      client:
        description: C(timeout client), client inactivity during a request.
        type: str
        default: 30s
      server:
        description: C(timeout server), server inactivity during a request.
        type: str
        default: 30s
      http-request:
        description: C(timeout http-request), the whole request head; bounds slow clients.
        type: str
        default: 10s
      http-keep-alive:
        description: C(timeout http-keep-alive), an idle client connection between requests (it counts against maxconn).
        type: str
        default: 5s
      queue:
        description: C(timeout queue), a request waiting for a free server slot.
        type: str
        default: 10s
  http2:
    description:
      - Accept HTTP/2 with prior knowledge on the clear-text bind (C(haproxy_http2)), which HAProxy does by itself;
        V(false) adds C(proto h1) to the bind.
      - V(true) with a plan C(tune_bufsize) below 16384 is refused.
    type: bool
    default: true
  nbthread:
    description: C(nbthread) (C(haproxy_nbthread)), 1 to 64; V(null) takes the plan's C(summary.cpus) (at most 64).
    type: int
  hard_stop_after:
    description: C(hard-stop-after) (C(haproxy_hard_stop_after)), a time as in O(timeouts).
    type: str
    default: 30s
"""

EXAMPLES = r"""
- name: Render haproxy.cfg's lines once for the role's template
  ansible.builtin.set_fact:
    haproxy_lines: >-
      {{ smallvps_memory_plan | smallvps.hardening.haproxy_config(
           servers=['127.0.0.1:8000'], port=8080, timeouts={'client': '1m'}) }}

- name: Write the global section alone
  ansible.builtin.copy:
    dest: /tmp/haproxy-global.cfg
    content: "global\n{% for line in haproxy_lines.global %}    {{ line }}\n{% endfor %}"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The lines of each section, without indentation, and the numbers they hold.
  type: dict
  contains:
    global:
      description:
        - Debian's C(log /dev/log local0), C(chroot /var/lib/haproxy), C(user haproxy), C(group haproxy); the stats
          socket C(/run/haproxy/admin.sock mode 660 level admin expose-fd listeners) and C(stats timeout 30s);
          C(maxconn), C(tune.bufsize), C(tune.maxrewrite) (1024, at most half the buffer), C(nbthread),
          C(hard-stop-after).
      type: list
      elements: str
      sample: [maxconn 945, tune.bufsize 16384, tune.maxrewrite 1024, nbthread 2, hard-stop-after 30s]
    defaults:
      description: C(mode http), C(log global), C(option httplog), C(option dontlognull), C(option forwardfor) and the
        six timeouts.
      type: list
      elements: str
    frontend:
      description: The C(bind) line (with C(proto h1) when O(http2) is false) and C(default_backend).
      type: list
      elements: str
      sample: ["bind *:8080", default_backend app_servers]
    backend:
      description: One C(server serverN host:port check) line per O(servers), in order.
      type: list
      elements: str
      sample: [server server1 127.0.0.1:8000 check]
    frontend_name:
      description: The frontend's name, C(http_in).
      type: str
    backend_name:
      description: The backend's name, C(app_servers).
      type: str
    maxconn:
      description: The plan's C(maxconn).
      type: int
    tune_bufsize:
      description: The plan's C(tune_bufsize).
      type: int
    nbthread:
      description: The thread count written.
      type: int
    servers:
      description: O(servers) as written (IPv6 compressed, ports without leading zeros).
      type: list
      elements: str
    timeouts:
      description: The six timeouts written, by key.
      type: dict
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.smallvps.hardening.plugins.plugin_utils._haproxy import PRODUCT

haproxy_config = as_filter_errors(*PRODUCT.render.errors)(PRODUCT.render.function)


class FilterModule:
    def filters(self):
        return {"haproxy_config": haproxy_config}
