"""Which directive each tier gets; the numbers themselves come from build_plan."""

import pytest

from ansible_collections.smallvps.hardening.plugins.module_utils.memory_budget import MIB, build_plan
from ansible_collections.smallvps.hardening.plugins.module_utils.systemd_tiering import (
    SystemdTieringError,
    dropins,
    unit_name,
)

FACTS = {"effective_memory_bytes": 512 * MIB, "cpus": 1}
SERVICES = [
    {"name": "ssh", "tier": 0, "min": "16M"},
    {"name": "caddy.service", "tier": 0, "runtime": "go", "min": "48M"},
    {"name": "app", "tier": 1, "runtime": "python", "min": "128M", "max": "160M"},
    {"name": "oathkeeper", "tier": 1, "runtime": "go", "min": "48M", "max": "64M"},
    {"name": "backup.timer", "tier": 2, "min": "8M"},
    {"name": "report", "tier": 2, "min": "8M", "oom_score_adjust": 500},
]


def _by_unit():
    plan = build_plan(FACTS, SERVICES)
    return plan, {d["unit"]: d for d in dropins(plan)}


def test_unit_names():
    assert unit_name("ssh") == "ssh.service"
    assert unit_name("backup.timer") == "backup.timer"
    assert unit_name("user.slice") == "user.slice"


def test_tier0_is_protected_and_never_capped():
    _, units = _by_unit()
    service = dict(units["ssh.service"]["sections"]["Service"])
    assert service == {"OOMScoreAdjust": -500, "Restart": "on-failure"}
    assert "Unit" not in units["ssh.service"]["sections"]


def test_tier0_go_service_gets_gomemlimit_but_no_cap():
    plan, units = _by_unit()
    service = dict(units["caddy.service"]["sections"]["Service"])
    assert service["Environment"] == f"GOMEMLIMIT={plan['services']['caddy.service']['gomemlimit']}"
    assert "MemoryMax" not in service


def test_tier1_gets_the_plan_values_and_start_limits_in_unit():
    plan, units = _by_unit()
    entry = plan["services"]["app"]
    sections = units["app.service"]["sections"]
    assert dict(sections["Service"]) == {
        "MemoryAccounting": "yes",
        "MemoryMax": entry["memory_max"],
        "MemoryHigh": entry["memory_high"],
        "OOMScoreAdjust": 100,
        "Restart": "always",
        "RestartSec": 3,
    }
    assert dict(sections["Unit"]) == {"StartLimitIntervalSec": 300, "StartLimitBurst": 20}
    assert dict(units["oathkeeper.service"]["sections"]["Service"])["Environment"].startswith("GOMEMLIMIT=")


def test_tier2_is_left_alone_unless_asked():
    _, units = _by_unit()
    assert units["backup.timer"]["sections"] == {}
    assert units["report.service"]["sections"] == {"Service": [["OOMScoreAdjust", 500]]}


def test_not_a_plan_is_refused():
    with pytest.raises(SystemdTieringError, match="expects the output of smallvps.hardening.memory_budget"):
        dropins({"services": []})
