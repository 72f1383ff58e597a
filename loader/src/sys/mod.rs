//! The one place that talks to the kernel.
//!
//! Every `bpf(2)` command, every filesystem call and every process-level call
//! goes through the [`Sys`] trait, split by concern into [`Bpf`] (the `bpf(2)`
//! commands), [`Files`] (paths: the pin tree, object files, sysctls, the run
//! lock) and [`Process`] (uname, credentials, limits, exec). The real
//! implementation is [`linux::LinuxSys`]; unit tests use an in-memory fake
//! that lives with the tests, not in this API.
//!
//! Every call is named by an [`Op`]. Errors keep the operation, the path and
//! the errno ([`SysError`]), so a log line reads like
//! `BPF_OBJ_PIN /sys/fs/bpf/x: Operation not permitted (os error 1)`. The same
//! [`Op`] names a call for [`Interposed`], the one provided wrapper that lets
//! a [`Hook`] observe, delay or fail any call (timing in the benchmark, fault
//! injection and kill points in tests).

#[cfg(test)]
pub(crate) mod fake;
pub mod linux;

use std::ffi::OsString;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One kind of call into the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `BPF_MAP_CREATE`.
    MapCreate,
    /// `BPF_PROG_LOAD`.
    ProgLoad,
    /// `BPF_BTF_LOAD`.
    BtfLoad,
    /// `BPF_OBJ_PIN`.
    ObjPin,
    /// `BPF_OBJ_GET`.
    ObjGet,
    /// `BPF_OBJ_GET_INFO_BY_FD` on a map.
    MapInfo,
    /// `BPF_OBJ_GET_INFO_BY_FD` on a program.
    ProgInfo,
    /// `BPF_MAP_UPDATE_ELEM`.
    MapUpdate,
    /// `BPF_MAP_LOOKUP_ELEM`.
    MapLookup,
    /// `chmod(2)`.
    Chmod,
    /// `lchown(2)`.
    Chown,
    /// `renameat2(2)` with `RENAME_NOREPLACE`.
    Rename,
    /// `rename(2)` onto an existing pin, replacing it atomically (only
    /// `load --replace`; never on the boot path).
    RenameOver,
    /// `unlink(2)` (only `unload` and the clean-up of a dead run's temporary
    /// pins under the run lock; never on the boot path of a device).
    Unlink,
    /// `mkdir(2)`.
    Mkdir,
    /// `lstat(2)`.
    Lstat,
    /// `open(O_PATH | O_NOFOLLOW)` of an existing pin.
    OpenPin,
    /// `statfs(2)`.
    Statfs,
    /// `opendir`/`readdir`.
    ReadDir,
    /// Reading a whole file (`open` + `fstat` + `read`).
    ReadFile,
    /// Writing an existing file (sysctls).
    WriteFile,
    /// Creating or truncating a file (the runtime property file).
    CreateFile,
    /// Taking the run lock (`open` + `flock`).
    Lock,
    /// `uname(2)`.
    Uname,
    /// Credentials and capabilities (`getresuid`, `getgroups`, `capget`).
    Credentials,
    /// `setrlimit(RLIMIT_NOFILE)`.
    Rlimit,
    /// `sysconf(_SC_PAGESIZE)`.
    PageSize,
    /// `sysconf(_SC_PHYS_PAGES)` (sysinfo) and `sched_getaffinity`.
    Machine,
    /// `execve(2)`.
    Exec,
    /// Setting a system property (`__system_property_set`, Android only).
    SetProperty,
}

impl Op {
    /// Every operation.
    pub const ALL: [Op; 30] = [
        Op::MapCreate,
        Op::ProgLoad,
        Op::BtfLoad,
        Op::ObjPin,
        Op::ObjGet,
        Op::MapInfo,
        Op::ProgInfo,
        Op::MapUpdate,
        Op::MapLookup,
        Op::Chmod,
        Op::Chown,
        Op::Rename,
        Op::RenameOver,
        Op::Unlink,
        Op::Mkdir,
        Op::Lstat,
        Op::OpenPin,
        Op::Statfs,
        Op::ReadDir,
        Op::ReadFile,
        Op::WriteFile,
        Op::CreateFile,
        Op::Lock,
        Op::Uname,
        Op::Credentials,
        Op::Rlimit,
        Op::PageSize,
        Op::Machine,
        Op::Exec,
        Op::SetProperty,
    ];

    /// The name of the call, as a kernel engineer would write it.
    pub const fn name(self) -> &'static str {
        match self {
            Op::MapCreate => "BPF_MAP_CREATE",
            Op::ProgLoad => "BPF_PROG_LOAD",
            Op::BtfLoad => "BPF_BTF_LOAD",
            Op::ObjPin => "BPF_OBJ_PIN",
            Op::ObjGet => "BPF_OBJ_GET",
            Op::MapInfo => "BPF_OBJ_GET_INFO_BY_FD(map)",
            Op::ProgInfo => "BPF_OBJ_GET_INFO_BY_FD(prog)",
            Op::MapUpdate => "BPF_MAP_UPDATE_ELEM",
            Op::MapLookup => "BPF_MAP_LOOKUP_ELEM",
            Op::Chmod => "chmod",
            Op::Chown => "lchown",
            Op::Rename => "renameat2(RENAME_NOREPLACE)",
            Op::RenameOver => "rename(replace)",
            Op::Unlink => "unlink",
            Op::Mkdir => "mkdir",
            Op::Lstat => "lstat",
            Op::OpenPin => "open(O_PATH|O_NOFOLLOW)",
            Op::Statfs => "statfs",
            Op::ReadDir => "readdir",
            Op::ReadFile => "read",
            Op::WriteFile => "write",
            Op::CreateFile => "create",
            Op::Lock => "flock",
            Op::Uname => "uname",
            Op::Credentials => "capget",
            Op::Rlimit => "setrlimit(RLIMIT_NOFILE)",
            Op::PageSize => "sysconf(_SC_PAGESIZE)",
            Op::Machine => "sysconf(_SC_PHYS_PAGES)+sched_getaffinity",
            Op::Exec => "execve",
            Op::SetProperty => "__system_property_set",
        }
    }

    /// Whether the call changes state outside the process (the pin tree,
    /// kernel objects' contents, files): what a kill can interrupt half-way.
    pub const fn mutates(self) -> bool {
        matches!(
            self,
            Op::ObjPin
                | Op::MapUpdate
                | Op::Chmod
                | Op::Chown
                | Op::Rename
                | Op::RenameOver
                | Op::Unlink
                | Op::Mkdir
                | Op::WriteFile
                | Op::CreateFile
        )
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed call: what was attempted, on what, and the errno.
#[derive(Debug, thiserror::Error)]
#[error("{op}{}: {source}", .path.as_ref().map(|p| format!(" {}", crate::logging::shown(p))).unwrap_or_default())]
pub struct SysError {
    /// The operation.
    pub op: Op,
    /// The path involved, if any.
    pub path: Option<PathBuf>,
    /// The OS error (errno preserved).
    #[source]
    pub source: std::io::Error,
}

impl Clone for SysError {
    fn clone(&self) -> Self {
        let source = match self.source.raw_os_error() {
            Some(errno) => std::io::Error::from_raw_os_error(errno),
            None => std::io::Error::new(self.source.kind(), self.source.to_string()),
        };
        SysError {
            op: self.op,
            path: self.path.clone(),
            source,
        }
    }
}

impl SysError {
    /// Builds an error from an errno value.
    pub fn from_errno(op: Op, path: Option<&Path>, errno: i32) -> Self {
        SysError {
            op,
            path: path.map(Path::to_path_buf),
            source: std::io::Error::from_raw_os_error(errno),
        }
    }
    /// Builds an error from an `io::Error`.
    pub fn io(op: Op, path: Option<&Path>, source: std::io::Error) -> Self {
        SysError {
            op,
            path: path.map(Path::to_path_buf),
            source,
        }
    }
    /// The errno, if the error came from the OS.
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
    /// Whether the errno is `errno`.
    pub fn is(&self, errno: i32) -> bool {
        self.errno() == Some(errno)
    }
}

/// Result of a [`Sys`] call.
pub type SysResult<T> = Result<T, SysError>;

/// Attributes of `BPF_MAP_CREATE`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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
    /// BTF object and the key/value type ids in it, for maps the kernel only
    /// creates with BTF (e.g. `BPF_MAP_TYPE_SK_STORAGE`).
    pub btf: Option<MapBtf>,
}

/// The BTF of a map: `btf_fd`, `btf_key_type_id`, `btf_value_type_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapBtf {
    /// Raw fd of the loaded BTF (owned by the caller for the call's duration).
    pub fd: i32,
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MapInfo {
    /// Map id.
    pub id: u32,
    /// The name given at creation (at most 15 bytes; empty if none).
    pub name: String,
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
    /// Id of the map's BTF object (0 without BTF).
    pub btf_id: u32,
    /// BTF type id of the key (0 without BTF).
    pub btf_key_type_id: u32,
    /// BTF type id of the value (0 without BTF).
    pub btf_value_type_id: u32,
}

/// What `BPF_OBJ_GET_INFO_BY_FD` says of a program.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProgInfo {
    /// Program id.
    pub id: u32,
    /// The name given at load (at most 15 bytes; empty if none).
    pub name: String,
    /// `enum bpf_prog_type`.
    pub prog_type: u32,
    /// The program's tag (hash of its instructions, map fds cleared).
    pub tag: [u8; 8],
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
    /// Size in bytes.
    pub size: u64,
}

// The `st_mode` type bits as `u32`: `mode_t` is `u16` on 32-bit bionic
// (armv7-linux-androideabi) and `u32` elsewhere.
#[allow(
    clippy::unnecessary_cast,
    reason = "a no-op where mode_t is u32, a widening where it is u16"
)]
const fn mode_bits(m: libc::mode_t) -> u32 {
    m as u32
}
/// `S_IFMT` as `u32`.
pub const S_IFMT: u32 = mode_bits(libc::S_IFMT);
/// `S_IFLNK` as `u32`.
pub const S_IFLNK: u32 = mode_bits(libc::S_IFLNK);
/// `S_IFDIR` as `u32`.
pub const S_IFDIR: u32 = mode_bits(libc::S_IFDIR);
/// `S_IFREG` as `u32`.
pub const S_IFREG: u32 = mode_bits(libc::S_IFREG);

impl FileStat {
    /// `S_ISLNK`.
    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }
    /// `S_ISDIR`.
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
    /// `S_ISREG`.
    pub fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }
    /// Permission bits including setuid/setgid/sticky.
    pub fn perm(&self) -> u32 {
        self.mode & 0o7777
    }
    /// What the path is, in words (`directory`, `symlink`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self.mode & S_IFMT {
            S_IFREG => "regular file",
            S_IFDIR => "directory",
            S_IFLNK => "symlink",
            m if m == mode_bits(libc::S_IFIFO) => "FIFO",
            m if m == mode_bits(libc::S_IFSOCK) => "socket",
            m if m == mode_bits(libc::S_IFCHR) => "character device",
            m if m == mode_bits(libc::S_IFBLK) => "block device",
            _ => "unknown file type",
        }
    }
}

/// What `statfs` says of a filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsInfo {
    /// `f_type`: the filesystem's magic number.
    pub f_type: i64,
    /// Mounted read-only (`ST_RDONLY` in `f_flags`).
    pub read_only: bool,
}

/// An existing entry of the pin tree, opened without following symlinks
/// (`O_PATH | O_NOFOLLOW`): every later call on it ([`Bpf::obj_get_pin`],
/// [`Files::chmod_pin`], [`Files::chown_pin`]) reaches exactly this inode,
/// whatever is renamed or planted at its path in the meantime.
#[derive(Debug)]
pub struct PinHandle {
    /// The `O_PATH` descriptor.
    pub fd: OwnedFd,
    /// Its `fstat`.
    pub stat: FileStat,
    /// The path it was opened at (for messages).
    pub path: PathBuf,
}

/// Magic number of a bpf filesystem (`statfs().f_type`).
pub const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// `BPF_F_RDONLY` for [`Bpf::obj_get`].
pub const BPF_F_RDONLY: u32 = 1 << 3;

/// `CAP_CHOWN`, the capability bit that lets the loader give pins away.
pub const CAP_CHOWN: u32 = 0;

/// Kind of a BPF kernel object behind an fd or a pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjKind {
    /// A map.
    Map,
    /// A program.
    Prog,
}

/// The machine's memory and CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    /// Physical memory, bytes (`_SC_PHYS_PAGES` x `_SC_PAGESIZE`).
    pub memory: u64,
    /// CPUs of the loader's affinity mask: how many copies of a per-CPU
    /// map's value the kernel allocates (its possible CPUs, all of which a
    /// boot-time process may run on).
    pub cpus: u32,
}

/// Who the loader runs as: what decides whether it may chown a pin, and
/// whether it is the "running as root" loader step of Android U QPR3+.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    /// Process id.
    pub pid: u32,
    /// Effective uid.
    pub euid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Effective capability set (bit `n` = capability `n`).
    pub cap_effective: u64,
}

impl Credentials {
    /// Whether capability `cap` is effective.
    pub fn has_cap(&self, cap: u32) -> bool {
        cap < 64 && self.cap_effective & (1u64 << cap) != 0
    }

    /// Whether `lchown(path, uid, gid)` of a file this process owns can
    /// succeed: with `CAP_CHOWN` always, otherwise only keeping the owner and
    /// choosing one of its own groups (chown(2)).
    pub fn may_chown_to(&self, uid: u32, gid: u32) -> bool {
        self.has_cap(CAP_CHOWN)
            || (uid == self.euid && (gid == self.egid || self.groups.contains(&gid)))
    }
}

/// The `bpf(2)` commands the loader uses.
///
/// Implementations must be usable from several threads at once (parallel
/// verification loads programs concurrently).
pub trait Bpf: Send + Sync {
    /// `BPF_MAP_CREATE`.
    fn map_create(&self, attr: &MapCreateAttr) -> SysResult<OwnedFd>;
    /// `BPF_PROG_LOAD`. With `log` non-empty, `log_level = 1` and the buffer
    /// receives the verifier log.
    fn prog_load(&self, attr: &ProgLoadAttr<'_>, log: &mut [u8]) -> SysResult<OwnedFd>;
    /// `BPF_BTF_LOAD` of a raw BTF blob; with `log` non-empty the BTF
    /// verifier's log goes there.
    fn btf_load(&self, data: &[u8], log: &mut [u8]) -> SysResult<OwnedFd>;
    /// `BPF_OBJ_PIN` of `fd` at `path`.
    fn obj_pin(&self, fd: BorrowedFd<'_>, path: &Path) -> SysResult<()>;
    /// `BPF_OBJ_GET` of `path` with `file_flags` (e.g. [`BPF_F_RDONLY`]).
    /// Whatever is pinned at a path, `BPF_OBJ_GET` opens it; the fd is
    /// returned only if it is of `kind`, `EINVAL` otherwise (a program
    /// pinned where a map is expected must not reach [`Bpf::map_info`],
    /// which the kernel would answer with a `bpf_prog_info`).
    fn obj_get(&self, path: &Path, file_flags: u32, kind: ObjKind) -> SysResult<OwnedFd>;
    /// [`Bpf::obj_get`] of the inode behind `pin` (never a symlink).
    fn obj_get_pin(&self, pin: &PinHandle, file_flags: u32, kind: ObjKind) -> SysResult<OwnedFd>;
    /// `BPF_OBJ_GET_INFO_BY_FD` on a map fd: one the loader created, or one
    /// [`Bpf::obj_get`] opened as a map (the kernel answers any BPF fd in
    /// that fd's own layout, so the kind must be known before).
    fn map_info(&self, fd: BorrowedFd<'_>) -> SysResult<MapInfo>;
    /// `BPF_OBJ_GET_INFO_BY_FD` on a program fd (same condition).
    fn prog_info(&self, fd: BorrowedFd<'_>) -> SysResult<ProgInfo>;
    /// `BPF_MAP_UPDATE_ELEM`.
    fn map_update(&self, fd: BorrowedFd<'_>, key: &[u8], value: &[u8], flags: u64)
        -> SysResult<()>;
    /// `BPF_MAP_LOOKUP_ELEM` into `value`.
    fn map_lookup(&self, fd: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> SysResult<()>;
}

/// Calls on paths: the pin tree, object files, sysctls, the run lock.
pub trait Files: Send + Sync {
    /// `chmod(path, mode)`. Callers make sure `path` is not a symlink
    /// (the pin tree has none the loader would touch: see `engine::pin`).
    fn chmod(&self, path: &Path, mode: u32) -> SysResult<()>;
    /// `lchown(path, uid, gid)`.
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> SysResult<()>;
    /// `renameat2(from, to, RENAME_NOREPLACE)`.
    fn rename_noreplace(&self, from: &Path, to: &Path) -> SysResult<()>;
    /// `rename(from, to)`: atomically replaces what is at `to` (a pin
    /// being replaced by `load --replace`).
    fn rename_over(&self, from: &Path, to: &Path) -> SysResult<()>;
    /// `unlink(path)`.
    fn unlink(&self, path: &Path) -> SysResult<()>;
    /// `mkdir(path, mode)` with umask 0; `EEXIST` is reported, not hidden.
    fn mkdir(&self, path: &Path, mode: u32) -> SysResult<()>;
    /// `lstat(path)`.
    fn lstat(&self, path: &Path) -> SysResult<FileStat>;
    /// Opens an existing entry without following a symlink.
    fn open_pin(&self, path: &Path) -> SysResult<PinHandle>;
    /// `chmod` of the inode behind `pin`.
    fn chmod_pin(&self, pin: &PinHandle, mode: u32) -> SysResult<()>;
    /// `chown` of the inode behind `pin`.
    fn chown_pin(&self, pin: &PinHandle, uid: u32, gid: u32) -> SysResult<()>;
    /// `statfs(path)`.
    fn statfs(&self, path: &Path) -> SysResult<FsInfo>;
    /// Names of the entries of a directory (without `.` and `..`), in
    /// `readdir` order, as the raw bytes the kernel returned.
    fn read_dir(&self, path: &Path) -> SysResult<Vec<OsString>>;
    /// Reads a whole regular file opened with `O_NOFOLLOW | O_NONBLOCK`,
    /// refusing anything that is not a regular file and more than `max_len`
    /// bytes; also returns its `fstat`.
    fn read_file(&self, path: &Path, max_len: u64) -> SysResult<(Vec<u8>, FileStat)>;
    /// Writes `data` to an existing file (sysctls).
    fn write_file(&self, path: &Path, data: &[u8]) -> SysResult<()>;
    /// Creates or truncates a regular file (`O_CREAT|O_TRUNC|O_NOFOLLOW`,
    /// exactly `mode`) and writes `data` (the runtime property file).
    fn create_file(&self, path: &Path, data: &[u8], mode: u32) -> SysResult<()>;
    /// Takes an exclusive `flock(2)` on the file `path` (created `0600` if
    /// missing, never on a bpffs), waiting at most `timeout`
    /// (`EWOULDBLOCK` after that). Held until the returned fd is dropped.
    fn lock_file(&self, path: &Path, timeout: Duration) -> SysResult<OwnedFd>;
}

/// Process-level calls.
pub trait Process: Send + Sync {
    /// `uname()`: `(release, machine)`.
    fn uname(&self) -> SysResult<(String, String)>;
    /// Effective credentials and capabilities.
    fn credentials(&self) -> SysResult<Credentials>;
    /// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft
    /// limit in force afterwards.
    fn raise_nofile_limit(&self) -> SysResult<u64>;
    /// `sysconf(_SC_PAGESIZE)`: ring buffers are at least one page.
    fn page_size(&self) -> SysResult<u32>;
    /// The machine's memory and CPUs, which bound what an object's maps may
    /// ask of the kernel.
    fn machine(&self) -> SysResult<Machine>;
    /// `execve(path, argv, environ)`: replaces the process (the next loader
    /// of the chain), so it only ever returns the error.
    fn exec(&self, path: &Path, argv: &[OsString]) -> SysError;
    /// `umask(mask)`; returns the previous mask. The boot flow sets 0 once,
    /// single-threaded, so pin directories get exactly their mode without a
    /// chmod (Android's older policies allow no `setattr` on them).
    fn set_umask(&self, mask: u32) -> u32;
}

/// The kernel, as the loader sees it: all three concerns.
pub trait Sys: Bpf + Files + Process {}
impl<T: Bpf + Files + Process + ?Sized> Sys for T {}

/// Observes every call of an [`Interposed`] kernel.
pub trait Hook: Send + Sync {
    /// Runs before `op` on `path`; an error is returned instead of making
    /// the call (fault injection, a simulated kill).
    fn before(&self, op: Op, path: Option<&Path>) -> SysResult<()> {
        let _ = (op, path);
        Ok(())
    }
    /// Runs after `op` returned, with how long it took and its errno.
    fn after(&self, op: Op, path: Option<&Path>, elapsed: Duration, errno: Option<i32>) {
        let _ = (op, path, elapsed, errno);
    }
}

/// A kernel whose every call goes through `hook` first: the one wrapper the
/// benchmark (timing) and the tests (faults, kills, rendezvous) build on.
#[derive(Debug)]
pub struct Interposed<S, H> {
    /// The kernel that makes the calls.
    pub inner: S,
    /// What observes them.
    pub hook: H,
}

impl<S: Sys, H: Hook> Interposed<S, H> {
    /// Wraps `inner`.
    pub fn new(inner: S, hook: H) -> Self {
        Interposed { inner, hook }
    }

    fn call<T>(
        &self,
        op: Op,
        path: Option<&Path>,
        f: impl FnOnce() -> SysResult<T>,
    ) -> SysResult<T> {
        self.hook.before(op, path)?;
        let t = Instant::now();
        let r = f();
        let errno = r.as_ref().err().map(|e| e.errno().unwrap_or(0));
        self.hook.after(op, path, t.elapsed(), errno);
        r
    }
}

impl<S: Sys, H: Hook> Bpf for Interposed<S, H> {
    fn map_create(&self, attr: &MapCreateAttr) -> SysResult<OwnedFd> {
        self.call(Op::MapCreate, None, || self.inner.map_create(attr))
    }
    fn prog_load(&self, attr: &ProgLoadAttr<'_>, log: &mut [u8]) -> SysResult<OwnedFd> {
        self.call(Op::ProgLoad, None, || self.inner.prog_load(attr, log))
    }
    fn btf_load(&self, data: &[u8], log: &mut [u8]) -> SysResult<OwnedFd> {
        self.call(Op::BtfLoad, None, || self.inner.btf_load(data, log))
    }
    fn obj_pin(&self, fd: BorrowedFd<'_>, path: &Path) -> SysResult<()> {
        self.call(Op::ObjPin, Some(path), || self.inner.obj_pin(fd, path))
    }
    fn obj_get(&self, path: &Path, file_flags: u32, kind: ObjKind) -> SysResult<OwnedFd> {
        self.call(Op::ObjGet, Some(path), || {
            self.inner.obj_get(path, file_flags, kind)
        })
    }
    fn obj_get_pin(&self, pin: &PinHandle, file_flags: u32, kind: ObjKind) -> SysResult<OwnedFd> {
        self.call(Op::ObjGet, Some(&pin.path), || {
            self.inner.obj_get_pin(pin, file_flags, kind)
        })
    }
    fn map_info(&self, fd: BorrowedFd<'_>) -> SysResult<MapInfo> {
        self.call(Op::MapInfo, None, || self.inner.map_info(fd))
    }
    fn prog_info(&self, fd: BorrowedFd<'_>) -> SysResult<ProgInfo> {
        self.call(Op::ProgInfo, None, || self.inner.prog_info(fd))
    }
    fn map_update(
        &self,
        fd: BorrowedFd<'_>,
        key: &[u8],
        value: &[u8],
        flags: u64,
    ) -> SysResult<()> {
        self.call(Op::MapUpdate, None, || {
            self.inner.map_update(fd, key, value, flags)
        })
    }
    fn map_lookup(&self, fd: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> SysResult<()> {
        self.call(Op::MapLookup, None, || {
            self.inner.map_lookup(fd, key, value)
        })
    }
}

impl<S: Sys, H: Hook> Files for Interposed<S, H> {
    fn chmod(&self, path: &Path, mode: u32) -> SysResult<()> {
        self.call(Op::Chmod, Some(path), || self.inner.chmod(path, mode))
    }
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> SysResult<()> {
        self.call(Op::Chown, Some(path), || self.inner.chown(path, uid, gid))
    }
    fn rename_noreplace(&self, from: &Path, to: &Path) -> SysResult<()> {
        self.call(Op::Rename, Some(to), || {
            self.inner.rename_noreplace(from, to)
        })
    }
    fn rename_over(&self, from: &Path, to: &Path) -> SysResult<()> {
        self.call(Op::RenameOver, Some(to), || {
            self.inner.rename_over(from, to)
        })
    }
    fn unlink(&self, path: &Path) -> SysResult<()> {
        self.call(Op::Unlink, Some(path), || self.inner.unlink(path))
    }
    fn mkdir(&self, path: &Path, mode: u32) -> SysResult<()> {
        self.call(Op::Mkdir, Some(path), || self.inner.mkdir(path, mode))
    }
    fn lstat(&self, path: &Path) -> SysResult<FileStat> {
        self.call(Op::Lstat, Some(path), || self.inner.lstat(path))
    }
    fn open_pin(&self, path: &Path) -> SysResult<PinHandle> {
        self.call(Op::OpenPin, Some(path), || self.inner.open_pin(path))
    }
    fn chmod_pin(&self, pin: &PinHandle, mode: u32) -> SysResult<()> {
        self.call(Op::Chmod, Some(&pin.path), || {
            self.inner.chmod_pin(pin, mode)
        })
    }
    fn chown_pin(&self, pin: &PinHandle, uid: u32, gid: u32) -> SysResult<()> {
        self.call(Op::Chown, Some(&pin.path), || {
            self.inner.chown_pin(pin, uid, gid)
        })
    }
    fn statfs(&self, path: &Path) -> SysResult<FsInfo> {
        self.call(Op::Statfs, Some(path), || self.inner.statfs(path))
    }
    fn read_dir(&self, path: &Path) -> SysResult<Vec<OsString>> {
        self.call(Op::ReadDir, Some(path), || self.inner.read_dir(path))
    }
    fn read_file(&self, path: &Path, max_len: u64) -> SysResult<(Vec<u8>, FileStat)> {
        self.call(Op::ReadFile, Some(path), || {
            self.inner.read_file(path, max_len)
        })
    }
    fn write_file(&self, path: &Path, data: &[u8]) -> SysResult<()> {
        self.call(Op::WriteFile, Some(path), || {
            self.inner.write_file(path, data)
        })
    }
    fn create_file(&self, path: &Path, data: &[u8], mode: u32) -> SysResult<()> {
        self.call(Op::CreateFile, Some(path), || {
            self.inner.create_file(path, data, mode)
        })
    }
    fn lock_file(&self, path: &Path, timeout: Duration) -> SysResult<OwnedFd> {
        self.call(Op::Lock, Some(path), || self.inner.lock_file(path, timeout))
    }
}

impl<S: Sys, H: Hook> Process for Interposed<S, H> {
    fn uname(&self) -> SysResult<(String, String)> {
        self.call(Op::Uname, None, || self.inner.uname())
    }
    fn credentials(&self) -> SysResult<Credentials> {
        self.call(Op::Credentials, None, || self.inner.credentials())
    }
    fn raise_nofile_limit(&self) -> SysResult<u64> {
        self.call(Op::Rlimit, None, || self.inner.raise_nofile_limit())
    }
    fn page_size(&self) -> SysResult<u32> {
        self.call(Op::PageSize, None, || self.inner.page_size())
    }
    fn machine(&self) -> SysResult<Machine> {
        self.call(Op::Machine, None, || self.inner.machine())
    }
    fn exec(&self, path: &Path, argv: &[OsString]) -> SysError {
        match self.call(Op::Exec, Some(path), || {
            Err::<(), _>(self.inner.exec(path, argv))
        }) {
            Err(e) => e,
            Ok(()) => SysError::from_errno(Op::Exec, Some(path), libc::EINVAL),
        }
    }
    fn set_umask(&self, mask: u32) -> u32 {
        self.inner.set_umask(mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_names_are_unique() {
        let mut names: Vec<&str> = Op::ALL.iter().map(|o| o.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Op::ALL.len());
    }

    #[test]
    fn chown_rules() {
        let c = Credentials {
            pid: 1,
            euid: 0,
            egid: 0,
            groups: vec![3007],
            cap_effective: 0,
        };
        assert!(c.may_chown_to(0, 0));
        assert!(c.may_chown_to(0, 3007), "a group of our own");
        assert!(!c.may_chown_to(0, 1000));
        assert!(!c.may_chown_to(1000, 0));
        let c = Credentials {
            cap_effective: 1 << CAP_CHOWN,
            ..c
        };
        assert!(c.may_chown_to(1000, 1000));
    }
}
