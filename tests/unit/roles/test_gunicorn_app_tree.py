# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""gunicorn_gevent skips the copy of the app's code when the host's listing of its app directory (vars/main.yml's
gunicorn_gevent_app_listing, run by sh) holds every line files/app_tree.py makes of the source on the controller.
Both run here, on a source and a copy of it made as the copy task leaves it; every difference the copy would
repair must show as a wanted line the listing lacks, so the copy runs."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys

import pytest
import yaml

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import ROOT

ROLE = ROOT / "roles" / "gunicorn_gevent"
LISTING = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["gunicorn_gevent_app_listing"]


def _wanted(src):
    out = subprocess.run(
        [sys.executable, str(ROLE / "files" / "app_tree.py"), str(src)], capture_output=True, text=True, check=True
    )
    # The copy makes the files root's; here they are the test's user's.
    owner = f"{pwd.getpwuid(os.getuid()).pw_name}:{grp.getgrgid(os.getgid()).gr_name}"
    return {line.replace("root:root", owner) for line in out.stdout.splitlines()}


def _missing(src, dest):
    """The wanted lines the host's listing lacks: empty when the copy would change nothing."""
    out = subprocess.run(["sh", "-c", LISTING, "test", str(dest)], capture_output=True, text=True, check=True)
    return _wanted(src) - set(out.stdout.splitlines())


@pytest.fixture
def trees(tmp_path):
    src = tmp_path / "src"
    (src / "pkg" / "sub").mkdir(parents=True)
    (src / "app.py").write_text("app = None\n")
    (src / "pkg" / "__init__.py").write_text("")
    (src / "pkg" / "sub" / "run.sh").write_text("#!/bin/sh\n")
    (src / "pkg" / "sub" / "run.sh").chmod(0o755)
    dest = tmp_path / "dest"
    shutil.copytree(src, dest)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    return src, dest


def test_a_copy_as_the_copy_task_leaves_it_is_not_copied_again(trees):
    src, dest = trees
    assert _missing(src, dest) == set()
    # Files the source lacks stay on the host, as the copy leaves them.
    (dest / "extra.txt").write_text("x")
    assert _missing(src, dest) == set()


@pytest.mark.parametrize(
    "change",
    ["content", "file_mode", "dir_mode", "missing_file", "missing_dir", "no_app_dir", "symlink_in_source"],
)
def test_what_the_copy_would_repair_makes_it_run(trees, change):
    src, dest = trees
    if change == "content":
        (dest / "pkg" / "__init__.py").write_text("changed\n")
    elif change == "file_mode":
        (dest / "app.py").chmod(0o600)
    elif change == "dir_mode":
        (dest / "pkg").chmod(0o700)
    elif change == "missing_file":
        (dest / "pkg" / "sub" / "run.sh").unlink()
    elif change == "missing_dir":
        shutil.rmtree(dest / "pkg" / "sub")
    elif change == "no_app_dir":
        shutil.rmtree(dest)
    elif change == "symlink_in_source":
        (src / "link.py").symlink_to(src / "app.py")
        shutil.copy(src / "app.py", dest / "link.py")
    assert _missing(src, dest), change
