//! A [`Sys`] decorator that measures how long the loader spends inside the
//! kernel.
//!
//! Every `bpf(2)` command (map create, program load and verification, pin,
//! get, info, element ops) is timed with a monotonic clock and summed into
//! [`Timings::bpf_ns`]; the filesystem syscalls (mkdir, chmod, chown, rename,
//! stat, readdir, file reads) go to [`Timings::fs_ns`]. The wall time minus
//! `bpf_ns` is the loader's own overhead: everything the kernel's verifier
//! and map allocator do not account for.
//!
//! In parallel mode the sums are CPU-time-like totals across threads and can
//! exceed the wall time.

use netbpfload::sys::{
    FileStat, MapCreateAttr, MapInfo, ObjKind, ProgInfo, ProgLoadAttr, Sys, SysError, SysResult,
};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Sums of time spent in syscalls, in nanoseconds, plus call counts.
#[derive(Debug, Default)]
pub struct Timings {
    /// Total time inside `bpf(2)`.
    pub bpf_ns: AtomicU64,
    /// Number of `bpf(2)` calls.
    pub bpf_calls: AtomicU64,
    /// Time inside `BPF_PROG_LOAD` alone (verification and JIT).
    pub prog_load_ns: AtomicU64,
    /// Time inside `BPF_MAP_CREATE` alone.
    pub map_create_ns: AtomicU64,
    /// Time inside `BPF_BTF_LOAD` alone.
    pub btf_load_ns: AtomicU64,
    /// Number of `BPF_BTF_LOAD` calls.
    pub btf_loads: AtomicU64,
    /// Total time inside filesystem syscalls.
    pub fs_ns: AtomicU64,
}

/// Wraps a [`Sys`] and times every call into [`Timings`].
#[derive(Debug)]
pub struct TimingSys<S> {
    inner: S,
    /// The accumulated figures.
    pub timings: Timings,
}

impl<S: Sys> TimingSys<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        TimingSys {
            inner,
            timings: Timings::default(),
        }
    }

    fn bpf<T>(&self, extra: Option<&AtomicU64>, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        let ns = elapsed_ns(start);
        self.timings.bpf_ns.fetch_add(ns, Ordering::Relaxed);
        self.timings.bpf_calls.fetch_add(1, Ordering::Relaxed);
        if let Some(extra) = extra {
            extra.fetch_add(ns, Ordering::Relaxed);
        }
        out
    }

    fn fs<T>(&self, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.timings
            .fs_ns
            .fetch_add(elapsed_ns(start), Ordering::Relaxed);
        out
    }
}

fn elapsed_ns(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl<S: Sys> Sys for TimingSys<S> {
    fn map_create(&self, attr: &MapCreateAttr) -> SysResult<OwnedFd> {
        self.bpf(Some(&self.timings.map_create_ns), || {
            self.inner.map_create(attr)
        })
    }
    fn prog_load(&self, attr: &ProgLoadAttr<'_>, log: &mut [u8]) -> SysResult<OwnedFd> {
        self.bpf(Some(&self.timings.prog_load_ns), || {
            self.inner.prog_load(attr, log)
        })
    }
    fn btf_load(&self, data: &[u8], log: &mut [u8]) -> SysResult<OwnedFd> {
        self.timings.btf_loads.fetch_add(1, Ordering::Relaxed);
        self.bpf(Some(&self.timings.btf_load_ns), || {
            self.inner.btf_load(data, log)
        })
    }
    fn obj_pin(&self, fd: BorrowedFd<'_>, path: &Path) -> SysResult<()> {
        self.bpf(None, || self.inner.obj_pin(fd, path))
    }
    fn obj_get(&self, path: &Path, file_flags: u32, kind: ObjKind) -> SysResult<OwnedFd> {
        self.bpf(None, || self.inner.obj_get(path, file_flags, kind))
    }
    fn map_info(&self, fd: BorrowedFd<'_>) -> SysResult<MapInfo> {
        self.bpf(None, || self.inner.map_info(fd))
    }
    fn prog_info(&self, fd: BorrowedFd<'_>) -> SysResult<ProgInfo> {
        self.bpf(None, || self.inner.prog_info(fd))
    }
    fn map_update(
        &self,
        fd: BorrowedFd<'_>,
        key: &[u8],
        value: &[u8],
        flags: u64,
    ) -> SysResult<()> {
        self.bpf(None, || self.inner.map_update(fd, key, value, flags))
    }
    fn map_lookup(&self, fd: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> SysResult<()> {
        self.bpf(None, || self.inner.map_lookup(fd, key, value))
    }
    fn chmod(&self, path: &Path, mode: u32) -> SysResult<()> {
        self.fs(|| self.inner.chmod(path, mode))
    }
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> SysResult<()> {
        self.fs(|| self.inner.chown(path, uid, gid))
    }
    fn rename_noreplace(&self, from: &Path, to: &Path) -> SysResult<()> {
        self.fs(|| self.inner.rename_noreplace(from, to))
    }
    fn lock_dir(&self, path: &Path) -> SysResult<OwnedFd> {
        self.fs(|| self.inner.lock_dir(path))
    }
    fn unlink(&self, path: &Path) -> SysResult<()> {
        self.fs(|| self.inner.unlink(path))
    }
    fn mkdir(&self, path: &Path, mode: u32) -> SysResult<()> {
        self.fs(|| self.inner.mkdir(path, mode))
    }
    fn lstat(&self, path: &Path) -> SysResult<FileStat> {
        self.fs(|| self.inner.lstat(path))
    }
    fn statfs_type(&self, path: &Path) -> SysResult<i64> {
        self.fs(|| self.inner.statfs_type(path))
    }
    fn is_read_only_fs(&self, path: &Path) -> SysResult<bool> {
        self.fs(|| self.inner.is_read_only_fs(path))
    }
    fn read_dir(&self, path: &Path) -> SysResult<Vec<String>> {
        self.fs(|| self.inner.read_dir(path))
    }
    fn read_file(&self, path: &Path, max_len: u64) -> SysResult<(Vec<u8>, FileStat)> {
        self.fs(|| self.inner.read_file(path, max_len))
    }
    fn write_file(&self, path: &Path, data: &[u8]) -> SysResult<()> {
        self.fs(|| self.inner.write_file(path, data))
    }
    fn uname(&self) -> SysResult<(String, String)> {
        self.inner.uname()
    }
    fn page_size(&self) -> SysResult<u32> {
        self.inner.page_size()
    }
    fn create_file(&self, path: &Path, data: &[u8], mode: u32) -> SysResult<()> {
        self.fs(|| self.inner.create_file(path, data, mode))
    }
    fn euid(&self) -> u32 {
        self.inner.euid()
    }
    fn exec(&self, path: &Path, argv: &[String]) -> SysError {
        self.inner.exec(path, argv)
    }
}
