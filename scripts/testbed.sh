#!/usr/bin/env bash
# Test bed for smallvps.hardening, built without any container registry (Debian archive +
# debootstrap): a Docker engine with systemd base images, and a QEMU disk image of Debian 12
# for what only a real kernel shows (cgroup v2, swap, PSI, systemd-oomd: molecule/vm).
#
#   scripts/testbed.sh engine    use the running engine; else (root on Debian) install
#                                docker.io and start dockerd in the background
#   scripts/testbed.sh images    build the container images that are missing
#   scripts/testbed.sh all       both (default)
#   scripts/testbed.sh vm        the VM image for molecule/vm and molecule/vm_stack, unless it
#                                exists; installs qemu-system-x86, qemu-utils, debootstrap and a C
#                                compiler with a static libc (gcc, libc6-dev) first when missing
#                                (root on Debian); downloads gunicorn_gevent's pinned wheels with
#                                the repository's venv pip (make venv), else the machine's
#
# Environment:
#   SMALLVPS_DISTROS          distros to build, default "debian12 debian13"
#   SMALLVPS_IMAGE_DEBIAN12   image name, default smallvps/debian12-systemd
#   SMALLVPS_IMAGE_DEBIAN13   image name, default smallvps/debian13-systemd
#   SMALLVPS_DEBIAN_MIRROR    debootstrap mirror; default: the Debian archive this machine's apt
#                             uses (/etc/apt/sources.list.d/*.sources, /etc/apt/sources.list),
#                             else debootstrap's own default
#   SMALLVPS_VM_DIR           VM image directory, default /var/tmp/smallvps-vm/img
#   SMALLVPS_VM_PIP           the pip that downloads the guest's wheels, default .venv/bin/pip
#   SMALLVPS_REBUILD=1        rebuild images even when they exist
set -euo pipefail

log() { printf 'testbed: %s\n' "$*" >&2; }
die() { printf 'testbed: ERROR: %s\n' "$*" >&2; exit 1; }

# Packages every test host needs: systemd as PID 1, python3 for Ansible, and the
# tools the roles and the verifiers call.
IMAGE_PACKAGES="systemd,systemd-sysv,python3,dbus,iproute2,procps,sudo,ca-certificates,curl"
# The VM boots its own kernel (initrd from initramfs-tools), logs in over ssh with logind
# sessions (libpam-systemd: minbase skips Recommends) and runs systemd-oomd like a VPS would.
# The guest has no network, so what the roles install is in the image and they find it there:
# nginx (a real pre-fork tier-0 server) and earlyoom; for molecule/vm_stack's example app box,
# python3-apt (the apt module's, which would install it itself), gunicorn_gevent's python3-venv
# and python3-packaging, monitoring's htop and glances.
VM_PACKAGES="$IMAGE_PACKAGES,udev,libpam-systemd,linux-image-amd64,openssh-server,kmod,systemd-oomd,nginx,earlyoom"
VM_PACKAGES="$VM_PACKAGES,python3-apt,python3-venv,python3-packaging,htop,glances"
VM_DIR="${SMALLVPS_VM_DIR:-/var/tmp/smallvps-vm/img}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# gunicorn_gevent's pinned pip packages, read from the role's defaults (the one list): the image
# holds their wheels (built for bookworm's Python 3.11) and an /etc/pip.conf that installs from
# them only.
VM_WHEELS_DIR=/var/cache/smallvps-wheels
vm_pip_pins() {
  sed -n '/^gunicorn_gevent_pip_packages:/,/^$/s/^  - \([^ #]*\).*/\1/p' \
    "$ROOT/roles/gunicorn_gevent/defaults/main.yml"
}

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

# The Debian archive this machine's apt already uses (it is reachable from here, a public one
# may not be), printed empty when there is none: debootstrap then takes its own default.
configured_mirror() {
  local codename
  # shellcheck source=/dev/null
  codename="$(. /etc/os-release 2>/dev/null && [ "${ID:-}" = debian ] && echo "${VERSION_CODENAME:-}")" || true
  [ -n "$codename" ] || return 0
  # deb822 stanzas whose Types has deb and whose Suites has the release itself (not -security,
  # not a third-party suite), then one-line "deb [options] URI SUITE COMPONENTS" entries.
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -r "$f" ] || continue
      awk -v want="$codename" '
        function flush() { if (deb && suite && uri != "") print uri; deb = suite = 0; uri = "" }
        /^[[:space:]]*$/ { flush(); next }
        /^#/ { next }
        tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
        tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == want) suite = 1 }
        tolower($1) == "uris:" { uri = $2 }
        END { flush() }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -r "$f" ] || continue
      awk -v want="$codename" '
        $1 != "deb" { next }
        { i = 2; if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } }
        $(i + 1) == want { print $i }' "$f"
    done
  } | grep -E -m1 '^(https?|file):' || true
}

# debootstrap's arguments after the suite and target: the override, the configured archive, or
# nothing (debootstrap's default).
mirror_args() {
  local mirror="${SMALLVPS_DEBIAN_MIRROR:-$(configured_mirror)}"
  [ -z "$mirror" ] || printf '%s\n' "$mirror"
}

ensure_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 && return
  log "installing debootstrap"
  apt_install debootstrap
}

# apt_install [APT-GET INSTALL OPTIONS] PACKAGES...
apt_install() {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# debootstrap TARGET SUITE PACKAGES, quiet unless it fails.
bootstrap() {
  local rootfs="$1" suite="$2" packages="$3" mirror
  mirror="$(mirror_args)"
  log "debootstrap $suite from ${mirror:-the default mirror of debootstrap} into $rootfs"
  # shellcheck disable=SC2086  # $mirror is one word or none
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" $mirror \
    >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; die "debootstrap $suite failed (its last lines are above)"; }
  rm -f "$rootfs.log"
}

# Trust the same extra CAs as the build host (HTTPS proxies, corporate CAs), so pip and curl
# inside the test hosts work where the host's do.
copy_extra_cas() {
  local rootfs="$1"
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
  fi
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
  ensure_debootstrap
  rootfs="$(mktemp -d /var/tmp/smallvps-rootfs.XXXXXX)"
  # shellcheck disable=SC2064
  trap "rm -rf '$rootfs'" RETURN
  bootstrap "$rootfs" "$suite" "$IMAGE_PACKAGES"
  copy_extra_cas "$rootfs"
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

# The files molecule/vm boots from; the image counts as present when all of them are and it
# was built from today's package list and pins (a new package or pin rebuilds it).
VM_FILES="base.qcow2 vmlinuz initrd.img id_ed25519 id_ed25519.pub packages"

vm_manifest() {
  echo "$VM_PACKAGES"
  echo "wheels: $(vm_pip_pins | tr '\n' ' ')"
}

vm_image_present() {
  local f
  for f in $VM_FILES; do [ -s "$VM_DIR/$f" ] || return 1; done
  [ "$(cat "$VM_DIR/packages")" = "$(vm_manifest)" ]
}

# The pinned wheels for the guest's Python (bookworm: CPython 3.11, glibc 2.36, x86_64) from pip's
# own index, and a pip configuration that installs from them alone: the guest has no network.
add_vm_wheels() {
  local rootfs="$1" pip="${SMALLVPS_VM_PIP:-$ROOT/.venv/bin/pip}" pins
  mapfile -t pins < <(vm_pip_pins)
  [ ${#pins[@]} -gt 0 ] || die "no gunicorn_gevent_pip_packages found in roles/gunicorn_gevent/defaults/main.yml"
  if [ ! -x "$pip" ]; then
    command -v pip3 >/dev/null 2>&1 || die "the VM image's wheels need pip: run make venv (or set SMALLVPS_VM_PIP)"
    pip=pip3
  fi
  log "downloading the wheels of ${pins[*]} for the guest's Python 3.11"
  "$pip" download --quiet --disable-pip-version-check --only-binary=:all: --dest "$rootfs$VM_WHEELS_DIR" \
    --implementation cp --python-version 3.11 --abi cp311 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    "${pins[@]}" || die "pip could not download the guest's wheels (${pins[*]})"
  printf '[global]\nno-index = true\nfind-links = %s\ndisable-pip-version-check = true\n' "$VM_WHEELS_DIR" \
    >"$rootfs/etc/pip.conf"
}

ensure_vm_tools() {
  local missing=()
  command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
  command -v qemu-img >/dev/null 2>&1 || missing+=(qemu-utils)
  # molecule/vm's prepare compiles its Go-like stand-in as a static binary (files/smallvps-go.c).
  command -v cc >/dev/null 2>&1 || missing+=(gcc)
  [ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -e /usr/lib/libc.a ] || missing+=(libc6-dev)
  [ ${#missing[@]} -eq 0 ] && return
  [ "$(id -u)" -eq 0 ] && [ -r /etc/debian_version ] \
    || die "molecule/vm needs ${missing[*]}: install them (as root on Debian this script does it)"
  log "installing ${missing[*]} from the Debian archive"
  apt_install --no-install-recommends "${missing[@]}"
}

# Debian 12 with its own kernel, booted by QEMU with -kernel/-initrd (no boot loader), root
# logging in with the key next to the image. Built in a scratch directory that replaces
# $VM_DIR only when complete: a VM still running from the old image keeps its open files.
build_vm_image() {
  local start=$SECONDS work rootfs
  if [ "${SMALLVPS_REBUILD:-0}" != 1 ] && vm_image_present; then
    log "VM image $VM_DIR exists; skipping build"
    return
  fi
  [ "$(id -u)" -eq 0 ] || die "building the VM image needs root (debootstrap, mkfs from a chroot)"
  ensure_debootstrap
  mkdir -p "$(dirname "$VM_DIR")"
  work="$(mktemp -d "$VM_DIR.new.XXXXXX")"
  rootfs="$work/rootfs"
  # A failed build leaves nothing behind (EXIT: die and set -e leave without returning).
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" RETURN EXIT
  bootstrap "$rootfs" bookworm "$VM_PACKAGES"
  copy_extra_cas "$rootfs"
  ssh-keygen -q -t ed25519 -N '' -C smallvps-molecule-vm -f "$work/id_ed25519"
  echo smallvps-vm >"$rootfs/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 smallvps-vm\n' >"$rootfs/etc/hosts"
  echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$rootfs/etc/fstab"
  # debootstrap copied the build host's resolver; the guest has no network beyond the
  # forwarded ssh port (QEMU restrict=on), so it gets none.
  : >"$rootfs/etc/resolv.conf"
  install -d -m 700 "$rootfs/root/.ssh"
  install -m 600 "$work/id_ed25519.pub" "$rootfs/root/.ssh/authorized_keys"
  # systemd-networkd is off by default; the NIC is ens2 and QEMU's user network hands out DHCP.
  printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n' >"$rootfs/etc/systemd/network/20-wired.network"
  chroot "$rootfs" systemctl enable systemd-networkd >/dev/null 2>&1
  # Timers that would take the dpkg lock or the CPU in the middle of a test run.
  chroot "$rootfs" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
    e2scrub_reap.service fstrim.timer >/dev/null 2>&1
  add_vm_wheels "$rootfs"
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs/var/lib/apt/lists/"*
  # No package source: the roles' apt module refreshes the cache (update_cache) before it finds a
  # package installed, and a refresh from an archive the guest cannot reach fails the run. With
  # no source the refresh has nothing to fetch, and every package the roles ask for is installed.
  : >"$rootfs/etc/apt/sources.list"
  rm -f "$rootfs"/etc/apt/sources.list.d/*
  cp "$rootfs"/boot/vmlinuz-* "$work/vmlinuz"
  cp "$rootfs"/boot/initrd.img-* "$work/initrd.img"
  # 3 GiB virtual, about 700 MiB used: room for a swap file and the 1 GiB the swap role keeps free.
  truncate -s 3G "$work/base.raw"
  mkfs.ext4 -q -F -L root -d "$rootfs" "$work/base.raw"
  rm -rf "$rootfs"
  qemu-img convert -f raw -O qcow2 "$work/base.raw" "$work/base.qcow2"
  rm -f "$work/base.raw"
  # Every run writes to its own overlay; the base is only ever read.
  chmod 444 "$work/base.qcow2"
  vm_manifest >"$work/packages"
  chmod 755 "$work"
  rm -rf "$VM_DIR.old"
  [ ! -e "$VM_DIR" ] || mv "$VM_DIR" "$VM_DIR.old"
  mv "$work" "$VM_DIR"
  rm -rf "$VM_DIR.old"
  log "built the VM image $VM_DIR in $((SECONDS - start)) s"
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
  vm) ensure_vm_tools; build_vm_image ;;
  image-name) image_name "${2:?distro}" ;;
  *) die "usage: $0 [engine|images|all|vm|image-name DISTRO]" ;;
esac
