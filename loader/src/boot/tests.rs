//! The boot flow against the in-memory kernel ([`FakeSys`]).

use super::*;
use crate::sys::fake::{FakeSys, Node};
use std::path::Path;

const UNPRIV: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";
const JIT: &str = "/proc/sys/net/core/bpf_jit_enable";
const KALLSYMS: &str = "/proc/sys/net/core/bpf_jit_kallsyms";
const TETHERING: &str = "/apex/com.android.tethering/etc/bpf/tethering";
const NET_PRIVATE: &str = "/apex/com.android.tethering/etc/bpf/net_private";

/// A V device on an LTS kernel: the platform netbpfload.rc, a property file,
/// the sysctls at their kernel defaults, bpffs mounted, empty locations.
fn device(props: &str) -> FakeSys {
    let sys = FakeSys::new();
    sys.set_uname("6.1.57-android15", "x86_64");
    sys.add_file(paths::PLATFORM_NETBPFLOAD_RC, "");
    sys.add_file(paths::DEFAULT_PROPERTY_FILE, props);
    sys.add_file(UNPRIV, "2\n");
    sys.add_file(JIT, "0\n");
    sys.add_file(KALLSYMS, "0\n");
    sys.mount_bpffs(paths::DEFAULT_BPFFS_ROOT);
    for l in paths::mainline_locations(Path::new("/"))
        .iter()
        .chain(&paths::platform_locations(Path::new("/")))
    {
        sys.add_dir(&l.dir);
    }
    sys
}

const V_USER: &str = "ro.build.version.sdk=35\nro.build.version.codename=REL\nro.build.type=user\n";
const U_USER: &str = "ro.build.version.sdk=34\nro.build.version.codename=REL\nro.build.type=user\n";

fn cfg() -> BootConfig {
    let mut c = BootConfig::with_root(PathBuf::from("/"));
    c.critical_delay = Duration::ZERO;
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

#[test]
fn v_mainline_writes_sysctls_makes_dirs_checks_sanity_then_execs_bpfloader() {
    let sys = device(V_USER);
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
    ] {
        assert_eq!(
            dir_mode(&sys, &format!("/sys/fs/bpf/{sub}")),
            Some(0o1777),
            "{sub}"
        );
    }
    // The sanity map: created and key 1 written, after the locations.
    let calls = sys.calls();
    let create = calls.iter().rposition(|c| c.starts_with("BPF_MAP_CREATE"));
    let exec = calls.iter().position(|c| c.starts_with("execve"));
    assert!(create.is_some() && create < exec, "{calls:#?}");
    assert!(
        calls.iter().any(|c| c.starts_with("BPF_MAP_UPDATE_ELEM")),
        "{calls:#?}"
    );
}

#[test]
fn below_v_no_follow_up_and_unprivileged_bpf_untouched() {
    let sys = device(U_USER);
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_OK);
    assert!(!has_call(&sys, "execve"));
    assert_eq!(file(&sys, UNPRIV), "2\n");
    assert_eq!(file(&sys, JIT), "1\n");
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
    let old = device(U_USER);
    old.unlink(Path::new(paths::PLATFORM_NETBPFLOAD_RC))
        .expect("unlink");
    old.add_file(paths::PLATFORM_BPFLOADER_RC, "");
    assert_eq!(run_mainline(&old, &cfg()), EXIT_OK);
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
    // Kernel below V's 4.19.
    let sys = device(V_USER);
    sys.set_uname("4.14.336", "aarch64");
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_FAILURE);
    assert!(!has_call(&sys, "write"));
    // Missing property file.
    let sys = device(V_USER);
    sys.unlink(Path::new(paths::DEFAULT_PROPERTY_FILE))
        .expect("unlink");
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_FAILURE);
}

#[test]
fn overrides_win_over_properties() {
    let sys = device(V_USER);
    let mut c = cfg();
    c.overrides.api_level = Some(34);
    assert_eq!(run_mainline(&sys, &c), EXIT_OK, "U: no follow-up");
    assert!(!has_call(&sys, "execve"));
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
    sys.fail_op("write", JIT, libc::EINVAL);
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_FAILURE);
    assert!(!has_call(&sys, "mkdir"));

    // unprivileged_bpf_disabled is fatal on 5.13+ ...
    let sys = device(V_USER);
    sys.fail_op("write", UNPRIV, libc::EPERM);
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_FAILURE);
    assert!(!has_call(&sys, "execve"));
    // ... but only logged below.
    let sys = device(V_USER);
    sys.set_uname("5.10.199", "aarch64");
    sys.fail_op("write", UNPRIV, libc::EPERM);
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
}

/// Installs a corpus object into the fake tree.
fn install(sys: &FakeSys, dir: &str, name: &str) -> &'static bpf_progs::CorpusObject {
    let obj = bpf_progs::object(name).unwrap_or_else(|| panic!("corpus lacks {name}"));
    sys.add_file(format!("{dir}/{name}"), obj.bytes);
    obj
}

#[test]
fn critical_failure_finishes_its_location_then_exits_2() {
    let sys = device(V_USER);
    let offload = install(&sys, TETHERING, "offload@mainline.o");
    assert!(offload.critical, "offload is critical in the corpus");
    // A good object beside it, and one in a later location.
    install(&sys, TETHERING, "pktCount.o");
    install(&sys, NET_PRIVATE, "pktCount.o");
    // Every program of the critical object is rejected.
    let spec = crate::parse::parse_object(Path::new("offload@mainline.o"), offload.bytes)
        .expect("corpus object parses");
    for p in &spec.programs {
        sys.fail_prog_load(&p.kernel_name, libc::EACCES, "R0 !read_ok");
    }
    assert_eq!(run_mainline(&sys, &cfg()), EXIT_CRITICAL);
    assert!(
        pins_under(&sys, "/sys/fs/bpf/tethering")
            .iter()
            .any(|p| p.to_string_lossy().contains("pktCount")),
        "the rest of the location is still loaded: {:#?}",
        sys.pins()
    );
    assert!(
        !pins_under(&sys, "/sys/fs/bpf/tethering")
            .iter()
            .any(|p| p.to_string_lossy().contains("offload")),
        "nothing of the failed object stays pinned"
    );
    assert_eq!(
        pins_under(&sys, "/sys/fs/bpf/net_private"),
        Vec::<PathBuf>::new()
    );
    assert!(!has_call(&sys, "execve"));
}

#[test]
fn good_objects_load_in_every_location() {
    let sys = device(V_USER);
    install(&sys, TETHERING, "offload@mainline.o");
    install(&sys, NET_PRIVATE, "pktCount.o");
    run_mainline(&sys, &cfg());
    assert!(!pins_under(&sys, "/sys/fs/bpf/tethering").is_empty());
    assert!(!pins_under(&sys, "/sys/fs/bpf/net_private").is_empty());
    assert!(has_call(&sys, "execve"));
}

#[test]
fn platform_role_loads_platform_locations_then_execs_done() {
    let sys = device(V_USER);
    install(&sys, "/system/etc/bpf", "pktCount.o");
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
        "create",
        "/run/netbpfload/properties/bpf.progs_loaded",
        libc::EROFS,
    );
    assert_eq!(run_done(&sys, &cfg()), EXIT_DONE_FAILED);
}

#[test]
fn platform_role_without_vendor_objects_still_execs_done() {
    // A device without vendor objects: /vendor/etc/bpf does not exist.
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
