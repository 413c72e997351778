"""budget.yml through Ansible, with the collection's FQCN, against a 512 MiB host."""

BUDGET = "smallvps.hardening.budget"


def test_memory_facts_module_sees_the_container_limit(host):
    facts = host.ansible("smallvps.hardening.memory_facts", check=False)["ansible_facts"]["smallvps_memory"]
    assert facts["effective_memory_bytes"] == 512 * 1024 * 1024
    assert facts["memtotal_bytes"] > facts["effective_memory_bytes"]  # /proc/meminfo shows the machine
    assert facts["cgroup_version"] in (1, 2)
    assert facts["cpus"] >= 1


def test_budget_prints_the_plan_of_a_512_mib_host(ansible_playbook):
    result = ansible_playbook(BUDGET)
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


def test_budget_refuses_a_plan_that_does_not_fit(ansible_playbook):
    too_big = {"smallvps_services": [{"name": "app", "tier": 1, "min": "600M"}]}
    result = ansible_playbook(BUDGET, too_big)
    assert result.returncode != 0
    # nginx.service exists here, so the built-in tier-0 nginx joins the plan and the refusal.
    assert "smallvps_services: memory_plan: service 'nginx', 'app' key 'min'" in result.output, result.output
    assert "missing" in result.output


def test_budget_refuses_a_unit_the_host_does_not_have(ansible_playbook):
    typo = {"smallvps_services": [{"name": "ap", "tier": 1, "min": "64M"}]}
    result = ansible_playbook(BUDGET, typo)
    assert result.returncode != 0
    assert "service 'ap' key 'name': unit ap.service does not exist on this host" in result.output, result.output


def test_budget_counts_the_units_a_run_installs_later(ansible_playbook):
    # Neither unit exists here. Counted as to come, shop's entry is planned instead of refused, and the built-in
    # tier-0 haproxy joins as it does once haproxy.service exists.
    later = {
        "smallvps_services": [{"name": "shop", "tier": 1, "min": "64M"}],
        "memory_plan_units_to_come": ["shop.service", "haproxy.service"],
    }
    result = ansible_playbook(BUDGET, later)
    assert result.returncode == 0, result.output
    assert "- shop " in result.stdout and "- haproxy " in result.stdout, result.stdout
    result = ansible_playbook(BUDGET, dict(later, memory_plan_units_to_come=[]))
    assert result.returncode != 0
    assert "service 'shop' key 'name': unit shop.service does not exist on this host" in result.output, result.output
