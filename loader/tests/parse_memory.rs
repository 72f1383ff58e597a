//! Peak heap during `parse_object`, measured exactly with a counting global
//! allocator, for every generated attack class of the `hostile` crate at
//! 64 KiB ... 4 MiB (and the cap classes at their own size):
//!
//!     peak <= PER_BYTE * size + min(PER_NAME_BYTE * size, NAMES_MAX)
//!
//! `PER_BYTE` covers what scales with the file: copied code, relocations,
//! per-instruction and per-symbol indexes. The second term covers names and
//! decoded records: a program costs 96 bytes of file (header, one
//! instruction, a symbol) but up to about 1 KiB of spec when its section and
//! function names are 255 bytes shared with every other program; the caps
//! (4096 programs, 4096 maps, 255-byte names) bound that part in absolute
//! terms. The `max-names` class is that worst case.
//!
//! The input buffer is the caller's and not counted. The spec the parser
//! returns is counted (it is alive at the peak): copied code, relocations,
//! names, definitions. Before issue 11 the overlap classes reached
//! thousands of times the file size (2.6 GiB for a 1 MiB file).

use netbpfload::parse::parse_object;
use std::path::Path;

/// Bytes of heap per byte of input for what scales with the file.
const PER_BYTE: usize = 2;
/// Bytes of heap per byte of input for names and records...
const PER_NAME_BYTE: usize = 12;
/// ... and at most this in all (4096 programs and 4096 maps, 255-byte names).
const NAMES_MAX: usize = 8 << 20;

fn bound(len: usize) -> usize {
    PER_BYTE * len + (PER_NAME_BYTE * len).min(NAMES_MAX)
}

mod heap;
use heap::peak_during;

#[test]
fn peak_heap_is_bounded_by_the_file_size() {
    let mut worst = (0.0f64, "");
    let mut failures = Vec::new();
    for c in hostile::CLASSES {
        let sizes: &[usize] = if c.min_size > 64 << 10 {
            &[0]
        } else {
            &[64 << 10, 256 << 10, 1 << 20, 4 << 20]
        };
        for &size in sizes {
            let bytes = c.generate(size);
            let file = Path::new("/etc/bpf").join(c.file_name);
            let (res, peak) = peak_during(|| parse_object(&file, &bytes));
            let bound = bound(bytes.len());
            let ratio = peak as f64 / bound as f64;
            eprintln!(
                "{:<28} {:>9} bytes: peak {:>9} ({:.2} x file), {}",
                c.name,
                bytes.len(),
                peak,
                peak as f64 / bytes.len() as f64,
                if res.is_ok() { "ok" } else { "error" }
            );
            if ratio > worst.0 {
                worst = (ratio, c.name);
            }
            if peak > bound {
                failures.push(format!(
                    "{} at {}: peak {peak} > {bound}",
                    c.name,
                    bytes.len()
                ));
            }
        }
    }
    eprintln!("closest to the bound: {:.2} of it ({})", worst.0, worst.1);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
