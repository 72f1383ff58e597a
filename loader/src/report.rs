//! The JSON documents the CLI writes (`load`, `inspect`, `show` and
//! `unload` with `-j`/`--json` or `-p`/`--pretty`), versioned: every document
//! carries `schema_version` and `command`. `docs/json-schema.md` describes
//! version [`SCHEMA_VERSION`] field by field and `docs/netbpfload.schema.json`
//! is the same as a JSON Schema (draft 2020-12), which the tests validate
//! real output against.
//!
//! The documents are views written for their readers, not dumps of the
//! loader's structures: modes are octal strings (`"0660"`), map and program
//! types carry their name next to their number, kernel versions are strings
//! (`"5.10.0"`, `"inf"` for no upper limit), paths are text (bytes that are
//! not UTF-8 shown as `\xNN`), and nothing internal is in them.

use crate::engine::{
    LoadConfig, LocationError, LocationReport, ObjectOutcome, ObjectReport, PinReport, SkipReport,
};
use crate::error::ObjectError;
use crate::gate::{Arch, BuildType, SkipReason};
use crate::plan::OnChange;
use crate::release::{Release, Role};
use crate::spec::Kver;
use serde::Serialize;
use std::path::Path;

/// Version of the JSON documents. 2: the documented views (1 was an
/// undocumented dump of internal structures).
pub const SCHEMA_VERSION: u32 = 2;

/// A mode as four octal digits, the special bits first: `0660`, `1777`.
pub fn mode(m: u32) -> String {
    format!("{m:04o}")
}

/// A kernel version as a string: `5.10.0`, `inf` for no upper limit.
pub fn kver(k: Kver) -> String {
    k.to_string()
}

/// A path as JSON text ([`crate::logging::shown`]).
pub fn path(p: &Path) -> String {
    crate::logging::shown(p)
}

/// A map or program type: its number and its name.
#[derive(Debug, Clone, Serialize)]
pub struct TypeJson {
    /// The name ([`crate::names`]), `unknown` if this loader does not know it.
    #[serde(rename = "type")]
    pub name: &'static str,
    /// The kernel's number.
    #[serde(rename = "type_id")]
    pub id: u32,
}

impl TypeJson {
    /// A map type.
    pub fn map(t: u32) -> Self {
        TypeJson {
            name: crate::names::map_type(t).unwrap_or("unknown"),
            id: t,
        }
    }

    /// A program type.
    pub fn prog(t: u32) -> Self {
        TypeJson {
            name: crate::names::prog_type(t).unwrap_or("unknown"),
            id: t,
        }
    }
}

/// Why a map, program or object is not loaded (a gate, or an optional
/// program the kernel refused).
#[derive(Debug, Clone, Serialize)]
pub struct GateJson {
    /// Which gate: `loader_version`, `kernel`, `build_type`, `arch`,
    /// `map_type_unsupported`, `netbpfload_min_ver`, `not_a_program`,
    /// `optional_failed`.
    pub gate: &'static str,
    /// The reason in words.
    pub message: String,
    /// This loader's version (`loader_version`, `netbpfload_min_ver`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loader_version: Option<u32>,
    /// Inclusive minimum (loader version, or kernel version as a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<serde_json::Value>,
    /// Exclusive maximum (loader version, or kernel version as a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<serde_json::Value>,
    /// The running kernel (`kernel`, `map_type_unsupported`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// The build type (`build_type`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_type: Option<BuildType>,
    /// The architecture (`arch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<Arch>,
    /// The map type (`map_type_unsupported`).
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub map_type: Option<TypeJson>,
    /// The kernel's refusal (`optional_failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    /// Its symbolic name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_name: Option<&'static str>,
}

impl GateJson {
    /// The view of `r`.
    pub fn new(r: &SkipReason) -> Self {
        let mut g = GateJson {
            gate: "",
            message: r.to_string(),
            loader_version: None,
            min: None,
            max: None,
            kernel: None,
            build_type: None,
            arch: None,
            map_type: None,
            errno: None,
            errno_name: None,
        };
        match r {
            SkipReason::LoaderVersion { ver, min, max } => {
                g.gate = "loader_version";
                g.loader_version = Some(*ver);
                g.min = Some((*min).into());
                g.max = Some((*max).into());
            }
            SkipReason::Kernel { kver: k, min, max } => {
                g.gate = "kernel";
                g.kernel = Some(kver(*k));
                g.min = Some(kver(*min).into());
                g.max = Some(kver(*max).into());
            }
            SkipReason::BuildType(b) => {
                g.gate = "build_type";
                g.build_type = Some(*b);
            }
            SkipReason::Arch(a) => {
                g.gate = "arch";
                g.arch = Some(*a);
            }
            SkipReason::MapTypeUnsupported { map_type, kver: k } => {
                g.gate = "map_type_unsupported";
                g.map_type = Some(TypeJson::map(*map_type));
                g.kernel = Some(kver(*k));
            }
            SkipReason::NetbpfloadMinVer { ver, min } => {
                g.gate = "netbpfload_min_ver";
                g.loader_version = Some(*ver);
                g.min = Some((*min).into());
            }
            SkipReason::NotAProgram => g.gate = "not_a_program",
            SkipReason::OptionalFailed { errno } => {
                g.gate = "optional_failed";
                g.errno = Some(*errno);
                g.errno_name = crate::error::errno_name(*errno);
            }
        }
        g
    }
}

/// Serializes a path as a JSON string: UTF-8 as is, other bytes and
/// control characters escaped as in the logs (`\xff`), so a file name that
/// is not UTF-8 never truncates a document.
pub fn serialize_path<S: serde::Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
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

/// What `load` did with one pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinAction {
    /// A new map or program, pinned now.
    Created,
    /// The pin existed and holds what the object declares: reused.
    Reused,
    /// The pin holds a program other than the object's (another tag): kept
    /// as it is, with a warning.
    KeptChanged,
    /// The pin held a program other than the object's and now holds the
    /// object's (`load --replace`).
    Replaced,
}

/// One pin of a loaded object.
#[derive(Debug, Clone, Serialize)]
pub struct PinJson {
    /// Map name, or program section name.
    pub name: String,
    /// Path relative to the bpffs root.
    pub pin: String,
    /// Kernel id of what the pin holds (0 before Linux 4.14).
    pub id: u32,
    /// What happened.
    pub action: PinAction,
    /// A program's tag (16 hex digits, as bpftool shows it); `null` for a
    /// map or when the kernel does not say.
    pub tag: Option<String>,
}

impl PinJson {
    fn new(p: &PinReport) -> Self {
        let action = if p.replaced {
            PinAction::Replaced
        } else if p.changed {
            PinAction::KeptChanged
        } else if p.reused {
            PinAction::Reused
        } else {
            PinAction::Created
        };
        PinJson {
            name: p.name.clone(),
            pin: p.pin.clone(),
            id: p.id,
            action,
            tag: p.tag.as_ref().map(crate::progtag::hex),
        }
    }
}

/// A map or program of a loaded object that was not loaded.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedJson {
    /// Map name, or program section name.
    pub name: String,
    /// Why.
    pub reason: GateJson,
    /// For an optional program the kernel refused: the verifier log's tail.
    pub verifier_log: Option<String>,
}

impl SkippedJson {
    fn new(s: &SkipReport) -> Self {
        SkippedJson {
            name: s.name.clone(),
            reason: GateJson::new(&s.reason),
            verifier_log: s.verifier_log.clone(),
        }
    }
}

/// What happened to one object.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OutcomeJson<'a> {
    /// Every map and program that passed its gates is pinned.
    Loaded {
        /// Map pins.
        maps: Vec<PinJson>,
        /// Program pins.
        programs: Vec<PinJson>,
        /// Maps and programs not loaded.
        skipped: Vec<SkippedJson>,
        /// Non-fatal observations.
        warnings: &'a [String],
    },
    /// The whole object was gated out.
    Skipped {
        /// Why.
        reason: GateJson,
    },
    /// The object failed; none of its new pins exists.
    Failed {
        /// Why.
        error: &'a ObjectError,
    },
}

impl<'a> OutcomeJson<'a> {
    fn new(o: &'a ObjectOutcome) -> Self {
        match o {
            ObjectOutcome::Loaded {
                maps,
                programs,
                skipped,
                warnings,
            } => OutcomeJson::Loaded {
                maps: maps.iter().map(PinJson::new).collect(),
                programs: programs.iter().map(PinJson::new).collect(),
                skipped: skipped.iter().map(SkippedJson::new).collect(),
                warnings,
            },
            ObjectOutcome::Skipped { reason } => OutcomeJson::Skipped {
                reason: GateJson::new(reason),
            },
            ObjectOutcome::Failed { error } => OutcomeJson::Failed { error },
        }
    }
}

/// One object file of a `load`.
#[derive(Debug, Serialize)]
pub struct ObjectJson<'a> {
    /// The `.o` file.
    pub file: String,
    /// The object name its pins carry.
    pub object: &'a str,
    /// The reason of its `critical` section, `null` if it has none.
    pub critical: Option<&'a str>,
    /// A failure of this object fails the boot under the release's policy.
    pub fatal: bool,
    /// What happened.
    pub outcome: OutcomeJson<'a>,
}

impl<'a> ObjectJson<'a> {
    fn new(o: &'a ObjectReport) -> Self {
        ObjectJson {
            file: path(&o.file),
            object: &o.object,
            critical: o.critical.as_deref(),
            fatal: o.fatal,
            outcome: OutcomeJson::new(&o.outcome),
        }
    }
}

/// One location of a `load`.
#[derive(Debug, Serialize)]
pub struct LocationJson<'a> {
    /// The directory.
    pub dir: String,
    /// The pin prefix under the bpffs root.
    pub prefix: &'a str,
    /// Why the location was refused as a whole, `null` if it was not.
    pub error: Option<&'a LocationError>,
    /// One entry per `.o` file, in directory order.
    pub objects: Vec<ObjectJson<'a>>,
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
    /// The kernel the gates saw.
    pub kernel: String,
    /// The build type the gates saw.
    pub build_type: BuildType,
    /// The architecture the gates saw.
    pub arch: Arch,
    /// The bpffs root.
    pub bpffs: String,
    /// What was done with changed programs (`keep`, or `replace` with
    /// `--replace`).
    pub on_change: OnChange,
    /// What happened.
    pub location: LocationJson<'a>,
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
            kernel: kver(cfg.gate.kver),
            build_type: cfg.gate.build_type,
            arch: cfg.gate.arch,
            bpffs: path(cfg.bpffs.root()),
            on_change: cfg.on_change,
            location: LocationJson {
                dir: path(&report.dir),
                prefix: &report.prefix,
                error: report.error.as_ref(),
                objects: report.objects.iter().map(ObjectJson::new).collect(),
            },
            summary: Summary::of(report),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_for_people() {
        assert_eq!(mode(0o660), "0660");
        assert_eq!(mode(0o1777), "1777");
        assert_eq!(mode(0), "0000");
        assert_eq!(kver(Kver::new(5, 10, 0)), "5.10.0");
        assert_eq!(kver(Kver(crate::spec::DEFAULT_MAX_KVER)), "inf");
        let t = serde_json::to_value(TypeJson::map(27)).expect("json");
        assert_eq!(t, serde_json::json!({"type": "ringbuf", "type_id": 27}));
        let t = serde_json::to_value(TypeJson::prog(999)).expect("json");
        assert_eq!(t, serde_json::json!({"type": "unknown", "type_id": 999}));
    }

    #[test]
    fn gates_carry_versions_as_strings() {
        let g = serde_json::to_value(GateJson::new(&SkipReason::Kernel {
            kver: Kver::new(6, 1, 57),
            min: Kver::new(7, 0, 0),
            max: Kver(crate::spec::DEFAULT_MAX_KVER),
        }))
        .expect("json");
        assert_eq!(
            g,
            serde_json::json!({
                "gate": "kernel",
                "message": "kernel 6.1.57 not in [7.0.0, inf)",
                "kernel": "6.1.57",
                "min": "7.0.0",
                "max": "inf",
            })
        );
        let g = serde_json::to_value(GateJson::new(&SkipReason::MapTypeUnsupported {
            map_type: 11,
            kver: Kver::new(4, 9, 0),
        }))
        .expect("json");
        assert_eq!(g["type"], "lpm_trie");
        assert_eq!(g["type_id"], 11);
        let g = serde_json::to_value(GateJson::new(&SkipReason::OptionalFailed {
            errno: libc::EACCES,
        }))
        .expect("json");
        assert_eq!(g["errno_name"], "EACCES");
    }
}
