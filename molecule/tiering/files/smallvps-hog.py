#!/usr/bin/python3
"""A tier-1 stand-in for an app server: answers on 127.0.0.1:8081.

  /grow         allocate 1 MiB at a time until the kernel kills it, writing the progress to a
                file so the drill can tell how far it got (it is SIGKILLed, so it cannot report)
  /hold?mib=N   allocate N MiB once (at most 256) and keep it; answers "held N" when done
  /release      let go of what /hold took

Run directly (shebang) so its comm is `smallvps-hog`, the name smallvps_services lists.
"""

import http.server
import os
import urllib.parse

PROGRESS = "/run/smallvps-hog.progress"
MIB = 1024 * 1024
MAX_HOLD_MIB = 256
hoard = []
held = []


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/grow":
            with open(PROGRESS, "w", encoding="ascii") as progress:
                while True:
                    hoard.append(b"\x01" * MIB)  # written, so really resident
                    progress.seek(0)
                    progress.write(f"{len(hoard)}\n")
                    progress.flush()
        if url.path == "/hold" and not held:
            mib = int(urllib.parse.parse_qs(url.query).get("mib", ["0"])[0])
            held.extend(b"\x01" * MIB for _ in range(min(mib, MAX_HOLD_MIB)))
        if url.path == "/release":
            held.clear()
        body = f"ok {os.getpid()} held {len(held)}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", 8081), Handler).serve_forever()
