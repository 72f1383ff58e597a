//! Compiles every `src/progs/*.c` into an eBPF object in `OUT_DIR`.
//!
//! Command line (run from `src/progs`, so no build path leaks into the
//! objects):
//!
//! ```text
//! $BPF_CLANG -target bpf -O2 -Wall -Wextra -Werror -nostdlibinc \
//!     -isystem /usr/include -isystem /usr/include/<multiarch> \
//!     -I ../../include [-D…] -c <name>.c -o $OUT_DIR/<object>
//! ```
//!
//! Environment:
//! - `BPF_CLANG`: compiler (default `clang`; e.g. `clang-19`).
//! - `BPF_LLVM_STRIP`: strip tool for the `-g` object (default `llvm-strip`,
//!   or `llvm-strip-N` when `BPF_CLANG` is `clang-N`).
//! - `BPF_MULTIARCH_INCLUDE`: directory holding `asm/types.h` (default
//!   `/usr/include/<host multiarch>`).
//!
//! Per-source exceptions are in [`outputs_for`]: the legacy-ABI builds, the
//! `@` file name and the one object built with BTF. A list of every object
//! written goes to `$OUT_DIR/objects.txt`.

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
    /// Build with `-g` (BTF), then strip like Soong does.
    btf: bool,
}

impl Output {
    fn plain(object: String) -> Self {
        Output {
            object,
            defines: &[],
            btf: false,
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
                btf: false,
            },
            Output {
                object: "legacyS.o".into(),
                defines: &["-DBPF_DEF_ABI=48"],
                btf: false,
            },
            Output {
                object: "legacyT.o".into(),
                defines: &["-DBPF_DEF_ABI=116"],
                btf: false,
            },
        ],
        // Exercises the object-name rule: pins say "offload".
        "offload" => vec![Output::plain("offload@mainline.o".into())],
        // Built the way Soong builds every object: -g, then BTF.ext stripped.
        "clatd" => vec![Output {
            object: "clatd.o".into(),
            defines: &[],
            btf: true,
        }],
        _ => vec![Output::plain(format!("{stem}.o"))],
    }
}

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let progs_dir = manifest_dir.join("src/progs");
    let include_dir = manifest_dir.join("include");

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", progs_dir.display());
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
            if output.btf {
                strip_btf_ext(&strip, &object);
            }
            written.push(output.object);
        }
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
        .args(output.defines);
    if output.btf {
        // Debug info only feeds .BTF; the path map keeps the build directory out.
        cmd.arg("-g")
            .arg(format!("-fdebug-prefix-map={}=.", progs_dir.display()));
    }
    cmd.args(["-c", source, "-o"]).arg(object);

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
