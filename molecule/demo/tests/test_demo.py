"""The demo host is a 512 MiB VPS stand-in that site.yml converged."""

import os


def _memory_limit_bytes(host):
    """Smallest cgroup memory limit on PID 1's path: the container's limit, seen from inside."""
    if host.file("/sys/fs/cgroup/cgroup.controllers").exists:
        path, name, root = host.check_output("awk -F: '$1 == 0 {print $3}' /proc/1/cgroup"), "memory.max", "/sys/fs/cgroup"
    else:
        path = host.check_output("awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/1/cgroup")
        name, root = "memory.limit_in_bytes", "/sys/fs/cgroup/memory"
    limits = []
    while True:
        limit_file = host.file(os.path.join(root + path, name))
        if limit_file.exists and limit_file.content_string.strip() != "max":
            limits.append(int(limit_file.content_string))
        if path in ("/", ""):
            return min(limits)
        path = os.path.dirname(path)


def test_demo_host_is_memory_limited(host):
    assert _memory_limit_bytes(host) == 512 * 1024 * 1024


def test_site_installed_monitoring_tools(host):
    assert host.run("htop --version").rc == 0
    assert host.package("glances").is_installed
