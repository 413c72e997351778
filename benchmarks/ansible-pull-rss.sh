#!/usr/bin/env bash
# Is ansible-pull a fit on a 256 MiB host? The memory Ansible holds on such a host, pull against push.
#
#   make venv link && flock /tmp/smallvps-molecule.lock benchmarks/ansible-pull-rss.sh
#
# Two fresh 256 MiB systemd containers (smallvps/debian12-systemd, no swap beyond the limit, the
# capabilities molecule/shared/create.yml gives, not privileged), each with nothing to size
# (smallvps_services: []: the plan, swap, the tier drop-ins and monitoring only), the committed
# collection (git archive HEAD, not the working tree):
# - pull: set up as a Debian 12 VPS would be for ansible-pull: git and time from Debian,
#   ansible-core 2.19.14 from PyPI in a venv (Debian 12's own ansible-core is 2.14, below
#   meta/runtime.yml's floor), a git repository with a one-host inventory (localhost, connection
#   local) and two playbooks that import smallvps.hardening.budget and smallvps.hardening.site.
#   ansible-pull clones it and runs budget.yml, site.yml (the first run: installs packages) and
#   site.yml again (the periodic run), each under /usr/bin/time -v.
# - push: the same site.yml twice from this machine's venv, docker connection: only the modules run
#   on the host.
# Per run: the peak of the sum over Ansible's processes on the host and what they start (apt, dpkg)
# (benchmarks/ansible_pull_peak.py in the container, every 50 ms; Pss and Rss; the largest at the
# peak, MiB), the kernel's OOM kills in the container's cgroup during the run, the cgroup v1
# memory.max_usage_in_bytes (page cache included; emptied and reset before each run), and for pull
# time -v's "Maximum resident set size" (the largest single process).
# Output of runs is kept in benchmarks/ansible-pull-rss.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_INJECT_FACT_VARS=False ANSIBLE_NOCOLOR=1
image="$(scripts/testbed.sh image-name debian12)"
pull="smallvps-pull-rss"
push="smallvps-push-rss"
work="$(mktemp -d /tmp/smallvps-pull-rss.XXXXXX)"
# SMALLVPS_KEEP=1 keeps the hosts and the runs' logs (in $work) to look at.
cleanup() {
  [ -n "${SMALLVPS_KEEP:-}" ] && { echo "kept: $work, containers $pull $push"; return; }
  docker rm -f "$pull" "$push" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export ANSIBLE_HOME="$work/ansible-home"

# The committed collection, found through ANSIBLE_COLLECTIONS_PATH here and in the pull host.
mkdir -p "$work/collections/ansible_collections/smallvps/hardening"
git archive HEAD | tar -x -C "$work/collections/ansible_collections/smallvps/hardening"
commit="$(git rev-parse --short HEAD)"

# The repository ansible-pull checks out: one host, localhost, run by itself.
mkdir -p "$work/repo/host_vars"
printf 'all:\n  hosts:\n    localhost:\n      ansible_connection: local\n' >"$work/repo/hosts.yml"
printf '      ansible_python_interpreter: /usr/bin/python3\n' >>"$work/repo/hosts.yml"
printf 'smallvps_services: []\n' >"$work/repo/host_vars/localhost.yml"
printf -- '- name: Plan\n  ansible.builtin.import_playbook: smallvps.hardening.budget\n' >"$work/repo/budget.yml"
printf -- '- name: Site\n  ansible.builtin.import_playbook: smallvps.hardening.site\n' >"$work/repo/site.yml"
git -C "$work/repo" init -q -b main
git -C "$work/repo" add -A
git -C "$work/repo" -c user.name=bench -c user.email=bench@localhost commit -q -m "one host"
# The push inventory: the second host, same variables.
printf 'all:\n  hosts:\n    %s:\n      ansible_connection: community.docker.docker\n' "$push" >"$work/push.yml"
printf '      ansible_python_interpreter: /usr/bin/python3\n      smallvps_services: []\n' >>"$work/push.yml"
cp benchmarks/ansible_pull_peak.py "$work/"

start_host() {
  docker run -d --name "$1" --hostname "$1" --memory 256m --memory-swap 256m \
    --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined -e container=docker \
    -v "$work/collections:/srv/collections:ro" -v "$work/repo:/srv/repo:ro" \
    -v "$work/ansible_pull_peak.py:/srv/peak.py:ro" "$image" /lib/systemd/systemd >/dev/null
  for _ in $(seq 1 90); do
    state="$(docker exec "$1" systemctl is-system-running 2>/dev/null || true)"
    case "$state" in running|degraded) return 0 ;; esac
    sleep 1
  done
}
cgroup_of() { echo "/sys/fs/cgroup/memory/docker/$(docker inspect --format '{{.Id}}' "$1")"; }
oom_kills() { awk '/^oom_kill / {print $2}' "$(cgroup_of "$1")/memory.oom_control"; }

# measure LABEL HOST COMMAND...: one run, one table row (and the recap or the error below it).
measure() {
  local label="$1" host="$2" cgroup kills rc maxrss
  shift 2
  cgroup="$(cgroup_of "$host")"
  # Page cache the set-up or the last run left out first (v1: reclaim what the cgroup can), then the peak.
  echo 0 >"$cgroup/memory.force_empty" || true
  echo 0 >"$cgroup/memory.max_usage_in_bytes"
  local before=$(($(cat "$cgroup/memory.usage_in_bytes") / 1048576))
  kills="$(oom_kills "$host")"
  docker exec "$host" rm -f /tmp/peak.stop /tmp/peak.json /tmp/time.txt
  docker exec -d "$host" python3 /srv/peak.py /tmp/peak.json /tmp/peak.stop
  sleep 0.5
  rc=0
  "$@" >"$work/$label.log" 2>&1 || rc=$?
  docker exec "$host" touch /tmp/peak.stop
  for _ in $(seq 1 50); do docker exec "$host" test -s /tmp/peak.json && break; sleep 0.1; done
  maxrss="$(docker exec "$host" awk -F': ' '/Maximum resident set size/ {print int($2 / 1024)}' /tmp/time.txt \
    2>/dev/null || echo -)"
  python3 - "$label" "$rc" "$(docker exec "$host" cat /tmp/peak.json)" "${maxrss:--}" "$before" \
    "$(($(cat "$cgroup/memory.max_usage_in_bytes") / 1048576))" "$(($(oom_kills "$host") - kills))" <<'EOF'
import json, sys
label, rc, peak, maxrss, before, cgroup, kills = sys.argv[1:]
peak = json.loads(peak)
print(f"{label:<18} {rc:>4} {peak['pss_mib']:>8} {peak['rss_mib']:>8} {maxrss:>7} {before:>7} {cgroup:>7} {kills:>4}  "
      + ", ".join(peak["top"]))
EOF
  { grep -E '^(localhost|smallvps-[a-z-]+) +: ok=' "$work/$label.log" || grep -m 3 -E 'ERROR|fatal' "$work/$label.log" \
    || true; } | sed 's/ \{2,\}/ /g; s/^/    /'
}

start_host "$pull"
start_host "$push"
docker exec "$pull" bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  --no-install-recommends git time python3-venv >/dev/null 2>&1 && python3 -m venv /opt/ansible \
  && /opt/ansible/bin/pip install -q --disable-pip-version-check ansible-core==2.19.14' >/dev/null

echo "ansible-pull-rss: $(date -u +%Y-%m-%dT%H:%MZ), commit $commit, $(nproc) CPUs (nproc), kernel $(uname -r)"
echo "hosts: $image, --memory 256m --memory-swap 256m; pull: $(docker exec "$pull" /opt/ansible/bin/ansible --version \
  | sed -n 1p) on python $(docker exec "$pull" python3 -c 'import platform; print(platform.python_version())');" \
  "push: $(ansible --version | sed -n 1p) on this machine"
echo "MiB; Pss/Rss: the sum over Ansible's processes on the host at the peak; time -v: largest single process;"
echo "before: cgroup usage after emptying it; cgroup: its peak (page cache included); oom: kernel OOM kills in the run"
printf '%-18s %4s %8s %8s %7s %7s %7s %4s  %s\n' run exit Pss Rss "time -v" before cgroup oom "largest at the Pss peak"
pull_run() {
  docker exec -e ANSIBLE_COLLECTIONS_PATH=/srv/collections -e ANSIBLE_INJECT_FACT_VARS=False -e ANSIBLE_NOCOLOR=1 \
    "$pull" /usr/bin/time -v -o /tmp/time.txt /opt/ansible/bin/ansible-pull -U /srv/repo -d /var/lib/smallvps-pull \
    -i hosts.yml "$1"
}
push_run() { ANSIBLE_COLLECTIONS_PATH="$work/collections" ansible-playbook -i "$work/push.yml" "$work/repo/site.yml"; }
measure pull-budget "$pull" pull_run budget.yml
measure pull-site "$pull" pull_run site.yml
measure pull-site-again "$pull" pull_run site.yml
measure push-site "$push" push_run
measure push-site-again "$push" push_run
echo "the plan budget.yml printed on the pull host:"
sed -n '/"service  tier/,/"tier 0/p' "$work/pull-budget.log" | sed 's/^ *"//; s/",\{0,1\}$//; s/^/    /'
