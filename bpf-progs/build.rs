//! Compiles every `src/progs/*.c` into an eBPF object in `OUT_DIR`.
//!
//! Command line (run from `src/progs`, so no build path leaks into the
//! objects):
//!
//! ```text
//! $BPF_CLANG -target bpf -O2 -Wall -Wextra -Werror -nostdlibinc \
//!     -isystem /usr/include -isystem /usr/include/<multiarch> \
//!     -I ../../include [-D…] -g -fdebug-prefix-map=<src/progs>=. \
//!     -c <name>.c -o $OUT_DIR/<object>
//! $BPF_LLVM_STRIP --strip-unneeded --remove-section=.rel.BTF \
//!     --remove-section=.rel.BTF.ext --remove-section=.BTF.ext $OUT_DIR/<object>
//! ```
//!
//! Every object is built the way Soong builds Android's (`bpf/bpf.go`): with
//! `-g`, so clang writes `.BTF`, then stripped of `.BTF.ext`, the relocations
//! against BTF and every symbol not needed (local ones).
//!
//! Environment:
//! - `BPF_CLANG`: compiler (default `clang`; e.g. `clang-19`).
//! - `BPF_LLVM_STRIP`: strip tool for the `-g` object (default `llvm-strip`,
//!   or `llvm-strip-N` when `BPF_CLANG` is `clang-N`).
//! - `BPF_MULTIARCH_INCLUDE`: directory holding `asm/types.h` (default
//!   `/usr/include/<host multiarch>`).
//!
//! Per-source exceptions are in [`outputs_for`]: the legacy-ABI builds, the
//! `@` file name and the object whose `.BTF` is corrupted after the build
//! ([`corrupt_btf`]). A list of every object written goes to
//! `$OUT_DIR/objects.txt`.
//!
//! `src/libbpf/*.c` are libbpf-style objects (BTF-defined maps, libbpf
//! section names, CO-RE), built as libbpf users build theirs: the same
//! flags with libbpf's headers (`<bpf/bpf_helpers.h>`, from libbpf-dev),
//! then only the DWARF stripped (`llvm-strip -g`), so `.BTF` *and*
//! `.BTF.ext` (the CO-RE relocations) stay.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One object produced from one source.
struct Output {
    /// File name in `OUT_DIR`.
    object: String,
    /// Extra `-D` definitions.
    defines: &'static [&'static str],
    /// Corrupt the `.BTF` section after the build ([`corrupt_btf`]).
    corrupt_btf: bool,
}

impl Output {
    fn plain(object: String) -> Self {
        Output {
            object,
            defines: &[],
            corrupt_btf: false,
        }
    }
}

/// The objects built from `stem.c`.
fn outputs_for(stem: &str) -> Vec<Output> {
    match stem {
        // The historical layouts: v0.0 32/20, S 48/28, T 116/92 bytes.
        "legacy" => vec![
            Output {
                object: "legacyV0.o".into(),
                defines: &["-DBPF_DEF_ABI=32"],
                corrupt_btf: false,
            },
            Output {
                object: "legacyS.o".into(),
                defines: &["-DBPF_DEF_ABI=48"],
                corrupt_btf: false,
            },
            Output {
                object: "legacyT.o".into(),
                defines: &["-DBPF_DEF_ABI=116"],
                corrupt_btf: false,
            },
        ],
        // Exercises the object-name rule: pins say "offload".
        "offload" => vec![Output::plain("offload@mainline.o".into())],
        "btfCorrupt" => vec![Output {
            object: "btfCorrupt.o".into(),
            defines: &[],
            corrupt_btf: true,
        }],
        _ => vec![Output::plain(format!("{stem}.o"))],
    }
}

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let progs_dir = manifest_dir.join("src/progs");
    let libbpf_dir = manifest_dir.join("src/libbpf");
    let include_dir = manifest_dir.join("include");

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", progs_dir.display());
    println!("cargo:rerun-if-changed={}", libbpf_dir.display());
    println!("cargo:rerun-if-changed={}", include_dir.display());
    for var in ["BPF_CLANG", "BPF_LLVM_STRIP", "BPF_MULTIARCH_INCLUDE"] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let clang = env::var("BPF_CLANG").unwrap_or_else(|_| "clang".to_string());
    let strip = env::var("BPF_LLVM_STRIP").unwrap_or_else(|_| default_strip(&clang));
    let asm_include = multiarch_include();
    // The header tests compile snippets with the same compiler and includes.
    println!("cargo:rustc-env=BPF_PROGS_CLANG={clang}");
    println!(
        "cargo:rustc-env=BPF_PROGS_ASM_INCLUDE={}",
        asm_include.display()
    );

    let mut sources: Vec<PathBuf> = fs::read_dir(&progs_dir)
        .unwrap_or_else(|e| panic!("bpf-progs: cannot read {}: {e}", progs_dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();

    let mut written = Vec::new();
    for source in &sources {
        let file_name = source
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or_else(|| panic!("bpf-progs: non-UTF-8 file name {}", source.display()));
        // Soong refuses '_' in eBPF source names; so do we, to stay buildable there.
        if file_name.contains('_') {
            panic!("bpf-progs: {file_name}: '_' is not allowed in eBPF source file names");
        }
        let stem = file_name.trim_end_matches(".c");
        for output in outputs_for(stem) {
            let object = out_dir.join(&output.object);
            compile(
                &clang,
                &progs_dir,
                file_name,
                &asm_include,
                &output,
                &object,
            );
            strip_btf_ext(&strip, &object);
            if output.corrupt_btf {
                corrupt_btf(&object);
            }
            written.push(output.object);
        }
    }

    let mut libbpf_sources: Vec<PathBuf> = fs::read_dir(&libbpf_dir)
        .unwrap_or_else(|e| panic!("bpf-progs: cannot read {}: {e}", libbpf_dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    libbpf_sources.sort();
    for source in &libbpf_sources {
        let file_name = source
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or_else(|| panic!("bpf-progs: non-UTF-8 file name {}", source.display()));
        let stem = file_name.trim_end_matches(".c");
        let output = Output::plain(format!("{stem}.o"));
        let object = out_dir.join(&output.object);
        compile(
            &clang,
            &libbpf_dir,
            file_name,
            &asm_include,
            &output,
            &object,
        );
        strip_debug(&strip, &object);
        written.push(output.object);
    }

    fs::write(out_dir.join("objects.txt"), written.join("\n") + "\n")
        .unwrap_or_else(|e| panic!("bpf-progs: cannot write objects.txt: {e}"));
}

fn compile(
    clang: &str,
    progs_dir: &Path,
    source: &str,
    asm_include: &Path,
    output: &Output,
    object: &Path,
) {
    let mut cmd = Command::new(clang);
    cmd.current_dir(progs_dir)
        .args([
            "-target",
            "bpf",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-nostdlibinc",
        ])
        .args(["-isystem", "/usr/include", "-isystem"])
        .arg(asm_include)
        .args(["-I", "../../include"])
        .args(output.defines)
        // Debug info only feeds .BTF (the rest is stripped); the path map
        // keeps the build directory out of it.
        .arg("-g")
        .arg(format!("-fdebug-prefix-map={}=.", progs_dir.display()))
        .args(["-c", source, "-o"])
        .arg(object);

    let result = cmd.output().unwrap_or_else(|e| {
        panic!(
            "bpf-progs: cannot run `{clang}` ({e}). The eBPF corpus is compiled at build time: \
             install clang (`apt-get install clang`) or set BPF_CLANG to a clang binary."
        )
    });
    if !result.status.success() {
        panic!(
            "bpf-progs: `{clang}` failed on src/progs/{source} ({}):\n{}{}",
            result.status,
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr),
        );
    }
}

/// Removes what Soong removes from every object (`bpf/bpf.go`), keeping
/// `.BTF` itself: the line info in `.BTF.ext` and relocations against BTF.
fn strip_btf_ext(strip: &str, object: &Path) {
    let result = Command::new(strip)
        .args([
            "--strip-unneeded",
            "--remove-section=.rel.BTF",
            "--remove-section=.rel.BTF.ext",
            "--remove-section=.BTF.ext",
        ])
        .arg(object)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "bpf-progs: cannot run `{strip}` ({e}): install llvm (`apt-get install llvm`) \
                 or set BPF_LLVM_STRIP"
            )
        });
    if !result.status.success() {
        panic!(
            "bpf-progs: `{strip}` failed on {}: {}",
            object.display(),
            String::from_utf8_lossy(&result.stderr)
        );
    }
}

/// Removes the DWARF of a libbpf-style object, keeping `.BTF` and
/// `.BTF.ext` (what `llvm-strip -g` does in libbpf users' builds).
fn strip_debug(strip: &str, object: &Path) {
    let result = Command::new(strip)
        .arg("-g")
        .arg(object)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "bpf-progs: cannot run `{strip}` ({e}): install llvm (`apt-get install llvm`) \
                 or set BPF_LLVM_STRIP"
            )
        });
    if !result.status.success() {
        panic!(
            "bpf-progs: `{strip}` failed on {}: {}",
            object.display(),
            String::from_utf8_lossy(&result.stderr)
        );
    }
}

/// Makes the `.BTF` of `object` malformed in a way any BTF parser notices
/// before the kernel sees it: the kind of type 1 becomes 31, which no BTF
/// version defines (`BTF_KIND_MAX` is 19 today). The header and the type
/// and string sections keep their sizes, so the ELF itself stays valid and
/// the object loads when BTF is not used.
fn corrupt_btf(object: &Path) {
    let mut bytes = fs::read(object)
        .unwrap_or_else(|e| panic!("bpf-progs: cannot read {}: {e}", object.display()));
    let btf = section_offset(&bytes, ".BTF")
        .unwrap_or_else(|| panic!("bpf-progs: {}: no .BTF to corrupt", object.display()));
    let u32_at = |b: &[u8], off: usize| u32::from_le_bytes(b[off..off + 4].try_into().unwrap());
    // btf_header: magic u16, version u8, flags u8, hdr_len, type_off, ...
    assert_eq!(u16::from_le_bytes([bytes[btf], bytes[btf + 1]]), 0xeb9f);
    let hdr_len = u32_at(&bytes, btf + 4) as usize;
    let type_off = u32_at(&bytes, btf + 8) as usize;
    // Type 1's `info` is its second word; the kind is bits 24..28, so the
    // high byte (little-endian) holds it.
    let info_high = btf + hdr_len + type_off + 4 + 3;
    bytes[info_high] = (bytes[info_high] & 0x80) | 0x1f;
    fs::write(object, bytes)
        .unwrap_or_else(|e| panic!("bpf-progs: cannot write {}: {e}", object.display()));
}

/// File offset of the section named `name` in an ELF64 little-endian
/// object (trusted: built just above).
fn section_offset(b: &[u8], name: &str) -> Option<usize> {
    let u16_at = |off: usize| u16::from_le_bytes(b[off..off + 2].try_into().unwrap()) as usize;
    let u32_at = |off: usize| u32::from_le_bytes(b[off..off + 4].try_into().unwrap()) as usize;
    let u64_at = |off: usize| u64::from_le_bytes(b[off..off + 8].try_into().unwrap()) as usize;
    let (shoff, shentsize, shnum, shstrndx) =
        (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e));
    let header = |i: usize| shoff + i * shentsize;
    let strtab = u64_at(header(shstrndx) + 0x18);
    (0..shnum).find_map(|i| {
        let h = header(i);
        let start = strtab + u32_at(h);
        let end = start + b[start..].iter().position(|&c| c == 0)?;
        (&b[start..end] == name.as_bytes()).then(|| u64_at(h + 0x18))
    })
}

/// `clang-19` pairs with `llvm-strip-19`; plain `clang` with `llvm-strip`.
fn default_strip(clang: &str) -> String {
    let base = Path::new(clang)
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or(clang);
    match base.strip_prefix("clang-") {
        Some(version) => format!("llvm-strip-{version}"),
        None => "llvm-strip".to_string(),
    }
}

/// The directory with `asm/types.h`, which `<linux/types.h>` needs and
/// `-target bpf` does not search by itself.
fn multiarch_include() -> PathBuf {
    if let Some(dir) = env::var_os("BPF_MULTIARCH_INCLUDE") {
        return PathBuf::from(dir);
    }
    let host = env::var("HOST").unwrap_or_default();
    let mut parts = host.split('-');
    let arch = match parts.next().unwrap_or_default() {
        "i586" | "i686" => "i386",
        a => a,
    };
    let abi = host.rsplit('-').next().unwrap_or_default();
    let candidate = PathBuf::from(format!("/usr/include/{arch}-linux-{abi}"));
    if candidate.join("asm/types.h").exists() {
        return candidate;
    }
    panic!(
        "bpf-progs: no asm/types.h in {} (host {host}); install the kernel headers \
         (`apt-get install linux-libc-dev`) or set BPF_MULTIARCH_INCLUDE",
        candidate.display()
    );
}
