//! The init, systemd and SELinux files must agree with `paths.rs`, the one
//! home of paths and names: a location or binary added there without its
//! label or service line fails here.

use netbpfload::paths;
use netbpfload::release::Release;
use netbpfload::spec::Domain;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo_file(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Non-comment, non-blank lines, trimmed.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// `genfscon bpf <path> <label>` lines: path → label.
fn genfs() -> BTreeMap<String, String> {
    let text = repo_file("sepolicy/genfs_contexts");
    lines(&text)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 4, "bad genfscon line {l:?}");
            assert_eq!(&f[..2], ["genfscon", "bpf"], "{l:?}");
            (f[2].to_string(), f[3].to_string())
        })
        .collect()
}

fn label(ty: &str) -> String {
    format!("u:object_r:{ty}:s0")
}

/// The first te line starting with `prefix` and containing `needle`.
fn te_rule<'a>(te: &'a str, prefix: &str, needle: &str) -> &'a str {
    lines(te)
        .find(|l| l.starts_with(prefix) && l.contains(needle))
        .unwrap_or_else(|| panic!("no rule {prefix}…{needle} in bpfloader.te"))
}

/// The words inside the first `{ ... }` of a rule.
fn braced(rule: &str) -> BTreeSet<String> {
    let open = rule.find('{').expect("{");
    let close = rule.find('}').expect("}");
    rule[open + 1..close]
        .split_whitespace()
        .map(str::to_string)
        .collect()
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

fn set(words: &[&str]) -> BTreeSet<String> {
    words.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_created_bpffs_directory_has_a_genfscon_label() {
    let g = genfs();
    assert_eq!(g.get("/"), Some(&label("fs_bpf")));
    for release in Release::ALL {
        for sub in paths::created_subdirs(release.rules()) {
            assert!(
                g.contains_key(&format!("/{sub}")),
                "{}: bpffs directory {sub}/ created by the loaders has no genfscon line",
                release.name()
            );
        }
    }
}

#[test]
fn domain_directories_carry_their_selinux_context() {
    let g = genfs();
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
fn bpfloader_may_create_and_rename_pins_in_every_labelled_directory() {
    let te = repo_file("sepolicy/bpfloader.te");
    let labels: BTreeSet<String> = genfs()
        .values()
        .map(|l| l.split(':').nth(2).expect("type field").to_string())
        .collect();
    let dir_rule = te_rule(&te, "allow bpfloader { fs_bpf ", "}:dir ");
    let file_rule = te_rule(&te, "allow bpfloader { fs_bpf ", "}:file ");
    assert_eq!(braced(dir_rule), labels, "dir rule vs genfs_contexts");
    assert_eq!(braced(file_rule), labels, "file rule vs genfs_contexts");
    assert!(perms(dir_rule).is_superset(&set(&[
        "add_name",
        "create",
        "remove_name",
        "search",
        "setattr",
        "write"
    ])));
    assert!(perms(file_rule).is_superset(&set(&["create", "rename", "setattr", "read"])));
    let bpf = te_rule(&te, "allow bpfloader self:bpf", "");
    assert_eq!(
        perms(bpf),
        set(&[
            "map_create",
            "map_read",
            "map_write",
            "prog_load",
            "prog_run"
        ])
    );
    assert!(te.contains("set_prop(bpfloader, bpf_progs_loaded_prop)"));
}

#[test]
fn binaries_have_file_contexts_declared_in_the_policy() {
    let fc = repo_file("sepolicy/file_contexts");
    let te = repo_file("sepolicy/bpfloader.te");
    let map: BTreeMap<String, String> = lines(&fc)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 2, "bad file_contexts line {l:?}");
            (f[0].replace("\\.", "."), f[1].to_string())
        })
        .collect();
    for (path, ty) in [
        (paths::NETBPFLOAD_PATH, "bpfloader_exec"),
        (paths::PLATFORM_BPFLOADER_PATH, "bpfloader_platform_exec"),
    ] {
        assert_eq!(map.get(path), Some(&label(ty)), "file context of {path}");
        assert!(
            te.contains(&format!("type {ty}, ")),
            "{ty} not declared in bpfloader.te"
        );
    }
}

/// The `service` stanza of an .rc file: (name, argv, options).
fn rc_service(text: &str) -> (String, Vec<String>, Vec<Vec<String>>) {
    let mut it = lines(text).skip_while(|l| !l.starts_with("service "));
    let head: Vec<String> = it
        .next()
        .expect("no service line")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert!(head.len() >= 3, "service line needs a name and a path");
    let opts = it
        .take_while(|l| !l.starts_with("on ") && !l.starts_with("service "))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    (head[1].clone(), head[2..].to_vec(), opts)
}

fn opt<'a>(opts: &'a [Vec<String>], key: &str) -> Option<&'a [String]> {
    opts.iter()
        .find(|o| o.first().map(String::as_str) == Some(key))
        .map(|o| &o[1..])
}

fn rc_capabilities() -> BTreeSet<String> {
    let (_, _, opts) = rc_service(&repo_file("init/netbpfload.rc"));
    opt(&opts, "capabilities")
        .expect("capabilities")
        .iter()
        .cloned()
        .collect()
}

#[test]
fn rc_service_runs_our_binary_as_the_reference_declares() {
    let rc = repo_file("init/netbpfload.rc");
    let (name, argv, opts) = rc_service(&rc);
    assert_eq!(name, "bpfloader");
    assert_eq!(
        argv,
        [paths::NETBPFLOAD_PATH],
        "no arguments: the boot flow"
    );
    assert_eq!(opt(&opts, "user"), Some(&["root".to_string()][..]));
    assert_eq!(opt(&opts, "file").expect("file"), ["/dev/kmsg", "w"]);
    assert_eq!(
        opt(&opts, "rlimit").expect("rlimit"),
        ["memlock", "1073741824", "1073741824"]
    );
    assert_eq!(
        opt(&opts, "reboot_on_failure").expect("reboot_on_failure"),
        ["reboot,bpfloader-failed"]
    );
    assert!(opt(&opts, "oneshot").is_some());
    assert!(opt(&opts, "override").is_some());
    let groups: BTreeSet<String> = opt(&opts, "group")
        .expect("group")
        .iter()
        .cloned()
        .collect();
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
    // The trigger starts this very service.
    let trig: Vec<&str> = lines(&rc)
        .skip_while(|l| *l != "on load_bpf_programs")
        .take(2)
        .collect();
    assert_eq!(trig, ["on load_bpf_programs", "exec_start bpfloader"]);
}

#[test]
fn platform_stub_is_the_service_we_override() {
    let stub = repo_file("init/platform-netbpfload.rc");
    let (name, argv, opts) = rc_service(&stub);
    assert_eq!(
        name, "bpfloader",
        "must be the name netbpfload.rc overrides"
    );
    assert_eq!(argv, ["/system/bin/false"]);
    assert_eq!(
        opt(&opts, "reboot_on_failure").expect("reboot_on_failure"),
        ["reboot,netbpfload-missing"]
    );
    assert!(opt(&opts, "updatable").is_some());
    assert!(
        stub.contains(paths::PLATFORM_NETBPFLOAD_RC),
        "stub must say where it is installed"
    );
}

#[test]
fn capabilities_agree_across_rc_systemd_and_sepolicy() {
    let rc = rc_capabilities();
    let te = repo_file("sepolicy/bpfloader.te");
    let te_caps: BTreeSet<String> = perms(te_rule(&te, "allow bpfloader self:capability ", ""))
        .into_iter()
        .map(|c| c.to_uppercase())
        .collect();
    assert_eq!(te_caps, rc, "capability rule vs .rc");
    let te_caps2 = perms(te_rule(&te, "allow bpfloader self:capability2 ", ""));
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
    let (_, _, opts) = rc_service(&repo_file("init/netbpfload.rc"));
    assert_eq!(
        get("LimitMEMLOCK"),
        opt(&opts, "rlimit").expect("rlimit")[1]
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
