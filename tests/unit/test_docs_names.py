# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The prose names only roles, filters and modules that exist, and README.md names every one that does.

Read from the code, not from a list kept here: the directories of roles/, the names each
plugins/filter/*.py registers in FilterModule.filters(), the files of plugins/modules/ and playbooks/.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PROSE = sorted([README, *(ROOT / "docs").glob("*.md"), *(ROOT / "roles").glob("*/README.md")])

ROLES = {path.name for path in (ROOT / "roles").iterdir() if path.is_dir()}
MODULES = {path.stem for path in (ROOT / "plugins" / "modules").glob("*.py") if not path.name.startswith("_")}
PLAYBOOKS = {path.stem for path in (ROOT / "playbooks").glob("*.yml")}


def _filters() -> set:
    names = set()
    for path in (ROOT / "plugins" / "filter").glob("*.py"):
        if path.name.startswith("_"):
            continue
        plugin = importlib.import_module(f"ansible_collections.smallvps.hardening.plugins.filter.{path.stem}")
        names |= set(plugin.FilterModule().filters())
    return names


FILTERS = _filters()
EVERYTHING = ROLES | MODULES | FILTERS | PLAYBOOKS


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _section(text: str, heading: str) -> str:
    match = re.search(rf"^{re.escape(heading)}\n(.*?)(?=^#|\Z)", text, re.M | re.S)
    assert match, f"README.md has no '{heading}' section"
    return match.group(1)


def _readme_lists() -> dict:
    """The backticked names of README.md's lists: each '### Roles' bullet's first name, and the
    '- modules:' / '- filters:' items of '### Plugins' (a bullet's continuation lines included)."""
    text = README.read_text(encoding="utf-8")
    roles = set(re.findall(r"^- `([^`]+)`(?: and `([^`]+)`)?", _section(text, "### Roles"), re.M))
    plugins = _section(text, "### Plugins")
    lists = {"roles": {name for pair in roles for name in pair if name}}
    for kind in ("modules", "filters"):
        item = re.search(rf"^- {kind}:(.*?)(?=^- |\Z)", plugins, re.M | re.S)
        assert item, f"README.md's '### Plugins' has no '- {kind}:' item"
        # Link targets in parentheses are not names: drop them before reading the backticks.
        lists[kind] = set(re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", item.group(1))))
    return lists


def test_the_code_has_what_the_test_reads():
    assert {"memory_plan", "swap", "go_service"} <= ROLES and "memory_facts" in MODULES
    assert {"memory_plan", "memory_plan_entry", "filter_refusal"} <= FILTERS
    assert PLAYBOOKS == {"site", "budget", "drill", "status"}


@pytest.mark.parametrize("path", PROSE, ids=_relative)
def test_every_collection_name_in_the_prose_exists(path):
    text = path.read_text(encoding="utf-8")
    named = set(re.findall(r"smallvps\.hardening\.([A-Za-z0-9_]+)", text))
    assert named - EVERYTHING == set(), (
        f"{_relative(path)} names smallvps.hardening.X that is no role, filter, module or playbook"
    )
    # The collection's roles/, not a path that ends in it (tests/unit/roles/).
    paths = set(re.findall(r"(?<![\w/.-])roles/([A-Za-z0-9_]+)", text))
    assert paths - ROLES == set(), f"{_relative(path)} names roles/X that does not exist"


def test_readme_lists_name_only_what_exists():
    lists = _readme_lists()
    assert lists["roles"] - ROLES == set(), "README.md's '### Roles' lists roles that do not exist"
    assert lists["modules"] - MODULES == set(), "README.md's '- modules:' lists modules that do not exist"
    assert lists["filters"] - FILTERS == set(), "README.md's '- filters:' lists filters that do not exist"


def test_readme_lists_every_role_filter_and_module():
    lists = _readme_lists()
    assert ROLES - lists["roles"] == set(), "roles missing from README.md's '### Roles'"
    assert MODULES - lists["modules"] == set(), "modules missing from README.md's '- modules:'"
    assert FILTERS - lists["filters"] == set(), "filters missing from README.md's '- filters:'"


def test_the_docs_index_links_every_page():
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    pages = {path.name for path in (ROOT / "docs").glob("*.md")} - {"README.md"}
    linked = set(re.findall(r"\]\(([A-Za-z0-9_.-]+\.md)\)", index))
    assert pages - linked == set(), "docs/README.md's index does not link these pages"
