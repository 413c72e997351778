#!/usr/bin/env bash
# Proves the built artifact works for a user: build the tarball, install it offline into an
# empty directory, and use it from outside the checkout (ansible-doc, a play that applies
# smallvps.hardening.monitoring to a fresh systemd container, and the budget playbook, which
# needs the module, the filters and their plugin_utils from the artifact).
set -euo pipefail
cd "$(dirname "$0")/.."
checkout="$PWD"

work="$(mktemp -d /tmp/smallvps-build-test.XXXXXX)"
host="smallvps-build-test"
cleanup() { docker rm -f "$host" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

ansible-galaxy collection build --force --output-path "$work/dist" >/dev/null
tarball="$(ls "$work"/dist/smallvps-hardening-*.tar.gz)"
echo "test-build: built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB)"

# Anything that is test infrastructure must stay out of the artifact.
leaked="$(tar tzf "$tarball" | grep -E '^(tests|molecule|scripts|\.venv|\.cache|\.ci)/' || true)"
[ -z "$leaked" ] || { echo "test-build: artifact carries test files:"; echo "$leaked"; exit 1; }

ansible-galaxy collection install --offline --no-deps --force -p "$work/collections" "$tarball" >/dev/null 2>&1
cd "$work"
# Only the installed copy (plus the venv's collections on sys.path) may be visible now.
export ANSIBLE_COLLECTIONS_PATH="$work/collections"

listed="$(ansible-doc -l smallvps.hardening)"
echo "$listed"
ansible-doc -t role smallvps.hardening.monitoring >/dev/null
found="$(ansible-doc -t role -l smallvps.hardening | awk -F: '/^[^ ]/ {print $1}')"
grep -qx 'smallvps.hardening.monitoring' <<<"$found" \
  || { echo "test-build: role smallvps.hardening.monitoring not listed by ansible-doc"; exit 1; }
installed_at="$(ansible-galaxy collection list smallvps.hardening 2>/dev/null | awk '/^#/ {print $2}')"
[ "$installed_at" = "$work/collections/ansible_collections" ] \
  || { echo "test-build: smallvps.hardening resolved from '$installed_at', not the installed copy"; exit 1; }

image="${MOLECULE_IMAGE:-$("$checkout/scripts/testbed.sh" image-name "${MOLECULE_DISTRO:-debian12}")}"
docker run -d --name "$host" --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
  --tmpfs /run --tmpfs /run/lock --cap-add SYS_ADMIN --cap-add NET_ADMIN \
  --security-opt seccomp=unconfined "$image" /lib/systemd/systemd >/dev/null
for _ in $(seq 1 90); do
  state="$(docker exec "$host" systemctl is-system-running 2>/dev/null || true)"
  case "$state" in running|degraded) break ;; esac
  sleep 1
done

cat >"$work/play.yml" <<'EOF'
- name: Use the installed collection
  hosts: all
  roles:
    - smallvps.hardening.monitoring
EOF
ansible-playbook -i "$host," -c community.docker.docker "$work/play.yml" >"$work/play.log" 2>&1 \
  || { cat "$work/play.log"; exit 1; }
tail -n 3 "$work/play.log"
docker exec "$host" htop --version >/dev/null
echo "test-build: installed collection applied smallvps.hardening.monitoring from outside the checkout"

ansible-playbook -i "$host," -c community.docker.docker smallvps.hardening.budget >"$work/budget.log" 2>&1 \
  || { cat "$work/budget.log"; exit 1; }
grep -q 'reserve [0-9]* MiB = base' "$work/budget.log" \
  || { echo "test-build: smallvps.hardening.budget printed no plan"; cat "$work/budget.log"; exit 1; }
echo "test-build: installed collection printed a memory plan with smallvps.hardening.budget"
