#!/usr/bin/env bash
# What the gevent worker buys: 200 concurrent requests to the demo app's /slow (time.sleep(1))
# under gunicorn with 2 gevent workers, then with 2 sync workers. Prints both commands and a table.
#
#   benchmarks/gevent-vs-sync.sh
#
# On this machine, on 127.0.0.1 only, no containers: gunicorn from a venv at .cache/bench-venv made
# (or reused) from gunicorn_gevent_pip_packages in roles/gunicorn_gevent/defaults/main.yml, the one
# list of the versions; the app is molecule/shared/demo_app/smallvps_demo.py, the client
# molecule/shared/load/smallvps_load.py. The sync run takes ~100 s (200 x 1 s / 2 workers), so its
# workers get --timeout 120 and its client 150 s. Output of runs is kept in benchmarks/gevent-vs-sync.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=200
workers=2
venv=.cache/bench-venv
defaults=roles/gunicorn_gevent/defaults/main.yml
client=molecule/shared/load/smallvps_load.py
mkdir -p .cache

# The pinned list: PyYAML from the project's venv if it has it, else a parser of this one list.
if [ -x .venv/bin/python ] && .venv/bin/python -c 'import yaml' 2>/dev/null; then
  mapfile -t packages < <(.venv/bin/python -c 'import sys, yaml
print("\n".join(yaml.safe_load(open(sys.argv[1]))["gunicorn_gevent_pip_packages"]))' "$defaults")
else
  mapfile -t packages < <(python3 -c 'import re, sys
items, inside = [], False
for line in open(sys.argv[1]):
    if re.match(r"gunicorn_gevent_pip_packages:\s*$", line):
        inside = True
    elif inside:
        item = re.match(r"\s+-\s+(\S+)", line)
        if item:
            items.append(item.group(1).strip("\"'\''"))
        elif line.strip() and not line.lstrip().startswith("#"):
            break
print("\n".join(items))' "$defaults")
fi
[ "${#packages[@]}" -gt 0 ] || { echo "gevent-vs-sync: no gunicorn_gevent_pip_packages in $defaults" >&2; exit 1; }

# Reused while it was made from the same list; made again when the list changes.
if [ ! -x "$venv/bin/gunicorn" ] || [ "$(cat "$venv/.packages" 2>/dev/null)" != "$(printf '%s\n' "${packages[@]}")" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}" >&2
  printf '%s\n' "${packages[@]}" >"$venv/.packages"
fi
# pip resolves no extras, so a list without what gunicorn's gevent worker imports installs fine and
# -k gevent fails in the worker's log; fail here instead, naming the module.
"$venv/bin/python" -c 'import gunicorn.workers.ggevent' ||
  { echo "gevent-vs-sync: gunicorn's gevent worker does not import with $defaults's list" >&2; exit 1; }

gunicorn_pid= client_pid=
stop() {
  [ -z "$client_pid" ] || kill -TERM "$client_pid" 2>/dev/null || true
  client_pid=
  [ -n "$gunicorn_pid" ] || return 0
  kill -TERM "$gunicorn_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$gunicorn_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$gunicorn_pid" 2>/dev/null || true
  wait "$gunicorn_pid" 2>/dev/null || true
  gunicorn_pid=
}
trap stop EXIT

# run CLASS CLIENT_TIMEOUT [GUNICORN ARGS...]: one gunicorn, one concurrent run, its JSON in .cache.
# --no-control-socket: gunicorn 25.1+ otherwise opens one in $HOME/.gunicorn (or $XDG_RUNTIME_DIR).
run() {
  local class=$1 client_timeout=$2 port log
  shift 2
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  log=.cache/bench-gunicorn-$class.log
  local server=("$venv/bin/gunicorn" --bind "127.0.0.1:$port" --chdir molecule/shared/demo_app
    -k "$class" -w "$workers" --no-control-socket "$@" smallvps_demo:app)
  local load=(python3 "$client" concurrent --url "http://127.0.0.1:$port/slow" --count "$requests"
    --timeout "$client_timeout")
  "${server[@]}" >"$log" 2>&1 &
  gunicorn_pid=$!
  # Ready: every worker booted and / answers (at most 10 s).
  local ready=
  for _ in $(seq 100); do
    kill -0 "$gunicorn_pid" 2>/dev/null || break
    if [ "$(grep -c 'Booting worker' "$log")" -ge "$workers" ] &&
      python3 "$client" burst --url "http://127.0.0.1:$port/" --count 1 --timeout 1 | grep -q '"200": 1'; then
      ready=1
      break
    fi
    sleep 0.1
  done
  [ -n "$ready" ] || { echo "gevent-vs-sync: gunicorn -k $class did not start, see $log" >&2; exit 1; }
  # In the background and waited for, so a signal to this script stops both at once (trap).
  "${load[@]}" >".cache/bench-$class.json" &
  client_pid=$!
  wait "$client_pid"
  client_pid=
  stop
  printf '%-7s $ %s\n        $ %s\n' "$class:" "${server[*]}" "${load[*]}"
}

echo "gevent-vs-sync: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs (nproc), kernel $(uname -r)," \
  "$("$venv/bin/python" --version), $requests concurrent requests to /slow (1 s each)"
echo "venv $venv from $defaults: ${packages[*]}"
run gevent 30
run sync 150 --timeout 120
python3 - "$workers" .cache/bench-gevent.json .cache/bench-sync.json <<'PY'
import json
import sys

workers = sys.argv[1]
print(f"{'worker class':<13} {'workers':>7} {'requests':>8} {'wall s':>7}  {'latency min/median/max s':<25} statuses")
for path in sys.argv[2:]:
    run = json.load(open(path))
    latency = "/".join(f"{run['latency'][k]:.2f}" for k in ("min", "median", "max"))
    statuses = ", ".join(f"{k}: {v}" for k, v in {**run["status"], **run["errors"]}.items())
    kind = path.rsplit("bench-", 1)[1].removesuffix(".json")
    print(f"{kind:<13} {workers:>7} {run['sent']:>8} {run['seconds']:>7.2f}  {latency:<25} {statuses}")
PY
