//! Invariant: `parse_object` returns `Ok` or `Err` for any bytes; it never
//! panics, never aborts, and never allocates without bound (libFuzzer's
//! `-rss_limit_mb` / `-malloc_limit_mb` catch the latter).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = netbpfload::parse::parse_object(Path::new("/fuzz/input.o"), data) {
        // Rendering the error must not panic either, and must name the file.
        let msg = e.to_string();
        assert!(msg.starts_with("/fuzz/input.o: "), "{msg}");
    }
});
