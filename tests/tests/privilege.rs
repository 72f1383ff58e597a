//! Root tier: least privilege. Every pin of the corpus tree gets exactly its
//! declared mode and owner, and an unprivileged process can open it only as
//! the mode bits for its class (owner, group, other) allow; the loader runs
//! with only the capabilities its `.rc` and systemd unit grant; without
//! CAP_CHOWN, objects with non-root pins fail cleanly.
//!
//! Expectations are computed from the definitions in the objects (parsed
//! with the library) and from `init/*`, never listed per pin.
//!
//! Run as root in a private mount namespace:
//! `unshare -m --propagation private cargo test -p netbpfload-tests --test privilege`.

use netbpfload::engine::{self, LocationReport, ObjectOutcome};
use netbpfload::paths::{self, Location};
use netbpfload::plan::{self, ObjectPlan, PlanEnv};
use netbpfload::release::{Release, Role};
use netbpfload::spec::ObjectSpec;
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::{Bpf, BPF_F_RDONLY};
use netbpfload_tests::bpffs::{self, PrivateBpffs};
use netbpfload_tests::stage::{netbpfload_bin, workspace};
use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `BPF_F_WRONLY` (`include/uapi/linux/bpf.h`).
const BPF_F_WRONLY: u32 = 1 << 4;
const NOBODY: u32 = 65534;

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

fn role(l: &Location) -> Role {
    if l.prefix.is_empty() {
        Role::Platform
    } else {
        Role::Mainline
    }
}

fn new_bpffs() -> PrivateBpffs {
    let fs = PrivateBpffs::new();
    for d in paths::created_subdirs(Release::V.rules()) {
        fs.mkdir(d);
    }
    fs
}

fn load_all(fs: &PrivateBpffs, stage: &Path) -> Vec<LocationReport> {
    locations(stage)
        .iter()
        .map(|l| {
            let cfg = netbpfload_tests::cfg::load_config_for(fs.path(), Release::V, role(l));
            engine::load_location(&LinuxSys, &cfg, l)
        })
        .collect()
}

fn parse(file: &Path) -> ObjectSpec {
    let bytes = std::fs::read(file).expect("read object");
    netbpfload::parse::parse_object(file, &bytes).expect("corpus object parses")
}

/// What an object declares for one pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Declared {
    mode: u32,
    uid: u32,
    gid: u32,
}

/// Every pin the run created (not reused), with what its object declares,
/// looked up by name in the parsed object.
fn declared_pins(reports: &[LocationReport]) -> BTreeMap<String, Declared> {
    let mut out = BTreeMap::new();
    for o in reports.iter().flat_map(|r| &r.objects) {
        let ObjectOutcome::Loaded { maps, programs, .. } = &o.outcome else {
            continue;
        };
        let spec = parse(&o.file);
        for p in maps.iter().filter(|p| !p.reused) {
            let m = spec
                .maps
                .iter()
                .find(|m| m.name == p.name)
                .unwrap_or_else(|| panic!("{}: no map {}", o.file.display(), p.name));
            out.insert(
                p.pin.clone(),
                Declared {
                    mode: m.def.mode,
                    uid: m.def.uid,
                    gid: m.def.gid,
                },
            );
        }
        for p in programs.iter().filter(|p| !p.reused) {
            let prog = spec
                .programs
                .iter()
                .find(|x| x.section == p.name)
                .unwrap_or_else(|| panic!("{}: no program {}", o.file.display(), p.name));
            out.insert(
                p.pin.clone(),
                Declared {
                    mode: paths::PROG_PIN_MODE,
                    uid: prog.def.uid,
                    gid: prog.def.gid,
                },
            );
        }
    }
    out
}

/// Whether `uid` with primary group `gid` and `groups` may open a file of
/// `d` with access `need` (bits 4 read, 2 write), per the classic rule: the
/// owner class if the uid owns it, else the group class if any group
/// matches, else other. No capabilities (the caller is not root).
fn allowed(d: Declared, uid: u32, gid: u32, groups: &[u32], need: u32) -> bool {
    let class = if uid == d.uid {
        (d.mode >> 6) & 7
    } else if gid == d.gid || groups.contains(&d.gid) {
        (d.mode >> 3) & 7
    } else {
        d.mode & 7
    };
    class & need == need
}

#[test]
fn every_pin_has_its_declared_mode_and_owner_and_opens_only_as_they_allow() {
    let s = stage();
    let fs = new_bpffs();
    let reports = load_all(&fs, s.path());
    let pins = declared_pins(&reports);
    assert!(pins.len() > 30, "{pins:#?}");

    // Every pin in the tree is one this run created with a declaration.
    let mut tree = Vec::new();
    let mut dirs = Vec::new();
    let mut stack = vec![fs.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(fs.path())
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            if p.is_dir() {
                dirs.push(rel);
                stack.push(p);
            } else if !rel.ends_with(".debug") {
                tree.push(rel);
            }
        }
    }
    tree.sort();
    assert_eq!(tree, pins.keys().cloned().collect::<Vec<_>>());
    // Directories are world-writable with the sticky bit, owned by root.
    assert!(!dirs.is_empty());
    for d in &dirs {
        assert_eq!(
            bpffs::mode_owner(&fs.pin(d)),
            (paths::PIN_DIR_MODE, 0, 0),
            "{d}"
        );
        assert_eq!(paths::PIN_DIR_MODE, 0o1777);
    }

    let flags = [(BPF_F_RDONLY, 4), (BPF_F_WRONLY, 2), (0, 6)];
    let (mut granted, mut refused) = (0, 0);
    for (rel, d) in &pins {
        let path = fs.pin(rel);
        assert_eq!(
            bpffs::mode_owner(&path),
            (d.mode, d.uid, d.gid),
            "{rel}: mode and owner"
        );
        let mut identities: Vec<(u32, u32, Vec<u32>)> = vec![
            (NOBODY, NOBODY, vec![]),
            (NOBODY, NOBODY, vec![d.gid]),
            (NOBODY, d.gid, vec![]),
        ];
        if d.uid != 0 {
            identities.push((d.uid, NOBODY, vec![]));
        }
        for (uid, gid, groups) in &identities {
            for &(flag, need) in &flags {
                let want = if allowed(*d, *uid, *gid, groups, need) {
                    granted += 1;
                    Ok(())
                } else {
                    refused += 1;
                    Err(libc::EACCES)
                };
                assert_eq!(
                    bpffs::obj_get_as(*uid, *gid, groups, &path, flag),
                    want,
                    "{rel} ({:o} {}:{}) as uid {uid} gid {gid} groups {groups:?}, file_flags {flag:#x}",
                    d.mode,
                    d.uid,
                    d.gid
                );
            }
        }
    }
    // The corpus exercises both outcomes, many times.
    assert!(
        granted > 20 && refused > 20,
        "{granted} granted, {refused} refused"
    );
}

/// Capability names (lower case, without `CAP_`) of the `bpfloader` service
/// that runs netbpfload in `init/netbpfload.35rc`.
fn rc_capabilities() -> Vec<String> {
    let rc = std::fs::read_to_string(workspace().join("init/netbpfload.35rc")).expect("read rc");
    let mut in_service = false;
    for line in rc.lines().map(str::trim) {
        if line.starts_with("service ") {
            in_service = line.contains("netbpfload");
        } else if in_service {
            if let Some(caps) = line.strip_prefix("capabilities ") {
                return caps
                    .split_whitespace()
                    .map(str::to_ascii_lowercase)
                    .collect();
            }
        }
    }
    panic!("no capabilities line in the netbpfload service of init/netbpfload.35rc");
}

/// `CapabilityBoundingSet=` of `init/netbpfload.service`.
fn systemd_capabilities() -> Vec<String> {
    let unit =
        std::fs::read_to_string(workspace().join("init/netbpfload.service")).expect("read unit");
    let line = unit
        .lines()
        .find_map(|l| l.trim().strip_prefix("CapabilityBoundingSet="))
        .expect("CapabilityBoundingSet= in init/netbpfload.service");
    line.split_whitespace()
        .map(|c| c.trim_start_matches("CAP_").to_ascii_lowercase())
        .collect()
}

/// Capability number of a name, from `capsh --explain` style table of
/// `linux/capability.h`.
fn cap_number(name: &str) -> u32 {
    match name {
        "chown" => 0,
        "net_admin" => 12,
        "sys_admin" => 21,
        "perfmon" => 38,
        "bpf" => 39,
        other => panic!("capability {other} not known to this test"),
    }
}

/// `setpriv` keeping uid 0 but with exactly `caps` in the bounding set (so
/// in the effective set after exec), none inheritable or ambient, and only
/// group 0.
fn with_caps(caps: &[String], inner: &Command) -> Command {
    let set: Vec<String> = caps.iter().map(|c| format!("+{c}")).collect();
    let mut c = Command::new("setpriv");
    c.arg(format!("--bounding-set=-all,{}", set.join(",")))
        .args([
            "--inh-caps=-all",
            "--ambient-caps=-all",
            "--clear-groups",
            "--",
        ])
        .arg(inner.get_program())
        .args(inner.get_args());
    c
}

fn load_cmd(bin: &Path, loc: &Location, bpffs: &Path) -> Command {
    let mut c = Command::new(bin);
    c.arg("load")
        .arg("--location")
        .arg(&loc.dir)
        .args(["--prefix", &loc.prefix, "--json", "--run-lock", "none"])
        .arg(format!(
            "--role={}",
            if role(loc) == Role::Platform {
                "platform"
            } else {
                "mainline"
            }
        ))
        .arg("--bpffs")
        .arg(bpffs);
    c
}

/// Mode, owner and kernel object kind/attributes of every entry.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
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
            if p.is_dir() {
                out.insert(rel, format!("dir {mode:o} {uid}:{gid}"));
                stack.push(p);
                continue;
            }
            let fd = bpffs::obj_get(&p, BPF_F_RDONLY).expect("obj_get");
            let what = match bpffs::kind_of(&p) {
                netbpfload::sys::ObjKind::Map => {
                    let i = LinuxSys.map_info(fd.as_fd()).expect("map info");
                    format!(
                        "map {} {} {} {} {:#x}",
                        i.map_type, i.key_size, i.value_size, i.max_entries, i.map_flags
                    )
                }
                netbpfload::sys::ObjKind::Prog => format!(
                    "prog {}",
                    LinuxSys.prog_info(fd.as_fd()).expect("prog info").prog_type
                ),
            };
            out.insert(rel, format!("{what} {mode:o} {uid}:{gid}"));
        }
    }
    out
}

fn run_json(mut c: Command) -> (Option<i32>, serde_json::Value) {
    let out = c.output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

#[test]
fn loads_the_corpus_with_only_the_granted_capabilities() {
    let bin = netbpfload_bin();
    let s = stage();
    let full = new_bpffs();
    let locs = locations(s.path());
    let codes: Vec<Option<i32>> = locs
        .iter()
        .map(|l| run_json(load_cmd(&bin, l, full.path())).0)
        .collect();
    let want = snapshot(full.path());
    assert!(want.len() > 30);

    let rc = rc_capabilities();
    assert_eq!(
        rc,
        ["chown", "sys_admin", "net_admin"],
        "init/netbpfload.35rc"
    );
    for caps in [rc, systemd_capabilities()] {
        // The child really runs with exactly these capabilities.
        let mut probe = Command::new("grep");
        probe.args(["^CapEff:", "/proc/self/status"]);
        let out = with_caps(&caps, &probe).output().expect("setpriv grep");
        let line = String::from_utf8_lossy(&out.stdout);
        let mask = caps.iter().fold(0u64, |m, c| m | 1 << cap_number(c));
        let eff = u64::from_str_radix(line.trim().trim_start_matches("CapEff:").trim(), 16)
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(eff, mask, "{caps:?}: {line}");

        let fs = new_bpffs();
        for (l, code) in locs.iter().zip(&codes) {
            let (got, json) = run_json(with_caps(&caps, &load_cmd(&bin, l, fs.path())));
            assert_eq!(got, *code, "{caps:?} {}: {json:#}", l.prefix);
        }
        assert_eq!(snapshot(fs.path()), want, "{caps:?}");
        // Warm: a re-run over these pins under the same capabilities (no
        // CAP_DAC_OVERRIDE) reuses every one, including those whose mode
        // gives root nothing (0060, 0000), and changes nothing.
        for (l, code) in locs.iter().zip(&codes) {
            let (got, json) = run_json(with_caps(&caps, &load_cmd(&bin, l, fs.path())));
            assert_eq!(got, *code, "warm, {caps:?} {}: {json:#}", l.prefix);
            for o in json["location"]["objects"].as_array().into_iter().flatten() {
                if o["outcome"]["status"] == "loaded" {
                    for p in o["outcome"]["maps"].as_array().into_iter().flatten() {
                        assert_eq!(p["action"], "reused", "warm, {caps:?}: {p:#}");
                    }
                }
            }
        }
        assert_eq!(snapshot(fs.path()), want, "warm, {caps:?}");
    }
}

#[test]
fn a_pin_its_owner_locked_up_does_not_fail_the_next_run() {
    // Any owner may chmod its own pin: 0600 owned by uid 1000 leaves root
    // without CAP_DAC_OVERRIDE in the "other" class, with no access.
    let bin = netbpfload_bin();
    let s = stage();
    let fs = new_bpffs();
    let locs = locations(s.path());
    let private = locs
        .iter()
        .find(|l| l.prefix == "net_private/")
        .expect("net_private");
    let (first, _) = run_json(load_cmd(&bin, private, fs.path()));
    let rel = "net_private/map_pktCount_two_entry_map";
    let pin = fs.pin(rel);
    std::os::unix::fs::chown(&pin, Some(1000), Some(1000)).expect("chown");
    std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let rc = rc_capabilities();
    let (code, json) = run_json(with_caps(&rc, &load_cmd(&bin, private, fs.path())));
    assert_eq!(code, first, "{json:#}");
    // Reused, and left as its owner set it (Android never re-modes a
    // reused pin).
    assert_eq!(bpffs::mode_owner(&pin), (0o600, 1000, 1000));
    let reused = json["location"]["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|o| o["outcome"]["maps"].as_array().into_iter().flatten())
        .any(|p| p["pin"] == rel && p["action"] == "reused");
    assert!(reused, "{json:#}");
}

#[test]
fn without_cap_chown_objects_with_non_root_pins_fail_cleanly() {
    let bin = netbpfload_bin();
    let s = stage();
    let fs = new_bpffs();
    let caps: Vec<String> = rc_capabilities()
        .into_iter()
        .filter(|c| c != "chown")
        .collect();
    let (mut failed, mut loaded) = (0, 0);
    for l in locations(s.path()) {
        let (_, json) = run_json(with_caps(&caps, &load_cmd(&bin, &l, fs.path())));
        let cfg = netbpfload_tests::cfg::load_config_for(fs.path(), Release::V, role(&l));
        for o in json["location"]["objects"].as_array().into_iter().flatten() {
            let file = PathBuf::from(o["file"].as_str().expect("file"));
            let name = file.file_name().and_then(|n| n.to_str()).expect("name");
            let corpus = bpf_progs::object(name).expect("corpus object");
            let status = o["outcome"]["status"].as_str().expect("status");
            if corpus.kind != bpf_progs::Kind::Good {
                continue;
            }
            let spec = parse(&file);
            // Without CAP_CHOWN, root (gid 0 only) may only "chown" to 0:0.
            let plan = plan::plan_object(
                &spec,
                &PlanEnv {
                    rules: cfg.rules,
                    gate: cfg.gate,
                    location: &l,
                    page_size: cfg.page_size,
                    map_bytes: cfg.map_bytes,
                    tmp_tag: "x",
                    on_change: Default::default(),
                },
            )
            .expect("corpus object plans");
            let ObjectPlan::Load(plan) = plan else {
                continue;
            };
            let needs_chown = plan
                .map_loads()
                .map(|m| &m.pin)
                .chain(plan.prog_loads().map(|p| &p.pin))
                .any(|p| (p.uid, p.gid) != (0, 0));
            if needs_chown {
                failed += 1;
                assert_eq!(status, "failed", "{name}: {o:#}");
                let e = &o["outcome"]["error"];
                assert_eq!(
                    (&e["kind"], &e["reason"], &e["errno_name"]),
                    (&"load".into(), &"owner".into(), &"EPERM".into()),
                    "{name}: {e:#}"
                );
                let obj = paths::object_name(&file);
                let left: Vec<String> = snapshot(fs.path())
                    .into_keys()
                    .filter(|k| {
                        let n = k.rsplit('/').next().unwrap_or(k);
                        n.starts_with(&format!("map_{obj}_"))
                            || n.starts_with(&format!("prog_{obj}_"))
                            || n.starts_with(paths::TMP_PIN_PREFIX)
                    })
                    .collect();
                assert_eq!(left, Vec::<String>::new(), "{name}: pins left");
            } else {
                loaded += 1;
                assert_eq!(status, "loaded", "{name}: {o:#}");
            }
        }
    }
    assert!(failed >= 3, "only {failed} objects needed CAP_CHOWN");
    assert!(loaded + failed >= 5);
}

/// Issue 11 item 6, the owner's half: any owner may `chmod 0600` (or 0000)
/// its own pin, which leaves root without CAP_DAC_OVERRIDE no access. The
/// next run, under exactly the `.rc` and the systemd capability sets, must
/// still load the critical object owning those pins: it reuses them (opened
/// by lending the loader owner read access for the call, `engine/pin.rs`)
/// and leaves them as their owner set them, map and program pins alike. The
/// exit status is the cold run's.
#[test]
fn a_critical_object_s_pins_locked_up_by_their_owner_do_not_fail_the_next_run() {
    let bin = netbpfload_bin();
    let s = stage();
    let fs = new_bpffs();
    let locs = locations(s.path());
    let netd_loc = locs
        .iter()
        .find(|l| l.prefix == "netd_shared/")
        .expect("netd_shared location");
    let (cold, json) = run_json(load_cmd(&bin, netd_loc, fs.path()));
    let netd = |json: &serde_json::Value| -> serde_json::Value {
        json["location"]["objects"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["object"] == "netd")
            .cloned()
            .unwrap_or_else(|| panic!("netd not reported: {json:#}"))
    };
    let first = netd(&json);
    assert_eq!(first["outcome"]["status"], "loaded", "{first:#}");
    assert!(first["critical"].is_string(), "netd is critical: {first:#}");
    let pin_of = |kind: &str, i: usize| {
        first["outcome"][kind][i]["pin"]
            .as_str()
            .unwrap_or_else(|| panic!("{kind}[{i}]: {first:#}"))
            .to_string()
    };
    // (pin, owner uid:gid, mode): two maps and a program, locked two ways.
    let locked = [
        (pin_of("maps", 0), 1000, 0o600),
        (pin_of("maps", 1), 1001, 0o000),
        (pin_of("programs", 0), 1000, 0o600),
    ];
    for (rel, uid, mode) in &locked {
        let p = fs.pin(rel);
        std::os::unix::fs::chown(&p, Some(*uid), Some(*uid)).expect("chown");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).expect("chmod");
    }
    for caps in [rc_capabilities(), systemd_capabilities()] {
        let (code, json) = run_json(with_caps(&caps, &load_cmd(&bin, netd_loc, fs.path())));
        assert_eq!(code, cold, "{caps:?}: {json:#}");
        let warm = netd(&json);
        assert_eq!(warm["outcome"]["status"], "loaded", "{caps:?}: {warm:#}");
        assert_eq!(warm["fatal"], true, "{caps:?}");
        for (rel, uid, mode) in &locked {
            let reused = ["maps", "programs"].iter().any(|k| {
                warm["outcome"][k]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["pin"] == rel.as_str() && p["action"] == "reused")
            });
            assert!(reused, "{caps:?}: {rel} not reused: {warm:#}");
            assert_eq!(
                bpffs::mode_owner(&fs.pin(rel)),
                (*mode, *uid, *uid),
                "{caps:?}: {rel} left as its owner set it"
            );
        }
    }
}
