# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The services list: schema, per-key validation, unit identity and the built-in tier-0 entries."""

from __future__ import annotations

import copy
from fractions import Fraction

import pytest

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_services import (
    BUILTIN_SERVICES,
    SERVICE_KEYS,
    SERVICE_SCHEMA,
    MemoryBudgetError,
    parse_services,
    unit_of,
)

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


def refusal(services, units=None) -> str:
    with pytest.raises(MemoryBudgetError) as caught:
        parse_services(services, units)
    return str(caught.value)


def assert_names(message: str, service: str, key: str) -> None:
    assert message.startswith(f"memory_plan: service '{service}' key '{key}': "), message


def one(raw: dict):
    [service] = parse_services([raw])
    return service


# ---------------------------------------------------------------- schema


def test_schema_keys_in_documented_order():
    assert SERVICE_KEYS[:4] == ("name", "tier", "runtime", "min")
    assert set(SERVICE_KEYS) == {
        "name",
        "tier",
        "runtime",
        "min",
        "max",
        "weight",
        "swap_max",
        "memory_high",
        "oomd",
        "oom_score_adjust",
        "oom_policy",
        "gomemlimit",
        "per_worker",
        "master",
        "processes",
        "limit_req_clients",
        "tune_bufsize",
        "introspection_cache",
        "reassembly",
    }
    assert SERVICE_KEYS.index("oom_policy") == SERVICE_KEYS.index("oom_score_adjust") + 1
    assert [k for k, spec in SERVICE_SCHEMA.items() if spec.get("required")] == ["name", "tier", "min"]
    assert {k for k, spec in SERVICE_SCHEMA.items() if spec.get("tier") == 1} == {
        "max",
        "weight",
        "swap_max",
        "memory_high",
        "oomd",
    }
    assert {k for k, spec in SERVICE_SCHEMA.items() if spec.get("runtime") == "go"} == {
        "gomemlimit",
        "introspection_cache",
        "reassembly",
    }
    assert {k for k, spec in SERVICE_SCHEMA.items() if spec.get("runtime") == "python"} == {"per_worker", "master"}


def test_defaults():
    app = one({"name": "app", "tier": 1, "min": 64})
    assert (app.unit, app.runtime, app.min_mb, app.max_mb, app.weight) == (
        "app.service",
        "generic",
        64,
        None,
        Fraction(1),
    )
    assert (app.swap_max_mb, app.memory_high_mb, app.oomd, app.oom_score_adjust) == (0, None, False, 100)
    assert (app.gomemlimit_mb, app.per_worker_mb, app.master_mb) == (None, None, None)
    assert app.processes == ("app",)
    assert (app.limit_req_clients, app.introspection_cache, app.reassembly_share) == (None, False, None)
    py = one({"name": "web", "tier": 1, "runtime": "python", "min": 128})
    assert (py.per_worker_mb, py.master_mb) == (64, 32)
    assert one({"name": "a", "tier": 0, "min": 8}).oom_score_adjust == -500
    tier2 = one({"name": "a", "tier": 2, "min": 8})
    assert tier2.oom_score_adjust is None and tier2.swap_max_mb is None


def test_given_values():
    app = one(
        {
            "name": "app.service",
            "tier": 1,
            "runtime": "go",
            "min": "64K",
            "max": "1.5G",
            "weight": 2.5,
            "swap_max": "512M",
            "memory_high": "1G",
            "oomd": True,
            "oom_score_adjust": 300,
            "gomemlimit": "100M",
            "processes": ["app", "helper"],
            "limit_req_clients": 10,
            "introspection_cache": True,
            "reassembly": {"share": 0.5},
        }
    )
    assert (app.name, app.unit, app.min_mb, app.max_mb, app.weight) == (
        "app.service",
        "app.service",
        1,
        1536,
        Fraction(5, 2),
    )
    assert (app.swap_max_mb, app.memory_high_mb, app.oomd, app.oom_score_adjust) == (512, 1024, True, 300)
    assert (app.gomemlimit_mb, app.processes, app.limit_req_clients) == (100, ("app", "helper"), 10)
    assert app.introspection_cache is True and app.reassembly_share == Fraction(1, 2)
    assert one({"name": "cap", "tier": 1, "runtime": "go", "min": 8, "reassembly": True}).reassembly_share == Fraction(
        1, 4
    )
    assert one({"name": "a", "tier": 1, "min": 8, "swap_max": "0"}).swap_max_mb == 0


# ---------------------------------------------------------------- OOMPolicy


@pytest.mark.parametrize(
    ("raw", "policy"),
    [
        # pre-fork servers: the master respawns the worker the OOM killer took
        ({"name": "web", "tier": 1, "runtime": "python", "min": 128}, "continue"),
        ({"name": "web", "tier": 0, "runtime": "python", "min": 128}, "continue"),
        ({"name": "nginx", "tier": 0, "min": 32}, "continue"),
        ({"name": "nginx.service", "tier": 1, "min": 32}, "continue"),
        # anything else keeps systemd's default (stop): nothing written
        ({"name": "app", "tier": 1, "min": 64}, None),
        ({"name": "app", "tier": 0, "min": 64}, None),
        ({"name": "api", "tier": 1, "runtime": "go", "min": 64}, None),
        ({"name": "sshd", "tier": 0, "min": 16}, None),
        ({"name": "nginx-exporter", "tier": 1, "min": 16}, None),
        # tier 2 is left alone: only an explicit value
        ({"name": "web", "tier": 2, "runtime": "python", "min": 128}, None),
        ({"name": "nginx", "tier": 2, "min": 32}, None),
    ],
)
def test_oom_policy_defaults(raw, policy):
    assert one(raw).oom_policy == policy


def test_the_builtin_nginx_gets_oom_policy_continue_and_ssh_none():
    ssh, nginx = parse_services([], HOST_UNITS)
    assert (ssh.oom_policy, nginx.oom_policy) == (None, "continue")


@pytest.mark.parametrize(
    ("raw", "policy"),
    [
        ({"name": "app", "tier": 1, "min": 64, "oom_policy": "kill"}, "kill"),
        ({"name": "web", "tier": 1, "runtime": "python", "min": 128, "oom_policy": "stop"}, "stop"),
        ({"name": "nginx", "tier": 0, "min": 32, "oom_policy": "kill"}, "kill"),
        ({"name": "web", "tier": 2, "runtime": "python", "min": 128, "oom_policy": "continue"}, "continue"),
        ({"name": "backup", "tier": 2, "min": 8, "oom_policy": "stop"}, "stop"),
    ],
)
def test_an_explicit_oom_policy_is_kept(raw, policy):
    assert one(raw).oom_policy == policy


@pytest.mark.parametrize("value", ["restart", "Continue", "", True, None, 1, ["continue"]])
def test_a_bad_oom_policy_is_refused_naming_the_key(value):
    message = refusal([{"name": "web", "tier": 1, "runtime": "python", "min": 128, "oom_policy": value}])
    assert_names(message, "web", "oom_policy")
    assert f"{value!r} is not an OOMPolicy; expected one of continue, stop, kill" in message


# ---------------------------------------------------------------- refusals per key


@pytest.mark.parametrize(
    ("service", "key", "fragment"),
    [
        ({"name": "a", "tier": 3, "min": 64}, "tier", "0 (protect)"),
        ({"name": "a", "tier": "1", "min": 64}, "tier", "one of 0"),
        ({"name": "a", "tier": True, "min": 64}, "tier", "one of 0"),
        ({"name": "a", "min": 64}, "tier", "required"),
        ({"name": "a", "tier": 1, "runtime": "rust", "min": 64}, "runtime", "go, python, generic"),
        ({"name": "a", "tier": 1, "min": "256M", "max": "128M"}, "min", "min must be <= max"),
        ({"name": "a", "tier": 1, "min": 0}, "min", "is zero"),
        ({"name": "a", "tier": 1, "min": -64}, "min", "is negative"),
        ({"name": "a", "tier": 1, "min": "lots"}, "min", "cannot parse"),
        ({"name": "a", "tier": 1}, "min", "required"),
        ({"name": "a", "tier": 0, "min": "32.5"}, "min", "cannot parse '32.5'"),
        ({"name": "a", "tier": 1, "min": "32.5"}, "min", "cannot parse '32.5'"),
        ({"name": "a", "tier": 2, "min": "32.5"}, "min", "cannot parse '32.5'"),
        ({"name": "a", "tier": 0, "min": "9" * 400 + "M"}, "min", "too large"),
        ({"name": "a", "tier": 1, "min": "9" * 400 + "M"}, "min", "too large"),
        ({"name": "a", "tier": 1, "min": "9" * 400}, "min", "too large"),
        ({"name": "a", "tier": 1, "min": 64, "max": "9" * 400 + "M"}, "max", "too large"),
        ({"name": "a", "tier": 1, "min": 64, "max": "0M"}, "max", "is zero"),
        ({"name": "a", "tier": 0, "min": 32, "max": 64}, "max", "never capped"),
        ({"name": "a", "tier": 2, "min": 32, "max": 64}, "max", "tier 1"),
        ({"name": "a", "tier": 0, "min": 32, "weight": 2}, "weight", "tier 1"),
        ({"name": "a", "tier": 0, "min": 32, "swap_max": 0}, "swap_max", "tier 1"),
        ({"name": "a", "tier": 2, "min": 32, "memory_high": 16}, "memory_high", "tier 1"),
        ({"name": "a", "tier": 0, "min": 32, "oomd": True}, "oomd", "tier 1"),
        ({"name": "a", "tier": 1, "min": 64, "mni": 64}, "mni", "accepted keys: name, tier"),
        ({"name": "a", "tier": 1, "runtime": "go", "min": 64, "per_worker": 8}, "per_worker", "runtime 'python'"),
        ({"name": "a", "tier": 1, "min": 64, "master": 8}, "master", "runtime 'python'"),
        ({"name": "a", "tier": 1, "runtime": "python", "min": 128, "gomemlimit": 8}, "gomemlimit", "runtime 'go'"),
        ({"name": "a", "tier": 1, "runtime": "python", "min": 128, "reassembly": True}, "reassembly", "runtime 'go'"),
        ({"name": "a", "tier": 1, "min": 64, "introspection_cache": True}, "introspection_cache", "runtime 'go'"),
        (
            {"name": "a", "tier": 1, "runtime": "go", "min": 64, "introspection_cache": "yes"},
            "introspection_cache",
            "boolean",
        ),
        ({"name": "a", "tier": 1, "min": 64, "oomd": "yes"}, "oomd", "boolean"),
        ({"name": "a", "tier": 1, "runtime": "go", "min": 64, "reassembly": {"share": 0.6}}, "reassembly", "<= 0.5"),
        ({"name": "a", "tier": 1, "runtime": "go", "min": 64, "reassembly": {"share": 0}}, "reassembly", "<= 0.5"),
        (
            {"name": "a", "tier": 1, "runtime": "go", "min": 64, "reassembly": {"shares": 0.2}},
            "reassembly",
            "accepted: share",
        ),
        ({"name": "a", "tier": 1, "runtime": "go", "min": 64, "reassembly": "yes"}, "reassembly", "neither a boolean"),
        ({"name": "a", "tier": 1, "min": 64, "weight": 0}, "weight", "positive number"),
        ({"name": "a", "tier": 1, "min": 64, "weight": True}, "weight", "positive number"),
        ({"name": "a", "tier": 1, "min": 64, "weight": float("inf")}, "weight", "positive number"),
        ({"name": "a", "tier": 1, "min": 64, "oom_score_adjust": 2000}, "oom_score_adjust", "-1000..1000"),
        ({"name": "a", "tier": 1, "min": 64, "oom_score_adjust": True}, "oom_score_adjust", "-1000..1000"),
        ({"name": "a", "tier": 1, "min": 64, "limit_req_clients": 0}, "limit_req_clients", "positive integer"),
        ({"name": "a", "tier": 0, "min": 64, "tune_bufsize": 512}, "tune_bufsize", "integer in 1024..1048576"),
        ({"name": "a", "tier": 0, "min": 64, "tune_bufsize": "16k"}, "tune_bufsize", "integer in 1024..1048576"),
        ({"name": "a", "tier": 1, "min": 64, "processes": []}, "processes", "non-empty list"),
        ({"name": "a", "tier": 1, "min": 64, "processes": "a"}, "processes", "non-empty list"),
        ({"name": "a", "tier": 1, "min": 64, "swap_max": -1}, "swap_max", "is negative"),
        ({"name": "a", "tier": 1, "min": 64, "memory_high": 0}, "memory_high", "is zero"),
        ({"name": "", "tier": 1, "min": 64}, "name", "non-empty string"),
    ],
)
def test_service_refusals_name_service_and_key(service, key, fragment):
    message = refusal([service])
    assert_names(message, service.get("name") or "#1", key)
    assert fragment in message


@pytest.mark.parametrize(
    "name", ["a/b", "../etc/passwd", "..", "app..service", "a..b", "/app", "app/", "app service", ".app"]
)
def test_names_that_are_not_unit_names_are_refused(name):
    message = refusal([{"name": name, "tier": 1, "min": 64}])
    assert_names(message, name, "name")
    assert "not a systemd unit name" in message and "no '/', no '..'" in message


def test_a_name_with_a_trailing_newline_is_refused():
    assert_names(refusal([{"name": "app\n", "tier": 1, "min": 64}]), "app\n", "name")


@pytest.mark.parametrize(
    "name", ["foo.timer", "foo.slice", "foo.socket", "foo.scope", "foo.mount", "foo.target", "foo.path"]
)
def test_units_other_than_services_are_refused(name):
    message = refusal([{"name": name, "tier": 2, "min": 8}])
    assert_names(message, name, "name")
    assert "only .service units are tiered" in message


@pytest.mark.parametrize(
    "name", ["app", "app.service", "getty@tty1.service", "my-app_2", "systemd-journald", "a.b.service"]
)
def test_unit_names_are_accepted(name):
    assert one({"name": name, "tier": 0, "min": 8}).name == name


def test_missing_name_is_reported_by_position():
    message = refusal([{"name": "ok", "tier": 0, "min": 16}, {"tier": 1, "min": 64}])
    assert_names(message, "#2", "name")
    assert_names(refusal([{"name": 5, "tier": 1, "min": 64}]), "#1", "name")


def test_unknown_key_is_reported_before_missing_required_keys():
    assert_names(refusal([{"name": "app", "tierr": 1, "min": 64}]), "app", "tierr")


def test_services_must_be_a_list_of_mappings():
    assert refusal("app").startswith("memory_plan: option 'services': str given")
    assert refusal({"name": "app"}).startswith("memory_plan: option 'services': ")
    message = refusal([{"name": "a", "tier": 0, "min": 8}, "app"])
    assert message.startswith("memory_plan: option 'services': item 2 is str")


# ---------------------------------------------------------------- unit identity


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("app", "app.service"),
        ("app.service", "app.service"),
        ("sshd", "ssh.service"),
        ("sshd.service", "ssh.service"),
        ("ssh", "ssh.service"),
        ("ssh.service", "ssh.service"),
        ("nginx", "nginx.service"),
    ],
)
def test_unit_of(name, unit):
    assert unit_of(name) == unit


@pytest.mark.parametrize(
    ("first", "second", "unit"),
    [
        ({"name": "app", "tier": 1, "min": 64}, {"name": "app", "tier": 0, "min": 16}, "app.service"),
        ({"name": "nginx", "tier": 0, "min": 32}, {"name": "nginx.service", "tier": 1, "min": 64}, "nginx.service"),
        ({"name": "sshd", "tier": 0, "min": 16}, {"name": "ssh.service", "tier": 0, "min": 16}, "ssh.service"),
        ({"name": "ssh", "tier": 0, "min": 16}, {"name": "sshd", "tier": 0, "min": 16}, "ssh.service"),
        ({"name": "sshd.service", "tier": 0, "min": 16}, {"name": "ssh", "tier": 2, "min": 16}, "ssh.service"),
    ],
)
def test_two_entries_for_one_unit_are_refused(first, second, unit):
    message = refusal([first, second])
    assert_names(message, second["name"], "name")
    assert f"names the same unit ({unit}) as '{first['name']}' (items 1 and 2)" in message


# ---------------------------------------------------------------- built-in tier-0 entries and host units


def test_builtins_are_added_when_their_unit_exists():
    ssh, nginx = parse_services([], HOST_UNITS)
    assert (ssh.name, ssh.unit, ssh.tier, ssh.min_mb, ssh.processes) == ("ssh", "ssh.service", 0, 16, ("sshd",))
    assert (nginx.name, nginx.unit, nginx.tier, nginx.min_mb, nginx.processes) == (
        "nginx",
        "nginx.service",
        0,
        32,
        ("nginx",),
    )
    # sshd protects itself (listener -1000); an OOMScoreAdjust would be restored into every session.
    assert (ssh.oom_score_adjust, nginx.oom_score_adjust) == (None, -500)


def test_an_explicit_oom_score_adjust_on_ssh_is_kept():
    (ssh,) = parse_services([{"name": "sshd", "tier": 0, "min": 16, "oom_score_adjust": -800}])
    assert ssh.oom_score_adjust == -800


def test_builtins_come_first_then_the_user_entries_in_order():
    services = [{"name": "b", "tier": 2, "min": 8}, {"name": "a", "tier": 1, "min": 64}]
    parsed = parse_services(services, HOST_UNITS + ["a.service", "b.service"])
    assert [s.name for s in parsed] == ["ssh", "nginx", "b", "a"]


def test_only_builtins_whose_unit_exists():
    assert [s.name for s in parse_services([], ["nginx.service"])] == ["nginx"]
    assert [s.name for s in parse_services([], ["ssh.service", "cron.service"])] == ["ssh"]
    assert parse_services([], []) == []
    # Debian's alias name on the host still means OpenSSH
    assert [s.name for s in parse_services([], ["sshd.service"])] == ["ssh"]


def test_without_units_nothing_is_added_or_checked():
    assert [s.name for s in parse_services([{"name": "app", "tier": 1, "min": 64}])] == ["app"]


@pytest.mark.parametrize("name", ["sshd", "ssh", "ssh.service", "sshd.service"])
def test_a_user_entry_replaces_the_builtin_ssh(name):
    parsed = parse_services([{"name": name, "tier": 0, "min": "8M"}], HOST_UNITS)
    assert [s.name for s in parsed] == ["nginx", name]
    [ssh] = [s for s in parsed if s.unit == "ssh.service"]
    assert ssh.min_mb == 8


def test_a_user_entry_replaces_the_builtin_nginx_even_on_another_tier():
    parsed = parse_services([{"name": "nginx.service", "tier": 1, "min": 64}], HOST_UNITS)
    assert [(s.name, s.tier) for s in parsed] == [("ssh", 0), ("nginx.service", 1)]


def test_a_user_sshd_entry_keeps_the_sshd_process():
    [_, sshd] = parse_services([{"name": "sshd", "tier": 0, "min": "8M"}], HOST_UNITS)
    assert sshd.processes == ("sshd",)


def test_a_service_whose_unit_is_not_on_the_host_is_refused():
    message = refusal([{"name": "app", "tier": 1, "min": 64}], ["ssh.service"])
    assert_names(message, "app", "name")
    assert "unit app.service does not exist on this host" in message
    assert "unit app.service" in refusal([{"name": "app", "tier": 1, "min": 64}], [])


def test_units_from_service_facts():
    facts_services = {"ssh.service": {"state": "running"}, "app.service": {"state": "running"}}
    assert [s.name for s in parse_services([{"name": "app", "tier": 1, "min": 64}], facts_services)] == ["ssh", "app"]


@pytest.mark.parametrize("units", ["ssh.service", [1], 5, [None]])
def test_bad_units_option_is_refused(units):
    assert refusal([], units).startswith("memory_plan: option 'units': ")


def test_inputs_and_builtins_are_not_mutated():
    services = [
        {"name": "app", "tier": 1, "runtime": "go", "min": 64, "processes": ["app"], "reassembly": {"share": 0.5}}
    ]
    units = {"ssh.service": {"state": "running"}, "app.service": {}}
    before = copy.deepcopy((services, units))
    parse_services(services, units)
    parse_services(services, units)
    assert (services, units) == before
    assert BUILTIN_SERVICES == BUILTINS_AS_DOCUMENTED
