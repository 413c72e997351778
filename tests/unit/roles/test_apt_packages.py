# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""apt_packages hands apt only the packages dpkg does not list as installed: a re-run on a host that
has them all costs one dpkg-query. Run by ansible-playbook on the controller (a Debian host), in
check mode where apt is reached, so nothing is installed here."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import run_playbook

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: smallvps.hardening.apt_packages
"""
INSTALL = "Install the packages without Recommends"


def _run(tmp_path, *args, **extra_vars):
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(PLAYBOOK)
    extra = json.dumps({"apt_packages_requester": "test", "ansible_python_interpreter": sys.executable, **extra_vars})
    returncode, report = run_playbook(["-i", "localhost,", "-c", "local", str(playbook), "-e", extra, *args])
    tasks = report["plays"][0]["tasks"]
    return returncode, {task["task"]["name"].split(" : ")[-1]: task["hosts"]["localhost"] for task in tasks}


def test_packages_dpkg_lists_as_installed_never_reach_apt(tmp_path):
    # bash and coreutils are essential: installed on every Debian controller.
    rc, tasks = _run(tmp_path, apt_packages_names=["bash", "coreutils"])
    assert rc == 0, tasks
    assert tasks[INSTALL].get("skipped"), tasks[INSTALL]


# apt's module runs on Debian's own Python, the one with python3-apt.
HAS_PYTHON3_APT = (
    subprocess.run(["/usr/bin/python3", "-c", "import apt"], capture_output=True, check=False).returncode == 0
)


@pytest.mark.skipif(not HAS_PYTHON3_APT, reason="apt's module needs python3-apt in /usr/bin/python3 on the controller")
def test_a_package_dpkg_does_not_list_as_installed_goes_to_apt(tmp_path, monkeypatch):
    # A dpkg-query that says bash is not installed (and python3-apt is, so apt can dry-run):
    # apt is reached, in check mode, and finds bash installed after all.
    fake = tmp_path / "bin" / "dpkg-query"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *python3-apt*) printf "install ok installed" ;;\n'
        '  *) printf "bash not-installed\\n" ;; esac\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    rc, tasks = _run(tmp_path, "--check", apt_packages_names=["bash"])
    assert rc == 0, tasks
    assert not tasks[INSTALL].get("skipped"), tasks[INSTALL]
    assert not tasks[INSTALL].get("changed"), tasks[INSTALL]


UNMASK = "Let the held units start again"


@pytest.mark.parametrize("masked", [False, True])
def test_the_held_units_are_unmasked_only_when_one_is_still_masked(tmp_path, monkeypatch, masked):
    # Every package installed: nothing is held, and the lifting runs only for a hold a run cut short left behind
    # (a runtime mask, a link to /dev/null in the runtime unit directory, here one of the test's). A fake systemctl
    # logs what it is asked.
    fake = tmp_path / "bin" / "systemctl"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/systemctl.log\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    runtime = tmp_path / "run"
    runtime.mkdir()
    if masked:
        (runtime / "smallvps-test.service").symlink_to("/dev/null")
    rc, tasks = _run(
        tmp_path,
        apt_packages_names=["bash"],
        apt_packages_hold_units=["smallvps-test.service"],
        apt_packages_runtime_unit_dir=str(runtime),
    )
    assert rc == 0, tasks
    log = tmp_path / "systemctl.log"
    if masked:
        assert not tasks[UNMASK].get("skipped"), tasks[UNMASK]
        assert log.read_text() == "unmask --runtime smallvps-test.service\n"
    else:
        assert tasks[UNMASK].get("skipped"), tasks[UNMASK]
        assert not log.exists()
