//! The boot flow: `netbpfload` (mainline role), the follow-up `bpfloader`
//! (platform role) and `netbpfload done`, chained by `execve` as Android
//! chains them:
//!
//! ```text
//! netbpfload ──exec──▶ bpfloader ──exec──▶ netbpfload done
//! (mainline locations)  (platform locations)  (bpf.progs_loaded=1)
//! ```
//!
//! Which release's rules apply ([`crate::release`]) is decided once, from
//! the platform: `--release` if given, else 25Q2 on API level 36 and later
//! or when the platform's `netbpfload.rc` carries a release header line,
//! else Android 15. Each step is a tested piece ([`gates`], [`setup`],
//! [`crate::platform`], [`crate::engine`]); this module strings them
//! together and maps the outcome to exit statuses.

pub mod gates;
pub mod setup;

use crate::bpffs::Bpffs;
use crate::engine::{self, LoadConfig, LocationReport};
use crate::gate::{Arch, GateEnv};
use crate::paths::{self, Location};
use crate::platform::{reroot, Overrides, PlatformFacts, PropertySink, PropertySource};
use crate::release::{FollowUp, Release, Role, Rules, API_25Q2};
use crate::spec::Kver;
use crate::sys::{Credentials, Sys};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Success.
pub const EXIT_OK: i32 = 0;
/// Refused platform, setup failure, failed sanity check, failed exec.
pub const EXIT_FAILURE: i32 = 1;
/// A boot-failing object failure in a mainline location (init reboots).
pub const EXIT_CRITICAL: i32 = 2;
/// A critical object failure in a platform location.
pub const EXIT_PLATFORM_CRITICAL: i32 = 120;
/// `done` could not set `bpf.progs_loaded`.
pub const EXIT_DONE_FAILED: i32 = 125;

/// How long to wait after a critical failure before exiting, by default (so
/// the kernel log carrying the diagnosis is flushed/collected before init
/// reboots the device).
pub const DEFAULT_CRITICAL_DELAY: Duration = Duration::from_secs(20);

/// How long a loader waits for another one's run lock by default.
pub const DEFAULT_RUN_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// The run lock file on Linux boards (none on Android), in the directory the
/// systemd unit has systemd create (`RuntimeDirectory=netbpfload`), so that
/// the sandboxed service (read-only `/run`) and `netbpfload load` by hand
/// share it.
pub const DEFAULT_RUN_LOCK: &str = "/run/netbpfload/lock";

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
    /// The follow-up loader, instead of the release's.
    pub followup_loader: Option<PathBuf>,
    /// The binary executed as `<it> done` by the platform role.
    pub done_loader: PathBuf,
    /// Flags passed on to the executed loaders, so the whole chain sees the
    /// same configuration.
    pub forward_args: Vec<OsString>,
    /// One object at a time.
    pub sequential: bool,
    /// Skip the ownership/permission checks on objects (dev boards only).
    pub insecure: bool,
    /// Manifest signing key file given at boot time (`--manifest-key`);
    /// `None` uses the build-time key, if any ([`crate::manifest::resolve_key`]).
    pub manifest_key_file: Option<PathBuf>,
    /// `--manifest-min-version`: raises the lowest manifest version accepted
    /// above the compiled-in one ([`crate::manifest::min_version`]).
    pub manifest_min_version: Option<u64>,
    /// Android device or Linux board. Default: a board with a staging root
    /// (the layout of `init/netbpfload.service`), Android with `/` (or when
    /// built for Android). A board also loads libbpf-style objects and
    /// takes the run lock.
    pub host: crate::release::Host,
    /// The run lock (a file outside the bpffs) serialising loaders on a
    /// Linux board. Default: on with a staging root (the board layout of
    /// `init/netbpfload.service`), off with `/` (Android's layout, where
    /// init runs the chain once and SELinux grants no `lock`).
    pub run_lock: Option<PathBuf>,
    /// Longest wait for the run lock.
    pub run_lock_timeout: Duration,
    /// Failed-verification time budget of one object.
    pub verify_budget: Duration,
    /// Time budget of all the verifications of one object.
    pub verify_total: Duration,
    /// Most bytes of kernel memory one object's maps may declare (`None`:
    /// a quarter of the machine's memory).
    pub map_memory_max: Option<u64>,
}

impl BootConfig {
    /// The device defaults, with every absolute path under `root`.
    pub fn with_root(root: PathBuf) -> BootConfig {
        let host = if cfg!(target_os = "android") || root == Path::new("/") {
            crate::release::Host::Android
        } else {
            crate::release::Host::Board
        };
        BootConfig {
            bpffs_root: PathBuf::from(paths::DEFAULT_BPFFS_ROOT),
            proc_sys: PathBuf::from("/proc/sys"),
            properties: PropertySource::default_for(&root),
            sink: PropertySink::default_for(&root),
            overrides: Overrides::default(),
            critical_delay: DEFAULT_CRITICAL_DELAY,
            followup_loader: None,
            done_loader: reroot(&root, paths::NETBPFLOAD_PATH),
            forward_args: Vec::new(),
            sequential: false,
            insecure: false,
            manifest_key_file: None,
            manifest_min_version: None,
            host,
            run_lock: (host == crate::release::Host::Board)
                .then(|| PathBuf::from(DEFAULT_RUN_LOCK)),
            run_lock_timeout: DEFAULT_RUN_LOCK_TIMEOUT,
            verify_budget: engine::verify::DEFAULT_VERIFY_BUDGET,
            verify_total: engine::verify::DEFAULT_VERIFY_TOTAL,
            map_memory_max: None,
            root,
        }
    }
}

/// Why a boot stage stops with [`EXIT_FAILURE`].
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// `uname()` or the credentials could not be read.
    #[error("{0}")]
    Sys(#[from] crate::sys::SysError),
    /// The kernel release does not start with `<major>.<minor>`.
    #[error("cannot parse kernel release {0:?}")]
    KernelRelease(String),
    /// Not exactly one of the platform's `bpfloader.rc` / `netbpfload.rc`.
    #[error("{} of {} and {} exist; exactly one is expected", if *.both { "both" } else { "neither" }, crate::logging::shown(.bpfloader_rc), crate::logging::shown(.netbpfload_rc))]
    PlatformRc {
        /// The T/U init file.
        bpfloader_rc: PathBuf,
        /// The V+ init file.
        netbpfload_rc: PathBuf,
        /// Both exist (else neither does).
        both: bool,
    },
    /// The platform's `netbpfload.rc` header is not this release's.
    #[error("{}: first line {found:?} is not the {release} header `# {} #`", crate::logging::shown(.path), .want.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" "))]
    RcHeader {
        /// The file.
        path: PathBuf,
        /// The release.
        release: &'static str,
        /// What it must say.
        want: [u32; 5],
        /// Its first line.
        found: String,
    },
    /// Platform facts missing or invalid.
    #[error(transparent)]
    Platform(#[from] crate::platform::PlatformError),
    /// The platform is refused.
    #[error(transparent)]
    Gate(#[from] gates::GateError),
    /// Sysctls, bpffs, run lock or sanity check.
    #[error(transparent)]
    Setup(#[from] setup::SetupError),
}

/// What the platform looks like, established before loading.
#[derive(Debug, Clone)]
struct Env {
    rules: &'static Rules,
    api_level: u32,
    gate: GateEnv,
    creds: Credentials,
}

/// The five numbers of a release header line `# y q a b c # …`, if the
/// first line of `text` is one.
pub fn rc_header(text: &str) -> Option<[u32; 5]> {
    let line = text.lines().next()?;
    let inner = line.strip_prefix('#')?;
    let (nums, _) = inner.split_once('#')?;
    let v: Vec<u32> = nums
        .split_whitespace()
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()?;
    v.try_into().ok()
}

/// The platform's `netbpfload.rc` text (empty if unreadable).
fn platform_rc_text(sys: &dyn Sys, cfg: &BootConfig) -> (PathBuf, String) {
    let path = reroot(&cfg.root, paths::PLATFORM_NETBPFLOAD_RC);
    let text = sys
        .read_file(&path, 64 * 1024)
        .map(|(d, _)| String::from_utf8_lossy(&d).into_owned())
        .unwrap_or_default();
    (path, text)
}

/// Whose rules apply: `--release`, else 25Q2 from API level 36 on or
/// when the platform's `netbpfload.rc` has a release header, else V.
fn detect_release(cfg: &BootConfig, facts: &PlatformFacts, rc_text: &str) -> Release {
    if let Some(r) = cfg.overrides.release {
        return r;
    }
    if facts.api_level >= API_25Q2 || rc_header(rc_text).is_some() {
        Release::R25Q2
    } else {
        Release::V
    }
}

/// Reads uname, credentials and the properties, picks the release, logs
/// them, and (mainline role) applies the platform gates.
fn establish(sys: &dyn Sys, cfg: &BootConfig, role: Role) -> Result<Env, BootError> {
    let (release, machine) = sys.uname()?;
    let kver =
        Kver::parse_release(&release).ok_or_else(|| BootError::KernelRelease(release.clone()))?;
    let props = cfg.properties.read(sys)?;
    let facts = PlatformFacts::resolve(&props, &cfg.overrides)?;
    let creds = sys.credentials()?;
    let (rc_path, rc_text) = platform_rc_text(sys, cfg);
    let rel = detect_release(cfg, &facts, &rc_text);
    let rules = rel.rules();
    let loader_ver = rel.loader_version(facts.api_level, creds.euid == 0);
    let name = match role {
        Role::Mainline => "netbpfload",
        Role::Platform => "bpfloader",
    };
    log::info!(
        "{name} {} starting: {} rules, API level {} (codename {:?}, build type {}), kernel {release} ({kver}), {machine}, loader version {loader_ver}, uid {}",
        env!("CARGO_PKG_VERSION"),
        rel.name(),
        facts.api_level,
        facts.codename,
        facts.build_type,
        creds.euid,
    );
    if role == Role::Mainline {
        for w in gates::check(
            rules,
            facts.api_level,
            kver,
            gates::ArchFacts::from_machine(&machine),
            facts.device,
        )? {
            log::warn!("{w}");
        }
        if let Some(want) = rules.rc_header {
            if rc_header(&rc_text) != Some(want) {
                return Err(BootError::RcHeader {
                    path: rc_path,
                    release: rel.name(),
                    want,
                    found: rc_text.lines().next().unwrap_or("").to_string(),
                });
            }
        }
    }
    Ok(Env {
        rules,
        api_level: facts.api_level,
        gate: GateEnv {
            loader_ver,
            kver,
            build_type: facts.build_type,
            arch: Arch::from_uname_machine(&machine),
        },
        creds,
    })
}

/// Exactly one of the platform's `bpfloader.rc` / `netbpfload.rc` must exist
/// (it tells which init flavour started us).
fn check_platform_rc(sys: &dyn Sys, cfg: &BootConfig) -> Result<(), BootError> {
    let old = reroot(&cfg.root, paths::PLATFORM_BPFLOADER_RC);
    let new = reroot(&cfg.root, paths::PLATFORM_NETBPFLOAD_RC);
    let exists = |p: &PathBuf| sys.lstat(p).is_ok();
    match (exists(&old), exists(&new)) {
        (true, false) => log::debug!("platform init file: {}", old.display()),
        (false, true) => log::debug!("platform init file: {}", new.display()),
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

fn load_config(
    sys: &dyn Sys,
    cfg: &BootConfig,
    env: &Env,
    role: Role,
    bpffs: Bpffs,
) -> Result<LoadConfig, BootError> {
    let mut lc = LoadConfig::new(sys, bpffs, env.rules.role_on(role, cfg.host), env.gate)?
        .sequential(cfg.sequential)
        .insecure(cfg.insecure);
    lc.manifest_key = crate::manifest::resolve_key(sys, cfg.manifest_key_file.as_deref());
    lc.manifest_min_version = crate::manifest::min_version(cfg.manifest_min_version);
    lc.verify_budget = cfg.verify_budget;
    lc.verify_total = cfg.verify_total;
    if let Some(max) = cfg.map_memory_max {
        lc.map_bytes.max = max;
    }
    Ok(lc)
}

/// Why a location fails the boot: its directory and one diagnosis line per
/// failing object (or the location's own refusal).
struct LocationFailure {
    dir: PathBuf,
    lines: Vec<String>,
}

/// The diagnosis of a location, if it fails the boot: its boot-failing
/// objects (whose `fatal` flag carries the release's policy, `critical`
/// sections and the manifest's marks), and the location's own refusal,
/// which fails the boot under every policy (what it holds cannot be known,
/// so it is treated as if all its critical objects had failed).
fn location_failure(report: &LocationReport) -> Option<LocationFailure> {
    let mut lines: Vec<String> = report
        .fatal_failures()
        .map(|o| {
            let why = o.error().map(ToString::to_string).unwrap_or_default();
            match &o.critical {
                Some(c) => format!(
                    "{} (critical: {}): {}",
                    crate::logging::shown(&o.file),
                    crate::logging::escape(c),
                    crate::logging::escape(&why)
                ),
                None => format!(
                    "{}: {}",
                    crate::logging::shown(&o.file),
                    crate::logging::escape(&why)
                ),
            }
        })
        .collect();
    if let Some(e) = &report.error {
        lines.push(format!(
            "location refused: {}",
            crate::logging::escape(&e.to_string())
        ));
    }
    (!lines.is_empty()).then(|| LocationFailure {
        dir: report.dir.clone(),
        lines,
    })
}

/// Loads `locations` in order; for the platform role each prefix directory
/// is created just before its location loads. Stops after the first
/// location that fails the boot (its other objects were still attempted):
/// later locations are neither created nor loaded.
fn load_locations(
    sys: &dyn Sys,
    lc: &LoadConfig,
    locations: &[Location],
    mkdir_each: bool,
) -> Result<Vec<LocationReport>, LocationFailure> {
    let mut reports = Vec::new();
    for loc in locations {
        if mkdir_each {
            if let Err(e) = setup::make_pin_dirs(sys, &lc.bpffs, [loc.prefix.as_str()]) {
                return Err(LocationFailure {
                    dir: loc.dir.clone(),
                    lines: vec![e.to_string()],
                });
            }
        }
        // As in Android, a location directory that does not exist holds
        // nothing to load.
        if let Err(e) = sys.lstat(&loc.dir) {
            if e.is(libc::ENOENT) {
                log::debug!(
                    "{}: no such directory, nothing to load",
                    crate::logging::shown(&loc.dir)
                );
                continue;
            }
        }
        log::debug!(
            "loading {} (pins under {})",
            crate::logging::shown(&loc.dir),
            crate::logging::shown(&lc.bpffs.path(&loc.prefix))
        );
        let report = engine::load_location(sys, lc, loc);
        if let Some(f) = location_failure(&report) {
            return Err(f);
        }
        reports.push(report);
    }
    Ok(reports)
}

/// Logs what a role loaded: one message, `what` and then one line per
/// location (a warning if an object failed without failing the boot).
fn log_loaded(what: &str, reports: &[LocationReport]) {
    let mut msg = what.to_string();
    for r in reports {
        msg.push('\n');
        msg.push_str(&engine::location_summary(r));
    }
    if reports.iter().any(|r| r.failures().next().is_some()) {
        log::warn!("{msg}");
    } else {
        log::info!("{msg}");
    }
}

/// Logs the failure diagnosis (one message: the failing objects with their
/// reasons, first), waits, and returns `code`.
fn critical_exit(cfg: &BootConfig, f: &LocationFailure, code: i32) -> i32 {
    let wait = if cfg.critical_delay.is_zero() {
        String::new()
    } else {
        format!(" in {} s", cfg.critical_delay.as_secs_f32())
    };
    let mut msg = format!(
        "=== CRITICAL FAILURE loading eBPF objects from {}: exiting with status {code}{wait}; do not expect the system to boot successfully ===",
        crate::logging::shown(&f.dir)
    );
    for l in &f.lines {
        msg.push_str("\nCRITICAL FAILURE: ");
        msg.push_str(l);
    }
    log::error!("{msg}");
    if !cfg.critical_delay.is_zero() {
        std::thread::sleep(cfg.critical_delay);
    }
    code
}

/// `execve`s `path` with `argv`; only returns (with the error) if that fails.
fn exec(sys: &dyn Sys, path: &Path, argv: Vec<OsString>) -> crate::sys::SysError {
    log::info!(
        "executing {}",
        argv.iter()
            .map(|a| crate::logging::shown(Path::new(a)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let e = sys.exec(path, &argv);
    log::error!("cannot execute {}: {e}", path.display());
    e
}

/// Takes the run lock (Linux boards), opens the bpffs, creates the pin
/// directories `subdirs` and, with the lock held, clears dead loaders'
/// temporary pins.
fn prepare_bpffs(
    sys: &dyn Sys,
    cfg: &BootConfig,
    creds: &Credentials,
    subdirs: &[&str],
) -> Result<(Bpffs, Option<std::os::fd::OwnedFd>), BootError> {
    let lock = match &cfg.run_lock {
        Some(p) => setup::take_run_lock(sys, p, cfg.run_lock_timeout)?,
        None => None,
    };
    let bpffs = Bpffs::open(sys, &cfg.bpffs_root).map_err(setup::SetupError::from)?;
    setup::make_pin_dirs(sys, &bpffs, subdirs.iter().copied())?;
    if lock.is_some() {
        setup::clean_stale_tmp_pins(sys, &bpffs, creds.pid);
    }
    Ok((bpffs, lock))
}

/// The mainline role (`netbpfload` with no arguments). Returns the exit
/// status; as root a successful run does not return (it becomes the
/// follow-up loader).
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
    sys.set_umask(0);
    check_platform_rc(sys, cfg)?;
    let env = establish(sys, cfg, Role::Mainline)?;
    let rules = env.rules;
    let plan = setup::sysctl_plan(&cfg.proc_sys, env.api_level, env.gate.kver, env.creds.euid);
    setup::write_sysctls(sys, &plan)?;
    let locations = paths::locations(&cfg.root, &rules.mainline);
    let subdirs: Vec<&str> = locations
        .iter()
        .map(|l| l.prefix.as_str())
        .chain([paths::LOADER_SUBDIR])
        .collect();
    let (bpffs, _lock) = prepare_bpffs(sys, cfg, &env.creds, &subdirs)?;
    let lc = load_config(sys, cfg, &env, Role::Mainline, bpffs.clone())?;
    let reports = match load_locations(sys, &lc, &locations, false) {
        Ok(r) => r,
        Err(f) => return Ok(critical_exit(cfg, &f, rules.mainline.critical_exit)),
    };
    setup::sanity_check(sys)?;
    if rules.mainline_done {
        setup::make_pin_dirs(sys, &bpffs, [paths::MAINLINE_DONE])?;
    }
    log_loaded("mainline eBPF objects loaded", &reports);
    if env.creds.euid != 0 {
        log::info!("not running as root: the platform's own loader does the rest");
        return Ok(EXIT_OK);
    }
    let platform = reroot(&cfg.root, paths::PLATFORM_BPFLOADER_PATH);
    let candidates: Vec<PathBuf> = match (&cfg.followup_loader, rules.follow_up) {
        (Some(p), _) => vec![p.clone()],
        (None, FollowUp::PlatformLoader) => vec![platform],
        (None, FollowUp::UprobestatsThenPlatform) => {
            let u = reroot(&cfg.root, paths::UPROBESTATS_BPFLOAD_PATH);
            if sys.lstat(&u).is_ok() {
                vec![u, platform]
            } else {
                vec![platform]
            }
        }
    };
    for path in candidates {
        // This binary picks its role from argv[0]'s file name: a follow-up
        // given by another name (`--followup-loader /usr/sbin/netbpfload`)
        // would run the mainline role again, and exec itself forever. The
        // platform loader is asked for by its name; uprobestats' loader is a
        // program of its own.
        let argv0 = if path.file_name() == Some(std::ffi::OsStr::new("bpfloader"))
            || path.ends_with(paths::UPROBESTATS_BPFLOAD_PATH.trim_start_matches('/'))
        {
            path.clone().into_os_string()
        } else {
            OsString::from("bpfloader")
        };
        let mut argv = vec![argv0];
        argv.extend(cfg.forward_args.iter().cloned());
        exec(sys, &path, argv);
    }
    Ok(EXIT_FAILURE)
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
    sys.set_umask(0);
    let env = establish(sys, cfg, Role::Platform)?;
    let rules = env.rules;
    let locations = paths::locations(&cfg.root, &rules.platform);
    let (bpffs, _lock) = prepare_bpffs(sys, cfg, &env.creds, &[])?;
    let lc = load_config(sys, cfg, &env, Role::Platform, bpffs)?;
    let reports = match load_locations(sys, &lc, &locations, true) {
        Ok(r) => r,
        Err(f) => return Ok(critical_exit(cfg, &f, rules.platform.critical_exit)),
    };
    log_loaded("bpfloader: platform eBPF objects loaded", &reports);
    let mut argv = vec![cfg.done_loader.clone().into_os_string()];
    argv.extend(cfg.forward_args.iter().cloned());
    argv.push(OsString::from("done"));
    exec(sys, &cfg.done_loader, argv);
    Ok(EXIT_FAILURE)
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
