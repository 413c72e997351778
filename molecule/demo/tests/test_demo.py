"""The demo host is a 512 MiB VPS stand-in that site.yml converged."""


def test_demo_host_is_memory_limited(host):
    # The container limit is what a budget must respect, not the machine's /proc/meminfo.
    facts = host.ansible("smallvps.hardening.memory_facts", check=False)["ansible_facts"]["smallvps_memory"]
    assert facts["effective_memory_bytes"] == 512 * 1024 * 1024
    assert facts["memory_source"] == "cgroup"


def test_site_installed_monitoring_tools(host):
    assert host.run("htop --version").rc == 0
    assert host.package("glances").is_installed
