#!/bin/sh
# Seeds fuzz/corpus/parse_object/ with every object of the bpf-progs corpus
# (compiled by its build.rs), the malformed fixtures, and every class of the
# hostile generators (hostile/, `hostile-gen list`) at 4 KiB and 64 KiB, the
# worst-case classes also at 1 MiB (the fuzzer's -max_len: big enough that a
# quadratic or amplifying parser trips -timeout / -rss_limit_mb on the seed
# itself); fuzz/corpus/manifest/ with a sample manifest. The corpus is not
# committed: everything here can be regenerated.
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
cargo build -q --release -p hostile --bin hostile-gen
gen=target/release/hostile-gen
classes=$($gen list | cut -d' ' -f1)
worst="overlap-same overlap-shifted rel-shared syms-x-sections syms-in-programs rel-sections-many long-shared-name deep-names max-names valid-big"
for c in $classes; do
    case $c in too-many-*) continue ;; esac # 4-8 MiB each, over -max_len
    for size in 4K 64K; do
        $gen "$c" "$size" "$out/hostile-$c-$size.o" >/dev/null
        n=$((n + 1))
    done
done
for c in $worst; do
    $gen "$c" 1M "$out/hostile-$c-1M.o" >/dev/null
    n=$((n + 1))
done
# fuzz/corpus/manifest/: both formats (docs/manifest.md), for the location
# the target binds to, and one with a 64-byte signature in front.
h=$(printf abc | sha256sum | cut -d' ' -f1)
loc=/apex/com.android.tethering/etc/bpf/net_shared
printf '%s  a.o\n# comment\n' "$h" > fuzz/corpus/manifest/sample
printf 'netbpfload-manifest 2\nlocation %s\nversion 7\ncritical a.o\n%s  a.o\n%s *b.o\n' \
    "$loc" "$h" "$h" > fuzz/corpus/manifest/format2
printf '# made by hand\r\nnetbpfload-manifest 2\r\n%s  a.o\r\nversion 18446744073709551615\r\nlocation %s/\r\n' \
    "$h" "$loc" > fuzz/corpus/manifest/format2-crlf
printf 'netbpfload-manifest 3\nlocation %s\n' "$loc" > fuzz/corpus/manifest/format3
{ head -c 64 /dev/zero; cat fuzz/corpus/manifest/format2; } > fuzz/corpus/manifest/signed
# fuzz/corpus/libbpf/: the libbpf-style corpus objects (bpf-progs/src/libbpf),
# which carry .maps, .BTF.ext and CO-RE records.
mkdir -p fuzz/corpus/libbpf
for f in "$dir"/*.o; do
    if grep -qa '\.BTF\.ext' "$f"; then
        cp "$f" fuzz/corpus/libbpf/
    fi
done
echo "seeded $n objects into $out, $(ls fuzz/corpus/btf | wc -l) .BTF sections into fuzz/corpus/btf, $(ls fuzz/corpus/libbpf | wc -l) libbpf objects into fuzz/corpus/libbpf"
