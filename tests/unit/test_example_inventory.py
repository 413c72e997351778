"""inventories/example, the setups a user copies, read as Ansible reads it: every host is in a group site.yml
gives roles to, every variable is one a role it gets declares (a misspelt name would be silently ignored), each
value passes that role's argument spec, and each host's plan fits, the plan its README shows included."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from ansible.inventory.manager import InventoryManager
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible.vars.manager import VariableManager

from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_plan import build_plan
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_sizes import MemoryBudgetError
from ansible_collections.smallvps.hardening.plugins.plugin_utils._memory_table import render_table
from ansible_collections.smallvps.hardening.plugins.plugin_utils._render import Refusal, accepted_options, render

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "inventories" / "example"
SITE = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())
BUDGET = yaml.safe_load((ROOT / "playbooks" / "budget.yml").read_text())
MIB = 1024 * 1024
# Connection variables, which Ansible reads itself: the only names no role declares.
CONNECTION = {"ansible_host", "ansible_port", "ansible_user"}
# The example's hosts, their RAM in MiB.
HOSTS = {"app.example.net": 512, "gateway.example.net": 1024}
# What a host of an inventory has and a bare VariableManager's answer has not: magic variables and its (empty)
# facts.
MAGIC = {"inventory_hostname", "inventory_hostname_short", "group_names", "inventory_dir", "inventory_file"}
MAGIC |= {"ansible_facts", "ansible_local"}


def _role(entry):
    return (entry["role"] if isinstance(entry, dict) else entry).rsplit(".", 1)[-1]


def _with_dependencies(role):
    meta = yaml.safe_load((ROOT / "roles" / role / "meta" / "main.yml").read_text()) or {}
    return {role}.union(*(_with_dependencies(_role(dep)) for dep in meta.get("dependencies") or []))


def _site_roles(groups):
    """The roles site.yml (and budget.yml, its first play) applies to a host of `groups`, dependencies included."""
    plays = [play for play in [*SITE, *BUDGET] if play.get("hosts") in ("all", *groups)]
    return set().union(*(_with_dependencies(_role(entry)) for play in plays for entry in play.get("roles", [])))


def _options(role):
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    return specs["main"].get("options", {})


class Inventory:
    """An inventory directory as ansible-playbook loads it: {host: (its groups, the variables it sets)}."""

    def __init__(self, path):
        loader = DataLoader()
        manager = InventoryManager(loader=loader, sources=[str(path)])
        variables = VariableManager(loader=loader, inventory=manager)
        # What any host has without a variable of its own (magic variables): the rest is the inventory's.
        bare = set(VariableManager(loader=loader, inventory=InventoryManager(loader=loader)).get_vars())
        self.groups = {group for group in manager.groups if group not in ("all", "ungrouped")}
        self.hosts = {}
        for host in manager.get_hosts():
            found = variables.get_vars(host=host)
            own = {name: found[name] for name in set(found) - bare - MAGIC}
            self.hosts[host.name] = ([group.name for group in host.get_groups() if group.name != "all"], own)


def _unknown_variables(groups, own):
    known = set(CONNECTION).union(*(_options(role) for role in _site_roles(groups)))
    return sorted(set(own) - known)


def _spec_errors(groups, own):
    """Each role's argument spec against the variables of it the host sets (the role's own check at run time)."""
    errors = []
    for role in sorted(_site_roles(groups)):
        options = _options(role)
        mine = {name: value for name, value in own.items() if name in options}
        # Required options the host does not set are the role's defaults' business, not this inventory's.
        spec = {name: dict(option, required=False) for name, option in options.items() if name in mine}
        result = ArgumentSpecValidator(spec).validate(mine)
        errors += [f"{role}: {message}" for message in result.error_messages]
    return errors


def _units(groups, own):
    """The units budget.yml plans on a host of `groups`: sshd (a VPS has it), its roles' units to come (budget.yml's
    own expression) and the host's own services (the example's comments say they must exist)."""
    to_come = BUDGET[0]["vars"]["budget_units_to_come"]
    templar = Templar(loader=DataLoader(), variables={**own, "group_names": groups})
    declared = templar.template(trust_as_template(to_come))
    services = [entry["name"] for entry in own.get("smallvps_services", [])]
    return ["ssh.service", *declared, *(name if name.endswith(".service") else f"{name}.service" for name in services)]


def _facts(memory_mb, memtotal_mb=None):
    """A container of memory_mb on a machine of memtotal_mb (README's form) or, without it, a VM of memory_mb."""
    if memtotal_mb is None:
        return {"effective_memory_bytes": memory_mb * MIB, "memtotal_bytes": memory_mb * MIB, "cpus": 1}
    return {
        "effective_memory_bytes": memory_mb * MIB,
        "memtotal_bytes": memtotal_mb * MIB,
        "cgroup_memory_limit_bytes": memory_mb * MIB,
        "memory_source": "cgroup",
        "cpus": 2,
    }


def _plan_lines(groups, own, facts):
    return render_table(build_plan(facts, own.get("smallvps_services", []), units=_units(groups, own)))


def _shown_plans():
    """{host: its plan's lines} as inventories/example/README.md shows them."""
    text = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"^`([^`]+)`:\n\n```text\n(.*?)^```", text, re.M | re.S)
    return {host: block.rstrip("\n").split("\n") for host, block in found}


EXAMPLE_INVENTORY = Inventory(EXAMPLE)


def test_the_example_parses_with_both_hosts():
    assert sorted(EXAMPLE_INVENTORY.hosts) == sorted(HOSTS)
    # Each host has its own variables (host_vars/<host>.yml was read, not just hosts.yml).
    for name, (_, own) in EXAMPLE_INVENTORY.hosts.items():
        assert own.get("smallvps_services"), name


def test_every_group_is_one_site_yml_gives_roles_to():
    used = {play["hosts"] for play in SITE if play.get("hosts") not in (None, "all")}
    assert sorted(EXAMPLE_INVENTORY.groups - used) == []
    for name, (groups, _) in EXAMPLE_INVENTORY.hosts.items():
        assert set(groups) & used, f"{name} is in no group site.yml uses: {groups}"


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_every_variable_is_one_a_role_of_the_host_declares(name):
    groups, own = EXAMPLE_INVENTORY.hosts[name]
    assert _unknown_variables(groups, own) == [], f"{name}'s roles: {sorted(_site_roles(groups))}"


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_every_value_passes_its_roles_argument_spec(name):
    assert _spec_errors(*EXAMPLE_INVENTORY.hosts[name]) == []


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_the_plan_fits_a_vm_of_the_hosts_size(name):
    # A VM's reserve holds the kernel's watermarks too: the tighter of the two plans the README speaks of.
    lines = _plan_lines(*EXAMPLE_INVENTORY.hosts[name], _facts(HOSTS[name]))
    assert any(line.startswith(f"effective {HOSTS[name]} MiB") for line in lines), lines


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_the_readme_shows_the_plan_budget_prints(name):
    shown = _shown_plans()[name]
    memtotal_mb = int(re.search(r"memtotal (\d+) MiB", "\n".join(shown)).group(1))
    lines = _plan_lines(*EXAMPLE_INVENTORY.hosts[name], _facts(HOSTS[name], memtotal_mb))
    assert shown == lines, "paste this into inventories/example/README.md:\n" + "\n".join(lines)


def test_the_budget_scenario_runs_the_example_hosts_in_their_groups():
    platforms = yaml.safe_load((ROOT / "molecule" / "budget" / "molecule.yml").read_text())["platforms"]
    runs = {platform["name"]: (sorted(platform.get("groups", [])), platform["memory"]) for platform in platforms}
    for name, (groups, _) in EXAMPLE_INVENTORY.hosts.items():
        assert runs.get(name) == (sorted(groups), f"{HOSTS[name]}m" if HOSTS[name] < 1024 else "1g"), name


def _rendered(groups, own, memory_mb):
    """{product: the render options the host's variables give} for the products of its roles, each rendered with the
    host's plan as the role's validate step does (a value in a form the product refuses raises Refusal)."""
    plan = build_plan(_facts(memory_mb), own.get("smallvps_services", []), units=_units(groups, own))
    # The role variable of a render option is <role>_<option>, but for the rules.
    variable = {"rules": "access_rules"}
    rendered = {}
    for product in sorted(_site_roles(groups) & {"nginx_limit_req", "haproxy", "oathkeeper", "caddy", "traefik"}):
        options = {
            option: own[f"{product}_{variable.get(option, option)}"]
            for option in accepted_options(product)
            if f"{product}_{variable.get(option, option)}" in own
        }
        render(product, plan, options)
        rendered[product] = sorted(options)
    return rendered


def test_the_products_accept_the_examples_values():
    rendered = {name: _rendered(*EXAMPLE_INVENTORY.hosts[name], HOSTS[name]) for name in sorted(HOSTS)}
    assert rendered == {
        "app.example.net": {"nginx_limit_req": []},
        "gateway.example.net": {"haproxy": ["servers"], "oathkeeper": ["authenticators", "rules"]},
    }


# The checks above, against broken copies of the example: each must fail.
def _broken(tmp_path, edit):
    copy = tmp_path / "example"
    for path in EXAMPLE.rglob("*.yml"):
        target = copy / path.relative_to(EXAMPLE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(edit(path.relative_to(EXAMPLE).as_posix(), path.read_text()))
    return Inventory(copy)


def test_a_misspelt_variable_is_caught(tmp_path):
    broken = _broken(tmp_path, lambda name, text: text.replace("haproxy_servers:", "haproxy_server:"))
    groups, own = broken.hosts["gateway.example.net"]
    assert _unknown_variables(groups, own) == ["haproxy_server"]


def test_a_variable_of_a_role_the_host_does_not_get_is_caught(tmp_path):
    broken = _broken(
        tmp_path, lambda name, text: text + "haproxy_port: 8080\n" if name == "group_vars/app.yml" else text
    )
    assert _unknown_variables(*broken.hosts["app.example.net"]) == ["haproxy_port"]


def test_a_misspelt_service_key_is_caught(tmp_path):
    broken = _broken(tmp_path, lambda name, text: text.replace("max: 128M", "mx: 128M"))
    assert _spec_errors(*broken.hosts["gateway.example.net"]), "a service key 'mx' passed"


def test_a_rule_naming_a_handler_that_is_not_enabled_is_refused(tmp_path):
    broken = _broken(
        tmp_path, lambda name, text: text.replace("authenticators: [oauth2_introspection]", "authenticators: [jwt]")
    )
    with pytest.raises(Refusal, match="jwt"):
        _rendered(*broken.hosts["gateway.example.net"], 1024)


def test_a_min_that_does_not_fit_is_refused(tmp_path):
    broken = _broken(tmp_path, lambda name, text: text.replace("min: 192M", "min: 400M"))
    with pytest.raises(MemoryBudgetError, match="missing"):
        _plan_lines(*broken.hosts["app.example.net"], _facts(512))
