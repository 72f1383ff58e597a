#!/usr/bin/env bash
# Bounded fuzzing smoke run for CI (scripts/test.sh): builds the cargo-fuzz
# targets with libFuzzer + AddressSanitizer, seeds them from the corpus and the
# malformed fixtures, runs each for a fixed time, and prints how many inputs
# were executed. Fails on any crash, panic, leak or timeout finding.
#
# Toolchain: a nightly toolchain if one is installed; otherwise stable with
# RUSTC_BOOTSTRAP=1 (cargo-fuzz only needs the -Z sanitizer flags).
set -euo pipefail
cd "$(dirname "$0")/.."
PARSE_SECS=${FUZZ_PARSE_SECS:-60}
MANIFEST_SECS=${FUZZ_MANIFEST_SECS:-20}
BTF_SECS=${FUZZ_BTF_SECS:-20}
LIBBPF_SECS=${FUZZ_LIBBPF_SECS:-40}

if ! command -v cargo-fuzz >/dev/null; then
  echo "fuzz: installing cargo-fuzz"
  cargo install --locked cargo-fuzz --version 0.13.2
fi
if rustup run nightly rustc --version >/dev/null 2>&1; then
  TC=(+nightly)
else
  echo "fuzz: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1"
  TC=()
  export RUSTC_BOOTSTRAP=1
fi

fuzz/seed.sh
cd fuzz
for target in parse_object:$PARSE_SECS manifest:$MANIFEST_SECS btf:$BTF_SECS libbpf:$LIBBPF_SECS; do
  name=${target%%:*}; secs=${target##*:}
  log=$(mktemp)
  echo "fuzz: $name for ${secs}s"
  if ! cargo "${TC[@]}" fuzz run "$name" "corpus/$name" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $name FAILED (finding above; reproducer under fuzz/artifacts/$name/)" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  echo "fuzz: $name: ${runs:-?} executions in ${secs}s, no finding"
  rm -f "$log"
done
