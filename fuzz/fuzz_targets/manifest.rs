//! Invariant: manifest parsing and signature checking return a verdict for
//! any bytes and never panic. The first 64 bytes (if any) are used as the
//! signature, the rest as the manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netbpfload::manifest::{Integrity, Manifest, PublicKey};

// RFC 8032 test 1 public key: a valid point, so verification really runs.
const KEY: [u8; 32] = [
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
    0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
];

fuzz_target!(|data: &[u8]| {
    let _ = Manifest::parse(data);
    let (sig, manifest) = data.split_at(data.len().min(64));
    if let Ok(key) = PublicKey::from_bytes(KEY) {
        let verdict = Integrity::decide(Some(manifest), Some(sig), Some(&key));
        let _ = verdict.check("x.o", manifest);
    }
    let _ = PublicKey::from_file_bytes(data);
});
