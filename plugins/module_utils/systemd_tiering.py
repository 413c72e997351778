# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Which systemd directives each tier gets, from a memory plan entry.

The numbers come from memory_budget.build_plan(); this module only decides which
directive carries which number, so the role's template renders lines and computes
nothing.
"""

from __future__ import annotations

UNIT_SUFFIXES = (".service", ".scope", ".slice", ".socket", ".mount", ".swap", ".timer")


class SystemdTieringError(ValueError):
    """The plan cannot be turned into drop-ins; the message names the service."""


def unit_name(service_name: str) -> str:
    """'ssh' -> 'ssh.service'; names that already carry a unit suffix stay as they are."""
    return service_name if service_name.endswith(UNIT_SUFFIXES) else f"{service_name}.service"


def _tier0_service(entry: dict) -> list[list]:
    # No MemoryMax: a cap would let the OOM killer kill sshd or the front proxy inside
    # its own cgroup, which is exactly what tier 0 exists to prevent.
    return [
        ["OOMScoreAdjust", entry["oom_score_adjust"]],
        ["Restart", entry["restart"]],
    ]


def _tier1_service(entry: dict) -> list[list]:
    return [
        # Needed on cgroup v1 hosts where memory accounting is not on by default.
        ["MemoryAccounting", "yes"],
        ["MemoryMax", entry["memory_max"]],
        # Throttles and reclaims before the hard limit; enforced on cgroup v2 only.
        ["MemoryHigh", entry["memory_high"]],
        ["OOMScoreAdjust", entry["oom_score_adjust"]],
        ["Restart", entry["restart"]],
        ["RestartSec", entry["restart_sec"]],
    ]


def _tier2_service(entry: dict) -> list[list]:
    # Leave alone: only what the user asked for explicitly.
    return [] if entry["oom_score_adjust"] is None else [["OOMScoreAdjust", entry["oom_score_adjust"]]]


def _go_environment(entry: dict) -> list[list]:
    # A Go service's heap limit must fit its budget whatever its own unit says.
    return [] if entry.get("gomemlimit") is None else [["Environment", f"GOMEMLIMIT={entry['gomemlimit']}"]]


def dropin(entry: dict) -> dict:
    """One service's drop-in: {'unit', 'name', 'tier', 'oom_score_adjust', 'sections'}.

    sections is {'Unit': [[key, value], ...], 'Service': [...]}, without empty sections;
    a drop-in without sections means the unit gets no drop-in (tier 2 left alone).
    """
    try:
        tier = entry["tier"]
        service = {0: _tier0_service, 1: _tier1_service, 2: _tier2_service}[tier](entry)
    except (KeyError, TypeError) as error:
        raise SystemdTieringError(
            f"systemd_tier_dropins: service {entry.get('name')!r}: not a memory_budget plan entry ({error})"
        ) from None
    if tier != 2:
        service += _go_environment(entry)
    sections = {}
    if tier == 1:
        # StartLimit* belong to [Unit]; in [Service] systemd ignores them with a warning.
        sections["Unit"] = [
            ["StartLimitIntervalSec", entry["start_limit_interval_sec"]],
            ["StartLimitBurst", entry["start_limit_burst"]],
        ]
    if service:
        sections["Service"] = service
    return {
        "unit": unit_name(entry["name"]),
        "name": entry["name"],
        "tier": tier,
        "oom_score_adjust": entry["oom_score_adjust"],
        "sections": sections,
    }


def dropins(plan: dict) -> list[dict]:
    """Drop-ins for every service of a memory_budget plan, in plan order."""
    if not isinstance(plan, dict) or not isinstance(plan.get("services"), dict):
        raise SystemdTieringError("systemd_tier_dropins: expects the output of smallvps.hardening.memory_budget")
    return [dropin(entry) for entry in plan["services"].values()]
