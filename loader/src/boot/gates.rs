//! Boot-time platform gates: may this loader run on this API level, kernel
//! and architecture at all? Pure functions of their inputs; the reference
//! checks are in `doLoad()` of NetBpfLoad.cpp (facts §7).

use crate::platform::{API_T, API_U, API_V};
use crate::spec::Kver;

/// Kernel sublevels below which a V+ device on an LTS branch gets a warning
/// (the `isLtsKernel()`/sublevel table of the reference).
pub const LTS_MINIMUMS: [Kver; 7] = [
    Kver::new(4, 19, 236),
    Kver::new(5, 4, 186),
    Kver::new(5, 10, 199),
    Kver::new(5, 15, 136),
    Kver::new(6, 1, 57),
    Kver::new(6, 6, 0),
    Kver::new(6, 12, 0),
];

/// Kernel bitness and userspace bitness, as the gates need them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchFacts {
    /// The kernel is 64-bit (`uname().machine` contains `64`).
    pub kernel_64bit: bool,
    /// The kernel is x86 (32 or 64 bit).
    pub kernel_x86: bool,
    /// This binary is 32-bit userspace.
    pub userspace_32bit: bool,
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
    /// Kernel too old for this API level.
    #[error("kernel {kver} is too old for API level {api}: at least {min} is required")]
    KernelTooOld {
        /// Running kernel.
        kver: Kver,
        /// API level.
        api: u32,
        /// Required kernel.
        min: Kver,
    },
    /// V+ on a 32-bit x86 kernel.
    #[error("API level {api} (V+) does not support a 32-bit x86 kernel")]
    X86_32Kernel {
        /// API level.
        api: u32,
    },
    /// 32-bit userspace on kernel 6.2 or later.
    #[error("32-bit userspace is not supported on kernel {kver} (6.2 or later)")]
    Userspace32OnNewKernel {
        /// Running kernel.
        kver: Kver,
    },
}

/// The minimum kernel for an API level: 4.9 (T), 4.14 (U), 4.19 (V+).
pub fn min_kernel(api: u32) -> Kver {
    if api >= API_V {
        Kver::new(4, 19, 0)
    } else if api >= API_U {
        Kver::new(4, 14, 0)
    } else {
        Kver::new(4, 9, 0)
    }
}

/// Checks the refusing gates, in the reference's order. `Ok` carries the
/// warnings (non-fatal) to log.
pub fn check(api: u32, kver: Kver, arch: ArchFacts) -> Result<Vec<String>, GateError> {
    if api < API_T {
        return Err(GateError::ApiTooOld { api, min: API_T });
    }
    let min = min_kernel(api);
    if kver < min {
        return Err(GateError::KernelTooOld { kver, api, min });
    }
    if api >= API_V && arch.kernel_x86 && !arch.kernel_64bit {
        return Err(GateError::X86_32Kernel { api });
    }
    let mut warnings = Vec::new();
    if api >= API_V {
        if let Some(w) = lts_warning(kver) {
            warnings.push(w);
        }
    }
    if arch.userspace_32bit && kver >= Kver::new(6, 2, 0) {
        return Err(GateError::Userspace32OnNewKernel { kver });
    }
    Ok(warnings)
}

/// A warning if `kver` is not an LTS branch, or is below its branch's
/// minimum sublevel.
pub fn lts_warning(kver: Kver) -> Option<String> {
    let branch = LTS_MINIMUMS
        .iter()
        .find(|m| m.major() == kver.major() && m.minor() == kver.minor());
    match branch {
        None => Some(format!(
            "kernel {kver} is not an LTS kernel (supported LTS branches: {})",
            LTS_MINIMUMS
                .iter()
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

    const K64: ArchFacts = ArchFacts {
        kernel_64bit: true,
        kernel_x86: false,
        userspace_32bit: false,
    };
    const X86_32: ArchFacts = ArchFacts {
        kernel_64bit: false,
        kernel_x86: true,
        userspace_32bit: true,
    };
    const X86_64: ArchFacts = ArchFacts {
        kernel_64bit: true,
        kernel_x86: true,
        userspace_32bit: false,
    };
    const ARM32: ArchFacts = ArchFacts {
        kernel_64bit: false,
        kernel_x86: false,
        userspace_32bit: true,
    };
    const ARM64_U32: ArchFacts = ArchFacts {
        kernel_64bit: true,
        kernel_x86: false,
        userspace_32bit: true,
    };

    fn k(a: u8, b: u8, c: u16) -> Kver {
        Kver::new(a, b, c)
    }

    #[test]
    fn refusals_table() {
        use GateError::*;
        let cases: &[(u32, Kver, ArchFacts, Option<GateError>)] = &[
            // API level below T.
            (31, k(6, 1, 57), K64, Some(ApiTooOld { api: 31, min: 33 })),
            (32, k(6, 1, 57), K64, Some(ApiTooOld { api: 32, min: 33 })),
            // Kernel minimums: T 4.9, U 4.14, V 4.19.
            (33, k(4, 9, 0), K64, None),
            (
                33,
                k(4, 4, 302),
                K64,
                Some(KernelTooOld {
                    kver: k(4, 4, 302),
                    api: 33,
                    min: k(4, 9, 0),
                }),
            ),
            (
                34,
                k(4, 9, 337),
                K64,
                Some(KernelTooOld {
                    kver: k(4, 9, 337),
                    api: 34,
                    min: k(4, 14, 0),
                }),
            ),
            (34, k(4, 14, 0), K64, None),
            (
                35,
                k(4, 14, 336),
                K64,
                Some(KernelTooOld {
                    kver: k(4, 14, 336),
                    api: 35,
                    min: k(4, 19, 0),
                }),
            ),
            (35, k(4, 19, 236), K64, None),
            (
                10_000,
                k(4, 14, 0),
                K64,
                Some(KernelTooOld {
                    kver: k(4, 14, 0),
                    api: 10_000,
                    min: k(4, 19, 0),
                }),
            ),
            // V+ refuses a 32-bit x86 kernel; T/U do not.
            (35, k(5, 4, 186), X86_32, Some(X86_32Kernel { api: 35 })),
            (34, k(5, 4, 186), X86_32, None),
            (35, k(6, 1, 57), X86_64, None),
            // 32-bit userspace on 6.2+.
            (34, k(6, 1, 57), ARM32, None),
            (
                34,
                k(6, 2, 0),
                ARM64_U32,
                Some(Userspace32OnNewKernel { kver: k(6, 2, 0) }),
            ),
            (
                33,
                k(6, 6, 0),
                ARM32,
                Some(Userspace32OnNewKernel { kver: k(6, 6, 0) }),
            ),
            (35, k(6, 1, 99), ARM64_U32, None),
        ];
        for (api, kver, arch, want) in cases {
            let got = check(*api, *kver, *arch);
            match want {
                Some(e) => assert_eq!(
                    got.as_ref().err(),
                    Some(e),
                    "api {api} kernel {kver} {arch:?}"
                ),
                None => assert!(got.is_ok(), "api {api} kernel {kver} {arch:?}: {got:?}"),
            }
        }
    }

    #[test]
    fn lts_warnings_only_on_v() {
        let cases: &[(u32, Kver, bool)] = &[
            (35, k(4, 19, 236), false),
            (35, k(4, 19, 235), true),
            (35, k(5, 4, 186), false),
            (35, k(5, 4, 185), true),
            (35, k(5, 10, 199), false),
            (35, k(5, 10, 198), true),
            (35, k(5, 15, 136), false),
            (35, k(5, 15, 135), true),
            (35, k(6, 1, 57), false),
            (35, k(6, 1, 56), true),
            (35, k(6, 6, 0), false),
            (35, k(6, 12, 0), false),
            (35, k(5, 11, 0), true),
            (35, k(6, 18, 44), true),
            (10_000, k(6, 18, 44), true),
            // Below V nothing is said about LTS.
            (34, k(6, 18, 44), false),
            (33, k(4, 19, 1), false),
        ];
        for (api, kver, warns) in cases {
            let w = check(*api, *kver, K64).expect("not refused");
            assert_eq!(!w.is_empty(), *warns, "api {api} kernel {kver}: {w:?}");
        }
        assert_eq!(
            lts_warning(k(6, 1, 56)).as_deref(),
            Some("kernel 6.1.56 is below the minimum 6.1.57 of its LTS branch")
        );
    }

    #[test]
    fn arch_from_machine() {
        let a = ArchFacts::from_machine("x86_64");
        assert!(a.kernel_64bit && a.kernel_x86);
        let a = ArchFacts::from_machine("i686");
        assert!(!a.kernel_64bit && a.kernel_x86);
        let a = ArchFacts::from_machine("aarch64");
        assert!(a.kernel_64bit && !a.kernel_x86);
        let a = ArchFacts::from_machine("armv7l");
        assert!(!a.kernel_64bit && !a.kernel_x86);
        assert_eq!(
            ArchFacts::from_machine("x86_64").userspace_32bit,
            cfg!(target_pointer_width = "32")
        );
    }

    #[test]
    fn min_kernel_per_release() {
        assert_eq!(min_kernel(33), k(4, 9, 0));
        assert_eq!(min_kernel(34), k(4, 14, 0));
        assert_eq!(min_kernel(35), k(4, 19, 0));
        assert_eq!(min_kernel(36), k(4, 19, 0));
    }
}
