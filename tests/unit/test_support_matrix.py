# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""What the collection claims to support is what the tests run, in every place that claims it.

The tested ansible-core is requirements.txt's pin; the tested targets are the distributions the molecule
scenarios name (debian12, debian13). meta/runtime.yml's requires_ansible, each role's
min_ansible_version and platforms, and README.md's "## Support" section must say the same.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(path.parent.parent.name for path in (ROOT / "roles").glob("*/meta/main.yml"))
# The molecule distro names and what Galaxy's role platforms call them.
CODENAMES = {"debian12": "bookworm", "debian13": "trixie"}
VERSIONS = {"debian12": "12", "debian13": "13"}

TESTED_CORE = Version(re.search(r"^ansible-core==(\S+)", (ROOT / "requirements.txt").read_text(), re.M).group(1))
REQUIRES_TEXT = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["requires_ansible"]
REQUIRES = SpecifierSet(REQUIRES_TEXT)
FLOOR = Version(min((spec.version for spec in REQUIRES if spec.operator == ">="), key=Version))


def _tested_distros() -> set:
    """The distributions molecule runs: each scenario's `distro:` keys (the VM scenarios boot Debian 12)."""
    named = set()
    for path in (ROOT / "molecule").glob("*/molecule.yml"):
        for platform in yaml.safe_load(path.read_text()).get("platforms", []):
            named.add(platform.get("distro", "debian12"))
    return named


def _support() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Support\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, "README.md has no '## Support' section"
    return match.group(1)


def test_requires_ansible_covers_the_tested_release_and_its_series_only():
    assert TESTED_CORE in REQUIRES, f"meta/runtime.yml's {REQUIRES} excludes the tested ansible-core {TESTED_CORE}"
    assert FLOOR == Version(f"{TESTED_CORE.major}.{TESTED_CORE.minor}.0")
    untested = Version(f"{TESTED_CORE.major}.{TESTED_CORE.minor + 1}.0")
    assert untested not in REQUIRES, f"meta/runtime.yml's {REQUIRES} claims {untested}, which no test runs"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_claims_what_is_tested(role):
    info = yaml.safe_load((ROOT / "roles" / role / "meta" / "main.yml").read_text())["galaxy_info"]
    assert str(info["min_ansible_version"]) == f"{FLOOR.major}.{FLOOR.minor}"
    assert info["platforms"] == [
        {"name": "Debian", "versions": sorted(CODENAMES[distro] for distro in _tested_distros())}
    ]


def test_readme_support_names_what_is_tested():
    support = _support()
    assert f"ansible-core {TESTED_CORE}" in support
    assert f"`{REQUIRES_TEXT}`" in support, f"README.md's Support does not quote requires_ansible `{REQUIRES_TEXT}`"
    assert "Python 3.11" in support
    for distro in _tested_distros():
        assert f"Debian {VERSIONS[distro]} ({CODENAMES[distro]})" in support
