#!/bin/sh
# Seeds fuzz/corpus/parse_object/ with every object of the bpf-progs corpus
# (compiled by its build.rs) and the malformed fixtures, and
# fuzz/corpus/manifest/ with a sample manifest. The corpus is not committed:
# everything here can be regenerated.
set -eu
cd "$(dirname "$0")/.."
out=fuzz/corpus/parse_object
mkdir -p "$out" fuzz/corpus/manifest
# The build script's OUT_DIR holds the compiled objects.
dir=$(cargo build -p bpf-progs --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "build-script-executed" and m["package_id"].find("bpf-progs") >= 0:
        print(m["out_dir"])')
n=0
for f in "$dir"/*.o tests/fixtures/malformed/*.o; do
    [ -f "$f" ] || continue
    cp "$f" "$out/$(basename "$f")"
    n=$((n + 1))
done
# fuzz/corpus/btf/: the .BTF section of every corpus object (btfCorrupt.o's
# is malformed on purpose).
mkdir -p fuzz/corpus/btf
for f in "$dir"/*.o; do
    llvm-objcopy --dump-section ".BTF=fuzz/corpus/btf/$(basename "$f" .o).btf" "$f" /dev/null 2>/dev/null ||
        llvm-objcopy-19 --dump-section ".BTF=fuzz/corpus/btf/$(basename "$f" .o).btf" "$f" /dev/null
done
# fuzz/corpus/libbpf/: the libbpf-style corpus objects (bpf-progs/src/libbpf),
# which carry .maps, .BTF.ext and CO-RE records.
mkdir -p fuzz/corpus/libbpf
for f in "$dir"/*.o; do
    if grep -qa '\.BTF\.ext' "$f"; then
        cp "$f" fuzz/corpus/libbpf/
    fi
done
printf '%s  a.o\n# comment\n' "$(printf abc | sha256sum | cut -d' ' -f1)" > fuzz/corpus/manifest/sample
echo "seeded $n objects into $out, $(ls fuzz/corpus/btf | wc -l) .BTF sections into fuzz/corpus/btf, $(ls fuzz/corpus/libbpf | wc -l) libbpf objects into fuzz/corpus/libbpf"
