//! Boot-flow flags and entry points: `netbpfload` (mainline role),
//! `bpfloader` / `netbpfload bpfloader` (platform role), `netbpfload done`.
//!
//! On a device none of the flags is given. They exist for Linux dev boards
//! and tests; every flag given is passed on to the loaders the chain
//! executes, so all three stages see the same configuration.

use netbpfload::boot::{self, BootConfig};
use netbpfload::platform::{PropertySink, PropertySource};
use netbpfload::sys::linux::LinuxSys;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Overrides for the boot flow (dev boards, staging trees, tests).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BootArgs {
    /// Staging root under which every absolute platform path (.rc files,
    /// object directories, default property file and runtime property
    /// directory, follow-up loader) is looked up.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Root of the bpf filesystem [default: /sys/fs/bpf].
    #[arg(long, value_name = "DIR")]
    bpffs: Option<PathBuf>,
    /// Where /proc/sys is [default: /proc/sys].
    #[arg(long, value_name = "DIR")]
    proc_sys: Option<PathBuf>,
    /// build.prop-format file with ro.build.version.sdk,
    /// ro.build.version.codename and ro.build.type (non-Android)
    /// [default: /etc/netbpfload/build.prop].
    #[arg(long, value_name = "FILE")]
    property_file: Option<PathBuf>,
    /// Directory receiving the bpf.progs_loaded file (non-Android)
    /// [default: /run/netbpfload/properties].
    #[arg(long, value_name = "DIR")]
    runtime_prop_dir: Option<PathBuf>,
    /// API level, instead of the properties.
    #[arg(long, value_name = "N")]
    api_level: Option<u32>,
    /// Build type (eng, user, userdebug), instead of ro.build.type.
    #[arg(long, value_name = "TYPE")]
    build_type: Option<String>,
    /// Seconds to wait after a critical failure before exiting [default: 20].
    #[arg(long, value_name = "SECS")]
    critical_delay_secs: Option<u64>,
    /// Follow-up loader executed on V+ [default: /system/bin/bpfloader].
    #[arg(long, value_name = "PATH")]
    followup_loader: Option<PathBuf>,
    /// Binary executed as `<it> done` by the platform role
    /// [default: /apex/com.android.tethering/bin/netbpfload].
    #[arg(long, value_name = "PATH")]
    done_loader: Option<PathBuf>,
    /// Kernel log device [default: /dev/kmsg].
    #[arg(long, value_name = "PATH")]
    kmsg: Option<PathBuf>,
    /// Log debug messages too.
    #[arg(long)]
    verbose: bool,
    /// Accept objects and location directories not owned by root, writable
    /// by group or others, or reached through a symlinked directory (logged
    /// as warnings). Dev boards only.
    #[arg(long)]
    insecure: bool,
    /// Load one object at a time instead of verifying independent objects'
    /// programs concurrently.
    #[arg(long)]
    sequential: bool,
    /// Ed25519 public key file (32 raw bytes or 64 hex digits) that each
    /// location's `bpf.manifest` must be signed with; overrides the key
    /// compiled in with NETBPFLOAD_MANIFEST_PUBKEY.
    #[arg(long, value_name = "FILE")]
    manifest_key: Option<PathBuf>,
    /// Create maps with the objects' BTF, as Android's 2025 loader does on
    /// kernels >= 5.10 (an object with maps then needs a `.BTF` section).
    #[arg(long)]
    btf: bool,
}

impl BootArgs {
    /// The flags as given, to pass on to the next loader of the chain.
    fn forward(&self) -> Vec<String> {
        let mut v = Vec::new();
        let mut path = |flag: &str, p: &Option<PathBuf>| {
            if let Some(p) = p {
                v.push(format!("--{flag}={}", p.display()));
            }
        };
        path("root", &self.root);
        path("bpffs", &self.bpffs);
        path("proc-sys", &self.proc_sys);
        path("property-file", &self.property_file);
        path("runtime-prop-dir", &self.runtime_prop_dir);
        path("followup-loader", &self.followup_loader);
        path("done-loader", &self.done_loader);
        path("kmsg", &self.kmsg);
        path("manifest-key", &self.manifest_key);
        if let Some(a) = self.api_level {
            v.push(format!("--api-level={a}"));
        }
        if let Some(b) = &self.build_type {
            v.push(format!("--build-type={b}"));
        }
        if let Some(s) = self.critical_delay_secs {
            v.push(format!("--critical-delay-secs={s}"));
        }
        if self.verbose {
            v.push("--verbose".into());
        }
        if self.insecure {
            v.push("--insecure".into());
        }
        if self.sequential {
            v.push("--sequential".into());
        }
        if self.btf {
            v.push("--btf".into());
        }
        v
    }

    fn config(&self) -> BootConfig {
        let root = self.root.clone().unwrap_or_else(|| PathBuf::from("/"));
        let mut c = BootConfig::with_root(root);
        if let Some(b) = &self.bpffs {
            c.bpffs_root = b.clone();
        }
        if let Some(p) = &self.proc_sys {
            c.proc_sys = p.clone();
        }
        if let Some(f) = &self.property_file {
            c.properties = PropertySource::File(f.clone());
        }
        if let Some(d) = &self.runtime_prop_dir {
            c.sink = PropertySink::Dir(d.clone());
        }
        c.overrides.api_level = self.api_level;
        c.overrides.build_type = self.build_type.clone();
        if let Some(s) = self.critical_delay_secs {
            c.critical_delay = Duration::from_secs(s);
        }
        if let Some(p) = &self.followup_loader {
            c.followup_loader = p.clone();
        }
        if let Some(p) = &self.done_loader {
            c.done_loader = p.clone();
        }
        c.insecure = self.insecure;
        c.parallel = !self.sequential;
        c.manifest_key_file = self.manifest_key.clone();
        c.btf = self.btf;
        c.forward_args = self.forward();
        c
    }

    fn init_logging(&self) {
        let kmsg = self
            .kmsg
            .as_deref()
            .unwrap_or(Path::new(netbpfload::logging::KMSG_PATH));
        netbpfload::logging::init(kmsg, self.verbose);
    }
}

/// `netbpfload`: the mainline role.
pub fn run_boot(a: BootArgs) -> i32 {
    a.init_logging();
    boot::run_mainline(&LinuxSys::new(), &a.config())
}

/// `bpfloader`: the platform (follow-up) role.
pub fn run_platform(a: BootArgs) -> i32 {
    a.init_logging();
    boot::run_platform(&LinuxSys::new(), &a.config())
}

/// `netbpfload done`.
pub fn run_done(a: BootArgs) -> i32 {
    a.init_logging();
    boot::run_done(&LinuxSys::new(), &a.config())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        b: BootArgs,
    }

    #[test]
    fn forwarded_flags_parse_back_to_the_same_config() {
        let t = T::parse_from([
            "x",
            "--root=/stage",
            "--bpffs",
            "/b",
            "--api-level=35",
            "--build-type=eng",
            "--critical-delay-secs=0",
            "--property-file=/p",
        ]);
        let fwd = t.b.forward();
        assert_eq!(
            fwd,
            [
                "--root=/stage",
                "--bpffs=/b",
                "--property-file=/p",
                "--api-level=35",
                "--build-type=eng",
                "--critical-delay-secs=0"
            ]
        );
        let again = T::parse_from(std::iter::once("x".to_string()).chain(fwd.clone()));
        assert_eq!(again.b.forward(), fwd);
        let c = again.b.config();
        assert_eq!(c.root, PathBuf::from("/stage"));
        assert_eq!(c.bpffs_root, PathBuf::from("/b"));
        assert_eq!(c.critical_delay, Duration::ZERO);
        assert_eq!(c.properties, PropertySource::File("/p".into()));
        // Defaults re-rooted under --root.
        assert_eq!(
            c.followup_loader,
            PathBuf::from("/stage/system/bin/bpfloader")
        );
    }

    #[test]
    fn parallel_by_default_and_sequential_is_forwarded() {
        assert!(T::parse_from(["x"]).b.config().parallel);
        let t = T::parse_from(["x", "--sequential"]);
        assert_eq!(t.b.forward(), ["--sequential"]);
        assert!(!t.b.config().parallel);
        let again = T::parse_from(std::iter::once("x".to_string()).chain(t.b.forward()));
        assert!(!again.b.config().parallel);
    }

    #[test]
    fn manifest_key_is_forwarded_and_configured() {
        let t = T::parse_from(["x", "--manifest-key", "/etc/bpf.pub"]);
        assert_eq!(t.b.forward(), ["--manifest-key=/etc/bpf.pub"]);
        assert_eq!(
            t.b.config().manifest_key_file,
            Some(PathBuf::from("/etc/bpf.pub"))
        );
        assert_eq!(T::parse_from(["x"]).b.config().manifest_key_file, None);
    }

    #[test]
    fn no_flags_means_nothing_forwarded() {
        let t = T::parse_from(["x"]);
        assert!(t.b.forward().is_empty());
        let c = t.b.config();
        assert_eq!(c.bpffs_root, PathBuf::from("/sys/fs/bpf"));
        assert_eq!(c.followup_loader, PathBuf::from("/system/bin/bpfloader"));
        assert_eq!(
            c.done_loader,
            PathBuf::from("/apex/com.android.tethering/bin/netbpfload")
        );
    }
}
