#!/usr/bin/env bash
# Runs the full molecule sequence (see .config/molecule/config.yml) for one scenario or
# for every scenario under molecule/, once per distribution in MOLECULE_DISTROS. A scenario
# whose platforms name their own `distro:` (molecule/vm: a Debian 12 VM image) runs once,
# on that distro. Keeps going after a failure so one run shows every broken scenario, then
# exits non-zero. Each run's output is also kept in .cache/molecule-logs/, and the end of the
# output repeats what made each failed run fail: CI shows only the tail of a long log.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

distros="${MOLECULE_DISTROS:-debian12 debian13}"
if [ -n "${1:-}" ]; then
  [ -f "molecule/$1/molecule.yml" ] || { echo "molecule.sh: no scenario 'molecule/$1'" >&2; exit 2; }
  scenarios="$1"
else
  scenarios=$(for f in molecule/*/molecule.yml; do basename "$(dirname "$f")"; done)
fi

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

passed=0
failed=()
for scenario in $scenarios; do
  for distro in $(scenario_distros "$scenario"); do
    echo "=== molecule test -s $scenario on $distro ==="
    start=$SECONDS
    log="$logs/$scenario@$distro.log"
    if MOLECULE_DISTRO="$distro" molecule test -s "$scenario" 2>&1 | stamp_steps | tee "$log"; then
      passed=$((passed + 1))
      echo "=== $scenario on $distro passed in $((SECONDS - start)) s ==="
    else
      failed+=("$scenario@$distro")
      echo "=== $scenario on $distro FAILED after $((SECONDS - start)) s ==="
    fi
  done
done

for run in "${failed[@]}"; do
  echo "=== why $run failed (from $logs/$run.log) ==="
  why_it_failed "$logs/$run.log"
done
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
echo "molecule: ${passed} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
