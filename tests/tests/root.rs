//! Root tier: the loader against the real kernel, in private bpffs mounts.
//!
//! Run as root with
//! `unshare -m --propagation private cargo test -p netbpfload-tests --test root`;
//! every test refuses to run (fails) outside a private mount namespace or
//! without root.
//!
//! Expected pins, types, sizes, modes and owners come from the corpus C
//! sources (`bpf-progs/src/progs/*.c`, macros in `bpf-progs/include/`) and
//! the reference pin naming (`docs/object-format.md#pin-paths`), not from the loader's output.

use bpf_progs::{CorpusObject, Kind, OBJECTS};
use netbpfload::engine::{
    self, LoadConfig, LoadError, LocationReport, ObjectOutcome, ObjectReport,
};
use netbpfload::error::{ErrorKind, ObjectError};
use netbpfload::paths::{self, Location};
use netbpfload::release::{Release, Role};
use netbpfload::spec::Kver;
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::{Bpf, MapCreateAttr, ObjKind, BPF_F_RDONLY};
use netbpfload_tests::bpffs::{self, PrivateBpffs};
use netbpfload_tests::cfg::{kver, load_config, load_config_for};
use netbpfload_tests::stage::netbpfload_bin;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

// enum bpf_map_type / bpf_prog_type values (UAPI).
const HASH: u32 = 1;
const ARRAY: u32 = 2;
const PERCPU_HASH: u32 = 5;
const PERCPU_ARRAY: u32 = 6;
const LPM_TRIE: u32 = 11;
const DEVMAP_HASH: u32 = 25;
const RINGBUF: u32 = 27;
const SOCKET_FILTER: u32 = 1;
const KPROBE: u32 = 2;
const SCHED_CLS: u32 = 3;
const SCHED_ACT: u32 = 4;
const TRACEPOINT: u32 = 5;
const XDP: u32 = 6;
const CGROUP_SKB: u32 = 8;
const CGROUP_SOCK: u32 = 9;
const CGROUP_SOCK_ADDR: u32 = 18;
const CGROUP_SOCKOPT: u32 = 25;
const BPF_F_NO_PREALLOC: u32 = 1;
const BPF_F_RDONLY_PROG: u32 = 1 << 7;
const AID_SYSTEM: u32 = 1000;
const AID_NETWORK_STACK: u32 = 1073;
const AID_NET_ADMIN: u32 = 3005;
const AID_NET_BW_STATS: u32 = 3006;
const AID_NET_BW_ACCT: u32 = 3007;
const NOBODY: u32 = 65534;

fn cfg(fs: &PrivateBpffs) -> LoadConfig {
    let kver = kver();
    assert!(
        kver >= Kver::new(6, 12, 0),
        "the root tier's expectations assume a kernel >= 6.12, this is {kver}"
    );
    load_config(fs.path())
}

/// A private bpffs with the boot flow's directories, and the corpus installed
/// in a staging tree.
struct Env {
    fs: PrivateBpffs,
    stage: tempfile::TempDir,
    cfg: LoadConfig,
    /// The platform loader's rules, for the platform location.
    platform: LoadConfig,
}

impl Env {
    fn new() -> Self {
        let fs = PrivateBpffs::new();
        for d in paths::created_subdirs(Release::V.rules()) {
            fs.mkdir(d);
        }
        let stage = tempfile::tempdir().expect("stage");
        bpf_progs::install_tree(stage.path()).expect("install corpus");
        let cfg = cfg(&fs);
        let platform = load_config_for(fs.path(), Release::V, Role::Platform);
        Env {
            fs,
            stage,
            cfg,
            platform,
        }
    }

    /// The rules a location loads under: the platform loader's for the
    /// platform location (prefix ""), the mainline loader's otherwise.
    fn cfg_for(&self, loc: &Location) -> &LoadConfig {
        if loc.prefix.is_empty() {
            &self.platform
        } else {
            &self.cfg
        }
    }

    fn locations(&self) -> Vec<Location> {
        let platform = &Release::V.rules().platform.locations[0];
        bpf_progs::MAINLINE_PREFIXES
            .iter()
            .map(|&prefix| bpf_progs::Location::Mainline { prefix })
            .map(|l| Location::new(self.stage.path().join(l.dir()), l.bpffs_prefix()))
            .chain(std::iter::once(Location::from_rule(
                self.stage.path(),
                platform,
            )))
            .collect()
    }

    fn location_of(&self, prefix: &str) -> Location {
        self.locations()
            .into_iter()
            .find(|l| l.prefix == prefix)
            .unwrap_or_else(|| panic!("no location {prefix}"))
    }

    fn load_all(&self) -> Vec<LocationReport> {
        self.locations()
            .iter()
            .map(|l| engine::load_location(&LinuxSys, self.cfg_for(l), l))
            .collect()
    }

    fn pin(&self, rel: &str) -> PathBuf {
        self.fs.pin(rel)
    }

    /// Every file under the bpffs (relative paths), minus the kernel's
    /// `maps.debug`/`progs.debug` preload files.
    fn tree(&self) -> Vec<String> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(root, &p, out);
                } else if let Ok(rel) = p.strip_prefix(root) {
                    let rel = rel.to_string_lossy().into_owned();
                    if !rel.ends_with(".debug") {
                        out.push(rel);
                    }
                }
            }
        }
        let mut v = Vec::new();
        walk(self.fs.path(), self.fs.path(), &mut v);
        v.sort();
        v
    }

    /// Pins named after object `obj` (`map_<obj>_*`, `prog_<obj>_*`), and
    /// any temporary pin.
    fn pins_of(&self, obj: &str) -> Vec<String> {
        let map = format!("map_{obj}_");
        let prog = format!("prog_{obj}_");
        self.tree()
            .into_iter()
            .filter(|p| {
                let name = p.rsplit('/').next().unwrap_or(p);
                name.starts_with(&map)
                    || name.starts_with(&prog)
                    || name.starts_with(paths::TMP_PIN_PREFIX)
            })
            .collect()
    }
}

fn placed() -> impl Iterator<Item = &'static CorpusObject> {
    OBJECTS.iter().filter(|o| o.location.is_some())
}

fn corpus(file_name: &str) -> &'static CorpusObject {
    bpf_progs::object(file_name)
        .unwrap_or_else(|| panic!("the corpus has no {file_name} (bpf-progs/src/lib.rs OBJECTS)"))
}

fn obj_name(o: &CorpusObject) -> String {
    paths::object_name(Path::new(o.file_name))
}

fn report<'a>(reports: &'a [LocationReport], file_name: &str) -> &'a ObjectReport {
    reports
        .iter()
        .flat_map(|r| &r.objects)
        .find(|o| o.file.file_name().and_then(|n| n.to_str()) == Some(file_name))
        .unwrap_or_else(|| panic!("{file_name} not in the reports: {reports:#?}"))
}

/// `(pin, id, reused)` of every pin reported as loaded.
fn pin_ids(reports: &[LocationReport]) -> BTreeMap<String, (u32, bool)> {
    let mut m = BTreeMap::new();
    for o in reports.iter().flat_map(|r| &r.objects) {
        if let ObjectOutcome::Loaded { maps, programs, .. } = &o.outcome {
            for p in maps.iter().chain(programs) {
                m.insert(p.pin.clone(), (p.id, p.reused));
            }
        }
    }
    m
}

struct ExpMap {
    rel: &'static str,
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    mode: u32,
    uid: u32,
    gid: u32,
}

const fn m(
    rel: &'static str,
    map_type: u32,
    kvm: (u32, u32, u32),
    map_flags: u32,
    mode: u32,
    gid: u32,
) -> ExpMap {
    ExpMap {
        rel,
        map_type,
        key_size: kvm.0,
        value_size: kvm.1,
        max_entries: kvm.2,
        map_flags,
        mode,
        uid: 0,
        gid,
    }
}

/// bpf-progs/README.md "Corpus and expected outcome" (kernel >= 6.12,
/// Android 15 as root: loader 46, userdebug, x86_64): every map pin of the
/// default layout. Every owner uid there is 0.
const EXPECTED_MAPS: &[ExpMap] = &[
    // offload@mainline.o
    m(
        "tethering/map_offload_tether_stats_map",
        HASH,
        (4, 48, 16),
        0,
        0o660,
        AID_NETWORK_STACK,
    ),
    m(
        "tethering/map_offload_tether_limit_map",
        HASH,
        (4, 8, 16),
        0,
        0o660,
        AID_NETWORK_STACK,
    ),
    m(
        "tethering/map_offload_tether_error_map",
        ARRAY,
        (4, 4, 8),
        0,
        0o440,
        AID_NETWORK_STACK,
    ),
    // The kernel sets BPF_F_RDONLY_PROG on device maps.
    m(
        "tethering/map_offload_tether_dev_map",
        DEVMAP_HASH,
        (4, 4, 64),
        BPF_F_RDONLY_PROG,
        0o660,
        AID_NETWORK_STACK,
    ),
    // netd.o
    m(
        "netd_shared/map_netd_cookie_tag_map",
        HASH,
        (8, 8, 1024),
        0,
        0o660,
        AID_NET_BW_ACCT,
    ),
    m(
        "netd_shared/map_netd_uid_owner_map",
        HASH,
        (4, 8, 2048),
        0,
        0o460,
        AID_NET_BW_ACCT,
    ),
    m(
        "netd_shared/map_netd_configuration_map",
        ARRAY,
        (4, 4, 2),
        0,
        0o060,
        AID_NET_BW_ACCT,
    ),
    m(
        "netd_shared/map_netd_iface_stats_map",
        PERCPU_HASH,
        (4, 32, 256),
        0,
        0o640,
        AID_NET_BW_STATS,
    ),
    m(
        "netd_shared/map_netd_local_net_blocked_uid_map",
        HASH,
        (4, 1, 1000),
        BPF_F_NO_PREALLOC,
        0o660,
        AID_NET_BW_ACCT,
    ),
    m(
        "netd_shared/map_netd_local_net_access_map",
        LPM_TRIE,
        (12, 1, 1000),
        BPF_F_NO_PREALLOC,
        0o660,
        AID_NETWORK_STACK,
    ),
    m(
        "netd_readonly/map_netd_uid_permission_map",
        HASH,
        (4, 1, 1024),
        0,
        0o460,
        AID_NET_BW_ACCT,
    ),
    m(
        "netd_shared/map_netd_iface_index_name_map",
        HASH,
        (4, 16, 256),
        0,
        0o640,
        AID_SYSTEM,
    ),
    m(
        "netd_shared/map_netd_packet_trace_ringbuf",
        RINGBUF,
        (0, 0, 32768),
        0,
        0o660,
        AID_SYSTEM,
    ),
    m(
        "netd_shared/map_netd_ingress_discard_map",
        HASH,
        (4, 8, 256),
        0,
        0o640,
        AID_NET_BW_ACCT,
    ),
    m(
        "netd_shared/map_netd_packet_trace_enabled_map",
        ARRAY,
        (4, 1, 1),
        0,
        0o660,
        AID_SYSTEM,
    ),
    m(
        "netd_shared/map_netd_lock_array_test_map",
        ARRAY,
        (4, 4, 1),
        0,
        0o440,
        AID_NET_BW_ACCT,
    ),
    // clatd.o + dscpPolicy.o (net_config_map shared by both)
    m(
        "net_shared/map__net_config_map",
        ARRAY,
        (4, 4, 2),
        0,
        0o660,
        AID_SYSTEM,
    ),
    m(
        "net_shared/map_clatd_clat_ingress6_map",
        HASH,
        (36, 8, 16),
        0,
        0o660,
        AID_SYSTEM,
    ),
    m(
        "net_shared/map_clatd_clat_egress4_map",
        HASH,
        (8, 40, 16),
        0,
        0o660,
        AID_SYSTEM,
    ),
    m(
        "net_shared/map_dscpPolicy_socket_policy_cache_map",
        PERCPU_ARRAY,
        (4, 16, 1024),
        0,
        0o000,
        AID_SYSTEM,
    ),
    m(
        "net_shared/map_dscpPolicy_ipv4_dscp_policies_map",
        ARRAY,
        (4, 16, 16),
        0,
        0o660,
        AID_SYSTEM,
    ),
    // pktCount.o
    m(
        "net_private/map_pktCount_packet_count_map",
        ARRAY,
        (4, 8, 1),
        0,
        0o600,
        0,
    ),
    m(
        "net_private/map_pktCount_two_entry_map",
        ARRAY,
        (4, 4, 2),
        0,
        0o660,
        AID_SYSTEM,
    ),
    // gateMatrix.o on a >= 6.12 x86_64 kernel (its gate table).
    m(
        "net_private/map_gateMatrix_clock_map",
        ARRAY,
        (4, 8, 2),
        0,
        0o660,
        AID_SYSTEM,
    ),
    m(
        "net_private/map_gateMatrix_since_6_1_map",
        HASH,
        (4, 4, 16),
        0,
        0o660,
        AID_SYSTEM,
    ),
    m(
        "net_private/map_gateMatrix_since_6_6_map",
        HASH,
        (4, 4, 16),
        0,
        0o640,
        AID_SYSTEM,
    ),
    m(
        "net_private/map_gateMatrix_not_on_aarch64_map",
        ARRAY,
        (4, 4, 1),
        0,
        0o600,
        0,
    ),
    // schedTrace.o, tcpProbe.o (platform location, prefix "")
    m(
        "map_schedTrace_cpu_pid_map",
        ARRAY,
        (4, 4, 1024),
        0,
        0o640,
        AID_SYSTEM,
    ),
    m(
        "map_schedTrace_switch_count_map",
        PERCPU_HASH,
        (4, 8, 4096),
        0,
        0o640,
        AID_SYSTEM,
    ),
    m(
        "map_tcpProbe_tcp_connect_count_map",
        PERCPU_ARRAY,
        (4, 8, 2),
        0,
        0o640,
        AID_SYSTEM,
    ),
];

/// `(pin, prog_type, gid)`; programs are pinned 0440 with owner uid 0.
const EXPECTED_PROGS: &[(&str, u32, u32)] = &[
    // $5_10 variant on >= 5.10 kernels.
    (
        "tethering/prog_offload_schedcls_tether_downstream6_ether",
        SCHED_CLS,
        AID_NETWORK_STACK,
    ),
    // $opt is rejected by the verifier, optional; $stub takes the pin.
    (
        "tethering/prog_offload_schedcls_tether_upstream6_rawip",
        SCHED_CLS,
        AID_NETWORK_STACK,
    ),
    (
        "tethering/prog_offload_xdp_tether_downstream_ether",
        XDP,
        AID_NETWORK_STACK,
    ),
    (
        "netd_shared/prog_netd_cgroupskb_ingress_stats",
        CGROUP_SKB,
        AID_SYSTEM,
    ),
    (
        "netd_shared/prog_netd_cgroupskb_egress_stats",
        CGROUP_SKB,
        AID_SYSTEM,
    ),
    (
        "netd_readonly/prog_netd_skfilter_ingress_xtbpf",
        SOCKET_FILTER,
        AID_NET_ADMIN,
    ),
    (
        "netd_shared/prog_netd_schedact_ingress_account",
        SCHED_ACT,
        AID_NET_ADMIN,
    ),
    (
        "netd_shared/prog_netd_cgroupsock_inet_create",
        CGROUP_SOCK,
        0,
    ),
    (
        "netd_shared/prog_netd_bind4_inet4_bind",
        CGROUP_SOCK_ADDR,
        0,
    ),
    (
        "netd_shared/prog_netd_bind6_inet6_bind",
        CGROUP_SOCK_ADDR,
        0,
    ),
    (
        "netd_shared/prog_netd_connect4_inet4_connect",
        CGROUP_SOCK_ADDR,
        0,
    ),
    // Android 15 (loader 46) programs.
    (
        "netd_shared/prog_netd_connect6_inet6_connect",
        CGROUP_SOCK_ADDR,
        0,
    ),
    (
        "netd_shared/prog_netd_recvmsg4_udp4_recvmsg",
        CGROUP_SOCK_ADDR,
        0,
    ),
    ("netd_shared/prog_netd_getsockopt_prog", CGROUP_SOCKOPT, 0),
    (
        "net_shared/prog_clatd_schedcls_ingress6_clat_rawip",
        SCHED_CLS,
        AID_SYSTEM,
    ),
    (
        "net_shared/prog_clatd_schedcls_egress4_clat_rawip",
        SCHED_CLS,
        AID_SYSTEM,
    ),
    (
        "net_shared/prog_dscpPolicy_schedcls_set_dscp_ether",
        SCHED_CLS,
        AID_SYSTEM,
    ),
    (
        "net_private/prog_pktCount_skfilter_count",
        SOCKET_FILTER,
        AID_SYSTEM,
    ),
    // $6_1 variant (bpf_ktime_get_tai_ns) on >= 6.1.
    (
        "net_private/prog_gateMatrix_skfilter_clock",
        SOCKET_FILTER,
        AID_SYSTEM,
    ),
    (
        "net_private/prog_gateMatrix_skfilter_since_6_6",
        SOCKET_FILTER,
        AID_SYSTEM,
    ),
    (
        "net_private/prog_gateMatrix_skfilter_since_6_12",
        SOCKET_FILTER,
        AID_SYSTEM,
    ),
    (
        "prog_schedTrace_tracepoint_sched_sched_switch",
        TRACEPOINT,
        AID_SYSTEM,
    ),
    ("prog_tcpProbe_kprobe_tcp_v4_connect", KPROBE, AID_SYSTEM),
    ("prog_tcpProbe_kretprobe_tcp_v4_connect", KPROBE, AID_SYSTEM),
];

/// Gated out (or belonging to a skipped/failed object): must be ENOENT.
const EXPECTED_ABSENT: &[&str] = &[
    "tethering/map_needsNewerLoader_future_map", // object loader gate
    "tethering/prog_needsNewerLoader_skfilter_future",
    "netd_shared/map_netd_pre_4_14_stats_map", // max_kver 4.14
    "netd_shared/map_netd_kver_inf_map",       // min_kver KVER_INF
    "netd_shared/map_netd_next_loader_map",    // loader >= 0x10000
    "netd_shared/prog_netd_skfilter_allowlist_xtbpf", // max_kver 4.14
    "netd_shared/prog_netd_skfilter_denylist_xtbpf", // min_kver KVER_INF
    "netd_shared/prog_netd_skfilter_egress_xtbpf", // loader >= 0x10000
    "net_private/map_verifierReject_reject_seen_map", // rolled back
    "net_private/prog_verifierReject_skfilter_accept", // rolled back
    "prog_schedTrace_tracepoint_sched_sched_wakeup", // min_kver KVER_INF
    "net_private/map_gateMatrix_before_6_1_map", // [5.10, 6.1)
    "net_private/prog_gateMatrix_skfilter_before_6_1", // [5.10, 6.1)
    "net_private/prog_gateMatrix_skfilter_lts_6_1", // [6.1, 6.6)
    "net_private/prog_gateMatrix_skfilter_not_on_x86_64", // ignore_on_x86_64
    // Android 15 has no `cgroupsockrelease/` prefix: ignored.
    "netd_shared/prog_netd_cgroupsockrelease_inet_release",
];

/// The corpus model of `netbpfload_tests::expected` (used by the QEMU tier)
/// agrees with the hand tables above for this kernel: two independent
/// transcriptions of the C sources.
#[test]
fn corpus_model_matches_the_hand_tables() {
    use netbpfload_tests::expected::{self as model, PinKind};
    let k = kver();
    let e = model::expected(
        &model::Platform::new(
            model::Release::V,
            model::kver(k.major(), k.minor(), k.sub()),
            model::BuildType::Userdebug,
            model::Arch::X86_64,
        ),
        &model::Layout::current(),
    );
    let mut hand: BTreeMap<String, PinKind> = EXPECTED_MAPS
        .iter()
        .map(|m| {
            (
                m.rel.to_string(),
                PinKind::Map(model::MapAttrs {
                    map_type: m.map_type,
                    key_size: m.key_size,
                    value_size: m.value_size,
                    max_entries: m.max_entries,
                    map_flags: m.map_flags,
                }),
            )
        })
        .collect();
    hand.extend(
        EXPECTED_PROGS
            .iter()
            .map(|&(rel, t, _)| (rel.to_string(), PinKind::Prog(t))),
    );
    let computed: BTreeMap<String, PinKind> =
        e.pins.iter().map(|(k, v)| (k.clone(), v.kind)).collect();
    assert_eq!(computed, hand);
    for m in EXPECTED_MAPS {
        let p = &e.pins[m.rel];
        assert_eq!((p.mode, p.uid, p.gid), (m.mode, m.uid, m.gid), "{}", m.rel);
    }
    for &(rel, _, gid) in EXPECTED_PROGS {
        let p = &e.pins[rel];
        assert_eq!(
            (p.mode, p.uid, p.gid),
            (paths::PROG_PIN_MODE, 0, gid),
            "{rel}"
        );
    }
    for rel in EXPECTED_ABSENT {
        assert!(e.absent.contains(*rel), "{rel}");
    }
}

#[test]
fn corpus_loads_as_documented() {
    let env = Env::new();
    let reports = env.load_all();
    for r in &reports {
        assert!(r.error.is_none(), "{r:#?}");
    }
    for o in placed() {
        let r = report(&reports, o.file_name);
        assert_eq!(
            r.critical.is_some(),
            o.critical,
            "{}: critical",
            o.file_name
        );
        match (o.kind, &r.outcome) {
            (Kind::Good | Kind::Legacy { .. }, ObjectOutcome::Loaded { maps, programs, .. }) => {
                for p in maps.iter().chain(programs) {
                    assert!(
                        env.pin(&p.pin).exists(),
                        "{}: {} missing",
                        o.file_name,
                        p.pin
                    );
                }
            }
            (Kind::VerifierRejected | Kind::FailingCritical, ObjectOutcome::Failed { .. })
            | (Kind::LoaderVersionSkipped, ObjectOutcome::Skipped { .. }) => {
                assert_eq!(
                    env.pins_of(&obj_name(o)),
                    Vec::<String>::new(),
                    "{}",
                    o.file_name
                );
            }
            (kind, outcome) => panic!("{}: expected {kind:?}, got {outcome:#?}", o.file_name),
        }
    }
    for e in EXPECTED_MAPS {
        let path = env.pin(e.rel);
        assert_eq!(
            bpffs::mode_owner(&path),
            (e.mode, e.uid, e.gid),
            "{}",
            e.rel
        );
        let i = bpffs::map_info(&path);
        assert_eq!(
            (
                i.map_type,
                i.key_size,
                i.value_size,
                i.max_entries,
                i.map_flags
            ),
            (
                e.map_type,
                e.key_size,
                e.value_size,
                e.max_entries,
                e.map_flags
            ),
            "{}",
            e.rel
        );
    }
    for &(rel, prog_type, gid) in EXPECTED_PROGS {
        let path = env.pin(rel);
        assert_eq!(
            bpffs::mode_owner(&path),
            (paths::PROG_PIN_MODE, 0, gid),
            "{rel}"
        );
        assert_eq!(bpffs::prog_info(&path).prog_type, prog_type, "{rel}");
    }
    // Nothing else was pinned.
    let mut expected: Vec<String> = EXPECTED_MAPS
        .iter()
        .map(|e| e.rel)
        .chain(EXPECTED_PROGS.iter().map(|p| p.0))
        .map(str::to_string)
        .collect();
    expected.sort();
    assert_eq!(env.tree(), expected);
    for rel in EXPECTED_ABSENT {
        assert_eq!(
            bpffs::obj_get_errno(&env.pin(rel), BPF_F_RDONLY),
            Some(libc::ENOENT),
            "{rel} must be gated out"
        );
    }
    // No temporary pin survives the rename dance.
    let tmp: Vec<String> = env
        .tree()
        .into_iter()
        .filter(|p| p.rsplit('/').next().is_some_and(|n| n.starts_with("tmp_")))
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

/// Attaches the pinned pktCount socket filter to a loopback UDP socket,
/// passes `packets` datagrams through it and returns the counter in
/// `map_pktCount_packet_count_map` (key 0).
fn count_packets(env: &Env, packets: u64) -> u64 {
    let prog = bpffs::obj_get(
        &env.pin("net_private/prog_pktCount_skfilter_count"),
        BPF_F_RDONLY,
    )
    .expect("prog pin");
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind rx");
    let fd: libc::c_int = prog.as_raw_fd();
    // SAFETY: setsockopt on our socket with a pointer to a live c_int of the
    // size we pass.
    let r = unsafe {
        libc::setsockopt(
            rx.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_BPF,
            &fd as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "SO_ATTACH_BPF: {}", std::io::Error::last_os_error());
    rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind tx");
    let to = rx.local_addr().expect("addr");
    let mut buf = [0u8; 16];
    for _ in 0..packets {
        tx.send_to(b"ping", to).expect("send");
        let (n, _) = rx
            .recv_from(&mut buf)
            .expect("recv: the filter keeps packets");
        assert_eq!(&buf[..n], b"ping");
    }
    let map = bpffs::obj_get(
        &env.pin("net_private/map_pktCount_packet_count_map"),
        BPF_F_RDONLY,
    )
    .expect("map pin");
    let mut value = [0u8; 8];
    LinuxSys
        .map_lookup(map.as_fd(), &0u32.to_ne_bytes(), &mut value)
        .expect("lookup key 0");
    u64::from_ne_bytes(value)
}

#[test]
fn socket_filter_counts_packets() {
    let env = Env::new();
    env.load_all();
    assert_eq!(count_packets(&env, 7), 7);
}

#[test]
fn program_reloaded_against_reused_map_still_writes_it() {
    // The map pin is reused through a read-only BPF_OBJ_GET, as the reference
    // does; a program relocated against that fd must still update the map.
    let env = Env::new();
    env.load_all();
    assert_eq!(count_packets(&env, 3), 3);
    std::fs::remove_file(env.pin("net_private/prog_pktCount_skfilter_count")).expect("unpin");
    let r = engine::load_location(&LinuxSys, &env.cfg, &env.location_of("net_private/"));
    match &report(std::slice::from_ref(&r), "pktCount.o").outcome {
        ObjectOutcome::Loaded { maps, programs, .. } => {
            assert!(maps.iter().all(|m| m.reused));
            assert!(programs.iter().all(|p| !p.reused));
        }
        o => panic!("{o:#?}"),
    }
    assert_eq!(count_packets(&env, 4), 7);
}

#[test]
fn shared_map_is_one_kernel_map() {
    // netShared.h: clatd.o and dscpPolicy.o (net_shared/) both declare
    // net_config_map, pinned once as net_shared/map__net_config_map.
    corpus("clatd.o");
    corpus("dscpPolicy.o");
    let env = Env::new();
    let reports = env.load_all();
    let rel = "net_shared/map__net_config_map";
    let mut seen = Vec::new();
    for f in ["clatd.o", "dscpPolicy.o"] {
        match &report(&reports, f).outcome {
            ObjectOutcome::Loaded { maps, .. } => {
                let p = maps
                    .iter()
                    .find(|p| p.pin == rel)
                    .unwrap_or_else(|| panic!("{f} does not report {rel}: {maps:#?}"));
                seen.push((p.id, p.reused));
            }
            o => panic!("{f}: {o:#?}"),
        }
    }
    assert_eq!(seen[0].0, seen[1].0, "same map id");
    assert_eq!(
        seen.iter().filter(|(_, reused)| !reused).count(),
        1,
        "created by the first object loaded, reused by the other: {seen:?}"
    );
    assert_eq!(bpffs::map_info(&env.pin(rel)).id, seen[0].0);
}

#[test]
fn rerun_reuses_every_pin() {
    let env = Env::new();
    let first = env.load_all();
    let tree = env.tree();
    let second = env.load_all();
    let (a, b) = (pin_ids(&first), pin_ids(&second));
    assert!(!a.is_empty());
    assert_eq!(
        a.iter().map(|(k, v)| (k, v.0)).collect::<Vec<_>>(),
        b.iter().map(|(k, v)| (k, v.0)).collect::<Vec<_>>(),
        "same pins, same ids"
    );
    assert!(b.values().all(|(_, reused)| *reused), "{b:#?}");
    assert_eq!(env.tree(), tree, "nothing new pinned");
    for rel in a.keys() {
        let path = env.pin(rel);
        let id = if rel
            .rsplit('/')
            .next()
            .is_some_and(|n| n.starts_with("prog_"))
        {
            bpffs::prog_info(&path).id
        } else {
            bpffs::map_info(&path).id
        };
        assert_eq!(Some(id), a.get(rel).map(|v| v.0), "{rel}");
    }
}

#[test]
fn incompatible_existing_pin_fails_only_that_object() {
    let offload = corpus("offload@mainline.o");
    let env = Env::new();
    // tether_limit_map is HASH u32 -> u64 (value_size 8); pin one with 16.
    let rel = "tethering/map_offload_tether_limit_map";
    let fd = LinuxSys
        .map_create(&MapCreateAttr {
            map_type: HASH,
            key_size: 4,
            value_size: 16,
            max_entries: 16,
            map_flags: 0,
            name: "squatter".into(),
            btf: None,
        })
        .expect("create");
    LinuxSys.obj_pin(fd.as_fd(), &env.pin(rel)).expect("pin");
    let id = LinuxSys.map_info(fd.as_fd()).expect("info").id;
    drop(fd);

    let loc = env.location_of("tethering/");
    let r = engine::load_location(&LinuxSys, &env.cfg, &loc);
    match &report(std::slice::from_ref(&r), offload.file_name).outcome {
        ObjectOutcome::Failed {
            error: ObjectError::Load(LoadError::MapMismatch { pin, field, .. }),
        } => assert_eq!((pin.as_str(), *field), (rel, "value_size")),
        o => panic!("{o:#?}"),
    }
    assert_eq!(bpffs::map_info(&env.pin(rel)).id, id, "existing pin intact");
    assert_eq!(
        env.pins_of("offload"),
        vec![rel.to_string()],
        "nothing of the failed object was pinned"
    );
    // The rest of the location is unaffected.
    for o in placed().filter(|o| o.location == offload.location && o.file_name != offload.file_name)
    {
        let got = &report(std::slice::from_ref(&r), o.file_name).outcome;
        let ok = match o.kind {
            Kind::Good | Kind::Legacy { .. } => matches!(got, ObjectOutcome::Loaded { .. }),
            Kind::LoaderVersionSkipped => matches!(got, ObjectOutcome::Skipped { .. }),
            Kind::VerifierRejected | Kind::FailingCritical | Kind::NeedsBtf => {
                matches!(got, ObjectOutcome::Failed { .. })
            }
            // Loaded without BTF (Android 15's rules).
            Kind::BtfRejected { .. } => matches!(got, ObjectOutcome::Loaded { .. }),
            // Never placed in an Android location (tests/tests/libbpf.rs).
            Kind::Libbpf { .. } | Kind::LibbpfRejected { .. } => false,
        };
        assert!(ok, "{}: {got:#?}", o.file_name);
    }
}

#[test]
fn program_pinned_at_a_map_path_fails_the_object() {
    let offload = corpus("offload@mainline.o");
    let env = Env::new();
    // `r0 = 0; exit`, pinned where offload expects tether_limit_map.
    let insns = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let prog = LinuxSys
        .prog_load(
            &netbpfload::sys::ProgLoadAttr {
                prog_type: SOCKET_FILTER,
                expected_attach_type: 0,
                insns: &insns,
                license: "GPL",
                kern_version: 0,
                name: "squatter",
            },
            &mut [],
        )
        .expect("load");
    let rel = "tethering/map_offload_tether_limit_map";
    LinuxSys.obj_pin(prog.as_fd(), &env.pin(rel)).expect("pin");
    let id = LinuxSys.prog_info(prog.as_fd()).expect("info").id;
    drop(prog);
    // LinuxSys hands out an fd from a pin only for the kind asked for.
    let pin = env.pin(rel);
    let e = LinuxSys
        .obj_get(&pin, BPF_F_RDONLY, ObjKind::Map)
        .expect_err("a program is not a map");
    assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
    let prog_id_at_pin = || {
        let fd = LinuxSys
            .obj_get(&pin, BPF_F_RDONLY, ObjKind::Prog)
            .expect("the program at the map path");
        LinuxSys.prog_info(fd.as_fd()).expect("info").id
    };
    assert_eq!(prog_id_at_pin(), id);

    let r = engine::load_location(&LinuxSys, &env.cfg, &env.location_of("tethering/"));
    match &report(std::slice::from_ref(&r), offload.file_name).outcome {
        ObjectOutcome::Failed {
            error:
                ObjectError::Load(LoadError::NotOurPin {
                    pin, found, uid, ..
                }),
        } => assert_eq!(
            (pin.as_str(), found.as_str(), *uid),
            (rel, "a pinned program", 0)
        ),
        o => panic!("{o:#?}"),
    }
    assert_eq!(prog_id_at_pin(), id, "foreign pin intact");
    assert_eq!(env.pins_of("offload"), vec![rel.to_string()]);
}

#[test]
fn verifier_rejected_object_fails_alone_with_its_log() {
    let rejected: Vec<&CorpusObject> = placed()
        .filter(|o| o.kind == Kind::VerifierRejected)
        .collect();
    assert!(
        !rejected.is_empty(),
        "the corpus must place a Kind::VerifierRejected object (verifierReject.o)"
    );
    let env = Env::new();
    let reports = env.load_all();
    for o in rejected {
        let r = report(&reports, o.file_name);
        match &r.outcome {
            ObjectOutcome::Failed { error } => {
                assert_eq!(error.kind(), ErrorKind::Load, "{error}");
                assert_eq!(error.reason(), "prog_load", "{error}");
                assert_eq!(error.errno(), Some(libc::EACCES), "errno kept: {error}");
                let log = error.verifier_log().unwrap_or_default();
                assert!(
                    log.contains("invalid mem access 'map_value_or_null'"),
                    "{}: {log}",
                    o.file_name
                );
            }
            out => panic!("{}: {out:#?}", o.file_name),
        }
        assert_eq!(env.pins_of(&obj_name(o)), Vec::<String>::new());
        // Its location still loaded the good objects.
        for other in placed().filter(|x| x.location == o.location && x.kind == Kind::Good) {
            assert!(
                matches!(
                    report(&reports, other.file_name).outcome,
                    ObjectOutcome::Loaded { .. }
                ),
                "{}",
                other.file_name
            );
        }
    }
}

/// Outcome of `BPF_OBJ_GET`: `Ok` or the errno.
type Access = Result<(), i32>;

#[test]
fn unprivileged_access_follows_mode_and_group() {
    let env = Env::new();
    env.load_all();
    let eacces = Err(libc::EACCES);
    // (pin, group that the declared gid grants, [RDONLY, RDWR] with it)
    let cases: &[(&str, u32, [Access; 2])] = &[
        // 0660 root:system
        (
            "net_private/map_pktCount_two_entry_map",
            AID_SYSTEM,
            [Ok(()), Ok(())],
        ),
        // 0440 root:network_stack
        (
            "tethering/map_offload_tether_error_map",
            AID_NETWORK_STACK,
            [Ok(()), eacces],
        ),
        // programs: 0440 root:gid
        (
            "net_private/prog_pktCount_skfilter_count",
            AID_SYSTEM,
            [Ok(()), eacces],
        ),
        // 0060 root:net_bw_acct: only the group may use it
        (
            "netd_shared/map_netd_configuration_map",
            AID_NET_BW_ACCT,
            [Ok(()), Ok(())],
        ),
        // 0000 root:system: nobody but root
        (
            "net_shared/map_dscpPolicy_socket_policy_cache_map",
            AID_SYSTEM,
            [eacces, eacces],
        ),
        // 0600 root:root: the group gives nothing
        (
            "net_private/map_pktCount_packet_count_map",
            AID_SYSTEM,
            [eacces, eacces],
        ),
    ];
    for (rel, gid, with_group) in cases {
        let path = env.pin(rel);
        for (flags, expected) in [BPF_F_RDONLY, 0].into_iter().zip(with_group) {
            assert_eq!(
                bpffs::obj_get_as(NOBODY, NOBODY, &[*gid], &path, flags),
                *expected,
                "{rel} flags {flags:#x} as nobody in group {gid}"
            );
            assert_eq!(
                bpffs::obj_get_as(NOBODY, NOBODY, &[], &path, flags),
                eacces,
                "{rel} flags {flags:#x} as nobody without groups"
            );
        }
        // Root (CAP_DAC_OVERRIDE) opens everything.
        assert_eq!(
            bpffs::obj_get_as(0, 0, &[], &path, 0),
            Ok(()),
            "{rel} as root"
        );
    }
}

#[test]
fn cli_load_json_end_to_end() {
    let env = Env::new();
    let bin = netbpfload_bin();
    for loc in env.locations() {
        let role = if loc.prefix.is_empty() {
            "platform"
        } else {
            "mainline"
        };
        let out = std::process::Command::new(&bin)
            .arg("load")
            .arg("--location")
            .arg(&loc.dir)
            .args(["--prefix", &loc.prefix, "--json", "--role", role])
            .args(["--run-lock", "none"])
            .arg("--bpffs")
            .arg(env.fs.path())
            .output()
            .expect("run netbpfload");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let json = netbpfload_tests::schema::parse_valid(&out.stdout);
        assert_eq!(json["schema_version"], 2, "{stdout}");
        let objects = json["location"]["objects"].as_array().expect("objects");
        let mut expected_code = 0;
        for o in placed().filter(|o| {
            o.location
                .is_some_and(|l| Location::new("/", l.bpffs_prefix()).prefix == loc.prefix)
        }) {
            let j = objects
                .iter()
                .find(|j| {
                    j["file"]
                        .as_str()
                        .is_some_and(|f| f.ends_with(&format!("/{}", o.file_name)))
                })
                .unwrap_or_else(|| panic!("{} missing from {stdout}", o.file_name));
            let status = j["outcome"]["status"].as_str().expect("status");
            let want = match o.kind {
                Kind::Good | Kind::Legacy { .. } | Kind::BtfRejected { .. } => "loaded",
                Kind::LoaderVersionSkipped => "skipped",
                Kind::VerifierRejected | Kind::FailingCritical | Kind::NeedsBtf => "failed",
                // Placed only by tests/tests/libbpf.rs.
                Kind::Libbpf { .. } => "loaded",
                Kind::LibbpfRejected { .. } => "failed",
            };
            assert_eq!(status, want, "{}: {j:#}", o.file_name);
            if status == "failed" {
                expected_code = expected_code.max(if o.critical { 2 } else { 1 });
                let e = &j["outcome"]["error"];
                assert!(e["kind"].is_string() && e["message"].is_string(), "{e:#}");
            }
            for p in j["outcome"]["maps"]
                .as_array()
                .into_iter()
                .chain(j["outcome"]["programs"].as_array())
                .flatten()
            {
                let rel = p["pin"].as_str().expect("pin");
                assert!(env.pin(rel).exists(), "{rel}");
                // Fresh bpffs: only a shared map (`map__<name>`) can have
                // been pinned by an earlier object of the same location.
                if !rel.contains("/map__") {
                    assert_eq!(p["action"], "created", "{rel}");
                }
            }
        }
        assert_eq!(
            out.status.code(),
            Some(expected_code),
            "{}: {stdout}\n{}",
            loc.prefix,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Human output on a second run: everything reused.
    let loc = env.location_of("net_private/");
    let out = std::process::Command::new(&bin)
        .arg("load")
        .arg("--location")
        .arg(&loc.dir)
        .args(["--prefix", "net_private/", "--run-lock", "none"])
        .arg("--bpffs")
        .arg(env.fs.path())
        .output()
        .expect("run netbpfload");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("prog net_private/prog_pktCount_skfilter_count (id "),
        "{text}"
    );
    assert!(text.contains(", reused)"), "{text}");
    assert!(!text.contains(", new)"), "{text}");
}
