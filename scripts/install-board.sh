#!/usr/bin/env bash
# Installs netbpfload on a plain Linux board with systemd (README "Install on
# a Linux board"), or into a staging tree with --destdir (packaging, tests):
#
#   /usr/sbin/netbpfload                        the binary
#   /usr/lib/netbpfload/                        the Android-like tree the unit's
#     apex/com.android.tethering/etc/bpf/...    --root points at: the location
#     system/etc/bpf/ (uprobestats/)            directories of both supported
#     vendor/etc/bpf/                           releases (objects go there),
#     system/etc/init/netbpfload.rc             the platform's init file,
#     system/bin/bpfloader -> /usr/sbin/netbpfload          and the two links
#     apex/com.android.tethering/bin/netbpfload -> ...      the chain executes
#   /etc/netbpfload/build.prop                  platform facts (kept if present)
#   /usr/lib/systemd/system/netbpfload.service  the unit
#
# Usage: scripts/install-board.sh [--destdir DIR] [--binary PATH]
#                                 [--release v|25q2] [--objects DIR]
#   --binary   default: target/release/netbpfload (cargo build --release -p netbpfload)
#   --release  whose platform files to install (default v: API level 35)
#   --objects  a tree laid out like /usr/lib/netbpfload (e.g. the output of
#              bpf-progs-install); its *.o files are copied in, root-owned 0644
# DESTDIR in the environment works as --destdir. Nothing is enabled or
# started: run `systemctl daemon-reload && systemctl enable --now
# netbpfload.service` on the board.
#
# The directory list below must match the loader's tables (paths.rs,
# release.rs); tests/tests/board.rs installs into a temporary DESTDIR and
# checks it against them.
set -euo pipefail
cd "$(dirname "$0")/.."

destdir=${DESTDIR:-}
binary=target/release/netbpfload
release=v
objects=
while (($#)); do
  case "$1" in
    --destdir) destdir=$2; shift 2 ;;
    --destdir=*) destdir=${1#*=}; shift ;;
    --binary) binary=$2; shift 2 ;;
    --binary=*) binary=${1#*=}; shift ;;
    --release) release=$2; shift 2 ;;
    --release=*) release=${1#*=}; shift ;;
    --objects) objects=$2; shift 2 ;;
    --objects=*) objects=${1#*=}; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "install-board: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
done

case "$release" in
  v) sdk=35; platform_rc=init/platform/V/netbpfload.rc ;;
  25q2) sdk=36; platform_rc=init/platform/B/netbpfload.rc ;;
  *) echo "install-board: --release must be v or 25q2" >&2; exit 64 ;;
esac
if [ ! -x "$binary" ]; then
  echo "install-board: $binary missing: run 'cargo build --release -p netbpfload' or pass --binary" >&2
  exit 1
fi

BIN=/usr/sbin/netbpfload
TREE=/usr/lib/netbpfload
APEX=apex/com.android.tethering

# Mode 0755 directories and root-owned 0644 files: the loader refuses object
# directories and files writable by group or others, or owned by another
# user (as root; in a DESTDIR as non-root the owner is the caller).
install -d -m 0755 "$destdir/usr/sbin" "$destdir$TREE" "$destdir/etc/netbpfload" \
  "$destdir/usr/lib/systemd/system"
install -m 0755 "$binary" "$destdir$BIN"

# Location directories: Android 15 (V) and 25Q2, mainline and platform.
for d in \
  "$APEX/etc/bpf" \
  "$APEX/etc/bpf/tethering" \
  "$APEX/etc/bpf/netd_shared" \
  "$APEX/etc/bpf/netd_readonly" \
  "$APEX/etc/bpf/net_shared" \
  "$APEX/etc/bpf/net_private" \
  system/etc/bpf \
  system/etc/bpf/uprobestats \
  vendor/etc/bpf \
  system/etc/init \
  system/bin \
  "$APEX/bin"; do
  install -d -m 0755 "$destdir$TREE/$d"
done
install -m 0644 "$platform_rc" "$destdir$TREE/system/etc/init/netbpfload.rc"
ln -sfn "$BIN" "$destdir$TREE/system/bin/bpfloader"
ln -sfn "$BIN" "$destdir$TREE/$APEX/bin/netbpfload"

if [ ! -e "$destdir/etc/netbpfload/build.prop" ]; then
  cat > "$destdir/etc/netbpfload/build.prop" <<PROPS
# Platform facts netbpfload's gates read (Android's ro.* properties).
ro.build.version.sdk=$sdk
ro.build.version.codename=REL
ro.build.type=user
PROPS
  chmod 0644 "$destdir/etc/netbpfload/build.prop"
else
  echo "install-board: keeping the existing $destdir/etc/netbpfload/build.prop"
fi
install -m 0644 init/netbpfload.service "$destdir/usr/lib/systemd/system/netbpfload.service"

if [ -n "$objects" ]; then
  (cd "$objects" && find . -name '*.o' -type f) | while read -r o; do
    install -D -m 0644 "$objects/$o" "$destdir$TREE/${o#./}"
  done
fi

echo "install-board: installed into ${destdir:-/}"
if [ -z "$destdir" ]; then
  echo "install-board: now run: systemctl daemon-reload && systemctl enable --now netbpfload.service"
fi
