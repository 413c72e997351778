"""unit_oom_score_adjust against fake /proc and cgroup trees."""

import errno
from unittest import mock

from ansible_collections.smallvps.hardening.plugins.modules.unit_oom_score_adjust import (
    adjust_pids,
    can_lower,
    unit_pids,
)


def _proc(tmp_path, scores):
    for pid, score in scores.items():
        (tmp_path / "proc" / str(pid)).mkdir(parents=True)
        (tmp_path / "proc" / str(pid) / "oom_score_adj").write_text(f"{score}\n")
    return str(tmp_path / "proc")


def test_unit_pids_found_in_the_systemd_hierarchy_of_a_v1_host(tmp_path):
    group = tmp_path / "cgroup" / "systemd" / "system.slice" / "app.service"
    group.mkdir(parents=True)
    (group / "cgroup.procs").write_text("42\n7\n")
    assert unit_pids(str(tmp_path / "cgroup"), "/system.slice/app.service") == [7, 42]


def test_unit_pids_of_a_missing_cgroup_is_none(tmp_path):
    assert unit_pids(str(tmp_path), "/system.slice/gone.service") is None


def test_only_processes_with_another_value_are_adjusted(tmp_path):
    proc = _proc(tmp_path, {10: 0, 11: 100})
    adjusted, refused = adjust_pids("app.service", [10, 11, 12], 100, proc, check_mode=False)
    assert adjusted == [{"unit": "app.service", "pid": 10, "from": 0, "to": 100}]
    assert refused == []
    assert (tmp_path / "proc" / "10" / "oom_score_adj").read_text() == "100\n"


def test_check_mode_reports_and_writes_nothing(tmp_path):
    proc = _proc(tmp_path, {10: 0})
    adjusted, _ = adjust_pids("app.service", [10], -500, proc, check_mode=True)
    assert adjusted[0]["to"] == -500
    assert (tmp_path / "proc" / "10" / "oom_score_adj").read_text() == "0\n"


def test_a_refusal_by_the_kernel_is_reported_not_raised(tmp_path):
    proc = _proc(tmp_path, {10: 0})
    real_open = open

    def refusing_open(path, mode="r", **kwargs):
        if "w" in mode:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, mode, **kwargs)

    with mock.patch("builtins.open", refusing_open):
        adjusted, refused = adjust_pids("ssh.service", [10], -500, proc, check_mode=False)
    assert adjusted == []
    assert refused == [{"unit": "ssh.service", "pid": 10, "from": 0, "to": -500, "error": "Permission denied"}]


def test_a_stronger_protection_is_kept(tmp_path):
    # The OpenSSH listener sets itself to -1000; the tier's -500 must not raise it.
    proc = _proc(tmp_path, {10: -1000, 11: 0})
    adjusted, refused = adjust_pids("ssh.service", [10, 11], -500, proc, check_mode=False)
    assert adjusted == [{"unit": "ssh.service", "pid": 11, "from": 0, "to": -500}]
    assert refused == []
    assert (tmp_path / "proc" / "10" / "oom_score_adj").read_text() == "-1000\n"


def test_a_positive_target_still_raises(tmp_path):
    proc = _proc(tmp_path, {10: -100})
    adjusted, _ = adjust_pids("app.service", [10], 100, proc, check_mode=False)
    assert adjusted == [{"unit": "app.service", "pid": 10, "from": -100, "to": 100}]


def test_check_mode_predicts_the_refusal_without_cap_sys_resource(tmp_path):
    proc = _proc(tmp_path, {10: 0, 11: 0})
    adjusted, refused = adjust_pids("ssh.service", [10], -500, proc, check_mode=True, lower_allowed=False)
    assert adjusted == []
    assert refused == [{"unit": "ssh.service", "pid": 10, "from": 0, "to": -500, "error": "Permission denied"}]
    # Raising needs no capability: still a change.
    adjusted, refused = adjust_pids("app.service", [11], 100, proc, check_mode=True, lower_allowed=False)
    assert adjusted == [{"unit": "app.service", "pid": 11, "from": 0, "to": 100}] and refused == []


def test_can_lower_reads_the_effective_capabilities(tmp_path):
    (tmp_path / "self").mkdir()
    (tmp_path / "self" / "status").write_text("Name:\tx\nCapEff:\t00000000a80425fb\n")
    assert can_lower(str(tmp_path)) is False  # a Docker container's default set
    (tmp_path / "self" / "status").write_text("Name:\tx\nCapEff:\t000001ffffffffff\n")
    assert can_lower(str(tmp_path)) is True
    (tmp_path / "self" / "status").write_text("Name:\tx\n")
    assert can_lower(str(tmp_path)) is False
