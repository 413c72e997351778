#!/usr/bin/env bash
# Recovery time of a tier-1 unit killed at its MemoryMax, on the molecule `tiering` host
# (512 MiB, systemd_tiering applied, RestartSec=3). Prints every round and the median/max.
#
#   make venv link testbed && benchmarks/oom-drill.sh [ROUNDS]     (default 7)
#
# Output of a run is kept in benchmarks/oom-drill.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-7}"
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$PWD/.cache/collections"
export ANSIBLE_HOME="$PWD/.cache/ansible-home" MOLECULE_DISTRO="${MOLECULE_DISTRO:-debian12}"

trap 'molecule destroy -s tiering >/dev/null 2>&1 || true' EXIT
for step in create prepare converge; do
  molecule "$step" -s tiering >/dev/null 2>&1 || { echo "oom-drill: molecule $step failed" >&2; exit 1; }
done

echo "oom-drill: $MOLECULE_DISTRO, $(date -u +%Y-%m-%dT%H:%MZ), $rounds rounds, $(nproc) CPUs"
docker exec smallvps-tiering smallvps-oom-drill unit "$rounds" >"$PWD/.cache/oom-drill.json"
python3 - "$PWD/.cache/oom-drill.json" <<'PY'
import json
import statistics
import sys

drill = json.load(open(sys.argv[1]))
print(f"MemoryMax {drill['memory_max_bytes'] // 2**20} MiB, RestartSec {drill['restart_sec']}, restarts {drill['restarts']}")
for r in drill["rounds"]:
    print(f"round {r['round']}: killed after {r['seconds_to_kill']:.3f} s at {r['allocated_mib_when_killed']} MiB "
          f"(exit {r['exit']}, kernel OOM kills +{r['kernel_oom_kills']}), answering again {r['seconds_to_recover']:.3f} s later, pid {r['old_pid']} -> {r['new_pid']}")
times = [r["seconds_to_recover"] for r in drill["rounds"]]
print(f"recovery: median {statistics.median(times):.3f} s, max {max(times):.3f} s")
print(f"tier-0 main PIDs before {drill['protected_before']}, after {drill['protected_after']}")
PY
