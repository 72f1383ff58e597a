//! Hostile libbpf-style objects: for every input class on which aya-obj
//! 0.3 would panic, abort or run without bound (the table in
//! `loader/src/libbpf/mod.rs`), a generator of that class, and the typed
//! error it must get instead; then random and structure-aware mutations of
//! valid objects (the corpus and the generated one), which must each end in
//! `Ok` or an error naming the file, never a panic.
//!
//! Run in the unit tier (`cargo test -p netbpfload --test libbpf_hostile`),
//! in debug builds, so an arithmetic overflow in aya-obj would panic here.

#![allow(
    clippy::field_reassign_with_default,
    clippy::type_complexity,
    reason = "each case states the one knob it turns on the default object"
)]

mod libbpf_util;

use libbpf_util::*;
use netbpfload::libbpf::{self, Flavor, LibbpfError, LibbpfErrorKind as K, ParseEnv, TargetBtf};
use netbpfload::spec::{Kver, ObjectSpec};
use std::path::Path;

/// A kernel BTF with `__sk_buff` (len at 0, mark at 8), `xdp_md` and
/// `task_struct`, written here.
fn kernel() -> TargetBtf {
    let mut b = Btf::new();
    let u = b.int("unsigned int", 4);
    let int = b.int("int", 4);
    b.strukt(
        "__sk_buff",
        24,
        &[
            ("len", u, 0),
            ("pkt_type", u, 32),
            ("mark", u, 64),
            ("protocol", u, 128),
        ],
    );
    b.strukt(
        "xdp_md",
        16,
        &[
            ("data", u, 0),
            ("data_end", u, 32),
            ("data_meta", u, 64),
            ("ingress_ifindex", u, 96),
        ],
    );
    b.strukt(
        "task_struct",
        4096,
        &[("pid", int, 2400 * 8), ("tgid", int, 2404 * 8)],
    );
    TargetBtf::parse(Path::new("kernel"), &b.build()).expect("kernel BTF")
}

const FILE: &str = "hostile.o";

fn parse_bytes(bytes: &[u8], t: &TargetBtf) -> Result<ObjectSpec, LibbpfError> {
    libbpf::parse(
        Path::new(FILE),
        bytes,
        &ParseEnv {
            kver: Kver::new(6, 6, 0),
            target: Some(t),
        },
    )
}

/// The knobs of the generated object.
#[derive(Clone)]
struct Gen {
    /// Program section name.
    section: String,
    /// Program function name.
    func: String,
    /// Map name.
    map: String,
    /// Program code: `r1 = map ll; call sub; r0 = *(u32 *)(r6 + 4); exit`
    /// with `r6 = r1` first.
    prog: Vec<u8>,
    /// Relocations of the program: (offset, symbol name, type).
    prog_rels: Vec<(u64, String, u32)>,
    /// `.text`: `sub`, `r0 = 0; exit`.
    text: Vec<u8>,
    /// CO-RE records of the program section: (insn_off, type name, access).
    core: Vec<(u32, String, String, u32)>,
    /// Extra sections: (name, type, flags, data, nobits size).
    extra: Vec<(String, u32, u64, Vec<u8>, Option<u64>)>,
    /// Extra symbols: (name, type, section name, value, size).
    extra_syms: Vec<(String, u8, String, u64, u64)>,
}

impl Default for Gen {
    fn default() -> Gen {
        let mut prog = Vec::new();
        prog.extend_from_slice(&[0xbf, 0x16, 0, 0, 0, 0, 0, 0]); // r6 = r1
        prog.extend_from_slice(&LD_MAP_R1); // 8: r1 = map ll
        prog.extend_from_slice(&call(-1)); // 24: call sub
        prog.extend_from_slice(&[0x61, 0x60, 4, 0, 0, 0, 0, 0]); // 32: r0 = *(u32 *)(r6 + 4)
        prog.extend_from_slice(&EXIT);
        let mut text = Vec::new();
        text.extend_from_slice(&MOV_R0_0);
        text.extend_from_slice(&EXIT);
        Gen {
            section: "socket".into(),
            func: "prog".into(),
            map: "counts".into(),
            prog,
            prog_rels: vec![
                (8, "counts".into(), R_BPF_64_64),
                (24, "sub".into(), R_BPF_64_32),
            ],
            text,
            core: vec![(32, "__sk_buff".into(), "0:1".into(), 0)],
            extra: Vec::new(),
            extra_syms: Vec::new(),
        }
    }
}

impl Gen {
    fn build(&self) -> Vec<u8> {
        let mut e = Elf::new();
        let text = e.code(".text", &self.text);
        let prog = e.code(&self.section, &self.prog);
        let license = e.section("license", SHT_PROGBITS, DATA, b"GPL\0");
        let maps = e.section(".maps", SHT_PROGBITS, DATA, &[0u8; 32]);
        // BTF: the map definition, its VAR and DATASEC, the local
        // __sk_buff (mark at 0, len at 4: not the kernel's layout).
        let mut b = Btf::new();
        let int = b.int("int", 4);
        let u32_ = b.int("unsigned int", 4);
        let u64_ = b.int("unsigned long long", 8);
        let idx = b.int("__ARRAY_SIZE_TYPE__", 4);
        let def = map_def(&mut b, int, u32_, u64_, idx, 2, 1);
        let var = b.var(&self.map, def);
        b.datasec(".maps", 0, &[(var, 0, 32)]);
        let sk = b.strukt("__sk_buff", 8, &[("mark", u32_, 0), ("len", u32_, 32)]);
        let proto = b.func_proto(int, &[]);
        let func = b.func(&self.func, proto);
        let sec_name = b.s(&self.section);
        let mut recs = Vec::new();
        for (off, ty, access, kind) in &self.core {
            let id = match ty.as_str() {
                "__sk_buff" => sk,
                "int" => int,
                "func" => func,
                "anon" => def,
                "void" => 0,
                other => other.parse().unwrap_or(u32::MAX),
            };
            let a = b.s(access);
            recs.push([*off, id, a, *kind]);
        }
        let btf = b.build();
        e.section(".BTF", SHT_PROGBITS, 0, &btf);
        if !recs.is_empty() {
            e.section(".BTF.ext", SHT_PROGBITS, 0, &btf_ext(&[(sec_name, recs)]));
        }
        let mut sections = vec![
            (".text".to_string(), text),
            (self.section.clone(), prog),
            ("license".into(), license),
            (".maps".into(), maps),
        ];
        for (name, ty, flags, data, nobits) in &self.extra {
            let i = match nobits {
                Some(size) => e.nobits(name, *size),
                None => e.section(name, *ty, *flags, data),
            };
            sections.push((name.clone(), i));
        }
        let idx_of = |n: &str| sections.iter().find(|s| s.0 == n).map_or(0, |s| s.1);
        let mut syms: Vec<(String, u32)> = vec![
            ("sub".into(), e.func("sub", text, 0, self.text.len() as u64)),
            (
                self.func.clone(),
                e.func(&self.func, prog, 0, self.prog.len() as u64),
            ),
            (
                self.map.clone(),
                e.symbol(&self.map, STT_OBJECT, STB_GLOBAL, maps, 0, 32),
            ),
            (
                "LICENSE".into(),
                e.symbol("LICENSE", STT_OBJECT, STB_GLOBAL, license, 0, 4),
            ),
        ];
        for (name, stt, sec, value, size) in &self.extra_syms {
            let s = e.symbol(name, *stt, STB_GLOBAL, idx_of(sec), *value, *size);
            syms.push((name.clone(), s));
        }
        let sym = |n: &str| syms.iter().find(|s| s.0 == n).map_or(0, |s| s.1);
        let rels: Vec<(u64, u32, u32)> = self
            .prog_rels
            .iter()
            .map(|(off, name, ty)| (*off, sym(name), *ty))
            .collect();
        if !rels.is_empty() {
            e.rel(prog, &rels);
        }
        e.build()
    }
}

fn ok(g: &Gen, t: &TargetBtf) -> ObjectSpec {
    parse_bytes(&g.build(), t).unwrap_or_else(|e| panic!("{e}"))
}

fn err(g: &Gen, t: &TargetBtf) -> LibbpfError {
    let bytes = g.build();
    let e = parse_bytes(&bytes, t).expect_err("hostile object parsed");
    assert!(e.to_string().starts_with("hostile.o: "), "{e}");
    e
}

#[test]
fn the_generated_object_is_valid_and_relocated() {
    let t = kernel();
    let g = Gen::default();
    assert_eq!(libbpf::flavor(&g.build()), Flavor::Libbpf);
    let spec = ok(&g, &t);
    assert_eq!(spec.maps.len(), 1);
    assert_eq!(spec.programs.len(), 1);
    let p = &spec.programs[0];
    assert_eq!(
        (p.section.as_str(), p.pin_name.as_str()),
        ("socket:prog", "prog")
    );
    // Map reference at insn 1, call linked (sub appended at insn 6), the
    // CO-RE load now at the kernel's offset of len (0).
    assert_eq!(p.relocations.len(), 1);
    assert_eq!(
        (p.relocations[0].insn_index, p.relocations[0].map_index),
        (1, 0)
    );
    assert_eq!(p.insns.len(), 8 * 8, "6 slots of the program, 2 of sub");
    assert_eq!(&p.insns[32..36], &[0x61, 0x60, 0, 0]);
    assert_eq!(
        i32::from_le_bytes(p.insns[28..32].try_into().unwrap()),
        2,
        "call +2 → sub"
    );
}

// ---- One generator per hazard class (loader/src/libbpf/mod.rs).

fn expect(g: Gen, t: &TargetBtf, pred: impl Fn(&K) -> bool, what: &str) {
    let e = err(&g, t);
    assert!(pred(&e.kind), "{what}: {e}");
}

#[test]
fn functions_outside_their_section_and_addressed_sections_are_refused() {
    let t = kernel();
    let mut b = Gen::default().build();
    let l = Layout::read(&b);
    let s = l.symbol("prog");
    b[s + 16..s + 24].copy_from_slice(&0x10_0000u64.to_le_bytes()); // st_size
    let e = parse_bytes(&b, &t).unwrap_err();
    assert!(matches!(e.kind, K::Symbol { .. }), "{e}");

    let mut b = Gen::default().build();
    let s = l.symbol("prog");
    b[s + 8..s + 16].copy_from_slice(&4u64.to_le_bytes()); // st_value unaligned
    assert!(matches!(
        parse_bytes(&b, &t).unwrap_err().kind,
        K::Symbol { .. }
    ));

    let mut b = Gen::default().build();
    let h = l.section("socket").1;
    b[h + 16..h + 24].copy_from_slice(&0x1000u64.to_le_bytes()); // sh_addr
    assert!(matches!(
        parse_bytes(&b, &t).unwrap_err().kind,
        K::Section { .. }
    ));
}

#[test]
fn global_data_and_legacy_maps_are_refused_before_aya_allocates_them() {
    let t = kernel();
    for (name, nobits) in [
        (".bss", Some(1u64 << 40)),
        (".rodata.str1.1", None),
        (".data", None),
    ] {
        let mut g = Gen::default();
        g.extra
            .push((name.into(), SHT_PROGBITS, DATA, b"x\0".to_vec(), nobits));
        expect(g, &t, |k| matches!(k, K::Unsupported { .. }), name);
    }
    let mut g = Gen::default();
    g.extra
        .push(("maps_legacy".into(), SHT_PROGBITS, DATA, vec![0; 20], None));
    expect(g, &t, |k| matches!(k, K::Unsupported { .. }), "maps*");
}

#[test]
fn malformed_btf_is_refused() {
    let t = kernel();
    let base = Gen::default().build();
    let l = Layout::read(&base);
    let btf = l.section(".BTF").2;
    let hdr = u32_at(&base, btf + 4) as usize;
    let types = btf + hdr + u32_at(&base, btf + 8) as usize;
    // Type 1's name offset past the strings (aya-obj's string_at panics).
    let mut b = base.clone();
    b[types..types + 4].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
    assert!(matches!(parse_bytes(&b, &t).unwrap_err().kind, K::Btf(_)));
    // A kind no BTF has.
    let mut b = base.clone();
    b[types + 7] = 0x1f;
    assert!(matches!(parse_bytes(&b, &t).unwrap_err().kind, K::Btf(_)));
    // str_len past the section.
    let mut b = base.clone();
    b[btf + 20..btf + 24].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(parse_bytes(&b, &t).unwrap_err().kind, K::Btf(_)));
}

#[test]
fn a_btf_ext_aya_would_slice_past_is_refused() {
    let t = kernel();
    let base = Gen::default().build();
    let l = Layout::read(&base);
    let ext = l.section(".BTF.ext").2;
    let core = ext + 32;
    for (what, at, value) in [
        ("rec_size 0 (chunks(0))", core, 0u32),
        ("rec_size 8 (short records)", core, 8),
        ("num_info huge", core + 8, u32::MAX),
        ("section name past the strings", core + 4, u32::MAX),
        ("core_relo_len past the section", ext + 28, 0x7fff_ffff),
        ("hdr_len past the section", ext + 4, 0x1000),
        ("magic", ext, 0x1234),
    ] {
        let mut b = base.clone();
        b[at..at + 4].copy_from_slice(&value.to_le_bytes());
        let e = parse_bytes(&b, &t).unwrap_err();
        assert!(matches!(e.kind, K::BtfExt(_)), "{what}: {e}");
    }
    // Func and line info are not used: garbage there is ignored.
    let mut b = base.clone();
    for at in [ext + 8, ext + 12, ext + 16, ext + 20] {
        b[at..at + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    }
    parse_bytes(&b, &t).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn relocations_aya_would_panic_on_are_refused() {
    let t = kernel();
    // A data symbol in a code section, called (aya-obj: todo!()).
    let mut g = Gen::default();
    g.extra_syms
        .push(("label".into(), STT_OBJECT, ".text".into(), 0, 8));
    g.prog_rels[1].1 = "label".into();
    expect(
        g,
        &t,
        |k| matches!(k, K::Relocation { .. }),
        "data symbol in code",
    );
    // An extern (undefined) function: a kfunc.
    let mut g = Gen::default();
    g.extra_syms
        .push(("bpf_kfunc".into(), STT_FUNC, "none".into(), 0, 0));
    g.prog_rels[1].1 = "bpf_kfunc".into();
    expect(g, &t, |k| matches!(k, K::Unsupported { .. }), "extern");
    // A relocation type aya-obj does not size (R_BPF_64_ABS32 = 3).
    let mut g = Gen::default();
    g.prog_rels[1].2 = 3;
    expect(g, &t, |k| matches!(k, K::Relocation { .. }), "ABS32");
    // A map referenced by a call.
    let mut g = Gen::default();
    g.prog_rels[1].1 = "counts".into();
    expect(g, &t, |k| matches!(k, K::Relocation { .. }), "map called");
    // A relocation off the instruction grid, and past the section.
    for off in [4u64, 4096] {
        let mut g = Gen::default();
        g.prog_rels[0].0 = off;
        expect(g, &t, |k| matches!(k, K::Relocation { .. }), "offset");
    }
    // A section-relative call whose target wraps (imm + 1 < 0).
    let mut g = Gen::default();
    g.extra_syms
        .push(("textsec".into(), STT_SECTION, ".text".into(), 0, 0));
    g.prog_rels[1].1 = "textsec".into();
    g.prog[28..32].copy_from_slice(&(-5i32).to_le_bytes());
    expect(
        g,
        &t,
        |k| matches!(k, K::Relocation { .. }),
        "negative call",
    );
    // A 64-bit load already carrying a map fd (src_reg 1).
    let mut g = Gen::default();
    g.prog[9] = 0x11;
    expect(
        g,
        &t,
        |k| matches!(k, K::Relocation { .. }),
        "pre-set pseudo",
    );
}

#[test]
fn calls_aya_would_mislink_or_overflow_are_refused() {
    let t = kernel();
    // A pc-relative call with imm = i32::MAX (aya-obj: imm + 1 overflows).
    let mut g = Gen::default();
    g.prog_rels.truncate(1);
    g.prog[28..32].copy_from_slice(&i32::MAX.to_le_bytes());
    expect(g, &t, |k| matches!(k, K::Relocation { .. }), "imm max");
    // A call into the middle of a function.
    let mut g = Gen::default();
    g.prog_rels.truncate(1);
    g.prog[28..32].copy_from_slice(&(-2i32).to_le_bytes()); // → slot 2, inside the program
    expect(g, &t, |k| matches!(k, K::Relocation { .. }), "mid-function");
    // Two callees at address 0 of two .text sections: aya-obj's linker
    // keys callees by address alone and would call the wrong one.
    let mut g = Gen::default();
    let mut text = MOV_R0_0.to_vec();
    text.extend_from_slice(&EXIT);
    g.extra
        .push((".text.b".into(), SHT_PROGBITS, CODE, text, None));
    g.extra_syms
        .push(("sub_b".into(), STT_FUNC, ".text.b".into(), 0, 16));
    let mut prog = g.prog[..32].to_vec();
    prog.extend_from_slice(&call(-1));
    prog.extend_from_slice(&g.prog[32..]);
    g.prog = prog;
    g.prog_rels.push((32, "sub_b".into(), R_BPF_64_32));
    g.core[0].0 = 40;
    expect(
        g,
        &t,
        |k| matches!(k, K::Program { .. }),
        "address collision",
    );
}

#[test]
fn resource_classes_are_bounded() {
    let t = kernel();
    // Seventeen .text sections (aya-obj scans every symbol per section).
    let mut g = Gen::default();
    for i in 0..16 {
        let mut text = MOV_R0_0.to_vec();
        text.extend_from_slice(&EXIT);
        let name = format!(".text.{i}");
        g.extra.push((name.clone(), SHT_PROGBITS, CODE, text, None));
        g.extra_syms.push((format!("f{i}"), STT_FUNC, name, 0, 16));
    }
    expect(g, &t, |k| matches!(k, K::TooMany { .. }), ".text sections");
}

#[test]
fn names_that_would_escape_a_pin_directory_are_refused() {
    let t = kernel();
    for bad in ["../x", "a/b", "", "a.b", "é"] {
        let mut b = Gen::default().build();
        let l = Layout::read(&b);
        // Rename `prog` in place (same length or shorter, NUL-padded).
        let s = l.symbol("prog");
        let strtab = l.section(".strtab").2;
        let at = strtab + u32_at(&b, s) as usize;
        let mut name = bad.as_bytes().to_vec();
        name.resize(4, 0);
        if bad.len() > 4 {
            continue;
        }
        b[at..at + 4].copy_from_slice(&name);
        let e = parse_bytes(&b, &t).unwrap_err();
        assert!(
            matches!(
                e.kind,
                K::Symbol { .. } | K::Section { .. } | K::Unsupported { .. }
            ),
            "{bad:?}: {e}"
        );
    }
    let mut g = Gen::default();
    g.map = "a/b".into();
    g.core.clear();
    expect(g, &t, |k| matches!(k, K::Symbol { .. }), "map name");
}

#[test]
fn core_relocations_aya_would_panic_on_are_refused() {
    let t = kernel();
    for (what, ty, access, kind) in [
        ("index past the bound", "__sk_buff", "0:1048577", 0),
        ("65 components", "__sk_buff", &*vec!["0"; 65].join(":"), 0),
        ("no such member", "__sk_buff", "0:9", 0),
        ("a FUNC root (unreachable!() in aya-obj)", "func", "0", 8),
        ("an anonymous root", "anon", "0:0", 0),
        ("void", "void", "0", 8),
        ("a type id past the last", "9999", "0", 8),
        ("an unknown kind", "__sk_buff", "0:1", 42),
        (
            "a type relocation with an access path",
            "__sk_buff",
            "0:1",
            8,
        ),
        ("a non-numeric access", "__sk_buff", "0:x", 0),
    ] {
        let mut g = Gen::default();
        g.core = vec![(32, ty.into(), access.into(), kind)];
        expect(
            g,
            &t,
            |k| matches!(k, K::Core { .. } | K::TooMany { .. }),
            what,
        );
    }
    // Off the instruction grid, outside any function.
    for off in [33u32, 4096] {
        let mut g = Gen::default();
        g.core[0].0 = off;
        expect(g, &t, |k| matches!(k, K::Core { .. }), "insn_off");
    }
}

#[test]
fn unknown_and_unsupported_program_sections_are_refused_by_name() {
    let t = kernel();
    let mut g = Gen::default();
    g.section = "tc".into(); // fine: aya-obj 0.3 would refuse it, we rename
    let spec = ok(&g, &t);
    assert_eq!(spec.programs[0].kind.prog_type, 3);
    for (name, want) in [
        ("fentry/do_thing", "unsupported"),
        ("xdp.frags", "unsupported"),
        ("banana", "unknown"),
    ] {
        let mut g = Gen::default();
        g.section = name.into();
        let e = err(&g, &t);
        let ok = match want {
            "unknown" => matches!(e.kind, K::UnknownProgramSection { .. }),
            _ => matches!(e.kind, K::Unsupported { .. }),
        };
        assert!(ok, "{name}: {e}");
        assert!(e.to_string().contains(name), "{e}");
    }
}

// ---- Mutations.

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [u64; 12] = [
    0,
    1,
    7,
    8,
    0x7f,
    0xff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x7fff_ffff_ffff_ffff,
    u64::MAX,
];

/// Offsets worth hitting: section headers, symbols, relocation entries,
/// the BTF and .BTF.ext headers, types and records.
fn hot_spots(b: &[u8]) -> Vec<usize> {
    let l = Layout::read(b);
    let mut v = Vec::new();
    for s in &l.sections {
        v.extend((0..64).step_by(4).map(|o| s.1 + o));
        if s.0 == ".BTF" || s.0 == ".BTF.ext" {
            v.extend((0..s.3.min(4096)).step_by(4).map(|o| s.2 + o));
        }
        if s.4 == SHT_REL {
            v.extend((0..s.3).step_by(4).map(|o| s.2 + o));
        }
    }
    for (_, at) in &l.symbols {
        v.extend((0..24).step_by(4).map(|o| at + o));
    }
    v.retain(|&o| o + 8 <= b.len());
    v
}

fn mutate_all(name: &str, base: &[u8], t: &TargetBtf, rounds: usize, seed: u64) -> (usize, usize) {
    let hot = hot_spots(base);
    let mut rng = Rng(seed);
    let (mut parsed, mut refused) = (0, 0);
    for _ in 0..rounds {
        let mut b = base.to_vec();
        for _ in 0..1 + rng.below(4) {
            match rng.below(3) {
                0 => {
                    let at = rng.below(b.len());
                    b[at] ^= 1 << rng.below(8);
                }
                1 => {
                    let at = hot[rng.below(hot.len())];
                    let v = INTERESTING[rng.below(INTERESTING.len())];
                    let w = if rng.below(2) == 0 { 4 } else { 8 };
                    b[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
                }
                _ => {
                    let at = hot[rng.below(hot.len())];
                    let v = (rng.next() % 4096) as u32;
                    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
        match parse_bytes(&b, t) {
            Ok(_) => parsed += 1,
            Err(e) => {
                assert!(e.to_string().starts_with("hostile.o: "), "{name}: {e}");
                refused += 1;
            }
        }
    }
    (parsed, refused)
}

#[test]
fn mutated_objects_never_panic() {
    let t = kernel();
    let mut total = (0, 0);
    let generated = Gen::default().build();
    let mut inputs: Vec<(&str, &[u8])> = bpf_progs::libbpf_objects()
        .map(|o| (o.file_name, o.bytes))
        .collect();
    inputs.push(("generated", &generated));
    for (i, (name, bytes)) in inputs.iter().enumerate() {
        let (p, r) = mutate_all(name, bytes, &t, 1500, 0x9e37_79b9_7f4a_7c15 ^ i as u64);
        total = (total.0 + p, total.1 + r);
    }
    // Both outcomes occur: the mutations reach past the first check.
    assert!(total.0 > 0 && total.1 > 0, "{total:?}");
}

#[test]
fn truncated_objects_fail_cleanly() {
    let t = kernel();
    for o in bpf_progs::libbpf_objects() {
        let len = o.bytes.len();
        for cut in (0..len.min(256)).chain((256..len).step_by(5)) {
            let e = parse_bytes(&o.bytes[..cut], &t).expect_err("truncated object parsed");
            assert!(e.to_string().starts_with("hostile.o: "), "{e}");
        }
    }
}

#[test]
fn an_object_of_neither_kind_is_refused_by_the_dispatcher() {
    let mut e = Elf::new();
    e.section("license", SHT_PROGBITS, DATA, b"GPL\0");
    let bytes = e.build();
    assert_eq!(libbpf::flavor(&bytes), Flavor::Unrecognized);
    let no_btf = || {
        Err(libbpf::KernelBtfError {
            path: "x".into(),
            reason: "unused".into(),
        })
    };
    let env = netbpfload::object::ParseEnv {
        kver: Kver::new(6, 6, 0),
        records: netbpfload::parse::Records::Declared,
        kernel_btf: &no_btf,
        libbpf: netbpfload::release::LibbpfObjects::Accepted,
    };
    let err = netbpfload::object::parse(Path::new("empty.o"), &bytes, &env).unwrap_err();
    assert_eq!(err.reason(), "unrecognized", "{err}");
    assert!(
        err.to_string()
            .starts_with("empty.o: neither an Android object"),
        "{err}"
    );
}

// ---- What the checks guard against: aya-obj 0.3 itself, unguarded.

/// Whether `f` panics (the panic message is kept out of the test output).
fn panics(f: impl FnOnce() + std::panic::UnwindSafe) -> bool {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(f);
    std::panic::set_hook(hook);
    r.is_err()
}

/// Documents (and keeps checking, should a new aya-obj fix them) that
/// aya-obj 0.3 panics on inputs of the classes this loader refuses first:
/// the reason for every check in `loader/src/libbpf/`.
#[test]
fn aya_obj_0_3_panics_on_the_classes_refused_before_it() {
    let t = kernel();
    // A function symbol past its section: `&section.data[start..end]`.
    let mut b = Gen::default().build();
    let l = Layout::read(&b);
    let at = l.symbol("prog");
    b[at + 16..at + 24].copy_from_slice(&0x10_0000u64.to_le_bytes());
    assert!(
        panics(|| drop(aya_obj::Object::parse(&b))),
        "symbol past its section"
    );

    // A BTF name offset past the strings: `Btf::string_at` (reached by the
    // BTF map parser).
    let mut b = Gen::default().build();
    let btf = l.section(".BTF").2;
    let types = btf + 24;
    // The VAR of the map (type 12): its name offset.
    let mut off = types;
    for _ in 1..12 {
        let info = u32_at(&b, off + 4);
        let (kind, vlen) = (info >> 24 & 0x1f, (info & 0xffff) as usize);
        off += 12
            + match kind {
                1 | 14 => 4,
                3 => 12,
                4 | 15 => 12 * vlen,
                13 => 8 * vlen,
                _ => 0,
            };
    }
    let str_len = u32_at(&b, btf + 20);
    b[off..off + 4].copy_from_slice(&(str_len + 8).to_le_bytes());
    assert!(
        panics(|| drop(aya_obj::Object::parse(&b))),
        "name offset past the strings"
    );

    // A .BTF.ext CO-RE record size of 0: `chunks(0)`.
    let mut b = Gen::default().build();
    let ext = l.section(".BTF.ext").2;
    b[ext + 32..ext + 36].copy_from_slice(&0u32.to_le_bytes());
    assert!(panics(|| drop(aya_obj::Object::parse(&b))), "rec_size 0");

    // A call relocated against a data symbol in .text: `todo!()`.
    let mut g = Gen::default();
    g.section = "kprobe/x".into(); // a name aya-obj 0.3 knows
    g.extra_syms
        .push(("label".into(), STT_OBJECT, ".text".into(), 0, 8));
    g.prog_rels[1].1 = "label".into();
    g.core.clear();
    let b = g.build();
    assert!(
        panics(|| {
            let mut o = aya_obj::Object::parse(&b).expect("parses");
            let text: std::collections::HashSet<usize> =
                o.functions.keys().map(|(s, _)| *s).collect();
            let _ = o.relocate_calls(&text);
        }),
        "data symbol called"
    );

    // A TYPE_EXISTS relocation of a FUNC named like a kernel FUNC:
    // `unreachable!()` in types_are_compatible.
    let mut k = Btf::new();
    let int = k.int("int", 4);
    let proto = k.func_proto(int, &[]);
    k.func("prog", proto);
    let kernel_with_func =
        aya_obj::btf::Btf::parse(&k.build(), object::Endianness::Little).unwrap();
    let mut g = Gen::default();
    g.section = "kprobe/x".into();
    g.core = vec![(32, "func".into(), "0".into(), 8)];
    let b = g.build();
    assert!(
        panics(|| {
            let mut o = aya_obj::Object::parse(&b).expect("parses");
            let _ = o.relocate_btf(&kernel_with_func);
        }),
        "TYPE_EXISTS on a FUNC"
    );
    // Each of these is refused by netbpfload's checks instead.
    let mut g = Gen::default();
    g.core = vec![(32, "func".into(), "0".into(), 8)];
    assert!(matches!(err(&g, &t).kind, K::Core { .. }));
}
