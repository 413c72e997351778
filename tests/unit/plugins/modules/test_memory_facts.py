# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.smallvps.hardening.plugins.modules import memory_facts

MIB = 1024 * 1024


def run_module(capsys, args: dict) -> tuple[int, dict]:
    """Run the module's main() as Ansible would and return (exit code, result)."""
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        memory_facts.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def fake_host(tmp_path):
    files = {
        "proc/meminfo": "MemTotal:        2097152 kB\nSwapTotal:        262144 kB\n",
        "proc/cpuinfo": "processor\t: 0\n\nprocessor\t: 1\n",
        "proc/swaps": "Filename Type Size Used Priority\n/dev/zram0 partition 262144 0 100\n",
        "proc/1/cgroup": "0::/vps\n",
        "sys/fs/cgroup/cgroup.controllers": "cpu memory\n",
        "sys/fs/cgroup/vps/memory.max": f"{512 * MIB}\n",
    }
    for relative, content in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return {"proc_root": str(tmp_path / "proc"), "sys_root": str(tmp_path / "sys")}


@pytest.mark.parametrize("check_mode", [False, True])
def test_module_returns_facts_from_a_fake_tree(capsys, fake_host, check_mode):
    code, result = run_module(capsys, dict(fake_host, _ansible_check_mode=check_mode))
    assert code == 0
    assert result["changed"] is False
    memory = result["ansible_facts"]["smallvps_memory"]
    assert memory == result["memory"]
    assert memory["effective_memory_mb"] == 512
    assert memory["memory_source"] == "cgroup"
    assert memory["memtotal_mb"] == 2048
    assert memory["swap_devices"][0]["type"] == "zram"
    assert memory["cpus"] == 2
    assert memory["psi_memory"] is False


def test_module_fails_without_meminfo(capsys, tmp_path):
    code, result = run_module(capsys, {"proc_root": str(tmp_path), "sys_root": str(tmp_path)})
    assert code == 1
    assert result["failed"] is True
    assert "meminfo" in result["msg"]
