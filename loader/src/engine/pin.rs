//! The pin tree: what is already at a pin path, and making new pins appear.
//!
//! Nothing found at a pin path is trusted. An existing entry is opened with
//! `O_PATH | O_NOFOLLOW` and must be a regular file on the loader's bpffs
//! (a pinned object); a symlink, a directory, anything on another mount, or
//! a pinned object of the other kind is refused with its owner named, and
//! never touched. The kernel object is then opened through that handle, so
//! a symlink planted between the check and the open is never followed.
//!
//! New pins never appear half-made. Each new map and program is first pinned
//! under a temporary name unique to this process (`tmp_nbl_<pid>_<n>_…`,
//! in the `selinux_context` directory when one is given, so that its
//! genfscon label sticks to the inode, else in its final directory), given
//! its mode and owner there, and only once every pin of the object exists
//! and is set up are they renamed into place with `RENAME_NOREPLACE`, maps
//! first. A failure before the renames leaves no final pin; a failure of a
//! rename moves the ones already in place back to their temporary names
//! (except when another loader got there first: then the object is tried
//! again and completes by reusing what both put in place).
//!
//! A replaced program (`load --replace`, never the boot flow) is staged the
//! same way, then renamed *over* its pin (`rename(2)`, atomic: the path
//! holds the old program or the new one, never nothing), after every new
//! pin of the object is in place. If one replacement fails, those already
//! made are undone by pinning the old program (still held open) again and
//! renaming it back over, and the new pins are taken back as above: a
//! failed replace leaves the old pins. Maps are never replaced.
//!
//! The loader never unlinks a pin while loading (Android's policy forbids it
//! on the boot path); only `netbpfload unload` does ([`unpin`]).

use super::error::LoadError;
use crate::bpffs::Bpffs;
use crate::plan::PinPlan;
use crate::sys::{Credentials, ObjKind, PinHandle, Sys, BPF_F_RDONLY};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// What is at a pin path.
#[derive(Debug)]
pub(crate) enum Found {
    /// Nothing.
    Absent,
    /// A pinned object of the expected kind, opened read-only.
    Pinned {
        /// The object.
        fd: OwnedFd,
        /// The pin itself (for a later repair of its mode and owner).
        pin: PinHandle,
    },
}

fn kind_word(kind: ObjKind) -> &'static str {
    match kind {
        ObjKind::Map => "map",
        ObjKind::Prog => "program",
    }
}

/// Looks at `rel` and opens what is pinned there, if it is a pin of `kind`.
pub(crate) fn find(
    sys: &dyn Sys,
    bpffs: &Bpffs,
    creds: &Credentials,
    rel: &str,
    kind: ObjKind,
) -> Result<Found, LoadError> {
    let path = bpffs.path(rel);
    let what = format!("{} pin {rel}", kind_word(kind));
    let pin = match sys.open_pin(&path) {
        Ok(h) => h,
        Err(e) if e.is(libc::ENOENT) => return Ok(Found::Absent),
        Err(e) => return Err(LoadError::sys(what, e)),
    };
    let refuse = |found: String| LoadError::NotOurPin {
        pin: rel.to_string(),
        expected: kind,
        found,
        uid: pin.stat.uid,
    };
    if !pin.stat.is_file() {
        return Err(refuse(format!("a {}", pin.stat.kind_name())));
    }
    if pin.stat.dev != bpffs.dev() {
        return Err(refuse("a file of another filesystem".to_string()));
    }
    match sys.obj_get_pin(&pin, BPF_F_RDONLY, kind) {
        Ok(fd) => Ok(Found::Pinned { fd, pin }),
        Err(e) if e.is(libc::EINVAL) => Err(refuse(format!(
            "a pinned {}",
            match kind {
                ObjKind::Map => "program",
                ObjKind::Prog => "map",
            }
        ))),
        Err(e) if e.is(libc::EACCES) => {
            let fd =
                open_unreadable(sys, creds, &pin, kind).map_err(|e| LoadError::sys(what, e))?;
            Ok(Found::Pinned { fd, pin })
        }
        Err(e) => Err(LoadError::sys(what, e)),
    }
}

/// Opens a pin whose mode does not let the loader read it: a pin owned by
/// root with mode 0060 (Android's `DEFINE_BPF_MAP_NO_NETD`), or one whose
/// owner tightened it. The loader has no `CAP_DAC_OVERRIDE` under Android's
/// `.rc` (nor under our systemd unit), so it briefly makes itself the owner
/// (`CAP_CHOWN`) with read permission, opens the object, and puts owner and
/// mode back as they were.
fn open_unreadable(
    sys: &dyn Sys,
    creds: &Credentials,
    pin: &PinHandle,
    kind: ObjKind,
) -> Result<OwnedFd, crate::sys::SysError> {
    let st = pin.stat;
    log::warn!(
        "{}: mode {:04o} owner {}:{} does not let the loader read it; opening it by lending the loader owner read access for the call",
        pin.path.display(),
        st.perm(),
        st.uid,
        st.gid
    );
    let chowned = st.uid != creds.euid;
    if chowned {
        sys.chown_pin(pin, creds.euid, st.gid)?;
    }
    let granted = sys.chmod_pin(pin, st.perm() | 0o400);
    let opened = granted.and_then(|()| sys.obj_get_pin(pin, BPF_F_RDONLY, kind));
    // Mode first, while the loader still owns the pin: without CAP_FOWNER
    // (not granted by the .rc nor the unit) only the owner may chmod, so
    // once the owner is back the mode could no longer be put back.
    if let Err(e) = sys.chmod_pin(pin, st.perm()) {
        log::error!(
            "{}: restoring mode {:04o}: {e}",
            pin.path.display(),
            st.perm()
        );
    }
    if chowned {
        if let Err(e) = sys.chown_pin(pin, st.uid, st.gid) {
            log::error!(
                "{}: restoring owner {}:{}: {e}",
                pin.path.display(),
                st.uid,
                st.gid
            );
        }
    }
    opened
}

/// A new kernel object waiting to be pinned.
pub(crate) struct NewPin<'a> {
    /// Where and how.
    pub(crate) plan: &'a PinPlan,
    /// The object.
    pub(crate) fd: BorrowedFd<'a>,
}

/// The object's program, to take the place of a changed one at its pin.
pub(crate) struct Replacement<'a> {
    /// Where and how (mode and owner of the new pin).
    pub(crate) plan: &'a PinPlan,
    /// The new program.
    pub(crate) fd: BorrowedFd<'a>,
    /// The program pinned there now (kept open to put it back on failure).
    pub(crate) old: BorrowedFd<'a>,
    /// The existing pin (its mode and owner, to put them back too).
    pub(crate) pin: &'a PinHandle,
}

/// A reused pin whose mode or owner differs from the declaration.
pub(crate) struct Repair<'a> {
    /// Declared mode and owner.
    pub(crate) plan: &'a PinPlan,
    /// The pin.
    pub(crate) pin: &'a PinHandle,
}

/// Whether a reused pin should be brought to its declared mode and owner:
/// only when it still has what `BPF_OBJ_PIN` gives a new pin (0600, owned by
/// the loader), which is what a loader killed between its pin and its chmod
/// leaves (Android's own loader pins first and chmods after). Any other
/// difference is someone's decision: Android never re-modes a reused pin,
/// and neither does this loader (it warns).
pub(crate) fn needs_repair(creds: &Credentials, pin: &PinHandle, plan: &PinPlan) -> bool {
    let st = pin.stat;
    let declared = (plan.mode, plan.uid, plan.gid);
    let actual = (st.perm(), st.uid, st.gid);
    if actual == declared {
        return false;
    }
    if actual == (0o600, creds.euid, creds.egid) {
        return true;
    }
    log::warn!(
        "{}: reused with mode {:04o} owner {}:{} (declared {:04o} {}:{}); left as it is",
        pin.path.display(),
        st.perm(),
        st.uid,
        st.gid,
        plan.mode,
        plan.uid,
        plan.gid
    );
    false
}

/// Takes back new pins already put in place, by renaming them back to their
/// temporary names (rename, not unlink: all the policy allows), so that no
/// half of the object stays in place.
fn take_back<'p>(
    sys: &dyn Sys,
    bpffs: &Bpffs,
    placed: impl DoubleEndedIterator<Item = &'p PinPlan>,
) {
    let failed: Vec<String> = placed
        .rev()
        .filter_map(|q| {
            sys.rename_noreplace(&bpffs.path(&q.rel), &bpffs.path(&q.tmp_rel))
                .err()
                .map(|e| format!("{}: {e}", q.rel))
        })
        .collect();
    if !failed.is_empty() {
        log::error!(
            "cannot take back pins after a failed rename: {}",
            failed.join("; ")
        );
    }
}

/// Undoes one replacement: the old program (still open) is pinned again at
/// the temporary name, given its old mode and owner, and renamed back over.
fn put_back(sys: &dyn Sys, bpffs: &Bpffs, r: &Replacement<'_>) {
    let p = r.plan;
    let tmp = bpffs.path(&p.tmp_rel);
    let st = r.pin.stat;
    let restored = sys
        .obj_pin(r.old, &tmp)
        .and_then(|()| sys.chmod(&tmp, st.perm()))
        .and_then(|()| sys.chown(&tmp, st.uid, st.gid))
        .and_then(|()| sys.rename_over(&tmp, &bpffs.path(&p.rel)));
    if let Err(e) = restored {
        log::error!(
            "{}: cannot put the replaced program back after a failed replace: {e}",
            p.rel
        );
    }
}

/// Makes the new pins of one object appear (see the module doc), then
/// repairs the reused pins a killed loader left at the kernel's default.
pub(crate) fn commit(
    sys: &dyn Sys,
    bpffs: &Bpffs,
    creds: &Credentials,
    new: &[NewPin<'_>],
    replacements: &[Replacement<'_>],
    repairs: &[Repair<'_>],
) -> Result<(), LoadError> {
    let needs_chown = |p: &PinPlan| (p.uid, p.gid) != (creds.euid, creds.egid);
    let staging: Vec<(&PinPlan, BorrowedFd<'_>)> = new
        .iter()
        .map(|n| (n.plan, n.fd))
        .chain(replacements.iter().map(|r| (r.plan, r.fd)))
        .collect();
    // Before anything exists: every declared owner must be settable.
    if let Some(p) = staging
        .iter()
        .map(|(p, _)| *p)
        .find(|p| needs_chown(p) && !creds.may_chown_to(p.uid, p.gid))
    {
        return Err(LoadError::Owner {
            pin: p.rel.clone(),
            uid: p.uid,
            gid: p.gid,
        });
    }
    let mut made: Vec<&PinPlan> = Vec::with_capacity(staging.len());
    let staged = staging.iter().try_for_each(|&(p, fd)| {
        let tmp = bpffs.path(&p.tmp_rel);
        sys.obj_pin(fd, &tmp).map_err(|e| {
            LoadError::sys(
                format!("pin {} (temporary name of {})", p.tmp_rel, p.rel),
                e,
            )
        })?;
        made.push(p);
        sys.chmod(&tmp, p.mode)
            .map_err(|e| LoadError::sys(format!("{}: set mode {:04o}", p.rel, p.mode), e))?;
        if needs_chown(p) {
            sys.chown(&tmp, p.uid, p.gid).map_err(|e| {
                LoadError::sys(format!("{}: set owner {}:{}", p.rel, p.uid, p.gid), e)
            })?;
        }
        Ok(())
    });
    if let Err(e) = staged {
        if !made.is_empty() {
            log::warn!(
                "no pin of the object was put in place; temporary pins left unreferenced: {}",
                made.iter()
                    .map(|p| p.tmp_rel.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        return Err(e);
    }
    let placed = new.len();
    for (i, p) in made.iter().take(placed).enumerate() {
        let failure = match sys.rename_noreplace(&bpffs.path(&p.tmp_rel), &bpffs.path(&p.rel)) {
            Ok(()) => continue,
            // Another loader put this pin in place first: what this object
            // already put in place stays (it is complete and compatible,
            // and the other loader may be reusing it); the caller tries the
            // object again, reusing what is there.
            Err(e) if e.is(libc::EEXIST) => return Err(LoadError::Raced { pin: p.rel.clone() }),
            Err(e) => LoadError::sys(format!("move {} into place", p.rel), e),
        };
        take_back(sys, bpffs, made.iter().take(i).copied());
        return Err(failure);
    }
    for (i, r) in replacements.iter().enumerate() {
        let p = r.plan;
        let Err(e) = sys.rename_over(&bpffs.path(&p.tmp_rel), &bpffs.path(&p.rel)) else {
            continue;
        };
        let failure = LoadError::sys(format!("replace {}", p.rel), e);
        for done in replacements.iter().take(i).rev() {
            put_back(sys, bpffs, done);
        }
        take_back(sys, bpffs, made.iter().take(placed).copied());
        return Err(failure);
    }
    for r in repairs {
        let p = r.plan;
        log::warn!(
            "{}: has the kernel's default mode and owner (a loader was interrupted between pinning and chmod); setting the declared {:04o} {}:{}",
            r.pin.path.display(),
            p.mode,
            p.uid,
            p.gid
        );
        sys.chmod_pin(r.pin, p.mode)
            .map_err(|e| LoadError::sys(format!("{}: set mode", p.rel), e))?;
        if needs_chown(p) {
            sys.chown_pin(r.pin, p.uid, p.gid)
                .map_err(|e| LoadError::sys(format!("{}: set owner", p.rel), e))?;
        }
    }
    Ok(())
}

/// What a pin holds, as `netbpfload show` reports it.
#[derive(Debug, Clone)]
pub enum Contents {
    /// A map.
    Map(crate::sys::MapInfo),
    /// A program.
    Prog(crate::sys::ProgInfo),
    /// Something else pinned (a link, an iterator), or a file this loader
    /// cannot open; the text says what.
    Other(String),
}

/// Opens what is pinned at `rel` read-only and asks the kernel what it is.
/// Never changes anything (unlike the load path, it does not lend itself read
/// access to an unreadable pin: it reports it).
pub fn examine(sys: &dyn Sys, bpffs: &Bpffs, rel: &str) -> Contents {
    let path = bpffs.path(rel);
    let pin = match sys.open_pin(&path) {
        Ok(p) => p,
        Err(e) => return Contents::Other(e.to_string()),
    };
    if !pin.stat.is_file() {
        return Contents::Other(format!("a {}", pin.stat.kind_name()));
    }
    if pin.stat.dev != bpffs.dev() {
        return Contents::Other("a file of another filesystem".to_string());
    }
    let mut refused = None;
    for kind in [ObjKind::Map, ObjKind::Prog] {
        match sys.obj_get_pin(&pin, BPF_F_RDONLY, kind) {
            Ok(fd) => {
                let info = match kind {
                    ObjKind::Map => sys.map_info(fd.as_fd()).map(Contents::Map),
                    ObjKind::Prog => sys.prog_info(fd.as_fd()).map(Contents::Prog),
                };
                return info.unwrap_or_else(|e| Contents::Other(e.to_string()));
            }
            Err(e) if e.is(libc::EINVAL) => {}
            Err(e) => refused = Some(e),
        }
    }
    Contents::Other(match refused {
        Some(e) if e.is(libc::EACCES) || e.is(libc::EPERM) => format!("cannot be opened: {e}"),
        Some(e) => format!("not a pinned map or program ({e})"),
        None => "a pinned object that is neither a map nor a program".to_string(),
    })
}

/// Removes the pin at `rel` if it is a pin of `kind` on the loader's bpffs
/// (the load path's checks: a symlink, a directory, a file of another mount or
/// a pinned object of the other kind is refused and left). Only
/// `netbpfload unload` calls it: the boot flow never unlinks.
pub fn unpin(
    sys: &dyn Sys,
    bpffs: &Bpffs,
    creds: &Credentials,
    rel: &str,
    kind: ObjKind,
) -> Result<bool, LoadError> {
    match find(sys, bpffs, creds, rel, kind)? {
        Found::Absent => Ok(false),
        Found::Pinned { fd, pin } => {
            drop(fd);
            drop(pin);
            sys.unlink(&bpffs.path(rel))
                .map_err(|e| LoadError::sys(format!("unpin {rel}"), e))?;
            Ok(true)
        }
    }
}
