//! The plan: what loading one object will do, decided before any syscall.
//!
//! [`plan_object`] is a pure function of the parsed object, the release and
//! role rules, the gating inputs (loader version, kernel, build type,
//! architecture) and the location. It is the only place that computes
//! gating outcomes, pin paths (final and temporary), the kernel attributes a
//! map or program must have, modes and owners, and the object's pin
//! directories. The apply step ([`crate::engine`]) only executes a plan;
//! parallel grouping and `inspect` read it too.

use crate::gate::{self, GateEnv, SkipReason};
use crate::paths::{self, Location};
use crate::release::{
    LibbpfObjects, ProgsSection, RecordSizes, RoleRules, UnknownDomain, BASE_LOADER_VERSION,
};
use crate::spec::{
    Domain, Kver, ObjectSpec, ProgKind, RawDomains, BPF_MAP_DEF_SIZE, BPF_PROG_DEF_SIZE,
};
use crate::sys::Machine;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// Everything a plan depends on besides the object itself.
#[derive(Debug, Clone)]
pub struct PlanEnv<'a> {
    /// The release's rules for the role loading this location.
    pub rules: &'a RoleRules,
    /// Gating inputs.
    pub gate: GateEnv,
    /// The location (its bpffs prefix and accepted program types).
    pub location: &'a Location,
    /// `sysconf(_SC_PAGESIZE)` (ring buffers are at least one page).
    pub page_size: u32,
    /// The kernel memory the object's maps may declare in all
    /// ([`map_bytes`]).
    pub map_bytes: MapBytes,
    /// Makes this object's temporary pin names unique in the process
    /// (the engine passes `<pid>_<n>`).
    pub tmp_tag: &'a str,
    /// What to do with a pinned program that differs from the object's.
    pub on_change: OnChange,
}

/// What happens to an existing program pin whose program is not the one the
/// object would load (its tag differs: the object was rebuilt or changed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnChange {
    /// Keep the pinned program and warn: the boot flow (as Android's
    /// loaders, which never look at what a pin holds beyond its type).
    #[default]
    Keep,
    /// Load the object's program and put it at the pin in place of the old
    /// one, atomically (`netbpfload load --replace`). Maps are never
    /// replaced: the new program uses the pinned maps and their data.
    Replace,
}

/// A pin to create or reuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinPlan {
    /// Final path, relative to the bpffs root.
    pub rel: String,
    /// Where a new pin is first created (in the `selinux_context`
    /// directory when one is given, else in the final directory), then
    /// given its mode and owner, then renamed to [`Self::rel`].
    pub tmp_rel: String,
    /// chmod bits of a new pin.
    pub mode: u32,
    /// Owner of a new pin.
    pub uid: u32,
    /// Group of a new pin.
    pub gid: u32,
}

/// The attributes a map must have in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MapAttrs {
    /// Type after the old-kernel substitutions.
    pub map_type: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Max entries after the ring-buffer adjustment.
    pub max_entries: u32,
    /// Flags as declared.
    pub map_flags: u32,
}

/// One map to create or reuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapLoad {
    /// Map name.
    pub name: String,
    /// Its pin.
    pub pin: PinPlan,
    /// Kernel attributes.
    pub attrs: MapAttrs,
    /// Name given to the kernel (empty on kernels that take none).
    pub kernel_name: String,
    /// When the map is created: the BTF key and value type ids it gets.
    /// `None`: created without BTF.
    pub btf: Option<BtfIds>,
}

/// A map's BTF key and value type ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BtfIds {
    /// Type id of the key.
    pub key: u32,
    /// Type id of the value.
    pub value: u32,
}

/// The object's BTF, ready for `BPF_BTF_LOAD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BtfPlan {
    /// The `.BTF` blob with its DATASEC sizes and VAR offsets fixed up.
    #[serde(skip)]
    pub data: Vec<u8>,
    /// The same with every FUNC's linkage dropped, for kernels that refuse
    /// global functions (`EINVAL` on the first load); `None` when no FUNC
    /// has linkage (a retry would send the same bytes).
    #[serde(skip)]
    pub downgraded: Option<Vec<u8>>,
    /// Size of [`Self::data`].
    pub size: usize,
}

/// One program to load or reuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgLoad {
    /// Section name.
    pub section: String,
    /// Its pin (several `$variant` sections may share one).
    pub pin: PinPlan,
    /// Program and expected attach type.
    pub kind: ProgKind,
    /// Name given to the kernel (empty below 4.15).
    pub kernel_name: String,
    /// A load failure skips the program instead of failing the object.
    pub optional: bool,
    /// A new program without a JITed image fails (`ENOTSUP`).
    pub require_jited: bool,
    /// What happens if the pin already holds a different program.
    pub on_change: OnChange,
}

/// What happens to one map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum MapStep {
    /// Gated out.
    Skip {
        /// Map name.
        name: String,
        /// Why.
        reason: SkipReason,
    },
    /// Created or reused.
    Load(MapLoad),
}

/// What happens to one program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ProgStep {
    /// Gated out, or not a program for this loader.
    Skip {
        /// Section name.
        section: String,
        /// Why.
        reason: SkipReason,
    },
    /// Loaded or reused.
    Load(ProgLoad),
}

/// What loading one object does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadPlan {
    /// One step per map, in the object's map order.
    pub maps: Vec<MapStep>,
    /// One step per program section, in section-header order.
    pub programs: Vec<ProgStep>,
    /// Every directory (relative to the bpffs root, no trailing `/`, `""`
    /// for the root) a pin is created or renamed in.
    pub pin_dirs: Vec<String>,
    /// The object's BTF, loaded before its maps are created.
    pub btf: Option<BtfPlan>,
    /// Non-fatal observations (ignored unknown domains, ...).
    pub warnings: Vec<String>,
}

impl LoadPlan {
    /// The maps to create or reuse.
    pub fn map_loads(&self) -> impl Iterator<Item = &MapLoad> {
        self.maps.iter().filter_map(|s| match s {
            MapStep::Load(m) => Some(m),
            MapStep::Skip { .. } => None,
        })
    }

    /// The programs to load or reuse.
    pub fn prog_loads(&self) -> impl Iterator<Item = &ProgLoad> {
        self.programs.iter().filter_map(|s| match s {
            ProgStep::Load(p) => Some(p),
            ProgStep::Skip { .. } => None,
        })
    }

    /// Every final pin path the object may create or reuse.
    pub fn final_pins(&self) -> impl Iterator<Item = &str> {
        self.map_loads()
            .map(|m| m.pin.rel.as_str())
            .chain(self.prog_loads().map(|p| p.pin.rel.as_str()))
    }

    /// Most file descriptors the object holds at once while it loads: one
    /// per map and program, the BTF object, and a few for the calls
    /// themselves.
    pub fn fd_need(&self) -> usize {
        const SLACK: usize = 4;
        self.map_loads().count()
            + self.prog_loads().count()
            + usize::from(self.btf.is_some())
            + SLACK
    }

    /// Every gated-out map and program, with the reason.
    pub fn skipped(&self) -> impl Iterator<Item = (&str, &SkipReason)> {
        let maps = self.maps.iter().filter_map(|s| match s {
            MapStep::Skip { name, reason } => Some((name.as_str(), reason)),
            MapStep::Load(_) => None,
        });
        let progs = self.programs.iter().filter_map(|s| match s {
            ProgStep::Skip { section, reason } => Some((section.as_str(), reason)),
            ProgStep::Load(_) => None,
        });
        maps.chain(progs)
    }
}

/// The plan of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "plan", rename_all = "snake_case")]
pub enum ObjectPlan {
    /// The whole object is gated out: nothing is created.
    Skip {
        /// Why.
        reason: SkipReason,
    },
    /// Load it.
    Load(LoadPlan),
}

/// Why an object cannot be loaded under these rules (it fails).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// `bpfloader_min_required_ver` is above this loader's version.
    #[error("needs loader version {required} (bpfloader_min_required_ver), this is {ver}")]
    LoaderTooOld {
        /// This loader's version.
        ver: u32,
        /// Required.
        required: u32,
    },
    /// A section this release requires is missing.
    #[error("section `{section}` is required by this release and missing")]
    MissingSection {
        /// The section.
        section: &'static str,
    },
    /// The record sizes are not the ones this loader accepts.
    #[error("record sizes {map_def}/{prog_def} (bpf_map_def/bpf_prog_def); this loader accepts only {BPF_MAP_DEF_SIZE}/{BPF_PROG_DEF_SIZE}")]
    RecordSizes {
        /// Declared `size_of_bpf_map_def`.
        map_def: usize,
        /// Declared `size_of_bpf_prog_def`.
        prog_def: usize,
    },
    /// A `pin_subdir` / `selinux_context` string this release does not know.
    #[error("{owner}: unknown {field} {value:?}")]
    UnknownDomain {
        /// Map or program.
        owner: String,
        /// `pin_subdir` or `selinux_context`.
        field: &'static str,
        /// The string.
        value: String,
    },
    /// The kernel needs BTF for maps and the object has no `.BTF` section.
    #[error("no .BTF section: this release loads maps with BTF on kernel {kver} (>= {min})")]
    MissingBtf {
        /// Running kernel.
        kver: Kver,
        /// Threshold.
        min: Kver,
    },
    /// A program type the location does not accept.
    #[error("program {section}: type {prog_type} is not permitted in {dir}")]
    ProgTypeNotPermitted {
        /// Section.
        section: String,
        /// Its program type.
        prog_type: u32,
        /// The location directory.
        dir: String,
    },
    /// Two maps of the object would share one pin.
    #[error("maps {first} and {second} would both be pinned at {pin}")]
    DuplicatePin {
        /// The path.
        pin: String,
        /// First map.
        first: String,
        /// Second map.
        second: String,
    },
    /// The object's BTF cannot be used.
    #[error("BTF: {reason}")]
    Btf {
        /// Why.
        reason: String,
    },
    /// A libbpf-style object, which these rules do not load.
    #[error("{reason}")]
    LibbpfRefused {
        /// Why (which release, what it lacks).
        reason: &'static str,
    },
    /// The maps to create declare more kernel memory than an object may.
    #[error("its maps declare {total} bytes of kernel memory (largest: {largest}, {largest_bytes} bytes), more than the {max} an object may have")]
    MapBytes {
        /// All the maps to create.
        total: u64,
        /// The budget.
        max: u64,
        /// The largest map.
        largest: String,
        /// Its bytes.
        largest_bytes: u64,
    },
    /// A pin file name longer than the filesystem allows.
    #[error("pin name {name:?} is {len} bytes, more than {max}")]
    PinNameTooLong {
        /// The name.
        name: String,
        /// Its length.
        len: usize,
        /// `NAME_MAX`.
        max: usize,
    },
}

/// What an object's maps may ask of the kernel's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapBytes {
    /// Most bytes the object's maps may declare, all together.
    pub max: u64,
    /// Copies of a per-CPU map's value (the kernel's possible CPUs).
    pub cpus: u32,
}

impl MapBytes {
    /// The default for a machine: a quarter of its memory per object, so
    /// that no single object can take the memory the rest of the boot
    /// needs (Android's objects declare a few MiB).
    pub fn for_machine(m: Machine) -> MapBytes {
        MapBytes {
            max: m.memory / 4,
            cpus: m.cpus,
        }
    }
}

/// Bytes a map declares: `max_entries x (key_size + value_size)`, the
/// value rounded up to 8 bytes and counted once per CPU for the per-CPU
/// types; a ring buffer's `max_entries` bytes. What the kernel allocates at
/// creation for the preallocated types (without its per-element overhead),
/// and what the others (`BPF_F_NO_PREALLOC` hashes, tries, storages) may
/// grow to once used.
pub fn map_bytes(a: &MapAttrs, cpus: u32) -> u64 {
    use aya_obj::generated::bpf_map_type as t;
    let entries = u64::from(a.max_entries);
    let ty = a.map_type;
    if ty == t::BPF_MAP_TYPE_RINGBUF as u32 || ty == t::BPF_MAP_TYPE_USER_RINGBUF as u32 {
        return entries;
    }
    let per_cpu = [
        t::BPF_MAP_TYPE_PERCPU_HASH,
        t::BPF_MAP_TYPE_PERCPU_ARRAY,
        t::BPF_MAP_TYPE_LRU_PERCPU_HASH,
        t::BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE,
    ]
    .iter()
    .any(|&p| p as u32 == ty);
    let value = u64::from(a.value_size).div_ceil(8) * 8;
    let value = if per_cpu {
        value.saturating_mul(u64::from(cpus))
    } else {
        value
    };
    entries.saturating_mul(u64::from(a.key_size).saturating_add(value))
}

/// Refuses an object whose maps to create declare more than the budget.
fn check_map_bytes(maps: &[MapStep], env: &PlanEnv<'_>) -> Result<(), PlanError> {
    let mut total = 0u64;
    let mut largest: Option<(&str, u64)> = None;
    for m in maps {
        if let MapStep::Load(m) = m {
            let b = map_bytes(&m.attrs, env.map_bytes.cpus);
            total = total.saturating_add(b);
            if largest.is_none_or(|(_, l)| b > l) {
                largest = Some((&m.name, b));
            }
        }
    }
    match largest {
        Some((name, bytes)) if total > env.map_bytes.max => Err(PlanError::MapBytes {
            total,
            max: env.map_bytes.max,
            largest: name.to_string(),
            largest_bytes: bytes,
        }),
        _ => Ok(()),
    }
}

/// Kernels from this version on load BTF (`BPF_BTF_LOAD`, 4.18).
pub const LIBBPF_BTF_MIN_KERNEL: Kver = Kver::new(4, 18, 0);

/// Longest file name a bpffs entry may have (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// Resolves a `selinux_context` / `pin_subdir` under the rules. `raw` is
/// the field's text when it names no domain at all.
fn resolve_domain(
    (d, raw): (Domain, Option<&str>),
    rules: &RoleRules,
    unknown: UnknownDomain,
    owner: &str,
    field: &'static str,
    warnings: &mut Vec<String>,
) -> Result<Domain, PlanError> {
    if d != Domain::Unknown && rules.domains.contains(&d) {
        return Ok(d);
    }
    let value = match (raw, field) {
        (Some(raw), _) => raw,
        (None, "pin_subdir") => d.pin_subdir(),
        (None, _) => d.selinux_context(),
    }
    .to_string();
    match unknown {
        UnknownDomain::Unspecified => {
            warnings.push(format!(
                "{owner}: {field} {value:?} is unknown to this loader; ignored"
            ));
            Ok(Domain::Unspecified)
        }
        UnknownDomain::Fail => Err(PlanError::UnknownDomain {
            owner: owner.to_string(),
            field,
            value,
        }),
    }
}

/// Where a pin of `(pin_subdir, selinux_context)` lives: its final
/// directory and the directory a new one is created in.
fn pin_dirs(
    rules: &RoleRules,
    prefix: &str,
    (pin_subdir, selinux_context, raw): (Domain, Domain, &RawDomains),
    owner: &str,
    warnings: &mut Vec<String>,
) -> Result<(String, String), PlanError> {
    let subdir = if rules.pin_subdir {
        resolve_domain(
            (pin_subdir, raw.pin_subdir.as_deref()),
            rules,
            rules.unknown_pin_subdir,
            owner,
            "pin_subdir",
            warnings,
        )?
    } else {
        Domain::Unspecified
    };
    let ctx = if rules.selinux_context {
        resolve_domain(
            (selinux_context, raw.selinux_context.as_deref()),
            rules,
            rules.unknown_selinux_context,
            owner,
            "selinux_context",
            warnings,
        )?
    } else {
        Domain::Unspecified
    };
    let dir = paths::pin_dir(subdir, prefix).to_string();
    let create_in = match ctx {
        Domain::Unspecified | Domain::Unknown => dir.clone(),
        d => d.pin_subdir().to_string(),
    };
    Ok((dir, create_in))
}

fn check_name(rel: &str) -> Result<(), PlanError> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if name.len() > NAME_MAX {
        return Err(PlanError::PinNameTooLong {
            name: name.to_string(),
            len: name.len(),
            max: NAME_MAX,
        });
    }
    Ok(())
}

/// Decides everything about loading `spec` under `env`. `Err` means the
/// object fails without anything being created.
pub fn plan_object(spec: &ObjectSpec, env: &PlanEnv<'_>) -> Result<ObjectPlan, PlanError> {
    let rules = env.rules;
    let g = &env.gate;
    let ver = g.loader_ver;
    let libbpf = spec.libbpf.as_deref();
    if libbpf.is_some() {
        if let LibbpfObjects::Refused(reason) = rules.libbpf {
            return Err(PlanError::LibbpfRefused { reason });
        }
    } else {
        if rules.version_sections_required {
            for (present, section) in [
                (spec.present.bpfloader_min_ver, "bpfloader_min_ver"),
                (spec.present.bpfloader_max_ver, "bpfloader_max_ver"),
            ] {
                if !present {
                    return Err(PlanError::MissingSection { section });
                }
            }
        }
        if rules.gates.loader_version {
            if let Some(reason) = gate::object_gate(g, spec) {
                return Ok(ObjectPlan::Skip { reason });
            }
        }
        if rules.object_min_versions {
            if let Some(min) = spec.netbpfload_min_ver.filter(|&m| ver < m) {
                return Ok(ObjectPlan::Skip {
                    reason: SkipReason::NetbpfloadMinVer { ver, min },
                });
            }
            // Checked after the skips: an object outside [min, max) never
            // fails on it.
            if let Some(required) = spec.bpfloader_min_required_ver.filter(|&r| ver < r) {
                return Err(PlanError::LoaderTooOld { ver, required });
            }
        }
        if !spec.present.progs {
            let ok = match rules.progs_section {
                ProgsSection::Required => false,
                ProgsSection::OptionalFrom42 => spec.bpfloader_min_ver >= BASE_LOADER_VERSION,
            };
            if !ok {
                return Err(PlanError::MissingSection { section: "progs" });
            }
        }
        if rules.record_sizes == RecordSizes::Exact
            && (spec.size_of_bpf_map_def != BPF_MAP_DEF_SIZE
                || spec.size_of_bpf_prog_def != BPF_PROG_DEF_SIZE)
        {
            return Err(PlanError::RecordSizes {
                map_def: spec.size_of_bpf_map_def,
                prog_def: spec.size_of_bpf_prog_def,
            });
        }
    }
    // A libbpf object's BTF (fixed up by its parser) types its maps on
    // kernels that load BTF at all (4.18+).
    let libbpf_btf = libbpf
        .and_then(|l| l.btf.as_ref())
        .filter(|_| g.kver >= LIBBPF_BTF_MIN_KERNEL);
    let prepared = match rules.btf_min_kernel {
        Some(min) if libbpf.is_none() && g.kver >= min && spec.present.maps => match &spec.btf {
            Some(source) => Some(crate::btf::prepare(source).map_err(|e| PlanError::Btf {
                reason: e.to_string(),
            })?),
            None if rules.btf_required => {
                return Err(PlanError::MissingBtf { kver: g.kver, min });
            }
            None => None,
        },
        _ => None,
    };

    let mut warnings = Vec::new();
    let mut dirs = BTreeSet::new();
    let prefix = env.location.prefix.as_str();
    let map_names = g.kver >= rules.map_name_min_kernel;
    let prog_names = g.kver >= rules.prog_name_min_kernel;

    let mut maps = Vec::with_capacity(spec.maps.len());
    let mut map_pins: HashMap<String, &str> = HashMap::new();
    for (i, m) in spec.maps.iter().enumerate() {
        let d = &m.def;
        let reason = gate::map_gate(g, d, rules.gates);
        if let Some(reason) = reason {
            maps.push(MapStep::Skip {
                name: m.name.clone(),
                reason,
            });
            continue;
        }
        let owner = format!("map {}", m.name);
        let (dir, create_in) = pin_dirs(
            rules,
            prefix,
            (d.pin_subdir, d.selinux_context, &d.raw_domains),
            &owner,
            &mut warnings,
        )?;
        let rel = paths::map_pin_rel(&dir, &spec.name, &m.name, d.shared);
        check_name(&rel)?;
        if let Some(first) = map_pins.insert(rel.clone(), &m.name) {
            return Err(PlanError::DuplicatePin {
                pin: rel,
                first: first.to_string(),
                second: m.name.clone(),
            });
        }
        let map_type = gate::effective_map_type(g.kver, d.map_type);
        dirs.insert(dir.trim_end_matches('/').to_string());
        dirs.insert(create_in.trim_end_matches('/').to_string());
        maps.push(MapStep::Load(MapLoad {
            name: m.name.clone(),
            pin: PinPlan {
                tmp_rel: paths::tmp_pin_rel(&create_in, env.tmp_tag, 'm', i),
                rel,
                mode: d.mode,
                uid: d.uid,
                gid: d.gid,
            },
            attrs: MapAttrs {
                map_type,
                key_size: d.key_size,
                value_size: d.value_size,
                max_entries: gate::effective_max_entries(map_type, d.max_entries, env.page_size),
                map_flags: d.map_flags,
            },
            kernel_name: if map_names {
                paths::kernel_object_name(&m.name)
            } else {
                String::new()
            },
            btf: match (libbpf, prepared.as_ref()) {
                // A libbpf map: the ids its BTF definition names, for the
                // map types libbpf creates with BTF.
                (Some(l), _) => l
                    .maps
                    .get(i)
                    .filter(|t| {
                        libbpf_btf.is_some()
                            && crate::libbpf::map_takes_btf(map_type)
                            && t.btf_key_type_id != 0
                            && t.btf_value_type_id != 0
                    })
                    .map(|t| BtfIds {
                        key: t.btf_key_type_id,
                        value: t.btf_value_type_id,
                    }),
                (None, Some(b)) if gate::map_takes_btf(map_type) => {
                    let t = b
                        .map_types(&m.name, d.key_size, d.value_size)
                        .map_err(|e| PlanError::Btf {
                            reason: e.to_string(),
                        })?;
                    Some(BtfIds {
                        key: t.key_type_id,
                        value: t.value_type_id,
                    })
                }
                (None, _) => None,
            },
        }));
    }

    check_map_bytes(&maps, env)?;

    let mut programs = Vec::with_capacity(spec.programs.len());
    for (i, p) in spec.programs.iter().enumerate() {
        let d = &p.def;
        // A libbpf program's kind comes from libbpf's section names (its
        // parser); an Android one's from the release's table.
        let kind = if libbpf.is_some() {
            p.kind
        } else {
            let Some(row) = rules.sections.lookup(&p.section) else {
                programs.push(ProgStep::Skip {
                    section: p.section.clone(),
                    reason: SkipReason::NotAProgram,
                });
                continue;
            };
            row.kind()
        };
        // A type the location does not permit fails the object even if the
        // program would be gated out (the platform loader checks it while
        // reading code sections, before any gate).
        if !env.location.prog_types.allows(kind.prog_type) {
            return Err(PlanError::ProgTypeNotPermitted {
                section: p.section.clone(),
                prog_type: kind.prog_type,
                dir: env.location.dir.display().to_string(),
            });
        }
        let owner = format!("program {}", p.section);
        let resolve = |warnings: &mut Vec<String>| {
            pin_dirs(
                rules,
                prefix,
                (d.pin_subdir, d.selinux_context, &d.raw_domains),
                &owner,
                warnings,
            )
        };
        let early = if rules.prog_domains_before_gates {
            Some(resolve(&mut warnings)?)
        } else {
            None
        };
        let reason = gate::prog_gate(g, d, rules.gates);
        if let Some(reason) = reason {
            programs.push(ProgStep::Skip {
                section: p.section.clone(),
                reason,
            });
            continue;
        }
        let (dir, create_in) = match early {
            Some(dirs) => dirs,
            None => resolve(&mut warnings)?,
        };
        let rel = paths::prog_pin_rel(&dir, &spec.name, &p.pin_name);
        check_name(&rel)?;
        dirs.insert(dir.trim_end_matches('/').to_string());
        dirs.insert(create_in.trim_end_matches('/').to_string());
        programs.push(ProgStep::Load(ProgLoad {
            section: p.section.clone(),
            pin: PinPlan {
                tmp_rel: paths::tmp_pin_rel(&create_in, env.tmp_tag, 'p', i),
                rel,
                mode: paths::PROG_PIN_MODE,
                uid: d.uid,
                gid: d.gid,
            },
            kind,
            kernel_name: if prog_names {
                p.kernel_name.clone()
            } else {
                String::new()
            },
            optional: d.optional,
            require_jited: rules.jited_len_min_version.is_some_and(|v| ver >= v),
            on_change: env.on_change,
        }));
    }
    let btf = match (prepared, libbpf_btf) {
        (Some(b), _) => Some(BtfPlan {
            size: b.bytes().len(),
            data: b.bytes().to_vec(),
            downgraded: b.downgraded(),
        }),
        // aya-obj already dropped what this kernel lacks (FUNC linkage
        // included): no retry blob.
        (None, Some(data)) => Some(BtfPlan {
            size: data.len(),
            data: data.clone(),
            downgraded: None,
        }),
        (None, None) => None,
    };
    Ok(ObjectPlan::Load(LoadPlan {
        maps,
        programs,
        pin_dirs: dirs.into_iter().collect(),
        btf,
        warnings,
    }))
}

#[cfg(test)]
mod tests;
