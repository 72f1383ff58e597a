//! The plan, per release and role. Expected outcomes follow
//! `docs/android-release-rules.md`, not the code under test.

use super::*;
use crate::gate::{Arch, BuildType};
use crate::release::{Release, Role};
use crate::spec::IgnoreOn;
use crate::test_support::{map, obj, prog, ARRAY, HASH};
use aya_obj::generated::bpf_map_type;

fn gate(loader_ver: u32, kver: Kver) -> GateEnv {
    GateEnv {
        loader_ver,
        kver,
        build_type: BuildType::Userdebug,
        arch: Arch::X86_64,
    }
}

fn plan_for(
    spec: &ObjectSpec,
    rel: Release,
    role: Role,
    loader_ver: u32,
    kver: Kver,
    location: &Location,
) -> Result<ObjectPlan, PlanError> {
    plan_object(
        spec,
        &PlanEnv {
            rules: rel.rules().role(role),
            gate: gate(loader_ver, kver),
            location,
            page_size: 4096,
            map_bytes: crate::plan::MapBytes {
                max: 1 << 30,
                cpus: 2,
            },
            tmp_tag: "77_3",
            on_change: Default::default(),
        },
    )
}

fn mainline(spec: &ObjectSpec, rel: Release) -> Result<ObjectPlan, PlanError> {
    let loc = Location::new("/apex/x/etc/bpf/", "tethering/");
    let ver = rel.loader_version(if rel == Release::V { 35 } else { 36 }, true);
    plan_for(spec, rel, Role::Mainline, ver, Kver::new(6, 1, 57), &loc)
}

fn load(p: Result<ObjectPlan, PlanError>) -> LoadPlan {
    match p {
        Ok(ObjectPlan::Load(l)) => l,
        other => panic!("expected a load plan, got {other:?}"),
    }
}

fn map_load(l: &LoadPlan, i: usize) -> &MapLoad {
    match l.maps.get(i) {
        Some(MapStep::Load(m)) => m,
        other => panic!("map {i}: {other:?}"),
    }
}

fn prog_step(l: &LoadPlan, i: usize) -> &ProgStep {
    l.programs.get(i).expect("program step")
}

#[test]
fn pins_temporary_names_modes_and_owners() {
    let mut shared = map("shared_map", HASH, 4, 4, 8);
    shared.def.shared = true;
    let mut ctx = map("ctx_map", ARRAY, 4, 8, 1);
    ctx.def.selinux_context = Domain::NetdShared;
    ctx.def.pin_subdir = Domain::NetdReadonly;
    let spec = obj(
        vec![map("a_map", ARRAY, 4, 8, 2), shared, ctx],
        vec![prog("skfilter/count$opt", 0)],
    );
    let l = load(mainline(&spec, Release::V));
    let a = map_load(&l, 0);
    assert_eq!(a.pin.rel, "tethering/map_obj_a_map");
    assert_eq!(a.pin.tmp_rel, "tethering/tmp_nbl_77_3_m0");
    assert_eq!((a.pin.mode, a.pin.uid, a.pin.gid), (0o460, 1000, 3007));
    assert_eq!(a.kernel_name, "a_map");
    assert_eq!(map_load(&l, 1).pin.rel, "tethering/map__shared_map");
    let c = map_load(&l, 2);
    assert_eq!(c.pin.rel, "netd_readonly/map_obj_ctx_map");
    // Created in the selinux_context's directory, so its label sticks.
    assert_eq!(c.pin.tmp_rel, "netd_shared/tmp_nbl_77_3_m2");
    let ProgStep::Load(p) = prog_step(&l, 0) else {
        panic!("program gated")
    };
    assert_eq!(p.pin.rel, "tethering/prog_obj_skfilter_count");
    assert_eq!((p.pin.mode, p.pin.uid, p.pin.gid), (0o440, 0, 1000));
    assert_eq!(p.kernel_name, "skfilter_count_");
    assert_eq!(l.pin_dirs, ["netd_readonly", "netd_shared", "tethering"]);
    assert_eq!(l.fd_need(), 3 + 1 + 4);
}

#[test]
fn two_maps_at_one_pin_fail_the_object() {
    let mut b = map("m", ARRAY, 4, 8, 1);
    b.def.shared = true;
    let mut c = map("m", ARRAY, 4, 8, 1);
    c.def.shared = true;
    let spec = obj(vec![b, c], vec![]);
    assert!(matches!(
        mainline(&spec, Release::V),
        Err(PlanError::DuplicatePin { .. })
    ));
}

#[test]
fn loader_domain_is_unknown_to_android_15() {
    let mut ctx_only = map("m", ARRAY, 4, 8, 1);
    ctx_only.def.selinux_context = Domain::Loader;
    let spec = obj(vec![ctx_only], vec![]);
    // V: an unknown selinux_context is ignored with a warning.
    let l = load(mainline(&spec, Release::V));
    assert_eq!(map_load(&l, 0).pin.tmp_rel, "tethering/tmp_nbl_77_3_m0");
    assert!(
        l.warnings.iter().any(|w| w.contains("fs_bpf_loader")),
        "{:?}",
        l.warnings
    );
    // 25Q2 knows it.
    let mut with_btf = spec.clone();
    with_btf.present.maps = false;
    let l = load(mainline(&with_btf, Release::R25Q2));
    assert_eq!(map_load(&l, 0).pin.tmp_rel, "loader/tmp_nbl_77_3_m0");

    let mut subdir = map("m", ARRAY, 4, 8, 1);
    subdir.def.pin_subdir = Domain::Loader;
    let spec = obj(vec![subdir], vec![]);
    // V: an unknown pin_subdir fails the object.
    assert!(matches!(
        mainline(&spec, Release::V),
        Err(PlanError::UnknownDomain {
            field: "pin_subdir",
            ..
        })
    ));
}

/// A domain string no release knows: Android 15's mainline loader ignores
/// an unknown selinux_context (with a warning) and fails the object on an
/// unknown pin_subdir; 25Q2's fails it on either; the platform loader reads
/// neither field.
#[test]
fn unknown_domain_strings_per_release_and_role() {
    let unknown = |field: &str| {
        let mut m = map("m", ARRAY, 4, 8, 1);
        if field == "selinux_context" {
            m.def.selinux_context = Domain::Unknown;
            m.def.raw_domains.selinux_context = Some("fs_bpf_bogus".into());
        } else {
            m.def.pin_subdir = Domain::Unknown;
            m.def.raw_domains.pin_subdir = Some("bogus/".into());
        }
        let mut spec = obj(vec![m], vec![prog("skfilter/p", 0)]);
        spec.present.maps = false; // no BTF needed for this test on 25Q2
        spec
    };
    let ctx = unknown("selinux_context");
    let l = load(mainline(&ctx, Release::V));
    let m = map_load(&l, 0);
    assert_eq!(
        (m.pin.rel.as_str(), m.pin.tmp_rel.as_str()),
        ("tethering/map_obj_m", "tethering/tmp_nbl_77_3_m0")
    );
    assert!(
        l.warnings
            .iter()
            .any(|w| w.contains("\"fs_bpf_bogus\"") && w.contains("ignored")),
        "{:?}",
        l.warnings
    );
    assert_eq!(
        mainline(&ctx, Release::R25Q2),
        Err(PlanError::UnknownDomain {
            owner: "map m".into(),
            field: "selinux_context",
            value: "fs_bpf_bogus".into()
        })
    );
    let sub = unknown("pin_subdir");
    for rel in Release::ALL {
        assert_eq!(
            mainline(&sub, rel),
            Err(PlanError::UnknownDomain {
                owner: "map m".into(),
                field: "pin_subdir",
                value: "bogus/".into()
            }),
            "{rel:?}"
        );
    }
    let platform = Location::new("/system/etc/bpf/", "");
    for spec in [&ctx, &sub] {
        for rel in Release::ALL {
            let l = load(plan_for(
                spec,
                rel,
                Role::Platform,
                0,
                Kver::new(6, 1, 57),
                &platform,
            ));
            assert_eq!(map_load(&l, 0).pin.rel, "map_obj_m", "{rel:?}");
            assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        }
    }
}

#[test]
fn record_sizes_per_release_and_role() {
    let mut legacy = obj(vec![map("m", ARRAY, 4, 8, 1)], vec![prog("skfilter/p", 0)]);
    legacy.size_of_bpf_map_def = 48;
    legacy.size_of_bpf_prog_def = 28;
    legacy.present.maps = false;
    assert!(mainline(&legacy, Release::V).is_ok());
    assert_eq!(
        mainline(&legacy, Release::R25Q2),
        Err(PlanError::RecordSizes {
            map_def: 48,
            prog_def: 28
        })
    );
    let sys = Location::new("/system/etc/bpf/", "");
    assert!(matches!(
        plan_for(
            &legacy,
            Release::V,
            Role::Platform,
            0,
            Kver::new(6, 1, 0),
            &sys
        ),
        Err(PlanError::RecordSizes { .. })
    ));
}

#[test]
fn object_level_versions() {
    let base = obj(vec![], vec![prog("skfilter/p", 0)]);
    let mut needs = base.clone();
    needs.netbpfload_min_ver = Some(47);
    // Android 15 (46 as root) skips it; 25Q2 does not read the section.
    assert!(matches!(
        mainline(&needs, Release::V),
        Ok(ObjectPlan::Skip {
            reason: SkipReason::NetbpfloadMinVer { ver: 46, min: 47 }
        })
    ));
    assert!(matches!(
        mainline(&needs, Release::R25Q2),
        Ok(ObjectPlan::Load(_))
    ));

    let mut required = base.clone();
    required.bpfloader_min_required_ver = Some(50);
    assert_eq!(
        mainline(&required, Release::V),
        Err(PlanError::LoaderTooOld {
            ver: 46,
            required: 50
        })
    );
    // ... checked only after the range skip.
    required.bpfloader_max_ver = 40;
    assert!(matches!(
        mainline(&required, Release::V),
        Ok(ObjectPlan::Skip { .. })
    ));
    assert!(matches!(
        mainline(&required, Release::R25Q2),
        Ok(ObjectPlan::Skip { .. })
    ));

    // 25Q2 requires the version sections; Android 15 defaults them.
    let mut bare = base.clone();
    bare.present.bpfloader_min_ver = false;
    assert!(mainline(&bare, Release::V).is_ok());
    assert_eq!(
        mainline(&bare, Release::R25Q2),
        Err(PlanError::MissingSection {
            section: "bpfloader_min_ver"
        })
    );
}

#[test]
fn objects_without_progs() {
    let mut maps_only = obj(vec![], vec![]);
    maps_only.present.progs = false;
    assert_eq!(
        mainline(&maps_only, Release::V),
        Err(PlanError::MissingSection { section: "progs" })
    );
    assert!(
        mainline(&maps_only, Release::R25Q2).is_err(),
        "min_ver 0 < 42"
    );
    maps_only.bpfloader_min_ver = 42;
    assert!(mainline(&maps_only, Release::R25Q2).is_ok());
}

#[test]
fn section_tables_per_release() {
    let spec = obj(
        vec![map("m", ARRAY, 4, 8, 1)],
        vec![
            prog("cgroupsockrelease/inet_release", 0),
            prog("tracepoint/sched/x", 0),
            prog("lwt_in/x", 0),
        ],
    );
    let mut no_btf = spec.clone();
    no_btf.present.maps = false;
    let v = load(mainline(&spec, Release::V));
    let q = load(mainline(&no_btf, Release::R25Q2));
    let ignored = |l: &LoadPlan, i| {
        matches!(
            prog_step(l, i),
            ProgStep::Skip {
                reason: SkipReason::NotAProgram,
                ..
            }
        )
    };
    assert!(ignored(&v, 0), "V has no cgroupsockrelease/");
    assert!(!ignored(&q, 0));
    assert!(ignored(&v, 1) && ignored(&q, 1), "no tracing in NetBpfLoad");
    assert!(!ignored(&v, 2) && ignored(&q, 2), "lwt_* is V only");
}

#[test]
fn platform_loader_ignores_versions_domains_and_build_gates() {
    let mut m = map("m", ARRAY, 4, 8, 1);
    m.def.bpfloader_min_ver = 99;
    m.def.pin_subdir = Domain::NetShared;
    m.def.selinux_context = Domain::NetShared;
    m.def.ignore_on = IgnoreOn::from_bits(0x04); // userdebug
    let mut spec = obj(vec![m], vec![prog("tracepoint/sched/x", 0)]);
    spec.bpfloader_min_ver = 99;
    let sys = Location::from_rule(
        std::path::Path::new("/"),
        &Release::V.rules().platform.locations[0],
    );
    let l = load(plan_for(
        &spec,
        Release::V,
        Role::Platform,
        0,
        Kver::new(6, 1, 0),
        &sys,
    ));
    let a = map_load(&l, 0);
    assert_eq!(a.pin.rel, "map_obj_m");
    assert_eq!(a.pin.tmp_rel, "tmp_nbl_77_3_m0");
    assert!(matches!(prog_step(&l, 0), ProgStep::Load(_)));
    assert_eq!(l.pin_dirs, [""]);
}

#[test]
fn vendor_accepts_socket_filters_only_even_gated_out() {
    let vendor = Location::from_rule(
        std::path::Path::new("/"),
        &Release::V.rules().platform.locations[2],
    );
    assert_eq!(vendor.prefix, "vendor/");
    let ok = obj(vec![], vec![prog("skfilter/x", 0)]);
    assert!(plan_for(
        &ok,
        Release::V,
        Role::Platform,
        0,
        Kver::new(6, 1, 0),
        &vendor
    )
    .is_ok());
    let mut kprobe = prog("kprobe/x", 0);
    kprobe.def.min_kver = Kver::new(9, 0, 0);
    let bad = obj(vec![], vec![kprobe]);
    assert!(matches!(
        plan_for(
            &bad,
            Release::V,
            Role::Platform,
            0,
            Kver::new(6, 1, 0),
            &vendor
        ),
        Err(PlanError::ProgTypeNotPermitted { prog_type: 2, .. })
    ));
    let uprobestats = Location::from_rule(
        std::path::Path::new("/"),
        &Release::V.rules().platform.locations[1],
    );
    let kp = obj(vec![], vec![prog("kprobe/x", 0)]);
    assert!(plan_for(
        &kp,
        Release::V,
        Role::Platform,
        0,
        Kver::new(6, 1, 0),
        &uprobestats
    )
    .is_ok());
    assert!(plan_for(
        &ok,
        Release::V,
        Role::Platform,
        0,
        Kver::new(6, 1, 0),
        &uprobestats
    )
    .is_err());
}

#[test]
fn btf_rules_of_25q2() {
    let spec = obj(vec![map("m", ARRAY, 4, 8, 1)], vec![prog("skfilter/p", 0)]);
    let loc = Location::new("/apex/x/etc/bpf/tethering/", "tethering/");
    assert!(matches!(
        plan_for(
            &spec,
            Release::R25Q2,
            Role::Mainline,
            47,
            Kver::new(5, 10, 0),
            &loc
        ),
        Err(PlanError::MissingBtf { .. })
    ));
    // Below 5.10, or on Android 15, no BTF is needed.
    let l = load(plan_for(
        &spec,
        Release::R25Q2,
        Role::Mainline,
        47,
        Kver::new(5, 4, 186),
        &loc,
    ));
    assert!(l.btf.is_none() && map_load(&l, 0).btf.is_none());
    assert!(load(mainline(&spec, Release::V)).btf.is_none());
}

#[test]
fn lpm_trie_and_names_on_old_kernels() {
    let lpm = bpf_map_type::BPF_MAP_TYPE_LPM_TRIE as u32;
    let mut spec = obj(vec![map("t", lpm, 8, 4, 16)], vec![prog("skfilter/p", 0)]);
    spec.present.maps = false;
    let loc = Location::new("/x/", "tethering/");
    let k = Kver::new(4, 9, 0);
    let v = load(plan_for(&spec, Release::V, Role::Mainline, 46, k, &loc));
    assert!(matches!(v.maps[0], MapStep::Load(_)), "no LPM gate on V");
    assert_eq!(map_load(&v, 0).kernel_name, "", "no map names below 4.15");
    let q = load(plan_for(&spec, Release::R25Q2, Role::Mainline, 47, k, &loc));
    assert!(matches!(
        q.maps[0],
        MapStep::Skip {
            reason: SkipReason::MapTypeUnsupported { .. },
            ..
        }
    ));
    // Program names: V from 4.14, 25Q2 from 4.15.
    let k414 = Kver::new(4, 14, 0);
    let v = load(plan_for(&spec, Release::V, Role::Mainline, 46, k414, &loc));
    let q = load(plan_for(
        &spec,
        Release::R25Q2,
        Role::Mainline,
        47,
        k414,
        &loc,
    ));
    let name = |l: &LoadPlan| match prog_step(l, 0) {
        ProgStep::Load(p) => p.kernel_name.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(name(&v), "skfilter_p");
    assert_eq!(name(&q), "");
}

#[test]
fn jited_check_from_loader_version_47() {
    let mut spec = obj(vec![], vec![prog("skfilter/p", 0)]);
    spec.present.maps = false;
    let jited = |l: LoadPlan| match &l.programs[0] {
        ProgStep::Load(p) => p.require_jited,
        other => panic!("{other:?}"),
    };
    assert!(jited(load(mainline(&spec, Release::R25Q2))));
    assert!(!jited(load(mainline(&spec, Release::V))));
}

#[test]
fn pin_names_longer_than_name_max_fail() {
    let long = "m".repeat(250);
    let spec = obj(vec![map(&long, ARRAY, 4, 8, 1)], vec![]);
    assert!(matches!(
        mainline(&spec, Release::V),
        Err(PlanError::PinNameTooLong { .. })
    ));
}

#[test]
fn map_bytes_count_entries_keys_values_cpus_and_ring_sizes() {
    let attrs = |map_type: bpf_map_type, key, value, entries| MapAttrs {
        map_type: map_type as u32,
        key_size: key,
        value_size: value,
        max_entries: entries,
        map_flags: 0,
    };
    use bpf_map_type as t;
    // 1000 x (4 + 8).
    assert_eq!(
        map_bytes(&attrs(t::BPF_MAP_TYPE_ARRAY, 4, 8, 1000), 4),
        12_000
    );
    // The value rounded up to 8 bytes: 10 x (4 + 16).
    assert_eq!(map_bytes(&attrs(t::BPF_MAP_TYPE_HASH, 4, 9, 10), 4), 200);
    // Per-CPU: the value once per CPU, 10 x (4 + 8 x 4).
    for ty in [
        t::BPF_MAP_TYPE_PERCPU_ARRAY,
        t::BPF_MAP_TYPE_PERCPU_HASH,
        t::BPF_MAP_TYPE_LRU_PERCPU_HASH,
    ] {
        assert_eq!(map_bytes(&attrs(ty, 4, 8, 10), 4), 360, "{ty:?}");
    }
    // A ring buffer: its size.
    assert_eq!(
        map_bytes(&attrs(t::BPF_MAP_TYPE_RINGBUF, 0, 0, 1 << 20), 4),
        1 << 20
    );
    // No overflow: 2^32-1 entries of 2^32-1-byte values.
    assert!(
        map_bytes(
            &attrs(t::BPF_MAP_TYPE_PERCPU_ARRAY, 4, u32::MAX, u32::MAX),
            u32::MAX
        ) > 1 << 62
    );
}

#[test]
fn maps_declaring_more_memory_than_the_budget_fail_the_object() {
    let loc = Location::new("/apex/x/etc/bpf/", "tethering/");
    let env = |max| PlanEnv {
        rules: Release::V.rules().role(Role::Mainline),
        gate: gate(46, Kver::new(6, 1, 57)),
        location: &loc,
        page_size: 4096,
        map_bytes: MapBytes { max, cpus: 2 },
        tmp_tag: "1_0",
        on_change: Default::default(),
    };
    // 1 MiB + 4 MiB of maps (the per-CPU one counts twice on 2 CPUs).
    let mut gated = map("later", ARRAY, 4, 1 << 20, 1 << 12);
    gated.def.min_kver = Kver::new(7, 0, 0);
    let spec = obj(
        vec![
            map("small", ARRAY, 0, 1 << 10, 1 << 10),
            map(
                "big",
                bpf_map_type::BPF_MAP_TYPE_PERCPU_ARRAY as u32,
                0,
                1 << 10,
                1 << 11,
            ),
            // 4 GiB, but gated out on this kernel: never created, not counted.
            gated,
        ],
        vec![prog("skfilter/p", 0)],
    );
    let total = 5 << 20;
    assert!(matches!(
        plan_object(&spec, &env(total)),
        Ok(ObjectPlan::Load(_))
    ));
    match plan_object(&spec, &env(total - 1)) {
        Err(PlanError::MapBytes {
            total: t,
            max,
            largest,
            largest_bytes,
        }) => {
            assert_eq!((t, max), (total, total - 1));
            assert_eq!((largest.as_str(), largest_bytes), ("big", 4 << 20));
        }
        other => panic!("{other:?}"),
    }
    // The default for a machine: a quarter of its memory.
    assert_eq!(
        MapBytes::for_machine(crate::sys::Machine {
            memory: 8 << 30,
            cpus: 8
        }),
        MapBytes {
            max: 2 << 30,
            cpus: 8
        }
    );
}
