//! Root tier: untrusted input on the boot path.
//!
//! Run as root with
//! `unshare -m --propagation private cargo test -p netbpfload-tests --test robustness`;
//! every test refuses to run (fails) outside a private mount namespace or
//! without root.
//!
//! * The whole malformed corpus (`tests/fixtures/malformed/`, see its
//!   `INDEX.md`) is loaded in one location next to the good corpus objects:
//!   every bad object is reported by name with its parse error, every good
//!   object loads, and no pin of a bad object exists afterwards.
//! * Trust on the real filesystem: an object owned by uid 1000, one with
//!   mode 0666, a symlinked object and a symlinked or world-writable location
//!   directory are refused with a message naming the path and the reason;
//!   `insecure` accepts what it relaxes.
//! * A location manifest: a tampered and an unlisted object fail, named,
//!   the listed one loads.

use bpf_progs::{Kind, OBJECTS};
use netbpfload::engine::{self, LoadConfig, LocationError, LocationReport, ObjectOutcome};
use netbpfload::error::ObjectError;
use netbpfload::manifest::Manifest;
use netbpfload::manifest::ManifestError;
use netbpfload::paths::{self, Location};
use netbpfload::release::Release;
use netbpfload::sys::linux::LinuxSys;
use netbpfload::trust::TrustError;
use netbpfload_tests::bpffs::PrivateBpffs;
use netbpfload_tests::stage::netbpfload_bin;
use std::collections::BTreeSet;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn cfg(fs: &PrivateBpffs, insecure: bool) -> LoadConfig {
    netbpfload_tests::cfg::load_config(fs.path()).insecure(insecure)
}

/// A private bpffs with every directory the boot flow creates.
fn bpffs() -> PrivateBpffs {
    let fs = PrivateBpffs::new();
    for d in paths::created_subdirs(Release::V.rules()) {
        fs.mkdir(d);
    }
    fs
}

/// A root-owned 0755 location directory.
fn location_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    set_mode(d.path(), 0o755);
    d
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn install(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write object");
    set_mode(&p, 0o644);
    p
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/malformed")
}

/// `(file name, expected kind)` rows of INDEX.md.
fn index() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(fixtures().join("INDEX.md")).expect("INDEX.md");
    text.lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(|c| c.trim().trim_matches('`')).collect();
            (cells[1].to_string(), cells[3].to_string())
        })
        .collect()
}

/// Pins under the bpffs root (relative to it) that were not there right
/// after the mount: the kernel's BPF_PRELOAD adds `maps.debug` and
/// `progs.debug` to every new bpffs.
fn all_pins(root: &Path) -> BTreeSet<String> {
    let fresh = tempfile::tempdir().expect("tempdir");
    nix::mount::mount(
        Some("bpf"),
        fresh.path(),
        Some("bpf"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .expect("mount -t bpf");
    let preloaded = files_under(fresh.path());
    // Detached: a process another test forks at this moment may briefly
    // hold a copy of the directory fd `files_under` just used (until its
    // exec closes it), and a plain umount would then fail with EBUSY.
    nix::mount::umount2(fresh.path(), nix::mount::MntFlags::MNT_DETACH).expect("umount");
    files_under(root).difference(&preloaded).cloned().collect()
}

fn files_under(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("readdir bpffs") {
            let e = e.expect("dirent");
            let ty = e.file_type().expect("file type");
            if ty.is_dir() {
                stack.push(e.path());
            } else {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .expect("under root")
                    .to_path_buf();
                out.insert(rel.display().to_string());
            }
        }
    }
    out
}

fn outcome_of<'a>(r: &'a LocationReport, file: &Path) -> &'a ObjectOutcome {
    &r.objects
        .iter()
        .find(|o| o.file == file)
        .unwrap_or_else(|| panic!("{} missing from the report: {r:#?}", file.display()))
        .outcome
}

fn failure<'a>(r: &'a LocationReport, file: &Path) -> &'a ObjectError {
    match outcome_of(r, file) {
        ObjectOutcome::Failed { error } => error,
        other => panic!("{}: expected a failure, got {other:?}", file.display()),
    }
}

/// Pins (relative to the bpffs root) of a loaded object.
fn loaded_pins(r: &LocationReport, file: &Path) -> Vec<String> {
    match outcome_of(r, file) {
        ObjectOutcome::Loaded { maps, programs, .. } => {
            maps.iter().chain(programs).map(|p| p.pin.clone()).collect()
        }
        other => panic!("{}: expected it to load, got {other:?}", file.display()),
    }
}

#[test]
fn malformed_corpus_fails_by_name_and_good_objects_still_load() {
    let fs = bpffs();
    let dir = location_dir();
    let rows = index();
    assert!(rows.len() >= 30, "INDEX.md lists {} fixtures", rows.len());
    let mut bad = Vec::new();
    let mut good = Vec::new();
    // Parse, but a pin_subdir no release knows fails the object under
    // Android 15's rules (the plan's decision, not the parser's).
    let mut unplannable = Vec::new();
    for (name, kind) in &rows {
        let bytes = std::fs::read(fixtures().join(name)).expect("fixture");
        let path = install(dir.path(), name, &bytes);
        if kind == "Ok" && name.contains("unknown_pin_subdir") {
            unplannable.push(path);
        } else if kind == "Ok" {
            good.push(path);
        } else {
            bad.push((path, bytes));
        }
    }
    assert_eq!(unplannable.len(), 2, "{unplannable:?}");
    for o in OBJECTS.iter().filter(|o| o.kind == Kind::Good) {
        good.push(install(dir.path(), o.file_name, o.bytes));
    }

    let cfg = cfg(&fs, false);
    let report = engine::load_location(&LinuxSys, &cfg, &Location::new(dir.path(), "net_private/"));
    assert!(report.error.is_none(), "{report:#?}");
    let installed = std::fs::read_dir(dir.path())
        .expect("location")
        .flatten()
        .filter(|e| e.file_name().as_encoded_bytes().ends_with(b".o"))
        .count();
    assert!(installed >= rows.len(), "{installed}");
    assert_eq!(report.objects.len(), installed, "{report:#?}");

    for (path, bytes) in &bad {
        let error = failure(&report, path);
        let parse =
            netbpfload::parse::parse_object(path, bytes).expect_err("fixture must not parse");
        match error {
            ObjectError::Parse(e) => assert_eq!(*e, parse, "the report carries the parse error"),
            other => panic!("{}: {other:?}", path.display()),
        }
        assert!(
            error
                .to_string()
                .starts_with(&format!("{}: ", path.display())),
            "error must name the file: {error}"
        );
    }

    for path in &unplannable {
        match failure(&report, path) {
            ObjectError::Plan(e) => {
                assert!(e.to_string().contains("unknown pin_subdir"), "{e}");
            }
            other => panic!("{}: {other:?}", path.display()),
        }
    }

    let mut expected_pins = BTreeSet::new();
    for path in &good {
        let pins = loaded_pins(&report, path);
        assert!(!pins.is_empty(), "{} pinned nothing", path.display());
        for p in pins {
            assert!(fs.pin(&p).exists(), "{p} reported but not on bpffs");
            expected_pins.insert(p);
        }
    }
    // Nothing else is pinned: no pin of a bad object survived.
    let on_disk = all_pins(fs.path());
    let extra: Vec<&String> = on_disk.difference(&expected_pins).collect();
    assert!(
        extra.is_empty(),
        "pins not belonging to a loaded object: {extra:?}"
    );
    let critical: Vec<_> = report.fatal_failures().map(|o| o.file.clone()).collect();
    assert!(critical.is_empty(), "{critical:?}");
    eprintln!(
        "{} malformed objects refused, {} good objects loaded, {} pins",
        bad.len(),
        good.len(),
        on_disk.len()
    );
}

fn pkt_count() -> &'static [u8] {
    bpf_progs::object("pktCount.o").expect("pktCount.o").bytes
}

#[test]
fn untrusted_objects_are_refused_and_insecure_relaxes_owner_and_mode() {
    let dir = location_dir();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let good = install(dir.path(), "good.o", pkt_count());
    let user = install(dir.path(), "user.o", pkt_count());
    std::os::unix::fs::chown(&user, Some(1000), Some(1000)).expect("chown");
    let open = install(dir.path(), "open.o", pkt_count());
    set_mode(&open, 0o666);
    let group = install(dir.path(), "group.o", pkt_count());
    set_mode(&group, 0o664);
    let target = install(elsewhere.path(), "target.o", pkt_count());
    let link = dir.path().join("link.o");
    symlink(&target, &link).expect("symlink");

    let fs = bpffs();
    let location = Location::new(dir.path(), "net_private/");
    let report = engine::load_location(&LinuxSys, &cfg(&fs, false), &location);
    assert!(report.error.is_none());
    assert!(!loaded_pins(&report, &good).is_empty());
    assert!(matches!(
        failure(&report, &user),
        ObjectError::Read(TrustError::Owner { path, uid: 1000, .. }) if *path == user
    ));
    assert!(matches!(
        failure(&report, &open),
        ObjectError::Read(TrustError::Writable { path, mode: 0o666, by: "others" }) if *path == open
    ));
    assert!(matches!(
        failure(&report, &group),
        ObjectError::Read(TrustError::Writable { path, mode: 0o664, by: "group" }) if *path == group
    ));
    assert!(matches!(
        failure(&report, &link),
        ObjectError::Read(TrustError::Symlink { path }) if *path == link
    ));
    // Only good.o pinned anything.
    let pins = all_pins(fs.path());
    assert!(pins.iter().all(|p| p.contains("_good_")), "{pins:?}");

    // insecure: owner and mode violations are accepted (warnings); a
    // symlinked object is still never opened (O_NOFOLLOW: ELOOP).
    let fs = bpffs();
    let report = engine::load_location(&LinuxSys, &cfg(&fs, true), &location);
    for f in [&good, &user, &open, &group] {
        assert!(!loaded_pins(&report, f).is_empty(), "{}", f.display());
    }
    let e = failure(&report, &link);
    assert_eq!(e.errno(), Some(libc::ELOOP), "{e}");
}

#[test]
fn untrusted_location_directories_are_refused() {
    let real = location_dir();
    let good = install(real.path(), "good.o", pkt_count());
    let parent = tempfile::tempdir().expect("tempdir");
    let linked = parent.path().join("linked");
    symlink(real.path(), &linked).expect("symlink");

    let fs = bpffs();
    let report = engine::load_location(
        &LinuxSys,
        &cfg(&fs, false),
        &Location::new(&linked, "net_private/"),
    );
    assert!(
        matches!(&report.error, Some(LocationError::Untrusted(TrustError::Symlink { path })) if *path == linked),
        "{:?}",
        report.error
    );
    assert!(report.objects.is_empty());
    assert!(all_pins(fs.path()).is_empty());

    // insecure follows the symlinked directory.
    let report = engine::load_location(
        &LinuxSys,
        &cfg(&fs, true),
        &Location::new(&linked, "net_private/"),
    );
    assert!(report.error.is_none());
    assert!(!loaded_pins(&report, &linked.join("good.o")).is_empty());

    // A world-writable directory lets anyone swap objects in.
    let fs = bpffs();
    set_mode(real.path(), 0o777);
    let report = engine::load_location(
        &LinuxSys,
        &cfg(&fs, false),
        &Location::new(real.path(), "net_private/"),
    );
    assert!(
        matches!(
            &report.error,
            Some(LocationError::Untrusted(TrustError::Writable {
                mode: 0o777,
                by: "others",
                ..
            }))
        ),
        "{:?}",
        report.error
    );
    assert!(all_pins(fs.path()).is_empty());
    assert!(good.exists());
}

#[test]
fn manifest_rejects_tampered_and_unlisted_objects() {
    let dir = location_dir();
    let listed = install(dir.path(), "listed.o", pkt_count());
    let mut evil = pkt_count().to_vec();
    // Flip a byte of the license string: still a valid object, different hash.
    let at = evil
        .windows(10)
        .position(|w| w == b"Apache 2.0")
        .expect("pktCount.o license");
    evil[at] = b'B';
    let tampered = install(dir.path(), "tampered.o", &evil);
    let unlisted = install(dir.path(), "unlisted.o", pkt_count());
    let manifest = Manifest::generate([("listed.o", pkt_count()), ("tampered.o", pkt_count())]);
    install(dir.path(), "bpf.manifest", manifest.as_bytes());

    let fs = bpffs();
    let report = engine::load_location(
        &LinuxSys,
        &cfg(&fs, false),
        &Location::new(dir.path(), "net_private/"),
    );
    assert!(report.error.is_none());
    assert!(!loaded_pins(&report, &listed).is_empty());
    assert!(matches!(
        failure(&report, &tampered),
        ObjectError::Integrity { file, source: ManifestError::Mismatch { .. } } if *file == tampered
    ));
    assert!(matches!(
        failure(&report, &unlisted),
        ObjectError::Integrity { file, source: ManifestError::Unlisted } if *file == unlisted
    ));
    let pins = all_pins(fs.path());
    assert!(pins.iter().all(|p| p.contains("_listed_")), "{pins:?}");
}

fn make_manifest() -> Command {
    Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/make-manifest.sh"))
}

fn run_ok(mut c: Command) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `netbpfload load --json` of `dir` into a fresh bpffs with `extra`
/// options: exit status, the JSON document, the pins left.
fn load_cli(
    bin: &Path,
    dir: &Path,
    extra: &[std::ffi::OsString],
) -> (Option<i32>, serde_json::Value, BTreeSet<String>) {
    let fs = bpffs();
    let out = Command::new(bin)
        .args([
            "load",
            "--prefix",
            "net_private/",
            "--json",
            "--run-lock",
            "none",
        ])
        .arg("--location")
        .arg(dir)
        .arg("--bpffs")
        .arg(fs.path())
        .args(extra)
        .output()
        .expect("run netbpfload load");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), json, all_pins(fs.path()))
}

fn object_json<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["location"]["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| {
            o["file"]
                .as_str()
                .is_some_and(|f| f.ends_with(&format!("/{name}")))
        })
        .unwrap_or_else(|| panic!("{name} not reported: {json:#}"))
}

/// The signing tool and the loader agree, end to end on the real kernel:
/// `scripts/make-manifest.sh` signs a location (byte for byte what the
/// library generates), `netbpfload load --manifest-key` loads it, and a
/// deleted critical object, an older set than `--manifest-min-version`, or
/// the set replayed into another directory each give exit status 2 with the
/// reason in the JSON report and nothing of the refused objects pinned.
#[test]
fn a_signed_location_binds_through_the_cli() {
    let bin = netbpfload_bin();
    let keys = tempfile::tempdir().expect("keys");
    let pem = keys.path().join("key.pem");
    run_ok({
        let mut c = Command::new("openssl");
        c.args(["genpkey", "-algorithm", "ed25519", "-out"])
            .arg(&pem);
        c
    });
    let pub_hex = run_ok({
        let mut c = make_manifest();
        c.arg("--pubkey").arg(&pem);
        c
    });
    assert_eq!(pub_hex.trim().len(), 64, "{pub_hex}");
    let pub_file = keys.path().join("key.pub");
    std::fs::write(&pub_file, &pub_hex).expect("write key");

    let sign = |dir: &Path, location: &Path, version: &str| {
        let mut c = make_manifest();
        c.arg("--key")
            .arg(&pem)
            .args(["--critical", "b.o"])
            .arg(dir)
            .arg(location)
            .arg(version);
        run_ok(c);
    };
    let dir = location_dir();
    install(dir.path(), "a.o", pkt_count());
    let b = install(dir.path(), "b.o", pkt_count());
    sign(dir.path(), dir.path(), "5");
    let written = std::fs::read_to_string(dir.path().join("bpf.manifest")).expect("manifest");
    let location = dir.path().to_str().expect("utf-8 temp path");
    assert_eq!(
        written,
        Manifest::generate_bound(
            location,
            5,
            [("a.o", pkt_count()), ("b.o", pkt_count())],
            &["b.o"]
        )
    );

    let key = |min: &str| -> Vec<std::ffi::OsString> {
        vec![
            "--manifest-key".into(),
            pub_file.clone().into_os_string(),
            "--manifest-min-version".into(),
            min.into(),
        ]
    };

    // Signed and recent enough: both load, b reported critical.
    let k = key("5");
    let (code, json, pins) = load_cli(&bin, dir.path(), &k);
    assert_eq!(code, Some(0), "{json:#}");
    assert!(json["location"]["error"].is_null(), "{json:#}");
    assert_eq!(
        object_json(&json, "b.o")["critical"],
        "marked critical in bpf.manifest"
    );
    assert!(pins.iter().any(|p| p.contains("_b_")), "{pins:?}");

    // An older set than the device accepts: the location is refused.
    let k = key("6");
    let (code, json, pins) = load_cli(&bin, dir.path(), &k);
    assert_eq!(code, Some(2), "{json:#}");
    assert_eq!(json["location"]["error"]["reason"], "manifest", "{json:#}");
    let msg = json["location"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        msg.ends_with("bpf.manifest version 5 is older than the minimum accepted, 6"),
        "{msg}"
    );
    assert!(pins.is_empty(), "{pins:?}");

    // The critical object deleted: it fails by name, the other loads.
    std::fs::remove_file(&b).expect("rm b.o");
    let k = key("5");
    let (code, json, pins) = load_cli(&bin, dir.path(), &k);
    assert_eq!(code, Some(2), "{json:#}");
    let gone = object_json(&json, "b.o");
    assert_eq!(gone["fatal"], true, "{gone:#}");
    assert_eq!(gone["outcome"]["error"]["kind"], "integrity", "{gone:#}");
    assert_eq!(gone["outcome"]["error"]["reason"], "missing", "{gone:#}");
    assert_eq!(object_json(&json, "a.o")["outcome"]["status"], "loaded");
    assert!(
        pins.iter().all(|p| p.contains("_a_")) && !pins.is_empty(),
        "{pins:?}"
    );

    // The whole signed set replayed into another directory.
    install(dir.path(), "b.o", pkt_count());
    let other = location_dir();
    for f in ["a.o", "b.o", "bpf.manifest", "bpf.manifest.sig"] {
        let bytes = std::fs::read(dir.path().join(f)).expect("read");
        install(other.path(), f, &bytes);
    }
    let (code, json, pins) = load_cli(&bin, other.path(), &k);
    assert_eq!(code, Some(2), "{json:#}");
    let msg = json["location"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        msg.contains(&format!("bpf.manifest is for {location}, not ")),
        "{msg}"
    );
    assert!(pins.is_empty(), "{pins:?}");
    // Re-signed for its own directory, it loads.
    sign(other.path(), other.path(), "5");
    let (code, json, _) = load_cli(&bin, other.path(), &k);
    assert_eq!(code, Some(0), "{json:#}");
}
