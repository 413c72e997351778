# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""write_files on a tmp dir, run as Ansible runs it, with shell commands standing for nginx -t."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.smallvps.hardening.plugins.modules import write_files

REFUSE = ["sh", "-c", "echo 'unknown \"x\" variable' >&2; exit 1"]


def run_module(capsys, files: list, **args) -> tuple[int, dict]:
    """(exit code, result) of the module's main() as Ansible runs it."""
    with patch_module_args({"files": files, **args}), pytest.raises(SystemExit) as exited:
        write_files.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


def _state(root) -> dict:
    """Name to (bytes or symlink target, octal mode) of every entry in root."""
    found = {}
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if os.path.islink(path):
            found[name] = ("-> " + os.readlink(path), None)
        else:
            found[name] = (open(path, "rb").read(), oct(os.stat(path).st_mode & 0o7777))
    return found


def _files(root, **contents) -> list:
    return [{"path": str(root / name), "content": text} for name, text in contents.items()]


def test_writes_every_file_with_its_mode_and_says_which_changed(capsys, tmp_path):
    (tmp_path / "b.conf").write_text("b\n")
    files = _files(tmp_path, **{"a.conf": "a\n", "b.conf": "b\n"}) + [
        {"path": str(tmp_path / "c.conf"), "content": "c", "mode": "0600"}
    ]
    os.chmod(tmp_path / "b.conf", 0o644)
    code, result = run_module(capsys, files)
    assert code == 0 and result["changed"]
    assert result["changed_paths"] == [str(tmp_path / "a.conf"), str(tmp_path / "c.conf")]
    assert [entry["changed"] for entry in result["results"]] == [True, False, True]
    assert _state(tmp_path) == {"a.conf": (b"a\n", "0o644"), "b.conf": (b"b\n", "0o644"), "c.conf": (b"c", "0o600")}
    assert os.stat(tmp_path / "a.conf").st_uid == 0


def test_a_second_call_changes_nothing_and_runs_no_check(capsys, tmp_path):
    marker = tmp_path / "checked"
    files = _files(tmp_path, **{"a.conf": "a\n"})
    run_module(capsys, files, check=["touch", str(marker)])
    assert marker.exists()
    marker.unlink()
    inode = os.stat(tmp_path / "a.conf").st_ino
    code, result = run_module(capsys, files, check=["touch", str(marker)])
    assert (code, result["changed"], result["changed_paths"]) == (0, False, [])
    assert not marker.exists() and os.stat(tmp_path / "a.conf").st_ino == inode


def test_a_wrong_mode_alone_is_fixed(capsys, tmp_path):
    (tmp_path / "a.conf").write_text("a\n")
    os.chmod(tmp_path / "a.conf", 0o666)
    code, result = run_module(capsys, _files(tmp_path, **{"a.conf": "a\n"}))
    assert (code, result["changed"]) == (0, True)
    assert _state(tmp_path) == {"a.conf": (b"a\n", "0o644")}


def test_check_mode_writes_nothing_runs_no_check_and_reports(capsys, tmp_path):
    (tmp_path / "old.conf").write_text("old\n")
    os.symlink("old.conf", tmp_path / "default")
    before = _state(tmp_path)
    code, result = run_module(
        capsys,
        _files(tmp_path, **{"old.conf": "new\n", "new.conf": "x"}),
        remove=[str(tmp_path / "default")],
        check=REFUSE,
        _ansible_check_mode=True,
        _ansible_diff=True,
    )
    assert code == 0 and result["changed"] and _state(tmp_path) == before
    assert result["changed_paths"] == [str(tmp_path / name) for name in ("old.conf", "new.conf", "default")]
    assert [d["before"] for d in result["diff"]] == ["old\n", "", "symlink to old.conf\n"]


def test_a_refusing_check_puts_everything_back_and_fails_with_its_stderr(capsys, tmp_path):
    (tmp_path / "old.conf").write_bytes(b"old\r\n\xff")
    os.chmod(tmp_path / "old.conf", 0o640)
    (tmp_path / "same.conf").write_text("same\n")
    os.chmod(tmp_path / "same.conf", 0o644)
    os.symlink("../sites-available/default", tmp_path / "default")
    before = _state(tmp_path)
    code, result = run_module(
        capsys,
        _files(tmp_path, **{"old.conf": "new\n", "same.conf": "same\n", "new.conf": "x"}),
        remove=[str(tmp_path / "default")],
        check=REFUSE,
    )
    assert code == 1 and result["failed"]
    assert _state(tmp_path) == before
    assert result["msg"].startswith("write_files: sh -c ") and 'unknown "x" variable' in result["msg"]
    assert result["stderr"] == 'unknown "x" variable\n' and result["rc"] == 1


def test_a_passing_check_keeps_the_files(capsys, tmp_path):
    files = _files(tmp_path, **{"a.conf": "a\n"})
    code, result = run_module(capsys, files, check=["test", "-f", str(tmp_path / "a.conf")])
    assert (code, result["changed"]) == (0, True)
    assert _state(tmp_path) == {"a.conf": (b"a\n", "0o644")}


def test_remove_takes_away_a_file_or_symlink_and_ignores_a_missing_one(capsys, tmp_path):
    os.symlink("nowhere", tmp_path / "default")
    code, result = run_module(capsys, [], remove=[str(tmp_path / "default"), str(tmp_path / "gone")])
    assert (code, result["changed_paths"], _state(tmp_path)) == (0, [str(tmp_path / "default")], {})


def test_diff_shows_each_file_whose_content_changes(capsys, tmp_path):
    (tmp_path / "a.conf").write_text("a\n")
    _, result = run_module(capsys, _files(tmp_path, **{"a.conf": "b\n", "c.conf": "c\n"}), _ansible_diff=True)
    assert result["diff"] == [
        {
            "before_header": str(tmp_path / "a.conf"),
            "after_header": str(tmp_path / "a.conf"),
            "before": "a\n",
            "after": "b\n",
        },
        {
            "before_header": str(tmp_path / "c.conf"),
            "after_header": str(tmp_path / "c.conf"),
            "before": "",
            "after": "c\n",
        },
    ]
    _, result = run_module(capsys, _files(tmp_path, **{"a.conf": "b\n", "c.conf": "c\n"}), _ansible_diff=True)
    assert result["diff"] == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"path": "etc/a.conf", "content": "x"}, "write_files: files[1].path is 'etc/a.conf', expected an absolute"),
        ({"path": "/TMP/a.conf", "content": 3}, "write_files: files[1].content is int, expected the file's text"),
        ({"path": "/TMP/a.conf", "content": "x", "mode": 420}, "write_files: files[1].mode is 420, expected a quoted"),
        ({"path": "/TMP/a.conf", "content": "x", "mode": "u+rw"}, "write_files: files[1].mode is 'u+rw'"),
        ({"path": "/TMP/a.conf"}, "write_files: files[1] is {'path': '/TMP/a.conf'}, expected a dict with path and"),
        ({"path": "/TMP/a.conf", "content": "x", "state": "absent"}, "write_files: files[1] is"),
        ({"path": "/TMP/a.conf", "content": "x", "owner": ""}, "write_files: files[1].owner is '', expected a user"),
        ({"path": "/TMP/no/a.conf", "content": "x"}, "write_files: the directory of /TMP/no/a.conf does not exist"),
        ({"path": "/TMP/first.conf", "content": "x"}, "write_files: /TMP/first.conf is given twice"),
    ],
)
def test_bad_arguments_are_refused_naming_the_option_before_anything_is_written(capsys, tmp_path, entry, message):
    entry = {key: value.replace("/TMP", str(tmp_path)) if key == "path" else value for key, value in entry.items()}
    files = [{"path": str(tmp_path / "first.conf"), "content": "first\n"}, entry]
    code, result = run_module(capsys, files)
    assert code == 1 and result["msg"].startswith(message.replace("/TMP", str(tmp_path))), result["msg"]
    assert _state(tmp_path) == {}


def test_check_mode_reports_a_file_whose_directory_a_real_run_makes_first(capsys, tmp_path):
    # A dry run on a fresh host: the task that creates the directory did not run either.
    path = tmp_path / "app" / "gunicorn.conf.py"
    code, result = run_module(capsys, [{"path": str(path), "content": "x\n"}], _ansible_check_mode=True)
    assert code == 0 and result["changed"] and result["changed_paths"] == [str(path)], result
    assert not (tmp_path / "app").exists()


def test_a_directory_to_remove_is_refused_before_any_file_is_written(capsys, tmp_path):
    (tmp_path / "sites").mkdir()
    code, result = run_module(capsys, _files(tmp_path, **{"a.conf": "a"}), remove=[str(tmp_path / "sites")])
    assert code == 1 and result["msg"] == (
        f"write_files: {tmp_path / 'sites'} in remove is a directory, expected a file or symlink"
    )
    assert not (tmp_path / "a.conf").exists()


def test_a_relative_path_to_remove_is_refused(capsys, tmp_path):
    code, result = run_module(capsys, _files(tmp_path, **{"a.conf": "a"}), remove=["default"])
    assert code == 1 and result["msg"] == (
        "write_files: remove[0] is 'default', expected an absolute file path (/etc/x.conf)"
    )
    assert _state(tmp_path) == {}


def test_a_directory_where_the_file_goes_is_an_error_naming_it(capsys, tmp_path):
    (tmp_path / "a.conf").mkdir()
    code, result = run_module(capsys, _files(tmp_path, **{"a.conf": "a"}))
    assert (
        code == 1
        and result["msg"] == f"write_files: {tmp_path}/a.conf exists and is not a regular file; nothing was written"
    )
