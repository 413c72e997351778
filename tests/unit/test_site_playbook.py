# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""site.yml gathers facts once per host per run: every gathering is a round trip to each host, and
the later plays read the facts the first one gathered from the run's fact cache."""

from __future__ import annotations

from pathlib import Path

import yaml

SITE = Path(__file__).resolve().parents[2] / "playbooks" / "site.yml"


def test_facts_are_gathered_by_one_play_on_every_host_and_by_no_other():
    plays = [play for play in yaml.safe_load(SITE.read_text()) if "hosts" in play]
    gathering = [play["name"] for play in plays if play.get("gather_facts", True)]
    assert gathering == [plays[0]["name"]], gathering
    assert plays[0]["hosts"] == "all"
    # The roles read the distribution (monitoring) and the virtualization type (swap).
    assert set(plays[0]["gather_subset"]) >= {"min", "virtual"}
