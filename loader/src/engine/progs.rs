//! Phase 2 of an object: relocate, load and pin its programs, in
//! section-header order.

use super::error::LoadError;
use super::pin::{
    open_existing, open_race_winner, repair_mode_and_owner, set_mode_and_owner, PinOutcome, Pins,
};
use super::{ObjectCtx, PinReport, SkipReport};
use crate::gate;
use crate::paths;
use crate::reloc;
use crate::spec::{Domain, ObjectSpec, ProgramSpec};
use crate::sys::{ObjKind, ProgLoadAttr, Sys, SysError};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// First verifier log buffer size (the reference uses one fixed 1 MiB buffer).
pub const LOG_SIZE_START: usize = 64 * 1024;
/// Largest verifier log buffer tried: `UINT_MAX >> 8` (just under 16 MiB),
/// the limit of kernels before 5.2, which refuse a larger `log_size` with
/// `EINVAL` (newer kernels allow `UINT_MAX >> 2`).
pub const LOG_SIZE_MAX: usize = (u32::MAX >> 8) as usize;

/// Programs of one object after phase 2.
#[derive(Debug, Default)]
pub(crate) struct ProgsPhase {
    pub(crate) pins: Vec<PinReport>,
    pub(crate) skipped: Vec<SkipReport>,
}

/// Turns a NUL-terminated log buffer into text (lossy: the kernel writes
/// ASCII, a truncated log may end mid-way).
fn log_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(buf.get(..end).unwrap_or_default())
        .trim_end()
        .to_string()
}

/// `BPF_PROG_LOAD` without a log first (verification with `log_level` 1 is
/// slower, and this is the boot path); on failure, again with a log to show
/// why. With a log buffer the kernel returns `ENOSPC` when the log did not
/// fit, which would hide the real errno, so the buffer grows ×4 from
/// [`LOG_SIZE_START`] up to [`LOG_SIZE_MAX`] until the real error shows.
pub(crate) fn load_with_log(
    sys: &dyn Sys,
    attr: &ProgLoadAttr<'_>,
) -> Result<OwnedFd, (SysError, Option<String>)> {
    let first = match sys.prog_load(attr, &mut []) {
        Ok(fd) => return Ok(fd),
        Err(e) => e,
    };
    let mut size = LOG_SIZE_START;
    loop {
        let mut buf = vec![0u8; size];
        match sys.prog_load(attr, &mut buf) {
            Ok(fd) => {
                log::warn!("program {}: loaded on retry after {first}", attr.name);
                return Ok(fd);
            }
            Err(e) if e.errno() == Some(libc::ENOSPC) && size < LOG_SIZE_MAX => {
                size = size.saturating_mul(4).min(LOG_SIZE_MAX);
            }
            Err(e) => {
                let mut text = log_text(&buf);
                let err = if e.errno() == Some(libc::ENOSPC) {
                    text.push_str("\n... (verifier log truncated)");
                    first
                } else {
                    e
                };
                return Err((err, Some(text).filter(|t| !t.is_empty())));
            }
        }
    }
}

fn check_prog(
    ctx: &ObjectCtx<'_>,
    what: &str,
    fd: &OwnedFd,
    prog: &ProgramSpec,
    rel: &str,
) -> Result<u32, LoadError> {
    if !gate::kernel_has_obj_info(ctx.cfg.gate.kver) {
        return Ok(0);
    }
    let info = ctx
        .sys
        .prog_info(fd.as_fd())
        .map_err(|e| LoadError::sys(format!("{what}: query existing pin"), e))?;
    if info.prog_type != prog.kind.prog_type {
        return Err(LoadError::ProgMismatch {
            pin: rel.to_string(),
            actual: info.prog_type,
            expected: prog.kind.prog_type,
        });
    }
    Ok(info.id)
}

pub(crate) fn load_programs(
    ctx: &ObjectCtx<'_>,
    spec: &ObjectSpec,
    map_fds: &[Option<OwnedFd>],
    pins: &mut Pins<'_>,
) -> Result<ProgsPhase, LoadError> {
    let sys = ctx.sys;
    let raw_fds: Vec<Option<i32>> = map_fds
        .iter()
        .map(|f| f.as_ref().map(AsRawFd::as_raw_fd))
        .collect();
    let mut out = ProgsPhase::default();
    for prog in &spec.programs {
        let def = &prog.def;
        if let Some(reason) = gate::prog_gate(&ctx.cfg.gate, def) {
            log::debug!(
                "{}: program {} skipped: {reason}",
                ctx.file.display(),
                prog.section
            );
            out.skipped.push(SkipReport {
                name: prog.section.clone(),
                reason: reason.to_string(),
            });
            continue;
        }
        let what = format!("program {}", prog.section);
        let rel = paths::prog_pin_rel(def.pin_subdir, ctx.prefix, ctx.obj, &prog.pin_name);
        let path = ctx.cfg.bpffs_root.join(&rel);

        // Already pinned (by an earlier boot, or by an earlier `$variant` of
        // this object): reuse without loading.
        if let Some(fd) = open_existing(sys, &what, &path, ObjKind::Prog)? {
            let id = check_prog(ctx, &what, &fd, prog, &rel)?;
            repair_mode_and_owner(sys, &what, &path, paths::PROG_PIN_MODE, def.uid, def.gid)?;
            out.pins.push(PinReport {
                name: prog.section.clone(),
                pin: rel,
                reused: true,
                id,
            });
            continue;
        }

        let mut insns = prog.insns.clone();
        let skipped_relocs = reloc::relocate_maps(&mut insns, &prog.relocations, &raw_fds)
            .map_err(|source| LoadError::Reloc {
                prog: prog.section.clone(),
                source,
            })?;
        for s in skipped_relocs {
            log::warn!("{}: {what}: {s}", ctx.file.display());
        }
        let attr = ProgLoadAttr {
            prog_type: prog.kind.prog_type,
            expected_attach_type: prog.kind.expected_attach_type,
            insns: &insns,
            license: &spec.license,
            kern_version: ctx.cfg.gate.kver.0,
            name: &if gate::kernel_takes_object_names(ctx.cfg.gate.kver) {
                paths::kernel_object_name(&prog.section)
            } else {
                String::new()
            },
        };
        let fd = match load_with_log(sys, &attr) {
            Ok(fd) => fd,
            Err((source, log)) if def.optional => {
                log::warn!(
                    "{}: optional {what} failed to load: {source}",
                    ctx.file.display()
                );
                if let Some(l) = &log {
                    for line in l.lines() {
                        log::warn!("  {line}");
                    }
                }
                out.skipped.push(SkipReport {
                    name: prog.section.clone(),
                    reason: format!("optional program failed to load: {source}"),
                });
                continue;
            }
            Err((source, log)) => {
                return Err(LoadError::ProgLoad {
                    prog: prog.section.clone(),
                    source,
                    log,
                })
            }
        };
        let id = if gate::kernel_has_obj_info(ctx.cfg.gate.kver) {
            sys.prog_info(fd.as_fd())
                .map_err(|e| LoadError::sys(format!("{what}: query new program"), e))?
                .id
        } else {
            0
        };

        let tmp = (def.selinux_context != Domain::Unspecified).then(|| {
            ctx.cfg.bpffs_root.join(paths::tmp_prog_pin_rel(
                def.selinux_context,
                ctx.obj,
                &prog.pin_name,
            ))
        });
        match pins.pin_new(&what, fd.as_fd(), &path, tmp.as_deref())? {
            PinOutcome::Created => {
                set_mode_and_owner(sys, &what, &path, paths::PROG_PIN_MODE, def.uid, def.gid)?;
                out.pins.push(PinReport {
                    name: prog.section.clone(),
                    pin: rel,
                    reused: false,
                    id,
                });
            }
            PinOutcome::LostRace => {
                log::warn!(
                    "{}: {what}: {rel} appeared concurrently, reusing it",
                    ctx.file.display()
                );
                drop(fd);
                let fd = open_race_winner(sys, &what, &path, ObjKind::Prog)?;
                let id = check_prog(ctx, &what, &fd, prog, &rel)?;
                out.pins.push(PinReport {
                    name: prog.section.clone(),
                    pin: rel,
                    reused: true,
                    id,
                });
            }
        }
    }
    Ok(out)
}
