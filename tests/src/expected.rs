//! What a correct boot chain pins, computed from a declarative model of the
//! corpus and of the Android releases' loader rules.
//!
//! [`CORPUS`] is transcribed by hand from the C sources
//! (`bpf-progs/src/progs/*.c`, the `DEFINE_BPF_*` lines and the macros'
//! defaults in `bpf-progs/include/`) and `bpf-progs/README.md`: every map and
//! program with its type, sizes, flags, owner, mode, gates and domains,
//! whether the verifier accepts it (the corpus rejects on purpose, and says
//! so in the source) and what a loader using BTF makes of the object. The
//! rules [`expected`] applies are transcribed from the reference
//! (`docs/android-release-rules.md`, cited by section below), per
//! [`Release`] and per loader role, for one [`Platform`] (release, kernel,
//! loader version, build type, architecture) and one [`Layout`] (which
//! object sits in which location). Nothing here is read from a loader's
//! output or from the loader crate's tables, so a loader bug cannot leak
//! into the expectations.
//!
//! The rules (mainline = the APEX's `netbpfload`, platform = the
//! follow-up `/system/bin/bpfloader`):
//! - a program is a code section whose name starts with a prefix of its
//!   role's table (§3): Android 15's mainline table has no
//!   `cgroupsockrelease/`, 2025 main's no `lwt_*`, the platform's only
//!   tracing prefixes and `skfilter/`; other sections are ignored;
//! - mainline: an object is skipped whole when the loader version is
//!   outside its `[bpfloader_min_ver, bpfloader_max_ver)` (§5); a map or
//!   program applies when the loader version and the kernel are inside its
//!   half-open ranges and no `ignore_on_*` bit names the build type or the
//!   architecture (§6); 2025 main also skips LPM_TRIE maps below 4.14 and
//!   accepts only 120/92-byte records (§4);
//! - platform: no version of any kind is read, only kernel gates apply,
//!   `pin_subdir`/`selinux_context` are ignored, records must be 120/92
//!   bytes, and a program of a type its location does not allow fails the
//!   object (§2.2, §6);
//! - a map pin is `<dir>map_<obj>_<name>` (`<dir>map__<name>` when shared),
//!   a program pin `<dir>prog_<obj>_<section cut at the last '$', '/' → '_'>`,
//!   `<dir>` being the `pin_subdir` if set (mainline), else the location
//!   prefix, and `<obj>` the file name cut at the last `.`, then at the last
//!   `@` (§7);
//! - of alternatives with one pin name (`$4_14`/`$5_10`, `$opt`/`$stub`),
//!   the first that applies and that the verifier accepts takes the pin; an
//!   optional program the verifier rejects is skipped (§9);
//! - 2025 main's mainline on kernels >= 5.10 types every map it creates but
//!   DEVMAP_HASH and RINGBUF with the object's BTF; an object whose BTF or
//!   `____btf_map_*` annotation it cannot use fails; without BTF an
//!   SK_STORAGE map cannot be created and its object fails (§8);
//! - a mandatory program the verifier rejects fails its object, which then
//!   leaves no pin (our rollback rule); a failure that counts (a critical
//!   object's on Android 15 and on the platform, any object's on 2025 main's
//!   mainline) stops the boot after its location (§10);
//! - the mainline loader creates every mainline prefix and `loader/` first,
//!   and `netd_shared/mainline_done` once its locations loaded; the
//!   platform loader creates each location's prefix just before loading it
//!   (§11); directories are 01777;
//! - maps are pinned with their own owner and mode, programs `0440` with
//!   theirs; the kernel reports `BPF_F_RDONLY_PROG` on device maps, and
//!   DEVMAP_HASH is created as HASH before 5.4; a ring buffer is at least
//!   one page (§6, §8). Kernels are assumed to have the JIT on (2025 main
//!   fails a program without a JITed image, §9).

use std::collections::{BTreeMap, BTreeSet};

/// `KVER(a, b, c)` as the C headers and the loader encode kernel versions.
pub const fn kver(a: u32, b: u32, c: u32) -> u32 {
    (a << 24) + (b << 16) + c
}

/// `KVER_INF`: no upper bound, or as a minimum "never".
pub const KVER_INF: u32 = 0xFFFF_FFFF;
/// Default `bpfloader_max_ver` (0x10000, "v1.0").
pub const LOADER_MAX: u32 = 0x10000;
/// Mode of every program pin.
pub const PROG_PIN_MODE: u32 = 0o440;
/// Mode of every directory the loaders create under the bpffs root.
pub const DIR_MODE: u32 = 0o1777;
/// Directory the mainline loader creates once its locations loaded.
pub const MAINLINE_DONE: &str = "netd_shared/mainline_done";

/// `enum bpf_map_type` values (UAPI).
pub mod map_type {
    /// BPF_MAP_TYPE_HASH.
    pub const HASH: u32 = 1;
    /// BPF_MAP_TYPE_ARRAY.
    pub const ARRAY: u32 = 2;
    /// BPF_MAP_TYPE_PERCPU_HASH.
    pub const PERCPU_HASH: u32 = 5;
    /// BPF_MAP_TYPE_PERCPU_ARRAY.
    pub const PERCPU_ARRAY: u32 = 6;
    /// BPF_MAP_TYPE_LPM_TRIE.
    pub const LPM_TRIE: u32 = 11;
    /// BPF_MAP_TYPE_DEVMAP.
    pub const DEVMAP: u32 = 14;
    /// BPF_MAP_TYPE_SK_STORAGE.
    pub const SK_STORAGE: u32 = 24;
    /// BPF_MAP_TYPE_DEVMAP_HASH.
    pub const DEVMAP_HASH: u32 = 25;
    /// BPF_MAP_TYPE_RINGBUF.
    pub const RINGBUF: u32 = 27;
}

/// `enum bpf_prog_type` values (UAPI).
pub mod prog_type {
    /// BPF_PROG_TYPE_SOCKET_FILTER.
    pub const SOCKET_FILTER: u32 = 1;
    /// BPF_PROG_TYPE_KPROBE.
    pub const KPROBE: u32 = 2;
    /// BPF_PROG_TYPE_SCHED_CLS.
    pub const SCHED_CLS: u32 = 3;
    /// BPF_PROG_TYPE_SCHED_ACT.
    pub const SCHED_ACT: u32 = 4;
    /// BPF_PROG_TYPE_TRACEPOINT.
    pub const TRACEPOINT: u32 = 5;
    /// BPF_PROG_TYPE_XDP.
    pub const XDP: u32 = 6;
    /// BPF_PROG_TYPE_PERF_EVENT.
    pub const PERF_EVENT: u32 = 7;
    /// BPF_PROG_TYPE_CGROUP_SKB.
    pub const CGROUP_SKB: u32 = 8;
    /// BPF_PROG_TYPE_CGROUP_SOCK.
    pub const CGROUP_SOCK: u32 = 9;
    /// BPF_PROG_TYPE_CGROUP_SOCK_ADDR.
    pub const CGROUP_SOCK_ADDR: u32 = 18;
    /// BPF_PROG_TYPE_CGROUP_SOCKOPT.
    pub const CGROUP_SOCKOPT: u32 = 25;
}

/// `BPF_F_NO_PREALLOC`.
pub const BPF_F_NO_PREALLOC: u32 = 1;
/// `BPF_F_RDONLY_PROG`, set by the kernel on device maps.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;

/// Android ids used as owners.
pub mod aid {
    /// AID_ROOT.
    pub const ROOT: u32 = 0;
    /// AID_SYSTEM.
    pub const SYSTEM: u32 = 1000;
    /// AID_NETWORK_STACK.
    pub const NETWORK_STACK: u32 = 1073;
    /// AID_NET_ADMIN.
    pub const NET_ADMIN: u32 = 3005;
    /// AID_NET_BW_STATS.
    pub const NET_BW_STATS: u32 = 3006;
    /// AID_NET_BW_ACCT.
    pub const NET_BW_ACCT: u32 = 3007;
}

/// `ignore_on_*` bits (the on-disk bit-field byte: eng, user, userdebug,
/// arm32, aarch64, x86_32, x86_64, riscv64 from bit 0).
pub mod ignore {
    /// ignore_on_eng.
    pub const ENG: u8 = 1 << 0;
    /// ignore_on_user.
    pub const USER: u8 = 1 << 1;
    /// ignore_on_userdebug.
    pub const USERDEBUG: u8 = 1 << 2;
    /// ignore_on_arm32.
    pub const ARM32: u8 = 1 << 3;
    /// ignore_on_aarch64.
    pub const AARCH64: u8 = 1 << 4;
    /// ignore_on_x86_32.
    pub const X86_32: u8 = 1 << 5;
    /// ignore_on_x86_64.
    pub const X86_64: u8 = 1 << 6;
    /// ignore_on_riscv64.
    pub const RISCV64: u8 = 1 << 7;
}

/// `ro.build.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildType {
    /// eng.
    Eng,
    /// user.
    User,
    /// userdebug.
    Userdebug,
}

/// The architecture the `ignore_on_*` bits see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// 32-bit Arm.
    Arm32,
    /// 64-bit Arm.
    Aarch64,
    /// 32-bit x86.
    X86_32,
    /// 64-bit x86.
    X86_64,
    /// riscv64.
    Riscv64,
}

/// An Android release whose loaders the chain reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Release {
    /// Android 15 (API 35).
    V,
    /// 2025 main, 25Q2 (API 36).
    R25Q2,
}

/// Android 15's mainline section prefixes (§3): lwt, no cgroupsockcreate/release.
const V_MAINLINE_SECTIONS: &[&str] = &[
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
/// 25Q2's mainline section prefixes (§3): cgroupsockcreate/release, no lwt.
const Q2_MAINLINE_SECTIONS: &[&str] = &[
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
/// The platform loader's section prefixes (§3).
const PLATFORM_SECTIONS: &[&str] = &[
    "kprobe/",
    "kretprobe/",
    "perf_event/",
    "skfilter/",
    "tracepoint/",
    "uprobe/",
    "uretprobe/",
];

impl Release {
    /// The mainline loader's version running as root on the release's own
    /// API level (§1): 42 + T + U + root + V = 46, and 47 on API 36.
    pub const fn loader_version(self) -> u32 {
        match self {
            Release::V => 46,
            Release::R25Q2 => 47,
        }
    }

    /// The LTS branches and minimum sublevels of the V+ check (§11.1,
    /// §11.3): 25Q2 adds 6.12.
    pub fn lts(self) -> &'static [(u32, u32, u32)] {
        const V: &[(u32, u32, u32)] = &[
            (4, 4, 0),
            (4, 9, 0),
            (4, 14, 0),
            (4, 19, 236),
            (5, 4, 186),
            (5, 10, 199),
            (5, 15, 136),
            (6, 1, 57),
            (6, 6, 0),
        ];
        const Q2: &[(u32, u32, u32)] = &[
            (4, 4, 0),
            (4, 9, 0),
            (4, 14, 0),
            (4, 19, 236),
            (5, 4, 186),
            (5, 10, 199),
            (5, 15, 136),
            (6, 1, 57),
            (6, 6, 0),
            (6, 12, 0),
        ];
        match self {
            Release::V => V,
            Release::R25Q2 => Q2,
        }
    }

    fn sections(self, role: Role) -> &'static [&'static str] {
        match (role, self) {
            (Role::Platform, _) => PLATFORM_SECTIONS,
            (Role::Mainline, Release::V) => V_MAINLINE_SECTIONS,
            (Role::Mainline, Release::R25Q2) => Q2_MAINLINE_SECTIONS,
        }
    }
}

impl From<netbpfload::release::Release> for Release {
    fn from(r: netbpfload::release::Release) -> Release {
        match r {
            netbpfload::release::Release::V => Release::V,
            netbpfload::release::Release::R25Q2 => Release::R25Q2,
        }
    }
}

/// Everything the rules depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    /// The release whose loaders run.
    pub release: Release,
    /// The kernel as the loaders read it from `uname().release` (Debian's
    /// `6.1.0-50-amd64` is 6.1.0), `KVER` encoded ([`kver`]).
    pub kver: u32,
    /// Version of the mainline loader (the platform loader has none).
    pub loader_ver: u32,
    /// Build type.
    pub build_type: BuildType,
    /// Architecture.
    pub arch: Arch,
}

impl Platform {
    /// A device of `release` whose mainline loader runs as root (its usual
    /// version, [`Release::loader_version`]).
    pub fn new(release: Release, kver: u32, build_type: BuildType, arch: Arch) -> Platform {
        Platform {
            release,
            kver,
            loader_ver: release.loader_version(),
            build_type,
            arch,
        }
    }

    /// Whether the mainline loader types maps with BTF (§8).
    pub fn btf(&self) -> bool {
        self.release == Release::R25Q2 && self.kver >= K5_10
    }
}

/// Which loader runs a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// netbpfload, the tethering APEX's locations.
    Mainline,
    /// The follow-up `bpfloader`: `/system/etc/bpf/`, its `uprobestats/` and
    /// `/vendor/etc/bpf/`.
    Platform,
}

/// One location: its bpffs prefix and the objects in it, in load order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationModel {
    /// Which loader loads it.
    pub role: Role,
    /// Prefix under the bpffs root (`tethering/`, or `""` for `/system/etc/bpf/`).
    pub prefix: String,
    /// Program types the platform loader allows there (§2.2); `None`: all.
    pub prog_types: Option<&'static [u32]>,
    /// File names of the objects placed there (each in [`CORPUS`]).
    pub objects: Vec<&'static str>,
}

/// Where the objects are: the locations of both roles, in load order.
/// Android 15 and 2025 main keep the mainline objects in different
/// directories but pin them under the same prefixes, so one layout serves
/// both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Locations in load order (mainline ones first, then the platform ones).
    pub locations: Vec<LocationModel>,
}

impl Layout {
    /// Today's layout: the corpus's default placement (`bpf_progs::OBJECTS`,
    /// mainline prefixes in `bpf_progs::MAINLINE_PREFIXES` order), then the
    /// platform locations `""`, `uprobestats/` and `vendor/` (§2).
    pub fn current() -> Layout {
        use prog_type::{KPROBE, PERF_EVENT, SOCKET_FILTER, TRACEPOINT};
        const SYSTEM_TYPES: &[u32] = &[KPROBE, PERF_EVENT, SOCKET_FILTER, TRACEPOINT];
        let platform = [
            ("", SYSTEM_TYPES),
            ("uprobestats/", &[KPROBE][..]),
            ("vendor/", &[SOCKET_FILTER][..]),
        ];
        let mut locations: Vec<LocationModel> = bpf_progs::MAINLINE_PREFIXES
            .iter()
            .map(|p| LocationModel {
                role: Role::Mainline,
                prefix: (*p).to_string(),
                prog_types: None,
                objects: Vec::new(),
            })
            .chain(platform.iter().map(|(p, types)| LocationModel {
                role: Role::Platform,
                prefix: (*p).to_string(),
                prog_types: Some(*types),
                objects: Vec::new(),
            }))
            .collect();
        for o in bpf_progs::OBJECTS {
            let (role, prefix) = match o.location {
                Some(bpf_progs::Location::Mainline { prefix }) => (Role::Mainline, prefix),
                Some(bpf_progs::Location::Platform) => (Role::Platform, ""),
                None => continue,
            };
            if let Some(l) = locations
                .iter_mut()
                .find(|l| l.role == role && l.prefix == prefix)
            {
                l.objects.push(o.file_name);
            }
        }
        Layout { locations }
    }

    /// Adds `file_name` at the end of the location with `prefix`.
    pub fn place(mut self, role: Role, prefix: &str, file_name: &'static str) -> Layout {
        if let Some(l) = self
            .locations
            .iter_mut()
            .find(|l| l.role == role && l.prefix == prefix)
        {
            l.objects.push(file_name);
        } else {
            panic!("no {role:?} location {prefix:?} in the layout");
        }
        self
    }
}

/// Whether the verifier takes a program, as its source says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verifier {
    /// Verifier-clean on every kernel its gates allow.
    Accepts,
    /// Rejected on every kernel (written to be).
    Rejects,
}

/// What a loader typing maps with BTF makes of an object's `.BTF`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Btf {
    /// Usable: every map but DEVMAP_HASH and RINGBUF gets its
    /// `____btf_map_<name>` key/value types (every corpus object is built
    /// with `-g` and carries `.BTF`).
    Valid,
    /// Refused before anything is created (corrupt `.BTF`, or an annotation
    /// whose sizes differ from the definition).
    Refused,
}

/// One `struct bpf_map_def` of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapModel {
    /// Map name.
    pub name: &'static str,
    /// `enum bpf_map_type`.
    pub map_type: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// max_entries.
    pub max_entries: u32,
    /// map_flags as declared.
    pub map_flags: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Mode.
    pub mode: u32,
    /// `selinux_context` as a pin directory (`netd_shared/`), if any.
    pub selinux: Option<&'static str>,
    /// `pin_subdir`, if any.
    pub pin_subdir: Option<&'static str>,
    /// Shared (`map__<name>`).
    pub shared: bool,
    /// Kernel range `[min, max)`.
    pub kver: (u32, u32),
    /// Loader range `[min, max)`.
    pub loader: (u32, u32),
    /// `ignore_on_*` bits ([`ignore`]).
    pub ignore_on: u8,
    /// The kernel creates it only with BTF key/value types (SK_STORAGE).
    pub needs_btf: bool,
}

/// One program (`struct bpf_prog_def` plus its section) of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgModel {
    /// Section name, e.g. `schedcls/tether_downstream6_ether$5_10`.
    pub section: &'static str,
    /// `enum bpf_prog_type` the section names.
    pub prog_type: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Kernel range `[min, max)`.
    pub kver: (u32, u32),
    /// Loader range `[min, max)`.
    pub loader: (u32, u32),
    /// A load failure skips only this program.
    pub optional: bool,
    /// `selinux_context` as a pin directory, if any.
    pub selinux: Option<&'static str>,
    /// `pin_subdir`, if any.
    pub pin_subdir: Option<&'static str>,
    /// `ignore_on_*` bits.
    pub ignore_on: u8,
    /// What the verifier makes of it.
    pub verifier: Verifier,
}

/// One object of the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectModel {
    /// File name.
    pub file_name: &'static str,
    /// Object loader range `[bpfloader_min_ver, bpfloader_max_ver)`.
    pub loader: (u32, u32),
    /// Has a `critical` section.
    pub critical: bool,
    /// Size of its `struct bpf_map_def` (120 today; 32, 48, 116 for the
    /// legacy builds, whose prog defs are 20, 28, 92).
    pub record_abi: u32,
    /// Its `.BTF` as a BTF-using loader sees it.
    pub btf: Btf,
    /// Maps, in `maps` section order.
    pub maps: &'static [MapModel],
    /// Programs, in section order.
    pub progs: &'static [ProgModel],
}

const ALL_KERNELS: (u32, u32) = (0, KVER_INF);
const ALL_LOADERS: (u32, u32) = (0, LOADER_MAX);

/// A map with the macros' defaults: no domain, not shared, no gate.
const fn map(
    name: &'static str,
    map_type: u32,
    kvm: (u32, u32, u32),
    uid_gid_mode: (u32, u32, u32),
) -> MapModel {
    MapModel {
        name,
        map_type,
        key_size: kvm.0,
        value_size: kvm.1,
        max_entries: kvm.2,
        // BPF_MAP_DEFAULT_FLAGS: LPM_TRIE and SK_STORAGE get BPF_F_NO_PREALLOC.
        map_flags: if map_type == map_type::LPM_TRIE || map_type == map_type::SK_STORAGE {
            BPF_F_NO_PREALLOC
        } else {
            0
        },
        uid: uid_gid_mode.0,
        gid: uid_gid_mode.1,
        mode: uid_gid_mode.2,
        selinux: None,
        pin_subdir: None,
        shared: false,
        kver: ALL_KERNELS,
        loader: ALL_LOADERS,
        ignore_on: 0,
        needs_btf: false,
    }
}

impl MapModel {
    const fn flags(mut self, f: u32) -> Self {
        self.map_flags = f;
        self
    }
    const fn kernels(mut self, min: u32, max: u32) -> Self {
        self.kver = (min, max);
        self
    }
    const fn loaders(mut self, min: u32, max: u32) -> Self {
        self.loader = (min, max);
        self
    }
    const fn selinux(mut self, dir: &'static str) -> Self {
        self.selinux = Some(dir);
        self
    }
    const fn pin_subdir(mut self, dir: &'static str) -> Self {
        self.pin_subdir = Some(dir);
        self
    }
    const fn shared(mut self) -> Self {
        self.shared = true;
        self
    }
    const fn ignore_on(mut self, bits: u8) -> Self {
        self.ignore_on = bits;
        self
    }
    const fn needs_btf(mut self) -> Self {
        self.needs_btf = true;
        self
    }
}

/// A mandatory, verifier-clean program with no gate or domain.
const fn prog(section: &'static str, prog_type: u32, uid: u32, gid: u32) -> ProgModel {
    ProgModel {
        section,
        prog_type,
        uid,
        gid,
        kver: ALL_KERNELS,
        loader: ALL_LOADERS,
        optional: false,
        selinux: None,
        pin_subdir: None,
        ignore_on: 0,
        verifier: Verifier::Accepts,
    }
}

impl ProgModel {
    const fn kernels(mut self, min: u32, max: u32) -> Self {
        self.kver = (min, max);
        self
    }
    const fn loaders(mut self, min: u32, max: u32) -> Self {
        self.loader = (min, max);
        self
    }
    const fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
    const fn rejected(mut self) -> Self {
        self.verifier = Verifier::Rejects;
        self
    }
    const fn selinux(mut self, dir: &'static str) -> Self {
        self.selinux = Some(dir);
        self
    }
    const fn pin_subdir(mut self, dir: &'static str) -> Self {
        self.pin_subdir = Some(dir);
        self
    }
    const fn ignore_on(mut self, bits: u8) -> Self {
        self.ignore_on = bits;
        self
    }
}

use aid::{NETWORK_STACK, NET_ADMIN, NET_BW_ACCT, NET_BW_STATS, ROOT, SYSTEM};
use map_type::{
    ARRAY, DEVMAP_HASH, HASH, LPM_TRIE, PERCPU_ARRAY, PERCPU_HASH, RINGBUF, SK_STORAGE,
};
use prog_type::{
    CGROUP_SKB, CGROUP_SOCK, CGROUP_SOCKOPT, CGROUP_SOCK_ADDR, KPROBE, SCHED_ACT, SCHED_CLS,
    SOCKET_FILTER, TRACEPOINT, XDP,
};

const K4_14: u32 = kver(4, 14, 0);
const K5_4: u32 = kver(5, 4, 0);
const K5_10: u32 = kver(5, 10, 0);
const K5_15: u32 = kver(5, 15, 0);
const K6_1: u32 = kver(6, 1, 0);
const K6_6: u32 = kver(6, 6, 0);
const K6_12: u32 = kver(6, 12, 0);

/// `net_config_map` of netShared.h, declared identically by clatd.c and
/// dscpPolicy.c.
const NET_CONFIG_MAP: MapModel =
    map("net_config_map", ARRAY, (4, 4, 2), (ROOT, SYSTEM, 0o660)).shared();

/// Every object of the corpus, from its C source (one line per
/// `DEFINE_BPF_*`, hence no rustfmt).
#[rustfmt::skip]
pub static CORPUS: &[ObjectModel] = &[
    // offload.c, built as offload@mainline.o; BPFLOADER_MIN_VER = S (42).
    ObjectModel {
        file_name: "offload@mainline.o",
        loader: (42, LOADER_MAX),
        critical: true,
        record_abi: 120,
        btf: Btf::Valid,
        maps: &[
            map("tether_stats_map", HASH, (4, 48, 16), (ROOT, NETWORK_STACK, 0o660)),
            map("tether_limit_map", HASH, (4, 8, 16), (ROOT, NETWORK_STACK, 0o660)),
            map("tether_error_map", ARRAY, (4, 4, 8), (ROOT, NETWORK_STACK, 0o440)),
            map("tether_dev_map", DEVMAP_HASH, (4, 4, 64), (ROOT, NETWORK_STACK, 0o660)),
        ],
        progs: &[
            prog("schedcls/tether_downstream6_ether$4_14", SCHED_CLS, ROOT, NETWORK_STACK).kernels(K4_14, K5_10),
            prog("schedcls/tether_downstream6_ether$5_10", SCHED_CLS, ROOT, NETWORK_STACK).kernels(K5_10, KVER_INF),
            // Dereferences a HASH lookup without a NULL check.
            prog("schedcls/tether_upstream6_rawip$opt", SCHED_CLS, ROOT, NETWORK_STACK).optional().rejected(),
            prog("schedcls/tether_upstream6_rawip$stub", SCHED_CLS, ROOT, NETWORK_STACK),
            prog("xdp/tether_downstream_ether", XDP, ROOT, NETWORK_STACK).kernels(K5_10, KVER_INF),
        ],
    },
    // needsNewerLoader.c: BPFLOADER_MIN_VER = 0x10000.
    ObjectModel {
        file_name: "needsNewerLoader.o",
        loader: (LOADER_MAX, LOADER_MAX),
        critical: false,
        record_abi: 120,
        btf: Btf::Valid,
        maps: &[map("future_map", ARRAY, (4, 4, 1), (ROOT, ROOT, 0o600))],
        progs: &[prog("skfilter/future", SOCKET_FILTER, ROOT, SYSTEM)],
    },
    // netd.c; BPFLOADER_MIN_VER = T (43).
    ObjectModel {
        file_name: "netd.o",
        loader: (43, LOADER_MAX),
        critical: true,
        record_abi: 120,
        btf: Btf::Valid,
        maps: &[
            map("cookie_tag_map", HASH, (8, 8, 1024), (ROOT, NET_BW_ACCT, 0o660)).selinux("netd_shared/"),
            map("uid_owner_map", HASH, (4, 8, 2048), (ROOT, NET_BW_ACCT, 0o460)).selinux("netd_readonly/"),
            map("configuration_map", ARRAY, (4, 4, 2), (ROOT, NET_BW_ACCT, 0o060)).selinux("net_shared/"),
            map("iface_stats_map", PERCPU_HASH, (4, 32, 256), (ROOT, NET_BW_STATS, 0o640)),
            map("local_net_blocked_uid_map", HASH, (4, 1, 1000), (ROOT, NET_BW_ACCT, 0o660)).flags(BPF_F_NO_PREALLOC),
            map("local_net_access_map", LPM_TRIE, (12, 1, 1000), (ROOT, NETWORK_STACK, 0o660)),
            map("uid_permission_map", HASH, (4, 1, 1024), (ROOT, NET_BW_ACCT, 0o460)).selinux("netd_readonly/").pin_subdir("netd_readonly/"),
            map("iface_index_name_map", HASH, (4, 16, 256), (ROOT, SYSTEM, 0o640)).ignore_on(ignore::ARM32 | ignore::RISCV64),
            map("packet_trace_ringbuf", RINGBUF, (0, 0, 32768), (ROOT, SYSTEM, 0o660)).kernels(K5_10, KVER_INF),
            map("ingress_discard_map", HASH, (4, 8, 256), (ROOT, NET_BW_ACCT, 0o640)).kernels(K5_10, KVER_INF),
            map("pre_4_14_stats_map", ARRAY, (4, 8, 4), (ROOT, ROOT, 0o600)).kernels(0, K4_14),
            map("kver_inf_map", ARRAY, (4, 8, 4), (ROOT, ROOT, 0o600)).kernels(KVER_INF, KVER_INF),
            map("packet_trace_enabled_map", ARRAY, (4, 1, 1), (ROOT, SYSTEM, 0o660)).loaders(44, LOADER_MAX),
            map("next_loader_map", ARRAY, (4, 4, 1), (ROOT, ROOT, 0o600)).loaders(LOADER_MAX, LOADER_MAX),
            map("lock_array_test_map", ARRAY, (4, 4, 1), (ROOT, NET_BW_ACCT, 0o440)).ignore_on(ignore::USER),
        ],
        progs: &[
            prog("cgroupskb/ingress/stats$4_14", CGROUP_SKB, ROOT, SYSTEM).kernels(K4_14, K5_10),
            prog("cgroupskb/ingress/stats$5_10", CGROUP_SKB, ROOT, SYSTEM).kernels(K5_10, KVER_INF),
            prog("cgroupskb/egress/stats", CGROUP_SKB, ROOT, SYSTEM).kernels(K5_10, KVER_INF),
            prog("skfilter/ingress/xtbpf", SOCKET_FILTER, ROOT, NET_ADMIN).selinux("netd_readonly/").pin_subdir("netd_readonly/"),
            prog("skfilter/allowlist/xtbpf", SOCKET_FILTER, ROOT, NET_ADMIN).kernels(0, K4_14),
            prog("skfilter/denylist/xtbpf", SOCKET_FILTER, ROOT, NET_ADMIN).kernels(KVER_INF, KVER_INF),
            prog("skfilter/egress/xtbpf", SOCKET_FILTER, ROOT, NET_ADMIN).loaders(LOADER_MAX, LOADER_MAX),
            prog("schedact/ingress/account", SCHED_ACT, ROOT, NET_ADMIN),
            prog("cgroupsock/inet_create", CGROUP_SOCK, ROOT, ROOT),
            prog("bind4/inet4_bind", CGROUP_SOCK_ADDR, ROOT, ROOT),
            prog("bind6/inet6_bind", CGROUP_SOCK_ADDR, ROOT, ROOT),
            prog("connect4/inet4_connect", CGROUP_SOCK_ADDR, ROOT, ROOT),
            // Android 15 (loader 46) and later.
            prog("connect6/inet6_connect", CGROUP_SOCK_ADDR, ROOT, ROOT).loaders(46, LOADER_MAX),
            prog("recvmsg4/udp4_recvmsg", CGROUP_SOCK_ADDR, ROOT, ROOT).loaders(46, LOADER_MAX),
            // A prefix Android 15's table lacks: not a program there.
            prog("cgroupsockrelease/inet_release", CGROUP_SOCK, ROOT, ROOT).kernels(K5_10, KVER_INF).loaders(46, LOADER_MAX),
            prog("getsockopt/prog", CGROUP_SOCKOPT, ROOT, ROOT).kernels(K5_4, KVER_INF).loaders(46, LOADER_MAX),
        ],
    },
    // clatd.c (+ netShared.h); BPFLOADER_MIN_VER = T.
    ObjectModel {
        file_name: "clatd.o",
        loader: (43, LOADER_MAX),
        critical: true,
        record_abi: 120,
        btf: Btf::Valid,
        maps: &[
            NET_CONFIG_MAP,
            map("clat_ingress6_map", HASH, (36, 8, 16), (ROOT, SYSTEM, 0o660)),
            map("clat_egress4_map", HASH, (8, 40, 16), (ROOT, SYSTEM, 0o660)),
        ],
        progs: &[
            prog("schedcls/ingress6/clat_rawip", SCHED_CLS, ROOT, SYSTEM),
            prog("schedcls/egress4/clat_rawip", SCHED_CLS, ROOT, SYSTEM),
        ],
    },
    // dscpPolicy.c (+ netShared.h); BPFLOADER_MIN_VER = T.
    ObjectModel {
        file_name: "dscpPolicy.o",
        loader: (43, LOADER_MAX),
        critical: false,
        record_abi: 120,
        btf: Btf::Valid,
        maps: &[
            NET_CONFIG_MAP,
            map("socket_policy_cache_map", PERCPU_ARRAY, (4, 16, 1024), (ROOT, SYSTEM, 0)).selinux("loader/"),
            map("ipv4_dscp_policies_map", ARRAY, (4, 16, 16), (ROOT, SYSTEM, 0o660)),
        ],
        progs: &[prog("schedcls/set_dscp_ether", SCHED_CLS, ROOT, SYSTEM).kernels(K5_15, KVER_INF)],
    },
    // pktCount.c.
    ObjectModel {
        file_name: "pktCount.o",
        loader: ALL_LOADERS,
        critical: false,
        record_abi: 120,
        btf: Btf::Valid,
        maps: &[
            map("packet_count_map", ARRAY, (4, 8, 1), (ROOT, ROOT, 0o600)),
            map("two_entry_map", ARRAY, (4, 4, 2), (ROOT, SYSTEM, 0o660)),
        ],
        progs: &[prog("skfilter/count", SOCKET_FILTER, ROOT, SYSTEM)],
    },
    // verifierReject.c: skfilter/reject dereferences a lookup without a check.
    ObjectModel {
        file_name: "verifierReject.o",
        loader: ALL_LOADERS,
        critical: false,
        record_abi: 120,
        btf: Btf::Valid,
        maps: &[map("reject_seen_map", HASH, (4, 8, 16), (ROOT, ROOT, 0o600))],
        progs: &[
            prog("skfilter/accept", SOCKET_FILTER, ROOT, SYSTEM),
            prog("skfilter/reject", SOCKET_FILTER, ROOT, SYSTEM).rejected(),
        ],
    },
    // gateMatrix.c: one gate per LTS branch, and per architecture.
    ObjectModel {
        file_name: "gateMatrix.o",
        loader: ALL_LOADERS,
        critical: false,
        record_abi: 120,
        btf: Btf::Valid,
        maps: &[
            map("clock_map", ARRAY, (4, 8, 2), (ROOT, SYSTEM, 0o660)),
            map("before_6_1_map", ARRAY, (4, 8, 1), (ROOT, ROOT, 0o600)).kernels(K5_10, K6_1),
            map("since_6_1_map", HASH, (4, 4, 16), (ROOT, SYSTEM, 0o660)).kernels(K6_1, KVER_INF),
            map("since_6_6_map", HASH, (4, 4, 16), (ROOT, SYSTEM, 0o640)).kernels(K6_6, KVER_INF),
            map("not_on_aarch64_map", ARRAY, (4, 4, 1), (ROOT, ROOT, 0o600)).ignore_on(ignore::AARCH64),
        ],
        progs: &[
            prog("skfilter/clock$5_10", SOCKET_FILTER, ROOT, SYSTEM).kernels(K5_10, K6_1),
            prog("skfilter/clock$6_1", SOCKET_FILTER, ROOT, SYSTEM).kernels(K6_1, KVER_INF),
            prog("skfilter/before_6_1", SOCKET_FILTER, ROOT, SYSTEM).kernels(K5_10, K6_1),
            prog("skfilter/lts_6_1", SOCKET_FILTER, ROOT, SYSTEM).kernels(K6_1, K6_6),
            prog("skfilter/since_6_6", SOCKET_FILTER, ROOT, SYSTEM).kernels(K6_6, KVER_INF),
            prog("skfilter/since_6_12", SOCKET_FILTER, ROOT, SYSTEM).kernels(K6_12, KVER_INF),
            prog("skfilter/not_on_x86_64", SOCKET_FILTER, ROOT, SYSTEM).ignore_on(ignore::X86_64),
        ],
    },
    // schedTrace.c (platform location).
    ObjectModel {
        file_name: "schedTrace.o",
        loader: ALL_LOADERS,
        critical: false,
        record_abi: 120,
        btf: Btf::Valid,
        maps: &[
            map("cpu_pid_map", ARRAY, (4, 4, 1024), (ROOT, SYSTEM, 0o640)),
            map("switch_count_map", PERCPU_HASH, (4, 8, 4096), (ROOT, SYSTEM, 0o640)),
        ],
        progs: &[
            prog("tracepoint/sched/sched_switch", TRACEPOINT, ROOT, SYSTEM),
            prog("tracepoint/sched/sched_wakeup", TRACEPOINT, ROOT, SYSTEM).kernels(KVER_INF, KVER_INF),
        ],
    },
    // tcpProbe.c (platform location).
    ObjectModel {
        file_name: "tcpProbe.o",
        loader: ALL_LOADERS,
        critical: false,
        record_abi: 120,
        btf: Btf::Valid,
        maps: &[map("tcp_connect_count_map", PERCPU_ARRAY, (4, 8, 2), (ROOT, SYSTEM, 0o640))],
        progs: &[
            prog("kprobe/tcp_v4_connect", KPROBE, ROOT, SYSTEM),
            prog("kretprobe/tcp_v4_connect", KPROBE, ROOT, SYSTEM),
        ],
    },
    // criticalReject.c: critical, its only program is rejected.
    ObjectModel {
        file_name: "criticalReject.o",
        loader: ALL_LOADERS,
        critical: true,
        record_abi: 120,
        btf: Btf::Valid,
        maps: &[map("critical_seen_map", HASH, (4, 8, 16), (ROOT, ROOT, 0o600))],
        progs: &[prog("skfilter/critical_reject", SOCKET_FILTER, ROOT, SYSTEM).rejected()],
    },
    // skStorage.c: an SK_STORAGE map, which the kernel creates only with BTF
    // key/value types (main's BTF tests; not in the default layout).
    ObjectModel {
        file_name: "skStorage.o",
        loader: ALL_LOADERS,
        critical: false,
        record_abi: 120,
        btf: Btf::Valid,
        maps: &[
            map("sk_storage_map", SK_STORAGE, (4, 8, 0), (ROOT, SYSTEM, 0o660)).needs_btf(),
            map("sk_created_map", ARRAY, (4, 8, 1), (ROOT, SYSTEM, 0o640)),
        ],
        progs: &[prog("cgroupsock/sk_storage_stamp", CGROUP_SOCK, ROOT, SYSTEM).kernels(K5_15, KVER_INF)],
    },
    // btfMismatch.c: mismatch_map's ____btf_map annotation says 4/4, the
    // definition 4/8: a loader typing maps refuses the object.
    ObjectModel {
        file_name: "btfMismatch.o",
        loader: ALL_LOADERS,
        critical: false,
        record_abi: 120,
        btf: Btf::Refused,
        maps: &[
            map("typed_ok_map", HASH, (4, 8, 16), (ROOT, ROOT, 0o600)),
            map("mismatch_map", HASH, (4, 8, 16), (ROOT, ROOT, 0o600)),
        ],
        progs: &[prog("skfilter/mismatch", SOCKET_FILTER, ROOT, SYSTEM)],
    },
    // btfCorrupt.c: build.rs makes its .BTF unparsable (type 1, kind 31).
    ObjectModel {
        file_name: "btfCorrupt.o",
        loader: ALL_LOADERS,
        critical: false,
        record_abi: 120,
        btf: Btf::Refused,
        maps: &[map("corrupt_count_map", ARRAY, (4, 8, 1), (ROOT, ROOT, 0o600))],
        progs: &[prog("skfilter/corrupt_count", SOCKET_FILTER, ROOT, SYSTEM)],
    },
    // legacy.c with -DBPF_DEF_ABI=32: no version sections (defaults).
    ObjectModel {
        file_name: "legacyV0.o",
        loader: ALL_LOADERS,
        critical: false,
        record_abi: 32,
        btf: Btf::Valid,
        maps: &[map("legacy_count_map", ARRAY, (4, 8, 1), (ROOT, SYSTEM, 0o640))],
        progs: &[prog("skfilter/legacy_count", SOCKET_FILTER, ROOT, SYSTEM)],
    },
    // legacy.c with -DBPF_DEF_ABI=48.
    ObjectModel {
        file_name: "legacyS.o",
        loader: ALL_LOADERS,
        critical: false,
        record_abi: 48,
        btf: Btf::Valid,
        maps: &[
            map("legacy_count_map", ARRAY, (4, 8, 1), (ROOT, SYSTEM, 0o640)),
            map("legacy_pre_4_14_map", ARRAY, (4, 4, 1), (ROOT, SYSTEM, 0o640)).kernels(0, K4_14),
        ],
        progs: &[
            prog("skfilter/legacy_count", SOCKET_FILTER, ROOT, SYSTEM),
            prog("skfilter/legacy_never", SOCKET_FILTER, ROOT, SYSTEM).kernels(KVER_INF, KVER_INF),
        ],
    },
    // legacy.c with -DBPF_DEF_ABI=116.
    ObjectModel {
        file_name: "legacyT.o",
        loader: ALL_LOADERS,
        critical: false,
        record_abi: 116,
        btf: Btf::Valid,
        maps: &[
            map("legacy_count_map", ARRAY, (4, 8, 1), (ROOT, SYSTEM, 0o640)),
            map("legacy_pre_4_14_map", ARRAY, (4, 4, 1), (ROOT, SYSTEM, 0o640)).kernels(0, K4_14),
            map("legacy_shared_map", ARRAY, (4, 4, 2), (ROOT, SYSTEM, 0o660)).pin_subdir("net_private/").shared(),
        ],
        progs: &[
            prog("skfilter/legacy_count", SOCKET_FILTER, ROOT, SYSTEM),
            prog("skfilter/legacy_never", SOCKET_FILTER, ROOT, SYSTEM).kernels(KVER_INF, KVER_INF),
        ],
    },
];

/// The model of `file_name`.
pub fn object(file_name: &str) -> &'static ObjectModel {
    CORPUS
        .iter()
        .find(|o| o.file_name == file_name)
        .unwrap_or_else(|| panic!("{file_name} is not in expected::CORPUS"))
}

/// Object name used in pin paths: the file name cut at the last `.`, then
/// at the last `@`.
pub fn object_name(file_name: &str) -> &str {
    let base = file_name.rsplit_once('.').map_or(file_name, |(b, _)| b);
    base.rsplit_once('@').map_or(base, |(b, _)| b)
}

/// Pin name part of a section: cut at the last `$`, `/` replaced by `_`.
pub fn section_pin_name(section: &str) -> String {
    let base = section.rsplit_once('$').map_or(section, |(b, _)| b);
    base.replace('/', "_")
}

impl MapModel {
    /// Pin path relative to the bpffs root, for an object named `obj` in a
    /// location with `prefix` loaded by `role` (the platform loader ignores
    /// `pin_subdir`).
    pub fn pin(&self, role: Role, prefix: &str, obj: &str) -> String {
        let dir = match role {
            Role::Mainline => self.pin_subdir.unwrap_or(prefix),
            Role::Platform => prefix,
        };
        if self.shared {
            format!("{dir}map__{}", self.name)
        } else {
            format!("{dir}map_{obj}_{}", self.name)
        }
    }

    /// What the kernel reports for this map once created on `k`.
    pub fn in_kernel(&self, k: u32) -> MapAttrs {
        let map_type = if self.map_type == DEVMAP_HASH && k < K5_4 {
            HASH
        } else {
            self.map_type
        };
        let devmap = map_type == DEVMAP_HASH || map_type == map_type::DEVMAP;
        MapAttrs {
            map_type,
            key_size: self.key_size,
            value_size: self.value_size,
            // Every kernel of the matrix runs 4 KiB pages.
            max_entries: if map_type == RINGBUF {
                self.max_entries.max(4096)
            } else {
                self.max_entries
            },
            map_flags: if devmap {
                self.map_flags | BPF_F_RDONLY_PROG
            } else {
                self.map_flags
            },
        }
    }
}

impl ProgModel {
    /// Pin path relative to the bpffs root.
    pub fn pin(&self, role: Role, prefix: &str, obj: &str) -> String {
        let dir = match role {
            Role::Mainline => self.pin_subdir.unwrap_or(prefix),
            Role::Platform => prefix,
        };
        format!("{dir}prog_{obj}_{}", section_pin_name(self.section))
    }
}

fn in_range(v: u32, (min, max): (u32, u32)) -> bool {
    min <= v && v < max
}

fn ignored(bits: u8, p: &Platform) -> bool {
    let build = match p.build_type {
        BuildType::Eng => ignore::ENG,
        BuildType::User => ignore::USER,
        BuildType::Userdebug => ignore::USERDEBUG,
    };
    let arch = match p.arch {
        Arch::Arm32 => ignore::ARM32,
        Arch::Aarch64 => ignore::AARCH64,
        Arch::X86_32 => ignore::X86_32,
        Arch::X86_64 => ignore::X86_64,
        Arch::Riscv64 => ignore::RISCV64,
    };
    bits & (build | arch) != 0
}

/// Map attributes as `BPF_OBJ_GET_INFO_BY_FD` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapAttrs {
    /// `enum bpf_map_type`.
    pub map_type: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// max_entries.
    pub max_entries: u32,
    /// map_flags.
    pub map_flags: u32,
}

/// What is pinned at one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinKind {
    /// A map.
    Map(MapAttrs),
    /// A program of this `enum bpf_prog_type`.
    Prog(u32),
}

/// One expected pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedPin {
    /// Map or program, with its kernel-reported attributes.
    pub kind: PinKind,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// The object that pins it (the first, for a shared map).
    pub object: &'static str,
    /// A map created with BTF key/value types (its kernel info has a BTF id).
    pub btf: bool,
}

/// What became of one placed object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Loaded; every applicable map and program is pinned.
    Loaded,
    /// Outside its loader-version range: nothing created, no error.
    Skipped,
    /// Failed (a mandatory program rejected, a map the kernel refuses, BTF
    /// or records the loader refuses, a program type not allowed there): no
    /// pin of it remains.
    Failed,
    /// Not attempted: an earlier location failed the boot.
    NotReached,
}

/// The tree a correct boot chain leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Directories under the bpffs root (relative, no trailing `/`), mode
    /// [`DIR_MODE`], owned by root.
    pub dirs: BTreeSet<String>,
    /// Every pin (relative path) with its attributes.
    pub pins: BTreeMap<String, ExpectedPin>,
    /// Every pin path the placed objects declare that must not exist.
    pub absent: BTreeSet<String>,
    /// Outcome of each placed object.
    pub outcomes: BTreeMap<&'static str, Outcome>,
    /// The object whose failure stops the boot, if any: the chain then ends
    /// with the failing loader's status after its location, and
    /// `bpf.progs_loaded` is never set.
    pub boot_failure: Option<(Role, &'static str)>,
}

impl Expected {
    /// Directories and pins: the whole tree under the bpffs root.
    pub fn tree(&self) -> BTreeSet<String> {
        self.dirs.iter().chain(self.pins.keys()).cloned().collect()
    }

    /// Pins of one object (by file name).
    pub fn pins_of(&self, file_name: &str) -> BTreeSet<String> {
        self.pins
            .iter()
            .filter(|(_, p)| p.object == file_name)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// The exact tree the boot chain (mainline locations, then, unless one of
/// them failed the boot, the platform locations) leaves on `platform` with
/// `layout`.
pub fn expected(platform: &Platform, layout: &Layout) -> Expected {
    let mut e = Expected {
        dirs: BTreeSet::new(),
        pins: BTreeMap::new(),
        absent: BTreeSet::new(),
        outcomes: BTreeMap::new(),
        boot_failure: None,
    };
    let mut declared = BTreeSet::new();
    // The mainline loader creates every mainline prefix and `loader/` first.
    e.dirs.extend(
        layout
            .locations
            .iter()
            .filter(|l| l.role == Role::Mainline && !l.prefix.is_empty())
            .map(|l| l.prefix.trim_end_matches('/').to_string())
            .chain(["loader".to_string()]),
    );
    let mut mainline_done = false;
    for loc in &layout.locations {
        if loc.role == Role::Platform && !mainline_done && e.boot_failure.is_none() {
            e.dirs.insert(MAINLINE_DONE.to_string());
            mainline_done = true;
        }
        if loc.role == Role::Platform && e.boot_failure.is_none() && !loc.prefix.is_empty() {
            e.dirs.insert(loc.prefix.trim_end_matches('/').to_string());
        }
        for &file in &loc.objects {
            let o = object(file);
            let obj = object_name(file);
            declared.extend(o.maps.iter().map(|m| m.pin(loc.role, &loc.prefix, obj)));
            declared.extend(o.progs.iter().map(|p| p.pin(loc.role, &loc.prefix, obj)));
            if e.boot_failure.is_some() {
                e.outcomes.insert(file, Outcome::NotReached);
                continue;
            }
            let (outcome, pins) = load(o, loc, platform);
            e.outcomes.insert(file, outcome);
            for (path, pin) in pins {
                // A shared map pinned by an earlier object is reused.
                e.pins.entry(path).or_insert(pin);
            }
        }
        // A failure that counts ends the boot after its whole location.
        if e.boot_failure.is_none() {
            let any = loc.role == Role::Mainline && platform.release == Release::R25Q2;
            e.boot_failure = loc
                .objects
                .iter()
                .copied()
                .find(|f| {
                    e.outcomes.get(f) == Some(&Outcome::Failed) && (any || object(f).critical)
                })
                .map(|f| (loc.role, f));
        }
    }
    if !mainline_done && e.boot_failure.is_none() {
        e.dirs.insert(MAINLINE_DONE.to_string());
    }
    e.absent = declared
        .into_iter()
        .filter(|p| !e.pins.contains_key(p))
        .collect();
    e
}

/// One object in one location: its outcome and the pins it leaves.
fn load(
    o: &'static ObjectModel,
    loc: &LocationModel,
    p: &Platform,
) -> (Outcome, Vec<(String, ExpectedPin)>) {
    let role = loc.role;
    let mainline = role == Role::Mainline;
    let exact_records = !mainline || p.release == Release::R25Q2;
    if exact_records && o.record_abi != 120 {
        return (Outcome::Failed, Vec::new());
    }
    if mainline && !in_range(p.loader_ver, o.loader) {
        return (Outcome::Skipped, Vec::new());
    }
    let btf = mainline && p.btf() && !o.maps.is_empty();
    if btf && o.btf == Btf::Refused {
        return (Outcome::Failed, Vec::new());
    }
    let sections = p.release.sections(role);
    let progs: Vec<&ProgModel> = o
        .progs
        .iter()
        .filter(|pr| sections.iter().any(|s| pr.section.starts_with(s)))
        .collect();
    if let Some(allowed) = loc.prog_types {
        if progs.iter().any(|pr| !allowed.contains(&pr.prog_type)) {
            return (Outcome::Failed, Vec::new());
        }
    }
    let gated = |loader: (u32, u32), ignore_on: u8| {
        mainline && (!in_range(p.loader_ver, loader) || ignored(ignore_on, p))
    };
    let obj = object_name(o.file_name);
    let mut pins = Vec::new();
    for m in o.maps {
        let lpm_skip =
            mainline && p.release == Release::R25Q2 && m.map_type == LPM_TRIE && p.kver < K4_14;
        if gated(m.loader, m.ignore_on) || !in_range(p.kver, m.kver) || lpm_skip {
            continue;
        }
        if m.needs_btf && !btf {
            return (Outcome::Failed, Vec::new());
        }
        let attrs = m.in_kernel(p.kver);
        pins.push((
            m.pin(role, &loc.prefix, obj),
            ExpectedPin {
                kind: PinKind::Map(attrs),
                mode: m.mode,
                uid: m.uid,
                gid: m.gid,
                object: o.file_name,
                btf: btf && attrs.map_type != DEVMAP_HASH && attrs.map_type != RINGBUF,
            },
        ));
    }
    let mut taken = BTreeSet::new();
    for pr in progs {
        if !in_range(p.kver, pr.kver) || gated(pr.loader, pr.ignore_on) {
            continue;
        }
        let path = pr.pin(role, &loc.prefix, obj);
        if taken.contains(&path) {
            continue;
        }
        match (pr.verifier, pr.optional) {
            (Verifier::Accepts, _) => {
                taken.insert(path.clone());
                pins.push((
                    path,
                    ExpectedPin {
                        kind: PinKind::Prog(pr.prog_type),
                        mode: PROG_PIN_MODE,
                        uid: pr.uid,
                        gid: pr.gid,
                        object: o.file_name,
                        btf: false,
                    },
                ));
            }
            (Verifier::Rejects, true) => {}
            (Verifier::Rejects, false) => return (Outcome::Failed, Vec::new()),
        }
    }
    (Outcome::Loaded, pins)
}

/// What the V+ LTS check says of a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LtsCheck {
    /// An LTS branch at or above its minimum sublevel: no warning.
    Ok,
    /// An LTS branch below its minimum: a warning naming the minimum.
    BelowMinimum((u32, u32, u32)),
    /// Not an LTS branch of the release: a warning.
    NotLts,
}

/// The LTS check of `release` for `(major, minor, sublevel)`.
pub fn lts_check(release: Release, k: (u32, u32, u32)) -> LtsCheck {
    match release.lts().iter().find(|m| (m.0, m.1) == (k.0, k.1)) {
        None => LtsCheck::NotLts,
        Some(&m) if k.2 < m.2 => LtsCheck::BelowMinimum(m),
        Some(_) => LtsCheck::Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(k: (u32, u32), arch: Arch) -> Platform {
        Platform::new(Release::V, kver(k.0, k.1, 0), BuildType::User, arch)
    }

    /// The model agrees with the corpus crate: every Android-format object
    /// is modelled,
    /// and what `bpf_progs::Kind` says of each placed object holds on a 6.x
    /// kernel under Android 15.
    #[test]
    fn model_covers_the_corpus() {
        let modelled: BTreeSet<&str> = CORPUS.iter().map(|o| o.file_name).collect();
        // libbpf-style objects (Linux boards only) are no part of Android's
        // format, which the model is about.
        let corpus: BTreeSet<&str> = bpf_progs::android_objects().map(|o| o.file_name).collect();
        assert_eq!(modelled, corpus);
        let e = expected(&platform((6, 1), Arch::X86_64), &Layout::current());
        for o in bpf_progs::OBJECTS.iter().filter(|o| o.location.is_some()) {
            let want = match o.kind {
                bpf_progs::Kind::Good | bpf_progs::Kind::Legacy { .. } => Outcome::Loaded,
                bpf_progs::Kind::VerifierRejected | bpf_progs::Kind::FailingCritical => {
                    Outcome::Failed
                }
                bpf_progs::Kind::LoaderVersionSkipped => Outcome::Skipped,
                kind => panic!("{}: {kind:?} is not in the default layout", o.file_name),
            };
            assert_eq!(e.outcomes[o.file_name], want, "{}", o.file_name);
        }
        for o in bpf_progs::android_objects() {
            let m = object(o.file_name);
            assert_eq!(m.critical, o.critical, "{}", o.file_name);
            let refused = matches!(o.kind, bpf_progs::Kind::BtfRejected { .. });
            assert_eq!(m.btf == Btf::Refused, refused, "{}", o.file_name);
            let needs = o.kind == bpf_progs::Kind::NeedsBtf;
            assert_eq!(m.maps.iter().any(|m| m.needs_btf), needs, "{}", o.file_name);
        }
    }

    #[test]
    fn naming() {
        assert_eq!(object_name("offload@mainline.o"), "offload");
        assert_eq!(object_name("a.b@c@d.o"), "a.b@c");
        assert_eq!(
            section_pin_name("schedcls/tether_downstream6_ether$5_10"),
            "schedcls_tether_downstream6_ether"
        );
        assert_eq!(section_pin_name("skfilter/a$b$c"), "skfilter_a$b");
    }

    /// The pins the gates of gateMatrix.c and dscpPolicy.c move, per branch
    /// (gateMatrix.c's table).
    #[test]
    fn every_branch_has_its_own_tree() {
        let has = |k, arch, rel: &str| {
            expected(&platform(k, arch), &Layout::current())
                .pins
                .contains_key(rel)
        };
        let rows: [(&str, [bool; 4]); 9] = [
            (
                "net_private/map_gateMatrix_before_6_1_map",
                [true, false, false, false],
            ),
            (
                "net_private/map_gateMatrix_since_6_1_map",
                [false, true, true, true],
            ),
            (
                "net_private/map_gateMatrix_since_6_6_map",
                [false, false, true, true],
            ),
            (
                "net_private/prog_gateMatrix_skfilter_clock",
                [true, true, true, true],
            ),
            (
                "net_private/prog_gateMatrix_skfilter_before_6_1",
                [true, false, false, false],
            ),
            (
                "net_private/prog_gateMatrix_skfilter_lts_6_1",
                [false, true, false, false],
            ),
            (
                "net_private/prog_gateMatrix_skfilter_since_6_6",
                [false, false, true, true],
            ),
            (
                "net_private/prog_gateMatrix_skfilter_since_6_12",
                [false, false, true, true],
            ),
            (
                "net_shared/prog_dscpPolicy_schedcls_set_dscp_ether",
                [false, true, true, true],
            ),
        ];
        for (rel, want) in rows {
            for (k, w) in [(5, 10), (6, 1), (6, 12), (6, 18)].into_iter().zip(want) {
                assert_eq!(has(k, Arch::X86_64, rel), w, "{rel} on {k:?}");
            }
        }
        let trees: BTreeSet<_> = [(5, 10), (6, 1), (6, 12)]
            .into_iter()
            .flat_map(|k| [Arch::X86_64, Arch::Aarch64].map(|a| (k, a)))
            .map(|(k, a)| expected(&platform(k, a), &Layout::current()).tree())
            .collect();
        assert_eq!(trees.len(), 6, "six cells, six different trees");
        // Architecture gates.
        assert!(has(
            (6, 1),
            Arch::X86_64,
            "net_private/map_gateMatrix_not_on_aarch64_map"
        ));
        assert!(!has(
            (6, 1),
            Arch::Aarch64,
            "net_private/map_gateMatrix_not_on_aarch64_map"
        ));
        assert!(!has(
            (6, 1),
            Arch::X86_64,
            "net_private/prog_gateMatrix_skfilter_not_on_x86_64"
        ));
        assert!(has(
            (6, 1),
            Arch::Aarch64,
            "net_private/prog_gateMatrix_skfilter_not_on_x86_64"
        ));
        assert!(has(
            (6, 1),
            Arch::Aarch64,
            "netd_shared/map_netd_iface_index_name_map"
        ));
        assert!(!has(
            (6, 1),
            Arch::Arm32,
            "netd_shared/map_netd_iface_index_name_map"
        ));
    }

    #[test]
    fn alternatives_rejections_and_directories() {
        let e = expected(&platform((6, 1), Arch::X86_64), &Layout::current());
        // $opt is rejected and optional: $stub takes the pin.
        assert!(e
            .pins
            .contains_key("tethering/prog_offload_schedcls_tether_upstream6_rawip"));
        // verifierReject.o fails whole: even its good program is absent.
        assert!(e.pins_of("verifierReject.o").is_empty());
        assert!(e
            .absent
            .contains("net_private/prog_verifierReject_skfilter_accept"));
        // The shared map is one pin, owned by the first object.
        assert_eq!(e.pins["net_shared/map__net_config_map"].object, "clatd.o");
        // DEVMAP_HASH as the kernel reports it.
        assert_eq!(
            e.pins["tethering/map_offload_tether_dev_map"].kind,
            PinKind::Map(MapAttrs {
                map_type: DEVMAP_HASH,
                key_size: 4,
                value_size: 4,
                max_entries: 64,
                map_flags: BPF_F_RDONLY_PROG
            })
        );
        assert_eq!(e.boot_failure, None);
        let dirs: Vec<&str> = e.dirs.iter().map(String::as_str).collect();
        assert_eq!(
            dirs,
            [
                "loader",
                "net_private",
                "net_shared",
                "netd_readonly",
                "netd_shared",
                "netd_shared/mainline_done",
                "tethering",
                "uprobestats",
                "vendor"
            ]
        );
    }

    #[test]
    fn release_rules() {
        let v = platform((6, 1), Arch::X86_64);
        let q2 = Platform::new(Release::R25Q2, v.kver, BuildType::User, Arch::X86_64);
        let release = "netd_shared/prog_netd_cgroupsockrelease_inet_release";
        let connect6 = "netd_shared/prog_netd_connect6_inet6_connect";
        let ev = expected(&v, &Layout::current());
        let eq = expected(&q2, &Layout::current());
        // Android 15's table has no cgroupsockrelease/: not a program there.
        assert!(!ev.pins.contains_key(release) && ev.absent.contains(release));
        assert!(ev.pins.contains_key(connect6));
        // 2025 main loads it, but verifierReject.o fails its location and
        // with it the boot: net_private/ was still loaded, nothing after.
        assert!(eq.pins.contains_key(release));
        assert_eq!(eq.boot_failure, Some((Role::Mainline, "verifierReject.o")));
        assert_eq!(eq.outcomes["gateMatrix.o"], Outcome::Loaded);
        assert_eq!(eq.outcomes["schedTrace.o"], Outcome::NotReached);
        assert!(!eq.dirs.contains(MAINLINE_DONE) && !eq.dirs.contains("vendor"));
        // Maps typed with BTF on 2025 main (>= 5.10), but not device maps
        // and ring buffers; never on Android 15.
        assert!(ev.pins.values().all(|p| !p.btf));
        assert!(eq.pins["net_shared/map__net_config_map"].btf);
        assert!(!eq.pins["tethering/map_offload_tether_dev_map"].btf);
        assert!(!eq.pins["netd_shared/map_netd_packet_trace_ringbuf"].btf);
        // Loader version 45 (no uid-0 step) loses the V programs.
        let mut v45 = v;
        v45.loader_ver = 45;
        assert!(!expected(&v45, &Layout::current())
            .pins
            .contains_key(connect6));
    }

    #[test]
    fn btf_objects() {
        let layout = || {
            Layout::current()
                .place(Role::Mainline, "net_private/", "skStorage.o")
                .place(Role::Mainline, "net_private/", "btfMismatch.o")
                .place(Role::Mainline, "net_private/", "btfCorrupt.o")
        };
        let v = expected(&platform((6, 1), Arch::X86_64), &layout());
        assert_eq!(v.outcomes["skStorage.o"], Outcome::Failed);
        assert_eq!(v.outcomes["btfMismatch.o"], Outcome::Loaded);
        assert_eq!(v.outcomes["btfCorrupt.o"], Outcome::Loaded);
        for k in [(5, 10), (6, 1)] {
            let q = expected(
                &Platform::new(
                    Release::R25Q2,
                    kver(k.0, k.1, 0),
                    BuildType::User,
                    Arch::X86_64,
                ),
                &layout(),
            );
            assert_eq!(q.outcomes["skStorage.o"], Outcome::Loaded, "{k:?}");
            assert_eq!(q.outcomes["btfMismatch.o"], Outcome::Failed, "{k:?}");
            assert_eq!(q.outcomes["btfCorrupt.o"], Outcome::Failed, "{k:?}");
            assert!(q.pins["net_private/map_skStorage_sk_storage_map"].btf);
            // Its program needs 5.15.
            assert_eq!(
                q.pins
                    .contains_key("net_private/prog_skStorage_cgroupsock_sk_storage_stamp"),
                k == (6, 1)
            );
        }
    }

    #[test]
    fn loader_version_and_build_type_gates() {
        let mut p = platform((6, 1), Arch::X86_64);
        p.loader_ver = 43;
        let e = expected(&p, &Layout::current());
        assert!(!e
            .pins
            .contains_key("netd_shared/map_netd_packet_trace_enabled_map"));
        p.loader_ver = 42;
        let e = expected(&p, &Layout::current());
        assert_eq!(e.outcomes["netd.o"], Outcome::Skipped);
        assert_eq!(e.outcomes["offload@mainline.o"], Outcome::Loaded);
        p.loader_ver = 46;
        assert!(!expected(&p, &Layout::current())
            .pins
            .contains_key("netd_shared/map_netd_lock_array_test_map"));
        p.build_type = BuildType::Userdebug;
        assert!(expected(&p, &Layout::current())
            .pins
            .contains_key("netd_shared/map_netd_lock_array_test_map"));
    }

    #[test]
    fn platform_rules() {
        // The platform loader reads no versions: needsNewerLoader.o, skipped
        // in tethering/, loads in /system/etc/bpf/; a legacy record size
        // fails there; a SCHED_CLS program is ignored (not in its table),
        // and a socket filter is not allowed in uprobestats/.
        let layout = Layout::current()
            .place(Role::Platform, "", "needsNewerLoader.o")
            .place(Role::Platform, "", "legacyT.o")
            .place(Role::Platform, "vendor/", "clatd.o")
            .place(Role::Platform, "uprobestats/", "pktCount.o");
        let e = expected(&platform((6, 1), Arch::X86_64), &layout);
        assert_eq!(e.outcomes["needsNewerLoader.o"], Outcome::Loaded);
        assert!(e.pins.contains_key("map_needsNewerLoader_future_map"));
        assert_eq!(e.outcomes["legacyT.o"], Outcome::Failed);
        assert_eq!(e.outcomes["clatd.o"], Outcome::Loaded);
        assert!(e.pins.contains_key("vendor/map__net_config_map"));
        assert!(!e.pins.keys().any(|p| p.starts_with("vendor/prog_")));
        assert_eq!(e.outcomes["pktCount.o"], Outcome::Failed);
        // Not critical: the boot goes on.
        assert_eq!(e.boot_failure, None);
    }

    #[test]
    fn critical_failure_stops_after_its_location() {
        let layout = Layout::current().place(Role::Mainline, "net_shared/", "criticalReject.o");
        let e = expected(&platform((6, 1), Arch::X86_64), &layout);
        assert_eq!(e.boot_failure, Some((Role::Mainline, "criticalReject.o")));
        // The rest of net_shared/ is loaded; net_private/ and the platform are not.
        assert_eq!(e.outcomes["dscpPolicy.o"], Outcome::Loaded);
        assert_eq!(e.outcomes["pktCount.o"], Outcome::NotReached);
        assert_eq!(e.outcomes["schedTrace.o"], Outcome::NotReached);
        assert!(e.pins_of("pktCount.o").is_empty());
        assert!(e
            .absent
            .contains("net_private/map_pktCount_packet_count_map"));
        // The mainline loader stopped: no mainline_done, no platform dirs.
        assert!(e.dirs.contains("loader") && !e.dirs.contains(MAINLINE_DONE));
        assert!(!e.dirs.contains("vendor"));
    }

    #[test]
    fn lts_checks() {
        use Release::{R25Q2, V};
        assert_eq!(
            lts_check(V, (5, 10, 0)),
            LtsCheck::BelowMinimum((5, 10, 199))
        );
        assert_eq!(lts_check(V, (6, 1, 57)), LtsCheck::Ok);
        assert_eq!(lts_check(V, (6, 12, 117)), LtsCheck::NotLts);
        assert_eq!(lts_check(R25Q2, (6, 12, 0)), LtsCheck::Ok);
        assert_eq!(lts_check(V, (6, 18, 0)), LtsCheck::NotLts);
    }
}
