#!/usr/bin/env bash
# The project's test command (README). Installs what it needs, then runs the
# checks and all three tiers:
#   1. unit        plain `cargo test`, no privileges needed
#   2. root        real kernel, each test in a private bpffs, the whole test
#                  binary inside a private mount namespace (`unshare -m`)
#   3. qemu        boots Debian's 5.10/6.1/6.12 kernels on x86_64 and arm64
#                  guests under QEMU (TCG) with our initramfs, also under
#                  enforcing SELinux
# Must run as root (tiers 2 and 3 load real BPF programs / need a kernel image).
#
# Options:
#   --full-qemu-matrix   run every QEMU test on every cell (arch x kernel),
#                        not only the CI subset (also: QEMU_MATRIX=full)
set -euo pipefail
cd "$(dirname "$0")/.."

QEMU_MATRIX=${QEMU_MATRIX:-ci}
for arg in "$@"; do
  case "$arg" in
    --full-qemu-matrix) QEMU_MATRIX=full ;;
    *) echo "scripts/test.sh: unknown option $arg (known: --full-qemu-matrix)" >&2; exit 2 ;;
  esac
done
case "$QEMU_MATRIX" in
  ci|full) ;;
  *) echo "scripts/test.sh: QEMU_MATRIX must be ci or full, not $QEMU_MATRIX" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh must run as root (root tier and package installs)" >&2
  exit 1
fi

scripts/install-deps.sh

step() { printf '\n=== %s [%d s since start]\n' "$*" "$SECONDS"; }

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
sepolicy/check/check.sh

step "Android targets: check and lints (no Soong here; Android.bp kept true by loader/tests/config_files.rs)"
cargo clippy -p netbpfload --all-targets --locked --target aarch64-linux-android -- -D warnings
cargo check -p netbpfload --locked --target aarch64-linux-android
cargo check -p netbpfload --locked --target armv7-linux-androideabi

step "systemd unit: verify, and sandbox exposure at most 3.0 (measured 2.4)"
unit_root=$(mktemp -d)
cargo build -p netbpfload --locked
scripts/install-board.sh --destdir "$unit_root" --binary target/debug/netbpfload >/dev/null
verify=$(systemd-analyze verify --root="$unit_root" netbpfload.service 2>&1) || { echo "$verify"; exit 1; }
[ -z "$verify" ] || { echo "systemd-analyze verify: $verify" >&2; exit 1; }
systemd-analyze security --offline=true --root="$unit_root" --threshold=30 netbpfload.service | tail -1
rm -rf "$unit_root"

step "tier 1: unit tests"
cargo test --workspace --locked --exclude netbpfload-tests
cargo test -p netbpfload-tests --lib --locked
# The corpus must build, byte for byte as specified, with a newer clang too.
BPF_CLANG=clang-19 BPF_LLVM_STRIP=llvm-strip-19 \
  cargo test -p bpf-progs --locked --target-dir target/clang19

step "tier 2: root tests (real kernel, private mount namespace + bpffs)"
# Build first so the namespace only runs tests.
cargo test -p netbpfload-tests --locked --no-run --test root --test robustness --test parallel --test faults --test privilege --test btf --test hostile_boot --test android_path --test libbpf --test board --test releases
unshare -m --propagation private \
  cargo test -p netbpfload-tests --locked --test root --test robustness --test parallel --test faults --test privilege --test btf --test hostile_boot --test android_path --test libbpf --test board --test releases

step "tier 3: QEMU boot matrix ($QEMU_MATRIX)"
# Kernels for every cell (cached under target/qemu-kernels/ after the first
# run), then one boot at a time (TCG keeps both cores busy). The CI subset
# boots every cell once; the full matrix also runs the single-cell tests
# (one CPU, failing critical object, corrupt objects) on every cell: they are
# the `#[ignore]`d ones, see tests/tests/qemu.rs and the README.
scripts/fetch-kernels.sh
qemu_args=(--test-threads=1)
[ "$QEMU_MATRIX" = full ] && qemu_args+=(--include-ignored)
cargo test -p netbpfload-tests --locked --test qemu -- "${qemu_args[@]}"
# The same boots under enforcing SELinux: the stand-in AOSP policy plus ours.
cargo test -p netbpfload-tests --locked --test qemu_selinux -- --test-threads=1

step "fuzz smoke run"
fuzz/smoke.sh

echo
echo "all tiers passed ($SECONDS s)"
