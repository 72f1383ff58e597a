//! Applying the plan of one object.
//!
//! 1. Every pin directory of the plan must be a directory on the bpffs.
//! 2. Maps, in order: an existing pin is reused (after its attributes are
//!    checked); otherwise the map is created (with the object's BTF type
//!    ids where the plan says so) and checked. Nothing is pinned yet.
//! 3. Programs, in order: an existing pin (or a `$variant` this object
//!    already produced in this run) is reused; otherwise the program is
//!    relocated against the maps' fds and verified
//!    ([`super::verify`]). Nothing is pinned yet.
//! 4. Only when every map and program is in hand: [`super::pin::commit`].
//!
//! A failure in 1–3 leaves the pin tree exactly as it was.

use super::error::LoadError;
use super::pin::{self, Found, NewPin, Repair};
use super::verify::{self, VerifyBudget};
use super::{EngineCtx, PinReport, SkipReport};
use crate::gate;
use crate::plan::{LoadPlan, MapAttrs, MapStep, ProgStep};
use crate::reloc;
use crate::spec::ObjectSpec;
use crate::sys::{MapBtf, MapCreateAttr, MapInfo, ObjKind, PinHandle, ProgLoadAttr};
use aya_obj::generated::BPF_F_RDONLY_PROG;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// What a loaded object holds: its pins (new and reused) and what was
/// skipped.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub(crate) maps: Vec<PinReport>,
    pub(crate) programs: Vec<PinReport>,
    pub(crate) skipped: Vec<SkipReport>,
}

/// Checks a map in the kernel against the attributes of its plan, like
/// libbpf's `map_is_reuse_compat` and Android's `mapMatchesExpectations`.
/// Device maps tolerate `BPF_F_RDONLY_PROG`, which the kernel sets itself.
pub fn check_map(
    info: &MapInfo,
    exp: &MapAttrs,
    pin: &str,
    origin: &'static str,
) -> Result<(), LoadError> {
    let mismatch = |field, actual: String, expected: String| LoadError::MapMismatch {
        pin: pin.to_string(),
        field,
        actual,
        expected,
        origin,
    };
    let fields = [
        ("map_type", info.map_type, exp.map_type),
        ("key_size", info.key_size, exp.key_size),
        ("value_size", info.value_size, exp.value_size),
        ("max_entries", info.max_entries, exp.max_entries),
    ];
    for (field, actual, expected) in fields {
        if actual != expected {
            return Err(mismatch(field, actual.to_string(), expected.to_string()));
        }
    }
    let tolerated = if gate::is_devmap(exp.map_type) {
        BPF_F_RDONLY_PROG
    } else {
        0
    };
    if info.map_flags & !tolerated != exp.map_flags & !tolerated {
        return Err(mismatch(
            "map_flags",
            format!("{:#x}", info.map_flags),
            format!("{:#x}", exp.map_flags),
        ));
    }
    Ok(())
}

/// A map or program of this run: created now, or reused.
enum Held {
    New(OwnedFd),
    /// A reused pin; its handle is kept only when the pin needs a repair of
    /// mode and owner at commit (rare), so a reused pin costs one fd.
    Reused(OwnedFd, Option<PinHandle>),
}

impl Held {
    fn fd(&self) -> &OwnedFd {
        match self {
            Held::New(fd) | Held::Reused(fd, _) => fd,
        }
    }
}

/// Applies `plan` to `spec` (see the module doc).
pub(crate) fn apply(
    ctx: &EngineCtx<'_>,
    spec: &ObjectSpec,
    plan: &LoadPlan,
) -> Result<Applied, LoadError> {
    let sys = ctx.sys;
    let cfg = ctx.cfg;
    let info = gate::kernel_has_obj_info(cfg.gate.kver);
    for d in &plan.pin_dirs {
        let dir = cfg.bpffs.path(d);
        if cfg.create_pin_dirs && sys.lstat(&dir).is_err_and(|e| e.is(libc::ENOENT)) {
            match sys.mkdir(&dir, crate::paths::PIN_DIR_MODE) {
                Ok(()) => log::info!("created pin directory {}", dir.display()),
                Err(e) if e.is(libc::EEXIST) => {}
                Err(e) => return Err(LoadError::sys(format!("create pin directory {d}"), e)),
            }
        }
        cfg.bpffs
            .check_dir(sys, d)
            .map_err(|problem| LoadError::PinDir { dir, problem })?;
    }
    let mut out = Applied::default();

    // The object's BTF, loaded when the first map needing it is created.
    let mut btf_fd: Option<OwnedFd> = None;

    // Maps.
    let mut maps: Vec<Option<(Held, u32)>> = Vec::with_capacity(plan.maps.len());
    for step in &plan.maps {
        let m = match step {
            MapStep::Skip { name, reason } => {
                out.skipped.push(SkipReport {
                    name: name.clone(),
                    reason: reason.clone(),
                });
                maps.push(None);
                continue;
            }
            MapStep::Load(m) => m,
        };
        let rel = &m.pin.rel;
        let what = format!("map {}", m.name);
        let held = match pin::find(sys, &cfg.bpffs, &cfg.creds, rel, ObjKind::Map)? {
            Found::Pinned { fd, pin } => {
                let id = if info {
                    let i = sys
                        .map_info(fd.as_fd())
                        .map_err(|e| LoadError::sys(format!("{what}: query existing pin"), e))?;
                    check_map(&i, &m.attrs, rel, "on the existing pin")?;
                    i.id
                } else {
                    0
                };
                let pin = pin::needs_repair(&cfg.creds, &pin, &m.pin).then_some(pin);
                (Held::Reused(fd, pin), id)
            }
            Found::Absent => {
                let btf = match (&plan.btf, &m.btf) {
                    (Some(b), Some(ids)) => {
                        let fd = match &btf_fd {
                            Some(fd) => fd,
                            None => btf_fd.insert(super::btf::load(sys, b)?),
                        };
                        Some(MapBtf {
                            fd: fd.as_raw_fd(),
                            key_type_id: ids.key,
                            value_type_id: ids.value,
                        })
                    }
                    _ => None,
                };
                let fd = sys
                    .map_create(&MapCreateAttr {
                        map_type: m.attrs.map_type,
                        key_size: m.attrs.key_size,
                        value_size: m.attrs.value_size,
                        max_entries: m.attrs.max_entries,
                        map_flags: m.attrs.map_flags,
                        name: m.kernel_name.clone(),
                        btf,
                    })
                    .map_err(|e| LoadError::sys(format!("{what}: create"), e))?;
                let id = if info {
                    let i = sys
                        .map_info(fd.as_fd())
                        .map_err(|e| LoadError::sys(format!("{what}: query new map"), e))?;
                    check_map(&i, &m.attrs, rel, "in the kernel")?;
                    i.id
                } else {
                    0
                };
                (Held::New(fd), id)
            }
        };
        maps.push(Some(held));
    }

    // Programs.
    let raw_fds: Vec<Option<i32>> = maps
        .iter()
        .map(|m| m.as_ref().map(|(h, _)| h.fd().as_raw_fd()))
        .collect();
    let mut budget = VerifyBudget::new(cfg.verify_budget);
    let mut progs: Vec<(usize, Held, u32)> = Vec::new();
    // Pin path → index into `progs`: a later `$variant` with the same pin
    // reuses what an earlier one produced, as if it were already pinned.
    let mut by_pin: HashMap<&str, usize> = HashMap::new();
    for (j, step) in plan.programs.iter().enumerate() {
        let p = match step {
            ProgStep::Skip { section, reason } => {
                out.skipped.push(SkipReport {
                    name: section.clone(),
                    reason: reason.clone(),
                });
                continue;
            }
            ProgStep::Load(p) => p,
        };
        let rel = p.pin.rel.as_str();
        let what = format!("program {}", p.section);
        if let Some(&k) = by_pin.get(rel) {
            let id = progs.get(k).map_or(0, |(_, _, id)| *id);
            out.programs.push(PinReport {
                name: p.section.clone(),
                pin: rel.to_string(),
                reused: true,
                id,
            });
            continue;
        }
        let Some(prog) = spec.programs.get(j) else {
            continue;
        };
        match pin::find(sys, &cfg.bpffs, &cfg.creds, rel, ObjKind::Prog)? {
            Found::Pinned { fd, pin } => {
                let id = if info {
                    let i = sys
                        .prog_info(fd.as_fd())
                        .map_err(|e| LoadError::sys(format!("{what}: query existing pin"), e))?;
                    if i.prog_type != p.kind.prog_type {
                        return Err(LoadError::ProgMismatch {
                            pin: rel.to_string(),
                            actual: i.prog_type,
                            expected: p.kind.prog_type,
                        });
                    }
                    if p.require_jited && i.jited_prog_len == 0 {
                        return Err(LoadError::NotJited {
                            prog: p.section.clone(),
                        });
                    }
                    i.id
                } else {
                    0
                };
                by_pin.insert(rel, progs.len());
                let pin = pin::needs_repair(&cfg.creds, &pin, &p.pin).then_some(pin);
                progs.push((j, Held::Reused(fd, pin), id));
            }
            Found::Absent => {
                let mut insns = prog.insns.clone();
                let skipped = reloc::relocate_maps(&mut insns, &prog.relocations, &raw_fds)
                    .map_err(|source| LoadError::Reloc {
                        prog: p.section.clone(),
                        source,
                    })?;
                for s in skipped {
                    log::warn!("{}: {what}: {s}", ctx.file.display());
                }
                let attr = ProgLoadAttr {
                    prog_type: p.kind.prog_type,
                    expected_attach_type: p.kind.expected_attach_type,
                    insns: &insns,
                    license: &spec.license,
                    kern_version: cfg.gate.kver.0,
                    name: &p.kernel_name,
                };
                let fd = match verify::load(sys, &attr, &p.section, &mut budget) {
                    Ok(fd) => fd,
                    Err(e @ LoadError::ProgLoad { .. }) if p.optional => {
                        log::warn!("{}: optional {e}", ctx.file.display());
                        out.skipped.push(SkipReport {
                            name: p.section.clone(),
                            reason: gate::SkipReason::OptionalFailed {
                                errno: e.errno().unwrap_or(0),
                            },
                        });
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let id = if info {
                    let i = sys
                        .prog_info(fd.as_fd())
                        .map_err(|e| LoadError::sys(format!("{what}: query new program"), e))?;
                    if p.require_jited && i.jited_prog_len == 0 {
                        return Err(LoadError::NotJited {
                            prog: p.section.clone(),
                        });
                    }
                    i.id
                } else {
                    0
                };
                by_pin.insert(rel, progs.len());
                progs.push((j, Held::New(fd), id));
            }
        }
    }

    // Everything is in hand: make the new pins appear.
    let map_loads: Vec<_> = plan
        .maps
        .iter()
        .zip(&maps)
        .filter_map(|(s, h)| match (s, h) {
            (MapStep::Load(m), Some((held, id))) => Some((m, held, *id)),
            _ => None,
        })
        .collect();
    let prog_loads: Vec<_> = progs
        .iter()
        .filter_map(|(j, held, id)| match plan.programs.get(*j) {
            Some(ProgStep::Load(p)) => Some((p, held, *id)),
            _ => None,
        })
        .collect();
    let mut new = Vec::new();
    let mut repairs = Vec::new();
    for (plan_pin, held) in map_loads
        .iter()
        .map(|(m, h, _)| (&m.pin, *h))
        .chain(prog_loads.iter().map(|(p, h, _)| (&p.pin, *h)))
    {
        match held {
            Held::New(fd) => new.push(NewPin {
                plan: plan_pin,
                fd: fd.as_fd(),
            }),
            Held::Reused(_, Some(pin)) => repairs.push(Repair {
                plan: plan_pin,
                pin,
            }),
            Held::Reused(_, None) => {}
        }
    }
    pin::commit(sys, &cfg.bpffs, &cfg.creds, &new, &repairs)?;

    for (m, held, id) in map_loads {
        out.maps.push(PinReport {
            name: m.name.clone(),
            pin: m.pin.rel.clone(),
            reused: matches!(held, Held::Reused(..)),
            id,
        });
    }
    let variants = std::mem::take(&mut out.programs);
    for (p, held, id) in prog_loads {
        out.programs.push(PinReport {
            name: p.section.clone(),
            pin: p.pin.rel.clone(),
            reused: matches!(held, Held::Reused(..)),
            id,
        });
    }
    out.programs.extend(variants);
    Ok(out)
}
