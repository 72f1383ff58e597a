//! Root tier: faults on the real kernel. A bpffs that is not there or is
//! read-only, the kernel refusing maps and programs (EPERM without the
//! capabilities, E2BIG and ENOMEM for absurd maps), a loader killed half-way
//! and run again, two loaders racing on one tree, and an incompatible pin
//! left by an older release.
//!
//! Run as root in a private mount namespace:
//! `unshare -m --propagation private cargo test -p netbpfload-tests --test faults`.

use netbpfload::bpffs::{Bpffs, BpffsError};
use netbpfload::engine::{self, LoadConfig, LoadError, LocationReport, ObjectOutcome};
use netbpfload::error::ObjectError;
use netbpfload::paths::{self, Location};
use netbpfload::release::{Release, Role};
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::{
    Bpf, Files, Hook, Interposed, Op, Process, Sys, SysError, SysResult, BPF_F_RDONLY,
};
use netbpfload_tests::bpffs::{self, PrivateBpffs};
use netbpfload_tests::record::Recorder;
use netbpfload_tests::stage::{netbpfload_bin, workspace};
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Android 15's rules for `role` into the bpffs at `root`, configured
/// through `sys` (uname, credentials, limits: before any kill point).
fn cfg(root: &Path, role: Role) -> LoadConfig {
    netbpfload_tests::cfg::load_config_for(root, Release::V, role)
}

/// A staging root with the corpus installed (mode 0755 so that dropped
/// identities can traverse it).
fn stage() -> tempfile::TempDir {
    let s = tempfile::tempdir().expect("stage");
    std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    bpf_progs::install_tree(s.path()).expect("install corpus");
    s
}

fn locations(stage: &Path) -> Vec<Location> {
    bpf_progs::MAINLINE_PREFIXES
        .iter()
        .map(|&prefix| bpf_progs::Location::Mainline { prefix })
        .map(|l| Location::new(stage.join(l.dir()), l.bpffs_prefix()))
        .chain(std::iter::once(Location::from_rule(
            stage,
            &Release::V.rules().platform.locations[0],
        )))
        .collect()
}

fn role_of(l: &Location) -> &'static str {
    if l.prefix.is_empty() {
        "platform"
    } else {
        "mainline"
    }
}

fn mk_pin_dirs(fs: &PrivateBpffs) {
    for d in paths::created_subdirs(Release::V.rules()) {
        fs.mkdir(d);
    }
}

fn load_all(sys: &dyn Sys, root: &Path, stage: &Path) -> Vec<LocationReport> {
    let (mainline, platform) = (cfg(root, Role::Mainline), cfg(root, Role::Platform));
    locations(stage)
        .iter()
        .map(|l| {
            let c = if l.prefix.is_empty() {
                &platform
            } else {
                &mainline
            };
            engine::load_location(sys, c, l)
        })
        .collect()
}

/// Whether a bpffs path is one of our temporary pins.
fn is_tmp(rel: &str) -> bool {
    rel.rsplit('/')
        .next()
        .is_some_and(|n| n.starts_with(paths::TMP_PIN_PREFIX))
}

/// Everything that defines a pin tree: for each path under the bpffs root
/// (minus the kernel's `*.debug` files), its mode and owner, and for pins
/// the kernel object's kind and attributes. Ids are left out.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            if rel.ends_with(".debug") {
                continue;
            }
            let (mode, uid, gid) = bpffs::mode_owner(&p);
            let head = format!("{mode:o} {uid}:{gid}");
            if p.is_dir() {
                out.insert(rel, format!("dir {head}"));
                walk(root, &p, out);
                continue;
            }
            let fd =
                bpffs::obj_get(&p, BPF_F_RDONLY).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let what = match bpffs::kind_of(&p) {
                netbpfload::sys::ObjKind::Map => {
                    let i = LinuxSys.map_info(fd.as_fd()).expect("map info");
                    format!(
                        "map type {} key {} value {} max {} flags {:#x}",
                        i.map_type, i.key_size, i.value_size, i.max_entries, i.map_flags
                    )
                }
                netbpfload::sys::ObjKind::Prog => {
                    let i = LinuxSys.prog_info(fd.as_fd()).expect("prog info");
                    format!("prog type {}", i.prog_type)
                }
            };
            out.insert(rel, format!("{what} {head}"));
        }
    }
    let mut m = BTreeMap::new();
    walk(root, root, &mut m);
    m
}

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            if !p.to_string_lossy().ends_with(".debug") {
                v.push(p);
            }
        }
    }
    v
}

fn run(cmd: &mut Command) -> (Option<i32>, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run netbpfload");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.code(), text)
}

/// `netbpfload load` of `loc` into `bpffs`, without the board's run lock.
fn load_cmd(bin: &Path, loc: &Location, bpffs: &Path) -> Command {
    load_cmd_locked(bin, loc, bpffs, None)
}

/// `netbpfload load` of `loc` into `bpffs`, with the run lock `lock`.
fn load_cmd_locked(bin: &Path, loc: &Location, bpffs: &Path, lock: Option<&Path>) -> Command {
    let mut c = Command::new(bin);
    c.arg("load")
        .arg("--location")
        .arg(&loc.dir)
        .args(["--prefix", &loc.prefix, "--role", role_of(loc)])
        .arg(format!(
            "--run-lock={}",
            lock.map_or("none".into(), |l| l.display().to_string())
        ))
        .arg("--bpffs")
        .arg(bpffs);
    c
}

/// A staged Android-like root for the boot flow (as scripts/demo.sh).
fn boot_stage(bin: &Path) -> tempfile::TempDir {
    let s = stage();
    let r = s.path();
    for d in [
        "system/etc/init",
        "etc/netbpfload",
        "system/bin",
        "apex/com.android.tethering/bin",
        "proc-sys/kernel",
        "proc-sys/net/core",
    ] {
        std::fs::create_dir_all(r.join(d)).expect("mkdir");
    }
    std::fs::copy(
        workspace().join("init/platform/V/netbpfload.rc"),
        r.join("system/etc/init/netbpfload.rc"),
    )
    .expect("copy rc");
    std::fs::write(
        r.join("etc/netbpfload/build.prop"),
        "ro.build.version.sdk=35\nro.build.version.codename=REL\nro.build.type=userdebug\n",
    )
    .expect("build.prop");
    std::os::unix::fs::symlink(bin, r.join("system/bin/bpfloader")).expect("symlink");
    std::os::unix::fs::symlink(bin, r.join("apex/com.android.tethering/bin/netbpfload"))
        .expect("symlink");
    for (f, v) in [
        ("kernel/unprivileged_bpf_disabled", "2\n"),
        ("net/core/bpf_jit_enable", "1\n"),
        ("net/core/bpf_jit_kallsyms", "1\n"),
    ] {
        std::fs::write(r.join("proc-sys").join(f), v).expect("sysctl file");
    }
    std::fs::write(r.join("kmsg"), "").expect("kmsg");
    s
}

fn boot_cmd(bin: &Path, s: &Path, bpffs: &Path) -> Command {
    let mut c = Command::new(bin);
    c.arg(format!("--root={}", s.display()))
        .arg(format!("--bpffs={}", bpffs.display()))
        .arg(format!("--proc-sys={}", s.join("proc-sys").display()))
        .arg(format!("--kmsg={}", s.join("kmsg").display()))
        .arg("--run-lock=none")
        .arg("--critical-delay-secs=0");
    c
}

#[test]
fn bpffs_not_mounted_is_refused_before_anything_is_created() {
    bpffs::require_private_root();
    let bin = netbpfload_bin();
    let s = boot_stage(&bin);
    // A plain directory on the staging filesystem (ext4/tmpfs), not a bpffs.
    let plain = tempfile::tempdir().expect("plain dir");
    let fstype = nix::sys::statfs::statfs(plain.path()).expect("statfs");
    assert_ne!(
        fstype.filesystem_type().0 as i64,
        netbpfload::sys::BPF_FS_MAGIC
    );

    for loc in locations(s.path()) {
        let (code, text) = run(&mut load_cmd(&bin, &loc, plain.path()));
        assert_eq!(code, Some(1), "{}: {text}", loc.prefix);
        assert!(
            text.contains(&format!(
                "{} is not a bpf filesystem (statfs f_type",
                plain.path().display()
            )),
            "{}: {text}",
            loc.prefix
        );
        assert_eq!(files_under(plain.path()), Vec::<PathBuf>::new());
    }

    let (code, _) = run(&mut boot_cmd(&bin, s.path(), plain.path()));
    let log = std::fs::read_to_string(s.path().join("kmsg")).expect("kmsg");
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains(&format!(
            "{} is not a bpf filesystem (statfs f_type",
            plain.path().display()
        )),
        "{log}"
    );
    assert_eq!(files_under(plain.path()), Vec::<PathBuf>::new());
    assert!(
        !s.path()
            .join("run/netbpfload/properties/bpf.progs_loaded")
            .exists(),
        "the chain must not reach `done`"
    );
}

fn remount_ro(fs: &PrivateBpffs) {
    nix::mount::mount(
        None::<&str>,
        fs.path(),
        None::<&str>,
        nix::mount::MsFlags::MS_REMOUNT | nix::mount::MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .expect("remount ro");
}

#[test]
fn read_only_bpffs_is_refused_before_anything_is_created() {
    let bin = netbpfload_bin();
    let s = boot_stage(&bin);

    // Mounted read-only from the start (`mount -t bpf -o ro`): empty.
    let fresh = PrivateBpffs::new();
    remount_ro(&fresh);
    for loc in locations(s.path()) {
        let (code, text) = run(&mut load_cmd(&bin, &loc, fresh.path()));
        assert_eq!(code, Some(1), "{}: {text}", loc.prefix);
        let lower = text.to_lowercase();
        assert!(lower.contains("read-only"), "{}: {text}", loc.prefix);
        assert_eq!(files_under(fresh.path()), Vec::<PathBuf>::new());
    }
    let (code, _) = run(&mut boot_cmd(&bin, s.path(), fresh.path()));
    let log = std::fs::read_to_string(s.path().join("kmsg")).expect("kmsg");
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains(&format!(
            "bpf filesystem {} is mounted read-only",
            fresh.path().display()
        )),
        "{log}"
    );
    assert_eq!(files_under(fresh.path()), Vec::<PathBuf>::new());

    // Remounted read-only after the boot flow made its directories: the
    // directories exist (mkdir gives EEXIST), the engine must still refuse.
    let fs = PrivateBpffs::new();
    mk_pin_dirs(&fs);
    let before = snapshot(fs.path());
    remount_ro(&fs);
    assert!(matches!(
        Bpffs::open(&LinuxSys, fs.path()),
        Err(BpffsError::ReadOnly { .. })
    ));
    for loc in locations(s.path()) {
        let (code, text) = run(&mut load_cmd(&bin, &loc, fs.path()));
        assert_eq!(code, Some(1), "{}: {text}", loc.prefix);
        assert!(text.contains("is mounted read-only"), "{text}");
    }
    assert_eq!(snapshot(fs.path()), before);
}

fn json_objects(text: &str) -> Vec<Value> {
    let v = netbpfload_tests::schema::parse_valid(text.as_bytes());
    assert_eq!(v["schema_version"], 2, "{text}");
    v["location"]["objects"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn without_cap_bpf_and_cap_sys_admin_every_object_fails_with_eperm_and_pins_nothing() {
    let bin = netbpfload_bin();
    let s = stage();
    let fs = PrivateBpffs::new();
    mk_pin_dirs(&fs);
    let before = snapshot(fs.path());
    let mut failed = 0;
    for loc in locations(s.path()) {
        // uid 0, but neither CAP_BPF nor CAP_SYS_ADMIN (nor the ambient or
        // inheritable sets to regain them).
        let mut c = Command::new("setpriv");
        c.args([
            "--inh-caps=-all",
            "--ambient-caps=-all",
            "--bounding-set=-bpf,-sys_admin,-perfmon",
            "--",
        ]);
        let mut inner = load_cmd(&bin, &loc, fs.path());
        inner.arg("--json");
        c.arg(inner.get_program()).args(inner.get_args());
        let out = c.output().expect("setpriv");
        let text = String::from_utf8_lossy(&out.stdout);
        let objects = json_objects(&text);
        let want = if objects.is_empty() { 0 } else { 1 };
        // Critical objects failing make it 2.
        assert!(
            out.status.code().is_some_and(|c| c >= want),
            "{}: {text}",
            loc.prefix
        );
        for o in objects {
            let outcome = &o["outcome"];
            match outcome["status"].as_str() {
                Some("skipped") => {}
                Some("failed") => {
                    let e = &outcome["error"];
                    assert_eq!(e["kind"], "load", "{e:#}");
                    assert_eq!(e["errno"], libc::EPERM, "{e:#}");
                    assert_eq!(e["errno_name"], "EPERM", "{e:#}");
                    let m = e["message"].as_str().unwrap_or_default();
                    assert!(
                        m.contains("BPF_MAP_CREATE") || m.contains("BPF_PROG_LOAD"),
                        "{m}"
                    );
                    failed += 1;
                }
                _ => panic!("{}: loaded without CAP_BPF: {o:#}", loc.prefix),
            }
        }
    }
    assert!(failed >= 5, "only {failed} objects failed");
    assert_eq!(snapshot(fs.path()), before, "something was pinned");
}

fn clang() -> String {
    std::env::var("BPF_CLANG").unwrap_or_else(|_| "clang".into())
}

/// Compiles `src` with our headers (`bpf-progs/include`) into `dir/name`.
fn compile(dir: &Path, name: &str, src: &str) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).expect("write source");
    let o = dir.join(name);
    let (_, machine) = LinuxSys.uname().expect("uname");
    let out = Command::new(clang())
        .args(["-target", "bpf", "-O2", "-Wall", "-Werror", "-nostdlibinc"])
        .args(["-isystem", "/usr/include", "-isystem"])
        .arg(format!("/usr/include/{machine}-linux-gnu"))
        .arg("-I")
        .arg(workspace().join("bpf-progs/include"))
        .arg("-c")
        .arg(&c)
        .arg("-o")
        .arg(&o)
        .output()
        .expect("run clang");
    assert!(
        out.status.success(),
        "clang {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&c).expect("rm source");
    std::fs::set_permissions(&o, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    o
}

/// An object with a good map, then a map of the given type and sizes, then
/// a program.
fn map_object_of(map_type: &str, key_size: &str, value_size: &str, max_entries: &str) -> String {
    format!(
        r#"#include <linux/bpf.h>
#include "bpf_helpers.h"
DEFINE_BPF_MAP(ok_map, ARRAY, __u32, __u64, 4);
BPF_MAP_RECORD(sized_map, BPF_MAP_TYPE_{map_type}, {key_size}, {value_size}, {max_entries}, 0, AID_ROOT,
               AID_SYSTEM, 0640, DOMAIN_UNSPECIFIED, DOMAIN_UNSPECIFIED, false, KVER_NONE,
               KVER_INF, BPFLOADER_DEFAULT_MIN_VER, BPFLOADER_DEFAULT_MAX_VER, 0u);
DEFINE_BPF_PROG("skfilter/accept", AID_ROOT, AID_SYSTEM, accept)
(struct __sk_buff *skb) {{
    return skb->len;
}}
LICENSE("Apache 2.0");
"#
    )
}

fn map_object(value_size: &str, max_entries: &str) -> String {
    map_object_of("ARRAY", "4", value_size, max_entries)
}

fn outcome_of<'a>(r: &'a LocationReport, file: &str) -> &'a ObjectOutcome {
    &r.objects
        .iter()
        .find(|o| o.file.file_name().and_then(|n| n.to_str()) == Some(file))
        .unwrap_or_else(|| panic!("{file} not in {r:#?}"))
        .outcome
}

#[test]
fn kernel_refusing_absurd_maps_fails_only_those_objects() {
    let fs = PrivateBpffs::new();
    let dir = tempfile::tempdir().expect("objects");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // A hash value of 8 MiB, beyond KMALLOC_MAX_SIZE: htab_map_alloc_check
    // says E2BIG.
    compile(
        dir.path(),
        "hugeValue.o",
        &map_object_of("HASH", "4", "8u << 20", "16"),
    );
    // 2^32-1 entries of 8 bytes (32 GiB): the allocation fails, ENOMEM.
    compile(dir.path(), "hugeArray.o", &map_object("8", "0xffffffffu"));
    compile(dir.path(), "fine.o", &map_object("8", "16"));
    fs.mkdir("net_private");
    // 32 GiB is over any machine's default budget (a quarter of its memory:
    // `maps_over_the_memory_budget_are_never_created`); lifted here, the
    // kernel is asked and refuses.
    let mut c = cfg(fs.path(), Role::Mainline);
    c.map_bytes.max = u64::MAX;
    let r = engine::load_location(&LinuxSys, &c, &Location::new(dir.path(), "net_private/"));
    for (file, errno) in [("hugeValue.o", libc::E2BIG), ("hugeArray.o", libc::ENOMEM)] {
        match outcome_of(&r, file) {
            ObjectOutcome::Failed {
                error: ObjectError::Load(LoadError::Sys { what, source }),
            } => {
                assert_eq!(what, "map sized_map: create", "{file}");
                assert_eq!(
                    (source.op, source.errno()),
                    (Op::MapCreate, Some(errno)),
                    "{file}"
                );
            }
            o => panic!("{file}: {o:#?}"),
        }
        // ok_map was created first, but nothing is pinned before the
        // whole object is in hand.
        let obj = file.trim_end_matches(".o");
        assert_eq!(
            bpffs::obj_get_errno(
                &fs.pin(&format!("net_private/map_{obj}_ok_map")),
                BPF_F_RDONLY
            ),
            Some(libc::ENOENT),
            "{file}"
        );
    }
    assert!(
        matches!(outcome_of(&r, "fine.o"), ObjectOutcome::Loaded { .. }),
        "{r:#?}"
    );
    let mut names: Vec<String> = snapshot(fs.path()).into_keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "net_private",
            "net_private/map_fine_ok_map",
            "net_private/map_fine_sized_map",
            "net_private/prog_fine_skfilter_accept",
        ]
    );
}

#[test]
fn incompatible_pin_from_an_older_release_fails_the_object_and_stays() {
    let fs = PrivateBpffs::new();
    fs.mkdir("net_private");
    let old = tempfile::tempdir().expect("old release");
    let new = tempfile::tempdir().expect("new release");
    for d in [&old, &new] {
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    // The same object; the new release grew sized_map's value from 8 to 16.
    compile(old.path(), "stats.o", &map_object("8", "16"));
    compile(new.path(), "stats.o", &map_object("16", "16"));
    let c = cfg(fs.path(), Role::Mainline);
    let r = engine::load_location(&LinuxSys, &c, &Location::new(old.path(), "net_private/"));
    assert!(
        matches!(outcome_of(&r, "stats.o"), ObjectOutcome::Loaded { .. }),
        "{r:#?}"
    );
    let rel = "net_private/map_stats_sized_map";
    let old_id = bpffs::map_info(&fs.pin(rel)).id;
    let old_tree = snapshot(fs.path());

    let r = engine::load_location(&LinuxSys, &c, &Location::new(new.path(), "net_private/"));
    match outcome_of(&r, "stats.o") {
        ObjectOutcome::Failed {
            error:
                ObjectError::Load(LoadError::MapMismatch {
                    pin,
                    field,
                    actual,
                    expected,
                    ..
                }),
        } => assert_eq!(
            (pin.as_str(), *field, actual.as_str(), expected.as_str()),
            ("net_private/map_stats_sized_map", "value_size", "8", "16")
        ),
        o => panic!("{o:#?}"),
    }
    assert_eq!(bpffs::map_info(&fs.pin(rel)).id, old_id, "old pin replaced");
    // Nothing else changed either: ok_map and the program were reused
    // before sized_map's check failed, and nothing was created.
    assert_eq!(snapshot(fs.path()), old_tree);
}

/// A loader killed (SIGKILL) after `budget` mutations of the pin tree: from
/// then on every call fails without effect, so nothing more happens.
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
}

impl Hook for Killed {
    fn before(&self, op: Op, path: Option<&Path>) -> SysResult<()> {
        if self.budget.load(Ordering::SeqCst) == 0 {
            return Err(SysError::from_errno(op, path, libc::EINTR));
        }
        if op.mutates() {
            self.budget.fetch_sub(1, Ordering::SeqCst);
            self.mutations.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// `(file, status)` of every object, the outcome a run must reproduce.
fn statuses(reports: &[LocationReport]) -> Vec<(PathBuf, &'static str)> {
    reports
        .iter()
        .flat_map(|r| &r.objects)
        .map(|o| {
            let s = match o.outcome {
                ObjectOutcome::Loaded { .. } => "loaded",
                ObjectOutcome::Skipped { .. } => "skipped",
                ObjectOutcome::Failed { .. } => "failed",
            };
            (o.file.clone(), s)
        })
        .collect()
}

/// Asserts that a re-run after a kill reached the uninterrupted tree: every
/// final pin as it should be, nothing else at a final path. The only
/// leftovers allowed are our own temporary pins (`tmp_nbl_…`) the killed
/// process had staged; a run holding the board's run lock removes them
/// (`rerun_after_sigkill_of_the_cli…`), the boot path never unlinks.
fn assert_converged(got: &BTreeMap<String, String>, want: &BTreeMap<String, String>, ctx: &str) {
    let finals: BTreeMap<&String, &String> = got.iter().filter(|(k, _)| !is_tmp(k)).collect();
    let want: BTreeMap<&String, &String> = want.iter().collect();
    assert_eq!(finals, want, "{ctx}");
}

#[test]
fn rerun_after_a_kill_converges_to_the_uninterrupted_tree() {
    let s = stage();
    let reference = PrivateBpffs::new();
    mk_pin_dirs(&reference);
    let counter = Interposed::new(LinuxSys, Killed::after(usize::MAX));
    let want_status = statuses(&load_all(&counter, reference.path(), s.path()));
    let want = snapshot(reference.path());
    let total = counter.hook.mutations.load(Ordering::SeqCst);
    assert!(want.len() > 20, "{want:#?}");
    assert!(!want.keys().any(|k| is_tmp(k)), "{want:#?}");

    // Kill points spread over the whole run: between staging a pin and its
    // chmod, chown and rename (every residue mod 4 is hit), and between the
    // renames of one object.
    let points: Vec<usize> = (1..total).step_by(5).chain([2, 3, 4, total - 1]).collect();
    for kill_at in points {
        let fs = PrivateBpffs::new();
        mk_pin_dirs(&fs);
        let killed = Interposed::new(LinuxSys, Killed::after(kill_at));
        let _ = load_all(&killed, fs.path(), s.path());
        assert_eq!(killed.hook.mutations.load(Ordering::SeqCst), kill_at);
        let reports = load_all(&LinuxSys, fs.path(), s.path());
        assert_eq!(statuses(&reports), want_status, "killed after {kill_at}");
        assert_converged(
            &snapshot(fs.path()),
            &want,
            &format!("killed after {kill_at} of {total} tree mutations, then re-run"),
        );
    }
}

#[test]
fn rerun_after_sigkill_of_the_cli_converges_to_the_uninterrupted_tree() {
    let bin = netbpfload_bin();
    let s = stage();
    let reference = PrivateBpffs::new();
    mk_pin_dirs(&reference);
    let locs = locations(s.path());
    let mut want_codes = Vec::new();
    for l in &locs {
        want_codes.push(run(&mut load_cmd(&bin, l, reference.path())).0);
    }
    let want = snapshot(reference.path());
    let lock_dir = tempfile::tempdir().expect("lock dir");
    let lock = lock_dir.path().join("netbpfload.lock");
    for delay_ms in [2u64, 5, 10, 20, 40, 80] {
        let fs = PrivateBpffs::new();
        mk_pin_dirs(&fs);
        // All locations at once, each killed after `delay_ms`.
        let children: Vec<_> = locs
            .iter()
            .map(|l| {
                load_cmd(&bin, l, fs.path())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // The re-run holds the board's run lock, so it also clears the
        // killed processes' temporary pins: the tree is exactly the same.
        let codes: Vec<Option<i32>> = locs
            .iter()
            .map(|l| run(&mut load_cmd_locked(&bin, l, fs.path(), Some(&lock))).0)
            .collect();
        assert_eq!(codes, want_codes, "after SIGKILL at {delay_ms} ms");
        assert_eq!(
            snapshot(fs.path()),
            want,
            "after SIGKILL at {delay_ms} ms, then a re-run"
        );
    }
}

/// On a board, loaders are serialised by the run lock (a file outside the
/// bpffs: Android's policy allows no lock on it, and init runs one loader
/// there anyway). A loader waits for a held lock, then loads normally; the
/// wait is bounded.
#[test]
fn the_run_lock_makes_a_loader_wait_and_the_wait_is_bounded() {
    let bin = netbpfload_bin();
    let s = stage();
    let locs = locations(s.path());
    let netd = locs
        .iter()
        .find(|l| l.prefix == "netd_shared/")
        .expect("netd_shared location");
    let reference = PrivateBpffs::new();
    mk_pin_dirs(&reference);
    let (want_code, _) = run(&mut load_cmd(&bin, netd, reference.path()));

    let lock_dir = tempfile::tempdir().expect("lock dir");
    let lock = lock_dir.path().join("netbpfload.lock");
    let held = LinuxSys
        .lock_file(&lock, Duration::from_secs(1))
        .expect("take the lock");
    // Bounded: a second taker gives up with EWOULDBLOCK after its timeout.
    let t = Instant::now();
    let e = LinuxSys
        .lock_file(&lock, Duration::from_millis(300))
        .expect_err("the lock is held");
    assert_eq!(e.errno(), Some(libc::EWOULDBLOCK), "{e}");
    assert!(t.elapsed() >= Duration::from_millis(300));

    let fs = PrivateBpffs::new();
    mk_pin_dirs(&fs);
    let mut child = load_cmd_locked(&bin, netd, fs.path(), Some(&lock))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // An unblocked load of this location takes a few milliseconds.
    std::thread::sleep(Duration::from_millis(700));
    let early = child.try_wait().expect("try_wait");
    let pins_while_locked: Vec<String> = snapshot(fs.path())
        .into_keys()
        .filter(|k| k.contains("/map_") || k.contains("/prog_"))
        .collect();
    drop(held);
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(early, None, "the loader did not wait for the lock:\n{text}");
    assert!(pins_while_locked.is_empty(), "{pins_while_locked:?}");
    assert_eq!(out.status.code(), want_code, "{text}");
    assert_eq!(snapshot(fs.path()), snapshot(reference.path()));
}

#[test]
fn two_loaders_at_once_agree_on_every_pin() {
    let bin = netbpfload_bin();
    let s = stage();
    let reference = PrivateBpffs::new();
    mk_pin_dirs(&reference);
    let locs = locations(s.path());
    let mut want_codes = Vec::new();
    for l in &locs {
        want_codes.push(run(&mut load_cmd(&bin, l, reference.path())).0);
    }
    let want = snapshot(reference.path());
    let lock_dir = tempfile::tempdir().expect("lock dir");
    let lock = lock_dir.path().join("netbpfload.lock");
    for round in 0..8 {
        let fs = PrivateBpffs::new();
        mk_pin_dirs(&fs);
        // Each location by two processes at once: rounds 0, 4 with the
        // board's run lock (they take turns), the others without it (the
        // engine's own race handling); odd rounds also run the locations
        // concurrently with each other.
        let with_lock = (round % 4 == 0).then_some(lock.as_path());
        let mut outputs = Vec::new();
        for chunk in locs.chunks(if round % 2 == 1 { locs.len() } else { 1 }) {
            let spawned: Vec<_> = chunk
                .iter()
                .flat_map(|l| [l, l])
                .map(|l| {
                    let mut c = load_cmd_locked(&bin, l, fs.path(), with_lock);
                    c.args(if round % 3 == 2 {
                        &["--json", "--sequential"][..]
                    } else {
                        &["--json"][..]
                    })
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn")
                })
                .collect();
            for c in spawned {
                outputs.push(c.wait_with_output().expect("wait"));
            }
        }
        for (i, pair) in outputs.chunks(2).enumerate() {
            let [a, b] = pair else {
                panic!("odd output count")
            };
            let ta = String::from_utf8_lossy(&a.stdout);
            let tb = String::from_utf8_lossy(&b.stdout);
            let ctx = format!(
                "round {round}, {}:\n{ta}\n{}\n---\n{tb}\n{}",
                locs[i].prefix,
                String::from_utf8_lossy(&a.stderr),
                String::from_utf8_lossy(&b.stderr)
            );
            assert_eq!(a.status.code(), want_codes[i], "{ctx}");
            assert_eq!(b.status.code(), want_codes[i], "{ctx}");
            let pins = |t: &str| -> BTreeMap<String, u64> {
                let mut m = BTreeMap::new();
                for o in json_objects(t) {
                    for p in o["outcome"]["maps"]
                        .as_array()
                        .into_iter()
                        .chain(o["outcome"]["programs"].as_array())
                        .flatten()
                    {
                        m.insert(
                            p["pin"].as_str().unwrap_or_default().to_string(),
                            p["id"].as_u64().unwrap_or_default(),
                        );
                    }
                }
                m
            };
            let (pa, pb) = (pins(&ta), pins(&tb));
            assert!(
                !pa.is_empty() || locs[i].prefix == "netd_readonly/",
                "{ctx}"
            );
            assert_eq!(
                pa, pb,
                "both loaders must name the same object per pin: {ctx}"
            );
            for (pin, id) in &pa {
                let path = fs.pin(pin);
                let fd =
                    bpffs::obj_get(&path, BPF_F_RDONLY).unwrap_or_else(|e| panic!("{pin}: {e}"));
                let got = LinuxSys
                    .map_info(fd.as_fd())
                    .map(|i| i.id)
                    .or_else(|_| LinuxSys.prog_info(fd.as_fd()).map(|i| i.id))
                    .unwrap_or_else(|e| panic!("{pin}: {e}"));
                assert_eq!(u64::from(got), *id, "{pin}: reported id not pinned: {ctx}");
            }
        }
        // A loader that lost a race may have left its staged temporary
        // pins (it never unlinks); every final pin is the reference's.
        assert_converged(&snapshot(fs.path()), &want, &format!("round {round}"));
    }
}

#[test]
fn boot_flow_on_a_good_bpffs_reaches_done() {
    // The negative boot-flow tests above assert that nothing happens; this
    // one shows the same staging does load, so those are not vacuous.
    let bin = netbpfload_bin();
    let s = boot_stage(&bin);
    let fs = PrivateBpffs::new();
    let (code, _) = run(&mut boot_cmd(&bin, s.path(), fs.path()));
    let log = std::fs::read_to_string(s.path().join("kmsg")).expect("kmsg");
    assert_eq!(code, Some(0), "{log}");
    assert!(
        files_under(fs.path()).len() > 20,
        "{:?}",
        files_under(fs.path())
    );
    let meta = std::fs::metadata(fs.pin("tethering")).expect("tethering dir");
    assert_eq!(meta.mode() & 0o7777, paths::PIN_DIR_MODE);
}

#[test]
fn maps_over_the_memory_budget_are_never_created() {
    let fs = PrivateBpffs::new();
    let dir = tempfile::tempdir().expect("objects");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // 32,768 x (4 + 4,096) bytes = 128 MiB, plus ok_map's 4 x (4 + 8).
    compile(dir.path(), "greedy.o", &map_object("4096", "32768"));
    // 8,192 x 4,100 bytes: 32 MiB.
    compile(dir.path(), "modest.o", &map_object("4096", "8192"));
    fs.mkdir("net_private");
    let loc = Location::new(dir.path(), "net_private/");

    // The engine, with a 64 MiB budget: greedy.o fails at its plan, before
    // any map of it exists (only modest.o's two maps are created).
    let mut c = cfg(fs.path(), Role::Mainline);
    assert!(c.map_bytes.max >= 64 << 20, "{:?}", c.map_bytes);
    c.map_bytes.max = 64 << 20;
    let sys = Interposed::new(LinuxSys, Recorder::default());
    let r = engine::load_location(&sys, &c, &loc);
    match outcome_of(&r, "greedy.o") {
        ObjectOutcome::Failed {
            error: ObjectError::Plan(e),
        } => {
            let text = e.to_string();
            assert!(
                text.contains(
                    "its maps declare 134348848 bytes of kernel memory (largest: sized_map"
                ) && text.contains("more than the 67108864"),
                "{text}"
            );
        }
        o => panic!("greedy.o: {o:#?}"),
    }
    assert!(
        matches!(outcome_of(&r, "modest.o"), ObjectOutcome::Loaded { .. }),
        "{r:#?}"
    );
    assert_eq!(sys.hook.ops(Op::MapCreate).len(), 2, "modest.o's maps only");
    let names: Vec<String> = snapshot(fs.path()).into_keys().collect();
    assert!(names.iter().all(|n| !n.contains("greedy")), "{names:?}");

    // The CLI: --map-memory-max-mib, reported in JSON as a plan failure.
    let fs = PrivateBpffs::new();
    let bin = netbpfload_bin();
    let (code, text) = run(load_cmd(&bin, &loc, fs.path()).arg("--insecure").args([
        "--map-memory-max-mib",
        "64",
        "-j",
    ]));
    assert_eq!(code, Some(1), "{text}");
    let json: Value = serde_json::from_str(text.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {text}"));
    let greedy = json["location"]["objects"]
        .as_array()
        .and_then(|o| {
            o.iter()
                .find(|o| o["file"].as_str().is_some_and(|f| f.ends_with("greedy.o")))
        })
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(greedy["outcome"]["error"]["kind"], "plan", "{greedy}");
    assert_eq!(
        greedy["outcome"]["error"]["reason"], "map_bytes",
        "{greedy}"
    );
    let names: Vec<String> = snapshot(fs.path()).into_keys().collect();
    assert!(
        names.iter().any(|n| n.contains("map_modest_sized_map")),
        "{names:?}"
    );
    assert!(names.iter().all(|n| !n.contains("greedy")), "{names:?}");
}
