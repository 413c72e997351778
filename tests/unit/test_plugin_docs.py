"""Every plugin documents itself the way ansible-doc needs it.

`ansible-test sanity` cannot run on the test machines (see docs/testing.md); these checks
cover what its ansible-doc and validate-modules tests would catch first: docs that do not
render, EXAMPLES that are not YAML, and module options the docs do not describe.
"""

import importlib
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIRS = {"filter": ROOT / "plugins" / "filter", "module": ROOT / "plugins" / "modules"}
PLUGINS = sorted(
    (plugin_type, path.stem)
    for plugin_type, folder in PLUGIN_DIRS.items()
    for path in folder.glob("*.py")
    if not path.name.startswith("_")
)


def _ansible_doc(plugin_type, name):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"))
    result = subprocess.run(
        ["ansible-doc", "-t", plugin_type, "--json", f"smallvps.hardening.{name}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[f"smallvps.hardening.{name}"]


def test_there_are_plugins_to_check():
    assert ("filter", "memory_plan") in PLUGINS and ("module", "memory_facts") in PLUGINS


@pytest.mark.parametrize(("plugin_type", "name"), PLUGINS)
def test_ansible_doc_renders_docs_examples_and_return(plugin_type, name):
    doc = _ansible_doc(plugin_type, name)
    assert doc["doc"]["short_description"]
    assert doc["doc"]["description"]
    examples = yaml.safe_load(doc["examples"])
    assert isinstance(examples, list) and examples, "EXAMPLES must be a non-empty YAML list of tasks"
    assert all(task.get("name") for task in examples), "every example task is named"
    assert doc["return"], "RETURN must describe the result"


@pytest.mark.parametrize("name", [name for plugin_type, name in PLUGINS if plugin_type == "module"])
def test_module_options_match_its_argument_spec(name):
    documented = _ansible_doc("module", name)["doc"].get("options", {})
    module = importlib.import_module(f"ansible_collections.smallvps.hardening.plugins.modules.{name}")
    assert set(module.ARGUMENT_SPEC) == set(documented)
    for option, spec in module.ARGUMENT_SPEC.items():
        assert documented[option].get("type", "str") == spec.get("type", "str"), option
        assert documented[option].get("default") == spec.get("default"), option
