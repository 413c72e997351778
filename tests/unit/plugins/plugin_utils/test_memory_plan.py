# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""build_plan: the split of the effective memory, every per-service number, and the properties
the issue asks for. Expected numbers are worked by hand from the rules in the code's comments:

reserve on 1 GiB (module facts, no zram) = 80 + 32 + watermarks 66 (44 MiB x 1.5) = 178 MiB;
on 256 MiB 80 + 32 + 20 = 132; on 512 MiB 80 + 32 + 39 = 151; in a cgroup 80 + 32 = 112.
"""

from __future__ import annotations

import copy
import math
import re
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import (
    MIB,
    MemoryBudgetError,
    build_plan,
    share_by_weight,
)
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_services import BUILTIN_SERVICES

HOST_1G = {"effective_memory_bytes": 1024 * MIB, "cpus": 1}
ACCEPTANCE_SERVICES = [
    {"name": "app", "tier": 1, "runtime": "python", "min": "256M", "per_worker": "64M"},
    {"name": "nginx", "tier": 0, "min": "32M"},
    {"name": "sshd", "tier": 0, "min": "16M"},
]
HOST_UNITS = ["ssh.service", "nginx.service"]
# the documented built-ins, written out: a copy of BUILTIN_SERVICES taken in a test would copy an earlier mutation too
BUILTINS_AS_DOCUMENTED = (
    {"name": "ssh", "tier": 0, "min": "16M", "processes": ["sshd"]},
    {"name": "nginx", "tier": 0, "min": "32M", "processes": ["nginx"], "limit_req_clients": 8000},
    {"name": "haproxy", "tier": 0, "min": "64M", "processes": ["haproxy"], "tune_bufsize": 16384},
    {
        "name": "smallvps-memory-metrics",
        "tier": 1,
        "min": "16M",
        "max": "16M",
        "processes": ["smallvps-memory-metrics"],
    },
)


def host(mb: int, cpus: int = 1) -> dict:
    return {"effective_memory_bytes": mb * MIB, "cpus": cpus}


def refusal(facts, services, **options) -> str:
    with pytest.raises(MemoryBudgetError) as caught:
        build_plan(facts, services, **options)
    return str(caught.value)


def assert_names(message: str, service: str, key: str) -> None:
    assert message.startswith(f"memory_plan: service '{service}' key '{key}': "), message


def app(**extra) -> dict:
    return {"name": "app", "tier": 1, **extra}


# ---------------------------------------------------------------- the acceptance case


def test_one_gib_acceptance_case():
    plan = build_plan(HOST_1G, ACCEPTANCE_SERVICES)
    entry = plan["services"]["app"]
    # pool = 1024 - 178 - (32 + 16) = 798, all of it to the only tier-1 service
    assert (entry["memory_max"], entry["memory_max_bytes"]) == ("798M", 798 * MIB)
    assert (entry["memory_swap_max"], entry["memory_swap_max_bytes"]) == ("0", 0)
    assert (entry["memory_high"], entry["memory_high_bytes"], entry["managed_oom_memory_pressure"]) == (
        None,
        None,
        None,
    )
    assert (entry["budget_mb"], entry["limit_mb"], entry["limit_bytes"]) == (798, 798, 798 * MIB)
    # min(2 x 1 + 1, floor((0.9 x 798 - 32) / 64) = 10)
    assert entry["workers"] == 3
    assert (entry["gomemlimit"], entry["oom_score_adjust"], entry["restart"]) == (None, 100, "always")
    assert (entry["restart_sec"], entry["start_limit_interval_sec"], entry["start_limit_burst"]) == (3, 300, 20)
    assert (entry["unit"], entry["processes"], entry["runtime"]) == ("app.service", ["app"], "python")
    summary = plan["summary"]
    assert (summary["reserve_mb"], summary["tier0_mb"], summary["tier2_mb"]) == (178, 48, 0)
    assert (summary["pool_mb"], summary["allocated_mb"], summary["headroom_mb"]) == (798, 798, 0)
    assert summary["reserve_terms"] == {"base_mb": 80, "page_cache_mb": 32, "watermarks_mb": 66, "zram_mb": 0}
    assert (summary["watermarks_source"], summary["source"], summary["swap_backend"], summary["cpus"]) == (
        "estimated",
        "meminfo",
        "file",
        1,
    )
    assert (summary["effective_memory_mb"], summary["memtotal_mb"], summary["cgroup_memory_limit_bytes"]) == (
        1024,
        1024,
        None,
    )
    assert summary["reserve_bytes"] == 178 * MIB and summary["pool_bytes"] == 798 * MIB
    assert plan["warnings"] == []
    assert list(plan["services"]) == ["app", "nginx", "sshd"]
    assert all(plan["services"][name]["name"] == name for name in plan["services"])
    assert plan["services"]["sshd"]["unit"] == "ssh.service"


def test_workers_follow_the_first_limit_that_acts():
    services = [dict(ACCEPTANCE_SERVICES[0], oomd=True)] + ACCEPTANCE_SERVICES[1:]
    entry = build_plan(host(1024, cpus=8), services)["services"]["app"]
    # MemoryHigh = floor(0.9 x 798) = 718; workers = floor((0.9 x 718 - 32) / 64) = 9 < 17
    assert (entry["memory_max"], entry["memory_high"], entry["memory_high_bytes"]) == ("798M", "718M", 718 * MIB)
    assert (entry["limit_mb"], entry["managed_oom_memory_pressure"], entry["workers"]) == (718, "kill", 9)
    # without oomd the limit is MemoryMax: floor((0.9 x 798 - 32) / 64) = 10
    assert build_plan(host(1024, cpus=8), ACCEPTANCE_SERVICES)["services"]["app"]["workers"] == 10


def test_tier0_and_tier2_are_not_capped():
    services = ACCEPTANCE_SERVICES + [{"name": "backup", "tier": 2, "min": 40}]
    plan = build_plan(HOST_1G, services)
    for name in ("nginx", "sshd", "backup"):
        entry = plan["services"][name]
        assert entry["memory_max"] is None and entry["memory_high"] is None and entry["memory_swap_max"] is None
        assert entry["restart_sec"] is None and entry["start_limit_burst"] is None
        assert entry["limit_mb"] == entry["budget_mb"]
    assert (plan["services"]["nginx"]["oom_score_adjust"], plan["services"]["nginx"]["restart"]) == (-500, "on-failure")
    assert (plan["services"]["backup"]["oom_score_adjust"], plan["services"]["backup"]["restart"]) == (None, None)
    assert plan["summary"]["tier2_mb"] == 40
    assert plan["services"]["app"]["memory_max"] == "758M"  # 798 - 40


def test_tier0_gets_memory_low_and_oomd_avoid_and_system_slice_their_sum():
    services = ACCEPTANCE_SERVICES + [
        {"name": "caddy", "tier": 0, "runtime": "go", "min": "20.5M"},
        {"name": "backup", "tier": 2, "min": 40},
    ]
    plan = build_plan(HOST_1G, services)
    entries = plan["services"]
    # MemoryLow = the tier-0 estimate, rounded up to whole MiB like min itself
    for name, low_mb in (("nginx", 32), ("sshd", 16), ("caddy", 21)):
        entry = entries[name]
        assert (entry["memory_low"], entry["memory_low_bytes"], entry["managed_oom_preference"]) == (
            f"{low_mb}M",
            low_mb * MIB,
            "avoid",
        ), name
    for name in ("app", "backup"):
        entry = entries[name]
        assert (entry["memory_low"], entry["memory_low_bytes"], entry["managed_oom_preference"]) == (
            None,
            None,
            None,
        ), name
    # system.slice: 32 + 16 + 21, the same as tier 0
    summary = plan["summary"]
    assert (summary["system_slice_memory_low_mb"], summary["system_slice_memory_low_bytes"]) == (69, 69 * MIB)
    assert summary["tier0_mb"] == 69


def test_system_slice_memory_low_is_zero_without_tier0():
    summary = build_plan(HOST_1G, [app(min=64), {"name": "backup", "tier": 2, "min": 8}])["summary"]
    assert (summary["system_slice_memory_low_mb"], summary["system_slice_memory_low_bytes"]) == (0, 0)


def test_oom_policy_in_the_plan():
    services = ACCEPTANCE_SERVICES + [
        {"name": "worker", "tier": 2, "runtime": "python", "min": 128},
        {"name": "api", "tier": 1, "min": 64, "oom_policy": "kill"},
    ]
    plan = build_plan(HOST_1G, services, units=HOST_UNITS + ["app.service", "worker.service", "api.service"])
    policies = {name: entry["oom_policy"] for name, entry in plan["services"].items()}
    # python tier 1 and nginx (a pre-fork master) continue; sshd keeps systemd's default; tier 2 only when set
    assert policies == {"app": "continue", "nginx": "continue", "sshd": None, "worker": None, "api": "kill"}
    assert plan["services"]["nginx"]["unit"] == "nginx.service"
    builtin = build_plan(HOST_1G, [], units=HOST_UNITS)["services"]
    assert (builtin["nginx"]["oom_policy"], builtin["ssh"]["oom_policy"]) == ("continue", None)


def test_256_mib_host_with_too_many_minimums_is_refused_with_missing_amount():
    services = [
        {"name": "sshd", "tier": 0, "min": 16},
        {"name": "nginx", "tier": 0, "min": 32},
        {"name": "app", "tier": 1, "runtime": "python", "min": "128M"},
        {"name": "worker", "tier": 1, "min": "64M"},
    ]
    message = refusal(host(256), services)
    assert message.startswith(
        "memory_plan: service 'sshd', 'nginx', 'app', 'worker' key 'min': the minimums do not fit: "
    )
    # 256 - 132 - 48 = 76 MiB of pool for 192 MiB of tier-1 minimums
    assert (
        "effective 256 MiB - reserve 132 MiB - tier-0 estimates 48 MiB (sshd 16, nginx 32) - tier-2 estimates 0 MiB"
        " = pool 76 MiB, but the tier-1 minimums sum to 192 MiB (app 128, worker 64); missing 116 MiB"
    ) in message


def test_tier0_estimates_alone_can_exhaust_the_host():
    message = refusal(host(256), [{"name": "sshd", "tier": 0, "min": 200}])
    assert "pool -76 MiB" in message and "missing 76 MiB" in message and "'sshd'" in message and "key 'min'" in message


def test_sizes_round_up_to_whole_mib():
    plan = build_plan(HOST_1G, [{"name": "tiny", "tier": 0, "min": "64K"}])
    assert plan["services"]["tiny"]["budget_mb"] == 1 and plan["summary"]["tier0_mb"] == 1


# ---------------------------------------------------------------- tier 1: MemoryHigh, swap, warnings


def test_memory_high_only_on_request():
    plan = build_plan(HOST_1G, [app(min=64, memory_high="300M")])
    entry = plan["services"]["app"]
    # pool = 1024 - 178 = 846
    assert (entry["memory_max"], entry["memory_high"], entry["limit_mb"]) == ("846M", "300M", 300)
    assert entry["managed_oom_memory_pressure"] is None
    assert plan["warnings"] == [
        "service 'app': MemoryHigh without oomd and with MemorySwapMax=0: a leak is throttled at MemoryHigh for as "
        "long as it lasts instead of being killed at MemoryMax; set oomd: true or swap_max"
    ]
    swapping = build_plan(HOST_1G, [app(min=64, memory_high="300M", swap_max="256M")])
    assert swapping["warnings"] == []
    assert (swapping["services"]["app"]["memory_swap_max"], swapping["services"]["app"]["memory_swap_max_bytes"]) == (
        "256M",
        256 * MIB,
    )
    with_oomd = build_plan(HOST_1G, [app(min=64, memory_high="300M", oomd=True)])
    assert with_oomd["warnings"] == [OOMD_UNSWAPPABLE.format("app")]
    assert with_oomd["services"]["app"]["memory_high"] == "300M"
    assert with_oomd["services"]["app"]["managed_oom_memory_pressure"] == "kill"


OOMD_UNSWAPPABLE = (
    "service '{}': oomd: true with MemorySwapMax=0: systemd-oomd kills the unit only while the kernel reclaims pages "
    "charged to it, and its anonymous memory cannot be; if its program's pages were read first by another process (a "
    "shared interpreter, a binary an installer unpacked), a leak can stay throttled at MemoryHigh without a kill. "
    "Start it with its program's page cache dropped, or leave oomd out (the kernel kills at MemoryMax)"
)


def test_oomd_without_swap_warns_that_oomd_may_never_kill():
    """systemd-oomd 252 kills only with reclaim in the unit: with MemorySwapMax=0 that is its own file pages only
    (docs/memory-budget.md#tiers, measured on the VM). The warning names each such service; swap_max silences it."""
    plan = build_plan(HOST_1G, [app(min=64, oomd=True), {"name": "go", "tier": 1, "min": 64, "oomd": True}])
    assert plan["warnings"] == [OOMD_UNSWAPPABLE.format("app"), OOMD_UNSWAPPABLE.format("go")]
    assert build_plan(HOST_1G, [app(min=64, oomd=True, swap_max="64M")])["warnings"] == []
    assert build_plan(HOST_1G, [app(min=64)])["warnings"] == []


def test_oomd_memory_high_ratio():
    entry = build_plan(HOST_1G, [app(min=64, oomd=True)], memory_high_ratio=0.5)["services"]["app"]
    assert (entry["memory_max"], entry["memory_high"]) == ("846M", "423M")


@pytest.mark.parametrize(("swap_max", "expected"), [("0", "0"), (0, "0"), ("1.5G", "1536M"), (64, "64M")])
def test_swap_max(swap_max, expected):
    assert build_plan(HOST_1G, [app(min=64, swap_max=swap_max)])["services"]["app"]["memory_swap_max"] == expected


@pytest.mark.parametrize(
    ("service", "fragment"),
    [
        (app(min=1, max=1, oomd=True), "0 MiB is not below the MemoryMax of 1 MiB"),
        (app(min=64, max=64, memory_high=64), "64 MiB is not below the MemoryMax of 64 MiB"),
        (app(min=64, max=100, memory_high="1G"), "1024 MiB is not below the MemoryMax of 100 MiB"),
    ],
)
def test_memory_high_not_below_memory_max_is_refused(service, fragment):
    message = refusal(HOST_1G, [service])
    assert_names(message, "app", "memory_high")
    assert fragment in message


# ---------------------------------------------------------------- refusals reaching build_plan


@pytest.mark.parametrize(
    ("service", "key", "fragment"),
    [
        ({"name": "a", "tier": 0, "min": "32.5"}, "min", "cannot parse '32.5'"),
        ({"name": "a", "tier": 1, "min": "32.5"}, "min", "cannot parse '32.5'"),
        ({"name": "a", "tier": 0, "min": "9" * 400 + "M"}, "min", "too large"),
        ({"name": "a", "tier": 1, "min": "9" * 400 + "M"}, "min", "too large"),
        ({"name": "a/b", "tier": 1, "min": 64}, "name", "no '/'"),
        ({"name": "../a", "tier": 1, "min": 64}, "name", "no '..'"),
        ({"name": "a..b", "tier": 1, "min": 64}, "name", "no '..'"),
        ({"name": "foo.timer", "tier": 2, "min": 8}, "name", "only .service units"),
        ({"name": "foo.slice", "tier": 1, "min": 64}, "name", "only .service units"),
        ({"name": "a", "tier": 0, "min": 32, "max": 64}, "max", "never capped"),
        (
            {"name": "a", "tier": 1, "runtime": "python", "min": 106, "max": 106},
            "min",
            (
                "the first limit that acts, 106 MiB, leaves 95 MiB for the master (32 MiB) and one worker (64 MiB) "
                "after 10 % headroom"
            ),
        ),
        (
            {"name": "a", "tier": 1, "runtime": "python", "min": 118, "max": 118, "oomd": True},
            "min",
            "the first limit that acts, 106 MiB",
        ),
        (
            {"name": "a", "tier": 1, "runtime": "python", "min": 100, "max": 100, "per_worker": 80},
            "min",
            "leaves 90 MiB",
        ),
        (
            {"name": "a", "tier": 1, "runtime": "go", "min": 1, "max": 1},
            "min",
            "1 MiB leaves no whole MiB for GOMEMLIMIT at 0.9",
        ),
        (
            {"name": "a", "tier": 1, "runtime": "go", "min": 100, "max": 100, "gomemlimit": "91M"},
            "gomemlimit",
            "91 MiB is above 90 MiB, 0.9 x the 100 MiB limit that acts first",
        ),
        ({"name": "a", "tier": 0, "min": 1, "limit_req_clients": 100000}, "limit_req_clients", "12500k zone"),
        (
            {"name": "a", "tier": 1, "runtime": "go", "min": 2, "max": 2, "reassembly": {"share": 0.0009}},
            "reassembly",
            "less than one 2048-byte page",
        ),
        ({"name": "a", "tier": 1, "min": 64, "mni": 64}, "mni", "accepted keys: name, tier"),
    ],
)
def test_service_refusals_name_service_and_key(service, key, fragment):
    message = refusal(HOST_1G, [service])
    assert_names(message, service["name"], key)
    assert fragment in message


@pytest.mark.parametrize(
    ("services", "name", "unit"),
    [
        (
            [{"name": "nginx", "tier": 0, "min": 32}, {"name": "nginx.service", "tier": 1, "min": 64}],
            "nginx.service",
            "nginx.service",
        ),
        (
            [{"name": "sshd", "tier": 0, "min": 16}, {"name": "ssh.service", "tier": 0, "min": 16}],
            "ssh.service",
            "ssh.service",
        ),
        ([{"name": "app", "tier": 1, "min": 64}, {"name": "app", "tier": 0, "min": 16}], "app", "app.service"),
    ],
)
def test_two_entries_for_one_unit_are_refused(services, name, unit):
    message = refusal(HOST_1G, services)
    assert_names(message, name, "name")
    assert f"same unit ({unit})" in message and "items 1 and 2" in message


def test_python_workers_at_the_boundary():
    # 0.9 x 107 = 96.3 >= 32 + 64
    assert build_plan(HOST_1G, [app(runtime="python", min=107, max=107)])["services"]["app"]["workers"] == 1
    # MemoryHigh floor(0.9 x 119) = 107
    assert build_plan(HOST_1G, [app(runtime="python", min=119, max=119, oomd=True)])["services"]["app"]["workers"] == 1


@pytest.mark.parametrize(
    ("reserve", "fragment"),
    [
        ("1G", "not below the effective memory 1024 MiB"),
        (2048, "not below"),
        (0, "is zero"),
        ("x", "cannot parse"),
        (True, "not a size"),
        ("9" * 400 + "M", "too large"),
        ("32.5", "cannot parse"),
    ],
)
def test_bad_reserve_is_refused(reserve, fragment):
    message = refusal(HOST_1G, ACCEPTANCE_SERVICES, reserve=reserve)
    assert message.startswith("memory_plan: option 'reserve': ")
    assert fragment in message


def test_default_reserve_above_a_tiny_host_is_refused():
    assert refusal(host(80), []).startswith("memory_plan: option 'reserve': default reserve 118 MiB")


@pytest.mark.parametrize("option", ["memory_high_ratio", "gomemlimit_ratio"])
@pytest.mark.parametrize("value", [0, 1, 1.5, -0.1, "0.9", True, float("nan")])
def test_bad_ratios_are_refused(option, value):
    assert refusal(HOST_1G, ACCEPTANCE_SERVICES, **{option: value}).startswith(f"memory_plan: option '{option}': ")


def test_gomemlimit_ratio_is_at_most_0_9():
    assert refusal(HOST_1G, [], gomemlimit_ratio=0.95).startswith("memory_plan: option 'gomemlimit_ratio': ")
    assert build_plan(HOST_1G, [], gomemlimit_ratio=0.9, memory_high_ratio=0.99)["services"] == {}


@pytest.mark.parametrize("cpus", [0, -1, "2", True])
def test_bad_cpus_is_refused(cpus):
    assert refusal(HOST_1G, ACCEPTANCE_SERVICES, cpus=cpus).startswith("memory_plan: option 'cpus': ")


@pytest.mark.parametrize("swap", ["zram", ["zram"], {"backend": "zram", "size": 1}])
def test_bad_swap_option_is_refused(swap):
    assert refusal(HOST_1G, [], swap=swap).startswith("memory_plan: option 'swap': ")


def test_unknown_swap_backend_is_refused():
    assert refusal(HOST_1G, [], swap={"backend": "zrm"}).startswith("memory_plan: option 'swap': ")


@pytest.mark.parametrize(
    "facts",
    ["1024", {}, {"memory": 1}, {"effective_memory_bytes": "1G"}, {"effective_memory_bytes": 0}, {"memtotal_mb": True}],
)
def test_bad_facts_are_refused(facts):
    assert refusal(facts, ACCEPTANCE_SERVICES).startswith("memory_plan: facts: ")


def test_effective_memory_above_its_cgroup_limit_is_refused():
    facts = {"effective_memory_bytes": 1024 * MIB, "memtotal_bytes": 2048 * MIB, "cgroup_memory_limit_bytes": 512 * MIB}
    message = refusal(facts, [])
    assert (
        message.startswith("memory_plan: facts: key 'effective_memory_bytes'")
        and "cgroup_memory_limit_bytes" in message
    )


def test_python_service_without_cpu_count_needs_the_cpus_option():
    facts = {"memtotal_mb": 1024}
    assert refusal(facts, ACCEPTANCE_SERVICES).startswith("memory_plan: option 'cpus': ")
    # plain facts: the same 178 MiB reserve; min(2 x 2 + 1, 10)
    assert build_plan(facts, ACCEPTANCE_SERVICES, cpus=2)["services"]["app"]["workers"] == 5
    # no python service: no CPU count needed
    assert build_plan(facts, ACCEPTANCE_SERVICES[1:])["summary"]["cpus"] == 1


# ---------------------------------------------------------------- facts forms and options


def test_facts_forms():
    module_facts = {
        "effective_memory_bytes": 512 * MIB,
        "memtotal_bytes": 1024 * MIB,
        "cgroup_memory_limit_bytes": 512 * MIB,
        "memory_source": "cgroup",
        "swap_total_bytes": 256 * MIB,
        "cpus": 2,
    }
    nested = build_plan({"smallvps_memory": module_facts, "memtotal_mb": 4096}, [])
    summary = nested["summary"]
    assert (summary["effective_memory_mb"], summary["memtotal_mb"], summary["cgroup_memory_limit_bytes"]) == (
        512,
        1024,
        512 * MIB,
    )
    assert (summary["source"], summary["cpus"], summary["reserve_mb"], summary["pool_mb"]) == ("cgroup", 2, 112, 400)
    assert summary["watermarks_source"] == "none inside a cgroup limit"
    assert nested["warnings"] == []

    plain = build_plan({"memtotal_mb": 2048, "swaptotal_mb": 512, "processor_nproc": 2}, [])
    summary = plain["summary"]
    assert (summary["source"], summary["effective_memory_mb"], summary["cpus"], summary["reserve_mb"]) == (
        "ansible_facts",
        2048,
        2,
        178,
    )
    assert summary["cgroup_memory_limit_bytes"] is None
    assert len(plain["warnings"]) == 1 and "smallvps.hardening.memory_facts" in plain["warnings"][0]


def test_effective_memory_not_whole_mib_is_floored():
    plan = build_plan({"effective_memory_bytes": 1024 * MIB - 1, "cpus": 1}, [])
    assert (
        plan["summary"]["effective_memory_mb"] == 1023 and plan["summary"]["effective_memory_bytes"] == 1024 * MIB - 1
    )
    assert (plan["summary"]["reserve_mb"], plan["summary"]["headroom_mb"]) == (178, 845)


def test_given_reserve_and_zram_swap():
    given = build_plan(HOST_1G, ACCEPTANCE_SERVICES, reserve="300M", swap={"backend": "zram"})["summary"]
    assert (given["reserve_mb"], given["reserve_terms"], given["watermarks_source"], given["swap_backend"]) == (
        300,
        {"given_mb": 300},
        "given",
        "zram",
    )
    zram = build_plan(HOST_1G, ACCEPTANCE_SERVICES, swap={"backend": "zram", "state": "present", "zram_size_mb": 0})
    # 178 + a full 512 MiB zram device: 256 + 0.512 -> 257
    assert zram["summary"]["reserve_mb"] == 435 and zram["summary"]["reserve_terms"]["zram_mb"] == 257
    assert zram["services"]["app"]["memory_max"] == "541M"  # 1024 - 435 - 48


# ---------------------------------------------------------------- built-in tier-0 entries


def test_builtins_appear_first_as_tier0_when_their_unit_exists():
    plan = build_plan(HOST_1G, [], units=HOST_UNITS)
    assert list(plan["services"]) == ["ssh", "nginx"]
    ssh, nginx = plan["services"]["ssh"], plan["services"]["nginx"]
    assert (ssh["tier"], ssh["unit"], ssh["budget_mb"], ssh["processes"], ssh["oom_score_adjust"]) == (
        0,
        "ssh.service",
        16,
        ["sshd"],
        None,
    )
    assert (nginx["tier"], nginx["unit"], nginx["budget_mb"], nginx["processes"]) == (0, "nginx.service", 32, ["nginx"])
    assert plan["summary"]["tier0_mb"] == 48
    with_app = build_plan(HOST_1G, [app(min=64)], units=HOST_UNITS + ["app.service"])
    assert list(with_app["services"]) == ["ssh", "nginx", "app"]
    assert with_app["services"]["app"]["memory_max"] == "798M"


def test_the_memory_metrics_unit_is_a_small_capped_tier1_builtin_when_present_or_to_come():
    # roles/monitoring counts smallvps-memory-metrics.service as to come when its metrics are on: the plan caps the
    # timer's service like any tier-1 service, and systemd_tiering writes the cap.
    units = HOST_UNITS + ["app.service", "smallvps-memory-metrics.service"]
    plan = build_plan(HOST_1G, [app(min=64)], units=units)
    assert list(plan["services"]) == ["ssh", "nginx", "smallvps-memory-metrics", "app"]
    metrics = plan["services"]["smallvps-memory-metrics"]
    assert (metrics["tier"], metrics["unit"], metrics["memory_max"], metrics["memory_swap_max"]) == (
        1,
        "smallvps-memory-metrics.service",
        "16M",
        "0",
    )
    # Its 16 MiB come out of the app's share, and nothing else changes.
    assert plan["services"]["app"]["memory_max"] == "782M"
    assert "smallvps-memory-metrics" not in build_plan(HOST_1G, [app(min=64)], units=units[:-1])["services"]


def test_a_user_sshd_entry_replaces_the_builtin_ssh():
    plan = build_plan(HOST_1G, [{"name": "sshd", "tier": 0, "min": "8M"}], units=HOST_UNITS)
    assert list(plan["services"]) == ["nginx", "sshd"]
    assert [e["name"] for e in plan["services"].values() if e["unit"] == "ssh.service"] == ["sshd"]
    assert plan["services"]["sshd"]["budget_mb"] == 8 and plan["summary"]["tier0_mb"] == 40


def test_a_user_service_whose_unit_is_not_on_the_host_is_refused():
    message = refusal(HOST_1G, [app(min=64)], units=HOST_UNITS)
    assert_names(message, "app", "name")
    assert "unit app.service does not exist on this host" in message


def test_bad_units_option_is_refused():
    assert refusal(HOST_1G, [], units="ssh.service").startswith("memory_plan: option 'units': ")


# ---------------------------------------------------------------- sharing the pool


def test_weights_share_the_pool():
    services = [{"name": "a", "tier": 1, "min": 32, "weight": 2}, {"name": "b", "tier": 1, "min": 32}]
    plan = build_plan(host(1024), services, reserve="424M")
    assert (plan["services"]["a"]["budget_mb"], plan["services"]["b"]["budget_mb"]) == (400, 200)


def test_water_filling_pins_max_and_min_and_reshares():
    # pool 600: by weight a=200, b=200, c=200; a is capped at 100, b needs 300, c gets the rest.
    assert share_by_weight(600, [(10, 100, 1), (300, None, 1), (10, None, 1)]) == [100, 300, 200]


def test_exact_fit_gives_everyone_their_minimum():
    assert share_by_weight(100, [(60, None, 1), (40, 90, 3)]) == [60, 40]
    assert share_by_weight(5, []) == []


def test_all_capped_leaves_headroom():
    services = [{"name": "a", "tier": 1, "min": 32, "max": 64}, {"name": "b", "tier": 1, "min": 32, "max": "100M"}]
    plan = build_plan(HOST_1G, services)
    assert (plan["services"]["a"]["memory_max"], plan["services"]["b"]["memory_max"]) == ("64M", "100M")
    assert (plan["summary"]["allocated_mb"], plan["summary"]["headroom_mb"]) == (164, 846 - 164)


# ---------------------------------------------------------------- per-runtime values and extras


def test_go_service_values():
    plan = build_plan(
        HOST_1G, [{"name": "api", "tier": 1, "runtime": "go", "min": 64, "max": 200}], gomemlimit_ratio=0.8
    )
    api = plan["services"]["api"]
    assert (api["memory_max"], api["gomemlimit"], api["gomemlimit_bytes"], api["workers"]) == (
        "200M",
        "160MiB",
        160 * MIB,
        None,
    )
    oomd = build_plan(HOST_1G, [{"name": "api", "tier": 1, "runtime": "go", "min": 64, "max": 200, "oomd": True}])
    # MemoryHigh 180, GOMEMLIMIT floor(0.9 x 180) = 162
    assert (oomd["services"]["api"]["memory_high"], oomd["services"]["api"]["gomemlimit"]) == ("180M", "162MiB")
    explicit = build_plan(
        HOST_1G, [{"name": "api", "tier": 1, "runtime": "go", "min": 100, "max": 100, "gomemlimit": "90M"}]
    )
    assert explicit["services"]["api"]["gomemlimit"] == "90MiB"


def test_tier0_and_tier2_go_services_get_no_gomemlimit_from_an_estimate():
    plan = build_plan(
        HOST_1G,
        [
            {"name": "proxy", "tier": 0, "runtime": "go", "min": 50},
            {"name": "batch", "tier": 2, "runtime": "go", "min": 50},
        ],
    )
    assert plan["services"]["proxy"]["gomemlimit"] is None and plan["services"]["batch"]["gomemlimit"] is None
    given = build_plan(HOST_1G, [{"name": "proxy", "tier": 0, "runtime": "go", "min": 50, "gomemlimit": "40M"}])
    assert (given["services"]["proxy"]["gomemlimit"], given["services"]["proxy"]["memory_max"]) == ("40MiB", None)


def test_python_workers_follow_memory_and_cpus():
    services = [
        {"name": "app", "tier": 1, "runtime": "python", "min": 96, "max": 400, "per_worker": "48M", "master": "20M"}
    ]
    # floor((0.9 x 400 - 20) / 48) = 7
    assert build_plan(host(1024, cpus=8), services)["services"]["app"]["workers"] == 7
    assert build_plan(host(1024, cpus=1), services)["services"]["app"]["workers"] == 3
    assert build_plan(host(1024, cpus=8), services, cpus=2)["services"]["app"]["workers"] == 5


def test_oom_score_adjust_override():
    plan = build_plan(
        HOST_1G,
        [
            {"name": "sshd", "tier": 0, "min": 16, "oom_score_adjust": -1000},
            {"name": "report", "tier": 2, "min": 8, "oom_score_adjust": 500},
        ],
    )
    assert (plan["services"]["sshd"]["oom_score_adjust"], plan["services"]["report"]["oom_score_adjust"]) == (
        -1000,
        500,
    )


@pytest.mark.parametrize(
    ("clients", "size", "size_bytes"),
    [(1, "32k", 32768), (256, "32k", 32768), (257, "33k", 33792), (10000, "1250k", 1280000)],
)
def test_limit_req_zone_size(clients, size, size_bytes):
    plan = build_plan(HOST_1G, [{"name": "nginx", "tier": 0, "min": 32, "limit_req_clients": clients}])
    assert (plan["services"]["nginx"]["limit_req_zone_size"], plan["services"]["nginx"]["limit_req_zone_bytes"]) == (
        size,
        size_bytes,
    )


def test_extras_only_when_declared():
    plan = build_plan(HOST_1G, ACCEPTANCE_SERVICES)
    for key in (
        "limit_req_zone_size",
        "limit_req_zone_bytes",
        "introspection_max_cost",
        "max_buffered_pages_total",
        "max_buffered_pages_per_connection",
    ):
        assert all(key not in entry for entry in plan["services"].values())


def test_introspection_max_cost_from_the_first_limit_that_acts():
    oathkeeper = {"name": "oathkeeper", "tier": 1, "runtime": "go", "min": 64, "max": 128, "introspection_cache": True}
    services = [oathkeeper, {"name": "tiny", "tier": 0, "runtime": "go", "min": 8, "introspection_cache": True}]
    plan = build_plan(HOST_1G, services)
    assert plan["services"]["oathkeeper"]["introspection_max_cost"] == 6355  # 0.1 x 128 MiB / 2112
    assert plan["services"]["tiny"]["introspection_max_cost"] == 1000
    # MemoryHigh floor(0.9 x 128) = 115: 0.1 x 115 MiB / 2112 = 5709.6
    assert (
        build_plan(HOST_1G, [dict(oathkeeper, oomd=True)])["services"]["oathkeeper"]["introspection_max_cost"] == 5709
    )
    assert (
        "introspection_max_cost"
        not in build_plan(HOST_1G, [dict(oathkeeper, introspection_cache=False)])["services"]["oathkeeper"]
    )


def test_reassembly_pages():
    capture = {"name": "capture", "tier": 1, "runtime": "go", "min": 64, "max": 128, "reassembly": True}
    services = [capture, dict(capture, name="capture2", reassembly={"share": 0.5})]
    plan = build_plan(HOST_1G, services)
    assert (
        plan["services"]["capture"]["max_buffered_pages_total"],
        plan["services"]["capture"]["max_buffered_pages_per_connection"],
    ) == (16384, 256)
    assert (
        plan["services"]["capture2"]["max_buffered_pages_total"],
        plan["services"]["capture2"]["max_buffered_pages_per_connection"],
    ) == (32768, 512)
    # MemoryHigh 115: 115 MiB / 4 / 2048 = 14720 pages, 230 per connection
    oomd = build_plan(HOST_1G, [dict(capture, oomd=True)])["services"]["capture"]
    assert (oomd["max_buffered_pages_total"], oomd["max_buffered_pages_per_connection"]) == (14720, 230)


# ---------------------------------------------------------------- inputs are not mutated


def test_inputs_are_not_mutated():
    facts = {
        "smallvps_memory": {"effective_memory_bytes": 1024 * MIB, "cpus": 2, "min_free_bytes": 16 * MIB},
        "memtotal_mb": 1024,
    }
    services = [
        {
            "name": "app",
            "tier": 1,
            "runtime": "python",
            "min": "256M",
            "per_worker": "64M",
            "processes": ["gunicorn"],
            "oomd": True,
        },
        {
            "name": "api",
            "tier": 1,
            "runtime": "go",
            "min": 64,
            "reassembly": {"share": 0.5},
            "introspection_cache": True,
        },
        {"name": "sshd", "tier": 0, "min": "16M"},
        {"name": "nginx", "tier": 0, "min": 32, "limit_req_clients": 1000},
    ]
    units = {"ssh.service": {"state": "running"}, "nginx.service": {}, "app.service": {}, "api.service": {}}
    swap = {"backend": "zram"}  # incomplete on purpose: filling in defaults must not write into it
    # copied BEFORE the call: a copy taken afterwards would hold the mutated values too
    before = copy.deepcopy((facts, services, units, swap))
    build_plan(facts, services, units=units, swap=swap)
    assert (facts, services, units, swap) == before
    assert BUILTIN_SERVICES == BUILTINS_AS_DOCUMENTED


def test_a_plan_shares_nothing_with_the_next_one():
    first = build_plan(HOST_1G, [], units=HOST_UNITS)
    first["services"]["ssh"]["processes"].append("bash")
    first["summary"]["reserve_terms"]["base_mb"] = 0
    second = build_plan(HOST_1G, [], units=HOST_UNITS)
    assert second["services"]["ssh"]["processes"] == ["sshd"]
    assert second["summary"]["reserve_terms"]["base_mb"] == 80


def test_same_input_same_output():
    assert build_plan(HOST_1G, ACCEPTANCE_SERVICES) == build_plan(dict(HOST_1G), copy.deepcopy(ACCEPTANCE_SERVICES))


def test_one_kib_more_memory_never_shrinks_a_service():
    # 531291136 B = 518839 KiB (506 MiB): watermarks 25941 KiB x 1.5 = 37.99 -> 38 MiB, reserve 150
    # 518840 KiB (still 506 MiB): 25942 KiB x 1.5 = 38.001 -> 39 MiB, reserve 151
    small = build_plan({"effective_memory_bytes": 531291136, "cpus": 1}, [app(min=64)])
    big = build_plan({"effective_memory_bytes": 531291136 + 1024, "cpus": 1}, [app(min=64)])
    assert big["services"]["app"]["memory_max_bytes"] >= small["services"]["app"]["memory_max_bytes"]


# ---------------------------------------------------------------- properties

NAMES = [f"svc{i}" for i in range(6)]


def _mb(value) -> int:
    return int(str(value).removesuffix("MiB").removesuffix("M"))


@st.composite
def service_lists(draw):
    """Services that each fit their own limit whatever the pool gives them (at least min):
    a refusal can then only come from the pool, which the test predicts."""
    services = []
    for name in NAMES[: draw(st.integers(0, 6))]:
        tier = draw(st.sampled_from([0, 1, 2]))
        runtime = draw(st.sampled_from(["go", "python", "generic"]))
        service = {"name": name, "tier": tier, "runtime": runtime}
        need = 2  # the smallest limit that leaves a whole MiB of GOMEMLIMIT
        low = 4
        if runtime == "python":
            master, per_worker = draw(st.integers(8, 64)), draw(st.integers(16, 128))
            service["master"] = draw(st.sampled_from([master, f"{master}M"]))
            service["per_worker"] = f"{per_worker}MiB"
            need = math.ceil((master + per_worker) * 10 / 9)  # 0.9 x limit >= master + one worker
            low = math.ceil(need * 10 / 9) + 1  # still >= need as MemoryHigh = floor(0.9 x MemoryMax)
        min_mb = draw(st.integers(low, 1024))
        service["min"] = draw(st.sampled_from([min_mb, f"{min_mb}M", f"{min_mb}MiB", str(min_mb)]))
        smallest_limit = min_mb
        if tier == 1:
            if draw(st.booleans()):
                service["max"] = min_mb + draw(st.integers(0, 2048))
            service["weight"] = draw(st.sampled_from([0.5, 1, 2, 3.5]))
            if draw(st.booleans()):
                service["oomd"] = True
                smallest_limit = math.floor(0.9 * min_mb)
            if draw(st.booleans()):
                service["memory_high"] = smallest_limit = draw(st.integers(need, min_mb - 1))
            swap_max = draw(st.sampled_from([None, 0, "0", "64M"]))
            if swap_max is not None:
                service["swap_max"] = swap_max
        if runtime == "go":
            if draw(st.booleans()):
                service["gomemlimit"] = f"{draw(st.integers(1, math.floor(0.9 * smallest_limit)))}M"
            if draw(st.booleans()):
                service["introspection_cache"] = True
            if draw(st.booleans()):
                service["reassembly"] = draw(st.sampled_from([True, {"share": 0.5}, {"share": 0.1}]))
        if draw(st.booleans()):
            service["limit_req_clients"] = draw(st.integers(1, 8192))
        if draw(st.booleans()):
            service["oom_policy"] = draw(st.sampled_from(["continue", "stop", "kill"]))
        services.append(service)
    return services


def tier1_min_sum(services) -> int:
    return sum(_mb(s["min"]) for s in services if s["tier"] == 1)


def fixed_sum(services) -> int:
    return sum(_mb(s["min"]) for s in services if s["tier"] != 1)


def check_plan(plan: dict, services: list, cpus: int) -> None:
    """Every rule the plan promises, checked on the numbers it returned."""
    entries = plan["services"]
    assert list(entries) == [s["name"] for s in services]
    summary = plan["summary"]
    # the split adds up, in MiB and in bytes
    assert (
        summary["reserve_mb"]
        + summary["tier0_mb"]
        + summary["tier2_mb"]
        + summary["allocated_mb"]
        + summary["headroom_mb"]
    ) == summary["effective_memory_mb"]
    assert (
        summary["pool_mb"]
        == summary["effective_memory_mb"] - summary["reserve_mb"] - summary["tier0_mb"] - summary["tier2_mb"]
    )
    assert summary["headroom_mb"] >= 0
    for key in ("reserve", "tier0", "tier2", "pool", "allocated", "headroom"):
        assert summary[f"{key}_bytes"] == summary[f"{key}_mb"] * MIB
    assert summary["tier0_mb"] == sum(_mb(s["min"]) for s in services if s["tier"] == 0)
    # system.slice protects what tier 0 protects: a unit's memory.low reaches only as far as its parent's
    assert summary["system_slice_memory_low_mb"] == summary["tier0_mb"]
    assert summary["system_slice_memory_low_bytes"] == summary["tier0_mb"] * MIB
    assert summary["tier2_mb"] == sum(_mb(s["min"]) for s in services if s["tier"] == 2)
    assert summary["allocated_mb"] == sum(e["budget_mb"] for e in entries.values() if e["tier"] == 1)
    throttled, oomd_unswappable = [], []
    for source in services:
        entry = entries[source["name"]]
        min_mb = _mb(source["min"])
        limit = entry["limit_bytes"]
        # tier 0 only: MemoryLow = its estimate, and systemd-oomd takes it last
        protected = entry["tier"] == 0
        assert (entry["memory_low"], entry["memory_low_bytes"]) == (
            (f"{min_mb}M", min_mb * MIB) if protected else (None, None)
        )
        assert entry["managed_oom_preference"] == ("avoid" if protected else None)
        # OOMPolicy: as given, else continue for a python (pre-fork) service outside tier 2, else systemd's own
        default_policy = "continue" if source.get("runtime") == "python" and entry["tier"] != 2 else None
        assert entry["oom_policy"] == source.get("oom_policy", default_policy)
        assert limit == entry["limit_mb"] * MIB
        if entry["tier"] == 1:
            assert min_mb <= entry["budget_mb"] <= _mb(source.get("max", 10**9))
            assert (entry["memory_max"], entry["memory_max_bytes"]) == (
                f"{entry['budget_mb']}M",
                entry["budget_mb"] * MIB,
            )
            # every tier-1 entry carries MemorySwapMax, 0 unless given
            assert entry["memory_swap_max"] is not None
            assert entry["memory_swap_max_bytes"] == _mb(source.get("swap_max", 0)) * MIB
            # MemoryHigh only with oomd or on request, always below MemoryMax
            asked = bool(source.get("oomd")) or "memory_high" in source
            assert (entry["memory_high"] is not None) == asked
            assert (entry["managed_oom_memory_pressure"] == "kill") == bool(source.get("oomd"))
            if asked:
                assert 0 < entry["memory_high_bytes"] < entry["memory_max_bytes"]
                if "memory_high" in source:
                    assert entry["memory_high_bytes"] == source["memory_high"] * MIB
                else:  # floor(0.9 x MemoryMax)
                    assert (
                        10 * entry["memory_high_bytes"]
                        <= 9 * entry["memory_max_bytes"]
                        < 10 * entry["memory_high_bytes"] + 10 * MIB
                    )
                assert limit == entry["memory_high_bytes"]
            else:
                assert limit == entry["memory_max_bytes"]
            if not source.get("oomd") and "memory_high" in source and not _mb(source.get("swap_max", 0)):
                throttled.append(source["name"])
            if source.get("oomd") and not _mb(source.get("swap_max", 0)):
                oomd_unswappable.append(source["name"])
        else:
            for key in ("memory_max", "memory_high", "memory_swap_max", "managed_oom_memory_pressure", "restart_sec"):
                assert entry[key] is None
            assert limit == entry["budget_bytes"] == min_mb * MIB
        # python: master + workers x per_worker within 0.9 of the first limit that acts, and no fewer workers than fit
        if entry["runtime"] == "python":
            master, per_worker = _mb(source["master"]) * MIB, _mb(source["per_worker"]) * MIB
            workers = entry["workers"]
            assert 1 <= workers <= 2 * cpus + 1
            assert 10 * (master + workers * per_worker) <= 9 * limit
            assert master + workers * per_worker <= limit
            assert workers == 2 * cpus + 1 or 10 * (master + (workers + 1) * per_worker) > 9 * limit
        else:
            assert entry["workers"] is None
        # go: GOMEMLIMIT within 0.9 of the first limit that acts; tier 0/2 only when given
        if entry["runtime"] == "go" and (entry["tier"] == 1 or "gomemlimit" in source):
            assert re.fullmatch(r"[1-9]\d*MiB", entry["gomemlimit"])
            assert entry["gomemlimit_bytes"] == int(entry["gomemlimit"][:-3]) * MIB
            assert 10 * entry["gomemlimit_bytes"] <= 9 * limit
            if "gomemlimit" in source:
                assert entry["gomemlimit_bytes"] == _mb(source["gomemlimit"]) * MIB
            else:
                assert 10 * entry["gomemlimit_bytes"] + 10 * MIB > 9 * limit  # floor(0.9 x limit)
        else:
            assert entry["gomemlimit"] is None and entry["gomemlimit_bytes"] is None
        assert ("limit_req_zone_bytes" in entry) == ("limit_req_clients" in source)
        assert ("introspection_max_cost" in entry) == bool(source.get("introspection_cache"))
        assert ("max_buffered_pages_total" in entry) == bool(source.get("reassembly"))
        if "limit_req_zone_bytes" in entry:
            assert entry["limit_req_zone_bytes"] <= limit
    assert [w.split("'")[1] for w in plan["warnings"]] == throttled + oomd_unswappable


PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(
    effective_mb=st.integers(64, 16384),
    services=service_lists(),
    cpus=st.integers(1, 16),
    reserve_mb=st.integers(1, 2048),
)
def test_plan_with_a_given_reserve_fits_exactly_when_predicted(effective_mb, services, cpus, reserve_mb):
    facts = host(effective_mb, cpus)
    pool = effective_mb - reserve_mb - fixed_sum(services)
    if reserve_mb >= effective_mb:
        event("refused: reserve")
        assert refusal(facts, services, reserve=f"{reserve_mb}M").startswith("memory_plan: option 'reserve': ")
    elif pool < 0 or pool < tier1_min_sum(services):
        event("refused: pool")
        message = refusal(facts, services, reserve=f"{reserve_mb}M")
        assert f"= pool {pool} MiB" in message and f"missing {tier1_min_sum(services) - pool} MiB" in message
        assert " key 'min': the minimums do not fit" in message
    else:
        event("planned")
        plan = build_plan(facts, services, reserve=f"{reserve_mb}M")
        assert plan["summary"]["reserve_mb"] == reserve_mb
        check_plan(plan, services, cpus)


@PROPERTY_SETTINGS
@given(
    effective_mb=st.integers(64, 16384),
    services=service_lists(),
    cpus=st.integers(1, 16),
    swap=st.sampled_from([None, {"backend": "file"}, {"backend": "zram"}, {"backend": "both", "zram_size_mb": 256}]),
)
def test_plan_with_the_default_reserve_fits_or_is_refused(effective_mb, services, cpus, swap):
    facts = host(effective_mb, cpus)
    try:
        plan = build_plan(facts, services, swap=swap)
    except MemoryBudgetError as error:
        message = str(error)
        if message.startswith("memory_plan: option 'reserve': "):
            event("refused: reserve")
            return
        match = re.search(
            r"effective (\d+) MiB - reserve (\d+) MiB .* = pool (-?\d+) MiB.*; missing (\d+) MiB", message
        )
        assert match, message
        effective, reserve, pool, missing = map(int, match.groups())
        assert effective == effective_mb and pool == effective - reserve - fixed_sum(services)
        assert missing == tier1_min_sum(services) - pool > 0
        event("refused: pool")
        return
    event("planned")
    summary = plan["summary"]
    assert summary["reserve_mb"] + fixed_sum(services) + tier1_min_sum(services) <= effective_mb
    check_plan(plan, services, cpus)


@PROPERTY_SETTINGS
@given(
    effective_mb=st.integers(64, 16384),
    more_mb=st.integers(0, 8192),
    services=service_lists(),
    cpus=st.integers(1, 16),
    swap=st.sampled_from([None, {"backend": "zram"}]),
)
def test_more_memory_never_shrinks_a_service(effective_mb, more_mb, services, cpus, swap):
    try:
        small = build_plan(host(effective_mb, cpus), services, swap=swap)["services"]
    except MemoryBudgetError:
        event("small host refused")
        return
    event("compared")
    big = build_plan(host(effective_mb + more_mb, cpus), services, swap=swap)["services"]
    growing = (
        "budget_bytes",
        "limit_bytes",
        "memory_max_bytes",
        "memory_high_bytes",
        "gomemlimit_bytes",
        "workers",
        "introspection_max_cost",
        "max_buffered_pages_total",
        "max_buffered_pages_per_connection",
    )
    for name, entry in small.items():
        for key in growing:
            if entry.get(key) is not None:
                assert big[name][key] >= entry[key], (name, key)
        if entry["tier"] != 1:
            assert big[name] == entry


@st.composite
def demands_and_pools(draw):
    demands = []
    for _ in range(draw(st.integers(1, 6))):
        low = draw(st.integers(1, 512))
        high = None if draw(st.booleans()) else low + draw(st.integers(0, 1024))
        demands.append((low, high, draw(st.sampled_from([0.5, 1, 2, 3.5]))))
    floor = sum(low for low, _, _ in demands)
    small = floor + draw(st.integers(0, 4096))
    return demands, small, small + draw(st.integers(0, 4096))


@PROPERTY_SETTINGS
@given(case=demands_and_pools())
def test_water_filling_stays_in_bounds_fills_the_pool_and_never_shrinks_a_share(case):
    demands, small_pool, big_pool = case
    demands = [(low, high, Fraction(weight)) for low, high, weight in demands]
    small, big = share_by_weight(small_pool, demands), share_by_weight(big_pool, demands)
    for pool, shares in ((small_pool, small), (big_pool, big)):
        assert all(
            low <= share <= (high if high is not None else pool)
            for share, (low, high, _) in zip(shares, demands, strict=True)
        )
        if all(high is not None for _, high, _ in demands) and sum(high for _, high, _ in demands) <= pool:
            assert shares == [high for _, high, _ in demands]
        else:
            # the whole pool, less at most one MiB per service for rounding down
            assert pool - len(demands) < sum(shares) <= pool
    assert all(b >= s for s, b in zip(small, big, strict=True))


# ---------------------------------------------------------------- swap_zram_size_mb read as the swap role reads it


def zram_plan(zram_size_mb):
    return build_plan(HOST_1G, ACCEPTANCE_SERVICES, swap={"backend": "zram", "zram_size_mb": zram_size_mb})["summary"]


@pytest.mark.parametrize("given", ["512", " 512 ", "512.0", 512.0])
def test_zram_size_as_the_swap_role_spec_converts_it(given):
    # `-e swap_zram_size_mb=512` is a string; the swap role's spec (type int) turns it into 512
    assert zram_plan(given) == zram_plan(512)
    assert zram_plan(512)["reserve_terms"]["zram_mb"] == 257


@pytest.mark.parametrize("given", ["512", "512.0", 512.0, "0", "-1", "512.5", 512.5, "512M", "abc", "", True, [512]])
def test_zram_size_accepted_exactly_when_the_swap_role_spec_accepts_it(given):
    from ansible.module_utils.common.validation import check_type_int

    try:
        spec_value = check_type_int(given)
    except TypeError:
        spec_value = None
    spec_accepts = spec_value is not None and not isinstance(given, bool) and spec_value >= 0
    try:
        zram_plan(given)
    except MemoryBudgetError as error:
        assert not spec_accepts, str(error)
        assert str(error).startswith("memory_plan: option 'swap': key 'zram_size_mb' is ")
        assert "(or its decimal string)" in str(error)
    else:
        assert spec_accepts


# ---------------------------------------------------------------- HAProxy maxconn: under L, not the budget


def test_haproxy_maxconn_is_sized_under_the_first_limit_that_acts():
    # docs/memory-budget.md#haproxy-maxconn: L is MemoryHigh when the entry has one, not MemoryMax (the budget)
    entry = {"name": "haproxy", "tier": 1, "min": "64M", "max": "128M", "tune_bufsize": 16384}
    capped = build_plan(HOST_1G, [entry])["services"]["haproxy"]
    throttled = build_plan(HOST_1G, [{**entry, "memory_high": "96M"}])["services"]["haproxy"]
    assert (capped["budget_mb"], capped["limit_mb"], capped["maxconn"]) == (128, 128, 112 * MIB // 53248)
    assert (throttled["budget_mb"], throttled["limit_mb"], throttled["maxconn"]) == (128, 96, 80 * MIB // 53248)
