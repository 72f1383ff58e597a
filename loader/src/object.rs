//! The one entry that reads an object file of either kind: Android's
//! `maps`/`progs` format ([`crate::parse`]) or a libbpf-style object
//! ([`crate::libbpf`]), decided per object from its section names
//! ([`crate::libbpf::flavor`]); an object of neither kind is refused.

use crate::error::ObjectError;
use crate::libbpf::{self, Flavor, KernelBtfError, LibbpfError, LibbpfErrorKind, TargetBtf};
use crate::plan::PlanError;
use crate::release::LibbpfObjects;
use crate::spec::{Kver, ObjectSpec};
use std::path::Path;
use std::sync::Arc;

/// What reading an object depends on besides its bytes.
pub struct ParseEnv<'a> {
    /// The running kernel (which BTF kinds a libbpf object's BTF may keep).
    pub kver: Kver,
    /// How an Android object's `maps` / `progs` records are laid out under
    /// the rules in force.
    pub records: crate::parse::Records,
    /// The kernel's BTF, asked for only by libbpf-style objects with CO-RE
    /// relocations.
    pub kernel_btf: &'a dyn Fn() -> Result<Arc<TargetBtf>, KernelBtfError>,
    /// Whether the rules in force load libbpf-style objects: a refused one
    /// fails here, before any parsing (nor the kernel's BTF read), with the
    /// plan error the planner would give.
    pub libbpf: LibbpfObjects,
}

impl std::fmt::Debug for ParseEnv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParseEnv")
            .field("kver", &self.kver)
            .finish_non_exhaustive()
    }
}

/// Parses `bytes` (the file `file`) with the parser its kind calls for.
pub fn parse(file: &Path, bytes: &[u8], env: &ParseEnv<'_>) -> Result<ObjectSpec, ObjectError> {
    let fail = |kind| {
        ObjectError::from(LibbpfError {
            file: file.to_path_buf(),
            kind,
        })
    };
    match libbpf::flavor(bytes) {
        Flavor::Android => Ok(crate::parse::parse_object_as(file, bytes, env.records)?),
        Flavor::Unrecognized => Err(fail(LibbpfErrorKind::Unrecognized)),
        Flavor::Libbpf => {
            if let LibbpfObjects::Refused(reason) = env.libbpf {
                return Err(PlanError::LibbpfRefused { reason }.into());
            }
            let target = if libbpf::needs_kernel_btf(bytes) {
                Some((env.kernel_btf)().map_err(|e| fail(LibbpfErrorKind::KernelBtf(e)))?)
            } else {
                None
            };
            let env = libbpf::ParseEnv {
                kver: env.kver,
                target: target.as_deref(),
            };
            Ok(libbpf::parse(file, bytes, &env)?)
        }
    }
}
