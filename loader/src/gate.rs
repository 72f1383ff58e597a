//! Pure gating decisions: which objects, maps and programs apply to this
//! loader version, kernel, build type and architecture.

use crate::spec::Kver;
use serde::Serialize;

/// `ro.build.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildType {
    /// Engineering build.
    Eng,
    /// User build.
    User,
    /// Userdebug build.
    Userdebug,
}

impl BuildType {
    /// Parses `eng` / `user` / `userdebug`; anything else is `None`.
    pub fn parse(s: &str) -> Option<BuildType> {
        match s {
            "eng" => Some(BuildType::Eng),
            "user" => Some(BuildType::User),
            "userdebug" => Some(BuildType::Userdebug),
            _ => None,
        }
    }
}

/// The architecture as seen by `ignore_on_*` bits: userspace arch for arm/x86,
/// kernel bitness deciding between the 32- and 64-bit variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// 32-bit Arm kernel.
    Arm32,
    /// 64-bit Arm kernel.
    Aarch64,
    /// 32-bit x86 kernel.
    X86_32,
    /// 64-bit x86 kernel.
    X86_64,
    /// riscv64.
    Riscv64,
    /// Anything else (no `ignore_on_*` bit applies).
    Other,
}

/// Everything gating depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GateEnv {
    /// This loader's version (42..=45).
    pub loader_ver: u32,
    /// Running kernel version.
    pub kver: Kver,
    /// Build type.
    pub build_type: BuildType,
    /// Architecture.
    pub arch: Arch,
}
