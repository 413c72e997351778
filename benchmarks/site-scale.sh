#!/usr/bin/env bash
# site.yml on 1 and on 8 hosts (linear, free, Mitogen), and where a re-run's time goes.
# Prints each run's figures (benchmarks/site_scale.py says what each one is and how it is taken).
#
#   make venv link testbed && benchmarks/site-scale.sh profile            the re-run profiles
#   benchmarks/site-scale.sh matrix [MODES] [SIZES]   MODES default "linear free mitogen", SIZES "1 8"
#
# profile: profile_tasks + profile_roles on a re-run of (a) molecule/edge's composed box
#          (smallvps-edge-pkg's variables: groups app, edge_caddy, edge_haproxy, Debian's caddy) and
#          (b) one inventories/example app box; both converged first, linear strategy.
# matrix:  for each mode and size, fresh hosts: a first converge of site.yml, then a re-run
#          (which must report changed=0; the tasks that changed are printed otherwise).
# Hosts: 512 MiB Debian 12 systemd containers of smallvps/debian12-systemd (molecule/shared/create.yml's
# options: no privileged, nothing published), named smallvps-bench-*, removed on exit; each is
# inventories/example's app box with the demo app as its code, prepared as molecule/default's
# prepare.yml does (sshd, as on a VPS; not timed). Connection community.docker.docker (Mitogen:
# `docker`, the name its strategy redirects to its own connection), pipelining, forks 8.
# Mitogen (benchmarks/requirements.txt) is installed into .cache/bench/mitogen, not the venv.
# Every container-heavy step takes /tmp/smallvps-molecule.lock (shared with molecule runs);
# each ansible-playbook run is stopped after BENCH_TIMEOUT seconds (default 1500), and none starts
# after BENCH_NO_START_AFTER (a time `date -d` reads, e.g. 06:45; default: no such limit).
# Output of runs is kept in benchmarks/site-scale.txt, with the commit each one ran on.
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$self")
cd "$repo"
helper="$self/site_scale.py"
# The roles, playbooks and molecule files measured are those of one commit (BENCH_REF, default HEAD),
# exported to .cache/bench/src-COMMIT: never a work tree's uncommitted edits.
commit=$(git rev-parse --short "${BENCH_REF:-HEAD}")
src="$repo/.cache/bench/src-$commit"
if [ ! -d "$src" ]; then
  rm -rf "$src.tmp" && mkdir -p "$src.tmp" && git archive "$commit" | tar -x -C "$src.tmp" && mv "$src.tmp" "$src"
fi
ln -sfn "$repo/.venv" "$src/.venv"
mkdir -p "$src/.cache/collections/ansible_collections/smallvps"
ln -sfn ../../../.. "$src/.cache/collections/ansible_collections/smallvps/hardening"
export BENCH_SRC="$src"
what="${1:-profile}"
modes="${2:-linear free mitogen}"
sizes="${3:-1 8}"
timeout="${BENCH_TIMEOUT:-1500}"
lock=/tmp/smallvps-molecule.lock
bench="$repo/.cache/bench"
image=smallvps/debian12-systemd
export PATH="$repo/.venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$src/.cache/collections"
export ANSIBLE_HOME="$src/.cache/ansible-home" ANSIBLE_INJECT_FACT_VARS=False
export ANSIBLE_PIPELINING=True ANSIBLE_FORKS=8 ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=False
logs="$bench/runs-$commit"
mkdir -p "$logs"

remove_hosts() {
  local names
  names=$(docker ps -aq --filter name='^smallvps-bench-' || true)
  [ -z "$names" ] || docker rm -f $names >/dev/null 2>&1 || true
}
trap remove_hosts EXIT

# start_hosts NAME... : fresh containers, as molecule/shared/create.yml starts them, booted.
start_hosts() {
  remove_hosts
  local name
  for name in "$@"; do
    docker run -d --name "$name" --hostname "$name" --memory 512m --memory-swap 512m \
      --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
      --cap-add SYS_ADMIN --cap-add NET_ADMIN "${caps[@]}" --security-opt seccomp=unconfined \
      --env container=docker "$image" /lib/systemd/systemd >/dev/null
  done
  for name in "$@"; do
    for _ in $(seq 90); do
      state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running | degraded) break ;; esac
      sleep 1
    done
  done
}

# in_time: false (and says so) once BENCH_NO_START_AFTER has passed.
in_time() {
  [ -z "${BENCH_NO_START_AFTER:-}" ] && return 0
  [ "$(date +%s)" -lt "$(date -d "$BENCH_NO_START_AFTER" +%s)" ] && return 0
  echo "site-scale: not started, past $BENCH_NO_START_AFTER: $*"
  return 1
}

mitogen_env() {
  local dir="$bench/mitogen"
  if [ ! -f "$dir/.installed" ]; then
    pip install --quiet --disable-pip-version-check --target "$dir" -r "$self/requirements.txt"
    touch "$dir/.installed"
  fi
  echo "ANSIBLE_STRATEGY_PLUGINS=$dir/ansible_mitogen/plugins/strategy ANSIBLE_STRATEGY=mitogen_linear"
}

# setup KIND N MODE: fresh hosts, the inventory in $bench/inventory-KIND-N-MODE, prepared (not timed).
setup() {
  local kind=$1 n=$2 mode=$3 connection=community.docker.docker
  [ "$mode" = mitogen ] && connection=docker
  inventory="$logs/inventory-$kind-$n-$mode"
  rm -rf "$inventory"
  hosts=$(python3 "$helper" inventory "$kind" "$n" "$inventory" "$connection")
  export BENCH_HOSTS="$hosts"
  local prepare=molecule/default/prepare.yml
  [ "$kind" = box ] && prepare=molecule/edge/prepare.yml
  local caps=()
  # molecule/edge gives its hosts SYS_PTRACE (its verify reads Caddy's environment).
  [ "$kind" = box ] && caps=(--cap-add SYS_PTRACE)
  {
    flock 9
    in_time "setting up $kind x$n" || exit 0
    # shellcheck disable=SC2086
    start_hosts $hosts
    timeout "$timeout" ansible-playbook -i "$inventory" "$prepare" >"$logs/$kind-$n-$mode-prepare.log" 2>&1 ||
      { echo "site-scale: preparing $kind x$n failed, see $logs/$kind-$n-$mode-prepare.log" >&2; exit 1; }
  } 9>"$lock"
}

# measure LABEL LOG [ENV=VALUE...] : one timed site.yml run under the lock.
measure() {
  local label=$1 log=$2
  shift 2
  {
    flock 9
    # Checked once the lock is held: waiting for it may have taken us past the time.
    in_time "$label" || return 0
    env "$@" python3 "$helper" run "$label" "$log" "$timeout" -- ansible-playbook -i "$inventory" playbooks/site.yml || true
  } 9>"$lock"
}

cd "$src"
echo "site-scale: $what at $commit, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(free -m | awk '/Mem:/ {print $2}') MiB," \
  "ansible-core $(python3 -c 'import ansible.release; print(ansible.release.__version__)')"

if [ "$what" = profile ]; then
  profiling=(ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks,ansible.posix.profile_roles
    PROFILE_TASKS_TASK_OUTPUT_LIMIT=all)
  for kind in box app; do
    in_time "$kind profile" || break
    setup "$kind" 1 linear
    measure "$kind x1 converge (linear)" "$logs/$kind-1-profile-converge.log"
    measure "$kind x1 re-run (linear, profiled)" "$logs/$kind-1-profile-rerun.log" "${profiling[@]}"
    [ ! -f "$logs/$kind-1-profile-rerun.log" ] || python3 "$helper" profile "$logs/$kind-1-profile-rerun.log" 10
    remove_hosts
  done
elif [ "$what" = matrix ]; then
  for mode in $modes; do
    extra=()
    [ "$mode" = free ] && extra=(ANSIBLE_STRATEGY=free)
    # shellcheck disable=SC2207
    [ "$mode" = mitogen ] && extra=($(mitogen_env))
    for n in $sizes; do
      in_time "$mode x$n" || break 2
      setup app "$n" "$mode"
      measure "$mode x$n converge" "$logs/app-$n-$mode-converge.log" "${extra[@]}"
      measure "$mode x$n re-run" "$logs/app-$n-$mode-rerun.log" "${extra[@]}"
      remove_hosts
    done
  done
else
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
