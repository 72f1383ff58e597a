//! Builders of parsed objects for unit tests (no ELF needed).

use crate::bpffs::Bpffs;
use crate::engine::LoadConfig;
use crate::gate::{Arch, BuildType, GateEnv};
use crate::paths;
use crate::release::{Release, Role};
use crate::spec::{
    Domain, IgnoreOn, Kver, MapDef, MapRelocation, MapSpec, ObjectSpec, ProgDef, ProgKind,
    ProgramSpec, SectionsPresent, DEFAULT_BPFLOADER_MAX_VER, DEFAULT_MAX_KVER,
};
use crate::sys::Sys;
use aya_obj::generated::{bpf_map_type, bpf_prog_type};
use std::path::Path;

pub(crate) const ARRAY: u32 = bpf_map_type::BPF_MAP_TYPE_ARRAY as u32;
pub(crate) const HASH: u32 = bpf_map_type::BPF_MAP_TYPE_HASH as u32;
pub(crate) const SOCKET_FILTER: u32 = bpf_prog_type::BPF_PROG_TYPE_SOCKET_FILTER as u32;
pub(crate) const AID_SYSTEM: u32 = 1000;
pub(crate) const AID_NET_BW_ACCT: u32 = 3007;

/// A map record: `uid` 1000, `gid` 3007, mode 0460, no gates.
pub(crate) fn map(name: &str, map_type: u32, key: u32, value: u32, entries: u32) -> MapSpec {
    MapSpec {
        name: name.into(),
        def: MapDef {
            map_type,
            key_size: key,
            value_size: value,
            max_entries: entries,
            map_flags: 0,
            zero: 0,
            gid: AID_NET_BW_ACCT,
            mode: 0o460,
            bpfloader_min_ver: 0,
            bpfloader_max_ver: DEFAULT_BPFLOADER_MAX_VER,
            min_kver: Kver(0),
            max_kver: Kver(DEFAULT_MAX_KVER),
            selinux_context: Domain::Unspecified,
            pin_subdir: Domain::Unspecified,
            raw_domains: Default::default(),
            shared: false,
            ignore_on: IgnoreOn::default(),
            uid: AID_SYSTEM,
        },
    }
}

/// `r1 = <map> ll; r0 = 0; exit`.
pub(crate) fn insns() -> Vec<u8> {
    let mut v = vec![0x18, 0x01, 0, 0, 0, 0, 0, 0];
    v.extend([0u8; 8]);
    v.extend([0xb7, 0, 0, 0, 0, 0, 0, 0]);
    v.extend([0x95, 0, 0, 0, 0, 0, 0, 0]);
    v
}

/// A socket-filter-typed program in `section` using map `map_index` (its
/// type comes from the section prefix, as the parser sets it).
pub(crate) fn prog(section: &str, map_index: usize) -> ProgramSpec {
    ProgramSpec {
        section: section.into(),
        kind: crate::section::prog_kind(section).unwrap_or(ProgKind {
            prog_type: SOCKET_FILTER,
            expected_attach_type: 0,
        }),
        kernel_name: paths::kernel_object_name(section),
        pin_name: paths::prog_pin_name(section),
        func_name: "f".into(),
        def: ProgDef {
            uid: 0,
            gid: AID_SYSTEM,
            min_kver: Kver(0),
            max_kver: Kver(DEFAULT_MAX_KVER),
            optional: false,
            ignore_on: IgnoreOn::default(),
            bpfloader_min_ver: 0,
            bpfloader_max_ver: DEFAULT_BPFLOADER_MAX_VER,
            selinux_context: Domain::Unspecified,
            pin_subdir: Domain::Unspecified,
            raw_domains: Default::default(),
        },
        insns: insns(),
        relocations: vec![MapRelocation {
            insn_index: 0,
            map_index,
        }],
    }
}

/// An object named `obj` with every section Android's `LICENSE()` writes.
pub(crate) fn obj(maps: Vec<MapSpec>, programs: Vec<ProgramSpec>) -> ObjectSpec {
    ObjectSpec {
        name: "obj".into(),
        license: "Apache 2.0".into(),
        critical: None,
        bpfloader_min_ver: 0,
        bpfloader_max_ver: DEFAULT_BPFLOADER_MAX_VER,
        size_of_bpf_map_def: 120,
        size_of_bpf_prog_def: 92,
        present: SectionsPresent {
            bpfloader_min_ver: true,
            bpfloader_max_ver: true,
            size_of_bpf_map_def: true,
            size_of_bpf_prog_def: true,
            maps: !maps.is_empty(),
            progs: true,
            btf: false,
        },
        maps,
        programs,
        warnings: vec![],
        netbpfload_min_ver: None,
        bpfloader_min_required_ver: None,
        btf: None,
        libbpf: None,
    }
}

/// How the unit tests load: Android 15's mainline rules as root on 6.18,
/// userdebug x86_64, one object at a time, into the bpffs at `root`.
pub(crate) fn load_config(sys: &dyn Sys, root: &str) -> LoadConfig {
    let bpffs = Bpffs::open(sys, Path::new(root)).expect("bpffs");
    let gate = GateEnv {
        loader_ver: 46,
        kver: Kver::new(6, 18, 0),
        build_type: BuildType::Userdebug,
        arch: Arch::X86_64,
    };
    LoadConfig::new(sys, bpffs, Release::V.rules().role(Role::Mainline), gate)
        .expect("config")
        .sequential(true)
}
