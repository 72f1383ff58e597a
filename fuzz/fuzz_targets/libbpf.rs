//! Invariant: for any bytes, the libbpf path (`netbpfload::libbpf`: flavour
//! detection, the checks before aya-obj, aya-obj's parse, CO-RE, map and
//! call relocation, BTF fix-up) returns `Ok` or an error naming the file;
//! it never panics, aborts, loops or allocates without bound
//! (libFuzzer's `-timeout`, `-rss_limit_mb`, `-malloc_limit_mb`).
//!
//! Each input is parsed against a fixed kernel BTF written here (so CO-RE
//! runs on every input with CO-RE records), then, when the input's own
//! `.BTF` passes the kernel-BTF checks, against that BTF as the kernel's:
//! the checks must make CO-RE safe for *any* kernel BTF they accept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netbpfload::libbpf::{self, ParseEnv, TargetBtf};
use netbpfload::spec::Kver;
use object::{Object as _, ObjectSection as _};
use std::path::Path;
use std::sync::OnceLock;

/// `struct __sk_buff` (len at 0, mark at 8), `xdp_md` and `task_struct`
/// (pid at 2400, tgid at 2404), as a kernel would describe them.
fn kernel() -> &'static TargetBtf {
    static K: OnceLock<TargetBtf> = OnceLock::new();
    K.get_or_init(|| {
        let mut types: Vec<u32> = Vec::new();
        let mut strings = vec![0u8];
        let mut s = |n: &str| {
            let o = strings.len() as u32;
            strings.extend_from_slice(n.as_bytes());
            strings.push(0);
            o
        };
        let (uint, int) = (s("unsigned int"), s("int"));
        types.extend([uint, 1 << 24, 4, 32]); // 1: unsigned int
        types.extend([int, 1 << 24, 4, (1 << 24) | 32]); // 2: int
        let sk = s("__sk_buff");
        let (len, pkt, mark) = (s("len"), s("pkt_type"), s("mark"));
        types.extend([sk, (4 << 24) | 3, 12, len, 1, 0, pkt, 1, 32, mark, 1, 64]);
        let xdp = s("xdp_md");
        let (data, end, meta, ifi) = (s("data"), s("data_end"), s("data_meta"), s("ingress_ifindex"));
        types.extend([xdp, (4 << 24) | 4, 16, data, 1, 0, end, 1, 32, meta, 1, 64, ifi, 1, 96]);
        let task = s("task_struct");
        let (pid, tgid) = (s("pid"), s("tgid"));
        types.extend([task, (4 << 24) | 2, 4096, pid, 2, 2400 * 8, tgid, 2, 2404 * 8]);
        let tb: Vec<u8> = types.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut b = vec![0x9f, 0xeb, 1, 0];
        for w in [24u32, 0, tb.len() as u32, tb.len() as u32, strings.len() as u32] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&tb);
        b.extend_from_slice(&strings);
        TargetBtf::parse(Path::new("kernel"), &b).expect("the fixed kernel BTF")
    })
}

fn run(data: &[u8], target: &TargetBtf) {
    let env = ParseEnv {
        kver: Kver::new(6, 6, 0),
        target: Some(target),
    };
    if let Err(e) = libbpf::parse(Path::new("/fuzz/input.o"), data, &env) {
        let msg = e.to_string();
        assert!(msg.starts_with("/fuzz/input.o: "), "{msg}");
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = libbpf::flavor(data);
    let _ = libbpf::needs_kernel_btf(data);
    run(data, kernel());
    // The input's own .BTF as the kernel's, if the kernel checks take it.
    let own = object::read::elf::ElfFile64::<object::LittleEndian>::parse(data)
        .ok()
        .and_then(|elf| Some(elf.section_by_name(".BTF")?.data().ok()?.to_vec()));
    if let Some(btf) = own {
        if let Ok(t) = TargetBtf::parse(Path::new("own"), &btf) {
            run(data, &t);
        }
    }
});
