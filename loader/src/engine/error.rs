//! Why an object failed while its plan was being applied.

use crate::reloc::RelocError;
use crate::sys::{ObjKind, SysError};
use std::path::PathBuf;

/// An apply-step failure of one object. Every variant names the map,
/// program or path involved; syscall failures keep their errno in
/// [`SysError`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// A syscall failed while doing `what` (e.g. `map foo: create`).
    #[error("{what}: {source}")]
    Sys {
        /// What was being done, naming the map or program.
        what: String,
        /// The failed syscall, errno preserved.
        #[source]
        source: SysError,
    },
    /// A pin directory is missing, not a directory, or not on the bpffs.
    #[error("pin directory {}: {problem}", crate::logging::shown(dir))]
    PinDir {
        /// The directory.
        dir: PathBuf,
        /// What is wrong.
        problem: crate::bpffs::DirProblem,
    },
    /// Something other than a pinned object of the expected kind is at a
    /// pin path (a symlink, a directory, a program where a map belongs...):
    /// it is not trusted and not touched.
    #[error(
        "{pin}: expected a pinned {expected:?}, found {found} owned by uid {uid}; not touched"
    )]
    NotOurPin {
        /// Pin path relative to the bpffs root.
        pin: String,
        /// What should be there.
        expected: ObjKind,
        /// What is there, in words.
        found: String,
        /// Its owner.
        uid: u32,
    },
    /// An existing (or just created) map does not match its definition.
    #[error("{pin}: {field} {actual} {origin}, {expected} in the object")]
    MapMismatch {
        /// Pin path relative to the bpffs root.
        pin: String,
        /// The attribute that differs.
        field: &'static str,
        /// Value found in the kernel.
        actual: String,
        /// Value the object declares (after type/size adjustments).
        expected: String,
        /// `on the existing pin` or `in the kernel` (for a new map).
        origin: &'static str,
    },
    /// An existing program pin is of another program type.
    #[error("{pin}: prog_type {actual} on the existing pin, {expected} in the object")]
    ProgMismatch {
        /// Pin path relative to the bpffs root.
        pin: String,
        /// Program type of the pinned program.
        actual: u32,
        /// Program type the section implies.
        expected: u32,
    },
    /// The object's BTF could not be prepared or loaded.
    #[error("BTF: {reason}{}", source.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    Btf {
        /// Why.
        reason: String,
        /// The failed `BPF_BTF_LOAD`, if it came to that.
        #[source]
        source: Option<SysError>,
        /// The kernel's BTF log of the refused blob (its tail).
        log: Option<String>,
    },
    /// Map relocation of a program failed.
    #[error("program {prog}: {source}")]
    Reloc {
        /// Section name.
        prog: String,
        /// Why.
        #[source]
        source: RelocError,
    },
    /// The verifier (or the kernel) rejected a non-optional program.
    #[error("program {prog}: {source}")]
    ProgLoad {
        /// Section name.
        prog: String,
        /// `BPF_PROG_LOAD` failure, errno preserved.
        #[source]
        source: SysError,
        /// The tail of the verifier log, if one was obtained.
        log: Option<String>,
    },
    /// A program loaded but the kernel did not JIT it (25Q2 refuses it).
    #[error("program {prog}: not JIT-compiled (jited_prog_len 0)")]
    NotJited {
        /// Section name.
        prog: String,
    },
    /// The object used up its verification budget on failing programs.
    #[error("program {prog} not attempted: {failed} failed verifications already took {spent_ms} ms of the object's {budget_ms} ms budget")]
    VerifyBudget {
        /// The program not attempted.
        prog: String,
        /// Failed verifications so far.
        failed: usize,
        /// Time they took.
        spent_ms: u64,
        /// The budget.
        budget_ms: u64,
    },
    /// The object's verifications, passing or not, took its whole budget.
    #[error("program {prog} not attempted: the object's {verified} verifications already took {spent_ms} ms of its {budget_ms} ms budget for all verifications")]
    VerifyTime {
        /// The program not attempted.
        prog: String,
        /// Verifications so far.
        verified: usize,
        /// Time they took.
        spent_ms: u64,
        /// The budget.
        budget_ms: u64,
    },
    /// A new pin's declared owner cannot be set by this process.
    #[error("{pin}: cannot give the pin its owner {uid}:{gid} without CAP_CHOWN; nothing created")]
    Owner {
        /// Pin path relative to the bpffs root.
        pin: String,
        /// Declared uid.
        uid: u32,
        /// Declared gid.
        gid: u32,
    },
    /// Another loader created one of the object's pins while it loaded.
    #[error("{pin}: created concurrently by another loader")]
    Raced {
        /// Pin path relative to the bpffs root.
        pin: String,
    },
}

impl LoadError {
    pub(crate) fn sys(what: impl Into<String>, source: SysError) -> Self {
        LoadError::Sys {
            what: what.into(),
            source,
        }
    }

    /// The verifier log carried by the error, if any.
    pub fn verifier_log(&self) -> Option<&str> {
        match self {
            LoadError::ProgLoad { log, .. } | LoadError::Btf { log, .. } => log.as_deref(),
            _ => None,
        }
    }

    /// The errno of the underlying syscall, if the failure came from one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            LoadError::Sys { source, .. } | LoadError::ProgLoad { source, .. } => source.errno(),
            LoadError::Btf {
                source: Some(s), ..
            } => s.errno(),
            LoadError::NotJited { .. } => Some(libc::ENOTSUP),
            LoadError::PinDir { problem, .. } => Some(problem.errno()),
            LoadError::Raced { .. } => Some(libc::EEXIST),
            LoadError::Owner { .. } => Some(libc::EPERM),
            _ => None,
        }
    }

    /// A stable snake_case name of the variant, for JSON and tests.
    pub fn reason(&self) -> &'static str {
        match self {
            LoadError::Sys { .. } => "syscall",
            LoadError::PinDir { .. } => "pin_dir",
            LoadError::NotOurPin { .. } => "not_our_pin",
            LoadError::MapMismatch { .. } => "map_mismatch",
            LoadError::ProgMismatch { .. } => "prog_mismatch",
            LoadError::Btf { .. } => "btf",
            LoadError::Reloc { .. } => "relocation",
            LoadError::ProgLoad { .. } => "prog_load",
            LoadError::NotJited { .. } => "not_jited",
            LoadError::VerifyBudget { .. } => "verify_budget",
            LoadError::VerifyTime { .. } => "verify_time",
            LoadError::Owner { .. } => "owner",
            LoadError::Raced { .. } => "raced",
        }
    }
}
