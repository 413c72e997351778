# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The collection's execution-environment metadata, as ansible-builder reads it for AWX / AAP users.

Builds the tarball, installs it into an empty collections path, and asks ansible-builder (pinned in
requirements.txt) what an execution environment would install for it: `introspect --sanitize` on the
installed copy, and `create` on a user's version-3 definition (execution-environment.yml here) that takes
the collection from the tarball; then the context's own galaxy and introspect steps, replayed offline.
Each must list exactly the third-party packages the plugins import (none today) and nothing of the
test toolchain in requirements.txt. No image is built: `create` only writes the build context.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
METADATA = ("meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt")
# An import whose distribution is named otherwise (PyPI name, lower case) goes here.
DISTRIBUTION = {"yaml": "pyyaml"}


def _run(argv: list, cwd: Path | None = None, collections: Path | None = None) -> str:
    # Only the given collections path: the checkout's link (make's ANSIBLE_COLLECTIONS_PATH) would make
    # ansible-galaxy skip the install as already done.
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_COLLECTIONS_PATH": str(collections or "/nonexistent")}
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(map(str, argv))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _plugin_imports() -> set:
    """Third-party top-level packages imported anywhere under plugins/ (action plugins import the
    modules' code on the controller too, so all of plugins/ counts)."""
    names = set()
    for path in (ROOT / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    third_party = names - set(sys.stdlib_module_names) - {"__future__", "ansible", "ansible_collections"}
    return {DISTRIBUTION.get(name, name).lower().replace("_", "-") for name in third_party}


def _requirement_names(lines: list) -> set:
    return {re.match(r"[A-Za-z0-9._-]+", line).group(0).lower().replace("_", "-") for line in lines}


def _listed(path: Path) -> list:
    """A requirements or bindep file's entries: no blank or comment lines."""
    return [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def _introspected(output: str) -> dict:
    """introspect's YAML (python and system lists), after asserting it excluded nothing of ours:
    with -v3 it prints '# Excluding requirement X from ...' for each test package it drops."""
    excluded = [line for line in output.splitlines() if line.startswith("# Excluding")]
    assert excluded == [], f"introspect found test requirements in the collection: {excluded}"
    data = yaml.safe_load(output)
    return {"python": _requirement_names(data["python"]), "system": _requirement_names(data["system"])}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("ee")
    _run([BIN / "ansible-galaxy", "collection", "build", "--force", "--output-path", work / "dist", ROOT])
    (tarball,) = (work / "dist").glob("smallvps-hardening-*.tar.gz")
    installed = work / "installed"
    _run(
        [BIN / "ansible-galaxy", "collection", "install", "--offline", "--no-deps", "-p", installed, tarball],
        None,
        installed,
    )
    # An install that did nothing would leave introspect nothing to list, and the tests nothing to see.
    assert (installed / "ansible_collections" / "smallvps" / "hardening" / "MANIFEST.json").is_file()
    shutil.copytree(HERE, work / "user", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (work / "user" / "collections").mkdir()
    shutil.copy(tarball, work / "user" / "collections" / "smallvps-hardening.tar.gz")
    return work


def test_the_plugins_import_nothing_but_the_standard_library_and_ansible():
    # What the other tests compare against; a third-party import belongs in meta/ee-requirements.txt.
    assert _plugin_imports() == _requirement_names(_listed(ROOT / "meta" / "ee-requirements.txt"))


def test_the_tarball_carries_the_metadata(work):
    (tarball,) = (work / "dist").glob("*.tar.gz")
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert set(METADATA) <= names, f"build_ignore drops {set(METADATA) - names}"


def test_introspect_lists_what_the_plugins_import(work):
    output = _run([BIN / "ansible-builder", "introspect", "--sanitize", "-v3", work / "installed"])
    assert _introspected(output) == {"python": _plugin_imports(), "system": set()}, output


def test_create_writes_a_context_that_installs_the_tarball(work):
    user = work / "user"
    output = _run(
        [BIN / "ansible-builder", "create", "-f", "execution-environment.yml", "-c", "context"]
        + ["--output-filename", "Containerfile"],
        cwd=user,
    )
    assert "Complete! The build context can be found at" in output
    build = user / "context" / "_build"
    assert (build / "collections" / "smallvps-hardening.tar.gz").read_bytes() == (
        user / "collections" / "smallvps-hardening.tar.gz"
    ).read_bytes()
    requirements = yaml.safe_load((build / "requirements.yml").read_text())
    assert requirements == {"collections": [{"name": "collections/smallvps-hardening.tar.gz", "type": "file"}]}
    # No user-level Python or system list: the EE's only dependencies are what introspect finds.
    assert not (build / "requirements.txt").exists() and not (build / "bindep.txt").exists()
    containerfile = (user / "context" / "Containerfile").read_text()
    core = re.search(r"^ansible-core==\S+", (ROOT / "requirements.txt").read_text(), re.M).group(0)
    steps = [
        f'ARG ANSIBLE_INSTALL_REFS="{core} ansible-runner"',
        "COPY _build /build",
        "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml"
        ' --collections-path "/usr/share/ansible/collections"',
        "introspect.py introspect --write-bindep=/tmp/src/bindep.txt --write-pip=/tmp/src/requirements.txt",
        "RUN /output/scripts/install-from-bindep",
    ]
    missing = [step for step in steps if step not in containerfile]
    assert missing == [], f"the Containerfile lacks {missing}:\n{containerfile}"


def test_the_context_installs_the_collection_and_introspects_it_alike(work):
    """The image's galaxy stage (install requirements.yml from _build) and builder stage (the context's
    introspect.py writing the pip and bindep lists it then installs), run here without an image."""
    build = work / "user" / "context" / "_build"
    assert build.is_dir(), "run with test_create_writes_a_context_that_installs_the_tarball"
    ee = work / "ee-share"
    _run([BIN / "ansible-galaxy", "collection", "install", "--offline", "-r", "requirements.yml", "-p", ee], build, ee)
    assert (ee / "ansible_collections" / "smallvps" / "hardening" / "meta" / "execution-environment.yml").is_file()
    pip, bindep = work / "ee-src" / "requirements.txt", work / "ee-src" / "bindep.txt"
    output = _run(
        [sys.executable, build / "scripts" / "introspect.py", "introspect", ee]
        + [f"--write-pip={pip}", f"--write-bindep={bindep}"]
    )
    assert _introspected(output) == {"python": _plugin_imports(), "system": set()}, output
    # The files the assemble step installs from: written only when something is listed.
    written = {
        "python": _requirement_names(_listed(pip)) if pip.exists() else set(),
        "system": _requirement_names(_listed(bindep)) if bindep.exists() else set(),
    }
    assert written == {"python": _plugin_imports(), "system": set()}
