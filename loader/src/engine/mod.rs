//! Turns parsed objects into live, pinned kernel objects.
//!
//! Public API used by the boot flow and the `load` subcommand:
//! [`LoadConfig`], [`load_location`], [`load_object`], [`LocationReport`],
//! [`ObjectReport`].
//!
//! Each object goes through the reference order (facts §6): loader-version
//! gate, a check that every pin directory is on a bpffs, then phase 1
//! (`maps.rs`: create or reuse every map), then phase 2 (`progs.rs`:
//! relocate, load and pin every program). With [`LoadConfig::parallel`], a
//! location's objects are read and parsed first, then objects that share no
//! pin path are loaded on several threads (`parallel.rs`). Pins created for
//! an object are tracked (`pin.rs`) and removed again if the object fails;
//! pins that existed before are never touched.

#[cfg(test)]
mod btf_tests;
mod error;
#[cfg(test)]
mod fault_tests;
mod maps;
mod parallel;
mod pin;
mod progs;
#[cfg(test)]
mod tests;

pub use error::LoadError;
pub use progs::{LOG_SIZE_MAX, LOG_SIZE_START};

use crate::gate::{self, GateEnv};
use crate::paths::{self, Location};
use crate::spec::{Domain, ObjectSpec};
use crate::sys::{Sys, BPF_FS_MAGIC};
use crate::{manifest, trust};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// How to load.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Root of the bpf filesystem (`/sys/fs/bpf` on a device).
    pub bpffs_root: PathBuf,
    /// Gating inputs.
    pub gate: GateEnv,
    /// Verify programs of independent objects concurrently.
    pub parallel: bool,
    /// Skip the ownership/permission trust checks on objects and directories.
    pub insecure: bool,
    /// Key the per-location manifests must be signed with
    /// ([`manifest::resolve_key`]); `None` checks unsigned manifests only
    /// where present, `Some(Err(_))` fails every object.
    pub manifest_key: Option<Result<manifest::PublicKey, manifest::ManifestError>>,
    /// Type maps with the object's `.BTF` as Android's 2025 loader does: on
    /// kernels >= 5.10 every object with maps must carry `.BTF`, which is
    /// loaded into the kernel and gives each map (but DEVMAP_HASH and
    /// RINGBUF ones) its key/value type ids. Needed for maps the kernel
    /// creates only with BTF (SK_STORAGE). Off: maps are created untyped.
    pub btf: bool,
}

/// What happened to one object file.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectReport {
    /// The `.o` file.
    pub file: PathBuf,
    /// `Some(reason)` if the object carries a `critical` section.
    pub critical: Option<String>,
    /// Outcome.
    pub outcome: ObjectOutcome,
}

/// Outcome of one object.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ObjectOutcome {
    /// Loaded: pins created or reused.
    Loaded {
        /// Map pins (relative to the bpffs root) and whether each was reused.
        maps: Vec<PinReport>,
        /// Program pins and whether each was reused.
        programs: Vec<PinReport>,
        /// Maps and programs skipped by a gate, with the gate's reason.
        skipped: Vec<SkipReport>,
    },
    /// The whole object was skipped by a gate (loader version range).
    Skipped {
        /// Why.
        reason: String,
    },
    /// The object failed; nothing of it is left pinned.
    Failed {
        /// The error chain, one line.
        error: String,
        /// Verifier log of the failing program, if any.
        verifier_log: Option<String>,
    },
}

/// One pin.
#[derive(Debug, Clone, Serialize)]
pub struct PinReport {
    /// Map or program name.
    pub name: String,
    /// Path relative to the bpffs root.
    pub pin: String,
    /// Reused an existing pin rather than creating one.
    pub reused: bool,
    /// Kernel id of the map or program behind the pin.
    pub id: u32,
}

/// One gated-out map or program.
#[derive(Debug, Clone, Serialize)]
pub struct SkipReport {
    /// Map or program name.
    pub name: String,
    /// The gate, e.g. `kernel 6.1.0 outside [6.6.0, inf)`.
    pub reason: String,
}

/// What happened to one location.
#[derive(Debug, Clone, Serialize)]
pub struct LocationReport {
    /// Directory scanned.
    pub dir: PathBuf,
    /// Prefix under the bpffs root.
    pub prefix: String,
    /// One entry per `.o` file, in load order.
    pub objects: Vec<ObjectReport>,
    /// A location-level error (e.g. directory not trusted), if any.
    pub error: Option<String>,
}

impl LocationReport {
    /// Objects that failed and carry a `critical` section.
    pub fn critical_failures(&self) -> impl Iterator<Item = &ObjectReport> {
        self.objects
            .iter()
            .filter(|o| o.critical.is_some() && matches!(o.outcome, ObjectOutcome::Failed { .. }))
    }
}

/// Largest object file read: a cap so that a huge (or endless) file cannot
/// exhaust memory at boot; real objects are orders of magnitude smaller.
pub const MAX_OBJECT_SIZE: u64 = 16 * 1024 * 1024;

/// Everything one object's phases need.
pub(crate) struct ObjectCtx<'a> {
    pub(crate) sys: &'a dyn Sys,
    pub(crate) cfg: &'a LoadConfig,
    pub(crate) file: &'a Path,
    pub(crate) prefix: &'a str,
    pub(crate) obj: &'a str,
    pub(crate) page_size: u32,
}

/// Checks, before anything is created, that every directory the object
/// will pin into (final and temporary) is on a bpf filesystem.
fn check_pin_dirs(ctx: &ObjectCtx<'_>, spec: &ObjectSpec) -> Result<(), LoadError> {
    let env = &ctx.cfg.gate;
    let mut dirs = BTreeSet::new();
    let mut add = |subdir: Domain, ctx_domain: Domain| {
        dirs.insert(paths::pin_dir(subdir, ctx.prefix).to_string());
        if ctx_domain != Domain::Unspecified {
            dirs.insert(ctx_domain.pin_subdir().to_string());
        }
    };
    for m in spec
        .maps
        .iter()
        .filter(|m| gate::map_gate(env, &m.def).is_none())
    {
        add(m.def.pin_subdir, m.def.selinux_context);
    }
    for p in spec
        .programs
        .iter()
        .filter(|p| gate::prog_gate(env, &p.def).is_none())
    {
        add(p.def.pin_subdir, p.def.selinux_context);
    }
    for d in dirs {
        let dir = ctx.cfg.bpffs_root.join(d.trim_end_matches('/'));
        let f_type = ctx
            .sys
            .statfs_type(&dir)
            .map_err(|e| LoadError::sys("pin directory", e))?;
        if f_type != BPF_FS_MAGIC {
            return Err(LoadError::NotBpffs { dir, f_type });
        }
    }
    Ok(())
}

fn load_phases(
    ctx: &ObjectCtx<'_>,
    spec: &ObjectSpec,
    pins: &mut pin::Pins<'_>,
) -> Result<ObjectOutcome, LoadError> {
    check_pin_dirs(ctx, spec)?;
    let m = maps::create_maps(ctx, &spec.maps, spec.btf.as_ref(), pins)?;
    let p = progs::load_programs(ctx, spec, &m.fds, pins)?;
    let mut skipped = m.skipped;
    skipped.extend(p.skipped);
    Ok(ObjectOutcome::Loaded {
        maps: m.pins,
        programs: p.pins,
        skipped,
    })
}

/// Loads one parsed object whose pins go under `prefix` (a location prefix
/// such as `tethering/`). `file` is only used in messages.
///
/// On failure every pin created for this object in this call is removed;
/// pins that already existed are left as they were.
pub fn load_object(
    sys: &dyn Sys,
    cfg: &LoadConfig,
    file: &Path,
    prefix: &str,
    spec: &ObjectSpec,
) -> ObjectOutcome {
    if let Some(reason) = gate::object_gate(&cfg.gate, spec) {
        return ObjectOutcome::Skipped {
            reason: reason.to_string(),
        };
    }
    for w in &spec.warnings {
        log::warn!("{}: {w}", file.display());
    }
    let page_size = match sys.page_size() {
        Ok(p) => p,
        Err(e) => {
            return ObjectOutcome::Failed {
                error: e.to_string(),
                verifier_log: None,
            }
        }
    };
    let ctx = ObjectCtx {
        sys,
        cfg,
        file,
        prefix,
        obj: &spec.name,
        page_size,
    };
    let mut pins = pin::Pins::new(sys);
    match load_phases(&ctx, spec, &mut pins) {
        Ok(outcome) => {
            pins.commit();
            outcome
        }
        Err(e) => {
            pins.rollback();
            ObjectOutcome::Failed {
                error: e.to_string(),
                verifier_log: e.verifier_log().map(str::to_string),
            }
        }
    }
}

/// Reads one object file.
///
/// TRUST HOOK: this is the single place where an object's bytes enter the
/// loader; ownership/mode checks (`crate::trust`) and manifest verification
/// (`crate::manifest`) belong here, before the bytes are returned.
/// Reads `dir/name` through the trust checks (owner, mode, no symlink, same
/// inode as checked) and verifies it against the location's manifest, if
/// any, before it is parsed.
fn read_object(
    sys: &dyn Sys,
    policy: trust::Policy,
    integrity: &manifest::Integrity,
    dir: &Path,
    name: &str,
) -> Result<Vec<u8>, String> {
    let bytes =
        trust::read_trusted(sys, dir, name, MAX_OBJECT_SIZE, policy).map_err(|e| e.to_string())?;
    integrity
        .check(name, &bytes)
        .map_err(|e| format!("{}: {e}", dir.join(name).display()))?;
    Ok(bytes)
}

fn log_outcome(r: &ObjectReport) {
    let file = r.file.display();
    match &r.outcome {
        ObjectOutcome::Loaded {
            maps,
            programs,
            skipped,
        } => {
            let new = maps.iter().chain(programs).filter(|p| !p.reused).count();
            log::info!(
                "{file}: loaded: {} maps, {} programs ({new} new pins), {} skipped",
                maps.len(),
                programs.len(),
                skipped.len()
            );
        }
        ObjectOutcome::Skipped { reason } => log::info!("{file}: skipped: {reason}"),
        ObjectOutcome::Failed {
            error,
            verifier_log,
        } => {
            let crit = if r.critical.is_some() {
                " (critical)"
            } else {
                ""
            };
            log::error!("{file}: failed{crit}: {error}");
            for line in verifier_log.iter().flat_map(|l| l.lines()) {
                log::error!("  {line}");
            }
        }
    }
}

/// Loads every `*.o` of `location` (readdir order, non-recursive, regular
/// files only). Never panics on bad input; one object's failure does not
/// stop the others.
pub fn load_location(sys: &dyn Sys, cfg: &LoadConfig, location: &Location) -> LocationReport {
    let mut report = LocationReport {
        dir: location.dir.clone(),
        prefix: location.prefix.clone(),
        objects: Vec::new(),
        error: None,
    };
    match sys.statfs_type(&cfg.bpffs_root) {
        Ok(BPF_FS_MAGIC) => {}
        Ok(t) => {
            let e = LoadError::NotBpffs {
                dir: cfg.bpffs_root.clone(),
                f_type: t,
            };
            log::error!("{}: {e}", location.dir.display());
            report.error = Some(e.to_string());
            return report;
        }
        Err(e) => {
            log::error!("{}: bpffs root: {e}", location.dir.display());
            report.error = Some(format!("bpffs root: {e}"));
            return report;
        }
    }
    // A read-only bpffs (mounted or remounted `ro`) would let every object
    // create its maps and then fail to pin them: refuse the location once.
    match sys.is_read_only_fs(&cfg.bpffs_root) {
        Ok(false) => {}
        Ok(true) => {
            let e = LoadError::ReadOnlyBpffs {
                dir: cfg.bpffs_root.clone(),
            };
            log::error!("{}: {e}", location.dir.display());
            report.error = Some(e.to_string());
            return report;
        }
        Err(e) => {
            log::error!("{}: bpffs root: {e}", location.dir.display());
            report.error = Some(format!("bpffs root: {e}"));
            return report;
        }
    }
    let policy = trust::Policy::from_insecure(cfg.insecure);
    if cfg.insecure {
        log::warn!(
            "{}: --insecure: owner, mode and symlink checks only warn",
            location.dir.display()
        );
    }
    if let Err(e) = trust::check_location_dir(sys, &location.dir, policy) {
        log::error!("{e}");
        report.error = Some(e.to_string());
        return report;
    }
    let integrity = manifest::for_location(sys, &location.dir, policy, cfg.manifest_key.as_ref());
    let names = match sys.read_dir(&location.dir) {
        Ok(n) => n,
        Err(e) => {
            log::error!("{e}");
            report.error = Some(e.to_string());
            return report;
        }
    };
    let files = names.iter().filter(|n| n.ends_with(".o")).filter(|name| {
        let file = location.dir.join(name);
        match sys.lstat(&file) {
            // Symlinks go on to the trust check, which refuses them by name.
            Ok(st) if st.is_file() || st.is_symlink() => true,
            Ok(_) => {
                log::warn!("{}: not a regular file, ignored", file.display());
                false
            }
            Err(e) => {
                log::warn!("{e}, ignored");
                false
            }
        }
    });
    let read_and_parse = |name: &String| {
        let file = location.dir.join(name);
        let spec = read_object(sys, policy, &integrity, &location.dir, name)
            .and_then(|bytes| crate::parse::parse_object(&file, &bytes).map_err(|e| e.to_string()));
        parallel::ReadObject { file, spec }
    };
    if cfg.parallel {
        // Read and parse a batch of objects (in readdir order), then load
        // the batch's independent objects concurrently. Batches run one
        // after the other, so at most `parallel::BATCH` parsed objects are
        // held at once, and a batch sees every pin of the earlier ones, as
        // in sequential mode. Reports stay in readdir order.
        let files: Vec<&String> = files.collect();
        let threads = parallel::worker_count();
        for batch in files.chunks(parallel::BATCH) {
            let read: Vec<parallel::ReadObject> =
                batch.iter().map(|name| read_and_parse(name)).collect();
            let outcomes = parallel::load_all(sys, cfg, &location.prefix, &read, threads);
            for (r, outcome) in read.into_iter().zip(outcomes) {
                let r = ObjectReport {
                    file: r.file,
                    critical: r.spec.ok().and_then(|s| s.critical),
                    outcome,
                };
                log_outcome(&r);
                report.objects.push(r);
            }
        }
        return report;
    }
    for r in files.map(read_and_parse) {
        let (critical, outcome) = match r.spec {
            Ok(spec) => (
                spec.critical.clone(),
                load_object(sys, cfg, &r.file, &location.prefix, &spec),
            ),
            Err(error) => (
                None,
                ObjectOutcome::Failed {
                    error,
                    verifier_log: None,
                },
            ),
        };
        let r = ObjectReport {
            file: r.file,
            critical,
            outcome,
        };
        log_outcome(&r);
        report.objects.push(r);
    }
    report
}
