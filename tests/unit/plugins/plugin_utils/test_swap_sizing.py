# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ansible_collections.smallvps.hardening.plugins.plugin_utils._swap_sizing import (
    BACKENDS,
    DEFAULT_BACKEND,
    MIB,
    MIN_FILE_MB,
    SwapSizingError,
    auto_file_size_mb,
    file_decision,
    grow_min_gain_mb,
    swap_plan,
    swapoff_refusal,
    swappiness,
    zram_ram_mb,
    zram_size_mb,
)

GIB_MB = 1024
memory_mb = st.integers(min_value=64, max_value=64 * GIB_MB)
disk_mb = st.integers(min_value=0, max_value=200 * GIB_MB)
margin_mb = st.integers(min_value=0, max_value=4 * GIB_MB)
drift_mb = st.integers(min_value=-8, max_value=8)


# --- sizes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effective", "expected"),
    [
        (256, 256),
        (512, 512),
        (1024, 1024),
        (1025, 1024),
        (2048, 1024),
        (3000, 1500),
        (4096, 2048),
        (4097, 2048),
        (65536, 2048),
    ],
)
def test_auto_file_size_follows_todays_rule(effective, expected):
    assert auto_file_size_mb(effective) == expected


def test_constants_the_memory_planner_imports():
    assert DEFAULT_BACKEND == "file"
    assert BACKENDS == ("file", "zram", "both")


@pytest.mark.parametrize(
    ("effective", "requested", "expected"), [(512, 0, 256), (1024, 0, 512), (16384, 0, 4096), (512, 300, 300)]
)
def test_zram_size_is_half_the_memory_up_to_4_gib_or_what_is_asked(effective, requested, expected):
    assert zram_size_mb(effective, requested) == expected


def test_zram_ram_is_half_the_device_plus_metadata_rounded_up():
    assert zram_ram_mb(0) == 0
    assert zram_ram_mb(256) == 129  # 128 compressed + 0.256 metadata, rounded up
    assert zram_ram_mb(4096) == 2048 + 5  # 4.096 MiB of metadata, rounded up


@given(st.integers(min_value=0, max_value=1 << 20), st.integers(min_value=0, max_value=1 << 20))
def test_zram_ram_is_monotone_and_below_the_device_size(a, b):
    low, high = sorted((a, b))
    assert zram_ram_mb(low) <= zram_ram_mb(high)
    assert zram_ram_mb(high) <= high


@given(memory_mb)
def test_auto_file_size_is_positive_and_at_most_ram_or_2_gib(effective):
    size = auto_file_size_mb(effective)
    assert 0 < size <= max(effective, 2048)


@pytest.mark.parametrize(("backend", "expected"), [("file", 10), ("zram", 100), ("both", 100)])
def test_swappiness_by_kind(backend, expected):
    assert swappiness(backend) == expected


def test_swappiness_asked_for_wins_and_is_range_checked():
    assert swappiness("zram", 0) == 0
    assert swappiness("file", 200) == 200
    with pytest.raises(SwapSizingError, match="swap_vm_swappiness must be null or an integer 0..200, got 201"):
        swappiness("file", 201)
    with pytest.raises(SwapSizingError, match="swap_backend must be one of file, zram, both, got 'disk'"):
        swappiness("disk")


# --- the swap file decision ---------------------------------------------------------------


def decide(desired, current_mb=None, avail_mb=10 * GIB_MB, margin=1024, explicit=False, extra_bytes=0):
    current = None if current_mb is None else current_mb * MIB
    return file_decision(
        desired, explicit, current, avail_mb * MIB + extra_bytes, margin, path="/swapfile", fstype="ext4", directory="/"
    )


def test_no_file_is_created_at_the_desired_size_when_it_fits():
    plan = decide(512)
    assert (plan["action"], plan["size_mb"], plan["lowered"]) == ("create", 512, False)


def test_no_file_and_a_small_disk_lowers_the_automatic_size_and_says_so():
    plan = decide(512, avail_mb=300, margin=100)
    assert (plan["action"], plan["size_mb"], plan["lowered"]) == ("create", 200, True)
    assert "automatic size is 512 MiB, lowered to 200 MiB" in plan["message"]


def test_an_automatic_size_below_16_mib_is_refused_with_todays_message():
    plan = decide(512, avail_mb=110, margin=100)
    assert plan["action"] == "refuse"
    assert plan["message"] == (
        "swap: no room for a swap file: the automatic size would be 512 MiB, but the ext4 filesystem of / has "
        "110 MiB free and swap_file_min_free_disk_mb=100 MiB must stay free. Free some disk, lower "
        "swap_file_min_free_disk_mb, or use swap_backend=zram. Nothing was changed."
    )


def test_an_explicit_size_that_does_not_fit_is_refused_with_todays_message():
    plan = decide(4096, current_mb=512, avail_mb=2048, explicit=True)
    assert plan["action"] == "refuse"
    assert plan["message"] == (
        "swap: swap_file_size_mb=4096 MiB does not fit: the ext4 filesystem of / has 2048 MiB free (plus 512 MiB "
        "of the current /swapfile, which is replaced) and swap_file_min_free_disk_mb=1024 MiB must stay free, so "
        "at most 1536 MiB fit. Nothing was changed."
    )


def test_an_explicit_size_is_kept_on_a_full_disk_and_recreated_when_changed():
    assert decide(512, current_mb=512, avail_mb=0, explicit=True)["action"] == "keep"
    assert decide(256, current_mb=512, explicit=True)["action"] == "recreate"
    assert decide(1024, current_mb=512, explicit=True)["action"] == "recreate"


def test_an_automatic_file_larger_than_wanted_is_shrunk():
    plan = decide(512, current_mb=2048)
    assert (plan["action"], plan["size_mb"]) == ("recreate", 512)


def test_a_lowered_automatic_file_is_kept_while_the_gain_is_small():
    # 200 MiB file, automatic 512; the disk grew so that 250 MiB would fit: +50 < 64.
    plan = decide(512, current_mb=200, avail_mb=150, margin=100)
    assert (plan["action"], plan["size_mb"], plan["lowered"]) == ("keep", 200, True)
    assert "growing it would gain 50 MiB, less than the 64 MiB worth a recreate" in plan["message"]


def test_a_lowered_automatic_file_grows_when_the_gain_is_worth_it():
    plan = decide(512, current_mb=200, avail_mb=200, margin=100)
    assert (plan["action"], plan["size_mb"]) == ("recreate", 300)


def test_a_lowered_automatic_file_is_kept_when_the_disk_fills_up():
    plan = decide(512, current_mb=200, avail_mb=0, margin=1024)
    assert (plan["action"], plan["size_mb"]) == ("keep", 200)


def test_a_tiny_leftover_file_is_replaced():
    assert decide(512, current_mb=1)["action"] == "recreate"


def test_the_grow_threshold_is_64_mib_or_an_eighth():
    assert grow_min_gain_mb(256) == 64
    assert grow_min_gain_mb(2048) == 256


@given(
    desired=st.integers(min_value=1, max_value=8 * GIB_MB),
    explicit=st.booleans(),
    avail=disk_mb,
    margin=margin_mb,
    extra=st.integers(min_value=0, max_value=MIB - 1),
)
def test_a_new_file_never_eats_into_the_free_disk_margin(desired, explicit, avail, margin, extra):
    plan = decide(desired, None, avail, margin, explicit, extra)
    if plan["action"] == "create":
        assert avail - plan["size_mb"] >= margin
        assert plan["size_mb"] >= (1 if explicit else MIN_FILE_MB)
        assert plan["size_mb"] <= desired
    else:
        assert plan["action"] == "refuse" and plan["message"].endswith("Nothing was changed.")


@given(
    effective=memory_mb,
    avail=disk_mb,
    margin=margin_mb,
    drifts=st.lists(drift_mb, min_size=1, max_size=6),
)
def test_once_created_an_automatic_file_survives_a_few_mib_of_free_disk_drift(effective, avail, margin, drifts):
    """Create the file, then run again and again while the free disk moves by up to 8 MiB either way."""
    desired = auto_file_size_mb(effective)
    first = decide(desired, None, avail, margin)
    assume(first["action"] == "create")
    size = first["size_mb"]
    free = avail - size
    for drift in drifts:
        free = max(free + drift, 0)
        plan = decide(desired, size, free, margin)
        assert (plan["action"], plan["size_mb"]) == ("keep", size), (free, plan)


@given(
    effective=memory_mb, size=st.integers(min_value=MIN_FILE_MB, max_value=4 * GIB_MB), avail=disk_mb, margin=margin_mb
)
def test_a_recreate_settles_in_one_step(effective, size, avail, margin):
    """Whatever the file, after one recreate the next run with the same free disk keeps it."""
    desired = auto_file_size_mb(effective)
    plan = decide(desired, size, avail, margin)
    assume(plan["action"] == "recreate")
    free_after = avail + size - plan["size_mb"]
    assert decide(desired, plan["size_mb"], free_after, margin)["action"] == "keep"


@given(
    effective=memory_mb, size=st.integers(min_value=MIN_FILE_MB, max_value=4 * GIB_MB), avail=disk_mb, margin=margin_mb
)
def test_a_recreate_never_leaves_less_than_the_margin_unless_it_shrinks(effective, size, avail, margin):
    desired = auto_file_size_mb(effective)
    plan = decide(desired, size, avail, margin)
    if plan["action"] == "recreate" and plan["size_mb"] > size:
        assert avail + size - plan["size_mb"] >= margin


def test_bad_numbers_are_refused_naming_them():
    with pytest.raises(SwapSizingError, match="swap_file_min_free_disk_mb must be an integer >= 0, got -1"):
        file_decision(512, False, None, 0, -1)
    with pytest.raises(SwapSizingError, match="swap_file_size_mb must be an integer >= 1, got 0"):
        file_decision(0, True, None, 0, 0)


# --- the swapoff check --------------------------------------------------------------------


def device(used_mb, path="/swapfile"):
    return {"path": path, "used_bytes": used_mb * MIB, "priority": 10}


def test_swapoff_that_fits_is_allowed():
    assert swapoff_refusal([device(100)], 1024 * MIB) == ""
    assert swapoff_refusal([device(0)], None) == ""  # nothing to read back
    assert swapoff_refusal([], None) == ""


def test_swapoff_that_does_not_fit_names_file_used_available_margin_and_what_to_do():
    message = swapoff_refusal([device(300)], 400 * MIB, margin_mb=128)
    assert "/swapfile (300 MiB used)" in message
    assert "MemAvailable is 400 MiB" in message
    assert "swap_swapoff_margin_mb=128 MiB must stay available, so at most 272 MiB fit" in message
    assert "Free memory" in message and message.endswith("Nothing was changed.")


def test_swapoff_exactly_at_the_margin_is_allowed():
    assert swapoff_refusal([device(272)], 400 * MIB, margin_mb=128) == ""
    assert swapoff_refusal([device(273)], 400 * MIB, margin_mb=128) != ""


def test_swapoff_with_unknown_mem_available_is_refused_unless_opted_out():
    message = swapoff_refusal([device(1)], None)
    assert "MemAvailable is unknown" in message and "swap_swapoff_check_enabled=false" in message
    assert swapoff_refusal([device(1)], None, check=False) == ""


def test_swapoff_counts_every_device_switched_off():
    assert swapoff_refusal([device(200), device(200, "/dev/zram0")], 528 * MIB, margin_mb=128) == ""
    assert "/dev/zram0 (201 MiB used)" in swapoff_refusal(
        [device(200), device(201, "/dev/zram0")], 528 * MIB, margin_mb=128
    )


@given(
    used=st.integers(min_value=1, max_value=1 << 40),
    available=st.integers(min_value=0, max_value=1 << 40),
    margin=margin_mb,
)
def test_swapoff_is_allowed_exactly_when_used_fits_under_the_margin(used, available, margin):
    refused = swapoff_refusal([{"path": "/swapfile", "used_bytes": used}], available, margin) != ""
    assert refused == (used > available - margin * MIB)


# --- the whole plan -----------------------------------------------------------------------


FACTS = {"effective_memory_mb": 512, "mem_available_bytes": 400 * MIB, "swap_devices": []}


def test_plan_for_a_fresh_512_mib_host():
    plan = swap_plan(FACTS, backend="both", file_avail_bytes=10 * GIB_MB * MIB)
    assert plan["file"]["action"] == "create"
    assert plan["file"]["size_bytes"] == 512 * MIB
    assert plan["zram"] == {"size_mb": 256, "ram_mb": 129}
    assert plan["swappiness"] == 100
    assert plan["swapoff"] == {"paths": [], "refusal": ""}


def test_plan_checks_swapoff_for_absent_recreate_and_priority_change():
    facts = dict(FACTS, swap_devices=[device(300)])
    absent = swap_plan(facts, state="absent", file_current_bytes=512 * MIB)
    assert absent["file"]["action"] == "remove"
    assert absent["swapoff"]["paths"] == ["/swapfile"]
    assert "MemAvailable is 400 MiB" in absent["swapoff"]["refusal"]

    recreate = swap_plan(facts, file_size_mb=256, file_current_bytes=512 * MIB, file_avail_bytes=10 * GIB_MB * MIB)
    assert recreate["file"]["action"] == "recreate"
    assert recreate["swapoff"]["refusal"]

    priority = swap_plan(facts, file_priority=5, file_current_bytes=512 * MIB, file_avail_bytes=10 * GIB_MB * MIB)
    assert priority["file"]["action"] == "keep" and priority["file"]["priority_wrong"]
    assert priority["swapoff"]["refusal"]

    keep = swap_plan(facts, file_current_bytes=512 * MIB, file_avail_bytes=10 * GIB_MB * MIB)
    assert keep["swapoff"] == {"paths": [], "refusal": ""}


def test_plan_does_not_check_swapoff_where_the_role_runs_none():
    facts = dict(FACTS, swap_devices=[device(300)])
    plan = swap_plan(facts, state="absent", file_current_bytes=512 * MIB, activate=False)
    assert plan["swapoff"] == {"paths": ["/swapfile"], "refusal": ""}


def test_plan_checks_zram_switched_off():
    facts = dict(FACTS, swap_devices=[device(300, "/dev/zram0")])
    plan = swap_plan(facts, backend="file", file_avail_bytes=10 * GIB_MB * MIB)
    assert plan["swapoff"]["paths"] == ["/dev/zram0"]
    assert plan["swapoff"]["refusal"]


def test_plan_refuses_facts_it_does_not_know():
    with pytest.raises(SwapSizingError, match="expects the smallvps_memory facts"):
        swap_plan({"memtotal_mb": 512})
