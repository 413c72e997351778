#!/usr/bin/env bash
# How many client states a 1000k limit_req zone holds, measured on Debian's own nginx.
#
#   make testbed && benchmarks/nginx-zone-states.sh [debian12|debian13] [KEYS]
#
# A throwaway container of the test bed's base image installs nginx from Debian's archive,
# runs a zone of 1000k at 1r/m keyed by a 4-byte header (the size of $binary_remote_addr for
# IPv4; an IPv6 state falls in the same 128-byte slab slot), sends KEYS distinct keys once
# (9000 by default, more than fit), then asks again newest first: a key still held answers
# 429 and allocates nothing; the first 200 is the newest key the zone had already evicted.
# Output of runs is kept in benchmarks/nginx-zone-states.txt.
set -euo pipefail
distro="${1:-debian12}"
keys="${2:-9000}"
name="smallvps-zone-states-$$"
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
docker run -d --name "$name" --entrypoint sleep "smallvps/${distro}-systemd" 600 >/dev/null
docker exec "$name" bash -c 'apt-get update -qq >/dev/null &&
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx python3 >/dev/null 2>&1'
docker exec -i "$name" tee /tmp/zone.conf >/dev/null <<'CONF'
worker_processes 1;
pid /run/nginx-zone.pid;
error_log /tmp/zone-error.log;
events {}
http {
    access_log off;
    limit_req_zone $http_x_k zone=smallvps_app:1000k rate=1r/m;
    server {
        listen 127.0.0.1:8099;
        root /tmp/www;
        location / { limit_req zone=smallvps_app; limit_req_status 429; }
    }
}
CONF
docker exec -i "$name" tee /tmp/probe.py >/dev/null <<'PROBE'
import http.client, sys, time
keys = int(sys.argv[1])
conn = http.client.HTTPConnection("127.0.0.1", 8099)
def status(key):
    conn.request("GET", "/i", headers={"X-K": f"{key:04d}"})
    response = conn.getresponse()
    response.read()
    return response.status
start = time.monotonic()
assert all(status(key) == 200 for key in range(keys)), "a first request was limited"
held = 0
for key in reversed(range(keys)):
    if status(key) != 429:
        break
    held += 1
print(f"{keys} keys, {held} states held, {time.monotonic() - start:.1f} s (all within the 60 s nginx keeps idle states)")
PROBE
docker exec "$name" bash -c 'mkdir -p /tmp/www && echo ok > /tmp/www/i && nginx -c /tmp/zone.conf'
echo "nginx-zone-states: ${distro}, $(docker exec "$name" nginx -v 2>&1), $(date -u +%Y-%m-%dT%H:%MZ), zone 1000k = 1024000 bytes"
docker exec "$name" python3 /tmp/probe.py "$keys"
