//! Private bpffs mounts and kernel-side checks for the root tier.
//!
//! Every root-tier test runs inside `unshare -m --propagation private`, so a
//! bpffs mounted here is invisible to the host and disappears with the
//! namespace; [`require_private_root`] refuses to run otherwise, so the
//! host's `/sys/fs/bpf` is never touched.

use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::{Bpf, Files, MapInfo, ObjKind, ProgInfo, SysResult};
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

fn mnt_ns(pid: &str) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok()
}

fn ppid(pid: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .map(|v| v.trim().to_string())
}

/// Panics unless the process is root in a mount namespace of its own:
/// `/proc/self/ns/mnt` must differ from `/proc/1/ns/mnt`. Where pid 1's
/// namespace cannot be read (a sandbox hiding it), an ancestor process in a
/// different mount namespace (the shell that ran `unshare -m`) is required
/// instead; if neither can be shown, the test refuses to run.
pub fn require_private_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "root-tier tests need root: run `unshare -m --propagation private cargo test -p netbpfload-tests --test root` as root"
    );
    let own = mnt_ns("self").expect("readlink /proc/self/ns/mnt");
    let hint = "refusing to run in the host's mount namespace: run under `unshare -m --propagation private`";
    match mnt_ns("1") {
        Some(init) => assert_ne!(own, init, "{hint}"),
        None => {
            let mut pid = "self".to_string();
            loop {
                match ppid(&pid) {
                    Some(p) if p != "0" => pid = p,
                    _ => panic!("{hint} (pid 1's namespace is unreadable and no ancestor is in another one)"),
                }
                if mnt_ns(&pid).is_some_and(|ns| ns != own) {
                    break;
                }
            }
        }
    }
    // In our own namespace: make sure nothing we mount propagates anywhere.
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("mount --make-rprivate /");
}

/// A fresh bpffs mounted on a temporary directory; unmounted on drop.
#[derive(Debug)]
pub struct PrivateBpffs {
    dir: tempfile::TempDir,
}

impl PrivateBpffs {
    /// Mounts a new bpffs (after [`require_private_root`]).
    pub fn new() -> Self {
        require_private_root();
        let dir = tempfile::Builder::new()
            .prefix("bpffs-")
            .tempdir()
            .expect("tempdir");
        nix::mount::mount(
            Some("bpf"),
            dir.path(),
            Some("bpf"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .expect("mount -t bpf");
        PrivateBpffs { dir }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `root/rel`.
    pub fn pin(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Creates `root/rel` with mode 01777, as the boot flow does.
    pub fn mkdir(&self, rel: &str) {
        LinuxSys
            .mkdir(&self.pin(rel), netbpfload::paths::PIN_DIR_MODE)
            .expect("mkdir in bpffs");
    }
}

impl Default for PrivateBpffs {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PrivateBpffs {
    fn drop(&mut self) {
        // Lazy unmount: fds still open in the test keep their objects alive.
        let _ = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// What the pin naming says is pinned at `path`: a program for `prog_*`
/// and for a temporary pin of a program (`tmp_nbl_<tag>_p<n>`), a map
/// otherwise.
pub fn kind_of(path: &Path) -> ObjKind {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    match name {
        Some(n) if n.starts_with("prog_") => ObjKind::Prog,
        Some(n)
            if n.starts_with(netbpfload::paths::TMP_PIN_PREFIX)
                && n.rsplit('_').next().is_some_and(|k| k.starts_with('p')) =>
        {
            ObjKind::Prog
        }
        _ => ObjKind::Map,
    }
}

/// `BPF_OBJ_GET` of a pin, expecting the kind its name says ([`kind_of`]).
pub fn obj_get(path: &Path, flags: u32) -> SysResult<OwnedFd> {
    LinuxSys.obj_get(path, flags, kind_of(path))
}

/// Info of the map pinned at `path` (opened read-only).
pub fn map_info(path: &Path) -> MapInfo {
    let fd = obj_get(path, netbpfload::sys::BPF_F_RDONLY)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    LinuxSys
        .map_info(std::os::fd::AsFd::as_fd(&fd))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Info of the program pinned at `path` (opened read-only).
pub fn prog_info(path: &Path) -> ProgInfo {
    let fd = obj_get(path, netbpfload::sys::BPF_F_RDONLY)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    LinuxSys
        .prog_info(std::os::fd::AsFd::as_fd(&fd))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `(permission bits, uid, gid)` of `path`.
pub fn mode_owner(path: &Path) -> (u32, u32, u32) {
    let m = std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (m.mode() & 0o7777, m.uid(), m.gid())
}

/// The errno of `BPF_OBJ_GET` on `path`, `None` if it succeeded.
pub fn obj_get_errno(path: &Path, flags: u32) -> Option<i32> {
    obj_get(path, flags).err().and_then(|e| e.errno())
}

/// `BPF_OBJ_GET` attr (the prefix of `union bpf_attr` that command uses;
/// the kernel zero-fills the rest).
#[repr(C)]
struct ObjGetAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
}

/// Tries `BPF_OBJ_GET(path, flags)` in a forked child that first drops to
/// `uid`/`gid` with exactly `groups` as supplementary groups. Returns
/// `Ok(())` or the errno. The child only makes raw syscalls (no allocation)
/// because the test process is multi-threaded.
pub fn obj_get_as(uid: u32, gid: u32, groups: &[u32], path: &Path, flags: u32) -> Result<(), i32> {
    let cpath = CString::new(path.as_os_str().as_bytes()).expect("path without NUL");
    let attr = ObjGetAttr {
        pathname: cpath.as_ptr() as u64,
        bpf_fd: 0,
        file_flags: flags,
    };
    let gids: Vec<libc::gid_t> = groups.to_vec();
    // SAFETY: the child only calls async-signal-safe raw syscalls on memory
    // prepared before the fork (`gids`, `attr`, `cpath`) and leaves with
    // `_exit`, so no lock held by another thread at fork time is needed.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: see above; every pointer is valid for the call.
        unsafe {
            if libc::setgroups(gids.len(), gids.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                libc::_exit(200);
            }
            let fd = libc::syscall(
                libc::SYS_bpf,
                7, // BPF_OBJ_GET
                &attr as *const ObjGetAttr,
                std::mem::size_of::<ObjGetAttr>() as libc::c_uint,
            );
            if fd < 0 {
                let errno = *libc::__errno_location();
                libc::_exit(errno.clamp(1, 199));
            }
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child with a valid status pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid, "waitpid: {}", std::io::Error::last_os_error());
    assert!(libc::WIFEXITED(status), "child died: status {status:#x}");
    match libc::WEXITSTATUS(status) {
        0 => Ok(()),
        200 => panic!("child could not drop to uid {uid} gid {gid} groups {groups:?}"),
        e => Err(e),
    }
}
