#!/usr/bin/env python3
"""A tier-1 stand-in for an app server: answers on 127.0.0.1:8081 and, on /grow, allocates
memory 1 MiB at a time until the kernel kills it, writing its progress to a file so the
drill can tell how far it got (it is SIGKILLed, so it cannot report afterwards)."""

import http.server
import os

PROGRESS = "/run/smallvps-hog.progress"
hoard = []


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path == "/grow":
            with open(PROGRESS, "w", encoding="ascii") as progress:
                while True:
                    hoard.append(b"\x01" * (1024 * 1024))  # written, so really resident
                    progress.seek(0)
                    progress.write(f"{len(hoard)}\n")
                    progress.flush()
        body = f"ok {os.getpid()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", 8081), Handler).serve_forever()
