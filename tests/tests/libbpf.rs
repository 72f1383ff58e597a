//! Root tier: libbpf-style objects (`bpf-progs/src/libbpf/*.c`: BTF-defined
//! maps, libbpf section names, CO-RE relocations) on the real kernel, with
//! its own BTF (`/sys/kernel/btf/vmlinux`), under a Linux board's rules.
//!
//! Run as root with
//! `unshare -m --propagation private cargo test -p netbpfload-tests --test libbpf`;
//! every test refuses to run (fails) outside a private mount namespace or
//! without root.
//!
//! * The libbpf corpus loads beside the Android corpus (Android 15's
//!   default layout, same run, same engine) with the pins the C sources
//!   declare (`bpf_progs::OBJECTS`: `map_<object>_<map>` 0600,
//!   `prog_<object>_<function>` 0440), maps typed with the objects' BTF
//!   (the kernel reports the BTF object and key/value type ids), the
//!   expected program types; a re-run reuses every pin.
//! * The CO-RE relocations were applied: the socket filter returns the
//!   packet's length and the tc program tests the mark, through
//!   `BPF_PROG_TEST_RUN`, although the objects' own `struct __sk_buff`
//!   puts those fields elsewhere; the tracepoint program, attached to
//!   `sys_enter_getpid`, counts our calls under our tgid, read from the
//!   kernel's `task_struct` through CO-RE; the subprogram they call updates
//!   the map they reference.
//! * libbpfReject.o fails alone (verifier log, nothing of it pinned) while
//!   the others load.
//! * `netbpfload load` and `inspect` show them (not "maps (0) programs (0)").

use bpf_progs::{Kind, Layout, LIBBPF_PREFIX};
use netbpfload::engine::{self, LoadConfig, LocationReport, ObjectOutcome, ObjectReport};
use netbpfload::error::ErrorKind;
use netbpfload::paths::{self, Location};
use netbpfload::release::{Host, Release, Role};
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::{Bpf, ObjKind};
use netbpfload_tests::bpffs::{self, PrivateBpffs};
use netbpfload_tests::cfg;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Android 15's mainline rules on a board (libbpf objects accepted).
fn board(fs: &PrivateBpffs) -> LoadConfig {
    let mut c = cfg::load_config_for(fs.path(), Release::V, Role::Mainline);
    c.rules = Release::V.rules().role_on(Role::Mainline, Host::Board);
    c.create_pin_dirs = true;
    c
}

/// The Android default layout and the libbpf location under one root.
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    libbpf: PathBuf,
}

fn tree() -> Tree {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let root = dir.path().join("root");
    bpf_progs::install_tree_for(&root, Layout::V).expect("Android layout");
    let libbpf = dir.path().join("libbpf");
    bpf_progs::install_libbpf(&libbpf).expect("libbpf objects");
    Tree {
        _dir: dir,
        root,
        libbpf,
    }
}

/// Loads every Android location of the layout, then the libbpf one.
fn load_all(
    fs: &PrivateBpffs,
    t: &Tree,
    cfg: &LoadConfig,
) -> (Vec<LocationReport>, LocationReport) {
    let android = paths::locations(&t.root, cfg.rules)
        .iter()
        .map(|l| engine::load_location(&LinuxSys, cfg, l))
        .collect();
    let _ = fs;
    let libbpf = engine::load_location(&LinuxSys, cfg, &Location::new(&t.libbpf, LIBBPF_PREFIX));
    assert!(libbpf.error.is_none(), "{libbpf:#?}");
    (android, libbpf)
}

fn report<'a>(r: &'a LocationReport, file: &str) -> &'a ObjectReport {
    r.objects
        .iter()
        .find(|o| o.file.file_name().is_some_and(|n| n == file))
        .unwrap_or_else(|| panic!("{file} not in {r:#?}"))
}

fn obj_name(file: &str) -> String {
    paths::object_name(Path::new(file))
}

/// The pins of `obj` under the libbpf prefix, by file name.
fn pins_of(fs: &PrivateBpffs, obj: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fs.pin(LIBBPF_PREFIX))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(&format!("_{obj}_")))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn prog_fd(fs: &PrivateBpffs, rel: &str) -> OwnedFd {
    LinuxSys
        .obj_get(&fs.pin(rel), 0, ObjKind::Prog)
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn map_fd(fs: &PrivateBpffs, rel: &str) -> OwnedFd {
    LinuxSys
        .obj_get(&fs.pin(rel), 0, ObjKind::Map)
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `BPF_PROG_TEST_RUN` of `prog` on `data` (and a context `ctx`):
/// the program's return value.
fn test_run(prog: &OwnedFd, data: &[u8], ctx: &[u8]) -> u32 {
    /// The `test` member of `union bpf_attr` (include/uapi/linux/bpf.h).
    #[repr(C)]
    #[derive(Default)]
    struct TestAttr {
        prog_fd: u32,
        retval: u32,
        data_size_in: u32,
        data_size_out: u32,
        data_in: u64,
        data_out: u64,
        repeat: u32,
        duration: u32,
        ctx_size_in: u32,
        ctx_size_out: u32,
        ctx_in: u64,
        ctx_out: u64,
        flags: u32,
        cpu: u32,
        batch_size: u32,
        _pad: u32,
    }
    const BPF_PROG_TEST_RUN: libc::c_long = 10;
    let mut attr = TestAttr {
        prog_fd: prog.as_raw_fd() as u32,
        data_size_in: data.len() as u32,
        data_in: data.as_ptr() as u64,
        repeat: 1,
        ..TestAttr::default()
    };
    if !ctx.is_empty() {
        attr.ctx_size_in = ctx.len() as u32;
        attr.ctx_in = ctx.as_ptr() as u64;
    }
    // SAFETY: `attr` is a valid, initialised `bpf_attr.test` of the size
    // passed; the buffers it points to outlive the call and are only read.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_TEST_RUN,
            &mut attr as *mut TestAttr,
            std::mem::size_of::<TestAttr>(),
        )
    };
    assert_eq!(
        r,
        0,
        "BPF_PROG_TEST_RUN: {}",
        std::io::Error::last_os_error()
    );
    attr.retval
}

fn lookup_u64(map: &OwnedFd, key: &[u8]) -> Option<u64> {
    let mut v = [0u8; 8];
    LinuxSys
        .map_lookup(map.as_fd(), key, &mut v)
        .ok()
        .map(|()| u64::from_le_bytes(v))
}

#[test]
fn libbpf_objects_load_beside_the_android_corpus_with_their_pins_and_btf() {
    bpffs::require_private_root();
    let fs = PrivateBpffs::new();
    for d in paths::created_subdirs(Release::V.rules()) {
        fs.mkdir(d);
    }
    let t = tree();
    let cfg = board(&fs);
    let (android, libbpf) = load_all(&fs, &t, &cfg);

    // The Android corpus, as its table says (the board rules differ only
    // in libbpf objects).
    for r in &android {
        for o in &r.objects {
            let name = o.file.file_name().unwrap().to_string_lossy().into_owned();
            let corpus = bpf_progs::object(&name).expect("corpus object");
            let ok = match corpus.kind {
                Kind::Good => matches!(o.outcome, ObjectOutcome::Loaded { .. }),
                Kind::LoaderVersionSkipped => matches!(o.outcome, ObjectOutcome::Skipped { .. }),
                Kind::VerifierRejected => o.error().is_some(),
                other => panic!("{name}: {other:?} is not in the default layout"),
            };
            assert!(ok, "{name}: {:#?}", o.outcome);
        }
    }

    let mut typed = 0;
    for o in bpf_progs::libbpf_objects() {
        let obj = obj_name(o.file_name);
        let r = report(&libbpf, o.file_name);
        match (o.kind, &r.outcome) {
            (
                Kind::Libbpf { maps, programs },
                ObjectOutcome::Loaded {
                    maps: m,
                    programs: p,
                    skipped,
                    ..
                },
            ) => {
                assert!(skipped.is_empty(), "{skipped:?}");
                let mut want: Vec<String> = maps
                    .iter()
                    .map(|m| format!("map_{obj}_{m}"))
                    .chain(programs.iter().map(|p| format!("prog_{obj}_{p}")))
                    .collect();
                want.sort();
                assert_eq!(pins_of(&fs, &obj), want, "{}", o.file_name);
                assert_eq!((m.len(), p.len()), (maps.len(), programs.len()));
                for map in maps {
                    let rel = format!("{LIBBPF_PREFIX}map_{obj}_{map}");
                    assert_eq!(bpffs::mode_owner(&fs.pin(&rel)), (0o600, 0, 0), "{rel}");
                    let info = bpffs::map_info(&fs.pin(&rel));
                    // The ring buffer has no key/value types; every other
                    // map is typed with the object's BTF.
                    let untyped = info.map_type == 27;
                    assert_eq!(info.btf_id == 0, untyped, "{rel}: {info:?}");
                    assert_eq!(info.btf_value_type_id == 0, untyped, "{rel}: {info:?}");
                    typed += usize::from(!untyped);
                }
                for prog in programs {
                    let rel = format!("{LIBBPF_PREFIX}prog_{obj}_{prog}");
                    assert_eq!(bpffs::mode_owner(&fs.pin(&rel)), (0o440, 0, 0), "{rel}");
                    assert!(bpffs::prog_info(&fs.pin(&rel)).jited_prog_len > 0, "{rel}");
                }
            }
            (Kind::LibbpfRejected { .. }, ObjectOutcome::Failed { error }) => {
                // Fails alone: the kernel's verifier, with its log; nothing
                // of it (maps included) is pinned.
                assert_eq!(error.kind(), ErrorKind::Load, "{error}");
                assert_eq!(error.reason(), "prog_load", "{error}");
                assert!(
                    error.verifier_log().is_some_and(|l| !l.is_empty()),
                    "{error}"
                );
                assert!(
                    error.to_string().contains("socket:unchecked_lookup"),
                    "{error}"
                );
                assert_eq!(pins_of(&fs, &obj), Vec::<String>::new());
            }
            (k, out) => panic!("{}: {k:?}: {out:#?}", o.file_name),
        }
    }
    assert_eq!(typed, 4, "packets, calls, verdicts, flows");

    // Program types, as the kernel has them.
    for (rel, ty) in [
        ("prog_coreSkb_socket_len", 1),
        ("prog_coreSkb_tc_mark", 3),
        ("prog_coreTrace_count_getpid", 5),
        ("prog_coreNet_xdp_pass", 6),
        ("prog_coreNet_skb_ingress", 8),
    ] {
        let info = bpffs::prog_info(&fs.pin(&format!("{LIBBPF_PREFIX}{rel}")));
        assert_eq!(info.prog_type, ty, "{rel}");
    }

    // A re-run reuses every pin, new or not.
    let ids: Vec<(String, u32)> = libbpf
        .objects
        .iter()
        .filter_map(|o| match &o.outcome {
            ObjectOutcome::Loaded { maps, programs, .. } => Some(maps.iter().chain(programs)),
            _ => None,
        })
        .flatten()
        .map(|p| (p.pin.clone(), p.id))
        .collect();
    let again = engine::load_location(&LinuxSys, &cfg, &Location::new(&t.libbpf, LIBBPF_PREFIX));
    let mut reused = Vec::new();
    for o in &again.objects {
        if let ObjectOutcome::Loaded { maps, programs, .. } = &o.outcome {
            for p in maps.iter().chain(programs) {
                assert!(p.reused, "{}: not reused", p.pin);
                reused.push((p.pin.clone(), p.id));
            }
        }
    }
    assert_eq!(reused, ids, "the same pins, the same kernel objects");
    assert!(report(&again, "libbpfReject.o").error().is_some());
}

#[test]
fn core_relocations_were_applied_the_programs_read_the_kernels_fields() {
    bpffs::require_private_root();
    let fs = PrivateBpffs::new();
    let t = tree();
    let cfg = board(&fs);
    let r = engine::load_location(&LinuxSys, &cfg, &Location::new(&t.libbpf, LIBBPF_PREFIX));
    assert!(report(&r, "coreSkb.o").error().is_none(), "{r:#?}");

    let socket = prog_fd(&fs, "libbpf/prog_coreSkb_socket_len");
    let tc = prog_fd(&fs, "libbpf/prog_coreSkb_tc_mark");
    let packets = map_fd(&fs, "libbpf/map_coreSkb_packets");
    assert_eq!(lookup_u64(&packets, &0u32.to_le_bytes()), Some(0));

    // socket_len returns skb->len. Its object declares `len` as the second
    // field of __sk_buff (offset 4, pkt_type in the kernel: 0 for these
    // packets); only the CO-RE relocation to offset 0 returns the length.
    // A socket filter sees the packet past its Ethernet header.
    let frame = |n: usize| {
        let mut f = vec![0u8; n];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f
    };
    assert_eq!(test_run(&socket, &frame(64), &[]), 64 - 14);
    assert_eq!(test_run(&socket, &frame(100), &[]), 100 - 14);

    // tc_mark returns 1 for mark 7. The object puts mark first (offset 0,
    // len in the kernel); the kernel's mark is at offset 8 of __sk_buff.
    let ctx = |mark: u32| {
        let mut c = vec![0u8; 12];
        c[8..12].copy_from_slice(&mark.to_le_bytes());
        c
    };
    assert_eq!(test_run(&tc, &frame(64), &ctx(7)), 1);
    assert_eq!(test_run(&tc, &frame(64), &ctx(6)), 0);

    // Both called the linked subprogram, which updates the map they
    // reference: four runs.
    assert_eq!(lookup_u64(&packets, &0u32.to_le_bytes()), Some(4));
}

/// `perf_event_open` of tracepoint `id` for this process on any CPU.
fn tracepoint(id: u64) -> OwnedFd {
    use std::os::fd::FromRawFd;
    let mut attr = [0u64; 16];
    attr[0] = 2 | (128 << 32); // PERF_TYPE_TRACEPOINT, size 128
    attr[1] = id;
    attr[2] = 1; // sample_period
    attr[6] = 1; // wakeup_events
                 // SAFETY: `attr` is a 128-byte zero-initialised perf_event_attr with
                 // its type, size, config, sample period and wakeup count set.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            0 as libc::pid_t,
            -1 as libc::c_int,
            -1 as libc::c_int,
            8 as libc::c_ulong, // PERF_FLAG_FD_CLOEXEC
        )
    };
    assert!(
        fd >= 0,
        "perf_event_open: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a new fd we own.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

#[test]
fn the_tracepoint_program_reads_task_struct_through_core() {
    bpffs::require_private_root();
    let fs = PrivateBpffs::new();
    let t = tree();
    let cfg = board(&fs);
    let r = engine::load_location(&LinuxSys, &cfg, &Location::new(&t.libbpf, LIBBPF_PREFIX));
    assert!(report(&r, "coreTrace.o").error().is_none(), "{r:#?}");
    let prog = prog_fd(&fs, "libbpf/prog_coreTrace_count_getpid");
    let calls = map_fd(&fs, "libbpf/map_coreTrace_calls");

    // The tracepoint's id, from a tracefs mounted in our namespace.
    let tracefs = tempfile::tempdir().expect("tempdir");
    nix::mount::mount(
        Some("tracefs"),
        tracefs.path(),
        Some("tracefs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .expect("mount tracefs");
    let id: u64 =
        std::fs::read_to_string(tracefs.path().join("events/syscalls/sys_enter_getpid/id"))
            .expect("sys_enter_getpid id")
            .trim()
            .parse()
            .expect("id");
    let event = tracepoint(id);
    const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
    const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;
    // SAFETY: ioctls on a perf event fd we own, with an fd argument.
    unsafe {
        assert_eq!(
            libc::ioctl(event.as_raw_fd(), PERF_EVENT_IOC_SET_BPF, prog.as_raw_fd()),
            0
        );
        assert_eq!(libc::ioctl(event.as_raw_fd(), PERF_EVENT_IOC_ENABLE, 0), 0);
    }
    let tgid = std::process::id();
    let before = lookup_u64(&calls, &tgid.to_le_bytes()).unwrap_or(0);
    for _ in 0..10 {
        // SAFETY: getpid has no arguments and cannot fail.
        unsafe { libc::syscall(libc::SYS_getpid) };
    }
    drop(event);
    let after = lookup_u64(&calls, &tgid.to_le_bytes()).unwrap_or(0);
    // Keyed by the tgid the program read from the kernel's task_struct
    // (offset relocated by CO-RE; the object's own task_struct puts it at
    // 0): exactly our calls, under our process id.
    assert!(after >= before + 10, "{before} → {after}");
    let _ = umount(tracefs.path());
}

/// Builds the `netbpfload` binary (a dependency's binaries are not built for
/// this crate's tests) and returns its path (as tests/tests/root.rs does).
fn netbpfload_bin() -> PathBuf {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-p", "netbpfload", "--bin", "netbpfload"])
        .current_dir(&ws)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build -p netbpfload failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| ws.join("target"));
    let bin = target.join("debug").join("netbpfload");
    assert!(bin.exists(), "{} missing after cargo build", bin.display());
    bin
}

fn umount(p: &Path) -> nix::Result<()> {
    nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH)
}

#[test]
fn the_load_and_inspect_commands_show_libbpf_objects() {
    bpffs::require_private_root();
    let fs = PrivateBpffs::new();
    let t = tree();
    let bin = netbpfload_bin();
    let bin = bin.as_path();
    let out = Command::new(bin)
        .args([
            "load",
            "--json",
            "--prefix",
            LIBBPF_PREFIX,
            "--run-lock",
            "none",
        ])
        .arg("--location")
        .arg(&t.libbpf)
        .arg("--bpffs")
        .arg(fs.path())
        .output()
        .expect("run netbpfload load");
    // libbpfReject.o fails: exit 1; the others are loaded.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let objects = v["location"]["objects"].as_array().expect("objects");
    for o in bpf_progs::libbpf_objects() {
        let j = objects
            .iter()
            .find(|j| j["file"].as_str().is_some_and(|f| f.ends_with(o.file_name)))
            .unwrap_or_else(|| panic!("{}", o.file_name));
        let want = if matches!(o.kind, Kind::Libbpf { .. }) {
            "loaded"
        } else {
            "failed"
        };
        assert_eq!(j["outcome"]["status"], want, "{j:#}");
    }

    let out = Command::new(bin)
        .arg("inspect")
        .arg(t.libbpf.join("coreSkb.o"))
        .output()
        .expect("run netbpfload inspect");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "maps (1):",
        "programs (2):",
        "pin:            map_coreSkb_packets",
        "pin:            prog_coreSkb_socket_len",
        "pin:            prog_coreSkb_tc_mark",
        "1 (SOCKET_FILTER)",
        "3 (SCHED_CLS)",
        "2 CO-RE relocations applied",
        "owner:          uid 0 gid 0 mode 0600",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}
