//! Root tier: what a Linux board user does with the real binary. `show` and
//! `unload`, a rebuilt object (kept with a warning; `load --replace`), where
//! the logs go (stderr, the kernel log's record budget, the journal), global
//! options written anywhere, pin directories, the JSON contract, the install
//! script and the systemd unit's syscall filter.
//!
//! Run as root in a private mount namespace:
//! `unshare -m --propagation private cargo test -p netbpfload-tests --test board`.

use netbpfload::paths::{self, Location};
use netbpfload::release::Release;
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::{Bpf, MapCreateAttr};
use netbpfload_tests::bpffs::{self, PrivateBpffs};
use netbpfload_tests::cli::{
    boot_cmd, kmsg_records, make_bootable, netbpfload_bin, output, stage, text, workspace,
};
use netbpfload_tests::schema::parse_valid;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The corpus location of `prefix` in the staging root `s`.
fn location(s: &Path, prefix: &str) -> Location {
    if prefix.is_empty() {
        return Location::from_rule(s, &Release::V.rules().platform.locations[0]);
    }
    let l = bpf_progs::Location::Mainline {
        prefix: bpf_progs::MAINLINE_PREFIXES
            .iter()
            .copied()
            .find(|p| *p == prefix)
            .unwrap_or_else(|| panic!("no corpus location {prefix}")),
    };
    Location::new(s.join(l.dir()), l.bpffs_prefix())
}

/// `netbpfload load` of `loc` into `bpffs`, without the run lock.
fn load(bin: &Path, loc: &Location, bpffs: &Path) -> Command {
    let mut c = Command::new(bin);
    c.arg("load")
        .arg("--location")
        .arg(&loc.dir)
        .args(["--prefix", &loc.prefix, "--run-lock=none"])
        .arg(format!(
            "--role={}",
            if loc.prefix.is_empty() {
                "platform"
            } else {
                "mainline"
            }
        ))
        .arg("--bpffs")
        .arg(bpffs);
    c
}

/// `load -j`, validated against the schema.
fn load_json(bin: &Path, loc: &Location, bpffs: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let o = output(load(bin, loc, bpffs).arg("-j").args(extra));
    assert!(
        !String::from_utf8_lossy(&o.stdout).trim_end().contains('\n'),
        "-j is one line: {}",
        text(&o)
    );
    (o.status.code(), parse_valid(&o.stdout))
}

/// Every pin a `load` document reports: pin → (kind, id, action, tag).
fn load_pins(doc: &Value) -> BTreeMap<String, (&'static str, u64, String, Value)> {
    let mut m = BTreeMap::new();
    for o in doc["location"]["objects"].as_array().into_iter().flatten() {
        for (kind, list) in [("map", "maps"), ("prog", "programs")] {
            for p in o["outcome"][list].as_array().into_iter().flatten() {
                m.insert(
                    p["pin"].as_str().expect("pin").to_string(),
                    (
                        kind,
                        p["id"].as_u64().expect("id"),
                        p["action"].as_str().expect("action").to_string(),
                        p["tag"].clone(),
                    ),
                );
            }
        }
    }
    m
}

/// Every path under the bpffs with its mode and owner (minus the kernel's
/// `*.debug` files).
fn tree(root: &Path) -> BTreeMap<String, (u32, u32, u32)> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
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
            if p.is_dir() {
                dirs.push(p.clone());
            }
            out.insert(rel, bpffs::mode_owner(&p));
        }
    }
    out
}

/// Pins a map the loader knows nothing of at `rel`.
fn foreign_map(fs: &PrivateBpffs, rel: &str) {
    let fd = LinuxSys
        .map_create(&MapCreateAttr {
            map_type: 2,
            key_size: 4,
            value_size: 4,
            max_entries: 1,
            name: "foreign".into(),
            ..Default::default()
        })
        .expect("map create");
    LinuxSys.obj_pin(fd.as_fd(), &fs.pin(rel)).expect("pin");
}

fn globals(s: &Path, fs: &PrivateBpffs) -> Vec<String> {
    vec![
        format!("--root={}", s.display()),
        format!("--bpffs={}", fs.path().display()),
    ]
}

#[test]
fn show_names_every_pin_what_it_holds_and_the_object_that_declares_it() {
    let bin = netbpfload_bin();
    let s = stage();
    let fs = PrivateBpffs::new();
    let mut loaded = BTreeMap::new();
    for prefix in ["net_private/", "tethering/"] {
        let (_, doc) = load_json(&bin, &location(s.path(), prefix), fs.path(), &[]);
        loaded.extend(load_pins(&doc));
    }
    assert!(loaded.len() > 4, "{loaded:#?}");
    foreign_map(&fs, "tethering/foreign");
    let before = tree(fs.path());

    let o = output(
        Command::new(&bin)
            .args(globals(s.path(), &fs))
            .args(["show", "-p"]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).lines().count() > 10,
        "-p is pretty-printed"
    );
    let doc = parse_valid(&o.stdout);
    let pins: BTreeMap<&str, &Value> = doc["pins"]
        .as_array()
        .expect("pins")
        .iter()
        .map(|p| (p["pin"].as_str().expect("pin"), p))
        .collect();
    for (rel, (kind, id, _, tag)) in &loaded {
        let p = pins
            .get(rel.as_str())
            .unwrap_or_else(|| panic!("{rel} not shown: {doc:#}"));
        assert_eq!(p["kind"], *kind, "{p:#}");
        assert_eq!(p[*kind]["id"].as_u64(), Some(*id), "{p:#}");
        if *kind == "prog" {
            assert_eq!(&p["prog"]["tag"], tag, "{p:#}");
        }
        let (mode, uid, gid) = bpffs::mode_owner(&fs.pin(rel));
        assert_eq!(p["mode"], format!("{mode:04o}"), "{p:#}");
        assert_eq!(
            (p["uid"].as_u64(), p["gid"].as_u64()),
            (Some(uid.into()), Some(gid.into()))
        );
        let by = p["declared_by"].as_array().expect("declared_by");
        assert!(!by.is_empty(), "{rel} declared by nobody: {p:#}");
        let obj = paths::object_name(Path::new(by[0]["file"].as_str().expect("file")));
        assert!(rel.contains(&format!("_{obj}_")), "{rel} vs {p:#}");
    }
    let f = pins.get("tethering/foreign").expect("foreign pin shown");
    assert_eq!(f["kind"], "map");
    assert_eq!(f["map"]["name"], "foreign");
    assert_eq!(f["map"]["type"], "array");
    assert_eq!(f["declared_by"], serde_json::json!([]));

    // A prefix shows that part of the tree only; text output says the same.
    let o = output(Command::new(&bin).args(globals(s.path(), &fs)).args([
        "show",
        "--prefix",
        "net_private",
        "-j",
    ]));
    let doc = parse_valid(&o.stdout);
    let shown: BTreeSet<&str> = doc["pins"]
        .as_array()
        .expect("pins")
        .iter()
        .filter_map(|p| p["pin"].as_str())
        .collect();
    let want: BTreeSet<&str> = loaded
        .keys()
        .map(String::as_str)
        .filter(|p| p.starts_with("net_private/"))
        .collect();
    assert_eq!(shown, want);
    let o = output(Command::new(&bin).args(globals(s.path(), &fs)).arg("show"));
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.contains("tethering/foreign  0600 0:0\n    map "), "{t}");
    assert!(
        t.contains("declared by no object of the configured locations"),
        "{t}"
    );
    assert!(t.contains("pktCount.o: program skfilter/count"), "{t}");
    assert_eq!(tree(fs.path()), before, "show changes nothing");
}

#[test]
fn unload_removes_only_the_pins_the_location_declares() {
    let bin = netbpfload_bin();
    let s = stage();
    let fs = PrivateBpffs::new();
    let (_, private) = load_json(&bin, &location(s.path(), "net_private/"), fs.path(), &[]);
    let (_, teth) = load_json(&bin, &location(s.path(), "tethering/"), fs.path(), &[]);
    let private = load_pins(&private);
    let teth = load_pins(&teth);
    foreign_map(&fs, "net_private/foreign");

    let unload = |extra: &[&str]| {
        let o = output(
            Command::new(&bin)
                .args(globals(s.path(), &fs))
                .args(["unload", "--run-lock=none", "-j"])
                .args(extra),
        );
        (o.status.code(), parse_valid(&o.stdout), text(&o))
    };
    let (code, doc, t) = unload(&["--prefix", "net_private"]);
    assert_eq!(code, Some(0), "{t}");
    let removed: BTreeSet<&str> = doc["removed"]
        .as_array()
        .expect("removed")
        .iter()
        .filter_map(|p| p["pin"].as_str())
        .collect();
    assert_eq!(
        removed,
        private.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        "{t}"
    );
    for rel in private.keys() {
        assert!(!fs.pin(rel).exists(), "{rel} still there");
    }
    let left: BTreeMap<&str, &str> = doc["left"]
        .as_array()
        .expect("left")
        .iter()
        .map(|l| {
            (
                l["pin"].as_str().expect("pin"),
                l["reason"].as_str().expect("reason"),
            )
        })
        .collect();
    assert_eq!(
        left.get("net_private/foreign"),
        Some(&"not declared by the objects of this location"),
        "{t}"
    );
    assert!(fs.pin("net_private/foreign").exists());
    assert!(fs.pin("net_private").is_dir(), "pin directories are kept");
    for rel in teth.keys() {
        assert!(fs.pin(rel).exists(), "{rel} of another location removed");
    }
    // Again: nothing left to remove, not an error.
    let (code, doc, t) = unload(&["--prefix", "net_private/"]);
    assert_eq!(code, Some(0), "{t}");
    assert_eq!(doc["removed"], serde_json::json!([]), "{t}");

    // The same objects in another directory, unloaded with the prefix of a
    // configured location that declares the same pins: those pins are that
    // location's too, and stay.
    let copy = tempfile::tempdir().expect("copy");
    let teth_dir = location(s.path(), "tethering/").dir;
    for e in std::fs::read_dir(&teth_dir).expect("read").flatten() {
        if e.path().extension().is_some_and(|x| x == "o") {
            std::fs::copy(e.path(), copy.path().join(e.file_name())).expect("copy");
        }
    }
    let (code, doc, t) = unload(&[
        "--prefix",
        "tethering/",
        "--location",
        copy.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(code, Some(0), "{t}");
    assert_eq!(doc["removed"], serde_json::json!([]), "{t}");
    for rel in teth.keys() {
        assert!(fs.pin(rel).exists(), "{rel}");
        let reason = doc["left"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["pin"] == rel.as_str())
            .map(|l| l["reason"].as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("{rel} not reported as left: {t}"));
        assert!(reason.starts_with("also declared by "), "{reason}");
    }

    // Something other than the declared kind at a declared path is refused
    // and left; the exit status says so.
    let (_, private) = load_json(&bin, &location(s.path(), "net_private/"), fs.path(), &[]);
    let prog = load_pins(&private)
        .into_iter()
        .find(|(_, v)| v.0 == "prog")
        .map(|(k, _)| k)
        .expect("a program pin");
    std::fs::remove_file(fs.pin(&prog)).expect("unpin");
    foreign_map(&fs, &prog);
    let (code, doc, t) = unload(&["--prefix", "net_private/"]);
    assert_eq!(code, Some(1), "{t}");
    assert!(fs.pin(&prog).exists(), "the foreign map at {prog} is left");
    let reason = doc["left"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["pin"] == prog.as_str())
        .and_then(|l| l["reason"].as_str())
        .unwrap_or_default();
    assert!(reason.starts_with("refused: "), "{t}");
    // Text output: what was removed and what was left.
    let o = output(Command::new(&bin).args(globals(s.path(), &fs)).args([
        "unload",
        "--run-lock=none",
        "--prefix",
        "net_private/",
    ]));
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.contains(&format!("left    {prog}: refused: ")), "{t}");
    assert!(t.contains("(pin directories are kept)"), "{t}");

    let o = output(Command::new(&bin).args(globals(s.path(), &fs)).args([
        "unload",
        "--run-lock=none",
        "--prefix",
        "nowhere/",
    ]));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no configured location has prefix"),
        "{}",
        text(&o)
    );
}

/// `pktCount.o` with its counter step changed from 1 to 2: the same maps,
/// a program with another tag.
fn rebuilt_pkt_count() -> Vec<u8> {
    let mut bytes = bpf_progs::object("pktCount.o")
        .expect("corpus")
        .bytes
        .to_vec();
    // `r1 = 1; lock *(u64 *)(r0 + 0) += r1` (bpf-progs/src/progs/pktCount.c).
    let old: [u8; 16] = [0xb7, 0x01, 0, 0, 1, 0, 0, 0, 0xdb, 0x10, 0, 0, 0, 0, 0, 0];
    let at: Vec<usize> = bytes
        .windows(old.len())
        .enumerate()
        .filter(|(_, w)| *w == old)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "the counter step is one place in pktCount.o");
    bytes[at[0] + 4] = 2;
    bytes
}

#[test]
fn a_rebuilt_object_is_kept_with_a_warning_and_replace_repins_it_keeping_the_maps() {
    let bin = netbpfload_bin();
    let fs = PrivateBpffs::new();
    let dir = tempfile::tempdir().expect("dir");
    let obj = dir.path().join("pktCount.o");
    std::fs::write(&obj, bpf_progs::object("pktCount.o").expect("corpus").bytes).expect("write");
    let loc = Location::new(dir.path(), "counting/");
    let prog = "counting/prog_pktCount_skfilter_count";
    let map = "counting/map_pktCount_packet_count_map";

    let (code, first) = load_json(&bin, &loc, fs.path(), &[]);
    assert_eq!(code, Some(0), "{first:#}");
    let first = load_pins(&first);
    let (_, old_id, action, old_tag) = first[prog].clone();
    assert_eq!(action, "created");
    let map_id = first[map].1;
    // Data in the map, which a replace must keep.
    let mfd = bpffs::obj_get(&fs.pin(map), 0).expect("map");
    LinuxSys
        .map_update(mfd.as_fd(), &0u32.to_ne_bytes(), &40u64.to_ne_bytes(), 0)
        .expect("update");

    std::fs::write(&obj, rebuilt_pkt_count()).expect("rebuild");
    let o = output(&mut load(&bin, &loc, fs.path()));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(&format!(
            "prog {prog} (id {old_id}, tag {}, reused, CHANGED",
            old_tag.as_str().expect("tag")
        )),
        "{t}"
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!(
            "WARN: {}: program skfilter/count: {prog} holds program id {old_id} tag {}, not the object's (tag ",
            obj.display(),
            old_tag.as_str().expect("tag")
        )) && stderr.contains("`netbpfload load --replace` does"),
        "{t}"
    );
    let (_, kept) = load_json(&bin, &loc, fs.path(), &[]);
    let kept = load_pins(&kept);
    assert_eq!(
        kept[prog],
        ("prog", old_id, "kept_changed".to_string(), old_tag.clone())
    );
    assert_eq!(kept[map].2, "reused");
    assert_eq!(
        u64::from(bpffs::prog_info(&fs.pin(prog)).id),
        old_id,
        "kept"
    );

    let (code, replaced) = load_json(&bin, &loc, fs.path(), &["--replace"]);
    assert_eq!(code, Some(0), "{replaced:#}");
    assert_eq!(replaced["on_change"], "replace");
    let replaced = load_pins(&replaced);
    let (_, new_id, action, new_tag) = replaced[prog].clone();
    assert_eq!(action, "replaced");
    assert_ne!(new_id, old_id);
    assert_ne!(new_tag, old_tag);
    let now = bpffs::prog_info(&fs.pin(prog));
    assert_eq!(now.id as u64, new_id, "the pin holds the new program");
    assert_eq!(
        Value::from(netbpfload::progtag::hex(&now.tag)),
        new_tag,
        "the reported tag is the kernel's"
    );
    assert_eq!(
        bpffs::mode_owner(&fs.pin(prog)),
        (0o440, 0, 1000),
        "declared mode and owner"
    );
    assert_eq!(
        (replaced[map].1, replaced[map].2.as_str()),
        (map_id, "reused")
    );
    let mut value = [0u8; 8];
    LinuxSys
        .map_lookup(mfd.as_fd(), &0u32.to_ne_bytes(), &mut value)
        .expect("lookup");
    assert_eq!(u64::from_ne_bytes(value), 40, "the map kept its data");
    assert!(
        tree(fs.path())
            .keys()
            .all(|p| !p.contains(paths::TMP_PIN_PREFIX)),
        "no temporary pin left"
    );
    // The object is now what is pinned: plainly reused.
    let (_, again) = load_json(&bin, &loc, fs.path(), &[]);
    assert!(
        load_pins(&again).values().all(|v| v.2 == "reused"),
        "{again:#}"
    );
}

#[test]
fn the_boot_flow_never_replaces_a_changed_program() {
    let bin = netbpfload_bin();
    let s = stage();
    make_bootable(s.path(), &bin);
    let fs = PrivateBpffs::new();
    let o = output(&mut boot_cmd(&bin, s.path(), fs.path()));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let prog = fs.pin("net_private/prog_pktCount_skfilter_count");
    let before = bpffs::prog_info(&prog);
    let obj = location(s.path(), "net_private/").dir.join("pktCount.o");
    std::fs::write(&obj, rebuilt_pkt_count()).expect("rebuild");
    std::fs::write(s.path().join("kmsg"), "").expect("kmsg");
    let o = output(&mut boot_cmd(&bin, s.path(), fs.path()));
    let log = std::fs::read_to_string(s.path().join("kmsg")).expect("kmsg");
    assert_eq!(o.status.code(), Some(0), "{log}");
    let after = bpffs::prog_info(&prog);
    assert_eq!((after.id, after.tag), (before.id, before.tag), "kept");
    let warning = kmsg_records(&log)
        .into_iter()
        .find(|r| r.contains("skfilter/count") && r.contains("not the object's"))
        .unwrap_or_else(|| panic!("no warning about the changed program:\n{log}"));
    assert!(warning.starts_with("<4>netbpfload: "), "{warning}");
    assert!(
        warning.contains("kept (the boot flow never replaces"),
        "{warning}"
    );
}

#[test]
fn load_logs_to_stderr_when_piped_and_prints_the_verifier_log_once() {
    let bin = netbpfload_bin();
    let s = stage();
    let fs = PrivateBpffs::new();
    // Output captured: stdout and stderr are pipes, not a terminal.
    let o = output(&mut load(
        &bin,
        &location(s.path(), "net_private/"),
        fs.path(),
    ));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("netbpfload: ERROR: ")
            && stderr.contains("verifierReject.o: failed: program skfilter/reject: BPF_PROG_LOAD: Permission denied"),
        "{t}"
    );
    assert!(
        stderr.contains("netbpfload: INFO: created pin directory "),
        "{t}"
    );
    // The verifier's verdict: once, in the summary.
    let verdict = "R0 invalid mem access";
    assert_eq!(stdout.matches(verdict).count(), 1, "{t}");
    assert_eq!(stderr.matches(verdict).count(), 0, "{t}");
}

#[test]
fn the_boot_flow_writes_few_kernel_log_records_with_the_reason_first() {
    let bin = netbpfload_bin();
    let s = stage();
    make_bootable(s.path(), &bin);
    let fs = PrivateBpffs::new();
    let o = output(&mut boot_cmd(&bin, s.path(), fs.path()));
    let log = std::fs::read_to_string(s.path().join("kmsg")).expect("kmsg");
    assert_eq!(o.status.code(), Some(0), "{log}");
    let recs = kmsg_records(&log);
    for r in &recs {
        assert!(r.len() < 976, "record of {} bytes: {r}", r.len());
        assert!(
            r.lines().skip(1).all(|l| l.starts_with("netbpfload: ")),
            "every line of a record is tagged: {r}"
        );
    }
    // The failing object: its failure is one message, at most
    // MAX_RECORDS_PER_MESSAGE records, with the reason on the first line;
    // besides, the location's summary names it.
    let about: Vec<&String> = recs
        .iter()
        .filter(|r| r.contains("verifierReject.o"))
        .collect();
    let failure: Vec<&&String> = about.iter().filter(|r| r.starts_with("<3>")).collect();
    assert_eq!(failure.len(), 1, "{about:#?}");
    let first_line = failure[0].lines().next().unwrap_or_default();
    assert!(
        first_line.contains(
            "verifierReject.o: failed: program skfilter/reject: BPF_PROG_LOAD: Permission denied"
        ),
        "{first_line}"
    );
    assert!(
        about.len() <= netbpfload::logging::MAX_RECORDS_PER_MESSAGE + 1,
        "{about:#?}"
    );
    assert_eq!(log.matches("verifier log (tail):").count(), 1, "{log}");
    assert_eq!(log.matches("R0 invalid mem access").count(), 1, "{log}");
    // The kernel drops a writer's records beyond 10 per 5 s: each process
    // of the chain (one kernel-log file each) writes its errors within its
    // first 10 records, so they survive the default rate limit.
    let mut per_process: Vec<Vec<&String>> = vec![Vec::new()];
    for r in &recs {
        if let Some(p) = per_process.last_mut() {
            p.push(r);
        }
        // The next record is the executed loader's.
        if r.contains("netbpfload: executing ") {
            per_process.push(Vec::new());
        }
    }
    assert_eq!(per_process.len(), 3, "netbpfload, bpfloader, done:\n{log}");
    for p in &per_process {
        for (i, r) in p.iter().enumerate() {
            if r.starts_with("<3>") {
                assert!(i < 10, "error record #{i} of its process: {r}\n{log}");
            }
        }
    }
    assert!(recs.len() <= 24, "{} records:\n{log}", recs.len());
}

/// Runs `cmd` in a mount namespace of its own where `/dev/kmsg` is the file
/// `kmsg` (so a default `/dev/kmsg` never reaches the host's kernel log),
/// with stderr to the file `stderr`.
fn with_fake_dev_kmsg(cmd: &Command, kmsg: &Path, stderr: &Path, env: &[(&str, String)]) -> i32 {
    let mut argv = vec![cmd.get_program().to_string_lossy().into_owned()];
    argv.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    let quoted: Vec<String> = argv
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let script = format!(
        "mount --bind '{}' /dev/kmsg && exec {} 2>'{}'",
        kmsg.display(),
        quoted.join(" "),
        stderr.display()
    );
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c", &script]);
    for (k, v) in env {
        c.env(k, v);
    }
    c.status().expect("unshare").code().unwrap_or(-1)
}

#[test]
fn under_systemd_the_boot_flow_logs_to_the_journal_with_priorities_only() {
    let bin = netbpfload_bin();
    let s = stage();
    make_bootable(s.path(), &bin);
    let fs = PrivateBpffs::new();
    let logs = tempfile::tempdir().expect("logs");
    let kmsg = logs.path().join("kmsg");
    let stderr = logs.path().join("stderr");
    // The boot flow without --kmsg: its default /dev/kmsg is `kmsg` here.
    let mut cmd = boot_cmd(&bin, s.path(), fs.path());
    let args: Vec<_> = cmd
        .get_args()
        .filter(|a| !a.to_string_lossy().starts_with("--kmsg"))
        .map(|a| a.to_os_string())
        .collect();
    cmd = Command::new(&bin);
    cmd.args(args);

    // Started by systemd: JOURNAL_STREAM names stderr.
    std::fs::write(&kmsg, "").expect("kmsg");
    std::fs::write(&stderr, "").expect("stderr");
    let m = std::fs::metadata(&stderr).expect("stat");
    let journal = format!("{}:{}", m.dev(), m.ino());
    let code = with_fake_dev_kmsg(&cmd, &kmsg, &stderr, &[("JOURNAL_STREAM", journal)]);
    let err = std::fs::read_to_string(&stderr).expect("stderr");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(&kmsg).expect("kmsg"),
        "",
        "nothing to /dev/kmsg"
    );
    assert!(err.lines().count() > 5, "{err}");
    for l in err.lines() {
        let prio = l
            .strip_prefix('<')
            .and_then(|r| r.split_once('>'))
            .map(|(n, _)| n);
        assert!(
            matches!(prio, Some("3" | "4" | "6" | "7")),
            "every line has its sd-daemon priority: {l:?}\n{err}"
        );
    }
    assert!(
        err.lines()
            .any(|l| l.starts_with("<3>") && l.contains("verifierReject.o: failed")),
        "{err}"
    );
    assert!(
        err.contains("<6>netbpfload done: bpf.progs_loaded=1"),
        "{err}"
    );

    // Not started by systemd (JOURNAL_STREAM names another file): the
    // kernel log, and stderr as plain lines.
    std::fs::write(&kmsg, "").expect("kmsg");
    std::fs::write(&stderr, "").expect("stderr");
    let other = logs.path().join("other");
    std::fs::write(&other, "").expect("other");
    let m = std::fs::metadata(&other).expect("stat");
    let code = with_fake_dev_kmsg(
        &cmd,
        &kmsg,
        &stderr,
        &[("JOURNAL_STREAM", format!("{}:{}", m.dev(), m.ino()))],
    );
    let err = std::fs::read_to_string(&stderr).expect("stderr");
    let k = std::fs::read_to_string(&kmsg).expect("kmsg");
    assert_eq!(code, 0, "{err}");
    assert!(k.starts_with("<6>netbpfload: "), "{k}");
    assert!(err.contains("netbpfload: ERROR: "), "{err}");
    assert!(!err.lines().any(|l| l.starts_with('<')), "{err}");
}

#[test]
fn global_options_are_honoured_before_and_after_the_command() {
    let bin = netbpfload_bin();
    let s = stage();
    let loc = location(s.path(), "net_private/");
    let obj = loc.dir.join("pktCount.o");
    let bpffs_of = |doc: &Value| doc["bpffs"].as_str().expect("bpffs").to_string();
    for before in [true, false] {
        let fs = PrivateBpffs::new();
        let place = |cmd: &str, global: &[String], rest: &[String]| {
            let mut c = Command::new(&bin);
            if before {
                c.args(global).arg(cmd).args(rest);
            } else {
                c.arg(cmd).args(rest).args(global);
            }
            let o = output(&mut c);
            (o.status.code(), parse_valid(&o.stdout), text(&o))
        };
        let root = format!("--root={}", s.path().display());
        let b = format!("--bpffs={}", fs.path().display());
        let (code, doc, t) = place(
            "load",
            &[b.clone(), "--release=25q2".into(), "--run-lock=none".into()],
            &[
                "--location".into(),
                loc.dir.display().to_string(),
                "--prefix=net_private/".into(),
                "-j".into(),
            ],
        );
        assert_eq!(bpffs_of(&doc), fs.path().display().to_string(), "{t}");
        assert_eq!(doc["release"], "25q2", "{t}");
        // verifierReject.o fails, and under 25Q2 every failure is fatal.
        assert_eq!(code, Some(2), "{t}");
        let (code, doc, t) = place(
            "load",
            &[b.clone(), "--run-lock=none".into()],
            &[
                "--location".into(),
                loc.dir.display().to_string(),
                "--prefix=net_private/".into(),
                "-j".into(),
            ],
        );
        assert_eq!(code, Some(1), "{t}");
        assert_eq!(doc["release"], "v", "{t}");
        assert!(
            fs.pin("net_private/prog_pktCount_skfilter_count").exists(),
            "{t}"
        );
        let (code, doc, t) = place(
            "inspect",
            &["--release=25q2".into(), "--api-level=36".into()],
            &["-j".into(), obj.display().to_string()],
        );
        assert_eq!(code, Some(0), "{t}");
        assert_eq!(doc["release"], "25q2", "{t}");
        let (code, doc, t) = place("show", &[root.clone(), b.clone()], &["-j".into()]);
        assert_eq!(code, Some(0), "{t}");
        assert_eq!(bpffs_of(&doc), fs.path().display().to_string(), "{t}");
        assert!(
            doc["pins"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["declared_by"][0]["object"] == "pktCount"),
            "--root was honoured: {t}"
        );
        let (code, doc, t) = place(
            "unload",
            &[root.clone(), b.clone(), "--run-lock=none".into()],
            &["--prefix=net_private/".into(), "-j".into()],
        );
        assert_eq!(code, Some(0), "{t}");
        assert_eq!(bpffs_of(&doc), fs.path().display().to_string(), "{t}");
        assert!(
            !fs.pin("net_private/prog_pktCount_skfilter_count").exists(),
            "{t}"
        );
    }
    // An option a command does not use is refused, wherever it is written.
    for (cmd, args) in [
        ("show", vec![]),
        ("inspect", vec![obj.display().to_string()]),
        ("unload", vec!["--prefix=x/".to_string()]),
        (
            "load",
            vec!["--location=/x".to_string(), "--prefix=x/".to_string()],
        ),
    ] {
        for before in [true, false] {
            let mut c = Command::new(&bin);
            if before {
                c.args(["--proc-sys", "/x", cmd]).args(&args);
            } else {
                c.arg(cmd).args(&args).args(["--proc-sys", "/x"]);
            }
            let o = output(&mut c);
            assert_eq!(o.status.code(), Some(64), "{cmd}: {}", text(&o));
            assert!(
                String::from_utf8_lossy(&o.stderr)
                    .contains(&format!("--proc-sys has no effect on `netbpfload {cmd}`")),
                "{}",
                text(&o)
            );
        }
    }
}

#[test]
fn load_creates_the_pin_directories_it_needs_and_nothing_when_it_fails_early() {
    let bin = netbpfload_bin();
    let s = stage();
    let fs = PrivateBpffs::new();
    let mut loc = location(s.path(), "net_private/");
    loc.prefix = "fresh/sub/".into();
    let (code, doc) = load_json(&bin, &loc, fs.path(), &[]);
    assert_eq!(code, Some(1), "verifierReject.o fails: {doc:#}");
    for d in ["fresh", "fresh/sub"] {
        assert!(fs.pin(d).is_dir(), "{d}");
        assert_eq!(bpffs::mode_owner(&fs.pin(d)).0, paths::PIN_DIR_MODE, "{d}");
    }
    assert!(fs.pin("fresh/sub/prog_pktCount_skfilter_count").exists());

    let before = tree(fs.path());
    let missing = Location::new("/nonexistent/netbpfload/location", "other/");
    let o = output(&mut load(&bin, &missing, fs.path()));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("/nonexistent/netbpfload/location"),
        "names the location: {}",
        text(&o)
    );
    assert_eq!(tree(fs.path()), before, "nothing created");
}

#[test]
fn inspect_json_follows_the_schema_for_every_corpus_object() {
    let bin = netbpfload_bin();
    let s = stage();
    let files: Vec<PathBuf> = bpf_progs::MAINLINE_PREFIXES
        .iter()
        .map(|p| location(s.path(), p).dir)
        .chain(std::iter::once(location(s.path(), "").dir))
        .flat_map(|d| {
            std::fs::read_dir(d)
                .expect("read")
                .flatten()
                .map(|e| e.path())
        })
        .filter(|p| p.extension().is_some_and(|x| x == "o"))
        .collect();
    assert!(files.len() >= 8, "{files:?}");
    for (release, api) in [("v", "35"), ("25q2", "36")] {
        let o = output(
            Command::new(&bin)
                .args(["inspect", "-p", "--release", release, "--api-level", api])
                .args(&files),
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let doc = parse_valid(&o.stdout);
        assert_eq!(doc["objects"].as_array().map(Vec::len), Some(files.len()));
        let outcomes: BTreeSet<&str> = doc["objects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["plan"]["outcome"].as_str())
            .collect();
        assert!(outcomes.contains("load"), "{outcomes:?}");
    }
    // A file that is not an object: reported, on stderr and in the document.
    let bad = s.path().join("bad.o");
    std::fs::write(&bad, b"not an ELF").expect("write");
    let o = output(
        Command::new(&bin)
            .args(["inspect", "-j"])
            .arg(&bad)
            .arg(&files[0]),
    );
    assert_eq!(o.status.code(), Some(1));
    let doc = parse_valid(&o.stdout);
    assert_eq!(doc["errors"][0]["file"], bad.display().to_string());
}

#[test]
fn install_board_script_installs_a_tree_the_chain_runs_from() {
    let bin = netbpfload_bin();
    let dest = tempfile::tempdir().expect("destdir");
    let objects = stage();
    let o = output(
        Command::new(workspace().join("scripts/install-board.sh"))
            .arg(format!("--destdir={}", dest.path().display()))
            .arg(format!("--binary={}", bin.display()))
            .arg(format!("--objects={}", objects.path().display())),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let d = dest.path();
    let tree = d.join("usr/lib/netbpfload");
    let unit = d.join("usr/lib/systemd/system/netbpfload.service");
    assert_eq!(
        std::fs::read(&unit).expect("unit"),
        std::fs::read(workspace().join("init/netbpfload.service")).expect("repo unit")
    );
    assert!(d.join("usr/sbin/netbpfload").is_file());
    assert_eq!(
        std::fs::metadata(d.join("usr/sbin/netbpfload"))
            .expect("bin")
            .mode()
            & 0o7777,
        0o755
    );
    // Every location of both releases, both roles, is there (mode 0755).
    for release in Release::ALL {
        let r = release.rules();
        for rules in [&r.mainline, &r.platform] {
            for l in paths::locations(&tree, rules) {
                let m = std::fs::metadata(&l.dir)
                    .unwrap_or_else(|e| panic!("{release:?}: {}: {e}", l.dir.display()));
                assert!(m.is_dir());
                assert_eq!(m.mode() & 0o7777, 0o755, "{}", l.dir.display());
            }
        }
    }
    for (link, target) in [
        (paths::PLATFORM_BPFLOADER_PATH, paths::LINUX_NETBPFLOAD_PATH),
        (paths::NETBPFLOAD_PATH, paths::LINUX_NETBPFLOAD_PATH),
    ] {
        let l = tree.join(link.trim_start_matches('/'));
        assert_eq!(std::fs::read_link(&l).expect("link"), Path::new(target));
    }
    assert!(tree
        .join(paths::PLATFORM_NETBPFLOAD_RC.trim_start_matches('/'))
        .is_file());
    let prop =
        std::fs::read_to_string(d.join(paths::DEFAULT_PROPERTY_FILE.trim_start_matches('/')))
            .expect("build.prop");
    assert!(prop.contains("ro.build.version.sdk=35"), "{prop}");
    let pkt = tree.join("apex/com.android.tethering/etc/bpf/net_private/pktCount.o");
    assert_eq!(
        std::fs::metadata(&pkt).expect("object").mode() & 0o7777,
        0o644
    );
    // A second run keeps a build.prop the board's owner edited.
    std::fs::write(
        d.join("etc/netbpfload/build.prop"),
        "ro.build.version.sdk=36\n",
    )
    .expect("edit");
    let o = output(
        Command::new(workspace().join("scripts/install-board.sh"))
            .env("DESTDIR", d)
            .arg(format!("--binary={}", bin.display())),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(d.join("etc/netbpfload/build.prop")).expect("prop"),
        "ro.build.version.sdk=36\n"
    );
    std::fs::write(d.join("etc/netbpfload/build.prop"), prop).expect("restore");

    // The chain runs from the installed tree as the unit runs it (its links
    // point at /usr/sbin/netbpfload of the board: here the DESTDIR's, and
    // the follow-up loader is that binary run as `bpfloader`).
    let fs = PrivateBpffs::new();
    let staged = d.join("stage");
    make_bootable(&staged, &bin);
    let installed_bin = d.join("usr/sbin/netbpfload");
    let bpfloader = staged.join("bpfloader");
    std::os::unix::fs::symlink(&installed_bin, &bpfloader).expect("bpfloader link");
    let o = output(
        Command::new(&installed_bin)
            .arg(format!("--root={}", tree.display()))
            .arg(format!(
                "--property-file={}",
                d.join("etc/netbpfload/build.prop").display()
            ))
            .arg(format!(
                "--runtime-prop-dir={}",
                d.join("run/netbpfload/properties").display()
            ))
            .arg(format!("--followup-loader={}", bpfloader.display()))
            .arg(format!("--done-loader={}", installed_bin.display()))
            .arg(format!("--bpffs={}", fs.path().display()))
            .arg(format!("--proc-sys={}", staged.join("proc-sys").display()))
            .arg(format!("--kmsg={}", staged.join("kmsg").display()))
            .args(["--run-lock=none", "--critical-delay-secs=0"]),
    );
    let log = std::fs::read_to_string(staged.join("kmsg")).expect("kmsg");
    assert_eq!(o.status.code(), Some(0), "{log}");
    assert_eq!(
        std::fs::read_to_string(d.join("run/netbpfload/properties/bpf.progs_loaded"))
            .expect("bpf.progs_loaded"),
        "1\n",
        "{log}"
    );
    assert!(
        fs.pin("net_private/prog_pktCount_skfilter_count").exists(),
        "{log}"
    );
}

/// The system calls of a `systemd-analyze syscall-filter` group, its nested
/// groups expanded.
fn syscall_group(group: &str, seen: &mut BTreeSet<String>, out: &mut BTreeSet<String>) {
    if !seen.insert(group.to_string()) {
        return;
    }
    let o = output(Command::new("systemd-analyze").args(["syscall-filter", "--no-pager", group]));
    assert!(o.status.success(), "{}", text(&o));
    // The first line names the group; then a comment, then one name a line.
    for l in String::from_utf8_lossy(&o.stdout).lines().skip(1) {
        let w = l.trim();
        if w.is_empty() || w.starts_with('#') || w.contains(' ') {
            continue;
        }
        if w.starts_with('@') {
            syscall_group(w, seen, out);
        } else {
            out.insert(w.to_string());
        }
    }
}

/// The syscalls the unit's `SystemCallFilter=` allows, expanded by
/// `systemd-analyze syscall-filter`.
fn unit_allowed_syscalls() -> BTreeSet<String> {
    let unit = std::fs::read_to_string(workspace().join("init/netbpfload.service")).expect("unit");
    let filter: Vec<String> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("SystemCallFilter="))
        .flat_map(|v| v.split_whitespace().map(str::to_string))
        .collect();
    assert!(!filter.is_empty(), "the unit has a SystemCallFilter=");
    let mut allowed = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for item in filter {
        assert!(!item.starts_with('~'), "allow lists only: {item}");
        if item.starts_with('@') {
            syscall_group(&item, &mut seen, &mut allowed);
        } else {
            allowed.insert(item);
        }
    }
    allowed
}

#[test]
fn the_units_syscall_filter_allows_every_call_of_the_boot_chain() {
    let allowed = unit_allowed_syscalls();
    for must in ["bpf", "openat", "execve", "renameat2", "flock"] {
        assert!(allowed.contains(must), "{must} not in {allowed:?}");
    }
    let bin = netbpfload_bin();
    let s = stage();
    make_bootable(s.path(), &bin);
    let fs = PrivateBpffs::new();
    let trace = s.path().join("strace.out");
    // As the unit runs it: with the board's run lock (in a directory the
    // loader creates), which boot_cmd leaves out.
    let boot = boot_cmd(&bin, s.path(), fs.path());
    std::fs::create_dir_all(s.path().join("run")).expect("run");
    let lock = format!(
        "--run-lock={}",
        s.path().join("run/netbpfload/lock").display()
    );
    let o = output(
        Command::new("strace")
            .args(["-f", "-qq", "-c", "-U", "name", "-o"])
            .arg(&trace)
            .arg(boot.get_program())
            .args(boot.get_args().filter(|a| *a != "--run-lock=none"))
            .arg(&lock),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let summary = std::fs::read_to_string(&trace).expect("strace summary");
    let used: BTreeSet<String> = summary
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("syscall") && !l.starts_with('-') && *l != "total"
        })
        .map(str::to_string)
        .collect();
    for call in ["bpf", "execve", "flock", "renameat2"] {
        assert!(used.contains(call), "{call} not traced: {summary}");
    }
    let refused: Vec<&String> = used.iter().filter(|c| !allowed.contains(*c)).collect();
    assert!(
        refused.is_empty(),
        "the boot chain calls {refused:?}, which SystemCallFilter= refuses (EPERM)"
    );
}
