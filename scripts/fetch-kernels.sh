#!/usr/bin/env bash
# Fetches the Debian kernels the QEMU boot matrix runs on, without touching
# the machine's apt sources or installing anything:
#
#   bullseye -> 5.10, bookworm -> 6.1, trixie -> 6.12   (Android LTS branches)
#   x amd64, arm64
#
# Usage: scripts/fetch-kernels.sh [CELL...]
#   CELL is <suite>-<arch> (e.g. bookworm-amd64, trixie-arm64); the default
#   is all six. The arm64 guests' userland (bookworm's busybox-static, and
#   util-linux's setpriv with libcap-ng0 and libc6, all :arm64) is fetched
#   whenever an arm64 cell is asked for.
#
# Each suite gets its own private apt state under target/qemu-kernels/.apt/
# (sources list, lists, cache and an EMPTY dpkg status, so the host's
# installed kernel does not enter the resolution; both architectures). The
# kernel ABI is resolved from the suite's linux-image-<arch> metapackage, never
# hard-coded: Debian bumps it with security updates. The image comes from
# linux-image-<abi>-<arch>-unsigned (`apt-get download` + `dpkg-deb`):
#
#   target/qemu-kernels/<suite>-<arch>/vmlinuz    the kernel QEMU boots
#   target/qemu-kernels/<suite>-<arch>/release    its `uname -r`
#   target/qemu-kernels/<suite>-<arch>/package    package name and version
#   target/qemu-kernels/userland-arm64/root/      those packages, extracted
#
# Idempotent: a cell whose vmlinuz is cached is not downloaded again (and no
# apt update runs when everything asked for is cached). Delete the directory
# to refresh. DEBIAN_MIRROR overrides the mirror. Only the suites' main
# archives are used (point-release kernels): they are what every mirror holds.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${QEMU_KERNEL_DIR:-$PWD/target/qemu-kernels}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
ALL_CELLS=(bullseye-amd64 bookworm-amd64 trixie-amd64 bullseye-arm64 bookworm-arm64 trixie-arm64)
# The arm64 guests' userland (the x86_64 guests use the host's binaries):
# busybox, and util-linux's setpriv with the libraries it links.
USERLAND_SUITE=bookworm
USERLAND_PKGS=(busybox-static util-linux libcap-ng0 libc6)

for tool in apt-get apt-cache dpkg-deb tar; do
  command -v "$tool" >/dev/null || { echo "fetch-kernels: $tool not found (Debian's apt and dpkg are needed)" >&2; exit 1; }
done
[ -r "$KEYRING" ] || { echo "fetch-kernels: $KEYRING missing: apt-get install debian-archive-keyring" >&2; exit 1; }

cells=("$@")
((${#cells[@]})) || cells=("${ALL_CELLS[@]}")
for c in "${cells[@]}"; do
  case "$c" in
    bullseye-amd64|bookworm-amd64|trixie-amd64|bullseye-arm64|bookworm-arm64|trixie-arm64) ;;
    *) echo "fetch-kernels: unknown cell '$c' (one of: ${ALL_CELLS[*]})" >&2; exit 2 ;;
  esac
done

mkdir -p "$OUT"

# apt with a private configuration for one suite; state under $OUT/.apt/<suite>.
apt_private() {
  local suite=$1; shift
  local st="$OUT/.apt/$suite"
  mkdir -p "$st/lists/partial" "$st/cache/archives/partial" "$st/etc/parts"
  : >"$st/status"
  if [ ! -s "$st/etc/sources.list" ]; then
    {
      echo "deb [signed-by=$KEYRING] $MIRROR $suite main"
    } >"$st/etc/sources.list"
  fi
  "$@" -q \
    -o Dir::Etc::sourcelist="$st/etc/sources.list" \
    -o Dir::Etc::sourceparts="$st/etc/parts" \
    -o Dir::Etc::preferences="$st/etc/preferences" \
    -o Dir::Etc::preferencesparts="$st/etc/parts" \
    -o APT::Sandbox::User=root \
    -o Dir::State::Lists="$st/lists" \
    -o Dir::Cache="$st/cache" \
    -o Dir::State::status="$st/status" \
    -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 \
    -o APT::Get::List-Cleanup=false
}

declare -A updated=()
update_once() {
  local suite=$1
  [ -n "${updated[$suite]:-}" ] && return 0
  echo "fetch-kernels: apt-get update ($suite, private state)"
  apt_private "$suite" apt-get update >/dev/null
  updated[$suite]=1
}

for cell in "${cells[@]}"; do
  suite=${cell%-*}
  arch=${cell#*-}
  dir="$OUT/$cell"
  if [ -s "$dir/vmlinuz" ] && [ -s "$dir/release" ]; then
    echo "fetch-kernels: $cell cached ($(cat "$dir/release"))"
    continue
  fi
  update_once "$suite"
  # linux-image-<arch> depends on exactly one linux-image-<abi>-<arch>.
  meta="linux-image-$arch:$arch"
  abi_pkg=$(apt_private "$suite" apt-cache depends "$meta" |
    awk -v a="$arch" '$1 == "Depends:" && $2 ~ "^linux-image-.*-" a "(:" a ")?$" { sub(/:.*/, "", $2); print $2; exit }')
  [ -n "$abi_pkg" ] || { echo "fetch-kernels: cannot resolve the kernel ABI from $meta in $suite" >&2; exit 1; }
  release=${abi_pkg#linux-image-}
  pkg="$abi_pkg-unsigned:$arch"
  echo "fetch-kernels: $cell: $pkg"
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  scratch=$(mktemp -d "$OUT/.dl.XXXXXX")
  (cd "$scratch" && apt_private "$suite" apt-get download "$pkg" >/dev/null)
  deb=$(ls "$scratch"/*.deb)
  dpkg-deb --fsys-tarfile "$deb" | tar -x -O --wildcards "./boot/vmlinuz-$release" >"$dir.tmp/vmlinuz"
  [ -s "$dir.tmp/vmlinuz" ] || { echo "fetch-kernels: no ./boot/vmlinuz-$release in $(basename "$deb")" >&2; exit 1; }
  echo "$release" >"$dir.tmp/release"
  basename "$deb" .deb >"$dir.tmp/package"
  rm -rf "$scratch" "$dir"
  mv "$dir.tmp" "$dir"
done

need_arm64=0
for cell in "${cells[@]}"; do
  [ "${cell#*-}" = arm64 ] && need_arm64=1
done
if ((need_arm64)); then
  dir="$OUT/userland-arm64"
  if [ -x "$dir/root/bin/busybox" ] && [ -x "$dir/root/usr/bin/setpriv" ]; then
    echo "fetch-kernels: userland-arm64 cached"
  else
    update_once "$USERLAND_SUITE"
    scratch=$(mktemp -d "$OUT/.dl.XXXXXX")
    (cd "$scratch" && apt_private "$USERLAND_SUITE" apt-get download "${USERLAND_PKGS[@]/%/:arm64}" >/dev/null)
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp/root"
    for deb in "$scratch"/*.deb; do
      dpkg-deb -x "$deb" "$dir.tmp/root"
      basename "$deb" .deb >>"$dir.tmp/packages"
    done
    rm -rf "$scratch" "$dir"
    mv "$dir.tmp" "$dir"
    echo "fetch-kernels: userland-arm64: $(tr '\n' ' ' <"$dir/packages")"
  fi
fi
