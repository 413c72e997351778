#!/usr/bin/python3
"""A tier-1 stand-in for an app server: answers on 127.0.0.1:8081 (or $SMALLVPS_HOG_PORT).

  /grow         allocate 1 MiB at a time until the kernel kills it, writing the progress to a
                file so the drill can tell how far it got (it is SIGKILLed, so it cannot report)
  /hold?mib=N   allocate N MiB once (at most 256) and keep it; answers "held N" when done
  /release      let go of what /hold took

Run directly (shebang) so its comm is `smallvps-hog`, the name smallvps_services lists. A copy
under another name (the VM's stand-ins) reports its progress in /run/<that name>.progress.
"""

import os
import socketserver
import sys

PROGRESS = f"/run/{os.path.basename(sys.argv[0])}.progress"
PORT = int(os.environ.get("SMALLVPS_HOG_PORT", "8081"))
MIB = 1024 * 1024
MAX_HOLD_MIB = 256
hoard = []
held = []


class Handler(socketserver.StreamRequestHandler):
    """Just enough HTTP/1.0 for curl and urllib: socketserver starts in a third of the time
    http.server takes, which counts when a restart is timed under QEMU's TCG."""

    def handle(self):
        request = self.rfile.readline().decode("latin-1").split()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # the headers
        path, _, query = (request[1] if len(request) > 1 else "/").partition("?")
        if path == "/grow":
            with open(PROGRESS, "w", encoding="ascii") as progress:
                while True:
                    hoard.append(b"\x01" * MIB)  # written, so really resident
                    progress.seek(0)
                    progress.write(f"{len(hoard)}\n")
                    progress.flush()
        if path == "/hold" and not held:
            fields = dict(field.partition("=")[::2] for field in query.split("&"))
            held.extend(b"\x01" * MIB for _ in range(min(int(fields.get("mib") or 0), MAX_HOLD_MIB)))
        if path == "/release":
            held.clear()
        body = f"ok {os.getpid()} held {len(held)}\n".encode()
        self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


class Server(socketserver.TCPServer):
    allow_reuse_address = True


Server(("127.0.0.1", PORT), Handler).serve_forever()
