#!/usr/bin/env bash
# Recovery time of a tier-1 unit killed at its MemoryMax, and (vm) a host-wide OOM's victims.
# Prints every round and the median/max.
#
#   make venv link testbed && benchmarks/oom-drill.sh [ROUNDS]      container (default 7 rounds)
#   make venv link testbed-vm && benchmarks/oom-drill.sh vm [ROUNDS]
#
# container: the molecule `tiering` host, a 512 MiB Docker container on this machine's kernel
#            (cgroup v1 here; tier 0 keeps oom_score_adj 0, no CAP_SYS_RESOURCE).
# vm:        the molecule `vm` host, Debian 12 in QEMU (TCG) with its own kernel, cgroup v2,
#            a swap file on, tier 0 at -500/-1000; then 20 host-wide OOMs with swap off.
# Output of runs is kept in benchmarks/oom-drill.txt, which says which host each one is.
set -euo pipefail
cd "$(dirname "$0")/.."
target=container
if [ "${1:-}" = vm ] || [ "${1:-}" = container ]; then target="$1"; shift; fi
rounds="${1:-7}"
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$PWD/.cache/collections"
export ANSIBLE_HOME="$PWD/.cache/ansible-home" MOLECULE_DISTRO="${MOLECULE_DISTRO:-debian12}"
scenario=$([ "$target" = vm ] && echo vm || echo tiering)

trap 'molecule destroy -s $scenario >/dev/null 2>&1 || true' EXIT
for step in create prepare converge; do
  molecule "$step" -s "$scenario" >/dev/null 2>&1 || { echo "oom-drill: molecule $step -s $scenario failed" >&2; exit 1; }
done

on_host() {
  if [ "$target" = container ]; then
    docker exec smallvps-tiering "$@"
  else
    # The address, port and key molecule/vm/create.yml wrote for the VM.
    local inventory
    inventory=$(ls "$ANSIBLE_HOME"/tmp/molecule.*.vm/inventory/ansible_inventory.yml | head -1)
    read -r port key < <(python3 -c 'import sys, yaml
host = yaml.safe_load(open(sys.argv[1]))["all"]["hosts"]["smallvps-vm"]
print(host["ansible_port"], host["ansible_private_key_file"])' "$inventory")
    ssh -p "$port" -i "$key" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
      -o LogLevel=ERROR root@127.0.0.1 "$@"
  fi
}

echo "oom-drill: $target ($MOLECULE_DISTRO), $(date -u +%Y-%m-%dT%H:%MZ), $rounds rounds, $(nproc) CPUs on this machine"
if [ "$target" = container ]; then
  on_host smallvps-oom-drill unit "$rounds" >"$PWD/.cache/oom-drill.json"
else
  on_host smallvps-vm-drill leak smallvps-hog.service 8081 "$rounds" >"$PWD/.cache/oom-drill.json"
  on_host swapoff -a
  on_host smallvps-vm-drill host 20 >"$PWD/.cache/oom-drill-host.json"
fi
python3 - "$target" "$PWD/.cache/oom-drill.json" "$PWD/.cache/oom-drill-host.json" <<'PY'
import collections
import json
import statistics
import sys

target, unit_path, host_path = sys.argv[1:]
drill = json.load(open(unit_path))
if target == "container":
    print(f"MemoryMax {drill['memory_max_bytes'] // 2**20} MiB, RestartSec {drill['restart_sec']}, restarts {drill['restarts']}")
    for r in drill["rounds"]:
        print(f"round {r['round']}: killed after {r['seconds_to_kill']:.3f} s at {r['allocated_mib_when_killed']} MiB "
              f"(exit {r['exit']}, kernel OOM kills +{r['kernel_oom_kills']}), answering again {r['seconds_to_recover']:.3f} s later, pid {r['old_pid']} -> {r['new_pid']}")
    print(f"tier-0 main PIDs before {drill['protected_before']}, after {drill['protected_after']}")
else:
    print(f"MemoryMax {int(drill['memory_max']) // 2**20} MiB, MemoryHigh {drill['memory_high']}, restarts {drill['restarts']}")
    for r in drill["rounds"]:
        print(f"round {r['round']}: {r['result']} by the {r['killed_by']} after {r['seconds_to_kill']:.2f} s at "
              f"{r['allocated_mib_when_killed']} MiB (peak {r['peak_memory_mib']} MiB, swap {r['peak_swap_mib']} MiB), "
              f"answering again {r['seconds_to_recover']:.2f} s later")
times = [r["seconds_to_recover"] for r in drill["rounds"]]
print(f"recovery: median {statistics.median(times):.3f} s, max {max(times):.3f} s")
if target == "vm":
    host = json.load(open(host_path))
    victims = collections.Counter(v for r in host["rounds"] for v in r["killed"])
    kept = sum(r["tier0_pids_kept"] for r in host["rounds"])
    seconds = [r["seconds"] for r in host["rounds"]]
    print(f"host-wide OOM, swap off: tier 0 kept its PIDs in {kept}/{len(host['rounds'])} rounds; victims {dict(victims)}; "
          f"round time median {statistics.median(seconds):.1f} s, max {max(seconds):.1f} s")
    print(f"tier-0 main PIDs before {host['tier0_before']}, after {host['tier0_after']}")
PY
