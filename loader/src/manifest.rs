//! Optional integrity checking of a location: a SHA-256 manifest, optionally
//! signed with Ed25519.
//!
//! # Format
//!
//! A location directory may hold [`MANIFEST_FILE`] (`bpf.manifest`), a UTF-8
//! text file with one entry per line, in the format `sha256sum` prints:
//!
//! ```text
//! # comments and blank lines are ignored
//! 3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b  netd.o
//! ```
//!
//! i.e. 64 lowercase or uppercase hex digits, two spaces (or a space and `*`,
//! the binary-mode marker), and a plain file name (no `/`, no NUL, not `.` or
//! `..`). A file name may appear only once. Lines end in `\n` (a `\r` before
//! it is tolerated). `sha256sum *.o > bpf.manifest` produces a valid file.
//!
//! When the manifest is present, every `*.o` of the location must be listed
//! and must hash to the listed value before it is parsed; an unlisted or
//! mismatching object fails like a corrupt one, the others still load.
//!
//! [`SIGNATURE_FILE`] (`bpf.manifest.sig`) holds a detached Ed25519 signature
//! over the exact bytes of `bpf.manifest`, as 64 raw bytes (what
//! `openssl pkeyutl -sign -rawin -inkey key.pem -in bpf.manifest` writes).
//! When a public key is configured, either at build time through the
//! `NETBPFLOAD_MANIFEST_PUBKEY` environment variable (64 hex digits) or at
//! boot time, the manifest and a valid signature are mandatory: if either is
//! missing or the signature does not verify, every object of the location
//! fails as corrupt. Without a key, a signature file is ignored.

use crate::sys::Sys;
use crate::trust::{self, Policy};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Name of the manifest file inside a location directory.
pub const MANIFEST_FILE: &str = "bpf.manifest";
/// Name of the detached signature of [`MANIFEST_FILE`].
pub const SIGNATURE_FILE: &str = "bpf.manifest.sig";
/// Largest manifest accepted (a location holds tens of objects, not thousands).
pub const MAX_MANIFEST_LEN: u64 = 1 << 20;
/// Exact size of an Ed25519 signature file.
pub const SIGNATURE_LEN: usize = 64;

/// Public key compiled in with `NETBPFLOAD_MANIFEST_PUBKEY=<64 hex digits>`.
pub const BUILD_TIME_PUBKEY_HEX: Option<&str> = option_env!("NETBPFLOAD_MANIFEST_PUBKEY");

/// Why a manifest, its signature or an object failed the integrity check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// A line of the manifest is not `<sha256>  <name>`.
    #[error("{MANIFEST_FILE} line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The manifest is not UTF-8 or is too big.
    #[error("{MANIFEST_FILE}: {reason}")]
    Unreadable {
        /// What is wrong with it.
        reason: String,
    },
    /// A file name appears twice.
    #[error("{MANIFEST_FILE} line {line}: {name} is listed twice")]
    Duplicate {
        /// 1-based line number of the second occurrence.
        line: usize,
        /// The file name.
        name: String,
    },
    /// A key is configured but the location has no manifest.
    #[error("{MANIFEST_FILE} is missing but a manifest signing key is configured")]
    MissingManifest,
    /// A key is configured but the manifest has no signature.
    #[error("{SIGNATURE_FILE} is missing but a manifest signing key is configured")]
    MissingSignature,
    /// The signature file is not 64 bytes.
    #[error("{SIGNATURE_FILE} is {len} bytes, an Ed25519 signature is {SIGNATURE_LEN}")]
    SignatureLength {
        /// Actual size.
        len: usize,
    },
    /// The signature does not verify with the configured key.
    #[error("{SIGNATURE_FILE} does not verify {MANIFEST_FILE} with the configured key")]
    BadSignature,
    /// The configured public key is not valid.
    #[error("manifest public key: {reason}")]
    BadKey {
        /// What is wrong with it.
        reason: String,
    },
    /// The object is not listed in the manifest.
    #[error("not listed in {MANIFEST_FILE}")]
    Unlisted,
    /// The object's SHA-256 differs from the manifest's.
    #[error("SHA-256 {actual} does not match {expected} in {MANIFEST_FILE}")]
    Mismatch {
        /// Hex digest listed in the manifest.
        expected: String,
        /// Hex digest of the file read.
        actual: String,
    },
    /// The manifest or signature could not be read (other than "not found").
    #[error("reading {file}: {reason}")]
    Read {
        /// `bpf.manifest` or `bpf.manifest.sig`.
        file: &'static str,
        /// The OS error or trust failure, one line.
        reason: String,
    },
}

/// A parsed manifest: file name → SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    entries: BTreeMap<String, [u8; 32]>,
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes exactly `N` bytes of hex.
pub fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *o = (hex_val(*hi)? << 4) | hex_val(*lo)?;
    }
    Some(out)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains('\0')
        && !name.chars().any(char::is_control)
}

impl Manifest {
    /// Parses manifest bytes. Every line must be well formed; nothing is
    /// silently skipped except comments and blank lines.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        if bytes.len() as u64 > MAX_MANIFEST_LEN {
            return Err(ManifestError::Unreadable {
                reason: format!("{} bytes, more than {MAX_MANIFEST_LEN}", bytes.len()),
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| ManifestError::Unreadable {
            reason: format!("not UTF-8 ({e})"),
        })?;
        let mut entries = BTreeMap::new();
        for (idx, raw) in text.split('\n').enumerate() {
            let line = idx + 1;
            let l = raw.strip_suffix('\r').unwrap_or(raw);
            if l.trim().is_empty() || l.starts_with('#') {
                continue;
            }
            let malformed = |reason| ManifestError::Malformed { line, reason };
            let (hex, rest) = l
                .split_at_checked(64)
                .ok_or(malformed("shorter than a SHA-256 digest"))?;
            let digest = from_hex::<32>(hex).ok_or(malformed("digest is not 64 hex digits"))?;
            let name = rest
                .strip_prefix("  ")
                .or_else(|| rest.strip_prefix(" *"))
                .ok_or(malformed("digest must be followed by two spaces"))?;
            if !valid_name(name) {
                return Err(malformed("file name must be a plain name without '/'"));
            }
            if entries.insert(name.to_string(), digest).is_some() {
                return Err(ManifestError::Duplicate {
                    line,
                    name: name.to_string(),
                });
            }
        }
        Ok(Manifest { entries })
    }

    /// Renders a manifest for `(file name, contents)` pairs, sorted by name.
    /// Used by tests and image builders; the output parses back with
    /// [`Manifest::parse`] and matches `sha256sum` output.
    pub fn generate<'a>(entries: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
        let sorted: BTreeMap<&str, [u8; 32]> = entries
            .into_iter()
            .map(|(name, data)| (name, sha256(data)))
            .collect();
        let mut out = String::new();
        for (name, digest) in sorted {
            let _ = writeln!(out, "{}  {name}", to_hex(&digest));
        }
        out
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks one object's contents against its entry.
    pub fn verify_object(&self, name: &str, bytes: &[u8]) -> Result<(), ManifestError> {
        let expected = self.entries.get(name).ok_or(ManifestError::Unlisted)?;
        let actual = sha256(bytes);
        // Not secret data: a plain comparison is fine.
        if &actual == expected {
            Ok(())
        } else {
            Err(ManifestError::Mismatch {
                expected: to_hex(expected),
                actual: to_hex(&actual),
            })
        }
    }
}

/// An Ed25519 public key for manifest signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// From the 32 raw bytes; rejects bytes that are not a curve point.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<PublicKey, ManifestError> {
        ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|e| ManifestError::BadKey {
            reason: e.to_string(),
        })?;
        Ok(PublicKey(bytes))
    }

    /// From 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(s: &str) -> Result<PublicKey, ManifestError> {
        let bytes = from_hex::<32>(s.trim()).ok_or_else(|| ManifestError::BadKey {
            reason: "expected 64 hex digits".to_string(),
        })?;
        PublicKey::from_bytes(bytes)
    }

    /// From a key file's contents: 32 raw bytes or 64 hex digits.
    pub fn from_file_bytes(data: &[u8]) -> Result<PublicKey, ManifestError> {
        if let Ok(raw) = <[u8; 32]>::try_from(data) {
            return PublicKey::from_bytes(raw);
        }
        let text = std::str::from_utf8(data).map_err(|_| ManifestError::BadKey {
            reason: "neither 32 raw bytes nor 64 hex digits".to_string(),
        })?;
        PublicKey::from_hex(text)
    }

    /// The key compiled in through `NETBPFLOAD_MANIFEST_PUBKEY`, if any.
    pub fn build_time() -> Option<Result<PublicKey, ManifestError>> {
        BUILD_TIME_PUBKEY_HEX.map(PublicKey::from_hex)
    }

    /// The raw bytes.
    pub fn to_bytes(self) -> [u8; 32] {
        self.0
    }
}

/// Verifies a detached Ed25519 signature over `manifest`. Uses strict
/// verification (rejects small-order keys and non-canonical signatures).
pub fn verify_signature(
    manifest: &[u8],
    signature: &[u8],
    key: &PublicKey,
) -> Result<(), ManifestError> {
    let sig: [u8; SIGNATURE_LEN] =
        signature
            .try_into()
            .map_err(|_| ManifestError::SignatureLength {
                len: signature.len(),
            })?;
    let vk =
        ed25519_dalek::VerifyingKey::from_bytes(&key.0).map_err(|e| ManifestError::BadKey {
            reason: e.to_string(),
        })?;
    let sig = ed25519_dalek::Signature::from_bytes(&sig);
    vk.verify_strict(manifest, &sig)
        .map_err(|_| ManifestError::BadSignature)
}

/// What a location's integrity files say, decided once per location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    /// No manifest and no key: objects are not checked.
    Unchecked,
    /// Objects must match this manifest.
    Checked(Manifest),
    /// The manifest or its signature is bad: every object fails with this.
    Broken(ManifestError),
}

impl Integrity {
    /// Decides from the location's files. `manifest` and `signature` are the
    /// contents of [`MANIFEST_FILE`] and [`SIGNATURE_FILE`], `None` if absent.
    pub fn decide(
        manifest: Option<&[u8]>,
        signature: Option<&[u8]>,
        key: Option<&PublicKey>,
    ) -> Integrity {
        let result = (|| {
            if let Some(key) = key {
                let m = manifest.ok_or(ManifestError::MissingManifest)?;
                let s = signature.ok_or(ManifestError::MissingSignature)?;
                verify_signature(m, s, key)?;
            }
            match manifest {
                Some(m) => Manifest::parse(m).map(Integrity::Checked),
                None => Ok(Integrity::Unchecked),
            }
        })();
        result.unwrap_or_else(Integrity::Broken)
    }

    /// Checks one object (by file name) before it is parsed.
    pub fn check(&self, name: &str, bytes: &[u8]) -> Result<(), ManifestError> {
        match self {
            Integrity::Unchecked => Ok(()),
            Integrity::Checked(m) => m.verify_object(name, bytes),
            Integrity::Broken(e) => Err(e.clone()),
        }
    }
}

/// The key compiled in at build time (`NETBPFLOAD_MANIFEST_PUBKEY`), if any.
/// `Some(Err(_))` (a malformed compiled-in key) fails every location, so a
/// bad build cannot silently turn verification off.
pub fn configured_key() -> Option<Result<PublicKey, ManifestError>> {
    PublicKey::build_time()
}

/// Largest key file read (a hex key with a newline is 65 bytes).
const MAX_KEY_FILE_LEN: u64 = 4096;

/// The key manifests must be signed with: the key file given at boot time
/// (`--manifest-key FILE`: 32 raw bytes or 64 hex digits) if any, else the
/// build-time key. A key file that cannot be read or parsed is `Some(Err(_))`,
/// which fails every object of every location (fail closed: asking for
/// verification and not getting it must not load unverified objects).
pub fn resolve_key(
    sys: &dyn Sys,
    key_file: Option<&Path>,
) -> Option<Result<PublicKey, ManifestError>> {
    let Some(path) = key_file else {
        return configured_key();
    };
    Some(
        sys.read_file(path, MAX_KEY_FILE_LEN)
            .map_err(|e| ManifestError::BadKey {
                reason: e.to_string(),
            })
            .and_then(|(data, _)| PublicKey::from_file_bytes(&data)),
    )
}

/// Reads a location's [`MANIFEST_FILE`] and [`SIGNATURE_FILE`] (both
/// trust-checked like objects; absent is fine) and decides its [`Integrity`].
pub fn for_location(
    sys: &dyn Sys,
    dir: &Path,
    policy: Policy,
    key: Option<&Result<PublicKey, ManifestError>>,
) -> Integrity {
    let key = match key {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(e)) => return Integrity::Broken(e.clone()),
    };
    let read = |file: &'static str, max: u64| {
        trust::read_trusted_optional(sys, dir, file, max, policy).map_err(|e| ManifestError::Read {
            file,
            reason: e.to_string(),
        })
    };
    let manifest = match read(MANIFEST_FILE, MAX_MANIFEST_LEN) {
        Ok(m) => m,
        Err(e) => return Integrity::Broken(e),
    };
    // Read one byte more than a signature so a wrong size is reported as such.
    let signature = match key {
        Some(_) => match read(SIGNATURE_FILE, SIGNATURE_LEN as u64 + 1) {
            Ok(s) => s,
            Err(e) => return Integrity::Broken(e),
        },
        None => None,
    };
    Integrity::decide(manifest.as_deref(), signature.as_deref(), key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    const A: &[u8] = b"object a";
    const B: &[u8] = b"object b";

    fn key(seed: u8) -> (SigningKey, PublicKey) {
        let sk = SigningKey::from_bytes(&[seed; 32]);
        let pk = PublicKey::from_bytes(sk.verifying_key().to_bytes()).expect("valid key");
        (sk, pk)
    }

    fn sign(sk: &SigningKey, m: &[u8]) -> Vec<u8> {
        sk.sign(m).to_bytes().to_vec()
    }

    #[test]
    fn sha256_known_answer() {
        // FIPS 180-2 test vector for "abc".
        assert_eq!(
            to_hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn parses_sha256sum_output() {
        // `printf abc > a.o; sha256sum a.o` and a binary-mode line.
        let text = "# built by make\n\
            ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  a.o\r\n\
            \n\
            BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD *b.o\n";
        let m = Manifest::parse(text.as_bytes()).expect("valid");
        assert_eq!(m.len(), 2);
        assert_eq!(m.verify_object("a.o", b"abc"), Ok(()));
        assert_eq!(m.verify_object("b.o", b"abc"), Ok(()));
    }

    #[test]
    fn good_manifest_accepts_listed_objects() {
        let text = Manifest::generate([("a.o", A), ("b.o", B)]);
        let m = Manifest::parse(text.as_bytes()).expect("generated manifest parses");
        assert_eq!(m.verify_object("a.o", A), Ok(()));
        assert_eq!(m.verify_object("b.o", B), Ok(()));
        // Sorted by name, sha256sum layout.
        let first = text.lines().next().unwrap_or_default();
        assert!(first.ends_with("  a.o"), "{first}");
        assert_eq!(first.len(), 64 + 2 + 3);
    }

    #[test]
    fn tampered_object_is_a_mismatch() {
        let m = Manifest::parse(Manifest::generate([("a.o", A)]).as_bytes()).expect("parses");
        let mut tampered = A.to_vec();
        if let Some(b) = tampered.last_mut() {
            *b ^= 1;
        }
        match m.verify_object("a.o", &tampered) {
            Err(ManifestError::Mismatch { expected, actual }) => {
                assert_eq!(expected, to_hex(&sha256(A)));
                assert_eq!(actual, to_hex(&sha256(&tampered)));
            }
            other => panic!("expected mismatch, got {other:?}"),
        }
    }

    #[test]
    fn unlisted_object_fails() {
        let m = Manifest::parse(Manifest::generate([("a.o", A)]).as_bytes()).expect("parses");
        assert_eq!(m.verify_object("b.o", B), Err(ManifestError::Unlisted));
        // The name is matched exactly, not as a prefix or case-insensitively.
        assert_eq!(m.verify_object("A.o", A), Err(ManifestError::Unlisted));
    }

    #[test]
    fn malformed_lines_are_rejected_with_line_numbers() {
        let good = to_hex(&sha256(A));
        let cases: Vec<(String, usize)> = vec![
            ("abc  a.o".to_string(), 1),
            (format!("{good} a.o"), 1),
            (format!("{good}\ta.o"), 1),
            (format!("{good}  "), 1),
            (format!("{good}  ../a.o"), 1),
            (format!("{good}  dir/a.o"), 1),
            (format!("{good}  .."), 1),
            (format!("# c\n{}  a.o", "g".repeat(64)), 2),
            (format!("{good}  a.o\n{}  b.o", &good[..63]), 2),
            (format!("{good}x  a.o"), 1),
        ];
        for (text, line) in cases {
            match Manifest::parse(text.as_bytes()) {
                Err(ManifestError::Malformed { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: expected malformed, got {other:?}"),
            }
        }
    }

    #[test]
    fn duplicate_and_non_utf8_and_huge_are_rejected() {
        let good = to_hex(&sha256(A));
        let dup = format!("{good}  a.o\n{good}  a.o\n");
        assert_eq!(
            Manifest::parse(dup.as_bytes()),
            Err(ManifestError::Duplicate {
                line: 2,
                name: "a.o".into()
            })
        );
        assert!(matches!(
            Manifest::parse(&[0xff, 0xfe]),
            Err(ManifestError::Unreadable { .. })
        ));
        let huge = vec![b'#'; (MAX_MANIFEST_LEN + 1) as usize];
        assert!(matches!(
            Manifest::parse(&huge),
            Err(ManifestError::Unreadable { .. })
        ));
    }

    #[test]
    fn signed_manifest_verifies() {
        let (sk, pk) = key(7);
        let text = Manifest::generate([("a.o", A)]);
        let sig = sign(&sk, text.as_bytes());
        let i = Integrity::decide(Some(text.as_bytes()), Some(&sig), Some(&pk));
        assert!(matches!(i, Integrity::Checked(_)), "{i:?}");
        assert_eq!(i.check("a.o", A), Ok(()));
        assert_eq!(i.check("b.o", B), Err(ManifestError::Unlisted));
    }

    #[test]
    fn bad_signature_breaks_the_location() {
        let (sk, pk) = key(7);
        let text = Manifest::generate([("a.o", A)]);
        let mut sig = sign(&sk, text.as_bytes());
        if let Some(b) = sig.first_mut() {
            *b ^= 0x80;
        }
        let i = Integrity::decide(Some(text.as_bytes()), Some(&sig), Some(&pk));
        assert_eq!(i, Integrity::Broken(ManifestError::BadSignature));
        // Every object fails, even one whose hash is right.
        assert_eq!(i.check("a.o", A), Err(ManifestError::BadSignature));
    }

    #[test]
    fn tampered_manifest_breaks_the_signature() {
        let (sk, pk) = key(7);
        let text = Manifest::generate([("a.o", A)]);
        let sig = sign(&sk, text.as_bytes());
        // An attacker swaps in the hash of their object and keeps the signature.
        let evil = Manifest::generate([("a.o", B)]);
        let i = Integrity::decide(Some(evil.as_bytes()), Some(&sig), Some(&pk));
        assert_eq!(i.check("a.o", B), Err(ManifestError::BadSignature));
    }

    #[test]
    fn wrong_key_is_rejected() {
        let (sk, _) = key(7);
        let (_, other) = key(8);
        let text = Manifest::generate([("a.o", A)]);
        let sig = sign(&sk, text.as_bytes());
        assert_eq!(
            verify_signature(text.as_bytes(), &sig, &other),
            Err(ManifestError::BadSignature)
        );
    }

    #[test]
    fn key_configured_requires_manifest_and_signature() {
        let (sk, pk) = key(7);
        let text = Manifest::generate([("a.o", A)]);
        assert_eq!(
            Integrity::decide(None, None, Some(&pk)),
            Integrity::Broken(ManifestError::MissingManifest)
        );
        assert_eq!(
            Integrity::decide(Some(text.as_bytes()), None, Some(&pk)),
            Integrity::Broken(ManifestError::MissingSignature)
        );
        let short = sign(&sk, text.as_bytes());
        let short = short.get(..63).unwrap_or_default();
        assert_eq!(
            Integrity::decide(Some(text.as_bytes()), Some(short), Some(&pk)),
            Integrity::Broken(ManifestError::SignatureLength { len: 63 })
        );
    }

    #[test]
    fn without_key_signature_is_ignored_and_manifest_optional() {
        let text = Manifest::generate([("a.o", A)]);
        assert_eq!(Integrity::decide(None, None, None), Integrity::Unchecked);
        assert_eq!(Integrity::decide(None, None, None).check("x.o", B), Ok(()));
        let i = Integrity::decide(Some(text.as_bytes()), Some(b"junk"), None);
        assert_eq!(i.check("a.o", A), Ok(()));
        let broken = Integrity::decide(Some(b"nonsense\n"), None, None);
        assert!(matches!(
            broken.check("a.o", A),
            Err(ManifestError::Malformed { line: 1, .. })
        ));
    }

    #[test]
    fn for_location_reads_trusted_files() {
        use crate::sys::fake::FakeSys;
        let (sk, pk) = key(7);
        let text = Manifest::generate([("a.o", A)]);
        let sys = FakeSys::new();
        sys.add_dir("/loc");
        let dir = Path::new("/loc");
        let strict = Policy::enforcing();
        assert_eq!(for_location(&sys, dir, strict, None), Integrity::Unchecked);
        assert_eq!(
            for_location(&sys, dir, strict, Some(&Ok(pk))),
            Integrity::Broken(ManifestError::MissingManifest)
        );
        sys.add_file("/loc/bpf.manifest", text.clone());
        let i = for_location(&sys, dir, strict, None);
        assert_eq!(i.check("a.o", A), Ok(()));
        assert_eq!(
            for_location(&sys, dir, strict, Some(&Ok(pk))),
            Integrity::Broken(ManifestError::MissingSignature)
        );
        sys.add_file("/loc/bpf.manifest.sig", sign(&sk, text.as_bytes()));
        let i = for_location(&sys, dir, strict, Some(&Ok(pk)));
        assert!(matches!(i, Integrity::Checked(_)), "{i:?}");
        // A 65-byte signature file is a size error, not a read error.
        let mut long = sign(&sk, text.as_bytes());
        long.push(0);
        sys.add_file("/loc/bpf.manifest.sig", long);
        assert_eq!(
            for_location(&sys, dir, strict, Some(&Ok(pk))),
            Integrity::Broken(ManifestError::SignatureLength { len: 65 })
        );
        // A manifest others could have written is not trusted.
        sys.add_file_with("/loc/bpf.manifest", text, 0o666, 0, 0);
        match for_location(&sys, dir, strict, None) {
            Integrity::Broken(ManifestError::Read { file, reason }) => {
                assert_eq!(file, MANIFEST_FILE);
                assert_eq!(reason, "/loc/bpf.manifest: mode 0666 is writable by others");
            }
            other => panic!("expected untrusted manifest, got {other:?}"),
        }
        // A malformed compiled-in key fails the location.
        let bad = PublicKey::from_hex("00");
        assert!(matches!(
            for_location(&sys, dir, strict, Some(&bad)),
            Integrity::Broken(ManifestError::BadKey { .. })
        ));
    }

    /// `--manifest-key FILE`: the key given at boot time is read (hex or
    /// raw), used by the engine for every location, and a key file that
    /// cannot be read fails every object rather than disabling verification.
    #[test]
    fn boot_time_key_file_is_used_and_fails_closed() {
        use crate::engine::{load_location, ObjectOutcome};
        use crate::paths::Location;
        use crate::sys::fake::FakeSys;
        let good = bpf_progs::object("pktCount.o")
            .expect("corpus has pktCount.o")
            .bytes;
        let (sk, pk) = key(7);
        let (other_sk, _) = key(8);
        let hex: String = pk.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let sys = FakeSys::new();
        sys.mount_bpffs("/sys/fs/bpf");
        sys.add_dir("/sys/fs/bpf/net_private");
        sys.add_file("/keys/hex.pub", format!("{hex}\n"));
        sys.add_file("/keys/raw.pub", pk.to_bytes().to_vec());
        sys.add_file("/keys/junk.pub", "not a key");
        let manifest = Manifest::generate([("a.o", good)]);
        for loc in ["/signed", "/forged"] {
            sys.add_file(format!("{loc}/a.o"), good);
            sys.add_file(format!("{loc}/bpf.manifest"), manifest.clone());
        }
        sys.add_file("/signed/bpf.manifest.sig", sign(&sk, manifest.as_bytes()));
        sys.add_file(
            "/forged/bpf.manifest.sig",
            sign(&other_sk, manifest.as_bytes()),
        );

        assert_eq!(
            resolve_key(&sys, Some(Path::new("/keys/hex.pub"))),
            Some(Ok(pk))
        );
        assert_eq!(
            resolve_key(&sys, Some(Path::new("/keys/raw.pub"))),
            Some(Ok(pk))
        );
        assert!(matches!(
            resolve_key(&sys, Some(Path::new("/keys/junk.pub"))),
            Some(Err(ManifestError::BadKey { .. }))
        ));
        assert_eq!(resolve_key(&sys, None), configured_key());

        let outcome = |key_file: &str, loc: &str| {
            let mut cfg = crate::test_support::load_config(&sys, "/sys/fs/bpf");
            cfg.manifest_key = resolve_key(&sys, Some(Path::new(key_file)));
            let r = load_location(&sys, &cfg, &Location::new(loc, "net_private/"));
            match &r.objects.first().expect("a.o reported").outcome {
                ObjectOutcome::Failed { error, .. } => error.to_string(),
                ObjectOutcome::Loaded { .. } => "loaded".to_string(),
                ObjectOutcome::Skipped { reason } => format!("skipped {reason}"),
            }
        };
        assert_eq!(
            outcome("/keys/hex.pub", "/forged"),
            "/forged/a.o: bpf.manifest.sig does not verify bpf.manifest with the configured key"
        );
        let missing = outcome("/keys/missing.pub", "/signed");
        assert!(
            missing.starts_with("/signed/a.o: manifest public key: "),
            "{missing}"
        );
        assert_eq!(outcome("/keys/hex.pub", "/signed"), "loaded");
    }

    /// The engine's hook: objects are trust-checked and verified against
    /// the manifest before parsing; each failure is reported by name and the
    /// others still load.
    #[test]
    fn engine_verifies_each_object_before_parsing() {
        use crate::engine::{load_location, ObjectOutcome};
        use crate::paths::Location;
        use crate::sys::fake::FakeSys;
        let good = bpf_progs::object("pktCount.o")
            .expect("corpus has pktCount.o")
            .bytes;
        let mut tampered = good.to_vec();
        if let Some(b) = tampered.last_mut() {
            *b ^= 1;
        }
        let sys = FakeSys::new();
        sys.mount_bpffs("/sys/fs/bpf");
        sys.add_dir("/sys/fs/bpf/net_private");
        sys.add_file("/loc/a.o", good);
        sys.add_file("/loc/b.o", tampered);
        sys.add_file("/loc/c.o", good);
        sys.add_file_with("/loc/d.o", good, 0o644, 1000, 1000);
        let listed: [(&str, &[u8]); 3] = [("a.o", good), ("b.o", good), ("d.o", good)];
        sys.add_file("/loc/bpf.manifest", Manifest::generate(listed));
        let cfg = crate::test_support::load_config(&sys, "/sys/fs/bpf");
        let report = load_location(&sys, &cfg, &Location::new("/loc", "net_private/"));
        assert!(report.error.is_none());
        let outcome = |name: &str| {
            report
                .objects
                .iter()
                .find(|o| o.file == Path::new("/loc").join(name))
                .map(|o| match &o.outcome {
                    ObjectOutcome::Failed { error, .. } => error.to_string(),
                    ObjectOutcome::Loaded { .. } => "loaded".to_string(),
                    ObjectOutcome::Skipped { reason } => format!("skipped {reason}"),
                })
                .unwrap_or_else(|| panic!("{name} not reported: {report:?}"))
        };
        assert_eq!(outcome("a.o"), "loaded");
        let b = outcome("b.o");
        assert!(
            b.starts_with("/loc/b.o: SHA-256 ") && b.contains("does not match"),
            "{b}"
        );
        assert_eq!(outcome("c.o"), "/loc/c.o: not listed in bpf.manifest");
        assert_eq!(outcome("d.o"), "/loc/d.o: owned by uid 1000, must be root");
        // Only a.o pinned anything: one program and two maps of pktCount.
        let pins: Vec<String> = sys
            .pins()
            .iter()
            .map(|p| p.0.display().to_string())
            .collect();
        assert!(pins.iter().all(|p| p.contains("_a_")), "{pins:?}");
        assert!(!pins.is_empty());
    }

    #[test]
    fn public_key_parsing() {
        let (_, pk) = key(7);
        let hex = to_hex(&pk.to_bytes());
        assert_eq!(PublicKey::from_hex(&format!(" {hex}\n")), Ok(pk));
        assert_eq!(PublicKey::from_file_bytes(&pk.to_bytes()), Ok(pk));
        assert_eq!(PublicKey::from_file_bytes(hex.as_bytes()), Ok(pk));
        assert!(PublicKey::from_hex("zz").is_err());
        assert!(PublicKey::from_file_bytes(&[0xff; 5]).is_err());
    }
}
