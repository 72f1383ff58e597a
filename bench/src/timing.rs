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

use netbpfload::sys::{Hook, Interposed, Op, Sys};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

/// Whether `op` is a `bpf(2)` command.
fn is_bpf(op: Op) -> bool {
    matches!(
        op,
        Op::MapCreate
            | Op::ProgLoad
            | Op::BtfLoad
            | Op::ObjPin
            | Op::ObjGet
            | Op::MapInfo
            | Op::ProgInfo
            | Op::MapUpdate
            | Op::MapLookup
    )
}

impl Hook for Timings {
    fn after(&self, op: Op, _path: Option<&Path>, elapsed: Duration, _errno: Option<i32>) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        if is_bpf(op) {
            self.bpf_ns.fetch_add(ns, Ordering::Relaxed);
            self.bpf_calls.fetch_add(1, Ordering::Relaxed);
            let extra = match op {
                Op::ProgLoad => Some(&self.prog_load_ns),
                Op::MapCreate => Some(&self.map_create_ns),
                Op::BtfLoad => Some(&self.btf_load_ns),
                _ => None,
            };
            if let Some(extra) = extra {
                extra.fetch_add(ns, Ordering::Relaxed);
            }
            if op == Op::BtfLoad {
                self.btf_loads.fetch_add(1, Ordering::Relaxed);
            }
        } else if !matches!(
            op,
            Op::Credentials | Op::Rlimit | Op::PageSize | Op::Machine | Op::Uname
        ) {
            self.fs_ns.fetch_add(ns, Ordering::Relaxed);
        }
    }
}

/// A kernel whose calls are timed into [`Timings`].
pub type TimingSys<S> = Interposed<S, Timings>;

/// Wraps `inner`.
pub fn timing<S: Sys>(inner: S) -> TimingSys<S> {
    Interposed::new(inner, Timings::default())
}
