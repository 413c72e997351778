# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""budget.yml's picture is opt-in: without budget_picture_dir the run draws nothing (as before it existed), and a
value that is not a path is refused before the plan. The pictures themselves: test_plan_picture_browser.py."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("plan_pictures", ROOT / "scripts" / "plan_pictures.py")
plan_pictures = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(plan_pictures)


def _changed(stdout: str) -> list[int]:
    return [int(count) for count in re.findall(r"\bchanged=(\d+)", stdout)]


def test_without_the_variable_nothing_is_drawn(tmp_path):
    plans = plan_pictures.fleet_plans()
    without = plan_pictures.run_budget(plans)
    assert without.returncode == 0, without.stdout[-3000:]
    assert _changed(without.stdout) == [0] * len(plans) and "-> localhost" not in without.stdout
    # The same run with it writes a file per host and the index, all from the first host's controller tasks.
    drawn = plan_pictures.draw(plans, tmp_path / "pictures")
    assert drawn.returncode == 0, drawn.stdout[-3000:]
    assert sum(_changed(drawn.stdout)) == len(plans) + 2 and len(list((tmp_path / "pictures").iterdir())) == 5


def test_a_host_that_fails_before_its_plan_gets_a_row_in_the_index(tmp_path):
    # Unreachable at once: nothing listens on port 1 of loopback, so memory_facts cannot run there.
    down = {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh"}
    plans = {"tiny.example.net": plan_pictures.fleet_plans()["tiny.example.net"]}
    result = plan_pictures.run_budget(plans, "-e", f"budget_picture_dir={tmp_path}", hosts={"down.example.net": down})
    assert result.returncode != 0 and "down.example.net" in result.stdout
    assert sorted(path.name for path in tmp_path.iterdir()) == ["index.html", "tiny.example.net.svg"]
    rows = re.findall(r"<tr [^>]*>", (tmp_path / "index.html").read_text())
    assert rows[0].startswith('<tr class="no-plan" data-host="down.example.net"')
    assert 'data-host="tiny.example.net"' in rows[1] and 'data-headroom="44"' in rows[1]


def test_a_value_that_is_not_a_path_is_refused_before_the_plan():
    for value, shown in (('""', '""'), ("3", "3"), ("[]", "[]")):
        result = plan_pictures.run_budget({"web1": None}, "-e", f'{{"budget_picture_dir": {value}}}')
        assert result.returncode == 2, result.stdout[-3000:]
        assert (
            f'"msg": "budget_picture_dir is {shown}; expected a directory on the controller, such as /tmp/plan '
            '(the pictures are written there)"'
        ) in result.stdout.replace('\\"', '"')
        assert "smallvps.hardening.memory_plan :" not in result.stdout
