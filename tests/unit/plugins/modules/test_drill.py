# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""The drill module's argument checks (the flood's loopback refusal above all) and a real flood on loopback."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.smallvps.hardening.plugins.module_utils._drill_rounds import flood_one
from ansible_collections.smallvps.hardening.plugins.modules.drill import ARGUMENT_SPEC, argument_errors
from ansible_collections.smallvps.hardening.tests.unit.local_playbook import run_local_playbook


def _params(**changes) -> dict:
    params = {key: spec.get("default") for key, spec in ARGUMENT_SPEC.items()}
    params.update(changes)
    return params


def _flood(*targets, **changes) -> list[str]:
    return argument_errors(_params(round="flood", targets=list(targets), **changes))


GOOD = {"location": "root", "url": "http://127.0.0.1/", "rate": 10, "burst": 20}


def test_good_arguments_pass():
    assert _flood(GOOD) == []
    assert (
        argument_errors(_params(round="leak", unit="app.service", memory_max=1 << 28, health="unix:/run/a.sock")) == []
    )


@pytest.mark.parametrize(
    ("targets", "changes", "message"),
    [
        (
            [{**GOOD, "url": "http://192.0.2.10/"}],
            {},
            "targets[0].url: 'http://192.0.2.10/' does not aim at a loopback",
        ),
        ([{**GOOD, "url": "http://example.net/"}], {}, "does not aim at a loopback address"),
        ([{"location": "root", "url": "http://127.0.0.1/"}], {}, "targets[0] lacks rate, burst"),
        ([{**GOOD, "rate": 0}], {}, "targets[0].rate: 0 is not a number of requests per second > 0"),
        ([{**GOOD, "burst": "20"}], {}, "targets[0].burst: '20' is not an integer >= 0"),
        ([GOOD], {"duration": 61}, "duration: 61 is not in (0, 60] seconds"),
        ([GOOD], {"concurrency": 0}, "concurrency: 0 is not in 1..64"),
    ],
)
def test_bad_flood_arguments_are_refused(targets, changes, message):
    assert any(message in error for error in _flood(*targets, **changes)), _flood(*targets, **changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, "unit is required for the leak round"),
        ({"unit": "app.service", "memory_max": 0}, "memory_max is required for the leak round"),
        ({"unit": "app.service", "memory_max": 1, "health": "http://10.1.1.1/"}, "health: 'http://10.1.1.1/'"),
        ({"unit": "app.service", "memory_max": 1, "timeout": 0}, "timeout: 0 is not a number of seconds > 0"),
    ],
)
def test_bad_leak_arguments_are_refused(changes, message):
    errors = argument_errors(_params(round="leak", **changes))
    assert any(message in error for error in errors), errors


def test_the_module_refuses_a_flood_off_loopback_before_sending_anything(tmp_path):
    playbook = """
- hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - smallvps.hardening.drill:
        round: flood
        targets: [{location: root, url: "http://192.0.2.10/", rate: 10, burst: 20}]
"""
    returncode, report = run_local_playbook(tmp_path, playbook)
    result = report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert returncode != 0 and result["failed"], json.dumps(result)
    assert result["msg"].startswith("drill: targets[0].url: 'http://192.0.2.10/' does not aim at a loopback address")


class _Limited(BaseHTTPRequestHandler):
    """200 while the bucket (RATE a second, BURST deep) has room, else 429: nginx's limit_req, nodelay."""

    rate, burst, limit = 50.0, 5, True
    lock = threading.Lock()
    state = {"excess": 0.0, "last": 0.0}

    def do_GET(self):  # noqa: N802 - BaseHTTPRequestHandler's name
        with self.lock:
            now = time.monotonic()
            excess = max(self.state["excess"] - (now - self.state["last"]) * self.rate, 0.0)
            self.state["last"] = now
            ok = not self.limit or excess + 1 <= self.burst + 1
            if ok:
                self.state["excess"] = excess + 1
            else:
                self.state["excess"] = excess
        self.send_response(200 if ok else 429)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _serve(limit: bool):
    handler = type("Handler", (_Limited,), {"limit": limit, "state": {"excess": 0.0, "last": time.monotonic()}})
    handler.protocol_version = "HTTP/1.1"
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("limit", [True, False])
def test_a_real_flood_on_loopback_counts_what_the_server_answers(limit):
    server = _serve(limit)
    try:
        target = {"location": "root", "url": f"http://127.0.0.1:{server.server_port}/", "rate": 50, "burst": 5}
        verdict = flood_one(target, 1.0, 4)
    finally:
        server.shutdown()
    # Paced at 20 x 50/s: about 1000 requests in the second.
    assert verdict["sent"] > 300 and verdict["other"] == 0
    assert verdict["sent"] == verdict["answered_2xx"] + verdict["limited_429"]
    if limit:
        assert verdict["passed"], verdict["why"]
        assert 0.8 < verdict["share_429"] < 1
    else:
        assert not verdict["passed"] and verdict["limited_429"] == 0
        assert any("no 429 among" in why for why in verdict["why"])
