//! Parse work is linear in the file size: the internal work counter (bytes
//! of headers, symbols, names, relocations and instructions visited, bytes
//! copied) stays under `WORK_PER_BYTE` per input byte for every generated
//! attack class at 16 KiB ... 1 MiB, and grows with the size, not faster.
//! Counting work instead of timing it keeps the test exact on a loaded CI
//! machine; the wall-clock figures are in the parse-scaling benchmark.
#![allow(
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    reason = "test code: a panic is a test failure"
)]

use super::{parse_object, work};
use std::path::Path;

/// Work units per input byte. A name costs up to 256 units however short
/// the entry naming it (a 24-byte symbol or a 64-byte header), and the
/// names a program needs are read twice (index, then the program itself):
/// `max-names` (every name 255 bytes, shared) is the worst case, near 7.
const WORK_PER_BYTE: u64 = 16;

fn work_of(class: &hostile::Class, size: usize) -> (usize, u64) {
    let bytes = class.generate(size);
    work::take();
    let _ = parse_object(&Path::new("/w").join(class.file_name), &bytes);
    (bytes.len(), work::take())
}

#[test]
fn work_is_linear_in_the_file_size() {
    let mut report = Vec::new();
    for c in hostile::CLASSES.iter().filter(|c| c.min_size <= 16 << 10) {
        let mut per_byte = Vec::new();
        for size in [16 << 10, 64 << 10, 256 << 10, 1 << 20] {
            let (len, w) = work_of(c, size);
            assert!(
                w <= WORK_PER_BYTE * len as u64,
                "{}: {w} work units for {len} bytes",
                c.name
            );
            per_byte.push(w as f64 / len as f64);
        }
        report.push(format!("{:<28} {:?}", c.name, per_byte));
    }
    eprintln!(
        "work per input byte at 16K, 64K, 256K, 1M:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_worst_cases_do_real_work() {
    // The counter is not vacuous: the classes that parse fully walk their
    // whole file at least once.
    for name in [
        "syms-x-sections",
        "rel-sections-many",
        "valid-big",
        "deep-names",
    ] {
        let c = hostile::find(name).unwrap();
        let (len, w) = work_of(c, 1 << 20);
        assert!(w >= len as u64 / 2, "{name}: {w} units for {len} bytes");
    }
}
