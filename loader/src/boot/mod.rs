//! The boot flow: `netbpfload` (mainline role), the follow-up `bpfloader`
//! (platform role) and `netbpfload done`, chained by `execve` like the
//! reference (facts §7):
//!
//! ```text
//! netbpfload ──exec──▶ bpfloader ──exec──▶ netbpfload done
//! (mainline locations)  (platform locations)  (bpf.progs_loaded=1)
//! ```
//!
//! Each step is a tested piece ([`gates`], [`setup`], [`crate::platform`],
//! [`crate::engine`]); this module only strings them together and maps the
//! outcome to the reference's exit codes ([`EXIT_OK`], [`EXIT_FAILURE`],
//! [`EXIT_CRITICAL`], [`EXIT_DONE_FAILED`]).

pub mod gates;
pub mod setup;

use crate::engine::{self, LoadConfig, ObjectOutcome};
use crate::gate::{Arch, GateEnv};
use crate::paths::{self, Location};
use crate::platform::{reroot, Overrides, PlatformFacts, PropertySink, PropertySource, API_V};
use crate::spec::Kver;
use crate::sys::Sys;
use std::path::PathBuf;
use std::time::Duration;

/// Success.
pub const EXIT_OK: i32 = 0;
/// Refused platform, setup failure, failed sanity check, failed exec.
pub const EXIT_FAILURE: i32 = 1;
/// A critical object failed to load (init reboots the device).
pub const EXIT_CRITICAL: i32 = 2;
/// `done` could not set `bpf.progs_loaded`.
pub const EXIT_DONE_FAILED: i32 = 125;

/// How long to wait after a critical failure before exiting, by default (so
/// the kernel log carrying the diagnosis is flushed/collected before init
/// reboots the device).
pub const DEFAULT_CRITICAL_DELAY: Duration = Duration::from_secs(20);

/// Everything the boot flow needs to know, resolved from the command line.
#[derive(Debug, Clone)]
pub struct BootConfig {
    /// Root under which the absolute platform paths (`.rc` files, object
    /// directories) are looked up: `/` on a device, a staging tree elsewhere.
    pub root: PathBuf,
    /// Root of the bpf filesystem.
    pub bpffs_root: PathBuf,
    /// Where `/proc/sys` is.
    pub proc_sys: PathBuf,
    /// Where the platform facts come from.
    pub properties: PropertySource,
    /// Where `bpf.progs_loaded=1` goes.
    pub sink: PropertySink,
    /// Command-line overrides of the platform facts.
    pub overrides: Overrides,
    /// Wait after a critical failure.
    pub critical_delay: Duration,
    /// The follow-up (platform) loader executed by the mainline role on V+.
    pub followup_loader: PathBuf,
    /// The binary executed as `<it> done` by the platform role.
    pub done_loader: PathBuf,
    /// Flags passed on to the executed loaders (the explicitly given
    /// overrides, so the whole chain sees the same configuration).
    pub forward_args: Vec<String>,
    /// Verify independent objects' programs concurrently (the default;
    /// `--sequential` turns it off).
    pub parallel: bool,
    /// Skip the ownership/permission checks on objects (dev boards only).
    pub insecure: bool,
    /// Manifest signing key file given at boot time (`--manifest-key`);
    /// `None` uses the build-time key, if any ([`crate::manifest::resolve_key`]).
    pub manifest_key_file: Option<PathBuf>,
    /// Type maps with the objects' BTF ([`LoadConfig::btf`]); off by default
    /// until the release profile turns it on.
    pub btf: bool,
}

impl BootConfig {
    /// The device defaults, with every absolute path under `root`.
    pub fn with_root(root: PathBuf) -> BootConfig {
        BootConfig {
            bpffs_root: PathBuf::from(paths::DEFAULT_BPFFS_ROOT),
            proc_sys: PathBuf::from("/proc/sys"),
            properties: PropertySource::default_for(&root),
            sink: PropertySink::default_for(&root),
            overrides: Overrides::default(),
            critical_delay: DEFAULT_CRITICAL_DELAY,
            followup_loader: reroot(&root, paths::PLATFORM_BPFLOADER_PATH),
            done_loader: reroot(&root, paths::NETBPFLOAD_PATH),
            forward_args: Vec::new(),
            parallel: true,
            insecure: false,
            manifest_key_file: None,
            btf: false,
            root,
        }
    }
}

/// Why a boot stage stops with [`EXIT_FAILURE`].
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// `uname()` failed.
    #[error("uname: {0}")]
    Uname(#[source] crate::sys::SysError),
    /// The kernel release does not start with `<major>.<minor>`.
    #[error("cannot parse kernel release {0:?}")]
    KernelRelease(String),
    /// Not exactly one of the platform's `bpfloader.rc` / `netbpfload.rc`.
    #[error("{} of {} and {} exist; exactly one is expected", if *.both { "both" } else { "neither" }, .bpfloader_rc.display(), .netbpfload_rc.display())]
    PlatformRc {
        /// The T/U init file.
        bpfloader_rc: PathBuf,
        /// The V+ init file.
        netbpfload_rc: PathBuf,
        /// Both exist (else neither does).
        both: bool,
    },
    /// Platform facts missing or invalid.
    #[error(transparent)]
    Platform(#[from] crate::platform::PlatformError),
    /// The platform is refused.
    #[error(transparent)]
    Gate(#[from] gates::GateError),
    /// Sysctls, bpffs or sanity check.
    #[error(transparent)]
    Setup(#[from] setup::SetupError),
}

/// What the platform looks like, established before loading.
#[derive(Debug, Clone)]
struct Env {
    facts: PlatformFacts,
    kver: Kver,
    gate: GateEnv,
}

/// Reads uname and the properties, logs them, and applies the gates.
fn establish(sys: &dyn Sys, cfg: &BootConfig, role: &str) -> Result<Env, BootError> {
    let (release, machine) = sys.uname().map_err(BootError::Uname)?;
    let kver =
        Kver::parse_release(&release).ok_or_else(|| BootError::KernelRelease(release.clone()))?;
    let props = cfg.properties.read(sys)?;
    let facts = PlatformFacts::resolve(&props, &cfg.overrides)?;
    log::info!(
        "{role} {} starting: API level {} (codename {:?}, build type {}), kernel {release} ({kver}), {machine}, loader version {}",
        env!("CARGO_PKG_VERSION"),
        facts.api_level,
        facts.codename,
        facts.build_type,
        facts.loader_version()
    );
    let arch = gates::ArchFacts::from_machine(&machine);
    for w in gates::check(facts.api_level, kver, arch)? {
        log::warn!("{w}");
    }
    let gate = GateEnv {
        loader_ver: facts.loader_version(),
        kver,
        build_type: facts.build_type,
        arch: Arch::from_uname_machine(&machine),
    };
    Ok(Env { facts, kver, gate })
}

/// Exactly one of the platform's `bpfloader.rc` / `netbpfload.rc` must exist
/// (it tells which init flavour started us).
fn check_platform_rc(sys: &dyn Sys, cfg: &BootConfig) -> Result<(), BootError> {
    let old = reroot(&cfg.root, paths::PLATFORM_BPFLOADER_RC);
    let new = reroot(&cfg.root, paths::PLATFORM_NETBPFLOAD_RC);
    let exists = |p: &PathBuf| sys.lstat(p).is_ok();
    match (exists(&old), exists(&new)) {
        (true, false) => log::info!("platform init file: {}", old.display()),
        (false, true) => log::info!("platform init file: {}", new.display()),
        (both, _) => {
            return Err(BootError::PlatformRc {
                bpfloader_rc: old,
                netbpfload_rc: new,
                both,
            })
        }
    }
    Ok(())
}

fn load_config(sys: &dyn Sys, cfg: &BootConfig, env: &Env) -> LoadConfig {
    LoadConfig {
        bpffs_root: cfg.bpffs_root.clone(),
        gate: env.gate,
        parallel: cfg.parallel,
        insecure: cfg.insecure,
        manifest_key: crate::manifest::resolve_key(sys, cfg.manifest_key_file.as_deref()),
        btf: cfg.btf,
    }
}

/// Loads `locations` in order. Stops after the first location with a
/// critical failure (its other objects were still attempted) and returns
/// the diagnosis lines.
fn load_locations(
    sys: &dyn Sys,
    lc: &LoadConfig,
    locations: &[Location],
) -> Result<(), Vec<String>> {
    for loc in locations {
        // Like the reference, a location directory that does not exist
        // (e.g. no vendor objects) holds nothing to load.
        match sys.lstat(&loc.dir) {
            Err(e) if e.errno() == Some(libc::ENOENT) => {
                log::info!("{}: no such directory, nothing to load", loc.dir.display());
                continue;
            }
            _ => {}
        }
        log::info!(
            "loading {} (pins under {}/{})",
            loc.dir.display(),
            lc.bpffs_root.display(),
            loc.prefix
        );
        // The engine logs each object's outcome (and failure reason) itself.
        let report = engine::load_location(sys, lc, loc);
        let failures: Vec<String> = report
            .critical_failures()
            .map(|o| {
                let reason = match &o.outcome {
                    ObjectOutcome::Failed { error, .. } => error.as_str(),
                    _ => "",
                };
                format!(
                    "{} (critical: {}): {reason}",
                    o.file.display(),
                    o.critical.as_deref().unwrap_or("")
                )
            })
            .collect();
        if !failures.is_empty() {
            return Err(failures);
        }
    }
    Ok(())
}

/// Logs the critical-failure diagnosis, waits, and returns [`EXIT_CRITICAL`].
fn critical_exit(cfg: &BootConfig, failures: &[String]) -> i32 {
    let mut msg = String::from(
        "=== CRITICAL FAILURE: critical eBPF object(s) failed to load; exiting with status 2 (init reboots the device) ===",
    );
    for f in failures {
        msg.push_str("\nCRITICAL FAILURE: ");
        msg.push_str(f);
    }
    log::error!("{msg}");
    if !cfg.critical_delay.is_zero() {
        log::error!(
            "waiting {} s before exiting",
            cfg.critical_delay.as_secs_f32()
        );
        std::thread::sleep(cfg.critical_delay);
    }
    EXIT_CRITICAL
}

/// Checks the bpffs and creates the pin directories.
fn prepare_bpffs<'a>(
    sys: &dyn Sys,
    cfg: &BootConfig,
    subdirs: impl IntoIterator<Item = &'a str>,
) -> Result<(), setup::SetupError> {
    setup::check_bpffs(sys, &cfg.bpffs_root)?;
    setup::make_pin_dirs(sys, &cfg.bpffs_root, subdirs)
}

/// `execve`s `path` with `argv`; only returns (with [`EXIT_FAILURE`]) if
/// that fails.
fn exec(sys: &dyn Sys, path: &std::path::Path, argv: Vec<String>) -> i32 {
    log::info!("executing {}", argv.join(" "));
    let e = sys.exec(path, &argv);
    log::error!("cannot execute {}: {e}", path.display());
    EXIT_FAILURE
}

/// The mainline role (`netbpfload` with no arguments). Returns the exit
/// code; on V+ a successful run does not return (it becomes the follow-up
/// loader).
pub fn run_mainline(sys: &dyn Sys, cfg: &BootConfig) -> i32 {
    match mainline(sys, cfg) {
        Ok(code) => code,
        Err(e) => {
            log::error!("{e}");
            EXIT_FAILURE
        }
    }
}

fn mainline(sys: &dyn Sys, cfg: &BootConfig) -> Result<i32, BootError> {
    check_platform_rc(sys, cfg)?;
    let env = establish(sys, cfg, "netbpfload")?;
    let plan = setup::sysctl_plan(&cfg.proc_sys, env.facts.api_level, env.kver, sys.euid());
    setup::write_sysctls(sys, &plan)?;
    let locations = paths::mainline_locations(&cfg.root);
    let subdirs: Vec<&str> = locations
        .iter()
        .map(|l| l.prefix.as_str())
        .chain([paths::LOADER_SUBDIR])
        .collect();
    prepare_bpffs(sys, cfg, subdirs)?;

    if let Err(failures) = load_locations(sys, &load_config(sys, cfg, &env), &locations) {
        return Ok(critical_exit(cfg, &failures));
    }
    setup::sanity_check(sys)?;
    log::info!("mainline eBPF objects loaded");

    if env.facts.api_level < API_V {
        log::info!(
            "done (API level {} < V: no follow-up loader)",
            env.facts.api_level
        );
        return Ok(EXIT_OK);
    }
    let mut argv = vec![cfg.followup_loader.display().to_string()];
    argv.extend(cfg.forward_args.iter().cloned());
    Ok(exec(sys, &cfg.followup_loader, argv))
}

/// The platform role (`bpfloader`): loads the platform locations, then
/// executes `<done_loader> done`.
pub fn run_platform(sys: &dyn Sys, cfg: &BootConfig) -> i32 {
    match platform(sys, cfg) {
        Ok(code) => code,
        Err(e) => {
            log::error!("{e}");
            EXIT_FAILURE
        }
    }
}

fn platform(sys: &dyn Sys, cfg: &BootConfig) -> Result<i32, BootError> {
    let env = establish(sys, cfg, "bpfloader")?;
    let locations = paths::platform_locations(&cfg.root);
    let subdirs: Vec<&str> = locations.iter().map(|l| l.prefix.as_str()).collect();
    prepare_bpffs(sys, cfg, subdirs)?;
    if let Err(failures) = load_locations(sys, &load_config(sys, cfg, &env), &locations) {
        return Ok(critical_exit(cfg, &failures));
    }
    log::info!("bpfloader: platform eBPF objects loaded");
    let mut argv = vec![cfg.done_loader.display().to_string()];
    argv.extend(cfg.forward_args.iter().cloned());
    argv.push("done".to_string());
    Ok(exec(sys, &cfg.done_loader, argv))
}

/// `netbpfload done`: sets `bpf.progs_loaded=1`.
pub fn run_done(sys: &dyn Sys, cfg: &BootConfig) -> i32 {
    match cfg.sink.set_progs_loaded(sys) {
        Ok(()) => {
            log::info!("netbpfload done: {}=1", paths::PROGS_LOADED_PROP);
            EXIT_OK
        }
        Err(e) => {
            log::error!("{e}");
            EXIT_DONE_FAILED
        }
    }
}

#[cfg(test)]
mod tests;
