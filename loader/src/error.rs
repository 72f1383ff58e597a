//! One error type for everything that can happen to one object, from
//! reading its file to the kernel refusing it, typed end to end: tests match
//! on [`ObjectError::kind`] and the variants, and the JSON reports carry
//! `{kind, reason, errno, errno_name, message}` (see `docs/json-schema.md`).

use crate::engine::LoadError;
use crate::libbpf::LibbpfError;
use crate::manifest::ManifestError;
use crate::parse::ParseError;
use crate::plan::PlanError;
use crate::trust::TrustError;
use serde::ser::SerializeStruct;
use serde::Serialize;
use std::path::PathBuf;

/// The stage at which an object failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The file could not be read, or is not trusted (owner, mode, symlink).
    Read,
    /// It does not match its location's manifest (or the manifest is bad).
    Integrity,
    /// It is not a well-formed object.
    Parse,
    /// It cannot be loaded under this release's rules.
    Plan,
    /// The kernel (or the pin tree) refused part of it; nothing of it is
    /// pinned.
    Load,
}

/// Why one object failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ObjectError {
    /// Reading or trust.
    #[error(transparent)]
    Read(#[from] TrustError),
    /// Manifest check.
    #[error("{}: {source}", crate::logging::shown(.file))]
    Integrity {
        /// The object (or manifest) file.
        file: PathBuf,
        /// Why.
        #[source]
        source: ManifestError,
    },
    /// Parsing.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Parsing a libbpf-style object (or deciding it is of neither kind).
    #[error(transparent)]
    Libbpf(#[from] LibbpfError),
    /// Planning.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Applying.
    #[error(transparent)]
    Load(#[from] LoadError),
}

impl ObjectError {
    /// The stage.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ObjectError::Read(_) => ErrorKind::Read,
            ObjectError::Integrity { .. } => ErrorKind::Integrity,
            ObjectError::Parse(_) | ObjectError::Libbpf(_) => ErrorKind::Parse,
            ObjectError::Plan(_) => ErrorKind::Plan,
            ObjectError::Load(_) => ErrorKind::Load,
        }
    }

    /// The specific reason, a stable snake_case name (the variant).
    pub fn reason(&self) -> String {
        match self {
            ObjectError::Read(e) => variant_name(e),
            ObjectError::Integrity { source, .. } => variant_name(source),
            ObjectError::Parse(e) => variant_name(e.kind()),
            ObjectError::Libbpf(e) => variant_name(&e.kind),
            ObjectError::Plan(e) => variant_name(e),
            ObjectError::Load(e) => e.reason().to_string(),
        }
    }

    /// The errno behind the failure, if a syscall failed.
    pub fn errno(&self) -> Option<i32> {
        match self {
            ObjectError::Read(e) => e.errno(),
            ObjectError::Load(e) => e.errno(),
            _ => None,
        }
    }

    /// The tail of the verifier log, for a rejected program.
    pub fn verifier_log(&self) -> Option<&str> {
        match self {
            ObjectError::Load(e) => e.verifier_log(),
            _ => None,
        }
    }
}

impl Serialize for ObjectError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ObjectError", 6)?;
        st.serialize_field("kind", &self.kind())?;
        st.serialize_field("reason", &self.reason())?;
        st.serialize_field("errno", &self.errno())?;
        st.serialize_field("errno_name", &self.errno().and_then(errno_name))?;
        st.serialize_field("message", &self.to_string())?;
        st.serialize_field("verifier_log", &self.verifier_log())?;
        st.end()
    }
}

/// The snake_case name of an enum value's variant, from its `Debug` form
/// (`MapMismatch { .. }` → `map_mismatch`).
pub fn variant_name<T: std::fmt::Debug>(v: &T) -> String {
    let dbg = format!("{v:?}");
    let ident: String = dbg
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let mut out = String::with_capacity(ident.len() + 4);
    for (i, c) in ident.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The symbolic name of an errno (`EACCES`), for the errnos a loader meets.
pub fn errno_name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::ERANGE => "ERANGE",
        libc::ELOOP => "ELOOP",
        libc::ENOSYS => "ENOSYS",
        libc::ENOEXEC => "ENOEXEC",
        libc::ENOTSUP => "ENOTSUP",
        libc::ESTALE => "ESTALE",
        libc::ENOTUNIQ => "ENOTUNIQ",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code, reason = "only the Debug form is used")]
    enum E {
        MapMismatch { a: u32 },
        NotElf,
        Tuple(u8),
    }

    #[test]
    fn variant_names_are_snake_case() {
        assert_eq!(variant_name(&E::MapMismatch { a: 1 }), "map_mismatch");
        assert_eq!(variant_name(&E::NotElf), "not_elf");
        assert_eq!(variant_name(&E::Tuple(3)), "tuple");
        assert_eq!(errno_name(libc::EACCES), Some("EACCES"));
        assert_eq!(errno_name(100_000), None);
    }
}
