#!/usr/bin/env bash
# Test bed for smallvps.hardening: a Docker engine and systemd base images, built
# without any container registry (Debian archive + debootstrap + docker import).
#
#   scripts/testbed.sh engine    use the running engine; else (root on Debian) install
#                                docker.io and start dockerd in the background
#   scripts/testbed.sh images    build the images that are missing
#   scripts/testbed.sh all       both (default)
#
# Environment:
#   SMALLVPS_DISTROS          distros to build, default "debian12 debian13"
#   SMALLVPS_IMAGE_DEBIAN12   image name, default smallvps/debian12-systemd
#   SMALLVPS_IMAGE_DEBIAN13   image name, default smallvps/debian13-systemd
#   SMALLVPS_DEBIAN_MIRROR    debootstrap mirror, default http://deb.debian.org/debian
#   SMALLVPS_REBUILD=1        rebuild images even when they exist
set -euo pipefail

log() { printf 'testbed: %s\n' "$*" >&2; }
die() { printf 'testbed: ERROR: %s\n' "$*" >&2; exit 1; }

# Packages every test host needs: systemd as PID 1, python3 for Ansible, and the
# tools the roles and the verifiers call.
IMAGE_PACKAGES="systemd,systemd-sysv,python3,dbus,iproute2,procps,sudo,ca-certificates,curl"
MIRROR="${SMALLVPS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

image_name() {
  case "$1" in
    debian12) echo "${SMALLVPS_IMAGE_DEBIAN12:-smallvps/debian12-systemd}" ;;
    debian13) echo "${SMALLVPS_IMAGE_DEBIAN13:-smallvps/debian13-systemd}" ;;
    *) die "unknown distro '$1' in SMALLVPS_DISTROS (accepted: debian12, debian13)" ;;
  esac
}

suite_of() {
  case "$1" in
    debian12) echo bookworm ;;
    debian13) echo trixie ;;
  esac
}

ensure_engine() {
  if docker info >/dev/null 2>&1; then
    log "Docker engine answers; using it"
    return
  fi
  [ "$(id -u)" -eq 0 ] || die "no Docker engine answers and this is not root: start Docker (or run as root on Debian to let this script install docker.io)"
  [ -r /etc/debian_version ] || die "no Docker engine answers and this is not Debian: install and start Docker yourself"
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing docker.io from the Debian archive"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  fi
  log "starting dockerd in the background (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && { log "Docker engine is up"; return; }
    sleep 1
  done
  die "dockerd did not answer within 60 s; see /var/log/dockerd.log"
}

build_image() {
  local distro="$1" image suite rootfs
  image="$(image_name "$distro")"
  suite="$(suite_of "$distro")"
  if [ "${SMALLVPS_REBUILD:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
    log "image $image exists; skipping build"
    return
  fi
  [ "$(id -u)" -eq 0 ] || die "building $image needs root (debootstrap); or set SMALLVPS_IMAGE_${distro^^} to an image you have"
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  rootfs="$(mktemp -d /var/tmp/smallvps-rootfs.XXXXXX)"
  # shellcheck disable=SC2064
  trap "rm -rf '$rootfs'" RETURN
  log "debootstrap $suite into $rootfs (about a minute)"
  debootstrap --variant=minbase --include="$IMAGE_PACKAGES" "$suite" "$rootfs" "$MIRROR" \
    >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; die "debootstrap $suite failed"; }
  rm -f "$rootfs.log"
  # Trust the same extra CAs as the build host (HTTPS proxies, corporate CAs), so
  # pip and curl inside the test hosts work where the host's do.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
  fi
  # A container has no consoles or kernel-only services; these units only fail there.
  for unit in getty@tty1.service console-getty.service systemd-remount-fs.service \
              systemd-firstboot.service; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
  done
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs/var/lib/apt/lists/"*
  log "importing $image"
  tar -C "$rootfs" -c . | docker import -c 'CMD ["/lib/systemd/systemd"]' - "$image" >/dev/null
  log "built $image"
}

ensure_images() {
  local distro
  for distro in ${SMALLVPS_DISTROS:-debian12 debian13}; do
    build_image "$distro"
  done
}

case "${1:-all}" in
  engine) ensure_engine ;;
  images) ensure_images ;;
  all) ensure_engine; ensure_images ;;
  image-name) image_name "${2:?distro}" ;;
  *) die "usage: $0 [engine|images|all|image-name DISTRO]" ;;
esac
