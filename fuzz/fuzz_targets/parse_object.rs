//! Invariants: `parse_object` returns `Ok` or `Err` for any bytes, never
//! panics, names the file in its error, and stays within resource bounds
//! linear in the input size (issue 11):
//! * peak live heap during the parse, counted by the global allocator below,
//!   is at most `64 KiB + 2 x len + min(12 x len, 8 MiB)` (the bound of
//!   `loader/tests/parse_memory.rs`, plus slack for the smallest inputs);
//! * the parser's work counter (bytes of headers, symbols, names,
//!   relocations and instructions visited, bytes copied; built under
//!   `--cfg fuzzing`) is at most `4 KiB + 16 x len`.
//!
//! libFuzzer's `-timeout`, `-rss_limit_mb` and `-malloc_limit_mb` (set by
//! `smoke.sh`) catch what slips past these: a quadratic parse of a 1 MiB
//! seed, an amplifying one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged and only updates atomic counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size(), Relaxed);
            let now = CURRENT.fetch_add(new_size, Relaxed) + new_size;
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn heap_bound(len: usize) -> usize {
    (64 << 10) + 2 * len + (12 * len).min(8 << 20)
}

fn work_bound(len: usize) -> u64 {
    4096 + 16 * len as u64
}

fuzz_target!(|data: &[u8]| {
    let _ = netbpfload::parse::work::take();
    let start = CURRENT.load(Relaxed);
    PEAK.store(start, Relaxed);
    let result = netbpfload::parse::parse_object(Path::new("/fuzz/input.o"), data);
    let peak = PEAK.load(Relaxed).saturating_sub(start);
    let work = netbpfload::parse::work::take();
    assert!(
        peak <= heap_bound(data.len()),
        "parse of {} bytes peaked at {peak} bytes of heap (bound {})",
        data.len(),
        heap_bound(data.len())
    );
    assert!(
        work <= work_bound(data.len()),
        "parse of {} bytes did {work} units of work (bound {})",
        data.len(),
        work_bound(data.len())
    );
    if let Err(e) = result {
        // Rendering the error must not panic either, and must name the file.
        let msg = e.to_string();
        assert!(msg.starts_with("/fuzz/input.o: "), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
});
