"""Runs a playbook against the controller itself (connection local) with this checkout as
smallvps.hardening, and returns its exit code and ansible.posix.json's report: for role tasks that
only read variables (checks, plans), which need no test host."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_local_playbook(tmp_path: Path, playbook: str, *extra_vars: str) -> tuple[int, dict]:
    """(exit code, the json callback's report); each of `extra_vars` is one -e argument."""
    path = tmp_path / "playbook.yml"
    path.write_text(playbook)
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"),
        ANSIBLE_STDOUT_CALLBACK="json",
        ANSIBLE_LOCALHOST_WARNING="False",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
    )
    args = [arg for extra in extra_vars for arg in ("-e", extra)]
    result = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", str(path), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(f"no json report: {result.stdout[-2000:]}{result.stderr[-2000:]}") from error
    return result.returncode, report
