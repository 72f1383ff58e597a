//! Boot-time platform gates: may this loader run on this API level, kernel
//! and architecture at all? Pure functions of their inputs, per release
//! (`docs/android-release-rules.md` §11).

use crate::release::{Rules, API_T, API_U, API_V};
use crate::spec::Kver;

/// Kernel and userspace bitness, and the device kinds some rules exempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArchFacts {
    /// The kernel is 64-bit (`uname().machine` contains `64`).
    pub kernel_64bit: bool,
    /// The kernel is x86 (32 or 64 bit).
    pub kernel_x86: bool,
    /// The kernel is Arm (32 or 64 bit).
    pub kernel_arm: bool,
    /// This binary is 32-bit userspace.
    pub userspace_32bit: bool,
}

/// Device kinds that some gates exempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceKind {
    /// An Android TV device.
    pub tv: bool,
    /// A Wear OS device.
    pub wear: bool,
    /// `ro.board.first_api_level` (the API level the device shipped with).
    pub first_api_level: Option<u32>,
}

impl ArchFacts {
    /// Derives the facts from `uname().machine` and this binary's pointer width.
    pub fn from_machine(machine: &str) -> ArchFacts {
        let x86 = machine == "x86_64"
            || machine == "x86"
            || (machine.starts_with('i') && machine.ends_with("86"));
        ArchFacts {
            kernel_64bit: machine.contains("64"),
            kernel_x86: x86,
            kernel_arm: machine.starts_with("arm") || machine.starts_with("aarch64"),
            userspace_32bit: cfg!(target_pointer_width = "32"),
        }
    }
}

/// Why the platform is refused (exit 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// API level below T.
    #[error("API level {api} is below {min} (Android 13, T): this loader needs T or later")]
    ApiTooOld {
        /// API level.
        api: u32,
        /// Required.
        min: u32,
    },
    /// Kernel below the release's hard minimum.
    #[error("kernel {kver} is too old for {release}: at least {min} is required")]
    KernelTooOld {
        /// Running kernel.
        kver: Kver,
        /// The release.
        release: &'static str,
        /// Required kernel.
        min: Kver,
    },
    /// A 32-bit kernel where the release needs 64 bits.
    #[error("{release} needs a 64-bit kernel")]
    Kernel32 {
        /// The release.
        release: &'static str,
    },
    /// V+ on a 32-bit kernel 5.16 or later.
    #[error("a 32-bit kernel {kver} (5.16 or later) is not supported on API level {api}")]
    Kernel32TooNew {
        /// Running kernel.
        kver: Kver,
        /// API level.
        api: u32,
    },
    /// V+ on a 32-bit x86 kernel.
    #[error("API level {api} (V+) does not support a 32-bit x86 kernel")]
    X86_32Kernel {
        /// API level.
        api: u32,
    },
    /// 32-bit userspace on a kernel that no longer supports it.
    #[error("32-bit userspace is not supported on kernel {kver}")]
    Userspace32OnNewKernel {
        /// Running kernel.
        kver: Kver,
    },
}

/// The per-API kernel minimum Android warns about: 4.9 (T), 4.14 (U),
/// 4.19 (V+).
pub fn min_kernel(api: u32) -> Kver {
    if api >= API_V {
        Kver::new(4, 19, 0)
    } else if api >= API_U {
        Kver::new(4, 14, 0)
    } else {
        Kver::new(4, 9, 0)
    }
}

/// Checks the gates in Android's order for `rules`. `Ok` carries the
/// warnings (non-fatal) to log.
pub fn check(
    rules: &Rules,
    api: u32,
    kver: Kver,
    arch: ArchFacts,
    device: DeviceKind,
) -> Result<Vec<String>, GateError> {
    let release = rules.release.name();
    if api < API_T {
        return Err(GateError::ApiTooOld { api, min: API_T });
    }
    let mut warnings = Vec::new();
    let min = min_kernel(api);
    if kver < min {
        warnings.push(format!(
            "kernel {kver} is below {min}, the minimum for API level {api}"
        ));
    }
    if let Some(min) = rules.fatal_min_kernel.filter(|&m| kver < m) {
        return Err(GateError::KernelTooOld { kver, release, min });
    }
    if rules.requires_64bit_kernel && !arch.kernel_64bit {
        return Err(GateError::Kernel32 { release });
    }
    if api >= API_V && !arch.kernel_64bit && kver >= Kver::new(5, 16, 0) && !device.tv {
        return Err(GateError::Kernel32TooNew { kver, api });
    }
    if !arch.kernel_64bit && kver >= Kver::new(6, 7, 0) {
        return Err(GateError::Kernel32TooNew { kver, api });
    }
    if api >= API_V && arch.kernel_x86 && !arch.kernel_64bit && !device.tv {
        return Err(GateError::X86_32Kernel { api });
    }
    if api >= API_V {
        if let Some(w) = lts_warning(rules.lts, kver) {
            warnings.push(w);
        }
    }
    if arch.userspace_32bit && kver >= Kver::new(6, 2, 0) {
        let exempt = device.tv
            || (rules.arm32_userspace_exemptions
                && arch.kernel_arm
                && (device.wear || device.first_api_level.unwrap_or(api) <= API_T));
        if exempt {
            warnings.push(format!(
                "32-bit userspace on kernel {kver} (6.2 or later) is deprecated"
            ));
        } else {
            return Err(GateError::Userspace32OnNewKernel { kver });
        }
    }
    if rules.arm32_userspace_exemptions
        && arch.userspace_32bit
        && !arch.kernel_arm
        && kver >= Kver::new(6, 7, 0)
    {
        return Err(GateError::Userspace32OnNewKernel { kver });
    }
    Ok(warnings)
}

/// A warning if `kver` is not one of `lts`' branches, or is below its
/// branch's minimum sublevel.
pub fn lts_warning(lts: &[Kver], kver: Kver) -> Option<String> {
    let branch = lts
        .iter()
        .find(|m| m.major() == kver.major() && m.minor() == kver.minor());
    match branch {
        None => Some(format!(
            "kernel {kver} is not an LTS kernel (supported LTS branches: {})",
            lts.iter()
                .map(|m| format!("{}.{}", m.major(), m.minor()))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Some(min) if kver < *min => Some(format!(
            "kernel {kver} is below the minimum {min} of its LTS branch"
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::Release;

    const K64: ArchFacts = ArchFacts {
        kernel_64bit: true,
        kernel_x86: false,
        kernel_arm: true,
        userspace_32bit: false,
    };
    const X86_32: ArchFacts = ArchFacts {
        kernel_64bit: false,
        kernel_x86: true,
        kernel_arm: false,
        userspace_32bit: true,
    };
    const ARM32: ArchFacts = ArchFacts {
        kernel_64bit: false,
        kernel_x86: false,
        kernel_arm: true,
        userspace_32bit: true,
    };
    const ARM64_U32: ArchFacts = ArchFacts {
        kernel_64bit: true,
        kernel_x86: false,
        kernel_arm: true,
        userspace_32bit: true,
    };
    const PHONE: DeviceKind = DeviceKind {
        tv: false,
        wear: false,
        first_api_level: None,
    };
    const TV: DeviceKind = DeviceKind {
        tv: true,
        wear: false,
        first_api_level: None,
    };

    fn k(a: u8, b: u8, c: u16) -> Kver {
        Kver::new(a, b, c)
    }

    #[test]
    fn android_15_only_warns_about_old_kernels() {
        let v = Release::V.rules();
        let w = check(v, 35, k(4, 14, 336), K64, PHONE).expect("a warning only");
        assert!(w.iter().any(|w| w.contains("below 4.19.0")), "{w:?}");
        assert!(check(v, 34, k(4, 9, 337), K64, PHONE).is_ok());
        assert_eq!(
            check(v, 32, k(6, 1, 57), K64, PHONE),
            Err(GateError::ApiTooOld { api: 32, min: 33 })
        );
    }

    #[test]
    fn main_2025_refuses_below_5_4_and_32_bit_kernels() {
        let q = Release::R25Q2.rules();
        assert!(matches!(
            check(q, 36, k(4, 19, 236), K64, PHONE),
            Err(GateError::KernelTooOld { .. })
        ));
        assert!(check(q, 36, k(5, 4, 186), K64, PHONE).is_ok());
        assert!(matches!(
            check(q, 36, k(5, 10, 199), ARM32, PHONE),
            Err(GateError::Kernel32 { .. })
        ));
    }

    #[test]
    fn thirty_two_bit_rules() {
        let v = Release::V.rules();
        assert_eq!(
            check(v, 35, k(5, 4, 186), X86_32, PHONE),
            Err(GateError::X86_32Kernel { api: 35 })
        );
        assert!(check(v, 35, k(5, 4, 186), X86_32, TV).is_ok(), "TV exempt");
        assert!(check(v, 34, k(5, 4, 186), X86_32, PHONE).is_ok(), "below V");
        assert_eq!(
            check(v, 35, k(5, 16, 0), ARM32, PHONE),
            Err(GateError::Kernel32TooNew {
                kver: k(5, 16, 0),
                api: 35
            })
        );
        assert_eq!(
            check(v, 34, k(6, 2, 0), ARM64_U32, PHONE),
            Err(GateError::Userspace32OnNewKernel { kver: k(6, 2, 0) })
        );
        assert!(check(v, 35, k(6, 1, 99), ARM64_U32, PHONE).is_ok());
        // 25Q2 lets Wear and early devices keep 32-bit Arm userspace.
        let q = Release::R25Q2.rules();
        let wear = DeviceKind {
            wear: true,
            ..PHONE
        };
        assert!(check(q, 36, k(6, 6, 0), ARM64_U32, wear).is_ok());
        let early = DeviceKind {
            first_api_level: Some(33),
            ..PHONE
        };
        assert!(check(q, 36, k(6, 6, 0), ARM64_U32, early).is_ok());
        assert!(check(q, 36, k(6, 6, 0), ARM64_U32, PHONE).is_err());
        assert!(
            check(v, 35, k(6, 6, 0), ARM64_U32, wear).is_err(),
            "not on V"
        );
    }

    #[test]
    fn lts_lists_per_release() {
        let v = Release::V.rules();
        let q = Release::R25Q2.rules();
        assert!(
            lts_warning(v.lts, k(6, 12, 0)).is_some(),
            "6.12 is not LTS on V"
        );
        assert!(lts_warning(q.lts, k(6, 12, 0)).is_none());
        assert!(lts_warning(v.lts, k(6, 1, 57)).is_none());
        assert_eq!(
            lts_warning(v.lts, k(6, 1, 56)).as_deref(),
            Some("kernel 6.1.56 is below the minimum 6.1.57 of its LTS branch")
        );
        assert!(lts_warning(v.lts, k(6, 18, 44)).is_some());
    }

    #[test]
    fn arch_from_machine() {
        let a = ArchFacts::from_machine("x86_64");
        assert!(a.kernel_64bit && a.kernel_x86 && !a.kernel_arm);
        let a = ArchFacts::from_machine("i686");
        assert!(!a.kernel_64bit && a.kernel_x86);
        let a = ArchFacts::from_machine("aarch64");
        assert!(a.kernel_64bit && !a.kernel_x86 && a.kernel_arm);
        let a = ArchFacts::from_machine("armv7l");
        assert!(!a.kernel_64bit && a.kernel_arm);
    }
}
