//! Root tier: parallel verification builds exactly the pin tree of the
//! sequential mode, on the real kernel.
//!
//! Run as root with
//! `unshare -m --propagation private cargo test -p netbpfload-tests --test parallel`;
//! every test refuses to run (fails) outside a private mount namespace or
//! without root. Each mode loads into its own fresh private bpffs.

use netbpfload::engine::{self, LoadConfig, LocationReport, ObjectOutcome};
use netbpfload::paths::{self, Location};
use netbpfload::release::{Release, Role};
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::ObjKind;
use netbpfload_tests::bpffs::{self, PrivateBpffs};
use netbpfload_tests::stage::netbpfload_bin;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Android 15's rules for `role`, with one worker per core or one in all.
fn cfg(fs: &PrivateBpffs, role: Role, parallel: bool) -> LoadConfig {
    let mut c = netbpfload_tests::cfg::load_config_for(fs.path(), Release::V, role);
    c.workers = if parallel {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .max(2)
    } else {
        1
    };
    c
}

/// A fresh private bpffs with the boot flow's directories.
fn fresh_bpffs() -> PrivateBpffs {
    let fs = PrivateBpffs::new();
    for d in paths::created_subdirs(Release::V.rules()) {
        fs.mkdir(d);
    }
    fs
}

/// Loads `locations` into a fresh bpffs; returns it, the reports and the
/// wall time.
fn load(locations: &[Location], parallel: bool) -> (PrivateBpffs, Vec<LocationReport>, Duration) {
    let fs = fresh_bpffs();
    let mainline = cfg(&fs, Role::Mainline, parallel);
    let platform = cfg(&fs, Role::Platform, parallel);
    let start = Instant::now();
    let reports = locations
        .iter()
        .map(|l| {
            let c = if l.prefix.is_empty() {
                &platform
            } else {
                &mainline
            };
            engine::load_location(&LinuxSys, c, l)
        })
        .collect();
    (fs, reports, start.elapsed())
}

/// What the kernel says is pinned at `path`: map attributes or program type.
fn kernel_object(path: &Path) -> String {
    match bpffs::kind_of(path) {
        ObjKind::Map => {
            let m = bpffs::map_info(path);
            format!(
                "map type {} key {} value {} max {} flags {:#x}",
                m.map_type, m.key_size, m.value_size, m.max_entries, m.map_flags
            )
        }
        ObjKind::Prog => format!("prog type {}", bpffs::prog_info(path).prog_type),
    }
}

/// Every entry under the bpffs root (minus the kernel's `*.debug` preload
/// files), sorted: relative path, mode, owner, and for pins the kernel object.
fn tree(fs: &PrivateBpffs) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .into_owned();
            if rel.ends_with(".debug") {
                continue;
            }
            let (mode, uid, gid) = bpffs::mode_owner(&p);
            if p.is_dir() {
                out.push(format!("{rel}/ {mode:o} {uid}:{gid}"));
                walk(root, &p, out);
            } else {
                out.push(format!("{rel} {mode:o} {uid}:{gid} {}", kernel_object(&p)));
            }
        }
    }
    let mut v = Vec::new();
    walk(fs.path(), fs.path(), &mut v);
    v.sort();
    v
}

/// The reports without what legitimately differs between two loads: kernel
/// ids, the bpffs mount point, and the verifier log (which names map ids);
/// whether there was a log is kept.
fn normalized(reports: &[LocationReport], fs: &PrivateBpffs) -> Vec<String> {
    let root = fs.path().display().to_string();
    reports
        .iter()
        .flat_map(|r| &r.objects)
        .map(|o| {
            let outcome = match &o.outcome {
                ObjectOutcome::Loaded {
                    maps,
                    programs,
                    skipped,
                    warnings,
                } => {
                    let pins: Vec<String> = maps
                        .iter()
                        .chain(programs)
                        .map(|p| format!("{} {} reused={}", p.name, p.pin, p.reused))
                        .collect();
                    // A verifier log names kernel addresses: whether there
                    // was one is kept.
                    let skipped: Vec<String> = skipped
                        .iter()
                        .map(|s| {
                            format!("{} {:?} log={}", s.name, s.reason, s.verifier_log.is_some())
                        })
                        .collect();
                    format!("loaded {pins:?} skipped {skipped:?} warnings {warnings:?}")
                }
                ObjectOutcome::Failed { error } => format!(
                    "failed {:?} {} {:?} log={}",
                    error.kind(),
                    error.reason(),
                    error.errno(),
                    error.verifier_log().is_some()
                ),
                ObjectOutcome::Skipped { reason } => format!("skipped {reason:?}"),
            };
            format!("{} {} {outcome}", o.file.display(), o.fatal).replace(&root, "<bpffs>")
        })
        .collect()
}

fn corpus_locations(stage: &Path) -> Vec<Location> {
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

fn failed(reports: &[LocationReport]) -> Vec<String> {
    reports
        .iter()
        .flat_map(|r| &r.objects)
        .filter(|o| matches!(o.outcome, ObjectOutcome::Failed { .. }))
        .filter_map(|o| o.file.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect()
}

#[test]
fn corpus_parallel_and_sequential_pin_the_same_tree() {
    let stage = tempfile::tempdir().expect("stage");
    bpf_progs::install_tree(stage.path()).expect("install corpus");
    let locations = corpus_locations(stage.path());

    let (seq_fs, seq, _) = load(&locations, false);
    let (par_fs, par, _) = load(&locations, true);

    let seq_tree = tree(&seq_fs);
    assert_eq!(tree(&par_fs), seq_tree);
    assert_eq!(normalized(&par, &par_fs), normalized(&seq, &seq_fs));
    for r in seq.iter().chain(&par) {
        assert!(r.error.is_none(), "{r:?}");
    }

    // Ground truth from bpf-progs/README.md, so that "equal" is not "equally
    // empty": the shared map pinned once, SELinux-context maps moved to
    // their final place, the verifier-rejected object failed and left
    // nothing, the loader-version-skipped object left nothing.
    let has = |rel: &str| seq_tree.iter().any(|e| e.starts_with(&format!("{rel} ")));
    for rel in [
        "net_shared/map__net_config_map",
        "net_shared/map_clatd_clat_ingress6_map",
        "net_shared/map_dscpPolicy_socket_policy_cache_map",
        "netd_shared/map_netd_cookie_tag_map",
        "netd_shared/prog_netd_cgroupsock_inet_create",
        "tethering/prog_offload_xdp_tether_downstream_ether",
        "net_private/prog_pktCount_skfilter_count",
        "prog_schedTrace_tracepoint_sched_sched_switch",
    ] {
        assert!(has(rel), "{rel} missing from {seq_tree:#?}");
    }
    assert!(
        !seq_tree.iter().any(|e| e.contains("verifierReject")
            || e.contains("needsNewerLoader")
            || e.contains("/tmp_")),
        "{seq_tree:#?}"
    );
    assert_eq!(failed(&seq), ["verifierReject.o"]);
    assert_eq!(failed(&par), ["verifierReject.o"]);
}

/// Generates the benchmark's scale corpus (`bpf-progs/scale/gen.sh`, 1x:
/// 50 Android-format objects of 20 maps and 10 programs) into `out`.
fn gen_scale(out: &Path) -> PathBuf {
    let gen = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-progs/scale/gen.sh");
    let st = Command::new(&gen)
        .arg(out)
        .arg("1")
        .status()
        .unwrap_or_else(|e| panic!("{}: {e}", gen.display()));
    assert!(st.success(), "{} failed: {st}", gen.display());
    out.join("scale-1x/android")
}

#[test]
fn scale_corpus_parallel_and_sequential_pin_the_same_tree() {
    let work = tempfile::tempdir().expect("scale dir");
    let dir = gen_scale(work.path());
    let locations = [Location::new(&dir, "tethering/")];

    let (seq_fs, seq, seq_wall) = load(&locations, false);
    let (par_fs, par, par_wall) = load(&locations, true);
    eprintln!(
        "scale 1x: sequential {seq_wall:?}, parallel {par_wall:?} ({:.2}), {} cores",
        par_wall.as_secs_f64() / seq_wall.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let seq_tree = tree(&seq_fs);
    assert_eq!(tree(&par_fs), seq_tree);
    assert_eq!(normalized(&par, &par_fs), normalized(&seq, &seq_fs));
    // gen.sh: 50 objects of 20 maps and 10 programs, every one loads.
    assert_eq!(seq.first().map(|r| r.objects.len()), Some(50));
    assert!(
        failed(&seq).is_empty() && failed(&par).is_empty(),
        "{seq:#?}"
    );
    let pins = seq_tree.iter().filter(|e| !e.contains("/ ")).count();
    let under = seq_tree
        .iter()
        .filter(|e| e.starts_with("tethering/map_scale") || e.starts_with("tethering/prog_scale"))
        .count();
    assert_eq!(under, 50 * (20 + 10), "{seq_tree:#?}");
    assert_eq!(pins, under);
}

/// systemd's default open-file limit, soft and hard.
const NOFILE: &str = "1024";

/// What one limited run gives: exit status, `(object, status, errno name)`
/// per object, the pin tree.
type Run = (Option<i32>, Vec<(String, String, String)>, Vec<String>);

/// One `netbpfload load` of `dir` into a fresh bpffs under
/// `prlimit --nofile=1024:1024`: exit status, `(object, status, errno
/// name)` per object, and the pin tree.
fn load_limited(bin: &Path, dir: &Path, sequential: bool) -> Run {
    let fs = fresh_bpffs();
    let cold = load_limited_into(bin, dir, sequential, &fs);
    // A warm run over the pins the cold one left (every reused pin must
    // cost no more descriptors than a new one) gives the same result.
    let warm = load_limited_into(bin, dir, sequential, &fs);
    assert_eq!(cold, warm, "warm run differs from the cold run");
    cold
}

fn load_limited_into(bin: &Path, dir: &Path, sequential: bool, fs: &PrivateBpffs) -> Run {
    let mut c = Command::new("prlimit");
    c.arg(format!("--nofile={NOFILE}:{NOFILE}"))
        .arg(bin)
        .args(["load", "--prefix", "tethering/", "--run-lock", "none", "-j"])
        .arg("--location")
        .arg(dir)
        .arg("--bpffs")
        .arg(fs.path());
    if sequential {
        c.arg("--sequential");
    }
    let out = c.output().expect("run prlimit netbpfload");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let objects = json["location"]["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                o["object"].as_str().unwrap_or_default().to_string(),
                o["outcome"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                o["outcome"]["error"]["errno_name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    (out.status.code(), objects, tree(fs))
}

/// Issue 11 item 5: under `nofile=1024` (systemd's default), an object
/// declaring ~1000 maps next to a critical object. The fd budget must not
/// let one worker's descriptors fail the other's object: parallel and
/// sequential give the same result, run after run. With 1000 maps (more
/// than the 960 the loader budgets for objects, less than the process may
/// open) the big object runs alone and both load; with 1100 (more than the
/// process may open at all) it fails with EMFILE, named, in both modes,
/// and the critical object still loads.
#[test]
fn a_thousand_map_object_beside_a_critical_one_under_nofile_1024() {
    let bin = netbpfload_bin();
    let out = Command::new("prlimit")
        .arg(format!("--nofile={NOFILE}:{NOFILE}"))
        .args(["sh", "-c", "ulimit -Hn; ulimit -Sn"])
        .output()
        .expect("prlimit");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1024\n1024\n");

    for (maps, want_code, want_wide) in [(1000, 0, ("loaded", "")), (1100, 1, ("failed", "EMFILE"))]
    {
        let dir = tempfile::tempdir().expect("location");
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        netbpfload_tests::gen::compile(
            &netbpfload_tests::gen::many_maps(maps),
            &dir.path().join("wide.o"),
        );
        netbpfload_tests::gen::compile(
            &netbpfload_tests::gen::critical("fd budget test"),
            &dir.path().join("crit.o"),
        );
        let mut first: Option<Run> = None;
        for sequential in [false, true] {
            for rep in 0..5 {
                let run = load_limited(&bin, dir.path(), sequential);
                let (code, objects, tree) = &run;
                let what = format!("{maps} maps, sequential={sequential}, run {rep}");
                assert_eq!(*code, Some(want_code), "{what}: {objects:?}");
                let status = |name: &str| {
                    objects
                        .iter()
                        .find(|o| o.0 == name)
                        .map(|o| (o.1.as_str(), o.2.as_str()))
                        .unwrap_or_else(|| panic!("{what}: {name} not reported: {objects:?}"))
                };
                assert_eq!(status("crit"), ("loaded", ""), "{what}");
                assert_eq!(status("wide"), want_wide, "{what}");
                let wide_maps = tree
                    .iter()
                    .filter(|e| e.starts_with("tethering/map_wide_m"))
                    .count();
                let want_maps = if want_wide.0 == "loaded" { maps } else { 0 };
                assert_eq!(wide_maps, want_maps, "{what}");
                assert!(
                    tree.iter()
                        .any(|e| e.starts_with("tethering/prog_crit_skfilter_count ")),
                    "{what}"
                );
                assert!(!tree.iter().any(|e| e.contains("/tmp_")), "{what}");
                match &first {
                    None => first = Some(run),
                    Some(f) => assert!(*f == run, "{what} differs from the first run"),
                }
            }
        }
    }
}
