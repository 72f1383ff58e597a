//! Phase 1 of an object: create or reuse its maps, in `maps`-section order.

use super::error::LoadError;
use super::pin::{
    open_existing, open_race_winner, repair_mode_and_owner, set_mode_and_owner, PinOutcome, Pins,
};
use super::{ObjectCtx, PinReport, SkipReport};
use crate::gate;
use crate::paths;
use crate::spec::{Domain, MapSpec};
use crate::sys::{MapCreateAttr, MapInfo, ObjKind};
use aya_obj::generated::BPF_F_RDONLY_PROG;
use std::os::fd::{AsFd, OwnedFd};

/// The attributes a map must have in the kernel: the definition after the
/// DEVMAP/DEVMAP_HASH substitution and the ring-buffer size adjustment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExpectedMap {
    pub(crate) map_type: u32,
    pub(crate) key_size: u32,
    pub(crate) value_size: u32,
    pub(crate) max_entries: u32,
    pub(crate) map_flags: u32,
}

/// Checks a map in the kernel against its definition, like libbpf's
/// `map_is_reuse_compat` and the reference's `mapMatchesExpectations`.
/// Device maps tolerate `BPF_F_RDONLY_PROG`, which the kernel sets itself.
pub(crate) fn check_map(
    info: &MapInfo,
    exp: &ExpectedMap,
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

/// Maps of one object after phase 1: one fd per map (`None` if gated out),
/// indexed like [`crate::spec::ObjectSpec::maps`].
#[derive(Debug, Default)]
pub(crate) struct MapsPhase {
    pub(crate) fds: Vec<Option<OwnedFd>>,
    pub(crate) pins: Vec<PinReport>,
    pub(crate) skipped: Vec<SkipReport>,
}

fn reuse(
    ctx: &ObjectCtx<'_>,
    what: &str,
    fd: &OwnedFd,
    exp: &ExpectedMap,
    rel: &str,
) -> Result<u32, LoadError> {
    if !gate::kernel_has_obj_info(ctx.cfg.gate.kver) {
        return Ok(0);
    }
    let info = ctx
        .sys
        .map_info(fd.as_fd())
        .map_err(|e| LoadError::sys(format!("{what}: query existing pin"), e))?;
    check_map(&info, exp, rel, "on the existing pin")?;
    Ok(info.id)
}

pub(crate) fn create_maps(
    ctx: &ObjectCtx<'_>,
    maps: &[MapSpec],
    pins: &mut Pins<'_>,
) -> Result<MapsPhase, LoadError> {
    let sys = ctx.sys;
    let mut out = MapsPhase::default();
    for map in maps {
        let def = &map.def;
        if let Some(reason) = gate::map_gate(&ctx.cfg.gate, def) {
            log::debug!("{}: map {} skipped: {reason}", ctx.file.display(), map.name);
            out.skipped.push(SkipReport {
                name: map.name.clone(),
                reason: reason.to_string(),
            });
            out.fds.push(None);
            continue;
        }
        let what = format!("map {}", map.name);
        let map_type = gate::effective_map_type(ctx.cfg.gate.kver, def.map_type);
        let exp = ExpectedMap {
            map_type,
            key_size: def.key_size,
            value_size: def.value_size,
            max_entries: gate::effective_max_entries(map_type, def.max_entries, ctx.page_size),
            map_flags: def.map_flags,
        };
        let rel = paths::map_pin_rel(def.pin_subdir, ctx.prefix, ctx.obj, &map.name, def.shared);
        let path = ctx.cfg.bpffs_root.join(&rel);

        if let Some(fd) = open_existing(sys, &what, &path, ObjKind::Map)? {
            let id = reuse(ctx, &what, &fd, &exp, &rel)?;
            repair_mode_and_owner(sys, &what, &path, def.mode, def.uid, def.gid)?;
            out.fds.push(Some(fd));
            out.pins.push(PinReport {
                name: map.name.clone(),
                pin: rel,
                reused: true,
                id,
            });
            continue;
        }

        let fd = sys
            .map_create(&MapCreateAttr {
                map_type: exp.map_type,
                key_size: exp.key_size,
                value_size: exp.value_size,
                max_entries: exp.max_entries,
                map_flags: exp.map_flags,
                name: if gate::kernel_takes_object_names(ctx.cfg.gate.kver) {
                    paths::kernel_object_name(&map.name)
                } else {
                    String::new()
                },
            })
            .map_err(|e| LoadError::sys(format!("{what}: create"), e))?;
        let id = if gate::kernel_has_obj_info(ctx.cfg.gate.kver) {
            let info = sys
                .map_info(fd.as_fd())
                .map_err(|e| LoadError::sys(format!("{what}: query new map"), e))?;
            check_map(&info, &exp, &rel, "in the kernel")?;
            info.id
        } else {
            0
        };

        let tmp = (def.selinux_context != Domain::Unspecified).then(|| {
            ctx.cfg.bpffs_root.join(paths::tmp_map_pin_rel(
                def.selinux_context,
                ctx.obj,
                &map.name,
            ))
        });
        match pins.pin_new(&what, fd.as_fd(), &path, tmp.as_deref())? {
            PinOutcome::Created => {
                set_mode_and_owner(sys, &what, &path, def.mode, def.uid, def.gid)?;
                out.fds.push(Some(fd));
                out.pins.push(PinReport {
                    name: map.name.clone(),
                    pin: rel,
                    reused: false,
                    id,
                });
            }
            PinOutcome::LostRace => {
                // Another loader pinned it between our lookup and our pin:
                // use theirs if it is compatible (libbpf retries once too).
                log::warn!(
                    "{}: {what}: {rel} appeared concurrently, reusing it",
                    ctx.file.display()
                );
                drop(fd);
                let fd = open_race_winner(sys, &what, &path, ObjKind::Map)?;
                let id = reuse(ctx, &what, &fd, &exp, &rel)?;
                out.fds.push(Some(fd));
                out.pins.push(PinReport {
                    name: map.name.clone(),
                    pin: rel,
                    reused: true,
                    id,
                });
            }
        }
    }
    Ok(out)
}
