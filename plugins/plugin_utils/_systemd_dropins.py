"""Which systemd directives each tier gets, from a memory plan entry.

The numbers come from the plan (plugins/plugin_utils/_memory_plan.py); this module only
decides which directive carries which number, and writes the drop-in's text (the role's
systemd_dropins module writes it to the host as it is).
"""

from ansible_collections.smallvps.hardening.plugins.plugin_utils._plan_input import plan_entries


def _tier0_service(entry: dict) -> list:
    # No MemoryMax: a cap would let the OOM killer kill sshd or the front proxy inside
    # its own cgroup, which is exactly what tier 0 exists to prevent.
    # No OOMScoreAdjust where the plan has none: sshd protects its listener itself (-1000).
    protect = [] if entry["oom_score_adjust"] is None else [["OOMScoreAdjust", entry["oom_score_adjust"]]]
    return (
        protect
        + [
            # cgroup v2: the unit's pages up to its estimate stay resident when the kernel reclaims
            # (swaps out) memory for others; system.slice carries the sum (slice_dropin below).
            ["MemoryLow", entry["memory_low"]],
            # systemd-oomd (Debian's package adds a root-slice swap rule) takes tier 0 last.
            ["ManagedOOMPreference", entry["managed_oom_preference"]],
            ["Restart", entry["restart"]],
        ]
        + _oom_policy(entry)
    )


def _tier1_service(entry: dict) -> list:
    directives = [
        # Needed on cgroup v1 hosts where memory accounting is not on by default.
        ["MemoryAccounting", "yes"],
        ["MemoryMax", entry["memory_max"]],
        # On cgroup v2 MemoryMax bounds RAM only: without this a leak swaps instead of being killed.
        ["MemorySwapMax", entry["memory_swap_max"]],
    ]
    if entry["memory_high"] is not None:
        # Only with something that acts on the throttling (systemd-oomd) or on request: anonymous
        # memory above MemoryHigh with no swap cannot be reclaimed, and the unit would crawl forever.
        directives.append(["MemoryHigh", entry["memory_high"]])
    if entry["managed_oom_memory_pressure"] is not None:
        directives.append(["ManagedOOMMemoryPressure", entry["managed_oom_memory_pressure"]])
        directives.append(["ManagedOOMMemoryPressureLimit", entry["managed_oom_memory_pressure_limit"]])
    return (
        directives
        + [
            ["OOMScoreAdjust", entry["oom_score_adjust"]],
            ["Restart", entry["restart"]],
            ["RestartSec", entry["restart_sec"]],
        ]
        + _oom_policy(entry)
    )


def _tier2_service(entry: dict) -> list:
    # Leave alone: only what the user asked for explicitly (a gomemlimit too, in _go_environment).
    return ([] if entry["oom_score_adjust"] is None else [["OOMScoreAdjust", entry["oom_score_adjust"]]]) + _oom_policy(
        entry
    )


def _oom_policy(entry: dict) -> list:
    # A pre-fork master respawns the worker the OOM killer took; OOMPolicy=stop (systemd's
    # default) would stop the whole unit for it.
    return [] if entry.get("oom_policy") is None else [["OOMPolicy", entry["oom_policy"]]]


def _go_environment(entry: dict) -> list:
    # A Go service's heap limit must fit its budget whatever its own unit says. The plan has one for
    # tier 1, and for tier 0 and 2 only when the entry sets gomemlimit: the user's explicit value is honoured.
    return [] if entry["gomemlimit"] is None else [["Environment", f"GOMEMLIMIT={entry['gomemlimit']}"]]


def dropin(entry: dict) -> dict:
    """One service's drop-in: {'unit', 'name', 'tier', 'oom_score_adjust', 'processes', 'sections'}.

    sections is {'Unit': [[key, value], ...], 'Service': [...]}, without empty sections;
    a drop-in without sections means the unit gets no drop-in (tier 2 with nothing set on its entry).
    """
    tier = entry["tier"]
    service = {0: _tier0_service, 1: _tier1_service, 2: _tier2_service}[tier](entry) + _go_environment(entry)
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
        "unit": entry["unit"],
        "name": entry["name"],
        "tier": tier,
        "oom_score_adjust": entry["oom_score_adjust"],
        "processes": list(entry.get("processes") or []),
        "sections": sections,
    }


SYSTEM_SLICE = "system.slice"


def slice_dropin(plan: dict) -> dict:
    """system.slice's MemoryLow: the sum of tier 0's. On cgroup v2 a unit's memory.low protects
    only as far as every parent's does, and system.slice has none of its own."""
    low_mb = plan["summary"]["system_slice_memory_low_mb"]
    sections = {"Slice": [["MemoryLow", f"{low_mb}M"]]} if low_mb else {}
    return {
        "unit": SYSTEM_SLICE,
        "name": SYSTEM_SLICE,
        "tier": 0,
        "oom_score_adjust": None,
        "processes": [],
        "sections": sections,
    }


MANAGED = "Ansible managed"
TIER_WORDS = ("protect", "cap", "leave alone")


def dropin_text(entry: dict, managed: str = MANAGED) -> str:
    """The drop-in file of one dropin() entry, byte for byte what the role's former tier.conf.j2 template
    wrote, so an upgrade rewrites no drop-in; '' for an entry without sections (no drop-in)."""
    if not entry["sections"]:
        return ""
    lines = [
        f"# {managed}",
        f"# Tier {entry['tier']} ({TIER_WORDS[entry['tier']]}) from smallvps.hardening.systemd_tiering.",
        "# Values come from this host's memory plan (smallvps_services); the plan is printed by the",
        "# memory_plan role in every run and by: ansible-playbook smallvps.hardening.budget",
    ]
    for section, directives in entry["sections"].items():
        lines += ["", f"[{section}]"] + [f"{key}={value}" for key, value in directives]
    return "\n".join(lines) + "\n"


def dropins(plan, managed: str = MANAGED) -> list:
    """Drop-ins for every service of a plan, in plan order, then system.slice's, each with its file's content."""
    entries = plan_entries(plan, "systemd_tier_dropins", need_summary=True)
    result = [dropin(entry) for entry in entries] + [slice_dropin(plan)]
    return [dict(entry, content=dropin_text(entry, managed)) for entry in result]
