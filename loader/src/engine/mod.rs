//! The apply step: turns planned objects into live, pinned kernel objects.
//!
//! [`load_location`] is the one load path. It reads a location's `*.o`
//! files (through the trust and manifest checks), parses and plans each one
//! ([`crate::plan`]), then applies the plans: objects that share no pin path
//! on several workers, those that do in readdir order on one
//! ([`schedule`]); `--sequential` is the same path with one worker. Each
//! object is applied all-or-nothing ([`object`]): every map and program is
//! created or reused into file descriptors first, and its new pins appear
//! only once all of them are in hand ([`pin`]). A failed object leaves the
//! pin tree as it was; nothing is ever unlinked.

mod btf;
mod error;
mod object;
mod pin;
mod schedule;
pub mod verify;

#[cfg(test)]
mod btf_tests;
#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod manifest_tests;
#[cfg(test)]
mod tests;

pub use error::LoadError;
pub use object::check_map;
pub use pin::{examine as examine_pin, unpin, Contents as PinContents};

use crate::bpffs::Bpffs;
use crate::error::ObjectError;
use crate::gate::{GateEnv, SkipReason};
use crate::libbpf::KernelBtf;
use crate::manifest::{self, ManifestError, PublicKey};
use crate::paths::{self, Location};
use crate::plan::{self, ObjectPlan, OnChange, PlanEnv};
use crate::release::{FailurePolicy, RoleRules};
use crate::spec::ObjectSpec;
use crate::sys::{Credentials, Sys, SysError};
use crate::trust::{self, TrustError};
use serde::Serialize;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Largest object file read: a cap so that a huge (or endless) file cannot
/// exhaust memory at boot; real objects are orders of magnitude smaller.
pub const MAX_OBJECT_SIZE: u64 = 16 * 1024 * 1024;

/// File descriptors kept back from the budget for everything that is not
/// an object's maps and programs (logs, the files being read, the run
/// lock, the standard streams).
pub const FD_RESERVE: usize = 64;

/// Objects read and planned ahead of loading, per worker and batch: enough
/// to keep every worker busy while one object is slower than the others,
/// few enough that the parsed objects waiting in a batch stay a small part
/// of the loader's memory. On the 2-core benchmark machine (16-object
/// batches instead of 32) the shipped binary's peak RSS at 800 objects fell
/// from 8.8 to about 7.4 MiB; 4 per worker saved 0.3 MiB more but cost
/// parallel loads a few per cent of wall time at batch ends.
pub const BATCH_OBJECTS_PER_WORKER: usize = 8;
/// Most objects per batch, whatever the number of workers.
pub const BATCH_OBJECTS_MAX: usize = 32;
/// Most bytes of object files read ahead of loading, per batch (a batch
/// holds at least one object).
pub const BATCH_BYTES: u64 = 32 * 1024 * 1024;

/// How to load a location.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The checked bpf filesystem.
    pub bpffs: Bpffs,
    /// The rules of the release and role in force.
    pub rules: &'static RoleRules,
    /// Gating inputs.
    pub gate: GateEnv,
    /// Who the loader runs as (owners it may set, the pid for unique
    /// temporary pin names).
    pub creds: Credentials,
    /// The process id (part of every temporary pin name).
    pub pid: u32,
    /// `sysconf(_SC_PAGESIZE)`.
    pub page_size: u32,
    /// What one object's maps may declare ([`plan::MapBytes::for_machine`]
    /// by default).
    pub map_bytes: plan::MapBytes,
    /// Workers applying objects concurrently (1 = sequential).
    pub workers: usize,
    /// File descriptors all workers may hold at once.
    pub fd_budget: usize,
    /// Time a single object may spend in failing verifications.
    pub verify_budget: Duration,
    /// Time a single object may spend in all its verifications.
    pub verify_total: Duration,
    /// Ownership/mode/symlink rules for object files and directories.
    pub trust: trust::Policy,
    /// Create a missing pin directory an object needs (`load` on a board),
    /// instead of failing the object (the boot flow, which creates them all
    /// up front as Android does).
    pub create_pin_dirs: bool,
    /// What to do with a pinned program that differs from the object's:
    /// keep it (the default, and always at boot) or replace it
    /// (`load --replace`).
    pub on_change: OnChange,
    /// Include the verifier log's tail in the log record of a failed object
    /// (the boot flow: the log is the only report). `load` turns it off: its
    /// summary prints the log, which must not appear twice on a terminal.
    pub log_verifier: bool,
    /// Key the per-location manifests must be signed with
    /// ([`manifest::resolve_key`]); `None` checks unsigned manifests only
    /// where present, `Some(Err(_))` refuses every location.
    pub manifest_key: Option<Result<PublicKey, ManifestError>>,
    /// Lowest manifest version accepted ([`manifest::min_version`]).
    pub manifest_min_version: u64,
    /// The kernel's BTF, read (once) for libbpf-style objects with CO-RE
    /// relocations; [`crate::libbpf::DEFAULT_KERNEL_BTF`] by default.
    pub kernel_btf: KernelBtf,
}

impl LoadConfig {
    /// The configuration for loading under `rules` and `gate` into
    /// `bpffs` on this system: its credentials and page size, the soft
    /// `RLIMIT_NOFILE` raised to the hard limit (the fd budget), one worker
    /// per CPU it may run on, a quarter of the memory for one object's maps,
    /// root-only trust, the build-time manifest key, the default
    /// verification budgets.
    pub fn new(
        sys: &dyn Sys,
        bpffs: Bpffs,
        rules: &'static RoleRules,
        gate: GateEnv,
    ) -> Result<LoadConfig, SysError> {
        let creds = sys.credentials()?;
        let nofile = sys.raise_nofile_limit()?;
        let machine = sys.machine()?;
        Ok(LoadConfig {
            bpffs,
            rules,
            gate,
            pid: creds.pid,
            creds,
            page_size: sys.page_size()?,
            map_bytes: plan::MapBytes::for_machine(machine),
            // The affinity mask's CPUs. Not `available_parallelism()`: it
            // also reads the cgroup's CPU quota files (/proc/self/cgroup,
            // then /sys/fs/cgroup/...), which the bpfloader domain has no
            // business reading on a device.
            workers: usize::try_from(machine.cpus).unwrap_or(1).max(1),
            fd_budget: usize::try_from(nofile)
                .unwrap_or(usize::MAX)
                .saturating_sub(FD_RESERVE),
            verify_budget: verify::DEFAULT_VERIFY_BUDGET,
            verify_total: verify::DEFAULT_VERIFY_TOTAL,
            trust: trust::Policy::enforcing(),
            create_pin_dirs: false,
            on_change: OnChange::Keep,
            log_verifier: true,
            manifest_key: manifest::configured_key(),
            manifest_min_version: manifest::BUILD_TIME_MIN_VERSION,
            kernel_btf: KernelBtf::new(crate::libbpf::DEFAULT_KERNEL_BTF),
        })
    }

    /// One object at a time.
    pub fn sequential(mut self, sequential: bool) -> Self {
        if sequential {
            self.workers = 1;
        }
        self
    }

    /// `--insecure`: trust violations only warn.
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.trust = trust::Policy::from_insecure(insecure);
        self
    }
}

/// What happened to one object file.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectReport {
    /// The `.o` file.
    #[serde(serialize_with = "crate::report::serialize_path")]
    pub file: PathBuf,
    /// The object name its pins carry (`offload@mainline.o` → `offload`).
    pub object: String,
    /// `Some(reason)` if the object carries a `critical` section.
    pub critical: Option<String>,
    /// A failure of this object fails the boot under the release's policy.
    pub fatal: bool,
    /// Outcome.
    pub outcome: ObjectOutcome,
}

impl ObjectReport {
    /// The failure, if the object failed.
    pub fn error(&self) -> Option<&ObjectError> {
        match &self.outcome {
            ObjectOutcome::Failed { error } => Some(error),
            _ => None,
        }
    }
}

/// Outcome of one object.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ObjectOutcome {
    /// Loaded: every map and program that passed its gates is pinned.
    Loaded {
        /// Map pins (relative to the bpffs root) and whether each was reused.
        maps: Vec<PinReport>,
        /// Program pins and whether each was reused.
        programs: Vec<PinReport>,
        /// Maps and programs gated out (or optional programs that failed).
        skipped: Vec<SkipReport>,
        /// Non-fatal observations.
        warnings: Vec<String>,
    },
    /// The whole object was gated out.
    Skipped {
        /// Why.
        reason: SkipReason,
    },
    /// The object failed; none of its new pins exists.
    Failed {
        /// Why.
        error: ObjectError,
    },
}

/// One pin.
#[derive(Debug, Clone, Serialize)]
pub struct PinReport {
    /// Map or program (section) name.
    pub name: String,
    /// Path relative to the bpffs root.
    pub pin: String,
    /// Reused an existing pin rather than creating one.
    pub reused: bool,
    /// Kernel id of the map or program behind the pin (0 below 4.14).
    pub id: u32,
    /// A program's tag (`bpf_prog_info.tag`) as pinned after the load
    /// (`None` for maps and below 4.14).
    pub tag: Option<crate::progtag::Tag>,
    /// A reused program pin holds a program other than the object's (its tag
    /// is not the object's): kept, with a warning ([`OnChange::Keep`]).
    pub changed: bool,
    /// The pin held a program other than the object's and now holds the
    /// object's ([`OnChange::Replace`]); `reused` is false.
    pub replaced: bool,
}

impl PinReport {
    /// A report for a map or program pin that is neither changed nor replaced.
    pub fn plain(name: &str, pin: &str, reused: bool, id: u32) -> Self {
        PinReport {
            name: name.to_string(),
            pin: pin.to_string(),
            reused,
            id,
            tag: None,
            changed: false,
            replaced: false,
        }
    }
}

/// One gated-out map or program.
#[derive(Debug, Clone, Serialize)]
pub struct SkipReport {
    /// Map or program name.
    pub name: String,
    /// Why.
    pub reason: SkipReason,
    /// For an optional program the kernel refused: the verifier log's tail.
    pub verifier_log: Option<String>,
}

/// Why a whole location was refused. A refused location fails the boot
/// under every release's policy: what it holds cannot be known (or trusted),
/// so it is treated as if all its critical objects had failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LocationError {
    /// The directory is not trusted.
    #[error(transparent)]
    Untrusted(#[from] TrustError),
    /// The directory could not be listed.
    #[error("{0}")]
    ReadDir(SysError),
    /// Its manifest (or signature, or the key) is bad: every object of it
    /// failed with this.
    #[error("{}: {source}", .dir.display())]
    Manifest {
        /// The location directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: ManifestError,
    },
}

impl Serialize for LocationError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let errno = match self {
            LocationError::Untrusted(e) => e.errno(),
            LocationError::ReadDir(e) => e.errno(),
            LocationError::Manifest { .. } => None,
        };
        let mut st = s.serialize_struct("LocationError", 3)?;
        st.serialize_field(
            "reason",
            match self {
                LocationError::Untrusted(_) => "untrusted",
                LocationError::ReadDir(_) => "read_dir",
                LocationError::Manifest { .. } => "manifest",
            },
        )?;
        st.serialize_field("errno", &errno)?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}

/// What happened to one location.
#[derive(Debug, Clone, Serialize)]
pub struct LocationReport {
    /// Directory scanned.
    #[serde(serialize_with = "crate::report::serialize_path")]
    pub dir: PathBuf,
    /// Prefix under the bpffs root.
    pub prefix: String,
    /// One entry per `.o` file, in readdir order, then one per object its
    /// manifest lists that is not there (by name).
    pub objects: Vec<ObjectReport>,
    /// The location was refused as a whole.
    pub error: Option<LocationError>,
}

impl LocationReport {
    /// Failed objects whose failure fails the boot.
    pub fn fatal_failures(&self) -> impl Iterator<Item = &ObjectReport> {
        self.objects
            .iter()
            .filter(|o| o.fatal && o.error().is_some())
    }

    /// Objects that failed, fatal or not.
    pub fn failures(&self) -> impl Iterator<Item = &ObjectReport> {
        self.objects.iter().filter(|o| o.error().is_some())
    }

    /// The location fails the boot: it was refused as a whole, or a
    /// boot-failing object failed.
    pub fn fails_boot(&self) -> bool {
        self.error.is_some() || self.fatal_failures().next().is_some()
    }
}

/// [`ObjectReport::critical`] of an object only its location's manifest
/// marks critical.
pub const MANIFEST_CRITICAL: &str = "marked critical in bpf.manifest";

/// Everything applying one object needs.
pub(crate) struct EngineCtx<'a> {
    pub(crate) sys: &'a dyn Sys,
    pub(crate) cfg: &'a LoadConfig,
    pub(crate) file: &'a Path,
}

/// An object read, parsed and planned (or why not), waiting to be applied.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) file: PathBuf,
    pub(crate) object: String,
    pub(crate) critical: Option<String>,
    pub(crate) stage: Result<(ObjectSpec, ObjectPlan), ObjectError>,
}

/// Source of the unique part of temporary pin names within this process.
static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Plans `spec` for `location`, with temporary pin names no other plan of
/// this process (or any other process) uses.
pub(crate) fn plan_for(
    cfg: &LoadConfig,
    location: &Location,
    spec: &ObjectSpec,
) -> Result<ObjectPlan, plan::PlanError> {
    let tag = format!("{}_{}", cfg.pid, TMP_SEQ.fetch_add(1, Ordering::Relaxed));
    plan::plan_object(
        spec,
        &PlanEnv {
            rules: cfg.rules,
            gate: cfg.gate,
            location,
            page_size: cfg.page_size,
            map_bytes: cfg.map_bytes,
            tmp_tag: &tag,
            on_change: cfg.on_change,
        },
    )
}

/// The `critical` section of an object that failed before it was parsed
/// (untrusted, unlisted, tampered): its bytes are parsed only to learn
/// whether it declares itself critical, never loaded. `None` if they do not
/// parse.
fn declared_critical(file: &Path, bytes: &[u8]) -> Option<String> {
    crate::parse::parse_object(file, bytes)
        .ok()
        .and_then(|spec| spec.critical)
}

/// [`declared_critical`] of a file the trust check refused for its owner
/// or mode (a regular file: symlinks and other types are not opened).
fn untrusted_critical(sys: &dyn Sys, file: &Path, e: &TrustError) -> Option<String> {
    if !matches!(e, TrustError::Owner { .. } | TrustError::Writable { .. }) {
        return None;
    }
    let (bytes, _) = sys.read_file(file, MAX_OBJECT_SIZE).ok()?;
    declared_critical(file, &bytes)
}

/// Reads, checks, parses and plans one object. Its criticality is its own
/// `critical` section (read even when the object fails before parsing,
/// [`declared_critical`]) or, failing that, its manifest's mark.
fn prepare(
    sys: &dyn Sys,
    cfg: &LoadConfig,
    location: &Location,
    integrity: &manifest::Integrity,
    name: &OsString,
) -> Prepared {
    let file = location.dir.join(name);
    let object = paths::object_name(&file);
    let listed_as = name.to_string_lossy();
    let mut own_critical = None;
    let stage = match trust::read_trusted(sys, &location.dir, name, MAX_OBJECT_SIZE, cfg.trust) {
        Err(e) => {
            own_critical = untrusted_critical(sys, &file, &e);
            Err(ObjectError::from(e))
        }
        Ok(bytes) => match integrity.check(&listed_as, &bytes) {
            Err(source) => {
                own_critical = declared_critical(&file, &bytes);
                Err(ObjectError::Integrity {
                    file: file.clone(),
                    source,
                })
            }
            Ok(()) => {
                // The kernel's BTF, read through `sys` once per configuration,
                // only for a libbpf object with CO-RE relocations.
                let kernel_btf = || {
                    cfg.kernel_btf.get(|path| {
                        sys.read_file(path, crate::libbpf::MAX_KERNEL_BTF_SIZE)
                            .map(|(bytes, _)| bytes)
                            .map_err(|e| e.to_string())
                    })
                };
                let env = crate::object::ParseEnv {
                    kver: cfg.gate.kver,
                    records: cfg.rules.record_sizes.records(),
                    kernel_btf: &kernel_btf,
                    libbpf: cfg.rules.libbpf,
                };
                match crate::object::parse(&file, &bytes, &env) {
                    Err(e) => Err(e),
                    Ok(spec) => {
                        drop(bytes);
                        own_critical.clone_from(&spec.critical);
                        plan_for(cfg, location, &spec)
                            .map(|plan| (spec, plan))
                            .map_err(ObjectError::from)
                    }
                }
            }
        },
    };
    let critical = own_critical.or_else(|| {
        integrity
            .is_critical(&listed_as)
            .then(|| MANIFEST_CRITICAL.to_string())
    });
    Prepared {
        file,
        object,
        critical,
        stage,
    }
}

/// What is at `path` instead of a listed object, for the report.
fn missing_what(sys: &dyn Sys, path: &Path) -> String {
    match sys.lstat(path) {
        Err(e) if e.is(libc::ENOENT) => "not in the directory".to_string(),
        Err(e) => format!("cannot be examined ({e})"),
        Ok(st) => format!("a {}, not a regular file", st.kind_name()),
    }
}

/// Plans and applies one parsed object of `location` (`file` names it in
/// messages), through the same path [`load_location`] takes.
pub fn load_object(
    sys: &dyn Sys,
    cfg: &LoadConfig,
    location: &Location,
    file: &Path,
    spec: &ObjectSpec,
) -> ObjectOutcome {
    let stage = plan_for(cfg, location, spec)
        .map(|plan| (spec.clone(), plan))
        .map_err(ObjectError::from);
    let batch = [Prepared {
        file: file.to_path_buf(),
        object: spec.name.clone(),
        critical: spec.critical.clone(),
        stage,
    }];
    schedule::run(sys, cfg, location, &batch)
        .into_iter()
        .next()
        .unwrap_or_else(|| ObjectOutcome::Failed {
            error: ObjectError::Load(LoadError::Raced {
                pin: "internal error: object not scheduled".into(),
            }),
        })
}

/// Logs one object's outcome. A failure is one message (at most
/// [`crate::logging::MAX_RECORDS_PER_MESSAGE`] kernel-log records): the
/// file, whether it is fatal and the reason on its first line, then (unless
/// the caller prints it itself) the verifier log's tail. A loaded object's
/// warnings are one message; that it loaded is a debug line (the location's
/// summary says it at info).
fn log_outcome(r: &ObjectReport, log_verifier: bool) {
    let file = crate::logging::shown(&r.file);
    match &r.outcome {
        ObjectOutcome::Loaded {
            maps,
            programs,
            skipped,
            warnings,
        } => {
            if !warnings.is_empty() {
                let mut msg = format!("{file}: {} warning(s):", warnings.len());
                for w in warnings {
                    msg.push('\n');
                    msg.push_str(&crate::logging::escape(w));
                }
                log::warn!("{msg}");
            }
            let new = maps.iter().chain(programs).filter(|p| !p.reused).count();
            log::debug!(
                "{file}: loaded: {} maps, {} programs ({new} new pins), {} skipped",
                maps.len(),
                programs.len(),
                skipped.len()
            );
        }
        ObjectOutcome::Skipped { reason } => log::debug!("{file}: skipped: {reason}"),
        ObjectOutcome::Failed { error } => {
            let crit = if r.fatal { " (fatal)" } else { "" };
            // Some errors (parse, integrity) start with the file already.
            let text = error.to_string();
            let own = format!("{file}: ");
            let text = text.strip_prefix(own.as_str()).unwrap_or(&text);
            let mut msg = format!("{file}: failed{crit}: {}", crate::logging::escape(text));
            if let Some(l) = error.verifier_log().filter(|_| log_verifier) {
                msg.push_str("\nverifier log (tail):");
                for line in l.lines() {
                    msg.push('\n');
                    msg.push_str(&crate::logging::escape(line));
                }
            }
            log::error!("{msg}");
        }
    }
}

/// What happened to a location in one line: its prefix, the counts, and
/// the objects skipped or failed (their reasons were logged with them).
pub fn location_summary(report: &LocationReport) -> String {
    let name = |o: &ObjectReport| {
        o.file
            .file_name()
            .map(|n| crate::logging::shown(Path::new(n)))
            .unwrap_or_default()
    };
    let (mut loaded, mut skipped, mut failed) = (0, Vec::new(), Vec::new());
    for o in &report.objects {
        match &o.outcome {
            ObjectOutcome::Loaded { .. } => loaded += 1,
            ObjectOutcome::Skipped { .. } => skipped.push(name(o)),
            ObjectOutcome::Failed { .. } => failed.push(name(o)),
        }
    }
    let list = |v: &[String]| {
        if v.is_empty() {
            String::new()
        } else {
            format!(" ({})", v.join(", "))
        }
    };
    let prefix = if report.prefix.is_empty() {
        "/"
    } else {
        report.prefix.as_str()
    };
    let mut line = format!("{prefix}: {loaded} loaded");
    if !skipped.is_empty() {
        line.push_str(&format!(", {} skipped{}", skipped.len(), list(&skipped)));
    }
    if !failed.is_empty() {
        line.push_str(&format!(", {} failed{}", failed.len(), list(&failed)));
    }
    if let Some(e) = &report.error {
        line.push_str(&format!(
            ", refused: {}",
            crate::logging::escape(&e.to_string())
        ));
    }
    line
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
    let shown = crate::logging::shown(&location.dir);
    if cfg.trust.insecure {
        log::warn!("{shown}: --insecure: owner, mode and symlink checks only warn");
    }
    if let Err(e) = trust::check_location_dir(sys, &location.dir, cfg.trust) {
        log::error!("{e}");
        report.error = Some(LocationError::Untrusted(e));
        return report;
    }
    let integrity = manifest::for_location(
        sys,
        location,
        cfg.trust,
        cfg.manifest_key.as_ref(),
        cfg.manifest_min_version,
    );
    if let Some(e) = integrity.error() {
        let e = LocationError::Manifest {
            dir: location.dir.clone(),
            source: e.clone(),
        };
        log::error!(
            "{}; the location is refused",
            crate::logging::escape(&e.to_string())
        );
        report.error = Some(e);
    }
    let names = match sys.read_dir(&location.dir) {
        Ok(n) => n,
        Err(e) => {
            log::error!("{e}");
            report.error = Some(LocationError::ReadDir(e));
            return report;
        }
    };
    let mut files: Vec<(OsString, u64)> = Vec::new();
    for name in names {
        if !name.as_bytes().ends_with(b".o") {
            continue;
        }
        let path = location.dir.join(&name);
        match sys.lstat(&path) {
            // Symlinks go on to the trust check, which refuses them by name.
            Ok(st) if st.is_file() || st.is_symlink() => {
                files.push((name, st.size));
            }
            Ok(st) => log::warn!(
                "{}: a {}, not a regular file; ignored",
                crate::logging::shown(&path),
                st.kind_name()
            ),
            Err(e) => log::warn!("{e}; ignored"),
        }
    }
    let fatal_policy = cfg.rules.failure == FailurePolicy::Any;
    let batch_objects = cfg
        .workers
        .max(1)
        .saturating_mul(BATCH_OBJECTS_PER_WORKER)
        .min(BATCH_OBJECTS_MAX);
    let mut start = 0;
    while start < files.len() {
        // A batch: up to `batch_objects` files and BATCH_BYTES bytes (at
        // least one file), read and planned, then applied; the next batch
        // sees every pin of this one, as sequential loading would.
        let mut end = start;
        let mut bytes = 0u64;
        while end < files.len() && end - start < batch_objects {
            let size = files.get(end).map_or(0, |f| f.1);
            if end > start && bytes.saturating_add(size) > BATCH_BYTES {
                break;
            }
            bytes = bytes.saturating_add(size);
            end += 1;
        }
        let batch: Vec<Prepared> = files
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(|(name, _)| prepare(sys, cfg, location, &integrity, name))
            .collect();
        let outcomes = schedule::run(sys, cfg, location, &batch);
        for (p, outcome) in batch.into_iter().zip(outcomes) {
            let r = ObjectReport {
                fatal: fatal_policy || p.critical.is_some(),
                file: p.file,
                object: p.object,
                critical: p.critical,
                outcome,
            };
            log_outcome(&r, cfg.log_verifier);
            report.objects.push(r);
        }
        start = end;
    }
    // Exact both ways: a listed object that is not there fails by name.
    for name in integrity.listed() {
        if files.iter().any(|(f, _)| f.as_bytes() == name.as_bytes()) {
            continue;
        }
        let file = location.dir.join(name);
        let critical = integrity
            .is_critical(name)
            .then(|| MANIFEST_CRITICAL.to_string());
        let r = ObjectReport {
            fatal: fatal_policy || critical.is_some(),
            object: paths::object_name(&file),
            critical,
            outcome: ObjectOutcome::Failed {
                error: ObjectError::Integrity {
                    source: ManifestError::Missing {
                        found: missing_what(sys, &file),
                    },
                    file: file.clone(),
                },
            },
            file,
        };
        log_outcome(&r, cfg.log_verifier);
        report.objects.push(r);
    }
    report
}
