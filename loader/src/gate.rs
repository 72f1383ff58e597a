//! Pure gating decisions: which objects, maps and programs apply to this
//! loader version, kernel, build type and architecture.

use crate::spec::{IgnoreOn, Kver, MapDef, ObjectSpec, ProgDef};
use aya_obj::generated::bpf_map_type;
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
    /// This loader's version (42..=47 for the mainline loader).
    pub loader_ver: u32,
    /// Running kernel version.
    pub kver: Kver,
    /// Build type.
    pub build_type: BuildType,
    /// Architecture.
    pub arch: Arch,
}

impl Arch {
    /// The architecture the `ignore_on_*` bits see on this machine: the
    /// userspace architecture this binary was built for (Arm, x86, riscv),
    /// with `uname().machine` deciding the kernel bitness (a 32-bit loader may
    /// run on a 64-bit kernel), as the reference does.
    pub fn from_uname_machine(machine: &str) -> Arch {
        let kernel_64 = machine.contains("64");
        if cfg!(any(target_arch = "arm", target_arch = "aarch64")) {
            if kernel_64 {
                Arch::Aarch64
            } else {
                Arch::Arm32
            }
        } else if cfg!(any(target_arch = "x86", target_arch = "x86_64")) {
            if kernel_64 {
                Arch::X86_64
            } else {
                Arch::X86_32
            }
        } else if cfg!(target_arch = "riscv64") {
            Arch::Riscv64
        } else {
            Arch::Other
        }
    }
}

impl std::fmt::Display for BuildType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BuildType::Eng => "eng",
            BuildType::User => "user",
            BuildType::Userdebug => "userdebug",
        })
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Arch::Arm32 => "arm32",
            Arch::Aarch64 => "aarch64",
            Arch::X86_32 => "x86_32",
            Arch::X86_64 => "x86_64",
            Arch::Riscv64 => "riscv64",
            Arch::Other => "other",
        })
    }
}

/// Why an object, map or program is not loaded here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "gate", rename_all = "snake_case")]
pub enum SkipReason {
    /// The loader version is outside `[min, max)`.
    LoaderVersion {
        /// This loader's version.
        ver: u32,
        /// Inclusive minimum.
        min: u32,
        /// Exclusive maximum.
        max: u32,
    },
    /// The kernel version is outside `[min, max)`.
    Kernel {
        /// Running kernel.
        kver: Kver,
        /// Inclusive minimum.
        min: Kver,
        /// Exclusive maximum.
        max: Kver,
    },
    /// `ignore_on_<build type>` is set.
    BuildType(BuildType),
    /// `ignore_on_<arch>` is set.
    Arch(Arch),
    /// The map type needs a newer kernel than this one (LPM_TRIE below 4.14).
    MapTypeUnsupported {
        /// `enum bpf_map_type`.
        map_type: u32,
        /// Running kernel.
        kver: Kver,
    },
    /// The object's `netbpfload_min_ver` is above this loader's version.
    NetbpfloadMinVer {
        /// This loader's version.
        ver: u32,
        /// The object's minimum.
        min: u32,
    },
    /// The section's prefix is not a program type this loader knows; it is
    /// ignored, as Android's loaders ignore it.
    NotAProgram,
    /// An optional program the kernel refused (the object still loads).
    OptionalFailed {
        /// The errno of the refusal.
        errno: i32,
    },
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::LoaderVersion { ver, min, max } => {
                write!(f, "loader version {ver} not in [{min}, {max})")
            }
            SkipReason::Kernel { kver, min, max } => {
                write!(f, "kernel {kver} not in [{min}, {max})")
            }
            SkipReason::BuildType(b) => write!(f, "ignore_on_{b} on a {b} build"),
            SkipReason::Arch(a) => write!(f, "ignore_on_{a} on {a}"),
            SkipReason::MapTypeUnsupported { map_type, kver } => {
                write!(f, "map type {map_type} unsupported on kernel {kver}")
            }
            SkipReason::NetbpfloadMinVer { ver, min } => {
                write!(f, "loader version {ver} below netbpfload_min_ver {min}")
            }
            SkipReason::NotAProgram => {
                write!(f, "section prefix not known to this loader; ignored")
            }
            SkipReason::OptionalFailed { errno } => write!(
                f,
                "optional program refused by the kernel ({})",
                std::io::Error::from_raw_os_error(*errno)
            ),
        }
    }
}

fn loader_gate(ver: u32, min: u32, max: u32) -> Option<SkipReason> {
    (!(min <= ver && ver < max)).then_some(SkipReason::LoaderVersion { ver, min, max })
}

fn kernel_gate(kver: Kver, min: Kver, max: Kver) -> Option<SkipReason> {
    (!(min <= kver && kver < max)).then_some(SkipReason::Kernel { kver, min, max })
}

fn build_type_gate(b: BuildType, ignore: IgnoreOn) -> Option<SkipReason> {
    let hit = match b {
        BuildType::Eng => ignore.eng,
        BuildType::User => ignore.user,
        BuildType::Userdebug => ignore.userdebug,
    };
    hit.then_some(SkipReason::BuildType(b))
}

fn arch_gate(a: Arch, ignore: IgnoreOn) -> Option<SkipReason> {
    let hit = match a {
        Arch::Arm32 => ignore.arm32,
        Arch::Aarch64 => ignore.aarch64,
        Arch::X86_32 => ignore.x86_32,
        Arch::X86_64 => ignore.x86_64,
        Arch::Riscv64 => ignore.riscv64,
        Arch::Other => false,
    };
    hit.then_some(SkipReason::Arch(a))
}

/// Whole-object gate: the object's `[bpfloader_min_ver, bpfloader_max_ver)`.
pub fn object_gate(env: &GateEnv, obj: &ObjectSpec) -> Option<SkipReason> {
    loader_gate(env.loader_ver, obj.bpfloader_min_ver, obj.bpfloader_max_ver)
}

/// Which per-map and per-program gates a loader applies (the kernel range
/// always applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Gates {
    /// Loader-version ranges.
    pub loader_version: bool,
    /// `ignore_on_{eng,user,userdebug}`.
    pub build_type: bool,
    /// `ignore_on_<arch>`.
    pub arch: bool,
    /// LPM_TRIE maps are skipped below 4.14.
    pub lpm_trie: bool,
}

impl Gates {
    /// Every gate (the checks of a plain `gate` call).
    pub const ALL: Gates = Gates {
        loader_version: true,
        build_type: true,
        arch: true,
        lpm_trie: true,
    };
}

/// Map gate, in Android's order: loader version, kernel version, build
/// type, architecture, then map types the kernel cannot create; each only
/// if `gates` has it.
pub fn map_gate(env: &GateEnv, def: &MapDef, gates: Gates) -> Option<SkipReason> {
    gates
        .loader_version
        .then(|| loader_gate(env.loader_ver, def.bpfloader_min_ver, def.bpfloader_max_ver))
        .flatten()
        .or_else(|| kernel_gate(env.kver, def.min_kver, def.max_kver))
        .or_else(|| {
            gates
                .build_type
                .then(|| build_type_gate(env.build_type, def.ignore_on))
                .flatten()
        })
        .or_else(|| {
            gates
                .arch
                .then(|| arch_gate(env.arch, def.ignore_on))
                .flatten()
        })
        .or_else(|| {
            (gates.lpm_trie
                && def.map_type == bpf_map_type::BPF_MAP_TYPE_LPM_TRIE as u32
                && env.kver < Kver::new(4, 14, 0))
            .then_some(SkipReason::MapTypeUnsupported {
                map_type: def.map_type,
                kver: env.kver,
            })
        })
}

/// Program gate, in Android's order: kernel version, loader version,
/// build type, architecture; each but the kernel only if `gates` has it.
pub fn prog_gate(env: &GateEnv, def: &ProgDef, gates: Gates) -> Option<SkipReason> {
    kernel_gate(env.kver, def.min_kver, def.max_kver)
        .or_else(|| {
            gates
                .loader_version
                .then(|| loader_gate(env.loader_ver, def.bpfloader_min_ver, def.bpfloader_max_ver))
                .flatten()
        })
        .or_else(|| {
            gates
                .build_type
                .then(|| build_type_gate(env.build_type, def.ignore_on))
                .flatten()
        })
        .or_else(|| {
            gates
                .arch
                .then(|| arch_gate(env.arch, def.ignore_on))
                .flatten()
        })
}

/// Whether a map of this type gets BTF key/value type ids (every type but
/// DEVMAP_HASH and RINGBUF, as Android's 2025 loader does).
pub fn map_takes_btf(map_type: u32) -> bool {
    map_type != bpf_map_type::BPF_MAP_TYPE_DEVMAP_HASH as u32
        && map_type != bpf_map_type::BPF_MAP_TYPE_RINGBUF as u32
}

/// The map type actually created: DEVMAP becomes ARRAY below 4.14 and
/// DEVMAP_HASH becomes HASH below 5.4 (the kernels lacking them), as the
/// reference does so that the pin exists with a usable map.
pub fn effective_map_type(kver: Kver, map_type: u32) -> u32 {
    if map_type == bpf_map_type::BPF_MAP_TYPE_DEVMAP as u32 && kver < Kver::new(4, 14, 0) {
        bpf_map_type::BPF_MAP_TYPE_ARRAY as u32
    } else if map_type == bpf_map_type::BPF_MAP_TYPE_DEVMAP_HASH as u32 && kver < Kver::new(5, 4, 0)
    {
        bpf_map_type::BPF_MAP_TYPE_HASH as u32
    } else {
        map_type
    }
}

/// `max_entries` actually created: a ring buffer must be at least one page.
pub fn effective_max_entries(map_type: u32, max_entries: u32, page_size: u32) -> u32 {
    if map_type == bpf_map_type::BPF_MAP_TYPE_RINGBUF as u32 && max_entries < page_size {
        page_size
    } else {
        max_entries
    }
}

/// Whether `BPF_MAP_CREATE`/`BPF_PROG_LOAD` take an object name: the
/// `map_name`/`prog_name` fields appeared in 4.15, and an older kernel
/// rejects a non-zero byte past the attr it knows with `E2BIG`.
pub fn kernel_takes_object_names(kver: Kver) -> bool {
    kver >= Kver::new(4, 15, 0)
}

/// Whether the loader checks maps and programs through
/// `BPF_OBJ_GET_INFO_BY_FD`; like the reference, only from 4.14 on.
pub fn kernel_has_obj_info(kver: Kver) -> bool {
    kver >= Kver::new(4, 14, 0)
}

/// Device maps, on which the kernel itself sets `BPF_F_RDONLY_PROG`.
pub fn is_devmap(map_type: u32) -> bool {
    map_type == bpf_map_type::BPF_MAP_TYPE_DEVMAP as u32
        || map_type == bpf_map_type::BPF_MAP_TYPE_DEVMAP_HASH as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Domain, DEFAULT_BPFLOADER_MAX_VER, DEFAULT_MAX_KVER};

    const ARRAY: u32 = bpf_map_type::BPF_MAP_TYPE_ARRAY as u32;

    fn env() -> GateEnv {
        GateEnv {
            loader_ver: 45,
            kver: Kver::new(6, 18, 0),
            build_type: BuildType::Userdebug,
            arch: Arch::X86_64,
        }
    }

    fn map_def() -> MapDef {
        MapDef {
            map_type: ARRAY,
            key_size: 4,
            value_size: 4,
            max_entries: 1,
            map_flags: 0,
            zero: 0,
            gid: 0,
            mode: 0o600,
            bpfloader_min_ver: 0,
            bpfloader_max_ver: DEFAULT_BPFLOADER_MAX_VER,
            min_kver: Kver(0),
            max_kver: Kver(DEFAULT_MAX_KVER),
            selinux_context: Domain::Unspecified,
            pin_subdir: Domain::Unspecified,
            raw_domains: Default::default(),
            shared: false,
            ignore_on: IgnoreOn::default(),
            uid: 0,
        }
    }

    fn prog_def() -> ProgDef {
        ProgDef {
            uid: 0,
            gid: 0,
            min_kver: Kver(0),
            max_kver: Kver(DEFAULT_MAX_KVER),
            optional: false,
            ignore_on: IgnoreOn::default(),
            bpfloader_min_ver: 0,
            bpfloader_max_ver: DEFAULT_BPFLOADER_MAX_VER,
            selinux_context: Domain::Unspecified,
            pin_subdir: Domain::Unspecified,
            raw_domains: Default::default(),
        }
    }

    #[test]
    fn defaults_pass() {
        assert_eq!(map_gate(&env(), &map_def(), Gates::ALL), None);
        assert_eq!(prog_gate(&env(), &prog_def(), Gates::ALL), None);
    }

    #[test]
    fn kernel_range_is_half_open() {
        let mut d = map_def();
        d.min_kver = Kver::new(7, 0, 0);
        let r = map_gate(&env(), &d, Gates::ALL);
        assert_eq!(
            r.as_ref().map(ToString::to_string).as_deref(),
            Some("kernel 6.18.0 not in [7.0.0, inf)")
        );
        d.min_kver = Kver::new(6, 18, 0);
        assert_eq!(map_gate(&env(), &d, Gates::ALL), None, "min is inclusive");
        d.max_kver = Kver::new(6, 18, 0);
        assert!(
            matches!(
                map_gate(&env(), &d, Gates::ALL),
                Some(SkipReason::Kernel { .. })
            ),
            "max is exclusive"
        );
        let mut p = prog_def();
        p.max_kver = Kver::new(5, 10, 0);
        assert_eq!(
            prog_gate(&env(), &p, Gates::ALL)
                .map(|r| r.to_string())
                .as_deref(),
            Some("kernel 6.18.0 not in [0.0.0, 5.10.0)")
        );
    }

    #[test]
    fn loader_range_is_half_open() {
        let mut d = map_def();
        d.bpfloader_min_ver = 46;
        assert_eq!(
            map_gate(&env(), &d, Gates::ALL)
                .map(|r| r.to_string())
                .as_deref(),
            Some("loader version 45 not in [46, 65536)")
        );
        d.bpfloader_min_ver = 45;
        assert_eq!(map_gate(&env(), &d, Gates::ALL), None);
        d.bpfloader_max_ver = 45;
        assert!(matches!(
            map_gate(&env(), &d, Gates::ALL),
            Some(SkipReason::LoaderVersion { .. })
        ));
        let mut p = prog_def();
        p.bpfloader_max_ver = 45;
        assert!(matches!(
            prog_gate(&env(), &p, Gates::ALL),
            Some(SkipReason::LoaderVersion { .. })
        ));
    }

    #[test]
    fn build_type_bits() {
        for (bits, bt) in [
            (0x01, BuildType::Eng),
            (0x02, BuildType::User),
            (0x04, BuildType::Userdebug),
        ] {
            let e = GateEnv {
                build_type: bt,
                ..env()
            };
            let mut d = map_def();
            d.ignore_on = IgnoreOn::from_bits(bits);
            assert_eq!(
                map_gate(&e, &d, Gates::ALL),
                Some(SkipReason::BuildType(bt))
            );
            // The other build types are not affected.
            d.ignore_on = IgnoreOn::from_bits(0x07 & !bits);
            assert_eq!(map_gate(&e, &d, Gates::ALL), None);
            let mut p = prog_def();
            p.ignore_on = IgnoreOn::from_bits(bits);
            assert_eq!(
                prog_gate(&e, &p, Gates::ALL),
                Some(SkipReason::BuildType(bt))
            );
        }
        assert_eq!(
            SkipReason::BuildType(BuildType::User).to_string(),
            "ignore_on_user on a user build"
        );
    }

    #[test]
    fn arch_bits() {
        for (bits, arch) in [
            (0x08, Arch::Arm32),
            (0x10, Arch::Aarch64),
            (0x20, Arch::X86_32),
            (0x40, Arch::X86_64),
            (0x80, Arch::Riscv64),
        ] {
            let e = GateEnv { arch, ..env() };
            let mut p = prog_def();
            p.ignore_on = IgnoreOn::from_bits(bits);
            assert_eq!(prog_gate(&e, &p, Gates::ALL), Some(SkipReason::Arch(arch)));
            p.ignore_on = IgnoreOn::from_bits(0xF8 & !bits);
            assert_eq!(prog_gate(&e, &p, Gates::ALL), None);
            let mut d = map_def();
            d.ignore_on = IgnoreOn::from_bits(bits);
            assert_eq!(map_gate(&e, &d, Gates::ALL), Some(SkipReason::Arch(arch)));
        }
        let mut p = prog_def();
        p.ignore_on = IgnoreOn::from_bits(0xF8);
        let other = GateEnv {
            arch: Arch::Other,
            ..env()
        };
        assert_eq!(prog_gate(&other, &p, Gates::ALL), None);
    }

    #[test]
    fn gate_order_follows_reference() {
        // Map: loader version is checked before the kernel version.
        let mut d = map_def();
        d.bpfloader_min_ver = 99;
        d.min_kver = Kver::new(9, 0, 0);
        d.ignore_on = IgnoreOn::from_bits(0xFF);
        assert!(matches!(
            map_gate(&env(), &d, Gates::ALL),
            Some(SkipReason::LoaderVersion { .. })
        ));
        // Program: the kernel version is checked before the loader version.
        let mut p = prog_def();
        p.bpfloader_min_ver = 99;
        p.min_kver = Kver::new(9, 0, 0);
        p.ignore_on = IgnoreOn::from_bits(0xFF);
        assert!(matches!(
            prog_gate(&env(), &p, Gates::ALL),
            Some(SkipReason::Kernel { .. })
        ));
        p.min_kver = Kver(0);
        assert!(matches!(
            prog_gate(&env(), &p, Gates::ALL),
            Some(SkipReason::LoaderVersion { .. })
        ));
        p.bpfloader_min_ver = 0;
        assert!(matches!(
            prog_gate(&env(), &p, Gates::ALL),
            Some(SkipReason::BuildType(_))
        ));
    }

    #[test]
    fn lpm_trie_needs_4_14() {
        let mut d = map_def();
        d.map_type = bpf_map_type::BPF_MAP_TYPE_LPM_TRIE as u32;
        let old = GateEnv {
            kver: Kver::new(4, 9, 0),
            ..env()
        };
        assert!(matches!(
            map_gate(&old, &d, Gates::ALL),
            Some(SkipReason::MapTypeUnsupported { .. })
        ));
        let no_lpm = Gates {
            lpm_trie: false,
            ..Gates::ALL
        };
        assert_eq!(
            map_gate(&old, &d, no_lpm),
            None,
            "Android 15 has no such gate"
        );
        assert_eq!(map_gate(&env(), &d, Gates::ALL), None);
    }

    #[test]
    fn devmap_substitution() {
        let devmap = bpf_map_type::BPF_MAP_TYPE_DEVMAP as u32;
        let devmap_hash = bpf_map_type::BPF_MAP_TYPE_DEVMAP_HASH as u32;
        let hash = bpf_map_type::BPF_MAP_TYPE_HASH as u32;
        assert_eq!(effective_map_type(Kver::new(4, 9, 0), devmap), ARRAY);
        assert_eq!(effective_map_type(Kver::new(4, 14, 0), devmap), devmap);
        assert_eq!(effective_map_type(Kver::new(4, 19, 0), devmap_hash), hash);
        assert_eq!(
            effective_map_type(Kver::new(5, 4, 0), devmap_hash),
            devmap_hash
        );
        assert_eq!(effective_map_type(Kver::new(4, 9, 0), hash), hash);
    }

    #[test]
    fn ringbuf_at_least_a_page() {
        let rb = bpf_map_type::BPF_MAP_TYPE_RINGBUF as u32;
        assert_eq!(effective_max_entries(rb, 1024, 4096), 4096);
        assert_eq!(effective_max_entries(rb, 0, 16384), 16384);
        assert_eq!(effective_max_entries(rb, 1 << 20, 4096), 1 << 20);
        assert_eq!(effective_max_entries(ARRAY, 1, 4096), 1);
    }

    #[test]
    fn object_gate_range() {
        let obj = ObjectSpec {
            name: "o".into(),
            license: "GPL".into(),
            critical: None,
            bpfloader_min_ver: 46,
            bpfloader_max_ver: DEFAULT_BPFLOADER_MAX_VER,
            size_of_bpf_map_def: 120,
            size_of_bpf_prog_def: 92,
            maps: vec![],
            programs: vec![],
            warnings: vec![],
            netbpfload_min_ver: None,
            bpfloader_min_required_ver: None,
            present: Default::default(),
            btf: None,
            libbpf: None,
        };
        assert!(object_gate(&env(), &obj).is_some());
        let e = GateEnv {
            loader_ver: 46,
            ..env()
        };
        assert_eq!(object_gate(&e, &obj), None);
    }

    #[test]
    fn arch_detection_uses_kernel_bitness() {
        // The userspace architecture is fixed at build time; the kernel's
        // `uname().machine` only decides 32 or 64 bits.
        let (k64, k32) = if cfg!(any(target_arch = "x86", target_arch = "x86_64")) {
            (Arch::X86_64, Arch::X86_32)
        } else if cfg!(any(target_arch = "arm", target_arch = "aarch64")) {
            (Arch::Aarch64, Arch::Arm32)
        } else if cfg!(target_arch = "riscv64") {
            (Arch::Riscv64, Arch::Riscv64)
        } else {
            (Arch::Other, Arch::Other)
        };
        assert_eq!(Arch::from_uname_machine("x86_64"), k64);
        assert_eq!(Arch::from_uname_machine("aarch64"), k64);
        assert_eq!(Arch::from_uname_machine("i686"), k32);
        assert_eq!(Arch::from_uname_machine("armv8l"), k32);
    }
}
