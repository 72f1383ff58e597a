//! Phase 1 of an object: create or reuse its maps, in `maps`-section order.
//!
//! With [`super::LoadConfig::btf`] on a kernel ≥ 5.10, maps are created with
//! the object's BTF as Android's 2025 loader does ([`crate::btf`]): the
//! `.BTF` is required, fixed up and checked against every map that passes
//! its gates before anything is created, and loaded into the kernel once,
//! on the first map created with it (an object whose maps all exist already
//! loads no BTF).

use super::error::LoadError;
use super::pin::{
    open_existing, open_race_winner, repair_mode_and_owner, set_mode_and_owner, PinOutcome, Pins,
};
use super::{ObjectCtx, PinReport, SkipReport};
use crate::btf::{self, BtfSource, MapTypes, PreparedBtf};
use crate::gate;
use crate::paths;
use crate::spec::{Domain, MapSpec};
use crate::sys::{MapBtf, MapCreateAttr, MapInfo, ObjKind, Sys};
use aya_obj::generated::BPF_F_RDONLY_PROG;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Size of the buffer for the kernel's BTF log, asked for only after a
/// refusal (a log at level 1 lists every type on older kernels, and a full
/// buffer fails even a good load with `ENOSPC`).
pub(crate) const BTF_LOG_SIZE: usize = 256 * 1024;

/// The object's BTF while its maps are created.
struct ObjectBtf<'a> {
    prepared: PreparedBtf<'a>,
    /// Key/value types of each map (indexed like the maps), `None` for maps
    /// gated out or of a type created without BTF.
    types: Vec<Option<MapTypes>>,
    /// The kernel's BTF object, loaded on first use.
    fd: Option<OwnedFd>,
}

/// Prepares the object's BTF if maps are to be typed with it, checking every
/// map that passes its gates (nothing is created yet).
fn object_btf<'a>(
    ctx: &ObjectCtx<'_>,
    maps: &[MapSpec],
    src: Option<&'a BtfSource>,
) -> Result<Option<ObjectBtf<'a>>, LoadError> {
    let kver = ctx.cfg.gate.kver;
    if !ctx.cfg.btf || !gate::kernel_loads_btf(kver) || maps.is_empty() {
        return Ok(None);
    }
    let prepared = btf::prepare(src.ok_or(LoadError::NoBtf)?)?;
    let mut types = Vec::with_capacity(maps.len());
    for map in maps {
        let def = &map.def;
        let typed = gate::map_gate(&ctx.cfg.gate, def).is_none()
            && gate::map_takes_btf(gate::effective_map_type(kver, def.map_type));
        types.push(if typed {
            Some(prepared.map_types(&map.name, def.key_size, def.value_size)?)
        } else {
            None
        });
    }
    Ok(Some(ObjectBtf {
        prepared,
        types,
        fd: None,
    }))
}

/// `BPF_BTF_LOAD` as 25Q2 does it: on `EINVAL`, once more with FUNC linkage
/// downgraded. A final `EINVAL` is loaded once more with a log buffer, to
/// report the kernel's reason.
fn load_btf(sys: &dyn Sys, prepared: &PreparedBtf<'_>) -> Result<OwnedFd, LoadError> {
    let einval = |e: &crate::sys::SysError| e.errno() == Some(libc::EINVAL);
    let (blob, downgraded, err) = match sys.btf_load(prepared.bytes(), &mut []) {
        Ok(fd) => return Ok(fd),
        Err(e) if einval(&e) => match prepared.downgraded() {
            Some(down) => match sys.btf_load(&down, &mut []) {
                Ok(fd) => {
                    log::info!("BTF loaded with FUNC linkage downgraded (kernel refused it)");
                    return Ok(fd);
                }
                Err(e) => (Some(down), true, e),
            },
            None => (None, false, e),
        },
        Err(e) => {
            return Err(LoadError::BtfLoad {
                source: e,
                downgraded: false,
                log: None,
            })
        }
    };
    let log = einval(&err).then(|| {
        let mut buf = vec![0u8; BTF_LOG_SIZE];
        let blob = blob.as_deref().unwrap_or(prepared.bytes());
        // Only the log matters; a (surprising) success is dropped.
        let _ = sys.btf_load(blob, &mut buf);
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(buf.get(..end).unwrap_or_default())
            .trim_end()
            .to_string()
    });
    Err(LoadError::BtfLoad {
        source: err,
        downgraded,
        log: log.filter(|l| !l.is_empty()),
    })
}

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
    btf_src: Option<&BtfSource>,
    pins: &mut Pins<'_>,
) -> Result<MapsPhase, LoadError> {
    let sys = ctx.sys;
    let mut out = MapsPhase::default();
    let mut btf = object_btf(ctx, maps, btf_src)?;
    for (index, map) in maps.iter().enumerate() {
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

        let map_btf = match &mut btf {
            Some(b) => match b.types.get(index).copied().flatten() {
                Some(types) => {
                    if b.fd.is_none() {
                        b.fd = Some(load_btf(sys, &b.prepared)?);
                    }
                    b.fd.as_ref().map(|fd| MapBtf {
                        fd: fd.as_raw_fd(),
                        key_type_id: types.key_type_id,
                        value_type_id: types.value_type_id,
                    })
                }
                None => None,
            },
            None => None,
        };
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
                btf: map_btf,
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
