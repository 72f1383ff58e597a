//! One generator per attack class, parameterised by the target file size.
//!
//! Each class is written from the attacker's side: the first variant is the
//! plain attack, the others are what dodges a naive fix (identical ranges
//! deduplicated → shifted or nested ranges; code-vs-code overlap checked →
//! code over another read section; relocations covered by "any" relocation →
//! a relocation to a non-map symbol; path checked after the `$` cut → the
//! control character after the `$`; ...). Every class states what the loader
//! must answer: success, or the `ParseErrorKind` variant by name (this crate
//! does not depend on the loader, so the loader's tests map the names).
//!
//! A generated file is at most the requested size (when the request is at
//! least [`Class::min_size`]); the size-scaled classes fill it.

use crate::android::*;
use crate::elf::*;

/// Longest accepted name in bytes (without the NUL), as in the loader
/// (`netbpfload::parse::MAX_NAME_LEN`; a loader test checks they agree).
pub const NAME_CAP: usize = 255;
/// Longest map name whose pin fits a file name (`NAME_MAX`) in an object
/// named `hostile`: `map_hostile_<name>`.
pub const MAP_NAME_MAX: usize = NAME_CAP - "map_hostile_".len();
/// Same for a program section name: `prog_hostile_<section>`.
pub const PROG_NAME_MAX: usize = NAME_CAP - "prog_hostile_".len();
/// Most program sections per object (loader `MAX_PROGRAMS`).
pub const MAX_PROGRAMS: usize = 4096;
/// Most maps per object (loader `MAX_MAPS`).
pub const MAX_MAPS: usize = 4096;
/// Most instructions per program (loader `MAX_PROGRAM_INSNS`).
pub const MAX_PROGRAM_INSNS: usize = 1_000_000;
/// Most instructions per object (loader `MAX_OBJECT_INSNS`).
pub const MAX_OBJECT_INSNS: usize = 1 << 20;
/// Most relocation entries per object (loader `MAX_RELOCATIONS`).
pub const MAX_RELOCATIONS: usize = 1 << 18;
/// Valid classes stay this far under [`MAX_RELOCATIONS`].
const VALID_RELOCATIONS: usize = 200_000;

/// What the loader must answer for a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The object parses.
    Ok,
    /// Parsing fails with this `ParseErrorKind` variant.
    Err(&'static str),
}

/// One attack class.
#[derive(Debug)]
pub struct Class {
    /// Name used on the command line (`hostile-gen NAME ...`).
    pub name: &'static str,
    /// What the file does.
    pub attack: &'static str,
    /// What the loader must answer.
    pub expect: Expect,
    /// Part of the parse-scaling benchmark (the worst cases of each family).
    pub worst_case: bool,
    /// File name to parse it under (the object name comes from it).
    pub file_name: &'static str,
    /// Smallest size the class can be generated at.
    pub min_size: usize,
    gen: fn(usize) -> Vec<u8>,
}

impl Class {
    /// The object, at most `size` bytes when `size >= min_size`.
    pub fn generate(&self, size: usize) -> Vec<u8> {
        (self.gen)(size.max(self.min_size))
    }
}

/// The class called `name`.
pub fn find(name: &str) -> Option<&'static Class> {
    CLASSES.iter().find(|c| c.name == name)
}

const KIB: usize = 1024;
const DEFAULT_FILE: &str = "hostile.o";

macro_rules! class {
    ($name:literal, $attack:literal, $expect:expr, $worst:literal, $min:expr, $gen:expr) => {
        class!($name, $attack, $expect, $worst, $min, DEFAULT_FILE, $gen)
    };
    ($name:literal, $attack:literal, $expect:expr, $worst:literal, $min:expr, $file:expr, $gen:expr) => {
        Class {
            name: $name,
            attack: $attack,
            expect: $expect,
            worst_case: $worst,
            file_name: $file,
            min_size: $min,
            gen: $gen,
        }
    };
}

use Expect::{Err as E, Ok as OK};

/// Every class.
pub static CLASSES: &[Class] = &[
    // ---- Memory amplification through aliased ranges (issue item 1).
    class!("overlap-same", "up to 4096 program section headers over one code blob (each program used to copy it)",
        E("SectionsOverlap"), true, 4 * KIB, overlap_same),
    class!("overlap-shifted", "program sections over one blob, each starting 8 bytes later (no two ranges equal)",
        E("SectionsOverlap"), true, 4 * KIB, overlap_shifted),
    class!("overlap-nested", "one program over the whole blob, many small disjoint programs inside it",
        E("SectionsOverlap"), false, 4 * KIB, overlap_nested),
    class!("overlap-cross", "each program's code is one record of the maps section: no two code ranges overlap, each overlaps maps",
        E("SectionsOverlap"), false, 4 * KIB, overlap_cross),
    class!("rel-shared", "one SHT_REL blob of non-map entries shared by the relocation sections of up to 4096 programs",
        E("SectionsOverlap"), true, 4 * KIB, rel_shared),
    class!("rel-shifted", "relocation sections over one blob, each starting one entry later",
        E("SectionsOverlap"), false, 4 * KIB, rel_shifted),
    class!("rel-duplicate", "two SHT_REL sections (distinct blobs) for the same code section",
        E("DuplicateRelocationSection"), false, 4 * KIB, rel_duplicate),
    class!("rel-many-warnings", "distinct relocation sections full of entries to non-map symbols (one warning each)",
        OK, true, 4 * KIB, rel_many_warnings),
    class!("maps-symbol-flood", "one map record and a flood of symbols in the maps section",
        E("SymbolCountMismatch"), false, 4 * KIB, maps_symbol_flood),
    // ---- Quadratic parsing (issue item 2).
    class!("syms-x-sections", "4096 program sections and a flood of short symbols elsewhere (programs x symbols)",
        OK, true, 4 * KIB, syms_x_sections),
    class!("syms-in-programs", "4096 program sections and a flood of NOTYPE symbols inside them",
        OK, true, 4 * KIB, syms_in_programs),
    class!("rel-sections-many", "programs plus a flood of empty SHT_REL sections for other sections (programs x sections)",
        OK, true, 4 * KIB, rel_sections_many),
    class!("long-shared-name", "one name of half the file shared by a flood of section headers and symbols",
        OK, true, 4 * KIB, long_shared_name),
    class!("deep-names", "every name the parser must read is as long as accepted (255 bytes, pin names so that the pin file name is 255), at distinct offsets",
        OK, true, 16 * KIB, deep_names),
    class!("max-names", "up to 4096 maps and 4096 programs, all with the longest accepted names (shared: the least input per name kept)",
        OK, true, 4 * KIB, max_names),
    class!("long-name-program", "a program section name longer than the cap (no NUL for the rest of the file)",
        E("NameTooLong"), false, 4 * KIB, long_name_program),
    class!("long-name-map", "a map symbol name longer than the cap",
        E("NameTooLong"), false, 4 * KIB, long_name_map),
    // ---- Cross-object map access (issue item 4).
    class!("uncovered-fd", "LD_IMM64 src_reg=BPF_PSEUDO_MAP_FD with an arbitrary fd number and no relocation",
        E("UncoveredPseudoLoad"), true, 4 * KIB, |s| victim(s, Victim::Fd)),
    class!("uncovered-value", "LD_IMM64 src_reg=BPF_PSEUDO_MAP_VALUE, no relocation",
        E("UncoveredPseudoLoad"), false, 4 * KIB, |s| victim(s, Victim::Value)),
    class!("uncovered-idx", "LD_IMM64 src_reg=BPF_PSEUDO_MAP_IDX, no relocation",
        E("UncoveredPseudoLoad"), false, 4 * KIB, |s| victim(s, Victim::Idx)),
    class!("uncovered-after-covered", "a covered map load followed by an uncovered map-fd load",
        E("UncoveredPseudoLoad"), false, 4 * KIB, |s| victim(s, Victim::AfterCovered)),
    class!("uncovered-second-half-reloc", "the map relocation sits on the second half of the map-fd load",
        E("UncoveredPseudoLoad"), false, 4 * KIB, |s| victim(s, Victim::SecondHalfReloc)),
    class!("uncovered-non-map-reloc", "the map-fd load is covered only by a relocation to a non-map (FUNC) symbol, which is ignored",
        E("UncoveredPseudoLoad"), false, 4 * KIB, |s| victim(s, Victim::NonMapReloc)),
    class!("uncovered-func", "LD_IMM64 src_reg=BPF_PSEUDO_FUNC, no relocation",
        E("UncoveredPseudoLoad"), false, 4 * KIB, |s| victim(s, Victim::FuncUncovered)),
    class!("truncated-ld-imm64", "the code ends with the first half of a map-fd LD_IMM64",
        E("TruncatedLdImm64"), false, 4 * KIB, |s| victim(s, Victim::Truncated)),
    class!("pseudo-in-second-half", "0x18 with src_reg=1 as the second half of a plain LD_IMM64 (not an instruction; the kernel rejects it)",
        OK, false, 4 * KIB, |s| victim(s, Victim::InSecondHalf)),
    class!("func-covered", "LD_IMM64 src_reg=BPF_PSEUDO_FUNC covered by a relocation to a FUNC symbol (no fd involved)",
        OK, false, 4 * KIB, |s| victim(s, Victim::FuncCovered)),
    // ---- Names that are not pin-path components or forge log lines (item 9).
    class!("name-map-dot", "map named a.b (bpffs reserves dots: bare EPERM)",
        E("BadSymbolName"), false, 4 * KIB, |s| named(s, b"a.b", b"skfilter/p", b"f")),
    class!("name-map-newline", "map name with a newline and a forged log line",
        E("BadSymbolName"), false, 4 * KIB, |s| named(s, b"m\nnetbpfload: forged", b"skfilter/p", b"f")),
    class!("name-map-control", "map name with an escape sequence",
        E("BadSymbolName"), false, 4 * KIB, |s| named(s, b"m\x1b[2K", b"skfilter/p", b"f")),
    class!("name-map-empty", "map with an empty name",
        E("BadSymbolName"), false, 4 * KIB, |s| named(s, b"", b"skfilter/p", b"f")),
    class!("name-prog-dot", "program section skfilter/a.b (pin name with a dot)",
        E("BadProgramName"), false, 4 * KIB, |s| named(s, b"m", b"skfilter/a.b", b"f")),
    class!("name-prog-newline", "program section name with a newline",
        E("BadProgramName"), false, 4 * KIB, |s| named(s, b"m", b"skfilter/x\nnetbpfload: forged", b"f")),
    class!("name-prog-after-dollar", "newline after the last '$' (cut from the pin name, still in the section name)",
        E("BadProgramName"), false, 4 * KIB, |s| named(s, b"m", b"skfilter/x$\nnetbpfload: forged", b"f")),
    class!("name-func-newline", "program function name with a newline",
        E("BadSymbolName"), false, 4 * KIB, |s| named(s, b"m", b"skfilter/p", b"f\nnetbpfload: forged")),
    class!("name-map-pin-too-long", "a 244-byte map name (fits the name cap): the pin file name map_hostile_<name> is 256 bytes",
        E("BadSymbolName"), false, 4 * KIB, |s| named(s, &[b'm'; MAP_NAME_MAX + 1], b"skfilter/p", b"f")),
    class!("name-prog-pin-too-long", "a program whose pin name with the object name is longer than 255 bytes",
        E("BadProgramName"), false, 4 * KIB, |s| named(s, b"m", &pin_too_long(), b"f")),
    class!("name-object-empty", "a valid object in a file named .o (object name \"\")",
        E("BadObjectName"), false, 4 * KIB, ".o", valid_small),
    class!("name-object-at", "a valid object in a file named @x.o (object name \"\")",
        E("BadObjectName"), false, 4 * KIB, "@x.o", valid_small),
    class!("name-object-dot", "a valid object in a file named a.b.o (object name a.b)",
        E("BadObjectName"), false, 4 * KIB, "a.b.o", valid_small),
    class!("name-object-newline", "a valid object in a file whose name holds a newline",
        E("BadObjectName"), false, 4 * KIB, "x\nnetbpfload: forged.o", valid_small),
    // ---- Caps.
    class!("too-many-insns-program", "one program of 1,000,001 instructions (the kernel's limit is 1M)",
        E("TooMany"), false, (MAX_PROGRAM_INSNS + 1) * INSN + 4 * KIB, too_many_insns_program),
    class!("too-many-insns-object", "two programs of 2^19+1 instructions each",
        E("TooMany"), false, (MAX_OBJECT_INSNS + 4) * INSN + 4 * KIB, too_many_insns_object),
    class!("too-many-relocations", "2^18+1 relocation entries",
        E("TooMany"), false, (MAX_RELOCATIONS + 1) * REL_SIZE + 4 * KIB, too_many_relocations),
    // ---- Verifier time (issue item 3, the variant that passes).
    class!("slow-verify", "up to 4096 programs that each pass, after the verifier walked a loop of 90,000 iterations (900k instructions, about 0.1 s each on a fast x86_64)",
        OK, false, 4 * KIB, slow_verify),
    // ---- The control: big and valid.
    class!("valid-big", "many legitimate programs with map loads, as much code and relocations as the caps allow, BTF-like padding",
        OK, true, 4 * KIB, valid_big),
];

fn room(w: &Writer, size: usize) -> usize {
    size.saturating_sub(w.len())
}

const fn align_down8(n: usize) -> usize {
    n & !7
}

/// A name `<prefix><i, 6 digits>` padded with `a` to `len` bytes.
fn padded(prefix: &str, i: usize, len: usize) -> Vec<u8> {
    let mut v = format!("{prefix}{i:06}").into_bytes();
    v.resize(len.max(v.len()), b'a');
    v
}

/// The object-level sections with one map `m` and one def `f_def`; returns
/// the base and the string offset of `f`.
fn simple_base(w: &mut Writer) -> (Base, u32) {
    let m = w.str(b"m");
    let def = w.str(b"f_def");
    let f = w.str(b"f");
    (base(w, &[m], &[def]), f)
}

/// `LD_IMM64 r1 (map)`, `r0 = 0`, `exit`: a map load to cover at insn 0.
fn map_load_code() -> Vec<u8> {
    let mut v = ld_imm64(1, 0, 0).to_vec();
    v.extend_from_slice(&MOV_R0_0);
    v.extend_from_slice(&EXIT);
    v
}

fn overlap_same(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let (_, f) = simple_base(&mut w);
    let name = w.str(b"skfilter/overlap");
    let room = room(&w, size);
    let per = SHDR_SIZE + SYM_SIZE;
    let p = (room / 2 / per).clamp(2, MAX_PROGRAMS);
    let blob = align_down8(room.saturating_sub(p * per + 64)).max(16);
    let r = w.data(&filler_code(blob / INSN - 1));
    for _ in 0..p {
        let s = w.progbits_at(name, r);
        w.symbol(f, STT_FUNC, s, 0, r.1);
    }
    w.build()
}

fn overlap_shifted(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let (_, f) = simple_base(&mut w);
    let name = w.str(b"skfilter/overlap");
    let room = room(&w, size);
    let per = SHDR_SIZE + SYM_SIZE;
    let blob = align_down8(room / 2).max(64);
    let p = ((room - blob) / per)
        .min(blob / INSN - 1)
        .clamp(2, MAX_PROGRAMS);
    let r = w.data(&filler_code(blob / INSN - 1));
    for i in 0..p as u64 {
        let s = w.progbits_at(name, (r.0 + 8 * i, r.1 - 8 * i));
        w.symbol(f, STT_FUNC, s, 0, r.1 - 8 * i);
    }
    w.build()
}

fn overlap_nested(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let (_, f) = simple_base(&mut w);
    let big = w.str(b"skfilter/big");
    let small = w.str(b"skfilter/small");
    let room = room(&w, size);
    let per = SHDR_SIZE + SYM_SIZE + 16;
    let p = (room / per).clamp(2, MAX_PROGRAMS);
    let mut code = Vec::with_capacity(p * 16);
    for _ in 0..p {
        code.extend_from_slice(&MOV_R0_0);
        code.extend_from_slice(&EXIT);
    }
    let r = w.data(&code);
    let s = w.progbits_at(big, r);
    w.symbol(f, STT_FUNC, s, 0, r.1);
    for i in 1..p as u64 {
        let s = w.progbits_at(small, (r.0 + 16 * i, 16));
        w.symbol(f, STT_FUNC, s, 0, 16);
    }
    w.build()
}

fn overlap_cross(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let f = w.str(b"f");
    let def = w.str(b"f_def");
    let per_map = MAP_DEF_SIZE + SYM_SIZE + 8 + SHDR_SIZE + SYM_SIZE;
    let m = (size.saturating_sub(KIB) / per_map).clamp(1, MAX_MAPS);
    let names: Vec<u32> = (0..m).map(|i| w.str(&padded("m", i, 7))).collect();
    let b = base(&mut w, &names, &[def]);
    let (maps_off, _) = section_range(&w, b.maps);
    let name = w.str(b"skfilter/cross");
    for i in 0..m as u64 {
        let rec = MAP_DEF_SIZE as u64;
        let s = w.progbits_at(name, (maps_off + i * rec, rec));
        w.symbol(f, STT_FUNC, s, 0, rec);
    }
    w.build()
}

/// `(offset, size)` of a section added by [`Writer::section`].
fn section_range(w: &Writer, index: usize) -> Range {
    w.range_of(index)
}

/// Programs `skfilter/r<i>` with [`map_load_code`]; returns their
/// `(section, FUNC symbol)`.
fn programs(w: &mut Writer, p: usize, f: u32, prefix: &str) -> Vec<(usize, u32)> {
    let code = map_load_code();
    (0..p)
        .map(|i| {
            let n = w.str(format!("skfilter/{prefix}{i}").as_bytes());
            program(w, n, &code, f)
        })
        .collect()
}

/// A blob of `e` relocation entries at insn 0: one in eight to map `m`,
/// the rest to `other` (a FUNC symbol: not a map, one warning each).
fn rel_blob(e: usize, map_sym: u32, other: u32) -> Vec<u8> {
    let mut blob = Vec::with_capacity(e * REL_SIZE);
    for i in 0..e {
        push_rel(&mut blob, 0, if i % 8 == 0 { map_sym } else { other });
    }
    blob
}

fn rel_shared(size: usize) -> Vec<u8> {
    rel_over_blob(size, false)
}

fn rel_shifted(size: usize) -> Vec<u8> {
    rel_over_blob(size, true)
}

fn rel_over_blob(size: usize, shifted: bool) -> Vec<u8> {
    let mut w = Writer::new();
    let (b, f) = simple_base(&mut w);
    let per = SHDR_SIZE * 2 + 32 + SYM_SIZE + 24;
    let p = (room(&w, size) / 2 / per).clamp(2, MAX_PROGRAMS);
    let progs = programs(&mut w, p, f, "r");
    let e = (room(&w, size).saturating_sub(p * (SHDR_SIZE + 8) + 64) / REL_SIZE).max(p);
    let r = w.data(&rel_blob(e, b.map_syms[0], progs[0].1));
    let rel_name = w.str(b".relskfilter/r");
    for (i, &(sec, _)) in progs.iter().enumerate() {
        let skip = if shifted { (i * REL_SIZE) as u64 } else { 0 };
        w.rel_at(rel_name, sec, (r.0 + skip, r.1 - skip));
    }
    w.build()
}

fn rel_duplicate(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let (b, f) = simple_base(&mut w);
    let per = SHDR_SIZE * 3 + 32 + SYM_SIZE + 24 + 2 * REL_SIZE;
    let p = (room(&w, size) / per).clamp(1, MAX_PROGRAMS);
    let progs = programs(&mut w, p, f, "d");
    let rel_name = w.str(b".rel");
    for &(sec, _) in &progs {
        for _ in 0..2 {
            let r = w.data(&rel_entries([(0, b.map_syms[0])]));
            w.rel_at(rel_name, sec, r);
        }
    }
    w.build()
}

fn rel_many_warnings(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let (b, f) = simple_base(&mut w);
    let per = SHDR_SIZE * 2 + 32 + SYM_SIZE + 24;
    let p = (room(&w, size) / 8 / per).clamp(1, MAX_PROGRAMS);
    let progs = programs(&mut w, p, f, "w");
    let total =
        (room(&w, size).saturating_sub(p * (SHDR_SIZE + 8) + 64) / REL_SIZE).min(VALID_RELOCATIONS);
    let e = (total / p).max(1);
    let rel_name = w.str(b".rel");
    for &(sec, sym) in &progs {
        let r = w.data(&rel_blob(e, b.map_syms[0], sym));
        w.rel_at(rel_name, sec, r);
    }
    pad(&mut w, size);
    w.build()
}

/// Fills the file up to `size` with an unread section.
fn pad(w: &mut Writer, size: usize) {
    let n = room(w, size).saturating_sub(SHDR_SIZE + 32);
    if n > 0 {
        w.section(b".comment", &vec![0u8; align_down8(n)]);
    }
}

fn maps_symbol_flood(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let (b, f) = simple_base(&mut w);
    let n = w.str(b"skfilter/p");
    let (sec, _) = program(&mut w, n, &map_load_code(), f);
    let r = w.data(&rel_entries([(0, b.map_syms[0])]));
    let rn = w.str(b".relskfilter/p");
    w.rel_at(rn, sec, r);
    let x = w.str(b"x");
    for _ in 0..room(&w, size) / SYM_SIZE {
        w.symbol(x, STT_OBJECT, b.maps, 0, 0);
    }
    w.build()
}

/// Up to 4096 programs `skfilter/s<i>` (r0 = 0; exit) with FUNC `f`,
/// using about half of the room (programs x symbols is largest there).
fn many_small_programs(w: &mut Writer, size: usize, f: u32) -> Vec<usize> {
    let per = SHDR_SIZE + 16 + SYM_SIZE + 16;
    let p = (room(w, size) / 2 / per).clamp(1, MAX_PROGRAMS);
    let code = filler_code(1);
    (0..p)
        .map(|i| {
            let n = w.str(format!("skfilter/s{i}").as_bytes());
            program(w, n, &code, f).0
        })
        .collect()
}

fn syms_x_sections(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let (_, f) = simple_base(&mut w);
    many_small_programs(&mut w, size, f);
    let data = w.section(b".data", &[0u8; 8]);
    let x = w.str(b"x");
    for _ in 0..room(&w, size) / SYM_SIZE {
        w.symbol(x, STT_NOTYPE, data, 0, 0);
    }
    w.build()
}

fn syms_in_programs(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let (_, f) = simple_base(&mut w);
    let secs = many_small_programs(&mut w, size, f);
    let x = w.str(b"x");
    for i in 0..room(&w, size) / SYM_SIZE {
        w.symbol(x, STT_NOTYPE, secs[i % secs.len()], 8, 0);
    }
    w.build()
}

fn rel_sections_many(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let (b, f) = simple_base(&mut w);
    many_small_programs(&mut w, size, f);
    let name = w.str(b".rel.other");
    for _ in 0..room(&w, size) / SHDR_SIZE {
        w.rel_at(name, b.license, (0, 0));
    }
    w.build()
}

fn long_shared_name(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let (b, f) = simple_base(&mut w);
    let n = w.str(b"skfilter/p");
    let (sec, _) = program(&mut w, n, &map_load_code(), f);
    let r = w.data(&rel_entries([(0, b.map_syms[0])]));
    let rn = w.str(b".relskfilter/p");
    w.rel_at(rn, sec, r);
    let data = w.section(b".data", &[0u8; 8]);
    let room = room(&w, size);
    let long = w.str(&vec![b'A'; room / 2]);
    let rest = room - room / 2 - 64;
    for _ in 0..rest / 2 / SHDR_SIZE {
        w.progbits_at(long, (0, 0));
    }
    for _ in 0..rest / 2 / SYM_SIZE {
        w.symbol(long, STT_NOTYPE, data, 0, 0);
    }
    w.build()
}

fn deep_names(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let budget = room(&w, size).saturating_sub(2 * KIB);
    let m = (budget * 15 / 100 / (MAP_DEF_SIZE + SYM_SIZE + NAME_CAP + 1)).clamp(1, MAX_MAPS);
    let per_prog = 2 * SHDR_SIZE + 16 + 2 * SYM_SIZE + 3 * (NAME_CAP + 1) + PROG_DEF_SIZE;
    let p = (budget * 35 / 100 / per_prog).clamp(1, MAX_PROGRAMS);
    let map_names: Vec<u32> = (0..m)
        .map(|i| w.str(&padded("m", i, MAP_NAME_MAX)))
        .collect();
    let funcs: Vec<Vec<u8>> = (0..p).map(|i| padded("f", i, NAME_CAP - 4)).collect();
    let defs: Vec<u32> = funcs
        .iter()
        .map(|f| {
            let mut d = f.clone();
            d.extend_from_slice(b"_def");
            w.str(&d)
        })
        .collect();
    base(&mut w, &map_names, &defs);
    let code = filler_code(1);
    let progs: Vec<usize> = funcs
        .iter()
        .enumerate()
        .map(|(i, func)| {
            let n = w.str(&padded("skfilter/p", i, PROG_NAME_MAX));
            let f = w.str(func);
            program(&mut w, n, &code, f).0
        })
        .collect();
    let data = w.section(b".data", &[0u8; 8]);
    let per_rel = REL_SIZE + SYM_SIZE + NAME_CAP + 1;
    let r =
        (room(&w, size).saturating_sub(p * SHDR_SIZE + KIB) / per_rel).clamp(p, VALID_RELOCATIONS);
    let syms: Vec<u32> = (0..r)
        .map(|i| {
            let n = w.str(&padded("x", i, NAME_CAP));
            w.symbol(n, STT_NOTYPE, data, 0, 0)
        })
        .collect();
    let rel_name = w.str(b".rel");
    for (j, sec) in progs.iter().enumerate() {
        let blob = rel_entries(syms.iter().skip(j).step_by(p).map(|&s| (0, s)));
        let range = w.data(&blob);
        w.rel_at(rel_name, *sec, range);
    }
    w.build()
}

fn max_names(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let budget = size.saturating_sub(4 * KIB);
    let m = (budget / 3 / (MAP_DEF_SIZE + SYM_SIZE)).clamp(1, MAX_MAPS);
    let map_name = w.str(&padded("m", 0, MAP_NAME_MAX));
    let func = padded("f", 0, NAME_CAP - 4);
    let mut def = func.clone();
    def.extend_from_slice(b"_def");
    let def = w.str(&def);
    let f = w.str(&func);
    base(&mut w, &vec![map_name; m], &[def]);
    let name = w.str(&padded("skfilter/p", 0, PROG_NAME_MAX));
    let per = SHDR_SIZE + INSN + SYM_SIZE;
    let p = (room(&w, size) / per).clamp(1, MAX_PROGRAMS);
    for _ in 0..p {
        program(&mut w, name, &EXIT, f);
    }
    w.build()
}

fn long_name_program(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let (_, f) = simple_base(&mut w);
    let mut name = b"skfilter/".to_vec();
    name.resize((room(&w, size) - 256).max(NAME_CAP + 2), b'a');
    let n = w.str(&name);
    program(&mut w, n, &filler_code(1), f);
    w.build()
}

fn long_name_map(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let f = w.str(b"f");
    let def = w.str(b"f_def");
    let m = w.str(&vec![
        b'm';
        (size.saturating_sub(2 * KIB)).max(NAME_CAP + 1)
    ]);
    base(&mut w, &[m], &[def]);
    let n = w.str(b"skfilter/p");
    program(&mut w, n, &filler_code(1), f);
    w.build()
}

#[derive(Debug, Clone, Copy)]
enum Victim {
    Fd,
    Value,
    Idx,
    AfterCovered,
    SecondHalfReloc,
    NonMapReloc,
    FuncUncovered,
    FuncCovered,
    Truncated,
    InSecondHalf,
}

/// A valid program `skfilter/victim` padded with `r0 = 0` to the size, whose
/// tail is the attack. Relocations are `(insn index, to map m?)`.
fn victim(size: usize, v: Victim) -> Vec<u8> {
    let mut w = Writer::new();
    let (b, f) = simple_base(&mut w);
    let fill = (room(&w, size).saturating_sub(KIB) / INSN).min(MAX_PROGRAM_INSNS - 16);
    let mut code = Vec::with_capacity((fill + 8) * INSN);
    for _ in 0..fill {
        code.extend_from_slice(&MOV_R0_0);
    }
    let at = fill as u64;
    // (insn index, relocation to the map?) pairs.
    let mut rels: Vec<(u64, bool)> = Vec::new();
    let fd = 3; // an fd number another object may well own
    match v {
        Victim::Fd => code.extend_from_slice(&ld_imm64(1, PSEUDO_MAP_FD, fd)),
        Victim::Value => code.extend_from_slice(&ld_imm64(1, PSEUDO_MAP_VALUE, fd)),
        Victim::Idx => code.extend_from_slice(&ld_imm64(1, PSEUDO_MAP_IDX, 0)),
        Victim::AfterCovered => {
            code.extend_from_slice(&ld_imm64(1, 0, 0));
            rels.push((at, true));
            code.extend_from_slice(&ld_imm64(2, PSEUDO_MAP_FD, fd));
        }
        Victim::SecondHalfReloc => {
            code.extend_from_slice(&ld_imm64(1, PSEUDO_MAP_FD, fd));
            rels.push((at + 1, true));
        }
        Victim::NonMapReloc => {
            code.extend_from_slice(&ld_imm64(1, PSEUDO_MAP_FD, fd));
            rels.push((at, false));
        }
        Victim::FuncUncovered => code.extend_from_slice(&ld_imm64(1, PSEUDO_FUNC, 2)),
        Victim::FuncCovered => {
            code.extend_from_slice(&ld_imm64(1, PSEUDO_FUNC, 0));
            rels.push((at, false));
        }
        Victim::Truncated => {}
        Victim::InSecondHalf => {
            let mut l = ld_imm64(1, 0, 0);
            l[8] = LD_IMM64_OP;
            l[9] = PSEUDO_MAP_FD << 4;
            l[12..16].copy_from_slice(&fd.to_le_bytes());
            code.extend_from_slice(&l);
        }
    }
    code.extend_from_slice(&EXIT);
    if let Victim::Truncated = v {
        code.extend_from_slice(&ld_imm64(1, PSEUDO_MAP_FD, fd)[..8]);
    }
    let n = w.str(b"skfilter/victim");
    let (sec, func_sym) = program(&mut w, n, &code, f);
    if !rels.is_empty() {
        let blob = rel_entries(
            rels.iter()
                .map(|&(i, map)| (i * INSN as u64, if map { b.map_syms[0] } else { func_sym })),
        );
        let r = w.data(&blob);
        let rn = w.str(b".relskfilter/victim");
        w.rel_at(rn, sec, r);
    }
    w.build()
}

/// A valid object with map `map`, program section `section` (padded to the
/// size) whose function is `func`, relocated to the map.
fn named(size: usize, map: &[u8], section: &[u8], func: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    let m = w.str(map);
    let mut d = func.to_vec();
    d.extend_from_slice(b"_def");
    let def = w.str(&d);
    let b = base(&mut w, &[m], &[def]);
    let fill = (room(&w, size).saturating_sub(KIB) / INSN).min(MAX_PROGRAM_INSNS - 16);
    let mut code = ld_imm64(1, 0, 0).to_vec();
    code.extend_from_slice(&filler_code(fill));
    let n = w.str(section);
    let f = w.str(func);
    let (sec, _) = program(&mut w, n, &code, f);
    let r = w.data(&rel_entries([(0, b.map_syms[0])]));
    let mut rn = b".rel".to_vec();
    rn.extend_from_slice(section);
    let rn = w.str(&rn);
    w.rel_at(rn, sec, r);
    w.build()
}

/// `skfilter/` padded to [`PROG_NAME_MAX`]` + 1` = 243 bytes: under the name
/// cap, but its pin name `prog_hostile_skfilter_...` is 256 bytes, one over
/// `NAME_MAX`.
fn pin_too_long() -> Vec<u8> {
    let mut v = b"skfilter/".to_vec();
    v.resize(PROG_NAME_MAX + 1, b'p');
    v
}

fn valid_small(size: usize) -> Vec<u8> {
    named(size, b"m", b"skfilter/p", b"f")
}

fn too_many_insns_program(_: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let (_, f) = simple_base(&mut w);
    let n = w.str(b"skfilter/long");
    program(&mut w, n, &filler_code(MAX_PROGRAM_INSNS), f);
    w.build()
}

fn too_many_insns_object(_: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let (_, f) = simple_base(&mut w);
    let code = filler_code(MAX_OBJECT_INSNS / 2);
    for name in [&b"skfilter/a"[..], b"skfilter/b"] {
        let n = w.str(name);
        program(&mut w, n, &code, f);
    }
    w.build()
}

fn too_many_relocations(_: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let (b, f) = simple_base(&mut w);
    let n = w.str(b"skfilter/p");
    let (sec, _) = program(&mut w, n, &map_load_code(), f);
    let blob = rel_entries((0..=MAX_RELOCATIONS).map(|_| (0, b.map_syms[0])));
    let r = w.data(&blob);
    let rn = w.str(b".relskfilter/p");
    w.rel_at(rn, sec, r);
    w.build()
}

/// One instruction.
const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let o = off.to_le_bytes();
    let i = imm.to_le_bytes();
    [code, (src << 4) | dst, o[0], o[1], i[0], i[1], i[2], i[3]]
}

/// A socket filter the verifier accepts only after walking every one of
/// its `iterations` loop turns (10 instructions each: no branch on packet
/// data, so no state is ever pruned), as clang -O2 compiles
/// `for (u32 i = 0; i < N; i++) acc += skb->len ^ i; return acc & 1;`.
fn slow_loop(iterations: i32) -> Vec<u8> {
    [
        insn(0xb7, 2, 0, 0, 0),          // r2 = 0
        insn(0x61, 1, 1, 0, 0),          // r1 = *(u32 *)(r1 + 0): skb->len
        insn(0xb7, 3, 0, 0, 0),          // r3 = 0
        insn(0xbf, 0, 2, 0, 0),          // loop: r0 = r2
        insn(0xaf, 0, 1, 0, 0),          // r0 ^= r1
        insn(0x0f, 0, 3, 0, 0),          // r0 += r3
        insn(0x07, 2, 0, 0, 1),          // r2 += 1
        insn(0xbf, 4, 2, 0, 0),          // r4 = r2
        insn(0x67, 4, 0, 0, 32),         // r4 <<= 32
        insn(0x77, 4, 0, 0, 32),         // r4 >>= 32
        insn(0xbf, 3, 0, 0, 0),          // r3 = r0
        insn(0x15, 4, 0, 1, iterations), // if r4 == N goto out
        insn(0x05, 0, 0, -10, 0),        // goto loop
        insn(0x57, 0, 0, 0, 1),          // out: r0 &= 1
        EXIT,
    ]
    .concat()
}

fn slow_verify(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let (_, f) = simple_base(&mut w);
    let code = slow_loop(90_000);
    let per = code.len() + SHDR_SIZE + SYM_SIZE + 24;
    let p = (room(&w, size) / per).clamp(1, MAX_PROGRAMS);
    for i in 0..p {
        let n = w.str(format!("skfilter/slow{i}").as_bytes());
        program(&mut w, n, &code, f);
    }
    w.build()
}

fn valid_big(size: usize) -> Vec<u8> {
    let mut w = Writer::new();
    let maps: Vec<u32> = (0..64)
        .map(|i| w.str(format!("map_{i}").as_bytes()))
        .collect();
    let def = w.str(b"f_def");
    let f = w.str(b"f");
    let b = base(&mut w, &maps, &[def]);
    // One unit: a map load and three moves (5 insns, 40 bytes) + 1 relocation.
    const UNIT: usize = 5 * INSN + REL_SIZE;
    let room = room(&w, size);
    let units = (room * 7 / 10 / UNIT).clamp(
        1,
        VALID_RELOCATIONS.min((MAX_OBJECT_INSNS - 2 * MAX_PROGRAMS) / 5),
    );
    let p = (units / 16).clamp(1, MAX_PROGRAMS);
    let per = units / p;
    let rel_name = w.str(b".rel");
    for i in 0..p {
        let mut code = Vec::with_capacity(per * 5 * INSN + INSN);
        let mut rels = Vec::with_capacity(per * REL_SIZE);
        for u in 0..per {
            push_rel(
                &mut rels,
                (code.len()) as u64,
                b.map_syms[(i + u) % b.map_syms.len()],
            );
            code.extend_from_slice(&ld_imm64(1, 0, 0));
            for _ in 0..3 {
                code.extend_from_slice(&MOV_R0_0);
            }
        }
        code.extend_from_slice(&EXIT);
        let n = w.str(format!("skfilter/prog{i}").as_bytes());
        let (sec, _) = program(&mut w, n, &code, f);
        let r = w.data(&rels);
        w.rel_at(rel_name, sec, r);
    }
    pad(&mut w, size);
    w.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, c) in CLASSES.iter().enumerate() {
            assert!(
                CLASSES[..i].iter().all(|d| d.name != c.name),
                "{} twice",
                c.name
            );
            assert_eq!(find(c.name).map(|d| d.name), Some(c.name));
        }
    }

    #[test]
    fn generated_sizes_stay_within_the_target() {
        for c in CLASSES.iter().filter(|c| c.min_size <= 64 * KIB) {
            for size in [16 * KIB, 64 * KIB, 256 * KIB] {
                let size = size.max(c.min_size);
                let b = c.generate(size);
                assert!(b.len() <= size, "{}: {} > {size}", c.name, b.len());
                assert_eq!(&b[..4], b"\x7fELF", "{}", c.name);
                if c.worst_case {
                    assert!(b.len() >= size / 2, "{}: {} < {size}/2", c.name, b.len());
                }
            }
        }
    }

    #[test]
    fn extended_section_numbering() {
        // rel-sections-many at 8 MiB has more than 0xff00 sections.
        let b = find("rel-sections-many").unwrap().generate(8 << 20);
        assert_eq!(
            u16::from_le_bytes([b[60], b[61]]),
            0,
            "e_shnum moved to section 0"
        );
        let shoff = u64::from_le_bytes(b[40..48].try_into().unwrap()) as usize;
        let count = u64::from_le_bytes(b[shoff + 32..shoff + 40].try_into().unwrap()) as usize;
        assert!(count >= SHN_LORESERVE);
        assert_eq!(shoff + count * SHDR_SIZE, b.len());
    }
}
