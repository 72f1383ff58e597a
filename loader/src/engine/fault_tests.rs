//! Fault injection against [`FakeSys`]: the kernel refusing a step of an
//! object (ENOMEM, EPERM, E2BIG at every syscall that creates or shapes a
//! pin), and a loader killed between two steps and run again.
//!
//! The expectations are the product rules, not the code's output: a failing
//! object names the errno and leaves none of its pins behind while the pins
//! of objects loaded before it stay; a re-run after an interruption ends with
//! the tree an uninterrupted run makes.

use super::*;
use crate::gate::{Arch, BuildType};
use crate::spec::{
    IgnoreOn, Kver, MapDef, MapRelocation, MapSpec, ProgDef, ProgKind, ProgramSpec,
    DEFAULT_BPFLOADER_MAX_VER, DEFAULT_MAX_KVER,
};
use crate::sys::fake::{FakeSys, Node, ObjKind};
use crate::sys::{FileStat, MapCreateAttr, MapInfo, ProgInfo, ProgLoadAttr, SysError, SysResult};
use aya_obj::generated::{bpf_map_type, bpf_prog_type};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};

const ROOT: &str = "/sys/fs/bpf";
const PREFIX: &str = "tethering/";
const ARRAY: u32 = bpf_map_type::BPF_MAP_TYPE_ARRAY as u32;
const HASH: u32 = bpf_map_type::BPF_MAP_TYPE_HASH as u32;
const SOCKET_FILTER: u32 = bpf_prog_type::BPF_PROG_TYPE_SOCKET_FILTER as u32;
const AID_SYSTEM: u32 = 1000;
const AID_NET_BW_ACCT: u32 = 3007;

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
        manifest_key: None,
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

fn map(name: &str, map_type: u32, ctx: Domain) -> MapSpec {
    MapSpec {
        name: name.into(),
        def: MapDef {
            map_type,
            key_size: 4,
            value_size: 8,
            max_entries: 16,
            map_flags: 0,
            zero: 0,
            gid: AID_NET_BW_ACCT,
            mode: 0o460,
            bpfloader_min_ver: 0,
            bpfloader_max_ver: DEFAULT_BPFLOADER_MAX_VER,
            min_kver: Kver(0),
            max_kver: Kver(DEFAULT_MAX_KVER),
            selinux_context: ctx,
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

fn prog(section: &str, map_index: usize, ctx: Domain) -> ProgramSpec {
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
            selinux_context: ctx,
            pin_subdir: Domain::Unspecified,
        },
        insns: insns(),
        relocations: vec![MapRelocation {
            insn_index: 0,
            map_index,
        }],
    }
}

fn obj(name: &str, maps: Vec<MapSpec>, programs: Vec<ProgramSpec>) -> ObjectSpec {
    ObjectSpec {
        name: name.into(),
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

/// The object loaded first: a map and a program, both pinned directly.
fn first() -> ObjectSpec {
    obj(
        "first",
        vec![map("a", ARRAY, Domain::Unspecified)],
        vec![prog("skfilter/a", 0, Domain::Unspecified)],
    )
}

/// The object that meets the fault. Its pins cover both ways of pinning:
/// `m1` and `skfilter/p2` directly, `m2` and `skfilter/p1` through a
/// temporary pin in the context's directory and `renameat2`.
fn second() -> ObjectSpec {
    obj(
        "obj",
        vec![
            map("m1", HASH, Domain::Unspecified),
            map("m2", ARRAY, Domain::NetShared),
        ],
        vec![
            prog("skfilter/p1", 1, Domain::NetShared),
            prog("skfilter/p2", 0, Domain::Unspecified),
        ],
    )
}

/// Every pin with what defines it: path, kind, mode, owner and the kernel
/// object's attributes (ids differ between runs and are left out).
fn tree(f: &FakeSys) -> Vec<(PathBuf, ObjKind, u32, u32, u32, String)> {
    f.pins()
        .into_iter()
        .map(|(path, kind, id, m)| {
            let what = match kind {
                ObjKind::Map => f
                    .map_by_id(id)
                    .map(|x| format!("{:?}", x.attr))
                    .unwrap_or_else(|| format!("dangling map {id}")),
                ObjKind::Prog => f
                    .prog_by_id(id)
                    .map(|x| format!("{} type {} maps {}", x.name, x.prog_type, x.map_ids.len()))
                    .unwrap_or_else(|| format!("dangling prog {id}")),
            };
            (path, kind, m.mode, m.uid, m.gid, what)
        })
        .collect()
}

fn ids(f: &FakeSys) -> Vec<(PathBuf, u32)> {
    f.pins().into_iter().map(|(p, _, id, _)| (p, id)).collect()
}

fn pins_of(f: &FakeSys, obj: &str) -> Vec<PathBuf> {
    let map = format!("map_{obj}_");
    let prog = format!("prog_{obj}_");
    f.pins()
        .into_iter()
        .map(|(p, ..)| p)
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with(&map) || n.starts_with(&prog) || n.starts_with("tmp_")
            })
        })
        .collect()
}

fn load(sys: &dyn Sys, spec: &ObjectSpec) -> ObjectOutcome {
    let file = PathBuf::from(format!("/etc/bpf/{}.o", spec.name));
    load_object(sys, &cfg(), &file, PREFIX, spec)
}

/// Where a fault is injected into [`second`]: each one after some of its
/// pins already exist, so the rollback has work to do.
#[derive(Debug, Clone, Copy)]
enum Step {
    MapCreate,
    ProgLoad,
    PinDirect,
    PinTmp,
    Chmod,
    Chown,
    Rename,
}

const STEPS: [Step; 7] = [
    Step::MapCreate,
    Step::ProgLoad,
    Step::PinDirect,
    Step::PinTmp,
    Step::Chmod,
    Step::Chown,
    Step::Rename,
];

impl Step {
    fn inject(self, f: &FakeSys, errno: i32) {
        let p = |rel: &str| Path::new(ROOT).join(rel);
        match self {
            Step::MapCreate => f.fail_map_create("m2", errno),
            Step::ProgLoad => f.fail_prog_load("skfilter_p2", errno, ""),
            Step::PinDirect => f.fail_op("BPF_OBJ_PIN", p("tethering/prog_obj_skfilter_p2"), errno),
            Step::PinTmp => f.fail_op(
                "BPF_OBJ_PIN",
                p("net_shared/tmp_prog_obj_skfilter_p1"),
                errno,
            ),
            Step::Chmod => f.fail_op("chmod", p("tethering/prog_obj_skfilter_p2"), errno),
            Step::Chown => f.fail_op("lchown", p("tethering/prog_obj_skfilter_p2"), errno),
            Step::Rename => f.fail_op("renameat2", p("tethering/prog_obj_skfilter_p1"), errno),
        }
    }

    /// What the error must say was being done.
    fn context(self) -> &'static str {
        match self {
            Step::MapCreate => "map m2: create: BPF_MAP_CREATE",
            Step::ProgLoad => "program skfilter/p2: BPF_PROG_LOAD",
            Step::PinDirect | Step::PinTmp => "pin: BPF_OBJ_PIN",
            Step::Chmod => "program skfilter/p2: set mode: chmod",
            Step::Chown => "program skfilter/p2: set owner: lchown",
            Step::Rename => "program skfilter/p1: move pin into place: renameat2",
        }
    }
}

#[test]
fn kernel_refusal_at_any_step_fails_only_that_object_and_leaves_none_of_its_pins() {
    for step in STEPS {
        for errno in [libc::ENOMEM, libc::EPERM, libc::E2BIG] {
            let f = fake();
            assert!(
                matches!(load(&f, &first()), ObjectOutcome::Loaded { .. }),
                "{step:?}: the first object must load"
            );
            let before = ids(&f);
            assert_eq!(before.len(), 2, "{before:?}");

            step.inject(&f, errno);
            let error = match load(&f, &second()) {
                ObjectOutcome::Failed { error, .. } => error,
                o => panic!("{step:?} errno {errno}: expected Failed, got {o:?}"),
            };
            let strerror = std::io::Error::from_raw_os_error(errno).to_string();
            assert!(
                error.contains(&strerror),
                "{step:?}: errno {errno} ({strerror}) not named: {error}"
            );
            assert!(
                error.contains(step.context()),
                "{step:?}: step not named: {error}"
            );
            assert_eq!(
                pins_of(&f, "obj"),
                Vec::<PathBuf>::new(),
                "{step:?} errno {errno}: pins of the failed object left"
            );
            assert_eq!(ids(&f), before, "{step:?}: the first object's pins changed");
        }
    }
}

#[test]
fn every_injection_point_is_reached_after_earlier_pins() {
    // Guards the test above: each fault must hit after the object pinned
    // something (otherwise "no pin left" would hold trivially).
    for step in STEPS {
        let f = fake();
        step.inject(&f, libc::ENOMEM);
        let _ = load(&f, &second());
        let pinned = f
            .calls()
            .iter()
            .filter(|c| c.starts_with("BPF_OBJ_PIN") && !c.contains("skfilter_p2"))
            .count();
        assert!(pinned >= 1, "{step:?}: no pin before the fault");
        let unlinks = f.calls().iter().filter(|c| c.starts_with("unlink")).count();
        assert!(unlinks >= 1, "{step:?}: nothing was rolled back");
    }
}

/// A loader that is killed (SIGKILL) after `budget` mutations of the pin
/// tree: from then on every call fails and changes nothing, so the state
/// left is exactly what a killed process leaves (no rollback runs).
struct Killed<'a> {
    inner: &'a FakeSys,
    budget: AtomicUsize,
    mutations: AtomicUsize,
}

impl<'a> Killed<'a> {
    fn after(inner: &'a FakeSys, budget: usize) -> Self {
        Killed {
            inner,
            budget: AtomicUsize::new(budget),
            mutations: AtomicUsize::new(0),
        }
    }

    fn dead(&self) -> bool {
        self.budget.load(Ordering::SeqCst) == 0
    }

    fn check(&self, op: &'static str) -> SysResult<()> {
        if self.dead() {
            Err(SysError::from_errno(op, None, libc::EINTR))
        } else {
            Ok(())
        }
    }

    /// Spends one mutation; fails if the process is already dead.
    fn mutate(&self, op: &'static str) -> SysResult<()> {
        self.check(op)?;
        self.budget.fetch_sub(1, Ordering::SeqCst);
        self.mutations.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl Sys for Killed<'_> {
    fn map_create(&self, attr: &MapCreateAttr) -> SysResult<OwnedFd> {
        self.check("BPF_MAP_CREATE")?;
        self.inner.map_create(attr)
    }
    fn prog_load(&self, attr: &ProgLoadAttr<'_>, log: &mut [u8]) -> SysResult<OwnedFd> {
        self.check("BPF_PROG_LOAD")?;
        self.inner.prog_load(attr, log)
    }
    fn obj_pin(&self, fd: BorrowedFd<'_>, path: &Path) -> SysResult<()> {
        self.mutate("BPF_OBJ_PIN")?;
        self.inner.obj_pin(fd, path)
    }
    fn obj_get(&self, path: &Path, file_flags: u32, kind: ObjKind) -> SysResult<OwnedFd> {
        self.check("BPF_OBJ_GET")?;
        self.inner.obj_get(path, file_flags, kind)
    }
    fn map_info(&self, fd: BorrowedFd<'_>) -> SysResult<MapInfo> {
        self.check("BPF_OBJ_GET_INFO_BY_FD")?;
        self.inner.map_info(fd)
    }
    fn prog_info(&self, fd: BorrowedFd<'_>) -> SysResult<ProgInfo> {
        self.check("BPF_OBJ_GET_INFO_BY_FD")?;
        self.inner.prog_info(fd)
    }
    fn map_update(
        &self,
        fd: BorrowedFd<'_>,
        key: &[u8],
        value: &[u8],
        flags: u64,
    ) -> SysResult<()> {
        self.mutate("BPF_MAP_UPDATE_ELEM")?;
        self.inner.map_update(fd, key, value, flags)
    }
    fn map_lookup(&self, fd: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> SysResult<()> {
        self.check("BPF_MAP_LOOKUP_ELEM")?;
        self.inner.map_lookup(fd, key, value)
    }
    fn chmod(&self, path: &Path, mode: u32) -> SysResult<()> {
        self.mutate("chmod")?;
        self.inner.chmod(path, mode)
    }
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> SysResult<()> {
        self.mutate("lchown")?;
        self.inner.chown(path, uid, gid)
    }
    fn rename_noreplace(&self, from: &Path, to: &Path) -> SysResult<()> {
        self.mutate("renameat2")?;
        self.inner.rename_noreplace(from, to)
    }
    fn lock_dir(&self, path: &Path) -> SysResult<OwnedFd> {
        self.check("flock")?;
        self.inner.lock_dir(path)
    }
    fn unlink(&self, path: &Path) -> SysResult<()> {
        self.mutate("unlink")?;
        self.inner.unlink(path)
    }
    fn mkdir(&self, path: &Path, mode: u32) -> SysResult<()> {
        self.mutate("mkdir")?;
        self.inner.mkdir(path, mode)
    }
    fn lstat(&self, path: &Path) -> SysResult<FileStat> {
        self.check("lstat")?;
        self.inner.lstat(path)
    }
    fn statfs_type(&self, path: &Path) -> SysResult<i64> {
        self.check("statfs")?;
        self.inner.statfs_type(path)
    }
    fn is_read_only_fs(&self, path: &Path) -> SysResult<bool> {
        self.check("statvfs")?;
        self.inner.is_read_only_fs(path)
    }
    fn read_dir(&self, path: &Path) -> SysResult<Vec<String>> {
        self.check("readdir")?;
        self.inner.read_dir(path)
    }
    fn read_file(&self, path: &Path, max_len: u64) -> SysResult<(Vec<u8>, FileStat)> {
        self.check("read")?;
        self.inner.read_file(path, max_len)
    }
    fn write_file(&self, path: &Path, data: &[u8]) -> SysResult<()> {
        self.mutate("write")?;
        self.inner.write_file(path, data)
    }
    fn uname(&self) -> SysResult<(String, String)> {
        self.check("uname")?;
        self.inner.uname()
    }
    fn page_size(&self) -> SysResult<u32> {
        self.check("sysconf")?;
        self.inner.page_size()
    }
}

/// Objects of the interrupted-run scenario, in load order. `third` shares
/// `m1`'s kernel map by name through `shared`, and reuses nothing else.
fn scenario() -> Vec<ObjectSpec> {
    let mut shared = map("shared_map", HASH, Domain::NetShared);
    shared.def.shared = true;
    let mut third = obj(
        "third",
        vec![shared.clone(), map("own", ARRAY, Domain::Unspecified)],
        vec![prog("skfilter/t", 0, Domain::Unspecified)],
    );
    third
        .programs
        .push(prog("skfilter/u$ctx", 1, Domain::NetShared));
    let mut second = second();
    second.maps.push(shared);
    vec![first(), second, third]
}

fn run_all(sys: &dyn Sys) -> Vec<ObjectOutcome> {
    scenario().iter().map(|s| load(sys, s)).collect()
}

#[test]
fn rerun_after_a_kill_at_any_step_converges_to_the_uninterrupted_tree() {
    let reference = fake();
    let counter = Killed::after(&reference, usize::MAX);
    for o in run_all(&counter) {
        assert!(matches!(o, ObjectOutcome::Loaded { .. }), "{o:?}");
    }
    let want = tree(&reference);
    let total = counter.mutations.load(Ordering::SeqCst);
    // first 2, second 4 + the shared map, third 3 (the shared map reused);
    // each pinned, chmod'ed and chown'ed.
    assert_eq!(want.len(), 10, "{want:#?}");
    assert!(total >= 10 * 3, "only {total} mutations counted");
    assert!(
        want.iter().all(|(p, ..)| !p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(paths::TMP_PIN_PREFIX))),
        "{want:#?}"
    );

    for kill_at in 0..total {
        let f = fake();
        let killed = Killed::after(&f, kill_at);
        let _ = run_all(&killed);
        assert!(killed.dead(), "kill point {kill_at} not reached");
        let partial = tree(&f);
        // The re-run, by a fresh process.
        for (o, s) in run_all(&f).into_iter().zip(scenario()) {
            assert!(
                matches!(o, ObjectOutcome::Loaded { .. }),
                "killed after {kill_at} steps (left {partial:#?}), re-run of {}: {o:?}",
                s.name
            );
        }
        assert_eq!(
            tree(&f),
            want,
            "killed after {kill_at} of {total} steps, leaving {partial:#?}"
        );
    }
}

#[test]
fn stale_tmp_pin_left_by_a_kill_is_removed_before_the_rename() {
    let f = fake();
    // What a loader killed between the temporary pin of m2 and its rename
    // leaves behind.
    let stale = MapCreateAttr {
        map_type: ARRAY,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
        map_flags: 0,
        name: "m2".into(),
    };
    let stale_id = f
        .pin_new_map(Path::new(ROOT).join("net_shared/tmp_map_obj_m2"), &stale)
        .expect("stale tmp pin");
    match load(&f, &second()) {
        ObjectOutcome::Loaded { maps, .. } => {
            let m2 = maps.iter().find(|m| m.name == "m2").expect("m2 reported");
            assert!(!m2.reused);
            assert_ne!(m2.id, stale_id, "the stale object must not be adopted");
        }
        o => panic!("{o:?}"),
    }
    assert!(f
        .node(Path::new(ROOT).join("net_shared/tmp_map_obj_m2"))
        .is_none());
    assert!(matches!(
        f.node(Path::new(ROOT).join("tethering/map_obj_m2")),
        Some(Node::Pin(m, ObjKind::Map, _)) if (m.mode, m.uid, m.gid) == (0o460, AID_SYSTEM, AID_NET_BW_ACCT)
    ));
}

#[test]
fn read_only_bpffs_fails_the_location_before_anything_is_created() {
    let f = fake();
    f.add_file("/etc/bpf/x.o", b"not even parsed".to_vec());
    f.set_read_only(ROOT);
    f.clear_calls();
    let r = load_location(&f, &cfg(), &Location::new("/etc/bpf", PREFIX));
    assert_eq!(
        r.error.as_deref(),
        Some("bpf filesystem /sys/fs/bpf is mounted read-only; refusing to load (nothing can be pinned)")
    );
    assert!(r.objects.is_empty(), "{r:?}");
    let made: Vec<String> = f
        .calls()
        .into_iter()
        .filter(|c| {
            ["BPF_MAP_CREATE", "BPF_PROG_LOAD", "BPF_OBJ_PIN", "mkdir"]
                .iter()
                .any(|op| c.starts_with(op))
        })
        .collect();
    assert!(made.is_empty(), "{made:?}");
    assert!(f.pins().is_empty());
}
