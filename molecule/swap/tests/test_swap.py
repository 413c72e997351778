"""What the swap role leaves on a 512 MiB container, and how it reacts to changes.

Swap cannot be switched on in a container (swapon is global to the kernel), so the role must
write everything, switch nothing on and say why. The behavioural tests run the role again
through ansible-playbook (apply.yml) with -e overrides; the last one removes the swap. Every
playbook run costs seconds, so cases that only read the host or are refused before any change
share one run (molecule/shared/cases.yml: one alias of the host per case, each with its own variables).
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


def _swap_cases(apply_cases, cases):
    """molecule/shared/cases.yml for {case: overrides}, the swap role on both backends as apply.yml runs it."""
    return apply_cases(["swap"], {case: {"swap_backend": "both", **overrides} for case, overrides in cases.items()})


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
    # The next run changes nothing: the `refusals` run below, whose "none" case runs right
    # after this repair (test_a_run_without_bad_input_changes_nothing).


def _free_mib(host):
    return int(host.check_output("findmnt --bytes --noheadings --output AVAIL --target /")) // MIB


# Each case: (overrides, what its refusal must say). All run at once by the `refusals` fixture,
# beside a case without bad input ("none").
REFUSALS = {
    # About 95 TiB.
    "too-large": (
        {"swap_file_size_mb": 100_000_000},
        [
            "swap_file_size_mb=100000000 MiB does not fit",
            "MiB free",
            "swap_file_min_free_disk_mb=1024 MiB must stay free",
        ],
    ),
    # 256 MiB fits the disk, but not with a margin larger than the free space: the fixture sets
    # swap_file_min_free_disk_mb to the free space + 2048 MiB ({margin}).
    "margin": (
        {"swap_file_size_mb": 256},
        ["swap_file_size_mb=256 MiB does not fit", "swap_file_min_free_disk_mb={margin} MiB must stay free"],
    ),
    "bad-backend": ({"swap_backend": "bogus"}, ["swap_backend must be one of: file, zram, both, got: bogus"]),
    "bad-size": ({"swap_file_size_mb": -1}, ["swap_file_size_mb=-1"]),
    "bad-swappiness": ({"swap_vm_swappiness": 201}, ["swap_vm_swappiness=201 (null or 0..200)"]),
    "bad-zram-size": ({"swap_zram_size_mb": -1}, ["swap_zram_size_mb=-1"]),
    "bad-activate": ({"swap_activate": "sometimes"}, ["swap_activate must be one of"]),
}


@pytest.fixture(scope="module")
def refusals(host, apply_cases):
    """Every refused input and one run without bad input ("none"), side by side in one
    ansible-playbook run; with the swap file's size and mtime before and after."""
    margin = _free_mib(host) + 2048
    cases = {case: overrides for case, (overrides, _) in REFUSALS.items()}
    cases["margin"] = {**cases["margin"], "swap_file_min_free_disk_mb": margin}
    cases["none"] = {}
    before = host.check_output(f"stat -c '%s %Y' {SWAPFILE}")
    outcome = _swap_cases(apply_cases, cases)
    after = host.check_output(f"stat -c '%s %Y' {SWAPFILE}")
    return {"result": outcome.result, "outcome": outcome, "margin": margin, "before": before, "after": after}


# First of the tests that read the `refusals` run, so that it runs right after the repair above.
def test_a_run_without_bad_input_changes_nothing(refusals):
    result = refusals["result"]
    stats, message = refusals["outcome"]["none"]
    assert stats["failures"] == 0, message or result.output
    assert stats["changed"] == 0, result.output


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_input_fails_before_any_change_naming_the_variable(host, refusals, case):
    result = refusals["result"]
    assert result.returncode != 0, result.output
    stats, message = refusals["outcome"][case]
    assert stats["failures"] == 1, result.output
    for text in REFUSALS[case][1]:
        assert text.format(margin=refusals["margin"]) in message, message or result.output
    assert stats["changed"] == 0, result.output
    assert refusals["after"] == refusals["before"]
    assert _size(host) == 512 * MIB


def test_the_automatic_size_is_lowered_to_fit_and_kept_while_the_free_disk_drifts(host, apply, apply_cases):
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
        # 6 MiB more free, and the same drift seen through the margin: three runs that only read
        # the host, in one ansible-playbook run.
        keeps = {
            "6-mib-more-free": overrides,
            "margin-5-mib-lower": {**overrides, "swap_file_min_free_disk_mb": 95},
            "margin-8-mib-higher": {**overrides, "swap_file_min_free_disk_mb": 108},
        }
        outcome = _swap_cases(apply_cases, keeps)
        result = outcome.result
        assert result.returncode == 0, result.output
        for why, (stats, _) in outcome.items():
            assert stats["failures"] == 0, f"{why}: {result.output}"
            assert stats["changed"] == 0, f"{why}: {result.output}"
        assert size() == 200 * MIB

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
