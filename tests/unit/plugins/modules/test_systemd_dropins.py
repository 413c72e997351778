# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""systemd_dropins on a tmp dir standing for /etc/systemd/system, run as Ansible runs it."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.smallvps.hardening.plugins.modules import systemd_dropins

NAME = "50-smallvps-tier.conf"
APP = "[Service]\nMemoryMax=128M\n"
EDGE = "[Service]\nOOMScoreAdjust=-500\n"


def run_module(capsys, root, dropins: dict, **args) -> tuple[int, dict]:
    """(exit code, result) of the module's main() as Ansible runs it."""
    arguments = {"name": NAME, "dropins": dropins, "root": str(root), **args}
    with patch_module_args(arguments), pytest.raises(SystemExit) as exited:
        systemd_dropins.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


def _files(root) -> dict:
    """Relative path to (text, octal mode) of every file and directory under root."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            text = None if os.path.isdir(path) else open(path, encoding="utf-8").read()
            found[os.path.relpath(path, root)] = (text, oct(os.stat(path).st_mode & 0o7777))
    return found


def test_writes_every_dropin_and_its_directory(capsys, tmp_path):
    code, result = run_module(capsys, tmp_path, {"app.service": APP, "edge.service": EDGE})
    assert code == 0 and result["changed"]
    assert (result["changed_units"], result["removed"]) == (["app.service", "edge.service"], [])
    assert _files(tmp_path) == {
        "app.service.d": (None, "0o755"),
        f"app.service.d/{NAME}": (APP, "0o644"),
        "edge.service.d": (None, "0o755"),
        f"edge.service.d/{NAME}": (EDGE, "0o644"),
    }
    assert os.stat(tmp_path / "app.service.d" / NAME).st_uid == 0


def test_a_second_call_changes_nothing(capsys, tmp_path):
    run_module(capsys, tmp_path, {"app.service": APP, "edge.service": EDGE})
    before = os.stat(tmp_path / "app.service.d" / NAME).st_ino
    code, result = run_module(capsys, tmp_path, {"app.service": APP, "edge.service": EDGE})
    assert (code, result["changed"], result["changed_units"], result["removed"]) == (0, False, [], [])
    assert os.stat(tmp_path / "app.service.d" / NAME).st_ino == before


def test_only_the_changed_unit_is_rewritten_and_a_wrong_mode_is_fixed(capsys, tmp_path):
    run_module(capsys, tmp_path, {"app.service": APP, "edge.service": EDGE})
    os.chmod(tmp_path / "edge.service.d" / NAME, 0o600)
    code, result = run_module(capsys, tmp_path, {"app.service": "[Service]\nMemoryMax=96M\n", "edge.service": EDGE})
    assert code == 0 and result["changed_units"] == ["app.service", "edge.service"]
    assert (tmp_path / "app.service.d" / NAME).read_text() == "[Service]\nMemoryMax=96M\n"
    assert _files(tmp_path)[f"edge.service.d/{NAME}"] == (EDGE, "0o644")


def test_check_mode_writes_nothing_and_reports_what_it_would_do(capsys, tmp_path):
    run_module(capsys, tmp_path, {"app.service": APP, "old.service": EDGE})
    before = _files(tmp_path)
    code, result = run_module(
        capsys, tmp_path, {"app.service": "[Service]\nMemoryMax=96M\n", "new.service": EDGE}, _ansible_check_mode=True
    )
    assert code == 0 and result["changed"]
    assert result["changed_units"] == ["app.service", "new.service"]
    assert result["removed"] == [str(tmp_path / "old.service.d" / NAME)]
    assert _files(tmp_path) == before


def test_removes_only_its_own_file_from_units_no_longer_listed(capsys, tmp_path):
    run_module(capsys, tmp_path, {"app.service": APP, "old.service": EDGE})
    (tmp_path / "old.service.d" / "10-user.conf").write_text("[Service]\nNice=5\n")
    (tmp_path / "other.service.d").mkdir()
    (tmp_path / "other.service.d" / "60-other.conf").write_text("[Service]\nNice=5\n")
    (tmp_path / "multi-user.target.wants").mkdir()
    (tmp_path / "multi-user.target.wants" / NAME).write_text("not a drop-in directory\n")
    code, result = run_module(capsys, tmp_path, {"app.service": APP})
    assert code == 0 and result["changed"] and result["changed_units"] == []
    assert result["removed"] == [str(tmp_path / "old.service.d" / NAME)]
    assert sorted(_files(tmp_path)) == [
        "app.service.d",
        f"app.service.d/{NAME}",
        "multi-user.target.wants",
        f"multi-user.target.wants/{NAME}",
        "old.service.d",
        "old.service.d/10-user.conf",
        "other.service.d",
        "other.service.d/60-other.conf",
    ]


def test_diff_shows_each_file_written_and_removed(capsys, tmp_path):
    run_module(capsys, tmp_path, {"app.service": APP, "old.service": EDGE})
    _, result = run_module(capsys, tmp_path, {"app.service": "[Service]\nMemoryMax=96M\n"}, _ansible_diff=True)
    app, old = str(tmp_path / "app.service.d" / NAME), str(tmp_path / "old.service.d" / NAME)
    assert result["diff"] == [
        {"before_header": app, "after_header": app, "before": APP, "after": "[Service]\nMemoryMax=96M\n"},
        {"before_header": old, "after_header": old, "before": EDGE, "after": ""},
    ]


def test_no_diff_when_nothing_changes(capsys, tmp_path):
    run_module(capsys, tmp_path, {"app.service": APP})
    _, result = run_module(capsys, tmp_path, {"app.service": APP}, _ansible_diff=True)
    assert result["diff"] == []


@pytest.mark.parametrize(
    ("name", "dropins", "message"),
    [
        (
            "../50-x.conf",
            {"app.service": APP},
            "systemd_dropins: name is '../50-x.conf', expected a file name ending in .conf, without '/' (50-x.conf)",
        ),
        ("50-x", {"app.service": APP}, "systemd_dropins: name is '50-x', expected a file name ending in .conf"),
        (
            NAME,
            {"../app.service": APP},
            "systemd_dropins: dropins has the key '../app.service', expected a unit name with its suffix "
            "(.service, .socket, .slice, ...) and no '/'",
        ),
        (NAME, {"app": APP}, "systemd_dropins: dropins has the key 'app', expected a unit name with its suffix"),
        (
            NAME,
            {"app.service": ""},
            "systemd_dropins: dropins.app.service is '', expected the drop-in's text "
            "(leave a unit out to remove its drop-in)",
        ),
        (NAME, {"app.service": 5}, "systemd_dropins: dropins.app.service is 5, expected the drop-in's text"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument_before_anything_is_written(
    capsys, tmp_path, name, dropins, message
):
    (tmp_path / "old.service.d").mkdir()
    (tmp_path / "old.service.d" / NAME).write_text(EDGE)
    code, result = run_module(capsys, tmp_path, dropins, name=name)
    assert code == 1 and result["failed"] and result["msg"].startswith(message), result["msg"]
    assert sorted(_files(tmp_path)) == ["old.service.d", f"old.service.d/{NAME}"]


def test_a_file_where_the_directory_goes_is_an_error_naming_it(capsys, tmp_path):
    (tmp_path / "app.service.d").write_text("")
    code, result = run_module(capsys, tmp_path, {"app.service": APP})
    assert code == 1 and result["msg"] == f"systemd_dropins: {tmp_path}/app.service.d exists and is not a directory"
