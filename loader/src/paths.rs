//! The single home of every path, mode and naming rule.
//!
//! Tests check that `init/*.rc`, `init/*.service` and `sepolicy/*` agree with
//! the tables here, so a change to a location or a binary path is made once.

use crate::spec::Domain;
use std::path::{Path, PathBuf};

/// Where bpffs is mounted on Android and on most Linux systems.
pub const DEFAULT_BPFFS_ROOT: &str = "/sys/fs/bpf";

/// Mode of every directory created under the bpffs root (sticky, world-writable,
/// like `/tmp`), created with umask 0.
pub const PIN_DIR_MODE: u32 = 0o1777;

/// Mode given to every newly pinned program.
pub const PROG_PIN_MODE: u32 = 0o440;

/// Path of the loader binary inside the tethering APEX (the `bpfloader` service).
pub const NETBPFLOAD_PATH: &str = "/apex/com.android.tethering/bin/netbpfload";
/// Path of the platform (follow-up) loader.
pub const PLATFORM_BPFLOADER_PATH: &str = "/system/bin/bpfloader";
/// Where plain-Linux installs put the binary (systemd unit, QEMU image).
pub const LINUX_NETBPFLOAD_PATH: &str = "/usr/sbin/netbpfload";

/// The platform's init file naming the bpfloader service (T/U).
pub const PLATFORM_BPFLOADER_RC: &str = "/system/etc/init/bpfloader.rc";
/// The platform's init file naming the netbpfload service (V+).
pub const PLATFORM_NETBPFLOAD_RC: &str = "/system/etc/init/netbpfload.rc";

/// `/proc/sys` knobs written at boot.
pub const SYSCTL_UNPRIVILEGED_BPF_DISABLED: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";
/// `/proc/sys` knob enabling the JIT.
pub const SYSCTL_BPF_JIT_ENABLE: &str = "/proc/sys/net/core/bpf_jit_enable";
/// `/proc/sys` knob exposing JIT symbols.
pub const SYSCTL_BPF_JIT_KALLSYMS: &str = "/proc/sys/net/core/bpf_jit_kallsyms";

/// Property set by `netbpfload done`.
pub const PROGS_LOADED_PROP: &str = "bpf.progs_loaded";
/// Non-Android: default property file read for `ro.*` facts (build.prop format).
pub const DEFAULT_PROPERTY_FILE: &str = "/etc/netbpfload/build.prop";
/// Non-Android: runtime property directory; `done` writes `<dir>/bpf.progs_loaded`.
pub const DEFAULT_RUNTIME_PROP_DIR: &str = "/run/netbpfload/properties";

/// Root of the tethering APEX's eBPF objects.
pub const APEX_BPF_ROOT: &str = "/apex/com.android.tethering/etc/bpf";

/// A directory of `.o` files and the bpffs prefix its pins go under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Directory scanned (non-recursively) for `*.o`.
    pub dir: PathBuf,
    /// Prefix under the bpffs root, empty or ending in `/` (e.g. `tethering/`).
    pub prefix: String,
}

impl Location {
    /// Builds a location; `prefix` is normalised to end in `/` unless empty.
    pub fn new(dir: impl Into<PathBuf>, prefix: &str) -> Self {
        let mut prefix = prefix.trim_start_matches('/').to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Location {
            dir: dir.into(),
            prefix,
        }
    }
}

/// `(directory, prefix)` of the mainline (netbpfload) locations, in load order.
pub const MAINLINE_LOCATIONS: &[(&str, &str)] = &[
    (
        "/apex/com.android.tethering/etc/bpf/tethering/",
        "tethering/",
    ),
    (
        "/apex/com.android.tethering/etc/bpf/netd_shared/",
        "netd_shared/",
    ),
    (
        "/apex/com.android.tethering/etc/bpf/netd_readonly/",
        "netd_readonly/",
    ),
    (
        "/apex/com.android.tethering/etc/bpf/net_shared/",
        "net_shared/",
    ),
    (
        "/apex/com.android.tethering/etc/bpf/net_private/",
        "net_private/",
    ),
];

/// `(directory, prefix)` of the platform (follow-up bpfloader) locations.
pub const PLATFORM_LOCATIONS: &[(&str, &str)] =
    &[("/system/etc/bpf/", ""), ("/vendor/etc/bpf/", "vendor/")];

/// Extra directory created under the bpffs root besides the location prefixes.
pub const LOADER_SUBDIR: &str = "loader/";

/// Every subdirectory of the bpffs root that the loaders create (mainline
/// prefixes, `loader/`, platform prefixes), without the trailing `/`.
pub fn created_subdirs() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = MAINLINE_LOCATIONS
        .iter()
        .chain(PLATFORM_LOCATIONS)
        .map(|(_, p)| p.trim_end_matches('/'))
        .chain(std::iter::once(LOADER_SUBDIR.trim_end_matches('/')))
        .filter(|p| !p.is_empty())
        .collect();
    v.dedup();
    v
}

/// Builds the mainline locations with their directories re-rooted under `root`
/// (`/` on a device; a staging directory in tests).
pub fn mainline_locations(root: &Path) -> Vec<Location> {
    rerooted(root, MAINLINE_LOCATIONS)
}

/// Builds the platform locations re-rooted under `root`.
pub fn platform_locations(root: &Path) -> Vec<Location> {
    rerooted(root, PLATFORM_LOCATIONS)
}

fn rerooted(root: &Path, table: &[(&str, &str)]) -> Vec<Location> {
    table
        .iter()
        .map(|(dir, prefix)| Location::new(root.join(dir.trim_start_matches('/')), prefix))
        .collect()
}

impl Domain {
    /// Every domain, in the reference enum order.
    pub const ALL: [Domain; 7] = [
        Domain::Unspecified,
        Domain::Tethering,
        Domain::NetPrivate,
        Domain::NetShared,
        Domain::NetdReadonly,
        Domain::NetdShared,
        Domain::Loader,
    ];

    /// The `selinux_context` string naming this domain (`""` if unspecified).
    pub const fn selinux_context(self) -> &'static str {
        match self {
            Domain::Unspecified => "",
            Domain::Tethering => "fs_bpf_tethering",
            Domain::NetPrivate => "fs_bpf_net_private",
            Domain::NetShared => "fs_bpf_net_shared",
            Domain::NetdReadonly => "fs_bpf_netd_readonly",
            Domain::NetdShared => "fs_bpf_netd_shared",
            Domain::Loader => "fs_bpf_loader",
        }
    }

    /// The `pin_subdir` string naming this domain (`""` if unspecified).
    pub const fn pin_subdir(self) -> &'static str {
        match self {
            Domain::Unspecified => "",
            Domain::Tethering => "tethering/",
            Domain::NetPrivate => "net_private/",
            Domain::NetShared => "net_shared/",
            Domain::NetdReadonly => "netd_readonly/",
            Domain::NetdShared => "netd_shared/",
            Domain::Loader => "loader/",
        }
    }

    /// Looks a `selinux_context` string up.
    pub fn from_selinux_context(s: &str) -> Option<Domain> {
        Domain::ALL.into_iter().find(|d| d.selinux_context() == s)
    }

    /// Looks a `pin_subdir` string up.
    pub fn from_pin_subdir(s: &str) -> Option<Domain> {
        Domain::ALL.into_iter().find(|d| d.pin_subdir() == s)
    }
}

/// Object name used in pin paths: the file's basename cut at the last `.`,
/// then at the last `@` (`offload@mainline.o` → `offload`).
pub fn object_name(file: &Path) -> String {
    let base = file
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = match base.rfind('.') {
        Some(i) => &base[..i],
        None => &base[..],
    };
    let base = match base.rfind('@') {
        Some(i) => &base[..i],
        None => base,
    };
    base.to_string()
}

/// Pin name of a program from its section name: `/` → `_`, cut at the last `$`.
pub fn prog_pin_name(section: &str) -> String {
    let name = section.replace('/', "_");
    match name.rfind('$') {
        Some(i) => name[..i].to_string(),
        None => name,
    }
}

/// Longest program/map name the kernel accepts (`BPF_OBJ_NAME_LEN - 1`).
pub const KERNEL_NAME_MAX: usize = 15;

/// Kernel name of a program: section with `/` → `_` (including any `$…`),
/// cut to [`KERNEL_NAME_MAX`] bytes. Non-ASCII-alphanumeric characters other
/// than `_` and `.` are replaced by `_`, because the kernel rejects them.
pub fn kernel_object_name(name: &str) -> String {
    name.bytes()
        .take(KERNEL_NAME_MAX)
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' {
                b as char
            } else {
                '_'
            }
        })
        .collect()
}

/// The directory (relative to the bpffs root) a pin ends up in: the
/// `pin_subdir` domain's directory, or the location prefix when unspecified.
pub fn pin_dir(pin_subdir: Domain, location_prefix: &str) -> &str {
    match pin_subdir {
        Domain::Unspecified => location_prefix,
        d => d.pin_subdir(),
    }
}

/// Final pin path of a map, relative to the bpffs root:
/// `<dir>map_<obj>_<name>`, or `<dir>map__<name>` for shared maps.
pub fn map_pin_rel(pin_subdir: Domain, prefix: &str, obj: &str, map: &str, shared: bool) -> String {
    let obj = if shared { "" } else { obj };
    format!("{}map_{}_{}", pin_dir(pin_subdir, prefix), obj, map)
}

/// Final pin path of a program, relative to the bpffs root:
/// `<dir>prog_<obj>_<pin_name>`.
pub fn prog_pin_rel(pin_subdir: Domain, prefix: &str, obj: &str, pin_name: &str) -> String {
    format!("{}prog_{}_{}", pin_dir(pin_subdir, prefix), obj, pin_name)
}

/// Temporary pin path used by the pin-then-rename dance when a
/// `selinux_context` is given: `<ctx dir>tmp_map_<obj>_<name>` (the object
/// name is used even for shared maps).
pub fn tmp_map_pin_rel(ctx: Domain, obj: &str, map: &str) -> String {
    format!("{}tmp_map_{}_{}", ctx.pin_subdir(), obj, map)
}

/// Temporary pin path of a program for the pin-then-rename dance.
pub fn tmp_prog_pin_rel(ctx: Domain, obj: &str, pin_name: &str) -> String {
    format!("{}tmp_prog_{}_{}", ctx.pin_subdir(), obj, pin_name)
}

/// Name prefix of temporary pins, used to clean leftovers of an interrupted run.
pub const TMP_PIN_PREFIX: &str = "tmp_";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_cut_at_last_dot_then_at() {
        assert_eq!(object_name(Path::new("/x/offload@mainline.o")), "offload");
        assert_eq!(object_name(Path::new("netd.o")), "netd");
        assert_eq!(object_name(Path::new("a.b.o")), "a.b");
        assert_eq!(object_name(Path::new("a@b@c.o")), "a@b");
        assert_eq!(object_name(Path::new("noext")), "noext");
    }

    #[test]
    fn pin_names() {
        assert_eq!(
            prog_pin_name("schedcls/ingress6_clat$4_14"),
            "schedcls_ingress6_clat"
        );
        assert_eq!(prog_pin_name("a$b/c$d"), "a$b_c");
        assert_eq!(prog_pin_name("skfilter/match"), "skfilter_match");
        assert_eq!(
            kernel_object_name("schedcls/tether_downstream6_ether$4_14"),
            "schedcls_tether"
        );
        assert_eq!(
            kernel_object_name("cgroupsock/inet_create$5_10"),
            "cgroupsock_inet"
        );
    }

    #[test]
    fn pin_paths() {
        assert_eq!(
            map_pin_rel(
                Domain::Unspecified,
                "tethering/",
                "offload",
                "tether_dev_map",
                false
            ),
            "tethering/map_offload_tether_dev_map"
        );
        assert_eq!(
            map_pin_rel(Domain::Unspecified, "net_shared/", "x", "m", true),
            "net_shared/map__m"
        );
        assert_eq!(
            map_pin_rel(Domain::NetdReadonly, "net_shared/", "x", "m", false),
            "netd_readonly/map_x_m"
        );
        assert_eq!(
            prog_pin_rel(Domain::Unspecified, "", "p", "skfilter_a"),
            "prog_p_skfilter_a"
        );
        assert_eq!(
            tmp_map_pin_rel(Domain::Loader, "o", "m"),
            "loader/tmp_map_o_m"
        );
    }

    #[test]
    fn domain_round_trip() {
        for d in Domain::ALL {
            assert_eq!(Domain::from_selinux_context(d.selinux_context()), Some(d));
            assert_eq!(Domain::from_pin_subdir(d.pin_subdir()), Some(d));
        }
        assert_eq!(Domain::from_pin_subdir("bogus/"), None);
    }

    #[test]
    fn subdirs_cover_prefixes_and_loader() {
        let s = created_subdirs();
        for p in [
            "tethering",
            "netd_shared",
            "netd_readonly",
            "net_shared",
            "net_private",
            "loader",
            "vendor",
        ] {
            assert!(s.contains(&p), "{p} missing from {s:?}");
        }
    }
}
