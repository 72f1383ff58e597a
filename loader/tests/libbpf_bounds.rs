//! Memory bounds of the libbpf path (checks, aya-obj's parse, CO-RE,
//! linking, conversion), asserted with a counting allocator on generators
//! of what a hostile object controls, at growing sizes (no timing: speed
//! belongs in the benchmark):
//!
//! * many programs calling one large subprogram: aya-obj appends a copy
//!   of it to every program (the linked size is bounded by
//!   `LINK_BUDGET_FACTOR` times the file, or the object is refused before
//!   aya-obj copies anything);
//! * many CO-RE relocations, many maps, many functions.
//!
//! Peak heap growth must stay within a fixed multiple of the input plus a
//! constant, the same at every size.

mod libbpf_util;

use libbpf_util::*;
use netbpfload::libbpf::{
    self, LibbpfErrorKind, ParseEnv, TargetBtf, LINK_BUDGET_BASE, LINK_BUDGET_FACTOR,
};
use netbpfload::spec::Kver;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

// ---- Counting allocator (per thread, so parallel tests do not interfere).

struct Counting;

thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn add(n: usize) {
    let _ = CURRENT.try_with(|c| {
        let now = c.get().saturating_add(n);
        c.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

fn sub(n: usize) {
    let _ = CURRENT.try_with(|c| c.set(c.get().saturating_sub(n)));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged and only updates thread-local counters, which never allocate
// (const-initialised `Cell`s).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        sub(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            sub(layout.size());
            add(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let out = f();
    (out, PEAK.with(Cell::get).saturating_sub(start))
}

/// The bound: the linking base budget (`LINK_BUDGET_BASE` instructions of
/// 8 bytes, held twice: aya-obj's copy and ours) plus 1 MiB, plus 16 times
/// the input, plus twice `LINK_BUDGET_FACTOR` times it (the linked copies).
/// Measured (2026-12): about 11 times the file without shared
/// subprograms, 19 times at the linking budget.
fn bound(len: usize) -> usize {
    2 * 8 * LINK_BUDGET_BASE + (1 << 20) + (16 + 2 * LINK_BUDGET_FACTOR) * len
}

fn kernel() -> TargetBtf {
    let mut b = Btf::new();
    let u = b.int("unsigned int", 4);
    b.strukt("__sk_buff", 8, &[("len", u, 0), ("mark", u, 32)]);
    TargetBtf::parse(Path::new("kernel"), &b.build()).expect("kernel BTF")
}

fn parse(bytes: &[u8], t: &TargetBtf) -> Result<usize, LibbpfErrorKind> {
    libbpf::parse(
        Path::new("bounds.o"),
        bytes,
        &ParseEnv {
            kver: Kver::new(6, 6, 0),
            target: Some(t),
        },
    )
    .map(|s| s.programs.iter().map(|p| p.insns.len()).sum())
    .map_err(|e| e.kind)
}

/// `programs` programs (`kprobe/p<i>`: `call sub; exit`) and one `.text`
/// subprogram `sub` of `sub_insns` instructions.
fn shared_subprogram(programs: usize, sub_insns: usize) -> Vec<u8> {
    let mut e = Elf::new();
    let mut text = Vec::with_capacity(sub_insns * 8);
    for _ in 1..sub_insns {
        text.extend_from_slice(&MOV_R0_0);
    }
    text.extend_from_slice(&EXIT);
    let t = e.code(".text", &text);
    e.section("license", SHT_PROGBITS, DATA, b"GPL\0");
    let sub = e.func("sub", t, 0, text.len() as u64);
    let mut code = call(-1).to_vec();
    code.extend_from_slice(&EXIT);
    for i in 0..programs {
        let s = e.code(&format!("kprobe/p{i}"), &code);
        e.func(&format!("p{i}"), s, 0, 16);
        e.rel(s, &[(0, sub, R_BPF_64_32)]);
    }
    e.build()
}

#[test]
fn linking_a_shared_subprogram_stays_linear_or_is_refused() {
    let t = kernel();
    for sub_insns in [16_384, 65_536, 262_144, 500_000] {
        // Below, at and past the budget (8 copies per file instruction).
        for programs in [4, 8, 64] {
            let bytes = shared_subprogram(programs, sub_insns);
            let len = bytes.len();
            let (r, peak) = peak_during(|| parse(&bytes, &t));
            match &r {
                Ok(linked) => assert_eq!(*linked, programs * (2 + sub_insns) * 8),
                Err(LibbpfErrorKind::TooMany { what, .. }) => {
                    assert!(what.contains("linked"), "{what}");
                    assert!(
                        programs * sub_insns > LINK_BUDGET_FACTOR * sub_insns + LINK_BUDGET_BASE
                    );
                }
                Err(e) => panic!("{programs}×{sub_insns}: {e}"),
            }
            eprintln!(
                "{programs} programs × {sub_insns}-insn subprogram: {len} bytes, {} → peak {peak} \
                 ({:.1}× the file)",
                if r.is_ok() { "linked" } else { "refused" },
                peak as f64 / len as f64
            );
            assert!(
                peak <= bound(len),
                "{programs}×{sub_insns}: {len}-byte object peaked at {peak} (bound {})",
                bound(len)
            );
        }
    }
}

/// One `socket` program of `n` context loads, each with a CO-RE record
/// (`__sk_buff.len`), and `maps` BTF-defined maps.
fn many_relocations(n: usize, maps: usize) -> Vec<u8> {
    let mut e = Elf::new();
    let mut code = Vec::with_capacity(n * 8 + 8);
    for _ in 0..n {
        code.extend_from_slice(&[0x61, 0x01, 4, 0, 0, 0, 0, 0]); // r0 = *(u32 *)(r1 + 4)
    }
    code.extend_from_slice(&EXIT);
    let s = e.code("socket", &code);
    e.section("license", SHT_PROGBITS, DATA, b"GPL\0");
    let m = e.section(".maps", SHT_PROGBITS, DATA, &vec![0u8; 32 * maps]);
    let mut b = Btf::new();
    let int = b.int("int", 4);
    let u32_ = b.int("unsigned int", 4);
    let u64_ = b.int("unsigned long long", 8);
    let idx = b.int("__ARRAY_SIZE_TYPE__", 4);
    let def = map_def(&mut b, int, u32_, u64_, idx, 2, 1);
    let mut vars = Vec::new();
    for i in 0..maps {
        let v = b.var(&format!("m{i}"), def);
        vars.push((v, (i * 32) as u32, 32));
    }
    b.datasec(".maps", 0, &vars);
    let sk = b.strukt("__sk_buff", 8, &[("mark", u32_, 0), ("len", u32_, 32)]);
    let sec = b.s("socket");
    let access = b.s("0:1");
    let recs: Vec<[u32; 4]> = (0..n as u32).map(|i| [i * 8, sk, access, 0]).collect();
    e.section(".BTF", SHT_PROGBITS, 0, &b.build());
    e.section(".BTF.ext", SHT_PROGBITS, 0, &btf_ext(&[(sec, recs)]));
    e.func("prog", s, 0, code.len() as u64);
    for i in 0..maps {
        e.symbol(
            &format!("m{i}"),
            STT_OBJECT,
            STB_GLOBAL,
            m,
            (i * 32) as u64,
            32,
        );
    }
    e.build()
}

#[test]
fn core_relocations_and_maps_stay_linear() {
    let t = kernel();
    for (n, maps) in [(1_000, 16), (8_000, 64), (60_000, 256)] {
        let bytes = many_relocations(n, maps);
        let len = bytes.len();
        let (r, peak) = peak_during(|| parse(&bytes, &t));
        let linked = r.unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!(linked, (n + 1) * 8);
        eprintln!(
            "{n} CO-RE relocations, {maps} maps: {len} bytes → peak {peak} ({:.1}× the file)",
            peak as f64 / len as f64
        );
        assert!(peak <= bound(len), "{n}: {len} bytes peaked at {peak}");
    }
}
