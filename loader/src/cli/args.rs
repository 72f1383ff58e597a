//! The options every command shares, written before or after the command
//! name (`netbpfload --bpffs /b load …` = `netbpfload load --bpffs /b …`).
//!
//! A command honours some of them; giving one it does not honour is a
//! usage error naming the option, never silently ignored. The boot chain
//! passes the options it was given on to the loaders it executes; what is
//! passed is derived from this struct's definition, so a new option is
//! forwarded without anyone listing it.

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Command};
use netbpfload::gate::BuildType;
use netbpfload::plan::MapBytes;
use netbpfload::release::Release;
use netbpfload::sys::Machine;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Options shared by every command.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Staging root under which every absolute platform path (.rc files,
    /// object directories, default property file and runtime property
    /// directory, follow-up loader) is looked up.
    #[arg(long, value_name = "DIR", global = true)]
    pub root: Option<PathBuf>,
    /// Root of the bpf filesystem [default: /sys/fs/bpf].
    #[arg(long, value_name = "DIR", global = true)]
    pub bpffs: Option<PathBuf>,
    /// Where /proc/sys is [default: /proc/sys].
    #[arg(long, value_name = "DIR", global = true)]
    pub proc_sys: Option<PathBuf>,
    /// build.prop-format file with ro.build.version.sdk,
    /// ro.build.version.codename and ro.build.type (non-Android)
    /// [default: /etc/netbpfload/build.prop].
    #[arg(long, value_name = "FILE", global = true)]
    pub property_file: Option<PathBuf>,
    /// Directory receiving the bpf.progs_loaded file (non-Android)
    /// [default: /run/netbpfload/properties].
    #[arg(long, value_name = "DIR", global = true)]
    pub runtime_prop_dir: Option<PathBuf>,
    /// API level, instead of the properties.
    #[arg(long, value_name = "N", global = true)]
    pub api_level: Option<u32>,
    /// Build type (eng, user, userdebug), instead of ro.build.type.
    #[arg(long, value_name = "TYPE", global = true, value_parser = parse_build_type)]
    pub build_type: Option<BuildType>,
    /// Follow the rules of this Android release (v = Android 15, 25q2 =
    /// 2025 main) instead of detecting it from the platform.
    #[arg(long, value_name = "RELEASE", global = true, value_parser = parse_release)]
    pub release: Option<Release>,
    /// Seconds to wait after a critical failure before exiting [default: 20].
    #[arg(long, value_name = "SECS", global = true)]
    pub critical_delay_secs: Option<u64>,
    /// Follow-up loader executed after the mainline objects
    /// [default: the release's: /system/bin/bpfloader].
    #[arg(long, value_name = "PATH", global = true)]
    pub followup_loader: Option<PathBuf>,
    /// Binary executed as `<it> done` by the platform role
    /// [default: /apex/com.android.tethering/bin/netbpfload].
    #[arg(long, value_name = "PATH", global = true)]
    pub done_loader: Option<PathBuf>,
    /// Kernel log device [default: /dev/kmsg].
    #[arg(long, value_name = "PATH", global = true)]
    pub kmsg: Option<PathBuf>,
    /// Log debug messages too.
    #[arg(long, global = true)]
    pub verbose: bool,
    /// Accept objects and location directories not owned by root, writable
    /// by group or others, or reached through a symlinked directory (logged
    /// as warnings). Dev boards only.
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Load one object at a time instead of verifying independent objects'
    /// programs concurrently.
    #[arg(long, global = true)]
    pub sequential: bool,
    /// Ed25519 public key file (32 raw bytes or 64 hex digits) that each
    /// location's `bpf.manifest` must be signed with; overrides the key
    /// compiled in with NETBPFLOAD_MANIFEST_PUBKEY.
    #[arg(long, value_name = "FILE", global = true)]
    pub manifest_key: Option<PathBuf>,
    /// Refuse location manifests whose `version` is lower than N; can only
    /// raise the minimum compiled in with NETBPFLOAD_MANIFEST_MIN_VERSION
    /// [default: the compiled-in minimum].
    #[arg(long, value_name = "N", global = true, value_parser = parse_min_version)]
    pub manifest_min_version: Option<u64>,
    /// Lock file serialising loaders on a Linux board (`none`: no lock, as
    /// on Android) [default: /run/netbpfload/lock off Android].
    #[arg(long, value_name = "FILE|none", global = true)]
    pub run_lock: Option<PathBuf>,
    /// Seconds one object may spend in failing verifications before its
    /// remaining programs are not tried [default: 10].
    #[arg(long, value_name = "SECS", global = true)]
    pub verify_budget_secs: Option<u64>,
    /// Seconds one object may spend in all its verifications, passing or
    /// failing, before its remaining programs are not tried [default: 30].
    #[arg(long, value_name = "SECS", global = true)]
    pub verify_total_secs: Option<u64>,
    /// Most MiB of kernel memory the maps of one object may declare in all
    /// (max_entries x (key + value), per CPU for per-CPU maps) [default: a
    /// quarter of the machine's memory].
    #[arg(long, value_name = "MIB", global = true)]
    pub map_memory_max_mib: Option<u64>,
}

fn parse_build_type(s: &str) -> Result<BuildType, String> {
    BuildType::parse(s).ok_or_else(|| format!("`{s}` is not one of eng, user, userdebug"))
}

fn parse_min_version(s: &str) -> Result<u64, String> {
    netbpfload::manifest::parse_version(s)
        .ok_or_else(|| format!("`{s}` is not a decimal integer of at most 64 bits"))
}

fn parse_release(s: &str) -> Result<Release, String> {
    Release::parse(s).ok_or_else(|| format!("`{s}` is not one of v, 25q2"))
}

/// Every option of [`GlobalArgs`]: its id and long name.
fn options() -> Vec<(String, String, bool)> {
    GlobalArgs::augment_args(Command::new("netbpfload"))
        .get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?.to_string();
            Some((a.get_id().to_string(), long, a.get_action().takes_values()))
        })
        .collect()
}

/// The global options given on the command line (not defaults).
fn given<'m>(m: &'m ArgMatches) -> impl Iterator<Item = (String, String, bool)> + 'm {
    options()
        .into_iter()
        .filter(move |(id, _, _)| m.value_source(id) == Some(ValueSource::CommandLine))
}

/// The options given, as arguments for the next loader of the chain.
pub fn forward(m: &ArgMatches) -> Vec<OsString> {
    let mut out = Vec::new();
    for (id, long, takes_value) in given(m) {
        if takes_value {
            for v in m.get_raw(&id).into_iter().flatten() {
                let mut a = OsString::from(format!("--{long}="));
                a.push(v);
                out.push(a);
            }
        } else {
            out.push(OsString::from(format!("--{long}")));
        }
    }
    out
}

/// The map memory budget of one object: `--map-memory-max-mib`, else the
/// machine's default (no limit when the machine cannot be read).
pub fn map_bytes(g: &GlobalArgs, machine: Option<Machine>) -> MapBytes {
    let mut b = machine.map_or(
        MapBytes {
            max: u64::MAX,
            cpus: 1,
        },
        MapBytes::for_machine,
    );
    if let Some(max) = g.map_memory_max() {
        b.max = max;
    }
    b
}

/// Refuses the options given that `command` does not honour (by id).
pub fn refuse_unused(m: &ArgMatches, command: &str, honoured: &[&str]) -> Result<(), String> {
    let unused: Vec<String> = given(m)
        .filter(|(id, _, _)| !honoured.contains(&id.as_str()))
        .map(|(_, long, _)| format!("--{long}"))
        .collect();
    if unused.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} {} no effect on `netbpfload {command}`",
            unused.join(", "),
            if unused.len() == 1 { "has" } else { "have" }
        ))
    }
}

impl GlobalArgs {
    /// Sets up logging: the kernel log for the boot chain.
    pub fn init_boot_logging(&self) {
        let kmsg = self
            .kmsg
            .as_deref()
            .unwrap_or(Path::new(netbpfload::logging::KMSG_PATH));
        netbpfload::logging::init(kmsg, self.kmsg.is_some(), self.verbose);
    }

    /// The run lock: `--run-lock none` disables it.
    pub fn run_lock(&self) -> Option<Option<PathBuf>> {
        self.run_lock
            .as_ref()
            .map(|p| (p.as_os_str() != "none").then(|| p.clone()))
    }

    /// `--map-memory-max-mib`, in bytes.
    pub fn map_memory_max(&self) -> Option<u64> {
        self.map_memory_max_mib
            .map(|mib| mib.saturating_mul(1 << 20))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{FromArgMatches, Parser};

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        g: GlobalArgs,
        #[command(subcommand)]
        cmd: Option<Sub>,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        Load,
    }

    fn parse(args: &[&str]) -> (GlobalArgs, ArgMatches) {
        let m = T::command_for_test()
            .try_get_matches_from(std::iter::once("x").chain(args.iter().copied()))
            .expect("parses");
        let g = GlobalArgs::from_arg_matches(&m).expect("globals");
        // Globals written after the subcommand are in its matches.
        let sub = m
            .subcommand()
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| m.clone());
        (GlobalArgs::from_arg_matches(&sub).unwrap_or(g), sub)
    }

    impl T {
        fn command_for_test() -> Command {
            <T as clap::CommandFactory>::command()
        }
    }

    #[test]
    fn globals_are_honoured_before_and_after_the_command() {
        for args in [
            &["--bpffs", "/b", "--insecure", "load"][..],
            &["load", "--bpffs", "/b", "--insecure"][..],
        ] {
            let (g, _) = parse(args);
            assert_eq!(g.bpffs.as_deref(), Some(Path::new("/b")), "{args:?}");
            assert!(g.insecure, "{args:?}");
        }
    }

    /// A value each option accepts.
    fn sample_value(long: &str) -> &'static str {
        match long {
            "api-level"
            | "critical-delay-secs"
            | "verify-budget-secs"
            | "verify-total-secs"
            | "map-memory-max-mib"
            | "manifest-min-version" => "7",
            "build-type" => "eng",
            "release" => "25q2",
            _ => "/p",
        }
    }

    #[test]
    fn forwarding_is_derived_from_the_definition() {
        let (_, m) = parse(&[
            "--root=/stage",
            "--bpffs",
            "/b",
            "--release",
            "25q2",
            "--sequential",
        ]);
        let fwd = forward(&m);
        assert_eq!(
            fwd,
            [
                "--root=/stage",
                "--bpffs=/b",
                "--release=25q2",
                "--sequential"
            ]
        );
        let (_, none) = parse(&[]);
        assert!(forward(&none).is_empty());

        // Given every option the definition has, every one is forwarded
        // and parses back to the same values.
        let all: Vec<String> = options()
            .into_iter()
            .map(|(_, long, takes_value)| {
                if takes_value {
                    format!("--{long}={}", sample_value(&long))
                } else {
                    format!("--{long}")
                }
            })
            .collect();
        assert!(all.len() >= 18, "{all:?}");
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        let (g, m) = parse(&args);
        let fwd = forward(&m);
        assert_eq!(fwd.len(), all.len(), "{fwd:?}");
        let again = T::command_for_test()
            .try_get_matches_from(std::iter::once(OsString::from("x")).chain(fwd.clone()))
            .expect("forwarded flags parse back");
        assert_eq!(forward(&again), fwd);
        let back = GlobalArgs::from_arg_matches(&again).expect("globals");
        assert_eq!(format!("{back:?}"), format!("{g:?}"));
        assert_eq!(back.release, Some(Release::R25Q2));
        assert_eq!(back.build_type, Some(BuildType::Eng));
        assert!(back.sequential && back.insecure && back.verbose);
    }

    #[test]
    fn unused_options_are_refused_by_name() {
        let (_, m) = parse(&["load", "--proc-sys", "/p", "--bpffs", "/b"]);
        let e = refuse_unused(&m, "load", &["bpffs"]).unwrap_err();
        assert_eq!(e, "--proc-sys has no effect on `netbpfload load`");
        assert!(refuse_unused(&m, "load", &["bpffs", "proc_sys"]).is_ok());
    }

    #[test]
    fn run_lock_none_disables_it() {
        let (g, _) = parse(&["--run-lock", "none"]);
        assert_eq!(g.run_lock(), Some(None));
        let (g, _) = parse(&["--run-lock=/tmp/l"]);
        assert_eq!(g.run_lock(), Some(Some(PathBuf::from("/tmp/l"))));
        let (g, _) = parse(&[]);
        assert_eq!(g.run_lock(), None);
    }
}
