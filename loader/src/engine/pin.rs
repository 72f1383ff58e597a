//! Pinning with rollback: every pin this run creates for an object is
//! recorded, so a failing object can remove exactly those and nothing else.

use super::error::LoadError;
use crate::sys::{ObjKind, Sys, SysError, BPF_F_RDONLY};
use std::os::fd::BorrowedFd;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// What [`Pins::pin_new`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PinOutcome {
    /// Our object is now pinned at the final path.
    Created,
    /// Someone else pinned the final path first (a concurrent loader); our
    /// object is not pinned and the caller should reuse theirs.
    LostRace,
}

/// Pins created for one object in this run.
pub(crate) struct Pins<'a> {
    sys: &'a dyn Sys,
    created: Vec<PathBuf>,
}

fn is_errno(e: &SysError, errno: i32) -> bool {
    e.errno() == Some(errno)
}

impl<'a> Pins<'a> {
    pub(crate) fn new(sys: &'a dyn Sys) -> Self {
        Pins {
            sys,
            created: Vec::new(),
        }
    }

    /// Pins `fd` at `path`. With `tmp` (a `selinux_context` was given), pins
    /// at `tmp` first, so that the new inode gets the label of the context's
    /// directory, then moves it with `renameat2(RENAME_NOREPLACE)`. An
    /// `EEXIST` on the final path means another loader won the race.
    ///
    /// The temporary name is the reference's `tmp_<map|prog>_<obj>_<name>`,
    /// the same in every loader, so the pin and rename run under an
    /// exclusive `flock` of the context's directory: a concurrent loader
    /// waits instead of taking (or removing) our temporary pin, and a
    /// `tmp_*` pin found while holding the lock was left by a killed run
    /// (the kernel dropped its lock) and is replaced.
    pub(crate) fn pin_new(
        &mut self,
        what: &str,
        fd: BorrowedFd<'_>,
        path: &Path,
        tmp: Option<&Path>,
    ) -> Result<PinOutcome, LoadError> {
        let Some(tmp) = tmp else {
            return match self.sys.obj_pin(fd, path) {
                Ok(()) => {
                    self.created.push(path.to_path_buf());
                    Ok(PinOutcome::Created)
                }
                Err(e) if is_errno(&e, libc::EEXIST) => Ok(PinOutcome::LostRace),
                Err(e) => Err(LoadError::sys(format!("{what}: pin"), e)),
            };
        };
        let dir = tmp.parent().unwrap_or(tmp);
        let _lock = self.sys.lock_dir(dir).map_err(|e| {
            LoadError::sys(format!("{what}: lock the temporary pin's directory"), e)
        })?;
        match self.sys.obj_pin(fd, tmp) {
            Ok(()) => {}
            Err(e) if is_errno(&e, libc::EEXIST) => {
                // A temporary pin left by an interrupted run: nothing refers
                // to it by this name, replace it.
                log::warn!("{what}: removing stale temporary pin {}", tmp.display());
                self.sys.unlink(tmp).map_err(|e| {
                    LoadError::sys(format!("{what}: remove stale temporary pin"), e)
                })?;
                self.sys
                    .obj_pin(fd, tmp)
                    .map_err(|e| LoadError::sys(format!("{what}: pin"), e))?;
            }
            Err(e) => return Err(LoadError::sys(format!("{what}: pin"), e)),
        }
        self.created.push(tmp.to_path_buf());
        match self.sys.rename_noreplace(tmp, path) {
            Ok(()) => {
                self.created.pop();
                self.created.push(path.to_path_buf());
                Ok(PinOutcome::Created)
            }
            Err(e) if is_errno(&e, libc::EEXIST) => {
                self.created.pop();
                self.sys
                    .unlink(tmp)
                    .map_err(|e| LoadError::sys(format!("{what}: remove temporary pin"), e))?;
                Ok(PinOutcome::LostRace)
            }
            Err(e) => Err(LoadError::sys(format!("{what}: move pin into place"), e)),
        }
    }

    /// Keeps every pin: the object loaded.
    pub(crate) fn commit(mut self) {
        self.created.clear();
    }

    /// Removes every pin created for this object, newest first.
    pub(crate) fn rollback(mut self) {
        self.undo();
    }

    fn undo(&mut self) {
        while let Some(p) = self.created.pop() {
            match self.sys.unlink(&p) {
                Ok(()) => log::info!("rolled back pin {}", p.display()),
                Err(e) => log::error!("rollback: {e}"),
            }
        }
    }
}

impl Drop for Pins<'_> {
    /// An object abandoned without [`Pins::commit`] (early return, panic in a
    /// caller) leaves nothing behind either.
    fn drop(&mut self) {
        self.undo();
    }
}

/// Opens an existing pin of `kind` read-only (`BPF_OBJ_GET` with
/// `BPF_F_RDONLY`); `Ok(None)` if there is none. A pin of the other kind is
/// an error.
pub(crate) fn open_existing(
    sys: &dyn Sys,
    what: &str,
    path: &Path,
    kind: ObjKind,
) -> Result<Option<OwnedFd>, LoadError> {
    match sys.obj_get(path, BPF_F_RDONLY, kind) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(LoadError::sys(format!("{what}: open existing pin"), e)),
    }
}

/// Opens the pin a concurrent loader created between our lookup and our own
/// pin ([`PinOutcome::LostRace`]); it must exist now.
pub(crate) fn open_race_winner(
    sys: &dyn Sys,
    what: &str,
    path: &Path,
    kind: ObjKind,
) -> Result<OwnedFd, LoadError> {
    open_existing(sys, what, path, kind)?.ok_or_else(|| {
        LoadError::sys(
            format!("{what}: open concurrent pin"),
            SysError::from_errno("BPF_OBJ_GET", Some(path), libc::ENOENT),
        )
    })
}

/// Brings a reused pin to its declared mode and owner if it differs. A pin
/// is created with mode 0600 root:root and given its mode and owner right
/// after, so a loader killed in between leaves one that the next run would
/// otherwise reuse as it is; a concurrent loader may also still be between
/// its pin and its chmod. Either way the declared values are the contract.
pub(crate) fn repair_mode_and_owner(
    sys: &dyn Sys,
    what: &str,
    path: &Path,
    mode: u32,
    uid: u32,
    gid: u32,
) -> Result<(), LoadError> {
    let st = sys
        .lstat(path)
        .map_err(|e| LoadError::sys(format!("{what}: stat existing pin"), e))?;
    if (st.perm(), st.uid, st.gid) == (mode, uid, gid) {
        return Ok(());
    }
    log::warn!(
        "{what}: existing pin {} has mode {:#o} owner {}:{}, setting the declared {mode:#o} {uid}:{gid} (an interrupted or concurrent run)",
        path.display(),
        st.perm(),
        st.uid,
        st.gid
    );
    set_mode_and_owner(sys, what, path, mode, uid, gid)
}

/// Gives a pin this run created its declared mode and owner.
pub(crate) fn set_mode_and_owner(
    sys: &dyn Sys,
    what: &str,
    path: &Path,
    mode: u32,
    uid: u32,
    gid: u32,
) -> Result<(), LoadError> {
    sys.chmod(path, mode)
        .map_err(|e| LoadError::sys(format!("{what}: set mode"), e))?;
    sys.chown(path, uid, gid)
        .map_err(|e| LoadError::sys(format!("{what}: set owner"), e))
}
