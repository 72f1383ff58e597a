//! The kernel-facing steps of the boot flow around the loading itself:
//! sysctl writes, the bpffs checks and directories, and the sanity check.
//! All of them go through [`Sys`].

use crate::bpffs::{Bpffs, BpffsError};
use crate::paths;
use crate::release::{API_U, API_V};
use crate::spec::Kver;
use crate::sys::{MapCreateAttr, Op, Sys, SysError};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A failed setup step (each one fails the boot with exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A required sysctl could not be written.
    #[error("cannot write {value:?} to {}: {source}", crate::logging::shown(.path))]
    Sysctl {
        /// The sysctl file.
        path: PathBuf,
        /// The value.
        value: &'static str,
        /// The failed write.
        #[source]
        source: SysError,
    },
    /// The bpffs root cannot be used.
    #[error(transparent)]
    Bpffs(#[from] BpffsError),
    /// A pin directory could not be created.
    #[error("cannot create pin directory {}: {source}", crate::logging::shown(.path))]
    Mkdir {
        /// The directory.
        path: PathBuf,
        /// The failed call.
        #[source]
        source: SysError,
    },
    /// The sanity check map could not be created or written.
    #[error("sanity check failed (2-entry ARRAY map, key 1 = 123): {source}")]
    Sanity {
        /// The failed call.
        #[source]
        source: SysError,
    },
    /// The run lock could not be taken in time.
    #[error("run lock {}: {source} (another loader has held it for {} s; is one stuck?)", crate::logging::shown(.path), .waited.as_secs())]
    RunLock {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
        /// The failed call.
        #[source]
        source: SysError,
    },
}

/// One sysctl the boot flow writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysctlWrite {
    /// The file (under the configured `/proc/sys`).
    pub path: PathBuf,
    /// What is written.
    pub value: &'static str,
    /// A failed write fails the boot; otherwise it is logged.
    pub fatal: bool,
}

/// `/proc/sys/...` re-rooted under `proc_sys` (normally `/proc/sys`).
fn sysctl_path(proc_sys: &Path, abs: &str) -> PathBuf {
    proc_sys.join(abs.trim_start_matches("/proc/sys/"))
}

/// The sysctl writes of the reference, in order:
/// - V+, as root: `0` to `kernel/unprivileged_bpf_disabled` (so unprivileged
///   code can use pinned maps), fatal only on kernels 5.13+ where the knob
///   is guaranteed writable (below 5.13 a `1` cannot be undone);
/// - U+: `1` to `net/core/bpf_jit_enable` and `bpf_jit_kallsyms`, fatal.
pub fn sysctl_plan(proc_sys: &Path, api: u32, kver: Kver, euid: u32) -> Vec<SysctlWrite> {
    let mut v = Vec::new();
    if api >= API_V && euid == 0 {
        v.push(SysctlWrite {
            path: sysctl_path(proc_sys, paths::SYSCTL_UNPRIVILEGED_BPF_DISABLED),
            value: "0\n",
            fatal: kver >= Kver::new(5, 13, 0),
        });
    }
    if api >= API_U {
        for p in [paths::SYSCTL_BPF_JIT_ENABLE, paths::SYSCTL_BPF_JIT_KALLSYMS] {
            v.push(SysctlWrite {
                path: sysctl_path(proc_sys, p),
                value: "1\n",
                fatal: true,
            });
        }
    }
    v
}

/// Performs `plan`. Non-fatal failures are logged and skipped.
pub fn write_sysctls(sys: &dyn Sys, plan: &[SysctlWrite]) -> Result<(), SetupError> {
    for w in plan {
        match sys.write_file(&w.path, w.value.as_bytes()) {
            Ok(()) => log::debug!("wrote {:?} to {}", w.value, w.path.display()),
            Err(source) if !w.fatal => {
                log::warn!(
                    "cannot write {:?} to {} (not fatal on this kernel): {source}",
                    w.value,
                    w.path.display()
                );
            }
            Err(source) => {
                return Err(SetupError::Sysctl {
                    path: w.path.clone(),
                    value: w.value,
                    source,
                })
            }
        }
    }
    Ok(())
}

/// Creates `<bpffs>/<subdir>` for each subdir with [`paths::PIN_DIR_MODE`]
/// (umask 0). An existing directory is fine; an existing non-directory is
/// an error (a pin squatting on a directory name).
pub fn make_pin_dirs<'a>(
    sys: &dyn Sys,
    bpffs: &Bpffs,
    subdirs: impl IntoIterator<Item = &'a str>,
) -> Result<(), SetupError> {
    for sub in subdirs {
        let sub = sub.trim_matches('/');
        if sub.is_empty() {
            continue;
        }
        let path = bpffs.path(sub);
        let err = |source| SetupError::Mkdir {
            path: path.clone(),
            source,
        };
        match sys.mkdir(&path, paths::PIN_DIR_MODE) {
            Ok(()) => log::debug!("created {}", path.display()),
            Err(e) if e.errno() == Some(libc::EEXIST) => {
                let st = sys.lstat(&path).map_err(err)?;
                if !st.is_dir() {
                    return Err(err(SysError::from_errno(
                        Op::Mkdir,
                        Some(&path),
                        libc::ENOTDIR,
                    )));
                }
            }
            Err(e) => return Err(err(e)),
        }
    }
    Ok(())
}

/// Takes the run lock `path` (a file outside the bpffs), waiting at most
/// `timeout`. Linux boards only: on Android, init runs exactly one loader
/// and its policy allows no lock anywhere near the pins. A missing lock
/// directory is created (mode 0755, its parent must exist); `Ok(None)` if
/// that is not possible (nothing can be serialised there).
pub fn take_run_lock(
    sys: &dyn Sys,
    path: &Path,
    timeout: Duration,
) -> Result<Option<OwnedFd>, SetupError> {
    let mut attempt = sys.lock_file(path, timeout);
    if attempt.as_ref().is_err_and(|e| e.is(libc::ENOENT)) {
        if let Some(dir) = path.parent() {
            match sys.mkdir(dir, 0o755) {
                Ok(()) => attempt = sys.lock_file(path, timeout),
                Err(e) if e.is(libc::EEXIST) => attempt = sys.lock_file(path, timeout),
                Err(_) => {}
            }
        }
    }
    match attempt {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.is(libc::ENOENT) => {
            log::warn!(
                "run lock {}: its directory does not exist and cannot be created; loading without it",
                path.display()
            );
            Ok(None)
        }
        Err(source) => Err(SetupError::RunLock {
            path: path.to_path_buf(),
            waited: timeout,
            source,
        }),
    }
}

/// Removes the temporary pins a dead loader process of ours left in the
/// bpffs root and its directories (names `tmp_nbl_<pid>_…` whose pid is not
/// running). Only called with the run lock held (Linux boards), where no
/// other loader can be between its pin and its rename; never on Android,
/// whose policy forbids unlinking pins.
pub fn clean_stale_tmp_pins(sys: &dyn Sys, bpffs: &Bpffs, own_pid: u32) {
    let mut dirs = vec![bpffs.root().to_path_buf()];
    if let Ok(names) = sys.read_dir(bpffs.root()) {
        for n in names {
            let p = bpffs.root().join(&n);
            if sys.lstat(&p).is_ok_and(|st| st.is_dir()) {
                dirs.push(p);
            }
        }
    }
    for dir in dirs {
        let Ok(names) = sys.read_dir(&dir) else {
            continue;
        };
        for name in names {
            let Some(pid) = std::str::from_utf8(name.as_bytes())
                .ok()
                .and_then(paths::tmp_pin_pid)
            else {
                continue;
            };
            if pid == own_pid || sys.lstat(Path::new(&format!("/proc/{pid}"))).is_ok() {
                continue;
            }
            let path = dir.join(&name);
            match sys.unlink(&path) {
                Ok(()) => log::info!("removed {} (left by dead loader {pid})", path.display()),
                Err(e) => log::warn!("cannot remove stale {}: {e}", path.display()),
            }
        }
    }
}

/// `BPF_MAP_TYPE_ARRAY` (uapi `enum bpf_map_type`).
const BPF_MAP_TYPE_ARRAY: u32 = 2;

/// The reference's final sanity check: the kernel must still let us create
/// a 2-entry ARRAY map (int keys and values) and write key 1 = 123.
pub fn sanity_check(sys: &dyn Sys) -> Result<(), SetupError> {
    use std::os::fd::AsFd;
    let err = |source| SetupError::Sanity { source };
    let fd = sys
        .map_create(&MapCreateAttr {
            map_type: BPF_MAP_TYPE_ARRAY,
            key_size: 4,
            value_size: 4,
            max_entries: 2,
            map_flags: 0,
            name: String::new(),
            btf: None,
        })
        .map_err(err)?;
    sys.map_update(fd.as_fd(), &1u32.to_ne_bytes(), &123u32.to_ne_bytes(), 0)
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_plan_by_release_and_kernel() {
        let ps = Path::new("/proc/sys");
        let unpriv = PathBuf::from("/proc/sys/kernel/unprivileged_bpf_disabled");
        let jit = PathBuf::from("/proc/sys/net/core/bpf_jit_enable");
        let kallsyms = PathBuf::from("/proc/sys/net/core/bpf_jit_kallsyms");
        let w = |path: &PathBuf, value, fatal| SysctlWrite {
            path: path.clone(),
            value,
            fatal,
        };

        // T: nothing.
        assert_eq!(sysctl_plan(ps, 33, Kver::new(6, 1, 0), 0), vec![]);
        // U: the JIT knobs only.
        assert_eq!(
            sysctl_plan(ps, 34, Kver::new(6, 1, 0), 0),
            vec![w(&jit, "1\n", true), w(&kallsyms, "1\n", true)]
        );
        // V as root on 5.13+: unprivileged_bpf_disabled fatal.
        assert_eq!(
            sysctl_plan(ps, 35, Kver::new(5, 13, 0), 0),
            vec![
                w(&unpriv, "0\n", true),
                w(&jit, "1\n", true),
                w(&kallsyms, "1\n", true)
            ]
        );
        // ... not fatal below 5.13.
        assert!(!sysctl_plan(ps, 35, Kver::new(5, 10, 199), 0)[0].fatal);
        // ... and not attempted when not root.
        assert_eq!(
            sysctl_plan(ps, 35, Kver::new(6, 1, 0), 1000),
            vec![w(&jit, "1\n", true), w(&kallsyms, "1\n", true)]
        );
        // Re-rooted.
        assert_eq!(
            sysctl_plan(Path::new("/tmp/ps"), 34, Kver::new(6, 1, 0), 0)[0].path,
            PathBuf::from("/tmp/ps/net/core/bpf_jit_enable")
        );
    }
}
