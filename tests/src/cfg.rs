//! How the root tier configures the engine: Android 15's mainline rules as
//! root (loader version 46) on the running kernel, userdebug, one object at
//! a time unless a test asks for workers.

use netbpfload::bpffs::Bpffs;
use netbpfload::engine::LoadConfig;
use netbpfload::gate::{Arch, BuildType, GateEnv};
use netbpfload::release::{Release, Role};
use netbpfload::spec::Kver;
use netbpfload::sys::linux::LinuxSys;
use netbpfload::sys::Process;
use std::path::Path;

/// Android 15's loader version running as root.
pub const V_LOADER: u32 = 46;

/// The running kernel's version.
pub fn kver() -> Kver {
    let (release, _) = LinuxSys.uname().expect("uname");
    Kver::parse_release(&release).expect("kernel release")
}

/// The gates' view of this machine with `loader_ver`.
pub fn gate_env(loader_ver: u32) -> GateEnv {
    let (release, machine) = LinuxSys.uname().expect("uname");
    GateEnv {
        loader_ver,
        kver: Kver::parse_release(&release).expect("kernel release"),
        build_type: BuildType::Userdebug,
        arch: Arch::from_uname_machine(&machine),
    }
}

/// The engine configuration for the bpffs at `root` under `release`'s
/// mainline rules (no manifest key: the root tier's objects are unsigned).
pub fn load_config_for(root: &Path, release: Release, role: Role) -> LoadConfig {
    let bpffs = Bpffs::open(&LinuxSys, root).expect("a private bpffs");
    let ver = release.loader_version(
        match release {
            Release::V => netbpfload::release::API_V,
            Release::R25Q2 => netbpfload::release::API_25Q2,
        },
        true,
    );
    let mut c = LoadConfig::new(&LinuxSys, bpffs, release.rules().role(role), gate_env(ver))
        .expect("engine configuration")
        .sequential(true);
    c.manifest_key = None;
    c
}

/// [`load_config_for`] Android 15's mainline loader.
pub fn load_config(root: &Path) -> LoadConfig {
    load_config_for(root, Release::V, Role::Mainline)
}
