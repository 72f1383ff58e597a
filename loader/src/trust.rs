//! Which object files and location directories may be trusted.
//!
//! An eBPF object runs in the kernel with the loader's privileges, so the
//! loader only reads objects that nobody but root could have written:
//!
//! * the location directory must be a real directory (not a symlink), owned
//!   by root and not writable by group or others, so nobody else can add,
//!   rename or swap entries in it;
//! * each object must be a regular file (not a symlink), owned by root and
//!   not writable by group or others;
//! * the object is opened with `O_NOFOLLOW`
//!   ([`Files::read_file`](crate::sys::Files::read_file)) and the `fstat` of
//!   the opened fd must be the same inode that `lstat` checked and
//!   must pass the same rules, so a swap between the check and the open is
//!   caught.
//!
//! Locations are scanned non-recursively, so the object's own name is the
//! only path component below the location root; the components above it
//! (`/apex/...`, `/vendor` which is a symlink on some devices) belong to the
//! platform and are not checked here.
//!
//! [`Policy::insecure`] (`--insecure`, `LoadConfig::insecure`) turns the
//! ownership, mode and symlink violations into warnings. Even then a
//! symlinked object cannot be read, because the one open path
//! ([`Files::read_file`](crate::sys::Files::read_file)) always uses
//! `O_NOFOLLOW`; a symlinked *location directory* is followed.

use crate::sys::{FileStat, Sys, SysError};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What the path is expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A location directory.
    Dir,
    /// An object (or manifest) file.
    File,
}

/// Why a path is not trusted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TrustError {
    /// The path is a symbolic link.
    #[error("{}: is a symlink", crate::logging::shown(path))]
    Symlink {
        /// The path.
        path: PathBuf,
    },
    /// The path is not of the expected type.
    #[error("{}: is not a {}", crate::logging::shown(path), if *expected == Kind::Dir { "directory" } else { "regular file" })]
    WrongType {
        /// The path.
        path: PathBuf,
        /// What it should have been.
        expected: Kind,
    },
    /// The owner is not the trusted uid (root).
    #[error("{}: owned by uid {uid}, must be {}", crate::logging::shown(path), uid_name(*trusted))]
    Owner {
        /// The path.
        path: PathBuf,
        /// Actual owner.
        uid: u32,
        /// Required owner.
        trusted: u32,
    },
    /// Group or others may write the path.
    #[error("{}: mode {mode:04o} is writable by {by}", crate::logging::shown(path))]
    Writable {
        /// The path.
        path: PathBuf,
        /// Permission bits.
        mode: u32,
        /// `others` or `group`.
        by: &'static str,
    },
    /// The file opened is not the one checked (replaced in between).
    #[error(
        "{}: replaced between check and open (inode {checked} became {opened})",
        crate::logging::shown(path)
    )]
    Swapped {
        /// The path.
        path: PathBuf,
        /// Inode seen by `lstat`.
        checked: u64,
        /// Inode of the opened fd.
        opened: u64,
    },
    /// The name is not a plain file name.
    #[error("{}: {name:?} is not a plain file name", crate::logging::shown(dir))]
    BadName {
        /// The directory.
        dir: PathBuf,
        /// The rejected name.
        name: String,
    },
    /// `lstat` or the read failed.
    #[error("{}: {source}", crate::logging::shown(path))]
    Io {
        /// The path.
        path: PathBuf,
        /// The syscall error (errno kept).
        #[source]
        source: SysError,
    },
}

fn uid_name(uid: u32) -> String {
    if uid == 0 {
        "root".to_string()
    } else {
        format!("uid {uid}")
    }
}

impl TrustError {
    /// The errno of a failed call, if that is what happened.
    pub fn errno(&self) -> Option<i32> {
        match self {
            TrustError::Io { source, .. } => source.errno(),
            _ => None,
        }
    }

    /// True for the ownership/mode/symlink/type violations that
    /// [`Policy::insecure`] relaxes (not for I/O errors or swaps).
    pub fn is_relaxable(&self) -> bool {
        matches!(
            self,
            TrustError::Symlink { .. }
                | TrustError::WrongType { .. }
                | TrustError::Owner { .. }
                | TrustError::Writable { .. }
        )
    }
}

/// How strictly to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The only owner accepted (0 on a device; tests on real files may use
    /// their own euid to exercise the other rules without root).
    pub trusted_uid: u32,
    /// Log violations as warnings instead of refusing.
    pub insecure: bool,
}

impl Policy {
    /// Root-owned only, violations refused.
    pub const fn enforcing() -> Policy {
        Policy {
            trusted_uid: 0,
            insecure: false,
        }
    }

    /// From `LoadConfig.insecure`.
    pub const fn from_insecure(insecure: bool) -> Policy {
        Policy {
            trusted_uid: 0,
            insecure,
        }
    }
}

/// Checks one `lstat`/`fstat` result against the rules. Pure.
pub fn check_stat(
    path: &Path,
    st: &FileStat,
    kind: Kind,
    trusted_uid: u32,
) -> Result<(), TrustError> {
    let path_buf = || path.to_path_buf();
    if st.is_symlink() {
        return Err(TrustError::Symlink { path: path_buf() });
    }
    let type_ok = match kind {
        Kind::Dir => st.is_dir(),
        Kind::File => st.is_file(),
    };
    if !type_ok {
        return Err(TrustError::WrongType {
            path: path_buf(),
            expected: kind,
        });
    }
    if st.uid != trusted_uid {
        return Err(TrustError::Owner {
            path: path_buf(),
            uid: st.uid,
            trusted: trusted_uid,
        });
    }
    let by = if st.perm() & 0o002 != 0 {
        Some("others")
    } else if st.perm() & 0o020 != 0 {
        Some("group")
    } else {
        None
    };
    match by {
        Some(by) => Err(TrustError::Writable {
            path: path_buf(),
            mode: st.perm(),
            by,
        }),
        None => Ok(()),
    }
}

/// Checks that the file opened (`opened`, from `fstat`) is the inode that
/// was checked (`checked`, from `lstat`) and still passes the rules. Pure.
pub fn check_opened(
    path: &Path,
    checked: &FileStat,
    opened: &FileStat,
    trusted_uid: u32,
) -> Result<(), TrustError> {
    if (checked.dev, checked.ino) != (opened.dev, opened.ino) {
        return Err(TrustError::Swapped {
            path: path.to_path_buf(),
            checked: checked.ino,
            opened: opened.ino,
        });
    }
    check_stat(path, opened, Kind::File, trusted_uid)
}

/// Applies the policy to a violation: refuse, or warn and go on.
fn enforce(policy: Policy, r: Result<(), TrustError>) -> Result<(), TrustError> {
    match r {
        Err(e) if policy.insecure && e.is_relaxable() => {
            log::warn!("--insecure: trusting {e}");
            Ok(())
        }
        other => other,
    }
}

/// Checks a location directory.
pub fn check_location_dir(sys: &dyn Sys, dir: &Path, policy: Policy) -> Result<(), TrustError> {
    let st = sys.lstat(dir).map_err(|source| TrustError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    // A symlinked location directory is followed under --insecure, so a
    // symlink is fine there as long as what it points to is a directory;
    // `read_dir` will say so if it is not.
    enforce(policy, check_stat(dir, &st, Kind::Dir, policy.trusted_uid))
}

/// Reads `dir/name` after checking it, refusing more than `max_len` bytes.
///
/// `dir` must have passed [`check_location_dir`]. Errors name the file.
pub fn read_trusted(
    sys: &dyn Sys,
    dir: &Path,
    name: impl AsRef<OsStr>,
    max_len: u64,
    policy: Policy,
) -> Result<Vec<u8>, TrustError> {
    let name = name.as_ref();
    let b = name.as_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') || b.contains(&0) {
        return Err(TrustError::BadName {
            dir: dir.to_path_buf(),
            name: crate::logging::escape_bytes(b),
        });
    }
    let path = dir.join(name);
    let io = |source| TrustError::Io {
        path: path.clone(),
        source,
    };
    let checked = sys.lstat(&path).map_err(io)?;
    enforce(
        policy,
        check_stat(&path, &checked, Kind::File, policy.trusted_uid),
    )?;
    let (data, opened) = sys.read_file(&path, max_len).map_err(io)?;
    if !policy.insecure {
        check_opened(&path, &checked, &opened, policy.trusted_uid)?;
    }
    Ok(data)
}

/// Like [`read_trusted`], but a missing file (`ENOENT`) is `Ok(None)`.
/// Used for the optional manifest files.
pub fn read_trusted_optional(
    sys: &dyn Sys,
    dir: &Path,
    name: impl AsRef<OsStr>,
    max_len: u64,
    policy: Policy,
) -> Result<Option<Vec<u8>>, TrustError> {
    match read_trusted(sys, dir, name, max_len, policy) {
        Ok(d) => Ok(Some(d)),
        Err(TrustError::Io { source, .. }) if source.errno() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake::FakeSys;
    use crate::sys::linux::LinuxSys;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn st(mode: u32, uid: u32) -> FileStat {
        FileStat {
            uid,
            gid: 0,
            mode,
            dev: 1,
            ino: 10,
            size: 0,
        }
    }

    const REG: u32 = crate::sys::S_IFREG;
    const DIR: u32 = crate::sys::S_IFDIR;
    const LNK: u32 = crate::sys::S_IFLNK;

    #[test]
    fn root_owned_read_only_is_trusted() {
        let p = Path::new("/x/y.o");
        assert!(check_stat(p, &st(REG | 0o644, 0), Kind::File, 0).is_ok());
        assert!(check_stat(p, &st(REG | 0o444, 0), Kind::File, 0).is_ok());
        assert!(check_stat(Path::new("/x"), &st(DIR | 0o755, 0), Kind::Dir, 0).is_ok());
    }

    #[test]
    fn messages_name_path_and_reason() {
        let p = Path::new("/x/y.o");
        let msg = |s: FileStat, k| match check_stat(p, &s, k, 0) {
            Err(e) => e.to_string(),
            Ok(()) => panic!("{s:?} accepted"),
        };
        assert_eq!(
            msg(st(REG | 0o644, 1000), Kind::File),
            "/x/y.o: owned by uid 1000, must be root"
        );
        assert_eq!(
            msg(st(REG | 0o666, 0), Kind::File),
            "/x/y.o: mode 0666 is writable by others"
        );
        assert_eq!(
            msg(st(REG | 0o664, 0), Kind::File),
            "/x/y.o: mode 0664 is writable by group"
        );
        assert_eq!(msg(st(LNK | 0o777, 0), Kind::File), "/x/y.o: is a symlink");
        assert_eq!(
            msg(st(DIR | 0o755, 0), Kind::File),
            "/x/y.o: is not a regular file"
        );
        assert_eq!(
            msg(st(REG | 0o755, 0), Kind::Dir),
            "/x/y.o: is not a directory"
        );
        // A world-writable sticky directory (like /tmp) is still writable by others.
        assert_eq!(
            msg(st(DIR | 0o1777, 0), Kind::Dir),
            "/x/y.o: mode 1777 is writable by others"
        );
    }

    #[test]
    fn swap_between_check_and_open_is_caught() {
        let p = Path::new("/x/y.o");
        let checked = st(REG | 0o644, 0);
        let mut other = checked;
        other.ino = 11;
        assert!(matches!(
            check_opened(p, &checked, &other, 0),
            Err(TrustError::Swapped {
                checked: 10,
                opened: 11,
                ..
            })
        ));
        let mut other_dev = checked;
        other_dev.dev = 2;
        assert!(matches!(
            check_opened(p, &checked, &other_dev, 0),
            Err(TrustError::Swapped { .. })
        ));
        // Same inode but its mode was changed after the lstat.
        let mut chmodded = checked;
        chmodded.mode = REG | 0o646;
        assert!(matches!(
            check_opened(p, &checked, &chmodded, 0),
            Err(TrustError::Writable { by: "others", .. })
        ));
        assert!(check_opened(p, &checked, &checked, 0).is_ok());
    }

    #[test]
    fn fake_sys_enforcing_and_insecure() {
        let sys = FakeSys::new();
        sys.add_dir("/loc");
        sys.add_file("/loc/good.o", b"good".to_vec());
        sys.add_file_with("/loc/user.o", b"user".to_vec(), 0o644, 1000, 1000);
        sys.add_file_with("/loc/open.o", b"open".to_vec(), 0o666, 0, 0);
        let dir = Path::new("/loc");
        let strict = Policy::enforcing();
        assert!(check_location_dir(&sys, dir, strict).is_ok());
        assert_eq!(
            read_trusted(&sys, dir, "good.o", 100, strict).ok(),
            Some(b"good".to_vec())
        );
        let e = read_trusted(&sys, dir, "user.o", 100, strict)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("/loc/user.o: owned by uid 1000, must be root")
        );
        let e = read_trusted(&sys, dir, "open.o", 100, strict)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("/loc/open.o: mode 0666 is writable by others")
        );

        let loose = Policy::from_insecure(true);
        assert_eq!(
            read_trusted(&sys, dir, "user.o", 100, loose).ok(),
            Some(b"user".to_vec())
        );
        assert_eq!(
            read_trusted(&sys, dir, "open.o", 100, loose).ok(),
            Some(b"open".to_vec())
        );
        // I/O errors are not relaxed.
        assert!(matches!(
            read_trusted(&sys, dir, "missing.o", 100, loose),
            Err(TrustError::Io { .. })
        ));
        assert!(matches!(
            read_trusted_optional(&sys, dir, "missing.o", 100, strict),
            Ok(None)
        ));
        assert!(matches!(
            read_trusted_optional(&sys, dir, "user.o", 100, strict),
            Err(TrustError::Owner { uid: 1000, .. })
        ));
        // Size limit comes through from the Sys layer.
        assert!(matches!(
            read_trusted(&sys, dir, "good.o", 3, strict),
            Err(TrustError::Io { .. })
        ));
    }

    #[test]
    fn names_must_be_plain() {
        let sys = FakeSys::new();
        for name in ["", ".", "..", "a/b.o", "../x.o"] {
            assert!(
                matches!(
                    read_trusted(
                        &sys,
                        Path::new("/loc"),
                        name,
                        10,
                        Policy::from_insecure(true)
                    ),
                    Err(TrustError::BadName { .. })
                ),
                "{name:?}"
            );
        }
    }

    /// Real files, trusting the test's own euid so the symlink, mode and
    /// O_NOFOLLOW rules are exercised without root.
    #[test]
    fn real_files_symlinks_and_modes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let me = nix::unistd::geteuid().as_raw();
        let policy = Policy {
            trusted_uid: me,
            insecure: false,
        };
        let sys = LinuxSys::new();
        let good = dir.join("good.o");
        std::fs::write(&good, b"elf").expect("write");
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        symlink(&good, dir.join("link.o")).expect("symlink");
        let open = dir.join("open.o");
        std::fs::write(&open, b"elf").expect("write");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).expect("chmod");

        assert!(check_location_dir(&sys, dir, policy).is_ok());
        assert_eq!(
            read_trusted(&sys, dir, "good.o", 10, policy).ok(),
            Some(b"elf".to_vec())
        );
        let e = read_trusted(&sys, dir, "link.o", 10, policy)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e,
            Some(format!("{}: is a symlink", dir.join("link.o").display()))
        );
        assert!(matches!(
            read_trusted(&sys, dir, "open.o", 10, policy),
            Err(TrustError::Writable {
                mode: 0o666,
                by: "others",
                ..
            })
        ));

        // --insecure relaxes the mode, but a symlinked object is still never
        // opened: read_file uses O_NOFOLLOW (ELOOP).
        let loose = Policy {
            insecure: true,
            ..policy
        };
        assert!(read_trusted(&sys, dir, "open.o", 10, loose).is_ok());
        match read_trusted(&sys, dir, "link.o", 10, loose) {
            Err(TrustError::Io { source, .. }) => assert_eq!(source.errno(), Some(libc::ELOOP)),
            other => panic!("expected ELOOP, got {other:?}"),
        }

        // A symlinked location directory is refused, and followed when insecure.
        let dirlink = tmp.path().join("dirlink");
        symlink(dir, &dirlink).expect("symlink");
        assert!(matches!(
            check_location_dir(&sys, &dirlink, policy),
            Err(TrustError::Symlink { .. })
        ));
        assert!(check_location_dir(&sys, &dirlink, loose).is_ok());
        assert!(read_trusted(&sys, &dirlink, "good.o", 10, loose).is_ok());
    }
}
