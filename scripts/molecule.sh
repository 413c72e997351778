#!/usr/bin/env bash
# Runs the full molecule sequence (see .config/molecule/config.yml) for the scenarios named
# (`scripts/molecule.sh budget tiering`) or for every scenario under molecule/, once per
# distribution in MOLECULE_DISTROS. A scenario whose platforms name their own `distro:`
# (molecule/vm: a Debian 12 VM image) runs once, on that distro. Keeps going after a failure so one run shows every broken scenario, then
# exits non-zero. Each run's output is also kept in .cache/molecule-logs/, and the end of the
# output repeats what made each failed run fail: CI shows only the tail of a long log.
#
# SMALLVPS_MOLECULE_JOBS (default 2) runs that many scenarios at once, slowest first: a
# scenario's Ansible runs keep about one core busy (the controller and the host's Python take
# turns), so on the 2-core test machines two at a time take about half the wall time. A run's
# output is printed whole when it ends, never interleaved with another's. The VM image (minutes
# to build the first time) is built in the vm scenario's own run, while the others go on.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

distros="${MOLECULE_DISTROS:-debian12 debian13}"
jobs="${SMALLVPS_MOLECULE_JOBS:-2}"
case $jobs in '' | *[!0-9]* | 0) echo "molecule.sh: SMALLVPS_MOLECULE_JOBS='$jobs'; expected an integer >= 1" >&2; exit 2 ;; esac

# The slowest scenarios first (times in docs/testing.md), so the last one to start is short;
# any scenario not named here runs after these, in name order. vm_stack comes after the
# container scenarios that run beside vm: the two VM scenarios never run at the same time (below).
slowest_first="vm edge default vm_stack go_services swap tiering"
# Scenarios that boot the QEMU image of `scripts/testbed.sh vm` instead of containers. One at a
# time: under TCG a guest keeps both cores busy, and two guests beside each other make both
# scenarios' timing-bound drills slower than their deadlines allow.
vm_scenarios="vm vm_stack"
# Scenarios that change the machine's own kernel (swap_activation swaps a file on: swap is global
# to the kernel, and a container's leak may then swap past its MemoryMax on cgroup v1). They run
# after every other container scenario, with none beside them; a VM scenario may run beside them
# (its guest has a kernel of its own).
machine_wide="swap_activation"
if [ $# -gt 0 ]; then
  for scenario in "$@"; do
    [ -f "molecule/$scenario/molecule.yml" ] || { echo "molecule.sh: no scenario 'molecule/$scenario'" >&2; exit 2; }
  done
  all=$(printf '%s\n' "$@")
else
  all=$(for f in molecule/*/molecule.yml; do basename "$(dirname "$f")"; done)
fi
scenarios=$(for s in $slowest_first; do grep -qx "$s" <<<"$all" && echo "$s"; done
            grep -vxF -f <(tr ' ' '\n' <<<"$slowest_first $machine_wide") <<<"$all"
            for s in $machine_wide; do grep -qx "$s" <<<"$all" && echo "$s"; done)

# Whether WORD is one of the space-separated LIST.
listed() { grep -qxF "$1" <(tr ' ' '\n' <<<"$2"); }

# The platforms' own distro, or MOLECULE_DISTROS.
scenario_distros() {
  local own
  own=$(sed -n 's/^ *distro: *\([A-Za-z0-9._-]*\).*/\1/p' "molecule/$1/molecule.yml" | sort -u)
  echo "${own:-$distros}"
}

logs=.cache/molecule-logs
mkdir -p "$logs"

# The lines of a run's log that say why it failed: Ansible's fatal results, molecule's failed
# step and idempotence report, pytest's failures and its short summary, Python exceptions.
# Colours stripped.
why_it_failed() {
  sed 's/\x1b\[[0-9;]*m//g' "$1" \
    | grep -E -A8 'fatal: |failed: \[|Idempotence test failed|Executed: Failed|_{5,} test.* _{5,}|short test summary info|[A-Za-z]+(Error|Exception): ' \
    | tail -n 120
}

# Molecule's step log lines, with the time of day in front: what each step took, in any run's
# output. On a terminal they read "INFO <scenario> ➜ <step>: Executing", elsewhere (CI)
# "INFO [<scenario> > <step>] Executing"; its closing recap, without the level, is left as it is.
stamp_steps() {
  local line
  while IFS= read -r line; do
    case $line in
      *INFO*Execut* | *ERROR*Execut*) printf '%(%T)T %s\n' -1 "$line" ;;
      *) printf '%s\n' "$line" ;;
    esac
  done
}

# One scenario on one distro, its output in its log; the last line of the log says how it went.
run_one() {
  local scenario=$1 distro=$2 log="$logs/$1@$2.log" start=$SECONDS
  : >"$log"
  if listed "$scenario" "$vm_scenarios" && ! scripts/testbed.sh vm >>"$log" 2>&1; then
    echo "=== $scenario on $distro FAILED after $((SECONDS - start)) s: no VM image ===" >>"$log"
    return 1
  fi
  if MOLECULE_DISTRO="$distro" molecule test -s "$scenario" 2>&1 | stamp_steps >>"$log"; then
    echo "=== $scenario on $distro passed in $((SECONDS - start)) s ===" >>"$log"
  else
    echo "=== $scenario on $distro FAILED after $((SECONDS - start)) s ===" >>"$log"
    return 1
  fi
}

# Prints a finished run's log whole and records its result.
passed=0
failed=()
declare -A running=()
runs=()
report() {
  local run=${running[$1]}
  unset "running[$1]"
  echo "=== molecule test -s ${run%@*} on ${run#*@} (kept in $logs/$run.log) ==="
  cat "$logs/$run.log"
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed+=("$run"); fi
}
# Waits for any one run to end and reports it.
wait_one() {
  local pid status
  wait -n -p pid "${!running[@]}"
  status=$?
  report "$pid" "$status"
}

# Whether a scenario of the space-separated LIST (or, with "!", one outside it) is running.
running_of() {
  local run
  for run in "${running[@]}"; do
    if [ "$1" = "!" ]; then
      listed "${run%@*}" "$2" || return 0
    else
      listed "${run%@*}" "$1" && return 0
    fi
  done
  return 1
}

queue=()
for scenario in $scenarios; do
  for distro in $(scenario_distros "$scenario"); do queue+=("$scenario@$distro"); done
done

# The first queued run that may start now: a VM one only when no other VM runs (a container
# scenario further down the queue takes the free slot), a machine-wide one only when no container
# scenario and no other machine-wide one runs, a container one only when no machine-wide one runs.
next_run() {
  local i run
  for i in "${!queue[@]}"; do
    run=${queue[$i]}
    if listed "${run%@*}" "$vm_scenarios"; then
      running_of "$vm_scenarios" && continue
    elif listed "${run%@*}" "$machine_wide"; then
      { running_of ! "$vm_scenarios" || running_of "$machine_wide"; } && return 1
    else
      running_of "$machine_wide" && continue
    fi
    echo "$i"
    return 0
  done
  return 1
}

suite_start=$SECONDS
while [ ${#queue[@]} -gt 0 ]; do
  while [ ${#running[@]} -ge "$jobs" ]; do wait_one; done
  if ! index=$(next_run); then
    wait_one
    continue
  fi
  run=${queue[$index]}
  unset "queue[$index]"
  queue=("${queue[@]}")
  echo "$(printf '%(%T)T' -1) starting ${run%@*} on ${run#*@} ($jobs at a time)"
  run_one "${run%@*}" "${run#*@}" &
  running[$!]=$run
  runs+=("$run")
done
while [ ${#running[@]} -gt 0 ]; do wait_one; done

# Each run's result and time again, together: the figures docs/testing.md records.
for run in "${runs[@]}"; do tail -n 1 "$logs/$run.log"; done
for run in "${failed[@]}"; do
  echo "=== why $run failed (from $logs/$run.log) ==="
  why_it_failed "$logs/$run.log"
done
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
echo "molecule: all scenarios in $((SECONDS - suite_start)) s"
echo "molecule: ${passed} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
