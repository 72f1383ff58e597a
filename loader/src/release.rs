//! One table per Android release: every rule in which the loaders of
//! Android 15 (V) and of the 2025 main branch (25Q2) differ, for both roles
//! (the mainline `netbpfload` and the platform `bpfloader` it executes).
//!
//! Nothing else in the crate asks "which release is this?": the boot flow,
//! the planner and the reports read the [`Rules`] of the release in force.
//! `docs/android-release-rules.md` says where each rule comes from.

use crate::gate::Gates;
use crate::section::SectionTable;
use crate::spec::{Domain, Kver};
use aya_obj::generated::bpf_prog_type;
use serde::Serialize;

/// An Android release whose loaders this one reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Release {
    /// Android 15 ("V", API level 35), as shipped.
    V,
    /// The 2025 main branch, quarterly release 25Q2 (API level 36).
    #[serde(rename = "25q2")]
    R25Q2,
}

/// Which loader of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// `netbpfload` from the tethering APEX (mainline objects).
    Mainline,
    /// `/system/bin/bpfloader` (platform and vendor objects).
    Platform,
}

/// API level of Android 13 (T).
pub const API_T: u32 = 33;
/// API level of Android 14 (U).
pub const API_U: u32 = 34;
/// API level of Android 15 (V).
pub const API_V: u32 = 35;
/// API level of the 2025 release (25Q2).
pub const API_25Q2: u32 = 36;
/// API level of an unreleased platform (`ro.build.version.codename` != `REL`).
pub const API_FUTURE: u32 = 10_000;

/// The loader version of an S-era NetBpfLoad; each later step adds one.
pub const BASE_LOADER_VERSION: u32 = 42;

impl Release {
    /// Every supported release, oldest first.
    pub const ALL: [Release; 2] = [Release::V, Release::R25Q2];

    /// The release whose rules apply on a device of `api_level`: API 36 and
    /// later (including an unreleased platform) follow 25Q2, anything older
    /// follows Android 15 (on T and U the loader also runs with these rules,
    /// but leaves the rest of the chain to the platform's own loader).
    pub fn for_api_level(api_level: u32) -> Release {
        if api_level >= API_25Q2 {
            Release::R25Q2
        } else {
            Release::V
        }
    }

    /// Parses `v` / `25q2` (the `--release` values).
    pub fn parse(s: &str) -> Option<Release> {
        match s.to_ascii_lowercase().as_str() {
            "v" | "15" | "android15" => Some(Release::V),
            "25q2" | "b" | "16" | "android16" => Some(Release::R25Q2),
            _ => None,
        }
    }

    /// Short name, as `--release` takes it.
    pub const fn short(self) -> &'static str {
        match self {
            Release::V => "v",
            Release::R25Q2 => "25q2",
        }
    }

    /// Human name.
    pub const fn name(self) -> &'static str {
        match self {
            Release::V => "Android 15 (V)",
            Release::R25Q2 => "Android 2025 main (25Q2)",
        }
    }

    /// The rules of this release.
    pub const fn rules(self) -> &'static Rules {
        match self {
            Release::V => &V,
            Release::R25Q2 => &R25Q2,
        }
    }

    /// The mainline loader's version on a device of `api_level`, running as
    /// root or not: 42, plus one for each of T, U, "running as root" (the
    /// U QPR3 step), V, and (25Q2 only) API 36.
    pub fn loader_version(self, api_level: u32, as_root: bool) -> u32 {
        let mut v = BASE_LOADER_VERSION
            + u32::from(api_level >= API_T)
            + u32::from(api_level >= API_U)
            + u32::from(as_root && api_level >= API_U)
            + u32::from(api_level >= API_V);
        if self == Release::R25Q2 {
            v += u32::from(api_level >= API_25Q2);
        }
        v
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a release does when an object fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Only an object carrying a `critical` section fails the boot.
    CriticalOnly,
    /// Every failing object fails the boot.
    Any,
}

/// How `size_of_bpf_map_def` / `size_of_bpf_prog_def` are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordSizes {
    /// Honoured: older, shorter records get defaults, newer, longer ones
    /// are truncated.
    Compatible,
    /// The size sections are not read: records are always the current
    /// 120/92 bytes.
    Exact,
}

impl RecordSizes {
    /// How the parser lays the records out under this rule.
    pub const fn records(self) -> crate::parse::Records {
        match self {
            RecordSizes::Exact => crate::parse::Records::Fixed,
            RecordSizes::Compatible => crate::parse::Records::Declared,
        }
    }
}

/// What an unknown `selinux_context` / `pin_subdir` string does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownDomain {
    /// Treated as unspecified, with a warning.
    Unspecified,
    /// The object fails.
    Fail,
}

/// Which program types a location accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgTypes {
    /// Every type of the role's section table.
    All,
    /// Only these `enum bpf_prog_type` values; a program of another type
    /// fails the whole object ("not permitted here").
    Only(&'static [u32]),
}

impl ProgTypes {
    /// Whether `prog_type` may be loaded there.
    pub fn allows(self, prog_type: u32) -> bool {
        match self {
            ProgTypes::All => true,
            ProgTypes::Only(types) => types.contains(&prog_type),
        }
    }
}

/// What an object without a `progs` section does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgsSection {
    /// It fails.
    Required,
    /// It loads (maps only) if its `bpfloader_min_ver` is at least 42,
    /// else it fails.
    OptionalFrom42,
}

/// Whether libbpf-style objects (BTF-defined `.maps`, libbpf program
/// section names, CO-RE relocations; see [`crate::libbpf`]) are loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "libbpf", content = "reason")]
pub enum LibbpfObjects {
    /// Loaded with the pin naming and reuse rules of Android objects.
    Accepted,
    /// The object fails, with this reason.
    Refused(&'static str),
}

/// What the loader runs on: a device running the Android release, or a
/// Linux board (the `load` command anywhere, the boot flow off Android)
/// that follows the release's rules for Android objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Host {
    /// An Android device: exactly the release's loaders.
    Android,
    /// A Linux board: the release's rules, plus what Android's loaders of
    /// that release lack and a board needs (libbpf-style objects).
    Board,
}

impl Host {
    /// The host this binary is built for: [`Host::Android`] on Android,
    /// [`Host::Board`] elsewhere.
    pub const fn current() -> Host {
        if cfg!(target_os = "android") {
            Host::Android
        } else {
            Host::Board
        }
    }
}

/// Android 15: neither loader reads anything but `maps`/`progs` objects.
const LIBBPF_V: LibbpfObjects = LibbpfObjects::Refused(
    "libbpf-style objects are not loaded by Android 15's loaders (they read only objects \
     with Android's maps/progs sections)",
);
/// 25Q2: no libbpf path either; the experimental one is later (see
/// `docs/android-release-rules.md`, "libbpf objects").
const LIBBPF_25Q2: LibbpfObjects = LibbpfObjects::Refused(
    "libbpf-style objects are not loaded by Android 25Q2's loaders (NetBpfLoad's \
     experimental libbpf path came later, behind the use_libbpf flag, and still needs \
     Android's .android_maps/.android_progs definitions)",
);

/// What the mainline loader executes once its locations are loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUp {
    /// `/system/bin/bpfloader`.
    PlatformLoader,
    /// `/apex/com.android.uprobestats/bin/uprobestatsbpfload` if it exists,
    /// else `/system/bin/bpfloader`.
    UprobestatsThenPlatform,
}

/// One location: where objects are read from and where they are pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocationRule {
    /// Absolute directory on the device.
    pub dir: &'static str,
    /// Prefix under the bpffs root (`""` or ending in `/`).
    pub prefix: &'static str,
    /// Program types accepted there.
    pub prog_types: ProgTypes,
}

const fn loc(dir: &'static str, prefix: &'static str) -> LocationRule {
    LocationRule {
        dir,
        prefix,
        prog_types: ProgTypes::All,
    }
}

/// The rules of one role of one release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleRules {
    /// The role.
    pub role: Role,
    /// Locations, in load order.
    pub locations: &'static [LocationRule],
    /// Program section prefixes recognised.
    pub sections: SectionTable,
    /// Record-size rule.
    pub record_sizes: RecordSizes,
    /// An object without a `progs` section.
    pub progs_section: ProgsSection,
    /// `map_name` is passed to the kernel from this version on.
    pub map_name_min_kernel: Kver,
    /// `prog_name` is passed to the kernel from this version on.
    pub prog_name_min_kernel: Kver,
    /// The gates applied (the loader-version one also to the whole object).
    pub gates: Gates,
    /// The object sections `netbpfload_min_ver` (skip) and
    /// `bpfloader_min_required_ver` (fail) are read.
    pub object_min_versions: bool,
    /// `bpfloader_min_ver` / `bpfloader_max_ver` sections must be present.
    pub version_sections_required: bool,
    /// `pin_subdir` is honoured (else ignored: the location prefix is used).
    pub pin_subdir: bool,
    /// `selinux_context` is honoured (else ignored: pins are created in
    /// their final directory).
    pub selinux_context: bool,
    /// Domains whose strings are recognised.
    pub domains: &'static [Domain],
    /// An unknown `selinux_context` string.
    pub unknown_selinux_context: UnknownDomain,
    /// An unknown `pin_subdir` string.
    pub unknown_pin_subdir: UnknownDomain,
    /// A program's domain strings are checked before its gates (so an
    /// unknown one fails the object even when the program is gated out).
    pub prog_domains_before_gates: bool,
    /// Which failures fail the boot.
    pub failure: FailurePolicy,
    /// Exit status of a boot-failing failure.
    pub critical_exit: i32,
    /// BTF for maps: loaded on kernels at or above this version.
    pub btf_min_kernel: Option<Kver>,
    /// On those kernels an object with maps but no `.BTF` fails.
    pub btf_required: bool,
    /// A program with no JITed image fails (`ENOTSUP`) from this loader
    /// version on.
    pub jited_len_min_version: Option<u32>,
    /// libbpf-style objects.
    pub libbpf: LibbpfObjects,
}

/// The rules of one release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The release.
    pub release: Release,
    /// The mainline loader.
    pub mainline: RoleRules,
    /// The platform loader.
    pub platform: RoleRules,
    /// `<bpffs>/netd_shared/mainline_done` is created once the mainline
    /// locations are loaded (netd waits for it).
    pub mainline_done: bool,
    /// The first line of the platform's `netbpfload.rc` must carry these
    /// five numbers (`# 2025 2 36 0 0 # …`).
    pub rc_header: Option<[u32; 5]>,
    /// Kernels below this version are refused (exit 1); the per-API
    /// minimums (4.9 T, 4.14 U, 4.19 V) only warn.
    pub fatal_min_kernel: Option<Kver>,
    /// The kernel must be 64-bit.
    pub requires_64bit_kernel: bool,
    /// The LTS branches and the sublevel below which a V+ device is warned.
    pub lts: &'static [Kver],
    /// What the mainline loader executes when it is done (as root).
    pub follow_up: FollowUp,
    /// Wear devices and those that first shipped on API ≤ 33 may run 32-bit
    /// Arm userspace on kernel 6.2+ (with a warning).
    pub arm32_userspace_exemptions: bool,
    /// The mainline role's rules on a Linux board ([`Host::Board`]).
    pub board_mainline: RoleRules,
    /// The platform role's rules on a Linux board.
    pub board_platform: RoleRules,
}

impl Rules {
    /// The rules of `role`.
    pub const fn role(&self, role: Role) -> &RoleRules {
        match role {
            Role::Mainline => &self.mainline,
            Role::Platform => &self.platform,
        }
    }

    /// The rules of `role` on `host`: on a board, the Android rules plus
    /// libbpf-style objects (the one place they differ).
    pub const fn role_on(&self, role: Role, host: Host) -> &RoleRules {
        match (host, role) {
            (Host::Android, _) => self.role(role),
            (Host::Board, Role::Mainline) => &self.board_mainline,
            (Host::Board, Role::Platform) => &self.board_platform,
        }
    }
}

const APEX: &str = "/apex/com.android.tethering/etc/bpf";

/// Mainline networking prefixes (NetBpfLoad's table), in match order.
const NET_PREFIXES: &[&str] = &[
    "bind4/",
    "bind6/",
    "cgroupskb/",
    "cgroupsock/",
    "cgroupsockcreate/",
    "cgroupsockrelease/",
    "connect4/",
    "connect6/",
    "egress/",
    "getsockopt/",
    "ingress/",
    "postbind4/",
    "postbind6/",
    "recvmsg4/",
    "recvmsg6/",
    "schedact/",
    "schedcls/",
    "sendmsg4/",
    "sendmsg6/",
    "setsockopt/",
    "skfilter/",
    "sockops/",
    "sysctl",
    "xdp/",
];

/// Android 15's NetBpfLoad table: the networking prefixes plus `lwt_*`,
/// without `cgroupsockcreate/` and `cgroupsockrelease/`.
const V_MAINLINE_PREFIXES: &[&str] = &[
    "bind4/",
    "bind6/",
    "cgroupskb/",
    "cgroupsock/",
    "connect4/",
    "connect6/",
    "egress/",
    "getsockopt/",
    "ingress/",
    "lwt_in/",
    "lwt_out/",
    "lwt_seg6local/",
    "lwt_xmit/",
    "postbind4/",
    "postbind6/",
    "recvmsg4/",
    "recvmsg6/",
    "schedact/",
    "schedcls/",
    "sendmsg4/",
    "sendmsg6/",
    "setsockopt/",
    "skfilter/",
    "sockops/",
    "sysctl",
    "xdp/",
];

/// The platform loader's table (tracing and socket filters; its `fuse/`
/// entry is not supported: the type is only known at run time).
const PLATFORM_PREFIXES: &[&str] = &[
    "kprobe/",
    "kretprobe/",
    "perf_event/",
    "skfilter/",
    "tracepoint/",
    "uprobe/",
    "uretprobe/",
];

/// Every domain string NetBpfLoad of 25Q2 knows.
const DOMAINS_25Q2: &[Domain] = &[
    Domain::Unspecified,
    Domain::Tethering,
    Domain::NetPrivate,
    Domain::NetShared,
    Domain::NetdReadonly,
    Domain::NetdShared,
    Domain::Loader,
];
/// Android 15 has no `loader` domain.
const DOMAINS_V: &[Domain] = &[
    Domain::Unspecified,
    Domain::Tethering,
    Domain::NetPrivate,
    Domain::NetShared,
    Domain::NetdReadonly,
    Domain::NetdShared,
];

const KPROBE: u32 = bpf_prog_type::BPF_PROG_TYPE_KPROBE as u32;
const PERF_EVENT: u32 = bpf_prog_type::BPF_PROG_TYPE_PERF_EVENT as u32;
const SOCKET_FILTER: u32 = bpf_prog_type::BPF_PROG_TYPE_SOCKET_FILTER as u32;
const TRACEPOINT: u32 = bpf_prog_type::BPF_PROG_TYPE_TRACEPOINT as u32;

const PLATFORM_LOCATIONS: &[LocationRule] = &[
    LocationRule {
        dir: "/system/etc/bpf/",
        prefix: "",
        prog_types: ProgTypes::Only(&[KPROBE, PERF_EVENT, SOCKET_FILTER, TRACEPOINT]),
    },
    LocationRule {
        dir: "/system/etc/bpf/uprobestats/",
        prefix: "uprobestats/",
        prog_types: ProgTypes::Only(&[KPROBE]),
    },
    LocationRule {
        dir: "/vendor/etc/bpf/",
        prefix: "vendor/",
        prog_types: ProgTypes::Only(&[SOCKET_FILTER]),
    },
];

/// Android 15's LTS branches with the sublevel below which it warns.
const LTS_V: &[Kver] = &[
    Kver::new(4, 4, 0),
    Kver::new(4, 9, 0),
    Kver::new(4, 14, 0),
    Kver::new(4, 19, 236),
    Kver::new(5, 4, 186),
    Kver::new(5, 10, 199),
    Kver::new(5, 15, 136),
    Kver::new(6, 1, 57),
    Kver::new(6, 6, 0),
];
/// 25Q2 adds 6.12.
const LTS_25Q2: &[Kver] = &[
    Kver::new(4, 4, 0),
    Kver::new(4, 9, 0),
    Kver::new(4, 14, 0),
    Kver::new(4, 19, 236),
    Kver::new(5, 4, 186),
    Kver::new(5, 10, 199),
    Kver::new(5, 15, 136),
    Kver::new(6, 1, 57),
    Kver::new(6, 6, 0),
    Kver::new(6, 12, 0),
];

const PLATFORM: RoleRules = RoleRules {
    role: Role::Platform,
    locations: PLATFORM_LOCATIONS,
    sections: SectionTable {
        prefixes: PLATFORM_PREFIXES,
    },
    record_sizes: RecordSizes::Exact,
    progs_section: ProgsSection::Required,
    map_name_min_kernel: Kver::new(4, 14, 0),
    prog_name_min_kernel: Kver::new(4, 14, 0),
    gates: Gates {
        loader_version: false,
        build_type: false,
        arch: false,
        lpm_trie: false,
    },
    object_min_versions: false,
    version_sections_required: false,
    pin_subdir: false,
    selinux_context: false,
    domains: DOMAINS_25Q2,
    unknown_selinux_context: UnknownDomain::Unspecified,
    unknown_pin_subdir: UnknownDomain::Unspecified,
    prog_domains_before_gates: false,
    failure: FailurePolicy::CriticalOnly,
    critical_exit: 120,
    btf_min_kernel: None,
    btf_required: false,
    jited_len_min_version: None,
    libbpf: LIBBPF_V,
};

/// The 25Q2 platform loader: as Android 15's, no libbpf path.
const PLATFORM_25Q2: RoleRules = RoleRules {
    libbpf: LIBBPF_25Q2,
    ..PLATFORM
};

/// Android 15's mainline loader.
const V_MAINLINE: RoleRules = RoleRules {
    role: Role::Mainline,
    locations: &[
        loc("/apex/com.android.tethering/etc/bpf/", "tethering/"),
        loc(
            "/apex/com.android.tethering/etc/bpf/netd_shared/",
            "netd_shared/",
        ),
        loc(
            "/apex/com.android.tethering/etc/bpf/netd_readonly/",
            "netd_readonly/",
        ),
        loc(
            "/apex/com.android.tethering/etc/bpf/net_shared/",
            "net_shared/",
        ),
        loc(
            "/apex/com.android.tethering/etc/bpf/net_private/",
            "net_private/",
        ),
    ],
    sections: SectionTable {
        prefixes: V_MAINLINE_PREFIXES,
    },
    record_sizes: RecordSizes::Compatible,
    progs_section: ProgsSection::Required,
    map_name_min_kernel: Kver::new(4, 15, 0),
    prog_name_min_kernel: Kver::new(4, 14, 0),
    gates: Gates {
        lpm_trie: false,
        ..Gates::ALL
    },
    object_min_versions: true,
    version_sections_required: false,
    pin_subdir: true,
    selinux_context: true,
    domains: DOMAINS_V,
    unknown_selinux_context: UnknownDomain::Unspecified,
    unknown_pin_subdir: UnknownDomain::Fail,
    prog_domains_before_gates: false,
    failure: FailurePolicy::CriticalOnly,
    critical_exit: 2,
    btf_min_kernel: None,
    btf_required: false,
    jited_len_min_version: None,
    libbpf: LIBBPF_V,
};

static V: Rules = Rules {
    release: Release::V,
    mainline: V_MAINLINE,
    platform: PLATFORM,
    mainline_done: true,
    rc_header: None,
    fatal_min_kernel: None,
    requires_64bit_kernel: false,
    lts: LTS_V,
    follow_up: FollowUp::PlatformLoader,
    arm32_userspace_exemptions: false,
    board_mainline: board(V_MAINLINE),
    board_platform: board(PLATFORM),
};

/// The 25Q2 mainline loader.
const R25Q2_MAINLINE: RoleRules = RoleRules {
    role: Role::Mainline,
    locations: &[
        loc(
            "/apex/com.android.tethering/etc/bpf/tethering/",
            "tethering/",
        ),
        loc(
            "/apex/com.android.tethering/etc/bpf/netd_shared/",
            "netd_shared/",
        ),
        loc(
            "/apex/com.android.tethering/etc/bpf/netd_readonly/",
            "netd_readonly/",
        ),
        loc(
            "/apex/com.android.tethering/etc/bpf/net_shared/",
            "net_shared/",
        ),
        loc(
            "/apex/com.android.tethering/etc/bpf/net_private/",
            "net_private/",
        ),
    ],
    sections: SectionTable {
        prefixes: NET_PREFIXES,
    },
    record_sizes: RecordSizes::Exact,
    progs_section: ProgsSection::OptionalFrom42,
    map_name_min_kernel: Kver::new(4, 15, 0),
    prog_name_min_kernel: Kver::new(4, 15, 0),
    gates: Gates::ALL,
    object_min_versions: false,
    version_sections_required: true,
    pin_subdir: true,
    selinux_context: true,
    domains: DOMAINS_25Q2,
    unknown_selinux_context: UnknownDomain::Fail,
    unknown_pin_subdir: UnknownDomain::Fail,
    prog_domains_before_gates: true,
    failure: FailurePolicy::Any,
    critical_exit: 2,
    btf_min_kernel: Some(Kver::new(5, 10, 0)),
    btf_required: true,
    jited_len_min_version: Some(47),
    libbpf: LIBBPF_25Q2,
};

static R25Q2: Rules = Rules {
    release: Release::R25Q2,
    mainline: R25Q2_MAINLINE,
    platform: PLATFORM_25Q2,
    mainline_done: true,
    rc_header: Some([2025, 2, 36, 0, 0]),
    fatal_min_kernel: Some(Kver::new(5, 4, 0)),
    requires_64bit_kernel: true,
    lts: LTS_25Q2,
    follow_up: FollowUp::UprobestatsThenPlatform,
    arm32_userspace_exemptions: true,
    board_mainline: board(R25Q2_MAINLINE),
    board_platform: board(PLATFORM_25Q2),
};

/// `rules` on a Linux board: libbpf-style objects are accepted.
const fn board(rules: RoleRules) -> RoleRules {
    RoleRules {
        libbpf: LibbpfObjects::Accepted,
        ..rules
    }
}

/// The APEX root of the mainline objects (for staging trees and messages).
pub const APEX_BPF_ROOT: &str = APEX;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_versions() {
        // Android 15 as shipped: 42 + T + U + root + V.
        assert_eq!(Release::V.loader_version(35, true), 46);
        assert_eq!(Release::V.loader_version(35, false), 45);
        assert_eq!(Release::V.loader_version(34, true), 45);
        assert_eq!(Release::V.loader_version(33, true), 43);
        assert_eq!(Release::R25Q2.loader_version(36, true), 47);
        assert_eq!(Release::R25Q2.loader_version(API_FUTURE, true), 47);
        assert_eq!(Release::for_api_level(35), Release::V);
        assert_eq!(Release::for_api_level(36), Release::R25Q2);
        assert_eq!(Release::for_api_level(API_FUTURE), Release::R25Q2);
        assert_eq!(Release::for_api_level(34), Release::V);
    }

    #[test]
    fn libbpf_objects_are_refused_by_android_and_accepted_on_a_board_only() {
        for r in Release::ALL {
            for role in [Role::Mainline, Role::Platform] {
                let android = r.rules().role(role);
                let board = r.rules().role_on(role, Host::Board);
                assert!(
                    matches!(android.libbpf, LibbpfObjects::Refused(why) if why.contains(match r {
                        Release::V => "Android 15",
                        Release::R25Q2 => "25Q2",
                    })),
                    "{r:?} {role:?}"
                );
                assert_eq!(r.rules().role_on(role, Host::Android), android);
                assert_eq!(board.libbpf, LibbpfObjects::Accepted);
                // The one difference.
                assert_eq!(
                    *board,
                    RoleRules {
                        libbpf: LibbpfObjects::Accepted,
                        ..*android
                    },
                    "{r:?} {role:?}"
                );
            }
        }
        assert_eq!(
            Host::current(),
            if cfg!(target_os = "android") {
                Host::Android
            } else {
                Host::Board
            }
        );
    }

    #[test]
    fn tables_differ_where_the_releases_do() {
        let v = Release::V.rules();
        let q = Release::R25Q2.rules();
        assert_eq!(
            v.mainline.locations[0].dir,
            "/apex/com.android.tethering/etc/bpf/"
        );
        assert_eq!(
            q.mainline.locations[0].dir,
            "/apex/com.android.tethering/etc/bpf/tethering/"
        );
        assert!(v.mainline.sections.lookup("tracepoint/x").is_none());
        assert!(v.mainline.sections.lookup("cgroupsockrelease/x").is_none());
        assert!(q.mainline.sections.lookup("cgroupsockrelease/x").is_some());
        assert!(v.mainline.sections.lookup("lwt_in/x").is_some());
        assert!(q.mainline.sections.lookup("lwt_in/x").is_none());
        assert!(v.platform.sections.lookup("schedcls/x").is_none());
        assert!(v.platform.sections.lookup("tracepoint/x").is_some());
        assert_eq!(v.mainline.failure, FailurePolicy::CriticalOnly);
        assert_eq!(q.mainline.failure, FailurePolicy::Any);
        assert!(!v.mainline.domains.contains(&Domain::Loader));
        assert!(q.mainline.domains.contains(&Domain::Loader));
        for r in Release::ALL {
            for l in r
                .rules()
                .mainline
                .locations
                .iter()
                .chain(r.rules().platform.locations)
            {
                assert!(l.dir.ends_with('/'), "{l:?}");
                assert!(l.prefix.is_empty() || l.prefix.ends_with('/'), "{l:?}");
            }
            assert!(r
                .rules()
                .mainline
                .locations
                .iter()
                .all(|l| l.dir.starts_with(APEX)));
        }
    }
}
