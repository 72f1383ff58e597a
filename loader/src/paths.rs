//! The single home of every path, mode and naming rule.
//!
//! Tests check that `init/*.rc`, `init/*.service` and `sepolicy/*` agree with
//! the tables here, so a change to a location or a binary path is made once.

use crate::release::{LocationRule, ProgTypes, RoleRules, Rules};
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
/// The uprobestats APEX's loader, executed first by 25Q2 when present.
pub const UPROBESTATS_BPFLOAD_PATH: &str = "/apex/com.android.uprobestats/bin/uprobestatsbpfload";
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

/// A directory of `.o` files and the bpffs prefix its pins go under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Directory scanned (non-recursively) for `*.o`.
    pub dir: PathBuf,
    /// Prefix under the bpffs root, empty or ending in `/` (e.g. `tethering/`).
    pub prefix: String,
    /// Program types accepted there.
    pub prog_types: ProgTypes,
    /// The directory as it is named on the device (what a location's
    /// manifest must name): `dir` itself, or the release table's path when
    /// `dir` is that path re-rooted under a staging tree.
    pub device_dir: PathBuf,
}

impl Location {
    /// Builds a location accepting every program type; `prefix` is
    /// normalised to end in `/` unless empty.
    pub fn new(dir: impl Into<PathBuf>, prefix: &str) -> Self {
        let dir = dir.into();
        Location {
            device_dir: dir.clone(),
            dir,
            prefix: normalize_prefix(prefix),
            prog_types: ProgTypes::All,
        }
    }

    /// A location of a release's table, its directory re-rooted under
    /// `root` (`/` on a device; a staging directory elsewhere).
    pub fn from_rule(root: &Path, rule: &LocationRule) -> Self {
        Location {
            dir: reroot(root, rule.dir),
            prefix: rule.prefix.to_string(),
            prog_types: rule.prog_types,
            device_dir: PathBuf::from(rule.dir),
        }
    }
}

/// A location prefix as pins use it: no leading `/`, a trailing `/` unless
/// empty (`tethering` → `tethering/`).
pub fn normalize_prefix(prefix: &str) -> String {
    let mut p = prefix.trim_start_matches('/').to_string();
    if !p.is_empty() && !p.ends_with('/') {
        p.push('/');
    }
    p
}

/// `root` joined with an absolute path (`/` + `/a/b` = `/a/b`).
pub fn reroot(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

/// Extra directory created under the bpffs root besides the location prefixes.
pub const LOADER_SUBDIR: &str = "loader/";

/// Directory created (under `netd_shared/`) once the mainline locations are
/// loaded; netd waits for it.
pub const MAINLINE_DONE: &str = "netd_shared/mainline_done";

/// Every subdirectory of the bpffs root that the loaders of `rules` create
/// (mainline prefixes, `loader/`, platform prefixes), without the trailing
/// `/`.
pub fn created_subdirs(rules: &Rules) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = rules
        .mainline
        .locations
        .iter()
        .chain(rules.platform.locations)
        .map(|l| l.prefix.trim_end_matches('/'))
        .chain(std::iter::once(LOADER_SUBDIR.trim_end_matches('/')))
        .filter(|p| !p.is_empty())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The locations of one role of `rules`, re-rooted under `root`.
pub fn locations(root: &Path, rules: &RoleRules) -> Vec<Location> {
    rules
        .locations
        .iter()
        .map(|r| Location::from_rule(root, r))
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
            Domain::Unknown => "",
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
            Domain::Unknown => "",
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
        Domain::Unspecified | Domain::Unknown => location_prefix,
        d => d.pin_subdir(),
    }
}

/// Final pin path of a map, relative to the bpffs root:
/// `<dir>map_<obj>_<name>`, or `<dir>map__<name>` for shared maps.
pub fn map_pin_rel(dir: &str, obj: &str, map: &str, shared: bool) -> String {
    let obj = if shared { "" } else { obj };
    format!("{dir}map_{obj}_{map}")
}

/// Final pin path of a program, relative to the bpffs root:
/// `<dir>prog_<obj>_<pin_name>`.
pub fn prog_pin_rel(dir: &str, obj: &str, pin_name: &str) -> String {
    format!("{dir}prog_{obj}_{pin_name}")
}

/// Name prefix of every temporary pin this loader creates.
pub const TMP_PIN_PREFIX: &str = "tmp_nbl_";

/// Temporary pin path: `<dir>tmp_nbl_<tag>_<m|p><index>`, where `tag` is
/// unique to one object of one loader process (`<pid>_<n>`). Android's own
/// loaders name theirs `tmp_map_<obj>_<name>`; ours can never collide with
/// those nor with another process's.
pub fn tmp_pin_rel(dir: &str, tag: &str, kind: char, index: usize) -> String {
    format!("{dir}{TMP_PIN_PREFIX}{tag}_{kind}{index}")
}

/// The pid in a temporary pin name of ours, if it is one.
pub fn tmp_pin_pid(name: &str) -> Option<u32> {
    name.strip_prefix(TMP_PIN_PREFIX)?
        .split('_')
        .next()?
        .parse()
        .ok()
}

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
        let dir = pin_dir(Domain::Unspecified, "tethering/");
        assert_eq!(
            map_pin_rel(dir, "offload", "tether_dev_map", false),
            "tethering/map_offload_tether_dev_map"
        );
        assert_eq!(
            map_pin_rel("net_shared/", "x", "m", true),
            "net_shared/map__m"
        );
        assert_eq!(
            map_pin_rel(
                pin_dir(Domain::NetdReadonly, "net_shared/"),
                "x",
                "m",
                false
            ),
            "netd_readonly/map_x_m"
        );
        assert_eq!(prog_pin_rel("", "p", "skfilter_a"), "prog_p_skfilter_a");
        let tmp = tmp_pin_rel("loader/", "4242_3", 'm', 7);
        assert_eq!(tmp, "loader/tmp_nbl_4242_3_m7");
        assert_eq!(tmp_pin_pid("tmp_nbl_4242_3_m7"), Some(4242));
        assert_eq!(tmp_pin_pid("tmp_map_o_m"), None, "Android's own naming");
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
        let s = created_subdirs(crate::release::Release::V.rules());
        for p in [
            "tethering",
            "netd_shared",
            "netd_readonly",
            "net_shared",
            "net_private",
            "loader",
            "vendor",
            "uprobestats",
        ] {
            assert!(s.contains(&p), "{p} missing from {s:?}");
        }
    }
}
