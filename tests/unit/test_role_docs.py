# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Each role README's variables block is what scripts/role_docs.py makes of meta/argument_specs.yml.

The argument spec is the one source of a variable's type, default and description; the README shows it.
A README edited by hand inside the block, or a spec changed without `make role-docs`, fails here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("role_docs", ROOT / "scripts" / "role_docs.py")
role_docs = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(role_docs)

ROLES = sorted(path.parent.parent.name for path in (ROOT / "roles").glob("*/meta/argument_specs.yml"))


def test_there_are_roles():
    assert len(ROLES) >= 10


@pytest.mark.parametrize("role", ROLES)
def test_readme_block_matches_argument_specs(role):
    readme = ROOT / "roles" / role / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert role_docs.BEGIN in text and role_docs.END in text, f"roles/{role}/README.md has no block: make role-docs"
    ((now, wanted),) = role_docs.readmes(ROOT, [role]).values()
    assert now == wanted, f"roles/{role}/README.md differs from meta/argument_specs.yml: make role-docs"


def test_update_replaces_only_the_block():
    generated = role_docs.BEGIN + "\nnew\n" + role_docs.END + "\n"
    text = "# r\n\nintro\n\n" + role_docs.BEGIN + "\nold\n" + role_docs.END + "\n\nTags: `r`.\n"
    assert role_docs.updated(text, generated) == "# r\n\nintro\n\n" + generated + "\nTags: `r`.\n"


def test_a_readme_without_block_gets_it_at_the_end_of_its_variables_section():
    generated = role_docs.BEGIN + "\nnew\n" + role_docs.END + "\n"
    text = "# r\n\n## Variables\n\nSee below.\n\n## Proof\n\nmolecule\n"
    assert role_docs.updated(text, generated) == (
        "# r\n\n## Variables\n\nSee below.\n\n" + generated + "\n## Proof\n\nmolecule\n"
    )
    assert role_docs.updated("# r\n", generated) == "# r\n\n## Variables\n\n" + generated


def test_markup_becomes_markdown_and_pipes_stay_in_their_cell():
    assert role_docs.markdown("C(a|b) or V(true), see O(x_y) and P(ns.c.role#role); 0 < n, <tag>") == (
        "`a\\|b` or `true`, see `x_y` and `ns.c.role`; 0 < n, &lt;tag>"
    )


def test_table_rows_show_type_default_required_choices_and_nested_keys():
    lines = role_docs._table(
        {
            "r_items": {
                "type": "list",
                "elements": "dict",
                "default": [{"name": "a"}],
                "description": ["One.", "Two."],
                "options": {"name": {"type": "str", "required": True, "choices": ["a", "b"], "description": "N."}},
            },
            "r_flag": {"type": "bool", "default": False, "description": "F."},
        }
    )
    assert lines == [
        "| variable | type | default | required | choices | description |",
        "| --- | --- | --- | --- | --- | --- |",
        "| `r_items` | list of dict | `[{name: a}]` | no |  | One. Two. |",
        "| `r_items[].name` | str |  | yes | `a`, `b` | N. |",
        "| `r_flag` | bool | `false` | no |  | F. |",
    ]
