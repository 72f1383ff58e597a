//! Generated Android-format objects for the root tier: C source written
//! here for a shape (many maps, a `critical` section), compiled with the
//! compiler and flags that build the corpus (`bpf-progs/build.rs`) against
//! its headers, and stripped the way Soong strips every object.
//!
//! Environment (as for the corpus): `BPF_CLANG` (default `clang`),
//! `BPF_LLVM_STRIP` (default `llvm-strip`, or `llvm-strip-N` for
//! `clang-N`), `BPF_MULTIARCH_INCLUDE` (default
//! `/usr/include/<gcc -print-multiarch>`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn clang() -> String {
    std::env::var("BPF_CLANG").unwrap_or_else(|_| "clang".to_string())
}

fn strip_tool() -> String {
    if let Ok(s) = std::env::var("BPF_LLVM_STRIP") {
        return s;
    }
    let c = clang();
    let base = Path::new(&c)
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("clang")
        .to_string();
    match base.strip_prefix("clang-") {
        Some(v) => format!("llvm-strip-{v}"),
        None => "llvm-strip".to_string(),
    }
}

fn multiarch_include() -> PathBuf {
    if let Some(d) = std::env::var_os("BPF_MULTIARCH_INCLUDE") {
        return PathBuf::from(d);
    }
    let triple = Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| format!("{}-linux-gnu", std::env::consts::ARCH));
    Path::new("/usr/include").join(triple)
}

fn run(c: &mut Command) {
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", c.get_program()));
    assert!(
        out.status.success(),
        "{c:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compiles `source` into the object `out` (mode 0644).
pub fn compile(source: &str, out: &Path) {
    let work = tempfile::tempdir().expect("tempdir");
    let c = work.path().join("gen.c");
    std::fs::write(&c, source).expect("write source");
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-progs/include");
    run(Command::new(clang())
        .args(["-target", "bpf", "-O2", "-Wall", "-Wextra", "-Werror"])
        .args(["-nostdlibinc", "-isystem", "/usr/include", "-isystem"])
        .arg(multiarch_include())
        .arg("-I")
        .arg(&include)
        .args(["-g", "-c"])
        .arg(&c)
        .arg("-o")
        .arg(out));
    run(Command::new(strip_tool())
        .args([
            "--strip-unneeded",
            "--remove-section=.rel.BTF",
            "--remove-section=.rel.BTF.ext",
            "--remove-section=.BTF.ext",
        ])
        .arg(out));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o644)).expect("chmod");
}

/// An object with `maps` one-entry `ARRAY` maps (`m0000`, `m0001`, …) and
/// one socket filter (`skfilter/touch`) that updates the first.
pub fn many_maps(maps: usize) -> String {
    let mut s = String::from("#include <linux/bpf.h>\n#include \"bpf_helpers.h\"\n\n");
    for i in 0..maps.max(1) {
        let _ = writeln!(s, "DEFINE_BPF_MAP(m{i:04}, ARRAY, __u32, __u32, 1);");
    }
    s.push_str(
        r#"
DEFINE_BPF_PROG("skfilter/touch", AID_ROOT, AID_SYSTEM, touch)
(struct __sk_buff *skb) {
    __u32 key = 0;
    __u32 *v = bpf_m0000_lookup_elem(&key);

    if (v)
        __sync_fetch_and_add(v, 1);
    return skb->len;
}

LICENSE("Apache 2.0");
"#,
    );
    s
}

/// A small object carrying `CRITICAL(reason)`: two maps and a socket
/// filter that counts packets.
pub fn critical(reason: &str) -> String {
    format!(
        r#"#include <linux/bpf.h>
#include "bpf_helpers.h"

DEFINE_BPF_MAP(count_map, ARRAY, __u32, __u64, 1);
DEFINE_BPF_MAP(spare_map, HASH, __u32, __u64, 16);

DEFINE_BPF_PROG("skfilter/count", AID_ROOT, AID_SYSTEM, count)
(struct __sk_buff *skb) {{
    __u32 key = 0;
    __u64 *v = bpf_count_map_lookup_elem(&key);

    if (v)
        __sync_fetch_and_add(v, 1);
    return skb->len;
}}

LICENSE("Apache 2.0");
CRITICAL("{reason}");
"#
    )
}
