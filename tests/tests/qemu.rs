//! QEMU boot tier: three boots of Debian's kernel (TCG) with our initramfs,
//! each running the real chain netbpfload -> bpfloader -> netbpfload done
//! as `init/netbpfload.35rc` declares the service (see `tests/qemu/init.sh`).
//!
//! Run: `cargo test -p netbpfload-tests --test qemu -- --test-threads=1`
//! (root not needed; qemu-system-x86, linux-image-amd64, busybox-static,
//! cpio and util-linux must be installed, else the tests fail saying so).
//!
//! Expected pins, modes and owners are read off the corpus C sources in
//! `bpf-progs/src/progs/` (the DEFINE_BPF_* lines) and the reference's pin
//! naming (`docs/object-format.md#pin-paths`); AIDs: system 1000, network_stack 1073, net_admin 3005,
//! net_bw_stats 3006, net_bw_acct 3007.

use netbpfload_tests::qemu::{Boot, Image};

const BPF: &str = "/sys/fs/bpf";

/// `(path under /sys/fs/bpf, mode, uid, gid)` of pins the good corpus must
/// produce on a 6.1 kernel with loader version 45 on a user build.
const EXPECTED_PINS: &[(&str, u32, u32, u32)] = &[
    // offload.c (tethering/): GRW/RO maps of network_stack, progs 0440.
    ("tethering/map_offload_tether_stats_map", 0o660, 0, 1073),
    ("tethering/map_offload_tether_limit_map", 0o660, 0, 1073),
    ("tethering/map_offload_tether_error_map", 0o440, 0, 1073),
    ("tethering/map_offload_tether_dev_map", 0o660, 0, 1073),
    (
        "tethering/prog_offload_schedcls_tether_downstream6_ether",
        0o440,
        0,
        1073,
    ),
    (
        "tethering/prog_offload_xdp_tether_downstream_ether",
        0o440,
        0,
        1073,
    ),
    // $opt is rejected on this kernel, $stub takes the same pin name.
    (
        "tethering/prog_offload_schedcls_tether_upstream6_rawip",
        0o440,
        0,
        1073,
    ),
    // netd.c (netd_shared/).
    ("netd_shared/map_netd_cookie_tag_map", 0o660, 0, 3007),
    ("netd_shared/map_netd_uid_owner_map", 0o460, 0, 3007),
    ("netd_shared/map_netd_configuration_map", 0o060, 0, 3007),
    ("netd_shared/map_netd_iface_stats_map", 0o640, 0, 3006),
    ("netd_shared/map_netd_iface_index_name_map", 0o640, 0, 1000),
    ("netd_shared/map_netd_packet_trace_ringbuf", 0o660, 0, 1000),
    ("netd_shared/map_netd_ingress_discard_map", 0o640, 0, 3007),
    (
        "netd_shared/map_netd_packet_trace_enabled_map",
        0o660,
        0,
        1000,
    ),
    (
        "netd_shared/prog_netd_cgroupskb_ingress_stats",
        0o440,
        0,
        1000,
    ),
    (
        "netd_shared/prog_netd_cgroupskb_egress_stats",
        0o440,
        0,
        1000,
    ),
    (
        "netd_shared/prog_netd_schedact_ingress_account",
        0o440,
        0,
        3005,
    ),
    ("netd_shared/prog_netd_cgroupsock_inet_create", 0o440, 0, 0),
    ("netd_shared/prog_netd_bind4_inet4_bind", 0o440, 0, 0),
    // pin_subdir netd_readonly.
    ("netd_readonly/map_netd_uid_permission_map", 0o460, 0, 3007),
    (
        "netd_readonly/prog_netd_skfilter_ingress_xtbpf",
        0o440,
        0,
        3005,
    ),
    // clatd.c, dscpPolicy.c and the shared map (net_shared/).
    ("net_shared/map_clatd_clat_ingress6_map", 0o660, 0, 1000),
    ("net_shared/map_clatd_clat_egress4_map", 0o660, 0, 1000),
    (
        "net_shared/prog_clatd_schedcls_ingress6_clat_rawip",
        0o440,
        0,
        1000,
    ),
    (
        "net_shared/prog_clatd_schedcls_egress4_clat_rawip",
        0o440,
        0,
        1000,
    ),
    (
        "net_shared/map_dscpPolicy_socket_policy_cache_map",
        0o000,
        0,
        1000,
    ),
    (
        "net_shared/map_dscpPolicy_ipv4_dscp_policies_map",
        0o660,
        0,
        1000,
    ),
    ("net_shared/map__net_config_map", 0o660, 0, 1000),
    // pktCount.c (net_private/).
    ("net_private/map_pktCount_packet_count_map", 0o600, 0, 0),
    ("net_private/map_pktCount_two_entry_map", 0o660, 0, 1000),
    ("net_private/prog_pktCount_skfilter_count", 0o440, 0, 1000),
];

/// Pins the follow-up (platform) loader creates at the bpffs root.
const PLATFORM_PINS: &[(&str, u32, u32, u32)] = &[
    (
        "prog_schedTrace_tracepoint_sched_sched_switch",
        0o440,
        0,
        1000,
    ),
    ("map_schedTrace_cpu_pid_map", 0o640, 0, 1000),
    ("map_schedTrace_switch_count_map", 0o640, 0, 1000),
    ("prog_tcpProbe_kprobe_tcp_v4_connect", 0o440, 0, 1000),
    ("prog_tcpProbe_kretprobe_tcp_v4_connect", 0o440, 0, 1000),
    ("map_tcpProbe_tcp_connect_count_map", 0o640, 0, 1000),
];

/// Pins gates keep out (and objects that fail or are skipped leave none).
const ABSENT_PINS: &[&str] = &[
    "netd_shared/map_netd_pre_4_14_stats_map",  // max_kver 4.14
    "netd_shared/map_netd_kver_inf_map",        // min_kver KVER_INF
    "netd_shared/map_netd_next_loader_map",     // min loader ver 0x10000
    "netd_shared/map_netd_lock_array_test_map", // ignore_on_user
    "netd_shared/prog_netd_skfilter_allowlist_xtbpf", // max_kver 4.14
    "netd_shared/prog_netd_skfilter_denylist_xtbpf", // min_kver KVER_INF
    "netd_shared/prog_netd_skfilter_egress_xtbpf", // min loader ver 0x10000
    "tethering/map_needsNewerLoader_future_map", // object min ver
    "tethering/prog_needsNewerLoader_skfilter_future",
    "net_private/map_verifierReject_reject_seen_map", // object fails: rolled back
    "net_private/prog_verifierReject_skfilter_accept",
    "prog_schedTrace_tracepoint_sched_sched_wakeup", // min_kver KVER_INF
];

/// Every directory the loaders create: mode 01777, root-owned.
const DIRS: &[&str] = &[
    "tethering",
    "netd_shared",
    "netd_readonly",
    "net_shared",
    "net_private",
    "loader",
    "vendor",
];

fn path(rel: &str) -> String {
    format!("{BPF}/{rel}")
}

fn assert_pins(b: &Boot, pins: &[(&str, u32, u32, u32)]) {
    for &(rel, mode, uid, gid) in pins {
        let p = b.pin(&path(rel));
        assert_eq!(
            (p.mode, p.uid, p.gid),
            (mode, uid, gid),
            "{rel}: mode/owner {:o} {}:{}",
            p.mode,
            p.uid,
            p.gid
        );
        assert_ne!(p.kind, "directory", "{rel}");
    }
}

fn assert_absent(b: &Boot, rels: &[&str]) {
    for rel in rels {
        assert!(!b.pins.contains_key(&path(rel)), "{rel} must not be pinned");
    }
}

fn assert_no_tmp_pins(b: &Boot) {
    let tmp: Vec<&String> = b
        .pins
        .keys()
        .filter(|p| p.rsplit('/').next().is_some_and(|n| n.starts_with("tmp_")))
        .collect();
    assert!(tmp.is_empty(), "leftover temporary pins {tmp:?}");
}

#[test]
fn good_corpus_boot_runs_the_whole_chain() {
    let b = Image::standard().boot();
    assert_eq!(b.exit, 0, "chain exit status; log:\n{}", b.log.join("\n"));
    for d in DIRS {
        let p = b.pin(&path(d));
        assert_eq!(
            (p.kind.as_str(), p.mode, p.uid, p.gid),
            ("directory", 0o1777, 0, 0),
            "{d}"
        );
    }
    assert_pins(&b, EXPECTED_PINS);
    assert_absent(&b, ABSENT_PINS);
    assert_no_tmp_pins(&b);
    // Sysctls written by the V mainline loader.
    assert_eq!(b.sysctls["kernel/unprivileged_bpf_disabled"], "0");
    assert_eq!(b.sysctls["net/core/bpf_jit_enable"], "1");
    assert_eq!(b.sysctls["net/core/bpf_jit_kallsyms"], "1");
    // The follow-up loader ran: its pins and its log line.
    assert_pins(&b, PLATFORM_PINS);
    assert!(
        b.logged(&["bpfloader", "starting:", "API level 35"]),
        "no follow-up loader log line:\n{}",
        b.log.join("\n")
    );
    assert!(b.logged(&["bpfloader: platform eBPF objects loaded"]));
    // ... and executed `netbpfload done`.
    assert_eq!(b.progs_loaded, "1");
    assert!(b.logged(&["netbpfload done: bpf.progs_loaded=1"]));
    // The non-critical verifier reject is reported, by name, with a reason.
    assert!(
        b.logged(&["verifierReject.o", "failed"]),
        "{}",
        b.log.join("\n")
    );
}

#[test]
fn failing_critical_object_stops_the_boot_with_status_2() {
    let img = Image::standard();
    let obj = bpf_progs::OBJECTS
        .iter()
        .find(|o| o.kind == bpf_progs::Kind::FailingCritical)
        .expect("the corpus has a FailingCritical object");
    assert!(obj.critical);
    // Into net_shared/, the fourth mainline location.
    img.write(
        &format!(
            "apex/com.android.tethering/etc/bpf/net_shared/{}",
            obj.file_name
        ),
        obj.bytes,
        0o644,
    );
    // The reference waits 20 s; 1 s keeps the test fast.
    img.extra_args(&["--critical-delay-secs=1"]);
    let b = img.boot();

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
    // Earlier locations loaded; the rest of net_shared/ was still attempted.
    assert_pins(
        &b,
        &[
            ("tethering/map_offload_tether_stats_map", 0o660, 0, 1073),
            ("netd_shared/map_netd_cookie_tag_map", 0o660, 0, 3007),
            (
                "net_shared/prog_clatd_schedcls_ingress6_clat_rawip",
                0o440,
                0,
                1000,
            ),
            (
                "net_shared/map_dscpPolicy_ipv4_dscp_policies_map",
                0o660,
                0,
                1000,
            ),
        ],
    );
    // Nothing of the failed object, nothing of the later location, no
    // follow-up loader, no progs_loaded.
    let stem = obj.file_name.trim_end_matches(".o");
    assert!(
        !b.pins.keys().any(|p| p.contains(stem)),
        "pins of {stem} left behind"
    );
    assert!(!b
        .pins
        .contains_key(&path("net_private/map_pktCount_packet_count_map")));
    assert!(!b.pins.contains_key(&path(PLATFORM_PINS[0].0)));
    assert_eq!(b.progs_loaded, "unset");
    assert_no_tmp_pins(&b);
}

#[test]
fn zero_filled_and_truncated_objects_do_not_stop_the_boot() {
    let img = Image::standard();
    let dir = "apex/com.android.tethering/etc/bpf";
    // Android 15 keeps the tethering objects in etc/bpf/ itself.
    img.write(&format!("{dir}/zeroes.o"), &[0u8; 4096], 0o644);
    let netd = bpf_progs::object("netd.o").expect("netd.o in the corpus");
    let half = netd.bytes.get(..netd.bytes.len() / 2).expect("non-empty");
    img.write(&format!("{dir}/net_private/truncated.o"), half, 0o644);
    let b = img.boot();

    assert_eq!(b.exit, 0, "log:\n{}", b.log.join("\n"));
    assert_eq!(b.progs_loaded, "1");
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
        let stem = bad.trim_end_matches(".o");
        assert!(!b.pins.keys().any(|p| p.contains(stem)), "{stem} pinned");
    }
    assert_pins(&b, EXPECTED_PINS);
    assert_pins(&b, PLATFORM_PINS);
    assert_no_tmp_pins(&b);
}

#[test]
fn btf_boot_creates_sk_storage_on_6_1_and_bad_btf_fails_alone() {
    // A 2025 main device: maps typed with each object's .BTF on kernels
    // >= 5.10, and any failure in a mainline location fails the boot. The
    // three BTF objects join net_private/, the last mainline location, where
    // verifierReject.o already fails: that location loads what it can, then
    // the boot stops (exit 2) before the platform loader, as 25Q2 does.
    let img = Image::for_release(netbpfload::release::Release::R25Q2);
    let dir = "apex/com.android.tethering/etc/bpf/net_private";
    for name in ["skStorage.o", "btfMismatch.o", "btfCorrupt.o"] {
        let o = bpf_progs::object(name).expect("BTF object in the corpus");
        img.write(&format!("{dir}/{name}"), o.bytes, 0o644);
    }
    let b = img.boot();

    assert_eq!(b.exit, 2, "log:\n{}", b.log.join("\n"));
    // An SK_STORAGE map exists only if the kernel took its BTF key/value
    // types (skStorage.c: DEFINE_BPF_MAP_GRW(..., AID_SYSTEM) -> 0660 0:1000).
    assert_pins(
        &b,
        &[
            ("net_private/map_skStorage_sk_storage_map", 0o660, 0, 1000),
            ("net_private/map_skStorage_sk_created_map", 0o640, 0, 1000),
            (
                "net_private/prog_skStorage_cgroupsock_sk_storage_stamp",
                0o440,
                0,
                1000,
            ),
        ],
    );
    for (name, reason) in [
        ("btfMismatch.o", "map mismatch_map: BTF key/value sizes 4/4"),
        ("btfCorrupt.o", "malformed .BTF: type 1: unknown kind 31"),
        ("verifierReject.o", "BPF_PROG_LOAD"),
    ] {
        assert!(
            b.logged(&[name, reason]),
            "{name}: reason not logged:\n{}",
            b.log.join("\n")
        );
        let stem = name.trim_end_matches(".o");
        assert!(!b.pins.keys().any(|p| p.contains(stem)), "{stem} pinned");
    }
    assert!(
        b.logged(&["CRITICAL FAILURE loading eBPF objects from"]),
        "{}",
        b.log.join("\n")
    );
    // Every good object loads with BTF as without; nothing after the
    // failing location runs.
    assert_pins(&b, EXPECTED_PINS);
    assert!(!b.pins.contains_key(&path(PLATFORM_PINS[0].0)));
    assert!(!b.pins.contains_key(&path("netd_shared/mainline_done")));
    assert_eq!(b.progs_loaded, "unset");
    assert_no_tmp_pins(&b);
}
