//! Parses the `bpf-progs` corpus and checks every field against the values
//! written in the C sources (`bpf-progs/src/progs/*.c`, macros in
//! `bpf-progs/include/`). Expected values are transcribed from the sources,
//! not from parser output.

use netbpfload::gate::{Arch, BuildType, GateEnv};
use netbpfload::parse::parse_object;
use netbpfload::paths::Location;
use netbpfload::plan::{plan_object, LoadPlan, ObjectPlan, PlanEnv};
use netbpfload::release::{Release, Role};
use netbpfload::spec::{Domain, IgnoreOn, Kver, MapSpec, ObjectSpec, ProgramSpec};
use std::path::Path;

// From bpf_map_def.h.
const AID_ROOT: u32 = 0;
const AID_SYSTEM: u32 = 1000;
const AID_NETWORK_STACK: u32 = 1073;
const KVER_INF: Kver = Kver(0xFFFF_FFFF);
const KVER_NONE: Kver = Kver(0);
// Kernel UAPI enums.
const HASH: u32 = 1;
const ARRAY: u32 = 2;
const DEVMAP_HASH: u32 = 25;
const SOCKET_FILTER: u32 = 1;
const SCHED_CLS: u32 = 3;
const XDP: u32 = 6;

fn corpus(file_name: &str) -> ObjectSpec {
    let obj = bpf_progs::object(file_name)
        .unwrap_or_else(|| panic!("{file_name} is not in bpf_progs::OBJECTS"));
    let path = format!("/apex/com.android.tethering/etc/bpf/x/{file_name}");
    parse_object(Path::new(&path), obj.bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// The plan of `spec` under Android 15's mainline rules as root on a 6.1
/// arm64 user build, at a location whose pins go under `prefix`.
fn plan(spec: &ObjectSpec, prefix: &str) -> LoadPlan {
    plan_on(spec, prefix, Kver::new(6, 1, 0))
}

/// [`plan`] on kernel `kver`.
fn plan_on(spec: &ObjectSpec, prefix: &str, kver: Kver) -> LoadPlan {
    let rules = Release::V.rules().role(Role::Mainline);
    let location = Location::new("/apex/com.android.tethering/etc/bpf/x", prefix);
    let env = PlanEnv {
        rules,
        gate: GateEnv {
            loader_ver: Release::V.loader_version(netbpfload::release::API_V, true),
            kver,
            build_type: BuildType::User,
            arch: Arch::Aarch64,
        },
        location: &location,
        page_size: 4096,
        map_bytes: netbpfload::plan::MapBytes {
            max: 1 << 30,
            cpus: 2,
        },
        tmp_tag: "1_0",
        on_change: Default::default(),
    };
    match plan_object(spec, &env).unwrap_or_else(|e| panic!("{e}")) {
        ObjectPlan::Load(p) => p,
        ObjectPlan::Skip { reason } => panic!("object skipped: {reason:?}"),
    }
}

/// `(map name, final pin)` of every map the plan loads.
fn map_pins(spec: &ObjectSpec, prefix: &str) -> Vec<(String, String)> {
    plan(spec, prefix)
        .map_loads()
        .map(|m| (m.name.clone(), m.pin.rel.clone()))
        .collect()
}

/// Final pin of every program the plan loads, in section order.
fn prog_pins(spec: &ObjectSpec, prefix: &str) -> Vec<String> {
    plan(spec, prefix)
        .prog_loads()
        .map(|p| p.pin.rel.clone())
        .collect()
}

fn map<'a>(spec: &'a ObjectSpec, name: &str) -> &'a MapSpec {
    spec.maps
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no map {name}"))
}

fn prog<'a>(spec: &'a ObjectSpec, section: &str) -> &'a ProgramSpec {
    spec.programs
        .iter()
        .find(|p| p.section == section)
        .unwrap_or_else(|| panic!("no program {section}"))
}

/// A map declared with one of the plain `DEFINE_BPF_MAP*` macros: no gates,
/// no domains, not shared, default flags.
fn assert_plain_map(
    spec: &ObjectSpec,
    name: &str,
    (map_type, key, value, entries): (u32, u32, u32, u32),
    (uid, gid, mode): (u32, u32, u32),
) {
    let d = &map(spec, name).def;
    assert_eq!(
        (
            d.map_type,
            d.key_size,
            d.value_size,
            d.max_entries,
            d.map_flags
        ),
        (map_type, key, value, entries, 0),
        "{name}"
    );
    assert_eq!(
        (d.uid, d.gid, d.mode, d.zero),
        (uid, gid, mode, 0),
        "{name}"
    );
    assert_eq!((d.min_kver, d.max_kver), (KVER_NONE, KVER_INF), "{name}");
    assert_eq!(
        (d.bpfloader_min_ver, d.bpfloader_max_ver),
        (0, 0x10000),
        "{name}"
    );
    assert_eq!(d.selinux_context, Domain::Unspecified, "{name}");
    assert_eq!(d.pin_subdir, Domain::Unspecified, "{name}");
    assert!(!d.shared, "{name}");
    assert_eq!(d.ignore_on, IgnoreOn::default(), "{name}");
}

/// Checks a program's kind, names, def and the maps its relocations name.
#[expect(
    clippy::too_many_arguments,
    reason = "one row of the expectation table"
)]
fn assert_prog(
    spec: &ObjectSpec,
    section: &str,
    (prog_type, attach): (u32, u32),
    (kernel_name, pin_name, func): (&str, &str, &str),
    (uid, gid): (u32, u32),
    (min_kver, max_kver): (Kver, Kver),
    optional: bool,
    reloc_maps: &[&str],
) {
    let p = prog(spec, section);
    assert_eq!(
        (p.kind.prog_type, p.kind.expected_attach_type),
        (prog_type, attach),
        "{section}"
    );
    assert_eq!(
        (
            p.kernel_name.as_str(),
            p.pin_name.as_str(),
            p.func_name.as_str()
        ),
        (kernel_name, pin_name, func),
        "{section}"
    );
    let d = &p.def;
    assert_eq!((d.uid, d.gid), (uid, gid), "{section}");
    assert_eq!((d.min_kver, d.max_kver), (min_kver, max_kver), "{section}");
    assert_eq!(d.optional, optional, "{section}");
    assert_eq!(
        (d.bpfloader_min_ver, d.bpfloader_max_ver),
        (0, 0x10000),
        "{section}"
    );
    assert_eq!(d.selinux_context, Domain::Unspecified, "{section}");
    assert_eq!(d.pin_subdir, Domain::Unspecified, "{section}");
    assert_eq!(d.ignore_on, IgnoreOn::default(), "{section}");
    assert!(
        p.insn_count() > 0 && p.insns.len().is_multiple_of(8),
        "{section}"
    );
    let mut got: Vec<&str> = p
        .relocations
        .iter()
        .map(|r| spec.maps[r.map_index].name.as_str())
        .collect();
    got.sort_unstable();
    let mut want = reloc_maps.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "{section}: relocated maps");
    for r in &p.relocations {
        // Every relocation lands on an LD_IMM64 (opcode 0x18) with its second half.
        assert_eq!(p.insns[r.insn_index * 8], 0x18, "{section}");
        assert!((r.insn_index + 2) * 8 <= p.insns.len(), "{section}");
    }
}

#[test]
fn every_corpus_object_parses() {
    assert!(!bpf_progs::OBJECTS.is_empty());
    // The libbpf-style ones are read by netbpfload::libbpf (its own tests).
    for obj in bpf_progs::android_objects() {
        let spec =
            parse_object(Path::new(obj.file_name), obj.bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.critical.is_some(), obj.critical, "{}", obj.file_name);
        assert!(
            spec.warnings.is_empty(),
            "{}: {:?}",
            obj.file_name,
            spec.warnings
        );
        if let bpf_progs::Kind::Legacy {
            map_def_size,
            prog_def_size,
        } = obj.kind
        {
            assert_eq!(spec.size_of_bpf_map_def, map_def_size, "{}", obj.file_name);
            assert_eq!(
                spec.size_of_bpf_prog_def, prog_def_size,
                "{}",
                obj.file_name
            );
        } else {
            assert_eq!(
                (spec.size_of_bpf_map_def, spec.size_of_bpf_prog_def),
                (120, 92),
                "{}",
                obj.file_name
            );
        }
    }
}

#[test]
fn every_corpus_object_truncated_fails_cleanly() {
    for obj in bpf_progs::android_objects() {
        let len = obj.bytes.len();
        // Every length up to 512 bytes, then a stride that still visits
        // every region of the file.
        let lengths = (0..len.min(512)).chain((512..len).step_by(7));
        for cut in lengths {
            let e = parse_object(Path::new(obj.file_name), &obj.bytes[..cut])
                .expect_err("truncated object parsed");
            assert!(e.to_string().starts_with(obj.file_name), "{e}");
        }
    }
}

#[test]
fn offload() {
    let spec = corpus("offload@mainline.o");
    // `@mainline` is cut from the object name.
    assert_eq!(spec.name, "offload");
    assert_eq!(spec.license, "Apache 2.0");
    assert_eq!(spec.critical.as_deref(), Some("Connectivity (Tethering)"));
    // BPFLOADER_MIN_VER = BPFLOADER_S_VER (42), max default.
    assert_eq!(
        (spec.bpfloader_min_ver, spec.bpfloader_max_ver),
        (42, 0x10000)
    );
    assert_eq!(
        (spec.size_of_bpf_map_def, spec.size_of_bpf_prog_def),
        (120, 92)
    );

    let mut names: Vec<&str> = spec.maps.iter().map(|m| m.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "tether_dev_map",
            "tether_error_map",
            "tether_limit_map",
            "tether_stats_map"
        ]
    );
    // struct TetherStatsValue is six __u64.
    assert_plain_map(
        &spec,
        "tether_stats_map",
        (HASH, 4, 48, 16),
        (AID_ROOT, AID_NETWORK_STACK, 0o660),
    );
    assert_plain_map(
        &spec,
        "tether_limit_map",
        (HASH, 4, 8, 16),
        (AID_ROOT, AID_NETWORK_STACK, 0o660),
    );
    assert_plain_map(
        &spec,
        "tether_error_map",
        (ARRAY, 4, 4, 8),
        (AID_ROOT, AID_NETWORK_STACK, 0o440),
    );
    assert_plain_map(
        &spec,
        "tether_dev_map",
        (DEVMAP_HASH, 4, 4, 64),
        (AID_ROOT, AID_NETWORK_STACK, 0o660),
    );

    // Section-header order is source order.
    let sections: Vec<&str> = spec.programs.iter().map(|p| p.section.as_str()).collect();
    assert_eq!(
        sections,
        [
            "schedcls/tether_downstream6_ether$4_14",
            "schedcls/tether_downstream6_ether$5_10",
            "schedcls/tether_upstream6_rawip$opt",
            "schedcls/tether_upstream6_rawip$stub",
            "xdp/tether_downstream_ether",
        ]
    );
    let net = (AID_ROOT, AID_NETWORK_STACK);
    assert_prog(
        &spec,
        "schedcls/tether_downstream6_ether$4_14",
        (SCHED_CLS, 0),
        (
            "schedcls_tether",
            "schedcls_tether_downstream6_ether",
            "sched_cls_tether_downstream6_ether_4_14",
        ),
        net,
        (Kver::new(4, 14, 0), Kver::new(5, 10, 0)),
        false,
        &["tether_stats_map"],
    );
    assert_prog(
        &spec,
        "schedcls/tether_downstream6_ether$5_10",
        (SCHED_CLS, 0),
        (
            "schedcls_tether",
            "schedcls_tether_downstream6_ether",
            "sched_cls_tether_downstream6_ether_5_10",
        ),
        net,
        (Kver::new(5, 10, 0), KVER_INF),
        false,
        &["tether_stats_map"],
    );
    assert_prog(
        &spec,
        "schedcls/tether_upstream6_rawip$opt",
        (SCHED_CLS, 0),
        (
            "schedcls_tether",
            "schedcls_tether_upstream6_rawip",
            "sched_cls_tether_upstream6_rawip_opt",
        ),
        net,
        (KVER_NONE, KVER_INF),
        true,
        &["tether_limit_map"],
    );
    assert_prog(
        &spec,
        "schedcls/tether_upstream6_rawip$stub",
        (SCHED_CLS, 0),
        (
            "schedcls_tether",
            "schedcls_tether_upstream6_rawip",
            "sched_cls_tether_upstream6_rawip_stub",
        ),
        net,
        (KVER_NONE, KVER_INF),
        false,
        &[],
    );
    assert_prog(
        &spec,
        "xdp/tether_downstream_ether",
        (XDP, 0),
        (
            "xdp_tether_down",
            "xdp_tether_downstream_ether",
            "xdp_tether_downstream_ether",
        ),
        net,
        (Kver::new(5, 10, 0), KVER_INF),
        false,
        &["tether_dev_map"],
    );

    // Pin paths Android's own tests expect (AOSP `bpf_existence_test.cpp`;
    // `docs/object-format.md#pin-paths`).
    let maps = map_pins(&spec, "tethering/");
    assert!(maps
        .iter()
        .any(|(_, pin)| pin == "tethering/map_offload_tether_dev_map"));
    // Variants share one pin: $4_14 (loaded below 5.10) and $5_10, $opt and
    // $stub.
    let pins_on = |kver| -> Vec<(String, String)> {
        plan_on(&spec, "tethering/", kver)
            .prog_loads()
            .map(|p| (p.section.clone(), p.pin.rel.clone()))
            .collect()
    };
    let old = pins_on(Kver::new(4, 19, 0));
    let new = pins_on(Kver::new(6, 1, 0));
    let pin_of = |pins: &[(String, String)], section: &str| {
        pins.iter()
            .find(|(s, _)| s == section)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| panic!("{section} not loaded"))
    };
    let downstream = "tethering/prog_offload_schedcls_tether_downstream6_ether";
    assert_eq!(
        pin_of(&old, "schedcls/tether_downstream6_ether$4_14"),
        downstream
    );
    assert_eq!(
        pin_of(&new, "schedcls/tether_downstream6_ether$5_10"),
        downstream
    );
    assert!(!old.iter().any(|(s, _)| s.ends_with("$5_10")));
    assert!(!new.iter().any(|(s, _)| s.ends_with("$4_14")));
    let upstream = "tethering/prog_offload_schedcls_tether_upstream6_rawip";
    assert_eq!(
        pin_of(&new, "schedcls/tether_upstream6_rawip$opt"),
        upstream
    );
    assert_eq!(
        pin_of(&new, "schedcls/tether_upstream6_rawip$stub"),
        upstream
    );
}

#[test]
fn pkt_count() {
    let spec = corpus("pktCount.o");
    assert_eq!(spec.name, "pktCount");
    assert_eq!(spec.license, "Apache 2.0");
    assert_eq!(spec.critical, None);
    assert_eq!(
        (spec.bpfloader_min_ver, spec.bpfloader_max_ver),
        (0, 0x10000)
    );
    assert_eq!(spec.maps.len(), 2);
    assert_plain_map(
        &spec,
        "packet_count_map",
        (ARRAY, 4, 8, 1),
        (AID_ROOT, AID_ROOT, 0o600),
    );
    assert_plain_map(
        &spec,
        "two_entry_map",
        (ARRAY, 4, 4, 2),
        (AID_ROOT, AID_SYSTEM, 0o660),
    );
    assert_eq!(spec.programs.len(), 1);
    assert_prog(
        &spec,
        "skfilter/count",
        (SOCKET_FILTER, 0),
        ("skfilter_count", "skfilter_count", "count_packets"),
        (AID_ROOT, AID_SYSTEM),
        (KVER_NONE, KVER_INF),
        false,
        &["packet_count_map"],
    );
    let progs = prog_pins(&spec, "net_private/");
    assert_eq!(progs[0], "net_private/prog_pktCount_skfilter_count");
    let maps = map_pins(&spec, "net_private/");
    assert!(maps
        .iter()
        .any(|(_, pin)| pin == "net_private/map_pktCount_packet_count_map"));
}

#[test]
fn netd_domains_flags_gates() {
    const AID_NET_BW_ACCT: u32 = 3007;
    let spec = corpus("netd.o");
    assert_eq!(spec.name, "netd");
    assert_eq!(spec.critical.as_deref(), Some("netd"));
    // BPFLOADER_MIN_VER = BPFLOADER_T_VER.
    assert_eq!(spec.bpfloader_min_ver, 43);

    let d = &map(&spec, "cookie_tag_map").def;
    assert_eq!((d.map_type, d.key_size, d.max_entries), (HASH, 8, 1024));
    assert_eq!((d.uid, d.gid, d.mode), (AID_ROOT, AID_NET_BW_ACCT, 0o660));
    assert_eq!(
        (d.selinux_context, d.pin_subdir),
        (Domain::NetdShared, Domain::Unspecified)
    );
    let d = &map(&spec, "uid_owner_map").def;
    assert_eq!((d.mode, d.selinux_context), (0o460, Domain::NetdReadonly));
    let d = &map(&spec, "configuration_map").def;
    assert_eq!(
        (d.map_type, d.key_size, d.value_size, d.max_entries),
        (ARRAY, 4, 4, 2)
    );
    assert_eq!((d.mode, d.selinux_context), (0o060, Domain::NetShared));
    // BPF_F_NO_PREALLOC = 1: explicit, and the LPM_TRIE default.
    let d = &map(&spec, "local_net_blocked_uid_map").def;
    assert_eq!(
        (d.map_flags, d.max_entries, d.gid),
        (1, 1000, AID_NET_BW_ACCT)
    );
    let d = &map(&spec, "local_net_access_map").def;
    assert_eq!((d.map_type, d.map_flags, d.gid), (11, 1, AID_NETWORK_STACK));
    let d = &map(&spec, "uid_permission_map").def;
    assert_eq!(
        (d.selinux_context, d.pin_subdir),
        (Domain::NetdReadonly, Domain::NetdReadonly)
    );
    let d = &map(&spec, "iface_index_name_map").def;
    // IGNORE_ON_ARM32 | IGNORE_ON_RISCV64.
    assert_eq!(d.ignore_on.bits(), 0x08 | 0x80);
    assert!(d.ignore_on.arm32 && d.ignore_on.riscv64 && !d.ignore_on.aarch64);
    let d = &map(&spec, "packet_trace_ringbuf").def;
    assert_eq!(
        (d.map_type, d.key_size, d.value_size, d.max_entries),
        (27, 0, 0, 32768)
    );
    assert_eq!((d.min_kver, d.max_kver), (Kver::new(5, 10, 0), KVER_INF));
    assert_eq!(
        map(&spec, "pre_4_14_stats_map").def.max_kver,
        Kver::new(4, 14, 0)
    );
    assert_eq!(map(&spec, "kver_inf_map").def.min_kver, KVER_INF);
    let d = &map(&spec, "packet_trace_enabled_map").def;
    assert_eq!((d.bpfloader_min_ver, d.bpfloader_max_ver), (44, 0x10000));
    assert_eq!(map(&spec, "next_loader_map").def.bpfloader_min_ver, 0x10000);
    let d = &map(&spec, "lock_array_test_map").def;
    assert_eq!((d.ignore_on.bits(), d.mode), (0x02, 0o440));

    // A pin with a selinux_context is created in that context's directory
    // (under a temporary name) and renamed to its pin_subdir directory.
    let plan = plan(&spec, "netd_shared/");
    let pin = |name: &str| {
        plan.map_loads()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} not loaded"))
            .pin
            .clone()
    };
    let dir = |rel: &str| rel.rsplit_once('/').map_or("", |(d, _)| d).to_string();
    let p = pin("uid_permission_map");
    assert_eq!(p.rel, "netd_readonly/map_netd_uid_permission_map");
    assert_eq!(dir(&p.tmp_rel), "netd_readonly");
    let p = pin("cookie_tag_map");
    assert_eq!(p.rel, "netd_shared/map_netd_cookie_tag_map");
    assert_eq!(dir(&p.tmp_rel), "netd_shared");
    // AOSP `bpf_existence_test.cpp`: /sys/fs/bpf/netd_shared/prog_netd_cgroupskb_ingress_stats.
    let progs = prog_pins(&spec, "netd_shared/");
    assert!(progs
        .iter()
        .any(|p| p == "netd_shared/prog_netd_cgroupskb_ingress_stats"));
    let p = prog(&spec, "cgroupskb/ingress/stats$4_14");
    assert_eq!((p.kind.prog_type, p.kind.expected_attach_type), (8, 0));
    assert_eq!(p.kernel_name, "cgroupskb_ingre");
    let p = prog(&spec, "bind4/inet4_bind");
    assert_eq!((p.kind.prog_type, p.kind.expected_attach_type), (18, 8));
}

#[test]
fn legacy_abis_get_defaults() {
    // v0.0: no version or size sections; 32/20 records.
    let v0 = corpus("legacyV0.o");
    assert_eq!((v0.size_of_bpf_map_def, v0.size_of_bpf_prog_def), (32, 20));
    assert_eq!((v0.bpfloader_min_ver, v0.bpfloader_max_ver), (0, 0x10000));
    assert_plain_map(
        &v0,
        "legacy_count_map",
        (ARRAY, 4, 8, 1),
        (AID_ROOT, AID_SYSTEM, 0o640),
    );
    assert_eq!(v0.maps.len(), 1);
    assert_prog(
        &v0,
        "skfilter/legacy_count",
        (SOCKET_FILTER, 0),
        (
            "skfilter_legacy",
            "skfilter_legacy_count",
            "skfilter_legacy_count",
        ),
        (AID_ROOT, AID_SYSTEM),
        (KVER_NONE, KVER_INF),
        false,
        &["legacy_count_map"],
    );

    // S: 48/28, kernel gates present, domains absent.
    let s = corpus("legacyS.o");
    assert_eq!((s.size_of_bpf_map_def, s.size_of_bpf_prog_def), (48, 28));
    let d = &map(&s, "legacy_pre_4_14_map").def;
    assert_eq!((d.min_kver, d.max_kver), (KVER_NONE, Kver::new(4, 14, 0)));
    assert_eq!(
        (d.uid, d.shared, d.pin_subdir),
        (0, false, Domain::Unspecified)
    );
    assert_eq!(prog(&s, "skfilter/legacy_never").def.min_kver, KVER_INF);
    assert_plain_map(
        &s,
        "legacy_count_map",
        (ARRAY, 4, 8, 1),
        (AID_ROOT, AID_SYSTEM, 0o640),
    );

    // T: 116/92, shared + pin_subdir, no uid@116.
    let t = corpus("legacyT.o");
    assert_eq!((t.size_of_bpf_map_def, t.size_of_bpf_prog_def), (116, 92));
    let d = &map(&t, "legacy_shared_map").def;
    assert!(d.shared);
    assert_eq!(
        (d.pin_subdir, d.uid, d.gid, d.mode),
        (Domain::NetPrivate, 0, AID_SYSTEM, 0o660)
    );
    let pins = map_pins(&t, "");
    assert!(pins
        .iter()
        .any(|(_, pin)| pin == "net_private/map__legacy_shared_map"));
    assert_eq!(t.maps.len(), 3);
}
