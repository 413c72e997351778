# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

import json

import pytest
import yaml
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
        "proc/meminfo": "MemTotal:        2097152 kB\nMemAvailable:     409600 kB\nSwapTotal:        262144 kB\n",
        "proc/cpuinfo": "processor\t: 0\n\nprocessor\t: 1\n",
        "proc/swaps": "Filename Type Size Used Priority\n/dev/zram0 partition 262144 0 100\n",
        "proc/sys/vm/min_free_kbytes": "8192\n",
        "proc/sys/vm/watermark_scale_factor": "10\n",
        "proc/1/cgroup": "0::/vps/init.scope\n",
        "sys/fs/cgroup/cgroup.controllers": "cpu memory\n",
        "sys/fs/cgroup/vps/memory.max": f"{512 * MIB}\n",
        "sys/fs/cgroup/vps/init.scope/memory.max": f"{32 * MIB}\n",
        "sys/fs/cgroup/vps/system.slice/memory.high": f"{448 * MIB}\n",
        "sys/fs/cgroup/vps/system.slice/memory.swap.max": "0\n",
        "sys/block/zram0/disksize": f"{256 * MIB}\n",
        "sys/block/zram0/mm_stat": f"{4 * MIB} {MIB} {2 * MIB} 0 {2 * MIB} 0 0 0 0\n",
        "sys/kernel/mm/transparent_hugepage/enabled": "always madvise [never]\n",
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
    assert memory["mem_available_bytes"] == 400 * MIB
    # PID 1's own init.scope limit (32 MiB) does not bind the services.
    assert memory["cgroup_memory_limit_bytes"] == 512 * MIB
    assert memory["cgroup_memory_high_bytes"] == 448 * MIB
    assert memory["cgroup_swap_max_bytes"] == 0
    assert memory["zram_devices"] == [
        {
            "name": "zram0",
            "disksize_bytes": 256 * MIB,
            "orig_data_bytes": 4 * MIB,
            "compr_data_bytes": MIB,
            "mem_used_bytes": 2 * MIB,
            "mem_limit_bytes": None,
        }
    ]
    assert memory["zram_mem_used_bytes"] == 2 * MIB
    assert memory["min_free_bytes"] == 8 * MIB
    assert memory["watermark_scale_factor"] == 10
    assert memory["thp_enabled"] == "never"


def test_every_returned_key_is_documented_and_every_documented_key_returned(capsys, fake_host):
    _, result = run_module(capsys, fake_host)
    returned = yaml.safe_load(memory_facts.RETURN)
    documented = returned["ansible_facts"]["contains"]["smallvps_memory"]["contains"]
    assert set(documented) == set(result["memory"])
    assert set(returned["memory"]["sample"]) == set(result["memory"])
    zram_fields = documented["zram_devices"]["contains"]
    assert set(zram_fields) == set(result["memory"]["zram_devices"][0])


def test_module_fails_without_meminfo(capsys, tmp_path):
    code, result = run_module(capsys, {"proc_root": str(tmp_path), "sys_root": str(tmp_path)})
    assert code == 1
    assert result["failed"] is True
    assert "meminfo" in result["msg"]
