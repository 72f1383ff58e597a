#!/usr/bin/env bash
# The boot-path benchmark (issue 5). Not a test: it prints a markdown table.
#
#   sudo scripts/bench.sh [netbpfload-bench flags...]
#
# Installs missing packages (scripts/install-deps.sh), builds the benchmark
# and a stripped static netbpfload, generates the scale corpus (1x/4x/16x:
# 50/200/800 objects of 10 programs and 20 maps, Android and libbpf
# flavours), then runs netbpfload-bench in a private mount namespace: every
# loader gets fresh private bpffs mounts, the host's /sys/fs/bpf is never
# touched. Default run: 5 repetitions (3 at 16x), about 5-10 minutes.
# Useful flags: --reps N, --reps-large N, --scales 1,4, --no-aya,
# --no-bpftool, --no-strace (see `netbpfload-bench --help`).
#
# Environment: BENCH_CORPUS (scale corpus directory, default
# target/bench-corpus), SKIP_DEPS=1 (do not run install-deps.sh).
#
#   scripts/bench.sh parse-scaling [flags...]
#
# runs only the parser's scaling measurement instead (no root, no kernel):
# the worst-case generated objects of hostile/ at 1, 4 and 16 MiB, parse
# time and peak heap (see `netbpfload-bench parse-scaling --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${1:-} == parse-scaling ]]; then
  cargo build --release -q -p netbpfload-bench
  exec target/release/netbpfload-bench "$@"
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "bench.sh: run as root (bpf(2), mount)" >&2
  exit 1
fi
[[ ${SKIP_DEPS:-0} == 1 ]] || scripts/install-deps.sh

target=$(rustc -vV | sed -n 's/^host: //p')
echo "bench.sh: building" >&2
cargo build --release -q -p netbpfload -p netbpfload-bench
# The binary a device would ship: static, stripped (the bench strips a copy).
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release -q -p netbpfload --target "$target" --target-dir target/static
static_bin=target/static/$target/release/netbpfload

corpus=${BENCH_CORPUS:-target/bench-corpus}
echo "bench.sh: generating the scale corpus in $corpus" >&2
bpf-progs/scale/gen.sh "$corpus" 1 4 16 >&2

extra=()
if ! command -v strace >/dev/null; then
  echo "bench.sh: strace not installed; bpftool/aya bpf() time will be n/a" >&2
  extra+=(--no-strace)
fi

exec unshare -m --propagation private target/release/netbpfload-bench \
  --bpf-progs --scale-dir "$corpus" --parallel --btf \
  --netbpfload-bin "$static_bin" --static-binary "$static_bin" \
  "${extra[@]}" "$@"
