//! Invariant: manifest parsing, binding and signature checking return a
//! verdict for any bytes and never panic; what they accept is consistent
//! (a format-2 manifest names a location, only `.o` objects are listed, an
//! unsigned manifest accepted for a location names that location and is at
//! least the minimum version, and without the private key no input is ever
//! accepted as signed). The first 64 bytes (if any) are used as the
//! signature, the rest as the manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netbpfload::manifest::{Binding, Integrity, Manifest, PublicKey};
use std::path::Path;

// RFC 8032 test 1 public key: a valid point, so verification really runs.
const KEY: [u8; 32] = [
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
    0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
];

/// The location the seeds name (fuzz/seed.sh).
const LOC: &str = "/apex/com.android.tethering/etc/bpf/net_shared";

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::parse(data) {
        match m.format() {
            1 => assert!(m.location().is_none() && m.version() == 0),
            2 => assert!(m.location().is_some()),
            other => panic!("format {other} accepted"),
        }
        for name in m.objects() {
            assert!(name.ends_with(".o"));
            let _ = m.is_critical(name);
        }
        let _ = m.check_binding(true, Path::new(LOC), 1);
    }
    let binding = Binding {
        location: Path::new(LOC),
        min_version: 1,
    };
    let (sig, manifest) = data.split_at(data.len().min(64));
    if let Ok(key) = PublicKey::from_bytes(KEY) {
        let verdict = Integrity::decide(Some(manifest), Some(sig), Some(&key), binding);
        let _ = verdict.check("x.o", manifest);
        // Nobody here holds the private key.
        assert!(!matches!(verdict, Integrity::Checked(_)), "{verdict:?}");
    }
    let unsigned = Integrity::decide(Some(data), None, None, binding);
    if let Integrity::Checked(m) = &unsigned {
        assert!(m.version() >= 1);
        assert_eq!(m.location(), Some(Path::new(LOC)));
        for name in unsigned.listed() {
            let _ = unsigned.is_critical(name);
            let _ = unsigned.check(name, data);
        }
    }
    let _ = PublicKey::from_file_bytes(data);
});
