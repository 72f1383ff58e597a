//! Why an object failed to load.

use crate::btf::BtfError;
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
    /// BTF is on, the kernel is at least 5.10 and the object has maps, but
    /// no `.BTF` section (Android's 2025 loader fails such an object too).
    #[error("no .BTF section: objects with maps need one to load with BTF on kernels >= 5.10")]
    NoBtf,
    /// The object's `.BTF` cannot type its maps (malformed, a DATASEC or VAR
    /// without its ELF section or symbol, a map without a valid key/value
    /// annotation or with other sizes than its definition).
    #[error("BTF: {0}")]
    Btf(#[from] BtfError),
    /// The kernel refused the object's BTF (`BPF_BTF_LOAD`), also after the
    /// retry with FUNC linkage downgraded if that was tried.
    #[error("BTF: load{}: {source}", if *.downgraded { " (retried with FUNC linkage downgraded)" } else { "" })]
    BtfLoad {
        /// The last `BPF_BTF_LOAD` failure, errno preserved.
        #[source]
        source: SysError,
        /// Whether the downgraded blob was tried too.
        downgraded: bool,
        /// The kernel's BTF log, if one was obtained.
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

    /// The kernel log carried by the error (program verifier or BTF), if any.
    pub fn verifier_log(&self) -> Option<&str> {
        match self {
            LoadError::ProgLoad { log, .. } | LoadError::BtfLoad { log, .. } => log.as_deref(),
            _ => None,
        }
    }

    /// The errno of the underlying syscall, if the failure came from one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            LoadError::Sys { source, .. }
            | LoadError::ProgLoad { source, .. }
            | LoadError::BtfLoad { source, .. } => source.errno(),
            _ => None,
        }
    }
}
