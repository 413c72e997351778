#!/usr/bin/env bash
# The headless browser the plan-picture test opens budget.yml's pictures in
# (tests/unit/test_plan_picture_browser.py, make unit) and make plan-screenshots shoots them with:
# Debian's chromium-headless-shell. Installed like scripts/testbed.sh installs QEMU: only when
# missing, only as root on Debian, with apt-get and the machine's configured sources, without
# Recommends (the shell needs none; they would pull a desktop's printing and mDNS daemons).
# Otherwise it says why and exits 0: the test then skips, naming the reason (and fails under CI).
set -euo pipefail

log() { printf 'browser: %s\n' "$*" >&2; }

for found in chromium-headless-shell /usr/lib/chromium-headless-shell/chromium-headless-shell chromium; do
  command -v "$found" >/dev/null 2>&1 && exit 0
done
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "no chromium-headless-shell, and not root on Debian: install it (apt-get install chromium-headless-shell)"
  exit 0
fi
log "installing chromium-headless-shell"
# The lock timeout: another apt-get (scripts/testbed.sh's, say) may be running.
if ! { apt-get update -qq &&
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=300 chromium-headless-shell >/dev/null; }; then
  log "apt-get could not install chromium-headless-shell (above)"
fi
