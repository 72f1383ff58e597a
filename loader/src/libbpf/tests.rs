//! Unit tests of the libbpf parser: the corpus objects (built from
//! `bpf-progs/src/libbpf/*.c`) against a synthetic kernel BTF whose layouts
//! are written here (so the CO-RE results are known without the machine's
//! kernel), flavour detection, and the checks guarding aya-obj, each on
//! the smallest input that would reach the aya-obj hazard it guards.
//! Whole-object hostile generators are in `loader/tests/libbpf_hostile.rs`.
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests read trusted, self-built input and fail by panicking"
)]

use super::btfext::{self, CoreUse, Final};
use super::btfview::{self, View};
use super::*;
use crate::spec::Kver;

// ---- A BTF builder (little-endian, header 24 bytes).

const INT: u32 = 1;
const PTR: u32 = 2;
const ARRAY: u32 = 3;
const STRUCT: u32 = 4;
const TYPEDEF: u32 = 8;
const FUNC: u32 = 12;
const FUNC_PROTO: u32 = 13;

#[derive(Default)]
pub(super) struct Btf {
    types: Vec<u8>,
    strings: Vec<u8>,
    n: u32,
}

impl Btf {
    pub(super) fn new() -> Btf {
        Btf {
            strings: vec![0],
            ..Btf::default()
        }
    }
    fn s(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        off
    }
    fn head(&mut self, name: &str, kind: u32, kflag: bool, vlen: u32, size_or_type: u32) -> u32 {
        let n = self.s(name);
        for w in [
            n,
            (kind << 24) | (u32::from(kflag) << 31) | vlen,
            size_or_type,
        ] {
            self.types.extend_from_slice(&w.to_le_bytes());
        }
        self.n += 1;
        self.n
    }
    fn word(&mut self, w: u32) {
        self.types.extend_from_slice(&w.to_le_bytes());
    }
    pub(super) fn int(&mut self, name: &str, size: u32) -> u32 {
        let id = self.head(name, INT, false, 0, size);
        self.word(size * 8);
        id
    }
    pub(super) fn ptr(&mut self, to: u32) -> u32 {
        self.head("", PTR, false, 0, to)
    }
    pub(super) fn typedef(&mut self, name: &str, to: u32) -> u32 {
        self.head(name, TYPEDEF, false, 0, to)
    }
    pub(super) fn array(&mut self, elem: u32, index: u32, len: u32) -> u32 {
        let id = self.head("", ARRAY, false, 0, 0);
        self.word(elem);
        self.word(index);
        self.word(len);
        id
    }
    /// `members`: (name, type, bit offset, bitfield size).
    pub(super) fn strukt(
        &mut self,
        name: &str,
        size: u32,
        members: &[(&str, u32, u32, u32)],
    ) -> u32 {
        let kflag = members.iter().any(|m| m.3 > 0);
        let id = self.head(name, STRUCT, kflag, members.len() as u32, size);
        for &(m, ty, bits, bf) in members {
            let n = self.s(m);
            self.word(n);
            self.word(ty);
            self.word(if kflag { (bf << 24) | bits } else { bits });
        }
        id
    }
    pub(super) fn func_proto(&mut self, ret: u32) -> u32 {
        self.head("", FUNC_PROTO, false, 0, ret)
    }
    pub(super) fn func(&mut self, name: &str, proto: u32) -> u32 {
        self.head(name, FUNC, false, 0, proto)
    }
    pub(super) fn build(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&0xeb9fu16.to_le_bytes());
        b.extend_from_slice(&[1, 0]);
        for w in [
            24u32,
            0,
            self.types.len() as u32,
            self.types.len() as u32,
            self.strings.len() as u32,
        ] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&self.types);
        b.extend_from_slice(&self.strings);
        b
    }
}

/// A kernel BTF with the UAPI layouts the corpus reads (len at 0 and mark
/// at 8 in `__sk_buff`, `ingress_ifindex` at 12 in `xdp_md`) and a
/// `task_struct` with `pid` at 2400 and `tgid` at 2404.
pub(super) fn kernel_btf() -> Vec<u8> {
    let mut b = Btf::new();
    let u32_ = b.int("unsigned int", 4);
    let int = b.int("int", 4);
    let u32t = b.typedef("__u32", u32_);
    b.strukt(
        "__sk_buff",
        24,
        &[
            ("len", u32t, 0, 0),
            ("pkt_type", u32t, 32, 0),
            ("mark", u32t, 64, 0),
            ("queue_mapping", u32t, 96, 0),
            ("protocol", u32t, 128, 0),
            ("vlan_present", u32t, 160, 0),
        ],
    );
    b.strukt(
        "xdp_md",
        16,
        &[
            ("data", u32t, 0, 0),
            ("data_end", u32t, 32, 0),
            ("data_meta", u32t, 64, 0),
            ("ingress_ifindex", u32t, 96, 0),
        ],
    );
    b.strukt(
        "task_struct",
        4096,
        &[
            ("flags", u32_, 0, 0),
            ("pid", int, 2400 * 8, 0),
            ("tgid", int, 2404 * 8, 0),
        ],
    );
    b.build()
}

fn target() -> TargetBtf {
    TargetBtf::parse(Path::new("kernel.btf"), &kernel_btf()).expect("synthetic kernel BTF")
}

fn corpus(name: &str) -> &'static [u8] {
    bpf_progs::object(name).unwrap().bytes
}

fn parse_with(name: &str, t: Option<&TargetBtf>) -> Result<ObjectSpec, LibbpfError> {
    parse(
        Path::new(name),
        corpus(name),
        &ParseEnv {
            kver: Kver::new(6, 6, 0),
            target: t,
        },
    )
}

/// Offsets of the 32-bit context loads (`LDX W`, opcode 0x61) from the
/// context register `r6` of a program.
fn ctx_loads(insns: &[u8]) -> Vec<i16> {
    insns
        .chunks(8)
        .filter(|i| i[0] == 0x61 && i[1] >> 4 == 6)
        .map(|i| i16::from_le_bytes([i[2], i[3]]))
        .collect()
}

// ---- The corpus.

#[test]
fn corpus_objects_are_told_apart() {
    for o in bpf_progs::OBJECTS {
        let want = if o.kind.is_libbpf() {
            Flavor::Libbpf
        } else {
            Flavor::Android
        };
        assert_eq!(flavor(o.bytes), want, "{}", o.file_name);
        assert_eq!(
            needs_kernel_btf(o.bytes),
            o.kind.is_libbpf(),
            "{}",
            o.file_name
        );
    }
    assert_eq!(
        flavor(b"not an elf"),
        Flavor::Android,
        "junk: Android's errors"
    );
}

#[test]
fn core_skb_relocates_against_the_kernel_layout() {
    let t = target();
    let spec = parse_with("coreSkb.o", Some(&t)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(spec.name, "coreSkb");
    assert_eq!(spec.license, "GPL");
    let names: Vec<&str> = spec.maps.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["packets"]);
    let m = &spec.maps[0].def;
    assert_eq!(
        (
            m.map_type,
            m.key_size,
            m.value_size,
            m.max_entries,
            m.mode,
            m.uid,
            m.gid
        ),
        (2, 4, 8, 1, 0o600, 0, 0)
    );
    let lb = spec.libbpf.as_ref().unwrap();
    assert!(lb.btf.is_some() && lb.btf_size > 24);
    assert!(lb.maps[0].btf_key_type_id != 0 && lb.maps[0].btf_value_type_id != 0);
    assert_eq!(lb.core_relocations, 2);

    let p: Vec<(&str, &str, u32, u32)> = spec
        .programs
        .iter()
        .map(|p| {
            (
                p.section.as_str(),
                p.pin_name.as_str(),
                p.kind.prog_type,
                p.kind.expected_attach_type,
            )
        })
        .collect();
    assert_eq!(
        p,
        [
            ("socket:socket_len", "socket_len", 1, 0),
            ("tc:tc_mark", "tc_mark", 3, 0)
        ]
    );
    // The object says len at 4 and mark at 0; the kernel, 0 and 8.
    assert_eq!(ctx_loads(&spec.programs[0].insns), [0]);
    assert_eq!(ctx_loads(&spec.programs[1].insns), [8]);
    for p in &spec.programs {
        // The shared subprogram was linked in, and its map reference is a
        // relocation of the program (index 0: `packets`), on an LD_IMM64
        // whose fd is left for the engine.
        assert_eq!(p.relocations.len(), 1, "{}", p.section);
        let r = p.relocations[0];
        assert_eq!(r.map_index, 0);
        let insn = &p.insns[r.insn_index * 8..r.insn_index * 8 + 8];
        assert_eq!(
            (insn[0], insn[1] >> 4, &insn[4..8]),
            (0x18, 0, &[0u8; 4][..])
        );
        assert!(p.insns.len() / 8 > 10, "linked: {}", p.insns.len() / 8);
    }
}

#[test]
fn core_trace_and_core_net_relocate_too() {
    let t = target();
    let trace = parse_with("coreTrace.o", Some(&t)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(trace.programs[0].kind.prog_type, 5, "tracepoint");
    assert_eq!(trace.libbpf.as_ref().unwrap().core_relocations, 3);
    // BPF_CORE_READ adds the field offsets (`r1 = 0` for tgid and
    // `r1 = 4` for pid in the object) to the task pointer it hands to
    // bpf_probe_read_kernel; bpf_core_field_exists (`r1 = 1`) of a field no
    // kernel has becomes 0.
    let imm = |i: usize| {
        let insn = &trace.programs[0].insns[i * 8..i * 8 + 8];
        assert_eq!((insn[0], insn[1] & 0x0f), (0xb7, 1), "insn {i}: r1 = imm");
        i32::from_le_bytes([insn[4], insn[5], insn[6], insn[7]])
    };
    assert_eq!((imm(2), imm(11), imm(20)), (2404, 2400, 0));

    let net = parse_with("coreNet.o", Some(&t)).unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<(u32, u32)> = net
        .programs
        .iter()
        .map(|p| (p.kind.prog_type, p.kind.expected_attach_type))
        .collect();
    assert_eq!(
        kinds,
        [(6, 37), (8, 0)],
        "xdp (BPF_XDP), cgroup_skb/ingress"
    );
    let lb = net.libbpf.as_ref().unwrap();
    let typed: Vec<bool> = lb.maps.iter().map(|m| m.btf_value_type_id != 0).collect();
    assert_eq!(typed, [true, true, false], "the ring buffer has no types");
    // xdp_md->ingress_ifindex: 12 in the kernel, 0 in the object.
    assert_eq!(ctx_loads(&net.programs[0].insns), [12]);
}

#[test]
fn core_relocations_need_the_kernel_btf() {
    let e = parse_with("coreSkb.o", None).unwrap_err();
    assert!(matches!(e.kind, LibbpfErrorKind::KernelBtf(_)), "{e}");
    assert!(e.to_string().starts_with("coreSkb.o: "), "{e}");
}

#[test]
fn a_kernel_without_the_relocated_field_fails_the_relocation_cleanly() {
    // No `mark` in this kernel's __sk_buff: aya-obj poisons the load,
    // which the verifier then refuses; the parse itself succeeds.
    let mut b = Btf::new();
    let u = b.int("unsigned int", 4);
    b.strukt("__sk_buff", 4, &[("len", u, 0, 0)]);
    let t = TargetBtf::parse(Path::new("k"), &b.build()).unwrap();
    let spec = parse_with("coreSkb.o", Some(&t)).unwrap_or_else(|e| panic!("{e}"));
    let poisoned = spec.programs[1]
        .insns
        .chunks(8)
        .any(|i| i[0] == 0x85 && i32::from_le_bytes([i[4], i[5], i[6], i[7]]) == 0xBAD2310);
    assert!(poisoned);
}

// ---- Flavour.

#[test]
fn an_object_of_neither_kind_is_unrecognized() {
    // An Android object stripped of its Android sections and programs is
    // an ELF with a license and nothing else.
    let o = bpf_progs::object("pktCount.o").unwrap();
    let mut b = o.bytes.to_vec();
    rename_sections(&mut b, |n| match n {
        "license" | ".strtab" | ".symtab" | ".BTF" => None,
        _ => Some("zzzz"),
    });
    assert_eq!(flavor(&b), Flavor::Unrecognized);
}

/// Renames sections in place (to names no longer than the old ones) by
/// overwriting their name bytes: test-only, trusted input.
fn rename_sections(b: &mut [u8], f: impl Fn(&str) -> Option<&'static str>) {
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shnum, shstrndx) = (u64_at(b, 0x28), u16_at(b, 0x3c), u16_at(b, 0x3e));
    let strtab = u64_at(b, shoff + shstrndx * 64 + 24);
    let mut names = Vec::new();
    for i in 1..shnum {
        let at = strtab + u32_at(b, shoff + i * 64);
        let end = at + b[at..].iter().position(|&c| c == 0).unwrap();
        names.push((at, end, String::from_utf8(b[at..end].to_vec()).unwrap()));
    }
    for (at, end, name) in names {
        if let Some(new) = f(&name) {
            let n = new.len().min(end - at);
            b[at..at + n].copy_from_slice(&new.as_bytes()[..n]);
        }
    }
}

// ---- The checks, each on its smallest input.

#[test]
fn access_strings_are_bounded() {
    let v = |s: &str| btfext::parse_access(s.as_bytes());
    assert_eq!(v("0:1:2"), Some(vec![0, 1, 2]));
    assert_eq!(v("1048576"), Some(vec![1 << 20]));
    assert_eq!(v("1048577"), None, "index past the bound");
    assert_eq!(v("99999999999999999999"), None, "past u64");
    assert_eq!(v("0::1"), None);
    assert_eq!(v(""), None);
    assert_eq!(v("+1"), None, "str::parse would take it, aya-obj too");
    assert_eq!(v(&vec!["0"; 64].join(":")).map(|p| p.len()), Some(64));
    assert_eq!(v(&vec!["0"; 65].join(":")), None, "too many components");
}

#[test]
fn type_sizes_aya_would_overflow_are_refused() {
    let mut b = Btf::new();
    let byte = b.int("char", 1);
    let idx = b.int("idx", 4);
    let mb = b.array(byte, idx, 1 << 20);
    let _big = b.array(mb, idx, 1 << 12); // 2^32 bytes: innermost len × size fits...
    let data = b.build();
    let view = View::parse(&data).unwrap();
    assert!(
        btfview::check(&view).is_ok(),
        "aya-obj multiplies the innermost length only"
    );

    let mut b = Btf::new();
    let s = b.strukt("s", 1 << 20, &[]);
    let idx = b.int("idx", 4);
    b.array(s, idx, 1 << 13); // 2^33: overflows u32
    let data = b.build();
    let e = btfview::check(&View::parse(&data).unwrap()).unwrap_err();
    assert!(e.contains("does not fit in 32 bits"), "{e}");
}

#[test]
fn bitfields_of_unsized_types_and_members_outside_their_struct_are_refused() {
    let mut b = Btf::new();
    let int = b.int("int", 4);
    let idx = b.int("idx", 4);
    let arr = b.array(int, idx, 4);
    b.strukt("s", 16, &[("a", arr, 0, 3)]);
    let e = btfview::check(&View::parse(&b.build()).unwrap()).unwrap_err();
    assert!(e.contains("bitfield member 0"), "{e}");

    let mut b = Btf::new();
    let zero = b.int("zero", 0);
    b.strukt("s", 16, &[("a", zero, 0, 3)]);
    assert!(
        btfview::check(&View::parse(&b.build()).unwrap()).is_err(),
        "size 0: aya-obj divides by it"
    );

    let mut b = Btf::new();
    let int = b.int("int", 4);
    b.strukt("s", 4, &[("a", int, 64, 0)]);
    let e = btfview::check(&View::parse(&b.build()).unwrap()).unwrap_err();
    assert!(e.contains("outside"), "{e}");
}

#[test]
fn a_kernel_btf_aya_would_crash_on_is_refused() {
    // A pointer to a FUNC: aya-obj's type comparison reaches unreachable!().
    let mut b = Btf::new();
    let int = b.int("int", 4);
    let proto = b.func_proto(int);
    let f = b.func("f", proto);
    b.ptr(f);
    let e = TargetBtf::parse(Path::new("k"), &b.build()).unwrap_err();
    assert!(e.reason.contains("refers to type"), "{e}");
    // A member of type void.
    let mut b = Btf::new();
    b.strukt("s", 4, &[("a", 0, 0, 0)]);
    assert!(TargetBtf::parse(Path::new("k"), &b.build()).is_err());
    // Not BTF at all.
    let e = TargetBtf::parse(Path::new("k"), b"junk").unwrap_err();
    assert!(e.to_string().starts_with("kernel BTF k: "), "{e}");
    // The synthetic kernel of these tests passes.
    target();
}

/// A field relocation of `root` accessing `name` (`parts`), on an
/// instruction of class `class`.
fn use_of(root: u32, parts: &[u64], kind: u32, last: Final, class: u8) -> CoreUse {
    CoreUse {
        section: 1,
        index: 0,
        kind,
        root,
        parts: parts.to_vec(),
        last: Some(last),
        insn_class: class,
    }
}

fn member(name: &str, bitfield: bool) -> Final {
    Final::Member {
        name: name.as_bytes().to_vec(),
        bitfield,
        size: Some(4),
    }
}

#[test]
fn loads_and_stores_of_bitfields_are_refused_either_side() {
    // Kernel: `flags` is a bitfield of task_struct; `pid` is not.
    let mut k = Btf::new();
    let int = k.int("int", 4);
    k.strukt(
        "task_struct",
        16,
        &[("flags", int, 0, 3), ("pid", int, 32, 0)],
    );
    let t = TargetBtf::parse(Path::new("k"), &k.build()).unwrap();
    // Object: both plain ints.
    let mut l = Btf::new();
    let lint = l.int("int", 4);
    let root = l.strukt(
        "task_struct",
        8,
        &[("flags", lint, 0, 0), ("pid", lint, 32, 0)],
    );
    let ldata = l.build();
    let lv = View::parse(&ldata).unwrap();
    let lc = btfview::check(&lv).unwrap();
    let check = |u: CoreUse| target::check_core(&t, &lv, &lc, &[u], |_| "s".into());
    const LDX: u8 = 1;
    const ALU: u8 = 4;
    let off = btfext::FIELD_BYTE_OFFSET;
    // A load of a kernel bitfield (aya-obj would unwrap a missing type id).
    let e = check(use_of(root, &[0, 0], off, member("flags", false), LDX)).unwrap_err();
    assert!(e.to_string().contains("bitfield in the kernel"), "{e}");
    // The same relocation on an ALU instruction is what BPF_CORE_READ_BITFIELD does.
    check(use_of(root, &[0, 0], off, member("flags", false), ALU)).unwrap();
    // A plain field is fine.
    check(use_of(root, &[0, 1], off, member("pid", false), LDX)).unwrap();
    // A load of a bitfield declared as one in the object.
    let e = check(use_of(root, &[0, 0], off, member("pid", true), LDX)).unwrap_err();
    assert!(e.to_string().contains("bitfield here"), "{e}");
}

#[test]
fn shifts_of_wide_kernel_fields_and_huge_bitfield_offsets_are_refused() {
    let mut k = Btf::new();
    let int = k.int("int", 4);
    let long = k.int("long", 8);
    let wide = k.strukt("wide", 16, &[("a", long, 0, 0), ("b", long, 64, 0)]);
    k.strukt("s", 1 << 20, &[("w", wide, 0, 0), ("bits", int, 128, 5)]);
    let t = TargetBtf::parse(Path::new("k"), &k.build()).unwrap();
    let mut l = Btf::new();
    let lint = l.int("int", 4);
    let root = l.strukt("s", 8, &[("w", lint, 0, 0), ("bits", lint, 32, 0)]);
    let ldata = l.build();
    let lv = View::parse(&ldata).unwrap();
    let lc = btfview::check(&lv).unwrap();
    let check = |u: CoreUse| target::check_core(&t, &lv, &lc, &[u], |_| "s".into());
    // `w` is 16 bytes in the kernel: LSHIFT would compute 64 - 128.
    let e = check(use_of(
        root,
        &[0, 0],
        btfext::FIELD_LSHIFT_U64,
        member("w", false),
        4,
    ))
    .unwrap_err();
    assert!(e.to_string().contains("wider than 8 bytes"), "{e}");
    // A bitfield behind a large root index: its bit offset (index × 1 MiB
    // × 8) would pass u32 in aya-obj.
    check(use_of(
        root,
        &[0, 1],
        btfext::FIELD_RSHIFT_U64,
        member("bits", false),
        4,
    ))
    .unwrap();
    let e = check(use_of(
        root,
        &[300, 1],
        btfext::FIELD_RSHIFT_U64,
        member("bits", false),
        4,
    ))
    .unwrap_err();
    assert!(e.to_string().contains("2^31"), "{e}");
}

#[test]
fn local_access_walks_follow_aya_obj() {
    let mut l = Btf::new();
    let int = l.int("int", 4);
    let idx = l.int("idx", 4);
    let arr = l.array(int, idx, 4);
    let inner = l.strukt("", 8, &[("x", int, 0, 0), ("y", int, 32, 4)]);
    let root = l.strukt(
        "outer",
        32,
        &[
            ("a", arr, 0, 0),
            ("anon", inner, 128, 0),
            ("z", int, 192, 0),
        ],
    );
    let data = l.build();
    let v = View::parse(&data).unwrap();
    let walk = |p: &[u64]| btfext::local_final(&v, root, p);
    assert_eq!(walk(&[0]), Some(Final::Element));
    assert_eq!(
        walk(&[0, 2]),
        Some(Final::Member {
            name: b"z".to_vec(),
            bitfield: false,
            size: Some(4)
        })
    );
    assert_eq!(walk(&[0, 0, 3]), Some(Final::Element), "a[3]");
    assert_eq!(walk(&[0, 0, 4]), None, "a[4] is out of bounds");
    assert_eq!(walk(&[0, 3]), None, "no member 3");
    // Through the anonymous member: the last named one is `y`.
    assert_eq!(
        walk(&[0, 1, 1]),
        Some(Final::Member {
            name: b"y".to_vec(),
            bitfield: true,
            size: Some(4)
        })
    );
}

// ---- Through the engine (fake kernel).

mod engine {
    use super::*;
    use crate::bpffs::Bpffs;
    use crate::engine::{self, LoadConfig, ObjectOutcome};
    use crate::error::ErrorKind;
    use crate::gate::{Arch, BuildType, GateEnv};
    use crate::paths::Location;
    use crate::release::{Host, Release, Role};
    use crate::sys::fake::FakeSys;
    use crate::sys::ObjKind;

    const ROOT: &str = "/sys/fs/bpf";
    const DIR: &str = "/etc/bpf/libbpf";

    fn fake() -> FakeSys {
        let f = FakeSys::new();
        f.mount_bpffs(ROOT);
        f.add_dir(DIR);
        for o in bpf_progs::libbpf_objects() {
            f.add_file(format!("{DIR}/{}", o.file_name), o.bytes);
        }
        f.add_file(DEFAULT_KERNEL_BTF, kernel_btf());
        f
    }

    fn cfg(f: &FakeSys, host: Host) -> LoadConfig {
        let bpffs = Bpffs::open(f, Path::new(ROOT)).expect("bpffs");
        let gate = GateEnv {
            loader_ver: 46,
            kver: Kver::new(6, 6, 0),
            build_type: BuildType::Userdebug,
            arch: Arch::X86_64,
        };
        let rules = Release::V.rules().role_on(Role::Mainline, host);
        let mut c = LoadConfig::new(f, bpffs, rules, gate)
            .expect("config")
            .sequential(true);
        c.create_pin_dirs = true;
        c.manifest_key = None;
        c
    }

    fn pins_of(f: &FakeSys, obj: &str) -> Vec<(String, ObjKind, u32)> {
        let mut v: Vec<_> = f
            .pins()
            .into_iter()
            .filter_map(|(p, kind, _, meta)| {
                let rel = p.strip_prefix(ROOT).ok()?.to_string_lossy().into_owned();
                let rel = format!("/{rel}");
                rel.contains(&format!("_{obj}_"))
                    .then_some((rel, kind, meta.mode & 0o7777))
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[test]
    fn a_board_loads_them_with_android_pin_rules_and_reads_the_kernel_btf_once() {
        let f = fake();
        let c = cfg(&f, Host::Board);
        let r = engine::load_location(&f, &c, &Location::new(DIR, "libbpf/"));
        assert!(r.error.is_none(), "{r:#?}");
        let reads = f
            .calls()
            .iter()
            .filter(|l| l.contains(DEFAULT_KERNEL_BTF))
            .count();
        assert_eq!(reads, 1, "the kernel BTF is read once for every object");
        for o in bpf_progs::libbpf_objects() {
            let rep = r
                .objects
                .iter()
                .find(|x| x.file.ends_with(o.file_name))
                .unwrap_or_else(|| panic!("{}", o.file_name));
            let obj = crate::paths::object_name(Path::new(o.file_name));
            match (o.kind, &rep.outcome) {
                (bpf_progs::Kind::Libbpf { maps, programs }, ObjectOutcome::Loaded { .. }) => {
                    // Expected pins, from the C sources (bpf_progs::OBJECTS).
                    let mut want: Vec<(String, ObjKind, u32)> = maps
                        .iter()
                        .map(|m| (format!("/libbpf/map_{obj}_{m}"), ObjKind::Map, 0o600))
                        .chain(
                            programs
                                .iter()
                                .map(|p| (format!("/libbpf/prog_{obj}_{p}"), ObjKind::Prog, 0o440)),
                        )
                        .collect();
                    want.sort_by(|a, b| a.0.cmp(&b.0));
                    assert_eq!(pins_of(&f, &obj), want, "{}", o.file_name);
                }
                // The fake kernel verifies nothing: the rejected object
                // loads here (the root tier has the real verifier).
                (bpf_progs::Kind::LibbpfRejected { .. }, ObjectOutcome::Loaded { .. }) => {}
                (k, out) => panic!("{}: {k:?} → {out:#?}", o.file_name),
            }
        }
        // BTF was loaded for the maps that take it.
        assert!(!f.btf_loads().is_empty());
    }

    #[test]
    fn android_refuses_them_and_pins_nothing() {
        let f = fake();
        let c = cfg(&f, Host::Android);
        let r = engine::load_location(&f, &c, &Location::new(DIR, "libbpf/"));
        assert_eq!(r.objects.len(), bpf_progs::libbpf_objects().count());
        for rep in &r.objects {
            let e = rep.error().unwrap_or_else(|| panic!("{rep:#?}"));
            assert_eq!(
                (e.kind(), e.reason().as_str()),
                (ErrorKind::Plan, "libbpf_refused"),
                "{e}"
            );
            assert!(e.to_string().contains("Android 15"), "{e}");
        }
        assert!(f.pins().is_empty());
        assert!(
            !f.calls().iter().any(|l| l.contains(DEFAULT_KERNEL_BTF)),
            "a refused object is not parsed, nor the kernel BTF read: {:?}",
            f.calls()
        );
    }

    #[test]
    fn an_unusable_kernel_btf_fails_the_objects_that_need_it_by_name() {
        let f = fake();
        f.add_file(DEFAULT_KERNEL_BTF, b"not BTF".to_vec());
        let c = cfg(&f, Host::Board);
        let r = engine::load_location(&f, &c, &Location::new(DIR, "libbpf/"));
        for rep in &r.objects {
            let e = rep.error().unwrap_or_else(|| panic!("{rep:#?}"));
            assert_eq!(e.reason(), "kernel_btf", "{e}");
            assert!(e.to_string().contains(DEFAULT_KERNEL_BTF), "{e}");
        }
        assert!(f.pins().is_empty());
    }
}

// ---- The plan.

mod plan {
    use super::*;
    use crate::gate::{Arch, BuildType, GateEnv};
    use crate::paths::Location;
    use crate::plan::{plan_object, MapStep, ObjectPlan, PlanEnv, PlanError, ProgStep};
    use crate::release::{Host, Release, Role};

    fn env<'a>(rules: &'a crate::release::RoleRules, loc: &'a Location, kver: Kver) -> PlanEnv<'a> {
        PlanEnv {
            rules,
            gate: GateEnv {
                loader_ver: 46,
                kver,
                build_type: BuildType::User,
                arch: Arch::Aarch64,
            },
            location: loc,
            page_size: 4096,
            map_bytes: crate::plan::MapBytes {
                max: 1 << 30,
                cpus: 2,
            },
            tmp_tag: "1_0",
            on_change: crate::plan::OnChange::Keep,
        }
    }

    #[test]
    fn a_board_plans_android_pin_names_btf_and_libbpf_kinds() {
        let t = target();
        let spec = parse_with("coreNet.o", Some(&t)).unwrap();
        let loc = Location::new("/x", "libbpf");
        let rules = Release::R25Q2.rules().role_on(Role::Mainline, Host::Board);
        let Ok(ObjectPlan::Load(p)) = plan_object(&spec, &env(rules, &loc, Kver::new(6, 1, 0)))
        else {
            panic!("not planned")
        };
        let maps: Vec<(&str, u32, bool)> = p
            .maps
            .iter()
            .map(|s| match s {
                MapStep::Load(m) => (m.pin.rel.as_str(), m.pin.mode, m.btf.is_some()),
                MapStep::Skip { name, .. } => panic!("{name} skipped"),
            })
            .collect();
        assert_eq!(
            maps,
            [
                ("libbpf/map_coreNet_verdicts", 0o600, true),
                ("libbpf/map_coreNet_flows", 0o600, true),
                ("libbpf/map_coreNet_events", 0o600, false),
            ]
        );
        let progs: Vec<(&str, u32, u32)> = p
            .programs
            .iter()
            .map(|s| match s {
                ProgStep::Load(l) => (l.pin.rel.as_str(), l.kind.prog_type, l.pin.mode),
                ProgStep::Skip { section, .. } => panic!("{section} skipped"),
            })
            .collect();
        assert_eq!(
            progs,
            [
                ("libbpf/prog_coreNet_xdp_pass", 6, 0o440),
                ("libbpf/prog_coreNet_skb_ingress", 8, 0o440),
            ]
        );
        assert!(p.btf.as_ref().is_some_and(|b| b.downgraded.is_none()));
        // No BTF below 4.18: maps are created untyped.
        let Ok(ObjectPlan::Load(old)) = plan_object(&spec, &env(rules, &loc, Kver::new(4, 14, 0)))
        else {
            panic!("not planned")
        };
        assert!(old.btf.is_none() && old.map_loads().all(|m| m.btf.is_none()));
    }

    #[test]
    fn android_rules_refuse_and_locations_keep_their_program_types() {
        let t = target();
        let spec = parse_with("coreSkb.o", Some(&t)).unwrap();
        let loc = Location::new("/x", "");
        for r in Release::ALL {
            let e = plan_object(
                &spec,
                &env(r.rules().role(Role::Mainline), &loc, Kver::new(6, 1, 0)),
            )
            .unwrap_err();
            assert!(matches!(e, PlanError::LibbpfRefused { .. }), "{e}");
        }
        // The vendor location takes socket filters only: coreSkb's tc
        // program fails the object there, as an Android one would.
        let rules = Release::V.rules().role_on(Role::Platform, Host::Board);
        let vendor = Location::from_rule(Path::new("/"), &rules.locations[2]);
        let e = plan_object(&spec, &env(rules, &vendor, Kver::new(6, 1, 0))).unwrap_err();
        assert!(
            matches!(e, PlanError::ProgTypeNotPermitted { ref section, prog_type: 3, .. } if section == "tc:tc_mark"),
            "{e}"
        );
    }
}
