//! Legacy record sizes (`docs/object-format.md#legacy-record-sizes`): v0.0 32/20 (no size
//! sections at all), S 48/28, T 116/92, and a hypothetical newer, larger ABI.
//! Each record is laid over the defaults and only `min(declared, current)`
//! bytes are copied, so fields an old layout lacks keep their defaults.

mod parse_util;

use netbpfload::parse::parse_object;
use netbpfload::spec::{Domain, IgnoreOn, Kver, ObjectSpec};
use parse_util::*;
use std::path::Path;

/// Every field non-default, so truncation shows which ones survived.
fn full_map() -> MapRec {
    MapRec {
        map_type: 9,
        key_size: 8,
        value_size: 16,
        max_entries: 64,
        map_flags: 1,
        zero: 0,
        gid: 3003,
        mode: 0o460,
        bpfloader_min_ver: 43,
        bpfloader_max_ver: 47,
        min_kver: 0x040E_0000,
        max_kver: 0x050A_0000,
        selinux_context: "fs_bpf_netd_readonly",
        pin_subdir: "net_shared/",
        shared: true,
        ignore_bits: 0x41,
        uid: 1000,
    }
}

fn full_prog() -> ProgRec {
    ProgRec {
        uid: 1000,
        gid: 3005,
        min_kver: 0x040E_0000,
        max_kver: 0x050A_0000,
        optional: true,
        ignore_bits: 0x82,
        bpfloader_min_ver: 43,
        bpfloader_max_ver: 47,
        selinux_context: "fs_bpf_loader",
        pin_subdir: "tethering/",
    }
}

/// Builds the sample object with records cut (or zero-extended) to the
/// given sizes; `declare` = write the size sections.
fn build(map_size: usize, prog_size: usize, declare: bool) -> ObjectSpec {
    let mut m = full_map().bytes();
    m.resize(map_size, 0);
    let mut maps = m.clone();
    maps.extend(&m);
    let mut p = full_prog().bytes();
    p.resize(prog_size, 0);
    let s = Sample {
        map_def_size: declare.then(|| (map_size as u64).to_le_bytes().to_vec()),
        prog_def_size: declare.then(|| (prog_size as u64).to_le_bytes().to_vec()),
        maps,
        map_syms: vec![
            ("first_map".into(), 0, map_size as u64),
            ("second_map".into(), map_size as u64, map_size as u64),
        ],
        progs: p,
        prog_syms: vec![("prog_test_def".into(), 0, prog_size as u64)],
        ..Sample::default()
    };
    parse_object(Path::new("legacy.o"), &s.build()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn v0_0_without_size_sections_is_32_20() {
    let spec = build(32, 20, false);
    assert_eq!(
        (spec.size_of_bpf_map_def, spec.size_of_bpf_prog_def),
        (32, 20)
    );
    let m = &spec.maps[1].def;
    // Present in 32 bytes: type..mode.
    assert_eq!(
        (
            m.map_type,
            m.key_size,
            m.value_size,
            m.max_entries,
            m.map_flags
        ),
        (9, 8, 16, 64, 1)
    );
    assert_eq!((m.gid, m.mode), (3003, 0o460));
    // Absent: defaults.
    assert_eq!((m.bpfloader_min_ver, m.bpfloader_max_ver), (0, 0x10000));
    assert_eq!((m.min_kver, m.max_kver), (Kver(0), Kver(0xFFFF_FFFF)));
    assert_eq!(m.selinux_context, Domain::Unspecified);
    assert_eq!(m.pin_subdir, Domain::Unspecified);
    assert!(!m.shared);
    assert_eq!(m.ignore_on, IgnoreOn::default());
    assert_eq!(m.uid, 0);
    let p = &spec.programs[0].def;
    // Present in 20 bytes: uid, gid, kver range, optional, ignore bits.
    assert_eq!((p.uid, p.gid), (1000, 3005));
    assert_eq!(
        (p.min_kver, p.max_kver),
        (Kver(0x040E_0000), Kver(0x050A_0000))
    );
    assert!(p.optional);
    assert_eq!(p.ignore_on, IgnoreOn::from_bits(0x82));
    assert_eq!((p.bpfloader_min_ver, p.bpfloader_max_ver), (0, 0x10000));
    assert_eq!(p.selinux_context, Domain::Unspecified);
}

#[test]
fn v0_0_object_without_version_sections_gets_defaults() {
    let s = Sample {
        min_ver: None,
        max_ver: None,
        map_def_size: None,
        prog_def_size: None,
        maps: vec![],
        map_syms: vec![],
        rels: vec![],
        progs: full_prog().bytes()[..20].to_vec(),
        prog_syms: vec![("prog_test_def".into(), 0, 20)],
        ..Sample::default()
    };
    let spec = parse_object(Path::new("v0.o"), &s.build()).unwrap();
    assert_eq!(
        (spec.bpfloader_min_ver, spec.bpfloader_max_ver),
        (0, 0x10000)
    );
    assert_eq!(
        (spec.size_of_bpf_map_def, spec.size_of_bpf_prog_def),
        (32, 20)
    );
    assert!(spec.maps.is_empty());
    assert_eq!(spec.programs[0].def.gid, 3005);
}

#[test]
fn s_48_28() {
    let spec = build(48, 28, true);
    let m = &spec.maps[0].def;
    assert_eq!((m.bpfloader_min_ver, m.bpfloader_max_ver), (43, 47));
    assert_eq!(
        (m.min_kver, m.max_kver),
        (Kver(0x040E_0000), Kver(0x050A_0000))
    );
    assert_eq!(m.selinux_context, Domain::Unspecified);
    assert!(!m.shared);
    assert_eq!(m.uid, 0);
    let p = &spec.programs[0].def;
    assert_eq!((p.bpfloader_min_ver, p.bpfloader_max_ver), (43, 47));
    assert_eq!(p.pin_subdir, Domain::Unspecified);
}

#[test]
fn t_116_92() {
    let spec = build(116, 92, true);
    let m = &spec.maps[1].def;
    assert_eq!(m.selinux_context, Domain::NetdReadonly);
    assert_eq!(m.pin_subdir, Domain::NetShared);
    assert!(m.shared);
    assert_eq!(m.ignore_on, IgnoreOn::from_bits(0x41));
    // uid@116 is beyond a 116-byte record.
    assert_eq!(m.uid, 0);
    let p = &spec.programs[0].def;
    assert_eq!(p.selinux_context, Domain::Loader);
    assert_eq!(p.pin_subdir, Domain::Tethering);
}

#[test]
fn current_120_92_keeps_everything() {
    let spec = build(120, 92, true);
    assert_eq!(spec.maps[1].def.uid, 1000);
    assert_eq!(spec.maps[1].name, "second_map");
}

#[test]
fn newer_larger_records_are_truncated() {
    // A future 128/100-byte ABI: extra bytes ignored, stride honoured.
    let spec = build(128, 100, true);
    assert_eq!(
        (spec.size_of_bpf_map_def, spec.size_of_bpf_prog_def),
        (128, 100)
    );
    let m = &spec.maps[1].def;
    assert_eq!((m.map_type, m.uid, m.gid), (9, 1000, 3003));
    assert_eq!(spec.programs[0].def.pin_subdir, Domain::Tethering);
}
