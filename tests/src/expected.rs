//! What a correct loader pins, computed from a declarative model of the
//! corpus.
//!
//! [`CORPUS`] is transcribed by hand from the C sources
//! (`bpf-progs/src/progs/*.c`, the `DEFINE_BPF_*` lines and the macros'
//! defaults in `bpf-progs/include/`) and `bpf-progs/README.md`: every map and
//! program with its type, sizes, flags, owner, mode, gates and domains, and
//! whether the verifier accepts it (the corpus rejects on purpose, and says
//! so in the source). [`expected`] applies the loader rules of the reference
//! (facts §3, §7) to it for one platform ([`Platform`]: kernel, loader
//! version, build type, architecture) and one layout ([`Layout`]: which
//! object sits in which location). Nothing here is read from a loader's
//! output or from the loader crate, so a loader bug cannot leak into the
//! expectations.
//!
//! The rules:
//! - an object is skipped whole when the loader version is outside its
//!   `[bpfloader_min_ver, bpfloader_max_ver)`;
//! - a map applies when the loader version and the kernel are inside its
//!   ranges (half-open) and no `ignore_on_*` bit names the build type or
//!   the architecture; a program likewise;
//! - a map pin is `<dir>map_<obj>_<name>` (`<dir>map__<name>` when shared),
//!   a program pin `<dir>prog_<obj>_<section cut at the last '$', '/' → '_'>`,
//!   `<dir>` being the `pin_subdir` if set, else the location prefix, and
//!   `<obj>` the file name cut at the last `.`, then at the last `@`;
//! - of alternatives with one pin name (`$4_14`/`$5_10`, `$opt`/`$stub`),
//!   the first that applies and that the verifier accepts takes the pin; an
//!   optional program the verifier rejects is skipped;
//! - a mandatory program the verifier rejects fails its object, which then
//!   leaves no pin (our rollback rule); a failed critical object stops the
//!   boot after its location (the rest of that location is still loaded);
//! - maps are pinned with their own owner and mode, programs `0440` with
//!   theirs; the kernel reports `BPF_F_RDONLY_PROG` on device maps, and
//!   DEVMAP_HASH is created as HASH before 5.4; a ring buffer is at least
//!   one page.

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
    /// BPF_MAP_TYPE_DEVMAP_HASH.
    pub const DEVMAP_HASH: u32 = 25;
    /// BPF_MAP_TYPE_RINGBUF.
    pub const RINGBUF: u32 = 27;
    /// BPF_MAP_TYPE_USER_RINGBUF.
    pub const USER_RINGBUF: u32 = 31;
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
    /// BPF_PROG_TYPE_CGROUP_SKB.
    pub const CGROUP_SKB: u32 = 8;
    /// BPF_PROG_TYPE_CGROUP_SOCK.
    pub const CGROUP_SOCK: u32 = 9;
    /// BPF_PROG_TYPE_CGROUP_SOCK_ADDR.
    pub const CGROUP_SOCK_ADDR: u32 = 18;
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

/// Everything the gates depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    /// The kernel as the loader reads it from `uname().release` (Debian's
    /// `6.1.0-50-amd64` is 6.1.0), `KVER` encoded ([`kver`]).
    pub kver: u32,
    /// Version of the loader running the mainline locations.
    pub loader_ver: u32,
    /// Version of the loader running the platform locations (the follow-up
    /// `bpfloader`).
    pub platform_loader_ver: u32,
    /// Build type.
    pub build_type: BuildType,
    /// Architecture.
    pub arch: Arch,
    /// The loader gives maps the key/value types of the object's `.BTF`
    /// (2025 main on kernels >= 5.10, facts §5; Android 15 ignores `.BTF`).
    pub btf_maps: bool,
}

/// Which loader runs a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// netbpfload, the tethering APEX's locations.
    Mainline,
    /// The follow-up `bpfloader`, `/system/etc/bpf/` and `/vendor/etc/bpf/`.
    Platform,
}

/// One location: its bpffs prefix and the objects in it, in load order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationModel {
    /// Which loader loads it.
    pub role: Role,
    /// Prefix under the bpffs root (`tethering/`, or `""` for `/system/etc/bpf/`).
    pub prefix: String,
    /// File names of the objects placed there (each in [`CORPUS`]).
    pub objects: Vec<&'static str>,
}

/// Where the objects are, and which directories the loaders create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Locations in load order (mainline ones first, then the platform ones).
    pub locations: Vec<LocationModel>,
    /// Subdirectories of the bpffs root (without the trailing `/`, mode
    /// 01777) and the loader that creates them before loading its
    /// locations; the platform loader's exist only if it ran.
    pub dirs: Vec<(Role, String)>,
}

impl Layout {
    /// Today's layout: the corpus's default placement (`bpf_progs::OBJECTS`,
    /// mainline prefixes in `bpf_progs::MAINLINE_PREFIXES` order, then the
    /// platform locations `""` and `vendor/`), and the directories of the
    /// reference (facts §7): each loader creates its locations' prefixes,
    /// the mainline one also `loader/`.
    pub fn current() -> Layout {
        let mut locations: Vec<LocationModel> = bpf_progs::MAINLINE_PREFIXES
            .iter()
            .map(|p| LocationModel {
                role: Role::Mainline,
                prefix: (*p).to_string(),
                objects: Vec::new(),
            })
            .chain(["", "vendor/"].iter().map(|p| LocationModel {
                role: Role::Platform,
                prefix: (*p).to_string(),
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
        let mut dirs: Vec<(Role, String)> = locations
            .iter()
            .filter(|l| !l.prefix.is_empty())
            .map(|l| (l.role, l.prefix.trim_end_matches('/').to_string()))
            .collect();
        dirs.push((Role::Mainline, "loader".to_string()));
        Layout { locations, dirs }
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
    /// Carries `.BTF` (built with `-g`, as Soong builds everything).
    pub btf: bool,
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
        // BPF_MAP_DEFAULT_FLAGS: LPM_TRIE gets BPF_F_NO_PREALLOC.
        map_flags: if map_type == map_type::LPM_TRIE {
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
    ARRAY, DEVMAP_HASH, HASH, LPM_TRIE, PERCPU_ARRAY, PERCPU_HASH, RINGBUF, USER_RINGBUF,
};
use prog_type::{
    CGROUP_SKB, CGROUP_SOCK, CGROUP_SOCK_ADDR, KPROBE, SCHED_ACT, SCHED_CLS, SOCKET_FILTER,
    TRACEPOINT, XDP,
};

const K4_14: u32 = kver(4, 14, 0);
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
        btf: false,
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
        btf: false,
        maps: &[map("future_map", ARRAY, (4, 4, 1), (ROOT, ROOT, 0o600))],
        progs: &[prog("skfilter/future", SOCKET_FILTER, ROOT, SYSTEM)],
    },
    // netd.c; BPFLOADER_MIN_VER = T (43).
    ObjectModel {
        file_name: "netd.o",
        loader: (43, LOADER_MAX),
        critical: true,
        btf: false,
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
        ],
    },
    // clatd.c (+ netShared.h); BPFLOADER_MIN_VER = T.
    ObjectModel {
        file_name: "clatd.o",
        loader: (43, LOADER_MAX),
        critical: true,
        btf: true,
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
        btf: false,
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
        btf: false,
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
        btf: false,
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
        btf: false,
        maps: &[
            map("clock_map", ARRAY, (4, 8, 2), (ROOT, SYSTEM, 0o660)),
            map("before_6_1_map", ARRAY, (4, 8, 1), (ROOT, ROOT, 0o600)).kernels(K5_10, K6_1),
            map("user_ringbuf", USER_RINGBUF, (0, 0, 4096), (ROOT, SYSTEM, 0o660)).kernels(K6_1, KVER_INF),
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
        btf: false,
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
        btf: false,
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
        btf: false,
        maps: &[map("critical_seen_map", HASH, (4, 8, 16), (ROOT, ROOT, 0o600))],
        progs: &[prog("skfilter/critical_reject", SOCKET_FILTER, ROOT, SYSTEM).rejected()],
    },
    // legacy.c with -DBPF_DEF_ABI=32: no version sections (defaults).
    ObjectModel {
        file_name: "legacyV0.o",
        loader: ALL_LOADERS,
        critical: false,
        btf: false,
        maps: &[map("legacy_count_map", ARRAY, (4, 8, 1), (ROOT, SYSTEM, 0o640))],
        progs: &[prog("skfilter/legacy_count", SOCKET_FILTER, ROOT, SYSTEM)],
    },
    // legacy.c with -DBPF_DEF_ABI=48.
    ObjectModel {
        file_name: "legacyS.o",
        loader: ALL_LOADERS,
        critical: false,
        btf: false,
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
        btf: false,
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
    /// location with `prefix`.
    pub fn pin(&self, prefix: &str, obj: &str) -> String {
        let dir = self.pin_subdir.unwrap_or(prefix);
        if self.shared {
            format!("{dir}map__{}", self.name)
        } else {
            format!("{dir}map_{obj}_{}", self.name)
        }
    }

    fn applies(&self, loader_ver: u32, p: &Platform) -> bool {
        in_range(loader_ver, self.loader)
            && in_range(p.kver, self.kver)
            && !ignored(self.ignore_on, p)
            && !(self.map_type == LPM_TRIE && p.kver < K4_14)
    }

    /// What the kernel reports for this map once created on `kver`.
    pub fn in_kernel(&self, k: u32) -> MapAttrs {
        let map_type = if self.map_type == DEVMAP_HASH && k < kver(5, 4, 0) {
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
    pub fn pin(&self, prefix: &str, obj: &str) -> String {
        let dir = self.pin_subdir.unwrap_or(prefix);
        format!("{dir}prog_{obj}_{}", section_pin_name(self.section))
    }

    fn applies(&self, loader_ver: u32, p: &Platform) -> bool {
        in_range(p.kver, self.kver)
            && in_range(loader_ver, self.loader)
            && !ignored(self.ignore_on, p)
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
    /// A mandatory program is rejected: no pin of it remains.
    Failed,
    /// Not attempted: an earlier location had a critical failure.
    NotReached,
}

/// The pin tree a correct loader leaves.
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
    /// The critical object whose failure stops the boot, if any (the chain
    /// then ends with status 2 and `bpf.progs_loaded` is never set).
    pub critical_failure: Option<&'static str>,
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

/// The exact tree the boot chain (mainline locations, then, unless a
/// critical object failed, the platform locations) leaves on `platform`
/// with `layout`.
pub fn expected(platform: &Platform, layout: &Layout) -> Expected {
    let mut e = Expected {
        dirs: BTreeSet::new(),
        pins: BTreeMap::new(),
        absent: BTreeSet::new(),
        outcomes: BTreeMap::new(),
        critical_failure: None,
    };
    let mut declared = BTreeSet::new();
    let mut roles_run = Vec::new();
    for loc in &layout.locations {
        if e.critical_failure.is_none() && !roles_run.contains(&loc.role) {
            roles_run.push(loc.role);
        }
        let loader_ver = match loc.role {
            Role::Mainline => platform.loader_ver,
            Role::Platform => platform.platform_loader_ver,
        };
        for &file in &loc.objects {
            let o = object(file);
            let obj = object_name(file);
            declared.extend(o.maps.iter().map(|m| m.pin(&loc.prefix, obj)));
            declared.extend(o.progs.iter().map(|p| p.pin(&loc.prefix, obj)));
            if e.critical_failure.is_some() {
                e.outcomes.insert(file, Outcome::NotReached);
                continue;
            }
            let (outcome, pins) = load(o, &loc.prefix, loader_ver, platform);
            e.outcomes.insert(file, outcome);
            for (path, pin) in pins {
                // A shared map pinned by an earlier object is reused.
                e.pins.entry(path).or_insert(pin);
            }
        }
        // A critical failure ends the boot after its whole location.
        if e.critical_failure.is_none() {
            e.critical_failure = loc
                .objects
                .iter()
                .copied()
                .find(|f| object(f).critical && e.outcomes.get(f) == Some(&Outcome::Failed));
        }
    }
    e.dirs = layout
        .dirs
        .iter()
        .filter(|(role, _)| roles_run.contains(role))
        .map(|(_, d)| d.clone())
        .collect();
    e.absent = declared
        .into_iter()
        .filter(|p| !e.pins.contains_key(p))
        .collect();
    e
}

/// One object on one platform: its outcome and the pins it leaves.
fn load(
    o: &'static ObjectModel,
    prefix: &str,
    loader_ver: u32,
    p: &Platform,
) -> (Outcome, Vec<(String, ExpectedPin)>) {
    if !in_range(loader_ver, o.loader) {
        return (Outcome::Skipped, Vec::new());
    }
    let obj = object_name(o.file_name);
    let mut pins = Vec::new();
    for m in o.maps.iter().filter(|m| m.applies(loader_ver, p)) {
        pins.push((
            m.pin(prefix, obj),
            ExpectedPin {
                kind: PinKind::Map(m.in_kernel(p.kver)),
                mode: m.mode,
                uid: m.uid,
                gid: m.gid,
                object: o.file_name,
                // The reference types every map but device maps and ring
                // buffers from `____btf_map_<name>` (facts §5).
                btf: p.btf_maps
                    && o.btf
                    && p.kver >= K5_10
                    && m.map_type != DEVMAP_HASH
                    && m.map_type != RINGBUF,
            },
        ));
    }
    let mut taken = BTreeSet::new();
    for pr in o.progs.iter().filter(|pr| pr.applies(loader_ver, p)) {
        let path = pr.pin(prefix, obj);
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

/// The V+ LTS check of the reference (facts §7): the minimum sublevel of
/// each LTS branch.
pub const LTS_MINIMUMS: [(u32, u32, u32); 7] = [
    (4, 19, 236),
    (5, 4, 186),
    (5, 10, 199),
    (5, 15, 136),
    (6, 1, 57),
    (6, 6, 0),
    (6, 12, 0),
];

/// What the V+ LTS check says of a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LtsCheck {
    /// An LTS branch at or above its minimum sublevel: no warning.
    Ok,
    /// An LTS branch below its minimum: a warning naming the minimum.
    BelowMinimum((u32, u32, u32)),
    /// Not an LTS branch: a warning.
    NotLts,
}

/// The LTS check for `(major, minor, sublevel)`.
pub fn lts_check(k: (u32, u32, u32)) -> LtsCheck {
    match LTS_MINIMUMS.iter().find(|m| (m.0, m.1) == (k.0, k.1)) {
        None => LtsCheck::NotLts,
        Some(&m) if k.2 < m.2 => LtsCheck::BelowMinimum(m),
        Some(_) => LtsCheck::Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(k: (u32, u32), arch: Arch) -> Platform {
        Platform {
            kver: kver(k.0, k.1, 0),
            loader_ver: 45,
            platform_loader_ver: 45,
            build_type: BuildType::User,
            arch,
            btf_maps: false,
        }
    }

    /// The model agrees with the corpus crate: every object is modelled,
    /// and what `bpf_progs::Kind` says of each placed object holds on a 6.x
    /// kernel.
    #[test]
    fn model_covers_the_corpus() {
        let modelled: BTreeSet<&str> = CORPUS.iter().map(|o| o.file_name).collect();
        let corpus: BTreeSet<&str> = bpf_progs::OBJECTS.iter().map(|o| o.file_name).collect();
        assert_eq!(modelled, corpus);
        let e = expected(&platform((6, 1), Arch::X86_64), &Layout::current());
        for o in bpf_progs::OBJECTS.iter().filter(|o| o.location.is_some()) {
            let want = match o.kind {
                bpf_progs::Kind::Good | bpf_progs::Kind::Legacy { .. } => Outcome::Loaded,
                bpf_progs::Kind::VerifierRejected | bpf_progs::Kind::FailingCritical => {
                    Outcome::Failed
                }
                bpf_progs::Kind::LoaderVersionSkipped => Outcome::Skipped,
            };
            assert_eq!(e.outcomes[o.file_name], want, "{}", o.file_name);
            assert_eq!(object(o.file_name).critical, o.critical, "{}", o.file_name);
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
                "net_private/map_gateMatrix_user_ringbuf",
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
    fn alternatives_and_rejections() {
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
        assert_eq!(e.critical_failure, None);
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
        p.loader_ver = 45;
        assert!(!expected(&p, &Layout::current())
            .pins
            .contains_key("netd_shared/map_netd_lock_array_test_map"));
        p.build_type = BuildType::Userdebug;
        assert!(expected(&p, &Layout::current())
            .pins
            .contains_key("netd_shared/map_netd_lock_array_test_map"));
    }

    #[test]
    fn critical_failure_stops_after_its_location() {
        let layout = Layout::current().place(Role::Mainline, "net_shared/", "criticalReject.o");
        let e = expected(&platform((6, 1), Arch::X86_64), &layout);
        assert_eq!(e.critical_failure, Some("criticalReject.o"));
        // The rest of net_shared/ is loaded; net_private/ and the platform are not.
        assert_eq!(e.outcomes["dscpPolicy.o"], Outcome::Loaded);
        assert_eq!(e.outcomes["pktCount.o"], Outcome::NotReached);
        assert_eq!(e.outcomes["schedTrace.o"], Outcome::NotReached);
        assert!(e.pins_of("pktCount.o").is_empty());
        assert!(e
            .absent
            .contains("net_private/map_pktCount_packet_count_map"));
    }

    #[test]
    fn btf_typed_maps_only_where_the_loader_types_them() {
        let mut p = platform((6, 1), Arch::X86_64);
        let btf = |p: &Platform| -> BTreeSet<String> {
            expected(p, &Layout::current())
                .pins
                .into_iter()
                .filter(|(_, pin)| pin.btf)
                .map(|(k, _)| k)
                .collect()
        };
        assert!(btf(&p).is_empty());
        p.btf_maps = true;
        let want: BTreeSet<String> = [
            "net_shared/map__net_config_map",
            "net_shared/map_clatd_clat_ingress6_map",
            "net_shared/map_clatd_clat_egress4_map",
        ]
        .map(String::from)
        .into();
        assert_eq!(btf(&p), want);
    }

    #[test]
    fn lts_checks() {
        assert_eq!(lts_check((5, 10, 0)), LtsCheck::BelowMinimum((5, 10, 199)));
        assert_eq!(lts_check((6, 1, 57)), LtsCheck::Ok);
        assert_eq!(lts_check((6, 12, 0)), LtsCheck::Ok);
        assert_eq!(lts_check((6, 18, 0)), LtsCheck::NotLts);
    }
}
