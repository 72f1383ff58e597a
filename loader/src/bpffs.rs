//! The bpf filesystem the loader pins into, checked once.
//!
//! [`Bpffs::open`] is the one place that decides whether a root is usable:
//! it must be a directory on a bpf filesystem (`statfs` magic) mounted
//! read-write. Everything that pins takes a [`Bpffs`], so no code path can
//! pin into a root that was not checked. A pin directory below it must be a
//! real directory on the same mount ([`Bpffs::check_dir`]): not a symlink,
//! not another filesystem mounted over it.

use crate::sys::{Sys, SysError, BPF_FS_MAGIC};
use std::path::{Path, PathBuf};

/// Why a bpffs root cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BpffsError {
    /// `statfs`/`lstat` of the root failed.
    #[error("bpffs root {}: {source}", crate::logging::shown(.root))]
    Stat {
        /// The root.
        root: PathBuf,
        /// The failed call.
        #[source]
        source: SysError,
    },
    /// The root is not a bpf filesystem.
    #[error("{} is not a bpf filesystem (statfs f_type {f_type:#x}, want {BPF_FS_MAGIC:#x}); mount it with `mount -t bpf bpf {}`", crate::logging::shown(.root), crate::logging::shown(.root))]
    NotBpffs {
        /// The root.
        root: PathBuf,
        /// What statfs said.
        f_type: i64,
    },
    /// The root is mounted read-only: nothing could be pinned.
    #[error("bpf filesystem {} is mounted read-only; nothing can be pinned", crate::logging::shown(.root))]
    ReadOnly {
        /// The root.
        root: PathBuf,
    },
    /// The root is not a directory (a symlink, a file).
    #[error("bpffs root {} is a {kind}, not a directory", crate::logging::shown(.root))]
    NotADirectory {
        /// The root.
        root: PathBuf,
        /// What it is.
        kind: &'static str,
    },
}

impl BpffsError {
    /// The errno behind the refusal.
    pub fn errno(&self) -> Option<i32> {
        match self {
            BpffsError::Stat { source, .. } => source.errno(),
            BpffsError::NotBpffs { .. } => Some(libc::EINVAL),
            BpffsError::ReadOnly { .. } => Some(libc::EROFS),
            BpffsError::NotADirectory { .. } => Some(libc::ENOTDIR),
        }
    }
}

/// A checked, writable bpf filesystem root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bpffs {
    root: PathBuf,
    dev: u64,
}

impl Bpffs {
    /// Checks `root`: a directory on a bpf filesystem mounted read-write.
    pub fn open(sys: &dyn Sys, root: &Path) -> Result<Bpffs, BpffsError> {
        let stat_err = |source| BpffsError::Stat {
            root: root.to_path_buf(),
            source,
        };
        let fs = sys.statfs(root).map_err(stat_err)?;
        if fs.f_type != BPF_FS_MAGIC {
            return Err(BpffsError::NotBpffs {
                root: root.to_path_buf(),
                f_type: fs.f_type,
            });
        }
        if fs.read_only {
            return Err(BpffsError::ReadOnly {
                root: root.to_path_buf(),
            });
        }
        let st = sys.lstat(root).map_err(stat_err)?;
        if !st.is_dir() {
            return Err(BpffsError::NotADirectory {
                root: root.to_path_buf(),
                kind: st.kind_name(),
            });
        }
        Ok(Bpffs {
            root: root.to_path_buf(),
            dev: st.dev,
        })
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The device number of the mount (every pin and pin directory of the
    /// loader is on it).
    pub fn dev(&self) -> u64 {
        self.dev
    }

    /// `root/rel` (`rel` relative to the root, `""` for the root itself).
    pub fn path(&self, rel: &str) -> PathBuf {
        let rel = rel.trim_start_matches('/');
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }

    /// Checks that `rel` (a directory relative to the root) is a real
    /// directory on this bpffs.
    pub fn check_dir(&self, sys: &dyn Sys, rel: &str) -> Result<(), DirProblem> {
        let st = sys.lstat(&self.path(rel)).map_err(|e| match e.errno() {
            Some(libc::ENOENT) => DirProblem::Missing,
            _ => DirProblem::Sys(e),
        })?;
        if !st.is_dir() {
            return Err(DirProblem::NotADirectory {
                kind: st.kind_name(),
                uid: st.uid,
            });
        }
        if st.dev != self.dev {
            return Err(DirProblem::OtherMount);
        }
        Ok(())
    }
}

/// What is wrong with a pin directory.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DirProblem {
    /// It does not exist.
    #[error("does not exist")]
    Missing,
    /// Something else is there.
    #[error("is a {kind} owned by uid {uid}, not a directory")]
    NotADirectory {
        /// What it is.
        kind: &'static str,
        /// Its owner.
        uid: u32,
    },
    /// A directory of another mount.
    #[error("is not on the bpf filesystem (another mount)")]
    OtherMount,
    /// It could not be examined.
    #[error(transparent)]
    Sys(SysError),
}

impl DirProblem {
    /// The errno it amounts to.
    pub fn errno(&self) -> i32 {
        match self {
            DirProblem::Missing => libc::ENOENT,
            DirProblem::NotADirectory { .. } => libc::ENOTDIR,
            DirProblem::OtherMount => libc::EXDEV,
            DirProblem::Sys(e) => e.errno().unwrap_or(libc::EIO),
        }
    }
}
