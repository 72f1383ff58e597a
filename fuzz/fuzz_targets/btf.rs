//! Invariant: the BTF module (`netbpfload::btf`) returns `Ok` or a typed
//! error for any `.BTF` bytes and never panics, loops or allocates without
//! bound (libFuzzer's `-timeout`, `-rss_limit_mb` and `-malloc_limit_mb`
//! catch the latter two). The input is the `.BTF` blob itself; its
//! DATASEC/VAR names are resolved against made-up section sizes and symbol
//! values derived from the input, so the fix-up and the per-map lookups run
//! past the parse on most inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netbpfload::btf::{self, BtfSource, MAP_STRUCT_PREFIX};

fuzz_target!(|data: &[u8]| {
    let _ = btf::summary(data);
    let Ok(names) = btf::fixup_names(data) else {
        // The parser refused it: so must prepare (same checks).
        let src = BtfSource {
            data: data.to_vec(),
            ..BtfSource::default()
        };
        assert!(btf::prepare(&src).is_err());
        return;
    };
    // Sizes and values from the input's length and the names' offsets,
    // including values that do not fit the 32-bit BTF fields.
    let size = |off: u32| match off % 3 {
        0 => u64::from(off),
        1 => data.len() as u64,
        _ => u64::from(off) << 32,
    };
    let src = BtfSource {
        data: data.to_vec(),
        section_sizes: names.sections.iter().map(|n| (n.offset, size(n.offset))).collect(),
        symbol_values: names.symbols.iter().map(|n| (n.offset, size(n.offset) / 2)).collect(),
    };
    // Candidate maps: every VAR named like an annotation, and a fixed one.
    let mut maps: Vec<String> = names
        .symbols
        .iter()
        .filter_map(|n| n.name.strip_prefix(MAP_STRUCT_PREFIX.as_bytes()))
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    maps.push("m".into());
    if let Ok(prepared) = btf::prepare(&src) {
        assert_eq!(prepared.bytes().len(), data.len());
        if let Some(down) = prepared.downgraded() {
            assert_eq!(down.len(), data.len());
            assert_eq!(btf::summary(&down).map(|s| s.funcs_with_linkage).ok(), Some(0));
        }
        for m in maps.iter().take(64) {
            for (k, v) in [(4, 8), (0, 0), (u32::MAX, 1)] {
                if let Err(e) = prepared.map_types(m, k, v) {
                    // Rendering the error must not panic either.
                    let _ = e.to_string();
                }
            }
        }
    }
});
