//! Fault injection against the fake kernel through the one interposing
//! wrapper ([`crate::sys::Interposed`]): the kernel refusing any step of an
//! object (ENOMEM, EPERM, E2BIG at every call the object makes), and a
//! loader killed between two steps and run again.
//!
//! The expectations are the product rules, not the code's output: a failing
//! object names the operation and the errno and leaves none of its pins at a
//! final path while the pins of objects loaded before it stay, and nothing
//! is ever unlinked; a re-run after an interruption ends with the tree an
//! uninterrupted run makes (a killed run may leave unreferenced temporary
//! pins, which a locked run on a board clears, see `boot::setup`).

use super::*;
use crate::gate::{Arch, BuildType};
use crate::release::{Release, Role};
use crate::spec::{Domain, Kver};
use crate::sys::fake::{FakeSys, ObjKind};
use crate::sys::{Hook, Interposed, Op, SysError, SysResult};
use crate::test_support::{map, obj, prog, ARRAY, HASH};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const ROOT: &str = "/sys/fs/bpf";

fn fake() -> FakeSys {
    let f = FakeSys::new();
    f.mount_bpffs(ROOT);
    for d in ["tethering", "net_shared", "netd_shared", "loader"] {
        f.add_dir(format!("{ROOT}/{d}"));
    }
    f
}

fn cfg(sys: &dyn Sys) -> LoadConfig {
    let bpffs = Bpffs::open(sys, Path::new(ROOT)).expect("bpffs");
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

fn named(name: &str, mut o: ObjectSpec) -> ObjectSpec {
    o.name = name.into();
    o
}

fn ctx(mut m: crate::spec::MapSpec, d: Domain) -> crate::spec::MapSpec {
    m.def.selinux_context = d;
    m
}

/// The object loaded first: a map and a program.
fn first() -> ObjectSpec {
    named(
        "first",
        obj(vec![map("a", ARRAY, 4, 8, 16)], vec![prog("skfilter/a", 0)]),
    )
}

/// The object that meets the fault: pins in its final directory and
/// through a `selinux_context` directory.
fn second() -> ObjectSpec {
    let mut p1 = prog("skfilter/p1", 1);
    p1.def.selinux_context = Domain::NetShared;
    named(
        "obj",
        obj(
            vec![
                map("m1", HASH, 4, 8, 16),
                ctx(map("m2", ARRAY, 4, 8, 16), Domain::NetShared),
            ],
            vec![p1, prog("skfilter/p2", 0)],
        ),
    )
}

/// Every final pin with what defines it: path, kind, mode, owner and the
/// kernel object's attributes (ids differ between runs and are left out).
fn tree(f: &FakeSys) -> Vec<(PathBuf, ObjKind, u32, u32, u32, String)> {
    f.pins()
        .into_iter()
        .filter(|(p, ..)| !is_tmp(p))
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

fn is_tmp(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(paths::TMP_PIN_PREFIX))
}

fn ids(f: &FakeSys) -> Vec<(PathBuf, u32)> {
    f.pins().into_iter().map(|(p, _, id, _)| (p, id)).collect()
}

fn final_pins_of(f: &FakeSys, obj: &str) -> Vec<PathBuf> {
    let map = format!("map_{obj}_");
    let prog = format!("prog_{obj}_");
    f.pins()
        .into_iter()
        .map(|(p, ..)| p)
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&map) || n.starts_with(&prog))
        })
        .collect()
}

fn load(sys: &dyn Sys, spec: &ObjectSpec) -> ObjectOutcome {
    load_with(sys, &cfg(sys), spec)
}

fn load_with(sys: &dyn Sys, cfg: &LoadConfig, spec: &ObjectSpec) -> ObjectOutcome {
    let file = PathBuf::from(format!("/etc/bpf/{}.o", spec.name));
    load_object(
        sys,
        cfg,
        &Location::new("/etc/bpf", "tethering/"),
        &file,
        spec,
    )
}

/// Fails the `nth` call of `op` (0-based) with `errno`.
struct FailNth {
    op: Op,
    nth: usize,
    errno: i32,
    seen: AtomicUsize,
}

impl Hook for FailNth {
    fn before(&self, op: Op, path: Option<&Path>) -> SysResult<()> {
        if op == self.op && self.seen.fetch_add(1, Ordering::SeqCst) == self.nth {
            return Err(SysError::from_errno(op, path, self.errno));
        }
        Ok(())
    }
}

/// Records every call (op, path).
#[derive(Default)]
struct Record(Mutex<Vec<(Op, Option<PathBuf>)>>);

impl Hook for Record {
    fn before(&self, op: Op, path: Option<&Path>) -> SysResult<()> {
        if let Ok(mut v) = self.0.lock() {
            v.push((op, path.map(Path::to_path_buf)));
        }
        Ok(())
    }
}

#[test]
fn kernel_refusal_at_any_call_fails_only_that_object_and_pins_none_of_it() {
    // Which calls the second object makes, in order, on a clean tree.
    let probe = fake();
    assert!(matches!(
        load(&probe, &first()),
        ObjectOutcome::Loaded { .. }
    ));
    let rec = Interposed::new(probe, Record::default());
    let probe_cfg = cfg(&rec.inner);
    assert!(matches!(
        load_with(&rec, &probe_cfg, &second()),
        ObjectOutcome::Loaded { .. }
    ));
    let calls = rec.hook.0.into_inner().expect("calls");
    let mut per_op: std::collections::BTreeMap<Op, usize> = Default::default();
    for (op, _) in &calls {
        *per_op.entry(*op).or_default() += 1;
    }
    // Every kind of call the object depends on is covered.
    for op in [
        Op::MapCreate,
        Op::ProgLoad,
        Op::ObjPin,
        Op::Chmod,
        Op::Chown,
        Op::Rename,
        Op::OpenPin,
        Op::MapInfo,
        Op::ProgInfo,
        Op::Lstat,
    ] {
        assert!(per_op.contains_key(&op), "{op:?} not reached: {per_op:?}");
    }
    let mut injected = 0;
    for (&op, &count) in &per_op {
        if matches!(
            op,
            Op::Credentials | Op::Rlimit | Op::PageSize | Op::Machine | Op::Statfs
        ) {
            continue; // configuration, not the object's work
        }
        for nth in 0..count {
            for errno in [libc::ENOMEM, libc::EPERM, libc::E2BIG] {
                let sys = Interposed::new(
                    fake(),
                    FailNth {
                        op,
                        nth,
                        errno,
                        seen: AtomicUsize::new(0),
                    },
                );
                let f = &sys.inner;
                assert!(matches!(load(f, &first()), ObjectOutcome::Loaded { .. }));
                let before = ids(f);
                let e = match load_with(&sys, &cfg(&sys.inner), &second()) {
                    ObjectOutcome::Failed { error } => error,
                    o => panic!("{op:?}#{nth} errno {errno}: expected Failed, got {o:?}"),
                };
                injected += 1;
                assert_eq!(e.errno(), Some(errno), "{op:?}#{nth}: {e}");
                assert!(
                    e.to_string().contains(op.name()),
                    "{op:?}#{nth}: the operation is not named: {e}"
                );
                assert_eq!(
                    final_pins_of(f, "obj"),
                    Vec::<PathBuf>::new(),
                    "{op:?}#{nth} errno {errno}: a pin of the failed object is in place"
                );
                let first_now: Vec<_> = ids(f).into_iter().filter(|(p, _)| !is_tmp(p)).collect();
                assert_eq!(
                    first_now, before,
                    "{op:?}#{nth}: the first object's pins changed"
                );
                assert!(
                    !f.calls().iter().any(|c| c.starts_with("unlink")),
                    "{op:?}#{nth}: something was unlinked"
                );
            }
        }
    }
    assert!(injected > 60, "only {injected} injections");
}

/// A loader killed (SIGKILL) after `budget` mutations: from then on every
/// call fails and changes nothing, so the state left is exactly what a
/// killed process leaves.
struct Killed {
    budget: AtomicUsize,
    mutations: AtomicUsize,
}

impl Killed {
    fn after(budget: usize) -> Self {
        Killed {
            budget: AtomicUsize::new(budget),
            mutations: AtomicUsize::new(0),
        }
    }
    fn dead(&self) -> bool {
        self.budget.load(Ordering::SeqCst) == 0
    }
}

impl Hook for Killed {
    fn before(&self, op: Op, path: Option<&Path>) -> SysResult<()> {
        if self.dead() {
            return Err(SysError::from_errno(op, path, libc::EINTR));
        }
        if op.mutates() {
            self.budget.fetch_sub(1, Ordering::SeqCst);
            self.mutations.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// Objects of the interrupted-run scenario, in load order. `third` shares
/// a map with `second` by name.
fn scenario() -> Vec<ObjectSpec> {
    let mut shared = ctx(map("shared_map", HASH, 4, 8, 16), Domain::NetShared);
    shared.def.shared = true;
    let mut u = prog("skfilter/u$ctx", 1);
    u.def.selinux_context = Domain::NetShared;
    let third = named(
        "third",
        obj(
            vec![shared.clone(), map("own", ARRAY, 4, 8, 16)],
            vec![prog("skfilter/t", 0), u],
        ),
    );
    let mut second = second();
    second.maps.push(shared);
    vec![first(), second, third]
}

/// Runs the scenario through `sys`, configured (uname, credentials...)
/// before any kill point: a process is killed while it loads.
fn run_all(sys: &dyn Sys, cfg: &LoadConfig) -> Vec<ObjectOutcome> {
    scenario().iter().map(|s| load_with(sys, cfg, s)).collect()
}

#[test]
fn rerun_after_a_kill_at_any_step_converges_to_the_uninterrupted_tree() {
    let reference = Interposed::new(fake(), Killed::after(usize::MAX));
    for o in run_all(&reference, &cfg(&reference.inner)) {
        assert!(matches!(o, ObjectOutcome::Loaded { .. }), "{o:?}");
    }
    let want = tree(&reference.inner);
    let total = reference.hook.mutations.load(Ordering::SeqCst);
    // first 2, second 4 + the shared map, third 3 (the shared map reused);
    // each pinned, chmod'ed, chown'ed and renamed.
    assert_eq!(want.len(), 10, "{want:#?}");
    assert!(total >= 10 * 4, "only {total} mutations counted");
    assert!(reference.inner.pins().iter().all(|(p, ..)| !is_tmp(p)));

    for kill_at in 0..total {
        let killed = Interposed::new(fake(), Killed::after(kill_at));
        let c = cfg(&killed.inner);
        let _ = run_all(&killed, &c);
        assert!(killed.hook.dead(), "kill point {kill_at} not reached");
        let f = killed.inner;
        let partial = tree(&f);
        // No object is half in place: for each object, either all of its
        // final pins that the killed run created exist, or none of the
        // ones a later rename would have made... the re-run makes it whole.
        for (o, s) in run_all(&f, &c).into_iter().zip(scenario()) {
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
        assert!(!f.calls().iter().any(|c| c.starts_with("unlink")));
    }
}

#[test]
fn a_dead_runs_temporary_pin_is_never_adopted() {
    let f = fake();
    // What a loader killed between the temporary pin of m2 and its rename
    // leaves behind, under a name no live loader uses.
    let stale_id = f
        .pin_new_map(
            Path::new(ROOT).join("net_shared/tmp_nbl_1_0_m1"),
            &crate::sys::MapCreateAttr {
                map_type: ARRAY,
                key_size: 4,
                value_size: 8,
                max_entries: 16,
                name: "m2".into(),
                ..Default::default()
            },
        )
        .expect("stale tmp pin");
    match load(&f, &second()) {
        ObjectOutcome::Loaded { maps, .. } => {
            let m2 = maps.iter().find(|m| m.name == "m2").expect("m2 reported");
            assert!(!m2.reused);
            assert_ne!(m2.id, stale_id, "the stale object must not be adopted");
        }
        o => panic!("{o:?}"),
    }
    assert!(
        f.node(Path::new(ROOT).join("net_shared/tmp_nbl_1_0_m1"))
            .is_some(),
        "left alone: the boot path never unlinks"
    );
}
