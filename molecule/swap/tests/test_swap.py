"""What the swap role leaves on a 512 MiB container, and how it reacts to changes.

Swap cannot be switched on in a container (swapon is global to the kernel), so the role must
write everything, switch nothing on and say why. The behavioural tests run the role again
through ansible-playbook (apply.yml) with -e overrides; the last one removes the swap.
"""

import functools
from pathlib import Path

import pytest

MIB = 1024 * 1024
SWAPFILE = "/swapfile"
SYSCTL_FILE = "/etc/sysctl.d/60-smallvps-swap.conf"
ZRAM_CONFIG = "/etc/systemd/zram-generator.conf"
PLAYBOOK = Path(__file__).resolve().parents[1] / "apply.yml"


@pytest.fixture
def apply(ansible_playbook):
    """Run apply.yml with -e overrides; see molecule/conftest.py."""
    return functools.partial(ansible_playbook, PLAYBOOK)


def _signature(host):
    return host.run(f"blkid -p -o value -s TYPE {SWAPFILE}").stdout.strip()


def _size(host):
    return int(host.check_output(f"stat -c %s {SWAPFILE}"))


# --- the converged host ----------------------------------------------------------------


def test_swap_file_is_512_mib_from_the_container_limit(host):
    swapfile = host.file(SWAPFILE)
    assert swapfile.is_file
    assert _size(host) == 512 * MIB  # RAM <= 1 GiB -> 1 x the 512 MiB limit, not the host's RAM


def test_swap_file_is_private_to_root(host):
    swapfile = host.file(SWAPFILE)
    assert swapfile.mode == 0o600
    assert swapfile.user == "root"
    assert swapfile.group == "root"


def test_swap_file_has_a_swap_signature(host):
    assert _signature(host) == "swap"


def test_fstab_mounts_the_file_with_its_priority(host):
    lines = [line.split() for line in host.file("/etc/fstab").content_string.splitlines()]
    assert [SWAPFILE, "none", "swap", "sw,pri=10", "0", "0"] in lines


def test_sysctl_file_persists_the_settings(host):
    sysctl = host.file(SYSCTL_FILE)
    assert sysctl.mode == 0o644
    settings = {
        key.strip(): value.strip()
        for key, value in (
            line.split("=", 1) for line in sysctl.content_string.splitlines() if line and not line.startswith("#")
        )
    }
    # swap_backend=both: zram is used first, so swappiness is 100 by kind (docs/swap.md).
    assert settings == {"vm.swappiness": "100", "vm.vfs_cache_pressure": "50"}


def test_zram_generator_is_installed_and_configured(host):
    assert host.package("systemd-zram-generator").is_installed
    config = host.file(ZRAM_CONFIG).content_string
    assert "[zram0]" in config
    assert "zram-size = 256\n" in config  # half the 512 MiB limit, a number computed by swap_plan
    assert "compression-algorithm = zstd" in config
    assert "swap-priority = 100" in config


def test_zram_generator_accepts_the_configuration(host):
    # The generator exits early in a container; ZRAM_GENERATOR_ROOT makes it render the units anyway.
    out = "/tmp/zram-generator-test"
    host.run(f"rm -rf {out} && mkdir {out}")
    result = host.run(f"ZRAM_GENERATOR_ROOT=/ /lib/systemd/system-generators/zram-generator {out}")
    assert result.rc == 0, result.stderr
    unit = host.file(f"{out}/dev-zram0.swap").content_string
    assert "What=/dev/zram0" in unit
    assert "Priority=100" in unit  # above the file's pri=10


def test_activation_was_skipped_in_the_container(host):
    # /proc/swaps is the machine's (swap is global to the kernel): compare whole paths, other
    # swap of the machine (another scenario's, say) may be listed.
    active = [line.split()[0] for line in host.file("/proc/swaps").content_string.splitlines()[1:]]
    assert SWAPFILE not in active
    assert "/dev/zram0" not in active


def test_check_mode_on_the_converged_host_changes_nothing_and_says_why_nothing_is_on(host, apply):
    # molecule's idempotence step covers a real second run; its check step a fresh host.
    result = apply(check=True)
    assert result.returncode == 0, result.output
    assert result.changed == 0, result.output
    assert "activation skipped (swap_activate=auto, this host is a docker container)" in result.stdout


# --- behaviour --------------------------------------------------------------------------


def test_resize_recreates_the_file_and_back(host, apply):
    result = apply({"swap_file_size_mb": 256})
    assert result.returncode == 0, result.output
    assert _size(host) == 256 * MIB
    assert _signature(host) == "swap"
    assert host.file(SWAPFILE).mode == 0o600

    result = apply()
    assert result.returncode == 0, result.output
    assert result.changed > 0
    assert _size(host) == 512 * MIB
    assert _signature(host) == "swap"


def test_a_wiped_signature_gets_mkswap_again(host, apply):
    host.run_expect([0], f"dd if=/dev/zero of={SWAPFILE} bs=4096 count=1 conv=notrunc status=none")
    assert _signature(host) == ""

    result = apply()
    assert result.returncode == 0, result.output
    assert result.changed > 0, result.output
    assert "Write a swap signature" in result.stdout
    assert _signature(host) == "swap"
    assert _size(host) == 512 * MIB

    again = apply()
    assert again.returncode == 0, again.output
    assert again.changed == 0, again.output


def _free_mib(host):
    return int(host.check_output("findmnt --bytes --noheadings --output AVAIL --target /")) // MIB


def test_an_explicit_size_larger_than_the_disk_fails_before_any_change(host, apply):
    before = host.check_output(f"stat -c '%s %Y' {SWAPFILE}")
    result = apply({"swap_file_size_mb": 100_000_000})  # about 95 TiB
    assert result.returncode != 0
    assert "swap_file_size_mb=100000000 MiB does not fit" in result.output, result.output
    assert "MiB free" in result.output
    assert "swap_file_min_free_disk_mb=1024 MiB must stay free" in result.output
    assert "changed=0" in result.stdout
    assert host.check_output(f"stat -c '%s %Y' {SWAPFILE}") == before


def test_an_explicit_size_that_eats_into_the_margin_fails(host, apply):
    # 256 MiB fits the disk, but not with a margin larger than the free space.
    margin = _free_mib(host) + 2048
    result = apply({"swap_file_size_mb": 256, "swap_file_min_free_disk_mb": margin})
    assert result.returncode != 0
    assert "swap_file_size_mb=256 MiB does not fit" in result.output, result.output
    assert f"swap_file_min_free_disk_mb={margin} MiB must stay free" in result.output
    assert _size(host) == 512 * MIB


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"swap_backend": "bogus"}, "swap_backend must be one of: file, zram, both, got: bogus"),
        ({"swap_file_size_mb": -1}, "swap_file_size_mb=-1"),
        ({"swap_vm_swappiness": 201}, "swap_vm_swappiness=201 (null or 0..200)"),
        ({"swap_zram_size_mb": -1}, "swap_zram_size_mb=-1"),
        ({"swap_activate": "sometimes"}, "swap_activate must be one of"),
    ],
)
def test_bad_input_fails_naming_the_variable(host, overrides, expected, apply):
    before = host.check_output(f"stat -c '%s %Y' {SWAPFILE}")
    result = apply(overrides)
    assert result.returncode != 0
    assert expected in result.output, result.output
    assert "changed=0" in result.stdout
    assert host.check_output(f"stat -c '%s %Y' {SWAPFILE}") == before


def test_the_automatic_size_is_lowered_to_fit_and_kept_while_the_free_disk_drifts(host, apply):
    # On a tmpfs of its own, so that other containers writing to the shared disk cannot move the
    # numbers: 300 MiB free - 100 MiB margin leaves room for 200 of the automatic 512 MiB.
    mountpoint = "/mnt/swap-lowered"
    swapfile = f"{mountpoint}/swapfile"
    overrides = {"swap_file_path": swapfile, "swap_file_min_free_disk_mb": 100}

    def size():
        return int(host.check_output(f"stat -c %s {swapfile}"))

    def resize_disk(mb):
        host.run_expect([0], f"mount -o remount,size={mb}m {mountpoint}")

    def run_keeps_200(extra=None, why=""):
        result = apply({**overrides, **(extra or {})})
        assert result.returncode == 0, result.output
        assert result.changed == 0, f"{why}: {result.output}"
        assert size() == 200 * MIB, why

    host.run_expect([0], f"mkdir -p {mountpoint} && mount -t tmpfs -o size=300m,mode=0755 tmpfs {mountpoint}")
    try:
        result = apply(overrides)
        assert result.returncode == 0, result.output
        assert "the automatic size is 512 MiB, lowered to 200 MiB" in result.stdout, result.output
        assert size() == 200 * MIB
        assert host.run(f"blkid -p -o value -s TYPE {swapfile}").stdout.strip() == "swap"

        # Stable: the file's own space counts as free, so the next run keeps it.
        run_keeps_200(why="same disk")
        # The free disk shrinks by 5 MiB (a log grew), then grows by 6 MiB more than at the start.
        host.run_expect([0], f"dd if=/dev/zero of={mountpoint}/filler bs=1M count=5 status=none")
        run_keeps_200(why="5 MiB less free")
        host.run_expect([0], f"rm {mountpoint}/filler")
        resize_disk(306)
        run_keeps_200(why="6 MiB more free")
        # The same drift seen through the margin.
        run_keeps_200({"swap_file_min_free_disk_mb": 95}, why="margin 5 MiB lower")
        run_keeps_200({"swap_file_min_free_disk_mb": 108}, why="margin 8 MiB higher")

        # Growing pays once it gains max(64 MiB, 512 / 8): 100 MiB more disk grows the file to 300 MiB.
        resize_disk(400)
        grown = apply(overrides)
        assert grown.returncode == 0, grown.output
        assert grown.changed > 0, grown.output
        assert size() == 300 * MIB
        again = apply(overrides)
        assert again.returncode == 0, again.output
        assert again.changed == 0, again.output
    finally:
        host.run(f"rm -f {swapfile} {mountpoint}/filler; sed -i '\\|^{swapfile} |d' /etc/fstab; umount {mountpoint}")
    assert swapfile not in host.file("/etc/fstab").content_string


# Last: it removes what converge built (destroy follows verify).
def test_state_absent_removes_file_fstab_line_and_sysctl_file(host, apply):
    result = apply({"swap_state": "absent"})
    assert result.returncode == 0, result.output
    assert not host.file(SWAPFILE).exists
    assert SWAPFILE not in host.file("/etc/fstab").content_string
    assert not host.file(SYSCTL_FILE).exists
    assert "[zram0]" not in host.file(ZRAM_CONFIG).content_string

