//! Root tier: the boot chain of an Android 15 device whose `net_private/`
//! location holds, beside the corpus, one object of a hostile class (the
//! generators of `hostile/`, one boot per class, each at 1 MiB or the
//! class's minimum size).
//!
//! Every boot must end as the corpus alone ends (same exit status,
//! `bpf.progs_loaded` set, every good object's pins with their modes and
//! owners); a class the parser refuses adds nothing to the tree and is
//! named in the log with its reason; a class that parses may add only pins
//! of its own object. Each boot's wall time is printed (`--nocapture`); the
//! benchmark is where time is measured, this only shows it is bounded.
//!
//! Run as root inside `unshare -m --propagation private`.

use netbpfload::release::Release;
use netbpfload_tests::bpffs::{self, PrivateBpffs};
use netbpfload_tests::stage::{netbpfload_bin, BootRoot};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Instant;

/// `path relative to the bpffs → "mode uid:gid"` of every entry.
fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).expect("lstat");
            if m.is_dir() {
                stack.push(p.clone());
            }
            let rel = p
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            out.insert(
                rel,
                format!("{:o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid()),
            );
        }
    }
    out
}

const SIZE: usize = 1 << 20;

#[test]
fn every_hostile_class_beside_the_corpus_leaves_the_good_objects_loaded() {
    bpffs::require_private_root();
    let bin = netbpfload_bin();

    // The corpus alone.
    let base_root = BootRoot::new(Release::V, &bin, true);
    let fs = PrivateBpffs::new();
    let start = Instant::now();
    let (base_code, base_log) = base_root.boot(fs.path());
    eprintln!("corpus alone: {:?}", start.elapsed());
    assert_eq!(base_code, Some(0), "{base_log}");
    let base = tree(fs.path());
    assert!(base.len() > 30, "{base:#?}");
    drop(fs);

    let mut slowest = (String::new(), 0.0f64);
    for class in hostile::CLASSES {
        let root = BootRoot::new(Release::V, &bin, true);
        let file = root
            .at("/apex/com.android.tethering/etc/bpf/net_private")
            .join(class.file_name);
        let bytes = class.generate(SIZE);
        std::fs::write(&file, &bytes).expect("write hostile object");
        let fs = PrivateBpffs::new();
        let start = Instant::now();
        let (code, log) = root.boot(fs.path());
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "{:<28} {:>8} bytes  {secs:.3} s  exit {code:?}",
            class.name,
            bytes.len()
        );
        if secs > slowest.1 {
            slowest = (class.name.to_string(), secs);
        }
        let ctx = format!("{}: {}", class.name, class.attack);
        assert_eq!(code, base_code, "{ctx}\n{log}");
        assert_eq!(
            root.progs_loaded().as_deref().map(str::trim),
            Some("1"),
            "{ctx}\n{log}"
        );
        let got = tree(fs.path());
        for (path, meta) in &base {
            assert_eq!(got.get(path), Some(meta), "{ctx}: {path}\n{log}");
        }
        let extra: Vec<&String> = got.keys().filter(|p| !base.contains_key(*p)).collect();
        match class.expect {
            hostile::Expect::Err(kind) => {
                assert!(extra.is_empty(), "{ctx}: refused, yet pinned {extra:?}");
                let shown = netbpfload::logging::shown(&file);
                assert!(
                    log.lines()
                        .any(|l| l.contains(&shown) && l.contains("failed")),
                    "{ctx} ({kind}): not reported\n{log}"
                );
            }
            hostile::Expect::Ok => {
                if class.name == "slow-verify" {
                    // Every program would pass; the object's budget for all
                    // its verifications (30 s by default) stops it long
                    // before its 4096 programs (about 7 minutes here).
                    let shown = netbpfload::logging::shown(&file);
                    let line = log
                        .lines()
                        .find(|l| l.contains(&shown) && l.contains("failed"))
                        .unwrap_or_else(|| panic!("{ctx}: not reported\n{log}"));
                    assert!(
                        line.contains("verifications already took")
                            && line.contains("of its 30000 ms budget for all verifications"),
                        "{ctx}: {line}"
                    );
                    assert!(extra.is_empty(), "{ctx}: failed, yet pinned {extra:?}");
                }
                let obj = netbpfload::paths::object_name(&file);
                for p in &extra {
                    let name = p.rsplit('/').next().unwrap_or(p);
                    assert!(
                        name.starts_with(&format!("map_{obj}_"))
                            || name.starts_with(&format!("prog_{obj}_")),
                        "{ctx}: pinned {p}, not a pin of its own object"
                    );
                }
            }
        }
    }
    eprintln!("slowest: {} ({:.3} s)", slowest.0, slowest.1);
}
