#!/usr/bin/env python3
# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The plan pictures of a sample fleet, drawn by playbooks/budget.yml and shot in headless Chromium.

    python scripts/plan_pictures.py [DIR]      (make plan-screenshots: DIR is docs/images)

writes DIR/plan-index.png (index.html) and DIR/plan-host.png (one host's SVG). The fleet's plans come
from the real planner on fixed facts (no host is contacted): budget.yml finds each host's
smallvps_memory_plan already set, skips computing it, and draws it with budget_picture_dir.
tests/unit/test_plan_picture_browser.py uses the same fleet and helpers and compares what the
browser shows with the plans.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
# Debian's chromium-headless-shell (scripts/browser.sh installs it), else a full Chromium.
BROWSERS = (
    "chromium-headless-shell",
    "/usr/lib/chromium-headless-shell/chromium-headless-shell",
    "chromium",
    "/usr/lib/chromium/chromium",
)
# The host whose SVG is shot for the docs.
SHOWN_HOST = "gateway.example.net"
# name: (effective MiB, cpus, services). ssh.service is on every host, so the planner adds sshd
# (and nginx or haproxy when listed in "units") as tier 0 itself, as on a real host.
FLEET = {
    "app.example.net": (512, 1, [{"name": "app", "tier": 1, "runtime": "python", "min": "192M"}], ["nginx.service"]),
    "gateway.example.net": (
        1024,
        2,
        [
            {
                "name": "oathkeeper",
                "tier": 1,
                "runtime": "go",
                "min": "64M",
                "max": "128M",
                "introspection_cache": True,
            },
            {"name": "api", "tier": 1, "min": "256M"},
        ],
        ["haproxy.service"],
    ),
    "db.example.net": (
        2048,
        2,
        [
            {"name": "postgresql", "tier": 1, "min": "512M", "max": "1024M"},
            {"name": "metrics", "tier": 1, "runtime": "go", "min": "64M", "max": "128M"},
            {"name": "backup", "tier": 2, "min": "64M"},
        ],
        [],
    ),
    "tiny.example.net": (256, 1, [{"name": "worker", "tier": 1, "min": "48M", "max": "64M"}], []),
}


def fleet_plans() -> dict:
    """{host: its plan}, from the collection's planner (the plan module's Python) on FLEET's facts."""
    from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import build_plan

    plans = {}
    for host, (memory_mb, cpus, services, extra_units) in FLEET.items():
        facts = {"effective_memory_bytes": memory_mb * MIB, "memtotal_bytes": memory_mb * MIB, "cpus": cpus}
        units = ["ssh.service", *extra_units, *(f"{service['name']}.service" for service in services)]
        plans[host] = build_plan(facts, services, units=units)
    return plans


def run_budget(plans: dict, *args: str, hosts: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    """ansible-playbook playbooks/budget.yml ARGS on `plans`' hosts, each given its plan (nothing is computed
    and no host is contacted: the picture tasks run on the controller), and on `hosts` ({host: its variables})."""
    work = Path(tempfile.mkdtemp(prefix="plan-pictures-"))
    try:
        given = {host: {"smallvps_memory_plan": plan} for host, plan in plans.items()}
        inventory = {"all": {"hosts": {**given, **(hosts or {})}}}
        # JSON is YAML: the inventory plugin reads it as is.
        (work / "hosts.yml").write_text(json.dumps(inventory))
        env = dict(
            os.environ,
            ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"),
            ANSIBLE_HOME=str(ROOT / ".cache" / "ansible-home"),
            ANSIBLE_LOCALHOST_WARNING="False",
        )
        command = ["ansible-playbook", "-i", str(work / "hosts.yml"), str(ROOT / "playbooks" / "budget.yml"), *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    finally:
        shutil.rmtree(work)


def draw(plans: dict, directory: Path, *, check: bool = False) -> subprocess.CompletedProcess:
    """budget.yml on `plans`' hosts with budget_picture_dir=directory (and --check with `check`)."""
    return run_budget(plans, "-e", f"budget_picture_dir={directory}", *(["--check"] if check else []))


def find_browser() -> str | None:
    """The first headless Chromium found, or None."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run_browser(browser: str, args: list[str], timeout: int) -> subprocess.CompletedProcess:
    # --no-sandbox: CI and test machines run the tests as root, where Chromium's sandbox refuses to start.
    base = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    result = subprocess.run(base + args, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{browser} {' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result


def dump_dom(browser: str, url: str, timeout: int = 60) -> str:
    """The document as the browser holds it once the page's scripts ran."""
    return _run_browser(browser, ["--dump-dom", url], timeout).stdout


def screenshot(browser: str, url: str, png: Path, size: tuple[int, int], timeout: int = 60) -> None:
    _run_browser(browser, [f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", url], timeout)
    if not png.is_file():
        raise RuntimeError(f"{browser} wrote no {png}")


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else ROOT / "docs" / "images").resolve()
    browser = find_browser()
    if browser is None:
        print("plan_pictures: no headless Chromium; run scripts/browser.sh (as root) first", file=sys.stderr)
        return 1
    sys.path.insert(0, str(ROOT / ".cache" / "collections"))
    with tempfile.TemporaryDirectory(prefix="plan-") as pictures:
        result = draw(fleet_plans(), Path(pictures))
        if result.returncode != 0:
            print(result.stdout[-3000:], result.stderr[-3000:], file=sys.stderr)
            return 1
        out.mkdir(parents=True, exist_ok=True)
        index, host = Path(pictures) / "index.html", Path(pictures) / f"{SHOWN_HOST}.svg"
        screenshot(browser, index.as_uri(), out / "plan-index.png", (1200, 760))
        screenshot(browser, host.as_uri(), out / "plan-host.png", (960, 300))
    print(f"plan_pictures: wrote {out / 'plan-index.png'} and {out / 'plan-host.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
