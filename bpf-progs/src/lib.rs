//! The eBPF object corpus: Android-format objects compiled from
//! `src/progs/*.c` and libbpf-style objects compiled from `src/libbpf/*.c`
//! by `build.rs`, embedded here, and helpers that lay them out the way a
//! device (or a board) does.
//!
//! [`OBJECTS`] lists every object with the location it belongs to and what a
//! loader should make of it; `README.md` has the per-map and per-program
//! expectations (pin paths, gates) that tests use as ground truth.

#![deny(missing_docs)]

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Directory (relative to the device root) of the tethering APEX's objects;
/// each mainline location is a subdirectory named like its bpffs prefix,
/// except that Android 15 keeps the `tethering/` objects in this directory
/// itself ([`Layout`]).
pub const APEX_BPF_DIR: &str = "apex/com.android.tethering/etc/bpf/";

/// Where a release keeps the tethering APEX's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Android 15: the `tethering/` location is `etc/bpf/` itself.
    V,
    /// 2025 main: every location is a subdirectory of `etc/bpf/`.
    Main2025,
}
/// Directory (relative to the device root) of the platform loader's objects.
pub const PLATFORM_BPF_DIR: &str = "system/etc/bpf/";
/// The mainline bpffs prefixes, in the loader's location order.
pub const MAINLINE_PREFIXES: [&str; 5] = [
    "tethering/",
    "netd_shared/",
    "netd_readonly/",
    "net_shared/",
    "net_private/",
];

/// Mode of every object file [`install_tree`] writes.
pub const FILE_MODE: u32 = 0o644;
/// Mode of every directory [`install_tree`] creates.
pub const DIR_MODE: u32 = 0o755;

/// Where an object is installed in the default layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A tethering APEX location: `APEX_BPF_DIR/<prefix>`, pins under
    /// `<bpffs>/<prefix>` unless a `pin_subdir` says otherwise.
    Mainline {
        /// One of [`MAINLINE_PREFIXES`], e.g. `tethering/`.
        prefix: &'static str,
    },
    /// The platform location `/system/etc/bpf/`, pins directly under the
    /// bpffs root (prefix `""`).
    Platform,
}

impl Location {
    /// Directory of the object relative to the device root, in Android 15's
    /// layout (the default boot flow's).
    pub fn dir(self) -> String {
        self.dir_in(Layout::V)
    }

    /// Directory of the object relative to the device root, in `layout`.
    pub fn dir_in(self, layout: Layout) -> String {
        match (self, layout) {
            (
                Location::Mainline {
                    prefix: "tethering/",
                },
                Layout::V,
            ) => APEX_BPF_DIR.to_string(),
            (Location::Mainline { prefix }, _) => format!("{APEX_BPF_DIR}{prefix}"),
            (Location::Platform, _) => PLATFORM_BPF_DIR.to_string(),
        }
    }

    /// Prefix of pins under the bpffs root (`""` for the platform location).
    pub fn bpffs_prefix(self) -> &'static str {
        match self {
            Location::Mainline { prefix } => prefix,
            Location::Platform => "",
        }
    }
}

/// What a loader on a 6.x kernel should make of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Loads: every map and program that passes its gates is pinned.
    Good,
    /// Not critical; a mandatory program is rejected by the verifier, so the
    /// object fails (and the others still load).
    VerifierRejected,
    /// Critical, and a mandatory program is rejected by the verifier: loading
    /// it must fail the boot. Kept out of the default layout.
    FailingCritical,
    /// Its `bpfloader_min_ver` is above every loader version: skipped whole,
    /// without error and without any pin.
    LoaderVersionSkipped,
    /// Has a map the kernel creates only with BTF key/value types
    /// (SK_STORAGE): loads when the loader types maps with the object's
    /// `.BTF` (kernel >= 5.10); without BTF that map's creation fails
    /// (`EINVAL`) and so does the object. Kept out of the default layout.
    NeedsBtf,
    /// Loads when the loader does not use BTF; a loader that types maps with
    /// BTF must refuse it before creating anything, with an error containing
    /// `reason`. Kept out of the default layout.
    BtfRejected {
        /// Part of the expected error (netbpfload's wording).
        reason: &'static str,
    },
    /// Built with an old `bpf_map_def`/`bpf_prog_def` layout; loads with a
    /// loader that honours `size_of_bpf_*_def`. Kept out of the default layout.
    Legacy {
        /// Declared (or, for v0.0 without the section, implied) map def size.
        map_def_size: usize,
        /// Declared (or implied) prog def size.
        prog_def_size: usize,
    },
    /// A libbpf-style object (`src/libbpf/`: BTF-defined maps in `.maps`,
    /// libbpf section names, CO-RE relocations): loads where libbpf objects
    /// are accepted (a Linux board), pinned as `map_<object>_<map>` and
    /// `prog_<object>_<function>`; Android's loaders refuse it. Kept out of
    /// the Android layouts ([`install_libbpf`] places them).
    Libbpf {
        /// Its maps, as declared in `.maps` (in that order).
        maps: &'static [&'static str],
        /// Its programs' function names (in section order).
        programs: &'static [&'static str],
    },
    /// A libbpf-style object whose program the verifier rejects: it fails
    /// alone, with none of its maps or programs pinned.
    LibbpfRejected {
        /// The rejected program's function name.
        program: &'static str,
    },
}

impl Kind {
    /// A libbpf-style object (not Android's `maps`/`progs` format).
    pub const fn is_libbpf(self) -> bool {
        matches!(self, Kind::Libbpf { .. } | Kind::LibbpfRejected { .. })
    }
}

/// One compiled object.
#[derive(Debug, Clone, Copy)]
pub struct CorpusObject {
    /// File name, e.g. `offload@mainline.o`.
    pub file_name: &'static str,
    /// The ELF bytes, compiled by `build.rs`.
    pub bytes: &'static [u8],
    /// Location in the default layout; `None` for objects kept out of it.
    pub location: Option<Location>,
    /// Expected outcome.
    pub kind: Kind,
    /// Carries a `critical` section.
    pub critical: bool,
}

macro_rules! object_bytes {
    ($name:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/", $name))
    };
}

const fn mainline(prefix: &'static str) -> Option<Location> {
    Some(Location::Mainline { prefix })
}

/// Every object of the corpus. See `README.md` for what each one holds.
pub static OBJECTS: &[CorpusObject] = &[
    CorpusObject {
        file_name: "offload@mainline.o",
        bytes: object_bytes!("offload@mainline.o"),
        location: mainline("tethering/"),
        kind: Kind::Good,
        critical: true,
    },
    CorpusObject {
        file_name: "needsNewerLoader.o",
        bytes: object_bytes!("needsNewerLoader.o"),
        location: mainline("tethering/"),
        kind: Kind::LoaderVersionSkipped,
        critical: false,
    },
    CorpusObject {
        file_name: "netd.o",
        bytes: object_bytes!("netd.o"),
        location: mainline("netd_shared/"),
        kind: Kind::Good,
        critical: true,
    },
    CorpusObject {
        file_name: "clatd.o",
        bytes: object_bytes!("clatd.o"),
        location: mainline("net_shared/"),
        kind: Kind::Good,
        critical: true,
    },
    CorpusObject {
        file_name: "dscpPolicy.o",
        bytes: object_bytes!("dscpPolicy.o"),
        location: mainline("net_shared/"),
        kind: Kind::Good,
        critical: false,
    },
    CorpusObject {
        file_name: "pktCount.o",
        bytes: object_bytes!("pktCount.o"),
        location: mainline("net_private/"),
        kind: Kind::Good,
        critical: false,
    },
    CorpusObject {
        file_name: "verifierReject.o",
        bytes: object_bytes!("verifierReject.o"),
        location: mainline("net_private/"),
        kind: Kind::VerifierRejected,
        critical: false,
    },
    CorpusObject {
        file_name: "gateMatrix.o",
        bytes: object_bytes!("gateMatrix.o"),
        location: mainline("net_private/"),
        kind: Kind::Good,
        critical: false,
    },
    CorpusObject {
        file_name: "schedTrace.o",
        bytes: object_bytes!("schedTrace.o"),
        location: Some(Location::Platform),
        kind: Kind::Good,
        critical: false,
    },
    CorpusObject {
        file_name: "tcpProbe.o",
        bytes: object_bytes!("tcpProbe.o"),
        location: Some(Location::Platform),
        kind: Kind::Good,
        critical: false,
    },
    CorpusObject {
        file_name: "criticalReject.o",
        bytes: object_bytes!("criticalReject.o"),
        location: None,
        kind: Kind::FailingCritical,
        critical: true,
    },
    CorpusObject {
        file_name: "skStorage.o",
        bytes: object_bytes!("skStorage.o"),
        location: None,
        kind: Kind::NeedsBtf,
        critical: false,
    },
    CorpusObject {
        file_name: "btfMismatch.o",
        bytes: object_bytes!("btfMismatch.o"),
        location: None,
        kind: Kind::BtfRejected {
            reason: "map mismatch_map: BTF key/value sizes 4/4 (____btf_map_mismatch_map) \
                     differ from the definition's 4/8",
        },
        critical: false,
    },
    CorpusObject {
        file_name: "btfCorrupt.o",
        bytes: object_bytes!("btfCorrupt.o"),
        location: None,
        kind: Kind::BtfRejected {
            reason: "malformed .BTF: type 1: unknown kind 31",
        },
        critical: false,
    },
    CorpusObject {
        file_name: "legacyV0.o",
        bytes: object_bytes!("legacyV0.o"),
        location: None,
        kind: Kind::Legacy {
            map_def_size: 32,
            prog_def_size: 20,
        },
        critical: false,
    },
    CorpusObject {
        file_name: "legacyS.o",
        bytes: object_bytes!("legacyS.o"),
        location: None,
        kind: Kind::Legacy {
            map_def_size: 48,
            prog_def_size: 28,
        },
        critical: false,
    },
    CorpusObject {
        file_name: "coreSkb.o",
        bytes: object_bytes!("coreSkb.o"),
        location: None,
        kind: Kind::Libbpf {
            maps: &["packets"],
            programs: &["socket_len", "tc_mark"],
        },
        critical: false,
    },
    CorpusObject {
        file_name: "coreTrace.o",
        bytes: object_bytes!("coreTrace.o"),
        location: None,
        kind: Kind::Libbpf {
            maps: &["calls"],
            programs: &["count_getpid"],
        },
        critical: false,
    },
    CorpusObject {
        file_name: "coreNet.o",
        bytes: object_bytes!("coreNet.o"),
        location: None,
        kind: Kind::Libbpf {
            maps: &["verdicts", "flows", "events"],
            programs: &["xdp_pass", "skb_ingress"],
        },
        critical: false,
    },
    CorpusObject {
        file_name: "libbpfReject.o",
        bytes: object_bytes!("libbpfReject.o"),
        location: None,
        kind: Kind::LibbpfRejected {
            program: "unchecked_lookup",
        },
        critical: false,
    },
    CorpusObject {
        file_name: "legacyT.o",
        bytes: object_bytes!("legacyT.o"),
        location: None,
        kind: Kind::Legacy {
            map_def_size: 116,
            prog_def_size: 92,
        },
        critical: false,
    },
];

/// Bpffs prefix (and location directory name) the tests use for the
/// libbpf-style objects.
pub const LIBBPF_PREFIX: &str = "libbpf/";

/// The objects of Android's `maps`/`progs` format.
pub fn android_objects() -> impl Iterator<Item = &'static CorpusObject> {
    OBJECTS.iter().filter(|o| !o.kind.is_libbpf())
}

/// The libbpf-style objects.
pub fn libbpf_objects() -> impl Iterator<Item = &'static CorpusObject> {
    OBJECTS.iter().filter(|o| o.kind.is_libbpf())
}

/// Writes every libbpf-style object into `dir` (created if missing, mode
/// 0755; files 0644), for a location of their own. Returns the files.
pub fn install_libbpf(dir: &Path) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))?;
    let mut written = Vec::new();
    for obj in libbpf_objects() {
        let path = dir.join(obj.file_name);
        fs::write(&path, obj.bytes)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(FILE_MODE))?;
        written.push(path);
    }
    Ok(written)
}

/// Looks an object up by file name.
pub fn object(file_name: &str) -> Option<&'static CorpusObject> {
    OBJECTS.iter().find(|o| o.file_name == file_name)
}

/// Writes the default layout under `root` in Android 15's layout; see
/// [`install_tree_for`].
pub fn install_tree(root: &Path) -> io::Result<Vec<PathBuf>> {
    install_tree_for(root, Layout::V)
}

/// Writes the default layout under `root` (created if missing) as `layout`
/// places it: every placed object into its location directory (mode 0644),
/// creating every mainline location and the platform directory (mode 0755)
/// even when empty. Returns the files written, in [`OBJECTS`] order.
/// Existing files are overwritten.
pub fn install_tree_for(root: &Path, layout: Layout) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(root)?;
    let dirs = MAINLINE_PREFIXES
        .iter()
        .map(|&prefix| Location::Mainline { prefix })
        .chain(std::iter::once(Location::Platform));
    for location in dirs {
        create_dir_with_mode(root, &location.dir_in(layout))?;
    }
    let mut written = Vec::new();
    for obj in OBJECTS {
        let Some(location) = obj.location else {
            continue;
        };
        let path = root.join(location.dir_in(layout)).join(obj.file_name);
        fs::write(&path, obj.bytes)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(FILE_MODE))?;
        written.push(path);
    }
    Ok(written)
}

/// Creates `root/rel` and its missing parents below `root`, each with
/// [`DIR_MODE`] regardless of the umask.
fn create_dir_with_mode(root: &Path, rel: &str) -> io::Result<()> {
    let mut dir = root.to_path_buf();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        dir.push(part);
        match fs::create_dir(&dir) {
            Ok(()) => fs::set_permissions(&dir, fs::Permissions::from_mode(DIR_MODE))?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
