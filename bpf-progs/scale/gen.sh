#!/usr/bin/env bash
# Generates the benchmark's scale corpus from scale.c.
#
#   bpf-progs/scale/gen.sh OUT_DIR [MULTIPLIER...]      (default multipliers: 1 4 16)
#
# For each multiplier M it writes
#   OUT_DIR/scale-Mx/android/scaleNNNN.o   Android format (maps/progs sections)
#   OUT_DIR/scale-Mx/libbpf/scaleNNNN.o    libbpf format (BTF .maps), same programs
# with M * SCALE_OBJECTS objects (default 50), each holding 20 maps and 10
# programs; 1x is 50 objects, 500 programs, 1,000 maps.
#
# scale.c is compiled once per flavour and variant (SCALE_VARIANTS, default 5,
# differing in map sizes and loop bound); object i is a copy of variant
# i mod SCALE_VARIANTS under its own name, since the file name is what makes
# pin paths unique. Compiling 800 objects one by one would take minutes and
# measure nothing more.
#
# Environment: CLANG (default clang), LLVM_STRIP (default llvm-strip),
# SCALE_INCLUDE (Android headers, default bpf-progs/include), SCALE_OBJECTS,
# SCALE_VARIANTS.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: gen.sh OUT_DIR [MULTIPLIER...]}
shift
mults=("$@")
((${#mults[@]})) || mults=(1 4 16)

CLANG=${CLANG:-clang}
LLVM_STRIP=${LLVM_STRIP:-llvm-strip}
SCALE_INCLUDE=${SCALE_INCLUDE:-$here/../include}
SCALE_OBJECTS=${SCALE_OBJECTS:-50}
SCALE_VARIANTS=${SCALE_VARIANTS:-5}

if [[ ! -f $SCALE_INCLUDE/bpf_map_def.h ]]; then
  echo "gen.sh: $SCALE_INCLUDE/bpf_map_def.h not found (set SCALE_INCLUDE)" >&2
  exit 1
fi

# Debian puts asm/types.h under the multiarch directory.
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
cflags=(-O2 -g -Wall -Werror -target bpf -I"/usr/include/$multiarch")

build=$out/.build
mkdir -p "$build"
for ((v = 0; v < SCALE_VARIANTS; v++)); do
  # Android: built and stripped the way Soong does (bpf.go).
  "$CLANG" "${cflags[@]}" -DSCALE_ANDROID -DSCALE_VARIANT=$v -I"$SCALE_INCLUDE" \
    -c "$here/scale.c" -o "$build/android$v.o"
  "$LLVM_STRIP" --strip-unneeded --remove-section=.rel.BTF \
    --remove-section=.rel.BTF.ext --remove-section=.BTF.ext "$build/android$v.o"
  "$CLANG" "${cflags[@]}" -DSCALE_VARIANT=$v -c "$here/scale.c" -o "$build/libbpf$v.o"
done

for m in "${mults[@]}"; do
  [[ $m =~ ^[1-9][0-9]*$ ]] || { echo "gen.sh: bad multiplier '$m'" >&2; exit 1; }
  dir=$out/scale-${m}x
  rm -rf "$dir"
  mkdir -p "$dir/android" "$dir/libbpf"
  n=$((m * SCALE_OBJECTS))
  for ((i = 0; i < n; i++)); do
    name=$(printf 'scale%04d.o' "$i")
    v=$((i % SCALE_VARIANTS))
    cp "$build/android$v.o" "$dir/android/$name"
    cp "$build/libbpf$v.o" "$dir/libbpf/$name"
  done
  echo "gen.sh: $dir: $n objects, $((n * 10)) programs, $((n * 20)) maps per flavour"
done
