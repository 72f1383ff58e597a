//! Root tier: the whole boot chain (netbpfload → bpfloader → netbpfload
//! done) on a staged root shaped as each release ships it — Android 15 with
//! the tethering objects in the APEX's `etc/bpf/` itself and the V platform
//! `netbpfload.rc`; 2025 main with every mainline location a subdirectory
//! of `etc/bpf/`, the Android 16 `netbpfload.rc` with its header line and
//! API level 36 — gives exactly the tree the release's rules imply on this
//! kernel: directories (`mainline_done`, `uprobestats/`, ...), every pin's
//! mode, owner and kernel attributes, maps typed with BTF where the release
//! types them, and where the boot stops.
//!
//! The expected trees come from `tests/src/expected.rs`, the corpus
//! transcribed from its C sources and each release's rules transcribed from
//! `docs/android-release-rules.md`, never from the loader's output or
//! tables.
//!
//! Run as root inside `unshare -m --propagation private`.

use netbpfload::release::Release;
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::Bpf;
use netbpfload_tests::bpffs::{self, PrivateBpffs};
use netbpfload_tests::expected::{self, Arch, BuildType, Expected, Layout, PinKind, Platform};
use netbpfload_tests::stage::{netbpfload_bin, BootRoot};
use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::path::Path;

/// The model's view of this machine, for `release` (a user build, as the
/// staged `build.prop` says).
fn platform(release: Release) -> Platform {
    let k = netbpfload_tests::cfg::kver();
    let (maj, min, sub) = (k.0 >> 24, (k.0 >> 16) & 0xff, k.0 & 0xffff);
    let arch = match std::env::consts::ARCH {
        "aarch64" => Arch::Aarch64,
        _ => Arch::X86_64,
    };
    Platform::new(
        release.into(),
        expected::kver(maj, min, sub),
        BuildType::User,
        arch,
    )
}

/// Every directory and pin under the bpffs root (relative paths), without
/// the kernel's preloaded `*.debug` files.
fn tree(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .expect("under")
                .to_string_lossy()
                .into_owned();
            if rel.ends_with(".debug") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            }
            out.insert(rel);
        }
    }
    out
}

fn assert_tree(fs: &PrivateBpffs, want: &Expected, log: &str) {
    let got = tree(fs.path());
    let want_tree = want.tree();
    let missing: Vec<&String> = want_tree.difference(&got).collect();
    let extra: Vec<&String> = got.difference(&want_tree).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "tree differs from the release's rules: missing {missing:#?}, unexpected {extra:#?}\n{log}"
    );
    for d in &want.dirs {
        let (mode, uid, gid) = bpffs::mode_owner(&fs.pin(d));
        assert_eq!((mode, uid, gid), (expected::DIR_MODE, 0, 0), "{d}");
    }
    for (rel, p) in &want.pins {
        let path = fs.pin(rel);
        assert_eq!(
            bpffs::mode_owner(&path),
            (p.mode, p.uid, p.gid),
            "{rel}: mode/owner"
        );
        let fd = bpffs::obj_get(&path, netbpfload::sys::BPF_F_RDONLY)
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
        match p.kind {
            PinKind::Map(m) => {
                let i = LinuxSys
                    .map_info(fd.as_fd())
                    .unwrap_or_else(|e| panic!("{rel}: not a map: {e}"));
                assert_eq!(
                    (
                        i.map_type,
                        i.key_size,
                        i.value_size,
                        i.max_entries,
                        i.map_flags
                    ),
                    (
                        m.map_type,
                        m.key_size,
                        m.value_size,
                        m.max_entries,
                        m.map_flags
                    ),
                    "{rel}: kernel attributes"
                );
                assert_eq!(i.btf_id != 0, p.btf, "{rel}: created with BTF");
            }
            PinKind::Prog(t) => {
                let i = LinuxSys
                    .prog_info(fd.as_fd())
                    .unwrap_or_else(|e| panic!("{rel}: not a program: {e}"));
                assert_eq!(i.prog_type, t, "{rel}: program type");
            }
        }
    }
}

fn boot_release(release: Release) {
    bpffs::require_private_root();
    let root = BootRoot::new(release, &netbpfload_bin(), true);
    let fs = PrivateBpffs::new();
    let (code, log) = root.boot(fs.path());
    let want = expected::expected(&platform(release), &Layout::current());
    assert!(want.pins.len() > 40, "{} pins expected", want.pins.len());
    assert_tree(&fs, &want, &log);
    match want.boot_failure {
        None => {
            assert_eq!(code, Some(0), "{log}");
            assert_eq!(root.progs_loaded().as_deref().map(str::trim), Some("1"));
            assert!(want.dirs.contains("netd_shared/mainline_done"));
        }
        Some((_, object)) => {
            // The mainline loader's critical-failure status; nothing later.
            assert_eq!(code, Some(2), "{object}: {log}");
            assert_eq!(root.progs_loaded(), None);
            assert!(
                log.lines()
                    .any(|l| l.contains("CRITICAL FAILURE") && l.contains(object)),
                "{object} not named in the failure block:\n{log}"
            );
        }
    }
}

/// Android 15: tethering objects in `etc/bpf/`, loader version 46 (netd's V
/// programs load), no BTF-typed map, only critical objects fail the boot
/// (verifierReject.o does not), `mainline_done` after the mainline
/// locations, the platform loader's `uprobestats/` and `vendor/`.
#[test]
fn android_15_root_gives_the_tree_its_rules_imply() {
    boot_release(Release::V);
}

/// 2025 main: every mainline location a subdirectory of `etc/bpf/`, loader
/// version 47, maps typed with their object's BTF on this kernel, and any
/// failure in a mainline location fails the boot: net_private/ (with
/// verifierReject.o) loads what it can, then the chain stops with status 2,
/// before `mainline_done` and the platform loader.
#[test]
fn main_2025_root_gives_the_tree_its_rules_imply() {
    boot_release(Release::R25Q2);
}
