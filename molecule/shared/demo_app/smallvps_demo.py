"""A tiny WSGI app for the tests and the demo host: not for production.

gunicorn serves it as smallvps_demo:app (the role gunicorn_gevent, behind nginx):

  /          200 "ok\n", at once
  /slow      time.sleep(1), then "slow\n": cooperative under the gevent worker (gunicorn
             monkey-patches time), blocking the whole worker under -k sync
  /pid       the worker's PID
  /rss       the worker's resident memory in KiB (VmRSS of /proc/self/status)
  /grow?mb=N allocates N MiB (1..512), kept for the worker's life with every page written,
             and answers the new RSS; served only with SMALLVPS_DEMO_GROW=1 in the
             environment (else 404), for the memory-cap test
"""

import os
import time
from urllib.parse import parse_qs

_kept = []  # what /grow allocated: it stays resident until the worker dies


def _rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    status = "200 OK"
    if path == "/":
        body = "ok"
    elif path == "/slow":
        time.sleep(1)
        body = "slow"
    elif path == "/pid":
        body = str(os.getpid())
    elif path == "/rss":
        body = str(_rss_kib())
    elif path == "/grow" and os.environ.get("SMALLVPS_DEMO_GROW") == "1":
        mb = parse_qs(environ.get("QUERY_STRING", "")).get("mb", [""])[0]
        if mb.isdigit() and 1 <= int(mb) <= 512:
            # Repeating one byte writes every byte, so every page is resident at once.
            _kept.append(b"\x01" * (int(mb) << 20))
            body = str(_rss_kib())
        else:
            status, body = "400 Bad Request", "mb must be 1..512"
    else:
        status, body = "404 Not Found", "not found"
    data = (body + "\n").encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
