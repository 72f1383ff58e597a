//! Turns parsed objects into live, pinned kernel objects.
//!
//! Public API used by the boot flow and the `load` subcommand:
//! [`LoadConfig`], [`load_location`], [`LocationReport`], [`ObjectReport`].

use crate::gate::GateEnv;
use crate::paths::Location;
use crate::sys::Sys;
use serde::Serialize;
use std::path::PathBuf;

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

/// Loads every `*.o` of `location` (readdir order, non-recursive). Never
/// panics on bad input; one object's failure does not stop the others.
pub fn load_location(sys: &dyn Sys, cfg: &LoadConfig, location: &Location) -> LocationReport {
    let _ = (sys, cfg);
    todo!("engine: load {}", location.dir.display())
}
