//! Human and JSON rendering of a parsed object and of its plan: every map
//! and program field, its gates, and what loading it under a given release,
//! loader version, kernel, build type and location would do (which maps
//! and programs are gated out and why, the pin paths, temporary paths,
//! modes and owners). Everything shown about loading comes from
//! [`crate::plan`], so `inspect` shows what the engine does.

use crate::error::ObjectError;
use crate::plan::{LoadPlan, MapStep, ObjectPlan, OnChange, PinPlan, PlanEnv, PlanError, ProgStep};
use crate::report::{self, GateJson, TypeJson};
use crate::section;
use crate::spec::{Domain, IgnoreOn, Kver, MapSpec, ObjectSpec, ProgramSpec, SectionsPresent};
use aya_obj::generated::bpf_map_type;
use serde::Serialize;
use std::fmt::Write as _;

/// The loader-version range of a declaration: `[min, max)`.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRange {
    /// Inclusive minimum.
    pub min: u32,
    /// Exclusive maximum.
    pub max: u32,
}

/// The kernel-version range of a declaration: `[min, max)`, as strings
/// (`max` is `inf` when unbounded).
#[derive(Debug, Clone, Serialize)]
pub struct KernelRange {
    /// Inclusive minimum.
    pub min: String,
    /// Exclusive maximum.
    pub max: String,
}

impl KernelRange {
    fn new(min: Kver, max: Kver) -> Self {
        KernelRange {
            min: report::kver(min),
            max: report::kver(max),
        }
    }
}

fn domain_json(d: Domain, f: fn(Domain) -> &'static str) -> Option<&'static str> {
    (d != Domain::Unspecified).then(|| f(d))
}

fn ignore_on_json(i: IgnoreOn) -> Vec<&'static str> {
    [
        (i.eng, "eng"),
        (i.user, "user"),
        (i.userdebug, "userdebug"),
        (i.arm32, "arm32"),
        (i.aarch64, "aarch64"),
        (i.x86_32, "x86_32"),
        (i.x86_64, "x86_64"),
        (i.riscv64, "riscv64"),
    ]
    .into_iter()
    .filter_map(|(b, n)| b.then_some(n))
    .collect()
}

/// One declared map (`struct bpf_map_def`).
#[derive(Debug, Serialize)]
pub struct MapDefJson<'a> {
    /// Symbol name.
    pub name: &'a str,
    /// Declared type.
    #[serde(flatten)]
    pub map_type: TypeJson,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Declared max entries.
    pub max_entries: u32,
    /// `map_flags`.
    pub flags: u32,
    /// Owner of the pin.
    pub uid: u32,
    /// Group of the pin.
    pub gid: u32,
    /// Mode of the pin (octal).
    pub mode: String,
    /// `selinux_context` (directory the pin is created in), `null` if unset.
    pub selinux_context: Option<&'static str>,
    /// `pin_subdir` (directory the pin ends up in), `null` if unset.
    pub pin_subdir: Option<&'static str>,
    /// Pinned as `map__<name>` (no object name).
    pub shared: bool,
    /// Loader versions it is loaded by.
    pub loader_version: VersionRange,
    /// Kernels it is loaded on.
    pub kernel: KernelRange,
    /// Build types and architectures it is skipped on.
    pub ignore_on: Vec<&'static str>,
}

/// One declared program (a code section and its `struct bpf_prog_def`).
#[derive(Debug, Serialize)]
pub struct ProgDefJson<'a> {
    /// Section name.
    pub section: &'a str,
    /// Program type implied by the section name.
    #[serde(flatten)]
    pub prog_type: TypeJson,
    /// Expected attach type (name; `unspec` for none).
    pub expected_attach_type: String,
    /// Its number.
    pub expected_attach_type_id: u32,
    /// Name given to the kernel.
    pub kernel_name: &'a str,
    /// Name in the pin path.
    pub pin_name: &'a str,
    /// The function whose `<name>_def` is the definition.
    pub function: &'a str,
    /// Instructions.
    pub insn_count: usize,
    /// Owner of the pin.
    pub uid: u32,
    /// Group of the pin.
    pub gid: u32,
    /// A load failure skips it instead of failing the object.
    pub optional: bool,
    /// `selinux_context`, `null` if unset.
    pub selinux_context: Option<&'static str>,
    /// `pin_subdir`, `null` if unset.
    pub pin_subdir: Option<&'static str>,
    /// Loader versions it is loaded by.
    pub loader_version: VersionRange,
    /// Kernels it is loaded on.
    pub kernel: KernelRange,
    /// Build types and architectures it is skipped on.
    pub ignore_on: Vec<&'static str>,
    /// Map references patched at load.
    pub relocations: Vec<RelocJson<'a>>,
}

/// A map reference in a program.
#[derive(Debug, Serialize)]
pub struct RelocJson<'a> {
    /// Instruction index.
    pub insn: usize,
    /// The map's name (`null` if the index names no map).
    pub map: Option<&'a str>,
}

/// What the parser sees in an object.
#[derive(Debug, Serialize)]
pub struct SpecJson<'a> {
    /// Object name (pins carry it).
    pub name: &'a str,
    /// `license` section.
    pub license: &'a str,
    /// `critical` section's reason, `null` if absent.
    pub critical: Option<&'a str>,
    /// `[bpfloader_min_ver, bpfloader_max_ver)`.
    pub loader_version: VersionRange,
    /// `netbpfload_min_ver` section.
    pub netbpfload_min_ver: Option<u32>,
    /// `bpfloader_min_required_ver` section.
    pub bpfloader_min_required_ver: Option<u32>,
    /// Declared record sizes.
    pub record_sizes: RecordSizesJson,
    /// Which optional sections it has.
    pub sections: &'a SectionsPresent,
    /// Maps, in section order.
    pub maps: Vec<MapDefJson<'a>>,
    /// Programs, in section-header order.
    pub programs: Vec<ProgDefJson<'a>>,
    /// Oddities tolerated.
    pub warnings: &'a [String],
}

/// `size_of_bpf_map_def` / `size_of_bpf_prog_def`.
#[derive(Debug, Serialize)]
pub struct RecordSizesJson {
    /// `size_of_bpf_map_def`.
    pub map_def: usize,
    /// `size_of_bpf_prog_def`.
    pub prog_def: usize,
}

impl<'a> SpecJson<'a> {
    /// The view of `spec`.
    pub fn new(spec: &'a ObjectSpec) -> Self {
        SpecJson {
            name: &spec.name,
            license: &spec.license,
            critical: spec.critical.as_deref(),
            loader_version: VersionRange {
                min: spec.bpfloader_min_ver,
                max: spec.bpfloader_max_ver,
            },
            netbpfload_min_ver: spec.netbpfload_min_ver,
            bpfloader_min_required_ver: spec.bpfloader_min_required_ver,
            record_sizes: RecordSizesJson {
                map_def: spec.size_of_bpf_map_def,
                prog_def: spec.size_of_bpf_prog_def,
            },
            sections: &spec.present,
            maps: spec
                .maps
                .iter()
                .map(|m| {
                    let d = &m.def;
                    MapDefJson {
                        name: &m.name,
                        map_type: TypeJson::map(d.map_type),
                        key_size: d.key_size,
                        value_size: d.value_size,
                        max_entries: d.max_entries,
                        flags: d.map_flags,
                        uid: d.uid,
                        gid: d.gid,
                        mode: report::mode(d.mode),
                        selinux_context: domain_json(d.selinux_context, Domain::selinux_context),
                        pin_subdir: domain_json(d.pin_subdir, Domain::pin_subdir),
                        shared: d.shared,
                        loader_version: VersionRange {
                            min: d.bpfloader_min_ver,
                            max: d.bpfloader_max_ver,
                        },
                        kernel: KernelRange::new(d.min_kver, d.max_kver),
                        ignore_on: ignore_on_json(d.ignore_on),
                    }
                })
                .collect(),
            programs: spec
                .programs
                .iter()
                .map(|p| {
                    let d = &p.def;
                    ProgDefJson {
                        section: &p.section,
                        prog_type: TypeJson::prog(p.kind.prog_type),
                        expected_attach_type: crate::names::attach_type(
                            p.kind.expected_attach_type,
                        )
                        .unwrap_or_else(|| "unknown".to_string()),
                        expected_attach_type_id: p.kind.expected_attach_type,
                        kernel_name: &p.kernel_name,
                        pin_name: &p.pin_name,
                        function: &p.func_name,
                        insn_count: p.insn_count(),
                        uid: d.uid,
                        gid: d.gid,
                        optional: d.optional,
                        selinux_context: domain_json(d.selinux_context, Domain::selinux_context),
                        pin_subdir: domain_json(d.pin_subdir, Domain::pin_subdir),
                        loader_version: VersionRange {
                            min: d.bpfloader_min_ver,
                            max: d.bpfloader_max_ver,
                        },
                        kernel: KernelRange::new(d.min_kver, d.max_kver),
                        ignore_on: ignore_on_json(d.ignore_on),
                        relocations: p
                            .relocations
                            .iter()
                            .map(|r| RelocJson {
                                insn: r.insn_index,
                                map: spec.maps.get(r.map_index).map(|m| m.name.as_str()),
                            })
                            .collect(),
                    }
                })
                .collect(),
            warnings: &spec.warnings,
        }
    }
}

/// Where and how a pin is made.
#[derive(Debug, Serialize)]
pub struct PinPlanJson<'a> {
    /// Final path, relative to the bpffs root.
    pub pin: &'a str,
    /// Directory the pin is first created in (under a temporary name): the
    /// `selinux_context` directory if one is given, so that its label
    /// sticks; `""` is the bpffs root.
    pub created_in: &'a str,
    /// Mode of a new pin (octal).
    pub mode: String,
    /// Owner of a new pin.
    pub uid: u32,
    /// Group of a new pin.
    pub gid: u32,
}

impl<'a> PinPlanJson<'a> {
    fn new(p: &'a PinPlan) -> Self {
        PinPlanJson {
            pin: &p.rel,
            created_in: p.tmp_rel.rsplit_once('/').map_or("", |(d, _)| d),
            mode: report::mode(p.mode),
            uid: p.uid,
            gid: p.gid,
        }
    }
}

/// What loading does with one map.
#[derive(Debug, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum MapStepJson<'a> {
    /// Gated out.
    Skip {
        /// Map name.
        name: &'a str,
        /// Why.
        reason: GateJson,
    },
    /// Created, or reused if pinned already.
    Load {
        /// Map name.
        name: &'a str,
        /// Its pin.
        #[serde(flatten)]
        pin: PinPlanJson<'a>,
        /// Type it is created with (after old-kernel substitutions).
        #[serde(flatten)]
        map_type: TypeJson,
        /// Key size.
        key_size: u32,
        /// Value size.
        value_size: u32,
        /// Max entries it is created with (ring buffers: at least a page).
        max_entries: u32,
        /// `map_flags`.
        flags: u32,
        /// Name given to the kernel (empty if the kernel takes none).
        kernel_name: &'a str,
        /// BTF key and value type ids it is created with, `null` for none.
        btf: Option<&'a crate::plan::BtfIds>,
    },
}

/// What loading does with one program.
#[derive(Debug, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ProgStepJson<'a> {
    /// Gated out, or not a program for this loader.
    Skip {
        /// Section name.
        section: &'a str,
        /// Why.
        reason: GateJson,
    },
    /// Loaded, or reused if pinned already.
    Load {
        /// Section name.
        section: &'a str,
        /// Its pin.
        #[serde(flatten)]
        pin: PinPlanJson<'a>,
        /// Program type.
        #[serde(flatten)]
        prog_type: TypeJson,
        /// Expected attach type's number.
        expected_attach_type_id: u32,
        /// Name given to the kernel (empty below 4.15).
        kernel_name: &'a str,
        /// A load failure skips it instead of failing the object.
        optional: bool,
        /// A program the kernel does not JIT fails.
        require_jited: bool,
        /// What happens if the pin holds a different program.
        on_change: OnChange,
    },
}

/// What loading an object would do.
#[derive(Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PlanJson<'a> {
    /// It loads.
    Load {
        /// One step per map.
        maps: Vec<MapStepJson<'a>>,
        /// One step per program section.
        programs: Vec<ProgStepJson<'a>>,
        /// Directories (relative to the bpffs root) pins are made in.
        pin_dirs: &'a [String],
        /// Size of the BTF loaded with it, `null` if none.
        btf_size: Option<usize>,
        /// Non-fatal observations.
        warnings: &'a [String],
    },
    /// It is gated out whole.
    Skip {
        /// Why.
        reason: GateJson,
    },
    /// It fails under these rules.
    Fail {
        /// Why (`kind` is `plan`).
        error: ObjectError,
    },
}

impl<'a> PlanJson<'a> {
    /// The view of a plan.
    pub fn new(plan: &'a Result<ObjectPlan, PlanError>) -> Self {
        match plan {
            Err(e) => PlanJson::Fail {
                error: ObjectError::Plan(e.clone()),
            },
            Ok(ObjectPlan::Skip { reason }) => PlanJson::Skip {
                reason: GateJson::new(reason),
            },
            Ok(ObjectPlan::Load(l)) => PlanJson::Load {
                maps: l
                    .maps
                    .iter()
                    .map(|s| match s {
                        MapStep::Skip { name, reason } => MapStepJson::Skip {
                            name,
                            reason: GateJson::new(reason),
                        },
                        MapStep::Load(m) => MapStepJson::Load {
                            name: &m.name,
                            pin: PinPlanJson::new(&m.pin),
                            map_type: TypeJson::map(m.attrs.map_type),
                            key_size: m.attrs.key_size,
                            value_size: m.attrs.value_size,
                            max_entries: m.attrs.max_entries,
                            flags: m.attrs.map_flags,
                            kernel_name: &m.kernel_name,
                            btf: m.btf.as_ref(),
                        },
                    })
                    .collect(),
                programs: l
                    .programs
                    .iter()
                    .map(|s| match s {
                        ProgStep::Skip { section, reason } => ProgStepJson::Skip {
                            section,
                            reason: GateJson::new(reason),
                        },
                        ProgStep::Load(p) => ProgStepJson::Load {
                            section: &p.section,
                            pin: PinPlanJson::new(&p.pin),
                            prog_type: TypeJson::prog(p.kind.prog_type),
                            expected_attach_type_id: p.kind.expected_attach_type,
                            kernel_name: &p.kernel_name,
                            optional: p.optional,
                            require_jited: p.require_jited,
                            on_change: p.on_change,
                        },
                    })
                    .collect(),
                pin_dirs: &l.pin_dirs,
                btf_size: l.btf.as_ref().map(|b| b.size),
                warnings: &l.warnings,
            },
        }
    }
}

/// JSON form of one inspected file: the object and its plan.
#[derive(Debug, Serialize)]
pub struct InspectJson<'a> {
    /// The file as given on the command line.
    pub file: String,
    /// The parsed object.
    pub object: SpecJson<'a>,
    /// What loading it would do, or why it would fail.
    pub plan: PlanJson<'a>,
}

impl<'a> InspectJson<'a> {
    /// Builds the JSON view.
    pub fn new(file: &str, spec: &'a ObjectSpec, plan: &'a Result<ObjectPlan, PlanError>) -> Self {
        InspectJson {
            file: file.to_string(),
            object: SpecJson::new(spec),
            plan: PlanJson::new(plan),
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
    if let Some(l) = &spec.libbpf {
        let typed = l
            .maps
            .iter()
            .filter(|m| m.btf_key_type_id != 0 && m.btf_value_type_id != 0)
            .count();
        writeln!(
            out,
            "  libbpf object:  BTF {} bytes, {typed} of {} maps with BTF key/value types, {} CO-RE relocations applied",
            l.btf_size,
            l.maps.len(),
            l.core_relocations
        )?;
    }
    let g = &env.gate;
    writeln!(
        out,
        "  plan for:       {} loader, prefix {:?}, loader version {}, kernel {}, {}, {}",
        match env.rules.role {
            crate::release::Role::Mainline => "mainline",
            crate::release::Role::Platform => "platform",
        },
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
            map_bytes: crate::plan::MapBytes {
                max: 1 << 30,
                cpus: 2,
            },
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
        let v = serde_json::to_value(InspectJson::new("offload.o", &s, &plan)).expect("json");
        let m = &v["object"]["maps"][0];
        assert_eq!(m["mode"], "0660", "{v:#}");
        assert_eq!((&m["type"], &m["type_id"]), (&"hash".into(), &1.into()));
        assert!(m.get("zero").is_none(), "no internal field: {m:#}");
        assert_eq!(v["object"]["maps"][1]["shared"], true);
        assert_eq!(v["object"]["maps"][1]["pin_subdir"], "net_shared/");
        let p = &v["object"]["programs"][0];
        assert_eq!(p["kernel"]["min"], "4.14.0");
        assert_eq!(p["kernel"]["max"], "inf");
        assert_eq!(p["ignore_on"], serde_json::json!(["eng"]));
        assert_eq!(p["type"], "sched_cls");
        assert_eq!(v["plan"]["outcome"], "load", "{v:#}");
        let maps = &v["plan"]["maps"];
        assert_eq!(maps[1]["pin"], "net_shared/map__s_map", "{v:#}");
        assert_eq!(maps[1]["created_in"], "tethering", "{v:#}");
        assert_eq!(maps[0]["mode"], "0660");
        let skipped = &v["plan"]["programs"][1];
        assert_eq!(skipped["action"], "skip", "{v:#}");
        assert_eq!(skipped["reason"]["gate"], "kernel", "{v:#}");
        assert_eq!(skipped["reason"]["min"], "7.0.0", "{v:#}");
    }

    #[test]
    fn map_type_names() {
        assert_eq!(map_type_name(25), "DEVMAP_HASH");
        assert_eq!(map_type_name(27), "RINGBUF");
        assert_eq!(map_type_name(1000), "?");
    }
}
