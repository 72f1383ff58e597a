//! Why an object failed to load.

use crate::reloc::RelocError;
use crate::sys::SysError;
use std::path::PathBuf;

/// An object-level load failure. Every variant names the map, program or
/// path involved; syscall failures keep their errno in [`SysError`].
#[derive(Debug, thiserror::Error)]
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
    /// A pin directory is not on a bpf filesystem; nothing was created.
    #[error("{} is not on a bpf filesystem (statfs f_type {f_type:#x}); refusing to pin there", dir.display())]
    NotBpffs {
        /// The directory.
        dir: PathBuf,
        /// Its `statfs().f_type`.
        f_type: i64,
    },
    /// The bpf filesystem is mounted read-only; nothing was created.
    #[error("bpf filesystem {} is mounted read-only; refusing to load (nothing can be pinned)", dir.display())]
    ReadOnlyBpffs {
        /// The bpffs root.
        dir: PathBuf,
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
        /// Verifier log, if one was obtained.
        log: Option<String>,
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
            LoadError::ProgLoad { log, .. } => log.as_deref(),
            _ => None,
        }
    }

    /// The errno of the underlying syscall, if the failure came from one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            LoadError::Sys { source, .. } | LoadError::ProgLoad { source, .. } => source.errno(),
            _ => None,
        }
    }
}
