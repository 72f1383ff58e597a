#!/usr/bin/env bash
# Bounded fuzzing smoke run for CI (scripts/test.sh): builds the cargo-fuzz
# targets with libFuzzer + AddressSanitizer, seeds them from the corpus, the
# malformed fixtures and the hostile generators, runs each for a fixed time,
# and prints how many inputs were executed. Fails on any crash, panic, leak,
# timeout, RSS or malloc-limit finding.
#
# Resource limits of parse_object (issue 11): inputs up to 1 MiB
# (-max_len; the generator seeds include 1 MiB worst cases); 5 s per input
# (-timeout; the parser takes under 0.5 s on any 1 MiB seed under ASan, the
# quadratic one before issue 11 took 5 s to minutes on the same seeds);
# 1 GiB RSS (-rss_limit_mb; the amplifying one reached 2.6 GiB of heap on a
# 1 MiB seed); no single allocation over 64 MiB (-malloc_limit_mb). The
# target itself asserts peak heap <= 64 KiB + 2 x len + min(12 x len, 8 MiB)
# and the parser's work counter <= 4 KiB + 16 x len.
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
  case $name in
    parse_object) limits=(-max_len=1048576 -timeout=5 -rss_limit_mb=1024 -malloc_limit_mb=64) ;;
    *) limits=(-timeout=10 -rss_limit_mb=1024) ;;
  esac
  log=$(mktemp)
  echo "fuzz: $name for ${secs}s with ${limits[*]}"
  if ! cargo "${TC[@]}" fuzz run "$name" "corpus/$name" -- \
      -max_total_time="$secs" "${limits[@]}" -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $name FAILED (finding above; reproducer under fuzz/artifacts/$name/)" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  echo "fuzz: $name: ${runs:-?} executions in ${secs}s, no finding"
  rm -f "$log"
done
