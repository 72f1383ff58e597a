//! Maps typed with BTF (the 2025 release's rules on kernels >= 5.10)
//! against [`FakeSys`], which refuses what the kernel refuses: SK_STORAGE
//! without BTF, a BTF whose DATASECs were not sized, FUNC linkage on an "old
//! kernel". Objects are the corpus ones (`bpf-progs`, built the Soong way).

use super::*;
use crate::gate::{Arch, BuildType};
use crate::release::{Release, Role};
use crate::spec::Kver;
use crate::sys::fake::FakeSys;
use crate::sys::{Op, SysError};

const ROOT: &str = "/sys/fs/bpf";
const DIR: &str = "/etc/bpf";
const PREFIX: &str = "net_private/";

/// `btf`: the 2025 release (maps typed from 5.10); else Android 15 (none).
fn cfg(f: &FakeSys, btf: bool, kver: Kver) -> LoadConfig {
    let rel = if btf { Release::R25Q2 } else { Release::V };
    let bpffs = Bpffs::open(f, Path::new(ROOT)).expect("bpffs");
    let gate = GateEnv {
        loader_ver: rel.loader_version(crate::release::API_25Q2, true),
        kver,
        build_type: BuildType::Userdebug,
        arch: Arch::X86_64,
    };
    LoadConfig::new(f, bpffs, rel.rules().role(Role::Mainline), gate)
        .expect("config")
        .sequential(true)
}

fn on(f: &FakeSys) -> LoadConfig {
    cfg(f, true, Kver::new(6, 18, 0))
}

fn fake() -> FakeSys {
    let f = FakeSys::new();
    f.mount_bpffs(ROOT);
    for d in [
        "tethering",
        "netd_shared",
        "netd_readonly",
        "net_shared",
        "net_private",
        "loader",
    ] {
        f.add_dir(format!("{ROOT}/{d}"));
    }
    f.add_dir(DIR);
    f
}

fn spec(file: &str) -> ObjectSpec {
    let obj = bpf_progs::object(file).unwrap_or_else(|| panic!("no {file}"));
    crate::parse::parse_object(Path::new(file), obj.bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn load_at(f: &FakeSys, c: &LoadConfig, prefix: &str, file: &str, s: &ObjectSpec) -> ObjectOutcome {
    load_object(f, c, &Location::new(DIR, prefix), Path::new(file), s)
}

fn load(f: &FakeSys, c: &LoadConfig, file: &str) -> ObjectOutcome {
    load_at(f, c, PREFIX, file, &spec(file))
}

fn calls(f: &FakeSys, op: Op) -> usize {
    f.calls()
        .iter()
        .filter(|c| c.starts_with(op.name()))
        .count()
}

/// The error's message and its kernel log.
fn failed(o: ObjectOutcome) -> (String, Option<String>) {
    match o {
        ObjectOutcome::Failed { error } => {
            (error.to_string(), error.verifier_log().map(str::to_string))
        }
        other => panic!("expected Failed, got {other:#?}"),
    }
}

fn loaded_maps(o: ObjectOutcome) -> Vec<PinReport> {
    match o {
        ObjectOutcome::Loaded { maps, .. } => maps,
        other => panic!("expected Loaded, got {other:#?}"),
    }
}

/// Final pins only (no temporaries left either).
fn pins(f: &FakeSys) -> Vec<std::path::PathBuf> {
    f.pins().into_iter().map(|(p, ..)| p).collect()
}

#[test]
fn sk_storage_loads_with_btf_typed_from_the_annotation() {
    let f = fake();
    let maps = loaded_maps(load(&f, &on(&f), "skStorage.o"));
    assert_eq!(calls(&f, Op::BtfLoad), 1, "one BTF load per object");
    let loads = f.btf_loads();
    let s = crate::btf::summary(&loads[0]).unwrap();
    assert_eq!(s.unsized_datasecs, 0, "DATASECs sized before the load");
    for m in &maps {
        let fake_map = f.map_by_id(m.id).unwrap();
        let btf = f.btf_by_id(fake_map.btf_id).expect("created with BTF");
        assert_eq!(btf.data, loads[0]);
        let types = fake_map.attr.btf.expect("BTF ids");
        assert!(types.key_type_id > 0 && types.value_type_id > 0);
    }
    let names: Vec<&str> = maps.iter().map(|m| m.pin.as_str()).collect();
    assert_eq!(
        names,
        [
            "net_private/map_skStorage_sk_storage_map",
            "net_private/map_skStorage_sk_created_map"
        ]
    );
}

#[test]
fn sk_storage_fails_alone_without_btf() {
    for (btf, kver) in [
        (false, Kver::new(6, 18, 0)),
        // The 2025 rules, but the kernel is older than 5.10: maps untyped.
        (true, Kver::new(5, 4, 0)),
    ] {
        let f = fake();
        let c = cfg(&f, btf, kver);
        let (error, _) = failed(load(&f, &c, "skStorage.o"));
        assert!(
            error.starts_with("map sk_storage_map: create: BPF_MAP_CREATE: "),
            "{error}"
        );
        assert!(error.contains("Invalid argument"), "{error}");
        assert_eq!(calls(&f, Op::BtfLoad), 0);
        assert!(pins(&f).is_empty());
    }
}

#[test]
fn devmap_hash_and_ring_buffers_are_created_untyped() {
    const RINGBUF: u32 = 27;
    const DEVMAP_HASH: u32 = 25;
    for (file, prefix) in [
        ("offload@mainline.o", "tethering/"),
        ("netd.o", "netd_shared/"),
    ] {
        let f = fake();
        let outcome = load_at(&f, &on(&f), prefix, file, &spec(file));
        let maps = loaded_maps(outcome);
        let mut untyped = 0;
        for m in &maps {
            let fm = f.map_by_id(m.id).unwrap();
            let plain = matches!(fm.attr.map_type, RINGBUF | DEVMAP_HASH);
            assert_eq!(fm.attr.btf.is_none(), plain, "{file}: {}", m.name);
            assert_eq!(fm.btf_id == 0, plain, "{file}: {}", m.name);
            untyped += usize::from(plain);
        }
        assert_eq!(untyped, 1, "{file}: tether_dev_map / packet_trace_ringbuf");
    }
}

#[test]
fn mismatch_and_corrupt_fail_before_anything_is_created() {
    for (file, want) in [
        (
            "btfMismatch.o",
            "BTF: map mismatch_map: BTF key/value sizes 4/4 (____btf_map_mismatch_map) \
             differ from the definition's 4/8",
        ),
        (
            "btfCorrupt.o",
            "BTF: malformed .BTF: type 1: unknown kind 31",
        ),
    ] {
        let f = fake();
        let (error, log) = failed(load(&f, &on(&f), file));
        assert_eq!(error, want);
        assert_eq!(log, None);
        assert_eq!(calls(&f, Op::BtfLoad), 0, "{file}");
        assert_eq!(calls(&f, Op::MapCreate), 0, "{file}");
        assert!(pins(&f).is_empty());
        // Without BTF both load.
        let f = fake();
        loaded_maps(load(&f, &cfg(&f, false, Kver::new(6, 18, 0)), file));
    }
}

#[test]
fn missing_btf_fails_an_object_with_maps_only() {
    let mut no_btf = spec("pktCount.o");
    no_btf.btf = None;
    let f = fake();
    let (error, _) = failed(load_at(&f, &on(&f), PREFIX, "p.o", &no_btf));
    assert_eq!(
        error,
        "no .BTF section: this release loads maps with BTF on kernel 6.18.0 (>= 5.10.0)"
    );
    assert!(pins(&f).is_empty());
    // An object without maps needs none (25Q2 returns before reading .BTF).
    no_btf.maps.clear();
    no_btf.present.maps = false;
    for p in &mut no_btf.programs {
        p.relocations.clear();
    }
    let f = fake();
    let outcome = load_at(&f, &on(&f), PREFIX, "p.o", &no_btf);
    assert!(
        matches!(outcome, ObjectOutcome::Loaded { .. }),
        "{outcome:#?}"
    );
    assert_eq!(calls(&f, Op::BtfLoad), 0);
}

#[test]
fn einval_is_retried_once_with_func_linkage_downgraded() {
    let f = fake();
    f.reject_btf_func_linkage();
    loaded_maps(load(&f, &on(&f), "skStorage.o"));
    let loads = f.btf_loads();
    assert_eq!(loads.len(), 2);
    let first = crate::btf::summary(&loads[0]).unwrap();
    let second = crate::btf::summary(&loads[1]).unwrap();
    assert_eq!(
        (first.funcs_with_linkage, second.funcs_with_linkage),
        (1, 0)
    );
    assert!(f.calls().iter().all(|c| !c.contains("log_size=262144")));
}

#[test]
fn refused_btf_fails_the_object_with_the_kernel_log() {
    // DATASECs sized 0: the kernel refuses the blob (EINVAL) with a log.
    let mut unsized_spec = spec("skStorage.o");
    let btf = unsized_spec.btf.as_mut().expect(".BTF");
    assert!(!btf.section_sizes.is_empty());
    btf.section_sizes.values_mut().for_each(|v| *v = 0);
    let f = fake();
    let (error, log) = failed(load_at(&f, &on(&f), PREFIX, "s.o", &unsized_spec));
    assert_eq!(
        error,
        "BTF: load (retried with FUNC linkage dropped): BPF_BTF_LOAD: Invalid argument (os error 22)"
    );
    assert_eq!(log.as_deref(), Some("DATASEC: Invalid offset"));
    // Plain, downgraded, and the downgraded one again for the log only.
    let loads = f.btf_loads();
    assert_eq!(loads.len(), 3);
    assert_eq!(loads[1], loads[2]);
    assert_eq!(calls(&f, Op::MapCreate), 0);
    assert!(pins(&f).is_empty());

    // Another errno: no retry, no log.
    let f = fake();
    f.fail_all(Op::BtfLoad, libc::EPERM);
    let (error, log) = failed(load(&f, &on(&f), "skStorage.o"));
    assert!(error.starts_with("BTF: load: BPF_BTF_LOAD: "), "{error}");
    assert_eq!((log, f.btf_loads().len()), (None, 1));
}

#[test]
fn rerun_reuses_maps_and_loads_no_btf() {
    let f = fake();
    let first = loaded_maps(load(&f, &on(&f), "skStorage.o"));
    f.clear_calls();
    let again = loaded_maps(load(&f, &on(&f), "skStorage.o"));
    assert!(again.iter().all(|m| m.reused));
    assert_eq!(
        first.iter().map(|m| m.id).collect::<Vec<_>>(),
        again.iter().map(|m| m.id).collect::<Vec<_>>()
    );
    assert_eq!(calls(&f, Op::BtfLoad), 0);
    assert_eq!(calls(&f, Op::MapCreate), 0);
}

#[test]
fn every_good_corpus_object_loads_the_same_with_btf() {
    for obj in bpf_progs::OBJECTS {
        let Some(loc) = obj.location else { continue };
        if obj.kind != bpf_progs::Kind::Good {
            continue;
        }
        let prefix = loc.bpffs_prefix();
        let load_with = |btf| {
            let f = fake();
            let c = cfg(&f, btf, Kver::new(6, 18, 0));
            let o = load_at(&f, &c, prefix, obj.file_name, &spec(obj.file_name));
            let pins: Vec<String> = loaded_maps(o).into_iter().map(|m| m.pin).collect();
            (pins, f.btf_loads().len())
        };
        let (with, loads) = load_with(true);
        let (without, none) = load_with(false);
        assert_eq!(with, without, "{}", obj.file_name);
        assert_eq!(
            (loads, none),
            (usize::from(!with.is_empty()), 0),
            "{}",
            obj.file_name
        );
    }
}

#[test]
fn btf_fd_must_be_live_in_the_fake_kernel() {
    // The fake refuses a stale fd as the kernel does (EBADF), so the tests
    // above prove the engine keeps the BTF fd open while creating maps.
    let f = FakeSys::new();
    let attr = crate::sys::MapCreateAttr {
        map_type: 1,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        map_flags: 0,
        name: "m".into(),
        btf: Some(crate::sys::MapBtf {
            fd: -1,
            key_type_id: 1,
            value_type_id: 1,
        }),
    };
    let e: SysError = crate::sys::Bpf::map_create(&f, &attr).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EBADF));
}
