//! The boot flow against the in-memory kernel, per release. Expectations
//! follow `docs/android-release-rules.md` §10–§11.

use super::*;
use crate::sys::fake::{FakeSys, Node};
use crate::sys::{Credentials, Files, Op, Process};
use std::path::Path;

const UNPRIV: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";
const JIT: &str = "/proc/sys/net/core/bpf_jit_enable";
const KALLSYMS: &str = "/proc/sys/net/core/bpf_jit_kallsyms";
/// Android 15 keeps the tethering objects directly in the APEX's etc/bpf.
const V_TETHERING: &str = "/apex/com.android.tethering/etc/bpf";
/// 2025 main moved them to a subdirectory.
const Q_TETHERING: &str = "/apex/com.android.tethering/etc/bpf/tethering";
const NET_PRIVATE: &str = "/apex/com.android.tethering/etc/bpf/net_private";
const HEADER_25Q2: &str =
    "# 2025 2 36 0 0 # 25q2 sdk/api level 36.0\nservice bpfloader /system/bin/false\n";

const V_USER: &str = "ro.build.version.sdk=35\nro.build.version.codename=REL\nro.build.type=user\n";
const Q_USER: &str = "ro.build.version.sdk=36\nro.build.version.codename=REL\nro.build.type=user\n";
const U_USER: &str = "ro.build.version.sdk=34\nro.build.version.codename=REL\nro.build.type=user\n";

/// A device on an LTS kernel: the platform netbpfload.rc (with the 25Q2
/// header on API 36), a property file, the sysctls at their kernel
/// defaults, bpffs mounted, the release's location directories.
fn device(props: &str) -> FakeSys {
    let sys = FakeSys::new();
    sys.set_uname("6.1.57-android15", "x86_64");
    let q = props.contains("sdk=36");
    sys.add_file(
        paths::PLATFORM_NETBPFLOAD_RC,
        if q {
            HEADER_25Q2
        } else {
            "service bpfloader /system/bin/false\n"
        },
    );
    sys.add_file(paths::DEFAULT_PROPERTY_FILE, props);
    sys.add_file(UNPRIV, "2\n");
    sys.add_file(JIT, "0\n");
    sys.add_file(KALLSYMS, "0\n");
    sys.mount_bpffs(paths::DEFAULT_BPFFS_ROOT);
    let rel = if q { Release::R25Q2 } else { Release::V };
    for l in rel
        .rules()
        .mainline
        .locations
        .iter()
        .chain(rel.rules().platform.locations)
    {
        sys.add_dir(l.dir);
    }
    sys
}

fn cfg() -> BootConfig {
    let mut c = BootConfig::with_root(PathBuf::from("/"));
    c.critical_delay = Duration::ZERO;
    c.run_lock = None;
    c
}

fn file(sys: &FakeSys, path: &str) -> String {
    match sys.node(path) {
        Some(Node::File(_, d)) => String::from_utf8_lossy(&d).into_owned(),
        other => panic!("{path}: {other:?}"),
    }
}

fn dir_mode(sys: &FakeSys, path: &str) -> Option<u32> {
    match sys.node(path) {
        Some(Node::Dir(m)) => Some(m.mode),
        _ => None,
    }
}

fn has_call(sys: &FakeSys, prefix: &str) -> bool {
    sys.calls().iter().any(|c| c.starts_with(prefix))
}

fn pins_under(sys: &FakeSys, dir: &str) -> Vec<PathBuf> {
    sys.pins()
        .into_iter()
        .map(|(p, ..)| p)
        .filter(|p| p.starts_with(dir))
        .collect()
}

/// Installs a corpus object into the fake tree.
fn install(sys: &FakeSys, dir: &str, name: &str) -> &'static bpf_progs::CorpusObject {
    let obj = bpf_progs::object(name).unwrap_or_else(|| panic!("corpus lacks {name}"));
    sys.add_file(format!("{dir}/{name}"), obj.bytes);
    obj
}

fn no_lock_no_unlink(sys: &FakeSys) {
    let bad: Vec<String> = sys
        .calls()
        .into_iter()
        .filter(|c| c.starts_with(Op::Unlink.name()) || c.starts_with(Op::Lock.name()))
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn v_mainline_writes_sysctls_makes_dirs_loads_then_execs_bpfloader() {
    let sys = device(V_USER);
    install(&sys, V_TETHERING, "pktCount.o");
    let code = run_mainline(&sys, &cfg());
    // The fake cannot replace the process: exec "fails" after being asked.
    assert_eq!(code, EXIT_FAILURE);
    assert!(
        has_call(&sys, "execve /system/bin/bpfloader /system/bin/bpfloader"),
        "{:#?}",
        sys.calls()
    );
    assert_eq!(file(&sys, UNPRIV), "0\n");
    assert_eq!(file(&sys, JIT), "1\n");
    assert_eq!(file(&sys, KALLSYMS), "1\n");
    for sub in [
        "tethering",
        "netd_shared",
        "netd_readonly",
        "net_shared",
        "net_private",
        "loader",
        "netd_shared/mainline_done",
    ] {
        assert_eq!(
            dir_mode(&sys, &format!("/sys/fs/bpf/{sub}")),
            Some(0o1777),
            "{sub}"
        );
    }
    // Android 15 reads the tethering objects from etc/bpf itself.
    assert!(
        !pins_under(&sys, "/sys/fs/bpf/tethering").is_empty(),
        "{:#?}",
        sys.pins()
    );
    // Sanity map after the locations, mainline_done after it, exec last.
    let calls = sys.calls();
    let update = calls
        .iter()
        .position(|c| c.starts_with("BPF_MAP_UPDATE_ELEM"));
    let done = calls.iter().position(|c| c.contains("mainline_done"));
    let exec = calls.iter().position(|c| c.starts_with("execve"));
    assert!(update < done && done < exec, "{calls:#?}");
    no_lock_no_unlink(&sys);
}

#[test]
fn not_root_loads_but_leaves_the_rest_to_the_platform() {
    let sys = device(U_USER);
    sys.set_credentials(Credentials {
        pid: 7,
        euid: 1000,
        egid: 1000,
        groups: vec![],
        cap_effective: u64::MAX >> 23,
    });
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_OK);
    assert!(!has_call(&sys, "execve"));
    assert_eq!(file(&sys, UNPRIV), "2\n", "only root writes it, only on V+");
    assert_eq!(file(&sys, JIT), "1\n", "U+");
    assert_eq!(
        dir_mode(&sys, "/sys/fs/bpf/netd_shared/mainline_done"),
        Some(0o1777)
    );
    // Root on U (QPR3) hands over like V.
    let sys = device(U_USER);
    run_mainline(&sys, &cfg());
    assert!(has_call(&sys, "execve /system/bin/bpfloader"));
}

#[test]
fn exactly_one_platform_rc_is_required() {
    let none = device(V_USER);
    none.unlink(Path::new(paths::PLATFORM_NETBPFLOAD_RC))
        .expect("unlink");
    assert_eq!(run_mainline(&none, &cfg()), EXIT_FAILURE);
    let both = device(V_USER);
    both.add_file(paths::PLATFORM_BPFLOADER_RC, "");
    assert_eq!(run_mainline(&both, &cfg()), EXIT_FAILURE);
    for sys in [none, both] {
        assert_eq!(file(&sys, JIT), "0\n", "nothing written");
        assert_eq!(dir_mode(&sys, "/sys/fs/bpf/tethering"), None);
    }
}

#[test]
fn refused_platforms_exit_1_before_touching_anything() {
    for props in [
        // API level below T.
        "ro.build.version.sdk=32\nro.build.version.codename=REL\nro.build.type=user",
        // Bad build type.
        "ro.build.version.sdk=35\nro.build.version.codename=REL\nro.build.type=debug",
        // SDK missing on a REL build.
        "ro.build.version.codename=REL\nro.build.type=user",
    ] {
        let sys = device(props);
        assert_eq!(run_mainline(&sys, &cfg()), EXIT_FAILURE, "{props}");
        assert_eq!(file(&sys, JIT), "0\n", "{props}");
        assert!(!has_call(&sys, "mkdir"), "{props}");
    }
    // 25Q2 refuses kernels below 5.4 ...
    let sys = device(Q_USER);
    sys.set_uname("4.19.236", "aarch64");
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_FAILURE);
    assert!(!has_call(&sys, Op::WriteFile.name()));
    // ... Android 15 only warns below 4.19.
    let sys = device(V_USER);
    sys.set_uname("4.14.336", "aarch64");
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_FAILURE, "the fake exec");
    assert!(has_call(&sys, "execve"));
    // Missing property file.
    let sys = device(V_USER);
    sys.unlink(Path::new(paths::DEFAULT_PROPERTY_FILE))
        .expect("unlink");
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_FAILURE);
}

#[test]
fn the_25q2_header_line_is_required_and_exact() {
    let sys = device(Q_USER);
    run_mainline(&sys, &cfg());
    assert!(has_call(&sys, "execve"), "{:#?}", sys.calls());
    for bad in [
        "service bpfloader /system/bin/false\n",
        "# 2025 3 36 0 0 #\n",
        "# 2025 2 36 0 #\n",
    ] {
        let sys = device(Q_USER);
        sys.add_file(paths::PLATFORM_NETBPFLOAD_RC, bad);
        assert_eq!(run_mainline(&sys, &cfg()), EXIT_FAILURE, "{bad:?}");
        assert!(!has_call(&sys, "mkdir"), "{bad:?}");
    }
    assert_eq!(rc_header(HEADER_25Q2), Some([2025, 2, 36, 0, 0]));
    assert_eq!(rc_header("# 2025 2 36 0 #"), None);
    // --release 25q2 on an API 35 platform needs the header too.
    let sys = device(V_USER);
    let mut c = cfg();
    c.overrides.release = Some(Release::R25Q2);
    assert_eq!(run_mainline(&sys, &c), EXIT_FAILURE);
    assert!(!has_call(&sys, "mkdir"));
}

#[test]
fn bpffs_must_be_a_writable_bpf_filesystem() {
    let sys = device(V_USER);
    let mut c = cfg();
    c.bpffs_root = PathBuf::from("/proc/sys");
    assert_eq!(run_mainline(&sys, &c), EXIT_FAILURE);
    let sys = device(V_USER);
    sys.set_read_only(paths::DEFAULT_BPFFS_ROOT);
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_FAILURE);
    assert_eq!(dir_mode(&sys, "/sys/fs/bpf/tethering"), None);
}

#[test]
fn sysctl_failures_fatal_or_not_per_kernel() {
    let sys = device(V_USER);
    sys.fail_op(Op::WriteFile, JIT, libc::EINVAL);
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_FAILURE);
    assert!(!has_call(&sys, "mkdir"));

    // unprivileged_bpf_disabled is fatal on 5.13+ ...
    let sys = device(V_USER);
    sys.fail_op(Op::WriteFile, UNPRIV, libc::EPERM);
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_FAILURE);
    assert!(!has_call(&sys, "execve"));
    // ... but only logged below.
    let sys = device(V_USER);
    sys.set_uname("5.10.199", "aarch64");
    sys.fail_op(Op::WriteFile, UNPRIV, libc::EPERM);
    run_mainline(&sys, &cfg());
    assert!(has_call(&sys, "execve"), "{:#?}", sys.calls());
}

#[test]
fn a_pin_directory_name_taken_by_a_file_fails() {
    let sys = device(V_USER);
    sys.add_file("/sys/fs/bpf/loader", "");
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_FAILURE);
    assert!(!has_call(&sys, "execve"));
}

#[test]
fn failed_sanity_check_exits_1() {
    let sys = device(V_USER);
    sys.fail_map_create("", libc::EPERM);
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_FAILURE);
    assert!(!has_call(&sys, "execve"));
    assert_eq!(
        dir_mode(&sys, "/sys/fs/bpf/netd_shared/mainline_done"),
        None
    );
}

/// Fails every program of `obj` (the verifier refuses them).
fn reject_programs(sys: &FakeSys, obj: &bpf_progs::CorpusObject) {
    let spec = crate::parse::parse_object(Path::new(obj.file_name), obj.bytes)
        .expect("corpus object parses");
    for p in &spec.programs {
        sys.fail_prog_load(&p.kernel_name, libc::EACCES, "R0 !read_ok");
    }
}

#[test]
fn critical_failure_finishes_its_location_then_exits_2() {
    let sys = device(V_USER);
    let offload = install(&sys, V_TETHERING, "offload@mainline.o");
    assert!(offload.critical, "offload is critical in the corpus");
    install(&sys, V_TETHERING, "pktCount.o");
    install(&sys, NET_PRIVATE, "pktCount.o");
    reject_programs(&sys, offload);
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_CRITICAL);
    let teth = pins_under(&sys, "/sys/fs/bpf/tethering");
    assert!(
        teth.iter()
            .any(|p| p.to_string_lossy().contains("pktCount")),
        "the rest of the location is still loaded: {teth:#?}"
    );
    assert!(
        !teth.iter().any(|p| p.to_string_lossy().contains("offload")),
        "nothing of the failed object is pinned"
    );
    assert_eq!(
        pins_under(&sys, "/sys/fs/bpf/net_private"),
        Vec::<PathBuf>::new()
    );
    assert!(!has_call(&sys, "execve"));
    assert!(!has_call(&sys, "BPF_MAP_UPDATE_ELEM"), "no sanity check");
    assert_eq!(
        dir_mode(&sys, "/sys/fs/bpf/netd_shared/mainline_done"),
        None
    );
    no_lock_no_unlink(&sys);
}

#[test]
fn a_non_critical_failure_is_fatal_on_25q2_only() {
    for (props, dir, want) in [
        (V_USER, V_TETHERING, EXIT_FAILURE), // the fake exec
        (Q_USER, Q_TETHERING, EXIT_CRITICAL),
    ] {
        let sys = device(props);
        install(&sys, dir, "verifierReject.o");
        // The fake has no verifier: refuse the program as the kernel does.
        sys.fail_prog_load("skfilter_reject", libc::EACCES, "R0 !read_ok\n");
        let code = run_mainline(&sys, &cfg());
        assert_eq!(code, want, "{props}: {:#?}", sys.calls());
        assert!(has_call(&sys, "BPF_PROG_LOAD skfilter_reject"), "{props}");
        // V goes on to the platform loader (the fake exec returns 1).
        assert_eq!(has_call(&sys, "execve"), want == EXIT_FAILURE, "{props}");
        assert_eq!(
            pins_under(&sys, &format!("/sys/fs/bpf/{}", "tethering")),
            Vec::<PathBuf>::new(),
            "{props}: nothing of the failed object is pinned"
        );
    }
}

#[test]
fn good_objects_load_in_every_location_of_each_release() {
    for (props, dir) in [(V_USER, V_TETHERING), (Q_USER, Q_TETHERING)] {
        let sys = device(props);
        // Below 5.10, where 25Q2 needs no BTF for these BTF-less objects.
        sys.set_uname("5.4.186", "x86_64");
        install(&sys, dir, "pktCount.o");
        install(&sys, NET_PRIVATE, "pktCount.o");
        run_mainline(&sys, &cfg());
        assert!(
            !pins_under(&sys, "/sys/fs/bpf/tethering").is_empty(),
            "{props}"
        );
        assert!(
            !pins_under(&sys, "/sys/fs/bpf/net_private").is_empty(),
            "{props}"
        );
        assert!(has_call(&sys, "execve"));
    }
    // What Android 15 does not scan: the 25Q2 subdirectory.
    let sys = device(V_USER);
    sys.add_dir(Q_TETHERING);
    install(&sys, Q_TETHERING, "pktCount.o");
    run_mainline(&sys, &cfg());
    assert!(pins_under(&sys, "/sys/fs/bpf/tethering").is_empty());
}

#[test]
fn main_2025_execs_uprobestats_loader_first_when_present() {
    let sys = device(Q_USER);
    sys.add_file(paths::UPROBESTATS_BPFLOAD_PATH, "");
    run_mainline(&sys, &cfg());
    let execs: Vec<String> = sys
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("execve"))
        .collect();
    assert_eq!(execs.len(), 2, "{execs:#?}");
    assert!(execs[0].starts_with(&format!("execve {}", paths::UPROBESTATS_BPFLOAD_PATH)));
    assert!(execs[1].starts_with("execve /system/bin/bpfloader"));
    // Android 15 never does.
    let sys = device(V_USER);
    sys.add_file(paths::UPROBESTATS_BPFLOAD_PATH, "");
    run_mainline(&sys, &cfg());
    assert!(!has_call(
        &sys,
        &format!("execve {}", paths::UPROBESTATS_BPFLOAD_PATH)
    ));
}

#[test]
fn platform_role_loads_platform_locations_then_execs_done() {
    let sys = device(V_USER);
    install(&sys, "/system/etc/bpf", "pktCount.o");
    install(&sys, "/system/etc/bpf/uprobestats", "tcpProbe.o");
    let mut c = cfg();
    c.forward_args = vec!["--critical-delay-secs=0".into()];
    assert_eq!(run_platform(&sys, &c), EXIT_FAILURE, "fake exec");
    assert!(
        sys.pins()
            .iter()
            .any(|(p, ..)| p.parent() == Some(Path::new("/sys/fs/bpf"))
                && p.to_string_lossy().contains("pktCount")),
        "platform pins go to the bpffs root: {:#?}",
        sys.pins()
    );
    assert!(!pins_under(&sys, "/sys/fs/bpf/uprobestats").is_empty());
    assert_eq!(dir_mode(&sys, "/sys/fs/bpf/vendor"), Some(0o1777));
    assert!(
        has_call(
            &sys,
            "execve /apex/com.android.tethering/bin/netbpfload /apex/com.android.tethering/bin/netbpfload --critical-delay-secs=0 done"
        ),
        "{:#?}",
        sys.calls()
    );
    // The platform role neither writes sysctls nor needs the .rc files.
    assert_eq!(file(&sys, JIT), "0\n");
    no_lock_no_unlink(&sys);
}

#[test]
fn platform_critical_failure_exits_120_and_creates_nothing_later() {
    let sys = device(V_USER);
    let bad = install(&sys, "/system/etc/bpf", "criticalReject.o");
    reject_programs(&sys, bad);
    assert_eq!(run_platform(&sys, &cfg()), EXIT_PLATFORM_CRITICAL);
    assert_eq!(dir_mode(&sys, "/sys/fs/bpf/uprobestats"), None);
    assert_eq!(dir_mode(&sys, "/sys/fs/bpf/vendor"), None);
    assert!(!has_call(&sys, "execve"));
}

#[test]
fn vendor_objects_may_only_hold_socket_filters() {
    let sys = device(V_USER);
    install(&sys, "/vendor/etc/bpf", "tcpProbe.o");
    install(&sys, "/vendor/etc/bpf", "pktCount.o");
    run_platform(&sys, &cfg());
    let vendor = pins_under(&sys, "/sys/fs/bpf/vendor");
    assert!(
        vendor
            .iter()
            .any(|p| p.to_string_lossy().contains("pktCount")),
        "{vendor:?}"
    );
    assert!(
        !vendor
            .iter()
            .any(|p| p.to_string_lossy().contains("tcpProbe")),
        "{vendor:?}"
    );
    assert!(has_call(&sys, "execve"), "a non-critical failure");
}

#[test]
fn done_sets_progs_loaded_or_exits_125() {
    let sys = device(V_USER);
    assert_eq!(run_done(&sys, &cfg()), EXIT_OK);
    assert_eq!(
        file(&sys, "/run/netbpfload/properties/bpf.progs_loaded"),
        "1\n"
    );
    let sys = device(V_USER);
    sys.fail_op(
        Op::CreateFile,
        "/run/netbpfload/properties/bpf.progs_loaded",
        libc::EROFS,
    );
    assert_eq!(run_done(&sys, &cfg()), EXIT_DONE_FAILED);
}

#[test]
fn platform_role_without_vendor_objects_still_execs_done() {
    let sys = FakeSys::new();
    sys.set_uname("6.6.30", "aarch64");
    sys.add_file(paths::DEFAULT_PROPERTY_FILE, V_USER);
    sys.mount_bpffs(paths::DEFAULT_BPFFS_ROOT);
    sys.add_dir("/system/etc/bpf");
    install(&sys, "/system/etc/bpf", "pktCount.o");
    run_platform(&sys, &cfg());
    assert!(!pins_under(&sys, "/sys/fs/bpf").is_empty());
    assert!(
        has_call(&sys, "execve /apex/com.android.tethering/bin/netbpfload"),
        "{:#?}",
        sys.calls()
    );
}

#[test]
fn the_run_lock_serialises_boards_and_clears_dead_loaders_temporaries() {
    let sys = device(V_USER);
    sys.add_dir("/run");
    sys.add_dir("/sys/fs/bpf/tethering");
    // A temporary pin of a loader that died (pid 99999 does not run).
    sys.pin_new_map(
        "/sys/fs/bpf/tethering/tmp_nbl_99999_0_m0",
        &crate::sys::MapCreateAttr {
            map_type: 2,
            key_size: 4,
            value_size: 4,
            max_entries: 1,
            name: "x".into(),
            ..Default::default()
        },
    )
    .expect("stale");
    let mut c = cfg();
    c.run_lock = Some(PathBuf::from("/run/netbpfload.lock"));
    run_mainline(&sys, &c);
    assert!(has_call(&sys, "flock /run/netbpfload.lock"));
    assert!(sys
        .node("/sys/fs/bpf/tethering/tmp_nbl_99999_0_m0")
        .is_none());
    // Without the lock (Android), nothing is ever removed.
    let sys = device(V_USER);
    sys.add_dir("/sys/fs/bpf/tethering");
    sys.pin_new_map(
        "/sys/fs/bpf/tethering/tmp_nbl_99999_0_m0",
        &crate::sys::MapCreateAttr {
            map_type: 2,
            key_size: 4,
            value_size: 4,
            max_entries: 1,
            name: "x".into(),
            ..Default::default()
        },
    )
    .expect("stale");
    run_mainline(&sys, &cfg());
    assert!(sys
        .node("/sys/fs/bpf/tethering/tmp_nbl_99999_0_m0")
        .is_some());
    no_lock_no_unlink(&sys);
}

#[test]
fn platform_rc_error_names_both_files() {
    let e = BootError::PlatformRc {
        bpfloader_rc: PathBuf::from(paths::PLATFORM_BPFLOADER_RC),
        netbpfload_rc: PathBuf::from(paths::PLATFORM_NETBPFLOAD_RC),
        both: false,
    };
    assert_eq!(
        e.to_string(),
        "neither of /system/etc/init/bpfloader.rc and /system/etc/init/netbpfload.rc exist; exactly one is expected"
    );
}

#[test]
fn the_run_lock_is_on_for_a_staged_board_tree_and_off_for_android_s_layout() {
    use crate::release::Host;
    let android = BootConfig::with_root(PathBuf::from("/"));
    assert_eq!((android.host, android.run_lock), (Host::Android, None));
    let board = BootConfig::with_root(PathBuf::from("/usr/lib/netbpfload"));
    assert_eq!(board.host, Host::Board);
    assert!(board.run_lock.is_some());
}

/// A manifest signing key, its public half in a key file on the device.
fn device_key(sys: &FakeSys) -> (ed25519_dalek::SigningKey, PathBuf) {
    let sk = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let hex = crate::manifest::to_hex(&sk.verifying_key().to_bytes());
    let path = PathBuf::from("/keys/bpf_manifest.pub");
    sys.add_file(&path, format!("{hex}\n"));
    (sk, path)
}

/// Signs every location directory of `rel`, as a build would: a format-2
/// manifest at `version` listing each `*.o` the directory holds, the
/// objects named in `critical` marked critical.
fn sign_locations(
    sys: &FakeSys,
    rel: Release,
    sk: &ed25519_dalek::SigningKey,
    version: u64,
    critical: &[&str],
) {
    use ed25519_dalek::Signer;
    let rules = rel.rules();
    for l in rules
        .mainline
        .locations
        .iter()
        .chain(rules.platform.locations)
    {
        let dir = Path::new(l.dir);
        let mut objects: Vec<(String, Vec<u8>)> = Vec::new();
        for name in sys.read_dir(dir).expect("location dir") {
            let name = name.to_string_lossy().into_owned();
            if name.ends_with(".o") {
                let (data, _) = sys.read_file(&dir.join(&name), 1 << 24).expect("object");
                objects.push((name, data));
            }
        }
        let text = crate::manifest::Manifest::generate_bound(
            l.dir,
            version,
            objects.iter().map(|(n, d)| (n.as_str(), d.as_slice())),
            &critical
                .iter()
                .copied()
                .filter(|c| objects.iter().any(|(n, _)| n == c))
                .collect::<Vec<_>>(),
        );
        sys.add_file(dir.join("bpf.manifest"), text.clone());
        sys.add_file(
            dir.join("bpf.manifest.sig"),
            sk.sign(text.as_bytes()).to_bytes().to_vec(),
        );
    }
}

fn signed_cfg(key: &Path) -> BootConfig {
    let mut c = cfg();
    c.manifest_key_file = Some(key.to_path_buf());
    c
}

/// The CRITICAL FAILURE lines `load_locations` would log for `dir`.
fn failure_lines(sys: &FakeSys, c: &BootConfig, dir: &str, prefix: &str) -> Vec<String> {
    let rules = Release::V.rules();
    let bpffs = Bpffs::open(sys, Path::new(paths::DEFAULT_BPFFS_ROOT)).expect("bpffs");
    let env = Env {
        rules,
        api_level: 35,
        gate: GateEnv {
            loader_ver: 46,
            kver: Kver::new(6, 1, 57),
            build_type: crate::gate::BuildType::User,
            arch: Arch::X86_64,
        },
        creds: sys.credentials().expect("credentials"),
    };
    let lc = load_config(sys, c, &env, Role::Mainline, bpffs).expect("load config");
    let report = engine::load_location(sys, &lc, &Location::new(dir, prefix));
    location_failure(&report)
        .map(|f| f.lines)
        .unwrap_or_default()
}

#[test]
fn a_signed_device_boots_and_fails_the_boot_when_a_listed_critical_object_is_deleted() {
    let setup = || {
        let sys = device(V_USER);
        install(&sys, V_TETHERING, "offload@mainline.o");
        install(&sys, V_TETHERING, "pktCount.o");
        install(&sys, NET_PRIVATE, "pktCount.o");
        let (sk, key) = device_key(&sys);
        sign_locations(&sys, Release::V, &sk, 7, &["offload@mainline.o"]);
        (sys, key)
    };
    // Intact: loads and hands over to the platform loader.
    let (sys, key) = setup();
    assert_eq!(run_mainline(&sys, &signed_cfg(&key)), EXIT_FAILURE);
    assert!(has_call(&sys, "execve /system/bin/bpfloader"));
    assert!(!pins_under(&sys, "/sys/fs/bpf/tethering").is_empty());

    // The critical object deleted: exit 2 before the hand-over, the rest
    // of its location still loaded.
    let (sys, key) = setup();
    let gone = format!("{V_TETHERING}/offload@mainline.o");
    sys.unlink(Path::new(&gone)).expect("unlink");
    assert_eq!(run_mainline(&sys, &signed_cfg(&key)), EXIT_CRITICAL);
    assert!(!has_call(&sys, "execve"));
    let teth = pins_under(&sys, "/sys/fs/bpf/tethering");
    assert!(
        teth.iter()
            .any(|p| p.to_string_lossy().contains("pktCount")),
        "{teth:#?}"
    );
    assert_eq!(
        failure_lines(&sys, &signed_cfg(&key), V_TETHERING, "tethering/"),
        [format!(
            "{gone} (critical: marked critical in bpf.manifest): {gone}: listed in bpf.manifest but not in the directory"
        )]
    );

    // A deleted non-critical object fails only itself on Android 15.
    let (sys, key) = setup();
    sys.unlink(Path::new(&format!("{NET_PRIVATE}/pktCount.o")))
        .expect("unlink");
    assert_eq!(run_mainline(&sys, &signed_cfg(&key)), EXIT_FAILURE);
    assert!(has_call(&sys, "execve /system/bin/bpfloader"));
}

#[test]
fn a_refused_location_fails_the_boot_under_every_release_policy() {
    for (props, rel, teth) in [
        (V_USER, Release::V, V_TETHERING),
        (Q_USER, Release::R25Q2, Q_TETHERING),
    ] {
        let setup = || {
            let sys = device(props);
            // Below 5.10, where 25Q2 needs no BTF for these BTF-less objects.
            sys.set_uname("5.4.186", "x86_64");
            install(&sys, teth, "pktCount.o");
            install(&sys, NET_PRIVATE, "pktCount.o");
            let (sk, key) = device_key(&sys);
            sign_locations(&sys, rel, &sk, 3, &[]);
            (sys, key)
        };
        let (sys, key) = setup();
        let c = signed_cfg(&key);
        let ok = run_mainline(&sys, &c);
        assert_eq!(ok, EXIT_FAILURE, "{rel:?}: the fake exec after success");
        assert!(has_call(&sys, "execve"), "{rel:?}");

        // A location holding only non-critical objects, its signature
        // broken: its critical objects cannot be known, the boot fails.
        let (sys, key) = setup();
        sys.add_file(format!("{NET_PRIVATE}/bpf.manifest.sig"), vec![0u8; 64]);
        assert_eq!(
            run_mainline(&sys, &signed_cfg(&key)),
            EXIT_CRITICAL,
            "{rel:?}"
        );
        assert!(!has_call(&sys, "execve"), "{rel:?}");
        assert!(pins_under(&sys, "/sys/fs/bpf/net_private").is_empty());

        // An older signed set than the device accepts.
        let (sys, key) = setup();
        let mut c = signed_cfg(&key);
        c.manifest_min_version = Some(4);
        assert_eq!(run_mainline(&sys, &c), EXIT_CRITICAL, "{rel:?}");
        c.manifest_min_version = Some(3);
        let (sys, _) = setup();
        assert_eq!(run_mainline(&sys, &c), EXIT_FAILURE, "{rel:?}");
        assert!(has_call(&sys, "execve"), "{rel:?}");

        // No key: a world-writable location directory.
        let sys = device(props);
        sys.set_uname("5.4.186", "x86_64");
        install(&sys, NET_PRIVATE, "pktCount.o");
        sys.set_meta(NET_PRIVATE, 0o777, 0, 0);
        assert_eq!(run_mainline(&sys, &cfg()), EXIT_CRITICAL, "{rel:?}");
        assert!(!has_call(&sys, "execve"), "{rel:?}");
    }
}

#[test]
fn the_refusal_is_named_in_the_critical_failure_block() {
    let sys = device(V_USER);
    install(&sys, NET_PRIVATE, "pktCount.o");
    let (sk, key) = device_key(&sys);
    sign_locations(&sys, Release::V, &sk, 3, &[]);
    sys.add_file(format!("{NET_PRIVATE}/bpf.manifest.sig"), vec![0u8; 64]);
    assert_eq!(
        failure_lines(&sys, &signed_cfg(&key), NET_PRIVATE, "net_private/"),
        [format!(
            "location refused: {NET_PRIVATE}: bpf.manifest.sig does not verify bpf.manifest with the configured key"
        )]
    );
}

/// A libbpf-style object in an Android location: Android's loaders of both
/// releases read only maps/progs objects, so it fails alone (not fatal on
/// Android 15) and nothing of it is pinned. (A board loads it:
/// tests/tests/libbpf.rs.)
#[test]
fn libbpf_objects_are_refused_on_android() {
    let sys = device(V_USER);
    let dir = "/apex/com.android.tethering/etc/bpf/net_private";
    install(&sys, dir, "coreSkb.o");
    install(&sys, dir, "pktCount.o");
    assert_eq!(cfg().host, crate::release::Host::Android);
    let code = run_mainline(&sys, &cfg());
    assert_eq!(code, EXIT_FAILURE, "the fake exec of the platform loader");
    let pins = pins_under(&sys, "/sys/fs/bpf/net_private");
    assert!(
        pins.iter()
            .all(|p| !p.to_string_lossy().contains("coreSkb")),
        "{pins:#?}"
    );
    assert!(
        pins.iter()
            .any(|p| p.to_string_lossy().contains("pktCount")),
        "{pins:#?}"
    );
    assert!(has_call(&sys, "execve"));
    no_lock_no_unlink(&sys);
}

#[test]
fn the_run_lock_directory_is_created_if_its_parent_exists() {
    use crate::sys::fake::FakeSys;
    let sys = FakeSys::new();
    sys.add_dir("/run");
    let lock =
        setup::take_run_lock(&sys, Path::new(DEFAULT_RUN_LOCK), Duration::ZERO).expect("lock");
    assert!(lock.is_some());
    assert!(matches!(
        sys.node("/run/netbpfload"),
        Some(crate::sys::fake::Node::Dir(m)) if m.mode == 0o755
    ));
    // No /run at all: loading goes on without the lock.
    let sys = FakeSys::new();
    let lock = setup::take_run_lock(&sys, Path::new(DEFAULT_RUN_LOCK), Duration::ZERO)
        .expect("no lock, no error");
    assert!(lock.is_none());
}

/// A follow-up loader given by another file name (a board's
/// `--followup-loader /usr/sbin/netbpfload`) is executed as `bpfloader`,
/// the name that selects the platform role: otherwise the mainline role
/// would run again and execute itself forever.
#[test]
fn a_follow_up_by_another_name_is_executed_as_bpfloader() {
    let sys = device(V_USER);
    let mut c = cfg();
    c.followup_loader = Some(PathBuf::from("/usr/sbin/netbpfload"));
    run_mainline(&sys, &c);
    assert!(
        has_call(&sys, "execve /usr/sbin/netbpfload bpfloader"),
        "{:#?}",
        sys.calls()
    );
    // The platform's own keeps its path as argv[0].
    let sys = device(V_USER);
    run_mainline(&sys, &cfg());
    assert!(has_call(
        &sys,
        "execve /system/bin/bpfloader /system/bin/bpfloader"
    ));
}
