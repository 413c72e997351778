"""The swap role switching swap on and off for real (swap_activate: true).

The swap file lives on a named volume (the machine's ext4; overlayfs cannot hold swap) and
the kernel's /proc/swaps is the judge. /proc/sys/vm is a writable stand-in (prepare.yml
explains why), so the sysctl tests show what the role reads and writes, not the kernel's
reaction. The last test removes the swap; destroy.yml checks nothing is left on the machine.
"""

import functools
import time
from pathlib import Path

import pytest

SWAPFILE = "/var/lib/smallvps-swaptest/swapfile"
CONVERGE = Path(__file__).resolve().parents[1] / "converge.yml"
SIZE_MB = 64  # molecule.yml host_vars
PRIORITY = 10  # swap_file_priority default


@pytest.fixture
def apply(ansible_playbook):
    """Run converge.yml with -e overrides; see molecule/conftest.py."""
    return functools.partial(ansible_playbook, CONVERGE)


def _active(host):
    """The swap file's /proc/swaps line as (size KiB, priority), or None when it is off."""
    for line in host.file("/proc/swaps").content_string.splitlines()[1:]:
        path, kind, size_kib, _used, priority = line.split()
        if path == SWAPFILE:
            assert kind == "file"
            return int(size_kib), int(priority)
    return None


def _used_kib(host):
    for line in host.file("/proc/swaps").content_string.splitlines()[1:]:
        path, _kind, _size_kib, used_kib, _priority = line.split()
        if path == SWAPFILE:
            return int(used_kib)
    return None


def _kib(size_mb):
    # The first page holds the swap header.
    return size_mb * 1024 - 4


def _vm(host, key):
    return host.file(f"/proc/sys/vm/{key}").content_string.strip()


def test_the_swap_file_is_on_with_its_size_and_priority(host):
    assert _active(host) == (_kib(SIZE_MB), PRIORITY)
    assert host.file("/etc/fstab").contains(f"^{SWAPFILE} none swap sw,pri={PRIORITY} 0 0$")


def test_the_sysctl_values_were_applied(host):
    assert _vm(host, "swappiness") == "10"
    assert _vm(host, "vfs_cache_pressure") == "50"


def test_a_file_someone_switched_off_is_switched_on_again(host, apply):
    host.run_expect([0], f"swapoff {SWAPFILE}")
    assert _active(host) is None

    dry_run = apply(check=True)
    assert dry_run.returncode == 0, dry_run.output
    assert dry_run.changed > 0, dry_run.output
    assert _active(host) is None, "check mode must not switch swap on"

    result = apply()
    assert result.returncode == 0, result.output
    assert "Switch the swap file on" in result.stdout
    assert _active(host) == (_kib(SIZE_MB), PRIORITY)

    again = apply()
    assert again.returncode == 0, again.output
    assert again.changed == 0, again.output


def test_a_value_changed_by_hand_is_set_back(host, apply):
    host.run_expect([0], "echo 60 > /proc/sys/vm/swappiness")

    dry_run = apply(check=True)
    assert dry_run.returncode == 0, dry_run.output
    assert dry_run.changed > 0, dry_run.output
    assert _vm(host, "swappiness") == "60", "check mode must not write"

    result = apply()
    assert result.returncode == 0, result.output
    assert result.changed > 0, result.output
    assert _vm(host, "swappiness") == "10"


# Touches 56 MiB in a unit whose memory cgroup allows 32 MiB: the kernel swaps the rest out to
# the only swap there is, the test's swap file (the container's own limit leaves no swap, but a
# child cgroup's memory limit is below its memory+swap limit).
SWAP_FILLER = "b = bytearray(56 << 20); b[::4096] = bytes([1]) * len(b[::4096]); import time; time.sleep(600)"
HUGE_MARGIN_MB = 100_000_000  # about 95 TiB: no MemAvailable leaves room for it


def test_a_swapoff_that_would_not_fit_is_refused_before_anything_changes(host, apply):
    host.run_expect([0], "systemd-run --unit=smallvps-swapfill --property=MemoryMax=32M python3 -c %s", SWAP_FILLER)
    try:
        deadline = time.monotonic() + 60
        while (_used_kib(host) or 0) == 0 and time.monotonic() < deadline:
            time.sleep(1)
        used_kib = _used_kib(host)
        assert used_kib, "the filler should have pushed pages into the swap file"
        before = host.check_output(f"stat -c '%s %Y' {SWAPFILE}")

        for overrides, why in [({"swap_state": "absent"}, "absent"), ({"swap_file_size_mb": 96}, "recreate")]:
            result = apply({**overrides, "swap_swapoff_margin_mb": HUGE_MARGIN_MB})
            assert result.returncode != 0, f"{why}: {result.output}"
            assert f"switching {SWAPFILE} (" in result.output and " MiB used) off needs swapoff" in result.output
            assert "but MemAvailable is " in result.output, result.output
            assert f"swap_swapoff_margin_mb={HUGE_MARGIN_MB} MiB must stay available" in result.output
            assert "Nothing was changed." in result.output
            assert result.changed == 0, f"{why}: {result.output}"
            assert _active(host) == (_kib(SIZE_MB), PRIORITY), why
            assert host.check_output(f"stat -c '%s %Y' {SWAPFILE}") == before, why
            assert host.file("/etc/fstab").contains(f"^{SWAPFILE} none swap sw,pri={PRIORITY} 0 0$")

        # The same run with the default margin goes ahead: the used swap fits in MemAvailable.
        dry_run = apply({"swap_file_size_mb": 96}, check=True)
        assert dry_run.returncode == 0, dry_run.output
        assert "swapoff" in dry_run.stdout, dry_run.output
    finally:
        host.run("systemctl stop smallvps-swapfill; systemctl reset-failed smallvps-swapfill")


def test_resize_swaps_off_recreates_and_swaps_on(host, apply):
    result = apply({"swap_file_size_mb": 96})
    assert result.returncode == 0, result.output
    assert _active(host) == (_kib(96), PRIORITY)
    assert int(host.check_output(f"stat -c %s {SWAPFILE}")) == 96 * 1024 * 1024

    back = apply()
    assert back.returncode == 0, back.output
    assert _active(host) == (_kib(SIZE_MB), PRIORITY)


def test_a_new_priority_reaches_the_kernel_and_fstab(host, apply):
    result = apply({"swap_file_priority": 5})
    assert result.returncode == 0, result.output
    assert _active(host) == (_kib(SIZE_MB), 5)
    assert host.file("/etc/fstab").contains(f"^{SWAPFILE} none swap sw,pri=5 0 0$")

    back = apply()
    assert back.returncode == 0, back.output
    assert _active(host) == (_kib(SIZE_MB), PRIORITY)


def test_state_absent_swaps_off_and_removes_file_and_fstab_line(host, apply):
    result = apply({"swap_state": "absent"})
    assert result.returncode == 0, result.output
    assert _active(host) is None
    assert not host.file(SWAPFILE).exists
    assert not host.file("/etc/fstab").contains(SWAPFILE)

    again = apply({"swap_state": "absent"})
    assert again.returncode == 0, again.output
    assert again.changed == 0, again.output
