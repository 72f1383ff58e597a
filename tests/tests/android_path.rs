//! Root tier: on Android's path the loader neither locks nor unlinks
//! anything (AOSP's SELinux policy grants `bpfloader` neither on the bpffs),
//! and a failed object still leaves nothing at a final pin path. Shown on
//! the real kernel with a log of every call the engine makes (the one `sys`
//! layer, interposed).
//!
//! Run as root inside `unshare -m --propagation private`.

use netbpfload::engine::{self, LocationReport, ObjectOutcome};
use netbpfload::paths::{self, Location};
use netbpfload::release::{Release, Role};
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::{Interposed, Op};
use netbpfload_tests::bpffs::{self, PrivateBpffs};
use netbpfload_tests::record::Recorder;
use netbpfload_tests::{cfg, expected, stage};
use std::path::{Path, PathBuf};

/// Every pin under `fs` at a final path (not one of our temporaries).
fn final_pins(fs: &PrivateBpffs) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![fs.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with(paths::TMP_PIN_PREFIX) {
                out.push(
                    p.strip_prefix(fs.path())
                        .expect("under")
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

fn load_net_private(sys: &Interposed<LinuxSys, Recorder>, fs: &PrivateBpffs) -> LocationReport {
    let root = stage::corpus_root(Release::V);
    for d in paths::created_subdirs(Release::V.rules()) {
        fs.mkdir(d);
    }
    let cfg = cfg::load_config_for(fs.path(), Release::V, Role::Mainline);
    let dir = root
        .path()
        .join("apex/com.android.tethering/etc/bpf/net_private");
    engine::load_location(sys, &cfg, &Location::new(dir, "net_private/"))
}

fn outcome<'a>(r: &'a LocationReport, file: &str) -> &'a ObjectOutcome {
    &r.objects
        .iter()
        .find(|o| o.file.ends_with(file))
        .unwrap_or_else(|| panic!("{file} not in {r:#?}"))
        .outcome
}

#[test]
fn a_verifier_rejection_pins_nothing_and_nothing_is_locked_or_unlinked() {
    bpffs::require_private_root();
    let fs = PrivateBpffs::new();
    let sys = Interposed::new(LinuxSys::new(), Recorder::default());
    let r = load_net_private(&sys, &fs);
    // verifierReject.c: its map is created, its second program is refused.
    match outcome(&r, "verifierReject.o") {
        ObjectOutcome::Failed { error } => assert_eq!(error.reason(), "prog_load", "{error}"),
        other => panic!("{other:#?}"),
    }
    assert!(matches!(
        outcome(&r, "pktCount.o"),
        ObjectOutcome::Loaded { .. }
    ));
    assert!(!sys.hook.ops(Op::MapCreate).is_empty());
    let pins = final_pins(&fs);
    assert!(
        pins.iter().all(|p| !p.contains("verifierReject")),
        "{pins:?}"
    );
    assert!(pins.contains(&"net_private/prog_pktCount_skfilter_count".to_string()));
    // Verification happens before anything is pinned: not even a
    // temporary pin of the failed object was made.
    // Pins are staged under neutral names, one per final pin: exactly the
    // good objects' pins of this location on this kernel (pktCount.o's
    // three, and gateMatrix.o's, which depend on the kernel).
    let k = cfg::kver();
    let model = expected::expected(
        &expected::Platform::new(
            expected::Release::V,
            expected::kver(k.major(), k.minor(), k.sub()),
            expected::BuildType::Userdebug,
            expected::Arch::X86_64,
        ),
        &expected::Layout::current(),
    );
    let good: Vec<&String> = model
        .pins
        .iter()
        .filter(|(p, pin)| p.starts_with("net_private/") && pin.object != "verifierReject.o")
        .map(|(p, _)| p)
        .collect();
    assert_eq!(model.pins_of("pktCount.o").len(), 3);
    let staged = sys.hook.ops(Op::ObjPin).len();
    assert_eq!(staged, good.len(), "staged pins; the good ones: {good:?}");
    assert_eq!(sys.hook.ops(Op::Unlink), Vec::<Option<PathBuf>>::new());
    assert_eq!(sys.hook.ops(Op::Lock), Vec::<Option<PathBuf>>::new());
}

#[test]
fn a_refused_rename_leaves_no_final_pin_and_nothing_is_unlinked() {
    bpffs::require_private_root();
    let fs = PrivateBpffs::new();
    // SELinux-like refusal of moving pktCount.o's program into place, after
    // its maps were renamed into theirs: the maps go back to temporary
    // names (rename, not unlink).
    fn prog_pin(p: &Path) -> bool {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy() == "prog_pktCount_skfilter_count")
    }
    let sys = Interposed::new(
        LinuxSys::new(),
        Recorder::refusing((Op::Rename, prog_pin, libc::EACCES)),
    );
    let r = load_net_private(&sys, &fs);
    match outcome(&r, "pktCount.o") {
        ObjectOutcome::Failed { error } => {
            assert_eq!(error.errno(), Some(libc::EACCES), "{error}");
            assert!(
                error.to_string().contains("prog_pktCount_skfilter_count"),
                "{error}"
            );
        }
        other => panic!("{other:#?}"),
    }
    let pins = final_pins(&fs);
    assert!(pins.iter().all(|p| !p.contains("pktCount")), "{pins:?}");
    // The maps were renamed into place and back.
    let renames = sys.hook.ops(Op::Rename);
    assert!(renames.len() >= 4, "{renames:?}");
    assert_eq!(sys.hook.ops(Op::Unlink), Vec::<Option<PathBuf>>::new());
    assert_eq!(sys.hook.ops(Op::Lock), Vec::<Option<PathBuf>>::new());
}

/// `load --json` with a location and a file whose names are not UTF-8: the
/// document is complete (names escaped as in the logs), the object with the
/// non-UTF-8 name fails by name (two such files could not share one object
/// name), the other loads.
#[test]
fn load_json_survives_names_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    bpffs::require_private_root();
    let fs = PrivateBpffs::new();
    fs.mkdir("net_private");
    let top = stage::tempdir();
    let dir = top.path().join(std::ffi::OsStr::from_bytes(b"d\xff"));
    std::fs::create_dir(&dir).expect("mkdir");
    let obj = bpf_progs::object("pktCount.o").expect("pktCount.o");
    std::fs::write(dir.join("pktCount.o"), obj.bytes).expect("write");
    std::fs::write(dir.join(std::ffi::OsStr::from_bytes(b"p\xfe.o")), obj.bytes).expect("write");
    let out = std::process::Command::new(stage::netbpfload_bin())
        .arg("load")
        .arg("-j")
        .arg("--location")
        .arg(&dir)
        .args(["--prefix", "net_private", "--run-lock=none"])
        .arg("--bpffs")
        .arg(fs.path())
        .output()
        .expect("run");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(out.status.code(), Some(1), "a non-critical failure");
    let dir_json = doc["location"]["dir"].as_str().expect("dir");
    assert!(dir_json.ends_with("/d\\xff"), "{dir_json}");
    let objects = doc["location"]["objects"].as_array().expect("objects");
    let bad = objects
        .iter()
        .find(|o| o["file"].as_str().is_some_and(|f| f.ends_with("/p\\xfe.o")))
        .expect("the non-UTF-8 file is reported");
    assert_eq!(bad["outcome"]["status"], "failed");
    assert_eq!(bad["outcome"]["error"]["reason"], "bad_object_name");
    let good = objects
        .iter()
        .find(|o| {
            o["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("/pktCount.o"))
        })
        .expect("pktCount.o");
    assert_eq!(good["outcome"]["status"], "loaded");
}
