# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""docs/fleet.md says what the code does: its tag table names exactly the tags site.yml has (as
`ansible-playbook --list-tags` prints them), and its rolling play is a valid playbook of this collection."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "docs" / "fleet.md"


def _ansible_playbook(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        ["ansible-playbook", "-i", str(ROOT / "inventories" / "example"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _doc_tags() -> set:
    text = FLEET.read_text(encoding="utf-8")
    table = re.search(r"^\| role \| tags \|\n\| --- \| --- \|\n((?:\|.*\n)+)", text, re.M)
    assert table, "docs/fleet.md has no '| role | tags |' table"
    return {tag for row in table.group(1).splitlines() for tag in re.findall(r"`([^`]+)`", row.split("|")[2])}


def test_the_tag_table_names_exactly_the_tags_of_site_yml():
    result = _ansible_playbook(str(ROOT / "playbooks" / "site.yml"), "--list-tags")
    assert result.returncode == 0, result.stdout + result.stderr
    listed = {tag.strip() for group in re.findall(r"TAGS: \[([^\]]*)\]", result.stdout) for tag in group.split(",")}
    assert _doc_tags() == listed - {""}


def test_the_rolling_play_is_a_valid_playbook(tmp_path):
    text = FLEET.read_text(encoding="utf-8")
    play = re.search(r"^```yaml\n(# rolling\.yml.*?)^```", text, re.M | re.S)
    assert play, "docs/fleet.md has no rolling.yml example"
    path = tmp_path / "rolling.yml"
    path.write_text(play.group(1))
    result = _ansible_playbook(str(path), "--syntax-check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^  serial: \[1, \"25%\"\]\n  max_fail_percentage: 0$", play.group(1), re.M)
