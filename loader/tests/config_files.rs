//! The init, systemd, SELinux and Android build files must agree with
//! `paths.rs`, the one home of paths and names: a location or binary added
//! there without its label or service line fails here.
//!
//! SELinux: `sepolicy/private/` is an add-on to AOSP's policy, so labels and
//! grants AOSP owns are read from the stand-in of AOSP's policy in
//! `sepolicy/check/base/` (restated facts), and our files are checked for
//! adding only what AOSP lacks.
//!
//! init: `init/netbpfload.35rc` is resolved together with the platform's
//! files of each release (`init/platform/`) the way init does, and exactly
//! one start of exactly the right `bpfloader` must come out.

use netbpfload::paths;
use netbpfload::release::{Release as LoaderRelease, Role, APEX_BPF_ROOT};
use netbpfload::spec::Domain;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn repo_file(rel: &str) -> String {
    let p = repo_path(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Non-comment, non-blank lines, trimmed.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn set(words: &[&str]) -> BTreeSet<String> {
    words.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------
// SELinux

const BASE: &str = "sepolicy/check/base";
const APEX_FC: &str = "sepolicy/apex/com.android.tethering-file_contexts";
/// Where the tethering APEX is mounted; its file_contexts paths are relative.
const APEX_ROOT: &str = "/apex/com.android.tethering";

/// `genfscon bpf <path> <label>` lines of AOSP's genfs_contexts (stand-in):
/// path → label.
fn bpf_genfs() -> BTreeMap<String, String> {
    let text = repo_file(&format!("{BASE}/genfs_contexts"));
    lines(&text)
        .filter(|l| l.starts_with("genfscon bpf "))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 4, "bad genfscon line {l:?}");
            (f[2].to_string(), f[3].to_string())
        })
        .collect()
}

fn label(ty: &str) -> String {
    format!("u:object_r:{ty}:s0")
}

/// Every `*.te` of our add-on, concatenated.
fn our_te() -> String {
    let dir = repo_path("sepolicy/private");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "te"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .te file in sepolicy/private");
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("read te"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `type <name>, <attrs>;` declarations of a TE text: name → attributes.
fn type_decls(te: &str) -> BTreeMap<String, BTreeSet<String>> {
    lines(te)
        .filter_map(|l| l.strip_prefix("type "))
        .map(|rest| {
            let rest = rest.trim_end_matches(';');
            let mut parts = rest.split(',').map(str::trim);
            let name = parts.next().expect("type name").to_string();
            (name, parts.map(str::to_string).collect())
        })
        .collect()
}

/// The first rule starting with `prefix` (after whitespace normalisation).
fn rule<'a>(te: &'a str, prefix: &str) -> &'a str {
    lines(te)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no rule `{prefix}…`"))
}

/// The words inside the last `{ ... }` of a rule (the permissions).
fn perms(rule: &str) -> BTreeSet<String> {
    let open = rule.rfind('{').expect("{");
    let close = rule.rfind('}').expect("}");
    rule[open + 1..close]
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_created_bpffs_directory_has_an_aosp_genfscon_label() {
    let g = bpf_genfs();
    assert_eq!(g.get("/"), Some(&label("fs_bpf")));
    for release in LoaderRelease::ALL {
        for sub in paths::created_subdirs(release.rules()) {
            assert!(
                g.contains_key(&format!("/{sub}")),
                "{}: bpffs directory {sub}/ created by the loaders has no genfscon line in AOSP's policy",
                release.name()
            );
        }
    }
}

#[test]
fn domain_directories_carry_their_selinux_context() {
    let g = bpf_genfs();
    for d in Domain::ALL {
        if d == Domain::Unspecified {
            continue;
        }
        let dir = format!("/{}", d.pin_subdir().trim_end_matches('/'));
        assert_eq!(
            g.get(&dir),
            Some(&label(d.selinux_context())),
            "{d:?}: genfscon of {dir} must be its selinux_context"
        );
    }
}

#[test]
fn every_bpffs_label_is_an_aosp_bpffs_type() {
    let decls = type_decls(&repo_file(&format!("{BASE}/aosp_types.te")));
    for l in bpf_genfs().values() {
        let ty = l.split(':').nth(2).expect("type field");
        let attrs = decls
            .get(ty)
            .unwrap_or_else(|| panic!("{ty} not declared in the stand-in AOSP policy"));
        assert!(attrs.contains("bpffs_type"), "{ty}: {attrs:?}");
    }
}

/// Our policy is an add-on: it declares nothing (AOSP declares the domain,
/// the executables' types and every bpffs type), labels no path on the
/// bpffs (AOSP's genfscon lines do), and lists no bpffs type by hand.
#[test]
fn our_policy_declares_and_labels_nothing_aosp_owns() {
    let te = our_te();
    for l in lines(&te) {
        for kw in ["type ", "attribute ", "typeattribute ", "genfscon "] {
            assert!(!l.starts_with(kw), "sepolicy/private declares: {l}");
        }
        assert!(
            !l.contains("fs_bpf"),
            "sepolicy/private names a bpffs type instead of bpffs_type: {l}"
        );
    }
    assert!(
        !repo_path("sepolicy/genfs_contexts").exists(),
        "AOSP already has the bpffs genfscon lines"
    );
    assert!(
        !repo_path("sepolicy/file_contexts").exists(),
        "the APEX binary is labelled in sepolicy/apex/, the platform's by AOSP"
    );
}

/// What AOSP lets the loader do on the bpf filesystem is enough for the
/// pin-then-rename flow, and neither AOSP nor our add-on grants what AOSP
/// forbids there: `lock` on a directory, `unlink` of a pin.
#[test]
fn bpffs_grants_cover_pin_and_rename_without_lock_or_unlink() {
    let aosp = repo_file(&format!("{BASE}/aosp_bpfloader.te"));
    let dir = perms(rule(&aosp, "allow bpfloader bpffs_type:dir "));
    let file = perms(rule(&aosp, "allow bpfloader bpffs_type:file "));
    assert!(dir.is_superset(&set(&[
        "add_name",
        "create",
        "remove_name",
        "search",
        "setattr",
        "write"
    ])));
    assert!(file.is_superset(&set(&["create", "getattr", "read", "rename", "setattr"])));
    assert!(!dir.contains("lock"), "{dir:?}");
    assert!(!file.contains("unlink"), "{file:?}");
    // The constraint itself: the dir permissions any domain may ever hold.
    let never = perms(rule(&aosp, "neverallow domain bpffs_type:dir ~"));
    assert!(
        !never.contains("lock") && never.contains("search"),
        "{never:?}"
    );
    let never = perms(rule(&aosp, "neverallow domain bpffs_type:file ~"));
    assert!(
        !never.contains("unlink") && never.contains("rename"),
        "{never:?}"
    );

    for l in lines(&our_te()).filter(|l| l.starts_with("allow ")) {
        if l.contains("bpffs_type") {
            let p = perms(l);
            assert!(!p.contains("lock") && !p.contains("unlink"), "{l}");
        }
    }
    let bpf = perms(rule(&aosp, "allow bpfloader self:bpf "));
    assert_eq!(
        bpf,
        set(&[
            "map_create",
            "map_read",
            "map_write",
            "prog_load",
            "prog_run"
        ])
    );
    assert!(aosp.contains("set_prop(bpfloader, bpf_progs_loaded_prop)"));
}

#[test]
fn apex_file_contexts_label_the_loader_binary() {
    let fc = repo_file(APEX_FC);
    let map: BTreeMap<String, String> = lines(&fc)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 2, "bad file_contexts line {l:?}");
            assert!(f[0].starts_with('/'), "{l:?}");
            (f[0].replace("\\.", "."), f[1].to_string())
        })
        .collect();
    let in_apex = paths::NETBPFLOAD_PATH
        .strip_prefix(APEX_ROOT)
        .expect("the loader lives in the tethering APEX");
    assert_eq!(map.get(in_apex), Some(&label("bpfloader_exec")));
    for path in map.keys() {
        assert!(
            !path.starts_with(APEX_ROOT) && !path.starts_with("/system"),
            "{path}: APEX file_contexts paths are relative to the APEX root"
        );
    }
    let decls = type_decls(&repo_file(&format!("{BASE}/aosp_types.te")));
    for ty in ["bpfloader_exec", "bpfloader_platform_exec"] {
        let attrs = decls.get(ty).unwrap_or_else(|| panic!("{ty} not in AOSP"));
        assert!(attrs.contains("exec_type"), "{ty}: {attrs:?}");
    }
}

#[test]
fn capabilities_agree_across_rc_systemd_and_sepolicy() {
    let rc = rc_capabilities();
    let aosp = repo_file(&format!("{BASE}/aosp_bpfloader.te"));
    let te_caps: BTreeSet<String> = perms(rule(&aosp, "allow bpfloader self:capability "))
        .into_iter()
        .map(|c| c.to_uppercase())
        .collect();
    assert_eq!(te_caps, rc, "the platform's capability grant vs .35rc");
    let te_caps2 = perms(rule(&aosp, "allow bpfloader self:capability2 "));
    assert_eq!(te_caps2, set(&["bpf", "perfmon"]));

    let unit = repo_file("init/netbpfload.service");
    let want: BTreeSet<String> = rc
        .iter()
        .cloned()
        .chain(te_caps2.iter().map(|c| c.to_uppercase()))
        .map(|c| format!("CAP_{c}"))
        .collect();
    for key in ["CapabilityBoundingSet=", "AmbientCapabilities="] {
        let line = lines(&unit)
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} missing"));
        let got: BTreeSet<String> = line[key.len()..]
            .split_whitespace()
            .map(str::to_string)
            .collect();
        assert_eq!(got, want, "{key}");
    }
}

// ---------------------------------------------------------------------------
// init

const APEX_RC: &str = "init/netbpfload.35rc";

/// A parsed `service` stanza.
#[derive(Debug, Clone)]
struct Service {
    argv: Vec<String>,
    opts: Vec<Vec<String>>,
    file: String,
}

impl Service {
    fn opt(&self, key: &str) -> Option<&[String]> {
        self.opts
            .iter()
            .find(|o| o.first().map(String::as_str) == Some(key))
            .map(|o| &o[1..])
    }
}

/// What one init file declares: services and `on <trigger>` actions.
#[derive(Debug, Default)]
struct RcFile {
    services: Vec<(String, Service)>,
    actions: Vec<(String, Vec<String>)>,
}

fn parse_rc(name: &str, text: &str) -> RcFile {
    let mut rc = RcFile::default();
    enum Section {
        None,
        Service(String, Service),
        Action(String, Vec<String>),
    }
    let mut cur = Section::None;
    let flush = |cur: Section, rc: &mut RcFile| match cur {
        Section::None => {}
        Section::Service(n, s) => rc.services.push((n, s)),
        Section::Action(t, c) => rc.actions.push((t, c)),
    };
    for l in lines(text) {
        let words: Vec<String> = l.split_whitespace().map(str::to_string).collect();
        match words[0].as_str() {
            "service" => {
                flush(std::mem::replace(&mut cur, Section::None), &mut rc);
                assert!(words.len() >= 3, "{name}: service needs a name and a path");
                cur = Section::Service(
                    words[1].clone(),
                    Service {
                        argv: words[2..].to_vec(),
                        opts: Vec::new(),
                        file: name.to_string(),
                    },
                );
            }
            "on" => {
                flush(std::mem::replace(&mut cur, Section::None), &mut rc);
                cur = Section::Action(words[1..].join(" "), Vec::new());
            }
            _ => match &mut cur {
                Section::Service(_, s) => s.opts.push(words),
                Section::Action(_, c) => c.push(l.to_string()),
                Section::None => panic!("{name}: {l:?} outside a section"),
            },
        }
    }
    flush(cur, &mut rc);
    rc
}

/// The versioned-.rc rule init applies to an APEX's etc/init: of the files
/// sharing a base name, the one with the highest version <= `api` (an
/// unversioned `.rc` counts as version 0); none if all are newer.
fn apex_rc_for_api<'a>(files: &[(&'a str, &'a str)], api: u32) -> Vec<(&'a str, &'a str)> {
    let mut best: BTreeMap<&str, (u32, (&str, &str))> = BTreeMap::new();
    for &(name, text) in files {
        let (base, ver) = match name.rsplit_once(".rc") {
            Some((base, "")) => (base, 0),
            _ => {
                let (base, ver) = name.rsplit_once('.').expect("a .rc or .NNrc name");
                let ver = ver
                    .strip_suffix("rc")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{name}: not .rc or .NNrc"));
                (base, ver)
            }
        };
        if ver <= api && best.get(base).is_none_or(|(v, _)| ver > *v) {
            best.insert(base, (ver, (name, text)));
        }
    }
    best.into_values().map(|(_, f)| f).collect()
}

/// One platform release: its API level, its init files (`init/platform/`)
/// and the trigger its `/system/etc/init/hw/init.rc` fires in late-init for
/// the loader (init.rc itself, not restated in full, is a fact of the row).
struct Release {
    name: &'static str,
    api: u32,
    files: &'static [&'static str],
    fired: &'static str,
}

const RELEASES: &[Release] = &[
    Release {
        name: "T",
        api: 33,
        files: &["init/platform/T/bpfloader.rc"],
        fired: "load_bpf_programs",
    },
    Release {
        name: "U",
        api: 34,
        files: &["init/platform/U/bpfloader.rc"],
        fired: "load_bpf_programs",
    },
    Release {
        name: "U QPR2",
        api: 34,
        files: &["init/platform/U-QPR2/netbpfload.rc"],
        fired: "load_bpf_programs",
    },
    Release {
        name: "U QPR3",
        api: 34,
        files: &["init/platform/U-QPR3/netbpfload.rc"],
        fired: "load_bpf_programs",
    },
    Release {
        name: "V",
        api: 35,
        files: &["init/platform/V/netbpfload.rc"],
        fired: "load_bpf_programs",
    },
    Release {
        name: "V QPR1",
        api: 35,
        files: &[
            "init/platform/V-QPR1/init.rc",
            "init/platform/V-QPR1/netbpfload.rc",
        ],
        fired: "load-bpf-programs",
    },
    Release {
        name: "B",
        api: 36,
        files: &[
            "init/platform/V-QPR1/init.rc",
            "init/platform/B/netbpfload.rc",
        ],
        fired: "load-bpf-programs",
    },
];

/// What init makes of a release plus the APEX's init files: the effective
/// `bpfloader` service, and how many times the fired trigger starts it.
#[derive(Debug)]
struct Resolved {
    bpfloader: Service,
    starts: usize,
}

fn resolve(rel: &Release, apex: &[(&str, &str)]) -> Result<Resolved, String> {
    let mut files: Vec<(String, String)> = rel
        .files
        .iter()
        .map(|f| (f.to_string(), repo_file(f)))
        .collect();
    // APEX init files are read after the platform's (apexd activates them).
    for (name, text) in apex_rc_for_api(apex, rel.api) {
        files.push((format!("apex etc/init/{name}"), text.to_string()));
    }
    let mut services: BTreeMap<String, Service> = BTreeMap::new();
    let mut starts = 0;
    for (name, text) in &files {
        let rc = parse_rc(name, text);
        for (svc, s) in rc.services {
            match services.get(&svc) {
                None => {
                    services.insert(svc, s);
                }
                Some(old) => {
                    if s.opt("override").is_none() {
                        return Err(format!("{name}: service {svc} defined twice"));
                    }
                    if old.opt("updatable").is_none() {
                        return Err(format!(
                            "{name}: overrides {svc} of {}, which is not updatable",
                            old.file
                        ));
                    }
                    services.insert(svc, s);
                }
            }
        }
        for (trigger, cmds) in rc.actions {
            if trigger == rel.fired {
                starts += cmds.iter().filter(|c| *c == "exec_start bpfloader").count();
            } else if cmds.iter().any(|c| c.contains("bpfloader")) {
                return Err(format!(
                    "{name}: `on {trigger}` starts bpfloader but {} fires {}",
                    rel.name, rel.fired
                ));
            }
        }
    }
    let bpfloader = services
        .remove("bpfloader")
        .ok_or_else(|| format!("{}: no bpfloader service", rel.name))?;
    Ok(Resolved { bpfloader, starts })
}

fn apex_files() -> Vec<(&'static str, String)> {
    vec![("netbpfload.35rc", repo_file(APEX_RC))]
}

fn rc_capabilities() -> BTreeSet<String> {
    let rc = parse_rc(APEX_RC, &repo_file(APEX_RC));
    let (_, s) = &rc.services[0];
    s.opt("capabilities")
        .expect("capabilities")
        .iter()
        .cloned()
        .collect()
}

/// On T and U the platform's own loader runs, untouched; from V on, ours,
/// as the reference declares it; on every release exactly one start.
#[test]
fn init_runs_one_bpfloader_per_release_ours_only_from_v() {
    let apex = apex_files();
    let apex: Vec<(&str, &str)> = apex.iter().map(|(n, t)| (*n, t.as_str())).collect();
    for rel in RELEASES {
        let r = resolve(rel, &apex).unwrap_or_else(|e| panic!("{}: {e}", rel.name));
        assert_eq!(
            r.starts, 1,
            "{}: the fired trigger must start bpfloader exactly once",
            rel.name
        );
        let ours = r.bpfloader.file.starts_with("apex ");
        assert_eq!(
            ours,
            rel.api >= 35,
            "{}: bpfloader comes from {}",
            rel.name,
            r.bpfloader.file
        );
        let want_binary = match rel.name {
            "T" | "U" => paths::PLATFORM_BPFLOADER_PATH,
            "U QPR2" => "/system/bin/netbpfload",
            _ => paths::NETBPFLOAD_PATH,
        };
        assert_eq!(r.bpfloader.argv, [want_binary], "{}", rel.name);
    }
}

/// The layout before issue 13 (an unversioned `netbpfload.rc` in the APEX,
/// with `override` and its own trigger) is what the resolver must refuse:
/// on T/U it replaces the platform's loader, on V 24Q3 it starts the loader
/// twice, and from 24Q4 its trigger is dead.
#[test]
fn resolver_catches_the_old_unversioned_apex_file() {
    let old = format!(
        "{}\non load_bpf_programs\n    exec_start bpfloader\n",
        repo_file(APEX_RC)
    );
    let apex = [("netbpfload.rc", old.as_str())];
    let by_name = |n: &str| RELEASES.iter().find(|r| r.name == n).expect("release");
    let t = resolve(by_name("T"), &apex).expect("T resolves");
    assert_eq!(t.bpfloader.argv, [paths::NETBPFLOAD_PATH], "replaced on T");
    assert_eq!(resolve(by_name("V"), &apex).expect("V").starts, 2);
    let err = resolve(by_name("V QPR1"), &apex).expect_err("dead trigger");
    assert!(err.contains("load_bpf_programs"), "{err}");
}

#[test]
fn apex_rc_runs_our_binary_as_the_reference_declares() {
    let text = repo_file(APEX_RC);
    let rc = parse_rc(APEX_RC, &text);
    assert!(
        rc.actions.is_empty(),
        "the trigger belongs to the platform: {:?}",
        rc.actions
    );
    assert_eq!(rc.services.len(), 1);
    let (name, s) = &rc.services[0];
    assert_eq!(name, "bpfloader");
    assert_eq!(
        s.argv,
        [paths::NETBPFLOAD_PATH],
        "no arguments: the boot flow"
    );
    assert_eq!(s.opt("user"), Some(&["root".to_string()][..]));
    assert_eq!(s.opt("file").expect("file"), ["/dev/kmsg", "w"]);
    assert_eq!(
        s.opt("rlimit").expect("rlimit"),
        ["memlock", "1073741824", "1073741824"]
    );
    assert_eq!(
        s.opt("reboot_on_failure").expect("reboot_on_failure"),
        ["reboot,bpfloader-failed"]
    );
    assert!(s.opt("oneshot").is_some());
    assert!(s.opt("override").is_some());
    assert!(
        s.opt("seclabel").is_none(),
        "the domain comes from the file label"
    );
    let groups: BTreeSet<String> = s.opt("group").expect("group").iter().cloned().collect();
    assert_eq!(
        groups,
        set(&[
            "root",
            "graphics",
            "network_stack",
            "net_admin",
            "net_bw_acct",
            "net_bw_stats",
            "net_raw",
            "system"
        ])
    );
    assert_eq!(rc_capabilities(), set(&["CHOWN", "SYS_ADMIN", "NET_ADMIN"]));
}

/// The platform files our loader detects the release by: exactly one of
/// `bpfloader.rc` (T, U) and `netbpfload.rc` (U QPR2+), at `paths.rs`'s path.
#[test]
fn platform_files_are_named_as_paths_rs_expects() {
    for rel in RELEASES {
        let rc: Vec<&str> = rel
            .files
            .iter()
            .copied()
            .filter(|f| !f.ends_with("/init.rc"))
            .collect();
        assert_eq!(rc.len(), 1, "{}", rel.name);
        let installed = if rel.name == "T" || rel.name == "U" {
            paths::PLATFORM_BPFLOADER_RC
        } else {
            paths::PLATFORM_NETBPFLOAD_RC
        };
        let file = Path::new(installed).file_name().expect("file name");
        assert_eq!(Path::new(rc[0]).file_name(), Some(file), "{}", rel.name);
    }
    // Android 16's header: `# <year> <quarter> <api> <minor> <x> #`.
    let b = repo_file("init/platform/B/netbpfload.rc");
    let head: Vec<&str> = b
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    assert_eq!(head[0], "#");
    assert_eq!(head[1], "2025");
    assert_eq!(head[3], "36");
    assert_eq!(head[6], "#");
}

#[test]
fn systemd_unit_matches_paths() {
    let unit = repo_file("init/netbpfload.service");
    let get = |key: &str| -> String {
        lines(&unit)
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .unwrap_or_else(|| panic!("{key}= missing"))
            .to_string()
    };
    assert_eq!(get("Type"), "oneshot");
    assert_eq!(get("RemainAfterExit"), "yes");
    assert_eq!(get("RequiresMountsFor"), paths::DEFAULT_BPFFS_ROOT);
    assert!(get("Before")
        .split_whitespace()
        .any(|u| u == "network-pre.target"));
    assert_eq!(get("Wants"), "network-pre.target");
    assert!(get("After")
        .split_whitespace()
        .any(|u| u == "local-fs.target"));
    let rc = parse_rc(APEX_RC, &repo_file(APEX_RC));
    assert_eq!(
        get("LimitMEMLOCK"),
        rc.services[0].1.opt("rlimit").expect("rlimit")[1]
    );

    let exec = get("ExecStart");
    let mut argv = exec.split_whitespace();
    assert_eq!(argv.next(), Some(paths::LINUX_NETBPFLOAD_PATH));
    let flags: BTreeMap<&str, &str> = argv
        .map(|a| a.split_once('=').expect("--flag=value"))
        .collect();
    assert_eq!(
        flags.get("--property-file"),
        Some(&paths::DEFAULT_PROPERTY_FILE)
    );
    assert_eq!(
        flags.get("--runtime-prop-dir"),
        Some(&paths::DEFAULT_RUNTIME_PROP_DIR)
    );
    // The staging root mirrors the Android tree; the unit documents the two
    // links the chain executes under it.
    let root = PathBuf::from(flags.get("--root").expect("--root"));
    for bin in [paths::PLATFORM_BPFLOADER_PATH, paths::NETBPFLOAD_PATH] {
        let link = root.join(bin.trim_start_matches('/'));
        let doc = format!("{} -> {}", link.display(), paths::LINUX_NETBPFLOAD_PATH);
        assert!(unit.contains(&doc), "unit must document {doc}");
    }
}

// ---------------------------------------------------------------------------
// Android build files (Soong is not available here: these tests are what
// keeps them true to the Cargo build).

/// A Blueprint value: the subset Android.bp files here use.
#[derive(Debug, Clone, PartialEq)]
enum Bp {
    Str(String),
    Bool(bool),
    List(Vec<Bp>),
    Map(BTreeMap<String, Bp>),
}

impl Bp {
    fn str(&self) -> &str {
        match self {
            Bp::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    fn strs(&self) -> Vec<String> {
        match self {
            Bp::List(v) => v.iter().map(|x| x.str().to_string()).collect(),
            other => panic!("not a list: {other:?}"),
        }
    }

    fn get(&self, key: &str) -> Option<&Bp> {
        match self {
            Bp::Map(m) => m.get(key),
            other => panic!("not a map: {other:?}"),
        }
    }
}

/// Parses an Android.bp into `(module type, properties)` in file order.
fn parse_bp(text: &str) -> Vec<(String, Bp)> {
    // Strip `//` comments (no string here contains `//`).
    let src: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let toks = bp_tokens(&src);
    let mut i = 0;
    let mut modules = Vec::new();
    while i < toks.len() {
        let ty = toks[i].clone();
        i += 1;
        let props = bp_value(&toks, &mut i);
        modules.push((ty, props));
    }
    modules
}

fn bp_tokens(src: &str) -> Vec<String> {
    let mut toks = Vec::new();
    let mut chars = src.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if "{}[]:,".contains(c) {
            toks.push(c.to_string());
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::from("\"");
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                s.push(c);
            }
            toks.push(s);
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_alphanumeric() || c == '_' || c == '.' {
                    s.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            assert!(!s.is_empty(), "unexpected character {c:?} in Android.bp");
            toks.push(s);
        }
    }
    toks
}

fn bp_value(toks: &[String], i: &mut usize) -> Bp {
    let t = toks[*i].clone();
    *i += 1;
    match t.as_str() {
        "{" => {
            let mut m = BTreeMap::new();
            while toks[*i] != "}" {
                let key = toks[*i].clone();
                assert_eq!(toks[*i + 1], ":", "after {key}");
                *i += 2;
                let v = bp_value(toks, i);
                assert!(m.insert(key.clone(), v).is_none(), "{key} twice");
                if toks[*i] == "," {
                    *i += 1;
                }
            }
            *i += 1;
            Bp::Map(m)
        }
        "[" => {
            let mut v = Vec::new();
            while toks[*i] != "]" {
                v.push(bp_value(toks, i));
                if toks[*i] == "," {
                    *i += 1;
                }
            }
            *i += 1;
            Bp::List(v)
        }
        "true" => Bp::Bool(true),
        "false" => Bp::Bool(false),
        s if s.starts_with('"') => Bp::Str(s[1..].to_string()),
        other => panic!("unexpected token {other:?} in Android.bp"),
    }
}

/// The module of `ty` named `name` in `bp`.
fn bp_module<'a>(bp: &'a [(String, Bp)], ty: &str, name: &str) -> &'a Bp {
    bp.iter()
        .find(|(t, p)| t == ty && p.get("name").map(Bp::str) == Some(name))
        .map(|(_, p)| p)
        .unwrap_or_else(|| panic!("no {ty} {name:?}"))
}

/// `key = "value"` of a TOML section (`[section]`), as far as the simple
/// Cargo.toml files here go.
fn toml_section(text: &str, section: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for l in text.lines().map(str::trim) {
        if l.starts_with('[') {
            inside = l == section;
            continue;
        }
        if !inside || l.is_empty() || l.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = l.split_once('=') {
            out.insert(k.trim().to_string(), v.trim().trim_matches('"').to_string());
        }
    }
    out
}

/// AOSP's module name of a crates.io crate.
fn aosp_rustlib(krate: &str) -> String {
    match krate {
        // liblog is Android's C logging library.
        "log" => "liblog_rust".to_string(),
        k => format!("lib{}", k.replace('-', "_")),
    }
}

fn bp_file(rel: &str) -> Vec<(String, Bp)> {
    parse_bp(&repo_file(rel))
}

#[test]
fn android_bp_parser_reads_what_it_is_given() {
    let bp = parse_bp(
        "// c\nfoo {\n  name: \"a\", // trailing\n  l: [\"x\", \"y\",],\n  b: true,\n  \
         t: { android: { l: [\"z\"] } },\n}\n",
    );
    assert_eq!(bp.len(), 1);
    let (ty, m) = &bp[0];
    assert_eq!(ty, "foo");
    assert_eq!(m.get("name").map(Bp::str), Some("a"));
    assert_eq!(m.get("l").expect("l").strs(), ["x", "y"]);
    assert_eq!(m.get("b"), Some(&Bp::Bool(true)));
    let z = m
        .get("t")
        .and_then(|t| t.get("android"))
        .and_then(|a| a.get("l"));
    assert_eq!(z.expect("nested").strs(), ["z"]);
}

/// loader/Android.bp builds what loader/Cargo.toml builds: same crates, same
/// roots, same edition, the same dependencies (AOSP names), and installs the
/// binary where paths.rs says the APEX binary is.
#[test]
fn android_bp_loader_matches_cargo() {
    let cargo = repo_file("loader/Cargo.toml");
    let lib = toml_section(&cargo, "[lib]");
    let bin = toml_section(&cargo, "[[bin]]");
    let deps: BTreeSet<String> = toml_section(&cargo, "[dependencies]")
        .keys()
        .map(|k| aosp_rustlib(k))
        .collect();
    let android_deps: BTreeSet<String> = toml_section(
        &cargo,
        "[target.'cfg(target_os = \"android\")'.dependencies]",
    )
    .keys()
    .map(|k| aosp_rustlib(k))
    .collect();
    assert!(!deps.is_empty() && !android_deps.is_empty());
    let ws = repo_file("Cargo.toml");
    let edition = toml_section(&ws, "[workspace.package]")
        .remove("edition")
        .expect("workspace edition");

    let bp = bp_file("loader/Android.bp");
    let defaults = bp_module(&bp, "rust_defaults", "netbpfload_rs_defaults");
    assert_eq!(defaults.get("edition").map(Bp::str), Some(edition.as_str()));
    let rustlibs: BTreeSet<String> = defaults
        .get("rustlibs")
        .expect("rustlibs")
        .strs()
        .into_iter()
        .collect();
    assert_eq!(rustlibs, deps, "rustlibs vs [dependencies]");
    let android: BTreeSet<String> = defaults
        .get("target")
        .and_then(|t| t.get("android"))
        .and_then(|a| a.get("rustlibs"))
        .expect("target.android.rustlibs")
        .strs()
        .into_iter()
        .collect();
    assert_eq!(android, android_deps, "android rustlibs vs target deps");
    let apex = defaults
        .get("apex_available")
        .expect("apex_available")
        .strs();
    assert_eq!(apex, ["com.android.tethering"]);
    assert!(defaults.get("min_sdk_version").is_some());

    let l = bp_module(&bp, "rust_library", &format!("lib{}", lib["name"]));
    assert_eq!(l.get("crate_name").map(Bp::str), Some(lib["name"].as_str()));
    assert_eq!(l.get("srcs").expect("srcs").strs(), [lib["path"].clone()]);

    let b = bp_module(&bp, "rust_binary", "netbpfload_rs");
    assert_eq!(b.get("stem").map(Bp::str), Some(bin["name"].as_str()));
    assert_eq!(b.get("crate_name").map(Bp::str), Some(bin["name"].as_str()));
    assert_eq!(b.get("srcs").expect("srcs").strs(), [bin["path"].clone()]);
    assert!(b
        .get("rustlibs")
        .expect("rustlibs")
        .strs()
        .contains(&format!("lib{}", lib["name"])));
    assert_eq!(b.get("installable"), Some(&Bp::Bool(false)), "APEX only");
    for m in [l, b] {
        assert_eq!(
            m.get("defaults").expect("defaults").strs(),
            ["netbpfload_rs_defaults"]
        );
    }
    assert_eq!(
        format!("/apex/{}/bin/{}", apex[0], bin["name"]),
        paths::NETBPFLOAD_PATH
    );
}

#[test]
fn android_bp_installs_the_versioned_rc() {
    let bp = bp_file("init/Android.bp");
    let rc = bp_module(&bp, "prebuilt_etc", "netbpfload_rs.35rc");
    let src = rc.get("src").expect("src").str();
    assert!(repo_path("init").join(src).is_file(), "{src}");
    assert_eq!(Path::new(APEX_RC).file_name(), Some(src.as_ref()));
    assert_eq!(rc.get("filename").map(Bp::str), Some("netbpfload.35rc"));
}

/// bpf-progs/Android.bp has one bpf {} module per corpus object (the legacy
/// ABI variants excepted, see its header): same source, an installed name
/// with the same object name (hence the same pins), the location of the
/// default layout as sub_dir, BTF exactly where the Cargo build emits it,
/// and the corpus's own headers ahead of AOSP's.
#[test]
fn android_bp_corpus_matches_the_cargo_objects() {
    let bp = bp_file("bpf-progs/Android.bp");
    let modules: Vec<&Bp> = bp
        .iter()
        .filter(|(t, _)| t == "bpf")
        .map(|(_, p)| p)
        .collect();
    let mut seen = BTreeSet::new();
    for obj in bpf_progs::OBJECTS {
        // Not expressible in Soong: ABI variants of one source, and a .BTF
        // corrupted after the build (see the file's header).
        // Nor the libbpf-style objects: Android does not load them.
        if matches!(obj.kind, bpf_progs::Kind::Legacy { .. })
            || obj.kind.is_libbpf()
            || obj.file_name == "btfCorrupt.o"
        {
            continue;
        }
        let stem = paths::object_name(Path::new(obj.file_name));
        let name = format!("netbpfload_rs_corpus_{stem}.o");
        let m = modules
            .iter()
            .find(|m| m.get("name").map(Bp::str) == Some(name.as_str()))
            .unwrap_or_else(|| panic!("{}: no bpf module {name}", obj.file_name));
        seen.insert(name.clone());
        let srcs = m.get("srcs").expect("srcs").strs();
        assert_eq!(srcs, [format!("src/progs/{stem}.c")], "{name}");
        assert!(repo_path("bpf-progs").join(&srcs[0]).is_file(), "{srcs:?}");
        // Soong installs <source stem>.o; its object name must be ours.
        let installed = format!("{stem}.o");
        assert_eq!(
            paths::object_name(Path::new(&installed)),
            paths::object_name(Path::new(obj.file_name))
        );
        let sub_dir = m.get("sub_dir").map(|s| s.str().to_string());
        match obj.location {
            Some(bpf_progs::Location::Mainline { prefix }) => {
                let sub = sub_dir.unwrap_or_else(|| panic!("{name}: no sub_dir"));
                assert_eq!(format!("{sub}/"), prefix, "{name}");
                let dir = format!("{APEX_BPF_ROOT}/{sub}/");
                let release = LoaderRelease::ALL.into_iter().find(|r| {
                    r.rules()
                        .role(Role::Mainline)
                        .locations
                        .iter()
                        .any(|l| l.dir == dir && l.prefix == prefix)
                });
                assert!(
                    release.is_some(),
                    "{dir} with prefix {prefix} is no release's mainline location"
                );
            }
            Some(bpf_progs::Location::Platform) | None => {
                assert_eq!(sub_dir, None, "{name}: installs to /system/etc/bpf/")
            }
        }
        let has_btf = obj.bytes.windows(5).any(|w| w == b".BTF\0");
        assert_eq!(
            m.get("btf") == Some(&Bp::Bool(true)),
            has_btf,
            "{name}: btf vs the Cargo build"
        );
        let cflags = m.get("cflags").expect("cflags").strs();
        let iquote = cflags
            .iter()
            .find_map(|f| f.strip_prefix("-iquote "))
            .unwrap_or_else(|| panic!("{name}: no -iquote of the corpus headers"));
        assert!(iquote.ends_with("/bpf-progs/include"), "{iquote}");
        assert!(repo_path("bpf-progs/include/bpf_helpers.h").is_file());
        for f in ["-Wall", "-Wextra", "-Werror"] {
            assert!(cflags.iter().any(|c| c == f), "{name}: {f}");
        }
    }
    assert_eq!(
        seen.len(),
        modules.len(),
        "bpf modules without a corpus object"
    );
}

#[test]
fn android_bp_files_name_the_project_license() {
    for f in [
        "Android.bp",
        "loader/Android.bp",
        "init/Android.bp",
        "bpf-progs/Android.bp",
    ] {
        let bp = bp_file(f);
        let pkg = bp_module_of_type(&bp, "package");
        assert_eq!(
            pkg.get("default_applicable_licenses")
                .expect("default_applicable_licenses")
                .strs(),
            ["netbpfload_rs_license"],
            "{f}"
        );
    }
    let root = bp_file("Android.bp");
    let lic = bp_module(&root, "license", "netbpfload_rs_license");
    assert_eq!(
        lic.get("license_kinds").expect("kinds").strs(),
        ["SPDX-license-identifier-Apache-2.0"]
    );
    let cargo = repo_file("Cargo.toml");
    assert_eq!(
        toml_section(&cargo, "[workspace.package]").get("license"),
        Some(&"Apache-2.0".to_string())
    );
}

fn bp_module_of_type<'a>(bp: &'a [(String, Bp)], ty: &str) -> &'a Bp {
    bp.iter()
        .find(|(t, _)| t == ty)
        .map(|(_, p)| p)
        .unwrap_or_else(|| panic!("no {ty} module"))
}
