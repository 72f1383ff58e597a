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
use super::pin::{self, Found, NewPin, Repair, Replacement};
use super::verify::{self, VerifyBudget};
use super::{EngineCtx, PinReport, SkipReport};
use crate::gate;
use crate::plan::{LoadPlan, MapAttrs, MapStep, OnChange, ProgLoad, ProgStep};
use crate::progtag::{self, Tag};
use crate::reloc;
use crate::spec::Kver;
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

/// A map or program of this run: created now, reused, or (a program)
/// loaded to take the place of a changed pinned one.
enum Held {
    New(OwnedFd),
    /// A reused pin; its handle is kept only when the pin needs a repair of
    /// mode and owner at commit (rare), so a reused pin costs one fd.
    Reused(OwnedFd, Option<PinHandle>),
    Replacing {
        new: OwnedFd,
        old: OwnedFd,
        pin: PinHandle,
    },
}

impl Held {
    fn fd(&self) -> &OwnedFd {
        match self {
            Held::New(fd) | Held::Reused(fd, _) | Held::Replacing { new: fd, .. } => fd,
        }
    }
}

/// One program of this run: its step index, what is held, and what the
/// report says of it.
struct ProgHeld {
    step: usize,
    held: Held,
    id: u32,
    tag: Option<Tag>,
    changed: bool,
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
        if cfg.create_pin_dirs {
            // The directory and any missing parent (`vendor/x/`), each
            // checked to be a directory of the bpffs before going into it.
            let mut at = String::new();
            for part in d.split('/').filter(|p| !p.is_empty()) {
                if !at.is_empty() {
                    cfg.bpffs
                        .check_dir(sys, &at)
                        .map_err(|problem| LoadError::PinDir {
                            dir: cfg.bpffs.path(&at),
                            problem,
                        })?;
                    at.push('/');
                }
                at.push_str(part);
                let path = cfg.bpffs.path(&at);
                if !sys.lstat(&path).is_err_and(|e| e.is(libc::ENOENT)) {
                    continue;
                }
                match sys.mkdir(&path, crate::paths::PIN_DIR_MODE) {
                    Ok(()) => log::info!("created pin directory {}", path.display()),
                    Err(e) if e.is(libc::EEXIST) => {}
                    Err(e) => return Err(LoadError::sys(format!("create pin directory {at}"), e)),
                }
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
                    verifier_log: None,
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
    let mut budget = VerifyBudget::new(cfg.verify_budget, cfg.verify_total);
    let mut progs: Vec<ProgHeld> = Vec::new();
    // Pin path → index into `progs`: a later `$variant` with the same pin
    // reuses what an earlier one produced, as if it were already pinned.
    let mut by_pin: HashMap<&str, usize> = HashMap::new();
    for (j, step) in plan.programs.iter().enumerate() {
        let p = match step {
            ProgStep::Skip { section, reason } => {
                out.skipped.push(SkipReport {
                    name: section.clone(),
                    reason: reason.clone(),
                    verifier_log: None,
                });
                continue;
            }
            ProgStep::Load(p) => p,
        };
        let rel = p.pin.rel.as_str();
        let what = format!("program {}", p.section);
        if let Some(&k) = by_pin.get(rel) {
            let (id, tag) = progs.get(k).map_or((0, None), |h| (h.id, h.tag));
            out.programs.push(PinReport {
                tag,
                ..PinReport::plain(&p.section, rel, true, id)
            });
            continue;
        }
        let Some(prog) = spec.programs.get(j) else {
            continue;
        };
        let held = match pin::find(sys, &cfg.bpffs, &cfg.creds, rel, ObjKind::Prog)? {
            Found::Pinned { fd, pin } => {
                let pinned = if info {
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
                    Some(i)
                } else {
                    None
                };
                reuse_or_replace(
                    ctx,
                    spec,
                    j,
                    p,
                    &raw_fds,
                    &mut budget,
                    &mut out,
                    (fd, pin, pinned),
                )?
            }
            Found::Absent => {
                let mut insns = prog.insns.clone();
                let skipped = reloc::relocate_maps(&mut insns, &prog.relocations, &raw_fds)
                    .map_err(|source| LoadError::Reloc {
                        prog: p.section.clone(),
                        source,
                    })?;
                if let Some(first) = skipped.first() {
                    // One line per program, however many there are.
                    log::warn!(
                        "{}: {what}: {} relocation(s) skipped, the first: {first}",
                        crate::logging::shown(ctx.file),
                        skipped.len(),
                    );
                }
                let fd = match load_program(ctx, spec, p, &insns, &mut budget) {
                    Ok(fd) => fd,
                    Err(e @ LoadError::ProgLoad { .. }) if p.optional => {
                        log::warn!(
                            "{}: optional {}",
                            ctx.file.display(),
                            crate::logging::escape(&e.to_string())
                        );
                        out.skipped.push(optional_failed(&p.section, &e));
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let (id, tag) = new_prog_info(ctx, p, &fd)?;
                ProgHeld {
                    step: j,
                    held: Held::New(fd),
                    id,
                    tag,
                    changed: false,
                }
            }
        };
        by_pin.insert(rel, progs.len());
        progs.push(held);
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
        .filter_map(|h| match plan.programs.get(h.step) {
            Some(ProgStep::Load(p)) => Some((p, h)),
            _ => None,
        })
        .collect();
    let mut new = Vec::new();
    let mut repairs = Vec::new();
    let mut replacements = Vec::new();
    for (plan_pin, held) in map_loads
        .iter()
        .map(|(m, h, _)| (&m.pin, *h))
        .chain(prog_loads.iter().map(|(p, h)| (&p.pin, &h.held)))
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
            Held::Replacing { new: fd, old, pin } => replacements.push(Replacement {
                plan: plan_pin,
                fd: fd.as_fd(),
                old: old.as_fd(),
                pin,
            }),
        }
    }
    pin::commit(sys, &cfg.bpffs, &cfg.creds, &new, &replacements, &repairs)?;

    for (m, held, id) in map_loads {
        out.maps.push(PinReport::plain(
            &m.name,
            &m.pin.rel,
            matches!(held, Held::Reused(..)),
            id,
        ));
    }
    let variants = std::mem::take(&mut out.programs);
    for (p, h) in prog_loads {
        out.programs.push(PinReport {
            tag: h.tag,
            changed: h.changed,
            replaced: matches!(h.held, Held::Replacing { .. }),
            ..PinReport::plain(
                &p.section,
                &p.pin.rel,
                matches!(h.held, Held::Reused(..)),
                h.id,
            )
        });
    }
    out.programs.extend(variants);
    Ok(out)
}

/// Verifies one relocated program ([`verify::load`]).
/// What an optional program refused by the kernel leaves in the report.
fn optional_failed(section: &str, e: &LoadError) -> SkipReport {
    SkipReport {
        name: section.to_string(),
        reason: gate::SkipReason::OptionalFailed {
            errno: e.errno().unwrap_or(0),
        },
        verifier_log: e.verifier_log().map(str::to_string),
    }
}

fn load_program(
    ctx: &EngineCtx<'_>,
    spec: &ObjectSpec,
    p: &ProgLoad,
    insns: &[u8],
    budget: &mut VerifyBudget,
) -> Result<OwnedFd, LoadError> {
    let attr = ProgLoadAttr {
        prog_type: p.kind.prog_type,
        expected_attach_type: p.kind.expected_attach_type,
        insns,
        license: &spec.license,
        kern_version: ctx.cfg.gate.kver.0,
        name: &p.kernel_name,
    };
    verify::load(ctx.sys, &attr, &p.section, budget)
}

/// Id and tag of a program just loaded, checking it was JIT-compiled if
/// the release requires it.
fn new_prog_info(
    ctx: &EngineCtx<'_>,
    p: &ProgLoad,
    fd: &OwnedFd,
) -> Result<(u32, Option<Tag>), LoadError> {
    if !gate::kernel_has_obj_info(ctx.cfg.gate.kver) {
        return Ok((0, None));
    }
    let i = ctx
        .sys
        .prog_info(fd.as_fd())
        .map_err(|e| LoadError::sys(format!("program {}: query new program", p.section), e))?;
    if p.require_jited && i.jited_prog_len == 0 {
        return Err(LoadError::NotJited {
            prog: p.section.clone(),
        });
    }
    Ok((i.id, Some(i.tag)))
}

/// An existing program pin: reused as it is when it holds the object's
/// program (same tag) or when its tag cannot be known; otherwise kept with
/// a warning ([`OnChange::Keep`]) or replaced by the object's program
/// ([`OnChange::Replace`]). The comparison hashes the relocated
/// instructions ([`progtag`]): no verification is spent on it.
#[allow(
    clippy::too_many_arguments,
    reason = "the pieces of one step of `apply`, kept apart for readability"
)]
fn reuse_or_replace(
    ctx: &EngineCtx<'_>,
    spec: &ObjectSpec,
    step: usize,
    p: &ProgLoad,
    raw_fds: &[Option<i32>],
    budget: &mut VerifyBudget,
    out: &mut Applied,
    (fd, pin, pinned): (OwnedFd, PinHandle, Option<crate::sys::ProgInfo>),
) -> Result<ProgHeld, LoadError> {
    let (id, tag) = pinned.as_ref().map_or((0, None), |i| (i.id, Some(i.tag)));
    // A kept pin keeps its handle only if it needs a repair at commit.
    let kept = |fd, pin: PinHandle| {
        let pin = pin::needs_repair(&ctx.cfg.creds, &pin, &p.pin).then_some(pin);
        Held::Reused(fd, pin)
    };
    let Some(prog) = spec.programs.get(step) else {
        return Ok(ProgHeld {
            step,
            held: kept(fd, pin),
            id,
            tag,
            changed: false,
        });
    };
    let mut insns = prog.insns.clone();
    let ours = reloc::relocate_maps(&mut insns, &prog.relocations, raw_fds)
        .ok()
        .map(|_| progtag::kernel_tags(&insns));
    let (Some(pinned_tag), Some(ours)) = (tag, ours) else {
        return Ok(ProgHeld {
            step,
            held: kept(fd, pin),
            id,
            tag,
            changed: false,
        });
    };
    if ours.contains(&pinned_tag) {
        return Ok(ProgHeld {
            step,
            held: kept(fd, pin),
            id,
            tag,
            changed: false,
        });
    }
    // The tag this kernel would give the object's program (SHA-256 from
    // 6.18 on, SHA-1 before): what bpftool would show after a replace.
    let [sha1, sha256] = ours;
    let our_tag = if ctx.cfg.gate.kver >= Kver::new(6, 18, 0) {
        sha256
    } else {
        sha1
    };
    let file = crate::logging::shown(ctx.file);
    let keep = |out_reason: &str| {
        log::warn!(
            "{file}: program {}: {} holds program id {id} tag {}, not the object's (tag {}); {out_reason}",
            p.section,
            p.pin.rel,
            progtag::hex(&pinned_tag),
            progtag::hex(&our_tag),
        );
    };
    match p.on_change {
        OnChange::Keep => {
            keep("kept (the boot flow never replaces a pinned program; `netbpfload load --replace` does)");
            Ok(ProgHeld {
                step,
                held: kept(fd, pin),
                id,
                tag,
                changed: true,
            })
        }
        OnChange::Replace => {
            let new = match load_program(ctx, spec, p, &insns, budget) {
                Ok(new) => new,
                Err(e @ LoadError::ProgLoad { .. }) if p.optional => {
                    keep(&format!(
                        "kept: the object's optional program was refused ({})",
                        crate::logging::escape(&e.to_string())
                    ));
                    out.skipped.push(optional_failed(&p.section, &e));
                    return Ok(ProgHeld {
                        step,
                        held: kept(fd, pin),
                        id,
                        tag,
                        changed: true,
                    });
                }
                Err(e) => return Err(e),
            };
            let (new_id, new_tag) = new_prog_info(ctx, p, &new)?;
            log::info!(
                "{file}: program {}: replacing program id {id} tag {} at {} with id {new_id} tag {}",
                p.section,
                progtag::hex(&pinned_tag),
                p.pin.rel,
                new_tag.map_or_else(|| "?".to_string(), |t| progtag::hex(&t)),
            );
            Ok(ProgHeld {
                step,
                held: Held::Replacing { new, old: fd, pin },
                id: new_id,
                tag: new_tag,
                changed: false,
            })
        }
    }
}
