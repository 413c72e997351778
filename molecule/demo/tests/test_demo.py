"""The demo host is a 512 MiB VPS stand-in that site.yml converged."""


def test_demo_host_is_memory_limited(host):
    # The container limit is what a budget must respect, not the machine's /proc/meminfo.
    facts = host.ansible("smallvps.hardening.memory_facts", check=False)["ansible_facts"]["smallvps_memory"]
    assert facts["effective_memory_bytes"] == 512 * 1024 * 1024
    assert facts["memory_source"] == "cgroup"


def test_site_installed_monitoring_tools(host):
    assert host.run("htop --version").rc == 0
    assert host.package("glances").is_installed


def test_site_created_the_swap_file(host):
    # 512 MiB of effective memory -> a 1 x RAM swap file; in a container it is written but not
    # switched on (swapon is global to the kernel), see docs/swap.md.
    swapfile = host.file("/swapfile")
    assert swapfile.is_file
    assert swapfile.mode == 0o600
    assert swapfile.size == 512 * 1024 * 1024
    assert host.run("blkid --probe --output value --match-tag TYPE /swapfile").stdout.strip() == "swap"
    assert host.file("/etc/sysctl.d/60-smallvps-swap.conf").contains("^vm.swappiness *= *10$")
