# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.smallvps.hardening.plugins.module_utils.memory_budget import (
    MIB,
    MemoryBudgetError,
    build_plan,
    default_reserve_mb,
    parse_size,
    render_table,
    share_by_weight,
)

HOST_1G = {"effective_memory_bytes": 1024 * MIB, "cpus": 1}
ACCEPTANCE_SERVICES = [
    {"name": "app", "tier": 1, "runtime": "python", "min": "256M", "per_worker": "64M"},
    {"name": "nginx", "tier": 0, "min": "32M"},
    {"name": "sshd", "tier": 0, "min": "16M"},
]


def host(mb: int, cpus: int = 1) -> dict:
    return {"effective_memory_bytes": mb * MIB, "cpus": cpus}


def refusal(facts, services, **options) -> str:
    with pytest.raises(MemoryBudgetError) as caught:
        build_plan(facts, services, **options)
    return str(caught.value)


def assert_names(message: str, service: str, key: str) -> None:
    assert message.startswith(f"memory_budget: service '{service}' key '{key}': "), message


# ---------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (64, 64 * MIB),
        ("64", 64 * MIB),
        ("64M", 64 * MIB),
        ("64MB", 64 * MIB),
        ("64m", 64 * MIB),
        ("1G", 1024 * MIB),
        ("1.5G", 1536 * MIB),
        ("512MiB", 512 * MIB),
        ("2GiB", 2048 * MIB),
        ("1.5GiB", 1536 * MIB),
        ("64K", 64 * 1024),
        ("64KiB", 64 * 1024),
        ("64KB", 64 * 1024),
        (" 128M ", 128 * MIB),
    ],
)
def test_parse_size_accepts(value, expected):
    assert parse_size(value, "memory_budget: service 'x' key 'min'") == expected


@pytest.mark.parametrize("value", [0, -1, "0", "0M", "-5M", "abc", "64Mb", "M", "", True, False, 1.5, None, [64]])
def test_parse_size_refuses(value):
    with pytest.raises(MemoryBudgetError) as caught:
        parse_size(value, "memory_budget: service 'x' key 'min'")
    message = str(caught.value)
    assert message.startswith("memory_budget: service 'x' key 'min': ")
    assert "'64M'" in message and "MiB" in message


def test_sizes_round_up_to_whole_mib():
    plan = build_plan(HOST_1G, [{"name": "tiny", "tier": 0, "min": "64K"}])
    assert plan["services"]["tiny"]["budget_mb"] == 1
    assert plan["summary"]["tier0_mb"] == 1


# ---------------------------------------------------------------- acceptance


def test_one_gib_acceptance_case():
    plan = build_plan(HOST_1G, ACCEPTANCE_SERVICES)
    app = plan["services"]["app"]
    assert abs(app["memory_max_bytes"] - 600 * MIB) <= 60 * MIB
    assert app["memory_max"] == "605M"
    assert app["memory_high"] == "544M"
    assert app["workers"] == 3
    assert app["restart"] == "always"
    assert (app["restart_sec"], app["start_limit_interval_sec"], app["start_limit_burst"]) == (3, 300, 20)
    summary = plan["summary"]
    assert (summary["reserve_mb"], summary["tier0_mb"], summary["pool_mb"], summary["headroom_mb"]) == (371, 48, 605, 0)
    assert summary["source"] == "memory_facts"
    assert plan["warnings"] == []
    assert list(plan["services"]) == ["app", "nginx", "sshd"]
    assert all(plan["services"][name]["name"] == name for name in plan["services"])


def test_tier0_and_tier2_are_not_capped():
    services = ACCEPTANCE_SERVICES + [{"name": "backup", "tier": 2, "min": 40}]
    plan = build_plan(HOST_1G, services)
    for name in ("nginx", "sshd", "backup"):
        entry = plan["services"][name]
        assert entry["memory_max"] is None and entry["memory_high"] is None
        assert entry["restart_sec"] is None and entry["start_limit_burst"] is None
    assert plan["services"]["nginx"]["oom_score_adjust"] == -500
    assert plan["services"]["nginx"]["restart"] == "on-failure"
    assert plan["services"]["backup"]["oom_score_adjust"] is None
    assert plan["services"]["backup"]["restart"] is None
    assert plan["summary"]["tier2_mb"] == 40
    assert plan["services"]["app"]["memory_max"] == "565M"


def test_256_mib_host_with_too_many_minimums_is_refused_with_missing_amount():
    services = [
        {"name": "sshd", "tier": 0, "min": 16},
        {"name": "nginx", "tier": 0, "min": 32},
        {"name": "app", "tier": 1, "runtime": "python", "min": "128M"},
        {"name": "worker", "tier": 1, "min": "64M"},
    ]
    message = refusal(host(256), services)
    # 256 - (64 + 76) - 48 = 68 MiB of pool for 192 MiB of tier-1 minimums.
    assert "missing 124 MiB" in message
    assert "pool 68 MiB" in message and "reserve 140 MiB" in message
    assert "'app'" in message and "'worker'" in message and "key 'min'" in message
    assert message.startswith("memory_budget: service ")


def test_tier0_estimates_alone_can_exhaust_the_host():
    message = refusal(host(256), [{"name": "sshd", "tier": 0, "min": 200}])
    assert "missing" in message and "'sshd'" in message and "key 'min'" in message


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("service", "key", "fragment"),
    [
        ({"name": "a", "tier": 3, "min": 64}, "tier", "0 (protect)"),
        ({"name": "a", "tier": "1", "min": 64}, "tier", "one of 0"),
        ({"name": "a", "tier": True, "min": 64}, "tier", "one of 0"),
        ({"name": "a", "min": 64}, "tier", "required"),
        ({"name": "a", "tier": 1, "runtime": "rust", "min": 64}, "runtime", "go, python, generic"),
        ({"name": "a", "tier": 1, "min": "256M", "max": "128M"}, "min", "min must be <= max"),
        ({"name": "a", "tier": 1, "min": 0}, "min", "zero or negative"),
        ({"name": "a", "tier": 1, "min": -64}, "min", "zero or negative"),
        ({"name": "a", "tier": 1, "min": "lots"}, "min", "cannot parse"),
        ({"name": "a", "tier": 1}, "min", "required"),
        ({"name": "a", "tier": 1, "min": 64, "max": "0M"}, "max", "zero or negative"),
        ({"name": "a", "tier": 0, "min": 32, "max": 64}, "max", "never capped"),
        ({"name": "a", "tier": 2, "min": 32, "max": 64}, "max", "tier 1"),
        ({"name": "a", "tier": 0, "min": 32, "weight": 2}, "weight", "tier 1"),
        ({"name": "a", "tier": 1, "min": 64, "mni": 64}, "mni", "accepted keys: name, tier"),
        ({"name": "a", "tier": 1, "runtime": "python", "min": 64}, "min", "at least 96 MiB"),
        ({"name": "a", "tier": 1, "runtime": "python", "min": 100, "per_worker": 80}, "min", "at least 112 MiB"),
        ({"name": "a", "tier": 1, "runtime": "go", "min": 64, "per_worker": 8}, "per_worker", "runtime 'python'"),
        ({"name": "a", "tier": 1, "runtime": "python", "min": 128, "reassembly": True}, "reassembly", "runtime 'go'"),
        ({"name": "a", "tier": 1, "min": 64, "introspection_cache": True}, "introspection_cache", "runtime 'go'"),
        ({"name": "a", "tier": 1, "runtime": "go", "min": 64, "introspection_cache": "yes"}, "introspection_cache", "boolean"),
        ({"name": "a", "tier": 1, "runtime": "go", "min": 64, "reassembly": {"share": 0.6}}, "reassembly", "<= 0.5"),
        ({"name": "a", "tier": 1, "runtime": "go", "min": 64, "reassembly": {"shares": 0.2}}, "reassembly", "accepted: share"),
        ({"name": "a", "tier": 1, "min": 64, "weight": 0}, "weight", "positive number"),
        ({"name": "a", "tier": 1, "min": 64, "weight": True}, "weight", "positive number"),
        ({"name": "a", "tier": 1, "min": 64, "oom_score_adjust": 2000}, "oom_score_adjust", "-1000..1000"),
        ({"name": "a", "tier": 1, "min": 64, "limit_req_clients": 0}, "limit_req_clients", "positive integer"),
        ({"name": "a", "tier": 0, "min": 1, "limit_req_clients": 100000}, "limit_req_clients", "12500k zone"),
        ({"name": "a", "tier": 1, "min": 1}, "min", "MemoryHigh"),
        ({"name": "", "tier": 1, "min": 64}, "name", "non-empty string"),
    ],
)
def test_service_refusals_name_service_and_key(service, key, fragment):
    message = refusal(HOST_1G, [service])
    label = service.get("name") or "#1"
    assert_names(message, label, key)
    assert fragment in message


def test_missing_name_is_reported_by_position():
    message = refusal(HOST_1G, [{"name": "ok", "tier": 0, "min": 16}, {"tier": 1, "min": 64}])
    assert_names(message, "#2", "name")


def test_unknown_key_is_reported_before_missing_required_keys():
    message = refusal(HOST_1G, [{"name": "app", "tierr": 1, "min": 64}])
    assert_names(message, "app", "tierr")


def test_duplicate_names_are_refused():
    message = refusal(HOST_1G, [{"name": "app", "tier": 1, "min": 64}, {"name": "app", "tier": 0, "min": 16}])
    assert_names(message, "app", "name")
    assert "duplicate" in message and "items 1 and 2" in message


def test_services_must_be_a_list_of_mappings():
    assert refusal(HOST_1G, "app").startswith("memory_budget: option 'services': ")
    assert "item 1" in refusal(HOST_1G, ["app"])


@pytest.mark.parametrize(
    ("reserve", "fragment"),
    [("1G", "not below the effective memory 1024 MiB"), (2048, "not below"), (0, "zero or negative"), ("x", "cannot parse"), (True, "not a size")],
)
def test_bad_reserve_is_refused(reserve, fragment):
    message = refusal(HOST_1G, ACCEPTANCE_SERVICES, reserve=reserve)
    assert message.startswith("memory_budget: option 'reserve': ")
    assert fragment in message


def test_default_reserve_above_a_tiny_host_is_refused():
    message = refusal(host(80), [])
    assert message.startswith("memory_budget: option 'reserve': default reserve 88 MiB")


@pytest.mark.parametrize("option", ["memory_high_ratio", "gomemlimit_ratio"])
@pytest.mark.parametrize("value", [0, 1, 1.5, -0.1, "0.9", True])
def test_bad_ratios_are_refused(option, value):
    message = refusal(HOST_1G, ACCEPTANCE_SERVICES, **{option: value})
    assert message.startswith(f"memory_budget: option '{option}': ")


@pytest.mark.parametrize("cpus", [0, -1, "2", True])
def test_bad_cpus_is_refused(cpus):
    assert refusal(HOST_1G, ACCEPTANCE_SERVICES, cpus=cpus).startswith("memory_budget: option 'cpus': ")


@pytest.mark.parametrize(
    "facts",
    [
        "1024",
        {},
        {"memory": 1},
        {"effective_memory_bytes": "1G"},
        {"effective_memory_bytes": 0},
        {"memtotal_mb": True},
    ],
)
def test_bad_facts_are_refused(facts):
    assert refusal(facts, ACCEPTANCE_SERVICES).startswith("memory_budget: facts: ")


def test_python_service_without_cpu_count_needs_the_cpus_option():
    facts = {"memtotal_mb": 1024}
    assert refusal(facts, ACCEPTANCE_SERVICES).startswith("memory_budget: option 'cpus': ")
    assert build_plan(facts, ACCEPTANCE_SERVICES, cpus=2)["services"]["app"]["workers"] == 5


# ---------------------------------------------------------------- facts forms


def test_ansible_facts_forms():
    module_facts = {"effective_memory_bytes": 512 * MIB, "memtotal_bytes": 1024 * MIB, "cgroup_memory_limit_bytes": 512 * MIB,
                    "memory_source": "cgroup", "swap_total_bytes": 256 * MIB, "cpus": 2}
    nested = build_plan({"smallvps_memory": module_facts, "memtotal_mb": 4096}, [])
    assert nested["summary"]["effective_memory_mb"] == 512
    assert nested["summary"]["memtotal_mb"] == 1024
    assert nested["summary"]["cgroup_memory_limit_bytes"] == 512 * MIB
    assert nested["summary"]["source"] == "cgroup"
    assert nested["summary"]["swap_total_mb"] == 256
    assert nested["warnings"] == []

    plain = build_plan({"memtotal_mb": 2048, "swaptotal_mb": 512, "processor_nproc": 2}, [])
    assert plain["summary"]["source"] == "ansible_facts"
    assert plain["summary"]["effective_memory_mb"] == 2048
    assert plain["summary"]["swap_total_mb"] == 512
    assert plain["summary"]["cpus"] == 2
    assert plain["summary"]["cgroup_memory_limit_bytes"] is None
    assert len(plain["warnings"]) == 1 and "smallvps.hardening.memory_facts" in plain["warnings"][0]


def test_effective_memory_not_whole_mib_is_floored():
    plan = build_plan({"effective_memory_bytes": 1024 * MIB - 1, "cpus": 1}, [])
    assert plan["summary"]["effective_memory_mb"] == 1023
    assert plan["summary"]["effective_memory_bytes"] == 1024 * MIB - 1


# ---------------------------------------------------------------- sharing


def test_default_reserve_policy():
    assert default_reserve_mb(1024) == 371
    assert default_reserve_mb(256) == 140
    assert default_reserve_mb(8192) == 1024


def test_weights_share_the_pool():
    services = [{"name": "a", "tier": 1, "min": 32, "weight": 2}, {"name": "b", "tier": 1, "min": 32}]
    plan = build_plan(host(1024), services, reserve="424M")
    assert (plan["services"]["a"]["budget_mb"], plan["services"]["b"]["budget_mb"]) == (400, 200)


def test_water_filling_pins_max_and_min_and_reshares():
    # pool 600: by weight a=200, b=200, c=200; a is capped at 100, b needs 300, c gets the rest.
    assert share_by_weight(600, [(10, 100, 1), (300, None, 1), (10, None, 1)]) == [100, 300, 200]


def test_all_capped_leaves_headroom():
    services = [{"name": "a", "tier": 1, "min": 32, "max": 64}, {"name": "b", "tier": 1, "min": 32, "max": "100M"}]
    plan = build_plan(HOST_1G, services)
    assert (plan["services"]["a"]["memory_max"], plan["services"]["b"]["memory_max"]) == ("64M", "100M")
    assert plan["summary"]["allocated_mb"] == 164
    assert plan["summary"]["headroom_mb"] == 653 - 164


def test_exact_fit_gives_everyone_their_minimum():
    assert share_by_weight(100, [(60, None, 1), (40, 90, 3)]) == [60, 40]


# ---------------------------------------------------------------- per-runtime values and extras


def test_go_service_values():
    plan = build_plan(HOST_1G, [{"name": "api", "tier": 1, "runtime": "go", "min": 64, "max": 200}], gomemlimit_ratio=0.8)
    api = plan["services"]["api"]
    assert api["memory_max"] == "200M"
    assert api["gomemlimit"] == "160MiB" and api["gomemlimit_bytes"] == 160 * MIB
    assert api["workers"] is None


def test_tier0_go_service_gets_gomemlimit_from_its_estimate():
    plan = build_plan(HOST_1G, [{"name": "proxy", "tier": 0, "runtime": "go", "min": 50}])
    assert plan["services"]["proxy"]["gomemlimit"] == "45MiB"
    assert plan["services"]["proxy"]["memory_max"] is None


def test_python_workers_follow_memory_and_cpus():
    services = [{"name": "app", "tier": 1, "runtime": "python", "min": 96, "max": 200, "per_worker": "48M", "master": "20M"}]
    assert build_plan(host(1024, cpus=8), services)["services"]["app"]["workers"] == 3  # (200 - 20) // 48
    assert build_plan(host(1024, cpus=1), services)["services"]["app"]["workers"] == 3  # 2 * 1 + 1
    assert build_plan(host(1024, cpus=8), services, cpus=1)["services"]["app"]["workers"] == 3


def test_oom_score_adjust_override():
    plan = build_plan(HOST_1G, [{"name": "sshd", "tier": 0, "min": 16, "oom_score_adjust": -1000}])
    assert plan["services"]["sshd"]["oom_score_adjust"] == -1000


@pytest.mark.parametrize(("clients", "size", "size_bytes"), [(1, "32k", 32768), (256, "32k", 32768), (257, "33k", 33792), (10000, "1250k", 1280000)])
def test_limit_req_zone_size(clients, size, size_bytes):
    plan = build_plan(HOST_1G, [{"name": "nginx", "tier": 0, "min": 32, "limit_req_clients": clients}])
    assert plan["services"]["nginx"]["limit_req_zone_size"] == size
    assert plan["services"]["nginx"]["limit_req_zone_bytes"] == size_bytes


def test_extras_only_when_declared():
    plan = build_plan(HOST_1G, ACCEPTANCE_SERVICES)
    for key in ("limit_req_zone_size", "introspection_max_cost", "max_buffered_pages_total"):
        assert all(key not in entry for entry in plan["services"].values())


def test_introspection_max_cost():
    services = [{"name": "oathkeeper", "tier": 1, "runtime": "go", "min": 64, "max": 128, "introspection_cache": True},
                {"name": "tiny", "tier": 0, "runtime": "go", "min": 8, "introspection_cache": True}]
    plan = build_plan(HOST_1G, services)
    assert plan["services"]["oathkeeper"]["introspection_max_cost"] == (128 * MIB // 10) // 2112
    assert plan["services"]["tiny"]["introspection_max_cost"] == 1000
    assert "introspection_max_cost" not in build_plan(HOST_1G, [dict(services[0], introspection_cache=False)])["services"]["oathkeeper"]


def test_reassembly_pages():
    services = [{"name": "capture", "tier": 1, "runtime": "go", "min": 64, "max": 128, "reassembly": True},
                {"name": "capture2", "tier": 1, "runtime": "go", "min": 64, "max": 128, "reassembly": {"share": 0.5}}]
    plan = build_plan(HOST_1G, services)
    assert plan["services"]["capture"]["max_buffered_pages_total"] == 16384
    assert plan["services"]["capture"]["max_buffered_pages_per_connection"] == 256
    assert plan["services"]["capture2"]["max_buffered_pages_total"] == 32768


# ---------------------------------------------------------------- table


def test_render_table():
    lines = render_table(build_plan(HOST_1G, ACCEPTANCE_SERVICES + [{"name": "api", "tier": 1, "runtime": "go", "min": 64, "max": 100}]))
    assert lines[0].split() == ["service", "tier", "MemoryMax", "MemoryHigh", "GOMEMLIMIT", "workers", "OOMScoreAdjust"]
    assert lines[1].split() == ["app", "1", "505M", "454M", "-", "3", "100"]
    assert lines[2].split() == ["nginx", "0", "-", "-", "-", "-", "-500"]
    assert lines[4].split() == ["api", "1", "100M", "90M", "90MiB", "-", "100"]
    assert len({len(line) for line in lines[:5]}) == 1
    assert lines[5].startswith("effective 1024 MiB (source memory_facts;")
    assert lines[6] == "reserve 371 MiB, tier 0 48 MiB, tier 2 0 MiB, pool 605 MiB, allocated 605 MiB, headroom 0 MiB"
    assert len(lines) == 7


def test_render_table_shows_warnings_and_refuses_non_plans():
    lines = render_table(build_plan({"memtotal_mb": 512, "processor_vcpus": 1}, []))
    assert lines[-1].startswith("warning: memory_budget: facts: plain ansible_facts")
    with pytest.raises(MemoryBudgetError):
        render_table({"services": []})


# ---------------------------------------------------------------- properties

NAMES = [f"svc{i}" for i in range(8)]


@st.composite
def service_lists(draw):
    count = draw(st.integers(0, 6))
    services = []
    for name in NAMES[:count]:
        tier = draw(st.sampled_from([0, 1, 2]))
        runtime = draw(st.sampled_from(["go", "python", "generic"]))
        low = draw(st.integers(96 if runtime == "python" else 2, 1024))
        service = {"name": name, "tier": tier, "runtime": runtime, "min": draw(st.sampled_from([low, f"{low}M", f"{low}MiB"]))}
        if tier == 1 and draw(st.booleans()):
            service["max"] = low + draw(st.integers(0, 2048))
        if tier == 1:
            service["weight"] = draw(st.sampled_from([0.5, 1, 2, 3.5]))
        services.append(service)
    return services


def _mb(value) -> int:
    return int(str(value).removesuffix("MiB").removesuffix("M"))


def expected_to_fit(effective_mb: int, services: list[dict]) -> bool:
    reserve = default_reserve_mb(effective_mb)
    fixed = sum(_mb(s["min"]) for s in services if s["tier"] != 1)
    pool = effective_mb - reserve - fixed
    return reserve < effective_mb and pool >= 0 and pool >= sum(_mb(s["min"]) for s in services if s["tier"] == 1)


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(effective_mb=st.integers(64, 16384), services=service_lists(), cpus=st.integers(1, 16))
def test_plan_fits_or_is_refused(effective_mb, services, cpus):
    facts = host(effective_mb, cpus)
    if not expected_to_fit(effective_mb, services):
        message = refusal(facts, services)
        assert "missing" in message or message.startswith("memory_budget: option 'reserve'")
        return
    plan = build_plan(facts, services)
    summary = plan["summary"]
    tier1_max_bytes = sum(e["memory_max_bytes"] for e in plan["services"].values() if e["tier"] == 1)
    assert summary["reserve_bytes"] + summary["tier0_bytes"] + summary["tier2_bytes"] + tier1_max_bytes <= summary["effective_memory_bytes"]
    assert tier1_max_bytes == summary["allocated_bytes"] <= summary["pool_bytes"]
    for source, entry in zip(services, plan["services"].values()):
        assert entry["name"] == source["name"]
        if entry["tier"] != 1:
            assert entry["memory_max"] is None and entry["memory_high"] is None
            continue
        assert _mb(source["min"]) <= entry["budget_mb"] <= _mb(source.get("max", 10 ** 9))
        assert entry["memory_max"] == f"{entry['budget_mb']}M"
        assert 0 < entry["memory_high_bytes"] < entry["memory_max_bytes"]
        if entry["runtime"] == "go":
            assert re.fullmatch(r"\d+MiB", entry["gomemlimit"])
            assert 0 < entry["gomemlimit_bytes"] < entry["memory_max_bytes"]
    for entry in plan["services"].values():
        assert (entry["workers"] is None) == (entry["runtime"] != "python")
        assert entry["workers"] is None or 1 <= entry["workers"] <= 2 * cpus + 1
        assert (entry["gomemlimit"] is None) == (entry["runtime"] != "go")


@PROPERTY_SETTINGS
@given(effective_mb=st.integers(64, 16384), services=service_lists())
def test_same_input_same_output(effective_mb, services):
    assume(expected_to_fit(effective_mb, services))
    assert build_plan(host(effective_mb), services) == build_plan(host(effective_mb), [dict(s) for s in services])


@PROPERTY_SETTINGS
@given(effective_mb=st.integers(64, 16384), more_mb=st.integers(0, 8192), services=service_lists())
def test_more_memory_never_shrinks_a_service(effective_mb, more_mb, services):
    assume(expected_to_fit(effective_mb, services))
    small = build_plan(host(effective_mb), services)["services"]
    big = build_plan(host(effective_mb + more_mb), services)["services"]
    for name, entry in small.items():
        if entry["tier"] == 1:
            assert big[name]["memory_max_bytes"] >= entry["memory_max_bytes"]
            assert big[name]["memory_high_bytes"] >= entry["memory_high_bytes"]
