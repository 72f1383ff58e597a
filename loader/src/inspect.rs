//! Human and JSON rendering of a parsed object and of its plan: every map
//! and program field, its gates, and what loading it under a given release,
//! loader version, kernel, build type and location would do (which maps
//! and programs are gated out and why, the pin paths, temporary paths,
//! modes and owners). Everything shown about loading comes from
//! [`crate::plan`], so `inspect` shows what the engine does.

use crate::plan::{LoadPlan, MapStep, ObjectPlan, PinPlan, PlanEnv, PlanError, ProgStep};
use crate::section;
use crate::spec::{Domain, IgnoreOn, Kver, MapSpec, ObjectSpec, ProgramSpec};
use aya_obj::generated::bpf_map_type;
use serde::Serialize;
use std::fmt::Write as _;

/// Version of the JSON documents `inspect --json` and `load --json` write.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// JSON form of one inspected file: the object and its plan.
#[derive(Debug, Serialize)]
pub struct InspectJson<'a> {
    /// The file as given on the command line.
    pub file: String,
    /// Location prefix the plan was made for.
    pub prefix: String,
    /// The parsed object.
    pub object: &'a ObjectSpec,
    /// What loading it would do, or why it would fail.
    pub plan: Result<&'a ObjectPlan, String>,
}

impl<'a> InspectJson<'a> {
    /// Builds the JSON view.
    pub fn new(
        file: &str,
        spec: &'a ObjectSpec,
        prefix: &str,
        plan: &'a Result<ObjectPlan, PlanError>,
    ) -> Self {
        InspectJson {
            file: file.to_string(),
            prefix: prefix.to_string(),
            object: spec,
            plan: plan.as_ref().map_err(ToString::to_string),
        }
    }
}

const MAP_TYPES: &[bpf_map_type] = {
    use bpf_map_type::*;
    &[
        BPF_MAP_TYPE_UNSPEC,
        BPF_MAP_TYPE_HASH,
        BPF_MAP_TYPE_ARRAY,
        BPF_MAP_TYPE_PROG_ARRAY,
        BPF_MAP_TYPE_PERF_EVENT_ARRAY,
        BPF_MAP_TYPE_PERCPU_HASH,
        BPF_MAP_TYPE_PERCPU_ARRAY,
        BPF_MAP_TYPE_STACK_TRACE,
        BPF_MAP_TYPE_CGROUP_ARRAY,
        BPF_MAP_TYPE_LRU_HASH,
        BPF_MAP_TYPE_LRU_PERCPU_HASH,
        BPF_MAP_TYPE_LPM_TRIE,
        BPF_MAP_TYPE_ARRAY_OF_MAPS,
        BPF_MAP_TYPE_HASH_OF_MAPS,
        BPF_MAP_TYPE_DEVMAP,
        BPF_MAP_TYPE_SOCKMAP,
        BPF_MAP_TYPE_CPUMAP,
        BPF_MAP_TYPE_XSKMAP,
        BPF_MAP_TYPE_SOCKHASH,
        BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED,
        BPF_MAP_TYPE_REUSEPORT_SOCKARRAY,
        BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE_DEPRECATED,
        BPF_MAP_TYPE_QUEUE,
        BPF_MAP_TYPE_STACK,
        BPF_MAP_TYPE_SK_STORAGE,
        BPF_MAP_TYPE_DEVMAP_HASH,
        BPF_MAP_TYPE_STRUCT_OPS,
        BPF_MAP_TYPE_RINGBUF,
        BPF_MAP_TYPE_INODE_STORAGE,
        BPF_MAP_TYPE_TASK_STORAGE,
        BPF_MAP_TYPE_BLOOM_FILTER,
        BPF_MAP_TYPE_USER_RINGBUF,
        BPF_MAP_TYPE_CGRP_STORAGE,
        BPF_MAP_TYPE_ARENA,
    ]
};

/// Name of a map type (without `BPF_MAP_TYPE_`), `?` if unknown.
pub fn map_type_name(map_type: u32) -> String {
    MAP_TYPES
        .iter()
        .find(|t| **t as u32 == map_type)
        .map(|t| {
            let n = format!("{t:?}");
            n.strip_prefix("BPF_MAP_TYPE_").unwrap_or(&n).to_string()
        })
        .unwrap_or_else(|| "?".to_string())
}

fn ver_range(min: u32, max: u32) -> String {
    format!("[{min}, {max:#x})")
}

fn kver_range(min: Kver, max: Kver) -> String {
    format!("[{min}, {max})")
}

fn ignore_on(i: IgnoreOn) -> String {
    let names = [
        (i.eng, "eng"),
        (i.user, "user"),
        (i.userdebug, "userdebug"),
        (i.arm32, "arm32"),
        (i.aarch64, "aarch64"),
        (i.x86_32, "x86_32"),
        (i.x86_64, "x86_64"),
        (i.riscv64, "riscv64"),
    ];
    let set: Vec<&str> = names.iter().filter(|(b, _)| *b).map(|(_, n)| *n).collect();
    if set.is_empty() {
        "-".to_string()
    } else {
        set.join(",")
    }
}

fn domain(d: Domain) -> &'static str {
    match d {
        Domain::Unspecified => "-",
        d => d.selinux_context(),
    }
}

fn subdir(d: Domain) -> &'static str {
    match d {
        Domain::Unspecified => "-",
        d => d.pin_subdir(),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Renders `spec` and its plan under `env` for humans. `file` is shown in
/// the header line; pin paths are relative to the bpffs root.
pub fn render_text(
    file: &str,
    spec: &ObjectSpec,
    env: &PlanEnv<'_>,
    plan: &Result<ObjectPlan, PlanError>,
) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_text(&mut out, file, spec, env, plan);
    out
}

fn opt(v: Option<u32>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn write_text(
    out: &mut String,
    file: &str,
    spec: &ObjectSpec,
    env: &PlanEnv<'_>,
    plan: &Result<ObjectPlan, PlanError>,
) -> std::fmt::Result {
    writeln!(out, "{file}: object {}", spec.name)?;
    writeln!(out, "  license:        {}", spec.license)?;
    match &spec.critical {
        Some(reason) => writeln!(out, "  critical:       yes ({reason})")?,
        None => writeln!(out, "  critical:       no")?,
    }
    writeln!(
        out,
        "  loader version: {}  netbpfload_min_ver {}  bpfloader_min_required_ver {}",
        ver_range(spec.bpfloader_min_ver, spec.bpfloader_max_ver),
        opt(spec.netbpfload_min_ver),
        opt(spec.bpfloader_min_required_ver)
    )?;
    writeln!(
        out,
        "  record sizes:   bpf_map_def {}, bpf_prog_def {}",
        spec.size_of_bpf_map_def, spec.size_of_bpf_prog_def
    )?;
    writeln!(out, "  BTF:            {}", yes_no(spec.present.btf))?;
    let g = &env.gate;
    writeln!(
        out,
        "  plan for:       {:?} {} loader, prefix {:?}, loader version {}, kernel {}, {}, {}",
        env.rules.role,
        env.location.dir.display(),
        env.location.prefix,
        g.loader_ver,
        g.kver,
        g.build_type,
        g.arch
    )?;
    let load = match plan {
        Err(e) => {
            writeln!(out, "  outcome:        FAILS: {e}")?;
            None
        }
        Ok(ObjectPlan::Skip { reason }) => {
            writeln!(out, "  outcome:        skipped whole: {reason}")?;
            None
        }
        Ok(ObjectPlan::Load(l)) => {
            writeln!(
                out,
                "  outcome:        loads {} maps and {} programs, {} skipped{}",
                l.map_loads().count(),
                l.prog_loads().count(),
                l.skipped().count(),
                if l.btf.is_some() { ", with BTF" } else { "" }
            )?;
            Some(l)
        }
    };
    writeln!(out, "  maps ({}):", spec.maps.len())?;
    for (i, m) in spec.maps.iter().enumerate() {
        write_map(out, m, load.and_then(|l| l.maps.get(i)))?;
    }
    writeln!(out, "  programs ({}):", spec.programs.len())?;
    for (i, p) in spec.programs.iter().enumerate() {
        write_prog(out, spec, p, load.and_then(|l| l.programs.get(i)))?;
    }
    let warnings: Vec<&String> = spec
        .warnings
        .iter()
        .chain(load.map(|l: &LoadPlan| &l.warnings).into_iter().flatten())
        .collect();
    if !warnings.is_empty() {
        writeln!(out, "  warnings ({}):", warnings.len())?;
        for w in warnings {
            writeln!(out, "    {w}")?;
        }
    }
    Ok(())
}

fn write_pin(out: &mut String, pin: &PinPlan) -> std::fmt::Result {
    writeln!(out, "      pin:            {}", pin.rel)?;
    writeln!(out, "      created as:     {}", pin.tmp_rel)?;
    writeln!(
        out,
        "      owner:          uid {} gid {} mode {:04o}",
        pin.uid, pin.gid, pin.mode
    )
}

fn write_map(out: &mut String, m: &MapSpec, step: Option<&MapStep>) -> std::fmt::Result {
    let d = &m.def;
    writeln!(out, "    {}", m.name)?;
    match step {
        Some(MapStep::Skip { reason, .. }) => writeln!(out, "      skipped:        {reason}")?,
        Some(MapStep::Load(l)) => {
            write_pin(out, &l.pin)?;
            if l.attrs.map_type != d.map_type || l.attrs.max_entries != d.max_entries {
                writeln!(
                    out,
                    "      created as:     type {} ({})  max_entries {}",
                    l.attrs.map_type,
                    map_type_name(l.attrs.map_type),
                    l.attrs.max_entries
                )?;
            }
        }
        None => {}
    }
    writeln!(
        out,
        "      type:           {} ({})  key {}  value {}  max_entries {}  flags {:#x}",
        d.map_type,
        map_type_name(d.map_type),
        d.key_size,
        d.value_size,
        d.max_entries,
        d.map_flags
    )?;
    writeln!(
        out,
        "      declared owner: uid {} gid {} mode {:04o}",
        d.uid, d.gid, d.mode
    )?;
    writeln!(
        out,
        "      selinux/subdir: {} / {}  shared: {}",
        domain(d.selinux_context),
        subdir(d.pin_subdir),
        yes_no(d.shared)
    )?;
    writeln!(
        out,
        "      gates:          loader {}  kernel {}  ignore_on {}",
        ver_range(d.bpfloader_min_ver, d.bpfloader_max_ver),
        kver_range(d.min_kver, d.max_kver),
        ignore_on(d.ignore_on)
    )
}

fn write_prog(
    out: &mut String,
    spec: &ObjectSpec,
    p: &ProgramSpec,
    step: Option<&ProgStep>,
) -> std::fmt::Result {
    let d = &p.def;
    writeln!(out, "    {}", p.section)?;
    match step {
        Some(ProgStep::Skip { reason, .. }) => writeln!(out, "      skipped:        {reason}")?,
        Some(ProgStep::Load(l)) => write_pin(out, &l.pin)?,
        None => {}
    }
    writeln!(
        out,
        "      type:           {} ({})  expected_attach_type {} ({})",
        p.kind.prog_type,
        section::prog_type_name(p.kind.prog_type).unwrap_or_else(|| "?".to_string()),
        p.kind.expected_attach_type,
        section::attach_type_name(p.kind.expected_attach_type).unwrap_or_else(|| "?".to_string()),
    )?;
    writeln!(
        out,
        "      names:          kernel {}  function {}  ({} insns)",
        p.kernel_name,
        p.func_name,
        p.insn_count()
    )?;
    writeln!(
        out,
        "      selinux/subdir: {} / {}  optional: {}",
        domain(d.selinux_context),
        subdir(d.pin_subdir),
        yes_no(d.optional)
    )?;
    writeln!(
        out,
        "      gates:          loader {}  kernel {}  ignore_on {}",
        ver_range(d.bpfloader_min_ver, d.bpfloader_max_ver),
        kver_range(d.min_kver, d.max_kver),
        ignore_on(d.ignore_on)
    )?;
    let relocs: Vec<String> = p
        .relocations
        .iter()
        .map(|r| {
            let map = spec.maps.get(r.map_index).map_or("?", |m| m.name.as_str());
            format!("{map}@{}", r.insn_index)
        })
        .collect();
    if relocs.is_empty() {
        writeln!(out, "      relocations:    -")
    } else {
        writeln!(out, "      relocations:    {}", relocs.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::{Arch, BuildType, GateEnv};
    use crate::paths::Location;
    use crate::plan::plan_object;
    use crate::release::{Release, Role};
    use crate::test_support::{map, obj, prog, HASH};

    fn spec() -> ObjectSpec {
        let mut a = map("a_map", HASH, 4, 8, 16);
        a.def.gid = 3003;
        a.def.mode = 0o660;
        let mut s = map("s_map", HASH, 4, 8, 16);
        s.def.shared = true;
        s.def.pin_subdir = Domain::NetShared;
        s.def.selinux_context = Domain::Tethering;
        let mut p = prog("schedcls/x$4_14", 1);
        p.def.min_kver = Kver::new(4, 14, 0);
        p.def.optional = true;
        p.def.ignore_on = IgnoreOn::from_bits(0x01);
        p.def.pin_subdir = Domain::NetdReadonly;
        let mut gated = prog("schedcls/y", 0);
        gated.def.min_kver = Kver::new(7, 0, 0);
        let mut o = obj(vec![a, s], vec![p, gated]);
        o.name = "offload".into();
        o.bpfloader_min_ver = 42;
        o.netbpfload_min_ver = Some(45);
        o
    }

    fn env(loc: &Location) -> PlanEnv<'_> {
        PlanEnv {
            rules: Release::V.rules().role(Role::Mainline),
            gate: GateEnv {
                loader_ver: 46,
                kver: Kver::new(6, 1, 57),
                build_type: BuildType::Userdebug,
                arch: Arch::X86_64,
            },
            location: loc,
            page_size: 4096,
            tmp_tag: "PID_N",
            on_change: Default::default(),
        }
    }

    #[test]
    fn text_shows_every_field_and_the_gated_result() {
        let loc = Location::new("/apex/com.android.tethering/etc/bpf/", "tethering/");
        let e = env(&loc);
        let s = spec();
        let plan = plan_object(&s, &e);
        let text = render_text("x/offload.o", &s, &e, &plan);
        for needle in [
            "x/offload.o: object offload",
            "loader version: [42, 0x10000)  netbpfload_min_ver 45",
            "critical:       no",
            "outcome:        loads 2 maps and 1 programs, 1 skipped",
            "pin:            tethering/map_offload_a_map",
            "created as:     tethering/tmp_nbl_PID_N_m0",
            "pin:            net_shared/map__s_map",
            "created as:     tethering/tmp_nbl_PID_N_m1",
            "1 (HASH)  key 4  value 8  max_entries 16  flags 0x0",
            "owner:          uid 1000 gid 3003 mode 0660",
            "kernel [4.14.0, inf)  ignore_on eng",
            "3 (SCHED_CLS)  expected_attach_type 0 (UNSPEC)",
            "pin:            netd_readonly/prog_offload_schedcls_x",
            "optional: yes",
            "relocations:    s_map@0",
            "skipped:        kernel 6.1.57 not in [7.0.0, inf)",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
        // Under 25Q2 the same object fails for want of BTF.
        let q = PlanEnv {
            rules: Release::R25Q2.rules().role(Role::Mainline),
            ..env(&loc)
        };
        let plan = plan_object(&s, &q);
        let text = render_text("x/offload.o", &s, &q, &plan);
        assert!(
            text.contains("outcome:        FAILS: no .BTF section"),
            "{text}"
        );
    }

    #[test]
    fn json_has_the_object_and_its_plan() {
        let loc = Location::new("/x/", "tethering/");
        let e = env(&loc);
        let s = spec();
        let plan = plan_object(&s, &e);
        let v = serde_json::to_value(InspectJson::new("offload.o", &s, "tethering/", &plan))
            .expect("json");
        assert_eq!(v["prefix"], "tethering/");
        assert_eq!(v["object"]["maps"][1]["def"]["shared"], true);
        let maps = &v["plan"]["Ok"]["maps"];
        assert_eq!(maps[1]["pin"]["rel"], "net_shared/map__s_map", "{v:#}");
        assert_eq!(v["plan"]["Ok"]["programs"][1]["action"], "skip", "{v:#}");
    }

    #[test]
    fn map_type_names() {
        assert_eq!(map_type_name(25), "DEVMAP_HASH");
        assert_eq!(map_type_name(27), "RINGBUF");
        assert_eq!(map_type_name(1000), "?");
    }
}
