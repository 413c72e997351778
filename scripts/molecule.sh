#!/usr/bin/env bash
# Runs the full molecule sequence (see .config/molecule/config.yml) for one scenario or
# for every scenario under molecule/, once per distribution in MOLECULE_DISTROS. A scenario
# whose platforms name their own `distro:` (molecule/vm: a Debian 12 VM image) runs once,
# on that distro. Keeps going after a failure so one run shows every broken scenario, then
# exits non-zero.
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

passed=0
failed=()
for scenario in $scenarios; do
  for distro in $(scenario_distros "$scenario"); do
    echo "=== molecule test -s $scenario on $distro ==="
    start=$SECONDS
    if MOLECULE_DISTRO="$distro" molecule test -s "$scenario"; then
      passed=$((passed + 1))
      echo "=== $scenario on $distro passed in $((SECONDS - start)) s ==="
    else
      failed+=("$scenario@$distro")
      echo "=== $scenario on $distro FAILED after $((SECONDS - start)) s ==="
    fi
  done
done

[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
echo "molecule: ${passed} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
