# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""go_service's validate entry point, run by ansible-playbook on the controller: the binary mapping (and the
deprecated per-field variables that feed it), what the argument spec refuses, what the asserts left refuse, and
the one result it hands back (go_service_result). One run: each case is a host of its own, connection local."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from ansible_collections.smallvps.hardening.tests.unit.local_playbook import ROOT, run_playbook

SHA = "ab" * 32
# A file on the controller (and on the "host": the same machine) for the controller and host sources.
FILE = str(ROOT / "roles" / "go_service" / "templates" / "go.service.j2")


def _entry(name, **extras):
    """A Go service's plan entry as memory_plan_entry reads it (every key an entry has; the numbers made up)."""
    keys = (
        "memory_high",
        "memory_swap_max",
        "managed_oom_memory_pressure",
        "managed_oom_memory_pressure_limit",
        "workers",
        "oom_score_adjust",
        "memory_low",
        "managed_oom_preference",
        "oom_policy",
        "restart",
        "restart_sec",
        "start_limit_interval_sec",
        "start_limit_burst",
    )
    return {
        **dict.fromkeys(keys),
        "name": name,
        "unit": f"{name}.service",
        "tier": 1,
        "runtime": "go",
        "memory_max": "128M",
        "gomemlimit": "115MiB",
        **extras,
    }


# The plan as the memory_plan role hands it to the roles, written out: go_service only reads its entries.
PLAN = {
    "services": {
        "collector": _entry("collector", max_buffered_pages_total=2048, max_buffered_pages_per_connection=64),
        "traefik": _entry("traefik"),
    },
    "summary": {},
    "warnings": [],
}

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Validate
      ansible.builtin.include_role:
        name: smallvps.hardening.go_service
        tasks_from: validate
        public: true
    - name: Result
      ansible.builtin.debug:
        msg: {result: "{{ go_service_result }}", fetched: "{{ go_service_fetched_path }}"}
"""


def _sha256(path):
    import hashlib

    return hashlib.sha256(open(path, "rb").read()).hexdigest()


GOOD = {"url": "https://example.org/collector-1.4.2", "version": "1.4.2", "sha256": SHA}

# case: host variables. Each passes or fails on its own host.
CASES = {
    "url": {"go_service_binary": GOOD},
    "archive_by_name": {"go_service_binary": {**GOOD, "url": "https://example.org/collector_1.4.2_linux_amd64.tar.gz"}},
    "archive_named_but_plain": {
        "go_service_binary": {**GOOD, "url": "https://example.org/collector.tar.gz", "archive_member": ""}
    },
    "archive_member_given": {
        "go_service_binary": {**GOOD, "url": "https://example.org/c.zip", "archive_member": "bin/c"}
    },
    "controller": {"go_service_binary": {"src": FILE, "version": "1.0.0", "sha256": "FILE_SHA"}},
    "host": {"go_service_binary": {"host_path": FILE, "version": "1.0.0", "sha256": "FILE_SHA"}},
    "package": {"go_service_binary": {"source": "package"}},
    # The deprecated per-field variables: each sets its key, over the mapping's.
    "legacy_go_service": {
        "go_service_source": "host",
        "go_service_host_path": FILE,
        "go_service_version": "2.0.0",
        "go_service_sha256": "FILE_SHA",
        "go_service_binary": GOOD,
    },
    "legacy_prefix": {
        "go_service_prefix": "traefik",
        "go_service_name": "traefik",
        "go_service_binary_name": "traefik",
        "traefik_version": "3.3.5",
        "traefik_sha256": SHA.upper(),
        "traefik_url": "https://example.org/traefik_v3.3.5_linux_amd64.tar.gz",
    },
    # Refused by the asserts: the first key of the mapping that is wrong.
    "no_binary": {},
    "bad_version": {"go_service_binary": {**GOOD, "version": "../1"}},
    "bad_sha256": {"go_service_binary": {**GOOD, "sha256": "abc"}},
    "bad_url": {"go_service_binary": {**GOOD, "url": "example.org/x"}},
    "missing_src": {"go_service_binary": {"src": "/nonexistent/collector", "version": "1.0.0", "sha256": SHA}},
    "relative_host_path": {"go_service_binary": {"host_path": "collector", "version": "1.0.0", "sha256": SHA}},
    "bad_member": {"go_service_binary": {**GOOD, "archive_member": "../collector"}},
    "wrong_sha_controller": {"go_service_binary": {"src": FILE, "version": "1.0.0", "sha256": SHA}},
    "prefix_named": {
        "go_service_prefix": "traefik",
        "go_service_name": "traefik",
        "go_service_binary": {**GOOD, "sha256": "x"},
    },
    "gogc": {"go_service_binary": GOOD, "go_service_gogc": "fast"},
    "gomemlimit": {"go_service_binary": GOOD, "go_service_environment": {"GOMEMLIMIT": "400M"}},
    "env_name": {"go_service_binary": GOOD, "go_service_environment": {"1X": "y"}},
    "arg_newline": {"go_service_binary": GOOD, "go_service_args": ["a\nb"]},
    "relative_file": {"go_service_binary": GOOD, "go_service_files": [{"path": "etc/x.yml", "content": "x"}]},
    "file_check_without_file": {
        "go_service_binary": GOOD,
        "go_service_files": [{"path": "/etc/c/c.conf", "content": "x", "validate_args": ["check"]}],
    },
    "reload_without_exec_reload": {
        "go_service_binary": GOOD,
        "go_service_files": [{"path": "/etc/c/c.conf", "content": "x", "on_change": "reload"}],
    },
    # A package's unit brings its own ExecReload.
    "reload_package_unit": {
        "go_service_binary": {"source": "package"},
        "go_service_files": [{"path": "/etc/c/c.conf", "content": "x", "on_change": "reload"}],
    },
    "reload_with_exec_reload": {
        "go_service_binary": GOOD,
        "go_service_reload_args": ["reload"],
        "go_service_files": [
            {"path": "/etc/c/c.conf", "content": "x", "validate_args": ["check", "%s"], "on_change": "reload"}
        ],
    },
    "home": {"go_service_binary": GOOD, "go_service_home": "/srv/collector"},
    "reassembly_not_a_flag": {"go_service_binary": GOOD, "go_service_reassembly": {"total_flag": "--max pages"}},
    "not_in_plan": {"go_service_binary": GOOD, "go_service_name": "nothere"},
    # Refused by the argument spec (types, choices, keys), naming the variable.
    "spec_unknown_key": {"go_service_binary": {**GOOD, "versoin": "1"}},
    "spec_two_locations": {"go_service_binary": {**GOOD, "src": FILE}},
    "spec_source_choice": {"go_service_binary": {**GOOD, "source": "git"}},
    "spec_reassembly_key": {"go_service_binary": GOOD, "go_service_reassembly": {"pages_flag": "max-pages"}},
    "spec_environment_type": {"go_service_binary": GOOD, "go_service_environment": ["GOGC=50"]},
    "spec_args_type": {"go_service_binary": GOOD, "go_service_args": {"run": True}},
    "spec_on_change_choice": {
        "go_service_binary": GOOD,
        "go_service_files": [{"path": "/etc/c/c.conf", "content": "x", "on_change": "restart_later"}],
    },
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """{case: (failed message or None, warnings, go_service_result or None)} from one ansible-playbook run."""
    tmp = tmp_path_factory.mktemp("go_service")
    file_sha = _sha256(FILE)
    hosts = {}
    for case, variables in CASES.items():
        text = json.dumps(variables).replace("FILE_SHA", file_sha)
        hosts[case] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "smallvps_memory_plan": PLAN,
            **json.loads(text),
        }
    defaults = {"go_service_name": "collector", "go_service_binary_name": "collector"}
    (tmp / "inventory.yml").write_text(json.dumps({"all": {"vars": defaults, "hosts": hosts}}))
    (tmp / "playbook.yml").write_text(PLAYBOOK)
    _, report = run_playbook(
        ["-i", str(tmp / "inventory.yml"), str(tmp / "playbook.yml")], timeout=300, ANSIBLE_FORKS="8"
    )
    found = {case: [None, [], None] for case in CASES}
    for task in report["plays"][0]["tasks"]:
        for case, outcome in task["hosts"].items():
            if outcome.get("failed") and found[case][0] is None:
                found[case][0] = outcome["msg"]
            found[case][1] += outcome.get("warnings", [])
            if task["task"]["name"] == "Result" and "msg" in outcome:
                found[case][2] = outcome["msg"]
    return {case: tuple(values) for case, values in found.items()}


def _result(outcomes, case, fetched=False):
    """go_service_result (and where the file is fetched to, the binary or its archive), and the warnings."""
    failed, warnings, shown = outcomes[case]
    assert failed is None, (case, failed)
    return (shown["result"], shown["fetched"]) if fetched else shown["result"], warnings


def test_the_result_has_its_documented_keys(outcomes):
    result, warnings = _result(outcomes, "url")
    assert set(result) == {
        "name",
        "unit",
        "source",
        "version",
        "binary_path",
        "gomemlimit",
        "plan_entry",
        "unit_changed",
        "binary_changed",
        "restarted",
    }
    assert result["name"] == "collector" and result["unit"] == "collector.service"
    assert (result["source"], result["version"]) == ("url", "1.4.2")
    assert result["binary_path"] == "/opt/smallvps/collector/1.4.2/collector"
    assert result["gomemlimit"] == "115MiB" and result["plan_entry"] == PLAN["services"]["collector"]
    assert (result["unit_changed"], result["binary_changed"], result["restarted"]) == (False, False, False)
    assert not [w for w in warnings if "deprecated" in w]
    # Documented where a user looks: the argument spec (ansible-doc) and the README's table.
    spec = yaml.safe_load((ROOT / "roles/go_service/meta/argument_specs.yml").read_text())
    described = " ".join(spec["argument_specs"]["main"]["description"])
    readme = (ROOT / "roles/go_service/README.md").read_text().split("## What it hands back")[1].split("\n## ")[0]
    for key in result:
        assert f"C({key})" in described and f"`{key}`" in readme, key


@pytest.mark.parametrize(
    "case, source, binary_path, fetched",
    [
        ("url", "url", "/opt/smallvps/collector/1.4.2/collector", "/opt/smallvps/collector/1.4.2/collector"),
        # A file named as an archive holds the binary, by the binary's name; the archive is kept by its own.
        (
            "archive_by_name",
            "url",
            "/opt/smallvps/collector/1.4.2/collector",
            "/opt/smallvps/collector/1.4.2/collector_1.4.2_linux_amd64.tar.gz",
        ),
        (
            "archive_named_but_plain",
            "url",
            "/opt/smallvps/collector/1.4.2/collector",
            "/opt/smallvps/collector/1.4.2/collector",
        ),
        ("archive_member_given", "url", "/opt/smallvps/collector/1.4.2/bin/c", "/opt/smallvps/collector/1.4.2/c.zip"),
        (
            "controller",
            "controller",
            "/opt/smallvps/collector/1.0.0/collector",
            "/opt/smallvps/collector/1.0.0/collector",
        ),
        ("host", "host", "/opt/smallvps/collector/1.0.0/collector", "/opt/smallvps/collector/1.0.0/collector"),
        ("package", "package", "/usr/bin/collector", None),
    ],
)
def test_every_source_passes_and_names_the_binary(outcomes, case, source, binary_path, fetched):
    (result, fetched_path), _ = _result(outcomes, case, fetched=True)
    assert (result["source"], result["binary_path"]) == (source, binary_path)
    if fetched:
        assert fetched_path == fetched


@pytest.mark.parametrize("case", ["reload_package_unit", "reload_with_exec_reload"])
def test_a_reloaded_file_passes_with_an_exec_reload(outcomes, case):
    _result(outcomes, case)


def test_deprecated_variables_feed_the_mapping_over_its_own_keys_and_warn(outcomes):
    result, warnings = _result(outcomes, "legacy_go_service")
    # go_service_source/host_path/version/sha256 win over the mapping's url, version and sha256.
    assert (result["source"], result["version"]) == ("host", "2.0.0")
    [warning] = [w for w in warnings if "deprecated" in w]
    assert warning.startswith("go_service_host_path, go_service_sha256, go_service_source, go_service_version:")
    # The mapping to set: the merged one, the deprecated variables' values in it.
    merged = warning.split("Set the mapping instead: go_service_binary: ")[1].rstrip(".")
    assert json.loads(merged) == {
        "source": "host",
        "host_path": FILE,
        "version": "2.0.0",
        "sha256": _sha256(FILE),
    }


def test_deprecated_variables_of_an_including_role_go_by_its_prefix(outcomes):
    result, warnings = _result(outcomes, "legacy_prefix")
    assert (result["source"], result["version"]) == ("url", "3.3.5")
    # The archive (by its name) holds the binary named traefik.
    assert result["binary_path"] == "/opt/smallvps/traefik/3.3.5/traefik"
    [warning] = [w for w in warnings if "deprecated" in w]
    assert warning.startswith("traefik_sha256, traefik_url, traefik_version: deprecated")
    assert "traefik_binary" in warning


@pytest.mark.parametrize(
    "case, starts",
    [
        ("no_binary", 'go_service_binary.version: "" is not a version such as 2.11.7'),
        ("bad_version", 'go_service_binary.version: "../1" is not a version such as 2.11.7'),
        ("bad_sha256", 'go_service_binary.sha256: "abc" is not the sha256 of the binary or of its release archive'),
        ("bad_url", 'go_service_binary.url: "example.org/x" is not an http(s) or ftp URL'),
        ("missing_src", 'go_service_binary.src: "/nonexistent/collector" is not the absolute path of an existing file'),
        ("relative_host_path", 'go_service_binary.host_path: "collector" is not the absolute path of the binary'),
        ("bad_member", 'go_service_binary.archive_member: "../collector" is not a relative path inside the archive'),
        ("wrong_sha_controller", f"go_service_binary.sha256: {FILE} has sha256 "),
        ("prefix_named", 'traefik_binary.sha256: "x" is not the sha256'),
        ("gogc", 'go_service_gogc: "fast" is not a GOGC'),
        ("gomemlimit", "go_service_environment: GOMEMLIMIT=400M is refused: Go exits at start on it"),
        ("env_name", "go_service_environment / go_service_args / go_service_reload_args / go_service_files: expected"),
        (
            "arg_newline",
            "go_service_environment / go_service_args / go_service_reload_args / go_service_files: expected",
        ),
        ("relative_file", "go_service_environment / go_service_args / go_service_reload_args / go_service_files: "),
        (
            "file_check_without_file",
            'go_service_files: /etc/c/c.conf has validate_args ["check"] with no %s, where the program is handed',
        ),
        (
            "reload_without_exec_reload",
            "go_service_files: /etc/c/c.conf has on_change: reload, but the unit has no ExecReload",
        ),
        ("home", "go_service_home: '/srv/collector' is not /var/lib/<directory>"),
        ("reassembly_not_a_flag", 'go_service_reassembly: {"total_flag": "--max pages"} maps a key to something'),
        ("not_in_plan", "go_service_name: 'nothere' is not an entry of smallvps_services"),
    ],
)
def test_the_checks_left_to_asserts_refuse_naming_the_variable(outcomes, case, starts):
    failed, _, _ = outcomes[case]
    assert failed is not None and failed.startswith(starts), (case, failed)


@pytest.mark.parametrize(
    "case, says",
    [
        ("spec_unknown_key", "go_service_binary.versoin. Supported parameters include: archive_member, host_path"),
        ("spec_two_locations", "parameters are mutually exclusive: url|src|host_path found in go_service_binary"),
        (
            "spec_source_choice",
            "value of source must be one of: url, controller, host, package, got: git found in go_service_binary",
        ),
        ("spec_reassembly_key", "go_service_reassembly.pages_flag. Supported parameters include:"),
        ("spec_environment_type", "argument 'go_service_environment' is of type list and we were unable to convert"),
        ("spec_args_type", "argument 'go_service_args' is of type dict"),
        ("spec_on_change_choice", "value of on_change must be one of: restart, reload, got: restart_later"),
    ],
)
def test_the_argument_spec_refuses_types_choices_and_keys(outcomes, case, says):
    failed, _, _ = outcomes[case]
    assert failed is not None and failed.startswith("Validation of arguments failed") and says in failed, (case, failed)
