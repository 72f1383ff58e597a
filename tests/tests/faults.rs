//! Root tier: faults on the real kernel. A bpffs that is not there or is
//! read-only, the kernel refusing maps and programs (EPERM without the
//! capabilities, E2BIG and ENOMEM for absurd maps), a loader killed half-way
//! and run again, two loaders racing on one tree, and an incompatible pin
//! left by an older release.
//!
//! Run as root in a private mount namespace:
//! `unshare -m --propagation private cargo test -p netbpfload-tests --test faults`.

use netbpfload::engine::{self, LoadConfig, LocationReport, ObjectOutcome};
use netbpfload::gate::{Arch, BuildType, GateEnv};
use netbpfload::paths::{self, Location};
use netbpfload::spec::Kver;
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::{
    FileStat, MapCreateAttr, MapInfo, ObjKind, ProgInfo, ProgLoadAttr, Sys, SysError, SysResult,
    BPF_F_RDONLY,
};
use netbpfload_tests::bpffs::{self, PrivateBpffs};
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Builds the `netbpfload` binary and returns its path.
fn netbpfload_bin() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-p", "netbpfload", "--bin", "netbpfload"])
        .current_dir(workspace())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build -p netbpfload failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let bin = target.join("debug").join("netbpfload");
    assert!(bin.exists(), "{} missing after cargo build", bin.display());
    bin
}

fn gate_env() -> GateEnv {
    let (release, machine) = LinuxSys.uname().expect("uname");
    GateEnv {
        loader_ver: 45,
        kver: Kver::parse_release(&release).expect("kernel release"),
        build_type: BuildType::Userdebug,
        arch: Arch::from_uname_machine(&machine),
    }
}

fn cfg(root: &Path) -> LoadConfig {
    LoadConfig {
        bpffs_root: root.to_path_buf(),
        gate: gate_env(),
        parallel: false,
        insecure: false,
        manifest_key: None,
        btf: false,
    }
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
        .chain(std::iter::once(bpf_progs::Location::Platform))
        .map(|l| Location::new(stage.join(l.dir()), l.bpffs_prefix()))
        .collect()
}

fn mk_pin_dirs(fs: &PrivateBpffs) {
    for d in paths::created_subdirs() {
        fs.mkdir(d);
    }
}

fn load_all(sys: &dyn Sys, root: &Path, stage: &Path) -> Vec<LocationReport> {
    let c = cfg(root);
    locations(stage)
        .iter()
        .map(|l| engine::load_location(sys, &c, l))
        .collect()
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
            let what = match LinuxSys.map_info(fd.as_fd()) {
                Ok(i) => format!(
                    "map type {} key {} value {} max {} flags {:#x}",
                    i.map_type, i.key_size, i.value_size, i.max_entries, i.map_flags
                ),
                Err(_) => {
                    let i = LinuxSys
                        .prog_info(fd.as_fd())
                        .unwrap_or_else(|e| panic!("{}: neither map nor prog: {e}", p.display()));
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

fn load_cmd(bin: &Path, loc: &Location, bpffs: &Path) -> Command {
    let mut c = Command::new(bin);
    c.arg("load")
        .arg("--location")
        .arg(&loc.dir)
        .args(["--prefix", &loc.prefix, "--kmsg", "/dev/null"])
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
        workspace().join("init/platform-netbpfload.rc"),
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
    let reports = load_all(&LinuxSys, fs.path(), s.path());
    for r in &reports {
        assert_eq!(
            r.error.as_deref(),
            Some(
                format!(
                    "bpf filesystem {} is mounted read-only; refusing to load (nothing can be pinned)",
                    fs.path().display()
                )
                .as_str()
            ),
            "{r:#?}"
        );
        assert!(r.objects.is_empty(), "{r:#?}");
    }
    for loc in locations(s.path()) {
        let (code, text) = run(&mut load_cmd(&bin, &loc, fs.path()));
        assert_eq!(code, Some(1), "{}: {text}", loc.prefix);
        assert!(text.contains("is mounted read-only"), "{text}");
    }
    assert_eq!(snapshot(fs.path()), before);
}

fn json_objects(text: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    v["objects"].as_array().cloned().unwrap_or_default()
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
                    let e = outcome["error"].as_str().unwrap_or_default();
                    assert!(
                        e.contains("BPF_MAP_CREATE") || e.contains("BPF_PROG_LOAD"),
                        "{e}"
                    );
                    assert!(e.contains("Operation not permitted (os error 1)"), "{e}");
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
    let r = engine::load_location(
        &LinuxSys,
        &cfg(fs.path()),
        &Location::new(dir.path(), "net_private/"),
    );
    for (file, errno) in [("hugeValue.o", libc::E2BIG), ("hugeArray.o", libc::ENOMEM)] {
        match outcome_of(&r, file) {
            ObjectOutcome::Failed { error, .. } => {
                let want = format!(
                    "map sized_map: create: BPF_MAP_CREATE: {}",
                    std::io::Error::from_raw_os_error(errno)
                );
                assert_eq!(error, &want, "{file}");
            }
            o => panic!("{file}: {o:#?}"),
        }
        // ok_map was created and pinned first, then rolled back.
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
    let c = cfg(fs.path());
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
        ObjectOutcome::Failed { error, .. } => assert_eq!(
            error,
            "net_private/map_stats_sized_map: value_size 8 on the existing pin, 16 in the object"
        ),
        o => panic!("{o:#?}"),
    }
    assert_eq!(bpffs::map_info(&fs.pin(rel)).id, old_id, "old pin replaced");
    // Nothing else changed either: ok_map and the program were reused
    // before sized_map's check failed, and nothing was created.
    assert_eq!(snapshot(fs.path()), old_tree);
}

/// A loader killed (SIGKILL) after `budget` mutations of the pin tree: from
/// then on every call fails without effect, so no rollback runs either.
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
    fn check(&self, op: &'static str) -> SysResult<()> {
        if self.budget.load(Ordering::SeqCst) == 0 {
            Err(SysError::from_errno(op, None, libc::EINTR))
        } else {
            Ok(())
        }
    }
    fn mutate(&self, op: &'static str) -> SysResult<()> {
        self.check(op)?;
        self.budget.fetch_sub(1, Ordering::SeqCst);
        self.mutations.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl Sys for Killed {
    fn map_create(&self, attr: &MapCreateAttr) -> SysResult<OwnedFd> {
        self.check("BPF_MAP_CREATE")?;
        LinuxSys.map_create(attr)
    }
    fn prog_load(&self, attr: &ProgLoadAttr<'_>, log: &mut [u8]) -> SysResult<OwnedFd> {
        self.check("BPF_PROG_LOAD")?;
        LinuxSys.prog_load(attr, log)
    }
    fn obj_pin(&self, fd: BorrowedFd<'_>, path: &Path) -> SysResult<()> {
        self.mutate("BPF_OBJ_PIN")?;
        LinuxSys.obj_pin(fd, path)
    }
    fn obj_get(&self, path: &Path, file_flags: u32, kind: ObjKind) -> SysResult<OwnedFd> {
        self.check("BPF_OBJ_GET")?;
        LinuxSys.obj_get(path, file_flags, kind)
    }
    fn map_info(&self, fd: BorrowedFd<'_>) -> SysResult<MapInfo> {
        self.check("BPF_OBJ_GET_INFO_BY_FD")?;
        LinuxSys.map_info(fd)
    }
    fn prog_info(&self, fd: BorrowedFd<'_>) -> SysResult<ProgInfo> {
        self.check("BPF_OBJ_GET_INFO_BY_FD")?;
        LinuxSys.prog_info(fd)
    }
    fn map_update(
        &self,
        fd: BorrowedFd<'_>,
        key: &[u8],
        value: &[u8],
        flags: u64,
    ) -> SysResult<()> {
        self.mutate("BPF_MAP_UPDATE_ELEM")?;
        LinuxSys.map_update(fd, key, value, flags)
    }
    fn map_lookup(&self, fd: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> SysResult<()> {
        self.check("BPF_MAP_LOOKUP_ELEM")?;
        LinuxSys.map_lookup(fd, key, value)
    }
    fn chmod(&self, path: &Path, mode: u32) -> SysResult<()> {
        self.mutate("chmod")?;
        LinuxSys.chmod(path, mode)
    }
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> SysResult<()> {
        self.mutate("lchown")?;
        LinuxSys.chown(path, uid, gid)
    }
    fn rename_noreplace(&self, from: &Path, to: &Path) -> SysResult<()> {
        self.mutate("renameat2")?;
        LinuxSys.rename_noreplace(from, to)
    }
    fn lock_dir(&self, path: &Path) -> SysResult<OwnedFd> {
        self.check("flock")?;
        LinuxSys.lock_dir(path)
    }
    fn unlink(&self, path: &Path) -> SysResult<()> {
        self.mutate("unlink")?;
        LinuxSys.unlink(path)
    }
    fn mkdir(&self, path: &Path, mode: u32) -> SysResult<()> {
        self.mutate("mkdir")?;
        LinuxSys.mkdir(path, mode)
    }
    fn lstat(&self, path: &Path) -> SysResult<FileStat> {
        self.check("lstat")?;
        LinuxSys.lstat(path)
    }
    fn statfs_type(&self, path: &Path) -> SysResult<i64> {
        self.check("statfs")?;
        LinuxSys.statfs_type(path)
    }
    fn is_read_only_fs(&self, path: &Path) -> SysResult<bool> {
        self.check("statvfs")?;
        LinuxSys.is_read_only_fs(path)
    }
    fn read_dir(&self, path: &Path) -> SysResult<Vec<String>> {
        self.check("readdir")?;
        LinuxSys.read_dir(path)
    }
    fn read_file(&self, path: &Path, max_len: u64) -> SysResult<(Vec<u8>, FileStat)> {
        self.check("read")?;
        LinuxSys.read_file(path, max_len)
    }
    fn write_file(&self, path: &Path, data: &[u8]) -> SysResult<()> {
        self.mutate("write")?;
        LinuxSys.write_file(path, data)
    }
    fn uname(&self) -> SysResult<(String, String)> {
        self.check("uname")?;
        LinuxSys.uname()
    }
    fn page_size(&self) -> SysResult<u32> {
        self.check("sysconf")?;
        LinuxSys.page_size()
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

/// Object names (`paths::object_name`) of the objects that failed.
fn failed_objects(status: &[(PathBuf, &'static str)]) -> Vec<String> {
    status
        .iter()
        .filter(|(_, s)| *s == "failed")
        .map(|(f, _)| paths::object_name(f))
        .collect()
}

/// Asserts that a re-run after a kill reached the uninterrupted tree.
///
/// One documented exception: a loader killed while it was loading an
/// object that then fails (before that object's rollback finished) leaves
/// some of that object's pins, complete with declared mode and owner. The
/// re-run reports the same failure but cannot tell those pins from ones an
/// earlier, successful run made, so it leaves them. Such extra entries are
/// allowed only if they are named after a failed object; everything else
/// must match exactly. Returns whether there were such extras.
fn assert_converged(
    got: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
    failed: &[String],
    ctx: &str,
) -> bool {
    let mut extra = false;
    for (k, v) in want {
        assert_eq!(got.get(k), Some(v), "{ctx}: {k}");
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        let name = k.rsplit('/').next().unwrap_or(k);
        assert!(
            failed.iter().any(|o| {
                name.starts_with(&format!("map_{o}_")) || name.starts_with(&format!("prog_{o}_"))
            }),
            "{ctx}: unexpected {k} ({})",
            got[k]
        );
        extra = true;
    }
    extra
}

#[test]
fn rerun_after_a_kill_converges_to_the_uninterrupted_tree() {
    let s = stage();
    let reference = PrivateBpffs::new();
    mk_pin_dirs(&reference);
    let counter = Killed::after(usize::MAX);
    let want_status = statuses(&load_all(&counter, reference.path(), s.path()));
    let want = snapshot(reference.path());
    let total = counter.mutations.load(Ordering::SeqCst);
    assert!(want.len() > 20, "{want:#?}");

    // Kill points spread over the whole run, including between a pin and
    // its chmod/chown (every residue mod 3 is hit) and inside rollbacks of
    // the failing objects.
    let points: Vec<usize> = (1..total).step_by(7).chain([2, 3, total - 1]).collect();
    let (mut exact, mut inside_failing) = (0, 0);
    for kill_at in points {
        let fs = PrivateBpffs::new();
        mk_pin_dirs(&fs);
        let killed = Killed::after(kill_at);
        let _ = load_all(&killed, fs.path(), s.path());
        assert_eq!(killed.mutations.load(Ordering::SeqCst), kill_at);
        let reports = load_all(&LinuxSys, fs.path(), s.path());
        assert_eq!(statuses(&reports), want_status, "killed after {kill_at}");
        if assert_converged(
            &snapshot(fs.path()),
            &want,
            &failed_objects(&want_status),
            &format!("killed after {kill_at} of {total} tree mutations, then re-run"),
        ) {
            inside_failing += 1;
        } else {
            exact += 1;
        }
    }
    assert!(
        exact > inside_failing,
        "{exact} exact, {inside_failing} not"
    );
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
    let failed: Vec<String> = bpf_progs::OBJECTS
        .iter()
        .filter(|o| o.location.is_some())
        .filter(|o| {
            matches!(
                o.kind,
                bpf_progs::Kind::VerifierRejected | bpf_progs::Kind::FailingCritical
            )
        })
        .map(|o| paths::object_name(Path::new(o.file_name)))
        .collect();
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
        let codes: Vec<Option<i32>> = locs
            .iter()
            .map(|l| run(&mut load_cmd(&bin, l, fs.path())).0)
            .collect();
        assert_eq!(codes, want_codes, "after SIGKILL at {delay_ms} ms");
        assert_converged(
            &snapshot(fs.path()),
            &want,
            &failed,
            &format!("after SIGKILL at {delay_ms} ms"),
        );
    }
}

/// The `tmp_*` name of a `selinux_context` pin is the same in every loader,
/// so the pin and its rename happen under an exclusive `flock` of the
/// context's directory. With every pin directory locked by the test, the
/// loader must wait (netd.o declares contexts); once released, it finishes
/// with the tree an undisturbed run builds.
#[test]
fn temporary_pins_wait_for_the_directory_lock() {
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

    let fs = PrivateBpffs::new();
    mk_pin_dirs(&fs);
    let locks: Vec<OwnedFd> = paths::created_subdirs()
        .iter()
        .map(|d| LinuxSys.lock_dir(&fs.path().join(d)).expect("lock pin dir"))
        .collect();
    let mut child = load_cmd(&bin, netd, fs.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // An unblocked load of this location takes a few milliseconds.
    std::thread::sleep(std::time::Duration::from_millis(700));
    let early = child.try_wait().expect("try_wait");
    let tmp_while_locked: Vec<String> = snapshot(fs.path())
        .into_keys()
        .filter(|k| {
            k.rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with(paths::TMP_PIN_PREFIX))
        })
        .collect();
    drop(locks);
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(early, None, "the loader did not wait for the lock:\n{text}");
    assert!(tmp_while_locked.is_empty(), "{tmp_while_locked:?}");
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
    for round in 0..6 {
        let fs = PrivateBpffs::new();
        mk_pin_dirs(&fs);
        // Each location by two processes at once; odd rounds also run the
        // locations concurrently with each other.
        let mut outputs = Vec::new();
        for chunk in locs.chunks(if round % 2 == 1 { locs.len() } else { 1 }) {
            let spawned: Vec<_> = chunk
                .iter()
                .flat_map(|l| [l, l])
                .map(|l| {
                    let mut c = load_cmd(&bin, l, fs.path());
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
        assert_eq!(snapshot(fs.path()), want, "round {round}");
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
