//! Engine unit tests against the fake kernel: no root needed.
//!
//! Expected pin paths, modes and kernel names follow Android's rules
//! (`docs/android-release-rules.md` §7–§9), not the code under test.

use super::*;
use crate::gate::{Arch, BuildType};
use crate::release::{Release, Role};
use crate::spec::{Domain, Kver};
use crate::sys::fake::{FakeSys, Node, ObjKind};
use crate::sys::{Files, MapCreateAttr, Op};
use crate::test_support::{
    map, obj, prog, AID_NET_BW_ACCT, AID_SYSTEM, ARRAY, HASH, SOCKET_FILTER,
};
use aya_obj::generated::{bpf_map_type, BPF_F_RDONLY_PROG};

const ROOT: &str = "/sys/fs/bpf";
const DIR: &str = "/etc/bpf";

fn fake() -> FakeSys {
    let f = FakeSys::new();
    f.mount_bpffs(ROOT);
    for d in [
        "tethering",
        "net_shared",
        "netd_shared",
        "netd_readonly",
        "loader",
    ] {
        f.add_dir(format!("{ROOT}/{d}"));
    }
    f.add_dir(DIR);
    f
}

fn cfg_with(f: &FakeSys, rel: Release, kver: Kver) -> LoadConfig {
    let bpffs = Bpffs::open(f, Path::new(ROOT)).expect("bpffs");
    let gate = GateEnv {
        loader_ver: rel.loader_version(35, true),
        kver,
        build_type: BuildType::Userdebug,
        arch: Arch::X86_64,
    };
    LoadConfig::new(f, bpffs, rel.rules().role(Role::Mainline), gate)
        .expect("config")
        .sequential(true)
}

fn cfg(f: &FakeSys) -> LoadConfig {
    cfg_with(f, Release::V, Kver::new(6, 18, 0))
}

fn loc() -> Location {
    Location::new(DIR, "tethering/")
}

fn load_cfg(f: &FakeSys, c: &LoadConfig, spec: &ObjectSpec) -> ObjectOutcome {
    load_object(f, c, &loc(), Path::new("/etc/bpf/obj.o"), spec)
}

fn load(f: &FakeSys, spec: &ObjectSpec) -> ObjectOutcome {
    load_cfg(f, &cfg(f), spec)
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
            ..
        } => (maps, programs, skipped),
        other => panic!("expected Loaded, got {other:?}"),
    }
}

fn failed(o: ObjectOutcome) -> ObjectError {
    match o {
        ObjectOutcome::Failed { error } => error,
        other => panic!("expected Failed, got {other:?}"),
    }
}

fn load_error(o: ObjectOutcome) -> LoadError {
    match failed(o) {
        ObjectError::Load(e) => e,
        other => panic!("expected a load error, got {other:?}"),
    }
}

/// Index of the first call starting with `pat`.
fn first_call(calls: &[String], pat: &str) -> usize {
    calls
        .iter()
        .position(|c| c.starts_with(pat))
        .unwrap_or_else(|| panic!("{pat} not in {calls:#?}"))
}

fn count_calls(f: &FakeSys, prefix: &str) -> usize {
    f.calls().iter().filter(|c| c.starts_with(prefix)).count()
}

/// The loader never locks or unlinks anything (Android's policy forbids
/// both on the bpffs).
fn assert_no_lock_no_unlink(f: &FakeSys) {
    let bad: Vec<String> = f
        .calls()
        .into_iter()
        .filter(|c| c.starts_with(Op::Unlink.name()) || c.starts_with(Op::Lock.name()))
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

/// Every pin at a final (non-temporary) path.
fn final_pins(f: &FakeSys) -> Vec<PathBuf> {
    f.pins()
        .into_iter()
        .map(|(p, ..)| p)
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(paths::TMP_PIN_PREFIX))
        })
        .collect()
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

    let (kind, map_id, mode, uid, gid) = pin_at(&f, &maps[0].pin).expect("map pin");
    assert_eq!(kind, ObjKind::Map);
    assert_eq!((mode, uid, gid), (0o460, AID_SYSTEM, AID_NET_BW_ACCT));
    assert_eq!(map_id, maps[0].id);
    let (kind, prog_id, mode, uid, gid) = pin_at(&f, &progs[0].pin).expect("prog pin");
    assert_eq!(kind, ObjKind::Prog);
    assert_eq!((mode, uid, gid), (paths::PROG_PIN_MODE, 0, AID_SYSTEM));
    let lp = f.prog_by_id(prog_id).expect("prog");
    assert_eq!(lp.name, "skfilter_count_");
    assert_eq!(lp.license, "Apache 2.0");
    assert_eq!(lp.kern_version, Kver::new(6, 18, 0).0);
    assert_eq!(lp.prog_type, SOCKET_FILTER);
    // src_reg = BPF_PSEUDO_MAP_FD, dst_reg = r1.
    assert_eq!(lp.insns[1], 0x11);
    assert_eq!(lp.map_ids, vec![map_id]);
    // Exactly the two pins, no temporary one left.
    assert_eq!(f.pins().len(), 2);
    assert_no_lock_no_unlink(&f);
}

#[test]
fn new_pins_appear_fully_set_up_and_maps_first() {
    let f = fake();
    let mut m = map("m", ARRAY, 4, 8, 1);
    m.def.selinux_context = Domain::NetdShared;
    let mut pr = prog("skfilter/x", 0);
    pr.def.selinux_context = Domain::NetdShared;
    pr.def.pin_subdir = Domain::NetdShared;
    loaded(load(&f, &obj(vec![m], vec![pr])));
    let calls = f.calls();
    let pos = |pat: &str| first_call(&calls, pat);
    // Map: pinned under a temporary name in the selinux_context directory,
    // given mode and owner there, then renamed to its final path.
    let pin_tmp = pos(&format!("BPF_OBJ_PIN {ROOT}/netd_shared/tmp_nbl_4242_"));
    let chmod = pos(&format!("chmod {ROOT}/netd_shared/tmp_nbl_4242_"));
    let chown = pos(&format!("lchown {ROOT}/netd_shared/tmp_nbl_4242_"));
    let rename_map = pos(&format!(
        "renameat2(RENAME_NOREPLACE) {ROOT}/tethering/map_obj_m"
    ));
    let rename_prog = pos(&format!(
        "renameat2(RENAME_NOREPLACE) {ROOT}/netd_shared/prog_obj_skfilter_x"
    ));
    assert!(
        pin_tmp < chmod && chmod < chown && chown < rename_map,
        "{calls:#?}"
    );
    assert!(rename_map < rename_prog, "maps are put in place first");
    // Nothing is renamed into place before every pin is staged.
    let last_pin = calls
        .iter()
        .rposition(|c| c.starts_with("BPF_OBJ_PIN"))
        .expect("pins");
    assert!(last_pin < rename_map, "{calls:#?}");
    assert!(pin_at(&f, "tethering/map_obj_m").is_some());
    assert!(pin_at(&f, "netd_shared/prog_obj_skfilter_x").is_some());
    assert_eq!(f.pins().len(), 2, "{:?}", f.pins());
    assert_no_lock_no_unlink(&f);
}

#[test]
fn shared_map_pin_name_has_no_object_name() {
    let f = fake();
    let mut m = map("shared_m", ARRAY, 4, 4, 1);
    m.def.shared = true;
    let (maps, _, _) = loaded(load(&f, &obj(vec![m], vec![])));
    assert_eq!(maps[0].pin, "tethering/map__shared_m");
    assert!(pin_at(&f, "tethering/map__shared_m").is_some());
}

#[test]
fn map_gates_skip_without_creating() {
    let f = fake();
    let mut newer_kernel = map("newer_kernel", ARRAY, 4, 4, 1);
    newer_kernel.def.min_kver = Kver::new(7, 0, 0);
    let mut newer_loader = map("newer_loader", ARRAY, 4, 4, 1);
    newer_loader.def.bpfloader_min_ver = 47;
    let mut not_userdebug = map("not_userdebug", ARRAY, 4, 4, 1);
    not_userdebug.def.ignore_on = crate::spec::IgnoreOn::from_bits(0x04);
    let spec = obj(
        vec![
            map("kept", ARRAY, 4, 4, 1),
            newer_kernel,
            newer_loader,
            not_userdebug,
        ],
        vec![prog("skfilter/p", 0)],
    );
    let (maps, progs, skipped) = loaded(load(&f, &spec));
    assert_eq!(maps.len(), 1);
    assert_eq!(progs.len(), 1);
    let reasons: Vec<(String, String)> = skipped
        .iter()
        .map(|s| (s.name.clone(), s.reason.to_string()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "newer_kernel".to_string(),
                "kernel 6.18.0 not in [7.0.0, inf)".to_string()
            ),
            (
                "newer_loader".to_string(),
                "loader version 46 not in [47, 65536)".to_string()
            ),
            (
                "not_userdebug".to_string(),
                "ignore_on_userdebug on a userdebug build".to_string()
            ),
        ]
    );
    for gone in ["newer_kernel", "newer_loader", "not_userdebug"] {
        assert!(pin_at(&f, &format!("tethering/map_obj_{gone}")).is_none());
        assert!(!f.calls().contains(&format!("BPF_MAP_CREATE {gone}")));
    }
}

#[test]
fn skipped_map_relocates_to_minus_one_and_the_object_fails_untouched() {
    let f = fake();
    let mut gone = map("gone", ARRAY, 4, 4, 1);
    gone.def.min_kver = Kver::new(9, 0, 0);
    let spec = obj(
        vec![map("kept", ARRAY, 4, 4, 1), gone],
        vec![prog("skfilter/p", 1)],
    );
    let e = load_error(load(&f, &spec));
    match &e {
        LoadError::ProgLoad { prog, source, .. } => {
            assert_eq!(prog, "skfilter/p");
            assert_eq!(source.errno(), Some(libc::EBADF));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        f.pins().is_empty(),
        "the kept map was never pinned: {:?}",
        f.pins()
    );
    assert_no_lock_no_unlink(&f);
}

#[test]
fn program_gates() {
    let f = fake();
    let mut newer = prog("skfilter/newer", 0);
    newer.def.min_kver = Kver::new(7, 0, 0);
    let mut older = prog("skfilter/older", 0);
    older.def.max_kver = Kver::new(5, 10, 0);
    let spec = obj(
        vec![map("m", ARRAY, 4, 4, 1)],
        vec![prog("skfilter/ok", 0), newer, older],
    );
    let (_, progs, skipped) = loaded(load(&f, &spec));
    assert_eq!(progs.len(), 1);
    assert_eq!(progs[0].pin, "tethering/prog_obj_skfilter_ok");
    assert_eq!(
        skipped.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["skfilter/newer", "skfilter/older"]
    );
    assert_eq!(count_calls(&f, "BPF_PROG_LOAD"), 1);
}

#[test]
fn object_loader_version_gate() {
    let f = fake();
    let mut spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![]);
    spec.bpfloader_min_ver = 47;
    match load(&f, &spec) {
        ObjectOutcome::Skipped { reason } => {
            assert_eq!(reason.to_string(), "loader version 46 not in [47, 65536)")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count_calls(&f, "BPF_"), 0, "{:?}", f.calls());
}

#[test]
fn ringbuf_raised_to_page_size() {
    let f = fake();
    f.set_page_size(16384);
    let rb = bpf_map_type::BPF_MAP_TYPE_RINGBUF as u32;
    let spec = obj(vec![map("rb", rb, 0, 0, 4096)], vec![]);
    let (maps, _, _) = loaded(load(&f, &spec));
    let m = f.map_by_id(maps[0].id).expect("map");
    assert_eq!(m.attr.max_entries, 16384);
    // Reused on the next run: the adjusted size is what is compared.
    let (maps, _, _) = loaded(load(&f, &spec));
    assert!(maps[0].reused);
}

#[test]
fn devmap_substitution_on_old_kernels_and_rdonly_prog_tolerated() {
    let devmap = bpf_map_type::BPF_MAP_TYPE_DEVMAP as u32;
    let devmap_hash = bpf_map_type::BPF_MAP_TYPE_DEVMAP_HASH as u32;
    let f = fake();
    let old = cfg_with(&f, Release::V, Kver::new(4, 9, 0));
    let (maps, _, _) = loaded(load_cfg(
        &f,
        &old,
        &obj(vec![map("d", devmap, 4, 4, 8)], vec![]),
    ));
    // Below 4.14 the loader neither names nor checks maps, so ids are 0:
    // look the map up by its pin.
    let id = match f.node(p("tethering/map_obj_d")) {
        Some(Node::Pin(_, _, id)) => id,
        other => panic!("{other:?}"),
    };
    assert_eq!(maps[0].id, 0);
    assert_eq!(f.map_by_id(id).expect("map").attr.map_type, ARRAY);

    let f = fake();
    let k419 = cfg_with(&f, Release::V, Kver::new(4, 19, 0));
    let (maps, _, _) = loaded(load_cfg(
        &f,
        &k419,
        &obj(vec![map("h", devmap_hash, 4, 4, 8)], vec![]),
    ));
    assert_eq!(f.map_by_id(maps[0].id).expect("map").attr.map_type, HASH);

    let f = fake();
    let spec = obj(vec![map("h", devmap_hash, 4, 4, 8)], vec![]);
    let (maps, _, _) = loaded(load(&f, &spec));
    let m = f.map_by_id(maps[0].id).expect("map");
    assert_eq!(m.attr.map_type, devmap_hash);
    assert_eq!(m.attr.map_flags, BPF_F_RDONLY_PROG);
    let (maps, _, _) = loaded(load(&f, &spec));
    assert!(maps[0].reused, "the kernel's RDONLY_PROG is not a mismatch");
}

#[test]
fn rerun_reuses_everything_and_creates_nothing() {
    let f = fake();
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![prog("skfilter/p", 0)]);
    let (m1, p1, _) = loaded(load(&f, &spec));
    let pins_before = f.pins();
    f.clear_calls();
    let (m2, p2, _) = loaded(load(&f, &spec));
    assert!(m2.iter().chain(&p2).all(|p| p.reused));
    let ids = |v: &[PinReport]| v.iter().map(|p| p.id).collect::<Vec<_>>();
    assert_eq!(ids(&m1), ids(&m2));
    assert_eq!(ids(&p1), ids(&p2));
    assert_eq!(f.pins(), pins_before);
    for op in [
        "BPF_MAP_CREATE",
        "BPF_PROG_LOAD",
        "BPF_OBJ_PIN",
        "chmod",
        "lchown",
    ] {
        assert_eq!(count_calls(&f, op), 0, "{op}: {:#?}", f.calls());
    }
}

#[test]
fn incompatible_existing_pin_fails_the_object_and_is_left_intact() {
    for (field, attr) in [
        ("key_size", (ARRAY, 8, 4, 1, 0)),
        ("value_size", (ARRAY, 4, 8, 1, 0)),
        ("max_entries", (ARRAY, 4, 4, 2, 0)),
        ("map_type", (HASH, 4, 4, 1, 0)),
        ("map_flags", (ARRAY, 4, 4, 1, 1024)),
    ] {
        let f = fake();
        let existing = f
            .pin_new_map(
                p("tethering/map_obj_b"),
                &MapCreateAttr {
                    map_type: attr.0,
                    key_size: attr.1,
                    value_size: attr.2,
                    max_entries: attr.3,
                    map_flags: attr.4,
                    name: "b".into(),
                    btf: None,
                },
            )
            .expect("existing");
        let spec = obj(
            vec![map("a", ARRAY, 4, 4, 1), map("b", ARRAY, 4, 4, 1)],
            vec![prog("skfilter/p", 0)],
        );
        match load_error(load(&f, &spec)) {
            LoadError::MapMismatch {
                pin, field: got, ..
            } => {
                assert_eq!(pin, "tethering/map_obj_b");
                assert_eq!(got, field);
            }
            other => panic!("{field}: {other:?}"),
        }
        let pins = f.pins();
        assert_eq!(pins.len(), 1, "{field}: {pins:?}");
        assert_eq!(pins[0].2, existing, "existing pin untouched");
        assert_eq!(count_calls(&f, "BPF_PROG_LOAD"), 0);
        assert_no_lock_no_unlink(&f);
    }
}

#[test]
fn nothing_at_a_pin_path_is_trusted() {
    // A symlink planted (by anyone: the pin directories are world
    // writable) at B's pin path, pointing at A's private map.
    let f = fake();
    let secret = f
        .pin_new_map(
            p("tethering/map_a_secret"),
            &MapCreateAttr {
                map_type: ARRAY,
                key_size: 4,
                value_size: 4,
                max_entries: 1,
                name: "secret".into(),
                ..Default::default()
            },
        )
        .expect("secret");
    f.set_meta(p("tethering/map_a_secret"), 0o600, 0, 0);
    f.add_symlink(
        p("tethering/map_obj_public"),
        p("tethering/map_a_secret"),
        65534,
    );
    let spec = obj(vec![map("public", ARRAY, 4, 4, 1)], vec![]);
    match load_error(load(&f, &spec)) {
        LoadError::NotOurPin {
            pin, found, uid, ..
        } => {
            assert_eq!(pin, "tethering/map_obj_public");
            assert_eq!(found, "a symlink");
            assert_eq!(uid, 65534);
        }
        other => panic!("{other:?}"),
    }
    // The secret map was neither opened nor re-moded.
    assert!(
        !f.calls().iter().any(|c| c.starts_with("BPF_OBJ_GET ")),
        "{:#?}",
        f.calls()
    );
    assert!(!f.calls().iter().any(|c| c.starts_with("chmod")));
    match f.node(p("tethering/map_a_secret")) {
        Some(Node::Pin(m, _, id)) => assert_eq!((m.mode, id), (0o600, secret)),
        other => panic!("{other:?}"),
    }

    // A directory, or a program where a map belongs: refused by name.
    let f = fake();
    f.add_dir(p("tethering/map_obj_m"));
    match load_error(load(&f, &obj(vec![map("m", ARRAY, 4, 4, 1)], vec![]))) {
        LoadError::NotOurPin { found, .. } => assert_eq!(found, "a directory"),
        other => panic!("{other:?}"),
    }
    let f = fake();
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![prog("skfilter/p", 0)]);
    loaded(load(&f, &spec));
    let moved = obj(vec![map("skfilter_p", ARRAY, 4, 4, 1)], vec![]);
    // `map_obj_skfilter_p` does not exist; make a program sit there.
    f.rename_noreplace(
        &p("tethering/prog_obj_skfilter_p"),
        &p("tethering/map_obj_skfilter_p"),
    )
    .expect("move");
    match load_error(load(&f, &moved)) {
        LoadError::NotOurPin {
            found, expected, ..
        } => {
            assert_eq!(found, "a pinned program");
            assert_eq!(expected, ObjKind::Map);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn existing_program_pin_of_another_type_fails() {
    let f = fake();
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![prog("skfilter/p", 0)]);
    loaded(load(&f, &spec));
    let mut other = spec.clone();
    other.programs[0].section = "schedcls/p".into();
    other.programs[0].kind = crate::section::prog_kind("schedcls/p").expect("kind");
    other.programs[0].pin_name = "skfilter_p".into();
    match load_error(load(&f, &other)) {
        LoadError::ProgMismatch {
            actual, expected, ..
        } => assert_eq!((actual, expected), (1, 3)),
        e => panic!("{e:?}"),
    }
    assert_eq!(f.pins().len(), 2, "reused pins are left as they were");
}

#[test]
fn a_concurrent_loader_winning_a_pin_is_reused_on_a_second_attempt() {
    let f = fake();
    let attr = MapCreateAttr {
        map_type: ARRAY,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        name: "m".into(),
        btf: None,
        map_flags: 0,
    };
    f.concurrent_pin(p("tethering/map_obj_m"), attr);
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![prog("skfilter/p", 0)]);
    let (maps, progs, _) = loaded(load(&f, &spec));
    assert!(maps[0].reused, "the winner's map is used");
    let (_, id, mode, uid, gid) = pin_at(&f, "tethering/map_obj_m").expect("pin");
    assert_eq!(id, maps[0].id);
    // The winner's pin was still at the kernel's default (0600, root): it
    // gets the declared mode and owner, as the winner would have given it.
    assert_eq!((mode, uid, gid), (0o460, AID_SYSTEM, AID_NET_BW_ACCT));
    // The program of the second attempt uses the winner's map.
    let prog = f.prog_by_id(progs[0].id).expect("prog");
    assert_eq!(prog.map_ids, vec![id]);
    assert_eq!(count_calls(&f, "BPF_PROG_LOAD"), 2, "one load per attempt");
}

#[test]
fn a_failing_program_leaves_no_pin_and_nothing_is_unlinked() {
    let f = fake();
    f.pin_new_map(
        p("tethering/map_obj_reused"),
        &MapCreateAttr {
            map_type: ARRAY,
            key_size: 4,
            value_size: 4,
            max_entries: 1,
            name: "reused".into(),
            ..Default::default()
        },
    )
    .expect("existing");
    f.fail_prog_load("skfilter_bad", libc::EACCES, "0: R0 !read_ok\n");
    let spec = obj(
        vec![map("reused", ARRAY, 4, 4, 1), map("fresh", ARRAY, 4, 4, 1)],
        vec![prog("skfilter/good", 1), prog("skfilter/bad", 0)],
    );
    let e = failed(load(&f, &spec));
    assert_eq!(e.kind(), crate::error::ErrorKind::Load);
    assert_eq!(e.reason(), "prog_load");
    assert_eq!(e.errno(), Some(libc::EACCES));
    assert_eq!(e.verifier_log(), Some("0: R0 !read_ok"));
    // Only the pin that existed before; nothing of this run was pinned.
    let pins = final_pins(&f);
    assert_eq!(pins, [p("tethering/map_obj_reused")]);
    assert_eq!(
        count_calls(&f, "BPF_OBJ_PIN"),
        1,
        "only the pre-existing one"
    );
    assert_no_lock_no_unlink(&f);
}

#[test]
fn an_owner_the_loader_cannot_set_fails_before_anything_is_pinned() {
    let f = fake();
    f.set_credentials(crate::sys::Credentials {
        pid: 4242,
        euid: 0,
        egid: 0,
        groups: vec![],
        cap_effective: 0,
    });
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![prog("skfilter/p", 0)]);
    match load_error(load(&f, &spec)) {
        LoadError::Owner { pin, uid, gid } => {
            assert_eq!(pin, "tethering/map_obj_m");
            assert_eq!((uid, gid), (AID_SYSTEM, AID_NET_BW_ACCT));
        }
        other => panic!("{other:?}"),
    }
    assert!(f.pins().is_empty(), "{:?}", f.pins());
    assert_no_lock_no_unlink(&f);
}

#[test]
fn a_failing_chown_leaves_no_final_pin() {
    let f = fake();
    f.fail_all(Op::Chown, libc::EPERM);
    let spec = obj(
        vec![map("a", ARRAY, 4, 4, 1), map("b", ARRAY, 4, 4, 1)],
        vec![],
    );
    let e = load_error(load(&f, &spec));
    assert_eq!(e.errno(), Some(libc::EPERM));
    assert!(final_pins(&f).is_empty(), "{:?}", f.pins());
    assert_eq!(count_calls(&f, Op::Rename.name()), 0);
    assert_no_lock_no_unlink(&f);
}

#[test]
fn optional_program_failure_is_tolerated() {
    let f = fake();
    f.fail_prog_load("skfilter_opt_op", libc::EINVAL, "bad\n");
    let mut opt = prog("skfilter/opt$opt", 0);
    opt.def.optional = true;
    let spec = obj(
        vec![map("m", ARRAY, 4, 4, 1)],
        vec![opt, prog("skfilter/opt$stub", 0)],
    );
    let (_, progs, skipped) = loaded(load(&f, &spec));
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].name, "skfilter/opt$opt");
    assert_eq!(
        skipped[0].reason,
        crate::gate::SkipReason::OptionalFailed {
            errno: libc::EINVAL
        }
    );
    assert_eq!(progs.len(), 1);
    assert_eq!(progs[0].pin, "tethering/prog_obj_skfilter_opt");
    assert!(!progs[0].reused);
}

#[test]
fn later_variant_reuses_the_pinned_one() {
    let f = fake();
    let spec = obj(
        vec![map("m", ARRAY, 4, 4, 1)],
        vec![prog("skfilter/v$a", 0), prog("skfilter/v$b", 0)],
    );
    let (_, progs, _) = loaded(load(&f, &spec));
    assert_eq!(progs.len(), 2);
    assert!(!progs[0].reused && progs[1].reused);
    assert_eq!(progs[0].id, progs[1].id);
    assert_eq!(count_calls(&f, "BPF_PROG_LOAD"), 1);
    assert_eq!(count_calls(&f, "BPF_OBJ_PIN"), 2, "one map, one program");
}

#[test]
fn a_program_is_verified_at_most_twice() {
    // EACCES: a second load with a 1 MiB log explains it; no third.
    let f = fake();
    let text = "0: (b7) r0 = 0\n1: (95) exit\nR0 !read_ok\n";
    f.fail_prog_load("skfilter_p", libc::EACCES, text);
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![prog("skfilter/p", 0)]);
    let e = load_error(load(&f, &spec));
    assert_eq!(e.errno(), Some(libc::EACCES));
    assert_eq!(e.verifier_log(), Some(text.trim_end()));
    let sizes: Vec<String> = f
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("BPF_PROG_LOAD"))
        .collect();
    assert_eq!(
        sizes,
        [
            "BPF_PROG_LOAD skfilter_p log_size=0",
            "BPF_PROG_LOAD skfilter_p log_size=1048576"
        ]
    );

    // A log that does not fit: no growing retry, the first errno stays.
    let f = fake();
    f.fail_prog_load("skfilter_p", libc::EACCES, &"x".repeat(2 << 20));
    let e = load_error(load(&f, &spec));
    assert_eq!(e.errno(), Some(libc::EACCES));
    assert!(e
        .verifier_log()
        .is_some_and(|l| l.ends_with("(verifier log cut at 1 MiB)")));
    assert!(e
        .verifier_log()
        .is_some_and(|l| l.len() < verify::LOG_TAIL_MAX + 200));
    assert_eq!(count_calls(&f, "BPF_PROG_LOAD"), 2);

    // E2BIG (too large or too complex): verified once, no log attempt.
    let f = fake();
    f.fail_prog_load("skfilter_p", libc::E2BIG, "BPF program is too large\n");
    let e = load_error(load(&f, &spec));
    assert_eq!(e.errno(), Some(libc::E2BIG));
    assert_eq!(e.verifier_log(), None);
    assert_eq!(count_calls(&f, "BPF_PROG_LOAD"), 1);
}

#[test]
fn a_spent_verification_budget_stops_further_attempts() {
    let f = fake();
    let mut c = cfg(&f);
    c.verify_budget = Duration::ZERO;
    let mut a = prog("skfilter/a", 0);
    a.def.optional = true;
    let mut b = prog("skfilter/b", 0);
    b.def.optional = true;
    f.fail_prog_load("skfilter_a", libc::EACCES, "no\n");
    let spec = obj(
        vec![map("m", ARRAY, 4, 4, 1)],
        vec![a, b, prog("skfilter/c", 0)],
    );
    match load_error(load_cfg(&f, &c, &spec)) {
        LoadError::VerifyBudget { prog, failed, .. } => {
            assert_eq!(prog, "skfilter/b");
            assert_eq!(failed, 1);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count_calls(&f, "BPF_PROG_LOAD"), 1, "{:#?}", f.calls());
    assert!(f.pins().is_empty());
}

/// Every verification takes at least 60 ms (a program the verifier walks
/// for long, and passes).
struct SlowVerifier;

impl crate::sys::Hook for SlowVerifier {
    fn before(&self, op: Op, _path: Option<&Path>) -> crate::sys::SysResult<()> {
        if op == Op::ProgLoad {
            std::thread::sleep(Duration::from_millis(60));
        }
        Ok(())
    }
}

#[test]
fn passing_verifications_share_a_total_budget() {
    let f = fake();
    let mut c = cfg(&f);
    c.verify_total = Duration::from_millis(100);
    let progs: Vec<_> = (0..6).map(|i| prog(&format!("skfilter/p{i}"), 0)).collect();
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], progs);
    let sys = crate::sys::Interposed::new(f, SlowVerifier);
    let outcome = load_object(&sys, &c, &loc(), Path::new("/etc/bpf/obj.o"), &spec);
    // Every program passes; the budget alone stops the object: after 2
    // verifications at the latest (each took at least 60 ms), never before
    // the first.
    let loads = count_calls(&sys.inner, "BPF_PROG_LOAD");
    match load_error(outcome) {
        LoadError::VerifyTime {
            prog,
            verified,
            spent_ms,
            budget_ms,
        } => {
            assert!((1..=2).contains(&verified), "{verified}");
            assert_eq!(verified, loads, "one load per verification");
            assert_eq!(prog, format!("skfilter/p{verified}"));
            assert!(spent_ms >= 100, "{spent_ms}");
            assert_eq!(budget_ms, 100);
        }
        other => panic!("{other:?}"),
    }
    assert!(sys.inner.pins().is_empty(), "a failed object pins nothing");

    // The default budget lets the same object load.
    let f = fake();
    let c = cfg(&f);
    assert_eq!(c.verify_total, verify::DEFAULT_VERIFY_TOTAL);
    let progs: Vec<_> = (0..6).map(|i| prog(&format!("skfilter/p{i}"), 0)).collect();
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], progs);
    let sys = crate::sys::Interposed::new(f, SlowVerifier);
    let outcome = load_object(&sys, &c, &loc(), Path::new("/etc/bpf/obj.o"), &spec);
    assert!(
        matches!(outcome, ObjectOutcome::Loaded { .. }),
        "{outcome:?}"
    );
    assert_eq!(count_calls(&sys.inner, "BPF_PROG_LOAD"), 6);
}

#[test]
fn maps_beyond_the_memory_budget_are_never_created() {
    let f = fake();
    let mut c = cfg(&f);
    // The fake machine: 4 GiB, so 1 GiB per object by default.
    assert_eq!(c.map_bytes.max, 1 << 30);
    let spec = obj(
        vec![
            map("ok", ARRAY, 4, 4, 1),
            // 2^30 x (4 + 8) bytes: 12 GiB.
            map("greedy", ARRAY, 4, 8, 1 << 30),
        ],
        vec![prog("skfilter/p", 0)],
    );
    match failed(load_cfg(&f, &c, &spec)) {
        ObjectError::Plan(crate::plan::PlanError::MapBytes { largest, max, .. }) => {
            assert_eq!(largest, "greedy");
            assert_eq!(max, 1 << 30);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count_calls(&f, "BPF_MAP_CREATE"), 0, "{:#?}", f.calls());
    assert_eq!(count_calls(&f, "BPF_PROG_LOAD"), 0);
    assert!(f.pins().is_empty());
    // Raised (`--map-memory-max-mib`), the kernel is asked.
    c.map_bytes.max = u64::MAX;
    assert!(matches!(
        load_cfg(&f, &c, &spec),
        ObjectOutcome::Loaded { .. }
    ));
    assert_eq!(count_calls(&f, "BPF_MAP_CREATE"), 2);
}

#[test]
fn map_create_failure_names_map_and_errno() {
    let f = fake();
    f.fail_map_create("big", libc::ENOMEM);
    let spec = obj(
        vec![map("ok", ARRAY, 4, 4, 1), map("big", ARRAY, 4, 4, 1)],
        vec![],
    );
    match load_error(load(&f, &spec)) {
        LoadError::Sys { what, source } => {
            assert_eq!(what, "map big: create");
            assert_eq!(source.op, Op::MapCreate);
            assert_eq!(source.errno(), Some(libc::ENOMEM));
        }
        other => panic!("{other:?}"),
    }
    assert!(f.pins().is_empty());
}

#[test]
fn pin_directories_must_be_bpffs_directories() {
    // Missing.
    let f = FakeSys::new();
    f.mount_bpffs(ROOT);
    f.add_dir(DIR);
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![]);
    match load_error(load(&f, &spec)) {
        LoadError::PinDir { dir, problem } => {
            assert_eq!(dir, p("tethering"));
            assert_eq!(problem.to_string(), "does not exist");
            assert_eq!(problem.errno(), libc::ENOENT);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count_calls(&f, "BPF_MAP_CREATE"), 0);
    // A symlink in its place.
    f.add_symlink(p("tethering"), "/tmp", 0);
    match load_error(load(&f, &spec)) {
        LoadError::PinDir { problem, .. } => {
            assert_eq!(
                problem.to_string(),
                "is a symlink owned by uid 0, not a directory"
            )
        }
        other => panic!("{other:?}"),
    }
    // Created on demand when the caller asks for it (`load`).
    let f = FakeSys::new();
    f.mount_bpffs(ROOT);
    let mut c = cfg(&f);
    c.create_pin_dirs = true;
    loaded(load_cfg(&f, &c, &spec));
    match f.node(p("tethering")) {
        Some(Node::Dir(m)) => assert_eq!(m.mode, 0o1777),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bpffs_root_is_checked_once() {
    let f = FakeSys::new();
    f.add_dir("/tmp/notbpf");
    assert!(matches!(
        Bpffs::open(&f, Path::new("/tmp/notbpf")),
        Err(crate::bpffs::BpffsError::NotBpffs { .. })
    ));
    f.mount_bpffs(ROOT);
    f.set_read_only(ROOT);
    assert!(matches!(
        Bpffs::open(&f, Path::new(ROOT)),
        Err(crate::bpffs::BpffsError::ReadOnly { .. })
    ));
}

#[test]
fn location_reads_only_regular_o_files_and_survives_bad_ones() {
    let f = fake();
    f.add_file(format!("{DIR}/zero.o"), vec![0u8; 4096]);
    f.add_file(format!("{DIR}/readme"), "hi");
    f.add_dir(format!("{DIR}/dir.o"));
    f.add_file(format!("{DIR}/trunc.o"), b"\x7fELF\x02\x01".to_vec());
    let r = load_location(&f, &cfg(&f), &loc());
    assert_eq!(r.prefix, "tethering/");
    assert!(r.error.is_none());
    let names: Vec<_> = r
        .objects
        .iter()
        .map(|o| o.file.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    for o in &r.objects {
        let e = o.error().expect("failed");
        assert_eq!(e.kind(), crate::error::ErrorKind::Parse, "{e}");
        assert!(e.to_string().contains(&o.file.display().to_string()), "{e}");
        assert!(o.critical.is_none() && !o.fatal);
    }
    assert_eq!(r.fatal_failures().count(), 0);
    assert!(!f.calls().iter().any(|c| c.contains("readme")));
    assert!(f.pins().is_empty());
}

#[test]
fn oversized_object_is_refused_without_reading_it() {
    let f = fake();
    f.add_file(
        format!("{DIR}/huge.o"),
        vec![0u8; MAX_OBJECT_SIZE as usize + 1],
    );
    let r = load_location(&f, &cfg(&f), &loc());
    let e = r.objects[0].error().expect("failed");
    assert_eq!(e.kind(), crate::error::ErrorKind::Read);
    assert_eq!(e.errno(), Some(libc::EFBIG));
    assert!(e.to_string().contains("/etc/bpf/huge.o"), "{e}");
}

#[test]
fn every_failure_is_fatal_on_25q2_only_critical_ones_on_v() {
    for (rel, fatal) in [(Release::V, false), (Release::R25Q2, true)] {
        let f = fake();
        f.add_file(format!("{DIR}/zero.o"), vec![0u8; 64]);
        let r = load_location(&f, &cfg_with(&f, rel, Kver::new(6, 1, 57)), &loc());
        assert_eq!(r.objects[0].fatal, fatal, "{rel:?}");
        assert_eq!(r.fatal_failures().count(), usize::from(fatal));
    }
}

#[test]
fn reused_pins_are_not_re_moded_unless_left_at_the_kernel_default() {
    let f = fake();
    let spec = obj(
        vec![map("a", ARRAY, 4, 4, 1), map("b", ARRAY, 4, 4, 1)],
        vec![],
    );
    loaded(load(&f, &spec));
    // Someone decided `a` is 0640; a killed loader left `b` at 0600 root.
    f.set_meta(p("tethering/map_obj_a"), 0o640, AID_SYSTEM, AID_NET_BW_ACCT);
    f.set_meta(p("tethering/map_obj_b"), 0o600, 0, 0);
    f.clear_calls();
    let (maps, _, _) = loaded(load(&f, &spec));
    assert!(maps.iter().all(|m| m.reused));
    assert_eq!(pin_at(&f, "tethering/map_obj_a").map(|x| x.2), Some(0o640));
    let b = pin_at(&f, "tethering/map_obj_b").expect("b");
    assert_eq!((b.2, b.3, b.4), (0o460, AID_SYSTEM, AID_NET_BW_ACCT));
    assert!(!f
        .calls()
        .iter()
        .any(|c| c.contains("map_obj_a") && c.starts_with("chmod")));
}

#[test]
fn an_unreadable_reused_pin_is_opened_and_left_as_it_was() {
    // Mode 0060 owned by root (Android's NO_NETD maps): root without
    // CAP_DAC_OVERRIDE cannot open it for reading.
    let f = fake();
    let spec = obj(
        vec![map("cfg", ARRAY, 4, 4, 1)],
        vec![prog("skfilter/p", 0)],
    );
    let mut s = spec.clone();
    s.maps[0].def.mode = 0o060;
    s.maps[0].def.uid = 0;
    loaded(load(&f, &s));
    // The capabilities Android's .rc grants: CHOWN, NET_ADMIN, SYS_ADMIN.
    f.set_credentials(crate::sys::Credentials {
        pid: 4242,
        euid: 0,
        egid: 0,
        groups: vec![],
        cap_effective: (1 << 0) | (1 << 12) | (1 << 21),
    });
    f.clear_calls();
    let (maps, _, _) = loaded(load(&f, &s));
    assert!(maps[0].reused);
    let m = pin_at(&f, "tethering/map_obj_cfg").expect("pin");
    assert_eq!((m.2, m.3, m.4), (0o060, 0, AID_NET_BW_ACCT), "restored");
    let chmods: Vec<String> = f
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("chmod"))
        .collect();
    assert_eq!(chmods.len(), 2, "{chmods:?}");
    assert!(
        chmods[0].ends_with("0o460") && chmods[1].ends_with("0o60"),
        "{chmods:?}"
    );
}

/// A pin its (non-root) owner locked up, 0000 or 0600: under the `.rc`'s
/// capabilities (no CAP_DAC_OVERRIDE, no CAP_FOWNER) the loader borrows it
/// (owner, then read access), opens it, and gives the mode back while it
/// still owns it, then the owner: the other order leaves the borrowed read
/// bit behind, since only the owner may chmod without CAP_FOWNER.
#[test]
fn a_pin_locked_up_by_its_owner_is_borrowed_and_given_back_exactly() {
    for mode in [0o000, 0o600, 0o040] {
        let f = fake();
        let spec = obj(
            vec![map("cfg", ARRAY, 4, 4, 1)],
            vec![prog("skfilter/p", 0)],
        );
        loaded(load(&f, &spec));
        f.set_meta(p("tethering/map_obj_cfg"), mode, 1001, 1002);
        f.set_credentials(crate::sys::Credentials {
            pid: 4242,
            euid: 0,
            egid: 0,
            groups: vec![],
            cap_effective: (1 << 0) | (1 << 12) | (1 << 21),
        });
        f.clear_calls();
        let (maps, _, _) = loaded(load(&f, &spec));
        assert!(maps[0].reused);
        let m = pin_at(&f, "tethering/map_obj_cfg").expect("pin");
        assert_eq!((m.2, m.3, m.4), (mode, 1001, 1002), "mode {mode:o}");
        let path = p("tethering/map_obj_cfg").display().to_string();
        let borrowed: Vec<String> = f
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("chmod") || c.starts_with("lchown"))
            .collect();
        assert_eq!(
            borrowed,
            [
                format!("lchown {path} 0:1002"),
                format!("chmod {path} {:#o}", mode | 0o400),
                format!("chmod {path} {mode:#o}"),
                format!("lchown {path} 1001:1002"),
            ],
            "mode {mode:o}"
        );
    }
}

/// An object needing more descriptors than the budget runs alone with all
/// of it, as the sequential mode runs it: it loads when the process limit
/// allows, and when even that is not enough it fails with the kernel's
/// EMFILE, named, leaving nothing; the other objects load either way.
#[test]
fn an_object_needing_more_fds_than_the_budget_runs_alone() {
    let big = obj(
        (0..5)
            .map(|i| map(&format!("m{i}"), ARRAY, 4, 4, 1))
            .collect(),
        vec![],
    );
    for workers in [1, 4] {
        let f = fake();
        let mut c = cfg(&f);
        c.fd_budget = 6;
        c.workers = workers;
        let (maps, _, _) = loaded(load_cfg(&f, &c, &big));
        assert_eq!(maps.len(), 5, "{workers} workers");

        let f = fake();
        f.fail_map_create("m4", libc::EMFILE);
        let e = load_error(load_cfg(&f, &c, &big));
        assert_eq!(e.errno(), Some(libc::EMFILE), "{e}");
        assert!(final_pins(&f).is_empty(), "{:?}", final_pins(&f));
        let small = obj(vec![map("x", ARRAY, 4, 4, 1)], vec![]);
        loaded(load_cfg(&f, &c, &small));
    }
}

#[test]
fn old_kernels_get_no_names_and_no_info_checks() {
    let f = fake();
    let c = cfg_with(&f, Release::V, Kver::new(4, 9, 0));
    let spec = obj(vec![map("m", ARRAY, 4, 4, 1)], vec![prog("skfilter/p", 0)]);
    loaded(load_cfg(&f, &c, &spec));
    let calls = f.calls();
    assert!(calls.contains(&"BPF_MAP_CREATE".to_string()), "{calls:#?}");
    assert!(
        !calls.iter().any(|c| c.starts_with("BPF_OBJ_GET_INFO")),
        "{calls:#?}"
    );
    let f = fake();
    loaded(load(&f, &spec));
    assert!(f.calls().contains(&"BPF_MAP_CREATE m".to_string()));
}

/// The object of `rerun`/`replace` tests: one map and two programs; `imm`
/// is the constant the first program returns (a rebuilt object changes it).
fn changing_obj(imm: u8) -> ObjectSpec {
    let mut a = prog("skfilter/a", 0);
    a.insns[16 + 4] = imm;
    obj(
        vec![map("m", ARRAY, 4, 8, 2)],
        vec![a, prog("skfilter/b", 0)],
    )
}

#[test]
fn a_changed_program_is_kept_with_a_warning_and_never_reverified() {
    let f = fake();
    let (_, first, _) = loaded(load(&f, &changing_obj(1)));
    assert!(first
        .iter()
        .all(|p| !p.reused && !p.changed && p.tag.is_some()));
    let loads = count_calls(&f, Op::ProgLoad.name());

    // The same object again: reused, unchanged (the tag is computed here,
    // nothing is verified).
    let (_, same, _) = loaded(load(&f, &changing_obj(1)));
    assert!(
        same.iter().all(|p| p.reused && !p.changed && !p.replaced),
        "{same:#?}"
    );
    assert_eq!(count_calls(&f, Op::ProgLoad.name()), loads);

    // A rebuilt object: the changed program is flagged and kept.
    let (maps, changed, _) = loaded(load(&f, &changing_obj(2)));
    assert!(maps.iter().all(|m| m.reused && !m.changed));
    let a = changed.iter().find(|p| p.name == "skfilter/a").expect("a");
    let b = changed.iter().find(|p| p.name == "skfilter/b").expect("b");
    assert!(a.reused && a.changed && !a.replaced, "{a:#?}");
    assert_eq!(a.tag, first[0].tag, "the pinned program stays");
    assert!(b.reused && !b.changed);
    assert_eq!(
        count_calls(&f, Op::ProgLoad.name()),
        loads,
        "keeping a changed program verifies nothing"
    );
    assert_no_lock_no_unlink(&f);
}

fn replace_cfg(f: &FakeSys) -> LoadConfig {
    let mut c = cfg(f);
    c.on_change = OnChange::Replace;
    c
}

#[test]
fn replace_puts_the_new_program_at_the_pin_and_keeps_the_maps() {
    let f = fake();
    let (maps0, first, _) = loaded(load(&f, &changing_obj(1)));
    let a_rel = "tethering/prog_obj_skfilter_a";
    let b_rel = "tethering/prog_obj_skfilter_b";
    let (_, old_a, ..) = pin_at(&f, a_rel).expect("a pinned");
    let (_, old_b, ..) = pin_at(&f, b_rel).expect("b pinned");

    // Unchanged: --replace reuses like the default.
    let (_, same, _) = loaded(load_cfg(&f, &replace_cfg(&f), &changing_obj(1)));
    assert!(same.iter().all(|p| p.reused && !p.replaced));

    let c = replace_cfg(&f);
    let (maps, progs, _) = loaded(load_cfg(&f, &c, &changing_obj(2)));
    assert_eq!(maps[0].id, maps0[0].id, "the map (and its data) is kept");
    assert!(maps[0].reused);
    let a = progs.iter().find(|p| p.name == "skfilter/a").expect("a");
    assert!(a.replaced && !a.reused && !a.changed, "{a:#?}");
    assert_ne!(a.tag, first[0].tag);
    let (kind, new_a, mode, uid, gid) = pin_at(&f, a_rel).expect("a still pinned");
    assert_eq!(kind, ObjKind::Prog);
    assert_ne!(new_a, old_a, "a new program at the pin");
    assert_eq!(new_a, a.id);
    assert_eq!(
        (mode, uid, gid),
        (0o440, 0, AID_SYSTEM),
        "declared mode and owner"
    );
    assert_eq!(pin_at(&f, b_rel).expect("b").1, old_b, "unchanged b kept");
    // Replaced by a rename over the pin, never an unlink, and no temporary
    // pin is left behind.
    assert_no_lock_no_unlink(&f);
    assert_eq!(count_calls(&f, Op::RenameOver.name()), 1);
    assert!(f
        .pins()
        .iter()
        .all(|(p, ..)| !p.to_string_lossy().contains(paths::TMP_PIN_PREFIX)));
    // Once replaced, the new object is the pinned one.
    let (_, again, _) = loaded(load(&f, &changing_obj(2)));
    assert!(again.iter().all(|p| p.reused && !p.changed));
}

#[test]
fn a_failed_replace_leaves_the_old_pins() {
    // Two changed programs; the second rename over fails: the first
    // replacement is undone, and both pins hold the old programs.
    let obj2 = |imm: u8| {
        let mut o = changing_obj(imm);
        o.programs[1].insns[16 + 4] = imm;
        o
    };
    let f = fake();
    loaded(load(&f, &obj2(1)));
    let a_rel = "tethering/prog_obj_skfilter_a";
    let b_rel = "tethering/prog_obj_skfilter_b";
    let before = (pin_at(&f, a_rel), pin_at(&f, b_rel));
    f.fail_op(Op::RenameOver, p(b_rel), libc::EIO);
    let e = load_error(load_cfg(&f, &replace_cfg(&f), &obj2(2)));
    assert_eq!(e.errno(), Some(libc::EIO), "{e}");
    assert!(e.to_string().contains(b_rel), "{e}");
    assert_eq!((pin_at(&f, a_rel), pin_at(&f, b_rel)), before);
    assert_no_lock_no_unlink(&f);

    // A replacement the verifier refuses fails the object before any pin
    // moves.
    let f = fake();
    loaded(load(&f, &obj2(1)));
    let before = (pin_at(&f, a_rel), pin_at(&f, b_rel));
    f.fail_prog_load("skfilter_b", libc::EACCES, "0: invalid\n");
    let e = load_error(load_cfg(&f, &replace_cfg(&f), &obj2(2)));
    assert!(matches!(e, LoadError::ProgLoad { .. }), "{e}");
    assert_eq!((pin_at(&f, a_rel), pin_at(&f, b_rel)), before);
    assert_eq!(count_calls(&f, Op::RenameOver.name()), 0);
}

#[test]
fn a_refused_optional_replacement_keeps_the_pinned_program_and_its_log() {
    let opt = |imm: u8| {
        let mut o = changing_obj(imm);
        o.programs[0].def.optional = true;
        o
    };
    let f = fake();
    loaded(load(&f, &opt(1)));
    let a_rel = "tethering/prog_obj_skfilter_a";
    let before = pin_at(&f, a_rel);
    f.fail_prog_load("skfilter_a", libc::EACCES, "0: R0 !read_ok\n");
    let (_, progs, skipped) = loaded(load_cfg(&f, &replace_cfg(&f), &opt(2)));
    let a = progs.iter().find(|p| p.name == "skfilter/a").expect("a");
    assert!(a.reused && a.changed && !a.replaced, "{a:#?}");
    assert_eq!(pin_at(&f, a_rel), before);
    assert_eq!(skipped.len(), 1, "{skipped:#?}");
    assert_eq!(
        skipped[0].verifier_log.as_deref(),
        Some("0: R0 !read_ok"),
        "the optional program's verifier log is kept"
    );
}

#[test]
fn load_creates_missing_pin_directories_and_their_parents() {
    let f = fake();
    let mut c = cfg(&f);
    c.create_pin_dirs = true;
    let spec = obj(vec![map("m", ARRAY, 4, 8, 2)], vec![prog("skfilter/a", 0)]);
    let loc = Location::new(DIR, "vendor/x/");
    let (maps, ..) = loaded(load_object(
        &f,
        &c,
        &loc,
        Path::new("/etc/bpf/obj.o"),
        &spec,
    ));
    assert_eq!(maps[0].pin, "vendor/x/map_obj_m");
    for d in ["vendor", "vendor/x"] {
        assert!(
            matches!(f.node(p(d)), Some(Node::Dir(m)) if m.mode == paths::PIN_DIR_MODE),
            "{d}"
        );
    }
    // Without the option (the boot flow) a missing directory fails the
    // object, naming it, and nothing is created.
    let f = fake();
    let e = load_error(load_object(
        &f,
        &cfg(&f),
        &loc,
        Path::new("/etc/bpf/obj.o"),
        &spec,
    ));
    assert!(matches!(e, LoadError::PinDir { .. }), "{e}");
    assert!(e.to_string().contains("vendor/x"), "{e}");
    assert!(f.node(p("vendor")).is_none());
}

#[test]
fn objects_are_read_a_few_per_worker_ahead_of_loading() {
    // The memory a location costs while loading is the parsed objects
    // waiting in the current batch: one worker reads at most
    // BATCH_OBJECTS_PER_WORKER objects before the first of them is pinned,
    // and the next batch sees every pin of the previous one.
    let f = fake();
    let obj = bpf_progs::object("pktCount.o").expect("corpus object");
    let n = 3 * BATCH_OBJECTS_PER_WORKER + 1;
    for i in 0..n {
        f.add_file(format!("{DIR}/p{i:02}.o"), obj.bytes);
    }
    let r = load_location(&f, &cfg(&f), &loc());
    assert_eq!(r.objects.len(), n);
    assert!(r.objects.iter().all(|o| o.error().is_none()), "{r:#?}");
    let calls = f.calls();
    let pos = |pat: &str| first_call(&calls, pat);
    let read = |i: usize| pos(&format!("read {DIR}/p{i:02}.o"));
    let renamed = |i: usize| {
        calls
            .iter()
            .rposition(|c| {
                c.starts_with("renameat2(RENAME_NOREPLACE)") && c.contains(&format!("_p{i:02}_"))
            })
            .unwrap_or_else(|| panic!("p{i:02} never put in place: {calls:#?}"))
    };
    for i in BATCH_OBJECTS_PER_WORKER..n {
        let batch_start = i - i % BATCH_OBJECTS_PER_WORKER;
        // Object i is read only once the whole previous batch is in place...
        assert!(
            read(i) > renamed(batch_start - 1),
            "p{i:02} read before p{:02} was pinned",
            batch_start - 1
        );
    }
    // ...and a batch is read whole before any of it is loaded.
    for b in (0..n).step_by(BATCH_OBJECTS_PER_WORKER) {
        let last = (b + BATCH_OBJECTS_PER_WORKER - 1).min(n - 1);
        assert!(read(last) < renamed(b), "batch at p{b:02}");
    }
}
