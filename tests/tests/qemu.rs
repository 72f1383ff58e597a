//! QEMU boot tier: Debian's kernels for three Android LTS branches (5.10,
//! 6.1, 6.12) on x86_64 and arm64 guests (TCG), each running the real chain
//! netbpfload -> bpfloader -> netbpfload done as `init/netbpfload.35rc`
//! declares the service (see `tests/qemu/init.sh`).
//!
//! Run: `scripts/fetch-kernels.sh`, then
//! `cargo test -p netbpfload-tests --test qemu -- --test-threads=1`
//! (root not needed; the tools listed in `tests/src/qemu.rs` must be
//! installed, else the tests fail saying so). `scripts/test.sh` runs the CI
//! subset; `scripts/test.sh --full-qemu-matrix` adds `--include-ignored`,
//! which runs the cells marked "full matrix" below too.
//!
//! Every expectation comes from the declarative model
//! (`netbpfload_tests::expected`: the corpus transcribed from the C sources,
//! the releases' rules from `docs/android-release-rules.md`), never from the
//! loader's output.

use netbpfload::release::Release;
use netbpfload_tests::expected::{
    self, lts_check, BuildType, Expected, Layout, LtsCheck, Outcome, PinKind, Platform, Role,
};
use netbpfload_tests::qemu::{
    release_version, Boot, BootOptions, Branch, Cell, GuestArch, Image, PinInfo, ProgLoad,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

const BPF: &str = "/sys/fs/bpf";

/// `ulimit -l` (KiB) of the service: `rlimit memlock 1073741824 …` in
/// `init/netbpfload.35rc`, which init.sh applies before starting it (5.10
/// charges maps to RLIMIT_MEMLOCK).
const MEMLOCK_KIB: &str = "1048576";

fn path(rel: &str) -> String {
    format!("{BPF}/{rel}")
}

/// What the model expects of a boot of `release` with `layout` on `b`'s
/// kernel (`ro.build.type=user` in `tests/qemu/build*.prop`; the mainline
/// loader runs as root, so with the release's own loader version).
fn model(b: &Boot, arch: GuestArch, release: Release, layout: &Layout) -> Expected {
    let (maj, min, sub) = release_version(&b.release);
    expected::expected(
        &Platform::new(
            release.into(),
            expected::kver(maj, min, sub),
            BuildType::User,
            arch.model_arch(),
        ),
        layout,
    )
}

/// API level of the property file the image carries for `release`.
fn api_level(release: Release) -> u32 {
    match release {
        Release::V => 35,
        Release::R25Q2 => 36,
    }
}

/// Every path under the bpffs root the guest printed, relative, without the
/// kernel's own `*.debug` files at the root (BPF_PRELOAD).
fn tree(b: &Boot) -> BTreeSet<String> {
    b.pins
        .keys()
        .filter_map(|p| p.strip_prefix(&format!("{BPF}/")))
        .filter(|p| !p.ends_with(".debug") || p.contains('/'))
        .map(str::to_string)
        .collect()
}

/// The exact tree: every directory and pin of the model with its mode and
/// owner, every pin with the type and attributes the kernel reports, and
/// nothing else (no gated-out pin, no `tmp_*` leftover).
fn assert_tree(b: &Boot, e: &Expected) {
    let got = tree(b);
    let want = e.tree();
    let missing: Vec<&String> = want.difference(&got).collect();
    let extra: Vec<&String> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "pin tree differs from the model: missing {missing:#?}, unexpected {extra:#?}\nloader log:\n{}",
        b.log.join("\n")
    );
    for d in &e.dirs {
        let p = b.pin(&path(d));
        assert_eq!(
            (p.kind.as_str(), p.mode, p.uid, p.gid),
            ("directory", expected::DIR_MODE, 0, 0),
            "{d}"
        );
    }
    for (rel, want) in &e.pins {
        let p = b.pin(&path(rel));
        assert_ne!(p.kind, "directory", "{rel}");
        assert_eq!(
            (p.mode, p.uid, p.gid),
            (want.mode, want.uid, want.gid),
            "{rel}: mode/owner {:o} {}:{}",
            p.mode,
            p.uid,
            p.gid
        );
        let info = b
            .info
            .get(&path(rel))
            .unwrap_or_else(|| panic!("{rel}: no INFO line"));
        match (want.kind, info) {
            (PinKind::Prog(t), PinInfo::Prog(got)) => assert_eq!(*got, t, "{rel}: prog type"),
            (
                PinKind::Map(m),
                PinInfo::Map {
                    map_type,
                    key_size,
                    value_size,
                    max_entries,
                    map_flags,
                    btf_id,
                },
            ) => {
                assert_eq!(
                    (*map_type, *key_size, *value_size, *max_entries, *map_flags),
                    (
                        m.map_type,
                        m.key_size,
                        m.value_size,
                        m.max_entries,
                        m.map_flags
                    ),
                    "{rel}: (type, key, value, max_entries, flags)"
                );
                assert_eq!(*btf_id != 0, want.btf, "{rel}: BTF id {btf_id}");
            }
            (want, got) => panic!("{rel}: expected {want:?}, the kernel says {got:?}"),
        }
    }
    for rel in &e.absent {
        assert!(!b.pins.contains_key(&path(rel)), "{rel} must not be pinned");
    }
}

/// Each placed object's outcome, as the loader logs it: a failed object by
/// name (`<file>: failed: <reason>`), objects after a failing location not
/// at all, and, when the boot went through, each location's summary line
/// (`<prefix>: <n> loaded[, <k> skipped (<files>)][, <f> failed (<files>)]`,
/// `/` for the bpffs root) with the number of objects loaded.
fn assert_outcomes(b: &Boot, e: &Expected, layout: &Layout) {
    let log = || b.log.join("\n");
    for (file, outcome) in &e.outcomes {
        match outcome {
            Outcome::Loaded => {}
            // Named in its location's summary, printed when the boot goes on.
            Outcome::Skipped => assert!(
                e.boot_failure.is_some() || b.logged(&[file, "skipped"]),
                "{file} skipped:\n{}",
                log()
            ),
            Outcome::Failed => assert!(b.logged(&[file, "failed"]), "{file} failed:\n{}", log()),
            Outcome::NotReached => assert!(
                !b.logged(&[&format!("/{file}")]),
                "{file} must not be attempted:\n{}",
                log()
            ),
        }
    }
    if e.boot_failure.is_some() {
        return;
    }
    for loc in layout.locations.iter().filter(|l| !l.objects.is_empty()) {
        let loaded = loc
            .objects
            .iter()
            .filter(|f| e.outcomes.get(*f) == Some(&Outcome::Loaded))
            .count();
        let shown = if loc.prefix.is_empty() {
            "/"
        } else {
            &loc.prefix
        };
        let summary = format!("netbpfload: {shown}: {loaded} loaded");
        assert!(
            b.log
                .iter()
                .any(|l| l.ends_with(&summary) || l.contains(&format!("{summary},"))),
            "no summary `{summary}`:\n{}",
            log()
        );
    }
}

/// The mainline loader started as `release`'s, on this boot's kernel, with
/// the release's loader version.
fn assert_started(b: &Boot, release: Release) {
    let ver = expected::Release::from(release).loader_version();
    assert!(
        b.logged(&[
            "netbpfload",
            "starting:",
            &format!("API level {}", api_level(release)),
            &format!("kernel {}", b.release),
            &format!("loader version {ver}")
        ]),
        "mainline start line:\n{}",
        b.log.join("\n")
    );
}

/// The whole chain ran: mainline loader (as the loader version and kernel
/// this boot has), the follow-up `bpfloader`, and `done`.
fn assert_chain(b: &Boot, release: Release) {
    assert_eq!(b.exit, 0, "chain exit status; log:\n{}", b.log.join("\n"));
    assert_started(b, release);
    assert!(b.logged(&["mainline eBPF objects loaded"]));
    assert!(b.logged(&[
        "bpfloader",
        "starting:",
        &format!("API level {}", api_level(release))
    ]));
    assert!(b.logged(&["bpfloader: platform eBPF objects loaded"]));
    assert!(b.logged(&["netbpfload done: bpf.progs_loaded=1"]));
    assert_eq!(b.progs_loaded, "1");
    // Sysctls written by the V mainline loader.
    assert_eq!(b.sysctls["kernel/unprivileged_bpf_disabled"], "0");
    assert_eq!(b.sysctls["net/core/bpf_jit_enable"], "1");
    assert_eq!(b.sysctls["net/core/bpf_jit_kallsyms"], "1");
    assert_eq!(b.memlock, MEMLOCK_KIB);
}

/// The V+ LTS check of the kernel as the loader reads `uname -r`: Debian's
/// bullseye and bookworm releases (`5.10.0-…`, `6.1.0-…`) carry sublevel 0,
/// below the branch minimum, so the loader warns; trixie's
/// (`6.12.117+deb13-…`) is fine on 2025 main, but 6.12 is not an LTS branch
/// of Android 15's table.
fn assert_lts_warning(b: &Boot, release: Release) {
    let v = release_version(&b.release);
    match lts_check(release.into(), v) {
        LtsCheck::Ok => assert!(
            !b.logged(&["LTS"]),
            "no LTS warning expected on {}:\n{}",
            b.release,
            b.log.join("\n")
        ),
        LtsCheck::BelowMinimum((a, c, d)) => assert!(
            b.logged(&["LTS", &format!("{a}.{c}.{d}")]),
            "a warning naming the minimum {a}.{c}.{d} expected on {}:\n{}",
            b.release,
            b.log.join("\n")
        ),
        LtsCheck::NotLts => assert!(b.logged(&["not an LTS kernel"])),
    }
}

/// The loader threads of one process that issued `BPF_PROG_LOAD` (the
/// kernel verifies a program in the calling thread), for the process with
/// the most of them.
fn verifying_threads(b: &Boot) -> BTreeSet<u32> {
    let mut by_process: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for l in b.prog_loads() {
        by_process.entry(l.tgid).or_default().insert(l.tid);
    }
    by_process
        .into_values()
        .max_by_key(BTreeSet::len)
        .unwrap_or_default()
}

/// Two `BPF_PROG_LOAD`s of different threads of one process whose
/// intervals overlap, if the trace caught one (timing-dependent: reported,
/// not asserted).
fn overlapping_prog_loads(b: &Boot) -> Option<(ProgLoad, ProgLoad)> {
    let loads = b.prog_loads();
    for (i, x) in loads.iter().enumerate() {
        for y in loads.iter().skip(i + 1) {
            if x.tgid == y.tgid && x.tid != y.tid && x.start < y.end && y.start < x.end {
                return Some((x.clone(), y.clone()));
            }
        }
    }
    None
}

/// Boots each cell once per test process (with 2 CPUs) and shares the
/// result between the tests that look at it.
fn cell_boot(cell: Cell) -> Arc<Boot> {
    static BOOTS: Mutex<BTreeMap<Cell, Arc<Boot>>> = Mutex::new(BTreeMap::new());
    if let Some(b) = BOOTS.lock().unwrap_or_else(|e| e.into_inner()).get(&cell) {
        return Arc::clone(b);
    }
    let b = Arc::new(Image::for_arch(cell.arch).boot_on(
        cell,
        &BootOptions {
            smp: 2,
            ..BootOptions::default()
        },
    ));
    BOOTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(cell, Arc::clone(&b));
    b
}

/// One cell: the whole chain, and exactly the kernel- and arch-dependent
/// pin tree the model computes for it, with 2 CPUs and programs verified
/// on more than one thread.
fn check_cell(cell: Cell) {
    let kernel = cell.kernel();
    let b = cell_boot(cell);
    assert_eq!(b.release, kernel.release, "guest kernel");
    assert_eq!(b.machine, cell.arch.uname_machine());
    assert_eq!(b.cpus, 2, "-smp 2");
    assert_chain(&b, Release::V);
    let layout = Layout::current();
    let e = model(&b, cell.arch, Release::V, &layout);
    assert_eq!(e.boot_failure, None);
    assert_tree(&b, &e);
    assert_outcomes(&b, &e, &layout);
    assert_lts_warning(&b, Release::V);
    assert!(
        b.console.contains("INIT trace on"),
        "{}: no syscall tracing in the guest",
        cell.name()
    );
    // Parallel verification: with 2 CPUs the loader hands independent
    // objects to a second thread, so programs are loaded by at least two
    // threads of one loader process.
    let threads = verifying_threads(&b);
    assert!(
        threads.len() >= 2,
        "{}: programs verified by threads {threads:?} only; BPF_PROG_LOADs:\n{:#?}",
        cell.name(),
        b.prog_loads()
    );
    let overlap = overlapping_prog_loads(&b).map(|(x, y)| {
        format!(
            "tid {} on cpu {} [{:.6}, {:.6}] and tid {} on cpu {} [{:.6}, {:.6}]",
            x.tid, x.cpu, x.start, x.end, y.tid, y.cpu, y.start, y.end
        )
    });
    let chain = b.chain_seconds().expect("chain timestamps");
    eprintln!(
        "MATRIX {} pass: kernel {} ({}), {} pins, boot {:.1} s, chain {:.2} s, \
         {} verifying threads, overlapping BPF_PROG_LOADs: {}",
        cell.name(),
        b.release,
        kernel.package,
        e.pins.len(),
        b.elapsed.as_secs_f32(),
        chain,
        threads.len(),
        overlap.as_deref().unwrap_or("none caught")
    );
}

macro_rules! cells {
    ($($(#[$attr:meta])* $name:ident: $arch:ident $branch:ident;)*) => {$(
        #[test]
        $(#[$attr])*
        fn $name() {
            check_cell(Cell { arch: GuestArch::$arch, branch: Branch::$branch });
        }
    )*};
}

cells! {
    cell_x86_64_5_10: X86_64 V5_10;
    cell_x86_64_6_1: X86_64 V6_1;
    cell_x86_64_6_12: X86_64 V6_12;
    cell_arm64_5_10: Arm64 V5_10;
    cell_arm64_6_1: Arm64 V6_1;
    cell_arm64_6_12: Arm64 V6_12;
}

/// A gate, not a failure, moves pins between branches: gateMatrix.o loads
/// on 5.10 and on 6.12 (neither failed nor skipped), and `skfilter/since_6_12` (min_kver 6.12) is pinned
/// only on 6.12 while `skfilter/before_6_1` (max_kver 6.1) is pinned only on
/// 5.10; dscpPolicy's `set_dscp_ether` (min_kver 5.15) and gateMatrix's
/// maps likewise.
#[test]
fn kernel_gates_move_pins_between_5_10_and_6_12() {
    let old = cell_boot(Cell {
        arch: GuestArch::X86_64,
        branch: Branch::V5_10,
    });
    let new = cell_boot(Cell {
        arch: GuestArch::X86_64,
        branch: Branch::V6_12,
    });
    assert_eq!(release_version(&old.release).0, 5);
    assert_eq!(release_version(&new.release).1, 12);
    // Both objects loaded on both kernels: nothing of them is reported
    // (the loader names only objects that failed or were skipped), and
    // their ungated pins exist.
    for b in [&old, &new] {
        for obj in ["gateMatrix.o", "dscpPolicy.o"] {
            assert!(
                !b.logged(&[obj, "failed"]) && !b.logged(&[obj, "skipped"]),
                "{obj} on {}:\n{}",
                b.release,
                b.log.join("\n")
            );
        }
        assert!(b
            .pins
            .contains_key(&path("net_private/map_gateMatrix_clock_map")));
        assert!(b
            .pins
            .contains_key(&path("net_shared/map_dscpPolicy_ipv4_dscp_policies_map")));
    }
    let since_6_12 = path("net_private/prog_gateMatrix_skfilter_since_6_12");
    let before_6_1 = path("net_private/prog_gateMatrix_skfilter_before_6_1");
    let set_dscp = path("net_shared/prog_dscpPolicy_schedcls_set_dscp_ether");
    assert!(new.pins.contains_key(&since_6_12));
    assert!(!old.pins.contains_key(&since_6_12));
    assert!(old.pins.contains_key(&before_6_1));
    assert!(!new.pins.contains_key(&before_6_1));
    assert!(new.pins.contains_key(&set_dscp));
    assert!(!old.pins.contains_key(&set_dscp));
    // The 6.1 helper bpf_ktime_get_tai_ns is behind the same kind of gate:
    // one pin, two implementations, on both kernels.
    let clock = path("net_private/prog_gateMatrix_skfilter_clock");
    assert!(old.pins.contains_key(&clock) && new.pins.contains_key(&clock));
    // Maps move with their gates too.
    let since_6_1 = path("net_private/map_gateMatrix_since_6_1_map");
    assert!(new.pins.contains_key(&since_6_1) && !old.pins.contains_key(&since_6_1));
    let before_6_1_map = path("net_private/map_gateMatrix_before_6_1_map");
    assert!(old.pins.contains_key(&before_6_1_map) && !new.pins.contains_key(&before_6_1_map));
}

/// One CPU (Android 15): the loader verifies on a single thread, and leaves
/// the same exact tree.
fn check_one_cpu(cell: Cell) {
    let b = Image::for_arch(cell.arch).boot_on(cell, &BootOptions::default());
    assert_eq!(b.cpus, 1);
    assert_chain(&b, Release::V);
    let layout = Layout::current();
    let e = model(&b, cell.arch, Release::V, &layout);
    assert_tree(&b, &e);
    assert_outcomes(&b, &e, &layout);
    // The non-critical verifier reject is reported, by name, with a reason.
    assert!(
        b.logged(&["verifierReject.o", "failed"]),
        "{}",
        b.log.join("\n")
    );
    // One CPU, one verifying thread per process.
    let loads = b.prog_loads();
    assert!(!loads.is_empty(), "no BPF_PROG_LOAD traced");
    assert!(
        loads.iter().all(|l| l.tid == l.tgid),
        "only main threads load programs on one CPU: {loads:#?}"
    );
}

/// A critical object the verifier rejects, in net_shared/: status 2, the
/// diagnosis names it, and the tree stops after its location.
fn check_failing_critical(cell: Cell) {
    let img = Image::for_arch(cell.arch);
    let obj = bpf_progs::OBJECTS
        .iter()
        .find(|o| o.kind == bpf_progs::Kind::FailingCritical)
        .expect("the corpus has a FailingCritical object");
    assert!(obj.critical);
    // Into net_shared/, the fourth mainline location.
    img.write(
        &format!("{}{}", img.mainline_dir("net_shared/"), obj.file_name),
        obj.bytes,
        0o644,
    );
    // The reference waits 20 s; 1 s keeps the test fast.
    img.extra_args(&["--critical-delay-secs=1"]);
    let b = img.boot_on(cell, &BootOptions::default());

    assert_eq!(b.exit, 2, "log:\n{}", b.log.join("\n"));
    assert!(
        b.logged(&["CRITICAL FAILURE", obj.file_name]),
        "diagnosis must name {}:\n{}",
        obj.file_name,
        b.log.join("\n")
    );
    assert!(b.logged(&[
        "CRITICAL FAILURE",
        "critical: boot test: a critical object the verifier rejects"
    ]));
    // Earlier locations and the rest of net_shared/ loaded; nothing of the
    // failed object, of the later location or of the platform loader.
    let layout = Layout::current().place(Role::Mainline, "net_shared/", obj.file_name);
    let e = model(&b, cell.arch, Release::V, &layout);
    assert_eq!(e.boot_failure, Some((Role::Mainline, obj.file_name)));
    assert_tree(&b, &e);
    assert_outcomes(&b, &e, &layout);
    assert!(!b.logged(&["bpfloader", "starting"]));
    assert_eq!(b.progs_loaded, "unset");
}

/// A zero-filled and a truncated object are reported with a reason and
/// leave nothing; the boot goes on to the good corpus's exact tree.
fn check_corrupt_objects(cell: Cell) {
    let img = Image::for_arch(cell.arch);
    // Android 15 keeps the tethering objects in etc/bpf/ itself.
    img.write(
        &format!("{}zeroes.o", img.mainline_dir("tethering/")),
        &[0u8; 4096],
        0o644,
    );
    let netd = bpf_progs::object("netd.o").expect("netd.o in the corpus");
    let half = netd.bytes.get(..netd.bytes.len() / 2).expect("non-empty");
    img.write(
        &format!("{}truncated.o", img.mainline_dir("net_private/")),
        half,
        0o644,
    );
    let b = img.boot_on(cell, &BootOptions::default());

    assert_chain(&b, Release::V);
    for bad in ["zeroes.o", "truncated.o"] {
        let line = b
            .log
            .iter()
            .find(|l| l.contains(bad) && l.contains("failed"))
            .unwrap_or_else(|| panic!("{bad} not reported:\n{}", b.log.join("\n")));
        let reason = line.rsplit("failed").next().unwrap_or("");
        assert!(
            reason.trim_start_matches(':').trim().len() > 5,
            "{bad}: no reason given: {line}"
        );
    }
    let layout = Layout::current();
    let e = model(&b, cell.arch, Release::V, &layout);
    assert_tree(&b, &e);
    assert_outcomes(&b, &e, &layout);
}

/// A 2025 main device: maps typed with each object's `.BTF` on kernels
/// 5.10 and later, and any failure in a mainline location fails the boot. The
/// three BTF objects join net_private/, the last mainline location, where
/// verifierReject.o already fails: that location loads what it can (the
/// SK_STORAGE map exists only because the kernel took its BTF types), then
/// the boot stops (exit 2) before `mainline_done` and the platform loader.
fn check_btf_boot_25q2(cell: Cell) {
    let img = Image::new(cell.arch, Release::R25Q2);
    let names = ["skStorage.o", "btfMismatch.o", "btfCorrupt.o"];
    let mut layout = Layout::current();
    for name in names {
        let o = bpf_progs::object(name).expect("BTF object in the corpus");
        img.write(
            &format!("{}{name}", img.mainline_dir("net_private/")),
            o.bytes,
            0o644,
        );
        layout = layout.place(Role::Mainline, "net_private/", name);
    }
    // The reference waits 20 s after a failing location; 1 s keeps it fast.
    img.extra_args(&["--critical-delay-secs=1"]);
    let b = img.boot_on(cell, &BootOptions::default());

    assert_eq!(b.exit, 2, "log:\n{}", b.log.join("\n"));
    assert_started(&b, Release::R25Q2);
    let e = model(&b, cell.arch, Release::R25Q2, &layout);
    assert_eq!(e.boot_failure.map(|(role, _)| role), Some(Role::Mainline));
    assert_eq!(e.outcomes["skStorage.o"], Outcome::Loaded);
    assert_tree(&b, &e);
    assert_outcomes(&b, &e, &layout);
    // Each refused object is refused for its own reason.
    for o in bpf_progs::OBJECTS {
        if let bpf_progs::Kind::BtfRejected { reason } = o.kind {
            assert!(
                b.logged(&[o.file_name, reason]),
                "{}: reason not logged:\n{}",
                o.file_name,
                b.log.join("\n")
            );
        }
    }
    assert!(
        b.logged(&["CRITICAL FAILURE loading eBPF objects from"]),
        "{}",
        b.log.join("\n")
    );
    assert!(!b.logged(&["bpfloader", "starting"]));
    assert_eq!(b.progs_loaded, "unset");
    assert_lts_warning(&b, Release::R25Q2);
}

#[test]
fn btf_boot_creates_sk_storage_and_bad_btf_fails_alone() {
    check_btf_boot_25q2(Cell::DEFAULT);
}

#[test]
fn good_corpus_boot_runs_the_whole_chain() {
    check_one_cpu(Cell::DEFAULT);
}

#[test]
fn failing_critical_object_stops_the_boot_with_status_2() {
    check_failing_critical(Cell::DEFAULT);
}

#[test]
fn zero_filled_and_truncated_objects_do_not_stop_the_boot() {
    check_corrupt_objects(Cell::DEFAULT);
}

/// The single-cell tests on every other cell: the full matrix only
/// (`scripts/test.sh --full-qemu-matrix`).
macro_rules! full_matrix {
    ($($module:ident: $arch:ident $branch:ident;)*) => {$(
        mod $module {
            use super::*;
            const CELL: Cell = Cell { arch: GuestArch::$arch, branch: Branch::$branch };

            #[test]
            #[ignore = "full QEMU matrix: scripts/test.sh --full-qemu-matrix"]
            fn good_corpus_one_cpu() {
                check_one_cpu(CELL);
            }

            #[test]
            #[ignore = "full QEMU matrix: scripts/test.sh --full-qemu-matrix"]
            fn failing_critical_object() {
                check_failing_critical(CELL);
            }

            #[test]
            #[ignore = "full QEMU matrix: scripts/test.sh --full-qemu-matrix"]
            fn zero_filled_and_truncated_objects() {
                check_corrupt_objects(CELL);
            }

            #[test]
            #[ignore = "full QEMU matrix: scripts/test.sh --full-qemu-matrix"]
            fn btf_boot_25q2() {
                check_btf_boot_25q2(CELL);
            }
        }
    )*};
}

full_matrix! {
    full_x86_64_5_10: X86_64 V5_10;
    full_x86_64_6_12: X86_64 V6_12;
    full_arm64_5_10: Arm64 V5_10;
    full_arm64_6_1: Arm64 V6_1;
    full_arm64_6_12: Arm64 V6_12;
}
