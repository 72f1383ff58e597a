//! Engine unit tests against [`FakeSys`]: no root needed.
//!
//! Expected pin paths, modes and kernel names follow the reference facts
//! (§3 pin naming, §5 maps, §6 programs), not the code under test.

use super::*;
use crate::gate::{Arch, BuildType};
use crate::spec::{
    IgnoreOn, Kver, MapDef, MapRelocation, MapSpec, ProgDef, ProgKind, ProgramSpec,
    DEFAULT_BPFLOADER_MAX_VER, DEFAULT_MAX_KVER,
};
use crate::sys::fake::{FakeSys, Node, ObjKind};
use crate::sys::MapCreateAttr;
use aya_obj::generated::{bpf_map_type, bpf_prog_type, BPF_F_RDONLY_PROG};

const ROOT: &str = "/sys/fs/bpf";
const PREFIX: &str = "tethering/";
const ARRAY: u32 = bpf_map_type::BPF_MAP_TYPE_ARRAY as u32;
const HASH: u32 = bpf_map_type::BPF_MAP_TYPE_HASH as u32;
const SOCKET_FILTER: u32 = bpf_prog_type::BPF_PROG_TYPE_SOCKET_FILTER as u32;
const AID_NET_BW_ACCT: u32 = 3007;
const AID_SYSTEM: u32 = 1000;

fn cfg() -> LoadConfig {
    LoadConfig {
        bpffs_root: ROOT.into(),
        gate: GateEnv {
            loader_ver: 45,
            kver: Kver::new(6, 18, 0),
            build_type: BuildType::Userdebug,
            arch: Arch::X86_64,
        },
        parallel: false,
        insecure: false,
        manifest_key: crate::manifest::configured_key(),
    }
}

fn fake() -> FakeSys {
    let f = FakeSys::new();
    f.mount_bpffs(ROOT);
    for d in ["tethering", "net_shared", "netd_shared", "loader"] {
        f.add_dir(format!("{ROOT}/{d}"));
    }
    f
}

fn map(name: &str, map_type: u32, key_size: u32, value_size: u32, max_entries: u32) -> MapSpec {
    MapSpec {
        name: name.into(),
        def: MapDef {
            map_type,
            key_size,
            value_size,
            max_entries,
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
            shared: false,
            ignore_on: IgnoreOn::default(),
            uid: AID_SYSTEM,
        },
    }
}

/// `r1 = <map> ll; r0 = 0; exit`.
fn insns() -> Vec<u8> {
    let mut v = vec![0x18, 0x01, 0, 0, 0, 0, 0, 0];
    v.extend([0u8; 8]);
    v.extend([0xb7, 0, 0, 0, 0, 0, 0, 0]);
    v.extend([0x95, 0, 0, 0, 0, 0, 0, 0]);
    v
}

fn prog(section: &str, map_index: usize) -> ProgramSpec {
    ProgramSpec {
        section: section.into(),
        kind: ProgKind {
            prog_type: SOCKET_FILTER,
            expected_attach_type: 0,
        },
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
        },
        insns: insns(),
        relocations: vec![MapRelocation {
            insn_index: 0,
            map_index,
        }],
    }
}

fn obj(maps: Vec<MapSpec>, programs: Vec<ProgramSpec>) -> ObjectSpec {
    ObjectSpec {
        name: "obj".into(),
        license: "Apache 2.0".into(),
        critical: None,
        bpfloader_min_ver: 0,
        bpfloader_max_ver: DEFAULT_BPFLOADER_MAX_VER,
        size_of_bpf_map_def: 120,
        size_of_bpf_prog_def: 92,
        maps,
        programs,
        warnings: vec![],
        netbpfload_min_ver: None,
        bpfloader_min_required_ver: None,
        present: Default::default(),
    }
}

fn load(f: &FakeSys, spec: &ObjectSpec) -> ObjectOutcome {
    load_object(f, &cfg(), Path::new("/etc/bpf/obj.o"), PREFIX, spec)
}

fn load_cfg(f: &FakeSys, c: &LoadConfig, spec: &ObjectSpec) -> ObjectOutcome {
    load_object(f, c, Path::new("/etc/bpf/obj.o"), PREFIX, spec)
}

fn p(rel: &str) -> PathBuf {
    Path::new(ROOT).join(rel)
}

/// `(kind, id, mode, uid, gid)` of the pin at `rel`.
fn pin_at(f: &FakeSys, rel: &str) -> Option<(ObjKind, u32, u32, u32, u32)> {
    match f.node(p(rel))? {
        Node::Pin(m, k, id) => Some((k, id, m.mode, m.uid, m.gid)),
        _ => None,
    }
}

fn loaded(o: ObjectOutcome) -> (Vec<PinReport>, Vec<PinReport>, Vec<SkipReport>) {
    match o {
        ObjectOutcome::Loaded {
            maps,
            programs,
            skipped,
        } => (maps, programs, skipped),
        other => panic!("expected Loaded, got {other:?}"),
    }
}

fn failed(o: ObjectOutcome) -> (String, Option<String>) {
    match o {
        ObjectOutcome::Failed {
            error,
            verifier_log,
        } => (error, verifier_log),
        other => panic!("expected Failed, got {other:?}"),
    }
}

fn count_calls(f: &FakeSys, prefix: &str) -> usize {
    f.calls().iter().filter(|c| c.starts_with(prefix)).count()
}

#[test]
fn loads_pins_with_modes_owners_and_relocations() {
    let f = fake();
    let spec = obj(
        vec![map("counters", ARRAY, 4, 8, 2)],
        vec![prog("skfilter/count$opt", 0)],
    );
    let (maps, progs, skipped) = loaded(load(&f, &spec));
    assert!(skipped.is_empty());
    assert_eq!(maps.len(), 1);
    assert_eq!(maps[0].pin, "tethering/map_obj_counters");
    assert!(!maps[0].reused);
    assert_eq!(progs[0].pin, "tethering/prog_obj_skfilter_count");

    let (kind, map_id, mode, uid, gid) = pin_at(&f, "tethering/map_obj_counters").expect("map pin");
    assert_eq!(kind, ObjKind::Map);
    assert_eq!((mode, uid, gid), (0o460, AID_SYSTEM, AID_NET_BW_ACCT));
    assert_eq!(map_id, maps[0].id);
    let m = f.map_by_id(map_id).expect("map");
    assert_eq!(
        m.attr,
        MapCreateAttr {
            map_type: ARRAY,
            key_size: 4,
            value_size: 8,
            max_entries: 2,
            map_flags: 0,
            name: "counters".into()
        }
    );

    let (kind, prog_id, mode, uid, gid) =
        pin_at(&f, "tethering/prog_obj_skfilter_count").expect("prog pin");
    assert_eq!(kind, ObjKind::Prog);
    assert_eq!((mode, uid, gid), (paths::PROG_PIN_MODE, 0, AID_SYSTEM));
    let lp = f.prog_by_id(prog_id).expect("prog");
    // Kernel name: section with '/' → '_' including the `$` suffix, 15 bytes.
    assert_eq!(lp.name, "skfilter_count_");
    assert_eq!(lp.license, "Apache 2.0");
    assert_eq!(lp.kern_version, Kver::new(6, 18, 0).0);
    assert_eq!(lp.prog_type, SOCKET_FILTER);
    // The LD_IMM64 now carries BPF_PSEUDO_MAP_FD and the map's fd.
    assert_eq!(lp.insns[1], 0x11);
    assert_eq!(lp.map_ids, vec![map_id]);
    assert_eq!(lp.insns[8..], insns()[8..]);
    assert_eq!(f.pins().len(), 2);
}

#[test]
fn shared_map_pin_name_has_no_object_name() {
    let f = fake();
    let mut m = map("shared_m", HASH, 4, 4, 16);
    m.def.shared = true;
    let (maps, _, _) = loaded(load(&f, &obj(vec![m], vec![])));
    assert_eq!(maps[0].pin, "tethering/map__shared_m");
    assert!(pin_at(&f, "tethering/map__shared_m").is_some());
}

#[test]
fn map_gates_skip_without_creating() {
    let f = fake();
    let mut future = map("future", ARRAY, 4, 4, 1);
    future.def.min_kver = Kver::new(7, 0, 0);
    let mut not_here = map("not_on_userdebug", ARRAY, 4, 4, 1);
    not_here.def.ignore_on = IgnoreOn::from_bits(0x04);
    let mut not_x86 = map("not_on_x86_64", ARRAY, 4, 4, 1);
    not_x86.def.ignore_on = IgnoreOn::from_bits(0x40);
    let mut newer_loader = map("needs_v46", ARRAY, 4, 4, 1);
    newer_loader.def.bpfloader_min_ver = 46;
    let kept = map("kept", ARRAY, 4, 4, 1);
    // The program uses the last map; the skipped ones are not referenced.
    let spec = obj(
        vec![future, not_here, not_x86, newer_loader, kept],
        vec![prog("skfilter/p", 4)],
    );
    let (maps, progs, skipped) = loaded(load(&f, &spec));
    assert_eq!(maps.len(), 1);
    assert_eq!(progs.len(), 1);
    let reasons: Vec<(&str, &str)> = skipped
        .iter()
        .map(|s| (s.name.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("future", "kernel 6.18.0 not in [7.0.0, inf)"),
            (
                "not_on_userdebug",
                "ignore_on_userdebug on a userdebug build"
            ),
            ("not_on_x86_64", "ignore_on_x86_64 on x86_64"),
            ("needs_v46", "loader version 45 not in [46, 65536)"),
        ]
    );
    for gone in ["future", "not_on_userdebug", "not_on_x86_64", "needs_v46"] {
        assert!(pin_at(&f, &format!("tethering/map_obj_{gone}")).is_none());
        assert!(!f.calls().contains(&format!("BPF_MAP_CREATE {gone}")));
    }
}

#[test]
fn skipped_map_relocates_to_minus_one_and_kernel_refuses() {
    // As the reference: a program using a gated-out map gets fd -1, and the
    // kernel rejects it (EBADF), failing the object.
    let f = fake();
    let mut gone = map("gone", ARRAY, 4, 4, 1);
    gone.def.max_kver = Kver::new(5, 0, 0);
    let (err, _) = failed(load(&f, &obj(vec![gone], vec![prog("skfilter/p", 0)])));
    assert!(err.contains("program skfilter/p"), "{err}");
    assert!(err.contains("Bad file descriptor"), "{err}");
}

#[test]
fn program_gates() {
    let f = fake();
    let mut old = prog("skfilter/old$4_9", 0);
    old.def.max_kver = Kver::new(4, 14, 0);
    let mut eng_only = prog("skfilter/eng", 0);
    eng_only.def.ignore_on = IgnoreOn::from_bits(0x06); // user + userdebug
    let mut arm_only = prog("skfilter/arm", 0);
    arm_only.def.ignore_on = IgnoreOn::from_bits(0x60); // x86_32 + x86_64
    let mut newer = prog("skfilter/newer", 0);
    newer.def.bpfloader_min_ver = 46;
    let spec = obj(
        vec![map("m", ARRAY, 4, 4, 1)],
        vec![old, eng_only, arm_only, newer, prog("skfilter/ok", 0)],
    );
    let (_, progs, skipped) = loaded(load(&f, &spec));
    assert_eq!(progs.len(), 1);
    assert_eq!(progs[0].pin, "tethering/prog_obj_skfilter_ok");
    let reasons: Vec<&str> = skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(
        reasons,
        vec![
            "kernel 6.18.0 not in [0.0.0, 4.14.0)",
            "ignore_on_userdebug on a userdebug build",
            "ignore_on_x86_64 on x86_64",
            "loader version 45 not in [46, 65536)",
        ]
    );
    assert_eq!(count_calls(&f, "BPF_PROG_LOAD"), 1);
}

#[test]
fn object_loader_version_gate() {
    let f = fake();
    let mut spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![]);
    spec.bpfloader_min_ver = 46;
    match load(&f, &spec) {
        ObjectOutcome::Skipped { reason } => {
            assert_eq!(reason, "loader version 45 not in [46, 65536)")
        }
        o => panic!("{o:?}"),
    }
    assert!(f.calls().is_empty(), "{:?}", f.calls());
}

#[test]
fn ringbuf_raised_to_page_size() {
    let f = fake();
    f.set_page_size(16384);
    let rb = bpf_map_type::BPF_MAP_TYPE_RINGBUF as u32;
    let (maps, _, _) = loaded(load(&f, &obj(vec![map("rb", rb, 0, 0, 4096)], vec![])));
    let m = f.map_by_id(maps[0].id).expect("map");
    assert_eq!(m.attr.max_entries, 16384);
    // A second run reuses it: the adjusted size is what is compared.
    let (maps, _, _) = loaded(load(&f, &obj(vec![map("rb", rb, 0, 0, 4096)], vec![])));
    assert!(maps[0].reused);
}

#[test]
fn devmap_substitution_on_old_kernels_and_rdonly_prog_tolerated() {
    let devmap = bpf_map_type::BPF_MAP_TYPE_DEVMAP as u32;
    let devmap_hash = bpf_map_type::BPF_MAP_TYPE_DEVMAP_HASH as u32;
    let f = fake();
    let mut c = cfg();
    c.gate.kver = Kver::new(4, 9, 0);
    loaded(load_cfg(
        &f,
        &c,
        &obj(vec![map("d", devmap, 4, 4, 8)], vec![]),
    ));
    // No BPF_OBJ_GET_INFO_BY_FD below 4.14: the report has no id, the pin does.
    let (_, id, _, _, _) = pin_at(&f, "tethering/map_obj_d").expect("pin");
    assert_eq!(f.map_by_id(id).expect("map").attr.map_type, ARRAY);

    let f = fake();
    c.gate.kver = Kver::new(4, 19, 0);
    let (maps, _, _) = loaded(load_cfg(
        &f,
        &c,
        &obj(vec![map("dh", devmap_hash, 4, 4, 8)], vec![]),
    ));
    assert_eq!(f.map_by_id(maps[0].id).expect("map").attr.map_type, HASH);

    // On a new kernel the device map exists and the kernel adds
    // BPF_F_RDONLY_PROG, which both the new-map and the reuse check accept.
    let f = fake();
    let spec = obj(vec![map("dh", devmap_hash, 4, 4, 8)], vec![]);
    let (maps, _, _) = loaded(load(&f, &spec));
    let m = f.map_by_id(maps[0].id).expect("map");
    assert_eq!(m.attr.map_type, devmap_hash);
    assert_eq!(m.attr.map_flags, BPF_F_RDONLY_PROG);
    let (maps, _, _) = loaded(load(&f, &spec));
    assert!(maps[0].reused);
}

#[test]
fn rerun_reuses_everything_and_creates_nothing() {
    let f = fake();
    let spec = obj(
        vec![map("a", ARRAY, 4, 8, 2), map("b", HASH, 8, 8, 64)],
        vec![prog("skfilter/x", 0), prog("skfilter/y", 1)],
    );
    let (m1, p1, _) = loaded(load(&f, &spec));
    let pins_before = f.pins();
    f.clear_calls();
    let (m2, p2, _) = loaded(load(&f, &spec));
    assert!(m2.iter().chain(&p2).all(|p| p.reused));
    let ids = |v: &[PinReport]| v.iter().map(|p| p.id).collect::<Vec<_>>();
    assert_eq!(ids(&m1), ids(&m2));
    assert_eq!(ids(&p1), ids(&p2));
    assert_eq!(f.pins(), pins_before);
    assert_eq!(count_calls(&f, "BPF_MAP_CREATE"), 0);
    assert_eq!(count_calls(&f, "BPF_PROG_LOAD"), 0);
    assert_eq!(count_calls(&f, "BPF_OBJ_PIN"), 0);
    // Reuse opens pins read-only (BPF_F_RDONLY = 8).
    assert!(f
        .calls()
        .iter()
        .filter(|c| c.starts_with("BPF_OBJ_GET"))
        .all(|c| c.ends_with("flags=0x8")));
}

#[test]
fn incompatible_existing_pin_fails_object_and_is_left_intact() {
    for (field, attr, msg) in [
        (
            "value_size",
            MapCreateAttr {
                map_type: ARRAY,
                key_size: 4,
                value_size: 8,
                max_entries: 2,
                map_flags: 0,
                name: "x".into(),
            },
            "tethering/map_obj_b: value_size 8 on the existing pin, 16 in the object",
        ),
        (
            "map_type",
            MapCreateAttr {
                map_type: HASH,
                key_size: 4,
                value_size: 16,
                max_entries: 2,
                map_flags: 0,
                name: "x".into(),
            },
            "tethering/map_obj_b: map_type 1 on the existing pin, 2 in the object",
        ),
        (
            "max_entries",
            MapCreateAttr {
                map_type: ARRAY,
                key_size: 4,
                value_size: 16,
                max_entries: 3,
                map_flags: 0,
                name: "x".into(),
            },
            "tethering/map_obj_b: max_entries 3 on the existing pin, 2 in the object",
        ),
        (
            "map_flags",
            MapCreateAttr {
                map_type: ARRAY,
                key_size: 4,
                value_size: 16,
                max_entries: 2,
                map_flags: 1 << 10, // BPF_F_MMAPABLE
                name: "x".into(),
            },
            "tethering/map_obj_b: map_flags 0x400 on the existing pin, 0x0 in the object",
        ),
    ] {
        let f = fake();
        let existing = f
            .pin_new_map(p("tethering/map_obj_b"), &attr)
            .expect("pre-existing pin");
        // Map `a` is created before `b` is checked; it must be rolled back.
        let spec = obj(
            vec![map("a", ARRAY, 4, 4, 1), map("b", ARRAY, 4, 16, 2)],
            vec![prog("skfilter/x", 0)],
        );
        let (err, log) = failed(load(&f, &spec));
        assert_eq!(err, msg, "{field}");
        assert!(log.is_none());
        let pins = f.pins();
        assert_eq!(pins.len(), 1, "{field}: {pins:?}");
        assert_eq!(pins[0].0, p("tethering/map_obj_b"));
        assert_eq!(pins[0].2, existing, "existing pin untouched");
        assert_eq!(count_calls(&f, "BPF_PROG_LOAD"), 0);
    }
}

#[test]
fn existing_program_pin_of_another_type_fails() {
    let f = fake();
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![prog("skfilter/x", 0)]);
    loaded(load(&f, &spec));
    let mut other = spec.clone();
    other.programs[0].kind.prog_type = bpf_prog_type::BPF_PROG_TYPE_SCHED_CLS as u32;
    let (err, _) = failed(load(&f, &other));
    assert_eq!(
        err,
        "tethering/prog_obj_skfilter_x: prog_type 1 on the existing pin, 3 in the object"
    );
    assert_eq!(f.pins().len(), 2, "reused pins are not rolled back");
}

#[test]
fn selinux_context_pins_in_context_dir_then_renames() {
    let f = fake();
    let mut m = map("m", ARRAY, 4, 4, 1);
    m.def.selinux_context = Domain::NetShared;
    let mut pr = prog("skfilter/x", 0);
    pr.def.selinux_context = Domain::NetShared;
    pr.def.pin_subdir = Domain::NetdShared;
    let (maps, progs, _) = loaded(load(&f, &obj(vec![m], vec![pr])));
    assert_eq!(maps[0].pin, "tethering/map_obj_m");
    assert_eq!(progs[0].pin, "netd_shared/prog_obj_skfilter_x");
    let calls = f.calls();
    let pos = |c: &str| {
        calls
            .iter()
            .position(|x| x == c)
            .unwrap_or_else(|| panic!("{c} not in {calls:#?}"))
    };
    let pin_tmp = pos(&format!("BPF_OBJ_PIN {ROOT}/net_shared/tmp_map_obj_m"));
    let rename = pos(&format!(
        "renameat2 {ROOT}/net_shared/tmp_map_obj_m {ROOT}/tethering/map_obj_m"
    ));
    let chmod = pos(&format!("chmod {ROOT}/tethering/map_obj_m 0o460"));
    // The temporary name is shared by every loader: taken under the lock.
    let lock = pos(&format!("flock {ROOT}/net_shared"));
    assert!(lock < pin_tmp && pin_tmp < rename && rename < chmod);
    pos(&format!(
        "renameat2 {ROOT}/net_shared/tmp_prog_obj_skfilter_x {ROOT}/netd_shared/prog_obj_skfilter_x"
    ));
    let names: Vec<PathBuf> = f.pins().into_iter().map(|p| p.0).collect();
    assert_eq!(
        names,
        vec![
            p("netd_shared/prog_obj_skfilter_x"),
            p("tethering/map_obj_m")
        ]
    );
}

#[test]
fn rename_race_reuses_the_winner() {
    let f = fake();
    let mut m = map("m", ARRAY, 4, 4, 1);
    m.def.selinux_context = Domain::NetShared;
    let winner = MapCreateAttr {
        map_type: ARRAY,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        map_flags: 0,
        name: "m".into(),
    };
    f.concurrent_pin(p("tethering/map_obj_m"), winner);
    let (maps, _, _) = loaded(load(&f, &obj(vec![m.clone()], vec![])));
    assert!(maps[0].reused);
    let (_, id, mode, _, _) = pin_at(&f, "tethering/map_obj_m").expect("winner pin");
    assert_eq!(id, maps[0].id);
    assert_eq!(mode, 0o600, "the winner's pin is not chmod-ed by the loser");
    assert!(
        pin_at(&f, "net_shared/tmp_map_obj_m").is_none(),
        "tmp pin removed"
    );

    // An incompatible winner fails the object; the winner stays.
    let f = fake();
    f.concurrent_pin(
        p("tethering/map_obj_m"),
        MapCreateAttr {
            map_type: ARRAY,
            key_size: 4,
            value_size: 8,
            max_entries: 1,
            map_flags: 0,
            name: "m".into(),
        },
    );
    let (err, _) = failed(load(&f, &obj(vec![m], vec![])));
    assert!(
        err.contains("value_size 8 on the existing pin, 4 in the object"),
        "{err}"
    );
    assert_eq!(f.pins().len(), 1);
    assert!(pin_at(&f, "net_shared/tmp_map_obj_m").is_none());
}

#[test]
fn direct_pin_race_reuses_the_winner() {
    let f = fake();
    f.concurrent_pin(
        p("tethering/map_obj_m"),
        MapCreateAttr {
            map_type: ARRAY,
            key_size: 4,
            value_size: 4,
            max_entries: 1,
            map_flags: 0,
            name: "m".into(),
        },
    );
    let (maps, _, _) = loaded(load(&f, &obj(vec![map("m", ARRAY, 4, 4, 1)], vec![])));
    assert!(maps[0].reused);
    assert_eq!(f.pins().len(), 1);
}

#[test]
fn stale_tmp_pin_is_replaced() {
    let f = fake();
    let stale = MapCreateAttr {
        map_type: HASH,
        key_size: 1,
        value_size: 1,
        max_entries: 1,
        map_flags: 0,
        name: "stale".into(),
    };
    let stale_id = f
        .pin_new_map(p("net_shared/tmp_map_obj_m"), &stale)
        .expect("stale");
    let mut m = map("m", ARRAY, 4, 4, 1);
    m.def.selinux_context = Domain::NetShared;
    let (maps, _, _) = loaded(load(&f, &obj(vec![m], vec![])));
    assert!(!maps[0].reused);
    assert_ne!(maps[0].id, stale_id);
    assert!(pin_at(&f, "net_shared/tmp_map_obj_m").is_none());
    assert!(pin_at(&f, "tethering/map_obj_m").is_some());
}

#[test]
fn failing_program_rolls_back_new_pins_only() {
    let f = fake();
    // A compatible pre-existing map: reused, must survive the rollback.
    let pre = f
        .pin_new_map(
            p("tethering/map_obj_old"),
            &MapCreateAttr {
                map_type: ARRAY,
                key_size: 4,
                value_size: 4,
                max_entries: 1,
                map_flags: 0,
                name: "old".into(),
            },
        )
        .expect("pre");
    f.fail_prog_load(
        "skfilter_bad",
        libc::EACCES,
        "0: (b7) r0 = 0\nR1 invalid mem access 'map_ptr'\n",
    );
    let mut with_ctx = prog("skfilter/good2", 1);
    with_ctx.def.selinux_context = Domain::NetShared;
    let spec = obj(
        vec![map("old", ARRAY, 4, 4, 1), map("new", HASH, 4, 4, 4)],
        vec![prog("skfilter/good", 0), with_ctx, prog("skfilter/bad", 1)],
    );
    let (err, log) = failed(load(&f, &spec));
    assert!(
        err.starts_with("program skfilter/bad: BPF_PROG_LOAD"),
        "{err}"
    );
    assert!(err.contains("Permission denied"), "errno kept: {err}");
    assert_eq!(
        log.as_deref(),
        Some("0: (b7) r0 = 0\nR1 invalid mem access 'map_ptr'")
    );
    let pins = f.pins();
    assert_eq!(pins.len(), 1, "{pins:?}");
    assert_eq!(
        (pins[0].0.clone(), pins[0].2),
        (p("tethering/map_obj_old"), pre)
    );
    // The good programs were loaded and pinned, then unlinked.
    assert!(f
        .calls()
        .contains(&format!("unlink {ROOT}/tethering/prog_obj_skfilter_good")));
    assert!(f
        .calls()
        .contains(&format!("unlink {ROOT}/tethering/prog_obj_skfilter_good2")));
    assert!(f
        .calls()
        .contains(&format!("unlink {ROOT}/tethering/map_obj_new")));
}

#[test]
fn failing_chown_rolls_back_that_pin_too() {
    let f = fake();
    f.fail_op("lchown", p("tethering/prog_obj_skfilter_x"), libc::EPERM);
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![prog("skfilter/x", 0)]);
    let (err, _) = failed(load(&f, &spec));
    assert!(
        err.contains("program skfilter/x: set owner: lchown"),
        "{err}"
    );
    assert!(f.pins().is_empty(), "{:?}", f.pins());
}

#[test]
fn optional_program_failure_is_tolerated() {
    let f = fake();
    f.fail_prog_load(
        "skfilter_opt_op",
        libc::EINVAL,
        "unknown func bpf_foo#999\n",
    );
    let mut opt = prog("skfilter/opt$opt", 0);
    opt.def.optional = true;
    let spec = obj(
        vec![map("m", ARRAY, 4, 4, 1)],
        vec![opt, prog("skfilter/opt$stub", 0)],
    );
    let (_, progs, skipped) = loaded(load(&f, &spec));
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].name, "skfilter/opt$opt");
    assert!(
        skipped[0]
            .reason
            .starts_with("optional program failed to load: BPF_PROG_LOAD"),
        "{}",
        skipped[0].reason
    );
    // The mandatory fallback variant takes the same pin name.
    assert_eq!(progs.len(), 1);
    assert_eq!(progs[0].pin, "tethering/prog_obj_skfilter_opt");
    assert!(!progs[0].reused);
}

#[test]
fn later_variant_reuses_the_pinned_one() {
    let f = fake();
    let spec = obj(
        vec![map("m", ARRAY, 4, 4, 1)],
        vec![prog("skfilter/v$5_4", 0), prog("skfilter/v$4_14", 0)],
    );
    let (_, progs, _) = loaded(load(&f, &spec));
    assert_eq!(progs.len(), 2);
    assert!(!progs[0].reused && progs[1].reused);
    assert_eq!(progs[0].id, progs[1].id);
    assert_eq!(count_calls(&f, "BPF_PROG_LOAD"), 1);
}

#[test]
fn verifier_log_grows_on_enospc_and_keeps_real_errno() {
    let f = fake();
    // 100 KiB of log: does not fit 64 KiB (ENOSPC), fits 256 KiB.
    let line = "42: (85) call bpf_map_lookup_elem#1 ; R0_w=map_value_or_null\n";
    let text = line.repeat(100 * 1024 / line.len() + 1);
    f.fail_prog_load("skfilter_x", libc::EACCES, &text);
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![prog("skfilter/x", 0)]);
    let (err, log) = failed(load(&f, &spec));
    assert!(err.contains("Permission denied"), "{err}");
    assert_eq!(log.as_deref(), Some(text.trim_end()));
    let sizes: Vec<String> = f
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("BPF_PROG_LOAD"))
        .collect();
    assert_eq!(
        sizes,
        vec![
            "BPF_PROG_LOAD skfilter_x log_size=0",
            "BPF_PROG_LOAD skfilter_x log_size=65536",
            "BPF_PROG_LOAD skfilter_x log_size=262144",
        ]
    );
}

#[test]
fn verifier_log_capped_at_16_mib() {
    let f = fake();
    let text = "x".repeat(LOG_SIZE_MAX + 10);
    f.fail_prog_load("skfilter_x", libc::E2BIG, &text);
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![prog("skfilter/x", 0)]);
    let (err, log) = failed(load(&f, &spec));
    // ENOSPC at the largest buffer: the first attempt's errno is reported.
    assert!(err.contains("Argument list too long"), "{err}");
    let log = log.expect("log");
    assert!(log.ends_with("... (verifier log truncated)"));
    let sizes: Vec<String> = f
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("BPF_PROG_LOAD"))
        .collect();
    assert_eq!(sizes.len(), 6, "0, 64K, 256K, 1M, 4M, 16M: {sizes:?}");
    assert_eq!(
        sizes.last().map(String::as_str),
        Some("BPF_PROG_LOAD skfilter_x log_size=16777215")
    );
}

#[test]
fn map_create_failure_names_map_and_errno() {
    let f = fake();
    f.fail_map_create("big", libc::ENOMEM);
    let spec = obj(
        vec![
            map("first", ARRAY, 4, 4, 1),
            map("big", HASH, 4, 4, 1 << 20),
        ],
        vec![],
    );
    let (err, _) = failed(load(&f, &spec));
    assert!(
        err.starts_with("map big: create: BPF_MAP_CREATE: "),
        "{err}"
    );
    assert!(err.contains("Cannot allocate memory"), "{err}");
    assert!(f.pins().is_empty());
}

#[test]
fn refuses_non_bpffs_before_creating_anything() {
    let f = FakeSys::new();
    f.add_dir(format!("{ROOT}/tethering")); // a plain directory, no bpffs
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![prog("skfilter/x", 0)]);
    let (err, _) = failed(load(&f, &spec));
    assert_eq!(
        err,
        format!("{ROOT}/tethering is not on a bpf filesystem (statfs f_type 0x1021994); refusing to pin there")
    );
    assert_eq!(count_calls(&f, "BPF_MAP_CREATE"), 0);

    let loc = Location::new("/etc/bpf", PREFIX);
    f.add_file("/etc/bpf/a.o", b"\0\0\0\0".to_vec());
    let r = load_location(&f, &cfg(), &loc);
    assert!(r.objects.is_empty());
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("not on a bpf filesystem")),
        "{r:?}"
    );
}

#[test]
fn missing_pin_directory_is_reported_before_creating() {
    let f = FakeSys::new();
    f.mount_bpffs(ROOT);
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![]);
    let (err, _) = failed(load(&f, &spec));
    assert!(
        err.starts_with(&format!("pin directory: statfs {ROOT}/tethering")),
        "{err}"
    );
    assert_eq!(count_calls(&f, "BPF_MAP_CREATE"), 0);
}

#[test]
fn location_reads_only_regular_o_files_and_survives_bad_ones() {
    let f = fake();
    f.add_file("/etc/bpf/zero.o", vec![0u8; 4096]);
    f.add_file("/etc/bpf/trunc.o", b"\x7fELF\x02\x01".to_vec());
    f.add_file("/etc/bpf/readme.txt", b"not an object".to_vec());
    f.add_dir("/etc/bpf/dir.o");
    let r = load_location(&f, &cfg(), &Location::new("/etc/bpf", "tethering"));
    assert_eq!(r.prefix, "tethering/");
    assert!(r.error.is_none());
    let files: Vec<&Path> = r.objects.iter().map(|o| o.file.as_path()).collect();
    assert_eq!(
        files,
        vec![Path::new("/etc/bpf/trunc.o"), Path::new("/etc/bpf/zero.o")]
    );
    for o in &r.objects {
        match &o.outcome {
            ObjectOutcome::Failed { error, .. } => {
                assert!(
                    error.starts_with(&format!("{}: ", o.file.display())),
                    "error names the file: {error}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(o.critical.is_none());
    }
    assert_eq!(r.critical_failures().count(), 0);
    assert!(!f.calls().iter().any(|c| c.contains("readme")));
    assert!(f.pins().is_empty());
}

#[test]
fn oversized_object_is_refused() {
    let f = fake();
    f.add_file("/etc/bpf/huge.o", vec![0u8; MAX_OBJECT_SIZE as usize + 1]);
    let r = load_location(&f, &cfg(), &Location::new("/etc/bpf", PREFIX));
    match &r.objects[0].outcome {
        ObjectOutcome::Failed { error, .. } => {
            assert!(error.contains("/etc/bpf/huge.o"), "{error}");
            assert!(error.contains("File too large"), "{error}");
        }
        o => panic!("{o:?}"),
    }
}

#[test]
fn old_kernels_get_no_names_and_no_info_checks() {
    let f = fake();
    let mut c = cfg();
    c.gate.kver = Kver::new(4, 9, 0);
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![prog("skfilter/x", 0)]);
    loaded(load_cfg(&f, &c, &spec));
    let calls = f.calls();
    // map_name/prog_name appeared in 4.15: an older kernel would say E2BIG.
    assert!(calls.contains(&"BPF_MAP_CREATE ".to_string()), "{calls:#?}");
    assert!(
        calls.contains(&"BPF_PROG_LOAD  log_size=0".to_string()),
        "{calls:#?}"
    );
    let mut c = cfg();
    c.gate.kver = Kver::new(4, 15, 0);
    let f = fake();
    loaded(load_cfg(&f, &c, &spec));
    assert!(f.calls().contains(&"BPF_MAP_CREATE m".to_string()));
}
