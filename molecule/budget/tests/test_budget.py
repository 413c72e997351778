"""budget.yml through Ansible, with the collection's FQCN, against inventories/example's two hosts (512 MiB and
1 GiB) and smallvps-budget, a 512 MiB host with no sshd that the refusals run on."""

import re
from pathlib import Path

import pytest
import yaml

BUDGET = "smallvps.hardening.budget"
ROOT = Path(__file__).resolve().parents[3]
MIB = 1024 * 1024
# The container limit of each platform, from molecule.yml (512m, 1g).
LIMITS = {
    platform["name"]: int(platform["memory"][:-1]) * {"m": MIB, "g": 1024 * MIB}[platform["memory"][-1]]
    for platform in yaml.safe_load((ROOT / "molecule" / "budget" / "molecule.yml").read_text())["platforms"]
}
ALONE = "smallvps-budget"


def _shown_plans():
    """{host: its plan's lines} as inventories/example/README.md shows them."""
    text = (ROOT / "inventories" / "example" / "README.md").read_text(encoding="utf-8")
    return {
        host: block.rstrip("\n").split("\n")
        for host, block in re.findall(r"^`([^`]+)`:\n\n```text\n(.*?)^```", text, re.M | re.S)
    }


def _machine_neutral(lines):
    # memtotal is the RAM of the machine the containers run on, not the host's.
    return [re.sub(r"memtotal \d+ MiB", "memtotal N MiB", line) for line in lines]


def test_memory_facts_module_sees_the_container_limit(host):
    facts = host.ansible("smallvps.hardening.memory_facts", check=False)["ansible_facts"]["smallvps_memory"]
    assert facts["effective_memory_bytes"] == LIMITS[host.backend.get_hostname()]
    assert facts["memtotal_bytes"] > facts["effective_memory_bytes"]  # /proc/meminfo shows the machine
    assert facts["cgroup_version"] in (1, 2)
    assert facts["cpus"] >= 1


@pytest.mark.parametrize("name", ["app.example.net", "gateway.example.net"])
def test_budget_prints_the_plans_the_example_shows(_budget_tables, name):
    shown = _shown_plans()
    assert name in shown, f"inventories/example/README.md shows no plan for {name}"
    printed = _budget_tables[name]
    assert _machine_neutral(printed) == _machine_neutral(shown[name]), "budget printed:\n" + "\n".join(printed)


def test_budget_prints_the_plan_of_a_512_mib_host(ansible_playbook):
    result = ansible_playbook(BUDGET, limit=ALONE)
    assert result.returncode == 0, result.output
    assert "effective 512 MiB (source cgroup" in result.stdout
    for service in ("nginx", "app", "caddy"):
        assert f"- {service} " in result.stdout, result.stdout
    # No sshd on this host: the built-in ssh entry joins only where its unit exists.
    assert "- ssh " not in result.stdout, result.stdout
    assert result.changed == 0, result.output


def test_budget_works_in_check_mode(ansible_playbook):
    result = ansible_playbook(BUDGET, check=True)
    assert result.returncode == 0, result.output
    assert "effective 512 MiB" in result.stdout
    assert "effective 1024 MiB" in result.stdout


def test_budget_refuses_a_plan_that_does_not_fit(ansible_playbook):
    too_big = {"smallvps_services": [{"name": "app", "tier": 1, "min": "600M"}]}
    result = ansible_playbook(BUDGET, too_big, limit=ALONE)
    assert result.returncode != 0
    # nginx.service exists here, so the built-in tier-0 nginx joins the plan and the refusal.
    assert "smallvps_services: memory_plan: service 'nginx', 'app' key 'min'" in result.output, result.output
    assert "missing" in result.output


def test_budget_refuses_a_unit_the_host_does_not_have(ansible_playbook):
    typo = {"smallvps_services": [{"name": "ap", "tier": 1, "min": "64M"}]}
    result = ansible_playbook(BUDGET, typo, limit=ALONE)
    assert result.returncode != 0
    assert "service 'ap' key 'name': unit ap.service does not exist on this host" in result.output, result.output


def test_budget_counts_the_units_a_run_installs_later(ansible_playbook):
    # Neither unit exists here. Counted as to come, shop's entry is planned instead of refused, and the built-in
    # tier-0 haproxy joins as it does once haproxy.service exists.
    later = {
        "smallvps_services": [{"name": "shop", "tier": 1, "min": "64M"}],
        "memory_plan_units_to_come": ["shop.service", "haproxy.service"],
    }
    result = ansible_playbook(BUDGET, later, limit=ALONE)
    assert result.returncode == 0, result.output
    assert "- shop " in result.stdout and "- haproxy " in result.stdout, result.stdout
    result = ansible_playbook(BUDGET, dict(later, memory_plan_units_to_come=[]), limit=ALONE)
    assert result.returncode != 0
    assert "service 'shop' key 'name': unit shop.service does not exist on this host" in result.output, result.output
