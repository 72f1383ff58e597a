#!/usr/bin/env bash
# Demo: runs the bundled objects through the whole boot chain
#   netbpfload (mainline role) -> bpfloader (platform role) -> netbpfload done
# against a staging root laid out like an Android device, with a private bpffs
# in a private mount namespace, then shows what was pinned.
#
# It touches nothing of the host: the bpffs is mounted in a mount namespace of
# its own (the host's /sys/fs/bpf is never seen), the /proc/sys knobs the boot
# flow writes are staged files, and the "kernel log" is a file.
# Run as root (loading BPF programs needs CAP_BPF/CAP_SYS_ADMIN).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "scripts/demo.sh must run as root (it loads BPF programs)" >&2
  exit 1
fi
scripts/install-deps.sh
cargo build --release --locked -p netbpfload -p bpf-progs
BIN=$PWD/target/release/netbpfload

S=$(mktemp -d /tmp/netbpfload-demo.XXXXXX)
trap 'rm -rf "$S"' EXIT
chmod 0755 "$S"
echo "== staging an Android-like root in $S"
target/release/bpf-progs-install "$S"
mkdir -p "$S/system/etc/init" "$S/etc/netbpfload" "$S/system/bin" \
         "$S/apex/com.android.tethering/bin" "$S/proc-sys/kernel" "$S/proc-sys/net/core" "$S/bpffs"
cp init/platform/V/netbpfload.rc "$S/system/etc/init/netbpfload.rc"
cat > "$S/etc/netbpfload/build.prop" <<'PROPS'
ro.build.version.sdk=35
ro.build.version.codename=REL
ro.build.type=userdebug
PROPS
ln -s "$BIN" "$S/system/bin/bpfloader"
ln -s "$BIN" "$S/apex/com.android.tethering/bin/netbpfload"
echo 2 > "$S/proc-sys/kernel/unprivileged_bpf_disabled"
echo 0 > "$S/proc-sys/net/core/bpf_jit_enable"
echo 0 > "$S/proc-sys/net/core/bpf_jit_kallsyms"
: > "$S/kmsg"

echo "== running: netbpfload --root=$S --bpffs=$S/bpffs --proc-sys=$S/proc-sys"
export S BIN
set +e
unshare -m --propagation private bash -c '
  set -e
  mount -t bpf bpf "$S/bpffs"
  set +e
  "$BIN" --root="$S" --bpffs="$S/bpffs" --proc-sys="$S/proc-sys" --kmsg="$S/kmsg"
  rc=$?
  echo "== loader log (what goes to /dev/kmsg at boot)"
  sed -e "s/^<[0-9]>//" "$S/kmsg"
  echo "== exit status: $rc"
  echo "== pins under the private bpffs (mode, uid, gid, path)"
  cd "$S/bpffs" && find . -mindepth 1 \( -type d -printf "%M %U %G %p/\n" \) -o -printf "%M %U %G %p\n" | sort -k4
  exit $rc
'
rc=$?
set -e
echo "== sysctls written: unprivileged_bpf_disabled=$(cat "$S/proc-sys/kernel/unprivileged_bpf_disabled")" \
     "bpf_jit_enable=$(cat "$S/proc-sys/net/core/bpf_jit_enable")" \
     "bpf_jit_kallsyms=$(cat "$S/proc-sys/net/core/bpf_jit_kallsyms")"
prop=$(find "$S" -name bpf.progs_loaded -print -quit)
echo "== bpf.progs_loaded = $( [ -n "$prop" ] && cat "$prop" || echo unset)"
exit $rc
