//! The one place that talks to the kernel.
//!
//! Every `bpf(2)` command, every pin-tree mutation (chmod, chown, rename,
//! unlink, mkdir), statfs and uname goes through the [`Sys`] trait. The real
//! implementation is [`linux::LinuxSys`]; [`fake::FakeSys`] is an in-memory
//! kernel used by unit tests of gating, relocation, rollback and the boot
//! flow, so those run without root.
//!
//! Errors keep the errno ([`SysError::errno`]) and name the operation and the
//! path, so a log line reads like `BPF_OBJ_PIN /sys/fs/bpf/x: EPERM (...)`.

pub mod fake;
pub mod linux;

use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// A failed syscall: what was attempted, on what, and the errno.
#[derive(Debug, thiserror::Error)]
#[error("{op}{}: {source}", .path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
pub struct SysError {
    /// The operation, e.g. `BPF_MAP_CREATE`, `chmod`, `renameat2`.
    pub op: &'static str,
    /// The path involved, if any.
    pub path: Option<PathBuf>,
    /// The OS error (errno preserved).
    #[source]
    pub source: std::io::Error,
}

impl SysError {
    /// Builds an error from an errno value.
    pub fn from_errno(op: &'static str, path: Option<&Path>, errno: i32) -> Self {
        SysError {
            op,
            path: path.map(Path::to_path_buf),
            source: std::io::Error::from_raw_os_error(errno),
        }
    }
    /// Builds an error from the current `errno`.
    pub fn last(op: &'static str, path: Option<&Path>) -> Self {
        SysError {
            op,
            path: path.map(Path::to_path_buf),
            source: std::io::Error::last_os_error(),
        }
    }
    /// The errno, if the error came from the OS.
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

/// Result of a [`Sys`] call.
pub type SysResult<T> = Result<T, SysError>;

/// Attributes of `BPF_MAP_CREATE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapCreateAttr {
    /// `enum bpf_map_type`.
    pub map_type: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Max entries.
    pub max_entries: u32,
    /// Map flags.
    pub map_flags: u32,
    /// Name (at most 15 bytes; empty to omit).
    pub name: String,
    /// BTF typing of the key and value; `None` creates the map without BTF.
    pub btf: Option<MapBtf>,
}

/// `btf_fd`, `btf_key_type_id` and `btf_value_type_id` of `BPF_MAP_CREATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapBtf {
    /// A BTF object from [`Sys::btf_load`], open for the duration of the
    /// `BPF_MAP_CREATE` (the map keeps its own reference).
    pub fd: RawFd,
    /// Type id of the key.
    pub key_type_id: u32,
    /// Type id of the value.
    pub value_type_id: u32,
}

/// Attributes of `BPF_PROG_LOAD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgLoadAttr<'a> {
    /// `enum bpf_prog_type`.
    pub prog_type: u32,
    /// `expected_attach_type`.
    pub expected_attach_type: u32,
    /// Relocated instructions (8 bytes each).
    pub insns: &'a [u8],
    /// License string (without NUL).
    pub license: &'a str,
    /// `kern_version` (KVER of the running kernel).
    pub kern_version: u32,
    /// Name (at most 15 bytes; empty to omit).
    pub name: &'a str,
}

/// What `BPF_OBJ_GET_INFO_BY_FD` says of a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MapInfo {
    /// Map id.
    pub id: u32,
    /// `enum bpf_map_type`.
    pub map_type: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Max entries.
    pub max_entries: u32,
    /// Map flags.
    pub map_flags: u32,
    /// Id of the map's BTF object, 0 without BTF.
    pub btf_id: u32,
    /// BTF type id of the key, 0 without BTF.
    pub btf_key_type_id: u32,
    /// BTF type id of the value, 0 without BTF.
    pub btf_value_type_id: u32,
}

/// What `BPF_OBJ_GET_INFO_BY_FD` says of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProgInfo {
    /// Program id.
    pub id: u32,
    /// `enum bpf_prog_type`.
    pub prog_type: u32,
    /// Length of the JITed image.
    pub jited_prog_len: u32,
    /// Length of the translated program.
    pub xlated_prog_len: u32,
}

/// Owner, mode and kind of a path, from `lstat` (symlinks are not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Full `st_mode` (type and permission bits).
    pub mode: u32,
    /// Device id.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

impl FileStat {
    /// `S_ISLNK`.
    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
    }
    /// `S_ISDIR`.
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
    /// `S_ISREG`.
    pub fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }
    /// Permission bits including setuid/setgid/sticky.
    pub fn perm(&self) -> u32 {
        self.mode & 0o7777
    }
}

/// Magic number of a bpf filesystem (`statfs().f_type`).
pub const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// `BPF_F_RDONLY` for [`Sys::obj_get`].
pub const BPF_F_RDONLY: u32 = 1 << 3;

/// Kind of a BPF kernel object behind an fd or a pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjKind {
    /// A map.
    Map,
    /// A program.
    Prog,
}

/// The kernel, as the loader sees it.
///
/// Implementations must be usable from several threads at once (parallel
/// verification loads programs concurrently).
pub trait Sys: Send + Sync {
    /// `BPF_MAP_CREATE`.
    fn map_create(&self, attr: &MapCreateAttr) -> SysResult<OwnedFd>;
    /// `BPF_PROG_LOAD`. With `log` non-empty, `log_level = 1` and the buffer
    /// receives the verifier log; the caller grows it on `ENOSPC`.
    fn prog_load(&self, attr: &ProgLoadAttr<'_>, log: &mut [u8]) -> SysResult<OwnedFd>;
    /// `BPF_BTF_LOAD` of `data`. With `log` non-empty (at least 128 bytes,
    /// the kernel's minimum), `btf_log_level = 1` and the buffer receives
    /// the kernel's BTF verifier log; an empty `log` loads without one.
    ///
    /// Defaults to `ENOSYS` so that test wrappers which do not forward it
    /// fail loudly if they are ever asked for BTF.
    fn btf_load(&self, data: &[u8], log: &mut [u8]) -> SysResult<OwnedFd> {
        let _ = (data, log);
        Err(SysError::from_errno("BPF_BTF_LOAD", None, libc::ENOSYS))
    }
    /// `BPF_OBJ_PIN` of `fd` at `path`.
    fn obj_pin(&self, fd: BorrowedFd<'_>, path: &Path) -> SysResult<()>;
    /// `BPF_OBJ_GET` of `path` with `file_flags` (e.g. [`BPF_F_RDONLY`]).
    /// Whatever is pinned at a path, `BPF_OBJ_GET` opens it; the fd is
    /// returned only if it is of `kind`, `EINVAL` otherwise (a program
    /// pinned where a map is expected must not reach [`Sys::map_info`],
    /// which the kernel would answer with a `bpf_prog_info`).
    fn obj_get(&self, path: &Path, file_flags: u32, kind: ObjKind) -> SysResult<OwnedFd>;
    /// `BPF_OBJ_GET_INFO_BY_FD` on a map: an fd from [`Sys::map_create`] or
    /// from [`Sys::obj_get`] with [`ObjKind::Map`].
    fn map_info(&self, fd: BorrowedFd<'_>) -> SysResult<MapInfo>;
    /// `BPF_OBJ_GET_INFO_BY_FD` on a program: an fd from [`Sys::prog_load`]
    /// or from [`Sys::obj_get`] with [`ObjKind::Prog`].
    fn prog_info(&self, fd: BorrowedFd<'_>) -> SysResult<ProgInfo>;
    /// `BPF_MAP_UPDATE_ELEM`.
    fn map_update(&self, fd: BorrowedFd<'_>, key: &[u8], value: &[u8], flags: u64)
        -> SysResult<()>;
    /// `BPF_MAP_LOOKUP_ELEM` into `value`.
    fn map_lookup(&self, fd: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> SysResult<()>;

    /// `chmod(path, mode)`.
    fn chmod(&self, path: &Path, mode: u32) -> SysResult<()>;
    /// `lchown(path, uid, gid)`.
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> SysResult<()>;
    /// `renameat2(from, to, RENAME_NOREPLACE)`.
    fn rename_noreplace(&self, from: &Path, to: &Path) -> SysResult<()>;
    /// Takes an exclusive `flock(2)` on directory `path`, waiting for it;
    /// the lock is held until the returned fd is dropped (or the process
    /// dies). Loaders take it around a temporary pin and its rename, so two
    /// loaders never use the same `tmp_*` name at once.
    fn lock_dir(&self, path: &Path) -> SysResult<OwnedFd>;
    /// `unlink(path)`.
    fn unlink(&self, path: &Path) -> SysResult<()>;
    /// `mkdir(path, mode)` with umask 0; `EEXIST` is reported, not hidden.
    fn mkdir(&self, path: &Path, mode: u32) -> SysResult<()>;
    /// `lstat(path)`.
    fn lstat(&self, path: &Path) -> SysResult<FileStat>;
    /// `statfs(path).f_type`.
    fn statfs_type(&self, path: &Path) -> SysResult<i64>;
    /// `statvfs(path)` says the filesystem is mounted read-only.
    fn is_read_only_fs(&self, path: &Path) -> SysResult<bool>;
    /// Names of the entries of a directory, in `readdir` order.
    fn read_dir(&self, path: &Path) -> SysResult<Vec<String>>;
    /// Reads a whole regular file opened with `O_NOFOLLOW`, refusing more
    /// than `max_len` bytes; also returns its `fstat`.
    fn read_file(&self, path: &Path, max_len: u64) -> SysResult<(Vec<u8>, FileStat)>;
    /// Writes `data` to an existing file (sysctls, properties).
    fn write_file(&self, path: &Path, data: &[u8]) -> SysResult<()>;
    /// `uname()`: `(release, machine)`.
    fn uname(&self) -> SysResult<(String, String)>;

    // Boot flow (boot.rs, platform.rs). Defaults report ENOSYS so an
    // implementation that lacks them fails loudly instead of pretending.

    /// Creates or truncates a regular file (`O_CREAT|O_TRUNC|O_NOFOLLOW`,
    /// `mode` with umask 0) and writes `data` (the runtime property file).
    fn create_file(&self, path: &Path, data: &[u8], mode: u32) -> SysResult<()> {
        let _ = (data, mode);
        Err(SysError::from_errno("create", Some(path), libc::ENOSYS))
    }
    /// `geteuid()`.
    fn euid(&self) -> u32 {
        u32::MAX
    }
    /// `execve(path, argv, environ)`: replaces the process (the follow-up
    /// loader), so it only ever returns the error.
    fn exec(&self, path: &Path, argv: &[String]) -> SysError {
        let _ = argv;
        SysError::from_errno("execve", Some(path), libc::ENOSYS)
    }
    /// `sysconf(_SC_PAGESIZE)`: ring buffers are at least one page.
    fn page_size(&self) -> SysResult<u32>;
}
