//! Integrity of a location: a SHA-256 manifest of its objects, optionally
//! signed with Ed25519, bound to the location it was made for and to a
//! version number. `docs/manifest.md` is the full description; in short:
//!
//! # Formats
//!
//! A location directory may hold [`MANIFEST_FILE`] (`bpf.manifest`), UTF-8
//! text, one statement per line; blank lines and lines starting with `#`
//! are ignored, a `\r` before the `\n` is tolerated.
//!
//! **Format 2** (what [`Manifest::generate_bound`] and
//! `scripts/make-manifest.sh` write) starts with a header line and names
//! its location and version:
//!
//! ```text
//! netbpfload-manifest 2
//! location /apex/com.android.tethering/etc/bpf/netd_shared
//! version 7
//! critical netd.o
//! 3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b  netd.o
//! ```
//!
//! `location` (once) is the directory as it is named on the device,
//! absolute; `version` (once) a decimal integer (`u64`) that the set's
//! maker increases with every release; `critical NAME` marks a listed
//! object critical (its failure fails the boot, whatever the object itself
//! declares); every other line is `<64 hex digits><two spaces><NAME>` as
//! `sha256sum` prints it (a space and `*` also accepted), where NAME is a
//! plain file name ending in `.o`, listed once.
//!
//! **Format 1** is a bare `sha256sum *.o` output: hash lines only. It binds
//! nothing, so it is accepted only when no signing key is configured, and
//! counts as version 0. A header naming any other format is refused.
//!
//! # Rules
//!
//! With a manifest, the objects of the location are exactly those listed:
//! every `*.o` must be listed and hash to its value before it is parsed, and
//! every listed object must be there; an unlisted, mismatching or missing
//! object fails by name (critical if either it or the manifest says so).
//! A format-2 manifest must name the location being loaded and a version no
//! lower than the configured minimum ([`BUILD_TIME_MIN_VERSION`], raised by
//! `--manifest-min-version`).
//!
//! [`SIGNATURE_FILE`] (`bpf.manifest.sig`) holds a detached Ed25519
//! signature over the exact bytes of `bpf.manifest`, 64 raw bytes (what
//! `openssl pkeyutl -sign -rawin` writes). When a public key is configured
//! (at build time through `NETBPFLOAD_MANIFEST_PUBKEY`, or `--manifest-key`)
//! every location directory must hold a format-2 manifest and a signature
//! that verifies. A manifest that is bad in any way ([`Integrity::Broken`])
//! refuses the whole location: the engine reports it as the location's
//! error, every object fails with it, and the boot fails.

use crate::paths::Location;
use crate::sys::Sys;
use crate::trust::{self, Policy};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Name of the manifest file inside a location directory.
pub const MANIFEST_FILE: &str = "bpf.manifest";
/// Name of the detached signature of [`MANIFEST_FILE`].
pub const SIGNATURE_FILE: &str = "bpf.manifest.sig";
/// Largest manifest accepted (a location holds tens of objects, not thousands).
pub const MAX_MANIFEST_LEN: u64 = 1 << 20;
/// Exact size of an Ed25519 signature file.
pub const SIGNATURE_LEN: usize = 64;
/// First word of a format-2 header line (`netbpfload-manifest 2`).
pub const HEADER: &str = "netbpfload-manifest";
/// The newest format this loader reads (and the one it writes).
pub const FORMAT: u32 = 2;

/// Public key compiled in with `NETBPFLOAD_MANIFEST_PUBKEY=<64 hex digits>`.
pub const BUILD_TIME_PUBKEY_HEX: Option<&str> = option_env!("NETBPFLOAD_MANIFEST_PUBKEY");

/// Lowest manifest version accepted, compiled in with
/// `NETBPFLOAD_MANIFEST_MIN_VERSION=<decimal>` (0 if unset). A value that
/// is not a decimal `u64` stops the build. `--manifest-min-version` can
/// only raise it: nothing given at run time, and nothing inside a location,
/// lets an older signed set load.
pub const BUILD_TIME_MIN_VERSION: u64 = match option_env!("NETBPFLOAD_MANIFEST_MIN_VERSION") {
    Some(s) => const_decimal(s),
    None => 0,
};

/// Parses a decimal `u64` at compile time; a bad value is a build error.
const fn const_decimal(s: &str) -> u64 {
    let mut rest = s.as_bytes();
    assert!(!rest.is_empty(), "NETBPFLOAD_MANIFEST_MIN_VERSION is empty");
    let mut v: u64 = 0;
    while let [c, tail @ ..] = rest {
        assert!(
            c.is_ascii_digit(),
            "NETBPFLOAD_MANIFEST_MIN_VERSION must be a decimal integer"
        );
        v = match v.checked_mul(10) {
            Some(x) => match x.checked_add((*c - b'0') as u64) {
                Some(y) => y,
                None => panic!("NETBPFLOAD_MANIFEST_MIN_VERSION does not fit in 64 bits"),
            },
            None => panic!("NETBPFLOAD_MANIFEST_MIN_VERSION does not fit in 64 bits"),
        };
        rest = tail;
    }
    v
}

/// Parses a manifest version: 1 to 20 decimal digits fitting a `u64`.
pub fn parse_version(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Why a manifest, its signature or an object failed the integrity check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// A line of the manifest is not a statement of its format.
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
    /// The header names a format this loader does not read.
    #[error("{MANIFEST_FILE} line {line}: format {found:?} is not supported (this loader reads formats 1 and {FORMAT})")]
    UnsupportedFormat {
        /// 1-based line number of the header.
        line: usize,
        /// What the header says (at most 32 characters of it).
        found: String,
    },
    /// A format-2 manifest lacks a mandatory statement.
    #[error(
        "{MANIFEST_FILE}: no `{field}` line (format {FORMAT} requires `location` and `version`)"
    )]
    MissingField {
        /// `location` or `version`.
        field: &'static str,
    },
    /// A `critical` line names an object the manifest does not list.
    #[error("{MANIFEST_FILE} line {line}: critical {name} is not listed")]
    CriticalUnlisted {
        /// 1-based line number of the `critical` line.
        line: usize,
        /// The name.
        name: String,
    },
    /// A key is configured but the manifest is format 1, which names no
    /// location and no version.
    #[error("{MANIFEST_FILE} is format 1 (no location, no version) but a manifest signing key is configured: a signed manifest must be format {FORMAT}")]
    Unbound,
    /// The manifest was made for another location.
    #[error("{MANIFEST_FILE} is for {}, not {}", .declared.display(), .actual.display())]
    WrongLocation {
        /// What its `location` line says.
        declared: PathBuf,
        /// The location being loaded (as named on the device).
        actual: PathBuf,
    },
    /// The manifest's version is below the configured minimum.
    #[error("{MANIFEST_FILE} version {version} is older than the minimum accepted, {minimum}")]
    Rollback {
        /// Its version (0 for format 1).
        version: u64,
        /// The minimum in force.
        minimum: u64,
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
    /// The manifest lists the object but the location does not hold it as
    /// a file.
    #[error("listed in {MANIFEST_FILE} but {found}")]
    Missing {
        /// What is there instead (`not in the directory`, `a directory`…).
        found: String,
    },
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

/// One listed object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    digest: [u8; 32],
    critical: bool,
}

/// A parsed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    format: u32,
    location: Option<PathBuf>,
    version: u64,
    entries: BTreeMap<String, Entry>,
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

/// At most 32 characters of `s`, for error messages quoting input.
fn excerpt(s: &str) -> String {
    s.chars().take(32).collect()
}

/// Parses `<64 hex>  <name>` (or ` *<name>`).
fn hash_line(l: &str, line: usize) -> Result<([u8; 32], &str), ManifestError> {
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
    Ok((digest, name))
}

impl Manifest {
    /// Parses manifest bytes, either format. Every line must be well
    /// formed; nothing is silently skipped except comments and blank lines.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        if bytes.len() as u64 > MAX_MANIFEST_LEN {
            return Err(ManifestError::Unreadable {
                reason: format!("{} bytes, more than {MAX_MANIFEST_LEN}", bytes.len()),
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| ManifestError::Unreadable {
            reason: format!("not UTF-8 ({e})"),
        })?;
        let mut lines = text
            .split('\n')
            .enumerate()
            .map(|(i, raw)| (i + 1, raw.strip_suffix('\r').unwrap_or(raw)))
            .filter(|(_, l)| !(l.trim().is_empty() || l.starts_with('#')))
            .peekable();
        let mut m = Manifest {
            format: 1,
            location: None,
            version: 0,
            entries: BTreeMap::new(),
        };
        if let Some(&(line, l)) = lines.peek() {
            if let Some(rest) = l.strip_prefix(HEADER) {
                let found = rest.trim();
                if !rest.starts_with(' ') || found != FORMAT.to_string() {
                    return Err(ManifestError::UnsupportedFormat {
                        line,
                        found: excerpt(found),
                    });
                }
                m.format = FORMAT;
                lines.next();
            }
        }
        let mut version = None;
        let mut critical: Vec<(usize, &str)> = Vec::new();
        for (line, l) in lines {
            let malformed = |reason| ManifestError::Malformed { line, reason };
            if m.format >= 2 {
                if let Some(p) = l.strip_prefix("location ") {
                    if m.location.is_some() {
                        return Err(malformed("`location` given twice"));
                    }
                    if !p.starts_with('/') || p.contains('\0') || p.chars().any(char::is_control) {
                        return Err(malformed("location must be an absolute path"));
                    }
                    m.location = Some(PathBuf::from(p));
                    continue;
                }
                if let Some(v) = l.strip_prefix("version ") {
                    if version.is_some() {
                        return Err(malformed("`version` given twice"));
                    }
                    version = Some(
                        parse_version(v).ok_or(malformed("version must be a decimal integer"))?,
                    );
                    continue;
                }
                if let Some(name) = l.strip_prefix("critical ") {
                    if critical.iter().any(|&(_, n)| n == name) {
                        return Err(malformed("`critical` given twice for one object"));
                    }
                    critical.push((line, name));
                    continue;
                }
                let first = l.split(' ').next().unwrap_or_default();
                if first.len() != 64 && first.chars().all(|c| c.is_ascii_alphabetic()) {
                    return Err(malformed(
                        "not a `location`, `version`, `critical` or `<sha256>  <file>` line",
                    ));
                }
            }
            let (digest, name) = hash_line(l, line)?;
            if m.format >= 2 && !name.ends_with(".o") {
                return Err(malformed("a listed file name must end in .o"));
            }
            let entry = Entry {
                digest,
                critical: false,
            };
            if m.entries.insert(name.to_string(), entry).is_some() {
                return Err(ManifestError::Duplicate {
                    line,
                    name: name.to_string(),
                });
            }
        }
        if m.format >= 2 {
            if m.location.is_none() {
                return Err(ManifestError::MissingField { field: "location" });
            }
            m.version = version.ok_or(ManifestError::MissingField { field: "version" })?;
        }
        for (line, name) in critical {
            match m.entries.get_mut(name) {
                Some(e) => e.critical = true,
                None => {
                    return Err(ManifestError::CriticalUnlisted {
                        line,
                        name: excerpt(name),
                    })
                }
            }
        }
        Ok(m)
    }

    /// Renders a format-1 manifest (bare `sha256sum` lines) for `(file
    /// name, contents)` pairs, sorted by name. Used by tests; the output
    /// parses back with [`Manifest::parse`].
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

    /// Renders a format-2 manifest for `location` (as named on the device)
    /// at `version`, listing `entries` sorted by name and marking `critical`
    /// ones. What `scripts/make-manifest.sh` writes, byte for byte.
    pub fn generate_bound<'a>(
        location: &str,
        version: u64,
        entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        critical: &[&str],
    ) -> String {
        let mut out = format!("{HEADER} {FORMAT}\nlocation {location}\nversion {version}\n");
        let mut marked: Vec<&str> = critical.to_vec();
        marked.sort_unstable();
        marked.dedup();
        for name in marked {
            let _ = writeln!(out, "critical {name}");
        }
        out.push_str(&Manifest::generate(entries));
        out
    }

    /// The format: 1 (bare hash lines) or 2.
    pub fn format(&self) -> u32 {
        self.format
    }

    /// The location it names (format 2).
    pub fn location(&self) -> Option<&Path> {
        self.location.as_deref()
    }

    /// Its version (0 for format 1).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The listed objects (names ending in `.o`), sorted.
    pub fn objects(&self) -> impl Iterator<Item = &str> {
        self.entries
            .keys()
            .map(String::as_str)
            .filter(|n| n.ends_with(".o"))
    }

    /// Whether the manifest marks `name` critical.
    pub fn is_critical(&self, name: &str) -> bool {
        self.entries.get(name).is_some_and(|e| e.critical)
    }

    /// Checks one object's contents against its entry.
    pub fn verify_object(&self, name: &str, bytes: &[u8]) -> Result<(), ManifestError> {
        let expected = &self
            .entries
            .get(name)
            .ok_or(ManifestError::Unlisted)?
            .digest;
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

    /// Checks what the manifest is bound to: a key requires format 2, the
    /// location must be `location` (compared by path components, so a
    /// trailing `/` does not matter), the version at least `min_version`.
    pub fn check_binding(
        &self,
        signed: bool,
        location: &Path,
        min_version: u64,
    ) -> Result<(), ManifestError> {
        if signed && self.format < 2 {
            return Err(ManifestError::Unbound);
        }
        if let Some(declared) = &self.location {
            if declared != location {
                return Err(ManifestError::WrongLocation {
                    declared: declared.clone(),
                    actual: location.to_path_buf(),
                });
            }
        }
        if self.version < min_version {
            return Err(ManifestError::Rollback {
                version: self.version,
                minimum: min_version,
            });
        }
        Ok(())
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

/// What a manifest must be bound to: the location being loaded, as named
/// on the device, and the lowest version accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    /// The location directory as named on the device
    /// ([`Location::device_dir`]).
    pub location: &'a Path,
    /// [`BUILD_TIME_MIN_VERSION`], or higher.
    pub min_version: u64,
}

/// What a location's integrity files say, decided once per location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    /// No manifest and no key: objects are not checked.
    Unchecked,
    /// Objects must match this manifest, exactly.
    Checked(Manifest),
    /// The manifest or its signature is bad: the location is refused and
    /// every object fails with this.
    Broken(ManifestError),
}

impl Integrity {
    /// Decides from the location's files. `manifest` and `signature` are the
    /// contents of [`MANIFEST_FILE`] and [`SIGNATURE_FILE`], `None` if absent.
    pub fn decide(
        manifest: Option<&[u8]>,
        signature: Option<&[u8]>,
        key: Option<&PublicKey>,
        binding: Binding<'_>,
    ) -> Integrity {
        let result = (|| {
            if let Some(key) = key {
                let m = manifest.ok_or(ManifestError::MissingManifest)?;
                let s = signature.ok_or(ManifestError::MissingSignature)?;
                verify_signature(m, s, key)?;
            }
            let Some(bytes) = manifest else {
                return Ok(Integrity::Unchecked);
            };
            let m = Manifest::parse(bytes)?;
            m.check_binding(key.is_some(), binding.location, binding.min_version)?;
            Ok(Integrity::Checked(m))
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

    /// Whether the (good) manifest marks `name` critical.
    pub fn is_critical(&self, name: &str) -> bool {
        match self {
            Integrity::Checked(m) => m.is_critical(name),
            _ => false,
        }
    }

    /// The objects a good manifest lists (none otherwise).
    pub fn listed(&self) -> impl Iterator<Item = &str> {
        let m = match self {
            Integrity::Checked(m) => Some(m),
            _ => None,
        };
        m.into_iter().flat_map(Manifest::objects)
    }

    /// Why the location is refused, if it is.
    pub fn error(&self) -> Option<&ManifestError> {
        match self {
            Integrity::Broken(e) => Some(e),
            _ => None,
        }
    }
}

/// The key compiled in at build time (`NETBPFLOAD_MANIFEST_PUBKEY`), if any.
/// `Some(Err(_))` (a malformed compiled-in key) fails every location, so a
/// bad build cannot silently turn verification off.
pub fn configured_key() -> Option<Result<PublicKey, ManifestError>> {
    PublicKey::build_time()
}

/// The minimum version in force: the compiled-in one, raised (never
/// lowered) by `--manifest-min-version`.
pub fn min_version(given: Option<u64>) -> u64 {
    raise(BUILD_TIME_MIN_VERSION, given)
}

/// `floor`, or `given` if that is higher.
fn raise(floor: u64, given: Option<u64>) -> u64 {
    given.map_or(floor, |v| v.max(floor))
}

/// Largest key file read (a hex key with a newline is 65 bytes).
const MAX_KEY_FILE_LEN: u64 = 4096;

/// The key manifests must be signed with: the key file given at boot time
/// (`--manifest-key FILE`: 32 raw bytes or 64 hex digits) if any, else the
/// build-time key. A key file that cannot be read or parsed is `Some(Err(_))`,
/// which refuses every location (fail closed: asking for verification and
/// not getting it must not load unverified objects).
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

/// Reads `location`'s [`MANIFEST_FILE`] and [`SIGNATURE_FILE`] (both
/// trust-checked like objects; absent is fine) and decides its
/// [`Integrity`], bound to the location's device path and `min_version`.
pub fn for_location(
    sys: &dyn Sys,
    location: &Location,
    policy: Policy,
    key: Option<&Result<PublicKey, ManifestError>>,
    min_version: u64,
) -> Integrity {
    let key = match key {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(e)) => return Integrity::Broken(e.clone()),
    };
    let dir = &location.dir;
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
    Integrity::decide(
        manifest.as_deref(),
        signature.as_deref(),
        key,
        Binding {
            location: &location.device_dir,
            min_version,
        },
    )
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

    const LOC: &str = "/apex/com.android.tethering/etc/bpf/net_shared";

    /// Bound to [`LOC`], any version.
    fn at_loc() -> Binding<'static> {
        Binding {
            location: Path::new(LOC),
            min_version: 0,
        }
    }

    /// A format-2 manifest of `a.o` for [`LOC`] at version 5.
    fn bound(data: &[u8]) -> String {
        Manifest::generate_bound(LOC, 5, [("a.o", data)], &[])
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
        let text = bound(A);
        let sig = sign(&sk, text.as_bytes());
        let i = Integrity::decide(Some(text.as_bytes()), Some(&sig), Some(&pk), at_loc());
        assert!(matches!(i, Integrity::Checked(_)), "{i:?}");
        assert_eq!(i.check("a.o", A), Ok(()));
        assert_eq!(i.check("b.o", B), Err(ManifestError::Unlisted));
    }

    #[test]
    fn bad_signature_breaks_the_location() {
        let (sk, pk) = key(7);
        let text = bound(A);
        let mut sig = sign(&sk, text.as_bytes());
        if let Some(b) = sig.first_mut() {
            *b ^= 0x80;
        }
        let i = Integrity::decide(Some(text.as_bytes()), Some(&sig), Some(&pk), at_loc());
        assert_eq!(i, Integrity::Broken(ManifestError::BadSignature));
        // Every object fails, even one whose hash is right.
        assert_eq!(i.check("a.o", A), Err(ManifestError::BadSignature));
    }

    #[test]
    fn tampered_manifest_breaks_the_signature() {
        let (sk, pk) = key(7);
        let text = bound(A);
        let sig = sign(&sk, text.as_bytes());
        // An attacker swaps in the hash of their object and keeps the signature.
        let evil = bound(B);
        let i = Integrity::decide(Some(evil.as_bytes()), Some(&sig), Some(&pk), at_loc());
        assert_eq!(i.check("a.o", B), Err(ManifestError::BadSignature));
        // ... or edits the location, the version or a critical mark: the
        // signature covers every byte of them.
        for evil in [
            text.replace(LOC, "/system/etc/bpf"),
            text.replace("version 5", "version 50"),
            Manifest::generate_bound(LOC, 5, [("a.o", A)], &["a.o"]),
        ] {
            assert_ne!(evil, text);
            let i = Integrity::decide(Some(evil.as_bytes()), Some(&sig), Some(&pk), at_loc());
            assert_eq!(i, Integrity::Broken(ManifestError::BadSignature), "{evil}");
        }
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
        let text = bound(A);
        assert_eq!(
            Integrity::decide(None, None, Some(&pk), at_loc()),
            Integrity::Broken(ManifestError::MissingManifest)
        );
        assert_eq!(
            Integrity::decide(Some(text.as_bytes()), None, Some(&pk), at_loc()),
            Integrity::Broken(ManifestError::MissingSignature)
        );
        let short = sign(&sk, text.as_bytes());
        let short = short.get(..63).unwrap_or_default();
        assert_eq!(
            Integrity::decide(Some(text.as_bytes()), Some(short), Some(&pk), at_loc()),
            Integrity::Broken(ManifestError::SignatureLength { len: 63 })
        );
    }

    #[test]
    fn without_key_signature_is_ignored_and_manifest_optional() {
        let text = Manifest::generate([("a.o", A)]);
        let none = || Integrity::decide(None, None, None, at_loc());
        assert_eq!(none(), Integrity::Unchecked);
        assert_eq!(none().check("x.o", B), Ok(()));
        let i = Integrity::decide(Some(text.as_bytes()), Some(b"junk"), None, at_loc());
        assert_eq!(i.check("a.o", A), Ok(()));
        let broken = Integrity::decide(Some(b"nonsense\n"), None, None, at_loc());
        assert!(matches!(
            broken.check("a.o", A),
            Err(ManifestError::Malformed { line: 1, .. })
        ));
    }

    #[test]
    fn for_location_reads_trusted_files() {
        use crate::sys::fake::FakeSys;
        let (sk, pk) = key(7);
        let text = Manifest::generate_bound("/loc", 1, [("a.o", A)], &[]);
        let sys = FakeSys::new();
        sys.add_dir("/loc");
        let dir = Location::new("/loc", "net_shared/");
        let dir = &dir;
        let strict = Policy::enforcing();
        let check = |key: Option<&Result<PublicKey, ManifestError>>| {
            for_location(&sys, dir, strict, key, 0)
        };
        assert_eq!(check(None), Integrity::Unchecked);
        assert_eq!(
            check(Some(&Ok(pk))),
            Integrity::Broken(ManifestError::MissingManifest)
        );
        sys.add_file("/loc/bpf.manifest", text.clone());
        let i = check(None);
        assert_eq!(i.check("a.o", A), Ok(()));
        assert_eq!(
            check(Some(&Ok(pk))),
            Integrity::Broken(ManifestError::MissingSignature)
        );
        sys.add_file("/loc/bpf.manifest.sig", sign(&sk, text.as_bytes()));
        let i = check(Some(&Ok(pk)));
        assert!(matches!(i, Integrity::Checked(_)), "{i:?}");
        // The minimum applies; the location compared is the device path.
        assert_eq!(
            for_location(&sys, dir, strict, Some(&Ok(pk)), 2),
            Integrity::Broken(ManifestError::Rollback {
                version: 1,
                minimum: 2
            })
        );
        let mut staged = Location::new("/loc", "net_shared/");
        staged.device_dir = PathBuf::from("/system/etc/bpf");
        assert_eq!(
            for_location(&sys, &staged, strict, Some(&Ok(pk)), 0),
            Integrity::Broken(ManifestError::WrongLocation {
                declared: PathBuf::from("/loc"),
                actual: PathBuf::from("/system/etc/bpf"),
            })
        );
        // A 65-byte signature file is a size error, not a read error.
        let mut long = sign(&sk, text.as_bytes());
        long.push(0);
        sys.add_file("/loc/bpf.manifest.sig", long);
        assert_eq!(
            check(Some(&Ok(pk))),
            Integrity::Broken(ManifestError::SignatureLength { len: 65 })
        );
        // A manifest others could have written is not trusted.
        sys.add_file_with("/loc/bpf.manifest", text, 0o666, 0, 0);
        match check(None) {
            Integrity::Broken(ManifestError::Read { file, reason }) => {
                assert_eq!(file, MANIFEST_FILE);
                assert_eq!(reason, "/loc/bpf.manifest: mode 0666 is writable by others");
            }
            other => panic!("expected untrusted manifest, got {other:?}"),
        }
        // A malformed compiled-in key fails the location.
        let bad = PublicKey::from_hex("00");
        assert!(matches!(
            check(Some(&bad)),
            Integrity::Broken(ManifestError::BadKey { .. })
        ));
    }

    /// `--manifest-key FILE`: the key given at boot time is read (hex or
    /// raw), used by the engine for every location, and a key file that
    /// cannot be read refuses every location (each object failing with it)
    /// rather than disabling verification.
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
        for (loc, signer) in [("/signed", &sk), ("/forged", &other_sk)] {
            let manifest = Manifest::generate_bound(loc, 1, [("a.o", good)], &[]);
            sys.add_file(format!("{loc}/a.o"), good);
            sys.add_file(format!("{loc}/bpf.manifest"), manifest.clone());
            sys.add_file(
                format!("{loc}/bpf.manifest.sig"),
                sign(signer, manifest.as_bytes()),
            );
        }

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

    #[test]
    fn format_2_round_trips_location_version_and_critical_marks() {
        let text = Manifest::generate_bound(LOC, 42, [("b.o", B), ("a.o", A)], &["b.o", "b.o"]);
        let want = format!(
            "netbpfload-manifest 2\nlocation {LOC}\nversion 42\ncritical b.o\n{}  a.o\n{}  b.o\n",
            to_hex(&sha256(A)),
            to_hex(&sha256(B))
        );
        assert_eq!(text, want);
        let m = Manifest::parse(text.as_bytes()).expect("parses");
        assert_eq!(m.format(), 2);
        assert_eq!(m.location(), Some(Path::new(LOC)));
        assert_eq!(m.version(), 42);
        assert_eq!(m.objects().collect::<Vec<_>>(), ["a.o", "b.o"]);
        assert!(m.is_critical("b.o") && !m.is_critical("a.o") && !m.is_critical("c.o"));
        assert_eq!(m.verify_object("b.o", B), Ok(()));
        // Statements in any order, comments and CRLF anywhere after the header.
        let shuffled = format!(
            "# made by hand\r\nnetbpfload-manifest 2\r\n{}  a.o\r\ncritical a.o\n# x\nversion 0\nlocation /x/\n",
            to_hex(&sha256(A))
        );
        let m = Manifest::parse(shuffled.as_bytes()).expect("parses");
        assert_eq!((m.version(), m.is_critical("a.o")), (0, true));
        // Compared by path components: "/x/" names "/x".
        assert_eq!(m.check_binding(true, Path::new("/x"), 0), Ok(()));
        // Format 1 is version 0, binds no location.
        let v1 = Manifest::parse(Manifest::generate([("a.o", A)]).as_bytes()).expect("v1");
        assert_eq!((v1.format(), v1.version(), v1.location()), (1, 0, None));
        assert_eq!(v1.check_binding(false, Path::new("/anything"), 0), Ok(()));
    }

    #[test]
    fn format_2_statements_are_checked_with_line_numbers() {
        let h = to_hex(&sha256(A));
        let head = format!("netbpfload-manifest 2\nlocation {LOC}\nversion 1\n");
        let malformed: Vec<(String, usize)> = vec![
            (format!("{head}location /y\n"), 4),
            (format!("{head}version 2\n"), 4),
            (format!("{head}{h}  a.o\ncritical a.o\ncritical a.o\n"), 6),
            (format!("{head}{h}  notes.txt\n"), 4),
            (format!("{head}signer someone\n"), 4),
            (format!("{head}{h}  a/b.o\n"), 4),
            (
                "netbpfload-manifest 2\nlocation relative/dir\nversion 1\n".to_string(),
                2,
            ),
            (
                format!("netbpfload-manifest 2\nlocation {LOC}\nversion -1\n"),
                3,
            ),
            (
                format!("netbpfload-manifest 2\nlocation {LOC}\nversion 0x10\n"),
                3,
            ),
            (
                format!("netbpfload-manifest 2\nlocation {LOC}\nversion 99999999999999999999\n"),
                3,
            ),
            (
                format!("netbpfload-manifest 2\nlocation {LOC}\nversion \n"),
                3,
            ),
        ];
        for (text, line) in malformed {
            match Manifest::parse(text.as_bytes()) {
                Err(ManifestError::Malformed { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: expected malformed, got {other:?}"),
            }
        }
        for (text, field) in [
            (
                format!("netbpfload-manifest 2\nversion 1\n{h}  a.o\n"),
                "location",
            ),
            (
                format!("netbpfload-manifest 2\nlocation {LOC}\n{h}  a.o\n"),
                "version",
            ),
            ("netbpfload-manifest 2\n".to_string(), "location"),
        ] {
            assert_eq!(
                Manifest::parse(text.as_bytes()),
                Err(ManifestError::MissingField { field }),
                "{text:?}"
            );
        }
        assert_eq!(
            Manifest::parse(format!("{head}critical gone.o\n{h}  a.o\n").as_bytes()),
            Err(ManifestError::CriticalUnlisted {
                line: 4,
                name: "gone.o".into()
            })
        );
        // Another format, or a header that is not exactly this one, is
        // refused rather than read as format 1.
        for (text, found) in [
            ("netbpfload-manifest 3\n", "3"),
            ("# c\nnetbpfload-manifest 2.0\n", "2.0"),
            ("netbpfload-manifest\n", ""),
            ("netbpfload-manifestX 2\n", "X 2"),
        ] {
            match Manifest::parse(text.as_bytes()) {
                Err(ManifestError::UnsupportedFormat { found: f, .. }) => {
                    assert_eq!(f, found, "{text:?}")
                }
                other => panic!("{text:?}: expected unsupported, got {other:?}"),
            }
        }
        // A format-1 manifest cannot use format-2 statements.
        assert!(matches!(
            Manifest::parse(format!("{h}  a.o\nversion 3\n").as_bytes()),
            Err(ManifestError::Malformed { line: 2, .. })
        ));
    }

    #[test]
    fn signed_manifests_must_be_bound_to_this_location_and_recent_enough() {
        let (sk, pk) = key(7);
        let decide = |text: &str, binding: Binding<'_>| {
            let sig = sign(&sk, text.as_bytes());
            Integrity::decide(Some(text.as_bytes()), Some(&sig), Some(&pk), binding)
        };
        // A validly signed format-1 manifest binds nothing: refused.
        assert_eq!(
            decide(&Manifest::generate([("a.o", A)]), at_loc()),
            Integrity::Broken(ManifestError::Unbound)
        );
        // Replayed into another location.
        let other = Binding {
            location: Path::new("/system/etc/bpf"),
            min_version: 0,
        };
        assert_eq!(
            decide(&bound(A), other),
            Integrity::Broken(ManifestError::WrongLocation {
                declared: PathBuf::from(LOC),
                actual: PathBuf::from("/system/etc/bpf"),
            })
        );
        // An older signed set: refused below the minimum, accepted at it.
        let min = |min_version| Binding {
            location: Path::new(LOC),
            min_version,
        };
        assert_eq!(
            decide(&bound(A), min(6)),
            Integrity::Broken(ManifestError::Rollback {
                version: 5,
                minimum: 6
            })
        );
        assert!(matches!(decide(&bound(A), min(5)), Integrity::Checked(_)));
        // The binding holds without a key too; format 1 counts as version 0.
        let text = bound(A);
        assert!(matches!(
            Integrity::decide(Some(text.as_bytes()), None, None, other),
            Integrity::Broken(ManifestError::WrongLocation { .. })
        ));
        let v1 = Manifest::generate([("a.o", A)]);
        assert_eq!(
            Integrity::decide(Some(v1.as_bytes()), None, None, min(1)),
            Integrity::Broken(ManifestError::Rollback {
                version: 0,
                minimum: 1
            })
        );
        assert!(matches!(
            Integrity::decide(Some(v1.as_bytes()), None, None, min(0)),
            Integrity::Checked(_)
        ));
    }

    #[test]
    fn broken_integrity_lists_nothing_and_marks_nothing() {
        let text = Manifest::generate_bound(LOC, 1, [("a.o", A)], &["a.o"]);
        let good = Integrity::decide(Some(text.as_bytes()), None, None, at_loc());
        assert_eq!(good.listed().collect::<Vec<_>>(), ["a.o"]);
        assert!(good.is_critical("a.o"));
        assert_eq!(good.error(), None);
        let broken = Integrity::Broken(ManifestError::BadSignature);
        assert_eq!(broken.listed().count(), 0);
        assert!(!broken.is_critical("a.o"));
        assert_eq!(broken.error(), Some(&ManifestError::BadSignature));
        // Format 1 lists only `.o` names as objects (sha256sum * may list more).
        let v1 = Manifest::generate([("a.o", A), ("README", B)]);
        let v1 = Integrity::decide(Some(v1.as_bytes()), None, None, at_loc());
        assert_eq!(v1.listed().collect::<Vec<_>>(), ["a.o"]);
    }

    #[test]
    fn versions_and_the_minimum() {
        assert_eq!(parse_version("0"), Some(0));
        assert_eq!(parse_version("007"), Some(7));
        assert_eq!(parse_version("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1e3",
            "18446744073709551616",
            "٣",
        ] {
            assert_eq!(parse_version(bad), None, "{bad:?}");
        }
        assert_eq!(const_decimal("0"), 0);
        assert_eq!(const_decimal("18446744073709551615"), u64::MAX);
        assert_eq!(const_decimal("120"), 120);
        // The run-time option only raises the compiled-in minimum.
        assert_eq!(min_version(None), BUILD_TIME_MIN_VERSION);
        assert_eq!(min_version(Some(0)), BUILD_TIME_MIN_VERSION);
        assert_eq!(min_version(Some(u64::MAX)), u64::MAX);
        assert_eq!(raise(5, None), 5);
        assert_eq!(raise(5, Some(3)), 5, "a lower minimum given is ignored");
        assert_eq!(raise(5, Some(9)), 9);
    }
}
