#!/usr/bin/python3
"""Stand-in for a Go service's binary in tests (NOT Traefik, Oathkeeper or any real daemon).

It records what systemd started it with (argv and the environment variables the roles set)
in $HOME/standin.json, then sleeps until it is stopped. It proxies nothing and reads no
configuration: the tests use it to check the unit, the limits, GOMEMLIMIT, the argv and the
files, never the service's own behaviour.
"""

import json
import os
import signal
import sys
import time

RECORDED = ("GOMEMLIMIT", "GOGC", "HOME")
record = {
    "standin": True,
    "argv": sys.argv[1:],
    "environment": {k: v for k, v in os.environ.items() if k in RECORDED or k.startswith("SMALLVPS_") or "PAGES" in k},
    "pid": os.getpid(),
}
path = os.path.join(os.environ.get("HOME", "/tmp"), "standin.json")
with open(path + ".tmp", "w", encoding="utf-8") as handle:
    json.dump(record, handle)
os.replace(path + ".tmp", path)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(3600)
