//! Unit tests: the compiled objects are well-formed ELF for EM_BPF, carry
//! the records the C sources declare at the offsets of
//! `docs/object-format.md#map-record` and `docs/object-format.md#program-record`,
//! and `install_tree` lays them out the way the loader's locations expect.
//!
//! Expected values below are copied from `src/progs/*.c` and
//! `include/bpf_map_def.h` (and documented in `README.md`), not from the
//! objects themselves.

use super::*;
use std::collections::BTreeSet;

const EM_BPF: u16 = 247;
const ET_REL: u16 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_NOBITS: u32 = 8;
const STT_FUNC: u8 = 2;
const BPF_LD_IMM64: u8 = 0x18;

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}
fn cstr(b: &[u8], off: usize) -> &str {
    let end = b[off..].iter().position(|&c| c == 0).unwrap() + off;
    std::str::from_utf8(&b[off..end]).unwrap()
}

/// Just enough ELF64 reading for the tests (trusted, self-built input).
struct Elf {
    sections: Vec<Section>,
    symbols: Vec<Symbol>,
}

struct Section {
    name: String,
    data: &'static [u8],
}

#[derive(Debug)]
struct Symbol {
    name: String,
    info: u8,
    shndx: usize,
    value: u64,
}

impl Elf {
    fn parse(b: &'static [u8]) -> Elf {
        let shoff = usize::try_from(u64_at(b, 0x28)).unwrap();
        let shentsize = usize::from(u16_at(b, 0x3a));
        let shnum = usize::from(u16_at(b, 0x3c));
        let shstrndx = usize::from(u16_at(b, 0x3e));
        let raw: Vec<(u32, u32, usize, usize, usize)> = (0..shnum)
            .map(|i| {
                let h = shoff + i * shentsize;
                let off = usize::try_from(u64_at(b, h + 0x18)).unwrap();
                let size = usize::try_from(u64_at(b, h + 0x20)).unwrap();
                let link = usize::try_from(u32_at(b, h + 0x28)).unwrap();
                (u32_at(b, h), u32_at(b, h + 4), off, size, link)
            })
            .collect();
        let shstr = raw[shstrndx].2;
        let sections: Vec<Section> = raw
            .iter()
            .map(|&(name, kind, off, size, _)| Section {
                name: cstr(b, shstr + usize::try_from(name).unwrap()).to_string(),
                data: if kind == SHT_NOBITS {
                    &[]
                } else {
                    &b[off..off + size]
                },
            })
            .collect();
        let symtab = raw.iter().find(|s| s.1 == SHT_SYMTAB).unwrap();
        let strtab = raw[symtab.4].2;
        let symbols = (0..symtab.3 / 24)
            .map(|i| {
                let s = symtab.2 + i * 24;
                Symbol {
                    name: cstr(b, strtab + usize::try_from(u32_at(b, s)).unwrap()).to_string(),
                    info: b[s + 4],
                    shndx: usize::from(u16_at(b, s + 6)),
                    value: u64_at(b, s + 8),
                }
            })
            .collect();
        Elf { sections, symbols }
    }

    fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.sections.iter().position(|s| s.name == name)
    }

    /// Symbols of a section sorted by address (the loader's record order).
    fn symbols_in(&self, name: &str) -> Vec<&Symbol> {
        let Some(idx) = self.index(name) else {
            return Vec::new();
        };
        let mut v: Vec<&Symbol> = self.symbols.iter().filter(|s| s.shndx == idx).collect();
        v.sort_by_key(|s| s.value);
        v
    }

    fn u32_section(&self, name: &str) -> Option<u32> {
        self.section(name).map(|s| u32_at(s.data, 0))
    }

    fn size_section(&self, name: &str) -> Option<u64> {
        self.section(name).map(|s| u64_at(s.data, 0))
    }

    /// The `maps` record of `map`, using the declared stride.
    fn map_record(&self, map: &str) -> &'static [u8] {
        let stride =
            usize::try_from(self.size_section("size_of_bpf_map_def").unwrap_or(32)).unwrap();
        let i = self
            .symbols_in("maps")
            .iter()
            .position(|s| s.name == map)
            .unwrap();
        &self.section("maps").unwrap().data[i * stride..(i + 1) * stride]
    }

    /// The `progs` record `<func>_def`.
    fn prog_record(&self, func: &str) -> &'static [u8] {
        let stride =
            usize::try_from(self.size_section("size_of_bpf_prog_def").unwrap_or(20)).unwrap();
        let def = format!("{func}_def");
        let sym = self
            .symbols_in("progs")
            .into_iter()
            .find(|s| s.name == def)
            .unwrap();
        let off = usize::try_from(sym.value).unwrap();
        &self.section("progs").unwrap().data[off..off + stride]
    }

    fn is_code(name: &str) -> bool {
        const PREFIXES: [&str; 16] = [
            "bind4/",
            "bind6/",
            "cgroupskb/",
            "cgroupsock/",
            "cgroupsockrelease/",
            "getsockopt/",
            "recvmsg4/",
            "connect4/",
            "connect6/",
            "schedact/",
            "schedcls/",
            "skfilter/",
            "xdp/",
            "tracepoint/",
            "kprobe/",
            "kretprobe/",
        ];
        PREFIXES.iter().any(|p| name.starts_with(p))
    }

    fn code_sections(&self) -> Vec<&str> {
        self.sections
            .iter()
            .filter(|s| Elf::is_code(&s.name))
            .map(|s| s.name.as_str())
            .collect()
    }
}

fn elf(file_name: &str) -> Elf {
    Elf::parse(object(file_name).unwrap().bytes)
}

fn domain(record: &[u8], off: usize) -> &str {
    cstr(&record[off..off + 32], 0)
}

const fn kver(a: u32, b: u32, c: u32) -> u32 {
    (a << 24) | (b << 16) | c
}

#[test]
fn every_object_is_elf64_le_relocatable_for_bpf() {
    assert!(!OBJECTS.is_empty());
    for obj in OBJECTS {
        let b = obj.bytes;
        assert!(b.len() > 64, "{}: too short", obj.file_name);
        assert_eq!(&b[..4], b"\x7fELF", "{}: ELF magic", obj.file_name);
        assert_eq!(b[4], 2, "{}: ELFCLASS64", obj.file_name);
        assert_eq!(b[5], 1, "{}: little-endian", obj.file_name);
        assert_eq!(u16_at(b, 16), ET_REL, "{}: ET_REL", obj.file_name);
        assert_eq!(u16_at(b, 18), EM_BPF, "{}: EM_BPF", obj.file_name);
    }
}

#[test]
fn table_matches_what_build_rs_compiled() {
    let built = include_str!(concat!(env!("OUT_DIR"), "/objects.txt"));
    let built: BTreeSet<&str> = built.lines().filter(|l| !l.is_empty()).collect();
    let listed: BTreeSet<&str> = OBJECTS.iter().map(|o| o.file_name).collect();
    assert_eq!(listed.len(), OBJECTS.len(), "duplicate file names");
    assert_eq!(built, listed);
}

#[test]
fn source_file_names_have_no_underscore() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/progs");
    let mut n = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(!name.contains('_'), "{name}");
        n += 1;
    }
    assert!(n >= 10);
}

#[test]
fn record_sections_match_declared_sizes() {
    for obj in android_objects() {
        let e = Elf::parse(obj.bytes);
        let (map_size, prog_size) = match obj.kind {
            Kind::Legacy {
                map_def_size,
                prog_def_size,
            } => (map_def_size, prog_def_size),
            _ => (120, 92),
        };
        if map_size == 32 {
            // v0.0 objects predate the size and version sections.
            for s in [
                "size_of_bpf_map_def",
                "size_of_bpf_prog_def",
                "bpfloader_min_ver",
                "bpfloader_max_ver",
            ] {
                assert!(e.section(s).is_none(), "{}: {s}", obj.file_name);
            }
        } else {
            assert_eq!(
                e.size_section("size_of_bpf_map_def"),
                Some(u64::try_from(map_size).unwrap()),
                "{}",
                obj.file_name
            );
            assert_eq!(
                e.size_section("size_of_bpf_prog_def"),
                Some(u64::try_from(prog_size).unwrap()),
                "{}",
                obj.file_name
            );
        }
        let maps = e.section("maps").unwrap();
        assert_eq!(
            maps.data.len(),
            map_size * e.symbols_in("maps").len(),
            "{}",
            obj.file_name
        );
        let progs = e.section("progs").unwrap();
        assert_eq!(
            progs.data.len(),
            prog_size * e.symbols_in("progs").len(),
            "{}",
            obj.file_name
        );
        assert_eq!(
            e.symbols_in("progs").len(),
            e.code_sections().len(),
            "{}",
            obj.file_name
        );
    }
}

#[test]
fn every_code_section_has_one_function_with_a_def_and_map_relocations() {
    for obj in android_objects() {
        let e = Elf::parse(obj.bytes);
        let map_names: BTreeSet<&str> = e
            .symbols_in("maps")
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        let defs: BTreeSet<&str> = e
            .symbols_in("progs")
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        for name in e.code_sections() {
            let idx = e.index(name).unwrap();
            let funcs: Vec<&Symbol> = e
                .symbols
                .iter()
                .filter(|s| s.shndx == idx && s.info & 0xf == STT_FUNC)
                .collect();
            assert_eq!(funcs.len(), 1, "{}: {name}", obj.file_name);
            assert_eq!(funcs[0].value, 0, "{}: {name}", obj.file_name);
            assert!(
                defs.contains(format!("{}_def", funcs[0].name).as_str()),
                "{}: {name} has no def",
                obj.file_name
            );
            let code = e.sections[idx].data;
            assert_eq!(code.len() % 8, 0);
            // The relocation section, if any, is the next header (the loader relies on it).
            let Some(rel) = e
                .sections
                .get(idx + 1)
                .filter(|s| s.name == format!(".rel{name}"))
            else {
                continue;
            };
            for r in rel.data.chunks_exact(16) {
                let off = usize::try_from(u64_at(r, 0)).unwrap();
                let sym = &e.symbols[usize::try_from(u64_at(r, 8) >> 32).unwrap()];
                assert!(
                    map_names.contains(sym.name.as_str()),
                    "{}: {name}: {sym:?}",
                    obj.file_name
                );
                assert_eq!(
                    code[off], BPF_LD_IMM64,
                    "{}: {name} at {off}",
                    obj.file_name
                );
            }
        }
    }
}

#[test]
fn object_sections_license_critical_and_loader_versions() {
    // (file, license, min_ver) from the LICENSE()/BPFLOADER_MIN_VER lines of each source.
    let expected: [(&str, &str, Option<u32>); 17] = [
        ("offload@mainline.o", "Apache 2.0", Some(42)),
        ("needsNewerLoader.o", "Apache 2.0", Some(0x10000)),
        ("netd.o", "Apache 2.0", Some(43)),
        ("clatd.o", "Apache 2.0", Some(43)),
        ("dscpPolicy.o", "Apache 2.0", Some(43)),
        ("pktCount.o", "Apache 2.0", Some(0)),
        ("verifierReject.o", "Apache 2.0", Some(0)),
        ("gateMatrix.o", "Apache 2.0", Some(0)),
        ("schedTrace.o", "GPL", Some(0)),
        ("tcpProbe.o", "GPL", Some(0)),
        ("criticalReject.o", "Apache 2.0", Some(0)),
        ("skStorage.o", "Apache 2.0", Some(0)),
        ("btfMismatch.o", "Apache 2.0", Some(0)),
        ("btfCorrupt.o", "Apache 2.0", Some(0)),
        ("legacyV0.o", "Apache 2.0", None),
        ("legacyS.o", "Apache 2.0", Some(0)),
        ("legacyT.o", "Apache 2.0", Some(0)),
    ];
    assert_eq!(expected.len(), android_objects().count());
    for (file, license, min_ver) in expected {
        let obj = object(file).unwrap();
        let e = Elf::parse(obj.bytes);
        assert_eq!(
            e.section("license").unwrap().data,
            format!("{license}\0").as_bytes(),
            "{file}"
        );
        assert_eq!(e.u32_section("bpfloader_min_ver"), min_ver, "{file}");
        assert_eq!(
            e.u32_section("bpfloader_max_ver"),
            min_ver.map(|_| 0x10000),
            "{file}"
        );
        assert_eq!(e.section("critical").is_some(), obj.critical, "{file}");
    }
    assert_eq!(object("netd.o").unwrap().kind, Kind::Good);
    assert_eq!(
        object("criticalReject.o").unwrap().kind,
        Kind::FailingCritical
    );
    assert!(object("criticalReject.o").unwrap().location.is_none());
}

#[test]
fn netd_map_records_have_every_field_at_its_offset() {
    let e = elf("netd.o");
    let names: Vec<&str> = e
        .symbols_in("maps")
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "cookie_tag_map",
            "uid_owner_map",
            "configuration_map",
            "iface_stats_map",
            "local_net_blocked_uid_map",
            "local_net_access_map",
            "uid_permission_map",
            "iface_index_name_map",
            "packet_trace_ringbuf",
            "ingress_discard_map",
            "pre_4_14_stats_map",
            "kver_inf_map",
            "packet_trace_enabled_map",
            "next_loader_map",
            "lock_array_test_map",
        ]
    );

    // DEFINE_BPF_MAP_RO_NETD(uid_owner_map, HASH, __u32, struct UidOwnerValue, 2048)
    let r = e.map_record("uid_owner_map");
    let words: Vec<u32> = (0..12).map(|i| u32_at(r, i * 4)).collect();
    assert_eq!(
        words,
        [1, 4, 8, 2048, 0, 0, 3007, 0o460, 0, 0x10000, 0, 0xFFFF_FFFF],
        "type key value max flags zero gid mode minver maxver minkver maxkver"
    );
    assert_eq!(domain(r, 48), "fs_bpf_netd_readonly");
    assert_eq!(domain(r, 80), "");
    assert_eq!(r[112], 0, "shared");
    assert_eq!(r[113], 0, "ignore bits");
    assert_eq!(u32_at(r, 116), 0, "uid");

    let r = e.map_record("uid_permission_map");
    assert_eq!(domain(r, 48), "fs_bpf_netd_readonly");
    assert_eq!(domain(r, 80), "netd_readonly/");

    let r = e.map_record("configuration_map");
    assert_eq!((u32_at(r, 24), u32_at(r, 28)), (3007, 0o060));
    assert_eq!(domain(r, 48), "fs_bpf_net_shared");

    // LPM_TRIE (11) gets BPF_F_NO_PREALLOC (1) by default; key {prefixlen, ifindex, addr4}.
    let r = e.map_record("local_net_access_map");
    assert_eq!((u32_at(r, 0), u32_at(r, 4), u32_at(r, 16)), (11, 12, 1));
    // Explicit BPF_F_NO_PREALLOC on a HASH.
    let r = e.map_record("local_net_blocked_uid_map");
    assert_eq!((u32_at(r, 0), u32_at(r, 16)), (1, 1));

    // RINGBUF (27): key/value 0, max_entries = bytes, min_kver 5.10.
    let r = e.map_record("packet_trace_ringbuf");
    assert_eq!(
        (u32_at(r, 0), u32_at(r, 4), u32_at(r, 8), u32_at(r, 12)),
        (27, 0, 0, 32768)
    );
    assert_eq!(u32_at(r, 40), kver(5, 10, 0));

    // ignore_on_arm32 (bit 3) | ignore_on_riscv64 (bit 7); ignore_on_user (bit 1).
    assert_eq!(e.map_record("iface_index_name_map")[113], 0x88);
    assert_eq!(e.map_record("lock_array_test_map")[113], 0x02);

    assert_eq!(
        u32_at(e.map_record("pre_4_14_stats_map"), 44),
        kver(4, 14, 0)
    );
    assert_eq!(u32_at(e.map_record("kver_inf_map"), 40), 0xFFFF_FFFF);
    assert_eq!(u32_at(e.map_record("packet_trace_enabled_map"), 32), 44);
    assert_eq!(u32_at(e.map_record("next_loader_map"), 32), 0x10000);
}

#[test]
fn prog_records_have_every_field_at_its_offset() {
    let e = elf("netd.o");
    // skfilter/ingress/xtbpf: uid 0, gid AID_NET_ADMIN, netd_readonly domain.
    let r = e.prog_record("xt_bpf_ingress_prog");
    let words: Vec<u32> = (0..4).map(|i| u32_at(r, i * 4)).collect();
    assert_eq!(words, [0, 3005, 0, 0xFFFF_FFFF]);
    assert_eq!((r[16], r[17]), (0, 0), "optional, ignore bits");
    assert_eq!((u32_at(r, 20), u32_at(r, 24)), (0, 0x10000));
    assert_eq!(domain(r, 28), "fs_bpf_netd_readonly");
    assert_eq!(domain(r, 60), "netd_readonly/");
    let r = e.prog_record("bpf_cgroup_ingress_4_14");
    assert_eq!(
        (u32_at(r, 8), u32_at(r, 12)),
        (kver(4, 14, 0), kver(5, 10, 0))
    );
    assert_eq!(u32_at(e.prog_record("xt_bpf_egress_prog"), 20), 0x10000);

    let e = elf("offload@mainline.o");
    assert_eq!(
        e.prog_record("sched_cls_tether_upstream6_rawip_opt")[16],
        1,
        "optional"
    );
    assert_eq!(
        e.prog_record("sched_cls_tether_upstream6_rawip_stub")[16],
        0
    );
    assert_eq!(
        e.code_sections(),
        [
            "schedcls/tether_downstream6_ether$4_14",
            "schedcls/tether_downstream6_ether$5_10",
            "schedcls/tether_upstream6_rawip$opt",
            "schedcls/tether_upstream6_rawip$stub",
            "xdp/tether_downstream_ether",
        ]
    );
}

#[test]
fn shared_map_is_declared_identically_by_both_objects() {
    let a = elf("clatd.o");
    let b = elf("dscpPolicy.o");
    let ra = a.map_record("net_config_map");
    assert_eq!(ra, b.map_record("net_config_map"));
    assert_eq!(ra[112], 1, "shared");
    assert_eq!(
        (u32_at(ra, 0), u32_at(ra, 4), u32_at(ra, 8), u32_at(ra, 12)),
        (2, 4, 4, 2)
    );
    let r = b.map_record("socket_policy_cache_map");
    assert_eq!(
        (u32_at(r, 0), u32_at(r, 28)),
        (6, 0),
        "PERCPU_ARRAY, mode 0"
    );
    assert_eq!(domain(r, 48), "fs_bpf_loader");
}

#[test]
fn legacy_layouts_put_fields_where_those_abis_did() {
    // v0.0: 32-byte map def, word 5 is uid, then gid and mode.
    let e = elf("legacyV0.o");
    let r = e.map_record("legacy_count_map");
    assert_eq!(r.len(), 32);
    assert_eq!(
        (u32_at(r, 0), u32_at(r, 20), u32_at(r, 24), u32_at(r, 28)),
        (2, 0, 1000, 0o640)
    );
    assert_eq!(e.prog_record("skfilter_legacy_count").len(), 20);

    // S: kernel gates at 40/44; prog def 28 bytes with loader versions at 20/24.
    let e = elf("legacyS.o");
    assert_eq!(
        u32_at(e.map_record("legacy_pre_4_14_map"), 44),
        kver(4, 14, 0)
    );
    let r = e.prog_record("skfilter_legacy_never");
    assert_eq!(
        (r.len(), u32_at(r, 8), u32_at(r, 24)),
        (28, 0xFFFF_FFFF, 0x10000)
    );

    // T: 116 bytes, pin_subdir at 80 and shared at 112, no uid at 116.
    let e = elf("legacyT.o");
    let r = e.map_record("legacy_shared_map");
    assert_eq!(r.len(), 116);
    assert_eq!((domain(r, 80), r[112]), ("net_private/", 1));
}

#[test]
fn every_object_carries_btf_and_none_carries_btf_ext() {
    // Built the Soong way: -g, then .BTF.ext, .rel.BTF* and debug info stripped.
    for obj in android_objects() {
        let e = Elf::parse(obj.bytes);
        let btf = e.section(".BTF").map(|s| s.data);
        assert!(btf.is_some_and(|b| b.len() > 24), "{}", obj.file_name);
        assert!(e.section(".rel.BTF").is_none(), "{}", obj.file_name);
        assert!(e.section(".BTF.ext").is_none(), "{}", obj.file_name);
        assert!(
            e.sections.iter().all(|s| !s.name.starts_with(".debug")),
            "{}",
            obj.file_name
        );
    }
}

/// The BTF type ids, kinds and names of `.BTF` (trusted, self-built input).
fn btf_types(btf: &[u8]) -> Vec<(u32, String)> {
    let hdr = u32_at(btf, 4) as usize;
    let (types, types_len) = (hdr + u32_at(btf, 8) as usize, u32_at(btf, 12) as usize);
    let strs = hdr + u32_at(btf, 16) as usize;
    let mut out = Vec::new();
    let mut pos = types;
    while pos < types + types_len {
        let info = u32_at(btf, pos + 4);
        let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
        out.push((
            kind,
            cstr(btf, strs + u32_at(btf, pos) as usize).to_string(),
        ));
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

#[test]
fn every_map_but_ring_buffers_has_a_key_value_annotation() {
    const STRUCT: u32 = 4;
    const RINGBUF: u32 = 27;
    for obj in android_objects().filter(|o| o.file_name != "btfCorrupt.o") {
        let e = Elf::parse(obj.bytes);
        let types = btf_types(e.section(".BTF").unwrap().data);
        for sym in e.symbols_in("maps") {
            let record = e.map_record(&sym.name);
            let annotated = types
                .iter()
                .any(|(k, n)| *k == STRUCT && *n == format!("____btf_map_{}", sym.name));
            assert_eq!(
                annotated,
                u32_at(record, 0) != RINGBUF,
                "{}: {}",
                obj.file_name,
                sym.name
            );
        }
    }
}

#[test]
fn btf_test_objects_are_what_their_kind_says() {
    // skStorage.o: an SK_STORAGE map (type 24), int -> u64, 0 entries,
    // BPF_F_NO_PREALLOC, as the kernel requires.
    let e = elf("skStorage.o");
    let r = e.map_record("sk_storage_map");
    assert_eq!(
        (
            u32_at(r, 0),
            u32_at(r, 4),
            u32_at(r, 8),
            u32_at(r, 12),
            u32_at(r, 16)
        ),
        (24, 4, 8, 0, 1)
    );
    // btfMismatch.o: the record says 4/8, the annotation's value is a __u32.
    let e = elf("btfMismatch.o");
    let r = e.map_record("mismatch_map");
    assert_eq!((u32_at(r, 4), u32_at(r, 8)), (4, 8));
    // btfCorrupt.o: type 1 has kind 31; everything else of the object is intact.
    let e = elf("btfCorrupt.o");
    let btf = e.section(".BTF").unwrap().data;
    let first_type = u32_at(btf, 4) as usize + u32_at(btf, 8) as usize;
    assert_eq!((u32_at(btf, first_type + 4) >> 24) & 0x1f, 31);
    assert_eq!(e.map_record("corrupt_count_map").len(), 120);
}

#[test]
fn location_directories_match_the_loader_tables() {
    // The same literals as netbpfload's paths::MAINLINE_LOCATIONS / PLATFORM_LOCATIONS.
    let mainline = [
        (
            "/apex/com.android.tethering/etc/bpf/tethering/",
            "tethering/",
        ),
        (
            "/apex/com.android.tethering/etc/bpf/netd_shared/",
            "netd_shared/",
        ),
        (
            "/apex/com.android.tethering/etc/bpf/netd_readonly/",
            "netd_readonly/",
        ),
        (
            "/apex/com.android.tethering/etc/bpf/net_shared/",
            "net_shared/",
        ),
        (
            "/apex/com.android.tethering/etc/bpf/net_private/",
            "net_private/",
        ),
    ];
    for ((dir, prefix), ours) in mainline.iter().zip(MAINLINE_PREFIXES) {
        let loc = Location::Mainline { prefix: ours };
        assert_eq!(format!("/{}", loc.dir_in(Layout::Main2025)), *dir);
        assert_eq!(loc.bpffs_prefix(), *prefix);
    }
    // Android 15 keeps the tethering objects in etc/bpf/ itself.
    assert_eq!(
        format!(
            "/{}",
            Location::Mainline {
                prefix: "tethering/"
            }
            .dir()
        ),
        "/apex/com.android.tethering/etc/bpf/"
    );
    assert_eq!(
        Location::Mainline {
            prefix: "net_shared/"
        }
        .dir(),
        "apex/com.android.tethering/etc/bpf/net_shared/"
    );
    assert_eq!(format!("/{}", Location::Platform.dir()), "/system/etc/bpf/");
    assert_eq!(Location::Platform.bpffs_prefix(), "");
    for obj in OBJECTS {
        if let Some(Location::Mainline { prefix }) = obj.location {
            assert!(MAINLINE_PREFIXES.contains(&prefix), "{}", obj.file_name);
        }
    }
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("bpf-progs-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn install_tree_writes_the_default_layout() {
    let tmp = TempDir::new("install");
    let written = install_tree(&tmp.0).unwrap();
    let rel: Vec<String> = written
        .iter()
        .map(|p| {
            p.strip_prefix(&tmp.0)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let apex = "apex/com.android.tethering/etc/bpf";
    assert_eq!(
        rel,
        [
            format!("{apex}/offload@mainline.o"),
            format!("{apex}/needsNewerLoader.o"),
            format!("{apex}/netd_shared/netd.o"),
            format!("{apex}/net_shared/clatd.o"),
            format!("{apex}/net_shared/dscpPolicy.o"),
            format!("{apex}/net_private/pktCount.o"),
            format!("{apex}/net_private/verifierReject.o"),
            format!("{apex}/net_private/gateMatrix.o"),
            "system/etc/bpf/schedTrace.o".to_string(),
            "system/etc/bpf/tcpProbe.o".to_string(),
        ]
    );
    for (path, name) in written.iter().zip(&rel) {
        let file = name.rsplit('/').next().unwrap();
        assert_eq!(
            fs::read(path).unwrap(),
            object(file).unwrap().bytes,
            "{name}"
        );
        assert_eq!(mode(path), 0o644, "{name}");
    }
    // Every location directory exists (even the empty netd_readonly/), mode 0755.
    for d in [
        "apex",
        "apex/com.android.tethering",
        "apex/com.android.tethering/etc",
        apex,
        &format!("{apex}/netd_readonly"),
        &format!("{apex}/net_private"),
        "system/etc/bpf",
    ] {
        assert_eq!(mode(&tmp.0.join(d)), 0o755, "{d}");
    }
    // Nothing outside the layout: the failing critical and legacy objects are absent.
    for file in ["criticalReject.o", "legacyV0.o", "legacyS.o", "legacyT.o"] {
        assert!(written.iter().all(|p| !p.ends_with(file)), "{file}");
    }
    // Running it again overwrites in place.
    assert_eq!(install_tree(&tmp.0).unwrap(), written);
    // 2025 main's layout: tethering objects in their own subdirectory.
    let tmp = TempDir::new("install25");
    let written = install_tree_for(&tmp.0, Layout::Main2025).unwrap();
    assert!(written[0].ends_with(format!("{apex}/tethering/offload@mainline.o")));
}

/// Compiles `body` against the headers with `-DBPF_DEF_ABI=abi`, the way
/// build.rs compiles the corpus; returns (success, compiler output).
fn compile_snippet(abi: u32, body: &str) -> (bool, String) {
    let tmp = TempDir::new("snippet");
    let src = tmp.0.join("snippet.c");
    fs::write(
        &src,
        format!("#include <linux/bpf.h>\n#include \"bpf_helpers.h\"\n{body}\nLICENSE(\"GPL\");\n"),
    )
    .unwrap();
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let out = std::process::Command::new(env!("BPF_PROGS_CLANG"))
        .args([
            "-target",
            "bpf",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-nostdlibinc",
        ])
        .args([
            "-isystem",
            "/usr/include",
            "-isystem",
            env!("BPF_PROGS_ASM_INCLUDE"),
            "-I",
        ])
        .arg(include)
        .arg(format!("-DBPF_DEF_ABI={abi}"))
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(tmp.0.join("snippet.o"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn legacy_abis_refuse_fields_they_cannot_hold() {
    let domain_map = "DEFINE_BPF_MAP_EXT(m, ARRAY, __u32, __u32, 1, 0, 0, 0600, SELINUX_NET_SHARED, \
                      DOMAIN_UNSPECIFIED, false, KVER_NONE, KVER_INF, 0, 0x10000, false, false, false);";
    let user_map = "DEFINE_BPF_MAP_EXT(m, ARRAY, __u32, __u32, 1, 0, 0, 0600, \"\", \"\", false, \
                    KVER_NONE, KVER_INF, 0, 0x10000, false, true, false);";
    let kver_map = "DEFINE_BPF_MAP_EXT(m, ARRAY, __u32, __u32, 1, 0, 0, 0600, \"\", \"\", false, \
                    KVER(5, 10, 0), KVER_INF, 0, 0x10000, false, false, false);";
    // Every snippet is valid with the current ABI, so a failure below is the ABI check.
    for body in [domain_map, user_map, kver_map] {
        let (ok, err) = compile_snippet(120, body);
        assert!(ok, "{body}: {err}");
    }
    let (ok, err) = compile_snippet(48, domain_map);
    assert!(!ok && err.contains("need the 116-byte ABI"), "{err}");
    let (ok, err) = compile_snippet(116, user_map);
    assert!(!ok && err.contains("needs the 120-byte ABI"), "{err}");
    let (ok, err) = compile_snippet(32, kver_map);
    assert!(
        !ok && err.contains("version gates need the 48-byte ABI"),
        "{err}"
    );
    assert!(compile_snippet(48, kver_map).0);
    let (ok, err) = compile_snippet(64, "");
    assert!(!ok && err.contains("BPF_DEF_ABI must be"), "{err}");
}

#[test]
fn ring_buffer_size_must_be_a_power_of_two_page_multiple() {
    let rb = |size: u32| format!("DEFINE_BPF_RINGBUF(rb, __u64, {size}, 0, 0, 0600);");
    assert!(compile_snippet(120, &rb(4096)).0);
    for bad in [1000, 6144] {
        let (ok, err) = compile_snippet(120, &rb(bad));
        assert!(!ok && err.contains("power of two >= 4096"), "{bad}: {err}");
    }
}

// ---- libbpf-style objects (src/libbpf/).

const STT_OBJECT: u8 = 1;

/// `(section, function)` of each program, from the C sources' SEC() lines.
const LIBBPF_PROGRAMS: &[(&str, &str, &str)] = &[
    ("coreSkb.o", "socket", "socket_len"),
    ("coreSkb.o", "tc", "tc_mark"),
    (
        "coreTrace.o",
        "tracepoint/syscalls/sys_enter_getpid",
        "count_getpid",
    ),
    ("coreNet.o", "xdp", "xdp_pass"),
    ("coreNet.o", "cgroup_skb/ingress", "skb_ingress"),
    ("libbpfReject.o", "socket", "unchecked_lookup"),
];

#[test]
fn libbpf_objects_are_libbpf_style_with_btf_and_core_relocations() {
    let mut n = 0;
    for obj in libbpf_objects() {
        n += 1;
        assert!(
            obj.location.is_none(),
            "{}: kept out of the Android layouts",
            obj.file_name
        );
        let e = Elf::parse(obj.bytes);
        for s in [
            "maps",
            "progs",
            "bpfloader_min_ver",
            "size_of_bpf_map_def",
            "critical",
        ] {
            assert!(
                e.section(s).is_none(),
                "{}: Android section {s}",
                obj.file_name
            );
        }
        assert_eq!(
            e.section("license").unwrap().data,
            b"GPL\0",
            "{}",
            obj.file_name
        );
        assert!(e.section(".BTF").is_some_and(|s| s.data.len() > 24));
        // .BTF.ext kept, with CO-RE records (core_relo_len, header word 7).
        let ext = e
            .section(".BTF.ext")
            .unwrap_or_else(|| panic!("{}", obj.file_name));
        assert!(u32_at(ext.data, 4) >= 32, "{}", obj.file_name);
        assert!(
            u32_at(ext.data, 28) > 0,
            "{}: no CO-RE records",
            obj.file_name
        );
        assert!(
            e.sections.iter().all(|s| !s.name.starts_with(".debug")),
            "{}",
            obj.file_name
        );
        // The map symbols of .maps, in address order, are the declared ones.
        let maps: Vec<&str> = e
            .symbols_in(".maps")
            .into_iter()
            .filter(|s| s.info & 0xf == STT_OBJECT)
            .map(|s| s.name.as_str())
            .collect();
        let programs: Vec<&str> = LIBBPF_PROGRAMS
            .iter()
            .filter(|(f, _, _)| *f == obj.file_name)
            .map(|(_, _, p)| *p)
            .collect();
        for (_, section, func) in LIBBPF_PROGRAMS
            .iter()
            .filter(|(f, _, _)| *f == obj.file_name)
        {
            let funcs: Vec<&str> = e
                .symbols_in(section)
                .into_iter()
                .filter(|s| s.info & 0xf == STT_FUNC)
                .map(|s| s.name.as_str())
                .collect();
            assert_eq!(funcs, [*func], "{}: {section}", obj.file_name);
        }
        match obj.kind {
            Kind::Libbpf {
                maps: declared,
                programs: listed,
            } => {
                assert_eq!(maps, declared, "{}", obj.file_name);
                assert_eq!(programs, listed, "{}", obj.file_name);
            }
            Kind::LibbpfRejected { program } => {
                assert_eq!(maps, ["rejected_map"]);
                assert_eq!(programs, [program]);
            }
            other => panic!("{}: {other:?}", obj.file_name),
        }
    }
    assert_eq!(n, 4);
}

#[test]
fn install_libbpf_writes_only_libbpf_objects() {
    let dir = TempDir::new("libbpf");
    let loc = dir.0.join("libbpf");
    let written = install_libbpf(&loc).unwrap();
    let names: BTreeSet<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let expected: BTreeSet<String> = libbpf_objects().map(|o| o.file_name.to_string()).collect();
    assert_eq!(names, expected);
    assert_eq!(mode(&loc), DIR_MODE);
    for p in written {
        assert_eq!(mode(&p), FILE_MODE);
    }
    // The Android layouts do not place them.
    let root = TempDir::new("libbpf-tree");
    for p in install_tree(&root.0).unwrap() {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!object(&name).unwrap().kind.is_libbpf(), "{name}");
    }
}
