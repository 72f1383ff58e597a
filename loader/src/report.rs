//! The JSON documents the CLI writes (`load --json`, `inspect --json`),
//! versioned: every document carries `schema_version`, and
//! `docs/json-schema.md` describes version [`SCHEMA_VERSION`] field by field.

use crate::engine::{LoadConfig, LocationReport, ObjectOutcome};
use crate::gate::{Arch, BuildType};
use crate::release::{Release, Role};
use serde::Serialize;
use std::path::Path;

/// Version of the JSON documents.
pub const SCHEMA_VERSION: u32 = 1;

/// Serializes a path as a JSON string: UTF-8 as is, other bytes and
/// control characters escaped as in the logs (`\xff`), so a file name that
/// is not UTF-8 never truncates a document.
pub fn path<S: serde::Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::logging::shown(p))
}

/// Counts of a location's outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Objects loaded.
    pub loaded: usize,
    /// Objects skipped whole by a gate.
    pub skipped: usize,
    /// Objects that failed.
    pub failed: usize,
    /// Failures that fail the boot under the release's policy.
    pub fatal: usize,
}

impl Summary {
    /// Counts `r`.
    pub fn of(r: &LocationReport) -> Summary {
        let mut s = Summary::default();
        for o in &r.objects {
            match &o.outcome {
                ObjectOutcome::Loaded { .. } => s.loaded += 1,
                ObjectOutcome::Skipped { .. } => s.skipped += 1,
                ObjectOutcome::Failed { .. } => s.failed += 1,
            }
        }
        s.fatal = r.fatal_failures().count();
        s
    }
}

/// `load --json`.
#[derive(Debug, Serialize)]
pub struct LoadJson<'a> {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `"load"`.
    pub command: &'static str,
    /// Whose rules were followed.
    pub release: Release,
    /// Which loader's rules.
    pub role: Role,
    /// The loader version the gates saw.
    pub loader_version: u32,
    /// The kernel the gates saw (`major.minor.sub`).
    pub kernel: String,
    /// The build type the gates saw.
    pub build_type: BuildType,
    /// The architecture the gates saw.
    pub arch: Arch,
    /// The bpffs root.
    #[serde(serialize_with = "path")]
    pub bpffs: &'a Path,
    /// What happened.
    pub location: &'a LocationReport,
    /// Counts.
    pub summary: Summary,
}

impl<'a> LoadJson<'a> {
    /// The document for one `load` run.
    pub fn new(
        release: Release,
        role: Role,
        cfg: &'a LoadConfig,
        report: &'a LocationReport,
    ) -> Self {
        LoadJson {
            schema_version: SCHEMA_VERSION,
            command: "load",
            release,
            role,
            loader_version: cfg.gate.loader_ver,
            kernel: cfg.gate.kver.to_string(),
            build_type: cfg.gate.build_type,
            arch: cfg.gate.arch,
            bpffs: cfg.bpffs.root(),
            location: report,
            summary: Summary::of(report),
        }
    }
}
