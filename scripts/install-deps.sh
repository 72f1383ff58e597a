#!/usr/bin/env bash
# Installs what the build, the demo and the three test tiers need on a fresh
# Debian 12 machine (run as root). Idempotent: packages already present are
# not reinstalled, so a second run takes about a second.
set -euo pipefail

# clang/llvm: build the eBPF corpus (clang-19 too: the corpus must also build
# with a newer clang). bpftool + libbpf-dev: the benchmark's libbpf baseline.
# qemu-system-x86, qemu-system-arm, busybox-static, cpio: the QEMU boot tier
# (its kernels come from scripts/fetch-kernels.sh, not from installed
# packages; debian-archive-keyring verifies them).
# libcap2-bin (capsh) and util-linux (unshare, setpriv): the root tier.
# strace, binutils (strip): the benchmark (scripts/bench.sh).
# checkpolicy, m4, policycoreutils (setfiles): sepolicy/check/check.sh and the
# enforcing-SELinux QEMU boot, whose static helper needs gcc and libc6-dev.
# systemd (systemd-analyze verify/security, offline: no running systemd
# needed): the board unit's checks in scripts/test.sh.
PKGS=(clang clang-19 llvm llvm-19 bpftool libbpf-dev qemu-system-x86 qemu-system-arm
      busybox-static cpio gzip debian-archive-keyring libcap2-bin util-linux hyperfine
      strace binutils checkpolicy m4 policycoreutils gcc libc6-dev systemd)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "install-deps: cargo not found; install Rust (rustup) first" >&2
  exit 1
fi

if ! command -v rustup >/dev/null; then
  echo "install-deps: rustup not found: the Android and aarch64-musl Rust targets are needed" >&2
  exit 1
fi
# The Android targets the loader is checked for (scripts/test.sh): 64-bit and
# 32-bit ARM. Only the standard library is needed (no NDK: check, no link).
# aarch64-unknown-linux-musl: the static loader of the arm64 QEMU guests
# (linked by the toolchain's rust-lld: see .cargo/config.toml).
TARGETS=(aarch64-linux-android armv7-linux-androideabi aarch64-unknown-linux-musl)
installed=$(rustup target list --installed)
for t in "${TARGETS[@]}"; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t"
done
