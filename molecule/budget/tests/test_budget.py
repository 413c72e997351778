"""budget.yml through Ansible, with the collection's FQCN, against a 512 MiB host."""

import json
import os
import subprocess


def _run_budget(*extra_args):
    command = [
        "ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
        "smallvps.hardening.budget", *extra_args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_memory_facts_module_sees_the_container_limit(host):
    facts = host.ansible("smallvps.hardening.memory_facts", check=False)["ansible_facts"]["smallvps_memory"]
    assert facts["effective_memory_bytes"] == 512 * 1024 * 1024
    assert facts["memtotal_bytes"] > facts["effective_memory_bytes"]  # /proc/meminfo shows the machine
    assert facts["cgroup_version"] in (1, 2)
    assert facts["cpus"] >= 1


def test_budget_prints_the_plan_of_a_512_mib_host():
    result = _run_budget()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "effective 512 MiB (source cgroup" in result.stdout
    for service in ("ssh", "nginx", "app", "caddy"):
        assert f"- {service} " in result.stdout, result.stdout
    assert "changed=0" in result.stdout


def test_budget_works_in_check_mode():
    result = _run_budget("--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "effective 512 MiB" in result.stdout


def test_budget_refuses_a_plan_that_does_not_fit():
    too_big = {"smallvps_services": [{"name": "big", "tier": 1, "min": "600M"}]}
    result = _run_budget("-e", json.dumps(too_big))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "service 'big' key 'min'" in output, output
    assert "missing" in output
