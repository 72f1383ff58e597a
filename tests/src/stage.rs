//! Staged roots for the root tier: the files an Android device of one
//! release has where the loader looks (the platform's `netbpfload.rc`, the
//! build properties, the loaders' binaries, the `/proc/sys` knobs, a kernel
//! log file) under a temporary directory, and the corpus laid out where that
//! release keeps it. The boot chain then runs with `--root` on it.

use bpf_progs::Layout;
use netbpfload::paths::{self, Location};
use netbpfload::release::{Release, Role};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Builds the `netbpfload` binary (once per test process) and returns its
/// path.
pub fn netbpfload_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "netbpfload", "--bin", "netbpfload"])
            .current_dir(workspace())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build -p netbpfload failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("target"));
        let bin = target.join("debug").join("netbpfload");
        assert!(bin.exists(), "{} missing after cargo build", bin.display());
        bin
    })
    .clone()
}

/// Where `release` keeps the tethering APEX's objects.
pub fn layout(release: Release) -> Layout {
    match release {
        Release::V => Layout::V,
        Release::R25Q2 => Layout::Main2025,
    }
}

/// A staging directory, mode 0755 (dropped identities can traverse it).
pub fn tempdir() -> tempfile::TempDir {
    let s = tempfile::tempdir().expect("stage");
    std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    s
}

/// A staging root with the corpus installed as `release` lays it out.
pub fn corpus_root(release: Release) -> tempfile::TempDir {
    let s = tempdir();
    bpf_progs::install_tree_for(s.path(), layout(release)).expect("install corpus");
    s
}

/// Every location of `release` (both roles) re-rooted under `root`, with
/// the role that loads it.
pub fn locations(root: &Path, release: Release) -> Vec<(Location, Role)> {
    let rules = release.rules();
    [Role::Mainline, Role::Platform]
        .into_iter()
        .flat_map(|role| {
            paths::locations(root, rules.role(role))
                .into_iter()
                .map(move |l| (l, role))
        })
        .collect()
}

/// A staged device of one release, ready for the boot chain.
#[derive(Debug)]
pub struct BootRoot {
    dir: tempfile::TempDir,
    /// Its release.
    pub release: Release,
}

impl BootRoot {
    /// A device of `release`: the platform `netbpfload.rc` that release ships
    /// (`init/platform/`), a user build of its API level, `bin` as both
    /// loaders, the three BPF sysctls (as the kernel boots them), an empty
    /// kernel log and, with `corpus`, the corpus where the release keeps it.
    pub fn new(release: Release, bin: &Path, corpus: bool) -> BootRoot {
        let dir = if corpus {
            corpus_root(release)
        } else {
            tempdir()
        };
        let r = dir.path();
        for d in [
            "system/etc/init",
            "etc/netbpfload",
            "system/bin",
            "apex/com.android.tethering/bin",
            "proc-sys/kernel",
            "proc-sys/net/core",
        ] {
            std::fs::create_dir_all(r.join(d)).expect("mkdir");
        }
        let (rc, sdk) = match release {
            Release::V => ("init/platform/V/netbpfload.rc", netbpfload::release::API_V),
            Release::R25Q2 => (
                "init/platform/B/netbpfload.rc",
                netbpfload::release::API_25Q2,
            ),
        };
        std::fs::copy(
            workspace().join(rc),
            paths::reroot(r, paths::PLATFORM_NETBPFLOAD_RC),
        )
        .expect("copy rc");
        std::fs::write(
            paths::reroot(r, paths::DEFAULT_PROPERTY_FILE),
            format!(
                "ro.build.version.sdk={sdk}\nro.build.version.codename=REL\nro.build.type=user\n"
            ),
        )
        .expect("build.prop");
        std::os::unix::fs::symlink(bin, paths::reroot(r, paths::PLATFORM_BPFLOADER_PATH))
            .expect("symlink");
        std::os::unix::fs::symlink(bin, paths::reroot(r, paths::NETBPFLOAD_PATH)).expect("symlink");
        for (f, v) in [
            ("kernel/unprivileged_bpf_disabled", "2\n"),
            ("net/core/bpf_jit_enable", "1\n"),
            ("net/core/bpf_jit_kallsyms", "1\n"),
        ] {
            std::fs::write(r.join("proc-sys").join(f), v).expect("sysctl file");
        }
        std::fs::write(r.join("kmsg"), "").expect("kmsg");
        BootRoot { dir, release }
    }

    /// The staging directory (the device's `/`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The device path `abs` (e.g. `/system/etc/bpf`) under the stage.
    pub fn at(&self, abs: &str) -> PathBuf {
        paths::reroot(self.path(), abs)
    }

    /// The boot chain's command (the mainline loader as init starts it),
    /// pinning into `bpffs`, without the critical-failure delay.
    pub fn cmd(&self, bpffs: &Path) -> Command {
        let mut c = Command::new(netbpfload_bin());
        c.arg(format!("--root={}", self.path().display()))
            .arg(format!("--bpffs={}", bpffs.display()))
            .arg(format!(
                "--proc-sys={}",
                self.path().join("proc-sys").display()
            ))
            .arg(format!("--kmsg={}", self.path().join("kmsg").display()))
            .arg("--run-lock=none")
            .arg("--critical-delay-secs=0");
        c
    }

    /// Runs the boot chain into `bpffs`: its exit status and the kernel log
    /// it wrote.
    pub fn boot(&self, bpffs: &Path) -> (Option<i32>, String) {
        let out = self.cmd(bpffs).output().expect("run netbpfload");
        let mut log = std::fs::read_to_string(self.path().join("kmsg")).expect("kmsg");
        log.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.code(), log)
    }

    /// The runtime property `done` writes (`bpf.progs_loaded`), if written.
    pub fn progs_loaded(&self) -> Option<String> {
        std::fs::read_to_string(
            paths::reroot(self.path(), paths::DEFAULT_RUNTIME_PROP_DIR)
                .join(paths::PROGS_LOADED_PROP),
        )
        .ok()
    }
}
