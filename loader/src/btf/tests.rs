//! Unit tests of the BTF module: the corpus objects (built the Soong way by
//! `bpf-progs`), hand-built blobs for each rule of 25Q2's loader, and
//! generators of malformed blobs. Expected values come from the C sources
//! and the `docs/object-format.md#btf`, read back with the small independent reader
//! below, not with the module under test.

use super::*;
use crate::parse::parse_object;
use crate::spec::ObjectSpec;
use std::path::Path;

fn corpus(file: &str) -> ObjectSpec {
    let obj = bpf_progs::object(file).unwrap_or_else(|| panic!("no {file} in the corpus"));
    parse_object(Path::new(file), obj.bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn source(file: &str) -> BtfSource {
    corpus(file)
        .btf
        .unwrap_or_else(|| panic!("{file}: no .BTF"))
}

// ---- An independent reader of (trusted) BTF, for the expectations.

fn word(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

/// One type (id = index + 1): kind, member count, name, record offset.
#[derive(Debug, Clone)]
struct T {
    kind: u32,
    vlen: usize,
    name: String,
    off: usize,
}

fn read_types(b: &[u8]) -> Vec<T> {
    let hdr = word(b, 4) as usize;
    let (start, len) = (hdr + word(b, 8) as usize, word(b, 12) as usize);
    let strs = hdr + word(b, 16) as usize;
    let name = |off: u32| {
        let s = &b[strs + off as usize..];
        String::from_utf8(s[..s.iter().position(|&c| c == 0).unwrap()].to_vec()).unwrap()
    };
    let mut out = Vec::new();
    let mut pos = start;
    while pos < start + len {
        let info = word(b, pos + 4);
        let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
        out.push(T {
            kind,
            vlen,
            name: name(word(b, pos)),
            off: pos,
        });
        pos += 12
            + match kind {
                1 | 14 | 17 => 4,
                3 => 12,
                4 | 5 | 15 | 19 => 12 * vlen,
                6 | 13 => 8 * vlen,
                _ => 0,
            };
    }
    out
}

fn by_name<'a>(types: &'a [T], kind: u32, name: &str) -> &'a T {
    types
        .iter()
        .find(|t| t.kind == kind && t.name == name)
        .unwrap_or_else(|| panic!("no {} {name}", kind_name(kind)))
}

/// (type id, offset, size) of each entry of a DATASEC.
fn datasec_entries(b: &[u8], t: &T) -> Vec<(u32, u32, u32)> {
    (0..t.vlen)
        .map(|i| {
            let e = t.off + 12 + 12 * i;
            (word(b, e), word(b, e + 4), word(b, e + 8))
        })
        .collect()
}

// ---- A builder of hand-made blobs.

#[derive(Default)]
struct Builder {
    types: Vec<u8>,
    strs: Vec<u8>,
    n: u32,
}

impl Builder {
    fn new() -> Self {
        Builder {
            strs: vec![0],
            ..Default::default()
        }
    }
    fn s(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        let off = self.strs.len() as u32;
        self.strs.extend(name.as_bytes());
        self.strs.push(0);
        off
    }
    fn raw(&mut self, name: &str, kind: u32, vlen: u32, size_or_type: u32, tail: &[u32]) -> u32 {
        let name = self.s(name);
        for w in [name, kind << 24 | vlen, size_or_type]
            .into_iter()
            .chain(tail.iter().copied())
        {
            self.types.extend(w.to_le_bytes());
        }
        self.n += 1;
        self.n
    }
    fn int(&mut self, name: &str, size: u32) -> u32 {
        self.raw(name, KIND_INT, 0, size, &[size * 8])
    }
    fn typedef(&mut self, name: &str, target: u32) -> u32 {
        self.raw(name, KIND_TYPEDEF, 0, target, &[])
    }
    fn array(&mut self, elem: u32, index: u32, n: u32) -> u32 {
        self.raw("", KIND_ARRAY, 0, 0, &[elem, index, n])
    }
    fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32)]) -> u32 {
        let mut tail = Vec::new();
        let mut bits = 0;
        for &(m, t) in members {
            tail.extend([self.s(m), t, bits]);
            bits += 32;
        }
        self.raw(name, KIND_STRUCT, members.len() as u32, size, &tail)
    }
    fn var(&mut self, name: &str, target: u32, linkage: u32) -> u32 {
        self.raw(name, KIND_VAR, 0, target, &[linkage])
    }
    fn datasec(&mut self, name: &str, entries: &[(u32, u32)]) -> u32 {
        let tail: Vec<u32> = entries.iter().flat_map(|&(t, sz)| [t, 0, sz]).collect();
        self.raw(name, KIND_DATASEC, entries.len() as u32, 0, &tail)
    }
    fn build(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(BTF_MAGIC.to_le_bytes());
        b.extend([1, 0]);
        for w in [
            24,
            0,
            self.types.len() as u32,
            self.types.len() as u32,
            self.strs.len() as u32,
        ] {
            b.extend(u32::to_le_bytes(w));
        }
        b.extend(&self.types);
        b.extend(&self.strs);
        b
    }
}

/// A source for `data` whose DATASEC/VAR names all resolve: section sizes
/// and symbol values from `sections` / `symbols` (by name).
fn src_with(data: Vec<u8>, sections: &[(&str, u64)], symbols: &[(&str, u64)]) -> BtfSource {
    let names = fixup_names(&data).expect("parses");
    let find = |list: &[(&str, u64)], n: &[u8]| {
        list.iter()
            .find(|(s, _)| s.as_bytes() == n)
            .map(|&(_, v)| v)
    };
    let section_sizes = names
        .sections
        .iter()
        .filter_map(|n| Some((n.offset, find(sections, n.name)?)))
        .collect();
    let symbol_values = names
        .symbols
        .iter()
        .filter_map(|n| Some((n.offset, find(symbols, n.name)?)))
        .collect();
    BtfSource {
        data,
        section_sizes,
        symbol_values,
    }
}

/// A blob with one annotated map `m`: key `key`, value `value` (type ids
/// built by `f`), in section `.maps.m`.
fn one_map(f: impl FnOnce(&mut Builder) -> (u32, u32)) -> BtfSource {
    let mut b = Builder::new();
    let (k, v) = f(&mut b);
    let s = b.strukt("____btf_map_m", 8, &[("key", k), ("value", v)]);
    let var = b.var("____btf_map_m", s, 1);
    b.datasec(".maps.m", &[(var, 8)]);
    src_with(b.build(), &[(".maps.m", 8)], &[("____btf_map_m", 0)])
}

// ---- The corpus.

#[test]
fn every_corpus_object_but_the_corrupt_one_prepares_and_types_its_maps() {
    const RINGBUF: u32 = 27;
    let mut typed = 0;
    for obj in bpf_progs::android_objects() {
        let spec = corpus(obj.file_name);
        let src = spec.btf.as_ref().expect(".BTF");
        let prepared = prepare(src);
        if obj.file_name == "btfCorrupt.o" {
            assert!(prepared.is_err());
            continue;
        }
        let prepared = prepared.unwrap_or_else(|e| panic!("{}: {e}", obj.file_name));
        let before = summary(&src.data).unwrap();
        let after = summary(prepared.bytes()).unwrap();
        assert!(
            before.unsized_datasecs > 0,
            "{}: clang leaves them 0",
            obj.file_name
        );
        assert_eq!(after.unsized_datasecs, 0, "{}", obj.file_name);
        assert_eq!(after.types, before.types);
        assert_eq!(prepared.bytes().len(), src.data.len());
        for m in &spec.maps {
            let d = &m.def;
            let r = prepared.map_types(&m.name, d.key_size, d.value_size);
            if d.map_type == RINGBUF {
                // No annotation: the loader creates ring buffers untyped.
                assert!(matches!(r, Err(BtfError::NoAnnotation { .. })), "{r:?}");
            } else if obj.file_name == "btfMismatch.o" && m.name == "mismatch_map" {
                assert!(r.is_err());
            } else {
                let t = r.unwrap_or_else(|e| panic!("{}: {e}", obj.file_name));
                assert!(t.key_type_id > 0 && t.value_type_id > 0);
                typed += 1;
            }
        }
    }
    assert!(typed > 40, "{typed}");
}

#[test]
fn datasec_sizes_and_var_offsets_come_from_the_elf() {
    let src = source("clatd.o");
    let prepared = prepare(&src).unwrap();
    let fixed = prepared.bytes();
    let types = read_types(fixed);
    // clatd.c defines net_config_map, clat_ingress6_map, clat_egress4_map in
    // that order: 3 records of 120 bytes in `maps`.
    let maps = by_name(&types, KIND_DATASEC, "maps");
    assert_eq!(word(fixed, maps.off + 8), 360, "size of the maps section");
    let offsets: Vec<(String, u32)> = datasec_entries(fixed, maps)
        .iter()
        .map(|&(id, off, _)| (types[id as usize - 1].name.clone(), off))
        .collect();
    assert_eq!(
        offsets,
        [
            ("net_config_map".to_string(), 0),
            ("clat_ingress6_map".to_string(), 120),
            ("clat_egress4_map".to_string(), 240)
        ]
    );
    // "Apache 2.0\0" is 11 bytes.
    let license = by_name(&types, KIND_DATASEC, "license");
    assert_eq!(word(fixed, license.off + 8), 11);
    // Only DATASEC sizes and VAR offsets change.
    let changed: Vec<usize> = (0..fixed.len() / 4)
        .filter(|&i| fixed[i * 4..i * 4 + 4] != src.data[i * 4..i * 4 + 4])
        .collect();
    let allowed: Vec<usize> = types
        .iter()
        .filter(|t| t.kind == KIND_DATASEC)
        .flat_map(|t| {
            std::iter::once(t.off + 8).chain((0..t.vlen).map(move |i| t.off + 16 + 12 * i))
        })
        .map(|off| off / 4)
        .collect();
    assert!(!changed.is_empty());
    assert!(changed.iter().all(|i| allowed.contains(i)), "{changed:?}");
}

#[test]
fn sk_storage_map_gets_the_annotation_member_types() {
    let src = source("skStorage.o");
    let prepared = prepare(&src).unwrap();
    let types = read_types(prepared.bytes());
    let t = prepared.map_types("sk_storage_map", 4, 8).unwrap();
    // skStorage.c: DEFINE_BPF_MAP_GRW(sk_storage_map, SK_STORAGE, int, __u64, ...).
    let key = &types[t.key_type_id as usize - 1];
    let value = &types[t.value_type_id as usize - 1];
    assert_eq!((key.kind, key.name.as_str()), (KIND_INT, "int"));
    assert_eq!((value.kind, value.name.as_str()), (KIND_TYPEDEF, "__u64"));
    // The ids are the members of ____btf_map_sk_storage_map.
    let s = by_name(&types, KIND_STRUCT, "____btf_map_sk_storage_map");
    let fixed = prepared.bytes();
    assert_eq!(
        (word(fixed, s.off + 16), word(fixed, s.off + 28)),
        (t.key_type_id, t.value_type_id)
    );
}

#[test]
fn size_mismatch_fails_naming_the_map_and_both_sizes() {
    let src = source("btfMismatch.o");
    let prepared = prepare(&src).unwrap();
    prepared.map_types("typed_ok_map", 4, 8).unwrap();
    let e = prepared.map_types("mismatch_map", 4, 8).unwrap_err();
    assert_eq!(
        e,
        BtfError::SizeMismatch {
            map: "mismatch_map".into(),
            type_name: "____btf_map_mismatch_map".into(),
            btf_key: 4,
            btf_value: 4,
            def_key: 4,
            def_value: 8,
        }
    );
    let bpf_progs::Kind::BtfRejected { reason } = bpf_progs::object("btfMismatch.o").unwrap().kind
    else {
        panic!("btfMismatch.o kind");
    };
    assert!(e.to_string().contains(reason), "{e}");
}

#[test]
fn corrupt_btf_is_refused_before_the_kernel() {
    let src = source("btfCorrupt.o");
    let e = prepare(&src).unwrap_err();
    assert_eq!(
        e,
        BtfError::Malformed(Malformed::UnknownKind {
            type_id: 1,
            kind: 31
        })
    );
    let bpf_progs::Kind::BtfRejected { reason } = bpf_progs::object("btfCorrupt.o").unwrap().kind
    else {
        panic!("btfCorrupt.o kind");
    };
    assert!(e.to_string().contains(reason), "{e}");
    assert!(fixup_names(&src.data).is_err());
    assert!(summary(&src.data).is_err());
}

#[test]
fn downgrade_clears_func_linkage_and_nothing_else() {
    let src = source("clatd.o");
    let prepared = prepare(&src).unwrap();
    let fixed = prepared.bytes();
    let down = prepared.downgraded().expect("clatd.o has global FUNCs");
    assert_eq!(down.len(), fixed.len());
    let types = read_types(fixed);
    let funcs: Vec<&T> = types.iter().filter(|t| t.kind == KIND_FUNC).collect();
    assert_eq!(funcs.len(), 2, "one FUNC per program");
    for f in &funcs {
        assert_eq!(f.vlen, 1, "{}: clang marks programs global", f.name);
        assert_eq!(word(&down, f.off + 4), KIND_FUNC << 24);
    }
    let changed: Vec<usize> = (0..down.len())
        .filter(|&i| down[i] != fixed[i])
        .map(|i| i / 4 * 4)
        .collect();
    assert!(changed
        .iter()
        .all(|&w| funcs.iter().any(|f| f.off + 4 == w)));
    assert_eq!(summary(&down).unwrap().funcs_with_linkage, 0);
}

#[test]
fn no_downgrade_without_func_linkage() {
    let src = one_map(|b| {
        let k = b.int("int", 4);
        (k, k)
    });
    let prepared = prepare(&src).unwrap();
    assert_eq!(prepared.downgraded(), None);
    // A static FUNC (linkage 0) has nothing to clear either.
    let mut b = Builder::new();
    let proto = b.raw("", KIND_FUNC_PROTO, 0, 0, &[]);
    b.raw("f", KIND_FUNC, 0, proto, &[]);
    let src = src_with(b.build(), &[], &[]);
    assert_eq!(prepare(&src).unwrap().downgraded(), None);
}

// ---- The rules, on hand-made blobs.

#[test]
fn missing_section_or_symbol_fails_naming_them() {
    let mut b = Builder::new();
    let int = b.int("int", 4);
    let v = b.var("counter", int, 1);
    let st = b.var("hidden", int, VAR_STATIC);
    b.datasec(".data", &[(v, 4), (st, 4)]);
    let data = b.build();
    assert_eq!(
        prepare(&src_with(data.clone(), &[], &[("counter", 0)])).unwrap_err(),
        BtfError::NoSection {
            datasec: ".data".into()
        }
    );
    assert_eq!(
        prepare(&src_with(data.clone(), &[(".data", 8)], &[])).unwrap_err(),
        BtfError::NoSymbol {
            datasec: ".data".into(),
            var: "counter".into()
        }
    );
    // A static VAR needs no symbol; its offset is left as it is.
    let src = src_with(data, &[(".data", 8)], &[("counter", 4)]);
    let p = prepare(&src).unwrap();
    let ds = read_types(p.bytes())
        .into_iter()
        .find(|t| t.kind == KIND_DATASEC)
        .unwrap();
    assert_eq!(word(p.bytes(), ds.off + 8), 8);
    assert_eq!(datasec_entries(p.bytes(), &ds), [(2, 4, 4), (3, 0, 4)]);
}

#[test]
fn datasec_entry_must_be_a_var() {
    let mut b = Builder::new();
    let int = b.int("int", 4);
    b.datasec(".data", &[(int, 4)]);
    let e = prepare(&src_with(b.build(), &[(".data", 4)], &[])).unwrap_err();
    assert_eq!(
        e,
        BtfError::NotVar {
            datasec: ".data".into(),
            index: 0,
            type_id: 1,
            kind: "INT"
        }
    );
}

#[test]
fn section_size_or_symbol_value_beyond_32_bits_is_refused() {
    let mut b = Builder::new();
    let int = b.int("int", 4);
    let v = b.var("x", int, 1);
    b.datasec(".data", &[(v, 4)]);
    let data = b.build();
    let e = prepare(&src_with(data.clone(), &[(".data", 1 << 32)], &[("x", 0)])).unwrap_err();
    assert!(matches!(e, BtfError::TooLarge { .. }), "{e}");
    let e = prepare(&src_with(data, &[(".data", 4)], &[("x", 1 << 32)])).unwrap_err();
    assert!(e.to_string().contains("offset of x"), "{e}");
}

#[test]
fn annotation_lookup_follows_btf_find_by_name_and_resolve_size() {
    // Typedef chains, arrays and pointers are sized like btf__resolve_size.
    let src = one_map(|b| {
        let int = b.int("int", 4);
        let td = b.typedef("u32_t", int);
        let idx = b.int("__ARRAY_SIZE_TYPE__", 4);
        let arr = b.array(td, idx, 3);
        let ptr = b.raw("", KIND_PTR, 0, int, &[]);
        let arr2 = b.array(ptr, idx, 2);
        (arr, arr2)
    });
    let p = prepare(&src).unwrap();
    let t = p.map_types("m", 12, 16).unwrap();
    assert_eq!((t.key_type_id, t.value_type_id), (4, 6));
    assert!(matches!(
        p.map_types("m", 12, 8),
        Err(BtfError::SizeMismatch { btf_value: 16, .. })
    ));
    assert!(matches!(
        p.map_types("other", 4, 4),
        Err(BtfError::NoAnnotation { .. })
    ));
    assert!(matches!(
        p.map_types(&"x".repeat(250), 4, 4),
        Err(BtfError::MapNameTooLong { .. })
    ));
}

#[test]
fn first_type_of_the_name_decides_as_in_libbpf() {
    // A VAR named like the annotation before the struct: 25Q2 takes the
    // first type of that name (any kind) and refuses it.
    let mut b = Builder::new();
    let int = b.int("int", 4);
    let v = b.var("____btf_map_m", int, 1);
    b.strukt("____btf_map_m", 8, &[("key", int), ("value", int)]);
    b.datasec(".maps.m", &[(v, 4)]);
    let src = src_with(b.build(), &[(".maps.m", 4)], &[("____btf_map_m", 0)]);
    let e = prepare(&src).unwrap().map_types("m", 4, 4).unwrap_err();
    assert_eq!(
        e,
        BtfError::BadAnnotation {
            map: "m".into(),
            type_name: "____btf_map_m".into(),
            type_id: 2,
            kind: "VAR",
            vlen: 0
        }
    );
    // A struct with one member is refused too.
    let mut b = Builder::new();
    let int = b.int("int", 4);
    b.strukt("____btf_map_m", 4, &[("key", int)]);
    let e = prepare(&src_with(b.build(), &[], &[]))
        .unwrap()
        .map_types("m", 4, 4)
        .unwrap_err();
    assert!(matches!(e, BtfError::BadAnnotation { vlen: 1, .. }), "{e}");
}

#[test]
fn unsized_members_are_refused_with_the_reason() {
    type MakeValue = fn(&mut Builder) -> u32;
    let cases: [(&str, MakeValue); 4] = [
        ("void", |_| 0),
        ("FUNC_PROTO", |b| b.raw("", KIND_FUNC_PROTO, 0, 0, &[])),
        ("typedef loop", |b| {
            // 1 -> 2 -> 1: more than 32 levels.
            let first = b.n + 1;
            b.typedef("a", first + 1);
            b.typedef("b", first)
        }),
        ("array overflow", |b| {
            let int = b.int("int", 4);
            let idx = b.int("idx", 4);
            let a = b.array(int, idx, 0x1000_0000);
            b.array(a, idx, 0x10)
        }),
    ];
    for (what, value) in cases {
        let src = one_map(|b| {
            let k = b.int("int", 4);
            (k, value(b))
        });
        let e = prepare(&src).unwrap().map_types("m", 4, 4).unwrap_err();
        assert!(
            matches!(
                e,
                BtfError::Unsized {
                    member: "value",
                    ..
                }
            ),
            "{what}: {e}"
        );
    }
}

// ---- Malformed blobs.

fn malformed(data: &[u8]) -> Malformed {
    match fixup_names(data) {
        Err(BtfError::Malformed(m)) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn header_and_section_checks() {
    let good = one_map(|b| {
        let k = b.int("int", 4);
        (k, k)
    })
    .data;
    assert_eq!(malformed(&good[..10]), Malformed::TooShort { len: 10 });
    let mut be = good.clone();
    be[..2].copy_from_slice(&[0xeb, 0x9f]);
    assert_eq!(malformed(&be), Malformed::BadMagic { magic: 0x9feb });
    let set = |off: usize, v: u32| {
        let mut b = good.clone();
        b[off..off + 4].copy_from_slice(&v.to_le_bytes());
        b
    };
    assert!(matches!(malformed(&set(4, 8)), Malformed::HeaderLen { .. }));
    assert!(matches!(
        malformed(&set(4, u32::MAX)),
        Malformed::HeaderLen { .. }
    ));
    assert!(matches!(
        malformed(&set(12, u32::MAX)),
        Malformed::SectionBounds {
            section: "type",
            ..
        }
    ));
    assert!(matches!(
        malformed(&set(20, u32::MAX)),
        Malformed::SectionBounds {
            section: "string",
            ..
        }
    ));
    assert_eq!(
        malformed(&set(8, 2)),
        Malformed::TypeSectionUnaligned { offset: 2 }
    );
    assert_eq!(malformed(&set(20, 0)), Malformed::StringSection);
    let mut no_nul = good.clone();
    let last = no_nul.len() - 1;
    no_nul[last] = b'x';
    assert_eq!(malformed(&no_nul), Malformed::StringSection);
    let big = vec![0u8; MAX_BTF_SIZE + 1];
    assert!(matches!(malformed(&big), Malformed::TooLarge { .. }));
}

#[test]
fn type_checks() {
    let mut b = Builder::new();
    let int = b.int("int", 4);
    b.strukt("s", 4, &[("a", int)]);
    let good = b.build();
    let types = read_types(&good);
    let patch = |off: usize, v: u32| {
        let mut d = good.clone();
        d[off..off + 4].copy_from_slice(&v.to_le_bytes());
        d
    };
    let s = &types[1];
    // A member pointing past the last type.
    assert_eq!(
        malformed(&patch(s.off + 16, 9)),
        Malformed::TypeRef {
            type_id: 2,
            target: 9,
            count: 3
        }
    );
    // A name past the strings.
    assert!(matches!(
        malformed(&patch(s.off, 1000)),
        Malformed::NameOffset { type_id: 2, .. }
    ));
    // vlen larger than the rest of the type section.
    assert!(matches!(
        malformed(&patch(s.off + 4, KIND_STRUCT << 24 | 0xffff)),
        Malformed::TypeTruncated { type_id: 2, .. }
    ));
    // Kind 0 is not a type the kernel knows either.
    assert_eq!(
        malformed(&patch(types[0].off + 4, 0)),
        Malformed::UnknownKind {
            type_id: 1,
            kind: 0
        }
    );
    // A type section ending inside a record.
    let mut cut = good.clone();
    let type_len = word(&good, 12) - 4;
    cut[12..16].copy_from_slice(&type_len.to_le_bytes());
    assert!(matches!(malformed(&cut), Malformed::TypeTruncated { .. }));
}

/// Every prefix of two corpus blobs, and at every byte of one of them the
/// low bit, the high bit or all bits flipped: the module returns (Ok or a
/// typed error), never panics. The fuzz target covers the rest.
#[test]
fn truncations_and_byte_flips_of_corpus_btf_never_panic() {
    for file in ["skStorage.o", "btfMismatch.o"] {
        let src = source(file);
        let exercise = |data: Vec<u8>| {
            let s = BtfSource {
                data,
                ..src.clone()
            };
            let _ = fixup_names(&s.data);
            let _ = summary(&s.data);
            if let Ok(p) = prepare(&s) {
                let _ = p.downgraded();
                for m in ["sk_storage_map", "mismatch_map", "typed_ok_map"] {
                    let _ = p.map_types(m, 4, 8).map_err(|e| e.to_string());
                }
            }
        };
        for len in 0..src.data.len() {
            exercise(src.data[..len].to_vec());
        }
        if file != "skStorage.o" {
            continue;
        }
        for i in 0..src.data.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut d = src.data.clone();
                d[i] ^= flip;
                exercise(d);
            }
        }
    }
}

/// A fuzz finding: type and string sections that share bytes parsed, and
/// the DATASEC fix-up then wrote a section size into the string table (the
/// fixed blob no longer parsed; the kernel refuses overlapping sections).
#[test]
fn overlapping_type_and_string_sections_are_refused() {
    // A valid blob: header, one INT type, strings "\0int\0".
    let mut b = Vec::new();
    let strings = b"\0int\0";
    b.extend_from_slice(&0xeb9f_u16.to_le_bytes());
    b.extend_from_slice(&[1, 0]); // version, flags
    for w in [24u32, 0, 16, 16, strings.len() as u32] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    // INT "int": name_off 1, info kind 1, size 4, encoding (signed, 32 bits).
    for w in [1u32, 1 << 24, 4, (1 << 24) | 32] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    b.extend_from_slice(strings);
    assert!(summary(&b).is_ok(), "{:?}", summary(&b));
    // The string section moved to start inside the type section: the
    // bytes from offset 12 on (the INT's encoding word, then the strings).
    let mut overlap = b.clone();
    overlap[16..20].copy_from_slice(&12u32.to_le_bytes());
    overlap[20..24].copy_from_slice(&(4 + strings.len() as u32).to_le_bytes());
    overlap[24 + 12..24 + 16].copy_from_slice(&[0, 0, 0, 0]);
    match summary(&overlap) {
        Err(BtfError::Malformed(Malformed::SectionsOverlap {
            type_off: 0,
            type_len: 16,
            str_off: 12,
            ..
        })) => {}
        other => panic!("{other:?}"),
    }
}
